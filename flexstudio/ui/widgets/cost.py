"""The cost readout: the price of the current settings on the selected provider, with its breakdown,
recomputed synchronously on every change (a quote costs microseconds); after a run, what was billed;
and the spend of this session and today against the user's caps."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QRect, Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from ...core.job_state import JobState
from . import theme
from .labels import ElidingLabel, WrapLabel, fit_lines, wrapped_lines

if TYPE_CHECKING:
    from ..models.workbench import Workbench


def price_text(quote: Any) -> str:
    return theme.money(quote.usd, approximate=quote.approximate)


# The breakdown and the price note share three lines: the note takes up to two (its first sentence at
# least; the whole note is its tooltip), the breakdown the rest (the references are summed to fit; each
# chip shows its own megapixels).
DETAIL_LINES = 3
NOTE_LINES = 2
CANT_RUN = "Can't run"


class CostReadout(QFrame):
    def __init__(self, workbench: Workbench, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.wb = workbench
        self.quote: Any = None
        self.blocker = ""  # why Run can't start, said on the note's lines
        self.unsendable = False  # the provider cannot take this edit: no price, the reason instead
        self._budget: tuple[Any, int] = ((), 1)  # (what the note lines were measured for, lines)
        self.quoted_request: Any = None
        self.setObjectName("cost")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setAccessibleName("Cost")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(10, 6, 10, 6)
        lay.setSpacing(2)
        # Every line keeps its height whatever the provider and the run: Run below never moves.
        top = QHBoxLayout()
        top.setSpacing(8)
        caption = QLabel("Price")
        caption.setFont(theme.bold(caption.font()))
        self.price = QLabel()
        self.price.setObjectName("price")
        f = theme.bold(self.price.font())
        f.setPointSizeF(max(10.0, f.pointSizeF() * 1.35))
        self.price.setFont(f)
        self.price.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.provider = ElidingLabel()
        self.provider.setFont(theme.small_font(self))
        self.provider.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        top.addWidget(caption, 0, Qt.AlignmentFlag.AlignBaseline)
        top.addWidget(self.price, 0, Qt.AlignmentFlag.AlignBaseline)
        top.addWidget(self.provider, 1)
        lay.addLayout(top)
        self.breakdown = QLabel()
        self.breakdown.setObjectName("breakdown")
        self.breakdown.setFont(theme.small_font(self))
        self.breakdown.setWordWrap(True)
        self.breakdown.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self._set_breakdown_lines(2)
        lay.addWidget(self.breakdown)
        self.note = WrapLabel(1)
        self.note.setObjectName("pricenote")
        self.note.setFont(theme.small_font(self))
        _keep_room(self.note)
        lay.addWidget(self.note)
        self.billed = ElidingLabel()
        self.billed.setObjectName("billed")
        self.billed.setFont(theme.small_font(self))
        self.billed.setAccessibleName("Last run")
        _keep_room(self.billed)
        self.billed.hide()
        lay.addWidget(self.billed)
        self.spend = ElidingLabel()
        self.spend.setObjectName("spend")
        self.spend.setFont(theme.small_font(self))
        lay.addWidget(self.spend)
        workbench.changed.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        self.quoted_request, q = self.wb.priced()
        self.quote = q
        self.provider.setText(self.wb.info.display_name)
        self._fit_note_lines()
        if self.unsendable:  # an edit the provider cannot take has no price: the reason stands in its place
            self._show_unsendable()
        else:
            self._show_price(q)
        # Why Run can't start (a spending limit among the reasons), else a spending warning, replaces the
        # price note on the lines kept for it: the readout never grows, so Run below never moves.
        warnings, refusal = self.wb.spend_check(q.usd)
        said, level = (self.blocker, "error") if self.blocker else (" ".join(warnings), "warning")
        if refusal and not self.blocker:
            said, level = refusal, "error"
        if said:
            self.note.setText(said)
            style = f"color: {theme.LEVEL_ACCENTS[level]};"
            if self.note.styleSheet() != style:
                self.note.setStyleSheet(style)
            self.note.setVisible(True)
        elif self.note.styleSheet():
            self.note.setStyleSheet("")  # a style sheet set, even empty, re-polishes the label

    def _show_price(self, q: Any) -> None:
        self.price.setText(price_text(q))
        if self.price.styleSheet():
            self.price.setStyleSheet("")
        tip = "Estimated from the provider's published prices"
        if q.approximate:
            tip += " — approximate: " + (q.note or "the provider's own rounding may differ")
        self.price.setToolTip(tip + ".")
        self.price.setAccessibleName("")
        self.breakdown.show()
        self._set_breakdown_lines(DETAIL_LINES - self._budget[1])
        self.note.set_lines(self._budget[1])
        self.breakdown.setText(breakdown_text(q.breakdown, self.breakdown))
        self.breakdown.setToolTip(breakdown_text(q.breakdown))
        self.note.setText(q.note or "")  # wrapped into its lines; the whole note is its tooltip
        self.note.setVisible(bool(q.note))

    def _show_unsendable(self) -> None:
        """No price: "Can't run" and the reason, on the breakdown's and the note's lines together (the
        readout keeps its height, so Run does not move)."""
        name = self.wb.info.display_name
        self.price.setText(CANT_RUN)
        self.price.setStyleSheet(f"color: {theme.LEVEL_ACCENTS['error']};")
        self.price.setToolTip(f"This edit can't be sent to {name}, so it has no price: {self.blocker}")
        self.price.setAccessibleName(f"{CANT_RUN} on {name}, so no price")
        self.breakdown.hide()
        self._set_breakdown_lines(DETAIL_LINES - self._budget[1])
        lay = self.layout()
        spacing = max(0, lay.spacing()) if lay is not None else 0
        self.note.set_height(self.note.height_of(self._budget[1]) + self.breakdown.height() + spacing)

    def _set_breakdown_lines(self, lines: int) -> None:
        self.breakdown.setFixedHeight(lines * self.breakdown.fontMetrics().lineSpacing() + 2)

    def _fit_note_lines(self) -> None:
        """The note's lines: as many as the longest note of any provider takes at this width (whole
        sentences in at most NOTE_LINES), so the readout's height follows its width, never the provider."""
        width = self.note.contentsRect().width() or self.contentsRect().width() - 20
        notes = tuple(self._notes())
        key = (width, self.note.font().key(), notes)
        if key != self._budget[0]:
            fm = self.note.fontMetrics()
            fitted = (fit_lines(fm, n, width, NOTE_LINES) for n in notes)
            need = max((wrapped_lines(fm, n, width) for n in fitted), default=1)
            self._budget = (key, max(1, min(NOTE_LINES, need)))

    def _notes(self) -> list[str]:
        request = self.quoted_request
        notes = []
        for info in self.wb.providers():
            try:
                notes.append(self.wb.services.quote(request.with_(provider=info.id)).note or "")
            except Exception:  # a provider with no price rule: it has no note to make room for
                continue
        return notes

    def set_blocker(self, text: str, *, unsendable: bool = False) -> None:
        """Why Run can't start ("" when it can); ``unsendable``: the provider cannot take this edit at
        all (its limits), so no price is shown, only the reason."""
        unsendable = unsendable and bool(text)
        if (text, unsendable) != (self.blocker, self.unsendable):
            self.blocker = text
            self.unsendable = unsendable
            self.refresh()

    def resizeEvent(self, e: Any) -> None:
        super().resizeEvent(e)
        if self.quote is not None:
            old = self._budget[1]
            self._fit_note_lines()
            if self._budget[1] != old:
                self.refresh()
            elif not self.unsendable:
                self.breakdown.setText(breakdown_text(self.quote.breakdown, self.breakdown))

    def show_billed(
        self,
        job_id: str,
        billed: float | None,
        quoted: float | None,
        state: str,
        note: str = "",
        provider: str = "",
    ) -> None:
        on = f" on {provider}" if provider else ""
        if state == JobState.SUCCEEDED:
            if billed is not None:
                text = f"Last run{on}: billed {theme.money(billed)}"
                if quoted is not None and abs(billed - quoted) > 1e-9:
                    text += f" (quoted {theme.money(quoted)})"
            else:
                text = f"Last run{on}: the provider reports no bill; quoted {theme.money(quoted)}"
        elif state == JobState.MODERATED:
            # The provider's rule, written by the runner: not billed / may be billed / billing unknown.
            words = (
                note.removeprefix("Moderated — ") if note.startswith("Moderated — ") else "billing unknown"
            )
            text = f"Last run{on}: moderated — {words}"
        else:
            text = f"Last run{on} {state}" + (f": billed {theme.money(billed)}" if billed else "")
        self.billed.setText(text)
        self.billed.show()

    def show_spend(self, status: Any, caps: Any) -> None:
        text = spend_text(status, caps)
        if text == self.spend.full_text():
            return
        self.spend.setText(text)
        self.spend.setToolTip(SPEND_TIP)


