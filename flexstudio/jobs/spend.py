"""Spend caps: per session, day and month, each with a warn and a hard-stop level, checked with the
quoted price before a job (or a whole comparison or sweep) is queued, and against billed amounts after."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ..core.errors import SpendCapExceeded

if TYPE_CHECKING:
    from ..core.request import EditRequest
    from ..storage.history import History


@dataclass(frozen=True, slots=True)
class SpendStatus:
    session: float
    day: float
    month: float
    warnings: tuple[str, ...] = ()


def _day_start(now: float) -> float:
    d = datetime.fromtimestamp(now)
    return d.replace(hour=0, minute=0, second=0, microsecond=0).timestamp()


def _month_start(now: float) -> float:
    d = datetime.fromtimestamp(now)
    return d.replace(day=1, hour=0, minute=0, second=0, microsecond=0).timestamp()


class SpendGuard:
    """Callable as the runner's guard: raises ``SpendCapExceeded`` above a stop level; records warnings."""

    def __init__(self, history: History, caps: Any, *, session_start: float | None = None) -> None:
        self.history = history
        self.caps = caps  # storage.settings.SpendCaps (or anything with the same attributes)
        self.session_start = session_start if session_start is not None else time.time()
        self.last_warnings: tuple[str, ...] = ()

    def status(self, now: float | None = None) -> SpendStatus:
        now = now or time.time()
        return SpendStatus(
            session=self.history.spend_since(self.session_start),
            day=self.history.spend_since(_day_start(now)),
            month=self.history.spend_since(_month_start(now)),
        )

    def check(self, extra_usd: float | None) -> tuple[str, ...]:
        """The warnings for spending ``extra_usd`` more; raises if a stop level would be passed."""
        extra = extra_usd or 0.0
        st = self.status()
        warnings: list[str] = []
        for period, spent in (("session", st.session), ("day", st.day), ("month", st.month)):
            stop = getattr(self.caps, f"{period}_stop", None)
            warn = getattr(self.caps, f"{period}_warn", None)
            label = {"session": "this session", "day": "today", "month": "this month"}[period]
            if stop is not None and spent + extra > stop + 1e-9:
                raise SpendCapExceeded(
                    f"This would bring spending {label} to ${spent + extra:.2f}, over your limit of "
                    f"${stop:.2f} (already spent ${spent:.2f}; this costs ${extra:.2f}). Nothing was sent. "
                    "Raise the limit in Settings → Spending to go on."
                )
            if warn is not None and spent + extra > warn + 1e-9:
                warnings.append(
                    f"Spending {label} will reach ${spent + extra:.2f} (warning level ${warn:.2f})."
                )
        self.last_warnings = tuple(warnings)
        return self.last_warnings

    def __call__(self, request: EditRequest, quote_usd: float | None) -> None:
        self.check(quote_usd)
