"""The BFL protocol (bfl, bfl-eu, bfl-us, cometapi, user-defined BFL-compatible endpoints) against its
local emulator: the exact wire shape, polling rules and where the key goes. The contract scenarios are
in test_queue_scenarios.py (the shared harness)."""

from __future__ import annotations

import base64
import io
from typing import Any

import httpx
import pytest
from PIL import Image

from flexstudio.core.errors import BadInput, ErrorKind, JobGone, MissingKey, ProviderError
from flexstudio.core.request import EditRequest
from flexstudio.providers import bfl
from flexstudio.providers.base import PreparedReference, Provider, ProviderContext
from tests.emulators.base import Delivery, make_image
from tests.emulators.bfl import BflEmulator, bfl_cost
from tests.providers.scenarios import two_references as scenario_job
from tests.support import Sleeps
from tests.support import run_to_done as run_job

KEY = "bfl_test_key"
PROFILES = {p.id: p for p in bfl.PROFILES}


def make_provider(
    pid: str,
    base_url: str,
    client: httpx.AsyncClient,
    sleeps: Sleeps,
    *,
    key: str | None = KEY,
    info: Any = None,
) -> Provider:
    info = info or PROFILES[pid]
    ctx = ProviderContext(
        client=client, api_key=key, base_url=base_url, options=dict(info.options), sleep=sleeps
    )
    provider = info.create(ctx)
    assert isinstance(provider, Provider)
    return provider


def two_references() -> tuple[EditRequest, list[PreparedReference]]:
    return scenario_job("bfl")


def assert_no_key_on(*servers: Delivery) -> None:
    for server in servers:
        for r in server.requests:
            assert "x-key" not in r.headers, r.path
            assert "authorization" not in r.headers, r.path
            assert KEY not in str(r.headers)


# ---------------------------------------------------------------------------- wire shape
@pytest.mark.asyncio
async def test_exact_request_shape_with_two_references(hosts, client):
    delivery, _ = hosts
    with BflEmulator(delivery) as emu:
        sleeps = Sleeps()
        provider = make_provider("bfl", emu.url, client, sleeps)
        request, refs = two_references()
        sub, polls, images = await run_job(provider, request, refs)
        emu_url = emu.url

    submits = [r for r in emu.requests if r.method == "POST"]
    assert len(submits) == 1
    req = submits[0]
    assert req.path == "/v1/flux-2-flex"
    assert req.header("x-key") == KEY
    assert "authorization" not in req.headers
    assert req.header("content-type") == "application/json"
    body = req.json()
    assert body == {
        "prompt": "The cat from image 1 in the room from image 2",
        "input_image": base64.b64encode(refs[0].data).decode(),
        "input_image_2": base64.b64encode(refs[1].data).decode(),
        "seed": 42,
        "width": 512,
        "height": 384,
        "steps": 50,
        "guidance": 5.0,
        "safety_tolerance": 2,
        "output_format": "jpeg",
        "prompt_upsampling": True,
    }
    assert not body["input_image"].startswith("data:")
    for name in ("seed", "width", "height", "steps", "safety_tolerance"):
        assert type(body[name]) is int, name
    assert type(body["guidance"]) is float and type(body["prompt_upsampling"]) is bool

    # the polling URL from the submit answer is used verbatim (another path prefix than the canonical one)
    job_id = sub.provider_job_id
    assert sub.handle["polling_url"] == f"{emu_url}/eu2/v1/get_result?id={job_id}"
    gets = [r for r in emu.requests if r.method == "GET"]
    assert gets and all(r.path == "/eu2/v1/get_result" and r.q("id") == job_id for r in gets)
    assert all(r.header("x-key") == KEY for r in gets)

    # billed from `cost` (credits × $0.01): 5 for ≤1 MP out + 5 × (512·384 + 256²)/1024² in
    cost = bfl_cost(512, 384, (512 * 384 + 256 * 256) / 1_048_576)
    assert cost == 6.25
    assert sub.billed_usd == pytest.approx(0.0625)
    assert polls[-1].billed_usd == pytest.approx(0.0625)
    assert polls[-1].result is not None and polls[-1].result.billed_usd == pytest.approx(0.0625)
    assert polls[-1].result.seed == 42
    assert polls[-1].result.revised_prompt == request.prompt
    assert polls[0].state == "running" and polls[0].progress == 0.5

    with Image.open(io.BytesIO(images[0])) as img:
        assert img.size == (512, 384) and img.format == "JPEG"
    assert len(delivery.requests) == 1
    assert_no_key_on(delivery)
    assert sleeps.waits == []


