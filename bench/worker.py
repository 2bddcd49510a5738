"""Runs one group of metrics in its own process (``python -m bench.worker GROUP …``) and prints its
result line. ``run.py`` starts one per group, under ``timeout``, with a private FLEXSTUDIO_HOME."""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .common import Metric, emit, make_photos

# the settings of a full run and of --quick (a CI smoke)
FULL = {
    "photos": 8,
    "prep_repeats": 3,
    "quote_repeats": 5,
    "edit_repeats": 15,
    "latency": 1.0,
    "singles": 8,
    "group_repeats": 3,
    "start_repeats": 5,
    "history": 10_000,
    "stall_repeats": 2,
    "history_repeats": 3,
    "upload_photos": 8,
    "sweep_cells": 12,
    "batch_n": 200,
    "batch_latency": 2.0,
}
QUICK = {
    "photos": 8,
    "prep_repeats": 1,
    "quote_repeats": 3,
    "edit_repeats": 3,
    "latency": 1.0,
    "singles": 2,
    "group_repeats": 1,
    "start_repeats": 3,
    "history": 10_000,
    "stall_repeats": 1,
    "history_repeats": 1,
    "upload_photos": 2,
    "sweep_cells": 3,
    "batch_n": 48,
    "batch_latency": 0.5,
}


def make_profiler(out_dir: Path | None) -> Callable[[str, Callable[[], Any]], None] | None:
    """``profile(name, fn)``: run ``fn`` under cProfile and write the top functions to ``out_dir``."""
    if out_dir is None:
        return None
    out_dir.mkdir(parents=True, exist_ok=True)

    def profile(name: str, fn: Callable[[], Any]) -> None:
        prof = cProfile.Profile()
        prof.enable()
        try:
            fn()
        finally:
            prof.disable()
        write_profile(prof, out_dir / f"{name}.txt")

    return profile


def write_profile(prof: cProfile.Profile, path: Path) -> None:
    buf = io.StringIO()
    st = pstats.Stats(prof, stream=buf)
    st.sort_stats("tottime").print_stats(18)
    buf.write("\n---- by cumulative time ----\n")
    st.sort_stats("cumulative").print_stats(25)
    path.write_text(buf.getvalue())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("group")
    ap.add_argument("--home", type=Path, required=True)
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--profile-dir", type=Path)
    args = ap.parse_args(argv)
    cfg = QUICK if args.quick else FULL
    profile = make_profiler(args.profile_dir)
    g = args.group
    metrics: list[Metric]
    try:
        if g == "quote":
            from .m_core import quote

            metrics = quote(cfg["quote_repeats"], profile)
        elif g == "prepare":
            from .m_core import prepare

            metrics = prepare(make_photos(args.data, cfg["photos"]), cfg["prep_repeats"], profile)
        elif g == "edit_emulator":
            from .m_core import emulator_edit

            metrics = emulator_edit(args.home, cfg["edit_repeats"], profile)
        elif g == "compare_8":
            from .m_core import compare8

            metrics = compare8(args.home, cfg["latency"], cfg["singles"], cfg["group_repeats"], profile)
        elif g == "batch":
            from .m_batch import batch

            metrics = batch(args.home, cfg["batch_n"], cfg["batch_latency"])
        elif g == "batch_stall":
            from .m_gui import batch_stall

            metrics = batch_stall(args.home, cfg["batch_n"])
        elif g == "cold_start":
            from .m_gui import cold_start

            metrics = cold_start(args.home, cfg["start_repeats"], args.profile_dir)
        elif g == "gui_stall_edit":
            from .m_gui import edit_stall

            metrics = edit_stall(args.home, make_photos(args.data, 8), cfg["stall_repeats"], args.profile_dir)
        elif g == "uploads":
            from .m_uploads import uploads

            metrics = uploads(
                args.home, make_photos(args.data, 8)[: cfg["upload_photos"]], cfg["sweep_cells"], profile
            )
        elif g == "history":
            from .m_gui import history

            metrics = history(args.home, cfg["history"], args.profile_dir, cfg["history_repeats"])
        else:
            print(f"unknown group {g!r}", file=sys.stderr)
            return 2
    except Exception as exc:
        traceback.print_exc()
        text = " ".join(str(exc).split())[:300]
        print(f"BENCH-ERROR {type(exc).__name__}: {text}", file=sys.stderr)
        return 1
    emit(metrics)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
