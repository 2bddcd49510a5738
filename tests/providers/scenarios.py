"""One fault-scenario harness for the provider tests.

A `Rig` says how to start one provider's emulator and which recorded requests are its paid submits; a
`Scenario` is an emulator fault set plus what must come of it (error kind and stage, submit count, waits,
what the downloaded bytes are). `drive` runs one scenario against one rig over real HTTP and checks it.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import pytest
from PIL import Image, UnidentifiedImageError

from flexstudio.core.errors import ErrorKind, ProviderError
from flexstudio.core.request import EditRequest, ImageRef
from flexstudio.providers import fal, kie, replicate, runapi
from flexstudio.providers.base import PreparedReference, Provider, ProviderContext
from tests.emulators import fal as fal_emu
from tests.emulators import kie as kie_emu
from tests.emulators import replicate as replicate_emu
from tests.emulators import runapi as runapi_emu
from tests.emulators.base import Delivery, make_image
from tests.support import Sleeps, stop_all


@dataclass(frozen=True)
class Rig:
    """One provider under test: its profile, emulator, key and how to spot its paid submit requests."""

    name: str
    profile: Any
    emulator: Callable[[Delivery], Any]
    key: str
    is_submit: Callable[[Any], bool]
    is_poll: Callable[[Any], bool] = lambda r: False
    # per scenario: the HTTP status the error carries and text its provider message contains (None: unchecked)
    said: Mapping[str, tuple[int | None, str | None]] = field(default_factory=dict)
    # the request and prepared references every scenario sends (default: a plain text-to-image prompt)
    job: Callable[[], tuple[EditRequest, list]] | None = None

    def start(self) -> Any:
        delivery = Delivery().start()
        delivery.third = Delivery().start()
        return self.emulator(delivery).start()

    @staticmethod
    def stop(emu: Any) -> None:
        stop_all(emu, emu.delivery.third, emu.delivery)

    @staticmethod
    def use(emu: Any, scenario: str = "success", latency_polls: int = 1) -> Any:
        emu.reset(scenario)
        emu.latency_polls = latency_polls
        for d in (emu.delivery, emu.delivery.third):
            with d.lock:
                d.requests.clear()
                d.counters.clear()
        return emu

    def provider(self, client, emu, sleeps=None, key=None, **options):
        ctx = ProviderContext(
            client=client,
            api_key=self.key if key is None else key,
            base_url=emu.url,
            options=options,
            poll_interval=0,
            sleep=sleeps or Sleeps(),
        )
        provider = self.profile.create(ctx)
        assert isinstance(provider, Provider)
        return provider

    def submits(self, emu) -> list:
        return [r for r in emu.requests if self.is_submit(r)]


async def run_job(prov, request, refs):
    """Submit, poll until done (a submit that already carries the result needs no poll), download."""
    sub = await prov.submit(request, refs)
    states = []
    result = sub.result
    for _ in range(20):
        if result is not None:
            break
        polled = await prov.poll(sub.handle)
        states.append(polled.state)
        result = polled.result if polled.state == "done" else None
    assert result is not None
    blobs = [await prov.download(u) for u in result.urls]
    return sub, result, blobs, states


def size_of(data: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as img:
        return img.size


def _is_png_128(data: bytes) -> None:
    assert size_of(data) == (128, 128)


SERVED = make_image(512, 384, "JPEG")  # what the queue emulators' CDN serves on success


def _is_served(data: bytes) -> None:
    assert data == SERVED


def _not_served(data: bytes) -> None:
    assert data != SERVED  # handed on as served; the job runner verifies the image


def _is_html(data: bytes) -> None:
    assert data.startswith(b"<html>")


def _not_an_image(data: bytes) -> None:
    with pytest.raises(UnidentifiedImageError):
        size_of(data)


def _bomb(data: bytes) -> None:
    with pytest.raises(Image.DecompressionBombError):
        size_of(data)


@dataclass(frozen=True)
class Scenario:
    """An emulator fault set and its expected outcome.

    kind None: the job completes and `blob` checks the first downloaded image. `at` "submit": the error is
    raised by submit itself (nothing polled); "job": somewhere in submit/poll/download. `waits` is the exact
    list of back-off sleeps, or "one" (exactly one, 0 < w <= 8). `status`: the error carries the provider's
    message and one of these HTTP statuses. `message`: text in the provider's message. `delivery`: the
    result hosts were reached, never with our Authorization header or key. `polls`: how many requests the rig
    counts as polls; `accepted`: the emulator accepted exactly one job; `no_delivery`: the CDN was never
    asked; `main_hits`/`third_hits`: requests the CDN / the redirect's other host received.
    """

    name: str
    kind: ErrorKind | None = None
    at: str = "job"
    stage: str | None = None
    submits: int = 1
    created: int | None = None
    waits: list[float] | str | None = None
    status: tuple[int, ...] = ()
    message: str | None = None
    blob: Callable[[bytes], None] | None = None
    delivery: bool = False
    polls: int | None = None
    accepted: bool = False
    no_delivery: bool = False
    main_hits: int | None = None
    third_hits: int | None = None


async def drive(rig: Rig, emu: Any, client, sc: Scenario) -> None:
    """Run one scenario on an emulator already playing it, and check everything the scenario expects."""
    sleeps = Sleeps()
    prov = rig.provider(client, emu, sleeps)
    if rig.job is not None:
        request, refs = rig.job()
    else:
        prompt = "something flagged" if sc.kind is ErrorKind.MODERATED else "a cat on a roof"
        request, refs = EditRequest(prompt=prompt), []
    if sc.kind is None:
        _, _, blobs, _ = await run_job(prov, request, refs)
        assert blobs
        if sc.blob is not None:
            sc.blob(blobs[0])
    else:
        with pytest.raises(ProviderError) as info:
            if sc.at == "submit":
                await prov.submit(request, refs)
            else:
                await run_job(prov, request, refs)
        err = info.value
        assert err.kind is sc.kind
        assert rig.key not in str(err)
        if sc.stage is not None:
            assert err.moderation_stage == sc.stage
        if sc.message is not None:
            assert sc.message in (err.provider_message or "")
        if sc.status:
            assert err.provider_message and err.status in sc.status
        status, text = rig.said.get(sc.name, (None, None))
        if status is not None:
            assert err.status == status
        if text is not None:
            assert text in (err.provider_message or "")
    assert len(rig.submits(emu)) == sc.submits
    if sc.created is not None:
        assert emu.created == sc.created
    if sc.waits == "one":
        assert len(sleeps.waits) == 1 and 0 < sleeps.waits[0] <= 8
    elif sc.waits is not None:
        assert sleeps.waits == sc.waits
    if sc.delivery:
        hosts = emu.delivery.requests + emu.delivery.third.requests
        assert hosts and all(r.header("authorization") is None for r in hosts)
        assert all("authorization" not in r.headers and rig.key not in str(r.headers) for r in hosts)
    if sc.polls is not None:
        assert len([r for r in emu.requests if rig.is_poll(r)]) == sc.polls
    if sc.accepted:
        assert emu.accepted == 1
    if sc.no_delivery:
        assert emu.delivery.requests == []
    if sc.main_hits is not None:
        assert len(emu.delivery.requests) == sc.main_hits
    if sc.third_hits is not None:
        assert len(emu.delivery.third.requests) == sc.third_hits


# The task-queue providers (Kie.ai, RunAPI): same fault names, same verdicts.
KIE_RIG = Rig(
    "kie", kie.PROFILES[0], kie_emu.KieEmulator, kie_emu.KEY, lambda r: r.path == "/api/v1/jobs/createTask"
)
RUNAPI_RIG = Rig(
    "runapi",
    runapi.PROFILES[0],
    runapi_emu.RunApiEmulator,
    runapi_emu.KEY,
    lambda r: r.method == "POST" and r.path.startswith("/api/v1/flux_2/"),
)
_SUBMIT_STATUS = (401, 402, 422, 500)
TASK_QUEUE_SCENARIOS = [
    Scenario("auth", ErrorKind.AUTH, at="submit", waits=[], status=_SUBMIT_STATUS),
    Scenario("credits", ErrorKind.CREDITS, at="submit", waits=[], status=_SUBMIT_STATUS),
    Scenario("validation", ErrorKind.VALIDATION, at="submit", waits=[], status=_SUBMIT_STATUS),
    Scenario("submit_5xx", ErrorKind.PROVIDER, at="submit", waits=[], status=_SUBMIT_STATUS),
    Scenario("malformed_json", ErrorKind.PROVIDER, at="submit", waits=[]),
    Scenario("rate_limit", submits=2, created=1, waits=[1.0]),
    Scenario("server_error_then_success", waits="one"),
    Scenario("reset", waits="one"),
    Scenario("moderated_input", ErrorKind.MODERATED, stage="input", message="flagged"),
    Scenario("moderated_output", ErrorKind.MODERATED, stage="output", message="flagged"),
    Scenario("expired_url", ErrorKind.EXPIRED, delivery=True),
    Scenario("slow_body", blob=_is_png_128, delivery=True),
    Scenario("truncated_body", blob=_is_png_128, delivery=True),
    Scenario("redirect_other_host", blob=_is_png_128, delivery=True),
    Scenario("wrong_content_type", blob=_is_html, delivery=True),
    Scenario("not_an_image", blob=_not_an_image, delivery=True),
    Scenario("bomb", blob=_bomb, delivery=True),
]


# The queue providers (fal.ai, Replicate): every contract scenario; statuses and texts come from each rig.
_OK = {"accepted": True, "delivery": True}
QUEUE_SCENARIOS = [
    Scenario("success", submits=1, blob=_is_served, **_OK),
    Scenario("auth", ErrorKind.AUTH, at="submit"),
    Scenario("credits", ErrorKind.CREDITS, at="submit"),
    Scenario("validation", ErrorKind.VALIDATION, at="submit"),
    Scenario("submit_5xx", ErrorKind.PROVIDER, at="submit"),
    Scenario("malformed_json", ErrorKind.PROVIDER, at="submit"),
    Scenario("rate_limit", submits=2, waits=[1.0], blob=_is_served, **_OK),
    Scenario("server_error_then_success", waits="one", polls=3, blob=_is_served, **_OK),
    Scenario("reset", waits="one", polls=3, blob=_is_served, **_OK),
    Scenario("moderated_input", ErrorKind.MODERATED, stage="input", no_delivery=True),
    Scenario("moderated_output", ErrorKind.MODERATED, stage="output", no_delivery=True),
    Scenario("expired_url", ErrorKind.EXPIRED, delivery=True),
    Scenario("slow_body", blob=_is_served, **_OK),
    Scenario("truncated_body", blob=_is_served, main_hits=2, **_OK),
    Scenario("redirect_other_host", blob=_is_served, third_hits=1, **_OK),
    Scenario("wrong_content_type", blob=_not_served, **_OK),
    Scenario("not_an_image", blob=_not_served, **_OK),
    Scenario("bomb", blob=_not_served, **_OK),
]


def two_references(provider: str) -> tuple[EditRequest, list[PreparedReference]]:
    """An edit with two references (a PNG and a JPEG), as the queue providers' scenarios send it."""
    a = make_image(512, 384, "PNG", (200, 40, 40))
    b = make_image(256, 256, "JPEG", (40, 200, 40))
    ha, hb = hashlib.sha256(a).hexdigest(), hashlib.sha256(b).hexdigest()
    request = EditRequest(
        prompt="The cat from image 1 in the room from image 2",
        references=(
            ImageRef(ha, 512, 384, "a.png", "image/png"),
            ImageRef(hb, 256, 256, "b.jpg", "image/jpeg"),
        ),
        seed=42,
        provider=provider,
    )
    refs = [PreparedReference(a, "image/png", 512, 384, ha), PreparedReference(b, "image/jpeg", 256, 256, hb)]
    return request, refs


