"""Paid work is never lost: every post-submit fault, through the real job runner, over real HTTP against
the local emulators (BFL, fal, Replicate, and Lumenfall as the OpenAI-compatible gateway).

Each case submits one job while the emulator plays a fault on the polls, the result request or the
download. A fault that clears within the run ends ``succeeded`` directly; one that outlasts the run
(``None`` times, a time limit, a full disk) ends the run ``interrupted`` with its handle — then the
fault clears and a *new* runner, given no base URL, resumes it from the stored endpoint to
``succeeded``. Every case: exactly one paid submit sent and accepted, and no ``failed`` ever appears
(only the emulator's own failure verdict may produce one — the control case at the end).
"""

from __future__ import annotations

import asyncio
import errno
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from PIL import Image

from flexstudio.core.request import EditRequest
from flexstudio.jobs.runner import RunnerConfig
from flexstudio.services import Services

from . import faults as F
from .matrix import BY_ID, fast_sleep, hosts, paid_submits

PROVIDERS = ("bfl", "fal", "replicate", "lumenfall")
ASYNC = ("bfl", "fal", "replicate")
RESULTS: dict[tuple[str, str], str] = {}


@dataclass(frozen=True)
class Case:
    name: str
    setup: Callable[[F.Faults, Any], None]
    outlasts: bool = False  # the run ends interrupted; resume fetches it after the fault clears
    providers: tuple[str, ...] = PROVIDERS
    timeout: float = 120.0  # the run's time limit (--timeout)
    clear: Callable[[Any], None] = field(default=lambda emu: None)
    disk_full: bool = False


def _pending_forever(_f: F.Faults, emu: Any) -> None:
    emu.latency_polls = 10**6
    if hasattr(emu, "hold"):
        emu.hold = True


def _finish(emu: Any) -> None:
    emu.latency_polls = 0
    if hasattr(emu, "release_all"):
        emu.hold = False
        emu.release_all()


CASES = (
    Case("poll: malformed JSON once", lambda f, e: f.add("poll", F.malformed, 1), providers=ASYNC),
    Case(
        "result request: malformed JSON once",
        lambda f, e: f.add("result", F.malformed, 1),
        providers=("fal",),
    ),
    Case("poll: 502 storm (8 answers)", lambda f, e: f.add("poll", F.status(502), 8), providers=ASYNC),
    Case(
        "poll: 500 outlasting the run",
        lambda f, e: f.add("poll", F.status(500)),
        outlasts=True,
        providers=ASYNC,
    ),
    Case(
        "poll: 429 Retry-After 999999",
        lambda f, e: f.add("poll", F.status(429, **{"Retry-After": "999999"})),
        outlasts=True,
        providers=ASYNC,
    ),
    Case("poll: connection reset ×3", lambda f, e: f.add("poll", F.reset, 3), providers=ASYNC),
    Case("poll: gzip-encoded answers", lambda f, e: f.add("poll", F.gzipped), providers=ASYNC),
    Case(
        "poll: still pending at --timeout",
        _pending_forever,
        outlasts=True,
        providers=ASYNC,
        timeout=6.0,
        clear=_finish,
    ),
    Case("download: 503 storm (4 answers)", lambda f, e: f.add("download", F.status(503), 4)),
    Case("download: 500 outlasting the run", lambda f, e: f.add("download", F.status(500)), outlasts=True),
    Case(
        "download: 429 Retry-After 999999",
        lambda f, e: f.add("download", F.status(429, **{"Retry-After": "999999"})),
        outlasts=True,
    ),
    Case(
        "download: headers never come",
        lambda f, e: f.add("download", F.silent(4.0)),
        outlasts=True,
        timeout=2.0,
    ),
    Case("download: a drip", lambda f, e: f.add("download", F.drip), outlasts=True, timeout=2.0),
    Case("download: truncated ×2", lambda f, e: f.add("download", F.truncated, 2)),
    Case("download: reset ×2", lambda f, e: f.add("download", F.reset, 2)),
    Case("download: gzip-encoded image", lambda f, e: f.add("download", F.gzipped)),
    Case("disk full while saving", lambda f, e: None, outlasts=True, disk_full=True),
)


def _ref_png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (320, 256), (180, 90, 40)).save(buf, "PNG")
    return buf.getvalue()


def _services(spec: Any, *, base_url: str | None, timeout: float, states: list[str]) -> Services:
    cfg = RunnerConfig(
        poll_interval=0.5,
        max_poll_interval=2.0,
        timeout=timeout,
        provider_options={spec.provider: spec.options},
    )
    svc = Services.build(base_urls={spec.provider: base_url} if base_url else None, runner_config=cfg)
    svc.runner.sleep = fast_sleep  # waits are counted in full by the job's deadline, slept for 5 ms
    svc.bus.subscribe(lambda ev: states.append(ev.state))
    return svc


def _full_disk_once(svc: Services) -> None:
    put = svc.blobs.put
    calls = {"n": 0}

    def failing_put(data: bytes, mime: str, **kw: Any) -> str:
        calls["n"] += 1
        if calls["n"] == 1 and mime.startswith("image/") and len(data) > 0:
            raise OSError(errno.ENOSPC, "No space left on device")
        return put(data, mime, **kw)

    svc.blobs.put = failing_put  # type: ignore[method-assign]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
