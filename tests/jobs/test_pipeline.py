"""The reference pipeline: preparing reference k+1 overlaps uploading reference k, the submit starts once
the last upload is done, and at most ``PREPARE_PARALLEL`` references are being prepared (decoded) at once."""

from __future__ import annotations

import asyncio
import io
import threading

from PIL import Image

from flexstudio.core.request import EditRequest
from flexstudio.jobs import prepare
from flexstudio.jobs.runner import RunnerConfig
from flexstudio.providers.base import Capabilities, PollResult, ProviderInfo, Result, Submission
from flexstudio.services import Services


def _png(i: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (64 + 16 * i, 64), (i * 30, 10, 10)).save(buf, "PNG")
    return buf.getvalue()


class Recorder:
    def __init__(self, n: int) -> None:
        self.log: list[tuple[str, int]] = []
        self.lock = threading.Lock()
        self.staged = [threading.Event() for _ in range(n)]
        self.preparing = 0
        self.most_preparing = 0

    def add(self, what: str, i: int) -> None:
        with self.lock:
            self.log.append((what, i))


class PrepCache:
    """Stands in for the runner's PreparedCache: preparing reference k waits (in its worker thread) until
    the upload of reference k-1 has started — which can only happen if the two overlap."""

    def __init__(self, rec: Recorder, order: dict[str, int]) -> None:
        self.rec, self.order = rec, order

    def get(self, sha, max_pixels):
        return None

    def prepare(self, data, *, max_pixels, name, sha256):
        from flexstudio.core import images

        k = self.order[sha256]
        with self.rec.lock:
            self.rec.preparing += 1
            self.rec.most_preparing = max(self.rec.most_preparing, self.rec.preparing)
        self.rec.add("prepare-start", k)
        if k > 0:
            assert self.rec.staged[k - 1].wait(10), f"upload {k - 1} had not started while preparing {k}"
        out = images.prepare(data, max_pixels=max_pixels, name=name)
        with self.rec.lock:
            self.rec.preparing -= 1
        self.rec.add("prepare-end", k)
        return out


class Staging:
    def __init__(self, info, ctx, rec: Recorder, order: dict[str, int]) -> None:
        self.info, self.ctx, self.rec, self.order = info, ctx, rec, order
        self.release = asyncio.Event()

    def should_stage(self, request):
        return True

    async def stage(self, ref):
        k = self.order[ref.source_sha256]
        self.rec.add("upload-start", k)
        self.rec.staged[k].set()
        await asyncio.sleep(0)  # the upload yields to the loop, as a real one does
        self.rec.add("upload-end", k)

    async def submit(self, request, references):
        self.rec.add("submit", len(references))
        return Submission("p-1", {"id": "p-1"})

    async def poll(self, handle):
        return PollResult("done", result=Result(images=(_png(0),)))

    async def download(self, url):
        raise AssertionError("no download")

    async def cancel(self, handle):
        return False


def test_prepare_overlaps_upload_and_submit_follows_the_last_upload():
    n = 5
    svc = Services.build(runner_config=RunnerConfig(poll_interval=0.001))
    refs = [svc.import_reference(_png(i), f"r{i}.png") for i in range(n)]
    order = {r.sha256: i for i, r in enumerate(refs)}
    rec = Recorder(n)
    info = ProviderInfo(
        id="staging",
        label="Staging",
        protocol="test",
        capabilities=Capabilities(max_references=8, formats=("jpeg", "png")),
        default_base_url="https://api.example",
        needs_key=False,
        factory=lambda ctx: Staging(info, ctx, rec, order),
    )
    svc.registry.register(info)
    svc.runner.preparer.cache = PrepCache(rec, order)

    async def go():
        try:
            return await svc.runner.run(
                EditRequest(
                    prompt="five references", references=tuple(refs), provider="staging", size=(128, 128)
                )
            )
        finally:
            await svc.aclose()

    job = asyncio.run(go())
    assert job.state == "succeeded", job.error_message
    log = rec.log
    at = {e: i for i, e in enumerate(log)}
    for k in range(n - 1):  # upload k began before preparing k+1 finished (it waited for it)
        assert at[("upload-start", k)] < at[("prepare-end", k + 1)]
    assert 1 <= rec.most_preparing <= prepare.PREPARE_PARALLEL  # bounded decodes: memory stays bounded
    # the submit comes right after the last upload, with every reference
    assert log[-1] == ("submit", n)
    assert max(at[("upload-end", k)] for k in range(n)) == len(log) - 2


class HeldPrep:
    """Each preparation holds its slot until the event loop has gone round many times, so every job that
    could start a preparation has done so: whatever runs at once then is the runner's real limit, not an
    accident of scheduling (loop turns, not time)."""

    def __init__(self) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None
        self.lock = threading.Lock()
        self.inside = 0
        self.most = 0

    def get(self, sha, max_pixels):
        return None

    def _turns(self, n: int) -> None:
        done = threading.Event()

        def hop(k: int) -> None:
            if k == 0:
                done.set()
            else:
                self.loop.call_soon(hop, k - 1)

        self.loop.call_soon_threadsafe(hop, n)
        assert done.wait(10), "the event loop stopped turning"

    def prepare(self, data, *, max_pixels, name, sha256):
        from flexstudio.core import images

        with self.lock:
            self.inside += 1
            self.most = max(self.most, self.inside)
        try:
            self._turns(200)
            return images.prepare(data, max_pixels=max_pixels, name=name)
        finally:
            with self.lock:
                self.inside -= 1


def test_jobs_together_never_prepare_more_than_the_limit():
    svc = Services.build(runner_config=RunnerConfig(poll_interval=0.001))
    refs = [svc.import_reference(_png(i), f"r{i}.png") for i in range(6)]
    rec = Recorder(1)
    prep = HeldPrep()

    def factory(ctx):
        return Staging(info, ctx, rec, {r.sha256: 0 for r in refs})

    info = ProviderInfo(
        id="staging",
        label="Staging",
        protocol="test",
        capabilities=Capabilities(max_references=8, formats=("jpeg", "png")),
        default_base_url="https://api.example",
        needs_key=False,
        factory=factory,
    )
    svc.registry.register(info)
    svc.runner.preparer.cache = prep

    async def go():
        prep.loop = asyncio.get_running_loop()
        try:
            reqs = [
                EditRequest(
                    prompt=f"job {j}",
                    references=(refs[2 * j], refs[2 * j + 1]),
                    provider="staging",
                    size=(128, 128),
                )
                for j in range(3)
            ]
            return await asyncio.gather(*(svc.runner.run(r) for r in reqs))
        finally:
            await svc.aclose()

    jobs = asyncio.run(go())
    assert all(j.state == "succeeded" for j in jobs), [j.error_message for j in jobs]
    assert prep.most == prepare.PREPARE_PARALLEL  # three jobs, six references: still two decodes at most
