"""The two dialogs that launch a group of jobs: "Compare providers…" (the same edit on several providers,
one seed for all) and "Sweep…" (steps × guidance × seed on one provider). Both show the total price, the
spend-cap warnings and any refusal before anything is queued; one Launch button names the price."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ..core.errors import BadInput, SpendCapExceeded
from ..providers.base import Support
from . import theme

if TYPE_CHECKING:
    from ..core.request import EditRequest
    from ..core.sweep import Sweep
    from ..providers.base import ProviderInfo
    from ..services import Services

# launch(requests, kind) → None when the jobs were queued, else the sentence saying why not
Launch = Callable[[list["EditRequest"], str], "str | None"]


def adapt(request: EditRequest, info: ProviderInfo) -> tuple[EditRequest, list[str]]:
    """The request for one provider of a comparison: the same settings, kept inside what the provider
    takes (a steps value out of its range, a format it cannot write). Returns the notes of what moved."""
    caps = info.capabilities
    changes: dict[str, Any] = {"provider": info.id}
    notes: list[str] = []

    def keep_in(field: str, value: Any, rng: Any, word: str) -> None:
        if rng is None or caps.handling(field).support == Support.IGNORED:
            return
        lo, hi = rng
        clamped = max(lo, min(hi, value))
        if clamped != value:
            changes[field] = clamped
            notes.append(f"{word} {value:g} → {clamped:g}")

    keep_in("steps", request.steps, caps.steps_range, "steps")
    keep_in("guidance", request.guidance, caps.guidance_range, "guidance")
    keep_in("safety", request.safety, caps.safety_range, "safety")
    if caps.formats and request.output_format not in caps.formats:
        changes["output_format"] = caps.formats[0]
        notes.append(f"{caps.formats[0].upper()} instead of {request.output_format.upper()}")
    if request.size is not None and request.size[0] * request.size[1] > caps.max_pixels:
        changes["size"] = None
        notes.append(f"auto size (over {caps.max_pixels / 1048576:g} MP)")
    return request.with_(**changes), notes


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
        self.total.setAccessibleName("Total price")
        self.total.setWordWrap(True)
        self.note = QLabel()
        self.note.setWordWrap(True)
        self.note.setFont(theme.small_font(self))
        self.note.setAccessibleName("About the total")
        self.warning = QLabel()
        self.warning.setWordWrap(True)
        self.warning.setAccessibleName("Spending warning")
        self.warning.setStyleSheet(f"color: {theme.LEVEL_ACCENTS['warning']};")
        self.refusal = QLabel()
        self.refusal.setWordWrap(True)
        self.refusal.setAccessibleName("Why it cannot launch")
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


def _money_total(quotes: list[Any], label: Callable[[str], str] = str) -> tuple[str, str, float | None]:
    from ..pricing import total

    t = total(quotes)
    note = t.note
    if t.usd is None:
        unknown = list(dict.fromkeys(label(q.provider) for q in quotes if q.usd is None))
        note = (f"The price on {', '.join(unknown)} is not known, so neither is the total; spending limits "
                "count it as nothing.")
    return theme.money(t.usd, approximate=t.approximate), note, t.usd


# ---------------------------------------------------------------------------------------- comparison
class CompareProvidersDialog(QDialog):
    """Choose providers (those with a key, plus the sandbox), see the total, launch one job on each."""

    def __init__(self, services: Services, request: EditRequest, key_status: Mapping[str, str | None],
                 launch: Launch, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.services = services
        self.base = request
        self._launch = launch
        self.setWindowTitle("Compare providers")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.setAccessibleName("Compare providers")
        self.resize(720, 520)
        self.infos: list[ProviderInfo] = []
        self.usable: dict[str, bool] = {}
        lay = QVBoxLayout(self)
        intro = QLabel(f"Send this edit to several providers at once: the same prompt, {len(request.references)} "
                       f"reference{'s' if len(request.references) != 1 else ''} and settings, and one seed "
                       f"({request.seed}) for all, so the comparison is fair. Providers without a key are "
                       "greyed (add keys in Settings → Keys).")
        intro.setWordWrap(True)
        lay.addWidget(intro)
        self.table = QTableWidget(0, 4)
        self.table.setHorizontalHeaderLabels(["Provider", "Price", "References", "Settings"])
        self.table.setAccessibleName("Providers to compare")
        self.table.verticalHeader().hide()
        self.table.setWordWrap(False)
        self.table.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.table.setSelectionMode(QTableWidget.SelectionMode.NoSelection)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        head = self.table.horizontalHeader()
        head.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        head.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        head.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        head.setSectionResizeMode(3, QHeaderView.ResizeMode.Stretch)
        lay.addWidget(self.table, 1)
        self.refs_note = QLabel()
        self.refs_note.setWordWrap(True)
        self.refs_note.setAccessibleName("Reference limit")
        lay.addWidget(self.refs_note)
        self.price = PriceArea()
        lay.addWidget(self.price)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.reject)
        self.launch_button = QPushButton()
        self.launch_button.setDefault(True)
        self.launch_button.setAccessibleName("Launch the comparison")
        self.launch_button.clicked.connect(self.launch)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.launch_button)
        lay.addLayout(buttons)
        self._fill(key_status)
        self.table.itemChanged.connect(lambda _i: self.refresh())
        self.refresh()

    def _fill(self, key_status: Mapping[str, str | None]) -> None:
        from .group_results import handling_lines, handling_summary

        current = self.base.provider
        everything = self.services.registry.all()

        def usable_(i: ProviderInfo) -> bool:
            return (not i.needs_key) or bool(key_status.get(i.id))

        # the ones that can run first (the current provider at the top), then those without a key
        self.infos = sorted(everything, key=lambda i: (not usable_(i), i.id != current))
        self.table.setRowCount(len(self.infos))
        keyed = [i.id for i in self.infos if i.needs_key and key_status.get(i.id)]
        for row, info in enumerate(self.infos):
            usable = usable_(info)
            self.usable[info.id] = usable
            req, notes = adapt(self.base, info)
            q = self.services.quote(req)
            name = QTableWidgetItem(info.display_name + ("" if usable else "  — no key"))
            name.setData(Qt.ItemDataRole.UserRole, info.id)
            flags = Qt.ItemFlag.ItemIsUserCheckable | (Qt.ItemFlag.ItemIsEnabled if usable else Qt.ItemFlag.NoItemFlags)
            name.setFlags(flags)
            chosen = usable and (info.id == current or info.id in keyed or (not keyed and not info.needs_key))
            name.setCheckState(Qt.CheckState.Checked if chosen else Qt.CheckState.Unchecked)
            if not usable:
                name.setToolTip(info.key_help or "Add a key in Settings → Keys")
            price = QTableWidgetItem(theme.money(q.usd, approximate=q.approximate))
            price.setToolTip(q.note or "")
            refs = QTableWidgetItem(f"up to {info.capabilities.max_references}")
            settings = QTableWidgetItem("; ".join([*notes, handling_summary(info.capabilities)]))
            settings.setToolTip("\n".join(text for _s, text in handling_lines(info.capabilities)))
            for col, item in enumerate((name, price, refs, settings)):
                if col:
                    item.setFlags(Qt.ItemFlag.ItemIsEnabled if usable else Qt.ItemFlag.NoItemFlags)
                self.table.setItem(row, col, item)

    # ------------------------------------------------------------------ choice
    def chosen(self) -> list[ProviderInfo]:
        out = []
        for row, info in enumerate(self.infos):
            item = self.table.item(row, 0)
            if item is not None and item.checkState() == Qt.CheckState.Checked and self.usable.get(info.id):
                out.append(info)
        return out

    def set_chosen(self, provider_ids: list[str]) -> None:
        self.table.blockSignals(True)
        try:
            for row, info in enumerate(self.infos):
                on = info.id in provider_ids and self.usable.get(info.id, False)
                self.table.item(row, 0).setCheckState(Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)
        finally:
            self.table.blockSignals(False)
        self.refresh()

    def requests(self) -> list[EditRequest]:
        return [adapt(self.base, info)[0] for info in self.chosen()]

    # ------------------------------------------------------------------ price, limits, launch
    def refresh(self) -> None:
        chosen = self.chosen()
        reqs = [adapt(self.base, info)[0] for info in chosen]
        quotes = [self.services.quote(r) for r in reqs]
        registry = self.services.registry
        money, note, usd = _money_total(quotes, lambda pid: registry.get(pid).label if pid in registry else pid)
        n = len(chosen)
        self.price.set_total(f"Total for {n} provider{'s' if n != 1 else ''}: {money}", note)
        ok = self.price.check_spend(self.services, usd) if n else True
        refs = len(self.base.references)
        problem = ""
        if chosen:
            limit = min(i.capabilities.max_references for i in chosen)
            tight = [i.label for i in chosen if i.capabilities.max_references == limit]
            text = (f"Reference limit for this comparison: {limit} — the smallest among the chosen "
                    f"({', '.join(tight)}); the tray has {refs}.")
            if refs > limit:
                problem = (f" Remove {refs - limit} reference{'s' if refs - limit > 1 else ''} or untick "
                           f"{', '.join(tight)} to launch.")
            self.refs_note.setText(text + problem)
            self.refs_note.setStyleSheet(f"color: {theme.LEVEL_ACCENTS['error']};" if problem else "")
        else:
            self.refs_note.setText("Tick at least two providers.")
        self.launch_button.setText(f"Launch {n} edit{'s' if n != 1 else ''}  ·  {money}")
        self.launch_button.setEnabled(n >= 2 and not problem)
        self.launch_button.setToolTip("" if ok else self.price.refusal.text())

    def launch(self) -> bool:
        reqs = self.requests()
        if len(reqs) < 2:
            self.price.set_refusal("Tick at least two providers.")
            return False
        problem = self._launch(reqs, "comparison")
        if problem:
            self.price.set_refusal(problem)
            return False
        self.accept()
        return True


# ---------------------------------------------------------------------------------------------- sweep
class SweepDialog(QDialog):
    """Steps × guidance × seed axes (lists or ranges, A1111 style), the grid size and its total price."""

    def __init__(self, services: Services, request: EditRequest, launch: Launch,
                 parent: QWidget | None = None) -> None:
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
        intro = QLabel(f"Run the current edit on {info.display_name} once for every combination of the values "
                       "below. Write lists (<b>28, 50</b>) or ranges: <b>20-50 (+10)</b> steps by 10, "
                       "<b>1-10 [5]</b> five values spread from 1 to 10.")
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
        self.size_label.setAccessibleName("Grid size")
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
        from ..core.sweep import Sweep

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
        self.size_label.setText(f"{len(sw.steps)} steps × {len(sw.guidance)} guidance × {len(sw.seeds)} seed"
                                f"{'s' if len(sw.seeds) != 1 else ''} = {sw.size} edit{'s' if sw.size != 1 else ''} "
                                f"on {self.info.display_name}")
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
        money, note, usd = _money_total(quotes)
        each = quotes[0] if quotes else None
        per = f" ({sw.size} × {theme.money(each.usd, approximate=each.approximate)})" if each is not None else ""
        if usd is None:
            note = (f"{self.info.label}'s price is not known, so neither is the total; spending limits "
                    "count it as nothing.")
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