# The queue providers' rigs: each says which statuses and texts its emulator answers with.
FAL_RIG = Rig(
    "fal",
    fal.PROFILES[0],
    fal_emu.FalEmulator,
    fal_emu.DEFAULT_KEY,
    is_submit=lambda r: r.method == "POST",
    is_poll=lambda r: r.path.endswith("/status"),
    job=partial(two_references, "fal"),
    said={
        "auth": (401, "No user found for Key ID and Secret"),
        "credits": (403, "User is locked"),
        "validation": (422, "image_size: Image size is too large"),
        "submit_5xx": (500, "internal_error"),
        "malformed_json": (200, None),
        "moderated_input": (None, "flagged by a content checker"),
        "moderated_output": (None, "flagged by a content checker"),
    },
)
REPLICATE_RIG = Rig(
    "replicate",
    replicate.PROFILES[0],
    replicate_emu.ReplicateEmulator,
    replicate_emu.DEFAULT_TOKEN,
    is_submit=lambda r: r.method == "POST" and r.path == f"/v1/models/{replicate_emu.MODEL}/predictions",
    is_poll=lambda r: r.method == "GET",
    job=partial(two_references, "replicate"),
    said={
        "auth": (401, "valid authentication token"),
        "credits": (402, "insufficient credit"),
        "validation": (422, "input.width: Must be less than or equal to 2048"),
        "submit_5xx": (500, "unexpected error"),
        "malformed_json": (201, None),
        "moderated_input": (None, "(E005)"),
        "moderated_output": (None, "(E005)"),
    },
)
