"""Qt helpers: a paint watch (first Paint event of a widget) and a stall probe (a 5 ms timer recording its
own lateness, with a watchdog thread that samples the GUI thread's Python stack while it is late, so a
stall comes with the code that caused it)."""

from __future__ import annotations

import collections
import sys
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QEvent, QObject, Qt, QTimer

INTERVAL_MS = 5


class PaintWatch(QObject):
    """Calls ``on_paint(t)`` (time.monotonic) at the first Paint event ``target`` receives."""

    def __init__(self, target: Any, on_paint: Callable[[float], None]) -> None:
        super().__init__()
        self.target = target
        self.on_paint = on_paint
        self.fired = False
        target.installEventFilter(self)

    def eventFilter(self, obj: Any, event: Any) -> bool:
        if not self.fired and event.type() == QEvent.Type.Paint:
            self.fired = True
            self.on_paint(time.monotonic())
        return False


class EventTracker(QObject):
    """An application-wide event filter remembering the event being dispatched (type, receiver), so a
    stall spent in Qt's own code (layout, painting) can still be attributed."""

    def __init__(self) -> None:
        super().__init__()
        self.current: tuple[str, str] = ("", "")
        self.recent: collections.deque[tuple[float, str, str]] = collections.deque(maxlen=400)

    def eventFilter(self, obj: Any, event: Any) -> bool:
        try:
            kind = event.type().name
        except Exception:
            kind = str(int(event.type()))
        self.current = (kind, type(obj).__name__ + (f"#{obj.objectName()}" if obj.objectName() else ""))
        self.recent.append((time.perf_counter(), *self.current))
        return False

    def longest_between(self, t0: float, t1: float) -> list[str]:
        """Events dispatched in [t0, t1], the longest first (an event lasts until the next one starts)."""
        ev = [e for e in self.recent if t0 <= e[0] <= t1]
        spans = [
            (((ev[i + 1][0] if i + 1 < len(ev) else t1) - e[0]) * 1000, e[1], e[2]) for i, e in enumerate(ev)
        ]
        spans.sort(reverse=True)
        return [f"{kind} → {recv} {ms:.0f} ms" for ms, kind, recv in spans[:3] if ms >= 2]


class StallProbe(QObject):
    def __init__(
        self, threshold_ms: float = 12.0, sample_every_ms: float = 2.0, track_events: bool = True
    ) -> None:
        super().__init__()
        self.tracker: EventTracker | None = None
        if track_events:
            from PySide6.QtWidgets import QApplication

            self.tracker = EventTracker()
            self._app = QApplication.instance()
        self.timer = QTimer(self)
        self.timer.setTimerType(Qt.TimerType.PreciseTimer)
        self.timer.setInterval(INTERVAL_MS)
        self.timer.timeout.connect(self._tick)
        self.last = 0.0
        self.late_ms: list[float] = []
        self.threshold = threshold_ms / 1000
        self.sample_every = sample_every_ms / 1000
        self._main = threading.get_ident()
        self._stop = threading.Event()
        self._watch: threading.Thread | None = None
        self._current: list[traceback.StackSummary] = []  # stacks sampled in the ongoing stall
        self.stalls: list[
            tuple[float, float, list[traceback.StackSummary], list[str]]
        ] = []  # (at, ms, samples)
        self.t0 = 0.0

    # ------------------------------------------------------------------ control
    def start(self) -> None:
        if self.tracker is not None:
            self._app.installEventFilter(self.tracker)
        self.t0 = self.last = time.perf_counter()
        self.timer.start()
        self._stop.clear()
        self._watch = threading.Thread(target=self._watchdog, name="stall-watchdog", daemon=True)
        self._watch.start()

    def stop(self) -> None:
        self.timer.stop()
        if self.tracker is not None:
            self._app.removeEventFilter(self.tracker)
        self._stop.set()
        if self._watch is not None:
            self._watch.join(1)

    def _tick(self) -> None:
        now = time.perf_counter()
        late = (now - self.last) * 1000 - INTERVAL_MS
        self.late_ms.append(late)
        if late > self.threshold * 1000 - INTERVAL_MS:
            events = self.tracker.longest_between(self.last, now) if self.tracker is not None else []
            self.stalls.append((self.last - self.t0, late, self._current, events))
        self._current = []
        self.last = now

    def _watchdog(self) -> None:
        while not self._stop.wait(self.sample_every):
            if time.perf_counter() - self.last > self.threshold:
                frame = sys._current_frames().get(self._main)
                if frame is not None:
                    stack = traceback.extract_stack(frame)
                    del frame  # a kept frame keeps its locals (a QPainter, say) alive after it returns
                    if self.tracker is not None:
                        kind, receiver = self.tracker.current
                        stack.append(traceback.FrameSummary(f"<Qt event {kind}>", 0, receiver, line=""))
                    self._current.append(stack)

    # ------------------------------------------------------------------ results
    @property
    def worst_ms(self) -> float:
        return max(self.late_ms, default=0.0)

    def percentile(self, q: float) -> float:
        if not self.late_ms:
            return 0.0
        s = sorted(self.late_ms)
        return s[min(len(s) - 1, int(q * len(s)))]

    def report(self, top: int = 3) -> list[dict[str, Any]]:
        """The worst stalls, each with the GUI thread's most sampled stack (innermost frames last)."""
        out = []
        for at, ms, samples, events in sorted(self.stalls, key=lambda s: -s[1])[:top]:
            entry: dict[str, Any] = {
                "at_s": round(at, 3),
                "late_ms": round(ms, 1),
                "samples": len(samples),
                "events": events,
            }
            if samples:
                counts = collections.Counter(_key(s) for s in samples)
                key, n = counts.most_common(1)[0]
                entry["stack"] = list(key)
                entry["share"] = f"{n}/{len(samples)}"
            out.append(entry)
        return out


def _key(stack: traceback.StackSummary) -> tuple[str, ...]:
    """The innermost frames of a sampled stack as 'file:line func', skipping the probe's own frames."""
    frames = [f for f in stack if "bench/" not in f.filename or "launcher" in f.filename]
    frames = [f for f in frames if "qasync" not in f.filename and "runpy" not in f.filename][-7:]
    return tuple(
        f.filename
        if f.filename.startswith("<Qt") and f.lineno == 0 and not f.name
        else (
            f"{f.filename} → {f.name}"
            if f.filename.startswith("<Qt")
            else f"{_short(f.filename)}:{f.lineno} {f.name}"
        )
        for f in frames
    )


def _short(path: str) -> str:
    for marker in ("/flexstudio/", "/site-packages/", "/bench/", "/lib/python"):
        i = path.rfind(marker)
        if i >= 0:
            return path[i + 1 :]
    return path