@pytest.mark.parametrize("provider", PROVIDERS)
def test_post_submit_fault(provider: str, case: Case, monkeypatch: pytest.MonkeyPatch) -> None:
    if provider not in case.providers:
        pytest.skip(f"{provider} has no such request (synchronous, or no separate result request)")
    spec = BY_ID[provider]
    monkeypatch.setenv(spec.env_var, spec.key)
    states: list[str] = []
    with hosts(spec, "success") as (emu, delivery, _third):
        faults = F.Faults(provider)
        faults.attach(emu, delivery)
        case.setup(faults, emu)
        svc = _services(spec, base_url=getattr(emu, "base_url", emu.url), timeout=case.timeout, states=states)
        ref = svc.import_reference(_ref_png(), "ref.png")
        if case.disk_full:
            _full_disk_once(svc)
        req = EditRequest(
            prompt="Make the chair in image 1 blue",
            references=(ref,),
            seed=42,
            size=(512, 512),
            provider=provider,
            steps=28,
            guidance=4.0,
        )

        async def first() -> Any:
            try:
                return await asyncio.wait_for(svc.runner.run(req), 60)
            finally:
                await svc.aclose()

        rec = asyncio.run(first())
        path = [rec.state]
        if case.outlasts:
            assert rec.state == "interrupted", rec.error_message
            assert rec.handle and (rec.provider_job_id is not None or provider == "lumenfall")
            assert rec.endpoint and rec.endpoint["base_url"] == getattr(emu, "base_url", emu.url)
            assert "may still finish" in (rec.error_message or "")
            faults.clear()
            case.clear(emu)
            # A new runner, as after a restart, given no base URL: it goes back to the stored endpoint.
            svc2 = _services(spec, base_url=None, timeout=120.0, states=states)

            async def resume() -> list[Any]:
                try:
                    return await asyncio.wait_for(svc2.runner.resume_unfinished(), 60)
                finally:
                    await svc2.aclose()

            resumed = asyncio.run(resume())
            assert [r.id for r in resumed] == [rec.id]
            rec = resumed[0]
            path.append(rec.state)
        RESULTS[(provider, case.name)] = " → ".join(path)
        assert faults.hits or case.disk_full or case.clear is _finish, "the fault was never played"
        assert rec.state == "succeeded", rec.error_message
        assert rec.outputs
        sent, accepted = paid_submits(spec, emu)
        assert (sent, accepted) == (1, 1), "exactly one paid submit per job"
        assert rec.submits == 1
        assert "failed" not in states


def test_a_providers_own_failure_is_the_only_failed() -> None:
    """The control case: BFL's documented ``Error`` status (a verdict) ends the job failed."""
    spec = BY_ID["bfl"]
    import os

    os.environ[spec.env_var] = spec.key
    try:
        states: list[str] = []
        with hosts(spec, "error") as (emu, _d, _t):
            svc = _services(spec, base_url=emu.url, timeout=60.0, states=states)

            async def go() -> Any:
                try:
                    return await svc.runner.run(
                        EditRequest(prompt="x", seed=1, size=(512, 512), provider="bfl")
                    )
                finally:
                    await svc.aclose()

            rec = asyncio.run(go())
        RESULTS[("bfl", "provider's own Error status")] = rec.state
        assert rec.state == "failed" and "Generation failed on the worker" in (rec.error_message or "")
    finally:
        del os.environ[spec.env_var]


def test_a_synchronous_gateway_waits_long_and_sends_one_idempotency_key_per_job(monkeypatch) -> None:
    """Lumenfall renders while it holds the call: a 600 s read timeout by default (a profile's
    ``read_timeout`` changes it), and the job's own Idempotency-Key on the paid call."""
    from flexstudio.providers.base import ProviderContext
    from flexstudio.providers.http import new_client

    spec = BY_ID["lumenfall"]
    monkeypatch.setenv(spec.env_var, spec.key)
    states: list[str] = []
    with hosts(spec, "success") as (emu, _d, _t):
        svc = _services(spec, base_url=emu.base_url, timeout=60.0, states=states)
        info = svc.registry.get("lumenfall")

        async def go() -> Any:
            try:
                client = new_client()
                p = info.create(ProviderContext(client=client, api_key="k"))
                p2 = info.create(ProviderContext(client=client, api_key="k", options={"read_timeout": 900}))
                timeouts = (p.http.timeout.read, p2.http.timeout.read)
                await client.aclose()
                return timeouts, await svc.runner.run(
                    EditRequest(prompt="x", seed=1, size=(512, 512), provider="lumenfall")
                )
            finally:
                await svc.aclose()

        (default_read, custom_read), rec = asyncio.run(go())
        assert (default_read, custom_read) == (600.0, 900.0)
        assert rec.state == "succeeded"
        keys = [r.header("idempotency-key") for r in emu.requests if r.method == "POST"]
        assert keys == [f"flexstudio-{rec.id}"]


def test_print_the_paid_work_table(capsys: pytest.CaptureFixture[str]) -> None:
    """Runs last in this module: each fault path and its states (blank: the provider has no such step)."""
    names = [c.name for c in CASES] + ["provider's own Error status"]
    width = max(len(n) for n in names)
    lines = ["", "fault".ljust(width) + " | " + " | ".join(p.ljust(26) for p in PROVIDERS)]
    for n in names:
        lines.append(
            n.ljust(width) + " | " + " | ".join(RESULTS.get((p, n), "").ljust(26) for p in PROVIDERS)
        )
    with capsys.disabled():
        print("\n".join(lines))
