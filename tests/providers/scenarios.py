"""One fault-scenario harness for the provider tests.

A `Rig` says how to start one provider's emulator and which recorded requests are its paid submits; a
`Scenario` is an emulator fault set plus what must come of it (error kind and stage, submit count, waits,
what the downloaded bytes are). `drive` runs one scenario against one rig over real HTTP and checks it.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from PIL import Image, UnidentifiedImageError

from flexstudio.core.errors import ErrorKind, ProviderError
from flexstudio.core.request import EditRequest
from flexstudio.providers.base import ProviderContext
from tests.emulators.base import Delivery
from tests.support import Sleeps, stop_all


@dataclass(frozen=True)
class Rig:
    """One provider under test: its profile, emulator, key and how to spot its paid submit requests."""

    name: str
    profile: Any
    emulator: Callable[[Delivery], Any]
    key: str
    is_submit: Callable[[Any], bool]

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
        ctx = ProviderContext(client=client, api_key=self.key if key is None else key, base_url=emu.url,
                              options=options, poll_interval=0, sleep=sleeps or Sleeps())
        return self.profile.create(ctx)

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
    result hosts were reached, never with our Authorization header.
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
    skip: frozenset[str] = field(default_factory=frozenset)


async def drive(rig: Rig, emu: Any, client, sc: Scenario) -> None:
    emu = rig.use(emu, sc.name)
    sleeps = Sleeps()
    prov = rig.provider(client, emu, sleeps)
    request = EditRequest(prompt="something flagged" if sc.kind is ErrorKind.MODERATED else "a cat on a roof")
    if sc.kind is None:
        _, _, blobs, _ = await run_job(prov, request, [])
        assert blobs
        if sc.blob is not None:
            sc.blob(blobs[0])
    else:
        with pytest.raises(ProviderError) as info:
            if sc.at == "submit":
                await prov.submit(request, [])
            else:
                await run_job(prov, request, [])
        err = info.value
        assert err.kind is sc.kind
        assert rig.key not in str(err)
        if sc.stage is not None:
            assert err.moderation_stage == sc.stage
        if sc.message is not None:
            assert sc.message in (err.provider_message or "")
        if sc.status:
            assert err.provider_message and err.status in sc.status
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


# The task-queue providers (Kie.ai, RunAPI): same fault names, same verdicts.
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
