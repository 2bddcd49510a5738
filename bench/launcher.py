"""Started in a subprocess by ``m_gui.py``: opens a window the way ``flexstudio.app.main`` does (or a bare
QMainWindow) and reports times as ``BENCH-RESULT {json}`` lines, then leaves with ``os._exit`` (a
qasync teardown is not part of any figure and can hang).

    python -m bench.launcher bare             # floor of the cold start
    python -m bench.launcher app              # cold start of the workbench
    python -m bench.launcher history          # open with the history already in FLEXSTUDIO_HOME, then scroll
    python -m bench.launcher stall REFS...    # a sandbox edit with these references, through the Run button

Times are ``time.monotonic()`` (CLOCK_MONOTONIC: the parent compares them with its own clock).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

T_START = time.monotonic()
# PySide6 6.12.0 drops a reference to None each time a C++ call hands back an invalid QVariant as None
# (QModelIndex.data() of an empty role, QStyleOptionViewItem.widget when unset): after ~20 000 such calls
# Python aborts with "none_dealloc: deallocating None". These extra references keep the process alive
# long enough to be measured; the loss is reported as "none_refs_lost" so the bug stays visible.
_NONE_GUARD = [None] * 2_000_000
_TASKS: list = []  # keeps the benchmark's own tasks alive


def say(obj: dict) -> None:
    sys.stdout.write("BENCH-RESULT " + json.dumps(obj) + "\n")
    sys.stdout.flush()


def leave(code: int = 0) -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


# -------------------------------------------------------------------------------------------- bare
def bare() -> None:
    from PySide6.QtWidgets import QApplication, QMainWindow

    from bench.qtprobe import PaintWatch

    app = QApplication(["bench"])
    w = QMainWindow()
    w.setWindowTitle("bare")
    w.resize(1280, 800)

    def painted(t: float) -> None:
        say({"paint": t, "start": T_START})
        leave()

    _watch = PaintWatch(w, painted)
    w.show()
    app.exec()


# -------------------------------------------------------------------------------- the app, as main()
def app_like_main(on_paint, at_paint=None) -> None:
    """``flexstudio.app.main`` through its own steps (create_app → build_services → build_window →
    show_and_paint → run_loop), with a paint watch on the window. ``at_paint(t, marks)`` runs at the first
    Paint event itself; ``on_paint(t, marks, window, services, loop)`` once the asyncio loop is up. Either
    may end the process."""
    from flexstudio import app as flexapp

    app = flexapp.create_app([])
    marks = {"before_services": time.monotonic(), "rss_before_services": rss_mb()}
    services = flexapp.build_services()
    if services is None:
        raise RuntimeError("the services could not be built")
    window = flexapp.build_window(services)
    marks["window_built"] = time.monotonic()

    from bench.qtprobe import PaintWatch

    painted: list[float] = []

    def paint(t: float) -> None:
        painted.append(t)
        marks["rss_at_paint"] = rss_mb()  # on_paint runs later, once the asyncio loop is up
        if at_paint is not None:
            at_paint(t, marks)

    watch = PaintWatch(window, paint)
    flexapp.show_and_paint(window)
    app._bench_keep = watch  # type: ignore[attr-defined]

    def started(loop) -> None:
        if not painted:
            say({"error": "the window was not painted"})
            leave(1)
        on_paint(painted[0], marks, window, services, loop)

    flexapp.run_loop(app, window, services, on_start=started)
    leave(0)


def app_mode(profile_path: str | None = None) -> None:
    prof = start_profile(profile_path)

    def painted(t, marks) -> None:
        stop_profile(prof, profile_path)
        say({"paint": t, "start": T_START, "services_to_paint": t - marks["before_services"]})
        leave()

    app_like_main(None, at_paint=painted)


# ------------------------------------------------------------------------------------------ helpers
async def wait_until(cond, limit_s: float, step: float = 0.01) -> bool:
    import asyncio

    end = time.monotonic() + limit_s
    while time.monotonic() < end:
        if cond():
            return True
        await asyncio.sleep(step)
    return cond()


def thumbs_idle(thumbs) -> bool:
    """The window's thumbnail cache has nothing queued or decoding (True if it cannot tell)."""
    return getattr(thumbs, "_running", 0) == 0 and not getattr(thumbs, "_queue", ())


