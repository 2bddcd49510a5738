"""The one way the window runs a coroutine: errors become a message in the window (never a traceback,
never swallowed by qasync), the UI is restored in ``finally``, and "latest wins" for keyed work."""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any

from PySide6.QtCore import QObject, Signal

from ...core.errors import FlexError
from .aio import asyncio

log = logging.getLogger(__name__)


def describe(exc: BaseException, what: str = "") -> str:
    """One sentence for a person: a ``FlexError`` says it itself; anything else is named plainly."""
    if isinstance(exc, FlexError):
        return str(exc)
    if isinstance(exc, OSError) and exc.strerror:
        where = f" ({exc.filename})" if exc.filename else ""
        return f"{what or 'That'} failed: {exc.strerror}{where}."
    detail = str(exc) or type(exc).__name__
    return f"{what or 'That'} failed unexpectedly ({type(exc).__name__}: {detail}). Details are in the log."


class TaskRunner(QObject):
    """Owns every coroutine the window starts. ``failed`` carries the sentence to show."""

    failed = Signal(str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._tasks: set[asyncio.Task[Any]] = set()
        self._latest: dict[str, asyncio.Task[Any]] = {}

    def spawn(
        self,
        coro: Coroutine[Any, Any, Any],
        *,
        what: str = "",
        key: str | None = None,
        restore: Callable[[], None] | None = None,
        quiet: bool = False,
    ) -> asyncio.Task[Any]:
        """Run ``coro`` on the loop. With ``key``, a previous task of that key still running is cancelled
        (latest request wins). ``restore`` runs when it ends, however it ends. ``quiet`` logs failures
        instead of showing them (background work such as thumbnails)."""
        if key is not None:
            previous = self._latest.get(key)
            if previous is not None and not previous.done():
                previous.cancel()
        task = asyncio.ensure_future(self._guard(coro, what, restore, quiet))
        task.add_done_callback(lambda _t: coro.close())  # cancelled before it started: no "never awaited"
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        if key is not None:
            self._latest[key] = task
            task.add_done_callback(lambda t, k=key: self._latest.get(k) is t and self._latest.pop(k, None))
        return task

    async def _guard(
        self, coro: Coroutine[Any, Any, Any], what: str, restore: Callable[[], None] | None, quiet: bool
    ) -> Any:
        try:
            return await coro
        except asyncio.CancelledError:
            return None
        except Exception as exc:
            if not isinstance(exc, FlexError):
                log.exception("%s failed", what or "a window task")
            if quiet:
                log.warning("%s: %s", what or "background task", exc)
            else:
                try:
                    self.failed.emit(describe(exc, what))
                except RuntimeError:  # the window is already gone
                    log.warning("%s: %s", what or "a window task", exc)
            return None
        finally:
            if restore is not None:
                try:
                    restore()
                except Exception:
                    log.exception("restoring the window after %s failed", what or "a task")

    def pending(self) -> int:
        return sum(1 for t in self._tasks if not t.done())

    def cancel_all(self) -> None:
        """Cancel everything still running (the window is closing); ``drain`` waits for it."""
        for t in self._tasks:
            if not t.done():
                t.cancel()

    async def drain(self) -> None:
        """Cancel everything still running and wait for it (window shutdown, tests)."""
        tasks = [t for t in self._tasks if not t.done()]
        for t in tasks:
            t.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
