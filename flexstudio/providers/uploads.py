"""Reference uploads, once per provider account: a cache of uploaded references, shared by every job.

A provider with a file service (fal storage, Replicate's Files API, Kie's and RunAPI's upload endpoints)
uploads each prepared reference once and sends its URL. ``Uploads`` remembers those URLs, keyed by

    (provider profile, a fingerprint of the account key — a hash, never the key —,
     the prepared image's SHA-256, the size it was prepared at)

so re-runs, sweeps, comparisons, chains and batches send the URL instead of the bytes. The key includes
the profile and the account, so a URL is never sent to another provider or another account. Two jobs
that need the same reference at the same moment share one upload (in flight). A URL whose known expiry
is near is uploaded again; a URL the provider refuses is forgotten and uploaded again once by the
provider (``fresh=True``). The persistent store (``storage.uploads.UploadStore``, in the history database)
is injected; without one the cache lives as long as the ``Uploads`` object.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, cast

if TYPE_CHECKING:
    import asyncio

    from .base import PreparedReference

EXPIRY_MARGIN = 300.0  # seconds: a URL expiring sooner than this is not reused (a job still has to run)
MAX_PARALLEL = 2  # uploads at once per ``Uploads``: the uplink is shared; memory stays bounded


@dataclass(frozen=True, slots=True)
class UploadKey:
    profile: str  # the provider profile id (fal, replicate, a custom endpoint, …)
    account: str  # account_fingerprint(key)
    image_sha256: str  # SHA-256 of the prepared bytes that were uploaded
    target: str  # "WxH" the reference was prepared at


@dataclass(frozen=True, slots=True)
class Uploaded:
    url: str
    expires_at: float | None = None  # epoch seconds; None: the provider states no expiry


def account_fingerprint(key: str) -> str:
    """A stable, one-way fingerprint of an account key (never the key itself)."""
    return hashlib.sha256(b"flexstudio-upload-account\0" + key.encode("utf-8")).hexdigest()[:32]


def epoch_seconds(value: Any) -> float | None:
    """An ISO-8601 time (a file service's ``expires_at``) as epoch seconds, or None."""
    if not isinstance(value, str) or not value:
        return None
    from datetime import datetime

    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


class UploadStore(Protocol):
    def get(self, key: UploadKey) -> Uploaded | None: ...

    def put(self, key: UploadKey, item: Uploaded) -> None: ...

    def forget(self, key: UploadKey) -> None: ...


class MemoryUploadStore:
    """A store that lasts as long as the process (tests; a provider built without a history)."""

    def __init__(self) -> None:
        self.items: dict[UploadKey, Uploaded] = {}

    def get(self, key: UploadKey) -> Uploaded | None:
        return self.items.get(key)

    def put(self, key: UploadKey, item: Uploaded) -> None:
        self.items[key] = item

    def forget(self, key: UploadKey) -> None:
        self.items.pop(key, None)


@dataclass
class UploadStats:
    uploads: int = 0  # files sent to a file service
    bytes_uploaded: int = 0
    reused: int = 0  # URLs taken from the cache (or from an upload already in flight)
    inline: int = 0  # references small enough to travel inside the request
    inline_bytes: int = 0


class Uploads:
    """The cache plus in-flight sharing. Used from one event loop at a time."""

    def __init__(
        self,
        store: UploadStore | None = None,
        *,
        clock: Callable[[], float] = time.time,
        margin: float = EXPIRY_MARGIN,
        max_parallel: int = MAX_PARALLEL,
    ) -> None:
        self.store: UploadStore = store if store is not None else MemoryUploadStore()
        self.clock = clock
        self.margin = margin
        self.max_parallel = max_parallel
        self.stats = UploadStats()
        self._inflight: dict[UploadKey, asyncio.Future[str]] = {}
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}
        self._credentials: dict[tuple[str, str], tuple[Any, float]] = {}
        self._sem: asyncio.Semaphore | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _semaphore(self) -> asyncio.Semaphore:
        import asyncio  # on first use: the window paints before asyncio is loaded

        loop = asyncio.get_running_loop()
        if self._sem is None or self._loop is not loop:
            self._sem, self._loop = asyncio.Semaphore(self.max_parallel), loop
            self._inflight = {}
            self._locks = {}
        return self._sem

    async def credential(
        self, key: tuple[str, str], fetch: Callable[[], Awaitable[tuple[Any, float]]]
    ) -> Any:
        """A short-lived upload credential (fal's storage token) per (profile, account fingerprint),
        fetched once and shared until its expiry (kept in memory only, never stored)."""
        import asyncio

        self._semaphore()
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            held = self._credentials.get(key)
            if held is not None and held[1] - 30 > self.clock():
                return held[0]
            value, expires = await fetch()
            self._credentials[key] = (value, expires)
            return value

    def cached(self, key: UploadKey) -> str | None:
        """The cached URL when it is still good for a while, else None."""
        item = self.store.get(key)
        if item is None:
            return None
        if item.expires_at is not None and item.expires_at - self.margin <= self.clock():
            self.store.forget(key)
            return None
        return item.url

    def forget(self, key: UploadKey) -> None:
        self.store.forget(key)

    async def url(
        self, key: UploadKey, upload: Callable[[], Awaitable[Uploaded]], *, size: int = 0, fresh: bool = False
    ) -> tuple[str, bool]:
        """(URL, reused) for the reference ``key``: cached, shared with an upload in flight, or uploaded now
        with ``upload()``. ``fresh`` skips the cache (the provider refused the cached URL)."""
        import asyncio

        sem = self._semaphore()
        if fresh:
            self.store.forget(key)
        else:
            hit = self.cached(key)
            if hit is not None:
                self.stats.reused += 1
                return hit, True
        while (pending := self._inflight.get(key)) is not None:
            try:
                url = await asyncio.shield(pending)
            except asyncio.CancelledError:
                if pending.cancelled():  # the job that was uploading it was cancelled, not this one
                    continue
                raise
            self.stats.reused += 1
            return url, not fresh
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            async with sem:
                item = await upload()
            self.store.put(key, item)
            self.stats.uploads += 1
            self.stats.bytes_uploaded += size
            future.set_result(item.url)
            return item.url, False
        except asyncio.CancelledError:
            future.cancel()
            raise
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # marked retrieved: a failure nobody else waited for is not logged twice
            raise
        finally:
            if self._inflight.get(key) is future:
                del self._inflight[key]


