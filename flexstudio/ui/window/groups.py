"""What the window does for groups of jobs: "Compare providers…", "Sweep…" and their results windows.
A group is started with ``Services.start_work`` (checked as a whole against the spend caps; nothing is
queued when anything is refused), like a single job."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from ..models import describe
from ..models.aio import asyncio

if TYPE_CHECKING:
    from ...core.request import EditRequest
    from ...jobs.events import JobEvent
    from ...services import Services, Started
    from ...storage.history import JobRecord
    from ..dialogs.results_dialog import GroupResults
    from ..models.workbench import Workbench
    from .view import WindowView


class Main(Protocol):
    """What the groups need of the window's controller (``WindowController``)."""

    services: Services
    view: WindowView
    wb: Workbench
    key_status: dict[str, str | None]

    def start_work(
        self, requests: list[EditRequest], *, kind: str | None = None, parent: str | None = None
    ) -> Started | str: ...
    def set_key_status(self, status: dict[str, str | None]) -> None: ...
    def show_picked(self, rec: JobRecord) -> None: ...
    def compare_jobs(self, a: JobRecord, b: JobRecord) -> None: ...


class GroupsController:
    def __init__(self, main: Main) -> None:
        self.main = main
        self.services = main.services
        self.view = main.view
        self.open: dict[str, GroupResults] = {}  # group id → its open results window
        self.compare_dialog: Any = None
        self.sweep_dialog: Any = None
        self.batch_dialog: Any = None

    def launch(self, requests: list[EditRequest], kind: str) -> str | None:
        """Queue and start a comparison or a sweep; None when launched, else the sentence saying why not
        (also shown in the message bar)."""
        started = self.main.start_work(requests, kind=kind)
        if isinstance(started, str):
            return started
        records = started.records
        word = "comparison" if kind == "comparison" else "sweep"
        self.view.status(f"Started a {word} of {len(records)} edits.", 5000)
        if records and records[0].group_id:
            self.open_group(records[0].group_id)
        return None

    def _blocked(self) -> bool:
        """An invalid JSON prompt is never sent, to one provider or to many (their prices are checked by
        the dialog against the spending limits)."""
        blocker = self.main.wb.run_blocker(spend=False)
        if blocker is not None:
            self.view.show_message("error", blocker)
        return blocker is not None

    def compare_providers(self) -> None:
        if self._blocked():
            return
        self.view.tasks.spawn(self._compare_providers(), what="Opening “Compare providers”")

    async def _compare_providers(self) -> Any:
        from ..dialogs.compare_providers_dialog import CompareProvidersDialog

        svc = self.services
        infos = svc.registry.all()
        status = await asyncio.to_thread(lambda: {i.id: svc.key_source(i) for i in infos})
        self.main.set_key_status({**self.main.key_status, **status})
        dlg = CompareProvidersDialog(
            svc, self.main.wb.request, status, self.launch, self.view.dialog_parent()
        )
        dlg.show()
        self.compare_dialog = dlg
        return dlg

    def open_sweep(self) -> Any:
        from ..dialogs.sweep_dialog import SweepDialog

        if self._blocked():
            return None
        dlg = SweepDialog(self.services, self.main.wb.request, self.launch, self.view.dialog_parent())
        dlg.show()
        self.sweep_dialog = dlg
        return dlg

    def open_batch(self, preset: str | None = None) -> Any:
        """The Batch dialog: a running batch's dialog is shown again; otherwise a new one."""
        from ...storage.faults import StorageFault
        from ..dialogs.batch_dialog import BatchDialog

        dlg = self.batch_dialog
        if dlg is None or not dlg.running:
            if dlg is not None:
                dlg.deleteLater()
            try:
                dlg = BatchDialog(
                    self.services,
                    self.main.wb.request,
                    preset=preset,
                    history_selection=self._history_selection,
                    parent=self.view.dialog_parent(),
                )
            except StorageFault as fault:  # a damaged batch list: say so, offer to move it aside
                from ..dialogs.history_fault_dialog import offer_move_aside

                self.batch_dialog = None
                return offer_move_aside(
                    fault, self.view.dialog_parent(), self.view.show_message, lambda: self.open_batch(preset)
                )
            self.batch_dialog = dlg
        dlg.show()
        dlg.raise_()
        return dlg

    def _history_selection(self) -> list[Any]:
        """The results of the jobs selected in the history, as files (each becomes one input)."""
        from pathlib import Path

        svc = self.services
        paths: list[Any] = []
        for rec in self.view.selected_jobs():
            paths += [Path(svc.blobs.path(o.sha256)) for o in rec.outputs if svc.blobs.has(o.sha256)]
        return paths

    def open_group(self, group_id: str) -> GroupResults | None:
        from ..dialogs.results_dialog import GroupResults

        dlg = self.open.get(group_id)
        if dlg is None:
            svc = self.services
            records = list(reversed(svc.history.list(group_id=group_id, limit=500)))  # launch order
            if not records:
                self.view.show_message("info", "Those jobs are no longer in the history.")
                return None
            kind = records[0].group_kind or "comparison"
            registry = svc.registry
            dlg = GroupResults(
                group_id,
                kind,
                records,
                capabilities=lambda pid: registry.get(pid).capabilities if pid in registry else None,
                label=self.view.history_model.label,
                thumbs=self.view.thumbs,
                set_winner=svc.history.set_winner,
                reload=svc.history.get,
                parent=self.view.dialog_parent(),
            )
            dlg.showRequested.connect(self.main.show_picked)
            dlg.compareRequested.connect(self.main.compare_jobs)
            dlg.winnerChosen.connect(lambda _jid, d=dlg: self._winner_chosen(d))
            dlg.finished.connect(lambda _r, g=group_id: self.open.pop(g, None))
            self.open[group_id] = dlg
        dlg.show()
        dlg.raise_()
        return dlg

    def _winner_chosen(self, dlg: GroupResults) -> None:
        for job_id in dlg.records:
            self.view.history_model.refresh_job(job_id)
        winner = next((r for r in dlg.records.values() if r.winner), None)
        if winner is not None:
            self.view.status(
                f"{describe.job_words(self.view.history_model.label(winner.provider), winner.request)} is the winner of this "
                f"{'comparison' if dlg.kind == 'comparison' else 'sweep'}.",
                5000,
            )

    def on_event(self, ev: JobEvent) -> None:
        for dlg in list(self.open.values()):
            dlg.on_event(ev)

    def open_group_of(self, rec: JobRecord) -> None:
        if rec.group_id:
            self.open_group(rec.group_id)
