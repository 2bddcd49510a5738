"""References are uploaded once per provider account and reused, over real HTTP against the fal and
Replicate emulators: one upload per reference, reuse on re-run / sweep / comparison / chain, a fresh
upload after expiry (known or discovered), no key on any upload URL that is not the provider's API, and a
cached URL never sent to another provider or account."""

from __future__ import annotations

import asyncio
import io
import os

import pytest
from PIL import Image

from flexstudio.core.request import EditRequest
from flexstudio.jobs.runner import RunnerConfig
from flexstudio.providers import fal, replicate
from flexstudio.providers.base import PreparedReference, ProviderContext
from flexstudio.providers.uploads import UploadingProvider, Uploads, account_fingerprint
from flexstudio.services import Services
from tests.emulators.base import Delivery
from tests.emulators.fal import DEFAULT_KEY as FAL_KEY
from tests.emulators.fal import FalEmulator
from tests.emulators.replicate import DEFAULT_TOKEN as R8_KEY
from tests.emulators.replicate import ReplicateEmulator
from tests.support import Sleeps, reference, stop_all

FAL = fal.PROFILES[0]
REPLICATE = replicate.PROFILES[0]


@pytest.fixture
def rig():
    delivery = Delivery().start()
    delivery.third = Delivery().start()
    f = FalEmulator(delivery).start()
    r = ReplicateEmulator(delivery).start()
    yield f, r
    stop_all(f, r, delivery.third, delivery)


def make(info, emu, client, uploads, key, **options):
    ctx = ProviderContext(
        client=client,
        api_key=key,
        base_url=emu.url,
        options=options,
        poll_interval=0,
        sleep=Sleeps(),
        uploads=uploads,
    )
    return info.create(ctx)


def refs(n=3):
    pairs = [reference(320 + 16 * i, 240, (40 * i, 90, 200)) for i in range(n)]
    return tuple(r for r, _ in pairs), [p for _, p in pairs]


def noisy_jpeg(w=1024, h=1024) -> bytes:
    """A JPEG that does not compress away (well above the inline threshold)."""
    im = Image.frombytes("RGB", (w, h), os.urandom(w * h * 3))
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=90)
    return buf.getvalue()


def posts(emu, path):
    return [r for r in emu.requests if r.method == "POST" and r.path.startswith(path)]


# ------------------------------------------------------------------------------------------------ fal
@pytest.mark.asyncio
async def test_fal_uploads_each_reference_once_and_reuses_it(rig, client):
    emu, _ = rig
    uploads = Uploads()
    images, prepared = refs(3)
    request = EditRequest(prompt="combine image 1, 2 and 3", references=images, size=(512, 512), seed=1)
    for _ in range(2):  # a run, then a re-run (a new provider object, as for every job)
        await make(FAL, emu, client, uploads, FAL_KEY, inline_max_bytes=0).submit(request, prepared)
    # a sweep: 12 cells at once share the same uploads
    cells = [request.with_(steps=s) for s in range(20, 32)]
    await asyncio.gather(
        *(make(FAL, emu, client, uploads, FAL_KEY, inline_max_bytes=0).submit(c, prepared) for c in cells)
    )
    assert emu.files.uploads == 3 and emu.files.upload_bytes == sum(len(p.data) for p in prepared)
    assert emu.token_requests == 1
    submits = posts(emu, "/fal-ai/")
    assert len(submits) == 14
    sent = {tuple(r.json()["image_urls"]) for r in submits}
    assert len(sent) == 1 and all(u.startswith(f"{emu.url}/cdn/files/") for u in next(iter(sent)))
    # the CDN got the short-lived storage token, never the account key; no URL carries the key
    for r in posts(emu, "/cdn/files/upload"):
        assert r.header("authorization").startswith("Bearer cdn-") and FAL_KEY not in r.header(
            "authorization"
        )
        assert r.header("content-type") == "image/jpeg" and r.header("x-fal-object-lifecycle")
    assert [r.header("authorization") for r in posts(emu, "/rest/")] == [f"Key {FAL_KEY}"]
    assert not any(FAL_KEY in u for u in next(iter(sent)))
    assert uploads.stats.uploads == 3 and uploads.stats.reused == 3 * 13


