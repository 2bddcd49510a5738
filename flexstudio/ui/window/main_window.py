"""The workbench window: tray (left), compare view (centre), history (bottom), prompt, controls, price,
Run and jobs (right); menus, status bar, message bar. What the window *does* lives in the controller
(``controller.py``); the window builds the widgets and is the controller's ``WindowView``."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QByteArray, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from ..models.describe import plural
from ..models.history_model import HistoryModel
from ..models.importer import ReferenceImporter, mime_has_images
from ..models.jobs_model import JobsModel
from ..models.recovery_model import RecoveryModel
from ..models.tasks import TaskRunner
from ..models.thumbs import ThumbnailCache
from ..models.workbench import Workbench
from ..widgets import theme
from ..widgets.banner import MessageBar, MessageRow
from ..widgets.before_after import CompareView
from ..widgets.controls import KEY_WORDS, ControlsPanel
from ..widgets.cost import CostReadout, spend_text
from ..widgets.fit_scroll import FitScrollArea
from ..widgets.history_panel import HistoryPanel
from ..widgets.jobs_panel import JobsPanel
from ..widgets.labels import SteadyLabel
from ..widgets.preset_bar import PresetBar
from ..widgets.prompt import PromptEdit
from ..widgets.prompt_mode import PromptMode
from ..widgets.tray import ReferenceTray
from .controller import WindowController
from .menus import build_menus
from .wiring import wire

if TYPE_CHECKING:
    from PySide6.QtWidgets import QFileDialog

    from ...services import Services
    from ...storage.history import JobRecord
    from ..widgets.before_after import Picture

log = logging.getLogger(__name__)
TITLE = "FLUX.2 [flex] workbench — FlexStudio"  # ends with the app name: Qt does not add it again


class MainWindow(QMainWindow):
    closed = Signal()

    def __init__(
        self, services: Services, parent: QWidget | None = None, *, setup_on_show: bool = True
    ) -> None:
        super().__init__(parent)
        self.services = services
        self.setup_on_show = setup_on_show  # False: the caller runs after_first_paint once its loop runs
        self.setWindowTitle(TITLE)
        self.setAcceptDrops(True)
        self.tasks = TaskRunner(self)
        self.wb = Workbench(services, self)
        self.jobs = JobsModel(services.bus, self)
        self.recovery = RecoveryModel(
            services, self.jobs, lambda coro, what: self.tasks.spawn(coro, what=what, quiet=True), self
        )
        self.thumbs = ThumbnailCache(services.blobs.get, parent=self)
        self.importer = ReferenceImporter(services, self.wb, self.tasks, self)
        # the history's first page is read after the first paint (``after_first_paint``)
        self.history_model = HistoryModel(services.history, services.registry, self.thumbs, load=False)
        self._ready = False
        self._sheet: Any = None
        self._import_message = ""  # the importer's last sentence (dismissed once the tray is empty)
        self.controller = WindowController(services, self)
        self._build()
        self.actions_ = build_menus(self, self.controller)
        wire(self)
        if self.wb.prompt or self.wb.references:  # the draft of the last session
            self.prompt.set_text(self.wb.prompt)
            self.prompt.set_reference_count(len(self.wb.references))
            self.controller.references_changed()
        self._status_bar()
        self._restore_geometry()
        self._spend_timer = QTimer(self)
        self._spend_timer.setSingleShot(True)
        self._spend_timer.setInterval(150)
        self._spend_timer.timeout.connect(self.refresh_spend)
        self._show_spend()  # the readout priced this edit when it was made, with this same spend

    # ------------------------------------------------------------------ layout
    def _build(self) -> None:
        svc = self.services
        self.banner = MessageBar()  # in its own row above the pictures (MessageRow)
        self.tray = ReferenceTray(self.wb, self.importer, self.thumbs)
        self.tray.setMinimumWidth(200)
        self.compare = CompareView(svc.blobs.get, self.tasks)
        self.history = HistoryPanel(self.history_model)

        self.prompt = PromptEdit(history=self._prompt_history)
        self.prompt.setMinimumHeight(72)
        self.prompt.setMaximumHeight(220)
        self.prompt.set_reference_count(len(self.wb.references))
        self.controls = ControlsPanel(self.wb)
        self.cost = CostReadout(self.wb)
        self.run_button = QPushButton()
        self.run_button.setObjectName("run")
        self.run_button.setMinimumHeight(38)
        self.run_button.setDefault(True)
        self.run_button.setFocusPolicy(Qt.FocusPolicy.TabFocus)  # a click never leaves Space/Enter on Run
        f = theme.bold(self.run_button.font())
        f.setPointSizeF(f.pointSizeF() * 1.1)
        self.run_button.setFont(f)
        # A disabled Run takes no focus: while it is off, this Tab stop beside it says why.
        self.run_why = QPushButton()
        self.run_why.setObjectName("run_why")
        self.run_why.setText("Why?")
        self.run_why.setFocusPolicy(Qt.FocusPolicy.TabFocus)
        self.run_why.setAccessibleName("Why Run can't start")
        self.run_why.setMinimumHeight(38)
        self.run_why.hide()
        self.run_why.clicked.connect(self._say_why_run_is_off)
        self.jobs_panel = JobsPanel(
            self.jobs,
            self.controller.describe_job,
            speak=self.controller.speak_job,
            resumable=self.recovery.can_resume,
            fetchable=self.recovery.can_fetch,
            shown_elsewhere=self.controller.in_batch,
        )
        self.presets_bar = PresetBar(self.wb, svc.presets)
        self.compare_button = QPushButton("Compare providers…")
        self.compare_button.setToolTip(
            "Send this edit to several providers at once and compare the results (Ctrl+Shift+P)"
        )
        self.compare_button.setAccessibleName("Compare providers")
        self.sweep_button = QPushButton("Sweep…")
        self.sweep_button.setToolTip(
            "Run this edit over several steps, guidance and seed values (Ctrl+Shift+G)"
        )
        self.sweep_button.setAccessibleName("Sweep")
        self.prompt_mode = PromptMode(self.wb, self.prompt, self)  # made last: Tab order settles after it
        group_row = QHBoxLayout()
        group_row.setSpacing(6)
        group_row.addWidget(self.compare_button, 1)
        group_row.addWidget(self.sweep_button)

        # The right column: prompt, the controls (they scroll when the screen is short), then the price,
        # Run and the group launchers, always in view, and the jobs. Nothing in it depends on the provider
        # for its width, and nothing above Run changes height with the provider: Run never moves.
        right = QWidget()
        right.setObjectName("rightpanel")
        rl = QVBoxLayout(right)
        rl.setContentsMargins(8, 6, 8, 6)
        rl.setSpacing(6)
        prompt_label = QLabel("Prompt")
        prompt_label.setFont(theme.bold(prompt_label.font()))
        prompt_label.setBuddy(self.prompt)
        head = QHBoxLayout()  # "Prompt" and the presets share a line: the jobs list keeps its room
        head.setSpacing(4)
        head.addWidget(prompt_label)
        head.addWidget(self.prompt_mode.switch)
        head.addWidget(self.presets_bar, 1)
        rl.addLayout(head)
        rl.addWidget(self.prompt, 1)
        rl.addWidget(self.prompt_mode.row)  # JSON mode: the check's sentence and the template
        self.controls_scroll = FitScrollArea(self.controls)
        self.controls_scroll.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # not a Tab stop: it follows the focus
        rl.addWidget(self.controls_scroll)
        rl.addWidget(self.cost)
        run_row = QHBoxLayout()
        run_row.setSpacing(6)
        run_row.addWidget(self.run_button, 1)
        run_row.addWidget(self.run_why)
        rl.addLayout(run_row)
        rl.addLayout(group_row)
        rl.addWidget(self.jobs_panel, 2)  # room to spare goes to the jobs, then to the prompt
        self.right_panel = right

        self.top_split = QSplitter(Qt.Orientation.Horizontal)
        self.top_split.setObjectName("top_split")
        self.top_split.addWidget(self.tray)
        self.top_split.addWidget(self.compare)
        self.top_split.setStretchFactor(1, 1)
        self.top_split.setSizes([250, 620])
        self.left_split = QSplitter(Qt.Orientation.Vertical)
        self.left_split.setObjectName("left_split")
        self.left_split.addWidget(self.top_split)
        self.left_split.addWidget(self.history)
        self.left_split.setStretchFactor(0, 1)
        self.left_split.setCollapsible(0, False)
        self.main_split = QSplitter(Qt.Orientation.Horizontal)
        self.main_split.setObjectName("main_split")
        left = QWidget()  # the message row over the pictures and the history, never over the controls
        ll = QVBoxLayout(left)
        ll.setContentsMargins(0, 0, 0, 0)
        ll.setSpacing(0)
        ll.addWidget(MessageRow(self.banner))
        ll.addWidget(self.left_split, 1)
        self.main_split.addWidget(left)
        self.main_split.addWidget(right)
        self.main_split.setStretchFactor(0, 3)  # a wider window widens the right column too (a quarter
        self.main_split.setStretchFactor(1, 1)  # of the gain): the price note and the job labels read whole
        self.main_split.setCollapsible(1, False)
        self.main_split.setSizes([870, 400])

        central = QWidget()
        cl = QVBoxLayout(central)
        cl.setContentsMargins(6, 4, 6, 0)
        cl.setSpacing(4)
        cl.addWidget(self.main_split, 1)
        self.setCentralWidget(central)
        self.resize(self._first_size())

    def _first_size(self) -> QSize:
        """1280×800, or the screen's available area when it is smaller."""
        screen = self.screen().availableGeometry() if self.screen() is not None else None
        if screen is None or screen.isEmpty():
            return QSize(1280, 800)
        return QSize(min(1280, screen.width()), min(800, screen.height()))

    def _status_bar(self) -> None:
        sb = self.statusBar()
        # Both change at each job event of a batch: pinned, so a new text does not relayout the window.
        self.spend_label = SteadyLabel()
        self.active_label = SteadyLabel("No jobs running", widest="999 jobs running")
        self.key_label = QLabel()
        for w in (self.spend_label, self.active_label, self.key_label):
            w.setContentsMargins(8, 0, 8, 0)
            sb.addPermanentWidget(w)
        self._update_key_label()

    # ------------------------------------------------------------------ after the first paint
    def after_first_paint(self, *, resume: bool = True) -> None:
        """Work that must not delay the first paint: thumbnails, the history's first page, presets, keys
        (keyring), resuming jobs."""
        if self._ready:
            return
        self._ready = True
        self.setWindowIcon(theme.app_icon())  # an SVG: its image plugin loads after the first paint
        self.thumbs.start()
        self.history_model.load()
        self.presets_bar.reload()
        self.prompt.setFocus(Qt.FocusReason.OtherFocusReason)  # the first thing a designer does is type
        self._update_run_button()
        self.tasks.spawn(
            self.controller.load_key_status(first_run=True), what="Reading the API keys", quiet=True
        )
        if resume:
            self.recovery.start()  # now, every few minutes, and when a request succeeds again

    def showEvent(self, event: Any) -> None:
        super().showEvent(event)
        if not self._ready and self.setup_on_show:
            QTimer.singleShot(0, self.after_first_paint)

    def _recovered(self, touched: int, succeeded: int) -> None:
        waiting = touched - succeeded
        more = f"; {waiting} still waiting — FlexStudio tries again in a few minutes" if waiting else ""
        self.statusBar().showMessage(f"Fetched {succeeded} of {plural(touched, 'waiting job')}{more}.", 8000)
        self.refresh_spend()

    def show_key_status(self, status: dict[str, str | None]) -> None:
        self.controls.set_key_status(status)
        self._update_key_label()

    # ------------------------------------------------------------------ readouts
    def _update_run_button(self) -> None:
        reason, unsendable = self._run_refusal()
        self.cost.set_blocker(reason, unsendable=unsendable)  # the provider's limits: no price, on Run too
        q = self.cost.quote if self.cost.quote is not None else self.wb.quote()
        price = "" if self.cost.unsendable else theme.money(q.usd, approximate=q.approximate)
        self.run_button.setText(f"Run  ·  {price}" if price else "Run")
        self.run_button.setAccessibleName(f"Run, {price}" if price else "Run")
        self.run_button.setEnabled(not reason)
        self.run_button.setToolTip(
            f"Run can't start: {reason}"
            if reason
            else f"Run on {self.wb.info.display_name} (Ctrl+Enter). Several jobs can run "
            "at once; Esc cancels the latest."
        )
        self.run_button.setAccessibleDescription(reason or "")
        self.run_why.setToolTip(f"Run can't start: {reason}" if reason else "")
        self.run_why.setAccessibleDescription(reason or "")
        if not reason and self.run_why.hasFocus():
            self.run_button.setFocus(Qt.FocusReason.OtherFocusReason)  # Run itself takes the focus back
        self.run_why.setVisible(bool(reason))

    def _say_why_run_is_off(self) -> None:
        reason = self.run_blocker()
        if reason:
            self.controller.say_why_run_is_off(reason)

    def run_blocker(self) -> str:
        """Why this edit can't run on the chosen provider ("" when it can)."""
        return self._run_refusal()[0]

    def _run_refusal(self) -> tuple[str, bool]:
        """(why this edit can't run, whether the provider's limits refuse it whatever the prompt says):
        a JSON prompt that does not parse, then the request checked as the runner will check it (after
        the first paint: the runner is made on first use)."""
        json_blocker = self.wb.run_blocker()
        if json_blocker:
            return json_blocker, False
        if not self._ready:
            return "", False
        return self.wb.send_refusal(self.services.runner)

    def _provider_changed(self) -> None:
        """A banner about the Sandbox goes once another provider is chosen."""
        if self.wb.info.id != "sandbox" and self.banner.message().startswith("You are on the Sandbox"):
            self.banner.dismiss()

    def _update_key_label(self) -> None:
        info = self.wb.info
        if not info.needs_key:
            text = f"{info.label}: no key needed"
        elif info.id in self.controller.key_status:
            src = self.controller.key_status[info.id]
            text = f"{info.label}: {KEY_WORDS.get(src, 'no key')}" + ("" if src else " — Settings → Keys")
        else:
            text = f"{info.label}: checking the key…"
        self.key_label.setText(text)

    def refresh_spend_soon(self) -> None:
        """The spend readouts once for every job finished in the next moment (a batch ends 200 of them)."""
        if not self._spend_timer.isActive():
            self._spend_timer.start()

    def refresh_spend(self) -> None:
        self._show_spend()
        self.wb.invalidate_spend()
        self.cost.refresh()
        self._update_run_button()  # a spending limit reached holds Run

    def _show_spend(self) -> None:
        st = self.services.guard.status()
        caps = self.services.settings.caps
        self.spend_label.setText(spend_text(st, caps))
        self.cost.show_spend(st, caps)

    def _prompt_history(self) -> list[str]:
        """Earlier prompts, newest first, without repeats (for Alt+Up / Alt+Down)."""
        seen: dict[str, None] = {}
        for rec in self.services.history.list(limit=400):
            text = rec.request.prompt.strip()
            if text and text not in seen:
                seen[text] = None
        return list(seen)

    def _importing(self, busy: bool) -> None:
        if busy:
            self.statusBar().showMessage("Reading the images…")
        else:
            self.statusBar().clearMessage()

    def _active_changed(self, n: int) -> None:
        self.active_label.setText("No jobs running" if n == 0 else f"{n} job{'s' if n > 1 else ''} running")

    def set_history_visible(self, on: bool) -> None:
        self.history.setVisible(on)

    # ------------------------------------------------------------------ the controller's view (WindowView)
    def show_message(self, level: str, text: str, *, only_if_idle: bool = False, **kw: Any) -> None:
        """A sentence in the message bar; ``only_if_idle`` never hides a message already showing."""
        if only_if_idle and self.banner.isVisible():
            return
        self.banner.show_message(level, text, **kw)

    def dismiss_message(self, *, only_errors: bool = False) -> None:
        if not only_errors or self.banner.level == "error":
            self.banner.dismiss()

    def status(self, text: str, ms: int = 0) -> None:
        self.statusBar().showMessage(text, ms)

    def job_started(self, rec: JobRecord) -> None:
        self.prompt.reload_history()

    def show_billed(self, rec: JobRecord) -> None:
        reg = self.services.registry
        label = reg.get(rec.request.provider).label if rec.request.provider in reg else rec.request.provider
        self.cost.show_billed(rec.id, rec.billed_usd, rec.quote_usd, rec.state, rec.message, provider=label)

    def mark_cancel_requested(self, job_id: str, text: str) -> None:
        self.jobs_panel.mark_cancel_requested(job_id, text)

    def show_pair(self, before: Picture | None, after: Picture | None) -> None:
        self.compare.show_pair(before, after)

    def selected_job(self) -> JobRecord | None:
        return self.history.current()

    def selected_jobs(self) -> list[JobRecord]:
        return self.history.selected()

    def select_in_history(self, job_id: str) -> None:
        self.history.select_job(job_id)

    def reload_presets(self) -> None:
        self.presets_bar.reload()

    def apply_preset_named(self, name: str) -> bool:
        return self.presets_bar.apply(name)

    def ask_open_files(
        self, title: str, filter: str, then: Callable[[list[str]], None], *, many: bool = True
    ) -> QFileDialog:
        """Open the file dialog and return at once (a screen reader's "press" on Add must not wait for the
        dialog to close); ``then(paths)`` runs when files are chosen."""
        from PySide6.QtWidgets import QFileDialog

        dlg = QFileDialog(self, title, "", filter)
        dlg.setFileMode(QFileDialog.FileMode.ExistingFiles if many else QFileDialog.FileMode.ExistingFile)
        dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)

        def chosen(files: list[str]) -> None:
            if files:
                then([str(f) for f in files])

        dlg.filesSelected.connect(chosen)
        dlg.open()
        return dlg

    def ask_open_file(self, title: str, filter: str, then: Callable[[str], None]) -> QFileDialog:
        return self.ask_open_files(title, filter, lambda files: then(files[0]), many=False)

    def dialog_parent(self) -> QWidget:
        return self

    def bring_to_front(self) -> None:
        self.raise_()
        self.activateWindow()

    # ------------------------------------------------------------------ the window's own dialogs
    def show_shortcuts(self) -> None:
        from ..dialogs.shortcuts_dialog import ShortcutSheet

        sheet = ShortcutSheet(self.actions_.groups, self)
        sheet.show()
        self._sheet = sheet

    def about(self) -> None:
        from PySide6.QtWidgets import QMessageBox

        box = QMessageBox(
            QMessageBox.Icon.Information,
            "About FlexStudio",
            "FlexStudio edits images with Black Forest Labs' FLUX.2 [flex] through the clouds "
            "that sell it, or offline with the built-in sandbox simulator.",
            parent=self,
        )
        box.setIconPixmap(self.windowIcon().pixmap(64, 64))
        box.setModal(False)
        box.show()

    # ------------------------------------------------------------------ drops on the whole window
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if mime_has_images(event.mimeData()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event: Any) -> None:
        self.dragEnterEvent(event)

    def dropEvent(self, event: QDropEvent) -> None:
        if mime_has_images(event.mimeData()):
            event.acceptProposedAction()
            self.importer.import_mime(event.mimeData(), check_recipe=True)

    # ------------------------------------------------------------------ geometry and shutdown
    def _restore_geometry(self) -> None:
        ui = self.services.settings.ui
        try:
            if ui.get("geometry"):
                self.restoreGeometry(QByteArray.fromBase64(ui["geometry"].encode()))
            for split in (self.top_split, self.left_split, self.main_split):
                state = ui.get(f"splitter.{split.objectName()}")
                if state:
                    split.restoreState(QByteArray.fromBase64(state.encode()))
            if ui.get("compare_mode"):
                self.compare.set_mode(ui["compare_mode"])
            if ui.get("history_visible") is False:
                self.actions_["show_history"].setChecked(False)
                self.set_history_visible(False)
        except Exception:  # a damaged value only costs the layout
            log.warning("could not restore the window layout", exc_info=True)

    def save_state(self) -> None:
        ui = self.services.settings.ui
        ui["geometry"] = bytes(self.saveGeometry().toBase64().data()).decode()
        for split in (self.top_split, self.left_split, self.main_split):
            ui[f"splitter.{split.objectName()}"] = bytes(split.saveState().toBase64().data()).decode()
        ui["compare_mode"] = self.compare.mode
        ui["history_visible"] = self.actions_["show_history"].isChecked()
        self.wb.remember()
        try:
            self.services.save_settings()
        except OSError as exc:
            log.warning("could not save the settings: %s", exc)

    def closeEvent(self, event: QCloseEvent) -> None:
        self.save_state()
        self.recovery.stop()
        self._spend_timer.stop()
        self.tasks.cancel_all()
        self.thumbs.close()
        self.jobs.close()
        self.history_model.close()
        super().closeEvent(event)
        self.closed.emit()

    async def shutdown(self) -> None:
        """Stop the window's own work (jobs keep their state and resume next time)."""
        await self.tasks.drain()
