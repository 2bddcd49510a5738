"""One stream of immutable job events from the runner to whoever listens (CLI, view-models)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from ..core.job_state import JobState

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class JobEvent:
    job_id: str
    state: JobState
    progress: float | None = None
    queue_position: int | None = None
    waiting: bool = False  # submitted, and the provider says the job waits in its queue (not started yet)
    message: str = ""
    error_kind: str | None = None
    error_message: str | None = None
    billed_usd: float | None = None
    at: float = field(default_factory=time.time)


Listener = Callable[[JobEvent], None]


class EventBus:
    """Synchronous fan-out. A listener that raises is logged and skipped; the others still get it."""

    def __init__(self) -> None:
        self._listeners: list[Listener] = []

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        self._listeners.append(listener)

        def unsubscribe() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return unsubscribe

    def publish(self, event: JobEvent) -> None:
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:
                log.exception("a job-event listener failed on %s", event)
