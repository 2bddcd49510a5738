"""The view-model of one running batch: the scheduler's per-input callbacks are counted as they come
and published to the window at most every ``COALESCE_MS`` (one signal for many job events), so a
200-input batch never floods the GUI thread."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QTimer, Signal

from ...jobs.batch import BatchScheduler, output_writer, public_status
from ...storage.batches import BAD_INPUT
from .aio import asyncio

if TYPE_CHECKING:
    from collections.abc import Sequence

    from ...core.request import ImageRef
    from ...services import Services
    from ...storage.batches import Batch, BatchStore, Item, NewItem

COALESCE_MS = 150


@dataclass(frozen=True, slots=True)
class Progress:
    done: int
    total: int
    failed: int
    spent_usd: float
    eta_s: float | None  # None until a few inputs are done
    running: bool
    note: str = ""

    @property
    def text(self) -> str:
        eta = ""
        if self.running and self.eta_s is not None:
            eta = (
                f" · about {self.eta_s / 60:.0f} min left"
                if self.eta_s >= 90
                else f" · about {self.eta_s:.0f} s left"
            )
        fails = f" · {self.failed} not done" if self.failed else ""
        return f"{self.done} of {self.total} done{eta} · ${self.spent_usd:.2f} spent{fails}"


class BatchRun(QObject):
    progressed = Signal(object)  # Progress, coalesced
    finished = Signal(object)  # jobs.batch.Summary

    def __init__(
        self,
        services: Services,
        store: BatchStore,
        batch: Batch,
        extras: tuple[ImageRef, ...],
        *,
        limit: int,
        max_cost: float | None = None,
        items: Sequence[NewItem] | None = None,
        parent: QObject | None = None,
    ) -> None:
        """``items``: the rows ``batch`` was just created from, when the caller has them (counted
        instead of read back from the store on the GUI thread)."""
        super().__init__(parent)
        self.services = services
        self.store = store
        self.batch = batch
        self.total = 0
        bad = 0
        # inputs refused at planning never reach the scheduler
        for it in items if items is not None else store.iter_items(batch.id):
            self.total += 1
            bad += it.status == BAD_INPUT
        self._done = bad
        self._failed = bad
        self._dirty = False
        self._started = 0.0
        self._running = False
        self.summary: Any = None
        self.scheduler = BatchScheduler(
            runner=services.runner,
            store=store,
            batch=batch,
            extras=extras,
            import_file=services.import_reference_file,
            quote=lambda r: services.quote(r).usd,
            write_output=output_writer(services.blobs, services.registry, Path(batch.out_dir)),
            limit=limit,
            max_cost=max_cost,
            on_item=self._item,
        )
        self._timer = QTimer(self)
        self._timer.setInterval(COALESCE_MS)
        self._timer.timeout.connect(self._publish)
        self.task: asyncio.Task[Any] | None = None

    # called by the scheduler on the loop's thread: count only, publish later
    def _item(self, it: Item, rec: Any) -> None:
        self._done += 1
        if public_status(it) != "succeeded":
            self._failed += 1
        self._dirty = True

    def progress(self) -> Progress:
        eta = None
        if self._running and self._done >= 3:
            rate = self._done / max(1e-6, time.monotonic() - self._started)
            eta = (self.total - self._done) / rate
        return Progress(
            self._done,
            self.total,
            self._failed,
            self.scheduler.spent,
            eta,
            self._running,
            self.scheduler.summary.stopped or "",
        )

    def _publish(self) -> None:
        if self._dirty:
            self._dirty = False
            self.progressed.emit(self.progress())

    def start(self) -> asyncio.Task[Any]:
        self._started = time.monotonic()
        self._running = True
        self._timer.start()
        self.task = asyncio.ensure_future(self._go())
        return self.task

    async def _go(self) -> Any:
        try:
            self.summary = await self.scheduler.run()
        finally:
            self._running = False
            self._timer.stop()
            self._dirty = True
            self._publish()
        self.finished.emit(self.summary)
        return self.summary

    def cancel(self) -> None:
        """Stop launching; running jobs are cancelled where the provider can, else they finish."""
        self.scheduler.interrupt(
            "Stopped: nothing more is launched; what was running settles.", cancel_running=True
        )
