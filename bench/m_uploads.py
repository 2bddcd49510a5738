"""Reference bytes on the wire (issue 13): each byte sent once, and the wire as the only wait.

- ``sweep_bytes_fal`` / ``sweep_bytes_replicate``: request-body bytes the emulator received for a 12-cell
  sweep with 8 × 24 MP JPEG references, against the unique prepared bytes (what one upload of each costs).
- ``run_to_accepted``: Run → "the provider has the job" (the runner's ``running`` event, after the submit
  answer) for the 8 references over a local link throttled to 50 Mbit/s, against the wire floor: the bytes
  the emulator received ÷ the bandwidth.
- ``rerun_bytes``: a second identical run from a new process (a new ``Services`` on the same history), its
  bytes against the first run's.

All against the repository's own emulators (``tests/emulators``) on 127.0.0.1, with a throw-away home.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path
from typing import Any

from .common import ROOT, Metric, not_available

MBIT = 1_000_000 / 8  # bytes per second in one Mbit/s
FAL_KEY = "bench-id:bench-secret"
R8_KEY = "r8_bench_token"

LABELS = {
    "sweep_bytes_fal": ("bytes sent, 12-cell sweep, 8 × 24 MP refs, fal emulator", "unique prepared bytes"),
    "sweep_bytes_replicate": (
        "bytes sent, 12-cell sweep, 8 × 24 MP refs, Replicate emulator",
        "unique prepared bytes",
    ),
    "run_to_accepted": (
        "Run → provider has the job, 8 × 24 MP refs, 50 Mbit/s link (fal emulator)",
        "bytes received ÷ 50 Mbit/s",
    ),
    "rerun_bytes": ("bytes sent by a second identical run (new process, same history)", "first run's bytes"),
}
GOALS = {"sweep_bytes_fal": 1.1, "sweep_bytes_replicate": 1.1, "run_to_accepted": 1.2, "rerun_bytes": 0.05}


def _na(name: str, reason: str) -> Metric:
    unit = "s" if name == "run_to_accepted" else "MB"
    label, floor_label = LABELS[name]
    return not_available(name, GOALS[name], unit, reason, label=label, floor_label=floor_label)


def _load() -> float | None:
    try:
        return round(os.getloadavg()[0], 1)
    except (AttributeError, OSError):  # Windows
        return None


def _services(home: Path, pid: str, url: str) -> Any:
    from flexstudio.jobs.runner import RunnerConfig
    from flexstudio.services import Services

    env = {"FAL_KEY": FAL_KEY, "REPLICATE_API_TOKEN": R8_KEY}
    return Services.build(
        base_urls={pid: url}, env=env, runner_config=RunnerConfig(poll_interval=0.02, max_poll_interval=0.05)
    )


def _unique_prepared_bytes(photos: list[Path]) -> int:
    from flexstudio.core import images

    return sum(len(images.prepare(p.read_bytes()).data) for p in photos)


def _import(svc: Any, photos: list[Path]) -> tuple[Any, ...]:
    return tuple(svc.import_reference(p.read_bytes(), p.name) for p in photos)


def _request(refs: tuple[Any, ...], pid: str) -> Any:
    from flexstudio.core.request import EditRequest

    return EditRequest(
        prompt="Combine the eight references into one poster",
        references=refs,
        seed=11,
        provider=pid,
        size=(1024, 1024),
        steps=28,
    )


def _sweep(svc: Any, request: Any, cells: int) -> list[Any]:
    async def go() -> list[Any]:
        try:
            group = svc.runner.create_group([request.with_(steps=20 + i) for i in range(cells)], "sweep")
            return list(await asyncio.gather(*(svc.runner.start(r.id) for r in group)))
        finally:
            await svc.aclose()

    return asyncio.run(go())


def _run_to_accepted(svc: Any, request: Any) -> tuple[float, float, Any]:
    """Seconds from Run (create + start) to the runner's ``running`` event (the submit was answered), and
    the CPU seconds this process used meanwhile (the emulator's threads included): on a loaded machine the
    wall time is mostly waiting for a core, which the second figure tells apart."""

    async def go() -> tuple[float, float, Any]:
        accepted = asyncio.Event()
        try:
            t0, c0 = time.perf_counter(), time.process_time()
            rec = svc.runner.create(request)
            svc.bus.subscribe(
                lambda e: accepted.set() if e.job_id == rec.id and e.state == "running" else None
            )
            task = svc.runner.start(rec.id)
            await accepted.wait()
            t1, c1 = time.perf_counter(), time.process_time()
            return t1 - t0, c1 - c0, await task
        finally:
            await svc.aclose()

    return asyncio.run(go())


def _prepared_ahead_run(home: Path, photos: list[Path], delivery: Any) -> float:
    """The same first run, the way the window does it: the references were prepared while the prompt was
    written (``Runner.prepare_ahead``, as they are added), so Run → accepted is the uploads and the submit.
    A new home and emulator: nothing is uploaded yet."""
    from tests.emulators.fal import FalEmulator

    emu = FalEmulator(delivery, latency_polls=1, key=FAL_KEY).start()
    emu.bandwidth = 50 * MBIT
    was = os.environ.get("FLEXSTUDIO_HOME")
    try:
        ahead_home = home / "ahead"
        ahead_home.mkdir(parents=True, exist_ok=True)
        os.environ["FLEXSTUDIO_HOME"] = str(ahead_home)
        svc = _services(ahead_home, "fal", emu.url)
        refs = _import(svc, photos)

        async def ahead() -> None:
            await svc.runner.prepare_ahead(refs, "fal")
            await svc.runner.aclose()

        asyncio.run(ahead())
        took, _cpu, rec = _run_to_accepted(svc, _request(refs, "fal"))
        if rec.state != "succeeded":
            raise RuntimeError(f"prepared-ahead run: {rec.state}: {rec.error_message}")
        return took
    finally:
        emu.stop()
        if was is not None:
            os.environ["FLEXSTUDIO_HOME"] = was


def uploads(home: Path, photos: list[Path], cells: int, profile: Any = None) -> list[Metric]:
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    try:
        from flexstudio.providers import uploads as _uploads  # noqa: F401
        from tests.emulators.base import Delivery
        from tests.emulators.fal import FalEmulator
        from tests.emulators.replicate import ReplicateEmulator
    except ImportError as exc:
        return [_na(n, f"upload cache or emulators missing: {exc}") for n in LABELS]
    unique = _unique_prepared_bytes(photos)
    out: list[Metric] = []
    delivery = Delivery().start()
    try:
        # ---------------------------------------------------------------- sweeps
        for pid, emu_cls, kw in (
            ("fal", FalEmulator, {"key": FAL_KEY}),
            ("replicate", ReplicateEmulator, {"token": R8_KEY}),
        ):
            emu = emu_cls(delivery, latency_polls=1, **kw).start()
            try:
                sweep_home = home / f"sweep-{pid}"
                sweep_home.mkdir(parents=True, exist_ok=True)
                os.environ["FLEXSTUDIO_HOME"] = str(sweep_home)
                svc = _services(sweep_home, pid, emu.url)
                request = _request(_import(svc, photos), pid)
                before = emu.bytes_in
                recs = _sweep(svc, request, cells)
                bad = [r for r in recs if r.state != "succeeded"]
                if bad:
                    raise RuntimeError(f"{pid} sweep: {bad[0].state}: {bad[0].error_message}")
                sent = emu.bytes_in - before
                name = f"sweep_bytes_{pid}"
                label, floor_label = LABELS[name]
                out.append(
                    Metric(
                        name,
                        sent / 1e6,
                        unique / 1e6,
                        GOALS[name],
                        "MB",
                        label=label,
                        floor_label=floor_label,
                        extra={
                            "cells": cells,
                            "references": len(photos),
                            "uploads": emu.files.uploads,
                            "inline_copies_would_be_mb": round(cells * unique * 4 / 3 / 1e6, 1),
                        },
                    ).finish()
                )
            finally:
                emu.stop()
        # ---------------------------------------------------------------- 50 Mbit/s, then a re-run
        emu = FalEmulator(delivery, latency_polls=1, key=FAL_KEY).start()
        emu.bandwidth = 50 * MBIT
        try:
            run_home = home / "run"
            run_home.mkdir(parents=True, exist_ok=True)
            os.environ["FLEXSTUDIO_HOME"] = str(run_home)
            svc = _services(run_home, "fal", emu.url)
            request = _request(_import(svc, photos), "fal")
            before = emu.bytes_in
            took, cpu, rec = _run_to_accepted(svc, request)
            if rec.state != "succeeded":
                raise RuntimeError(f"run: {rec.state}: {rec.error_message}")
            first = emu.bytes_in - before
            floor = first / emu.bandwidth
            ahead_s = _prepared_ahead_run(home, photos, delivery)
            label, floor_label = LABELS["run_to_accepted"]
            out.append(
                Metric(
                    "run_to_accepted",
                    took,
                    floor,
                    GOALS["run_to_accepted"],
                    "s",
                    label=label,
                    floor_label=floor_label,
                    extra={
                        "bytes_mb": round(first / 1e6, 2),
                        "mbit_s": 50,
                        "cpu_s": round(cpu, 3),
                        "load_avg_1m": _load(),
                        "prepared_ahead_s": round(ahead_s, 3),
                        "prepared_ahead_ratio": round(ahead_s / floor, 3),
                    },
                ).finish()
            )
            svc = _services(run_home, "fal", emu.url)  # a new process would build exactly this
            before = emu.bytes_in
            _took2, cpu2, rec2 = _run_to_accepted(svc, request.with_(seed=12))
            if rec2.state != "succeeded":
                raise RuntimeError(f"re-run: {rec2.state}: {rec2.error_message}")
            second = emu.bytes_in - before
            label, floor_label = LABELS["rerun_bytes"]
            out.append(
                Metric(
                    "rerun_bytes",
                    second / 1e6,
                    first / 1e6,
                    GOALS["rerun_bytes"],
                    "MB",
                    label=label,
                    floor_label=floor_label,
                    extra={"second_run_s": round(_took2, 3), "second_run_cpu_s": round(cpu2, 3)},
                ).finish()
            )
        finally:
            emu.stop()
    finally:
        delivery.stop()
    return out
