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
        return [
            (f"{f.f_code.co_filename.rsplit('/', 1)[-1]}:{f.f_code.co_firstlineno}", v)
            for f in self.frames
            for v in f.f_locals.values()
            if isinstance(v, QPainter)
        ]


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


def test_a_batch_of_many_sandbox_inputs_reaches_the_window_on_its_thread_without_job_cards(
    open_window: Any, qtbot: Any, tmp_path: Any
) -> None:
    import threading

    from PIL import Image

    w = open_window()
    gui = threading.get_ident()
    seen: list[tuple[str, int]] = []
    unsubscribe = w.services.bus.subscribe(lambda ev: seen.append((ev.state, threading.get_ident())))
    folder = tmp_path / "shots"
    folder.mkdir()
    for i in range(24):
        Image.new("RGB", (96, 64), (i * 10 % 255, 100, 50)).save(folder / f"shot{i:02d}.png")
    w.prompt.setPlainText("the same retouch on every shot")
    w.actions_["batch"].trigger()
    dlg = w.controller.groups.batch_dialog
    dlg.out.setText(str(tmp_path / "out"))
    dlg.add_inputs([folder])
    qtbot.waitUntil(lambda: dlg.launch_button.isEnabled(), timeout=10000)
    assert dlg.launch()
    qtbot.waitUntil(lambda: dlg.sheet_button.isEnabled(), timeout=60000)
    assert dlg.bar.value() == 24
    # every input succeeds: the window's recovery round never settles a batch's not-yet-started job as
    # "FlexStudio stopped before this job was sent"
    qtbot.waitUntil(lambda: sum(1 for state, _ in seen if state == "succeeded") == 24, timeout=10000)
    assert not any(state == "interrupted" for state, _ in seen)
    unsubscribe()
    assert {t for _, t in seen} == {gui}, "job events reached the window from a worker thread"
    # the Batch dialog's card shows the batch: its 24 jobs have no job card of their own
    assert w.jobs_panel.cards == {} and len(w.jobs_panel.elsewhere) == 24


def test_jobs_finishing_together_refresh_the_spend_readouts_once(
    open_window: Any, qtbot: Any, monkeypatch: Any
) -> None:
    from flexstudio.core.job_state import JobState
    from flexstudio.jobs.events import JobEvent

    w = open_window()
    calls: list[int] = []
    show = w.cost.show_spend
    monkeypatch.setattr(w.cost, "show_spend", lambda *a: (calls.append(1), show(*a))[1])
    for i in range(20):  # twenty jobs of a batch ending in one go
        w.controller.job_finished(JobEvent(job_id=f"gone{i}", state=JobState.SUCCEEDED))
    assert calls == []
    qtbot.waitUntil(lambda: len(calls) >= 1, timeout=5000)
    assert len(calls) == 1 and not w._spend_timer.isActive()  # one refresh, none pending
    assert w.cost.spend.full_text().startswith("Spent: session $0.00")
