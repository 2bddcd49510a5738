"""Replicate's predictions API against its local emulator: the exact wire shape (``Prefer: wait``, the
``input`` object and its types), every contract scenario, progress from logs, cancel, ``urls.get`` used
as given, size conversion, and where the token goes (never to replicate.delivery)."""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from typing import Any

import httpx
import pytest
from PIL import Image

from flexstudio.core.errors import BadInput, ErrorKind, JobGone, MissingKey, ProviderError
from flexstudio.core.request import EditRequest
from flexstudio.providers import replicate
from flexstudio.providers.base import (
    REQUEST_FIELDS,
    PollResult,
    PreparedReference,
    Provider,
    ProviderContext,
    Submission,
    Support,
)
from tests.emulators.base import Delivery, json_reply
from tests.emulators.replicate import DEFAULT_TOKEN, MODEL, ReplicateEmulator, parse_prefer
from tests.providers import scenarios
from tests.support import Sleeps

KEY = DEFAULT_TOKEN
INFO = replicate.PROFILES[0]
CREATE = f"/v1/models/{MODEL}/predictions"


def make_provider(
    base_url: str, client: httpx.AsyncClient, sleeps: Sleeps | None = None, *, key: str | None = KEY
) -> Provider:
    ctx = ProviderContext(client=client, api_key=key, base_url=base_url, sleep=sleeps or Sleeps())
    provider = INFO.create(ctx)
    assert isinstance(provider, Provider)
    return provider


def two_references() -> tuple[EditRequest, list[PreparedReference]]:
    return scenarios.two_references("replicate")


async def run_job(
    provider: Provider, request: EditRequest, refs: Sequence[PreparedReference], max_polls: int = 30
) -> tuple[Submission, list[PollResult], list[bytes]]:
    """submit → (poll until done unless the submit already finished) → download."""
    sub = await provider.submit(request, refs)
    polls: list[PollResult] = []
    result = sub.result
    if result is None:
        for _ in range(max_polls):
            polls.append(await provider.poll(sub.handle))
            if polls[-1].state == "done":
                break
        else:
            raise AssertionError(f"not done after {max_polls} polls")
        result = polls[-1].result
    assert result is not None
    return sub, polls, [await provider.download(u) for u in result.urls]


def creates(emu: ReplicateEmulator) -> list[Any]:
    return [r for r in emu.requests if r.method == "POST" and r.path == CREATE]


def assert_no_key_on(*servers: Delivery) -> None:
    for server in servers:
        for r in server.requests:
            assert "authorization" not in r.headers, r.path
            assert KEY not in str(r.headers)


# ---------------------------------------------------------------------------- profile, size rule
def test_profile_and_capabilities():
    assert [p.id for p in replicate.PROFILES] == ["replicate"]
    assert INFO.protocol == "replicate" and INFO.label == "Replicate"
    assert INFO.env_var == "REPLICATE_API_TOKEN" and INFO.default_base_url == "https://api.replicate.com"
    caps = INFO.capabilities
    assert caps.max_references == 10 and caps.steps_range == (1, 50) and caps.safety_range == (1, 5)
    assert caps.formats == ("jpeg", "png", "webp") and caps.can_cancel and caps.prompt_upsampling
    assert set(caps.fields) == set(REQUEST_FIELDS)
    assert caps.handling("size").support is Support.CONVERTED and "256–2048" in caps.handling("size").note
    assert caps.handling("output_format").support is Support.CONVERTED
    assert "jpg" in caps.handling("output_format").note
    assert caps.handling("prompt_upsampling").support is Support.HONOURED


@pytest.mark.parametrize(
    ("size", "sent"),
    [
        ((1024, 1024), (1024, 1024)),
        ((2048, 2048), (2048, 2048)),
        ((1024, 768), (1024, 768)),
        ((2560, 1440), (2048, 1152)),
        ((4096, 1024), (2048, 512)),
        ((128, 128), (256, 256)),
        ((64, 512), (256, 2048)),
        ((192, 1024), (256, 1360)),
    ],
)
def test_custom_size(size, sent):
    assert replicate.custom_size(*size) == sent
    w, h = sent
    assert 256 <= w <= 2048 and 256 <= h <= 2048 and w % 16 == 0 and h % 16 == 0


