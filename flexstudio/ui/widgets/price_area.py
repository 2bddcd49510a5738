"""The price area of the dialogs that launch a group of jobs: the total price, the spend-cap warnings and
any refusal, shown before anything is queued."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from ...core.errors import SpendCapExceeded
from . import theme

if TYPE_CHECKING:
    from ...core.request import EditRequest
    from ...services import Services

# launch(requests, kind) → None when the jobs were queued, else the sentence saying why not
Launch = Callable[[list["EditRequest"], str], "str | None"]


class PriceArea(QWidget):
    """Total price, warn-level warnings and the refusal sentence of a spend cap."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 4, 0, 4)
        lay.setSpacing(3)
        self.total = QLabel()
        f = theme.bold(self.total.font())
        f.setPointSizeF(max(10.0, f.pointSizeF() * 1.25))
        self.total.setFont(f)
        self.total.setWordWrap(True)
        self.note = QLabel()
        self.note.setWordWrap(True)
        self.note.setFont(theme.small_font(self))
        self.warning = QLabel()
        self.warning.setWordWrap(True)
        self.warning.setStyleSheet(f"color: {theme.LEVEL_ACCENTS['warning']};")
        self.refusal = QLabel()
        self.refusal.setWordWrap(True)
        self.refusal.setStyleSheet(f"color: {theme.LEVEL_ACCENTS['error']}; font-weight: 600;")
        for w in (self.total, self.note, self.warning, self.refusal):
            lay.addWidget(w)
        self.warning.hide()
        self.refusal.hide()

    def set_total(self, text: str, note: str = "") -> None:
        self.total.setText(text)
        self.note.setText(note)
        self.note.setVisible(bool(note))

    def set_warnings(self, warnings: tuple[str, ...] | list[str]) -> None:
        self.warning.setText(" ".join(warnings))
        self.warning.setVisible(bool(warnings))

    def set_refusal(self, text: str) -> None:
        self.refusal.setText(text)
        self.refusal.setVisible(bool(text))

    def check_spend(self, services: Services, usd: float | None) -> bool:
        """Warnings for spending ``usd`` more, or the refusal; True when the caps allow it."""
        try:
            self.set_warnings(services.guard.check(usd))
        except SpendCapExceeded as exc:
            self.set_warnings(())
            self.set_refusal(str(exc))
            return False
        self.set_refusal("")
        return True


def money_total(quotes: list[Any], label: Callable[[str], str] = str) -> tuple[str, str, float | None]:
    from ...pricing import total

    t = total(quotes)
    note = t.note
    if t.usd is None:
        unknown = list(dict.fromkeys(label(q.provider) for q in quotes if q.usd is None))
        note = (
            f"The price on {', '.join(unknown)} is not known, so neither is the total; spending limits "
            "count it as nothing."
        )
    return theme.money(t.usd, approximate=t.approximate), note, t.usd
