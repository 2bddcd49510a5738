"""Qt-free metrics: reference preparation, price quotes, one edit against the BFL emulator, and an
8-provider comparison on eight local BFL-protocol emulators."""

from __future__ import annotations

import asyncio
import hashlib
import io
import sys
import time
from pathlib import Path
from typing import Any

from .common import ROOT, Metric, median, not_available, small_jpeg

MP = 1_048_576


# --------------------------------------------------------------------------------------- prepare
def _naive(data: bytes, target: tuple[int, int]) -> bytes:
    from PIL import Image

    with Image.open(io.BytesIO(data)) as im:
        out = im.convert("RGB").resize(target, Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    out.save(buf, "JPEG", quality=92)
    return buf.getvalue()


def _draft_only(data: bytes, target: tuple[int, int]) -> None:
    from PIL import Image

    with Image.open(io.BytesIO(data)) as im:
        im.draft("RGB", target)
        im.load()


def prepare(photos: list[Path], repeats: int, profile: Any = None) -> list[Metric]:
    from flexstudio.core import images
    from flexstudio.core.sizes import fit_within

    blobs = [p.read_bytes() for p in photos]
    shas = [hashlib.sha256(b).hexdigest() for b in blobs]  # the runner passes the known hash too
    sizes = []
    for b in blobs:
        from PIL import Image

        with Image.open(io.BytesIO(b)) as im:
            sizes.append(fit_within(*im.size, 4 * MP))

    def run_prepare() -> None:
        for b, sha in zip(blobs, shas, strict=True):
            images.prepare(b, max_pixels=4 * MP, sha256=sha)

    def run_naive() -> None:
        for b, t in zip(blobs, sizes, strict=True):
            _naive(b, t)

    def run_draft() -> None:
        for b, t in zip(blobs, sizes, strict=True):
            _draft_only(b, t)

    run_prepare()  # warm imports and plugin registration
    tp: list[float] = []
    tn: list[float] = []
    td: list[float] = []
    for _ in range(repeats):  # interleaved so machine noise hits all three alike
        for fn, acc in ((run_prepare, tp), (run_naive, tn), (run_draft, td)):
            t = time.perf_counter()
            fn()
            acc.append(time.perf_counter() - t)
    p, n, d = median(tp), median(tn), median(td)
    n_img = len(blobs)
    w, h = photos and _size_of(photos[0])
    label = f"prepare {n_img}×{w * h / 1e6:.0f} MP JPEG → 4 MP"
    a = Metric(
        "prepare_vs_naive",
        p,
        n,
        3.0,
        "s",
        goal_op=">=",
        label=label + " (speed-up vs naive)",
        floor_label="naive open→resize(LANCZOS)→JPEG",
    ).finish(ratio=n / p)
    b = Metric(
        "prepare_vs_draft",
        p,
        d,
        1.5,
        "s",
        label=label + " (vs reduced-DCT decode)",
        floor_label="draft('RGB', target) + load",
    ).finish()
    for m in (a, b):
        m.extra = {
            "per_image_ms": round(p / n_img * 1000, 1),
            "naive_per_image_ms": round(n / n_img * 1000, 1),
            "draft_per_image_ms": round(d / n_img * 1000, 1),
            "repeats": repeats,
        }
    if profile is not None and not (a.ok and b.ok):
        profile("prepare", run_prepare)
    return [a, b]


def _size_of(path: Path) -> tuple[int, int]:
    from PIL import Image

    with Image.open(path) as im:
        return im.size


# ------------------------------------------------------------------------------------------ quote
def quote(repeats: int, profile: Any = None) -> list[Metric]:
    from flexstudio.core.request import EditRequest, ImageRef
    from flexstudio.pricing import load_table
    from flexstudio.pricing import quote as price

    load_table()
    req = EditRequest(
        prompt="Put the lamp from image 2 on the table in image 1",
        seed=1,
        provider="bfl",
        references=(
            ImageRef("a" * 64, 6000, 4000, "a.jpg", "image/jpeg"),
            ImageRef("b" * 64, 1024, 1024, "b.jpg", "image/jpeg"),
        ),
    )
    per_provider: dict[str, float] = {}
    n = 2000
    for pid in ("bfl", "fal", "replicate", "sandbox"):
        price(req, pid)
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            for _ in range(n):
                price(req, pid)
            times.append((time.perf_counter() - t) / n)
        per_provider[pid] = median(times) * 1e6
    value = per_provider["bfl"]
    m = Metric(
        "quote", value, 50.0, 1.0, "µs", label="one price quote, 2 references (bfl)", floor_label="50 µs"
    ).finish()
    m.extra = {f"{k}_us": round(v, 2) for k, v in per_provider.items()}
    if profile is not None and not m.ok:
        profile("quote", lambda: [price(req, "bfl") for _ in range(n)])
    return [m]


# ---------------------------------------------------------------------------- one edit, BFL emulator
KEY = "bench_bfl_key"


def emulator_edit(home: Path, repeats: int, profile: Any = None) -> list[Metric]:
    name = "edit_emulator"
    goal, unit = 1.0, "ms"
    label, floor_label = "one edit vs zero-latency BFL emulator, minus wire", "50 ms"
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    try:
        from flexstudio.providers import bfl  # noqa: F401  (fails while the provider is missing)
        from tests.emulators.base import Delivery
        from tests.emulators.bfl import BflEmulator
    except ImportError as exc:
        return [
            not_available(
                name,
                goal,
                unit,
                f"BFL provider or emulator missing: {exc}",
                label=label,
                floor_label=floor_label,
            )
        ]
    import httpx

    from flexstudio.core.request import EditRequest
    from flexstudio.services import Services

    delivery = Delivery().start()
    emu = BflEmulator(delivery, latency_polls=0, key=KEY).start()
    env = {"BFL_API_KEY": KEY}
    refs_data = [small_jpeg((1024, 1024), (200, 60, 40)), small_jpeg((1024, 1024), (40, 90, 200))]
    try:
        svc0 = Services.build(base_urls={"bfl": emu.url}, env=env)
        refs = tuple(svc0.import_reference(d, f"ref{i}.jpg") for i, d in enumerate(refs_data))
        svc0.history.close()
        request = EditRequest(
            prompt="Put the lamp from image 2 on the table in image 1",
            references=refs,
            seed=7,
            provider="bfl",
        )

        def one() -> tuple[float, float, float, Any]:
            t0 = time.perf_counter()
            svc = Services.build(base_urls={"bfl": emu.url}, env=env)
            t1 = time.perf_counter()
            phases = _Phases(svc.bus)
            phases.t0 = t1

            async def go() -> Any:
                try:
                    return await svc.runner.run(request)
                finally:
                    await svc.aclose()

            rec = asyncio.run(go())
            t2 = time.perf_counter()
            if rec.state != "succeeded":
                raise RuntimeError(f"edit ended {rec.state}: {rec.error_message}")
            phase_rows.append(phases.summary())
            return t2 - t0, t1 - t0, t2 - t1, rec

        phase_rows: list[dict[str, float]] = []

        one()  # warm: imports, first connections
        phase_rows.clear()
        totals, builds, runs = [], [], []
        for _ in range(repeats):
            total, build, run, _rec = one()
            totals.append(total)
            builds.append(build)
            runs.append(run)
        # wire time: the same result bytes fetched raw from the delivery host
        with delivery.lock:
            token, (data, _mime) = next(reversed(delivery.files.items()))
        url = f"{delivery.url}/results/{token}/sample.jpeg"

        async def wire() -> list[float]:
            out = []
            async with httpx.AsyncClient() as client:
                await client.get(url)
                for _ in range(max(5, repeats)):
                    t = time.perf_counter()
                    r = await client.get(url)
                    r.raise_for_status()
                    out.append(time.perf_counter() - t)
            return out

        wire_s = median(asyncio.run(wire()))
        value = (median(totals) - wire_s) * 1000
        m = Metric(name, value, 50.0, goal, unit, label=label, floor_label=floor_label).finish()
        m.extra = {
            "total_ms": median(totals) * 1000,
            "build_ms": median(builds) * 1000,
            "run_ms": median(runs) * 1000,
            "wire_ms": wire_s * 1000,
            "result_bytes": len(data),
            "repeats": repeats,
            "phases_ms": {
                k.replace("_max_ms", ""): round(median([r[k] for r in phase_rows]), 1) for k in phase_rows[0]
            }
            if phase_rows
            else {},
        }
        if profile is not None and not m.ok:
            profile("edit_emulator", lambda: [one() for _ in range(3)])
        return [m]
    except Exception as exc:  # a provider under construction must not stop the other figures
        return [
            not_available(
                name, goal, unit, f"{type(exc).__name__}: {exc}", label=label, floor_label=floor_label
            )
        ]
    finally:
        emu.stop()
        delivery.stop()


# ------------------------------------------------------------------------ comparison on 8 providers
_EMULATORS: list[Any] = []


def _timed_bfl(latency: float) -> Any:
    """A BFL emulator whose jobs stay Pending for ``latency`` seconds of wall time (like a real cloud)."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from tests.emulators.base import Delivery, json_reply
    from tests.emulators.bfl import BflEmulator

    class Timed(BflEmulator):
        def handle(self, req: Any) -> Any:
            if req.method == "GET" and "get_result" in req.path:
                born = self.state.get("born", {}).get(req.q("id"))
                if born is not None and time.monotonic() - born < latency:
                    return json_reply(
                        {
                            "id": req.q("id"),
                            "status": "Pending",
                            "result": None,
                            "progress": round((time.monotonic() - born) / latency, 2),
                            "details": None,
                            "preview": None,
                        }
                    )
            reply = super().handle(req)
            if req.method == "POST" and reply.status == 200 and isinstance(reply.body, dict):
                self.state.setdefault("born", {})[reply.body["id"]] = time.monotonic()
            return reply

    delivery = Delivery()
    delivery.keep_alive = True  # HTTP keep-alive, as BFL's API and its delivery CDN do
    delivery.start()
    emu = Timed(delivery, latency_polls=0, key="bfl_bench_key")
    emu.keep_alive = True
    emu.start()
    _EMULATORS.extend([emu, delivery])
    return emu


def _compare_setup(latency: float) -> tuple[Any, list[str], Any]:
    """Eight BFL-compatible endpoints, each its own local emulator with the same latency: what FlexStudio
    adds on top of eight clouds working at once (no work of the clouds' own runs on this machine)."""
    from flexstudio.core.request import EditRequest
    from flexstudio.jobs.runner import RunnerConfig
    from flexstudio.services import Services
    from flexstudio.storage.settings import CustomEndpoint

    ids = [f"bench-bfl-{i}" for i in range(8)]
    # Poll often so the figure measures FlexStudio's overhead, not where a poll happens to fall.
    cfg = RunnerConfig(poll_interval=0.05, max_poll_interval=0.05)
    svc = Services.build(runner_config=cfg)
    for i, pid in enumerate(ids):
        emu = _timed_bfl(latency)
        svc.registry.add_custom(CustomEndpoint(pid, f"Cloud {i + 1}", "bfl", emu.url, {"auth": "x-key"}))
        svc.secrets._memory[pid] = "bfl_bench_key"
    refs = tuple(
        svc.import_reference(small_jpeg((1024, 1024), c), f"ref{n}.jpg")
        for n, c in enumerate([(200, 60, 40), (40, 90, 200)])
    )
    request = EditRequest(
        prompt="Put the lamp from image 2 on the table in image 1", references=refs, seed=3, size=(1024, 1024)
    )
    return svc, ids, request


def _stop_emulators() -> None:
    while _EMULATORS:
        _EMULATORS.pop().stop()


async def _group(svc: Any, ids: list[str], request: Any) -> float:
    t = time.perf_counter()
    recs = svc.runner.create_group([request.with_(provider=p) for p in ids], "compare")
    done = await asyncio.gather(*(svc.runner.start(r.id) for r in recs))
    assert all(r.state == "succeeded" for r in done), [r.error_message for r in done]
    return time.perf_counter() - t


class _Phases:
    """Per-job times of each state change (from the runner's event stream), to show where a
    comparison's extra time goes."""

    ORDER = ("queued", "submitting", "running", "downloading", "succeeded")

    def __init__(self, bus: Any) -> None:
        self.t0 = time.perf_counter()
        self.seen: dict[str, dict[str, float]] = {}
        bus.subscribe(self._on)

    def reset(self) -> None:
        self.t0 = time.perf_counter()
        self.seen.clear()

    def _on(self, ev: Any) -> None:
        self.seen.setdefault(ev.job_id, {}).setdefault(ev.state, time.perf_counter())

    def summary(self) -> dict[str, float]:
        """Worst job's ms from the start to submitting, in submit, waiting for the result, downloading."""
        spans: dict[str, list[float]] = {"to_submit": [], "submit": [], "wait": [], "fetch": []}
        for t in self.seen.values():
            if not all(k in t for k in self.ORDER):
                continue
            spans["to_submit"].append(t["submitting"] - self.t0)
            spans["submit"].append(t["running"] - t["submitting"])
            spans["wait"].append(t["downloading"] - t["running"])
            spans["fetch"].append(t["succeeded"] - t["downloading"])
        return {f"{k}_max_ms": round(max(v) * 1000, 1) for k, v in spans.items() if v}


def compare8(home: Path, latency: float, singles: int, repeats: int, profile: Any = None) -> list[Metric]:
    svc, ids, request = _compare_setup(latency)
    phases = _Phases(svc.bus)
    alone_phases: list[dict[str, float]] = []
    group_phases: list[dict[str, float]] = []

    async def one_alone(pid: str) -> float:
        phases.reset()
        t = time.perf_counter()
        rec = await svc.runner.run(request.with_(provider=pid))
        assert rec.state == "succeeded", rec.error_message
        dt = time.perf_counter() - t
        alone_phases.append(phases.summary())
        return dt

    async def main() -> tuple[list[float], list[float]]:
        await one_alone(ids[0])  # warm
        alone_phases.clear()
        alone = [await one_alone(pid) for pid in ids[:singles]]
        together = []
        for _ in range(repeats):
            phases.reset()
            together.append(await _group(svc, ids, request))
            group_phases.append(phases.summary())
        return alone, together

    try:
        alone, together = asyncio.run(main())
    finally:
        asyncio.run(svc.aclose())
        _stop_emulators()
    # The eight providers are identical, so "the slowest single provider" is the typical single run: the
    # median of the single runs (the max of one sample each would mostly measure machine noise).
    floor = median(alone)
    value = median(together)
    m = Metric(
        "compare_8",
        value,
        floor,
        1.1,
        "s",
        label=f"comparison, 8 providers × {latency:g} s latency",
        floor_label="a single provider alone (median)",
    ).finish()

    def med(rows: list[dict[str, float]]) -> dict[str, float]:
        keys = rows[0].keys() if rows else ()
        return {k: round(median([r[k] for r in rows if k in r]), 1) for k in keys}

    m.extra = {
        "alone_s": [round(a, 3) for a in alone],
        "together_s": [round(t, 3) for t in together],
        "alone_max_single_s": round(max(alone), 3),
        "alone_phases": med(alone_phases),
        "together_phases": med(group_phases),
    }
    if profile is not None and not m.ok:
        svc2, ids2, req2 = _compare_setup(latency)

        async def prof() -> None:
            try:
                await _group(svc2, ids2, req2)
            finally:
                await svc2.aclose()

        try:
            profile("compare_8", lambda: asyncio.run(prof()))
        finally:
            _stop_emulators()
    return [m]
