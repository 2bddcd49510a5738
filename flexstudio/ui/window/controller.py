"""What the window does: run, cancel, show, compare, restore, references, history actions, undo. The window
builds the widgets and hands itself to the controller as a ``WindowView`` (``view.py``, a small protocol);
the controller holds no widget of its own. Work is only ever started with ``Services.start_work`` (the same
call the CLI and batches use). Comparisons and sweeps are in ``groups.py``; export and images that carry
their settings in ``metadata.py``; the settings, presets and lineage dialogs in ``openers.py``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtGui import QGuiApplication

from ...core.errors import BadInput, MissingKey, SpendCapExceeded
from ...core.job_state import JobState
from ..models import describe, mentions
from ..models.aio import asyncio
from ..models.undo import UndoList
from ..widgets import theme
from ..widgets.before_after import Picture
from .groups import GroupsController
from .metadata import MetadataActions, show_folder
from .openers import DialogOpeners

if TYPE_CHECKING:
    from ...core.request import EditRequest
    from ...jobs.events import JobEvent
    from ...services import Services, Started
    from ...storage.history import JobRecord
    from .view import WindowView

IMAGE_FILTER = (
    "Images (*.png *.jpg *.jpeg *.webp *.tif *.tiff *.gif *.bmp *.avif *.heic *.heif);;All files (*)"
)


class WindowController(DialogOpeners, MetadataActions):
    def __init__(self, services: Services, view: WindowView) -> None:
        self.services = services
        self.view = view
        self.wb = view.wb
        self.key_status: dict[str, str | None] = {}
        self.shown_job: JobRecord | None = None
        self.follow_latest = True
        self.started: list[str] = []  # jobs started from this window, oldest first
        self.deleted: list[str] = []  # the last deletion, for Undo
        self.pick_first: JobRecord | None = None  # "Compare with…" waiting for its second image
        self.settings_dialog: Any = None
        self.preset_dialog: Any = None
        self.preset_manager: Any = None
        self.lineage_dialog: Any = None
        self.groups = GroupsController(self)
        self.undo_list = UndoList()
        self.wb.undoable.connect(self._reference_step)

    # ------------------------------------------------------------------ keys
    async def load_key_status(self, first_run: bool = False) -> None:
        svc = self.services
        infos = svc.registry.all()
        status = await asyncio.to_thread(lambda: {i.id: svc.key_source(i) for i in infos})
        self.set_key_status(status)
        if not first_run:
            return
        has_any = any(status.get(i.id) for i in infos if i.needs_key)
        current = self.wb.info
        if current.needs_key and not status.get(current.id):
            self.wb.set_provider("sandbox")
        if not has_any:
            self.view.show_message(
                "info",
                "You are on the Sandbox, an offline simulator that costs nothing — "
                "everything works with it. To edit with a real cloud, add an API key in "
                "Settings → Keys.",
                action="Open Settings",
                callback=self.open_settings,
                only_if_idle=True,
            )

    def set_key_status(self, status: dict[str, str | None]) -> None:
        self.key_status = dict(status)
        self.view.show_key_status(self.key_status)

    # ------------------------------------------------------------------ starting work
    def start_work(
        self, requests: list[EditRequest], *, kind: str | None = None, parent: str | None = None
    ) -> Started | str:
        """Start work through ``Services.start_work``; the sentence saying why not when it is refused
        (also shown in the message bar, with "Open Settings" when a key is missing)."""
        svc = self.services
        try:
            started = svc.start_work(requests, kind=kind, parent_job_id=parent, key_sources=self.key_status)
        except MissingKey as exc:
            self.view.show_message("error", str(exc), action="Open Settings", callback=self.open_settings)
            return str(exc)
        except (BadInput, SpendCapExceeded) as exc:
            self.view.show_message("error", str(exc))
            return str(exc)
        if started.warnings:
            self.view.show_message("warning", " ".join(started.warnings))
        else:
            self.view.dismiss_message(only_errors=True)
        self.view.refresh_spend()
        return started

    def run(self, *, anyway: bool = False) -> None:
        blocker = self.wb.run_blocker()
        if blocker is not None:  # Ctrl+Enter while the button is disabled: say why, send nothing
            self.say_why_run_is_off(blocker, "error")
            return
        if not anyway:  # a mention that points at nothing changes what the prompt means: say so first
            count = len(self.wb.references)
            dangling = sorted({n for _s, _l, n in mentions.mentions(self.wb.prompt) if not 1 <= n <= count})
            if dangling:
                self.view.show_message(
                    "warning",
                    f"The prompt mentions {', '.join(f'image {n}' for n in dangling)} (not in the tray). "
                    "Edit the prompt (Ctrl+Z brings a removed image back), or run it as it is.",
                    action="Run anyway",
                    callback=lambda: self.run(anyway=True),
                )
                return
        self.follow_latest = True
        self.view.tasks.spawn(
            self.start_job(self.wb.request, self.wb.parent_job_id(), from_controls=True),
            what="Starting the job",
        )

    def say_why_run_is_off(self, reason: str, level: str = "warning") -> None:
        """Why Run can't start, in the message bar; a prompt naming a removed image can be run as written."""
        if self.wb.gone_mentions() and reason == self.wb.run_blocker():

            def anyway() -> None:
                self.wb.forget_gone()
                self.run(anyway=True)

            self.view.show_message(level, f"Run can't start: {reason}", action="Run anyway", callback=anyway)
        else:
            self.view.show_message(level, reason if level == "error" else f"Run can't start: {reason}")

    async def start_job(
        self, request: EditRequest, parent: str | None, *, from_controls: bool = False
    ) -> JobRecord | None:
        svc = self.services
        info = svc.registry.get(request.provider)
        source = await asyncio.to_thread(svc.key_source, info)  # the keyring is slow: off the GUI thread
        self.key_status = {**self.key_status, info.id: source}
        started = self.start_work([request], parent=parent)
        if isinstance(started, str):
            return None
        rec = started.records[0]
        self.started.append(rec.id)
        if from_controls:
            self.wb.after_run(rec.request.seed)
        self.view.job_started(rec)
        self.view.status(f"Started on {describe.job_words(info.display_name, rec.request)}.", 4000)
        return rec

    # ------------------------------------------------------------------ cancel
    def cancel_job(self, job_id: str) -> None:
        svc = self.services
        try:
            rec = svc.history.get(job_id)
        except KeyError:
            return
        if not svc.runner.cancel(job_id):
            self.view.status(
                f"“{describe.snippet(rec.request.prompt, 32)}” cannot be cancelled from here (it is not running).",
                5000,
            )
            return
        info = svc.registry.get(rec.provider) if rec.provider in svc.registry else None
        sent = rec.state in (JobState.RUNNING, JobState.DOWNLOADING)
        if info is not None and not info.capabilities.can_cancel and sent:
            text = f"Cancel requested — {info.label} cannot stop a job once sent, so it may still be billed."
        elif info is not None and sent:
            text = "Cancel requested — the provider may still bill the time already used."
        else:
            text = "Cancel requested."
        self.view.mark_cancel_requested(job_id, text)
        self.view.status(f"“{describe.snippet(rec.request.prompt, 32)}”: {text}", 6000)

    def cancel_latest(self) -> None:
        if self.pick_first is not None:
            self.pick_first = None
            self.view.dismiss_message()
            return
        running = [j for j in self.view.jobs.active_ids() if j in self.services.runner.active()]
        if not running:
            self.view.status("No job is running.", 3000)
            return
        self.cancel_job(running[-1])

    def cancel_all(self) -> None:
        for job_id in list(self.services.runner.active()):
            self.cancel_job(job_id)

    def job_finished(self, ev: JobEvent) -> None:
        self.view.refresh_spend_soon()
        try:
            rec = self.services.history.get(ev.job_id)
        except KeyError:
            return
        if ev.job_id in self.started:
            self.view.show_billed(rec)
        # A result started from this window shows up, unless the user has since picked another image.
        if (
            rec.state == JobState.SUCCEEDED
            and rec.outputs
            and self.follow_latest
            and ev.job_id in self.started
        ):
            self.show_job(rec)
            self.view.select_in_history(rec.id)

    def describe_job(self, job_id: str) -> tuple[str, str]:
        try:
            rec = self.services.history.get(job_id)
        except KeyError:
            return f"Job {job_id}", ""
        label = self.view.history_model.label(rec.provider)
        money = rec.billed_usd if rec.billed_usd is not None else rec.quote_usd
        extra = ""
        if rec.state == JobState.SUCCEEDED and rec.latency_s is not None:
            extra = f"{rec.latency_s:.1f} s"
        price = theme.money(money) if money is not None else ""
        words = f"“{describe.snippet(rec.request.prompt, 32)}”"
        return (f"{label} · {price} · {words}" if price else f"{label} · {words}"), extra

    def in_batch(self, job_id: str) -> bool:
        """The job is an input of a batch (the Batch dialog's card shows it, not a job card)."""
        try:
            return self.services.history.get(job_id).group_kind == "batch"
        except KeyError:
            return False

    def speak_job(self, job_id: str) -> str:
        """A job as a screen reader names it: its prompt and provider, not its id."""
        try:
            rec = self.services.history.get(job_id)
        except KeyError:
            return f"Job {job_id}"
        prompt = " ".join(rec.request.prompt.split())
        if len(prompt) > 80:
            prompt = prompt[:79].rstrip() + "…"
        return f"{prompt or 'No prompt'} on {self.view.history_model.label(rec.provider)}"

    # ------------------------------------------------------------------ showing and comparing
    def show_job_id(self, job_id: str) -> None:
        try:
            self.show_job(self.services.history.get(job_id))
        except KeyError:
            pass

    def history_clicked(self, rec: JobRecord) -> None:
        if self.pick_first is not None:
            first, self.pick_first = self.pick_first, None
            self.view.dismiss_message()
            self.compare_jobs(first, rec)
            return
        self.follow_latest = False
        self.show_job(rec)

    def show_picked(self, rec: JobRecord) -> None:
        """A job picked in a group's results or a lineage: show it, and stop following new results."""
        self.follow_latest = False
        self.show_job(rec)

    def show_job(self, rec: JobRecord) -> None:
        if not rec.outputs:
            self.view.status(f"Job {rec.id} has no image ({rec.state}).", 4000)
            return
        out = rec.outputs[0]
        label = self.view.history_model.label(rec.provider)
        after = Picture(
            out.sha256,
            f"After · {label}, {describe.settings_words(rec.request)}",
            max(out.width, out.height),
            original=True,
        )
        self.shown_job = rec
        self.view.show_pair(self._before_for(rec), after)

    def _before_for(self, rec: JobRecord) -> Picture | None:
        blobs = self.services.blobs
        refs = [r for r in rec.request.references if blobs.has(r.sha256)]
        if not refs:
            return None
        pick = next((i for i, r in enumerate(rec.request.references) if r.sha256 == self.wb.before_sha), None)
        index = pick if pick is not None else 0
        ref = rec.request.references[index]
        if not blobs.has(ref.sha256):
            ref, index = refs[0], rec.request.references.index(refs[0])
        registry = self.services.registry
        max_px = (
            registry.get(rec.provider).capabilities.max_pixels if rec.provider in registry else 4 * 1048576
        )
        return Picture(ref.sha256, f"Before · image {index + 1}", max(ref.sent_size(max_px)))

    def before_changed(self) -> None:
        if self.shown_job is not None:
            self.show_job(self.shown_job)

    def references_changed(self) -> None:
        """Before the first result, the canvas shows image 1 as soon as it is in the tray."""
        if self.shown_job is not None:
            return
        ref = self.wb.before_reference()
        if ref is None:
            self.view.show_pair(None, None)
            return
        index = self.wb.references.index(ref)
        side = max(ref.sent_size(self.wb.caps.max_pixels))
        self.view.show_pair(
            Picture(ref.sha256, f"image {index + 1}", side),
            Picture(ref.sha256, "no result yet — Run (Ctrl+Enter)", side),
        )

    def compare_jobs(self, a: JobRecord, b: JobRecord) -> None:
        if not (a.outputs and b.outputs):
            self.view.show_message("warning", "Both jobs need an image to be compared.")
            return
        oa, ob = a.outputs[0], b.outputs[0]
        self.follow_latest = False

        def words(rec: JobRecord) -> str:
            return f"{self.view.history_model.label(rec.provider)} · {describe.settings_words(rec.request)}"

        self.view.show_pair(
            Picture(oa.sha256, words(a), max(oa.width, oa.height), original=True),
            Picture(ob.sha256, words(b), max(ob.width, ob.height), original=True),
        )
        self.view.bring_to_front()  # asked from a results window: the comparison shows in front of it

    def start_compare_with(self, rec: JobRecord) -> None:
        if not rec.outputs:
            return
        self.pick_first = rec
        self.view.show_message(
            "info",
            f"Compare with…: click another image in the history to compare it with job {rec.id} (Esc stops).",
            action="Stop",
            callback=self._stop_pick,
        )

    def _stop_pick(self) -> None:
        self.pick_first = None

    def compare_with_shown(self) -> None:
        rec = self.shown_job or self.view.selected_job()
        if rec is None:
            self.view.show_message("info", "Pick an image in the history first, then “Compare with…”.")
            return
        self.start_compare_with(rec)

    # ------------------------------------------------------------------ references
    def add_files(self) -> None:
        """Opens the file dialog and returns at once: the files are imported when chosen."""
        self.view.ask_open_files("Add reference images", IMAGE_FILTER, self.view.importer.import_paths)

    def replace_reference(self, row: int) -> None:
        self.view.ask_open_file(
            f"Replace image {row + 1}",
            IMAGE_FILTER,
            lambda file: self.view.importer.import_paths([file], replace_index=row),
        )

    def reveal_reference(self, row: int) -> None:
        refs = self.wb.references
        if not 0 <= row < len(refs):
            return
        sha = refs[row].sha256
        path = self.view.importer.paths.get(sha)
        if path is None:
            try:
                path = self.services.blobs.path(sha)
            except FileNotFoundError:
                self.view.show_message("warning", f"image {row + 1} is no longer on disk.")
                return
        show_folder(Path(path).parent)
        self.view.status(f"image {row + 1}: {path}", 8000)

    def paste_reference(self) -> None:
        mime = QGuiApplication.clipboard().mimeData()
        if mime is None:
            return
        self.view.importer.import_mime(mime, check_recipe=True)

    def use_job_output(self, rec: JobRecord) -> None:
        if not rec.outputs:
            return
        if not self.wb.use_result(rec, rec.outputs[0]):
            self.view.show_message(
                "warning",
                f"The tray is full: {self.wb.info.display_name} takes at most "
                f"{self.wb.caps.max_references} reference images.",
            )
            return
        self.view.status(
            f"The result of “{describe.snippet(rec.request.prompt, 32)}” is now image {len(self.wb.references)}; "
            "the next job records it was made from it.",
            6000,
        )

    def use_shown_result(self) -> None:
        rec = self.shown_job or self.view.selected_job()
        if rec is not None:
            self.use_job_output(rec)

    # ------------------------------------------------------------------ history actions
    def restore_job(self, rec: JobRecord) -> None:
        missing = self.wb.restore(rec.request)
        text = f"Restored every setting of “{describe.snippet(rec.request.prompt, 32)}”."
        if missing:
            self.view.show_message("warning", text + f" Missing from disk, left out: {', '.join(missing)}.")
        else:
            self.view.status(text, 5000)

    def restore_selected(self) -> None:
        rec = self.view.selected_job()
        if rec is not None:
            self.restore_job(rec)

    def rerun_job(self, rec: JobRecord) -> None:
        self.follow_latest = True
        self.view.tasks.spawn(self.start_job(rec.request, rec.parent_job_id), what="Re-running the job")

    def rerun_selected(self) -> None:
        rec = self.view.selected_job()
        if rec is not None:
            self.rerun_job(rec)

    def delete_jobs(self, job_ids: list[str]) -> None:
        ids = list(job_ids)
        self.view.history_model.delete(ids)
        self.deleted = ids
        n = len(ids)
        words = f"{n} job{'s' if n > 1 else ''}"

        def undo() -> None:
            self.view.history_model.undelete(ids)
            self.deleted = []
            self.view.dismiss_message()
            self.view.status(f"Put {words} back in the history.", 4000)

        self.undo_list.push(f"Delete {words}", undo, lambda: self.view.history_model.delete(ids))
        self.view.show_message(
            "info",
            f"Deleted {words} from the history (Ctrl+Z undoes it).",
            action="Undo",
            callback=self.undo_delete,
            timeout_ms=15000,
        )

    def undo_delete(self) -> None:
        if self.deleted and self.undo_list.next_undo().startswith("Delete"):
            self.undo()

    # ------------------------------------------------------------------ undo
    def _reference_step(self, text: str, before: Any, after: Any) -> None:
        self.undo_list.push(
            text, lambda: self.wb.restore_snapshot(before), lambda: self.wb.restore_snapshot(after)
        )

    def undo(self) -> None:
        text = self.undo_list.undo()
        self.view.status(f"Undid: {text.lower()}." if text else "Nothing to undo.", 4000)

    def redo(self) -> None:
        text = self.undo_list.redo()
        self.view.status(f"Redid: {text.lower()}." if text else "Nothing to redo.", 4000)
