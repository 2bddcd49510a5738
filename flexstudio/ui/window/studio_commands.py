"""What the window does for presets, provider comparisons, sweeps, lineage and images that carry their
settings. A mixin of ``MainWindow`` beside ``Commands``. Groups of jobs are only ever made with
``runner.create_group`` (checked as a whole against the spend caps) + ``runner.start``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtWidgets import QFileDialog

from ...core.errors import BadInput, SpendCapExceeded
from ..models.aio import asyncio

if TYPE_CHECKING:
    from ...core.request import EditRequest, ImageRef
    from ...jobs.events import JobEvent
    from ...storage.history import JobRecord
    from ...storage.presets import Preset
    from ...storage.recipes import Recipe
    from ..dialogs.results_dialog import GroupResults
    from .main_window import MainWindow

SOURCES = {"flexstudio": "FlexStudio", "a1111": "A1111", "comfyui": "ComfyUI"}
IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.webp);;All files (*)"


class StudioCommands:
    # ------------------------------------------------------------------ presets
    def save_preset(self: MainWindow) -> Any:
        from ..dialogs.presets_dialog import SavePresetDialog

        dlg = SavePresetDialog(self.wb, self.services.presets, self)
        dlg.saved.connect(self._preset_saved)
        dlg.open()
        self._preset_dialog = dlg
        return dlg

    def _preset_saved(self: MainWindow, preset: Preset) -> None:
        self.presets_bar.reload()
        self.statusBar().showMessage(f"Saved the preset “{preset.name}”.", 5000)

    def manage_presets(self: MainWindow) -> Any:
        from ..dialogs.presets_dialog import PresetManager

        dlg = PresetManager(self.services.presets, self)
        dlg.applyRequested.connect(self.apply_preset)
        dlg.changed.connect(lambda _name: self.presets_bar.reload())
        dlg.show()
        self._preset_manager = dlg
        return dlg

    def apply_preset(self: MainWindow, name: str) -> bool:
        if not self.presets_bar.apply(name):
            self.show_message("warning", f"There is no preset named “{name}” any more.")
            return False
        self.statusBar().showMessage(f"Applied the preset “{name}”.", 4000)
        return True

    # ------------------------------------------------------------------ groups (comparisons, sweeps)
    def launch_group(self: MainWindow, requests: list[EditRequest], kind: str) -> str | None:
        """Queue and start a comparison or a sweep; None when launched, else the sentence saying why not
        (also shown in the message bar). Nothing is queued when anything is refused."""
        svc = self.services
        for pid in dict.fromkeys(r.provider for r in requests):
            info = svc.registry.get(pid) if pid in svc.registry else None
            if info is not None and info.needs_key and pid in self.key_status and not self.key_status[pid]:
                where = f" (or set {info.env_var})" if info.env_var else ""
                text = f"{info.label} needs an API key — add it in Settings → Keys{where}. Nothing was sent."
                self.show_message("error", text, action="Open Settings", callback=self.open_settings)
                return text
        try:
            records = svc.runner.create_group(requests, kind)
        except (BadInput, SpendCapExceeded) as exc:
            self.show_message("error", str(exc))
            return str(exc)
        warnings = svc.guard.last_warnings
        if warnings:
            self.show_message("warning", " ".join(warnings))
        elif self.banner.level == "error":
            self.banner.dismiss()
        for rec in records:
            svc.runner.start(rec.id)
        self.refresh_spend()
        word = "comparison" if kind == "comparison" else "sweep"
        self.statusBar().showMessage(f"Started a {word} of {len(records)} edits.", 5000)
        if records and records[0].group_id:
            self.open_group(records[0].group_id)
        return None

    def compare_providers(self: MainWindow) -> None:
        self.tasks.spawn(self._compare_providers(), what="Opening “Compare providers”")

    async def _compare_providers(self: MainWindow) -> Any:
        from ..dialogs.compare_providers_dialog import CompareProvidersDialog

        svc = self.services
        infos = svc.registry.all()
        status = await asyncio.to_thread(lambda: {i.id: svc.key_source(i) for i in infos})
        self.set_key_status({**self.key_status, **status})
        dlg = CompareProvidersDialog(svc, self.wb.request, status, self.launch_group, self)
        dlg.show()
        self._compare_dialog = dlg
        return dlg

    def open_sweep(self: MainWindow) -> Any:
        from ..dialogs.sweep_dialog import SweepDialog

        dlg = SweepDialog(self.services, self.wb.request, self.launch_group, self)
        dlg.show()
        self._sweep_dialog = dlg
        return dlg

    def open_group(self: MainWindow, group_id: str) -> GroupResults | None:
        from ..dialogs.results_dialog import GroupResults

        dlg = self.groups.get(group_id)
        if dlg is None:
            svc = self.services
            records = list(reversed(svc.history.list(group_id=group_id, limit=500)))  # launch order
            if not records:
                self.show_message("info", "Those jobs are no longer in the history.")
                return None
            kind = records[0].group_kind or "comparison"
            registry = svc.registry
            dlg = GroupResults(group_id, kind, records,
                               capabilities=lambda pid: registry.get(pid).capabilities if pid in registry else None,
                               label=self.history_model.label, thumbs=self.thumbs,
                               set_winner=svc.history.set_winner, reload=svc.history.get, parent=self)
            dlg.showRequested.connect(self._show_from_group)
            dlg.compareRequested.connect(self.compare_jobs)
            dlg.winnerChosen.connect(lambda _jid, d=dlg: self._winner_chosen(d))
            dlg.finished.connect(lambda _r, g=group_id: self.groups.pop(g, None))
            self.groups[group_id] = dlg
        dlg.show()
        dlg.raise_()
        return dlg

    def _show_from_group(self: MainWindow, rec: JobRecord) -> None:
        self.follow_latest = False
        self.show_job(rec)

    def _winner_chosen(self: MainWindow, dlg: GroupResults) -> None:
        for job_id in dlg.records:
            self.history_model.refresh_job(job_id)
        winner = next((r for r in dlg.records.values() if r.winner), None)
        if winner is not None:
            self.statusBar().showMessage(f"Job {winner.id} is the winner of this "
                                         f"{'comparison' if dlg.kind == 'comparison' else 'sweep'}.", 5000)

    def _group_event(self: MainWindow, ev: JobEvent) -> None:
        for dlg in list(self.groups.values()):
            dlg.on_event(ev)

    def open_group_of(self: MainWindow, rec: JobRecord) -> None:
        if rec.group_id:
            self.open_group(rec.group_id)

    # ------------------------------------------------------------------ lineage
    def show_lineage(self: MainWindow, rec: JobRecord | None = None) -> Any:
        from ..dialogs.lineage_dialog import LineageDialog

        rec = rec or self.history.current() or self.shown_job
        if rec is None:
            self.show_message("info", "Pick a job in the history first, then “Lineage”.")
            return None
        dlg = LineageDialog(self.services.history, rec.id, self.history_model.label, self)
        dlg.showRequested.connect(self._show_from_group)
        dlg.restoreRequested.connect(self.restore_job)
        dlg.show()
        self._lineage_dialog = dlg
        return dlg

    # ------------------------------------------------------------------ images that carry their settings
    def offer_recipe(self: MainWindow, recipe: Recipe, ref: ImageRef, name: str) -> None:
        """An image with a recipe was dropped or pasted: restore its settings (what a designer dropping an
        exported image wants) and offer to add it as a reference instead."""
        snap = self.wb.snapshot()
        missing = self.wb.apply_recipe(recipe)
        job = recipe.info.get("job_id") if recipe.source == "flexstudio" else None
        text = (f"Restored the settings from {name} ({SOURCES.get(recipe.source, recipe.source)} recipe"
                + (f", job {job}" if job else "") + ").")
        if recipe.source != "flexstudio":
            text += " Its prompt, steps, guidance, seed and size replace yours; the references stay."
        if missing:
            text += f" Missing from disk, left out: {', '.join(missing)}."
        self.show_message("success", text, action="Add as a reference instead",
                          callback=lambda: self._recipe_as_reference(snap, ref), timeout_ms=20000)

    def _recipe_as_reference(self: MainWindow, snap: tuple[Any, ...], ref: ImageRef) -> None:
        self.wb.restore_snapshot(snap)
        if self.importer.add_loaded(ref):
            self.statusBar().showMessage(f"Settings put back; {ref.name or 'the image'} is now image "
                                         f"{len(self.wb.references)}.", 5000)

    def restore_from_image(self: MainWindow) -> None:
        file, _ = QFileDialog.getOpenFileName(self, "Restore settings from an image", "", IMAGE_FILTER)
        if file:
            self.tasks.spawn(self.restore_from_image_file(file), what="Reading the image's settings")

    async def restore_from_image_file(self: MainWindow, path: str | Path) -> bool:
        from ...storage.recipes import read_recipe

        p = Path(path)

        def work() -> tuple[Any, Any]:
            ref = self.services.import_reference_file(p)
            return ref, read_recipe(self.services.blobs.get(ref.sha256))

        try:
            ref, recipe = await asyncio.to_thread(work)
        except BadInput as exc:
            self.show_message("error", str(exc))
            return False
        if recipe is None:
            self.show_message("info", f"{p.name} carries no settings (no FlexStudio, A1111 or ComfyUI "
                              "metadata).", action="Add it as a reference",
                              callback=lambda: self.importer.add_loaded(ref))
            return False
        self.offer_recipe(recipe, ref, p.name)
        return True
