"""The faults a real cloud produces after the paid submit, through the real job runner: one table for
every provider (the job-level half of the fault harness; ``scenarios.py`` is the provider-level half).

A ``Case`` names the request it spoils (``poll``, ``result``, ``download``, or ``answer``: the paid
submit's own answer, see ``faults.target_of``), the fault and how often. Every provider
whose protocol has that request faces it; the expected end follows architecture.md "Jobs":

* a fault that clears within the run: the job ends ``succeeded`` directly;
* one that outlasts the run (``times=None``, a time limit, a full disk): the run ends ``interrupted`` with
  its handle and "may still finish"; the fault clears and a *new* runner, given no base URL, resumes it
  from the stored endpoint to ``succeeded``;
* a paid submit whose answer was lost after sending: ``interrupted``, "may have been billed", no handle;
  a later resume never sends it again;
* an expired result link, or "unknown job" past the grace period: ``failed`` (expired) — the storage
  host's or the provider's word that the result is gone.

Every case: exactly one paid submit sent and accepted, no ``failed`` on the way, and the key never on a
result host.
"""

from __future__ import annotations

import asyncio
import errno
import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from PIL import Image

from flexstudio.core.request import EditRequest
from flexstudio.jobs import recovery
from flexstudio.jobs.runner import RunnerConfig
from flexstudio.services import Services
from tests.emulators.base import Delivery
from tests.support import stop_all

from . import faults as F
from .scenarios import (
    BFL_RIG,
    COMETAPI_RIG,
    FAIRSTACK_RIG,
    FAL_RIG,
    KIE_RIG,
    LUMENFALL_RIG,
    QUEUE_SCENARIOS,
    REPLICATE_RIG,
    RUNAPI_RIG,
    SYNC_SCENARIOS,
    Rig,
    Scenario,
)

JOB_RIGS = (
    BFL_RIG,
    COMETAPI_RIG,
    FAL_RIG,
    REPLICATE_RIG,
    KIE_RIG,
    RUNAPI_RIG,
    LUMENFALL_RIG,
    FAIRSTACK_RIG,
)
SUCCEEDED, RESUMED, LOST, EXPIRED = "succeeded", "resumed", "lost", "expired"


@dataclass(frozen=True)
class Case:
    name: str
    target: str  # poll | result | download | answer | job (no request is spoiled: pending, disk full)
    fault: F.Make | None = None
    times: int | None = None  # None: until cleared (the fault outlasts the run)
    end: str = SUCCEEDED  # succeeded | resumed (interrupted → succeeded) | lost | expired
    timeout: float = 120.0  # the run's time limit (--timeout)
    pending: bool = False  # the provider keeps the job pending until released
    disk_full: bool = False
    waited: float | None = None  # a wait at least this long was asked for (Retry-After honoured)
    late: bool = False  # the job was submitted longer ago than the "unknown job" grace period
    only: tuple[str, ...] | None = None  # the protocols that have what this case spoils (None: by target)

    def applies_to(self, rig: Rig) -> bool:
        """Whether the rig's protocol has the request this case spoils."""
        if self.only is not None:
            return rig.name in self.only
        if self.target == "result":
            return rig.is_result is not None
        if self.target == "poll" or self.pending:
            return not rig.synchronous
        return True