@pytest.mark.asyncio
async def test_fal_refused_cached_url_is_uploaded_again_once(rig, client):
    emu, _ = rig
    uploads = Uploads()
    images, prepared = refs(2)
    request = EditRequest(prompt="image 1 in image 2", references=images, size=(512, 512), seed=2)
    await make(FAL, emu, client, uploads, FAL_KEY, inline_max_bytes=0).submit(request, prepared)
    emu.files.expire_all()  # fal deleted the files before our cache says so
    sub = await make(FAL, emu, client, uploads, FAL_KEY, inline_max_bytes=0).submit(request, prepared)
    assert sub.provider_job_id
    statuses = [st for r, st in emu.answers if r.method == "POST" and r.path.startswith("/fal-ai/")]
    assert statuses == [200, 422, 200]  # the refused submit made no job; the second one did
    assert emu.files.uploads == 4 and len(emu.jobs) == 2


@pytest.mark.asyncio
async def test_known_expiry_uploads_again_without_a_refusal(rig, client):
    emu, _ = rig
    now = [1_000_000.0]
    uploads = Uploads(clock=lambda: now[0])
    images, prepared = refs(1)
    request = EditRequest(prompt="edit image 1", references=images, size=(512, 512), seed=3)
    await make(FAL, emu, client, uploads, FAL_KEY, inline_max_bytes=0).submit(request, prepared)
    now[0] += fal.UPLOAD_LIFETIME  # the lifecycle we asked fal for has run out
    await make(FAL, emu, client, uploads, FAL_KEY, inline_max_bytes=0).submit(request, prepared)
    assert emu.files.uploads == 2
    assert [st for r, st in emu.answers if r.path.startswith("/fal-ai/")] == [200, 200]


@pytest.mark.asyncio
async def test_small_references_stay_inline_and_large_ones_are_uploaded(rig, client):
    emu, _ = rig
    small_ref, small = reference(256, 256)
    data = noisy_jpeg()
    assert len(data) > fal.INLINE_MAX_BYTES
    big = PreparedReference(data, "image/jpeg", 1024, 1024, "b" * 64)
    request = EditRequest(
        prompt="image 1 and image 2", references=(small_ref, small_ref), size=(512, 512), seed=4
    )
    await make(FAL, emu, client, Uploads(), FAL_KEY).submit(request, [small, big])
    urls = posts(emu, "/fal-ai/")[0].json()["image_urls"]
    assert urls[0].startswith("data:image/jpeg;base64,") and urls[1].startswith(f"{emu.url}/cdn/files/")
    assert emu.files.uploads == 1


# ------------------------------------------------------------------------------------------------ Replicate
@pytest.mark.asyncio
async def test_replicate_files_api_once_then_reused_and_refreshed_after_expiry(rig, client):
    _, emu = rig
    uploads = Uploads()
    images, prepared = refs(3)
    request = EditRequest(prompt="combine the three", references=images, size=(512, 512), seed=5)
    for _ in range(3):
        await make(REPLICATE, emu, client, uploads, R8_KEY, inline_max_bytes=0).submit(request, prepared)
    files = posts(emu, "/v1/files")
    assert len(files) == 3 and emu.files.uploads == 3
    assert all(b'name="content"' in r.body for r in files)
    creates = posts(emu, "/v1/models/")
    sent = [r.json()["input"]["input_images"] for r in creates]
    assert all(s == sent[0] for s in sent) and all(u.startswith(f"{emu.url}/v1/files/") for u in sent[0])
    assert not any(R8_KEY in u for u in sent[0])
    emu.files.expire_all()
    await make(REPLICATE, emu, client, uploads, R8_KEY, inline_max_bytes=0).submit(request, prepared)
    assert [st for r, st in emu.answers if r.path.startswith("/v1/models/")] == [201, 201, 201, 422, 201]
    assert emu.files.uploads == 6 and len(emu.predictions) == 4


# ------------------------------------------------------------------------------------------------ isolation
@pytest.mark.asyncio
async def test_a_cached_url_never_goes_to_another_provider_or_account(rig, client):
    fal_emu, rep_emu = rig
    uploads = Uploads()  # one cache for everything, as in the runner
    images, prepared = refs(2)
    request = EditRequest(prompt="compare", references=images, size=(512, 512), seed=6)
    # a comparison: the same references on fal and Replicate
    await asyncio.gather(
        make(FAL, fal_emu, client, uploads, FAL_KEY, inline_max_bytes=0).submit(request, prepared),
        make(REPLICATE, rep_emu, client, uploads, R8_KEY, inline_max_bytes=0).submit(request, prepared),
    )
    fal_urls = posts(fal_emu, "/fal-ai/")[0].json()["image_urls"]
    rep_urls = posts(rep_emu, "/v1/models/")[0].json()["input"]["input_images"]
    assert all(u.startswith(fal_emu.url) for u in fal_urls) and all(
        u.startswith(rep_emu.url) for u in rep_urls
    )
    assert fal_emu.files.uploads == 2 and rep_emu.files.uploads == 2
    # another fal account: its own uploads, not the first account's URLs
    other = "other-id:other-secret"
    fal_emu.key = other
    await make(FAL, fal_emu, client, uploads, other, inline_max_bytes=0).submit(request, prepared)
    assert fal_emu.files.uploads == 4
    assert not set(posts(fal_emu, "/fal-ai/")[-1].json()["image_urls"]) & set(fal_urls)
    assert account_fingerprint(FAL_KEY) != account_fingerprint(other)
    assert FAL_KEY not in account_fingerprint(FAL_KEY)


