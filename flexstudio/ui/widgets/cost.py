"""The cost readout: the price of the current settings on the selected provider, with its breakdown,
recomputed synchronously on every change (a quote costs microseconds); after a run, what was billed;
and the spend of this session and today against the user's caps."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QGridLayout, QLabel, QVBoxLayout, QWidget

from . import theme
from .labels import ElidingLabel

if TYPE_CHECKING:
    from ..models.workbench import Workbench


def price_text(quote: Any) -> str:
    return theme.money(quote.usd, approximate=quote.approximate)


class CostReadout(QFrame):
    def __init__(self, workbench: Workbench, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.wb = workbench
        self.quote: Any = None
        self.quoted_request: Any = None
        self.setObjectName("cost")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setAccessibleName("Cost")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(10, 8, 10, 8)
        lay.setSpacing(4)
        top = QGridLayout()
        top.setHorizontalSpacing(8)
        caption = QLabel("Price")
        caption.setFont(theme.bold(caption.font()))
        self.price = QLabel()
        self.price.setObjectName("price")
        f = theme.bold(self.price.font())
        f.setPointSizeF(max(10.0, f.pointSizeF() * 1.45))
        self.price.setFont(f)
        self.price.setAccessibleName("Price of this edit")
        self.price.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.provider = QLabel()
        self.provider.setFont(theme.small_font(self))
        self.provider.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        top.addWidget(caption, 0, 0)
        top.addWidget(self.provider, 0, 1)
        top.addWidget(self.price, 1, 0, 1, 2)
        top.setColumnStretch(1, 1)
        lay.addLayout(top)
        self.breakdown = QLabel()
        self.breakdown.setObjectName("breakdown")
        self.breakdown.setFont(theme.small_font(self))
        self.breakdown.setWordWrap(True)
        self.breakdown.setAccessibleName("Price breakdown")
        lay.addWidget(self.breakdown)
        self.note = ElidingLabel()
        self.note.setObjectName("pricenote")
        self.note.setFont(theme.small_font(self))
        self.note.setAccessibleName("About this price")
        lay.addWidget(self.note)
        self.caps_note = QLabel()
        self.caps_note.setObjectName("capsnote")
        self.caps_note.setFont(theme.small_font(self))
        self.caps_note.setWordWrap(True)
        self.caps_note.setAccessibleName("Spending limit")
        self.caps_note.hide()
        lay.addWidget(self.caps_note)
        self.billed = QLabel()
        self.billed.setObjectName("billed")
        self.billed.setFont(theme.small_font(self))
        self.billed.setWordWrap(True)
        self.billed.hide()
        lay.addWidget(self.billed)
        self.spend = QLabel()
        self.spend.setObjectName("spend")
        self.spend.setFont(theme.small_font(self))
        self.spend.setWordWrap(True)
        self.spend.setAccessibleName("Spending")
        lay.addWidget(self.spend)
        workbench.changed.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        self.quoted_request, q = self.wb.priced()
        self.quote = q
        self.price.setText(price_text(q))
        tip = "Estimated from the provider's published prices"
        if q.approximate:
            tip += " — approximate: " + (q.note or "the provider's own rounding may differ")
        self.price.setToolTip(tip + ".")
        self.provider.setText(self.wb.info.display_name)
        parts = []
        for item in q.breakdown:
            mp = f" {item.megapixels:g}\u00a0MP" if item.megapixels is not None else ""
            parts.append(f"{item.item}{mp}\u00a0\u00a0{theme.money(item.usd)}".replace(" ", "\u00a0"))
        self.breakdown.setText("  ·  ".join(parts))
        self.note.setText(q.note or "")  # one line; the whole note is its tooltip
        self.note.setVisible(bool(q.note))
        warnings, refusal = self.wb.spend_check(q.usd)
        text = refusal or " ".join(warnings)
        if text != self.caps_note.text():
            self.caps_note.setText(text)
            level = "error" if refusal else "warning"
            self.caps_note.setStyleSheet(f"color: {theme.LEVEL_ACCENTS[level]};" if text else "")
        self.caps_note.setVisible(bool(text))

    def show_billed(self, job_id: str, billed: float | None, quoted: float | None, state: str,
                    note: str = "") -> None:
        if state == "succeeded":
            if billed is not None:
                text = f"Last run (job {job_id}): billed {theme.money(billed)}"
                if quoted is not None and abs(billed - quoted) > 1e-9:
                    text += f" (quoted {theme.money(quoted)})"
            else:
                text = f"Last run (job {job_id}): the provider reports no bill; quoted {theme.money(quoted)}"
        elif state == "moderated":
            # The provider's rule, written by the runner: not billed / may be billed / billing unknown.
            words = note.removeprefix("Moderated — ") if note.startswith("Moderated — ") else "billing unknown"
            text = f"Last run (job {job_id}): moderated — {words}"
        else:
            text = f"Last run (job {job_id}) {state}" + (f": billed {theme.money(billed)}" if billed else "")
        self.billed.setText(text)
        self.billed.show()

    def show_spend(self, status: Any, caps: Any) -> None:
        self.spend.setText(spend_text(status, caps))
        self.spend.setToolTip("What FlexStudio has spent: billed amounts where the provider reports them, "
                              "else the quotes. Limits are set in Settings → Spending.")


def spend_text(status: Any, caps: Any) -> str:
    def part(label: str, spent: float, stop: float | None, warn: float | None) -> str:
        limit = stop if stop is not None else warn
        return f"{label} {theme.money(spent)}" + (f" of {theme.money(limit)}" if limit is not None else "")

    return "Spent: " + "  ·  ".join((
        part("session", status.session, caps.session_stop, caps.session_warn),
        part("today", status.day, caps.day_stop, caps.day_warn)))