_RA = "Retry-After"
CASES = (
    # the poll (the status of a submitted job)
    Case("poll: malformed JSON once", "poll", F.malformed, 1),
    Case("poll: truncated answer once", "poll", F.truncated, 1),
    Case("poll: a web page instead of JSON once", "poll", F.web_page, 1),
    Case("poll: JSON of another shape once", "poll", F.other_json, 1),
    Case("poll: 502 storm (8 answers)", "poll", F.status(502), 8),
    Case("poll: 429 storm, Retry-After 3 (4 answers)", "poll", F.status(429, **{_RA: "3"}), 4, waited=3.0),
    Case("poll: 429 storm, Retry-After an HTTP date (3 answers)", "poll", F.busy_until(5), 3, waited=3.0),
    Case("poll: 503 storm, Retry-After 3 (4 answers)", "poll", F.status(503, **{_RA: "3"}), 4, waited=3.0),
    Case("poll: 500 outlasting the run", "poll", F.status(500), end=RESUMED),
    Case("poll: 429 Retry-After 999999", "poll", F.status(429, **{_RA: "999999"}), end=RESUMED),
    Case("poll: connection reset ×3", "poll", F.reset, 3),
    Case("poll: gzip-encoded answers", "poll", F.gzipped),
    Case("poll: a drip", "poll", F.drip, end=RESUMED, timeout=2.0),
    Case("poll: headers never come", "poll", F.silent(4.0), end=RESUMED, timeout=2.0),
    Case("poll: 401, the key revoked after the submit", "poll", F.status(401), end=RESUMED),
    Case("poll: unknown job (404)", "poll", F.status(404), end=RESUMED),
    Case("poll: unknown job past the grace period", "poll", F.status(404), end=EXPIRED, late=True),
    Case("poll: still pending at --timeout", "job", pending=True, end=RESUMED, timeout=6.0),
    Case("result request: malformed JSON once", "result", F.malformed, 1),
    Case("result request: truncated once", "result", F.truncated, 1),
    Case("result request: 500 outlasting the run", "result", F.status(500), end=RESUMED),
    # the paid submit's own answer (a synchronous gateway's is the result)
    Case("answer: malformed JSON", "answer", F.malformed, end=LOST),
    Case("answer: truncated", "answer", F.truncated, end=LOST),
    Case("answer: a web page instead of JSON", "answer", F.web_page, end=LOST),
    Case("answer: JSON of another shape", "answer", F.other_json, end=LOST),
    Case("answer: reset after sending", "answer", F.reset, end=LOST),
    Case("answer: a drip", "answer", F.drip, end=LOST, timeout=2.0),
    Case("answer: headers never come", "answer", F.silent(4.0), end=LOST, timeout=2.0),
    Case("answer: gzip-encoded", "answer", F.gzipped),
    # the protocols whose submit answer gives the URLs to follow (BFL and CometAPI fall back to their own
    # result path on the API host, test_bfl.py; Kie and RunAPI build theirs from the task id)
    Case(
        "answer: its URLs on another host, plain http",
        "answer",
        F.foreign_urls,
        end=LOST,
        only=("fal", "replicate"),
    ),
    # the result download
    Case("download: 503 storm (4 answers)", "download", F.status(503), 4),
    Case(
        "download: 429 storm, Retry-After 3 (4 answers)",
        "download",
        F.status(429, **{_RA: "3"}),
        4,
        waited=3.0,
    ),
    Case(
        "download: 429 storm, Retry-After an HTTP date (3 answers)",
        "download",
        F.busy_until(5),
        3,
        waited=3.0,
    ),
    Case("download: 500 outlasting the run", "download", F.status(500), end=RESUMED),
    Case("download: 429 Retry-After 999999", "download", F.status(429, **{_RA: "999999"}), end=RESUMED),
    Case("download: headers never come", "download", F.silent(4.0), end=RESUMED, timeout=2.0),
    Case("download: a drip", "download", F.drip, end=RESUMED, timeout=2.0),
    Case("download: truncated ×2", "download", F.truncated, 2),
    Case("download: reset ×2", "download", F.reset, 2),
    Case("download: gzip-encoded image", "download", F.gzipped),
    Case("download: a web page instead of the image", "download", F.web_page, end=RESUMED),
    Case("download: an empty body (200, 0 bytes)", "download", F.empty, end=RESUMED),
    Case("download: the link has expired", "download", F.expired, end=EXPIRED),
    Case("download: 404, the result was deleted", "download", F.status(404), end=EXPIRED),
    Case("disk full while saving", "job", disk_full=True, end=RESUMED),
)
PAIRS = [(rig, case) for case in CASES for rig in JOB_RIGS if case.applies_to(rig)]
RESULTS: dict[tuple[str, str], str] = {}  # (provider, case) → the states the job went through


def ref_png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (320, 256), (180, 90, 40)).save(buf, "PNG")
    return buf.getvalue()


