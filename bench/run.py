"""FlexStudio benchmark: each figure as a ratio against a floor measured in the same run.

    python bench/run.py                 # everything (< 5 min)
    python bench/run.py --quick         # CI smoke (< 60 s)
    python bench/run.py --only prepare  # one group or one metric
    python bench/run.py --profile       # also profile every missed goal (top functions in the report)

Prints a table, then the same figures as ONE JSON object on the last stdout line:
``{"metric": {"value", "floor", "ratio", "goal", "goal_op", "unit", "ok"}}``. Every group runs in its own
process under ``timeout`` with a throw-away FLEXSTUDIO_HOME; nothing of the user's is read or written.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV_PY = ROOT / ".venv" / "bin" / "python"


def _ensure_venv() -> None:
    """Re-run under the project's venv when started with another interpreter that lacks the deps."""
    try:
        import PIL  # noqa: F401
        import PySide6  # noqa: F401
    except ImportError:
        if (
            VENV_PY.exists()
            and Path(sys.executable).resolve() != VENV_PY.resolve()
            and not os.environ.get("FLEXSTUDIO_BENCH_REEXEC")
        ):
            os.environ["FLEXSTUDIO_BENCH_REEXEC"] = "1"
            os.execv(str(VENV_PY), [str(VENV_PY), *sys.argv])
        raise


_ensure_venv()
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.common import RESULT_PREFIX, Metric, bench_env, make_photos, not_available  # noqa: E402

# group → (metrics it produces: name, goal, goal_op, unit, label, floor label), timeout full / quick (s)
GROUPS: dict[str, tuple[list[tuple[str, float, str, str, str, str]], int, int]] = {
    "quote": ([("quote", 1.0, "<=", "µs", "one price quote, 2 references", "50 µs")], 30, 15),
    "prepare": (
        [
            (
                "prepare_vs_naive",
                3.0,
                ">=",
                "s",
                "prepare 8×24 MP JPEG → 4 MP (speed-up vs naive)",
                "naive open→resize(LANCZOS)→JPEG",
            ),
            (
                "prepare_vs_draft",
                1.5,
                "<=",
                "s",
                "prepare 8×24 MP JPEG → 4 MP (vs reduced-DCT decode)",
                "draft('RGB', target) + load",
            ),
        ],
        90,
        30,
    ),
    "edit_emulator": (
        [("edit_emulator", 1.0, "<=", "ms", "one edit vs zero-latency BFL emulator, minus wire", "50 ms")],
        60,
        25,
    ),
    "compare_8": (
        [
            (
                "compare_8",
                1.1,
                "<=",
                "s",
                "comparison, 8 providers × equal latency",
                "slowest single provider alone",
            )
        ],
        60,
        20,
    ),
    "batch": (
        [
            (
                "batch_wall",
                1.15,
                "<=",
                "s",
                "batch of 200 vs BFL emulator (24 active, 2 s/job)",
                "⌈200/24⌉ × 2 s",
            ),
            ("batch_rss", 1.0, "<=", "MB", "peak RSS growth during that batch", "300 MB"),
            ("batch_overhead", 1.0, "<=", "ms", "CLI cost per input (zero-latency emulator)", "20 ms"),
        ],
        120,
        60,
    ),
    "batch_stall": (
        [
            (
                "gui_stall_batch",
                1.0,
                "<=",
                "ms",
                "worst GUI stall while a 200-input batch runs",
                "16.7 ms frame",
            )
        ],
        300,
        120,
    ),
    "cold_start": (
        [("cold_start", 1.3, "<=", "s", "cold start to first painted window", "bare QMainWindow, same way")],
        60,
        25,
    ),
    "gui_stall_edit": (
        [
            (
                "gui_stall_edit",
                1.0,
                "<=",
                "ms",
                "worst GUI stall, sandbox edit 8×24 MP refs → 4 MP",
                "16.7 ms frame",
            )
        ],
        90,
        40,
    ),
    "history": (
        [
            ("history_open_10k", 1.0, "<=", "ms", "window with 10 000-job history, first paint", "300 ms"),
            ("history_rss_10k", 1.0, "<=", "MB", "RSS growth opening 10 000-job history", "150 MB"),
            ("history_scroll", 1.0, "<=", "ms", "worst stall scrolling 10 000-job history", "16.7 ms frame"),
        ],
        60,
        30,
    ),
    "uploads": (
        [
            (
                "sweep_bytes_fal",
                1.1,
                "<=",
                "MB",
                "bytes sent, 12-cell sweep, 8 × 24 MP refs, fal emulator",
                "unique prepared bytes",
            ),
            (
                "sweep_bytes_replicate",
                1.1,
                "<=",
                "MB",
                "bytes sent, 12-cell sweep, 8 × 24 MP refs, Replicate emulator",
                "unique prepared bytes",
            ),
            (
                "run_to_accepted",
                1.2,
                "<=",
                "s",
                "Run → provider has the job, 8 × 24 MP refs, 50 Mbit/s",
                "bytes received ÷ 50 Mbit/s",
            ),
            ("rerun_bytes", 0.05, "<=", "MB", "bytes sent by a second identical run", "first run's bytes"),
        ],
        150,
        40,
    ),
}
NEEDS_PHOTOS = {"prepare", "gui_stall_edit", "uploads"}


