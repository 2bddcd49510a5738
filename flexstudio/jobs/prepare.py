"""Preparing a job's references for its provider, and handing each to the provider's upload.

A reference is decoded, scaled to the provider's pixel limit and encoded once per (image, limit): from
memory, else from the prepared store (a re-run decodes nothing), else made now in a worker thread and
kept in both. However many jobs start at once, at most ``PREPARE_PARALLEL`` full-size decodes exist
(memory stays bounded), and uploading reference k overlaps preparing the next ones.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ..core.errors import BadInput
from ..core.request import EditRequest
from ..providers.base import PreparedReference, Provider, ProviderInfo

if TYPE_CHECKING:
    from ..core.images import PreparedCache
    from ..storage.blobs import BlobStore
    from ..storage.prepared import PreparedStore

log = logging.getLogger(__name__)
PREPARE_PARALLEL = 2  # references prepared at once by all jobs together (Pillow releases the GIL)


class Preparer:
    """The references of every job of one runner: one memory cache, one gate, one lock per image."""

    def __init__(self, blobs: BlobStore, prepared: PreparedStore | None = None) -> None:
        self.blobs = blobs
        # Prepared references kept between runs (source hash + target → prepared bytes), when given.
        self.prepared = prepared
        self.cache: PreparedCache | None = None  # made on first use (it brings Pillow)
        self._locks: dict[tuple[str, int], threading.Lock] = {}
        self._gate: tuple[asyncio.AbstractEventLoop, asyncio.Semaphore] | None = None

    def gate(self) -> asyncio.Semaphore:
        """One gate for every job of this runner: however many jobs start at once, no more than
        ``PREPARE_PARALLEL`` full-size decodes exist."""
        loop = asyncio.get_running_loop()
        if self._gate is None or self._gate[0] is not loop:
            self._gate = (loop, asyncio.Semaphore(PREPARE_PARALLEL))
        return self._gate[1]

    def memory(self) -> PreparedCache:
        if self.cache is None:
            from ..core import images

            self.cache = images.PreparedCache()
        return self.cache

    def prepare_one(self, ref: Any, max_px: int) -> tuple[PreparedReference, PreparedReference | None]:
        """Worker-thread side: the prepared reference (from memory, the prepared store, or made now), and
        the prepared image when it was made now (to be kept for re-runs)."""
        cache = self.memory()
        # one preparation per image at a time: the cells of a sweep wait for it instead of repeating it
        with self._locks.setdefault((ref.sha256, max_px), threading.Lock()):
            prepared = cache.get(ref.sha256, max_px)
            if prepared is None and self.prepared is not None:
                prepared = self.prepared.get(ref.sha256, max_px)  # a re-run decodes nothing
                if prepared is not None and hasattr(cache, "add"):
                    cache.add(prepared, max_px)
            fresh = prepared is None
            if prepared is None:
                prepared = cache.prepare(
                    self.blobs.get(ref.sha256), max_pixels=max_px, name=ref.name, sha256=ref.sha256
                )
        return prepared, (prepared if fresh else None)

    async def ahead(self, refs: Iterable[Any], max_px: int) -> None:
        """Prepare references for a pixel limit before Run, one at a time through the gate (a Run
        starting meanwhile keeps a slot of its own); best effort: a reference that cannot be prepared is
        left for the Run to report."""
        cache = self.memory()
        for ref in refs:
            if cache.get(ref.sha256, max_px) is not None:
                continue
            try:
                async with self.gate():
                    _, fresh = await asyncio.to_thread(self.prepare_one, ref, max_px)
                if fresh is not None and self.prepared is not None:
                    await asyncio.to_thread(self.prepared.put, fresh, max_px)
            except (BadInput, OSError) as exc:
                log.info("preparing %s ahead failed: %s", ref.name or ref.sha256[:12], exc)

    async def prepare(
        self, request: EditRequest, info: ProviderInfo, provider: Provider | None = None
    ) -> list[PreparedReference]:
        """Prepare the references off the event loop, at most ``PREPARE_PARALLEL`` at a time, and hand
        each to the provider's ``stage`` (its upload) as soon as it is ready: uploading reference k
        overlaps preparing the next ones, the submit starts when the last upload is done, and no more than
        ``PREPARE_PARALLEL`` full-size decodes exist at once (memory stays bounded)."""
        if not request.references:
            return []
        max_px = info.capabilities.max_pixels
        cache = self.memory()
        stage = getattr(provider, "stage", None)
        if stage is not None and not provider.should_stage(request):  # type: ignore[union-attr]
            stage = None

        out: list[PreparedReference | None] = [None] * len(request.references)
        gate = self.gate()

        async def one(i: int, ref: Any) -> None:
            ready = cache.get(ref.sha256, max_px)  # prepared ahead or by another job: no slot needed
            if ready is not None:
                prepared, fresh = ready, None
            else:
                async with gate:  # taken in order: reference 1 and 2 first, then each as a slot frees
                    prepared, fresh = await asyncio.to_thread(self.prepare_one, ref, max_px)
            out[i] = prepared
            if stage is not None:
                await stage(prepared)
            if fresh is not None and self.prepared is not None:  # kept for re-runs, off the critical path
                await asyncio.to_thread(self.prepared.put, fresh, max_px)

        tasks = [asyncio.ensure_future(one(i, ref)) for i, ref in enumerate(request.references)]
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                if not task.done():
                    task.cancel()
        return [p for p in out if p is not None]
