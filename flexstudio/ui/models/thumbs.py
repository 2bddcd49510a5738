"""Thumbnails for the tray and the history: made off the GUI thread (Pillow via ``core.images``, then
``QImage.fromData`` in the worker), turned into a QPixmap on the GUI thread, kept in an LRU cache."""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QImage, QPixmap

from .aio import asyncio

log = logging.getLogger(__name__)


def decode(data: bytes, size: int) -> QImage:
    """Worker-thread side: bytes of any accepted format → a QImage whose longer side is ≤ ``size``."""
    from ...core import images

    small = images.thumbnail(data, size)
    image = QImage.fromData(small)
    if image.isNull():
        raise ValueError("the thumbnail could not be decoded")
    return image


class ThumbnailCache(QObject):
    """``get`` answers at once from the cache (or None and starts loading); ``ready(sha, size)`` says a
    thumbnail has arrived. At most ``workers`` thumbnails are made at a time, newest request first."""

    ready = Signal(str, int)

    def __init__(
        self,
        read: Callable[[str], bytes],
        capacity: int = 600,
        workers: int = 2,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._read = read
        self._cache: OrderedDict[tuple[str, int], QPixmap] = OrderedDict()
        self._capacity = capacity
        self._failed: set[tuple[str, int]] = set()
        self._queue: list[tuple[str, int]] = []
        self._queued: set[tuple[str, int]] = set()
        self._workers = workers
        self._running = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._live = False  # no work before ``start`` (the event loop starts after the first paint)
        self.made = 0  # thumbnails decoded so far (tests check laziness with it)

    def peek(self, sha: str, size: int) -> QPixmap | None:
        key = (sha, size)
        pix = self._cache.get(key)
        if pix is not None:
            self._cache.move_to_end(key)
        return pix

    def get(self, sha: str, size: int) -> QPixmap | None:
        pix = self.peek(sha, size)
        if pix is None:
            self.request(sha, size)
        return pix

    def failed(self, sha: str, size: int) -> bool:
        return (sha, size) in self._failed

    def request(self, sha: str, size: int) -> None:
        key = (sha, size)
        if key in self._cache or key in self._failed or key in self._queued:
            return
        self._queue.append(key)
        self._queued.add(key)
        self._pump()

    def start(self) -> None:
        """The event loop runs: make what was asked for so far."""
        self._live = True
        self._pump()

    def _pump(self) -> None:
        if not self._live:
            return
        while self._running < self._workers and self._queue:
            key = self._queue.pop()  # newest first: what the user scrolled to last
            self._running += 1
            try:
                task = asyncio.ensure_future(self._load(key))
            except RuntimeError:  # no event loop (a window used without qasync): try again later
                self._running -= 1
                self._queue.append(key)
                return
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _load(self, key: tuple[str, int]) -> None:
        sha, size = key
        image: QImage | None = None
        try:
            image = await asyncio.to_thread(lambda: decode(self._read(sha), size))
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a missing or unreadable blob: remember it, show a placeholder
            log.info("thumbnail %s: %s", sha[:12], exc)
            self._failed.add(key)
        finally:
            self._running -= 1
            self._queued.discard(key)
        if image is not None:
            self.made += 1
            self._cache[key] = QPixmap.fromImage(image)
            while len(self._cache) > self._capacity:
                self._cache.popitem(last=False)
        self.ready.emit(sha, size)
        self._pump()

    def close(self) -> None:
        self._queue.clear()
        for t in list(self._tasks):
            t.cancel()
