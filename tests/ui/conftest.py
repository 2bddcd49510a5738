"""Window tests: offscreen Qt, a running qasync loop that ``qtbot.waitUntil`` drives, services on the
test's own FLEXSTUDIO_HOME with an in-memory keyring, and image makers."""

from __future__ import annotations

import asyncio
import io
import os
from collections.abc import Callable, Coroutine, Iterator
from typing import Any

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("QT_API", "pyside6")


@pytest.fixture(autouse=True)
def no_real_file_dialogs(monkeypatch: pytest.MonkeyPatch) -> None:
    """A real modal folder dialog would wait for a click that never comes: a test that asks must answer."""
    from flexstudio.ui.dialogs import ask

    def unanswered(*_a: Any) -> str:
        raise AssertionError("a folder dialog was opened that the test does not answer (monkeypatch ask)")

    monkeypatch.setattr(ask, "existing_folder", unanswered)


class MemoryKeyring:
    """A keyring backend that keeps keys in a dict (tests never touch the OS keyring)."""

    def __init__(self) -> None:
        self.keys: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, user: str) -> str | None:
        return self.keys.get((service, user))

    def set_password(self, service: str, user: str, password: str) -> None:
        self.keys[(service, user)] = password

    def delete_password(self, service: str, user: str) -> None:
        self.keys.pop((service, user), None)


@pytest.fixture
def qloop(qapp: Any) -> Iterator[asyncio.AbstractEventLoop]:
    """A qasync loop marked as running on top of Qt's own: ``qtbot.waitUntil`` drives both."""
    import qasync

    loop = qasync.QEventLoop(qapp, already_running=True)
    asyncio.set_event_loop(loop)
    yield loop
    pending = [t for t in asyncio.all_tasks(loop) if not t.done()]
    for t in pending:
        t.cancel()
    for _ in range(200):
        if all(t.done() for t in pending):
            break
        qapp.processEvents()
    # Not loop.stop(): it calls QApplication.exit(), which leaves Qt's "quit now" flag set, and every
    # later QEventLoop.exec() — qtbot's waits in the next test — then returns at once: a silent hang.
    assert hasattr(loop, "_QEventLoop__is_running"), "qasync changed: review this teardown"
    loop._QEventLoop__is_running = False
    try:
        qapp.aboutToQuit.disconnect(loop._after_run_forever)
    except (RuntimeError, TypeError):
        pass
    qapp.processEvents()
    loop.close()
    asyncio.events._set_running_loop(None)
    asyncio.set_event_loop(None)


def run(qtbot: Any, coro: Coroutine[Any, Any, Any], timeout: int = 20000) -> Any:
    """Run a coroutine on the test's qasync loop and wait for it (from a plain, sync test)."""
    fut = asyncio.ensure_future(coro)
    qtbot.waitUntil(fut.done, timeout=timeout)
    return fut.result()


@pytest.fixture
def keyring_backend() -> MemoryKeyring:
    return MemoryKeyring()


@pytest.fixture
def make_services(keyring_backend: MemoryKeyring, qtbot: Any) -> Iterator[Callable[..., Any]]:
    from flexstudio.services import Services

    made: list[Any] = []

    def make(**kw: Any) -> Any:
        svc = Services.build(keyring_backend=keyring_backend, **kw)
        made.append(svc)
        return svc

    yield make
    for svc in made:
        run(qtbot, svc.aclose())


@pytest.fixture
def open_window(qloop: Any, qtbot: Any, make_services: Callable[..., Any]) -> Iterator[Callable[..., Any]]:
    """``open_window(services=None, resume=False)`` → a shown MainWindow whose deferred set-up ran."""
    from flexstudio.ui.window.main_window import MainWindow

    windows: list[Any] = []

    def open_(services: Any = None, *, resume: bool = False, size: tuple[int, int] = (1280, 800)) -> Any:
        svc = services or make_services()
        w = MainWindow(svc)
        w._ready = True  # the test runs the deferred set-up itself (resume or not)
        w.resize(*size)
        w.show()
        qtbot.waitExposed(w)
        w.activateWindow()  # keyboard shortcuts only reach the active window
        qtbot.waitUntil(w.isActiveWindow)
        w._ready = False
        w.after_first_paint(resume=resume)
        windows.append(w)
        return w

    yield open_
    for w in windows:  # closed and deleted here, not by qtbot: shutdown needs the window alive
        if w.isVisible():
            w.close()
        run(qtbot, w.shutdown())
        w.deleteLater()


def image_bytes(
    width: int,
    height: int,
    fmt: str = "PNG",
    colour: tuple[int, int, int] = (200, 80, 40),
    pattern: bool = True,
    quality: int = 85,
) -> bytes:
    from PIL import Image, ImageDraw

    im = Image.new("RGB", (width, height), colour)
    if pattern:
        d = ImageDraw.Draw(im)
        step = max(8, min(width, height) // 8)
        for x in range(0, width, step):
            d.line(
                (x, 0, width - x, height),
                fill=(255 - colour[0], colour[1], 255 - colour[2]),
                width=max(1, step // 6),
            )
    buf = io.BytesIO()
    im.save(buf, fmt, **({"quality": quality} if fmt == "JPEG" else {}))
    return buf.getvalue()


@pytest.fixture
def png_file(tmp_path: Any) -> Callable[..., Any]:
    def make(
        name: str, width: int = 320, height: int = 240, colour: tuple[int, int, int] = (200, 80, 40)
    ) -> Any:
        path = tmp_path / name
        path.write_bytes(image_bytes(width, height, "PNG", colour))
        return path

    return make
