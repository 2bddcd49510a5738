"""The "Compare providers…" dialog: the same edit on several providers, one seed for all. Shows the total price, the
spend-cap warnings and any refusal before anything is queued; one Launch button names the price."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ...providers.base import Support
from ..widgets import theme
from ..widgets.price_area import Launch, PriceArea, money_total

if TYPE_CHECKING:
    from ...core.request import EditRequest
    from ...providers.base import ProviderInfo
    from ...services import Services


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


# ---------------------------------------------------------------------------------------- comparison
class CompareProvidersDialog(QDialog):
    """Choose providers (those with a key, plus the sandbox), see the total, launch one job on each."""

    def __init__(
        self,
        services: Services,
        request: EditRequest,
        key_status: Mapping[str, str | None],
        launch: Launch,
        parent: QWidget | None = None,
    ) -> None:
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
        intro = QLabel(
            f"Send this edit to several providers at once: the same prompt, {len(request.references)} "
            f"reference{'s' if len(request.references) != 1 else ''} and settings, and one seed "
            f"({request.seed}) for all, so the comparison is fair. Providers without a key are "
            "greyed (add keys in Settings → Keys)."
        )
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
        lay.addWidget(self.refs_note)
        self.why = QLabel()  # why Launch is greyed, or what a lone Sandbox run is for: always said
        self.why.setWordWrap(True)
        lay.addWidget(self.why)
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
        from .results_dialog import handling_lines, handling_summary

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
            flags = Qt.ItemFlag.ItemIsUserCheckable | (
                Qt.ItemFlag.ItemIsEnabled if usable else Qt.ItemFlag.NoItemFlags
            )
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
                item = self.table.item(row, 0)
                if item is not None:
                    item.setCheckState(Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)
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
        money, note, usd = money_total(
            quotes, lambda pid: registry.get(pid).label if pid in registry else pid
        )
        n = len(chosen)
        self.price.set_total(f"Total for {n} provider{'s' if n != 1 else ''}: {money}", note)
        ok = self.price.check_spend(self.services, usd) if n else True
        refs = len(self.base.references)
        problem = ""
        if chosen:
            limit = min(i.capabilities.max_references for i in chosen)
            tight = [i.label for i in chosen if i.capabilities.max_references == limit]
            text = (
                f"Reference limit for this comparison: {limit} — the smallest among the chosen "
                f"({', '.join(tight)}); the tray has {refs}."
            )
            if refs > limit:
                problem = (
                    f" Remove {refs - limit} reference{'s' if refs - limit > 1 else ''} or untick "
                    f"{', '.join(tight)} to launch."
                )
            self.refs_note.setText(text + problem)
            self.refs_note.setStyleSheet(f"color: {theme.LEVEL_ACCENTS['error']};" if problem else "")
        else:
            self.refs_note.setText("")
        why, hint = self.blocker(n, problem.strip(), ok)
        self.why.setText(why or hint)
        self.why.setStyleSheet(f"color: {theme.LEVEL_ACCENTS['error']};" if why else "")
        self.launch_button.setText(f"Launch {n} edit{'s' if n != 1 else ''}  ·  {money}")
        self.launch_button.setEnabled(not why)
        self.launch_button.setToolTip(why or hint)

    def blocker(self, n: int, problem: str = "", spend_ok: bool = True) -> tuple[str, str]:
        """(why Launch is greyed, or "" — and then a hint). With the Sandbox the only provider that can
        run, a comparison of one is allowed: it shows how the grid works, and says how to get more."""
        usable = sum(1 for ok in self.usable.values() if ok)
        if n == 0:
            return "Tick the providers to compare.", ""
        if n == 1 and usable >= 2:
            return "Tick one more provider: a comparison needs two.", ""
        if problem:
            return problem, ""
        if not spend_ok:
            return self.price.refusal.text() or "Your spending limit stops this comparison.", ""
        if n == 1:
            return "", (
                "Only the Sandbox runs without a key, so this runs it alone, to show how a comparison "
                "looks. Add API keys in Settings → Keys to compare real providers."
            )
        return "", ""

    def launch(self) -> bool:
        reqs = self.requests()
        why, _hint = self.blocker(len(reqs))
        if why:
            self.price.set_refusal(why)
            return False
        problem = self._launch(reqs, "comparison")
        if problem:
            self.price.set_refusal(problem)
            return False
        self.accept()
        return True
