"""The fal.ai queue protocol against its local emulator: the exact wire shape, every contract scenario,
queue position and logs, cancel, URLs used as given, and where the key goes (never to the CDN)."""

from __future__ import annotations

import base64
import io
from typing import Any

import httpx
import pytest
from PIL import Image

from flexstudio.core.errors import BadInput, ErrorKind, JobGone, MissingKey, ProviderError
from flexstudio.core.request import EditRequest
from flexstudio.providers import fal
from flexstudio.providers.base import (
    REQUEST_FIELDS,
    PreparedReference,
    Provider,
    ProviderContext,
    Support,
)
from tests.emulators.base import Delivery, Reply, json_reply
from tests.emulators.fal import APP, DEFAULT_KEY, FalEmulator
from tests.providers import scenarios
from tests.support import Sleeps
from tests.support import run_to_done as run_job

KEY = DEFAULT_KEY
INFO = fal.PROFILES[0]


def make_provider(
    base_url: str, client: httpx.AsyncClient, sleeps: Sleeps | None = None, *, key: str | None = KEY
) -> Provider:
    ctx = ProviderContext(client=client, api_key=key, base_url=base_url, sleep=sleeps or Sleeps())
    provider = INFO.create(ctx)
    assert isinstance(provider, Provider)
    return provider


def two_references() -> tuple[EditRequest, list[PreparedReference]]:
    return scenarios.two_references("fal")


def submits(emu: FalEmulator) -> list[Any]:
    return [r for r in emu.requests if r.method == "POST"]


def assert_no_key_on(*servers: Delivery) -> None:
    for server in servers:
        for r in server.requests:
            assert "authorization" not in r.headers, r.path
            assert KEY not in str(r.headers)


# ---------------------------------------------------------------------------- profile
def test_profile_and_capabilities():
    assert [p.id for p in fal.PROFILES] == ["fal"]
    assert INFO.protocol == "fal" and INFO.label == "fal.ai" and INFO.env_var == "FAL_KEY"
    assert INFO.default_base_url == "https://queue.fal.run" and INFO.key_help
    caps = INFO.capabilities
    assert caps.max_references == 10 and caps.steps_range == (2, 50) and caps.safety_range == (1, 5)
    assert caps.formats == ("jpeg", "png") and caps.can_cancel and caps.text_to_image
    assert caps.prompt_upsampling is False
    assert set(caps.fields) == set(REQUEST_FIELDS)
    assert caps.handling("prompt_upsampling").support is Support.IGNORED
    assert "prompt expansion" in caps.handling("prompt_upsampling").note
    assert caps.handling("safety").support is Support.CONVERTED
    assert caps.handling("steps").support is Support.RENAMED
    assert "num_inference_steps" in caps.handling("steps").note


# ---------------------------------------------------------------------------- wire shape
@pytest.mark.asyncio
async def test_edit_request_shape_polling_and_download(hosts, client):
    delivery, _ = hosts
    with FalEmulator(delivery) as emu:
        sleeps = Sleeps()
        provider = make_provider(emu.url, client, sleeps)
        request, refs = two_references()
        sub, polls, images = await run_job(provider, request, refs)
        emu_url = emu.url

    assert len(submits(emu)) == 1 and emu.accepted == 1
    req = submits(emu)[0]
    assert req.path == f"/{APP}/edit"
    assert req.header("authorization") == f"Key {KEY}"
    assert req.header("content-type") == "application/json"
    body = req.json()
    assert body == {
        "prompt": "The cat from image 1 in the room from image 2",
        "image_urls": [
            f"data:image/png;base64,{base64.b64encode(refs[0].data).decode()}",
            f"data:image/jpeg;base64,{base64.b64encode(refs[1].data).decode()}",
        ],
        "image_size": {"width": 512, "height": 384},
        "num_inference_steps": 50,
        "guidance_scale": 5.0,
        "seed": 42,
        "safety_tolerance": "2",
        "enable_safety_checker": True,
        "output_format": "jpeg",
    }
    assert type(body["safety_tolerance"]) is str
    assert type(body["num_inference_steps"]) is int and type(body["seed"]) is int
    assert type(body["image_size"]["width"]) is int and type(body["guidance_scale"]) is float
    assert "prompt_upsampling" not in body and "enable_prompt_expansion" not in body

    # the three URLs are stored verbatim; they omit the /edit sub-path
    rid = sub.provider_job_id
    base = f"{emu_url}/{APP}/requests/{rid}"
    assert sub.handle == {
        "request_id": rid,
        "status_url": f"{base}/status",
        "response_url": base,
        "cancel_url": f"{base}/cancel",
    }
    assert sub.result is None and sub.billed_usd is None
    gets = [r for r in emu.requests if r.method == "GET"]
    assert [r.path for r in gets] == [f"/{APP}/requests/{rid}/status"] * 2 + [f"/{APP}/requests/{rid}"]
    assert all(r.q("logs") == "1" for r in gets[:2])
    assert all(r.header("authorization") == f"Key {KEY}" for r in gets)

    assert [p.state for p in polls] == ["running", "done"]
    result = polls[-1].result
    assert result is not None and result.seed == 42 and len(result.urls) == 1
    assert result.urls[0].startswith(delivery.url)
    with Image.open(io.BytesIO(images[0])) as img:
        assert img.size == (512, 384) and img.format == "JPEG"
    assert len(delivery.requests) == 1
    assert_no_key_on(delivery)
    assert sleeps.waits == []


