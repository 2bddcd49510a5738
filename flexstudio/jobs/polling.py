"""After the submit: polling a provider until its verdict, and bringing the result's images home.

A poll that fails without the provider's verdict is asked again (capped backoff, ``Retry-After``) while
the job's retry budget lasts; the job's ``Deadline`` ends the wait. The pause between polls follows
``pacing.poll_pause``. What comes back must be a usable image: a web page where the image should be is a
network fault (the job stays resumable), anything else unusable is the provider's verdict.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..core.errors import BadInput, ErrorKind, JobGone, ProviderError, verdict
from ..core.job_state import SENTENCES, JobState
from ..providers.base import PollResult, Provider, ProviderInfo, Result
from ..providers.deadline import Deadline
from . import recovery
from .pacing import poll_pause

if TYPE_CHECKING:
    from ..storage.blobs import BlobStore
    from ..storage.history import Output

# (the poll, the sentence for it, whether it is worth writing to history now)
Report = Callable[[PollResult, str, bool], None]
WRITE_EVERY_S = 2.0  # an unchanged state is written to history at most this often


@dataclass(frozen=True)
class Pace:
    """The pause between polls: starts at ``interval``, grows ×1.15 up to ``maximum``; progress may cut
    it down to ``minimum``."""

    interval: float
    maximum: float
    minimum: float


async def until_done(
    provider: Provider,
    handle: Mapping[str, Any],
    deadline: Deadline,
    pace: Pace,
    *,
    report: Report,
    sleep: Callable[[float], Awaitable[None]] | None = None,
) -> Result:
    """Poll until done and return the provider's result (with the bill a poll reported)."""
    from ..providers.http import RETRY

    interval = pace.interval
    last_write = 0.0
    last_state: tuple[Any, ...] = ()
    sleep = sleep or asyncio.sleep
    failures = 0
    seen: deque[tuple[float, float | None]] = deque(maxlen=2)  # (when, reported progress) of the last polls
    while True:
        deadline.check(provider.info.label)
        try:
            poll = await provider.poll(handle)
        except ProviderError as exc:
            wait = min(
                exc.retry_after if exc.retry_after is not None else RETRY.backoff(failures),
                RETRY.max_retry_after,
            )
            if not recovery.retry_in_run(exc) or not deadline.may_retry(wait):
                if deadline.expired and not exc.verdict and not isinstance(exc, JobGone):
                    raise deadline.exceeded(provider.info.label) from exc
                raise
            deadline.note_wait(wait, retry=True)
            await sleep(wait)
            failures += 1
            continue
        failures = 0
        if poll.state == "done":
            return _result(poll, provider.info.label)
        now = time.monotonic()
        msg = poll.message or (
            f"In the queue, position {poll.queue_position}."
            if poll.queue_position is not None and poll.state == "queued"
            else SENTENCES[JobState.RUNNING]
        )
        state_key = (poll.state, poll.queue_position, msg)
        write = state_key != last_state or now - last_write > WRITE_EVERY_S
        report(poll, msg, write)
        if write:
            last_state, last_write = state_key, now
        deadline.check(provider.info.label)
        seen.append((now, poll.progress))
        pause = deadline.cap(poll_pause(seen, interval, pace.minimum))
        deadline.note_wait(pause)
        await sleep(pause)
        interval = min(pace.maximum, interval * 1.15)


def _result(poll: PollResult, label: str) -> Result:
    if poll.result is None:
        raise ProviderError(f"{label} said done but sent no result.")
    if poll.billed_usd is not None and poll.result.billed_usd is None:
        return Result(
            poll.result.urls,
            poll.result.images,
            poll.result.seed,
            poll.billed_usd,
            poll.result.revised_prompt,
        )
    return poll.result


async def fetch_outputs(
    result: Result, provider: Provider, info: ProviderInfo, blobs: BlobStore
) -> list[Output]:
    """Download the result's images, check each is a usable image and keep it in the blob store."""
    from ..core import images
    from ..storage.history import Output

    data_list: list[bytes] = list(result.images)
    for url in result.urls:
        data_list.append(await provider.download(url))
    if not data_list:
        raise verdict(ProviderError(f"{info.label} finished without an image."))
    outputs = []
    for data in data_list:
        try:
            fmt, w, h = await asyncio.to_thread(images.verify_output, data)
        except BadInput as exc:
            if not data or data.lstrip()[:1] == b"<":
                # No bytes at all, or a web page where the image should be (a captive portal, a CDN
                # error page): not the provider's result, so the job stays resumable.
                what = "a web page instead of the image" if data else "no bytes at all"
                raise ProviderError(
                    f"The result link of {info.label} answered with {what}.", kind=ErrorKind.NETWORK
                ) from None
            raise verdict(
                ProviderError(
                    f"{info.label} sent a result that is not a usable image ({exc}).",
                    kind=ErrorKind.PROVIDER,
                )
            ) from None
        mime = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}.get(
            fmt.upper(), f"image/{fmt.lower()}"
        )
        sha = await asyncio.to_thread(blobs.put, data, mime)
        outputs.append(Output(sha, mime, w, h))
    return outputs


async def fetch_fresh(
    result: Result,
    provider: Provider,
    info: ProviderInfo,
    blobs: BlobStore,
    ask_again: Callable[[], Awaitable[Result]],
    gone: str,
) -> list[Output]:
    """``fetch_outputs``, and when the result link has expired, ask the provider for the result once more:
    while it still knows the job it gives the result again, with a fresh link. When it no longer knows
    the job, or gives the same expired link, the result is gone there: the job ends ``failed`` (kind
    expired) with the sentence ``gone`` (what was billed, and to run it again)."""
    try:
        return await fetch_outputs(result, provider, info, blobs)
    except ProviderError as exc:
        if exc.kind != ErrorKind.EXPIRED or not result.urls:
            raise
    try:
        again = await ask_again()
    except JobGone:
        raise verdict(ProviderError(gone, kind=ErrorKind.EXPIRED)) from None
    if not again.images and (not again.urls or set(again.urls) <= set(result.urls)):
        raise verdict(ProviderError(gone, kind=ErrorKind.EXPIRED))
    try:
        return await fetch_outputs(again, provider, info, blobs)
    except ProviderError as exc:
        if exc.kind == ErrorKind.EXPIRED:
            raise verdict(ProviderError(gone, kind=ErrorKind.EXPIRED)) from None
        raise
