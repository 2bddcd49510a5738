"""Batch metrics: the real ``flexstudio batch`` process against a local BFL-protocol emulator that admits
24 active tasks (429 + Retry-After above) and takes ``latency`` seconds of wall time per job.

* ``batch_wall``: wall time of the batch over the ideal ⌈n / 24⌉ × latency (goal ≤ 1.15), with the
  emulator's submit count (duplicates must be 0) in ``extra``. The process's start-up (interpreter and
  the imports a batch needs, best of 3, measured separately) is taken off the wall: the ideal has none.
* ``batch_rss``: peak RSS of the batch process minus that of a one-input batch (goal ≤ 300 MB).
* ``batch_overhead``: what one more input costs FlexStudio against a zero-latency emulator,
  (wall(n) − wall(1)) / (n − 1), over a 20 ms floor (goal ≤ 1).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from .common import ROOT, Metric, small_jpeg
from .m_core import _stop_emulators, _timed_bfl

KEY = "bfl_bench_key"
_RUN = (
    "import resource, sys; from flexstudio.cli import main; rc = main(sys.argv[1:]); "
    "sys.stderr.write('BENCH-RSS %d\\n' % resource.getrusage(resource.RUSAGE_SELF).ru_maxrss); "
    "raise SystemExit(rc)"
)


_STARTUP = (
    "import flexstudio.cli, flexstudio.cli.commands, flexstudio.jobs.batch, flexstudio.providers.bfl, "
    "flexstudio.services, httpx, PIL.Image"
)


def _startup(home: Path) -> float:
    """Seconds a process takes to start and import what a batch uses, before it does any work."""
    env = {**os.environ, "FLEXSTUDIO_HOME": str(home), "PYTHONPATH": str(ROOT)}
    best = math.inf
    for _ in range(3):
        t = time.perf_counter()
        subprocess.run(
            [sys.executable, "-c", _STARTUP], env=env, check=True, capture_output=True, timeout=120
        )
        best = min(best, time.perf_counter() - t)
    return best


def _inputs(folder: Path, n: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        p = folder / f"shot{i:04d}.jpg"
        if not p.exists():
            p.write_bytes(small_jpeg((512, 384), (i * 7 % 255, 90, 160)))
    return folder


def _batch(home: Path, url: str, src: Path, out: Path) -> tuple[float, float, dict[str, Any]]:
    """One ``flexstudio batch`` process: (wall s, peak RSS MB, its JSON)."""
    env = {**os.environ, "BFL_API_KEY": KEY, "FLEXSTUDIO_HOME": str(home), "PYTHONPATH": str(ROOT)}
    cmd = [
        sys.executable,
        "-c",
        _RUN,
        "batch",
        "--provider",
        "bfl",
        "--base-url",
        url,
        "--input",
        str(src),
        "-p",
        "the same retouch on every shot",
        "--seed",
        "5",
        "--yes",
        "-o",
        str(out),
        "--json",
    ]
    t = time.perf_counter()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        raise RuntimeError(f"batch exited {proc.returncode}: {proc.stderr.strip().splitlines()[-3:]}")
    rss_kb = next(int(ln.split()[1]) for ln in proc.stderr.splitlines() if ln.startswith("BENCH-RSS "))
    return wall, rss_kb / 1024, json.loads(proc.stdout)


def batch(home: Path, n: int, latency: float) -> list[Metric]:
    data = home / "batch-data"
    try:
        emu = _timed_bfl(latency)  # admits 24 active tasks, 429 + Retry-After: 5 above
        startup = _startup(home / "h0")
        one_wall, one_rss, _ = _batch(home / "h1", emu.url, _inputs(data / "one", 1), data / "out1")
        before = emu.count("POST", "/v1/flux-2-flex")
        wall, rss, obj = _batch(home / "hn", emu.url, _inputs(data / f"n{n}", n), data / "outn")
        submits = emu.count("POST", "/v1/flux-2-flex") - before
        refused = sum(1 for _r, status in emu.answers if status == 429)
        ok = sum(1 for r in obj["results"] if r["status"] == "succeeded")
        ideal = math.ceil(n / 24) * latency
        label = f"batch of {n} vs BFL emulator (24 active, {latency:g} s/job)"
        m_wall = Metric(
            "batch_wall",
            max(0.0, wall - startup),
            ideal,
            1.15,
            "s",
            label=label,
            floor_label=f"⌈{n}/24⌉ × {latency:g} s",
            extra={
                "submits": submits,
                "duplicate_submits": max(0, submits - n),
                "succeeded": ok,
                "process_wall_s": round(wall, 3),
                "startup_s": round(startup, 3),
                "one_input_wall_s": one_wall,
                "http_429": refused,
            },
        ).finish()
        if submits != n or ok != n:
            m_wall.ok = False
            m_wall.reason = f"{ok}/{n} succeeded with {submits} submits"
        m_rss = Metric(
            "batch_rss",
            rss - one_rss,
            300.0,
            1.0,
            "MB",
            label=f"peak RSS growth, {label}",
            floor_label="300 MB",
            extra={"peak_mb": rss, "one_input_peak_mb": one_rss},
        ).finish()
        _stop_emulators()

        fast = _timed_bfl(0.0)
        w1, _, _ = _batch(home / "f1", fast.url, _inputs(data / "one", 1), data / "fout1")
        wn, _, _ = _batch(home / "fn", fast.url, _inputs(data / f"n{n}", n), data / "foutn")
        per_item = max(0.0, (wn - w1) / max(1, n - 1)) * 1000
        m_over = Metric(
            "batch_overhead",
            per_item,
            20.0,
            1.0,
            "ms",
            label=f"CLI cost per input, batch of {n} vs zero-latency emulator",
            floor_label="20 ms",
            extra={"wall_one_s": w1, "wall_n_s": wn},
        ).finish()
        return [m_wall, m_rss, m_over]
    finally:
        _stop_emulators()
