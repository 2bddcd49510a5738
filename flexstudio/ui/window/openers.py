"""The window's own dialogs opened from the controller: settings, presets (save, manage, apply) and a
job's lineage. A part of ``WindowController`` (``controller.py``); each dialog is imported when opened."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

    from ...services import Services
    from ...storage.history import JobRecord
    from ...storage.presets import Preset
    from ..models.workbench import Workbench
    from .groups import GroupsController
    from .view import WindowView


class DialogOpeners:
    """Settings, presets and lineage (mixed into ``WindowController``)."""

    services: Services
    view: WindowView
    wb: Workbench
    shown_job: JobRecord | None
    key_status: dict[str, str | None]
    groups: GroupsController
    settings_dialog: Any
    preset_dialog: Any
    preset_manager: Any
    lineage_dialog: Any

    # the controller's own steps these dialogs report to
    set_key_status: Callable[[dict[str, str | None]], None]
    show_picked: Callable[[JobRecord], None]
    restore_job: Callable[[JobRecord], None]

    # ------------------------------------------------------------------ settings
    def open_settings(self) -> None:
        from ..dialogs.settings_dialog import SettingsDialog

        dlg = self.settings_dialog
        if dlg is None:
            dlg = SettingsDialog(self.services, self.view.tasks, self.view.dialog_parent())
            dlg.keysChanged.connect(self.set_key_status)
            dlg.capsChanged.connect(self.view.refresh_spend)
            dlg.providersChanged.connect(lambda: self.view.show_key_status(self.key_status))
            dlg.finished.connect(lambda _r: setattr(self, "settings_dialog", None))
            self.settings_dialog = dlg
        dlg.show()
        dlg.raise_()
        dlg.activateWindow()

    # ------------------------------------------------------------------ presets
    def save_preset(self) -> Any:
        from ..dialogs.presets_dialog import SavePresetDialog

        dlg = SavePresetDialog(self.wb, self.services.presets, self.view.dialog_parent())
        dlg.saved.connect(self._preset_saved)
        dlg.open()
        self.preset_dialog = dlg
        return dlg

    def _preset_saved(self, preset: Preset) -> None:
        self.view.reload_presets()
        self.view.status(f"Saved the preset “{preset.name}”.", 5000)

    def manage_presets(self) -> Any:
        from ..dialogs.presets_dialog import PresetManager

        dlg = PresetManager(self.services.presets, self.view.dialog_parent())
        dlg.applyRequested.connect(self.apply_preset)
        dlg.batchRequested.connect(lambda name: self.groups.open_batch(preset=name))
        dlg.changed.connect(lambda _name: self.view.reload_presets())
        dlg.show()
        self.preset_manager = dlg
        return dlg

    def apply_preset(self, name: str) -> bool:
        if not self.view.apply_preset_named(name):
            self.view.show_message("warning", f"There is no preset named “{name}” any more.")
            return False
        self.view.status(f"Applied the preset “{name}”.", 4000)
        return True

    # ------------------------------------------------------------------ lineage
    def show_lineage(self, rec: JobRecord | None = None) -> Any:
        from ..dialogs.lineage_dialog import LineageDialog

        rec = rec or self.view.selected_job() or self.shown_job
        if rec is None:
            self.view.show_message("info", "Pick a job in the history first, then “Lineage”.")
            return None
        dlg = LineageDialog(
            self.services.history,
            rec.id,
            self.view.history_model.label,
            self.view.dialog_parent(),
            thumbs=self.view.history_model.thumbs,
        )
        dlg.showRequested.connect(self.show_picked)
        dlg.restoreRequested.connect(self.restore_job)
        dlg.show()
        self.lineage_dialog = dlg
        return dlg