@pytest.mark.asyncio
async def test_parameters_are_clamped_and_seed_always_sent(hosts, client):
    delivery, _ = hosts
    with BflEmulator(delivery, latency_polls=0) as emu:
        provider = make_provider("bfl-eu", emu.url, client, Sleeps())
        request = EditRequest(
            prompt="a lighthouse",
            steps=80,
            guidance=0.5,
            safety=6,
            seed=None,
            size=(1024, 768),
            output_format="png",
            prompt_upsampling=False,
        )
        sub, polls, images = await run_job(provider, request, [])
    body = next(r for r in emu.requests if r.method == "POST").json()
    assert body["steps"] == 50 and body["guidance"] == 1.5 and body["safety_tolerance"] == 5
    assert (body["width"], body["height"]) == (1024, 768)
    assert body["output_format"] == "png" and body["prompt_upsampling"] is False
    assert isinstance(body["seed"], int) and sub.handle["seed"] == body["seed"]
    assert not any(k.startswith("input_image") for k in body)
    assert polls[-1].result is not None and polls[-1].result.revised_prompt is None
    assert sub.billed_usd == pytest.approx(0.05)
    assert images[0].startswith(b"\x89PNG")


@pytest.mark.asyncio
async def test_refused_before_sending(hosts, client):
    delivery, _ = hosts
    with BflEmulator(delivery) as emu:
        provider = make_provider("bfl", emu.url, client, Sleeps())
        request, refs = two_references()
        with pytest.raises(ProviderError) as e:
            await provider.submit(request.with_(output_format="webp"), refs)
        assert e.value.kind is ErrorKind.VALIDATION and "jpeg or png" in str(e.value)
        with pytest.raises(ProviderError) as e:
            await provider.submit(request, refs * 4 + refs[:1])
        assert e.value.kind is ErrorKind.VALIDATION and "at most 8" in str(e.value)
        with pytest.raises(BadInput):
            await provider.submit(request.with_(size=(1000, 1000)), refs)
        nokey = make_provider("bfl", emu.url, client, Sleeps(), key="")
        with pytest.raises(MissingKey) as e:
            await nokey.submit(request, refs)
        assert "BFL_API_KEY" in str(e.value)
        with pytest.raises(MissingKey):
            await nokey.poll({"id": "x", "polling_url": f"{emu.url}/v1/get_result?id=x"})
    assert emu.requests == []


@pytest.mark.asyncio
async def test_eight_references_are_numbered(hosts, client):
    delivery, _ = hosts
    with BflEmulator(delivery) as emu:
        provider = make_provider("bfl", emu.url, client, Sleeps())
        request, refs = two_references()
        await provider.submit(request, refs * 4)
    body = emu.requests[0].json()
    assert [k for k in body if k.startswith("input_image")] == [
        "input_image",
        *(f"input_image_{i}" for i in range(2, 9)),
    ]


# ---------------------------------------------------------------------------- polling
@pytest.mark.asyncio
async def test_404_then_found_and_202_pending(hosts, client):
    delivery, _ = hosts
    with BflEmulator(delivery, not_found_polls=2, accepted_polls=1) as emu:
        sleeps = Sleeps()
        provider = make_provider("bfl", emu.url, client, sleeps)
        request, refs = two_references()
        sub = await provider.submit(request, refs)
        first = await provider.poll(sub.handle)  # 404, 404, then 202
        assert first.state == "queued"
        assert sleeps.waits == [bfl.NOT_FOUND_WAIT] * 2
        second = await provider.poll(sub.handle)
        assert second.state == "running"
        third = await provider.poll(sub.handle)
        assert third.state == "done"
    assert emu.count("GET", "/eu2/v1/get_result") == 5


@pytest.mark.asyncio
async def test_unknown_id_404_five_retries_then_job_gone(hosts, client):
    delivery, _ = hosts
    with BflEmulator(delivery) as emu:
        sleeps = Sleeps()
        provider = make_provider("bfl", emu.url, client, sleeps)
        handle = {"id": "nope", "polling_url": f"{emu.url}/eu2/v1/get_result?id=nope"}
        with pytest.raises(JobGone) as e:
            await provider.poll(handle)
        assert e.value.status == 404
    assert sleeps.waits == [2.0] * 5
    assert emu.count("GET", "/eu2/v1/get_result") == 6


