"""Running a batch: one edit over many inputs, as fast as the provider allows and never faster.

The scheduler keeps at most ``limit`` of the batch's jobs active at the provider (a job holds its slot
from its submit until the provider has answered with a result or a verdict; downloads do not hold one).
``limit`` starts at what the caller asked for, capped by the provider's ``max_concurrency``, halves
when the provider answers 429 (after waiting what ``Retry-After`` said), and grows back by one after
``limit`` clean results in a row. An input refused with a 429 was provably not taken: its job row is
dropped and the input is launched again later, so it is still submitted once.

Before every launch the spend is checked: quoted-or-billed so far plus this input's quote must stay
within ``max_cost``; the runner's own guard (the session/day/month caps) refuses a job above them. At
either cap the batch stops launching and says so; what is in flight settles. ``interrupt`` (Ctrl-C)
stops launching too and lets the in-flight jobs finish on every provider; with ``cancel_running`` (the
window's Stop) it cancels them where the provider can cancel, and elsewhere they finish.

Inputs are prepared (read, checked, stored) a few ahead of the launches in a worker thread, so the next
submit never waits for a file; nothing about an input but its small item row is kept once it is done.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core.errors import BadInput, ErrorKind, SpendCapExceeded
from ..core.job_state import JobState
from ..core.request import EditRequest, ImageRef
from ..storage.batches import BAD_INPUT, NOT_LAUNCHED, PENDING, Batch, BatchStore, Item
from . import owner as owners
from .batch_manifest import manifest_line as manifest_line  # the manifest lives in batch_manifest
from .batch_manifest import public_status as public_status
from .batch_manifest import write_manifest

if TYPE_CHECKING:
    from ..storage.history import JobRecord
    from .events import JobEvent
    from .runner import Runner

log = logging.getLogger(__name__)
ImportFile = Callable[[Path], ImageRef]
QuoteFn = Callable[[EditRequest], "float | None"]
WriteOutput = Callable[["JobRecord", Item], "str | None"]
Sleep = Callable[[float], Awaitable[None]]

_ACTIVE = {JobState.SUBMITTING.value, JobState.RUNNING.value}
_UNFINISHED = {
    JobState.QUEUED.value,
    JobState.SUBMITTING.value,
    JobState.RUNNING.value,
    JobState.DOWNLOADING.value,
}
MAX_BACKOFF = 60.0
MANIFEST_EVERY = 1.0  # seconds between manifest rewrites while the batch runs


@dataclass
class Summary:
    batch_id: str
    total: int
    counts: dict[str, int] = field(default_factory=dict)  # item status → how many
    spent_usd: float = 0.0
    unpriced: int = 0  # jobs sent whose price is unknown and that reported no bill (not in spent_usd)
    stopped: str | None = None  # why launching stopped early (cap, Ctrl-C), as a sentence
    interrupted_by_user: bool = False
    rate_limited: int = 0  # 429s the provider answered (each input was launched again later)
    limit_low: int = 0  # the lowest concurrency the batch adapted down to

    def n(self, *statuses: str) -> int:
        return sum(self.counts.get(s, 0) for s in statuses)


def item_cost(rec: JobRecord) -> float:
    """What a job counts against a cap: billed where known, else its quote while it may still bill."""
    if rec.billed_usd is not None:
        return rec.billed_usd
    if rec.state in (JobState.SUCCEEDED.value, *_UNFINISHED) or rec.state == JobState.INTERRUPTED.value:
        return rec.quote_usd or 0.0
    return 0.0


def _never_taken(rec: JobRecord) -> bool:
    """A 429 on the submit: the provider created nothing, billed nothing; the input may be sent again."""
    return (
        rec.error_kind == ErrorKind.RATE_LIMITED.value
        and rec.provider_job_id is None
        and not rec.handle
        and rec.state in (JobState.FAILED.value, JobState.INTERRUPTED.value)
    )


class BatchScheduler:
    def __init__(
        self,
        *,
        runner: Runner,
        store: BatchStore,
        batch: Batch,
        extras: tuple[ImageRef, ...],
        import_file: ImportFile,
        quote: QuoteFn,
        write_output: WriteOutput,
        limit: int,
        max_cost: float | None = None,
        sleep: Sleep | None = None,
        prefetch: int = 4,
        on_item: Callable[[Item, JobRecord | None], None] | None = None,
        on_launch: Callable[[Item], None] | None = None,
    ) -> None:
        self.runner = runner
        self.history = runner.history
        self.store = store
        self.batch = batch
        self.extras = extras
        self.import_file = import_file
        self.quote = quote
        self.write_output = write_output
        info = runner.registry.get(batch.provider)
        self.info = info
        self.max_limit = max(1, min(limit, info.capabilities.max_concurrency))
        self.limit = self.max_limit
        self.max_cost = max_cost
        self.sleep: Sleep = sleep or asyncio.sleep
        self.prefetch = max(1, prefetch)
        self.on_item = on_item
        self.on_launch = on_launch
        self.summary = Summary(batch.id, 0, limit_low=self.limit)
        self._holding: set[str] = set()  # jobs holding a slot at the provider
        self._cost: dict[str, float] = {}  # job id → what it counts against the cap
        self._retry: deque[tuple[int, ImageRef]] = deque()
        self._drives: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        self._stopping = False
        self._why_not = ""
        self._not_before = 0.0
        self._clean = 0
        self._manifest_at = 0.0
        self._manifest_writing: asyncio.Future[None] | None = None
        self._settled_lines: dict[int, str] = {}  # manifest lines of finished items (rewrites one at a time)

    # ------------------------------------------------------------------ control
    def interrupt(
        self,
        reason: str = "Stopped by Ctrl-C: nothing more is launched; what was running settles.",
        *,
        cancel_running: bool = False,
    ) -> None:
        """Ctrl-C or Stop: stop launching. The running jobs finish (they are paid for and promised to
        settle), unless ``cancel_running``: then they are cancelled where the provider can cancel."""
        if not self._stopping:
            self._stop(reason, "the batch was stopped before it")
        self.summary.interrupted_by_user = True
        if cancel_running and self.info.capabilities.can_cancel:
            for job_id in list(self._holding):
                self.runner.cancel(job_id)

    def _stop(self, reason: str, why_not: str) -> None:
        """``reason``: the batch's sentence; ``why_not``: what each input left unlaunched is told."""
        if not self._stopping:
            self._stopping = True
            self.summary.stopped = reason
            self._why_not = why_not
        self._wake.set()

    @property
    def spent(self) -> float:
        return round(sum(self._cost.values()), 6)

    def _unpriced(self) -> int:
        """Jobs that were sent with no known price and reported no bill: their spend is unknown."""
        n = 0
        for job_id in self._cost:
            with contextlib.suppress(KeyError):
                rec = self.history.get(job_id)
                n += rec.quote_usd is None and rec.billed_usd is None and rec.submits > 0
        return n

    # ------------------------------------------------------------------ the run
    async def run(self) -> Summary:
        unsubscribe = self.runner.bus.subscribe(self._on_event)
        try:
            pending = await self._take_stock()
            queue: asyncio.Queue[tuple[int, ImageRef | str] | None] = asyncio.Queue(self.prefetch)
            producer = asyncio.ensure_future(self._produce(pending, queue))
            try:
                await self._launch(queue)
            finally:
                producer.cancel()
                with contextlib.suppress(BaseException):
                    await producer
            while self._drives:
                await asyncio.gather(*list(self._drives), return_exceptions=True)
            # Whatever is still pending was never launched: the batch resumes from it.
            for it in self.store.iter_items(self.batch.id):
                if it.status == PENDING and it.job_id is None and self.summary.stopped:
                    self.store.update_item(
                        self.batch.id,
                        it.idx,
                        status=NOT_LAUNCHED,
                        error_kind=ErrorKind.BAD_INPUT.value,
                        error_message=f"{Path(it.input).name} was not launched: {self._why_not}; "
                        "run the batch again to launch it.",
                    )
        finally:
            unsubscribe()
        self.summary.counts = self.store.counts(self.batch.id)
        self.summary.total = sum(self.summary.counts.values())
        self.summary.spent_usd = self.spent
        self.summary.unpriced = self._unpriced()
        status = "stopped" if self.summary.stopped else "done"
        self.store.set_status(self.batch.id, status, self.summary.stopped or "")
        if self._manifest_writing is not None:  # an older rewrite must not land after the final one
            await self._manifest_writing
        await asyncio.to_thread(self.write_manifest)  # off the event loop: the window keeps painting
        return self.summary

    async def _take_stock(self) -> list[int]:
        """Sort the items of a new or re-run batch: succeeded ones are skipped (their output written if
        a crash came first), unfinished jobs are resumed from their stored handle — never sent again —
        and inputs never launched are returned to be launched."""
        pending: list[int] = []
        for it in self.store.iter_items(self.batch.id):
            if it.job_id is None:
                if it.status in (PENDING, NOT_LAUNCHED):
                    if it.status == NOT_LAUNCHED:
                        self.store.update_item(
                            self.batch.id, it.idx, status=PENDING, error_kind=None, error_message=None
                        )
                    pending.append(it.idx)
                continue
            try:
                rec = self.history.get(it.job_id)
            except KeyError:
                self.store.update_item(self.batch.id, it.idx, job_id=None, status=PENDING)
                pending.append(it.idx)
                continue
            self._cost[rec.id] = item_cost(rec)
            if rec.state in _UNFINISHED or (rec.state == JobState.INTERRUPTED.value and rec.handle):
                # Left by a crash, or interrupted with its handle: fetched from the provider, never resent.
                # A job another live process is running is left to it (its item keeps its state).
                mine = rec.owner == self.runner.owner
                if (
                    rec.id in self.runner.active()
                    or (not mine and owners.is_live(rec.owner, rec.heartbeat_at))
                    or not (mine or self.history.claim(rec.id, self.runner.owner, expected=rec.owner))
                ):
                    self.store.update_item(self.batch.id, it.idx, status=rec.state)
                    continue
                if rec.state in _ACTIVE or rec.state == JobState.INTERRUPTED.value:
                    self._holding.add(rec.id)
                self._drive(it.idx, rec.id)
            elif _never_taken(rec):
                self.history.purge(rec.id)
                self._cost.pop(rec.id, None)
                self.store.update_item(self.batch.id, it.idx, job_id=None, status=PENDING)
                pending.append(it.idx)
            else:
                await self._settle(it.idx, rec)
        return pending

    async def _produce(
        self, pending: list[int], queue: asyncio.Queue[tuple[int, ImageRef | str] | None]
    ) -> None:
        """Read, check and store the next inputs ahead of the launches (bounded by the queue)."""
        for idx in pending:
            it = self.store.item(self.batch.id, idx)
            try:
                ref: ImageRef | str = await asyncio.to_thread(self.import_file, Path(it.input))
            except BadInput as exc:
                ref = str(exc)
            await queue.put((idx, ref))
        await queue.put(None)

    async def _launch(self, queue: asyncio.Queue[tuple[int, ImageRef | str] | None]) -> None:
        produced_all = False
        while not self._stopping:
            if not await self._wait_for_slot():
                return
            nxt: tuple[int, ImageRef | str] | None
            if self._retry:
                nxt = self._retry.popleft()
            elif not produced_all:
                nxt = await queue.get()
                if nxt is None:
                    produced_all = True
                    continue
            elif self._drives:
                # Nothing new to launch, but a running job may still come back refused with a 429.
                self._wake.clear()
                await self._wake.wait()
                continue
            else:
                return
            idx, ref = nxt
            if isinstance(ref, str):
                self._bad(idx, ref)
            else:
                self._launch_one(idx, ref)
            # One launch per turn of the event loop: with many slots free at once (the start, after a
            # wave) the launches would otherwise run back to back and hold the window for all of them.
            await asyncio.sleep(0)

    async def _wait_for_slot(self) -> bool:
        while not self._stopping:
            wait = self._not_before - time.monotonic()
            if wait > 0:
                await self.sleep(wait)
                self._not_before = 0.0  # waited what the provider asked
                continue
            if len(self._holding) < self.limit:
                return True
            self._wake.clear()
            await self._wake.wait()
        return False

    def _launch_one(self, idx: int, ref: ImageRef) -> None:
        it = self.store.item(self.batch.id, idx)
        req = self.batch.request.with_(references=(ref, *self.extras), provider=self.batch.provider)
        usd = self.quote(req)
        if self.max_cost is not None and self.spent + (usd or 0.0) > self.max_cost + 1e-9:
            self._stop(
                f"Stopped at the spending cap: {Path(it.input).name} (${usd or 0:.4f}) would bring this "
                f"batch to ${self.spent + (usd or 0):.4f}, over --max-cost ${self.max_cost:.4f}. "
                f"Spent so far ${self.spent:.4f}.",
                f"the batch stopped at --max-cost ${self.max_cost:.4f} before it",
            )
            return
        try:
            rec = self.runner.create(req, group_id=self.batch.id, group_kind="batch")
        except SpendCapExceeded as exc:
            self._stop(
                f"Stopped at a spending limit before {Path(it.input).name}: {exc}",
                "the batch stopped at a spending limit before it",
            )
            return
        except BadInput as exc:
            self._bad(idx, str(exc))
            return
        it = self.store.update_item(
            self.batch.id, idx, job_id=rec.id, status=rec.state, quote_usd=rec.quote_usd
        )
        self._cost[rec.id] = rec.quote_usd or 0.0
        self._holding.add(rec.id)
        if self.on_launch is not None:
            self.on_launch(it)
        self._drive(idx, rec.id)

    def _drive(self, idx: int, job_id: str) -> None:
        task = asyncio.ensure_future(self._run_job(idx, job_id))
        self._drives.add(task)
        task.add_done_callback(self._drives.discard)

    async def _run_job(self, idx: int, job_id: str) -> None:
        try:
            await self._run_job_inner(idx, job_id)
        finally:
            task = asyncio.current_task()
            if task is not None:
                self._drives.discard(task)  # before the wake-up, so the launcher sees it gone
            self._wake.set()

    async def _run_job_inner(self, idx: int, job_id: str) -> None:
        try:
            rec = await self.runner.start(job_id)
        except asyncio.CancelledError:
            raise
        except Exception:  # the runner settles every job itself; this is a bug, keep the batch going
            log.exception("batch %s: job %s", self.batch.id, job_id)
            rec = self.history.get(job_id)
        finally:
            self._release(job_id)
        if _never_taken(rec):
            self._rate_limited(idx, rec)
            return
        self._cost[rec.id] = item_cost(rec)
        if rec.state == JobState.SUCCEEDED.value:
            self._clean += 1
            if self._clean >= self.limit and self.limit < self.max_limit:
                self.limit += 1
                self._clean = 0
        await self._settle(idx, rec)
        self._wake.set()

    def _rate_limited(self, idx: int, rec: JobRecord) -> None:
        self.summary.rate_limited += 1
        retry_after = self.runner.retry_after.pop(rec.id, None)
        ref = rec.request.references[0]
        self.history.purge(rec.id)
        self._cost.pop(rec.id, None)
        self.store.update_item(self.batch.id, idx, job_id=None, status=PENDING)
        now = time.monotonic()
        if now >= self._not_before:  # one cut per wave of 429s, not one per refused job
            self.limit = max(1, self.limit // 2)
            self.summary.limit_low = min(self.summary.limit_low, self.limit)
            self._clean = 0
            wait = retry_after if retry_after is not None else 5.0
            self._not_before = now + min(MAX_BACKOFF, max(0.5, wait))
        self._retry.append((idx, ref))
        self._wake.set()

    def _release(self, job_id: str) -> None:
        if job_id in self._holding:
            self._holding.discard(job_id)
            self._wake.set()

    def _on_event(self, ev: JobEvent) -> None:
        # A slot at the provider frees as soon as it answered: the download does not hold one.
        if ev.job_id in self._holding and ev.state not in _ACTIVE and ev.state != JobState.QUEUED.value:
            self._release(ev.job_id)

    def _bad(self, idx: int, message: str) -> None:
        it = self.store.update_item(
            self.batch.id, idx, status=BAD_INPUT, error_kind=ErrorKind.BAD_INPUT.value, error_message=message
        )
        if self.on_item is not None:
            self.on_item(it, None)
        self._maybe_manifest()

    async def _settle(self, idx: int, rec: JobRecord) -> None:
        it = self.store.item(self.batch.id, idx)
        output = it.output
        error_kind, error_message = rec.error_kind, rec.error_message
        written = bool(output) and await asyncio.to_thread(os.path.exists, output or "")
        if rec.state == JobState.SUCCEEDED.value and not written:
            try:
                output = await asyncio.to_thread(self.write_output, rec, it)
            except OSError as exc:
                output = None
                error_kind = ErrorKind.BAD_INPUT.value
                error_message = (
                    f"The result is in the history, but {Path(self.batch.out_dir)} could not be "
                    f"written ({exc.strerror or exc}); re-run the batch to write it."
                )
        it = self.store.update_item(
            self.batch.id,
            idx,
            status=rec.state,
            output=output,
            error_kind=error_kind,
            error_message=error_message,
        )
        if self.on_item is not None:
            self.on_item(it, rec)
        self._maybe_manifest()

    # ------------------------------------------------------------------ the manifest
    def _maybe_manifest(self) -> None:
        """Rewrite the manifest at most every second, in a worker thread (it reads every job of the
        batch: on the event loop that would stall the window), one rewrite at a time."""
        now = time.monotonic()
        if now < self._manifest_at or (
            self._manifest_writing is not None and not self._manifest_writing.done()
        ):
            return
        self._manifest_at = now + MANIFEST_EVERY
        self._manifest_writing = asyncio.get_running_loop().run_in_executor(
            None, self._write_manifest_quietly
        )

    def _write_manifest_quietly(self) -> None:
        try:
            self.write_manifest()
        except OSError:
            log.warning("could not write the manifest of batch %s", self.batch.id, exc_info=True)

    def write_manifest(self) -> Path:
        return write_manifest(self.store, self.history, self.batch, self._settled_lines)


_EXT = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp"}


def output_writer(
    blobs: Any, registry: Any, out_dir: Path, note: Callable[[Path, str], None] | None = None
) -> WriteOutput:
    """Write a succeeded job's images into ``out_dir`` as ``<stem>.<ext>`` with their recipe, taking a
    free name (``<stem>-2.<ext>``…) rather than ever replacing a file. Returns the first path; ``note``
    hears what could not be embedded whole."""
    from ..storage.exports import export_image
    from .batch_plan import claim

    def write(rec: JobRecord, it: Item) -> str | None:
        first: str | None = None
        info = registry.get(rec.provider) if rec.provider in registry else None
        for o in rec.outputs:
            path = claim(out_dir, it.stem, _EXT.get(o.mime, "bin"))
            try:
                done = export_image(
                    blobs.get(o.sha256),
                    o.mime,
                    path,
                    rec.request,
                    stem=it.stem,
                    claimed=True,
                    job_id=rec.id,
                    provider=rec.provider,
                    provider_label=info.label if info else rec.provider,
                    provider_job_id=rec.provider_job_id,
                    seed=rec.request.seed,
                    size=(o.width, o.height),
                    billed_usd=rec.billed_usd,
                    quote_usd=rec.quote_usd,
                )
            except BaseException:
                with contextlib.suppress(OSError):
                    path.unlink()
                raise
            if note is not None:
                for text in done.notes:
                    note(path, text)
            first = first or str(path)
        return first

    return write
