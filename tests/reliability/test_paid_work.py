"""Paid work is never lost: every post-submit fault of the one table (tests/providers/job_scenarios.py),
for every provider whose protocol has that request, through the real job runner, over real HTTP against
the local emulators.

Each case submits one job while the emulator plays a fault on the polls, the result request, the
download or a synchronous gateway's answer. A fault that clears within the run ends ``succeeded``
directly; one that outlasts the run ends it ``interrupted`` and a new runner resumes it from the stored
endpoint to ``succeeded``; a synchronous answer lost after sending ends ``interrupted`` ("may have been
billed") and is never sent again. Every case: exactly one paid submit sent and accepted, and no
``failed`` (only a provider's own verdict — its failure status, an expired result link — may end one).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from flexstudio.core.request import EditRequest
from tests.emulators.base import Delivery
from tests.emulators.bfl import BflEmulator
from tests.providers.job_scenarios import (
    CASES,
    JOB_RIGS,
    PAIRS,
    RESULTS,
    Case,
    Recorder,
    drive_job,
    services,
    table,
)
from tests.providers.scenarios import BFL_RIG, LUMENFALL_RIG, Rig
from tests.support import stop_all


@pytest.mark.parametrize(("rig", "case"), PAIRS, ids=[f"{r.name}-{c.name}" for r, c in PAIRS])
def test_post_submit_fault(rig: Rig, case: Case, monkeypatch: pytest.MonkeyPatch) -> None:
    drive_job(rig, case, monkeypatch)


def _one_job(rig: Rig, emu: Any, states: list[str], work=None) -> Any:
    svc = services(
        rig, base_url=getattr(emu, "base_url", emu.url), timeout=60.0, states=states, sleep=Recorder()
    )

    async def go() -> Any:
        try:
            if work is not None:
                return await work(svc)
            return await svc.runner.run(
                EditRequest(prompt="x", seed=1, size=(512, 512), provider=rig.profile.id)
            )
        finally:
            await svc.aclose()

    return asyncio.run(go())


def test_a_providers_own_failure_is_the_only_failed(monkeypatch: pytest.MonkeyPatch) -> None:
    """The control case: BFL's documented ``Error`` status (a verdict) ends the job failed."""
    monkeypatch.setenv(BFL_RIG.profile.env_var, BFL_RIG.key)
    delivery = Delivery().start()
    emu = BflEmulator(delivery, scenario="error").start()
    try:
        states: list[str] = []
        rec = _one_job(BFL_RIG, emu, states)
    finally:
        stop_all(emu, delivery)
    RESULTS[("bfl", "provider's own Error status")] = rec.state
    assert rec.state == "failed" and "Generation failed on the worker" in (rec.error_message or "")


def test_a_synchronous_gateway_waits_long_and_sends_one_idempotency_key_per_job(monkeypatch) -> None:
    """Lumenfall renders while it holds the call: a 600 s read timeout by default (a profile's
    ``read_timeout`` changes it), and the job's own Idempotency-Key on the paid call."""
    from flexstudio.providers.base import ProviderContext
    from flexstudio.providers.http import new_client

    rig = LUMENFALL_RIG
    monkeypatch.setenv(rig.profile.env_var, rig.key)
    delivery = Delivery().start()
    emu = rig.emulator(delivery).start()

    async def work(svc: Any) -> Any:
        info = svc.registry.get("lumenfall")
        client = new_client()
        p = info.create(ProviderContext(client=client, api_key="k"))
        p2 = info.create(ProviderContext(client=client, api_key="k", options={"read_timeout": 900}))
        timeouts = (p.http.timeout.read, p2.http.timeout.read)
        await client.aclose()
        return timeouts, await svc.runner.run(
            EditRequest(prompt="x", seed=1, size=(512, 512), provider="lumenfall")
        )

    try:
        (default_read, custom_read), rec = _one_job(rig, emu, [], work)
    finally:
        stop_all(emu, delivery)
    assert (default_read, custom_read) == (600.0, 900.0)
    assert rec.state == "succeeded"
    keys = [r.header("idempotency-key") for r in emu.requests if r.method == "POST"]
    assert keys == [f"flexstudio-{rec.id}"]


def test_print_the_paid_work_table(capsys: pytest.CaptureFixture[str]) -> None:
    """Runs last in this module: each fault path and its states (blank: the provider has no such step)."""
    names = [c.name for c in CASES] + ["provider's own Error status"]
    with capsys.disabled():
        print(table([r.name for r in JOB_RIGS], names))