def test_custom_size_refuses_shapes_beyond_eight_to_one():
    with pytest.raises(BadInput, match="256 to 2048"):
        replicate.custom_size(4096, 256)
    with pytest.raises(BadInput):
        replicate.custom_size(64, 4096)


# ---------------------------------------------------------------------------- wire shape
@pytest.mark.asyncio
async def test_request_shape_polling_and_download(hosts, client):
    delivery, _ = hosts
    with ReplicateEmulator(delivery) as emu:
        sleeps = Sleeps()
        provider = make_provider(emu.url, client, sleeps)
        request, refs = two_references()
        sub, polls, images = await run_job(provider, request, refs)
        emu_url = emu.url

    assert len(creates(emu)) == 1 and emu.accepted == 1
    req = creates(emu)[0]
    assert req.header("authorization") == f"Bearer {KEY}"
    assert req.header("prefer") == "wait=10" and parse_prefer(req.header("prefer")) == 10
    assert req.header("content-type") == "application/json"
    body = req.json()
    assert body == {
        "input": {
            "prompt": "The cat from image 1 in the room from image 2",
            "input_images": [
                f"data:image/png;base64,{base64.b64encode(refs[0].data).decode()}",
                f"data:image/jpeg;base64,{base64.b64encode(refs[1].data).decode()}",
            ],
            "aspect_ratio": "custom",
            "width": 512,
            "height": 384,
            "steps": 50,
            "guidance": 5.0,
            "seed": 42,
            "safety_tolerance": 2,
            "prompt_upsampling": True,
            "output_format": "jpg",
            "output_quality": 95,
        }
    }
    inp = body["input"]
    for name in ("width", "height", "steps", "seed", "safety_tolerance", "output_quality"):
        assert type(inp[name]) is int, name
    assert type(inp["guidance"]) is float and type(inp["prompt_upsampling"]) is bool

    pid = sub.provider_job_id
    assert sub.handle == {
        "id": pid,
        "get": f"{emu_url}/v1/predictions/{pid}",
        "cancel": f"{emu_url}/v1/predictions/{pid}/cancel",
    }
    assert sub.result is None and sub.billed_usd is None
    gets = [r for r in emu.requests if r.method == "GET"]
    assert [r.path for r in gets] == [f"/v1/predictions/{pid}"] * 2
    assert all(r.header("authorization") == f"Bearer {KEY}" for r in gets)
    assert [p.state for p in polls] == ["running", "done"]
    assert polls[0].message == "Starting"
    result = polls[-1].result
    assert result is not None and result.seed == 42 and result.urls[0].startswith(delivery.url)
    with Image.open(io.BytesIO(images[0])) as img:
        assert img.size == (512, 384) and img.format == "JPEG"
    assert len(delivery.requests) == 1
    assert_no_key_on(delivery)
    assert sleeps.waits == []


@pytest.mark.asyncio
async def test_prefer_wait_returns_the_finished_prediction(hosts, client):
    delivery, _ = hosts
    with ReplicateEmulator(delivery, latency_polls=0) as emu:
        provider = make_provider(emu.url, client)
        request = EditRequest(
            prompt="a lighthouse at dusk",
            steps=80,
            guidance=0.5,
            safety=0,
            seed=None,
            output_format="webp",
            prompt_upsampling=False,
            provider="replicate",
        )
        sub, polls, images = await run_job(provider, request, [])
    assert polls == [] and sub.result is not None
    assert [r.method for r in emu.requests] == ["POST"]  # one create, no polling
    inp = creates(emu)[0].json()["input"]
    assert "input_images" not in inp
    assert (inp["width"], inp["height"]) == (1024, 1024) and inp["aspect_ratio"] == "custom"
    assert inp["steps"] == 50 and inp["guidance"] == 1.5 and inp["safety_tolerance"] == 1
    assert inp["output_format"] == "webp" and inp["prompt_upsampling"] is False
    assert isinstance(inp["seed"], int) and sub.result.seed == inp["seed"]
    assert images[0][8:12] == b"WEBP"
    assert sub.handle["get"].endswith(f"/v1/predictions/{sub.provider_job_id}")


