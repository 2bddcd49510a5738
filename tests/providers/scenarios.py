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
from flexstudio.providers import bfl, fairstack, fal, kie, openai_images, replicate, runapi
from flexstudio.providers.base import PreparedReference, Provider, ProviderContext
from tests.emulators import fairstack as fairstack_emu
from tests.emulators import fal as fal_emu
from tests.emulators import kie as kie_emu
from tests.emulators import openai_images as openai_emu
from tests.emulators import replicate as replicate_emu
from tests.emulators import runapi as runapi_emu
from tests.emulators.base import Delivery, make_image
from tests.emulators.bfl import BflEmulator
from tests.support import Sleeps, reference, stop_all


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
    # per scenario: text the error's own sentence (what a user reads) contains
    shown: Mapping[str, str] = field(default_factory=dict)
    options: Mapping[str, Any] = field(default_factory=dict)  # provider options every scenario uses
    accepted: Callable[[Any], int] = lambda emu: emu.accepted  # jobs the emulator took (and billed)
    check: Callable[[Any], None] | None = None  # a protocol's own check after every scenario
    polls: Mapping[str, int] = field(default_factory=dict)  # per scenario: the rig's own poll count
    served: Callable[[bytes], None] = lambda data: _is_served(data)  # checks the image its emulator serves
    # for the job-level table (job_scenarios.py): the paid call's answer is the result (no poll); the
    # request that fetches a finished job's result, where separate from the poll; whether a job sends a
    # local reference image (FairStack takes public URLs only)
    synchronous: bool = False
    is_result: Callable[[Any], bool] | None = None
    references: bool = True

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
            base_url=getattr(emu, "base_url", emu.url),
            options={**self.options, **options},
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

    kind None: the job completes; `served`: the first downloaded image is the one the rig's emulator
    serves, `blob` checks it otherwise. `at` "submit": the error is raised by submit itself (nothing
    polled); "job": somewhere in submit/poll/download. `waits` is the exact list of back-off sleeps, or
    "one" (exactly one, 0 < w <= 8). `status`: the error carries the provider's message and one of these
    HTTP statuses. `message`: text in the provider's message. `delivery`: the result hosts were reached,
    never with our Authorization header or key. `polls`: how many requests the rig counts as polls;
    `accepted`: the emulator accepted exactly one job (a submit refused at once: none); `billed`: the error
    says the job may exist and have been billed (its answer was lost after sending); `no_delivery`: the
    CDN was never asked; `main_hits`/`third_hits`: requests the CDN / the redirect's other host received;
    `ends`: how the job ends through the runner, where `job_end` does not follow from the rest.
    """

    name: str
    kind: ErrorKind | None = None
    at: str = "job"
    billed: bool = False
    stage: str | None = None
    submits: int = 1
    waits: list[float] | str | None = None
    status: tuple[int, ...] = ()
    message: str | None = None
    blob: Callable[[bytes], None] | None = None
    served: bool = False  # the first downloaded image is the one the rig's emulator serves, whole
    delivery: bool = False
    polls: int | None = None
    accepted: bool = False
    no_delivery: bool = False
    main_hits: int | None = None
    third_hits: int | None = None
    ends: str | None = None  # the job's end through the runner where `job_end` does not follow from the rest

    @property
    def job_end(self) -> str:
        """How a job meeting this scenario ends through the job runner, "state" or "state/error kind"
        (architecture.md "Jobs"): refused before the provider took it → failed; an answer lost after
        sending (it may have been billed) → interrupted; the provider's verdict → moderated or failed."""
        if self.ends is not None:
            return self.ends
        if self.billed:
            return "interrupted/network"
        if self.kind is None:
            return "succeeded"
        if self.kind is ErrorKind.MODERATED:
            return "moderated/moderated"
        return f"failed/{self.kind.value}"


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
        if sc.served:
            rig.served(blobs[0])
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
        if sc.name in rig.shown:
            assert rig.shown[sc.name] in str(err)
        if sc.kind is not ErrorKind.MODERATED:  # a verdict: the job is settled whatever the status
            # as the job runner judges it: sent but unanswered, or a 2xx answer that could not be read
            lost = err.submitted or (err.status is not None and 200 <= err.status < 300)
            assert lost is sc.billed
    assert len(rig.submits(emu)) == sc.submits
    if sc.waits == "one":
        assert len(sleeps.waits) == 1 and 0 < sleeps.waits[0] <= 8
    elif sc.waits is not None:
        assert sleeps.waits == sc.waits
    if sc.delivery:
        hosts = emu.delivery.requests + emu.delivery.third.requests
        assert hosts and all(r.header("authorization") is None for r in hosts)
        assert all("authorization" not in r.headers and rig.key not in str(r.headers) for r in hosts)
    if sc.polls is not None:
        want = rig.polls.get(sc.name, sc.polls)
        assert len([r for r in emu.requests if rig.is_poll(r)]) == want
    if sc.accepted:
        assert rig.accepted(emu) == 1
    elif sc.at == "submit" and sc.kind is not None and not sc.billed:
        assert rig.accepted(emu) == 0
    if sc.no_delivery:
        assert emu.delivery.requests == []
    if sc.main_hits is not None:
        assert len(emu.delivery.requests) == sc.main_hits
    if sc.third_hits is not None:
        assert len(emu.delivery.third.requests) == sc.third_hits
    if rig.check is not None:
        rig.check(emu)