def _select(only: list[str] | None) -> list[str]:
    if not only:
        return list(GROUPS)
    chosen = []
    for name in only:
        group = (
            name
            if name in GROUPS
            else next((g for g, (ms, _, _) in GROUPS.items() if any(m[0] == name for m in ms)), None)
        )
        if group is None:
            names = sorted({*GROUPS, *(m[0] for ms, _, _ in GROUPS.values() for m in ms)})
            raise SystemExit(f"--only {name}: unknown; choose one of {', '.join(names)}")
        if group not in chosen:
            chosen.append(group)
    return chosen


def _placeholders(group: str, reason: str) -> list[Metric]:
    return [
        not_available(n, goal, unit, reason, goal_op=op, label=label, floor_label=fl)
        for n, goal, op, unit, label, fl in GROUPS[group][0]
    ]


def _run_group(group: str, tmp: Path, quick: bool, profile_dir: Path | None, limit: float) -> list[Metric]:
    home = tmp / f"home-{group}"
    home.mkdir(parents=True, exist_ok=True)
    cmd = [
        "timeout",
        "-k",
        "5",
        str(int(limit)),
        sys.executable,
        "-m",
        "bench.worker",
        group,
        "--home",
        str(home),
        "--data",
        str(tmp / "data"),
    ]
    if quick:
        cmd.append("--quick")
    if profile_dir is not None:
        cmd += ["--profile-dir", str(profile_dir)]
    try:
        proc = subprocess.run(
            cmd, cwd=ROOT, env=bench_env(home), capture_output=True, text=True, timeout=limit + 10
        )
    except subprocess.TimeoutExpired:
        return _placeholders(group, f"timed out after {limit:.0f} s")
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(RESULT_PREFIX):
            return [Metric.from_dict(d) for d in json.loads(line[len(RESULT_PREFIX) :])]
    if proc.returncode in (124, 137):
        return _placeholders(group, f"timed out after {limit:.0f} s")
    lines = proc.stderr.strip().splitlines() or ["no output"]
    tail = next(
        (ln[len("BENCH-ERROR ") :] for ln in reversed(lines) if ln.startswith("BENCH-ERROR ")), lines[-1]
    )
    tail = tail[:240]
    return _placeholders(group, f"worker failed (rc {proc.returncode}): {tail}")


def _fmt(v: float | None, unit: str = "") -> str:
    if v is None:
        return "—"
    if abs(v) >= 100:
        s = f"{v:.0f}"
    elif abs(v) >= 10:
        s = f"{v:.1f}"
    else:
        s = f"{v:.3g}"
    return f"{s} {unit}".rstrip()


