"""``flexstudio.app.main``: the real entry point, in its own process (its own QApplication and qasync
loop): the window opens, paints before asyncio / qasync / Pillow / httpx / keyring / hashlib load, saves
its layout and shuts down cleanly."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.gui

SCRIPT = textwrap.dedent("""
    import gc, sys, time
    started = time.perf_counter()
    from PySide6 import QtWidgets
    from PySide6.QtCore import QTimer
    from flexstudio.ui.window import main_window

    painted = {}
    original = main_window.MainWindow.after_first_paint

    def after_first_paint(self, **kw):
        painted["at"] = time.perf_counter() - started
        original(self, **kw)
        QTimer.singleShot(300, lambda: (painted.__setitem__("gc_open", gc.isenabled()),
                                        painted.__setitem__("switch", sys.getswitchinterval()),
                                        painted.__setitem__("typed", all(n in vars(QtWidgets) for n in ("QTabWidget", "QStyle"))),
                                        painted.__setitem__("workers", workers()), self.close()))

    def workers():
        import asyncio
        pool = asyncio.get_event_loop()._QEventLoop__default_executor  # asyncio.to_thread's threads
        return pool._QThreadExecutor__max_workers

    main_window.MainWindow.after_first_paint = after_first_paint
    from flexstudio import app
    original_show = app.show_and_paint

    def show_and_paint(window, *a, **kw):
        original_show(window, *a, **kw)
        painted["loaded_at_paint"] = sorted(
            m for m in ("asyncio", "qasync", "PIL", "httpx", "keyring", "hashlib", "secrets") if m in sys.modules
        )
        painted["gc_at_paint"] = gc.isenabled()
        painted["typed_at_paint"] = "QTabWidget" in vars(QtWidgets)

    app.show_and_paint = show_and_paint
    rc = app.main([])
    print(f"first paint {painted['at'] * 1000:.0f} ms; loaded when painted: {painted['loaded_at_paint']}")
    print(f"collector: at paint {painted['gc_at_paint']}, while open {painted['gc_open']}, "
          f"after main {gc.isenabled()}")
    print(f"switch interval while open: {painted['switch'] * 1000:g} ms")
    print(f"Qt-made objects typed: at paint {painted['typed_at_paint']}, while open {painted['typed']}")
    print(f"worker threads: {painted['workers']} (cores {app._cores()})")
    sys.exit(rc)
""")


def test_main_opens_the_window_and_closes_cleanly(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "FLEXSTUDIO_HOME": str(tmp_path),
        "QT_QPA_PLATFORM": "offscreen",
        "QT_API": "pyside6",
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
    }
    proc = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    print("\n" + proc.stdout.strip())
    assert "loaded when painted: []" in proc.stdout  # asyncio, qasync, PIL, httpx, keyring, hashlib: after
    # the cyclic collector is off for the start-up only (no passes over start-up objects before the paint)
    assert "collector: at paint False, while open True, after main True" in proc.stdout
    # the GUI thread gets the interpreter back within 1 ms of a worker thread's Python (default: 5 ms)
    assert "switch interval while open: 1 ms" in proc.stdout
    # PySide6's one-off typing of objects Qt made (≈ 130 classes) is done after the paint, before any use
    assert "Qt-made objects typed: at paint False, while open True" in proc.stdout
    # as many worker threads as the cores can run, and one more (qasync's default is ten)
    cores = min(8, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 2)
    assert f"worker threads: {cores + 1} (cores " in proc.stdout
    settings = json.loads((tmp_path / "config" / "settings.json").read_text())
    assert settings["ui"]["geometry"] and settings["ui"]["splitter.main_split"]
