"""The job runner: drives one provider step by step and writes history before every network step.

``queued → submitting → running → downloading → succeeded`` or ``failed | moderated | cancelled |
interrupted``. The endpoint is stored before the submit, the provider's job id and polling handle the
moment it returns, so a crash loses nothing. How a run that goes wrong ends is ``recovery.decide``:
after the submit only the provider's verdict is terminal, every other fault leaves the job
``interrupted`` with its handle, and ``resume_unfinished`` fetches it later from the stored endpoint —
leaving alone jobs another live process runs (``owner``). A submit is never repeated for a job that may
already exist at the provider. Each run has one ``Deadline`` (``timeout`` and the retry budget) that
every network step of the job obeys.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core.errors import BadInput, ErrorKind, JobGone, MissingKey, ProviderError
from ..core.job_state import SENTENCES, TERMINAL, JobState, transition
from ..core.request import EditRequest
from ..providers.base import (
    ModerationBilling,
    PollResult,
    Provider,
    ProviderContext,
    ProviderInfo,
    Result,
    moderation_sentence,
)
from ..providers.deadline import RETRY_BUDGET_S, Deadline
from ..providers.uploads import Uploads
from . import owner as owners
from . import polling, recovery
from .events import EventBus, JobEvent
from .prepare import Preparer

if TYPE_CHECKING:
    import httpx

    from ..providers.registry import Registry
    from ..storage.blobs import BlobStore
    from ..storage.history import History, JobRecord
    from ..storage.prepared import PreparedStore
    from ..storage.secrets import Secrets

log = logging.getLogger(__name__)
Quoter = Callable[[EditRequest], tuple[float | None, dict[str, Any] | None]]
Guard = Callable[[EditRequest, float | None], None]


@dataclass
class RunnerConfig:
    base_urls: Mapping[str, str] = field(default_factory=dict)
    provider_options: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    concurrency: int = 4  # jobs at once per provider
    poll_interval: float = 0.5
    max_poll_interval: float = 2.0
    min_poll_interval: float = 0.1  # the shortest pause, near the end a provider's progress predicts
    timeout: float | None = 900.0  # the longest one run of a job may take (then: interrupted)
    retry_budget: float = RETRY_BUDGET_S  # how long one run may spend retrying polls and downloads
    state_dir: Path | None = None  # the sandbox's "server-side" folder


class Runner:
    def __init__(
        self,
        *,
        history: History,
        blobs: BlobStore,
        registry: Registry,
        secrets: Secrets,
        bus: EventBus | None = None,
        config: RunnerConfig | None = None,
        client_factory: Callable[[], httpx.AsyncClient] | None = None,
        quoter: Quoter | None = None,
        guard: Guard | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        uploads: Uploads | None = None,
        prepared: PreparedStore | None = None,
    ) -> None:
        self.history = history
        self.blobs = blobs
        self.registry = registry
        self.secrets = secrets
        self.bus = bus or EventBus()
        self.config = config or RunnerConfig()
        self._client_factory = client_factory
        self._client: httpx.AsyncClient | None = None
        self.quoter = quoter
        self.guard = guard
        self.sleep = sleep
        self._semaphores: dict[str, asyncio.Semaphore] = {}
        self._tasks: dict[str, asyncio.Task[JobRecord]] = {}
        self._cancel_requested: set[str] = set()
        self.retry_after: dict[str, float] = {}  # job id → the wait a provider asked for when it refused
        self.owner = owners.me()
        self._beat: asyncio.Task[None] | None = None
        # References uploaded to file services, shared by every job (and persisted when given a store).
        self.uploads = uploads if uploads is not None else Uploads()
        # References prepared for their provider, kept between runs when given a prepared store.
        self.preparer = Preparer(blobs, prepared)

    # ------------------------------------------------------------------ set-up
    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            if self._client_factory is not None:
                self._client = self._client_factory()
            else:
                from ..providers.http import new_client

                self._client = new_client()
        return self._client

    async def aclose(self) -> None:
        if self._beat is not None:
            self._beat.cancel()
            self._beat = None
        for task in list(self._tasks.values()):
            task.cancel()
        for task in list(self._tasks.values()):
            with contextlib.suppress(BaseException):
                await task
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def provider_for(self, info: ProviderInfo, key: str | None) -> Provider:
        """A provider object for ``info`` outside a job (balances): this runner's client, configured
        endpoint and upload cache."""
        opts = dict(info.options)
        opts.update(self.config.provider_options.get(info.id, {}))
        ctx = ProviderContext(
            client=None if info.simulator else self.client,
            api_key=key,
            base_url=self.config.base_urls.get(info.id) or None,
            options=opts,
            poll_interval=self.config.poll_interval,
            sleep=self.sleep,
            uploads=self.uploads,
        )
        return info.create(ctx)

    def _base_url(self, info: ProviderInfo, rec: JobRecord) -> str | None:
        """Where this job goes: the endpoint stored with it once it was sent, else the configured one."""
        if rec.endpoint and rec.endpoint.get("base_url"):
            return str(rec.endpoint["base_url"])
        return self.config.base_urls.get(info.id) or None

    def _provider(
        self, info: ProviderInfo, key: str | None, rec: JobRecord, deadline: Deadline | None = None
    ) -> Provider:
        opts = dict(info.options)
        opts.update(self.config.provider_options.get(info.id, {}))
        ctx = ProviderContext(
            client=None if info.simulator else self.client,
            api_key=key,
            base_url=self._base_url(info, rec),
            options=opts,
            poll_interval=self.config.poll_interval,
            state_dir=str(self.config.state_dir) if self.config.state_dir else None,
            sleep=self.sleep,
            deadline=deadline,
            idempotency_key=f"flexstudio-{rec.id}",
            uploads=self.uploads,
        )
        return info.create(ctx)

    def _endpoint(self, info: ProviderInfo, rec: JobRecord) -> dict[str, Any]:
        return {"profile": info.id, "base_url": self._base_url(info, rec) or info.default_base_url or None}

    # ------------------------------------------------------------------ creating jobs
    def check(self, request: EditRequest) -> ProviderInfo:
        """Everything that can be refused before anything is written or sent (raises ``BadInput``)."""
        request.validate()
        info = self.registry.get(request.provider)
        caps = info.capabilities
        if len(request.references) > caps.max_references:
            raise BadInput(
                f"{info.display_name} takes at most {caps.max_references} reference "
                f"image{'' if caps.max_references == 1 else 's'} (got {len(request.references)})."
            )
        if caps.prompt_length is not None:
            lo, hi = caps.prompt_length
            n = len(request.prompt)
            if not lo <= n <= hi:
                raise BadInput(
                    f"{info.display_name} takes prompts of {lo} to {hi} characters; this one has {n}."
                )
        if not request.references and not caps.text_to_image:
            raise BadInput(f"{info.display_name} needs at least one reference image.")
        if request.output_format not in caps.formats:
            raise BadInput(
                f"{info.display_name} cannot write {request.output_format.upper()}; "
                f"choose {' or '.join(f.upper() for f in caps.formats)}."
            )
        if request.size is not None and request.size[0] * request.size[1] > caps.max_pixels:
            raise BadInput(f"{info.display_name} makes images up to {caps.max_pixels / 1048576:g} MP.")
        if caps.references_need_urls and request.references:
            opts = {**dict(info.options), **dict(self.config.provider_options.get(info.id, {}))}
            if not (dict(request.extras).get("reference_urls") or opts.get("reference_urls")):
                raise BadInput(
                    f"{info.display_name} takes reference images only at public https URLs (it has "
                    "no upload service), so a local image cannot be sent to it — give the image's "
                    "URL or choose another provider."
                )
        for ref in request.references:
            if not self.blobs.has(ref.sha256):
                raise BadInput(f"Reference {ref.name or ref.sha256[:12]} is missing from the history folder.")
        return info

    def create(
        self,
        request: EditRequest,
        *,
        parent_job_id: str | None = None,
        group_id: str | None = None,
        group_kind: str | None = None,
    ) -> JobRecord:
        """Validate, resolve the seed, price it, check the spend guard and write the job as ``queued``."""
        return self._create(
            request.resolved(),
            check_spend=True,
            parent_job_id=parent_job_id,
            group_id=group_id,
            group_kind=group_kind,
        )

    def _create(
        self,
        request: EditRequest,
        *,
        check_spend: bool,
        parent_job_id: str | None,
        group_id: str | None,
        group_kind: str | None,
    ) -> JobRecord:
        self.check(request)
        quote_usd, quote = self.quoter(request) if self.quoter else (None, None)
        if check_spend and self.guard is not None:
            self.guard(request, quote_usd)
        rec = self.history.create(
            request,
            quote_usd=quote_usd,
            quote=quote,
            parent_job_id=parent_job_id,
            group_id=group_id,
            group_kind=group_kind,
            owner=self.owner,
        )
        self._emit(rec.id, JobState.QUEUED, message=SENTENCES[JobState.QUEUED])
        return rec

    def start(self, job_id: str) -> asyncio.Task[JobRecord]:
        return self._track(job_id, self.execute(job_id))

    def _done(self, job_id: str) -> None:
        self._tasks.pop(job_id, None)
        if not self._tasks and self._beat is not None:
            self._beat.cancel()
            self._beat = None

    async def _heartbeat(self) -> None:
        """Touch the rows of this process's running jobs, so another process's resume leaves them alone."""
        while self._tasks:
            with contextlib.suppress(Exception):
                self.history.heartbeat(list(self._tasks), self.owner)
            await asyncio.sleep(owners.HEARTBEAT_S)  # real time, whatever sleep tests inject

    async def run(self, request: EditRequest, **kw: Any) -> JobRecord:
        rec = self.create(request, **kw)
        return await self.start(rec.id)

    def create_group(
        self,
        requests: Iterable[EditRequest],
        kind: str,
        *,
        total_guard: bool = True,
        parent_job_id: str | None = None,
    ) -> list[JobRecord]:
        """Several jobs that belong together (a provider comparison or a sweep), checked as a whole
        against the spend guard before any is written."""
        reqs = [r.resolved() for r in requests]
        for r in reqs:
            self.check(r)
        if self.guard is not None and total_guard:
            total: float | None = 0.0
            unknown = None
            for r in reqs:
                usd, _ = self.quoter(r) if self.quoter else (None, None)
                if usd is None:
                    unknown = unknown or r
                elif total is not None:
                    total += usd
            # One unknown price makes the group's unknown: the guard refuses it while a limit is set.
            self.guard(unknown or reqs[0], None if unknown is not None else total)
        group_id = uuid.uuid4().hex[:12]
        # The group's total was checked above: each job is not checked again on its own.
        return [
            self._create(
                r, check_spend=False, group_id=group_id, group_kind=kind, parent_job_id=parent_job_id
            )
            for r in reqs
        ]

    def active(self) -> list[str]:
        return list(self._tasks)

    def cancel(self, job_id: str) -> bool:
        """Cooperative cancel: the job's task stops at its next await, calls the provider's cancel
        where there is one, and ends ``cancelled``."""
        task = self._tasks.get(job_id)
        if task is None or task.done():
            return False
        self._cancel_requested.add(job_id)
        task.cancel()
        return True

    # ------------------------------------------------------------------ the state machine
    def _emit(self, job_id: str, state: JobState, **kw: Any) -> None:
        self.bus.publish(JobEvent(job_id=job_id, state=state, **kw))

    def _move(self, rec: JobRecord, state: JobState, **changes: Any) -> JobRecord:
        transition(rec.state, state)
        if state in TERMINAL:
            changes.setdefault("finished_at", time.time())
        rec = self.history.update(rec.id, state=state.value, **changes)
        self._emit(
            rec.id,
            state,
            progress=rec.progress,
            message=rec.message,
            error_kind=rec.error_kind,
            error_message=rec.error_message,
            billed_usd=rec.billed_usd,
        )
        return rec

    def _scrub(self, text: str) -> str:
        from ..storage.secrets import scrub

        return scrub(text, self.secrets.known_values())

    async def execute(self, job_id: str) -> JobRecord:
        rec = self.history.get(job_id)
        if rec.finished and not (rec.state == JobState.INTERRUPTED and rec.handle):
            return rec
        info: ProviderInfo | None = None
        provider: Provider | None = None
        started = time.monotonic()
        deadline = Deadline(self.config.timeout, retry_budget=self.config.retry_budget)
        try:
            info = self.registry.get(rec.provider)
            key = self._key(info)
            provider = self._provider(info, key, rec, deadline)
            if rec.state == JobState.QUEUED:
                refs = await self.preparer.prepare(rec.request, info, provider)
                sem = self._semaphores.setdefault(info.id, asyncio.Semaphore(self._limit(info)))
                async with sem:
                    rec = self._move(
                        rec,
                        JobState.SUBMITTING,
                        submits=rec.submits + 1,
                        endpoint=self._endpoint(info, rec),
                        message=SENTENCES[JobState.SUBMITTING],
                    )
                    sub = await provider.submit(rec.request, refs)
                    rec = self._move(
                        rec,
                        JobState.RUNNING,
                        provider_job_id=sub.provider_job_id,
                        handle=sub.handle,
                        billed_usd=sub.billed_usd,
                        progress=0.0,
                        submitted_at=time.time(),
                        message=SENTENCES[JobState.RUNNING],
                    )
                    result = sub.result or await self._poll(rec, provider, deadline)
            elif rec.state == JobState.SUBMITTING:
                out = recovery.lost_submit(rec, info.label, "FlexStudio stopped while sending this job")
                return self._move(rec, out.state, **out.changes)
            else:  # running or downloading when FlexStudio stopped, or interrupted: finish from the handle
                if not rec.handle:
                    raise JobGone("No polling handle was stored for this job.")
                # Downloading when FlexStudio stopped: it stays downloading (a job never goes back) while
                # the provider is asked for the result again (its URLs are not kept).
                if rec.state == JobState.INTERRUPTED:
                    rec = self._move(
                        rec,
                        JobState.RUNNING,
                        finished_at=None,
                        error_kind=None,
                        error_message=None,
                        message=SENTENCES[JobState.RUNNING],
                    )
                result = await self._poll(rec, provider, deadline)
            billed = result.billed_usd if result.billed_usd is not None else rec.billed_usd
            if rec.state == JobState.DOWNLOADING:
                rec = self.history.update(rec.id, billed_usd=billed, message=SENTENCES[JobState.DOWNLOADING])
            else:
                rec = self._move(
                    rec, JobState.DOWNLOADING, message=SENTENCES[JobState.DOWNLOADING], billed_usd=billed
                )
            gone = recovery.result_gone(rec, info.label)
            outputs = await polling.fetch_fresh(
                result, provider, info, self.blobs, lambda: self._poll(rec, provider, deadline), gone
            )
            return self._move(
                rec,
                JobState.SUCCEEDED,
                outputs=outputs,
                progress=1.0,
                latency_s=round(time.monotonic() - started, 3),
                message=SENTENCES[JobState.SUCCEEDED],
            )
        except asyncio.CancelledError:
            if job_id not in self._cancel_requested:
                # Shutting down, not a user's cancel: a submitted job is handed over as interrupted.
                self._hand_over(job_id, info)
                raise
            self._cancel_requested.discard(job_id)
            rec = self.history.get(job_id)
            note = "Cancelled."
            if provider is not None and info is not None and rec.handle:
                if info.capabilities.can_cancel:
                    with contextlib.suppress(Exception):
                        await asyncio.shield(asyncio.wait_for(provider.cancel(rec.handle), 10))
                    note = "Cancelled at the provider — it may still bill the time already used."
                else:
                    note = f"Cancelled — {info.label} cannot stop a job once sent, so it may still be billed."
            if not rec.finished:
                rec = self._move(rec, JobState.CANCELLED, message=note)
            return rec
        except Exception as exc:
            return self._settle(job_id, exc, info)

    def _hand_over(self, job_id: str, info: ProviderInfo | None) -> None:
        with contextlib.suppress(Exception):
            rec = self.history.get(job_id)
            if rec.state in (JobState.RUNNING, JobState.DOWNLOADING) and rec.handle:
                label = info.label if info else rec.provider
                out = recovery.interrupted(
                    rec, label, "FlexStudio closed before the result arrived", ErrorKind.NETWORK.value
                )
                self._move(rec, out.state, **out.changes)

    def _settle(self, job_id: str, exc: Exception, info: ProviderInfo | None) -> JobRecord:
        rec = self.history.get(job_id)
        if rec.finished:
            return rec
        if isinstance(exc, ProviderError) and exc.retry_after is not None:
            self.retry_after[job_id] = exc.retry_after  # a batch waits this long before launching again
        label = info.label if info else rec.provider
        if isinstance(exc, ProviderError) and exc.kind == ErrorKind.MODERATED:
            # Whether a moderated request is charged is the provider's rule (capability data): "not
            # billed" books $0; "may bill" and "unknown" keep what the provider reported (usually
            # nothing), and the spend guard counts the quote for them until a bill says otherwise.
            billing = info.capabilities.moderation_billing if info else ModerationBilling.UNKNOWN
            billed = 0.0 if billing is ModerationBilling.NOT_BILLED else rec.billed_usd
            return self._move(
                rec,
                JobState.MODERATED,
                error_kind=ErrorKind.MODERATED.value,
                error_message=self._scrub(str(exc)),
                billed_usd=billed,
                message=moderation_sentence(label, billing),
            )
        out = recovery.decide(rec, exc, label)
        if out.changes.get("error_message", "").startswith("Unexpected error"):
            log.error("job %s ended on an unexpected error", job_id, exc_info=exc)
        changes = dict(out.changes)
        if "error_message" in changes:
            changes["error_message"] = self._scrub(changes["error_message"])
        return self._move(rec, out.state, **changes)

    def _limit(self, info: ProviderInfo) -> int:
        """Jobs at once on one provider: what its capabilities say it admits (at least the configured
        floor). A batch schedules below this itself and adapts to 429s."""
        return max(self.config.concurrency, info.capabilities.max_concurrency)

    def _key(self, info: ProviderInfo) -> str | None:
        if not info.needs_key:
            return None
        key = self.secrets.get(info.id, info.env_var)
        if not key:
            raise MissingKey.of(info.label, info.id, info.env_var)
        return key

    async def prepare_ahead(self, refs: Iterable[Any], provider: str) -> None:
        """Prepare references for ``provider``'s pixel limit before Run — the window does it as images are
        added, while the prompt is being written — so a Run finds them ready and only the wire is left
        (best effort: see ``Preparer.ahead``)."""
        if provider not in self.registry:
            return
        await self.preparer.ahead(refs, self.registry.get(provider).capabilities.max_pixels)

    async def _poll(self, rec: JobRecord, provider: Provider, deadline: Deadline) -> Result:
        """Poll until the provider's verdict (``polling.until_done``), publishing each state and writing
        it to history when it changed (or every few seconds)."""

        def report(poll: PollResult, msg: str, write: bool) -> None:
            self._emit(
                rec.id,
                JobState(rec.state),
                progress=poll.progress,
                queue_position=poll.queue_position,
                waiting=poll.state == "queued",
                message=msg,
            )
            if write:
                self.history.update(rec.id, progress=poll.progress, message=msg)

        cfg = self.config
        pace = polling.Pace(cfg.poll_interval, cfg.max_poll_interval, cfg.min_poll_interval)
        return await polling.until_done(
            provider, rec.handle or {}, deadline, pace, report=report, sleep=self.sleep
        )

    # ------------------------------------------------------------------ after a crash
    async def resume_unfinished(self) -> list[JobRecord]:
        """Finish or settle every job a crash left unfinished and fetch every interrupted job that has a
        handle (the window does this at start and every few minutes). Jobs another live process is
        running are left alone; each job is claimed first, so two resuming processes never share one."""
        picked: list[JobRecord] = []
        for rec in self.history.resumable():
            if rec.id in self._tasks or owners.is_live(rec.owner, rec.heartbeat_at):
                continue
            if rec.owner == self.owner:  # created here and not started yet (a batch's next inputs): ours
                continue
            if self.history.claim(rec.id, self.owner, expected=rec.owner):
                picked.append(rec)
        if not picked:
            return []
        tasks = [self._track(rec.id, self._resume_one(rec)) for rec in picked]
        return list(await asyncio.gather(*tasks))

    async def resume_job(self, job_id: str) -> JobRecord:
        """Try one interrupted job again now ("Try again"); a job another live process runs is left alone."""
        rec = self.history.get(job_id)
        if job_id in self._tasks:
            return await self._tasks[job_id]
        resumable = rec.state == JobState.INTERRUPTED and rec.handle
        if not resumable or owners.is_live(rec.owner, rec.heartbeat_at):
            return rec
        if not self.history.claim(rec.id, self.owner, expected=rec.owner):
            return self.history.get(job_id)
        return await self._track(rec.id, self._resume_one(rec))

    def give_up(self, job_id: str) -> JobRecord:
        """Stop waiting for an interrupted job ("Give up"): it ends cancelled and is never fetched."""
        rec = self.history.get(job_id)
        if rec.state != JobState.INTERRUPTED or job_id in self._tasks:
            return rec
        label = self.registry.get(rec.provider).label if rec.provider in self.registry else rec.provider
        if rec.submits == 0:
            note = "Given up — it was never sent, so nothing was billed."
        elif rec.billed_usd is not None:
            note = f"Given up — {label} billed ${rec.billed_usd:.4f}; FlexStudio will not fetch it."
        else:
            amount = f" ${rec.quote_usd:.4f}" if rec.quote_usd is not None else ""
            note = f"Given up — {label} may have billed it{amount}; FlexStudio will not fetch it."
        return self._move(rec, JobState.CANCELLED, message=note)

    def _track(self, job_id: str, coro: Awaitable[JobRecord]) -> asyncio.Task[JobRecord]:
        task = asyncio.ensure_future(coro)
        self._tasks[job_id] = task
        task.add_done_callback(lambda _t: self._done(job_id))
        if self._beat is None or self._beat.done():
            self._beat = asyncio.ensure_future(self._heartbeat())
        return task

    async def _resume_one(self, rec: JobRecord) -> JobRecord:
        if rec.state == JobState.QUEUED:
            # Never sent: nothing can have been billed. Settle it rather than spend without asking.
            return self._move(
                rec,
                JobState.INTERRUPTED,
                error_kind=ErrorKind.NETWORK.value,
                owner=None,
                error_message="FlexStudio stopped before this job was sent; nothing was billed. "
                "Re-run it from the history.",
                message=recovery.NOT_SENT,
            )
        return await self.execute(rec.id)