def print_table(metrics: list[Metric]) -> None:
    rows = [("metric", "value", "floor", "ratio", "goal", "ok")]
    for m in metrics:
        if m.value is None:
            rows.append((m.name, f"n/a ({m.reason})", "", "", "", ""))
            continue
        rows.append(
            (
                m.name,
                _fmt(m.value, m.unit),
                _fmt(m.floor, m.unit),
                f"{m.ratio:.2f}×" if m.ratio is not None else "—",
                f"{'≤' if m.goal_op == '<=' else '≥'} {m.goal:g}×",
                "yes" if m.ok else "NO",
            )
        )
    full = [r for r in rows if r[2] != "" or r is rows[0]]
    widths = [max(len(r[i]) for r in full) for i in range(6)]
    for n, r in enumerate(rows):
        if r[2] == "" and n:
            print(f"{r[0]:<{widths[0]}}  {r[1]}")
        else:
            print(
                "  ".join(
                    c.ljust(w) if i < 2 else c.rjust(w)
                    for i, (c, w) in enumerate(zip(r, widths, strict=True))
                )
            )
        if n == 0:
            print("  ".join("-" * w for w in widths))
    print()
    for m in metrics:
        if m.value is not None:
            print(f"  {m.name}: {m.label}; floor = {m.floor_label}")
            if m.extra:
                print(f"      {json.dumps(m.extra, ensure_ascii=False)}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="CI smoke: fewer repetitions, < 60 s")
    ap.add_argument("--only", action="append", metavar="NAME", help="one group or metric (repeatable)")
    ap.add_argument("--profile", action="store_true", help="profile missed goals (adds time)")
    ap.add_argument("--profile-dir", type=Path, help="where profiles go (default: a temp folder, kept)")
    ap.add_argument("--keep", action="store_true", help="keep the temp folder (data, homes)")
    ap.add_argument("--strict", action="store_true", help="exit 1 when a goal is missed or n/a")
    args = ap.parse_args(argv)
    groups = _select(args.only)
    budget = 55.0 if args.quick else 290.0
    start = time.monotonic()
    tmp = Path(tempfile.mkdtemp(prefix="flexstudio-bench-"))
    profile_dir = None
    if args.profile or args.profile_dir:
        profile_dir = args.profile_dir or Path(tempfile.mkdtemp(prefix="flexstudio-bench-prof-"))
    metrics: list[Metric] = []
    try:
        if NEEDS_PHOTOS & set(groups):
            t = time.monotonic()
            make_photos(tmp / "data", 8)
            print(f"[bench] made 8 × 24 MP JPEGs in {time.monotonic() - t:.1f} s", file=sys.stderr)
        for g in groups:
            left = budget - (time.monotonic() - start)
            limit = min(GROUPS[g][2 if args.quick else 1], left)
            if limit < 5:
                metrics += _placeholders(g, "skipped: time budget spent")
                continue
            t = time.monotonic()
            got = _run_group(g, tmp, args.quick, profile_dir, limit)
            print(f"[bench] {g}: {time.monotonic() - t:.1f} s", file=sys.stderr)
            metrics += got
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print(f"[bench] kept {tmp}", file=sys.stderr)
    print(
        f"FlexStudio benchmark ({'quick' if args.quick else 'full'}, {time.monotonic() - start:.0f} s, "
        f"{os.cpu_count()} cores)\n"
    )
    print_table(metrics)
    if profile_dir is not None:
        files = sorted(profile_dir.glob("*.txt"))
        print(f"\nprofiles of missed goals: {profile_dir}" + ("" if files else " (none)"))
        for f in files:
            print(f"  {f.name}")
    print(json.dumps({m.name: m.to_json() for m in metrics}, ensure_ascii=False))
    if args.strict and not all(m.ok for m in metrics):
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