SPEND_TIP = (
    "What FlexStudio has spent: billed amounts where the provider reports them, else the quotes. "
    "Limits are set in Settings → Spending."
)


def _keep_room(w: QWidget) -> None:
    pol = w.sizePolicy()
    pol.setRetainSizeWhenHidden(True)
    w.setSizePolicy(pol)


def breakdown_text(items: Any, fit: QLabel | None = None) -> str:
    """Each priced item ("output 2 MP $0.10 · image 1 1 MP $0.05"); when ``fit`` is given and that does
    not fit its two lines, the references are summed ("3 images 4 MP $0.20"): the tooltip has each."""

    def one(item: Any) -> str:  # an unknown price is said once, by the total: not on every item
        mp = f" {item.megapixels:g}\u00a0MP" if item.megapixels is not None else ""
        price = f"\u00a0\u00a0{theme.money(item.usd)}" if item.usd is not None else ""
        return f"{item.item}{mp}{price}".replace(" ", "\u00a0")

    text = "  ·  ".join(one(i) for i in items)
    if fit is None or fit.width() <= 0:
        return text
    fm = fit.fontMetrics()
    room = QRect(0, 0, fit.width(), 10000)
    if fm.boundingRect(room, Qt.TextFlag.TextWordWrap, text).height() <= fit.height():
        return text
    refs = [i for i in items if str(i.item).startswith("image")]
    rest = [i for i in items if not str(i.item).startswith("image")]
    if len(refs) < 2:
        return text
    mp = sum(i.megapixels or 0 for i in refs)
    prices = [i.usd for i in refs]
    total = None if any(p is None for p in prices) else sum(p for p in prices if p is not None)
    summed = (
        f"{len(refs)}\u00a0images{f' {mp:g}' + chr(160) + 'MP' if mp else ''}"
        f"{'' if total is None else chr(160) * 2 + theme.money(total)}".replace(" ", "\u00a0")
    )
    return "  ·  ".join([*(one(i) for i in rest), summed])


def spend_text(status: Any, caps: Any) -> str:
    def part(label: str, spent: float, stop: float | None, warn: float | None) -> str:
        limit = stop if stop is not None else warn
        return f"{label} {theme.money(spent)}" + (f" of {theme.money(limit)}" if limit is not None else "")

    return "Spent: " + "  ·  ".join(
        (
            part("session", status.session, caps.session_stop, caps.session_warn),
            part("today", status.day, caps.day_stop, caps.day_warn),
        )
    )
