"""Prepared references are kept between runs (storage.prepared): a re-run from a new process decodes
nothing and sends the very same bytes; a damaged cache file is prepared again, never sent; another target
is prepared anew; the folder stays under its bound."""

from __future__ import annotations

import asyncio
import io

from PIL import Image

from flexstudio.core import images
from flexstudio.core.request import EditRequest
from flexstudio.jobs.runner import RunnerConfig
from flexstudio.providers.base import Capabilities, PollResult, ProviderInfo, Result, Submission
from flexstudio.services import Services
from flexstudio.storage.prepared import PreparedStore


def _photo(i: int, size: tuple[int, int] = (640, 480)) -> bytes:
    noise = Image.effect_noise(size, 40 + i)
    im = Image.merge("RGB", (noise, Image.linear_gradient("L").resize(size), noise.rotate(90 * i)))
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=90)
    return buf.getvalue()


class Recording:
    def __init__(self, info, ctx, sent: list[tuple[str, bytes]]) -> None:
        self.info, self.ctx, self.sent = info, ctx, sent

    def should_stage(self, request):
        return True

    async def stage(self, ref):
        self.sent.append((ref.source_sha256, ref.data))

    async def submit(self, request, references):
        return Submission("p-1", {"id": "p-1"})

    async def poll(self, handle):
        return PollResult("done", result=Result(images=(_photo(9, (64, 64)),)))

    async def download(self, url):
        raise AssertionError("no download")

    async def cancel(self, handle):
        return False


def _services(sent: list[tuple[str, bytes]], max_pixels: int = 100_000) -> Services:
    svc = Services.build(runner_config=RunnerConfig(poll_interval=0.001))
    info = ProviderInfo(
        id="staging",
        label="Staging",
        protocol="test",
        capabilities=Capabilities(max_references=8, formats=("jpeg", "png"), max_pixels=max_pixels),
        default_base_url="https://api.example",
        needs_key=False,
        factory=lambda ctx: Recording(info, ctx, sent),
    )
    svc.registry.register(info)
    return svc


def _run(svc: Services, refs) -> None:
    async def go():
        try:
            return await svc.runner.run(
                EditRequest(
                    prompt="three references", references=tuple(refs), provider="staging", size=(128, 128)
                )
            )
        finally:
            await svc.aclose()

    job = asyncio.run(go())
    assert job.state == "succeeded", job.error_message


def _counting(monkeypatch) -> list[str]:
    calls: list[str] = []
    real = images.prepare

    def counted(data, **kw):
        calls.append(kw.get("sha256") or images.sha256_of(data))
        return real(data, **kw)

    monkeypatch.setattr(images, "prepare", counted)
    return calls


def test_a_rerun_in_a_new_process_decodes_nothing_and_sends_the_same_bytes(monkeypatch, home):
    first: list[tuple[str, bytes]] = []
    svc = _services(first)
    refs = [svc.import_reference(_photo(i), f"p{i}.jpg") for i in range(3)]
    calls = _counting(monkeypatch)
    _run(svc, refs)
    assert sorted(calls) == sorted(r.sha256 for r in refs)
    assert all(
        Image.open(io.BytesIO(data)).size[0] * Image.open(io.BytesIO(data)).size[1] <= 100_000
        for _, data in first
    )  # really prepared (640×480 → ≤ 0.1 MP), not passed through
    files = sorted((home / "cache" / "prepared").glob("*/*"))
    assert len(files) == 3

    second: list[tuple[str, bytes]] = []
    calls.clear()
    _run(_services(second), refs)  # a new Services = what a new process builds
    assert calls == []  # nothing decoded
    assert sorted(second) == sorted(first)

    # a damaged file (a crash mid-write, a bad disk) is found out by its hash and prepared again
    victim = files[0]
    victim.write_bytes(victim.read_bytes()[:-100])
    third: list[tuple[str, bytes]] = []
    _run(_services(third), refs)
    assert len(calls) == 1
    assert sorted(third) == sorted(first)

    # a provider with another limit gets its own preparation
    calls.clear()
    fourth: list[tuple[str, bytes]] = []
    _run(_services(fourth, max_pixels=50_000), refs)
    assert len(calls) == 3
    assert all(a != b for (_, a), (_, b) in zip(sorted(fourth), sorted(first), strict=True))


def test_the_folder_stays_under_its_bound(tmp_path):
    datas = [_photo(i) for i in range(6)]
    prepared = [images.prepare(d, max_pixels=100_000) for d in datas]
    each = max(len(p.data) for p in prepared)
    store = PreparedStore(tmp_path, max_bytes=3 * each)
    for p in prepared:
        store.put(p, 100_000)
    total = sum(f.stat().st_size for f in tmp_path.glob("*/*"))
    assert 0 < total <= 3 * each
    assert store.get(prepared[-1].source_sha256, 100_000) == prepared[-1]  # the newest stays
    assert store.get(prepared[0].source_sha256, 100_000) is None  # the oldest went first
    assert store.get(prepared[-1].source_sha256, 100_000, "png") is None  # another target: not found


def test_prepared_ahead_a_run_only_uploads(monkeypatch):
    sent: list[tuple[str, bytes]] = []
    svc = _services(sent)
    refs = [svc.import_reference(_photo(i), f"p{i}.jpg") for i in range(3)]
    calls = _counting(monkeypatch)

    async def go():
        try:
            await svc.runner.prepare_ahead(refs, "staging")
            ahead = len(calls)
            await svc.runner.prepare_ahead(refs, "staging")  # again: nothing left to do
            again = len(calls)
            job = await svc.runner.run(
                EditRequest(
                    prompt="three references", references=tuple(refs), provider="staging", size=(128, 128)
                )
            )
            return ahead, again, job
        finally:
            await svc.aclose()

    ahead, again, job = asyncio.run(go())
    assert job.state == "succeeded", job.error_message
    assert (ahead, again, len(calls)) == (3, 3, 3)  # the run prepared nothing itself
    assert sorted(s for s, _ in sent) == sorted(r.sha256 for r in refs)


def test_prepare_ahead_leaves_a_bad_reference_to_the_run(monkeypatch):
    svc = _services([])
    ref = svc.import_reference(_photo(0), "p0.jpg")
    svc.blobs.delete(ref.sha256)  # the file went missing after it was added

    async def go():
        try:
            await svc.runner.prepare_ahead([ref], "staging")  # no exception: best effort
            await svc.runner.prepare_ahead([ref], "no-such-provider")
        finally:
            await svc.aclose()

    asyncio.run(go())