@pytest.mark.asyncio
async def test_text_to_image_endpoint_and_clamping(hosts, client):
    delivery, _ = hosts
    with FalEmulator(delivery, latency_polls=0) as emu:
        provider = make_provider(emu.url, client)
        request = EditRequest(
            prompt="a lighthouse at dusk",
            steps=1,
            guidance=12.0,
            safety=0,
            seed=None,
            output_format="png",
            prompt_upsampling=True,
            provider="fal",
        )
        sub, polls, images = await run_job(provider, request, [])
    req = submits(emu)[0]
    assert req.path == f"/{APP}"
    body = req.json()
    assert "image_urls" not in body
    assert body["image_size"] == {"width": 1024, "height": 1024}
    assert body["num_inference_steps"] == 2 and body["guidance_scale"] == 10.0
    assert body["safety_tolerance"] == "1" and body["output_format"] == "png"
    assert isinstance(body["seed"], int) and polls[-1].result is not None
    assert polls[-1].result.seed == body["seed"]
    assert [p.state for p in polls] == ["done"]
    assert images[0].startswith(b"\x89PNG")
    # polls of a t2i job use the same owner/alias URLs
    assert sub.handle["status_url"].endswith(f"/{APP}/requests/{sub.provider_job_id}/status")


@pytest.mark.asyncio
async def test_safety_six_is_sent_as_five(hosts, client):
    delivery, _ = hosts
    with FalEmulator(delivery) as emu:
        provider = make_provider(emu.url, client)
        await provider.submit(EditRequest(prompt="x", safety=6, seed=1, size=(768, 512)), [])
    body = submits(emu)[0].json()
    assert body["safety_tolerance"] == "5" and body["image_size"] == {"width": 768, "height": 512}


@pytest.mark.asyncio
async def test_refused_before_sending(hosts, client):
    delivery, _ = hosts
    with FalEmulator(delivery) as emu:
        provider = make_provider(emu.url, client)
        request, refs = two_references()
        with pytest.raises(BadInput, match="JPEG or PNG"):
            await provider.submit(request.with_(output_format="webp"), refs)
        with pytest.raises(BadInput, match="at most 10"):
            await provider.submit(request, refs * 5 + refs[:1])
        nokey = make_provider(emu.url, client, key="")
        with pytest.raises(MissingKey, match="FAL_KEY"):
            await nokey.submit(request, refs)
        with pytest.raises(MissingKey):
            await nokey.poll({"status_url": f"{emu.url}/{APP}/requests/x/status"})
        with pytest.raises(MissingKey):
            await nokey.cancel({"cancel_url": f"{emu.url}/{APP}/requests/x/cancel"})
    assert emu.requests == []


# ---------------------------------------------------------------------------- queue position, logs
@pytest.mark.asyncio
async def test_queue_position_and_logs_are_surfaced(hosts, client):
    delivery, _ = hosts
    with FalEmulator(delivery, latency_polls=4) as emu:
        provider = make_provider(emu.url, client)
        request, refs = two_references()
        _, polls, _ = await run_job(provider, request.with_(steps=28), refs)
    assert [(p.state, p.queue_position) for p in polls] == [
        ("queued", 1),
        ("queued", 0),
        ("running", None),
        ("running", None),
        ("done", None),
    ]
    assert polls[2].message == "Step 1/28" and polls[3].message == "Step 2/28"
    assert polls[4].message == "Step 2/28"


