"""RunAPI provider (preview) against its emulator, over real HTTP."""

from __future__ import annotations

import base64
import json

import pytest

from flexstudio.core.errors import BadInput, JobGone, MissingKey
from flexstudio.core.request import EditRequest
from flexstudio.providers import runapi
from flexstudio.providers.base import REQUEST_FIELDS, Support
from tests.emulators.runapi import KEY
from tests.providers import scenarios
from tests.support import reference

RUNAPI = runapi.PROFILES[0]
A = runapi.ASSUMPTIONS
RIG = scenarios.RUNAPI_RIG
run_job = scenarios.run_job
size_of = scenarios.size_of


def provider(client, emu, sleeps=None, key=KEY, **options):
    return RIG.provider(client, emu, sleeps, key, **options)


def submits(emu):
    return RIG.submits(emu)


# ------------------------------------------------------------------------------------------------ profile
def test_profile_is_preview_with_its_assumptions_in_one_place():
    assert RUNAPI.id == "runapi" and RUNAPI.protocol == "runapi" and RUNAPI.env_var == "RUNAPI_KEY"
    assert RUNAPI.preview and RUNAPI.display_name == "RunAPI (preview)"
    assert RUNAPI.default_base_url == A.base_url
    assert isinstance(A, runapi.RunApiAssumptions)
    caps = RUNAPI.capabilities
    assert set(caps.fields) == set(REQUEST_FIELDS)
    for name in ("steps", "guidance", "seed", "safety", "output_format", "prompt_upsampling"):
        assert caps.handling(name).support is Support.IGNORED
    assert caps.max_references == A.max_references == 8


# ------------------------------------------------------------------------------------------------ wire shape
@pytest.mark.asyncio
async def test_text_to_image_shape(emulator, client):
    emu = emulator(latency_polls=2)
    request = EditRequest(prompt="a lighthouse at dusk", steps=30, guidance=4.0, seed=11, size=(832, 1248))
    sub, result, blobs, states = await run_job(provider(client, emu), request, [])
    post = submits(emu)
    assert [r.path for r in post] == ["/api/v1/flux_2/text_to_image"]
    assert post[0].header("authorization") == f"Bearer {KEY}"
    assert post[0].json() == {
        "model": "flux-2-flex-text-to-image",
        "prompt": "a lighthouse at dusk",
        "aspect_ratio": "2:3",
        "output_resolution": "1k",
        "enable_safety_checker": True,
    }
    polls = [r for r in emu.requests if r.method == "GET"]
    assert len(polls) == 3 and states == ["queued", "running", "done"]
    assert all(r.url == sub.handle["poll_url"] for r in polls)
    assert sub.handle["poll_url"] == f"{emu.url}/api/v1/flux_2/text_to_image/{sub.provider_job_id}"
    assert KEY not in json.dumps(sub.handle)
    assert size_of(blobs[0]) == (128, 128)
    assert [r.header("authorization") for r in emu.delivery.requests] == [None]
    assert result.billed_usd is None


@pytest.mark.asyncio
async def test_references_are_uploaded_then_remixed(emulator, client):
    emu = emulator()
    refs = [reference(color=(i * 60, 5, 5)) for i in range(2)]
    request = EditRequest(prompt="blend these two", references=tuple(r for r, _ in refs), size=(2048, 2048))
    await run_job(provider(client, emu), request, [p for _, p in refs])
    uploads = [r for r in emu.requests if r.path == "/api/v1/files"]
    assert len(uploads) == 2
    assert [base64.b64decode(r.json()["source"]["data"]) for r in uploads] == [p.data for _, p in refs]
    assert all(r.json()["source"]["type"] == "base64" for r in uploads)
    body = submits(emu)[0].json()
    assert submits(emu)[0].path == "/api/v1/flux_2/remix_image"
    assert body["model"] == "flux-2-flex-remix-image" and body["output_resolution"] == "2k"
    assert body["source_image_urls"] == [f"{emu.url}/files/{t}" for t in emu.files]
    assert set(body) == {
        "model",
        "prompt",
        "aspect_ratio",
        "output_resolution",
        "enable_safety_checker",
        "source_image_urls",
    }


@pytest.mark.asyncio
async def test_user_given_urls_skip_the_upload(emulator, client):
    emu = emulator()
    urls = ["https://images.example.test/a.jpg"]
    await run_job(provider(client, emu, reference_urls=urls), EditRequest(prompt="edit that one"), [])
    assert not [r for r in emu.requests if r.path == "/api/v1/files"]
    assert submits(emu)[0].json()["source_image_urls"] == urls


@pytest.mark.asyncio
async def test_refusals_before_sending(emulator, client):
    emu = emulator()
    with pytest.raises(MissingKey, match="RUNAPI_KEY"):
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
    with pytest.raises(JobGone):
        await provider(client, emu).poll({"poll_url": f"{emu.url}/api/v1/flux_2/text_to_image/tsk_nope"})