@pytest.mark.asyncio
async def test_png_safety_six_and_size_conversion(hosts, client):
    delivery, _ = hosts
    with ReplicateEmulator(delivery, latency_polls=0) as emu:
        provider = make_provider(emu.url, client)
        request = EditRequest(prompt="x", safety=6, seed=3, size=(2560, 1440), output_format="png")
        _, _, images = await run_job(provider, request, [])
        inp = creates(emu)[0].json()["input"]
        assert inp["safety_tolerance"] == 5 and inp["output_format"] == "png"
        assert (inp["width"], inp["height"]) == (2048, 1152)
        with Image.open(io.BytesIO(images[0])) as img:
            assert img.size == (2048, 1152) and img.format == "PNG"
        with pytest.raises(BadInput):
            await provider.submit(EditRequest(prompt="x", seed=3, size=(4096, 256)), [])
    assert len(creates(emu)) == 1


@pytest.mark.asyncio
async def test_refused_before_sending(hosts, client):
    delivery, _ = hosts
    with ReplicateEmulator(delivery) as emu:
        provider = make_provider(emu.url, client)
        request, refs = two_references()
        with pytest.raises(BadInput, match="at most 10"):
            await provider.submit(request, refs * 5 + refs[:1])
        nokey = make_provider(emu.url, client, key=None)
        with pytest.raises(MissingKey, match="REPLICATE_API_TOKEN"):
            await nokey.submit(request, refs)
        with pytest.raises(MissingKey):
            await nokey.poll({"id": "x", "get": f"{emu.url}/v1/predictions/x"})
        with pytest.raises(MissingKey):
            await nokey.cancel({"id": "x", "cancel": f"{emu.url}/v1/predictions/x/cancel"})
    assert emu.requests == []


# ---------------------------------------------------------------------------- progress, verbatim URLs
@pytest.mark.asyncio
async def test_progress_from_logs(hosts, client):
    delivery, _ = hosts
    with ReplicateEmulator(delivery, latency_polls=4) as emu:
        provider = make_provider(emu.url, client)
        request, refs = two_references()
        _, polls, _ = await run_job(provider, request.with_(steps=20), refs)
    assert [p.state for p in polls] == ["running"] * 4 + ["done"]
    assert polls[0].message == "Starting" and polls[0].progress is None
    assert [p.progress for p in polls[1:4]] == [0.25, 0.5, 0.75]
    assert polls[2].message.startswith("50%|") and polls[2].message.endswith("10/20")


@pytest.mark.asyncio
async def test_urls_used_verbatim(hosts, client):
    delivery, _ = hosts
    with ReplicateEmulator(delivery, route_prefix="/edge/r8", latency_polls=2) as emu:
        provider = make_provider(emu.url, client)
        request, refs = two_references()
        sub = await provider.submit(request, refs)
        await provider.poll(sub.handle)
        assert await provider.cancel(sub.handle) is True
        emu_url = emu.url
    pid = sub.provider_job_id
    assert sub.handle["get"] == f"{emu_url}/edge/r8/v1/predictions/{pid}"
    later = [r for r in emu.requests if r.path != CREATE]
    assert [(r.method, r.path) for r in later] == [
        ("GET", f"/edge/r8/v1/predictions/{pid}"),
        ("POST", f"/edge/r8/v1/predictions/{pid}/cancel"),
    ]


