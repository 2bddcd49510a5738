"""The "Sweep…" dialog: steps × guidance × seed on one provider. Shows the grid size, the total price, the spend-cap
warnings and any refusal before anything is queued; one Launch button names the price."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ...core.errors import BadInput
from ...providers.base import Support
from ..widgets import theme
from ..widgets.price_area import Launch, PriceArea, money_total

if TYPE_CHECKING:
    from ...core.request import EditRequest
    from ...core.sweep import Sweep
    from ...services import Services


class SweepDialog(QDialog):
    """Steps × guidance × seed axes (lists or ranges, A1111 style), the grid size and its total price."""

    def __init__(
        self, services: Services, request: EditRequest, launch: Launch, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.services = services
        self.base = request
        self._launch = launch
        self.sweep: Sweep | None = None
        info = services.registry.get(request.provider)
        self.info = info
        self.setWindowTitle("Sweep")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.setAccessibleName("Sweep")
        self.resize(560, 380)
        lay = QVBoxLayout(self)
        intro = QLabel(
            f"Run the current edit on {info.display_name} once for every combination of the values "
            "below. Write lists (<b>28, 50</b>) or ranges: <b>20-50 (+10)</b> steps by 10, "
            "<b>1-10 [5]</b> five values spread from 1 to 10."
        )
        intro.setWordWrap(True)
        lay.addWidget(intro)
        form = QFormLayout()
        self.steps = QLineEdit("28, 50")
        self.steps.setAccessibleName("Steps values")
        self.guidance = QLineEdit(f"{request.guidance:g}, 5" if request.guidance != 5 else "3.5, 5")
        self.guidance.setAccessibleName("Guidance values")
        self.seeds = QLineEdit(str(request.seed if request.seed is not None else 0))
        self.seeds.setAccessibleName("Seed values")
        form.addRow("&Steps", self.steps)
        form.addRow("&Guidance", self.guidance)
        form.addRow("S&eeds", self.seeds)
        lay.addLayout(form)
        self.size_label = QLabel()
        self.size_label.setWordWrap(True)
        lay.addWidget(self.size_label)
        self.caps_note = QLabel()
        self.caps_note.setWordWrap(True)
        self.caps_note.setFont(theme.small_font(self))
        lay.addWidget(self.caps_note)
        self.price = PriceArea()
        lay.addWidget(self.price)
        lay.addStretch(1)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.reject)
        self.launch_button = QPushButton()
        self.launch_button.setDefault(True)
        self.launch_button.setAccessibleName("Launch the sweep")
        self.launch_button.clicked.connect(self.launch)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.launch_button)
        lay.addLayout(buttons)
        for edit in (self.steps, self.guidance, self.seeds):
            edit.textChanged.connect(lambda _t: self.refresh())
        self.refresh()

    def set_axes(self, steps: str, guidance: str, seeds: str) -> None:
        for edit, text in ((self.steps, steps), (self.guidance, guidance), (self.seeds, seeds)):
            edit.blockSignals(True)
            edit.setText(text)
            edit.blockSignals(False)
        self.refresh()

    def requests(self) -> list[EditRequest]:
        return self.sweep.requests(self.base) if self.sweep is not None else []

    def refresh(self) -> None:
        from ...core.sweep import Sweep

        try:
            self.sweep = Sweep.parse(self.steps.text(), self.guidance.text(), self.seeds.text())
        except BadInput as exc:
            self.sweep = None
            self.size_label.setText(str(exc))
            self.size_label.setStyleSheet(f"color: {theme.LEVEL_ACCENTS['error']};")
            self.price.set_total("")
            self.price.set_warnings(())
            self.price.set_refusal("")
            self.launch_button.setText("Launch")
            self.launch_button.setEnabled(False)
            return
        sw = self.sweep
        self.size_label.setStyleSheet("")
        self.size_label.setText(
            f"{len(sw.steps)} steps × {len(sw.guidance)} guidance × {len(sw.seeds)} seed"
            f"{'s' if len(sw.seeds) != 1 else ''} = {sw.size} edit{'s' if sw.size != 1 else ''} "
            f"on {self.info.display_name}"
        )
        caps = self.info.capabilities
        notes = []
        for field, values, word in (("steps", sw.steps, "steps"), ("guidance", sw.guidance, "guidance")):
            h = caps.handling(field)
            if len(values) > 1 and h.support == Support.IGNORED:
                notes.append(f"{self.info.label} ignores {word}: those edits will look alike.")
            rng = caps.steps_range if field == "steps" else caps.guidance_range
            if rng is not None and any(not rng[0] <= v <= rng[1] for v in values):
                notes.append(f"{self.info.label} takes {word} {rng[0]:g}–{rng[1]:g}.")
        if len(sw.seeds) > 1 and caps.handling("seed").support == Support.IGNORED:
            notes.append(f"{self.info.label} ignores the seed.")
        self.caps_note.setText(" ".join(notes))
        self.caps_note.setVisible(bool(notes))
        quotes = [self.services.quote(r) for r in self.requests()]
        money, note, usd = money_total(quotes)
        each = quotes[0] if quotes else None
        per = (
            f" ({sw.size} × {theme.money(each.usd, approximate=each.approximate)})"
            if each is not None
            else ""
        )
        if usd is None:
            note = (
                f"{self.info.label}'s price is not known, so neither is the total; spending limits "
                "count it as nothing."
            )
        self.price.set_total(f"Total: {money}{per}", note)
        ok = self.price.check_spend(self.services, usd)
        self.launch_button.setText(f"Launch {sw.size} edit{'s' if sw.size != 1 else ''}  ·  {money}")
        self.launch_button.setEnabled(True)
        self.launch_button.setToolTip("" if ok else self.price.refusal.text())

    def launch(self) -> bool:
        reqs = self.requests()
        if not reqs:
            return False
        problem = self._launch(reqs, "sweep")
        if problem:
            self.price.set_refusal(problem)
            return False
        self.accept()
        return True