@pytest.mark.asyncio
async def test_task_not_found_is_job_gone(hosts, client):
    delivery, _ = hosts
    with BflEmulator(delivery) as emu:
        provider = make_provider("bfl", emu.url, client, Sleeps())
        request, refs = two_references()
        sub = await provider.submit(request, refs)
        emu.forget(sub.provider_job_id)
        with pytest.raises(JobGone) as e:
            await provider.poll(sub.handle)
        assert e.value.provider_message == "Task not found"


@pytest.mark.asyncio
async def test_error_status_keeps_details(hosts, client):
    delivery, _ = hosts
    with BflEmulator(delivery, scenario="error") as emu:
        provider = make_provider("bfl", emu.url, client, Sleeps())
        request, refs = two_references()
        with pytest.raises(ProviderError) as e:
            await run_job(provider, request, refs)
    assert e.value.kind is ErrorKind.PROVIDER and "Generation failed on the worker" in str(e.value)


@pytest.mark.asyncio
async def test_held_job_stays_pending_until_released(hosts, client):
    delivery, _ = hosts
    with BflEmulator(delivery, hold=True) as emu:
        provider = make_provider("bfl", emu.url, client, Sleeps())
        request, refs = two_references()
        sub = await provider.submit(request, refs)
        for _ in range(5):
            assert (await provider.poll(sub.handle)).state == "queued"
        emu.release_all()
        # a fresh provider (as after a restart) finishes the job from the stored handle alone
        again = make_provider("bfl", emu.url, client, Sleeps())
        assert (await again.poll(dict(sub.handle))).state == "done"


@pytest.mark.asyncio
async def test_concurrency_limit_is_rate_limited_with_retry_after(hosts, client):
    delivery, _ = hosts
    with BflEmulator(delivery, hold=True, max_active=1) as emu:
        sleeps = Sleeps()
        provider = make_provider("bfl", emu.url, client, sleeps)
        request, refs = two_references()
        await provider.submit(request, refs)
        with pytest.raises(ProviderError) as e:
            await provider.submit(request, refs)
    assert e.value.kind is ErrorKind.RATE_LIMITED and e.value.retry_after == 5.0
    assert sleeps.waits == [5.0, 5.0]  # retried only on 429, honouring Retry-After
    assert emu.accepted == 1


@pytest.mark.asyncio
async def test_credit_balance_is_checked_against_cost(hosts, client):
    delivery, _ = hosts
    with BflEmulator(delivery, credits=6.0) as emu:
        provider = make_provider("bfl", emu.url, client, Sleeps())
        request, refs = two_references()
        with pytest.raises(ProviderError) as e:
            await provider.submit(request, refs)  # costs 6.25 credits
    assert e.value.kind is ErrorKind.CREDITS and emu.accepted == 0


@pytest.mark.asyncio
async def test_key_never_goes_to_a_foreign_polling_url(hosts, client):
    """A polling URL on another origin (not the API base, not *.bfl.ai) gets no key: the profile's own
    result path on the API base is polled instead."""
    delivery, _ = hosts
    with BflEmulator(delivery) as emu:
        provider = make_provider("bfl", emu.url, client, Sleeps())
        request, refs = two_references()
        sub = await provider.submit(request, refs)
        job_id = sub.provider_job_id
        foreign = {**sub.handle, "polling_url": f"{delivery.url}/v1/get_result?id={job_id}"}
        pr = await provider.poll(foreign)
    assert pr.state == "running"
    assert delivery.requests == []
    last = emu.requests[-1]
    assert (last.path, last.q("id"), last.header("x-key")) == ("/v1/get_result", job_id, KEY)


@pytest.mark.asyncio
async def test_key_host_rule(client):
    ctx = ProviderContext(client=client, api_key=KEY)
    b = bfl.BflProvider(PROFILES["bfl"], ctx)
    assert b.key_may_go_to("https://api.eu2.bfl.ai/v1/get_result?id=1")
    assert b.key_may_go_to("https://api.bfl.ai/v1/get_result?id=1")
    assert not b.key_may_go_to("http://api.eu2.bfl.ai/v1/get_result?id=1")
    assert not b.key_may_go_to("https://evilbfl.ai/v1/get_result?id=1")
    assert not b.key_may_go_to("https://api.bfl.ai.evil.com/v1/get_result?id=1")
    assert (
        b.poll_url({"id": "a b", "polling_url": "https://x.example/r?id=1"})
        == "https://api.bfl.ai/v1/get_result?id=a%20b"
    )
    comet = bfl.BflProvider(PROFILES["cometapi"], ctx)
    assert not comet.key_may_go_to("https://api.eu2.bfl.ai/v1/get_result?id=1")
    assert (
        comet.poll_url({"id": "j1", "polling_url": "https://api.eu2.bfl.ai/v1/get_result?id=j1"})
        == "https://api.cometapi.com/flux/v1/get_result?id=j1"
    )
    assert (
        comet.poll_url({"id": "j1", "polling_url": None})
        == "https://api.cometapi.com/flux/v1/get_result?id=j1"
    )


