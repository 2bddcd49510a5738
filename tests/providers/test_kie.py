"""Kie.ai provider against its emulator, over real HTTP."""

from __future__ import annotations

import json

import pytest

from flexstudio.core.errors import BadInput, ErrorKind, JobGone, MissingKey, ProviderError
from flexstudio.core.request import EditRequest
from flexstudio.providers import kie
from flexstudio.providers.base import REQUEST_FIELDS, Support
from tests.emulators.kie import KEY, MODEL_I2I, MODEL_T2I
from tests.providers import scenarios
from tests.support import Sleeps, reference

KIE = kie.PROFILES[0]
RIG = scenarios.KIE_RIG
run_job = scenarios.run_job
size_of = scenarios.size_of


def provider(client, emu, sleeps=None, key=KEY, **options):
    return RIG.provider(client, emu, sleeps, key, **options)


def creates(emu):
    return RIG.submits(emu)


# ------------------------------------------------------------------------------------------------ profile
def test_profile_and_capabilities():
    caps = KIE.capabilities
    assert KIE.id == "kie" and KIE.protocol == "kie" and KIE.env_var == "KIE_API_KEY"
    assert KIE.default_base_url == "https://api.kie.ai" and not KIE.preview
    assert set(caps.fields) == set(REQUEST_FIELDS)
    for name in ("steps", "guidance", "seed", "safety", "output_format", "prompt_upsampling"):
        assert caps.handling(name).support is Support.IGNORED and caps.handling(name).note
    assert caps.handling("size").support is Support.CONVERTED
    assert caps.steps_range is None and caps.guidance_range is None and caps.max_references == 8
    assert not caps.can_cancel and not caps.prompt_upsampling


def test_size_conversion():
    assert kie.nearest_aspect(1024, 1024) == "1:1"
    assert kie.nearest_aspect(1360, 768) == "16:9"
    assert kie.nearest_aspect(1248, 832) == "3:2"
    assert kie.nearest_aspect(768, 1024) == "3:4"
    assert kie.nearest_aspect(1568, 672) == "16:9"  # 21:9 is not offered: nearest
    assert kie.resolution_tier(1024, 1024) == "1K" and kie.resolution_tier(1440, 1440) == "1K"
    assert kie.resolution_tier(2048, 2048) == "2K" and kie.resolution_tier(1920, 1120) == "2K"
    assert kie.resolution_tier(1920, 1088) == "1K"  # 1.99 MP: nearer 1 MP than 4 MP on a log scale


def test_result_json_is_a_string():
    assert kie._result_urls("Kie.ai", '{"resultUrls": ["https://x.test/a.png"]}') == ["https://x.test/a.png"]
    with pytest.raises(ProviderError) as info:
        kie._result_urls("Kie.ai", '{"resultUrls": [')
    assert info.value.kind is ErrorKind.PROVIDER
    with pytest.raises(ProviderError):
        kie._result_urls("Kie.ai", '{"resultUrls": []}')


# ------------------------------------------------------------------------------------------------ wire shape
@pytest.mark.asyncio
async def test_text_to_image_shape_and_poll_url_used_verbatim(emulator, client):
    emu = emulator(latency_polls=3)
    request = EditRequest(
        prompt="a lighthouse at dusk",
        steps=30,
        guidance=4.0,
        seed=11,
        size=(1360, 768),
        output_format="png",
        safety=4,
        prompt_upsampling=False,
    )
    prov = provider(client, emu)
    sub, result, blobs, states = await run_job(prov, request, [])

    create = creates(emu)
    assert len(create) == 1
    assert create[0].header("authorization") == f"Bearer {KEY}"
    body = create[0].json()
    # exactly the documented fields: no steps / guidance / seed / safety / format / upsampling, no callBackUrl
    assert body == {
        "model": MODEL_T2I,
        "input": {"prompt": "a lighthouse at dusk", "aspect_ratio": "16:9", "resolution": "1K"},
    }
    polls = [r for r in emu.requests if r.path == "/api/v1/jobs/recordInfo"]
    assert len(polls) == 4 and states == [
        "queued",
        "queued",
        "running",
        "done",
    ]  # waiting, queuing, generating
    assert all(r.url == sub.handle["poll_url"] for r in polls)
    assert all(r.header("authorization") == f"Bearer {KEY}" for r in polls)
    assert sub.provider_job_id == sub.handle["task_id"] and sub.handle["task_id"].startswith("task_flux-2_")
    assert KEY not in json.dumps(sub.handle)
    assert len(result.urls) == 1 and result.urls[0].startswith(emu.delivery.url)
    assert result.seed is None and result.billed_usd is None
    assert blobs[0].startswith(b"\x89PNG")
    assert [r.header("authorization") for r in emu.delivery.requests] == [None]
    assert emu.created == 1


@pytest.mark.asyncio
async def test_two_k_resolution(emulator, client):
    emu = emulator()
    await run_job(provider(client, emu), EditRequest(prompt="a big poster", size=(2048, 2048)), [])
    assert creates(emu)[0].json()["input"] == {
        "prompt": "a big poster",
        "aspect_ratio": "1:1",
        "resolution": "2K",
    }


