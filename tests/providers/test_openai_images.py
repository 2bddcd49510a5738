"""OpenAI-compatible provider (Lumenfall and user-defined gateways) against its emulator, over real HTTP.
The contract scenarios are in test_sync_scenarios.py (the shared harness)."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from flexstudio.core.errors import BadInput, ErrorKind, JobGone, MissingKey, ProviderError
from flexstudio.core.request import EditRequest
from flexstudio.providers import openai_images
from flexstudio.providers.base import REQUEST_FIELDS, ProviderContext, Support
from tests.emulators.openai_images import KEY, OpenAIImagesEmulator
from tests.providers import scenarios
from tests.support import Sleeps, reference

LUMENFALL = {p.id: p for p in openai_images.PROFILES}["lumenfall"]
GENERIC = {p.id: p for p in openai_images.PROFILES}["openai-compatible"]
RIG = scenarios.LUMENFALL_RIG


def provider(info, client, base_url, sleeps=None, key=KEY, **options):
    ctx = ProviderContext(
        client=client,
        api_key=key,
        base_url=base_url,
        options=options,
        poll_interval=0,
        sleep=sleeps or Sleeps(),
    )
    return info.create(ctx)


async def run_job(prov, request, refs):
    """submit → poll until done → download: what the job runner does."""
    sub = await prov.submit(request, refs)
    result = sub.result
    for _ in range(20):
        if result is not None:
            break
        polled = await prov.poll(sub.handle)
        result = polled.result if polled.state == "done" else None
    assert result is not None
    blobs = list(result.images) + [await prov.download(u) for u in result.urls]
    return sub, result, blobs


def size_of(data: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as img:
        return img.size


# ------------------------------------------------------------------------------------------------ profiles
def test_profiles_and_capabilities():
    assert LUMENFALL.protocol == GENERIC.protocol == "openai_images"
    assert LUMENFALL.default_base_url == "https://api.lumenfall.ai/openai/v1"
    assert LUMENFALL.env_var == "LUMENFALL_API_KEY" and GENERIC.env_var == "OPENAI_API_KEY"
    assert LUMENFALL.options["model"] == GENERIC.options["model"] == "flux.2-flex"
    assert GENERIC.default_base_url == ""
    assert not LUMENFALL.preview and LUMENFALL.display_name == "Lumenfall"
    for info in (LUMENFALL, GENERIC):
        assert set(info.capabilities.fields) == set(REQUEST_FIELDS)
        assert info.capabilities.max_references == 10
        assert info.factory is not None
    assert LUMENFALL.capabilities.handling("guidance").support is Support.RENAMED
    assert "cfg_scale" in LUMENFALL.capabilities.handling("guidance").note


def test_custom_profile():
    info = openai_images.custom_profile(
        "acme", "Acme gateway", "https://gw.acme.test/v1/", {"model": "acme/flex"}
    )
    assert info.id == "acme" and info.label == "Acme gateway" and info.protocol == "openai_images"
    assert info.default_base_url == "https://gw.acme.test/v1"
    assert info.options["model"] == "acme/flex" and info.options["param_style"] == "flux"
    assert info.env_var is None
    styled = openai_images.custom_profile(
        "lf2",
        "Lumenfall EU",
        "https://eu.lumenfall.test/openai/v1",
        {"param_style": "lumenfall", "response_format": "url"},
    )
    assert styled.capabilities.handling("guidance").note == "sent as cfg_scale"
    for base, options in (
        ("", {}),
        ("http://gw.example.test/v1", {}),
        ("https://gw.test/v1", {"param_style": "x"}),
        ("https://gw.test/v1", {"response_format": "png"}),
    ):
        with pytest.raises(BadInput):
            openai_images.custom_profile("bad", "Bad", base, options)


# ------------------------------------------------------------------------------------------------ wire shape
@pytest.mark.asyncio
async def test_lumenfall_edit_single_reference(emulator, client):
    emu = emulator()
    delivery = emu.delivery
    ref, prepared = reference()
    request = EditRequest(
        prompt="make it night",
        references=(ref,),
        steps=30,
        guidance=4.5,
        seed=42,
        size=(1024, 768),
        output_format="png",
        safety=2,
        prompt_upsampling=False,
    )
    prov = provider(LUMENFALL, client, emu.base_url)
    sub, result, blobs = await run_job(prov, request, [prepared])

    assert [(r.method, r.path) for r in emu.requests] == [("POST", "/openai/v1/images/edits")]
    assert emu.requests[0].header("authorization") == f"Bearer {KEY}"
    call = emu.calls[0]
    assert call.image_field == "image" and len(call.images) == 1
    assert call.images[0].value == prepared.data and call.images[0].content_type == "image/jpeg"
    assert call.fields == {
        "model": "flux.2-flex",
        "prompt": "make it night",
        "n": "1",
        "size": "1024x768",
        "response_format": "b64_json",
        "output_format": "png",
        "seed": "42",
        "steps": "30",
        "num_inference_steps": "30",
        "cfg_scale": "4.5",
        "safety_tolerance": "2",
        "prompt_enhancement": "off",
    }
    assert len(blobs) == 1 and size_of(blobs[0]) == (1024, 768) and blobs[0].startswith(b"\x89PNG")
    # metadata.cost is the billed amount: $0.06 × (1 MP out + 1 MP in)
    assert result.billed_usd == pytest.approx(0.12) and sub.billed_usd == pytest.approx(0.12)
    assert result.seed == 42 and result.revised_prompt == "make it night"
    assert sub.provider_job_id and sub.provider_job_id.startswith("req_")
    assert delivery.requests == []  # inline result: no second host
    assert emu.accepted == 1


@pytest.mark.asyncio
async def test_several_references_are_repeated_image_brackets(emulator, client):
    emu = emulator()
    refs = [reference(color=(i * 40, 10, 10)) for i in range(3)]
    request = EditRequest(
        prompt="combine them", references=tuple(r for r, _ in refs), seed=1, size=(1024, 1024)
    )
    prov = provider(LUMENFALL, client, emu.base_url)
    await run_job(prov, request, [p for _, p in refs])
    call = emu.calls[0]
    assert call.image_field == "image[]"
    assert [p.value for p in call.images] == [p.data for _, p in refs]
    raw = emu.requests[0].body
    assert raw.count(b'name="image[]"') == 3 and b'name="image";' not in raw


@pytest.mark.asyncio
async def test_user_defined_gateway_with_its_own_base_url_and_model(rig_emulator, client):
    emu = OpenAIImagesEmulator(
        rig_emulator.delivery, prefix="/gw/v1", model="acme/flux-2-flex", key="acme-key"
    ).start()
    try:
        await _custom_gateway(emu, client)
    finally:
        emu.stop()


async def _custom_gateway(emu, client):
    info = openai_images.custom_profile("acme", "Acme", emu.url + "/gw/v1", {"model": "acme/flux-2-flex"})
    ref, prepared = reference()
    request = EditRequest(
        prompt="a red door",
        references=(ref,),
        steps=20,
        guidance=3.5,
        seed=7,
        size=(512, 512),
        safety=3,
        prompt_upsampling=True,
    )
    prov = info.create(ProviderContext(client=client, api_key="acme-key", sleep=Sleeps()))
    _, _, blobs = await run_job(prov, request, [prepared])
    assert emu.requests[0].path == "/gw/v1/images/edits"
    assert emu.requests[0].header("authorization") == "Bearer acme-key"
    f = emu.calls[0].fields
    assert f["model"] == "acme/flux-2-flex"
    assert (f["seed"], f["steps"], f["guidance"]) == ("7", "20", "3.5")  # strings on the wire
    assert f["safety_tolerance"] == "3" and f["prompt_upsampling"] == "true" and f["size"] == "512x512"
    assert "cfg_scale" not in f and "num_inference_steps" not in f
    assert size_of(blobs[0]) == (512, 512)


@pytest.mark.asyncio
async def test_text_to_image_uses_generations_json(emulator, client):
    emu = emulator()
    prov = provider(LUMENFALL, client, emu.base_url)
    request = EditRequest(prompt="a lighthouse", seed=9, steps=28, guidance=3.5, output_format="jpeg")
    _, result, blobs = await run_job(prov, request, [])
    assert emu.requests[0].path == "/openai/v1/images/generations"
    assert emu.requests[0].header("content-type") == "application/json"
    body = emu.requests[0].json()
    assert body == {
        "model": "flux.2-flex",
        "prompt": "a lighthouse",
        "n": 1,
        "size": "1024x1024",
        "response_format": "b64_json",
        "output_format": "jpeg",
        "seed": 9,
        "steps": 28,
        "num_inference_steps": 28,
        "cfg_scale": 3.5,
        "safety_tolerance": "2",
        "prompt_enhancement": "on",
    }
    assert size_of(blobs[0]) == (1024, 1024) and result.billed_usd == pytest.approx(0.06)


@pytest.mark.asyncio
async def test_url_results_are_downloaded_without_credentials(emulator, client):
    emu = emulator()
    delivery = emu.delivery
    ref, prepared = reference()
    prov = provider(LUMENFALL, client, emu.base_url, response_format="url")
    request = EditRequest(prompt="snow", references=(ref,), seed=3, size=(768, 512))
    sub, result, blobs = await run_job(prov, request, [prepared])
    assert emu.calls[0].fields["response_format"] == "url"
    assert len(result.urls) == 1 and result.urls[0].startswith(delivery.url)
    assert size_of(blobs[0]) == (768, 512)
    assert len(delivery.requests) == 1 and delivery.requests[0].header("authorization") is None
    assert KEY not in repr(sub.handle)
    polled = await prov.poll(sub.handle)  # a restart can still finish a url result
    assert polled.state == "done" and polled.result.urls == result.urls


@pytest.mark.asyncio
async def test_inline_handle_cannot_be_polled_and_cancel_is_a_no_op(emulator, client):
    emu = emulator()
    prov = provider(LUMENFALL, client, emu.base_url)
    sub, _, _ = await run_job(prov, EditRequest(prompt="x y z", seed=1), [])
    with pytest.raises(JobGone):
        await prov.poll(sub.handle)
    assert await prov.cancel(sub.handle) is False


# ------------------------------------------------------------------------------------------------ refusals before sending
@pytest.mark.asyncio
async def test_missing_key_sends_nothing(emulator, client):
    emu = emulator()
    prov = provider(LUMENFALL, client, emu.base_url, key="")
    with pytest.raises(MissingKey, match="LUMENFALL_API_KEY"):
        await prov.submit(EditRequest(prompt="abc"), [])
    assert emu.requests == []


@pytest.mark.asyncio
async def test_generic_gateway_needs_a_base_url(client):
    prov = GENERIC.create(ProviderContext(client=client, api_key="k", sleep=Sleeps()))
    with pytest.raises(BadInput, match="--base-url"):
        await prov.submit(EditRequest(prompt="abc"), [])


@pytest.mark.asyncio
async def test_more_than_ten_references_are_refused(emulator, client):
    emu = emulator()
    refs = [reference() for _ in range(11)]
    prov = provider(LUMENFALL, client, emu.base_url)
    with pytest.raises(BadInput, match="at most 10"):
        await prov.submit(
            EditRequest(prompt="abc", references=tuple(r for r, _ in refs)), [p for _, p in refs]
        )
    assert emu.requests == []


@pytest.mark.asyncio
async def test_unknown_model_is_a_validation_error(emulator, client):
    emu = emulator()
    prov = provider(LUMENFALL, client, emu.base_url, model="flux.3-nope")
    with pytest.raises(ProviderError) as info:
        await prov.submit(EditRequest(prompt="abc", seed=1), [])
    assert info.value.kind is ErrorKind.VALIDATION and "flux.3-nope" in str(info.value)


# ------------------------------------------------------------------------------------------------ scenarios
# The contract scenarios are in test_sync_scenarios.py (the shared harness, URL results); inline results:
@pytest.mark.asyncio
async def test_download_faults_do_not_touch_inline_results(emulator, client):
    emu = emulator("expired_url")
    delivery = emu.delivery
    prov = provider(LUMENFALL, client, emu.base_url)
    _, result, blobs = await run_job(prov, EditRequest(prompt="a cat", seed=5), [])
    assert result.images and not result.urls and size_of(blobs[0]) == (1024, 1024)
    assert delivery.requests == []