# ---------------------------------------------------------------------------- cometapi and custom
@pytest.mark.asyncio
async def test_cometapi_bearer_shape(hosts, client):
    delivery, _ = hosts
    with BflEmulator(delivery, comet=True, key="comet_key") as emu:
        provider = make_provider("cometapi", emu.url, client, Sleeps(), key="comet_key")
        request, refs = two_references()
        sub, polls, _ = await run_job(provider, request, refs)
    post = emu.requests[0]
    assert (post.method, post.path) == ("POST", "/flux/v1/flux-2-flex")
    assert post.header("authorization") == "Bearer comet_key"
    assert "x-key" not in post.headers
    assert set(post.json()) >= {"prompt", "input_image", "input_image_2", "steps", "guidance", "seed"}
    gets = [r for r in emu.requests if r.method == "GET"]
    assert gets and all(
        r.path == "/flux/v1/get_result"
        and r.header("authorization") == "Bearer comet_key"
        and "x-key" not in r.headers
        for r in gets
    )
    assert sub.billed_usd is None and polls[-1].billed_usd is None
    assert_no_key_on(delivery)


@pytest.mark.asyncio
async def test_cometapi_without_polling_url_uses_its_own_result_path(hosts, client):
    delivery, _ = hosts
    with BflEmulator(delivery, comet=True, polling_url=False) as emu:
        provider = make_provider("cometapi", emu.url, client, Sleeps())
        request, refs = two_references()
        sub, _, _ = await run_job(provider, request, refs)
    assert sub.handle["polling_url"] is None
    assert all(
        r.path == "/flux/v1/get_result" and r.q("id") == sub.provider_job_id
        for r in emu.requests
        if r.method == "GET"
    )


@pytest.mark.asyncio
async def test_user_defined_endpoint_with_bearer_and_custom_paths(hosts, client):
    delivery, _ = hosts
    with BflEmulator(
        delivery,
        auth="bearer",
        submit_path="/api/gen/flux-2-flex",
        cluster="",
        result_path="/api/status/{id}",
        polling_url=False,
    ) as emu:
        info = bfl.custom_profile(
            "my-flux",
            "My Flux",
            emu.url + "/api/",
            {
                "auth": "bearer",
                "submit_path": "/gen/{model}",
                "result_path": "/status/{id}",
                "custom": True,
                "unknown": "dropped",
            },
        )
        assert info.protocol == "bfl" and info.options["custom"] is True and "unknown" not in info.options
        assert info.default_base_url == emu.url + "/api" and info.env_var is None
        provider = make_provider("", "", client, Sleeps(), info=info)
        request, refs = two_references()
        sub, polls, images = await run_job(provider, request, refs)
    post = emu.requests[0]
    assert post.path == "/api/gen/flux-2-flex" and post.header("authorization") == f"Bearer {KEY}"
    assert "x-key" not in post.headers
    gets = [r for r in emu.requests if r.method == "GET"]
    assert gets and all(r.path == f"/api/status/{sub.provider_job_id}" for r in gets)
    assert images and polls[-1].state == "done"
    assert_no_key_on(delivery)


def test_custom_profile_refuses_bad_settings():
    with pytest.raises(BadInput, match="https"):
        bfl.custom_profile("x", "X", "http://flux.example.com", {})
    with pytest.raises(BadInput, match="auth"):
        bfl.custom_profile("x", "X", "https://flux.example.com", {"auth": "basic"})
    with pytest.raises(BadInput, match="submit_path"):
        bfl.custom_profile("x", "X", "https://flux.example.com", {"submit_path": "v1/x"})
    info = bfl.custom_profile("x", "X", "http://127.0.0.1:9000", {"result_path": "/r?id="})
    assert info.options["auth"] == "x-key" and info.options["model"] == "flux-2-flex"