class Recorder:
    """The runner's sleep: waits are recorded and honoured in order, but shortened to 5 ms."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        await asyncio.sleep(min(seconds, 0.005))


def services(rig: Rig, *, base_url: str | None, timeout: float, states: list[str], sleep: Recorder):
    cfg = RunnerConfig(
        poll_interval=0.5,
        max_poll_interval=2.0,
        timeout=timeout,
        provider_options={rig.profile.id: dict(rig.options)},
    )
    svc = Services.build(base_urls={rig.profile.id: base_url} if base_url else None, runner_config=cfg)
    svc.runner.sleep = sleep  # waits are counted in full by the job's deadline, slept for 5 ms
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


def _hold(emu: Any) -> None:
    emu.latency_polls = 10**6
    if hasattr(emu, "hold"):
        emu.hold = True


def _release(emu: Any) -> None:
    emu.latency_polls = 0
    if hasattr(emu, "release_all"):
        emu.hold = False
        emu.release_all()


def _request(rig: Rig, svc: Services) -> EditRequest:
    common: dict[str, Any] = {"seed": 42, "size": (512, 512), "provider": rig.profile.id}
    if not rig.references:  # public URLs only
        url = ("reference_urls", ("https://img.example.test/chair.png",))
        return EditRequest(prompt="Make the chair blue", extras=(url,), **common)
    ref = svc.import_reference(ref_png(), "ref.png")
    return EditRequest(
        prompt="Make the chair in image 1 blue", references=(ref,), steps=28, guidance=4.0, **common
    )


def _run(svc: Services, work: Callable[[], Any]) -> Any:
    async def go() -> Any:
        try:
            return await asyncio.wait_for(work(), 60)
        finally:
            await svc.aclose()

    return asyncio.run(go())


def key_seen(rig: Rig, *servers: Any) -> bool:
    return any(rig.key in str(r.headers) or rig.key.encode() in r.body for s in servers for r in s.requests)


def paid_calls(rig: Rig, emu: Any) -> tuple[int, int]:
    """(paid submits sent, jobs the provider accepted)."""
    return len([r for r in emu.requests if rig.is_submit(r)]), rig.accepted(emu)


def drive_job(rig: Rig, case: Case, monkeypatch: Any) -> None:
    """Run one case for one provider and check its end, its single paid submit and the key's hosts."""
    monkeypatch.setenv(rig.profile.env_var, rig.key)
    if case.late:  # as if the submit was long ago: "unknown job" is now the provider's verdict
        monkeypatch.setattr(recovery, "GRACE_S", 0.0)
    delivery = Delivery().start()
    delivery.third = Delivery().start()
    emu = rig.emulator(delivery).start()
    try:
        _drive(rig, case, emu, delivery)
    finally:
        stop_all(emu, delivery.third, delivery)


