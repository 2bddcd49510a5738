"""How the window's parts are connected: signals to the controller's and the window's steps, and the Tab
order, which follows the screen. Called once by ``MainWindow`` after its widgets are built."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from ..models.describe import plural
from ..widgets import a11y

if TYPE_CHECKING:
    from PySide6.QtWidgets import QPushButton, QStatusBar

    from ..models.history_model import HistoryModel
    from ..models.importer import ReferenceImporter
    from ..models.jobs_model import JobsModel
    from ..models.recovery_model import RecoveryModel
    from ..models.tasks import TaskRunner
    from ..models.workbench import Workbench
    from ..widgets.banner import MessageBar
    from ..widgets.before_after import CompareView
    from ..widgets.controls import ControlsPanel
    from ..widgets.history_panel import HistoryPanel
    from ..widgets.jobs_panel import JobsPanel
    from ..widgets.preset_bar import PresetBar
    from ..widgets.prompt import PromptEdit
    from ..widgets.prompt_mode import PromptMode
    from ..widgets.tray import ReferenceTray
    from .controller import WindowController


class Wired(Protocol):
    """The window whose parts are connected (``MainWindow``)."""

    wb: Workbench
    controller: WindowController
    tasks: TaskRunner
    importer: ReferenceImporter
    jobs: JobsModel
    recovery: RecoveryModel
    history_model: HistoryModel
    banner: MessageBar
    tray: ReferenceTray
    compare: CompareView
    history: HistoryPanel
    prompt: PromptEdit
    prompt_mode: PromptMode
    presets_bar: PresetBar
    controls: ControlsPanel
    run_button: QPushButton
    run_why: QPushButton
    compare_button: QPushButton
    sweep_button: QPushButton
    jobs_panel: JobsPanel
    _import_message: str

    def statusBar(self) -> QStatusBar: ...
    def show_message(self, level: str, text: str, *, only_if_idle: bool = False, **kw: Any) -> None: ...
    def _importing(self, busy: bool) -> None: ...
    def _update_run_button(self) -> None: ...
    def _update_key_label(self) -> None: ...
    def _provider_changed(self) -> None: ...
    def _active_changed(self, n: int) -> None: ...
    def _recovered(self, touched: int, succeeded: int) -> None: ...


def wire(w: Wired) -> None:
    """Connect the widgets, the view-models and the controller (the window's signals to its steps)."""
    wb, ctl = w.wb, w.controller
    w.tasks.failed.connect(lambda text: w.show_message("error", text))
    w.importer.message.connect(w.show_message)
    w.importer.message.connect(lambda _level, text: setattr(w, "_import_message", text))
    # "1 image left out…" is about references that are gone once the tray is cleared
    wb.referencesChanged.connect(
        lambda: (
            None
            if wb.references or not w._import_message or w.banner.message() != w._import_message
            else w.banner.dismiss()
        )
    )
    w.importer.busyChanged.connect(w._importing)
    w.importer.recipeFound.connect(ctl.offer_recipe)
    w.presets_bar.saveRequested.connect(ctl.save_preset)
    w.presets_bar.manageRequested.connect(ctl.manage_presets)
    w.presets_bar.applied.connect(
        lambda name: w.statusBar().showMessage(f"Applied the preset “{name}”.", 4000)
    )
    w.compare_button.clicked.connect(ctl.groups.compare_providers)
    w.sweep_button.clicked.connect(ctl.groups.open_sweep)
    w.jobs.jobChanged.connect(ctl.groups.on_event)
    w.prompt.edited.connect(wb.set_prompt)
    w.prompt.imagesPasted.connect(w.importer.import_mime)
    w.prompt.highlighter.gone = wb.gone_mentions
    wb.goneChanged.connect(w.prompt.highlighter.rehighlight)
    wb.promptSet.connect(w.prompt.set_text)
    wb.referencesChanged.connect(lambda: w.prompt.set_reference_count(len(wb.references)))
    wb.changed.connect(w._update_run_button)
    wb.providerChanged.connect(w._update_key_label)
    wb.beforeChanged.connect(ctl.before_changed)
    wb.beforeChanged.connect(ctl.references_changed)
    wb.referencesChanged.connect(ctl.references_changed)
    wb.providerChanged.connect(w._provider_changed)
    w.run_button.clicked.connect(ctl.run)
    w.tray.addRequested.connect(ctl.add_files)
    w.tray.replaceRequested.connect(ctl.replace_reference)
    w.tray.revealRequested.connect(ctl.reveal_reference)
    w.jobs.jobStateChanged.connect(lambda ev: w.history_model.upsert_soon(ev.job_id))
    w.jobs.jobFinished.connect(ctl.job_finished)
    w.jobs.activeCountChanged.connect(w._active_changed)
    w.jobs_panel.cancelRequested.connect(ctl.cancel_job)
    w.jobs_panel.activated.connect(ctl.show_job_id)
    w.jobs_panel.retryRequested.connect(w.recovery.try_again)
    w.jobs_panel.giveUpRequested.connect(w.recovery.give_up)
    w.history.retryRequested.connect(lambda rec: w.recovery.try_again(rec.id))
    w.history.giveUpRequested.connect(lambda rec: w.recovery.give_up(rec.id))
    w.recovery.roundStarted.connect(
        lambda n: w.statusBar().showMessage(
            f"Fetching {plural(n, 'job')} still waiting for their provider…", 8000
        )
    )
    w.recovery.roundFinished.connect(w._recovered)
    w.history.activated.connect(ctl.history_clicked)
    w.history.restoreRequested.connect(ctl.restore_job)
    w.history.rerunRequested.connect(ctl.rerun_job)
    w.history.useRequested.connect(ctl.use_job_output)
    w.history.compareRequested.connect(ctl.start_compare_with)
    w.history.exportRequested.connect(ctl.export_job)
    w.history.deleteRequested.connect(ctl.delete_jobs)
    w.history.lineageRequested.connect(ctl.show_lineage)
    w.history.groupRequested.connect(ctl.groups.open_group_of)
    w.compare.compareWithRequested.connect(ctl.compare_with_shown)
    w._update_run_button()
    tab_order(w)


def tab_order(w: Wired) -> None:
    """Tab follows the screen: banner, tray, compare, history, presets, prompt, provider, steps,
    guidance, seed, size, format, Run, then the group launchers and the jobs."""
    c = w.controls
    cmp = w.compare
    a11y.chain(
        [
            w.banner.details,
            w.banner.action,
            w.banner.close_button,
            w.tray.view,
            w.tray.add_button,
            w.tray.remove_button,
            *cmp.mode_buttons.values(),
            cmp.threshold,
            cmp.fit_button,
            cmp.actual_button,
            cmp.swap_button,
            cmp.compare_button,
            cmp.canvas,
            w.history.search,
            w.history.provider,
            w.history.status,
            w.history.kind,
            w.history.favourites,
            w.history.view,
            w.prompt_mode.switch,
            w.presets_bar.combo,
            w.presets_bar.save_button,
            w.presets_bar.manage_button,
            w.prompt,
            w.prompt_mode.template_button,
            # a slider row hands its focus to its field (a focus proxy): Qt 6 stops at the row itself, so
            # the row is placed here too, or Tab could come back to it from wherever the row was left
            c.provider,
            c.steps,
            c.steps.slider,
            c.steps.field,
            c.guidance,
            c.guidance.slider,
            c.guidance.field,
            c.seed,
            c.dice,
            c.lock,
            c.seed_policy,
            c.size_choice,
            c.width_box,
            c.height_box,
            c.format,
            c.safety,
            c.upsampling,
            w.run_button,
            w.run_why,
            w.compare_button,
            w.sweep_button,
            w.jobs_panel.clear_button,
        ]
    )