@pytest.mark.asyncio
async def test_no_token_to_urls_on_another_origin(hosts, client):
    delivery, _ = hosts
    with ReplicateEmulator(delivery, url_origin=delivery.url) as emu:
        provider = make_provider(emu.url, client)
        request, refs = two_references()
        with pytest.raises(ProviderError, match="another host") as e:
            await provider.submit(request, refs)
        pid = next(iter(emu.predictions))
        assert e.value.kind is ErrorKind.PROVIDER and pid in str(e.value) and KEY not in str(e.value)
        with pytest.raises(ProviderError, match="another host"):
            await provider.poll({"id": pid, "get": f"{delivery.url}/v1/predictions/{pid}"})
        with pytest.raises(ProviderError, match="another host"):
            await provider.cancel({"id": pid, "cancel": f"{delivery.url}/v1/predictions/{pid}/cancel"})
    assert delivery.requests == []
    assert len(creates(emu)) == 1


# ---------------------------------------------------------------------------- Prefer: wait, 429 past the retries
@pytest.mark.asyncio
async def test_moderated_at_create_with_prefer_wait(hosts, client):
    delivery, _ = hosts
    with ReplicateEmulator(delivery, scenario="moderated_input", latency_polls=0) as emu:
        provider = make_provider(emu.url, client)
        with pytest.raises(ProviderError) as e:
            await provider.submit(EditRequest(prompt="x", seed=1), [])
    assert e.value.kind is ErrorKind.MODERATED and e.value.moderation_stage == "input"
    assert len(emu.requests) == 1


@pytest.mark.asyncio
async def test_rate_limited_past_the_retries(hosts, client):
    delivery, _ = hosts

    class Throttled(ReplicateEmulator):
        def handle(self, req):
            return json_reply(
                {"detail": "Your rate limit resets in ~30s.", "status": 429}, 429, **{"Retry-After": "30"}
            )

    with Throttled(delivery) as emu:
        sleeps = Sleeps()
        provider = make_provider(emu.url, client, sleeps)
        with pytest.raises(ProviderError) as e:
            await provider.submit(EditRequest(prompt="x", seed=1), [])
    assert e.value.kind is ErrorKind.RATE_LIMITED and e.value.retry_after == 30.0
    assert "rate limit resets" in (e.value.provider_message or "")
    assert sleeps.waits == [30.0, 30.0] and len(emu.requests) == 3


# ---------------------------------------------------------------------------- cancel, gone, odd answers
@pytest.mark.asyncio
async def test_cancel_in_flight_then_after_completion(hosts, client):
    delivery, _ = hosts
    with ReplicateEmulator(delivery, latency_polls=3) as emu:
        provider = make_provider(emu.url, client)
        request, refs = two_references()
        sub = await provider.submit(request, refs)
        assert (await provider.poll(sub.handle)).state == "running"
        assert await provider.cancel(sub.handle) is True
        with pytest.raises(ProviderError, match="cancelled") as e:
            await provider.poll(sub.handle)
        assert e.value.kind is ErrorKind.PROVIDER
        assert await provider.cancel(sub.handle) is True  # still canceled, not finished otherwise

        done = await provider.submit(request, refs)
        for _ in range(4):
            await provider.poll(done.handle)
        assert await provider.cancel(done.handle) is False
        assert (
            await provider.cancel({"id": "nope", "cancel": f"{emu.url}/v1/predictions/nope/cancel"}) is False
        )
    cancels = [r for r in emu.requests if r.path.endswith("/cancel")]
    assert cancels[0].method == "POST" and cancels[0].path == f"/v1/predictions/{sub.provider_job_id}/cancel"
    assert all(r.header("authorization") == f"Bearer {KEY}" for r in cancels)


@pytest.mark.asyncio
async def test_unknown_prediction_is_gone(hosts, client):
    delivery, _ = hosts
    with ReplicateEmulator(delivery) as emu:
        provider = make_provider(emu.url, client)
        with pytest.raises(JobGone):
            await provider.poll({"id": "nope", "get": f"{emu.url}/v1/predictions/nope"})


class OddReplicate(ReplicateEmulator):
    odd: dict[str, Any] = {}

    def handle(self, req):
        if req.method == "GET" and "get" in self.odd:
            return json_reply(self.odd["get"])
        return super().handle(req)