@pytest.mark.asyncio
async def test_urls_used_verbatim_with_their_own_query(hosts, client):
    delivery, _ = hosts
    with FalEmulator(delivery, route_prefix="/q/eu-1", status_query="token=abc") as emu:
        provider = make_provider(emu.url, client)
        request, refs = two_references()
        sub, _, _ = await run_job(provider, request, refs)
    rid = sub.provider_job_id
    assert sub.handle["status_url"].endswith(f"/q/eu-1/{APP}/requests/{rid}/status?token=abc")
    status = [r for r in emu.requests if r.path.endswith("/status")]
    assert status and all(r.path == f"/q/eu-1/{APP}/requests/{rid}/status" for r in status)
    assert all(r.q("token") == "abc" and r.q("logs") == "1" for r in status)
    result_gets = [r for r in emu.requests if r.method == "GET" and r.path.endswith(rid)]
    assert [r.path for r in result_gets] == [f"/q/eu-1/{APP}/requests/{rid}"]


def test_with_query_appends_properly():
    assert fal.with_query("https://q/x/status", "logs", "1") == "https://q/x/status?logs=1"
    assert fal.with_query("https://q/x/status?a=b", "logs", "1") == "https://q/x/status?a=b&logs=1"
    assert fal.with_query("https://q/x/status?", "logs", "1") == "https://q/x/status?logs=1"
    assert fal.with_query("https://q/x?a=1#frag", "logs", "1") == "https://q/x?a=1&logs=1#frag"


@pytest.mark.asyncio
async def test_no_key_to_urls_on_another_origin(hosts, client):
    delivery, _ = hosts
    with FalEmulator(delivery, url_origin=delivery.url) as emu:
        provider = make_provider(emu.url, client)
        request, refs = two_references()
        with pytest.raises(ProviderError, match="another host") as e:
            await provider.submit(request, refs)
        assert e.value.kind is ErrorKind.PROVIDER and KEY not in str(e.value)
        rid = next(iter(emu.jobs))
        assert rid in str(e.value)
        # a stored handle pointing elsewhere is refused too, before anything is sent
        with pytest.raises(ProviderError, match="another host"):
            await provider.poll(
                {
                    "status_url": f"{delivery.url}/{APP}/requests/{rid}/status",
                    "response_url": f"{delivery.url}/{APP}/requests/{rid}",
                }
            )
        with pytest.raises(ProviderError, match="another host"):
            await provider.cancel({"cancel_url": f"{delivery.url}/{APP}/requests/{rid}/cancel"})
    assert delivery.requests == []
    assert len(submits(emu)) == 1


# ---------------------------------------------------------------------------- cancel, gone, odd answers
@pytest.mark.asyncio
async def test_cancel_in_flight_then_after_completion(hosts, client):
    delivery, _ = hosts
    with FalEmulator(delivery, latency_polls=3) as emu:
        provider = make_provider(emu.url, client)
        request, refs = two_references()
        sub = await provider.submit(request, refs)
        assert (await provider.poll(sub.handle)).state == "queued"
        assert await provider.cancel(sub.handle) is True
        with pytest.raises(ProviderError) as e:
            await provider.poll(sub.handle)
        assert e.value.kind is ErrorKind.PROVIDER and "client_cancelled" in str(e.value)
        assert await provider.cancel(sub.handle) is False  # already completed

        done = await provider.submit(request, refs)
        for _ in range(4):
            await provider.poll(done.handle)
        assert await provider.cancel(done.handle) is False
        assert await provider.cancel({"cancel_url": f"{emu.url}/{APP}/requests/nope/cancel"}) is False
    puts = [r for r in emu.requests if r.method == "PUT"]
    assert puts[0].path == f"/{APP}/requests/{sub.provider_job_id}/cancel"
    assert all(r.header("authorization") == f"Key {KEY}" for r in puts)
    assert delivery.requests == []


@pytest.mark.asyncio
async def test_unknown_request_is_gone(hosts, client):
    delivery, _ = hosts
    with FalEmulator(delivery) as emu:
        provider = make_provider(emu.url, client)
        with pytest.raises(JobGone):
            await provider.poll(
                {
                    "status_url": f"{emu.url}/{APP}/requests/nope/status",
                    "response_url": f"{emu.url}/{APP}/requests/nope",
                }
            )


class OddFal(FalEmulator):
    """Answers that a real queue should not give: the client must fail clearly, not guess."""

    odd: dict[str, Any] = {}

    def handle(self, req):
        if req.method == "POST" and "submit" in self.odd:
            return json_reply(self.odd["submit"])
        if req.path.endswith("/status") and "status" in self.odd:
            return json_reply(self.odd["status"])
        return super().handle(req)


