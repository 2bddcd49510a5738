"""GUI metrics, each measured in fresh subprocesses running ``bench/launcher.py``: cold start to the first
painted window, the worst event-loop stall during a sandbox edit, and a 10 000-job history (open, RSS,
scrolling)."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from .common import FRAME_MS, ROOT, Metric, bench_env, median, not_available

PREFIX = "BENCH-RESULT "


def _app_ready() -> str | None:
    """Why the window cannot be measured yet, or None."""
    for rel in ("flexstudio/app.py", "flexstudio/ui/window/main_window.py"):
        if not (ROOT / rel).exists():
            return f"{rel} not written yet"
    return None


def _launch(
    mode: str, home: Path, *args: str, timeout: float = 60, env: dict[str, str] | None = None
) -> tuple[float, dict[str, Any]]:
    """Run the launcher; returns (monotonic time just before the process started, its result)."""
    cmd = ["timeout", "-k", "3", str(int(timeout)), sys.executable, "-m", "bench.launcher", mode, *args]
    full_env = bench_env(home, **(env or {}))
    t0 = time.monotonic()
    proc = subprocess.run(cmd, cwd=ROOT, env=full_env, capture_output=True, text=True, timeout=timeout + 5)
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(PREFIX):
            return t0, json.loads(line[len(PREFIX) :])
    tail = "\n".join(proc.stderr.strip().splitlines()[-6:])
    raise RuntimeError(f"launcher {mode} gave no result (rc {proc.returncode}): {tail}")


# ------------------------------------------------------------------------------------- cold start
def cold_start(home: Path, repeats: int, profile_dir: Path | None) -> list[Metric]:
    name, goal, unit = "cold_start", 1.3, "s"
    label, floor_label = "cold start to first painted window", "bare QMainWindow, same way"
    why = _app_ready()
    if why:
        return [not_available(name, goal, unit, why, label=label, floor_label=floor_label)]
    app_t: list[float] = []
    bare_t: list[float] = []
    inner: list[float] = []
    _launch("bare", home)  # warm the disk cache for both
    _launch("app", home)
    for _ in range(repeats):  # interleaved
        t0, r = _launch("bare", home)
        bare_t.append(r["paint"] - t0)
        t0, r = _launch("app", home)
        app_t.append(r["paint"] - t0)
        inner.append(r["services_to_paint"])
    m = Metric(name, median(app_t), median(bare_t), goal, unit, label=label, floor_label=floor_label).finish()
    m.extra = {
        "app_s": [round(x, 3) for x in app_t],
        "bare_s": [round(x, 3) for x in bare_t],
        "services_to_paint_ms": round(median(inner) * 1000, 1),
    }
    if profile_dir is not None and not m.ok:
        m.extra["imports"] = _import_profile(home, profile_dir)
        _launch("app", home, env={"BENCH_PROFILE": str(profile_dir / "cold_start.txt")})
    return [m]


def _import_profile(home: Path, profile_dir: Path) -> list[str]:
    """``python -X importtime`` of the app launcher: the slowest imports before the first paint."""
    cmd = ["timeout", "-k", "3", "60", sys.executable, "-X", "importtime", "-m", "bench.launcher", "app"]
    proc = subprocess.run(cmd, cwd=ROOT, env=bench_env(home), capture_output=True, text=True, timeout=70)
    rows = []
    for line in proc.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            parts = line[len("import time:") :].split("|")
            if parts[0].strip().isdigit():
                rows.append((int(parts[1]), int(parts[0]), parts[2][1:]))  # keep the nesting indent
    rows.sort(reverse=True)
    profile_dir.mkdir(parents=True, exist_ok=True)
    text = "\n".join(
        f"{cum / 1000:8.1f} ms cumulative {own / 1000:7.1f} ms self  {mod}" for cum, own, mod in rows[:80]
    )
    (profile_dir / "cold_start_importtime.txt").write_text(text)
    top_level = [r for r in rows if not r[2].startswith(" ")][:12]
    return [f"{mod.strip()} {cum / 1000:.0f} ms" for cum, _own, mod in top_level]


# ------------------------------------------------------------------------------- stall during an edit
def edit_stall(home: Path, photos: list[Path], repeats: int, profile_dir: Path | None) -> list[Metric]:
    name, goal, unit = "gui_stall_edit", 1.0, "ms"
    label, floor_label = "worst GUI stall, sandbox edit 8×24 MP refs → 4 MP", "16.7 ms frame"
    why = _app_ready()
    if why:
        return [not_available(name, goal, unit, why, label=label, floor_label=floor_label)]
    env = {"FLEXSTUDIO_SANDBOX_LATENCY": "1"}
    runs = []
    for i in range(repeats):
        run_home = home / f"run{i}"  # fresh history, blob store and caches each time
        _t0, r = _launch("stall", run_home, *map(str, photos), timeout=90, env=env)
        if "error" in r or not r.get("ok"):
            return [
                not_available(
                    name,
                    goal,
                    unit,
                    f"edit did not succeed: {r.get('error') or r.get('state')}",
                    label=label,
                    floor_label=floor_label,
                )
            ]
        runs.append(r)
    worst = median([r["worst_ms"] for r in runs])
    m = Metric(name, worst, FRAME_MS, goal, unit, label=label, floor_label=floor_label).finish()
    w = max(runs, key=lambda r: r["worst_ms"])
    m.extra = {
        "worst_ms_each": [round(r["worst_ms"], 1) for r in runs],
        "p99_ms": round(w["p99_ms"], 1),
        "frames_over_16ms": w["over_frame"],
        "job_s": round(w["job_s"], 2),
        "none_refs_lost": w.get("none_refs_lost"),
        "gc": w.get("gc"),
        "stalls": w["stalls"],
    }
    if profile_dir is not None and not m.ok:
        profile_dir.mkdir(parents=True, exist_ok=True)
        _launch(
            "stall",
            home / "prof",
            *map(str, photos),
            timeout=120,
            env={**env, "BENCH_PROFILE": str(profile_dir / "gui_stall_edit.txt")},
        )
        from .gilcheck import check

        m.extra["gil_holders"] = check(photos[0])
    return [m]


def batch_stall(home: Path, n: int) -> list[Metric]:
    name, goal, unit = "gui_stall_batch", 1.0, "ms"
    label, floor_label = (
        f"worst GUI stall while a {n}-input batch runs (Batch dialog, sandbox)",
        "16.7 ms frame",
    )
    why = _app_ready()
    if why:
        return [not_available(name, goal, unit, why, label=label, floor_label=floor_label)]
    _t0, r = _launch(
        "batch_stall",
        home / "run",
        str(home / "batch-in"),
        str(n),
        timeout=300,
        env={"FLEXSTUDIO_SANDBOX_LATENCY": "0.5"},
    )
    if "error" in r or not r.get("ok"):
        return [
            not_available(
                name,
                goal,
                unit,
                f"batch did not succeed: {r.get('error') or r.get('succeeded')}",
                label=label,
                floor_label=floor_label,
            )
        ]
    m = Metric(name, r["worst_ms"], FRAME_MS, goal, unit, label=label, floor_label=floor_label).finish()
    m.extra = {
        "p99_ms": round(r["p99_ms"], 1),
        "frames_over_16ms": r["over_frame"],
        "batch_s": round(r["batch_s"], 2),
        "stalls": r["stalls"],
    }
    return [m]


# ------------------------------------------------------------------------------------------ history
PROMPTS = [
    "Put the lamp from image 2 on the table in image 1",
    "Make it a rainy night in Tokyo",
    "Replace the sky with a sunset",
    "Turn the cat into a watercolour painting",
    "Remove the people in the background",
    "Change the jacket to red leather",
    "Add snow on the roofs",
    "Make image 1 look like a 1970s film photo",
]


def fill_history(home: Path, n: int) -> float:
    """``n`` jobs over the last year, bulk-inserted into the history under ``home``. Returns seconds."""
    os.environ["FLEXSTUDIO_HOME"] = str(home)
    from flexstudio.core.request import EditRequest, ImageRef
    from flexstudio.services import Services

    svc = Services.build()
    ids = [i for i in svc.registry.ids()][:8] or ["sandbox"]
    rng = random.Random(7)
    now = time.time()
    states = ["succeeded"] * 8 + ["failed", "cancelled", "moderated", "interrupted"]
    rows = []
    for i in range(n):
        refs = tuple(
            ImageRef(
                f"{rng.getrandbits(256):064x}",
                1024 + 16 * rng.randrange(64),
                1024,
                f"img{k}.jpg",
                "image/jpeg",
            )
            for k in range(rng.randrange(0, 4))
        )
        req = EditRequest(
            prompt=f"{rng.choice(PROMPTS)} #{i}",
            references=refs,
            seed=rng.randrange(2**32),
            steps=rng.choice([28, 50]),
            provider=rng.choice(ids),
        )
        rows.append((req, rng.choice(states), now - (n - i) * 3000.0))
    t = time.perf_counter()
    svc.history.bulk_insert(rows)
    dt = time.perf_counter() - t
    svc.history.close()
    return dt


def history(home: Path, n: int, profile_dir: Path | None, repeats: int = 3) -> list[Metric]:
    specs = [
        ("history_open_10k", 1.0, "ms", "window with 10 000-job history, first paint", "300 ms"),
        ("history_rss_10k", 1.0, "MB", "RSS growth opening 10 000-job history", "150 MB"),
        ("history_scroll", 1.0, "ms", "worst stall scrolling 10 000-job history", "16.7 ms frame"),
    ]
    why = _app_ready()
    if why:
        return [not_available(s[0], s[1], s[2], why, label=s[3], floor_label=s[4]) for s in specs]
    fill_s = fill_history(home, n)
    opens, rss = [], []
    last: dict[str, Any] = {}
    for i in range(repeats):
        scroll = i == repeats - 1  # scroll once, in the last run
        _t0, r = _launch("history", home, *([] if scroll else ["--no-scroll"]), timeout=120)
        if "error" in r:
            raise RuntimeError(r["error"])
        opens.append(r["open_s"] * 1000)
        rss.append(r["rss_open"])
        last = r
    m_open = Metric(
        specs[0][0], median(opens), 300.0, 1.0, "ms", label=specs[0][3], floor_label=specs[0][4]
    ).finish()
    m_open.extra = {
        "open_ms_each": [round(x, 1) for x in opens],
        "rows_at_first_paint": last.get("rows"),
        "total": last.get("total"),
        "bulk_insert_s": round(fill_s, 2),
    }
    rss_val = max(median(rss), last.get("rss_after_scroll", 0.0))
    m_rss = Metric(
        specs[1][0],
        rss_val,
        150.0,
        1.0,
        "MB",
        label=specs[1][3] + " (worst of open / scrolled to end)",
        floor_label=specs[1][4],
    ).finish()
    m_rss.extra = {
        "rss_at_first_paint_mb": round(median(rss), 1),
        "rss_after_scroll_to_end_mb": round(last.get("rss_after_scroll", 0.0), 1),
        "rss_base_mb": round(last.get("rss_base", 0.0), 1),
        "rows_loaded": last.get("rows_after_scroll"),
    }
    if "scroll_worst_ms" in last:
        m_scroll = Metric(
            specs[2][0],
            last["scroll_worst_ms"],
            FRAME_MS,
            1.0,
            "ms",
            label=specs[2][3],
            floor_label=specs[2][4],
        ).finish()
        m_scroll.extra = {
            "p99_ms": round(last["scroll_p99_ms"], 1),
            "steps": last["scroll_steps"],
            "scroll_s": round(last["scroll_s"], 2),
            "reached_end": last["at_end"],
            "orientation": last.get("orientation"),
            "fetch_more_ms": last.get("fetch_more_ms"),
            "scroll_move_ms": last.get("scroll_move_ms"),
            "page_fetch_moves": last.get("page_fetch_moves"),
            "none_refs_lost": last.get("none_refs_lost"),
            "gc": last.get("gc"),
            "stalls": last["scroll_stalls"],
        }
    else:
        m_scroll = not_available(
            specs[2][0], 1.0, "ms", "scroll did not run", label=specs[2][3], floor_label=specs[2][4]
        )
    metrics = [m_open, m_rss, m_scroll]
    if profile_dir is not None and not all(m.ok for m in metrics):
        profile_dir.mkdir(parents=True, exist_ok=True)
        _launch("history", home, timeout=180, env={"BENCH_PROFILE": str(profile_dir / "history_scroll.txt")})
    return metrics
