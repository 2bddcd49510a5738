"""Fetching interrupted jobs from the window: at start, every few minutes while it is open, and as soon as
a request succeeds again (the network is back). Never blocks start-up (work runs as background tasks),
runs one round at a time, and — like ``flexstudio resume`` — a round while offline leaves every job
``interrupted``, never ``failed``. "Try again" and "Give up" on one job go through here too."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QTimer, Signal

from ...core.job_state import JobState
from .aio import asyncio

if TYPE_CHECKING:
    from ...jobs.events import JobEvent
    from ...services import Services
    from .jobs_model import JobsModel

log = logging.getLogger(__name__)
RETRY_EVERY_S = 180.0  # while the window is open
AFTER_SUCCESS_GAP_S = 20.0  # a success triggers a round at most this often

Spawn = Callable[[Coroutine[Any, Any, Any], str], Any]


class RecoveryModel(QObject):
    roundStarted = Signal(int)  # how many jobs are being fetched
    roundFinished = Signal(int, int)  # jobs touched, of which succeeded

    def __init__(
        self,
        services: Services,
        jobs: JobsModel,
        spawn: Spawn,
        parent: QObject | None = None,
        *,
        every_s: float = RETRY_EVERY_S,
    ) -> None:
        super().__init__(parent)
        self.services = services
        self.spawn = spawn
        self.running = False
        self._last_round = 0.0
        self.timer = QTimer(self)
        self.timer.setInterval(int(every_s * 1000))
        self.timer.timeout.connect(self.retry_all)
        jobs.jobFinished.connect(self._on_finished)

    def start(self) -> None:
        """The round at start, then one every few minutes."""
        self.retry_all()
        self.timer.start()

    def stop(self) -> None:
        self.timer.stop()

    def retry_all(self) -> None:
        if self.running:
            return
        self.running = True
        self._last_round = time.monotonic()
        self.spawn(self._round(), "Fetching jobs still waiting for their provider")

    async def _round(self) -> None:
        try:
            waiting = await asyncio.to_thread(self.services.history.resumable)
            if not waiting:
                return
            self.roundStarted.emit(len(waiting))
            done = await self.services.runner.resume_unfinished()
            await self._deliver(done)
            self.roundFinished.emit(len(done), sum(1 for r in done if r.state == JobState.SUCCEEDED))
        finally:
            self.running = False

    def _on_finished(self, ev: JobEvent) -> None:
        """A request that succeeded: whatever was waiting may be reachable again."""
        if ev.state != JobState.SUCCEEDED or self.running:
            return
        if time.monotonic() - self._last_round < AFTER_SUCCESS_GAP_S:
            return
        self.retry_all()

    async def _deliver(self, recs: list[Any]) -> None:
        """A job started with ``edit -o`` is written where it asked, as ``flexstudio resume`` does."""
        for rec in recs:
            if rec.state == JobState.SUCCEEDED and rec.deliver_to:
                try:
                    await asyncio.to_thread(self.services.deliver, rec, rec.deliver_to)
                except Exception:  # the image stays in the history; the log says why
                    log.warning("could not write job %s to %s", rec.id, rec.deliver_to, exc_info=True)

    async def _try_again(self, job_id: str) -> None:
        await self._deliver([await self.services.runner.resume_job(job_id)])

    def try_again(self, job_id: str) -> None:
        self.spawn(self._try_again(job_id), f"Fetching job {job_id}")

    def give_up(self, job_id: str) -> None:
        self.services.runner.give_up(job_id)

    def can_resume(self, job_id: str) -> bool:
        """An interrupted job that was sent: it may still finish or may have been billed, so the user may
        give it up (and, with a handle, try again)."""
        try:
            rec = self.services.history.get(job_id)
        except KeyError:
            return False
        return rec.state == JobState.INTERRUPTED and (rec.handle is not None or rec.submits > 0)

    def can_fetch(self, job_id: str) -> bool:
        """Whether there is anything to ask the provider for (a submit whose answer was lost has nothing)."""
        try:
            rec = self.services.history.get(job_id)
        except KeyError:
            return False
        return rec.state == JobState.INTERRUPTED and rec.handle is not None