def history_view(window):
    from PySide6.QtWidgets import QAbstractItemView

    for view in window.findChildren(QAbstractItemView):
        if view.model() is getattr(window, "history_model", None):
            return view
    raise RuntimeError("no item view shows window.history_model")


def start_profile(path: str | None):
    if not path:
        return None
    import cProfile

    prof = cProfile.Profile()
    prof.enable()
    return prof


def stop_profile(prof, path: str | None) -> None:
    if prof is None or not path:
        return
    prof.disable()
    from pathlib import Path

    from bench.worker import write_profile

    write_profile(prof, Path(path))


# ------------------------------------------------------------------------------------------ history
def history_mode(scroll: bool, profile_path: str | None) -> None:
    import asyncio

    # what the window needs, imported before the clock starts: this figure is about the history
    import qasync  # noqa: F401
    from PySide6.QtWidgets import QApplication

    import flexstudio.services
    import flexstudio.ui.window.main_window  # noqa: F401

    QApplication(["flexstudio"])
    state: dict = {}

    def painted(t, marks, window, services, loop) -> None:
        state.update(
            open_s=t - marks["before_services"],
            rss_open=marks.get("rss_at_paint", rss_mb()) - marks["rss_before_services"],
            rss_base=marks["rss_before_services"],
            rows=window.history_model.rowCount(),
            total=window.history_model.total(),
        )
        _TASKS.append(asyncio.ensure_future(after(window, marks)))

    async def after(window, marks) -> None:
        try:
            if scroll:
                await scroll_history(window, state, profile_path)
            state["rss_after_scroll"] = rss_mb() - marks["rss_before_services"]
            state["rows_after_scroll"] = window.history_model.rowCount()
            say(state)
        except Exception as exc:
            say({**state, "error": f"{type(exc).__name__}: {exc}"})
        leave()

    app_like_main(painted)