@pytest.mark.asyncio
async def test_local_references_are_uploaded_then_sent_as_urls(emulator, client):
    emu = emulator()
    refs = [reference(color=(i * 50, 20, 20)) for i in range(2)]
    request = EditRequest(prompt="put them together", references=tuple(r for r, _ in refs), size=(1024, 768))
    prov = provider(client, emu)
    _, result, _, _ = await run_job(prov, request, [p for _, p in refs])

    uploads = [r for r in emu.requests if r.path == "/api/file-stream-upload"]
    assert len(uploads) == 2
    assert all(r.header("authorization") == f"Bearer {KEY}" for r in uploads)
    assert all(r.header("content-type").startswith("multipart/form-data") for r in uploads)
    assert [emu.uploads[fid][0] for fid in emu.uploads] == [p.data for _, p in refs]
    body = creates(emu)[0].json()
    assert body["model"] == MODEL_I2I
    assert body["input"]["input_urls"] == [f"{emu.url}/download/{fid}" for fid in emu.uploads]
    assert body["input"]["aspect_ratio"] == "4:3" and set(body["input"]) == {
        "prompt",
        "input_urls",
        "aspect_ratio",
        "resolution",
    }
    assert result.urls


@pytest.mark.asyncio
async def test_user_given_reference_urls_are_sent_verbatim(emulator, client):
    emu = emulator()
    urls = ["https://images.example.test/a.jpg", "https://images.example.test/b.png?sig=1"]
    ref, prepared = reference()
    request = EditRequest(prompt="mix these", references=(ref,), extras=(("reference_urls", tuple(urls)),))
    await run_job(provider(client, emu), request, [prepared])
    assert not [r for r in emu.requests if r.path == "/api/file-stream-upload"]
    assert creates(emu)[0].json()["input"]["input_urls"] == urls


@pytest.mark.asyncio
async def test_local_references_refused_when_uploads_are_off_and_nothing_is_sent(emulator, client):
    emu = emulator()
    ref, prepared = reference()
    prov = provider(client, emu, upload_references=False)
    with pytest.raises(ProviderError, match="public https URLs") as info:
        await prov.submit(EditRequest(prompt="edit it", references=(ref,)), [prepared])
    assert info.value.kind is ErrorKind.VALIDATION
    assert emu.requests == []
    # text-to-image still works with uploads off
    await run_job(prov, EditRequest(prompt="no references"), [])
    assert creates(emu)[0].json()["model"] == MODEL_T2I


@pytest.mark.asyncio
async def test_plain_http_reference_url_is_refused(emulator, client):
    emu = emulator()
    request = EditRequest(prompt="mix", extras=(("reference_urls", ("http://images.example.test/a.jpg",)),))
    with pytest.raises(ProviderError) as info:
        await provider(client, emu).submit(request, [])
    assert info.value.kind is ErrorKind.NETWORK and emu.requests == []


@pytest.mark.asyncio
async def test_refusals_before_sending(emulator, client):
    emu = emulator()
    with pytest.raises(MissingKey, match="KIE_API_KEY"):
        await provider(client, emu, key="").submit(EditRequest(prompt="abc"), [])
    refs = [reference() for _ in range(9)]
    with pytest.raises(BadInput, match="at most 8"):
        await provider(client, emu).submit(
            EditRequest(prompt="abc", references=tuple(r for r, _ in refs)), [p for _, p in refs]
        )
    assert emu.requests == []


@pytest.mark.asyncio
async def test_unknown_task_is_gone(emulator, client):
    emu = emulator()
    prov = provider(client, emu)
    with pytest.raises(JobGone):
        await prov.poll({"poll_url": f"{emu.url}/api/v1/jobs/recordInfo?taskId=task_nope"})
    assert await prov.cancel({"task_id": "x"}) is False


@pytest.mark.asyncio
@pytest.mark.parametrize("step", ["poll", "create"])
async def test_a_busy_code_in_the_body_waits_like_a_429(step, client):
    """Kie says "busy" in a 200 body (code 429) with Retry-After: 999999. A status read waits as long as
    any Retry-After may make it (capped, counted by the job's deadline) and asks again — never an 11-day
    sleep; the paid create is not sent again after a wait that long (as for an HTTP 429): nothing made."""
    from tests.emulators.base import json_reply
    from tests.providers import faults

    def busy(_normal):
        return json_reply({"code": 429, "msg": "busy"}, 200, **{"Retry-After": "999999"})

    emu = RIG.start()
    sleeps = Sleeps()
    try:
        rules = faults.Faults(RIG)
        rules.attach(emu)
        rules.add("poll" if step == "poll" else "answer", busy, 1)
        prov = provider(client, emu, sleeps)
        if step == "poll":
            _, _, blobs, _ = await run_job(prov, EditRequest(prompt="a cat on a roof"), [])
            assert blobs and sleeps.waits == [60.0]  # RetryPolicy.max_retry_after
        else:
            with pytest.raises(ProviderError) as info:
                await prov.submit(EditRequest(prompt="a cat on a roof"), [])
            assert info.value.kind is ErrorKind.RATE_LIMITED and sleeps.waits == []
    finally:
        RIG.stop(emu)
    assert len(creates(emu)) == 1 and emu.created == (1 if step == "poll" else 0)
