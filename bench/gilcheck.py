"""Which worker-thread steps of an edit block the GUI thread by holding the GIL.

The window runs Pillow and Qt image work in ``asyncio.to_thread``; that only keeps the GUI responsive if
the call releases the GIL. Each step here runs in a thread while the main thread ticks every 5 ms; the
worst gap between ticks is how long that step can freeze the window on its own."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def worst_gap_ms(work: Callable[[], Any]) -> tuple[float, float]:
    """(wall ms of ``work`` in a thread, worst lateness in ms of a 5 ms tick on this thread meanwhile)."""
    done = threading.Event()

    def run() -> None:
        try:
            work()
        finally:
            done.set()

    t = threading.Thread(target=run)
    start = last = time.perf_counter()
    worst = 0.0
    t.start()
    while not done.is_set():
        time.sleep(0.005)
        now = time.perf_counter()
        worst = max(worst, now - last - 0.005)
        last = now
    t.join()
    return (time.perf_counter() - start) * 1000, worst * 1000


def check(photo: Path) -> dict[str, dict[str, float]]:
    from PIL import Image
    from PySide6.QtGui import QGuiApplication, QImage

    from flexstudio.core import images
    from flexstudio.core.request import EditRequest
    from flexstudio.providers.base import PreparedReference
    from flexstudio.providers.sandbox import render

    _app = QGuiApplication.instance() or QGuiApplication(["bench"])
    raw = photo.read_bytes()
    prep = images.prepare(raw)
    result = Image.effect_noise((2048, 2048), 50).convert("RGB")
    buf = io.BytesIO()
    result.save(buf, "JPEG", quality=92)
    jpeg4 = buf.getvalue()
    refs = [PreparedReference(prep.data, prep.mime, prep.width, prep.height, "a" * 64)] * 8
    req = EditRequest(prompt="bench", seed=1, size=(2048, 2048))
    steps: dict[str, Callable[[], Any]] = {
        "QImage.fromData(4 MP JPEG) (a Qt decoder through PySide)": lambda: QImage.fromData(jpeg4),
        "Pillow decode 4 MP JPEG (for comparison)": lambda: Image.open(io.BytesIO(jpeg4)).load(),
        "core.images.prepare(24 MP)": lambda: images.prepare(raw),
        "core.images.thumbnail(24 MP → 96)": lambda: images.thumbnail(raw, 96),
        "core.images.verify_output(4 MP)": lambda: images.verify_output(jpeg4),
        "providers.sandbox.render(8 refs → 4 MP)": lambda: render(req, refs, 2048, 2048),
    }
    out = {}
    for name, fn in steps.items():
        fn()  # warm
        wall, gap = worst_gap_ms(fn)
        out[name] = {"work_ms": round(wall, 1), "gui_blocked_ms": round(gap, 1)}
    return out