async def scroll_history(window, state: dict, profile_path: str | None) -> None:
    import asyncio

    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QApplication

    from bench.qtprobe import StallProbe

    await wait_until(lambda: getattr(window, "_ready", True), 3)
    await asyncio.sleep(0.5)  # let the deferred start-up work (keys, presets) finish
    view = history_view(window)
    bar = view.horizontalScrollBar()
    if bar.maximum() == 0 and view.verticalScrollBar().maximum() > 0:
        bar = view.verticalScrollBar()
    state["orientation"] = "horizontal" if bar.orientation() == Qt.Orientation.Horizontal else "vertical"
    model = view.model()
    probe = StallProbe()
    steps = 0
    prof = start_profile(profile_path)
    nones = none_refs()
    gcp = GcPauses().__enter__()
    probe.start()
    t0 = time.perf_counter()
    # One page per step, each step its own event (as a drag or PageDown would), until the last row.
    fetch_ms: list[tuple[float, int]] = []  # (ms, rows before) of each fetchMore
    move_ms: list[tuple[float, int]] = []  # (ms, rows) of each scroll-bar move (the view's own reaction)
    split: list[dict] = []  # moves that fetched a page: query / insert / after the insert
    marks: dict[str, float] = {}
    model.rowsAboutToBeInserted.connect(lambda *_a: marks.setdefault("about", time.perf_counter()))
    model.rowsInserted.connect(lambda *_a: marks.setdefault("inserted", time.perf_counter()))
    while True:
        page = max(1, bar.pageStep())
        if bar.value() >= bar.maximum():
            if not model.canFetchMore(view.rootIndex()):
                break
            t = time.perf_counter()
            model.fetchMore(view.rootIndex())  # what the view itself does at the end of its range
            fetch_ms.append(((time.perf_counter() - t) * 1000, model.rowCount()))
            await asyncio.sleep(0)
            if bar.value() >= bar.maximum():
                QApplication.processEvents()
                if bar.value() >= bar.maximum() and not model.canFetchMore(view.rootIndex()):
                    break
        marks.clear()
        t = time.perf_counter()
        bar.setValue(min(bar.maximum(), bar.value() + page))
        t_end = time.perf_counter()
        move_ms.append(((t_end - t) * 1000, model.rowCount()))
        if "about" in marks and "inserted" in marks:  # the view fetched a page inside this move
            split.append(
                {
                    "ms": round((t_end - t) * 1000, 1),
                    "rows": model.rowCount(),
                    "fetch_query_ms": round((marks["about"] - t) * 1000, 1),
                    "insert_ms": round((marks["inserted"] - marks["about"]) * 1000, 1),
                    "after_insert_ms": round((t_end - marks["inserted"]) * 1000, 1),
                }
            )
        steps += 1
        await asyncio.sleep(0)  # hand back to the loop: the view paints, the probe ticks
        if steps > 20000:
            break
    await asyncio.sleep(0.05)
    probe.stop()
    gcp.__exit__()
    stop_profile(prof, profile_path)
    state.update(
        scroll_s=time.perf_counter() - t0,
        scroll_steps=steps,
        scroll_worst_ms=probe.worst_ms,
        scroll_p99_ms=probe.percentile(0.99),
        scroll_stalls=probe.report(),
        scroll_ticks=len(probe.late_ms),
        at_end=bar.value() >= bar.maximum(),
        none_refs_lost=nones - none_refs(),
        gc=gcp.summary(),
        fetch_more_ms={
            "n": len(fetch_ms),
            "max": _top(fetch_ms),
            "first": fetch_ms[:1],
            "last": fetch_ms[-1:],
        },
        scroll_move_ms={
            "max": _top(move_ms),
            "median": sorted(move_ms)[len(move_ms) // 2][0] if move_ms else 0,
        },
        page_fetch_moves=sorted(split, key=lambda d: -d["ms"])[:3] + split[-1:],
    )


def _top(rows: list[tuple[float, int]], n: int = 3) -> list[str]:
    return [f"{ms:.1f} ms at {rows_} rows" for ms, rows_ in sorted(rows, reverse=True)[:n]]


# -------------------------------------------------------------------------------------------- stall
def stall_mode(refs: list[str], profile_path: str | None) -> None:
    import asyncio

    def painted(t, marks, window, services, loop) -> None:
        _TASKS.append(asyncio.ensure_future(go(window, services)))

    async def go(window, services) -> None:
        try:
            say(await edit_with_probe(window, services, refs, profile_path))
        except Exception as exc:
            import traceback

            traceback.print_exc()
            say({"error": f"{type(exc).__name__}: {exc}"})
        leave()

    app_like_main(painted)


async def edit_with_probe(window, services, refs: list[str], profile_path: str | None) -> dict:
    import asyncio

    from bench.qtprobe import StallProbe

    await wait_until(lambda: getattr(window, "_ready", True), 3)
    await asyncio.sleep(0.3)
    wb = window.wb
    wb.set_provider("sandbox")
    imported = [await asyncio.to_thread(services.import_reference_file, p) for p in refs]
    wb.add_references(imported)
    wb.set_prompt("Put the lamp from image 2 on the table in image 1, warm evening light")
    wb.set_size_mode("custom", (2048, 2048))  # a 4 MP result
    # let the tray's thumbnails of the 24 MP references finish: that is importing, not the edit
    thumbs = window.thumbs
    await wait_until(lambda: thumbs_idle(thumbs), 30)
    await asyncio.sleep(0.5)
    finished: list = []
    window.jobs.jobFinished.connect(lambda ev: finished.append((time.perf_counter(), ev.state)))
    probe = StallProbe()
    prof = start_profile(profile_path)
    nones = none_refs()
    gcp = GcPauses().__enter__()
    probe.start()
    t0 = time.perf_counter()
    window.run_button.click()  # the Run button's own path
    ok = await wait_until(lambda: bool(finished), 60)
    t_done = time.perf_counter()
    # the result is shown and its thumbnails made after the job ends: keep probing a while
    await wait_until(lambda: thumbs_idle(thumbs) and window.tasks.pending() == 0, 10)
    await asyncio.sleep(0.6)
    probe.stop()
    gcp.__exit__()
    stop_profile(prof, profile_path)
    state = finished[0][1] if finished else "timeout"
    return {
        "ok": ok and state == "succeeded",
        "state": state,
        "job_s": t_done - t0,
        "probed_s": time.perf_counter() - t0,
        "worst_ms": probe.worst_ms,
        "p99_ms": probe.percentile(0.99),
        "ticks": len(probe.late_ms),
        "stalls": probe.report(5),
        "over_frame": sum(1 for v in probe.late_ms if v > 1000 / 60),
        "none_refs_lost": nones - none_refs(),
        "gc": gcp.summary(),
    }


def batch_stall_mode(folder: str, n: int) -> None:
    import asyncio

    def painted(t, marks, window, services, loop) -> None:
        _TASKS.append(asyncio.ensure_future(go(window)))

    async def go(window) -> None:
        try:
            say(await batch_with_probe(window, Path(folder), n))
        except Exception as exc:
            import traceback

            traceback.print_exc()
            say({"error": f"{type(exc).__name__}: {exc}"})
        leave()

    app_like_main(painted)


async def batch_with_probe(window, folder: Path, n: int) -> dict:
    """A batch of ``n`` inputs started from the Batch dialog (the sandbox, 8 at once): the worst stall of
    the window from Launch until the batch is done."""
    import asyncio

    from PIL import Image

    from bench.qtprobe import StallProbe

    await wait_until(lambda: getattr(window, "_ready", True), 3)

    def make_inputs() -> None:
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(n):
            p = folder / f"shot{i:04d}.jpg"
            if not p.exists():
                Image.new("RGB", (320, 240), (i * 5 % 255, 90, 160)).save(p, quality=85)

    await asyncio.to_thread(make_inputs)
    window.wb.set_provider("sandbox")
    window.wb.set_prompt("the same retouch on every shot")
    dlg = window.controller.groups.open_batch()
    dlg.out.setText(str(folder.parent / "batch-out"))
    dlg.add_inputs([folder])
    await wait_until(lambda: dlg.launch_button.isEnabled(), 30)
    await asyncio.sleep(0.3)
    probe = StallProbe()
    probe.start()
    t0 = time.perf_counter()
    dlg.launch_button.click()
    ok = await wait_until(lambda: dlg.sheet_button.isEnabled(), 240)
    t_done = time.perf_counter()
    await asyncio.sleep(0.5)
    probe.stop()
    done = dlg.run.summary.counts.get("succeeded", 0) if dlg.run and dlg.run.summary else 0
    return {
        "ok": ok and done == n,
        "succeeded": done,
        "batch_s": t_done - t0,
        "worst_ms": probe.worst_ms,
        "p99_ms": probe.percentile(0.99),
        "over_frame": sum(1 for v in probe.late_ms if v > 1000 / 60),
        "stalls": probe.report(3),
    }


class GcPauses:
    """Longest garbage-collector pauses while active (a full collection over many records can stall)."""

    def __init__(self) -> None:
        import gc

        self.gc = gc
        self.t = 0.0
        self.pauses: list[tuple[float, int]] = []

    def __enter__(self) -> GcPauses:
        self.gc.callbacks.append(self._cb)
        return self

    def __exit__(self, *exc: object) -> None:
        self.gc.callbacks.remove(self._cb)

    def _cb(self, phase: str, info: dict) -> None:
        if phase == "start":
            self.t = time.perf_counter()
        else:
            self.pauses.append(((time.perf_counter() - self.t) * 1000, info.get("generation", -1)))

    def summary(self) -> dict:
        worst = sorted(self.pauses, reverse=True)[:3]
        return {"collections": len(self.pauses), "worst": [f"{ms:.1f} ms (gen {g})" for ms, g in worst]}


def none_refs() -> int:
    return sys.getrefcount(None)


def main() -> None:
    mode = sys.argv[1]
    profile_path = os.environ.get("BENCH_PROFILE") or None
    if mode == "bare":
        bare()
    elif mode == "app":
        app_mode(profile_path)
    elif mode == "history":
        history_mode(scroll="--no-scroll" not in sys.argv, profile_path=profile_path)
    elif mode == "stall":
        stall_mode(sys.argv[2:], profile_path)
    elif mode == "batch_stall":
        batch_stall_mode(sys.argv[2], int(sys.argv[3]))
    else:
        raise SystemExit(f"unknown mode {mode}")


if __name__ == "__main__":
    main()