_OK = {"accepted": True, "delivery": True}


# The result-host faults every protocol meets: the image the emulator serves, fetched whole (a slow body,
# a truncated one fetched again, a redirect to another host), and the bytes of a web page, of junk and of
# a decompression bomb, handed on as served: the job runner judges them — a web page is not the
# provider's result (fetch it again later); bytes that are no image, or a bomb, are, and fail the job.
DOWNLOAD_FAULTS = [
    Scenario("expired_url", ErrorKind.EXPIRED, delivery=True),
    Scenario("slow_body", served=True, **_OK),
    Scenario("truncated_body", served=True, main_hits=2, **_OK),
    Scenario("redirect_other_host", served=True, third_hits=1, **_OK),
    Scenario("wrong_content_type", blob=_is_html, ends="interrupted/network", **_OK),
    Scenario("not_an_image", blob=_not_an_image, ends="failed/provider", **_OK),
    Scenario("bomb", blob=_bomb, ends="failed/provider", **_OK),
]


# The task-queue providers (Kie.ai, RunAPI): same fault names, same verdicts.
KIE_RIG = Rig(
    "kie",
    kie.PROFILES[0],
    kie_emu.KieEmulator,
    kie_emu.KEY,
    lambda r: r.path == "/api/v1/jobs/createTask",
    is_poll=lambda r: r.method == "GET" and r.path == "/api/v1/jobs/recordInfo",
    accepted=lambda emu: emu.created,
    served=_is_png_128,
    said={"moderated_input": (None, "flagged"), "moderated_output": (None, "flagged")},
)
RUNAPI_RIG = Rig(
    "runapi",
    runapi.PROFILES[0],
    runapi_emu.RunApiEmulator,
    runapi_emu.KEY,
    lambda r: r.method == "POST" and r.path.startswith("/api/v1/flux_2/"),
    is_poll=lambda r: r.method == "GET" and r.path.startswith("/api/v1/flux_2/"),
    accepted=lambda emu: emu.created,
    served=_is_png_128,
    said={"moderated_input": (None, "flagged"), "moderated_output": (None, "flagged")},
)
# Every provider that answers the submit with a job to poll (BFL, CometAPI, fal.ai, Replicate, Kie.ai,
# RunAPI): one table; the statuses and texts each emulator answers with come from its rig.
_REFUSED = {"at": "submit", "waits": [], "status": (401, 402, 403, 422, 500)}
QUEUE_SCENARIOS = [
    Scenario("success", served=True, **_OK),
    Scenario("auth", ErrorKind.AUTH, **_REFUSED),
    Scenario("credits", ErrorKind.CREDITS, **_REFUSED),
    Scenario("validation", ErrorKind.VALIDATION, **_REFUSED),
    Scenario("submit_5xx", ErrorKind.PROVIDER, **_REFUSED),
    Scenario("malformed_json", ErrorKind.PROVIDER, at="submit", waits=[], billed=True),
    Scenario("rate_limit", submits=2, waits=[1.0], served=True, **_OK),
    Scenario("server_error_then_success", waits="one", polls=3, served=True, **_OK),
    Scenario("reset", waits="one", polls=3, served=True, **_OK),
    Scenario("moderated_input", ErrorKind.MODERATED, stage="input", no_delivery=True),
    Scenario("moderated_output", ErrorKind.MODERATED, stage="output", no_delivery=True),
    *DOWNLOAD_FAULTS,
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
    is_result=lambda r: r.method == "GET" and "/requests/" in r.path and not r.path.endswith("/status"),
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


# BFL and its CometAPI pass-through: the same queue table (BFL's poll answers carry the verdicts).
def _bfl_rig(name: str, pid: str, comet: bool) -> Rig:
    submit_path = "/flux/v1/flux-2-flex" if comet else "/v1/flux-2-flex"
    return Rig(
        name,
        {p.id: p for p in bfl.PROFILES}[pid],
        partial(BflEmulator, comet=comet),
        "bfl_test_key",
        is_submit=lambda r: r.method == "POST" and r.path == submit_path,
        is_poll=lambda r: r.method == "GET" and r.path.endswith("/get_result"),
        job=partial(two_references, pid),
        said={
            "auth": (401, None),
            "credits": (402, "Insufficient credits"),
            "validation": (422, "steps"),
            "submit_5xx": (500, None),
            "malformed_json": (200, None),
            "moderated_input": (None, "Request Moderated"),
        },
        shown={"moderated_input": "Sexual Content", "moderated_output": "Derivative Works Filter"},
        # the faulted poll is the job's one pending answer: it and its retry, which finds the job Ready
        polls={"server_error_then_success": 2, "reset": 2},
    )


BFL_RIG = _bfl_rig("bfl", "bfl", comet=False)
COMETAPI_RIG = _bfl_rig("cometapi", "cometapi", comet=True)


# The synchronous gateways (Lumenfall and OpenAI-compatible ones, FairStack): the submit's answer is the
# result. A refusal is raised by the submit itself and never retried; only a 429 or a 503 (no job made)
# is sent again; a connection that breaks after the request was sent may have been billed: never resent.
def _whole_image(data: bytes) -> None:
    with Image.open(io.BytesIO(data)) as img:
        img.load()


def _sync_job() -> tuple[EditRequest, list[PreparedReference]]:
    ref, prepared = reference()
    request = EditRequest(
        prompt="a cat on a roof", references=(ref,), seed=5, size=(256, 256), output_format="png"
    )
    return request, [prepared]


def _one_idempotency_key(emu: Any) -> None:
    """Every send of the one paid call carries the same Idempotency-Key (a repeat cannot bill twice)."""
    keys = {r.header("idempotency-key") for r in emu.requests if r.method == "POST"}
    assert len(keys) == 1 and None not in keys


_SENT_ONCE = {"at": "submit", "waits": []}
SYNC_SCENARIOS = [
    Scenario("success", served=True, **_OK),
    Scenario("auth", ErrorKind.AUTH, status=(401,), **_SENT_ONCE),
    Scenario("credits", ErrorKind.CREDITS, status=(402,), **_SENT_ONCE),
    Scenario("validation", ErrorKind.VALIDATION, status=(400, 422), **_SENT_ONCE),
    Scenario("submit_5xx", ErrorKind.PROVIDER, status=(500,), **_SENT_ONCE),
    Scenario("reset", ErrorKind.NETWORK, billed=True, **_SENT_ONCE),
    Scenario("malformed_json", ErrorKind.PROVIDER, billed=True, **_SENT_ONCE),
    Scenario("moderated_input", ErrorKind.MODERATED, stage="input", **_SENT_ONCE),
    Scenario("moderated_output", ErrorKind.MODERATED, stage="output", **_SENT_ONCE),
    Scenario("rate_limit", submits=2, waits=[1.0], served=True, **_OK),
    Scenario("server_error_then_success", submits=2, waits="one", served=True, **_OK),
    *DOWNLOAD_FAULTS,
]
_GATEWAY_SAID = {"auth": (401, "Invalid API key"), "submit_5xx": (500, "Internal server error")}
LUMENFALL_RIG = Rig(
    "lumenfall",
    {p.id: p for p in openai_images.PROFILES}["lumenfall"],
    openai_emu.OpenAIImagesEmulator,
    openai_emu.KEY,
    is_submit=lambda r: r.method == "POST",
    job=_sync_job,
    served=_whole_image,
    synchronous=True,
    options={"response_format": "url"},  # the download faults need a URL result
    said={
        **_GATEWAY_SAID,
        "credits": (402, "Insufficient balance"),
        "moderated_input": (400, "flagged by content moderation"),
        "moderated_output": (422, "flagged by the safety checker"),
    },
)
FAIRSTACK_RIG = Rig(
    "fairstack",
    fairstack.PROFILES[0],
    fairstack_emu.FairStackEmulator,
    fairstack_emu.KEY,
    is_submit=lambda r: r.method == "POST",
    # FairStack takes a reference only as a public URL (it has no upload service)
    job=lambda: (
        EditRequest(
            prompt="a cat on a roof",
            seed=2,
            extras=(("reference_urls", ("https://img.example.test/a.png",)),),
        ),
        [],
    ),
    accepted=lambda emu: emu.generated,
    served=_whole_image,
    synchronous=True,
    references=False,
    said={
        **_GATEWAY_SAID,
        "credits": (402, "Not enough credits"),
        "validation": (400, "aspect_ratio"),
        "moderated_input": (400, "content moderation filter"),
        "moderated_output": (None, "flagged by the safety checker"),
    },
    check=_one_idempotency_key,
)