@pytest.mark.asyncio
async def test_odd_answers_fail_clearly(hosts, client):
    delivery, _ = hosts
    with OddFal(delivery) as emu:
        provider = make_provider(emu.url, client)
        request, refs = two_references()
        emu.odd = {"submit": {"request_id": "r1", "status_url": f"{emu.url}/{APP}/requests/r1/status"}}
        with pytest.raises(ProviderError, match="response_url, cancel_url") as e:
            await provider.submit(request, refs)
        assert e.value.kind is ErrorKind.PROVIDER
        emu.odd = {}
        sub = await provider.submit(request, refs)
        emu.odd = {"status": {"status": "FAILED", "logs": None}}
        with pytest.raises(ProviderError, match="unknown queue status 'FAILED'"):
            await provider.poll(sub.handle)
        emu.odd = {
            "status": {
                "status": "COMPLETED",
                "logs": None,
                "error": "Runner crashed",
                "error_type": "runner_server_error",
            }
        }
        with pytest.raises(ProviderError, match="Runner crashed") as e:
            await provider.poll(sub.handle)
        assert e.value.kind is ErrorKind.PROVIDER
        emu.odd = {
            "status": {
                "status": "COMPLETED",
                "logs": None,
                "error": "Request timed out",
                "error_type": "request_timeout",
            }
        }
        with pytest.raises(ProviderError) as e:
            await provider.poll(sub.handle)
        assert e.value.kind is ErrorKind.TIMEOUT


@pytest.mark.asyncio
async def test_admin_lock_and_other_403(hosts, client):
    delivery, _ = hosts

    class Locked(FalEmulator):
        body: dict[str, Any] = {}

        def handle(self, req):
            return Reply(403, self.body)

    with Locked(delivery) as emu:
        provider = make_provider(emu.url, client)
        emu.body = {"detail": "User is locked. Reason: Admin lock. Please contact support@fal.ai"}
        with pytest.raises(ProviderError) as e:
            await provider.submit(EditRequest(prompt="x", seed=1), [])
        assert e.value.kind is ErrorKind.CREDITS and "Admin lock" in str(e.value)
        emu.body = {"detail": "Forbidden"}
        with pytest.raises(ProviderError) as e:
            await provider.submit(EditRequest(prompt="x", seed=1), [])
        assert e.value.kind is ErrorKind.AUTH


# ---------------------------------------------------------------------------- the emulator is strict
@pytest.mark.asyncio
async def test_emulator_refuses_wrong_types_and_auth(hosts, client):
    delivery, _ = hosts
    with FalEmulator(delivery) as emu:
        ok = {"prompt": "x", "image_size": {"width": 1024, "height": 1024}, "safety_tolerance": "2"}
        r = await client.post(
            f"{emu.url}/{APP}", json={**ok, "safety_tolerance": 2}, headers={"Authorization": f"Key {KEY}"}
        )
        assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "safety_tolerance"]
        r = await client.post(
            f"{emu.url}/{APP}",
            json={**ok, "enable_prompt_expansion": True},
            headers={"Authorization": f"Key {KEY}"},
        )
        assert r.status_code == 422 and r.json()["detail"][0]["type"] == "extra_forbidden"
        r = await client.post(
            f"{emu.url}/{APP}/edit",
            json={**ok, "image_urls": ["http://x/a.png"]},
            headers={"Authorization": f"Key {KEY}"},
        )
        assert r.status_code == 422 and r.json()["detail"][0]["type"] == "file_download_error"
        r = await client.post(f"{emu.url}/{APP}", json=ok, headers={"Authorization": f"Bearer {KEY}"})
        assert r.status_code == 401
        r = await client.post(f"{emu.url}/{APP}", json=ok, headers={"Authorization": "Key wrong:key"})
        assert r.status_code == 401 and r.json() == {"detail": "No user found for Key ID and Secret"}
        r = await client.post(f"{emu.url}/{APP}", json=ok, headers={"Authorization": f"Key {KEY}"})
        assert r.status_code == 200
        rid = r.json()["request_id"]
        r = await client.get(
            f"{emu.url}/{APP}/edit/requests/{rid}/status", headers={"Authorization": f"Key {KEY}"}
        )
        assert r.status_code == 404  # the per-request URLs never carry the endpoint sub-path
    assert emu.accepted == 1