class UploadingProvider:
    """What a provider with a file service shares (mixed into an ``HttpProvider``): references at or
    below ``inline_max_bytes`` travel inside the request (``inline_reference``); larger ones are uploaded
    once (``upload_reference``) and sent by URL. ``stage`` uploads one reference ahead of the submit (the
    job runner overlaps it with preparing the next one)."""

    inline_max_bytes: int = 0
    info: Any
    ctx: Any
    options: dict[str, Any]

    require_key: Callable[[], str]  # provided by HttpProvider

    async def upload_reference(self, ref: PreparedReference) -> Uploaded:  # pragma: no cover
        raise NotImplementedError

    def inline_reference(self, ref: PreparedReference) -> str | None:
        """The reference as a value to put in the request itself (a data URI), or None."""
        return None

    @property
    def uploads(self) -> Uploads:
        shared = getattr(self.ctx, "uploads", None)
        if shared is not None:
            return cast(Uploads, shared)
        own = self.__dict__.get("_own_uploads")
        if own is None:
            own = self.__dict__["_own_uploads"] = Uploads()
        return cast(Uploads, own)

    def _inline_limit(self) -> int:
        return int(self.options.get("inline_max_bytes", self.inline_max_bytes))

    def upload_key(self, ref: PreparedReference) -> UploadKey:
        return UploadKey(
            self.info.id,
            account_fingerprint(self.require_key()),
            hashlib.sha256(ref.data).hexdigest(),
            f"{ref.width}x{ref.height}",
        )

    async def _value(self, ref: PreparedReference, fresh: bool) -> tuple[str, bool]:
        if len(ref.data) <= self._inline_limit():
            inline = self.inline_reference(ref)
            if inline is not None:
                self.uploads.stats.inline += 1
                self.uploads.stats.inline_bytes += len(ref.data)
                return inline, False
        key = self.upload_key(ref)
        secret = self.require_key()

        async def upload() -> Uploaded:
            item = await self.upload_reference(ref)
            if secret and secret in item.url:
                from ..core.errors import ErrorKind, ProviderError

                raise ProviderError(
                    f"{self.info.label} returned an upload URL that carries the account key; it is not used.",
                    kind=ErrorKind.PROVIDER,
                )
            return item

        return await self.uploads.url(key, upload, size=len(ref.data), fresh=fresh)

    async def reference_values(
        self, refs: Sequence[PreparedReference], *, fresh: bool = False
    ) -> tuple[list[str], bool]:
        """(one value per reference — URL or inline —, whether any URL came from the cache)."""
        got = [await self._value(r, fresh) for r in refs]  # in order: uploads share one uplink anyway
        return [v for v, _ in got], any(reused for _, reused in got)

    def should_stage(self, request: Any) -> bool:
        """Whether this request's references go through the file service (not when the user gave URLs)."""
        return True

    async def stage(self, ref: PreparedReference) -> None:
        """Upload one reference now (or find it cached), so the submit only has to name its URL."""
        await self._value(ref, False)
