"""Every painter a widget opens in its paintEvent is ended before the event returns, even while something
keeps the event's frame alive (a traceback, a debugger, a stack sampler such as bench's stall probe).
A painter left active on the window's backing store made the next widget painted there (a busy
QProgressBar of a job card) crash inside Qt during a 200-input batch."""

from __future__ import annotations

import sys
from types import FrameType
from typing import Any

from PySide6.QtGui import QPainter

from flexstudio.ui.widgets.jobs_panel import StateDot


class FrameKeeper:
    """Keeps the frame of every flexstudio ``paintEvent`` called on this thread, as a sampler would."""

    def __init__(self) -> None:
        self.frames: list[FrameType] = []

    def __enter__(self) -> FrameKeeper:
        sys.setprofile(self._hook)
        return self

    def __exit__(self, *exc: object) -> None:
        sys.setprofile(None)

    def _hook(self, frame: FrameType, event: str, arg: Any) -> None:
        code = frame.f_code
        if event == "call" and code.co_name in ("paintEvent", "_paint") and "flexstudio" in code.co_filename:
            self.frames.append(frame)

    def painters(self) -> list[tuple[str, QPainter]]:
        return [(f"{f.f_code.co_filename.rsplit('/', 1)[-1]}:{f.f_code.co_firstlineno}", v)
                for f in self.frames for v in f.f_locals.values() if isinstance(v, QPainter)]


def test_no_painter_outlives_its_paint_event(open_window: Any, qtbot: Any) -> None:
    w = open_window()
    dot = StateDot()
    qtbot.addWidget(dot)
    dot.set_colour("#2f9e44")
    dot.show()
    qtbot.waitExposed(dot)
    with FrameKeeper() as keeper:
        w.grab()  # paints the window and every child through their paintEvent
        dot.grab()
    painters = keeper.painters()
    where = {name for name, _ in painters}
    # the widgets that paint themselves were all painted: the state dot, the canvas, the tray, the history
    assert any(n.startswith("jobs_panel.py") for n in where), where
    assert any(n.startswith("before_after_canvas.py") for n in where), where
    assert any(n.startswith("tray.py") for n in where), where
    assert any(n.startswith("history_panel.py") for n in where), where
    active = sorted(name for name, p in painters if p.isActive())
    assert active == [], f"painters still active after their paint event: {active}"
