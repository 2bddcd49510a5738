"""FairStack provider (preview) against its emulator, over real HTTP. The contract scenarios are in
test_sync_scenarios.py (the shared harness)."""

from __future__ import annotations

import json

import pytest

from flexstudio.core.errors import BadInput, JobGone, MissingKey
from flexstudio.core.request import EditRequest
from flexstudio.providers import fairstack
from flexstudio.providers.base import (
    PREVIEW_NOTE,
    REQUEST_FIELDS,
    Support,
)
from tests.emulators.fairstack import KEY
from tests.providers import scenarios
from tests.support import reference

FAIRSTACK = fairstack.PROFILES[0]
A = fairstack.ASSUMPTIONS
RIG = scenarios.FAIRSTACK_RIG


run_job = scenarios.run_job
size_of = scenarios.size_of


def provider(client, emu, sleeps=None, key=KEY, **options):
    return RIG.provider(client, emu, sleeps, key, **options)


# ------------------------------------------------------------------------------------------------ profile
def test_profile_is_preview_with_its_assumptions_in_one_place():
    assert FAIRSTACK.id == "fairstack" and FAIRSTACK.env_var == "FAIRSTACK_API_KEY"
    assert FAIRSTACK.preview and FAIRSTACK.display_name == "FairStack (preview)"
    assert PREVIEW_NOTE.startswith("preview")
    assert FAIRSTACK.default_base_url == A.base_url == "https://api.fairstack.ai/v1"
    assert isinstance(A, fairstack.FairStackAssumptions)
    caps = FAIRSTACK.capabilities
    assert set(caps.fields) == set(REQUEST_FIELDS)
    assert caps.max_references == A.max_references == 1
    for name in ("steps", "guidance", "safety", "output_format", "prompt_upsampling"):
        assert caps.handling(name).support is Support.IGNORED


# ------------------------------------------------------------------------------------------------ wire shape
@pytest.mark.asyncio
async def test_edit_shape_billing_and_seed(emulator, client):
    emu = emulator()
    ref, prepared = reference()
    local = EditRequest(
        prompt="make it autumn",
        references=(ref,),
        steps=30,
        guidance=4.0,
        seed=42,
        size=(1184, 880),
        output_format="png",
        safety=3,
    )
    # FairStack has no upload service and documents image as a URL: a local image is refused unsent
    with pytest.raises(BadInput, match="only at public https URLs"):
        await provider(client, emu).submit(local, [prepared])
    assert emu.requests == []
    url = "https://img.example.test/autumn.jpg"
    request = local.with_(references=(), extras=(("reference_urls", (url,)),))
    sub, result, blobs, _ = await run_job(provider(client, emu), request, [])
    assert len(emu.requests) == 1
    req = emu.requests[0]
    assert req.path == "/v1/generations/image" and req.header("authorization") == f"Bearer {KEY}"
    assert (req.header("idempotency-key") or "").startswith("flexstudio-")
    body = req.json()
    image = body.pop("image")
    assert body == {
        "model": "flux-2-flex-i2i",
        "prompt": "make it autumn",
        "aspect_ratio": "4:3",
        "quality": "basic",
        "seed": 42,
    }
    assert image == url
    assert result.billed_usd == pytest.approx(0.024) and sub.billed_usd == pytest.approx(0.024)
    assert result.seed == 42 and sub.provider_job_id.startswith("gen_")
    assert size_of(blobs[0]) == (128, 96)
    assert [r.header("authorization") for r in emu.delivery.requests] == [None]
    assert KEY not in json.dumps(sub.handle)
    polled = await provider(client, emu).poll(sub.handle)  # a restart can still fetch the result
    assert polled.state == "done" and polled.result.urls == result.urls


@pytest.mark.asyncio
async def test_text_to_image_and_high_quality(emulator, client):
    emu = emulator()
    await run_job(provider(client, emu), EditRequest(prompt="a big poster", seed=1, size=(2048, 2048)), [])
    body = emu.requests[0].json()
    assert "image" not in body and body["quality"] == "high" and body["aspect_ratio"] == "1:1"


@pytest.mark.asyncio
async def test_user_given_url_is_sent_verbatim(emulator, client):
    emu = emulator()
    request = EditRequest(
        prompt="that one", seed=1, extras=(("reference_urls", ("https://img.example.test/a.png",)),)
    )
    await run_job(provider(client, emu), request, [])
    assert emu.requests[0].json()["image"] == "https://img.example.test/a.png"


@pytest.mark.asyncio
async def test_refusals_before_sending(emulator, client):
    emu = emulator()
    with pytest.raises(MissingKey, match="FAIRSTACK_API_KEY"):
        await provider(client, emu, key="").submit(EditRequest(prompt="abc"), [])
    refs = [reference() for _ in range(2)]
    with pytest.raises(BadInput, match="takes 1 reference image"):
        await provider(client, emu).submit(
            EditRequest(prompt="abc", references=tuple(r for r, _ in refs)), [p for _, p in refs]
        )
    assert emu.requests == []


@pytest.mark.asyncio
async def test_handle_without_url_is_gone(client, emulator):
    emu = emulator()
    with pytest.raises(JobGone):
        await provider(client, emu).poll({"generation_id": "gen_x"})