@pytest.mark.asyncio
async def test_plain_http_base_url_is_refused(client):
    provider = make_provider("bfl", "http://flux.example.com", client, Sleeps())
    request, refs = two_references()
    with pytest.raises(ProviderError) as e:
        await provider.submit(request, refs)
    assert e.value.kind is ErrorKind.NETWORK and "https" in str(e.value)
    with pytest.raises(ProviderError) as e:
        await provider.poll({"id": "x", "polling_url": "http://flux.example.com/v1/get_result?id=x"})
    assert e.value.kind is ErrorKind.NETWORK


# ---------------------------------------------------------------------------- profiles
def test_profiles_and_capabilities():
    assert list(PROFILES) == ["bfl", "bfl-eu", "bfl-us", "cometapi"]
    assert PROFILES["bfl"].default_base_url == "https://api.bfl.ai"
    assert PROFILES["bfl-eu"].default_base_url == "https://api.eu.bfl.ai"
    assert PROFILES["bfl-us"].default_base_url == "https://api.us.bfl.ai"
    assert PROFILES["cometapi"].default_base_url == "https://api.cometapi.com"
    assert {p.env_var for p in bfl.PROFILES} == {"BFL_API_KEY", "COMETAPI_KEY"}
    for info in bfl.PROFILES:
        caps = info.capabilities
        assert info.protocol == "bfl" and info.key_help
        assert caps.max_references == 8 and caps.formats == ("jpeg", "png") and not caps.can_cancel
        assert (
            caps.steps_range == (1, 50) and caps.guidance_range == (1.5, 10.0) and caps.safety_range == (0, 5)
        )
        assert set(caps.fields) == {
            "prompt",
            "references",
            "steps",
            "guidance",
            "seed",
            "size",
            "output_format",
            "safety",
            "prompt_upsampling",
        }
        built = info.create(ProviderContext(client=object(), api_key="k"))  # type: ignore[arg-type]
        assert built.info is info  # each profile builds a provider of itself


@pytest.mark.asyncio
async def test_cancel_only_stops_polling(hosts, client):
    delivery, _ = hosts
    with BflEmulator(delivery) as emu:
        provider = make_provider("bfl", emu.url, client, Sleeps())
        assert await provider.cancel({"id": "x", "polling_url": f"{emu.url}/v1/get_result?id=x"}) is False
    assert emu.requests == []


def test_emulator_validates_like_the_openapi(hosts):
    delivery, _ = hosts
    png = base64.b64encode(make_image(64, 64, "PNG")).decode()
    with BflEmulator(delivery) as emu, httpx.Client(base_url=emu.url) as http:
        bad = {
            "prompt": "x",
            "input_image": "data:image/png;base64," + png,
            "input_image_9": png,
            "steps": 51,
            "guidance": 1.0,
            "safety_tolerance": 6,
            "width": 100,
            "height": 32,
            "output_format": "webp",
            "seed": "1",
            "prompt_upsampling": "yes",
        }
        r = http.post("/v1/flux-2-flex", json=bad, headers={"x-key": KEY})
        assert r.status_code == 422
        fields = {d["loc"][1]: d["type"] for d in r.json()["detail"]}
        assert fields == {
            "input_image": "value_error",
            "input_image_9": "extra_forbidden",
            "steps": "range",
            "guidance": "range",
            "safety_tolerance": "range",
            "width": "multiple_of",
            "height": "greater_than_equal",
            "output_format": "enum",
            "seed": "int_type",
            "prompt_upsampling": "bool_type",
        }
        r = http.post("/v1/flux-2-flex", json={"steps": 10}, headers={"x-key": KEY})
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "prompt"]
        r = http.post("/v1/flux-2-flex", json={"prompt": "x"})
        assert r.status_code == 401 and r.json() == {"detail": "Not authenticated"}
        r = http.post("/v1/flux-2-flex", json={"prompt": "x"}, headers={"authorization": f"Bearer {KEY}"})
        assert r.status_code == 401
        r = http.post("/v1/flux-2-flex", json={"prompt": "x", "input_image": png}, headers={"x-key": KEY})
        assert r.status_code == 200
        answer = r.json()
        assert set(answer) == {"id", "polling_url", "cost", "input_mp", "output_mp"}
        assert answer["output_mp"] == 1.0 and answer["cost"] == bfl_cost(1024, 1024, 64 * 64 / 1_048_576)
        r = http.get("/v1/get_result", params={"id": answer["id"]})
        assert r.status_code == 401
        r = http.get("/v1/get_result", params={"id": answer["id"]}, headers={"x-key": KEY})
        assert r.json()["status"] == "Pending" and r.json()["progress"] == 0.5
