"""Every provider × every fault, over real HTTP against the local emulators, through the real job runner.

Each case must end in its documented status and error kind, within a bounded time, with at most one
paid submit accepted, and without the key ever reaching a host other than the provider's API. The
table of outcomes is printed at the end of the run (``-s`` or the terminal summary shows it).
"""

from __future__ import annotations

import asyncio
import io
import time

import pytest
from PIL import Image

from flexstudio.core.request import EditRequest
from flexstudio.jobs.runner import RunnerConfig
from flexstudio.services import Services
from tests.emulators.base import SCENARIOS

from .matrix import SPECS, expected, fast_sleep, hosts, key_seen_in, paid_submits

OUTCOMES: dict[tuple[str, str], str] = {}
CASE_LIMIT_S = 30.0


def _ref_png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (320, 256), (180, 90, 40)).save(buf, "PNG")
    return buf.getvalue()


@pytest.mark.parametrize("scenario", SCENARIOS)
@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.provider)
def test_fault(spec, scenario, monkeypatch):
    monkeypatch.setenv(spec.env_var, spec.key)
    with hosts(spec, scenario) as (emu, delivery, third):
        svc = Services.build(
            base_urls={spec.provider: getattr(emu, "base_url", emu.url)},
            runner_config=RunnerConfig(
                poll_interval=0.005, timeout=20, provider_options={spec.provider: spec.options}
            ),
        )
        svc.runner.sleep = fast_sleep
        refs = (svc.import_reference(_ref_png(), "ref.png"),) if spec.references else ()
        req = EditRequest(
            prompt="Make the chair in image 1 blue",
            references=refs,
            seed=42,
            size=(512, 512),
            provider=spec.provider,
            steps=28,
            guidance=4.0,
        )

        async def go():
            try:
                return await asyncio.wait_for(svc.runner.run(req), CASE_LIMIT_S)
            finally:
                await svc.aclose()

        started = time.monotonic()
        rec = asyncio.run(go())
        took = time.monotonic() - started
        sent, accepted = paid_submits(spec, emu)
        want = expected(spec, scenario)
        got = (rec.state, rec.error_kind)
        OUTCOMES[(spec.provider, scenario)] = rec.state + (f"/{rec.error_kind}" if rec.error_kind else "")
        assert got == want, f"{spec.provider}/{scenario}: {rec.error_message}"
        assert took < CASE_LIMIT_S
        # (a reference upload that is refused first — RunAPI, Kie — stops an auth case before the submit)
        assert sent >= 1 or (scenario == "auth" and emu.requests), (
            "no request was seen: the case proves nothing"
        )
        assert accepted <= 1, f"{accepted} paid submits accepted"
        # A second submit only after an answer that proves no job was made (429, or 503 on a synchronous API).
        retried_ok = scenario == "rate_limit" or (
            spec.synchronous and scenario == "server_error_then_success"
        )
        assert sent <= (2 if retried_ok else 1), f"{sent} paid submits sent"
        assert rec.submits == 1 or (scenario == "auth" and sent == 0)  # an upload refused before the submit
        assert not key_seen_in(spec, delivery) and not key_seen_in(spec, third), "key sent to a download host"
        if rec.error_message:
            assert spec.key not in rec.error_message
        if rec.state == "succeeded":
            assert rec.outputs and svc.blobs.has(rec.outputs[0].sha256)
            with Image.open(svc.blobs.path(rec.outputs[0].sha256)) as im:
                im.load()
        else:
            assert rec.outputs == ()
            assert rec.error_message  # a human sentence, never empty


def test_print_the_fault_table(capsys):
    """Runs last in this module: the provider × fault table (blank where a case did not run)."""
    providers = [s.provider for s in SPECS]
    width = max(len(s) for s in SCENARIOS)
    lines = ["", "fault".ljust(width) + " | " + " | ".join(p.ljust(19) for p in providers)]
    for sc in SCENARIOS:
        lines.append(
            sc.ljust(width) + " | " + " | ".join(OUTCOMES.get((p, sc), "").ljust(19) for p in providers)
        )
    with capsys.disabled():
        print("\n".join(lines))
    assert all(OUTCOMES.values())