@pytest.mark.asyncio
async def test_odd_predictions_fail_clearly(hosts, client):
    delivery, _ = hosts
    with OddReplicate(delivery) as emu:
        provider = make_provider(emu.url, client)
        sub = await provider.submit(EditRequest(prompt="x", seed=1), [])
        base = {"id": sub.provider_job_id, "model": MODEL, "version": "hidden", "urls": {}}
        emu.odd = {"get": {**base, "status": "failed", "error": "CUDA out of memory"}}
        with pytest.raises(ProviderError, match="CUDA out of memory") as e:
            await provider.poll(sub.handle)
        assert e.value.kind is ErrorKind.PROVIDER
        emu.odd = {"get": {**base, "status": "succeeded", "output": None, "data_removed": True}}
        with pytest.raises(ProviderError) as e:
            await provider.poll(sub.handle)
        assert e.value.kind is ErrorKind.EXPIRED
        emu.odd = {
            "get": {
                **base,
                "status": "succeeded",
                "output": ["https://a/1.jpg", "https://a/2.jpg"],
                "input": {"seed": 9},
            }
        }
        done = await provider.poll(sub.handle)
        assert done.result is not None and done.result.urls == ("https://a/1.jpg", "https://a/2.jpg")
        assert done.result.seed == 9
        emu.odd = {"get": {**base, "status": "queued"}}
        with pytest.raises(ProviderError, match="unknown prediction status 'queued'"):
            await provider.poll(sub.handle)
        emu.odd = {"get": {"status": "succeeded"}}
        with pytest.raises(ProviderError, match="lacks id"):
            await provider.poll(sub.handle)


# ---------------------------------------------------------------------------- the emulator is strict
@pytest.mark.asyncio
async def test_emulator_refuses_wrong_types_and_auth(hosts, client):
    delivery, _ = hosts
    with ReplicateEmulator(delivery) as emu:
        ok = {
            "prompt": "x",
            "aspect_ratio": "custom",
            "width": 1024,
            "height": 1024,
            "safety_tolerance": 2,
            "output_format": "jpg",
        }
        auth = {"Authorization": f"Bearer {KEY}"}
        r = await client.post(
            f"{emu.url}{CREATE}", json={"input": {**ok, "output_format": "jpeg"}}, headers=auth
        )
        assert r.status_code == 422 and r.json()["invalid_fields"][0]["field"] == "input.output_format"
        r = await client.post(
            f"{emu.url}{CREATE}", json={"input": {**ok, "safety_tolerance": "2"}}, headers=auth
        )
        assert r.status_code == 422 and r.json()["invalid_fields"][0]["type"] == "invalid_type"
        r = await client.post(f"{emu.url}{CREATE}", json={"input": {**ok, "width": 4096}}, headers=auth)
        assert r.status_code == 422 and r.json()["title"] == "Input validation failed"
        r = await client.post(f"{emu.url}{CREATE}", json={"input": {**ok, "extra": 1}}, headers=auth)
        assert r.json()["invalid_fields"][0]["type"] == "additional_property_not_allowed"
        r = await client.post(
            f"{emu.url}{CREATE}", json={"input": ok}, headers={"Authorization": f"Key {KEY}"}
        )
        assert r.status_code == 401 and r.json()["title"] == "Unauthenticated"
        r = await client.post(f"{emu.url}{CREATE}", json={"input": ok}, headers=auth)
        assert r.status_code == 201
        p = r.json()
        assert all(isinstance(p[k], str) for k in ("id", "model", "version", "status"))
        assert p["status"] == "starting" and p["urls"]["get"].endswith(f"/v1/predictions/{p['id']}")
    assert emu.accepted == 1


def test_parse_prefer():
    assert (
        parse_prefer("wait") == 60 and parse_prefer("wait=5") == 5 and parse_prefer("respond-async") is None
    )
    assert parse_prefer("wait=0") is None and parse_prefer("wait=61") is None and parse_prefer(None) is None
