"""What the window's menus, buttons and keys do: run, cancel, show, compare, export, history actions.
A mixin of ``MainWindow`` (it uses the window's models and widgets). Jobs are only ever made with
``runner.create`` + ``runner.start``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QUrl
from PySide6.QtGui import QDesktopServices, QGuiApplication
from PySide6.QtWidgets import QFileDialog, QMessageBox

from ...core.errors import BadInput, SpendCapExceeded
from ..models.aio import asyncio
from ..widgets import theme
from ..widgets.before_after import Picture

if TYPE_CHECKING:
    from ...core.request import EditRequest
    from ...jobs.events import JobEvent
    from ...storage.history import JobRecord
    from .main_window import MainWindow

IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.webp *.tif *.tiff *.gif *.bmp *.avif *.heic *.heif);;All files (*)"


class Commands:
    # ------------------------------------------------------------------ run and cancel
    def run(self: MainWindow) -> None:
        self.follow_latest = True
        self.tasks.spawn(self.start_job(self.wb.request, self.wb.parent_job_id(), from_controls=True),
                         what="Starting the job")

    async def start_job(self: MainWindow, request: EditRequest, parent: str | None, *,
                        from_controls: bool = False) -> JobRecord | None:
        svc = self.services
        info = svc.registry.get(request.provider)
        if info.needs_key:
            source = await asyncio.to_thread(svc.key_source, info)
            if source is None:
                where = f" (or set {info.env_var})" if info.env_var else ""
                self.show_message("error", f"{info.label} needs an API key — add it in Settings → Keys{where}. "
                                  "Nothing was sent.", action="Open Settings", callback=self.open_settings)
                return None
        try:
            rec = svc.runner.create(request, parent_job_id=parent)
        except (BadInput, SpendCapExceeded) as exc:
            self.show_message("error", str(exc))
            return None
        warnings = svc.guard.last_warnings
        if warnings:
            self.show_message("warning", " ".join(warnings))
        elif self.banner.level == "error":
            self.banner.dismiss()
        if from_controls:
            self.wb.after_run(rec.request.seed)
        self._started.append(rec.id)
        self.prompt.reload_history()
        svc.runner.start(rec.id)
        self.statusBar().showMessage(f"Job {rec.id} started on {info.display_name}.", 4000)
        self.refresh_spend()
        return rec

    def cancel_job(self: MainWindow, job_id: str) -> None:
        svc = self.services
        try:
            rec = svc.history.get(job_id)
        except KeyError:
            return
        if not svc.runner.cancel(job_id):
            self.statusBar().showMessage(f"Job {job_id} cannot be cancelled from here (it is not running).", 5000)
            return
        info = svc.registry.get(rec.provider) if rec.provider in svc.registry else None
        if info is not None and not info.capabilities.can_cancel and rec.state in ("running", "downloading"):
            text = f"Cancel requested — {info.label} cannot stop a job once sent, so it may still be billed."
        elif info is not None and rec.state in ("running", "downloading"):
            text = "Cancel requested — the provider may still bill the time already used."
        else:
            text = "Cancel requested."
        self.jobs_panel.mark_cancel_requested(job_id, text)
        self.statusBar().showMessage(f"Job {job_id}: {text}", 6000)

    def cancel_latest(self: MainWindow) -> None:
        if self._pick_first is not None:
            self._pick_first = None
            self.banner.dismiss()
            return
        running = [j for j in self.jobs.active_ids() if j in self.services.runner.active()]
        if not running:
            self.statusBar().showMessage("No job is running.", 3000)
            return
        self.cancel_job(running[-1])

    def cancel_all(self: MainWindow) -> None:
        for job_id in list(self.services.runner.active()):
            self.cancel_job(job_id)

    def _job_finished(self: MainWindow, ev: JobEvent) -> None:
        self.refresh_spend()
        try:
            rec = self.services.history.get(ev.job_id)
        except KeyError:
            return
        if ev.job_id in self._started:
            self.cost.show_billed(rec.id, rec.billed_usd, rec.quote_usd, rec.state, rec.message)
        # A result started from this window shows up, unless the user has since picked another image.
        if rec.state == "succeeded" and rec.outputs and self.follow_latest and ev.job_id in self._started:
            self.show_job(rec)
            self.history.select_job(rec.id)

    def _describe_job(self: MainWindow, job_id: str) -> tuple[str, str]:
        try:
            rec = self.services.history.get(job_id)
        except KeyError:
            return f"Job {job_id}", ""
        label = self.history_model.label(rec.provider)
        money = rec.billed_usd if rec.billed_usd is not None else rec.quote_usd
        extra = ""
        if rec.state == "succeeded" and rec.latency_s is not None:
            extra = f"{rec.latency_s:.1f} s"
        price = theme.money(money) if money is not None else ""
        return f"{label} · {price} · job {rec.id}" if price else f"{label} · job {rec.id}", extra

    # ------------------------------------------------------------------ showing and comparing
    def show_job_id(self: MainWindow, job_id: str) -> None:
        try:
            self.show_job(self.services.history.get(job_id))
        except KeyError:
            pass

    def _history_clicked(self: MainWindow, rec: JobRecord) -> None:
        if self._pick_first is not None:
            first, self._pick_first = self._pick_first, None
            self.banner.dismiss()
            self.compare_jobs(first, rec)
            return
        self.follow_latest = False
        self.show_job(rec)

    def show_job(self: MainWindow, rec: JobRecord) -> None:
        if not rec.outputs:
            self.statusBar().showMessage(f"Job {rec.id} has no image ({rec.state}).", 4000)
            return
        out = rec.outputs[0]
        after = Picture(out.sha256, f"After · job {rec.id}", max(out.width, out.height), original=True)
        self.shown_job = rec
        self.compare.show_pair(self._before_for(rec), after)

    def _before_for(self: MainWindow, rec: JobRecord) -> Picture | None:
        refs = [r for r in rec.request.references if self.services.blobs.has(r.sha256)]
        if not refs:
            return None
        pick = next((i for i, r in enumerate(rec.request.references) if r.sha256 == self.wb.before_sha), None)
        index = pick if pick is not None else 0
        ref = rec.request.references[index]
        if not self.services.blobs.has(ref.sha256):
            ref, index = refs[0], rec.request.references.index(refs[0])
        max_px = self.services.registry.get(rec.provider).capabilities.max_pixels \
            if rec.provider in self.services.registry else 4 * 1048576
        return Picture(ref.sha256, f"Before · image {index + 1}", max(ref.sent_size(max_px)))

    def _before_changed(self: MainWindow) -> None:
        if self.shown_job is not None:
            self.show_job(self.shown_job)

    def compare_jobs(self: MainWindow, a: JobRecord, b: JobRecord) -> None:
        if not (a.outputs and b.outputs):
            self.show_message("warning", "Both jobs need an image to be compared.")
            return
        oa, ob = a.outputs[0], b.outputs[0]
        self.follow_latest = False
        self.compare.show_pair(Picture(oa.sha256, f"Job {a.id}", max(oa.width, oa.height), original=True),
                               Picture(ob.sha256, f"Job {b.id}", max(ob.width, ob.height), original=True))

    def start_compare_with(self: MainWindow, rec: JobRecord) -> None:
        if not rec.outputs:
            return
        self._pick_first = rec
        self.show_message("info", f"Compare with…: click another image in the history to compare it with "
                          f"job {rec.id} (Esc stops).", action="Stop", callback=self._stop_pick)

    def _stop_pick(self: MainWindow) -> None:
        self._pick_first = None

    def compare_with_shown(self: MainWindow) -> None:
        rec = self.shown_job or self.history.current()
        if rec is None:
            self.show_message("info", "Pick an image in the history first, then “Compare with…”.")
            return
        self.start_compare_with(rec)

    # ------------------------------------------------------------------ references
    def add_files(self: MainWindow) -> None:
        files, _ = QFileDialog.getOpenFileNames(self, "Add reference images", "", IMAGE_FILTER)
        if files:
            self.importer.import_paths(files)

    def replace_reference(self: MainWindow, row: int) -> None:
        file, _ = QFileDialog.getOpenFileName(self, f"Replace image {row + 1}", "", IMAGE_FILTER)
        if file:
            self.importer.import_paths([file], replace_index=row)

    def reveal_reference(self: MainWindow, row: int) -> None:
        refs = self.wb.references
        if not 0 <= row < len(refs):
            return
        sha = refs[row].sha256
        path = self.importer.paths.get(sha)
        if path is None:
            try:
                path = self.services.blobs.path(sha)
            except FileNotFoundError:
                self.show_message("warning", f"image {row + 1} is no longer on disk.")
                return
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(Path(path).parent)))
        self.statusBar().showMessage(f"image {row + 1}: {path}", 8000)

    def paste_reference(self: MainWindow) -> None:
        mime = QGuiApplication.clipboard().mimeData()
        if mime is None:
            return
        self.importer.import_mime(mime, check_recipe=True)

    def use_job_output(self: MainWindow, rec: JobRecord) -> None:
        if not rec.outputs:
            return
        if not self.wb.use_result(rec, rec.outputs[0]):
            self.show_message("warning", f"The tray is full: {self.wb.info.display_name} takes at most "
                              f"{self.wb.caps.max_references} reference images.")
            return
        self.statusBar().showMessage(f"The result of job {rec.id} is now image {len(self.wb.references)}; "
                                     "the next job records it was made from it.", 6000)

    def use_shown_result(self: MainWindow) -> None:
        rec = self.shown_job or self.history.current()
        if rec is not None:
            self.use_job_output(rec)

    # ------------------------------------------------------------------ history actions
    def restore_job(self: MainWindow, rec: JobRecord) -> None:
        missing = self.wb.restore(rec.request)
        text = f"Restored every setting of job {rec.id}."
        if missing:
            self.show_message("warning", text + f" Missing from disk, left out: {', '.join(missing)}.")
        else:
            self.statusBar().showMessage(text, 5000)

    def restore_selected(self: MainWindow) -> None:
        rec = self.history.current()
        if rec is not None:
            self.restore_job(rec)

    def rerun_job(self: MainWindow, rec: JobRecord) -> None:
        self.follow_latest = True
        self.tasks.spawn(self.start_job(rec.request, rec.parent_job_id), what="Re-running the job")

    def rerun_selected(self: MainWindow) -> None:
        rec = self.history.current()
        if rec is not None:
            self.rerun_job(rec)

    def delete_jobs(self: MainWindow, job_ids: list[str]) -> None:
        self.history_model.delete(job_ids)
        self._deleted = list(job_ids)
        n = len(job_ids)
        self.show_message("info", f"Deleted {n} job{'s' if n > 1 else ''} from the history.", action="Undo",
                          callback=self.undo_delete, timeout_ms=15000)

    def undo_delete(self: MainWindow) -> None:
        if self._deleted:
            ids, self._deleted = self._deleted, []
            self.history_model.undelete(ids)
            self.banner.dismiss()
            self.statusBar().showMessage(f"Restored {len(ids)} job(s) to the history.", 4000)

    def export_current(self: MainWindow) -> None:
        rec = self.history.current() or self.shown_job
        if rec is None or not rec.outputs:
            self.show_message("info", "Pick a finished job in the history to export.")
            return
        self.export_job(rec)

    def export_job(self: MainWindow, rec: JobRecord) -> None:
        self.tasks.spawn(self._export(rec), what="Exporting the image")

    async def _export(self: MainWindow, rec: JobRecord) -> None:
        from ...storage.exports import Exported, export_image
        from ..dialogs.settings_dialog import default_export_dir

        svc = self.services
        folder = Path(svc.settings.export_dir) if svc.settings.export_dir else default_export_dir()
        out = rec.outputs[0]
        label = self.history_model.label(rec.provider)

        def work() -> Exported:
            folder.mkdir(parents=True, exist_ok=True)
            return export_image(svc.blobs.get(out.sha256), out.mime, folder, rec.request,
                                stem=f"flexstudio-{rec.id}", job_id=rec.id, provider=rec.provider,
                                provider_label=label, provider_job_id=rec.provider_job_id, seed=rec.request.seed,
                                billed_usd=rec.billed_usd, quote_usd=rec.quote_usd, size=(out.width, out.height))

        done = await asyncio.to_thread(work)
        path = done.path
        self.show_message("warning" if done.notes else "success",
                          f"Exported job {rec.id} with its settings to {path}." + "".join(f" {n}" for n in done.notes),
                          action="Show folder",
                          callback=lambda: QDesktopServices.openUrl(QUrl.fromLocalFile(str(path.parent))),
                          timeout_ms=12000)

    # ------------------------------------------------------------------ dialogs
    def open_settings(self: MainWindow) -> None:
        from ..dialogs.settings_dialog import SettingsDialog

        dlg = getattr(self, "_settings_dialog", None)
        if dlg is None:
            dlg = SettingsDialog(self.services, self.tasks, self)
            dlg.keysChanged.connect(self.set_key_status)
            dlg.capsChanged.connect(self.refresh_spend)
            dlg.providersChanged.connect(lambda: self.controls.set_key_status(self.key_status))
            dlg.finished.connect(lambda _r: setattr(self, "_settings_dialog", None))
            self._settings_dialog = dlg
        dlg.show()
        dlg.raise_()
        dlg.activateWindow()

    def show_shortcuts(self: MainWindow) -> None:
        from ..dialogs.shortcuts_dialog import ShortcutSheet

        sheet = ShortcutSheet(self.actions_.groups, self)
        sheet.show()
        self._sheet = sheet

    def about(self: MainWindow) -> None:
        box = QMessageBox(QMessageBox.Icon.Information, "About FlexStudio",
                          "FlexStudio edits images with Black Forest Labs' FLUX.2 [flex] through the clouds "
                          "that sell it, or offline with the built-in sandbox simulator.", parent=self)
        box.setIconPixmap(self.windowIcon().pixmap(64, 64))
        box.setModal(False)
        box.show()

