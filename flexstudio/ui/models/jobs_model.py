"""The job view-model: the runner's one event stream turned into Qt signals, with the latest event of
every job the window has seen (for the jobs list, the status bar and Esc)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal

from ...core.job_state import TERMINAL, JobState

if TYPE_CHECKING:
    from ...jobs.events import EventBus, JobEvent


def is_terminal(state: str) -> bool:
    try:
        return JobState(state) in TERMINAL
    except ValueError:
        return False


class JobsModel(QObject):
    jobChanged = Signal(object)  # JobEvent, every event
    jobStateChanged = Signal(object)  # JobEvent, only when the state differs from the last one
    jobFinished = Signal(object)  # JobEvent, terminal
    activeCountChanged = Signal(int)

    def __init__(self, bus: EventBus, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.latest: dict[str, JobEvent] = {}
        self.order: list[str] = []
        self._active: set[str] = (
            set()
        )  # jobs whose latest event is not terminal (counted per event, not scanned)
        self._unsubscribe = bus.subscribe(self._on_event)

    def close(self) -> None:
        self._unsubscribe()

    def _on_event(self, ev: JobEvent) -> None:
        previous = self.latest.get(ev.job_id)
        if previous is None:
            self.order.append(ev.job_id)
        self.latest[ev.job_id] = ev
        self.jobChanged.emit(ev)
        if previous is None or previous.state != ev.state:
            self.jobStateChanged.emit(ev)
        before = len(self._active)
        if is_terminal(ev.state):
            self._active.discard(ev.job_id)
            self.jobFinished.emit(ev)
        else:
            self._active.add(ev.job_id)
        if len(self._active) != before:
            self.activeCountChanged.emit(len(self._active))

    def active_ids(self) -> list[str]:
        """The jobs not finished yet, in the order they were first seen."""
        return [j for j in self.order if j in self._active]

    def latest_active(self) -> str | None:
        ids = self.active_ids()
        return ids[-1] if ids else None
