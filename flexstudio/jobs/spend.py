"""Spend caps: per session, day and month, each with a warn and a hard-stop level, checked with the
quoted price before a job (or a whole comparison or sweep) is queued, and against billed amounts after."""

from __future__ import annotations

import time
from collections.abc import Callable
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


_LABELS = {"session": "this session", "day": "today", "month": "this month"}


def unknown_price_refusal(stops: list[tuple[str, float]], why: str = "") -> str:
    """One sentence: an edit whose price is unknown is not sent while a spending limit is set."""
    label, usd = stops[0]
    reason = f" ({why})" if why else ""
    return (
        f"The price of this edit is unknown{reason}, so your spending limit of ${usd:.2f} {label} cannot be "
        "kept; nothing was sent — set a price per image for it in Settings → Spending, or remove the limits "
        "there, to run it."
    )


def why_unknown(note: str | None) -> str:
    """The short reason in a quote's "Price unknown…" note: "Kie bills in credits", "price unknown for
    this gateway" ("" when the note gives none)."""
    text = (note or "").strip()
    if not text.lower().startswith("price unknown"):
        return ""
    rest = text[len("price unknown") :].lstrip(":").strip()
    for cut in (" and does not publish", ";", "."):
        rest = rest.split(cut, 1)[0]
    rest = rest.strip()
    if not rest:
        return ""
    return f"no price is known {rest}" if rest.startswith("for ") else rest


class SpendGuard:
    """Callable as the runner's guard: raises ``SpendCapExceeded`` above a stop level; records warnings."""

    def __init__(self, history: History, caps: Any, *, session_start: float | None = None) -> None:
        self.history = history
        self.caps = caps  # storage.settings.SpendCaps (or anything with the same attributes)
        self.session_start = session_start if session_start is not None else time.time()
        self.last_warnings: tuple[str, ...] = ()
        # EditRequest → the short reason its price is unknown ("Kie bills in credits"), for the refusal.
        self.reason: Callable[[EditRequest], str] | None = None
        # EditRequest → why it may not be sent at all ("" when it may): set by the services.
        self.refuse: Callable[[EditRequest], str] | None = None

    def status(self, now: float | None = None) -> SpendStatus:
        now = now or time.time()
        return SpendStatus(
            session=self.history.spend_since(self.session_start),
            day=self.history.spend_since(_day_start(now)),
            month=self.history.spend_since(_month_start(now)),
        )

    def stops(self) -> list[tuple[str, float]]:
        """The stop levels set: (``this session`` | ``today`` | ``this month``, dollars)."""
        out = []
        for period in ("session", "day", "month"):
            stop = getattr(self.caps, f"{period}_stop", None)
            if stop is not None:
                out.append((_LABELS[period], float(stop)))
        return out

    def check(self, extra_usd: float | None, *, why_unknown: str = "") -> tuple[str, ...]:
        """The warnings for spending ``extra_usd`` more; raises if a stop level would be passed. An
        unknown price (``None``) is refused while any stop level is set, as ``--max-cost`` refuses it:
        a limit is the user's safety net precisely when the price is not known."""
        if extra_usd is None and self.stops():
            raise SpendCapExceeded(unknown_price_refusal(self.stops(), why_unknown))
        extra = extra_usd or 0.0
        st = self.status()
        warnings: list[str] = []
        for period, spent in (("session", st.session), ("day", st.day), ("month", st.month)):
            stop = getattr(self.caps, f"{period}_stop", None)
            warn = getattr(self.caps, f"{period}_warn", None)
            label = _LABELS[period]
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
        refusal = self.refuse(request) if self.refuse is not None else ""
        if refusal:  # the limits themselves are not in effect (a damaged settings file)
            raise SpendCapExceeded(refusal)
        self.check(quote_usd, why_unknown=self.explain(request) if quote_usd is None else "")

    def explain(self, request: EditRequest) -> str:
        """Why ``request``'s price is unknown, from its quote's note (set by the services)."""
        return self.reason(request) if self.reason is not None else ""