@pytest.mark.asyncio
async def test_an_upload_url_carrying_the_key_is_refused():
    from flexstudio.core.errors import ProviderError
    from flexstudio.providers.uploads import Uploaded

    class Leaky(UploadingProvider):
        info = FAL
        options: dict = {}

        def __init__(self):
            self.ctx = ProviderContext(client=None, api_key="s3cret-key")

        def require_key(self):
            return "s3cret-key"

        async def upload_reference(self, ref):
            return Uploaded("https://files.example/x.jpg?token=s3cret-key")

    _, ref = reference()
    with pytest.raises(ProviderError, match="carries the account key"):
        await Leaky().reference_values([ref])


# ------------------------------------------------------------------------------------------------ the runner
def test_runs_sweeps_and_chains_reuse_uploads_across_processes(rig, monkeypatch, home):
    emu, _ = rig
    monkeypatch.setenv("FAL_KEY", FAL_KEY)

    def services():
        return Services.build(
            base_urls={"fal": emu.url},
            runner_config=RunnerConfig(
                poll_interval=0.001, provider_options={"fal": {"inline_max_bytes": 0}}
            ),
        )

    svc = services()
    big = svc.import_reference(noisy_jpeg(1200, 900), "big.jpg")
    request = EditRequest(
        prompt="put image 1 on a poster", references=(big,), size=(512, 512), seed=7, provider="fal"
    )

    async def first():
        try:
            rec = await svc.runner.run(request)
            group = svc.runner.create_group([request.with_(steps=s) for s in (20, 30, 40)], "sweep")
            await asyncio.gather(*(svc.runner.start(r.id) for r in group))
            return rec
        finally:
            await svc.aclose()

    rec = asyncio.run(first())
    assert rec.state == "succeeded" and emu.files.uploads == 1  # one run + a 3-cell sweep: one upload
    # a later process (a new Services on the same history) re-runs it, and chains twice from the result
    svc = services()

    async def later():
        try:
            again = await svc.runner.run(request.with_(seed=8))
            out = svc.import_reference(svc.blobs.get(rec.outputs[0].sha256), "result.jpg")
            child = request.with_(references=(out, big), prompt="image 1 framed like image 2")
            kids = [await svc.runner.run(child.with_(seed=s), parent_job_id=rec.id) for s in (1, 2)]
            return again, kids
        finally:
            await svc.aclose()

    again, kids = asyncio.run(later())
    assert again.state == "succeeded" and all(k.state == "succeeded" for k in kids)
    assert emu.files.uploads == 2  # only the parent's result, once, for both children
    stores = list(home.rglob("history.sqlite3*"))
    assert stores and not any(FAL_KEY.encode() in p.read_bytes() for p in stores)  # only a hash of the key


# ------------------------------------------------------------------------------------------------ Kie, RunAPI
@pytest.mark.asyncio
@pytest.mark.parametrize("pid", ["kie", "runapi"])
async def test_kie_and_runapi_upload_endpoints_share_the_cache(pid, client):
    from flexstudio.providers import kie, runapi
    from tests.emulators.kie import KieEmulator
    from tests.emulators.runapi import RunApiEmulator

    info = (kie if pid == "kie" else runapi).PROFILES[0]
    upload_path = "/api/file-stream-upload" if pid == "kie" else "/api/v1/files"
    delivery = Delivery().start()
    emu = (KieEmulator if pid == "kie" else RunApiEmulator)(delivery, key="k").start()
    try:
        uploads = Uploads()
        images, prepared = refs(2)
        request = EditRequest(
            prompt="blend image 1 and image 2", references=images, size=(1024, 1024), seed=9
        )
        for _ in range(3):
            await make(info, emu, client, uploads, "k").submit(request, prepared)
        assert len(posts(emu, upload_path)) == 2  # two references, three runs
        assert uploads.stats.uploads == 2 and uploads.stats.reused == 4
    finally:
        stop_all(emu, delivery)