def _drive(rig: Rig, case: Case, emu: Any, delivery: Delivery) -> None:
    faults = F.Faults(rig)
    faults.attach(emu, delivery)
    if case.fault is not None:
        faults.add(case.target, case.fault, case.times)
    if case.pending:
        _hold(emu)
    base = getattr(emu, "base_url", emu.url)
    states: list[str] = []
    sleep = Recorder()
    svc = services(rig, base_url=base, timeout=case.timeout, states=states, sleep=sleep)
    req = _request(rig, svc)
    if case.disk_full:
        _full_disk_once(svc)
    rec = _run(svc, lambda: svc.runner.run(req))
    path = [rec.state]
    if case.end in (RESUMED, LOST):
        assert rec.state == "interrupted", rec.error_message
        if case.end == RESUMED:
            assert rec.handle and (rec.provider_job_id is not None or rig.synchronous)
            assert rec.endpoint and rec.endpoint["base_url"] == base
            assert "may still finish" in (rec.error_message or "")
        else:
            assert "may have been billed" in (rec.error_message or "") and not rec.handle
        faults.clear()
        _release(emu)
        # A new runner, as after a restart, given no base URL: it goes back to the stored endpoint.
        svc2 = services(rig, base_url=None, timeout=120.0, states=states, sleep=sleep)

        async def resume(job_id: str = rec.id) -> Any:
            return await svc2.runner.resume_unfinished(), svc2.history.get(job_id)

        resumed, rec = _run(svc2, resume)
        if case.end == RESUMED:
            assert [r.id for r in resumed] == [rec.id]
            path.append(rec.state)
        # else: nothing to fetch it with, and the paid call is never sent again (checked below)
    RESULTS[(rig.name, case.name)] = " → ".join(path)
    assert faults.hits or case.disk_full or case.pending, "the fault was never played"
    assert paid_calls(rig, emu) == (1, 1), "exactly one paid submit per job"
    assert rec.submits == 1
    assert not key_seen(rig, delivery, delivery.third), "the key went to a result host"
    if case.waited is not None:
        assert max(sleep.waits) >= case.waited, sleep.waits
    if case.end == EXPIRED:
        assert (rec.state, rec.error_kind) == ("failed", "expired"), rec.error_message
        if case.late:  # the provider's job id stays in history, to ask its support about
            assert rec.provider_job_id and rec.provider_job_id in (rec.error_message or "")
        assert "failed" not in states[:-1]
        return
    assert "failed" not in states
    if case.end == LOST:
        assert rec.state == "interrupted"
        return
    assert rec.state == "succeeded", rec.error_message
    assert rec.outputs


# ---------------------------------------------------------------------------------------------------------
# The contract scenarios (the emulators' own fault names, scenarios.py's tables) through the job runner.
CONTRACT_TABLES = {r.name: SYNC_SCENARIOS if r.synchronous else QUEUE_SCENARIOS for r in JOB_RIGS}
CONTRACT_PAIRS = [(rig, sc) for rig in JOB_RIGS for sc in CONTRACT_TABLES[rig.name]]


def drive_contract(rig: Rig, sc: Scenario, monkeypatch: Any) -> str:
    """Run one job while the emulator plays ``sc``; check its end (``sc.job_end``), its paid submits and
    the key's hosts. Returns the end seen, for the printed table."""
    monkeypatch.setenv(rig.profile.env_var, rig.key)
    delivery = Delivery(scenario=sc.name).start()
    delivery.third = Delivery().start()
    emu = rig.emulator(delivery, scenario=sc.name).start()
    try:
        svc = services(
            rig, base_url=getattr(emu, "base_url", emu.url), timeout=20.0, states=[], sleep=Recorder()
        )
        req = _request(rig, svc)
        rec = _run(svc, lambda: svc.runner.run(req))
        seen = rec.state + (f"/{rec.error_kind}" if rec.error_kind else "")
        assert seen == sc.job_end, f"{rig.name}/{sc.name}: {rec.error_message}"
        sent, accepted = paid_calls(rig, emu)
        # (a reference upload refused first — Kie, RunAPI — stops an auth case before the submit)
        assert sent == sc.submits or (sc.name == "auth" and sent == 0 and emu.requests), sent
        assert accepted <= 1, f"{accepted} paid submits accepted"
        assert rec.submits == 1 or sent == 0
        assert not key_seen(rig, delivery, delivery.third), "the key went to a result host"
        assert rig.key not in (rec.error_message or "")
        if rec.state == "succeeded":
            assert rec.outputs and svc.blobs.has(rec.outputs[0].sha256)
            with Image.open(svc.blobs.path(rec.outputs[0].sha256)) as im:
                im.load()
        else:
            assert rec.outputs == () and rec.error_message  # a human sentence, never empty
        return seen
    finally:
        stop_all(emu, delivery.third, delivery)


def table(providers: list[str], names: list[str]) -> str:
    """Each fault path and its states per provider (blank: the provider has no such request)."""
    width = max(len(n) for n in names)
    lines = ["", "fault".ljust(width) + " | " + " | ".join(p.ljust(23) for p in providers)]
    for n in names:
        cells = " | ".join(RESULTS.get((p, n), "").ljust(23) for p in providers)
        lines.append(n.ljust(width) + " | " + cells)
    return "\n".join(lines)
