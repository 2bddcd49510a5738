"""Quotes are bills: each money rule checked against the provider's own documented example, over real
HTTP against the local emulators (what is sent is what is priced, and what is booked is the provider's).

- RunAPI: the price table's 1K tier ends at 1.1 MP, so 1920×1080 is sent as "2k" and quoted $0.24;
  1024×1024 is "1k" at $0.14 (runapi.ai model pages; providers.md §6).
- CometAPI: quoted from its own page ($0.008 per request); the ``cost`` it passes through from BFL is
  BFL's figure in BFL credits, never booked as CometAPI's bill.
- Replicate: sizes outside 256–2048 per side are sent scaled, and quoted at the size sent.
- Moderation: BFL "Not charged" → $0; fal "422 may be charged if GPU time was spent" → may bill (the
  quote counts in the ledger); a provider that does not say → unknown.
- Lumenfall / OpenAI-compatible: a random seed is drawn, sent and stored (providers.md §11).
- Kie: prompts of 3–5000 characters, refused before anything is sent (exit 2 from the CLI).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys

import pytest

from flexstudio.core.errors import BadInput
from flexstudio.core.request import EditRequest
from flexstudio.jobs.runner import RunnerConfig
from flexstudio.pricing import load_table, quote
from flexstudio.pricing.rules import billed_mp
from flexstudio.providers import bfl, fal, kie, openai_images, replicate, runapi, sandbox
from flexstudio.providers.base import ModerationBilling, ProviderContext
from flexstudio.services import Services
from tests.emulators.base import Delivery
from tests.emulators.bfl import BflEmulator, bfl_cost
from tests.emulators.kie import KieEmulator
from tests.emulators.openai_images import OpenAIImagesEmulator
from tests.emulators.replicate import ReplicateEmulator
from tests.emulators.runapi import RunApiEmulator
from tests.reliability.matrix import BY_ID, fast_sleep, hosts
from tests.support import Sleeps, run_to_done, stop_all

PROFILES = {
    p.id: p for mod in (bfl, fal, replicate, openai_images, kie, runapi, sandbox) for p in mod.PROFILES
}


@pytest.fixture(scope="module")
def delivery():
    d = Delivery().start()
    d.third = Delivery().start()
    yield d
    stop_all(d.third, d)


def make(pid: str, base_url: str, client, key: str, **options):
    ctx = ProviderContext(
        client=client, api_key=key, base_url=base_url, options=options, poll_interval=0, sleep=Sleeps()
    )
    return PROFILES[pid].create(ctx)


def price(request: EditRequest, pid: str) -> float | None:
    """The quote the window and the CLI show (Services.quote: the provider's own limits applied)."""
    return Services.build().quote(request.with_(provider=pid)).usd


# ------------------------------------------------------------------------------------------------ RunAPI
@pytest.mark.asyncio
@pytest.mark.parametrize(("size", "tier", "usd"), [((1920, 1088), "2k", 0.24), ((1024, 1024), "1k", 0.14)])
async def test_runapi_sends_the_tier_it_is_quoted_at(size, tier, usd, delivery, client):
    # runapi.ai: t2i $0.14 at 1K, $0.24 at 2K; 1920×1080 (sent 1920×1088, 1.99 MP) is beyond the 1.1 MP 1K tier
    with RunApiEmulator(delivery, key="k") as emu:
        await run_to_done(
            make("runapi", emu.url, client, "k"), EditRequest(prompt="a lighthouse", size=size), []
        )
        body = next(r for r in emu.requests if r.method == "POST").json()
    assert body["output_resolution"] == tier
    assert price(EditRequest(prompt="a lighthouse", size=size), "runapi") == usd


def test_runapi_tier_sent_matches_the_tier_quoted_at_every_size():
    table = load_table()
    usd = {"1k": 0.14, "2k": 0.24}
    for w in range(512, 2049, 64):
        for h in (576, 768, 1024, 1088, 1152, 1536, 2048):
            if w * h > 4 * 1_048_576:
                continue
            q = quote(EditRequest(prompt="p", size=(w, h)), "runapi", table=table)
            assert q.usd == usd[runapi.resolution_for(w, h)], (w, h)


# ------------------------------------------------------------------------------------------------ CometAPI
@pytest.mark.asyncio
async def test_cometapi_books_no_bill_from_the_passed_through_bfl_cost(delivery, client):
    request = EditRequest(prompt="a cyberpunk street", size=(1024, 1024), seed=42)
    with BflEmulator(delivery, comet=True, key="sk-comet", pass_through_cost=True) as emu:
        sub, polls, _ = await run_to_done(make("cometapi", emu.url, client, "sk-comet"), request, [])
    assert sub.billed_usd is None and polls[-1].billed_usd is None and polls[-1].result.billed_usd is None
    assert sub.handle["upstream_cost_credits"] == bfl_cost(1024, 1024, 0)  # kept for reference only
    assert price(request, "cometapi") == 0.008  # CometAPI's page: $0.008 per request
    # BFL's own profile does book its cost (credits × $0.01)
    with BflEmulator(delivery, key="bfl_k") as emu:
        sub, _, _ = await run_to_done(make("bfl", emu.url, client, "bfl_k"), request, [])
    assert sub.billed_usd == pytest.approx(bfl_cost(1024, 1024, 0) / 100)


# ------------------------------------------------------------------------------------------------ Replicate
@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("asked", "sent"), [((2560, 1440), (2048, 1152)), ((192, 192), (256, 256)), ((1024, 1024), (1024, 1024))]
)
async def test_replicate_is_quoted_at_the_size_it_is_sent(asked, sent, delivery, client):
    request = EditRequest(prompt="a harbour", size=asked, seed=1)
    with ReplicateEmulator(delivery, token="r8_k") as emu:
        await run_to_done(make("replicate", emu.url, client, "r8_k"), request, [])
        inp = next(r for r in emu.requests if r.method == "POST").json()["input"]
    assert (inp["width"], inp["height"]) == sent
    q = Services.build().quote(request.with_(provider="replicate"))
    assert q.breakdown[0].megapixels == billed_mp(sent[0] * sent[1])
    assert q.usd == pytest.approx(0.06 * billed_mp(sent[0] * sent[1]))  # 2560×1440: $0.18 (3 MP), not $0.24


# ------------------------------------------------------------------------------------------------ moderation
def test_moderation_billing_is_capability_data():
    rule = {pid: PROFILES[pid].capabilities.moderation_billing for pid in PROFILES}
    assert rule["bfl"] is rule["bfl-eu"] is ModerationBilling.NOT_BILLED  # help.bfl.ai: "Not charged"
    assert rule["fal"] is ModerationBilling.MAY_BILL  # fal FAQ: a 422 may be charged after GPU time
    assert rule["cometapi"] is ModerationBilling.UNKNOWN  # CometAPI's pages do not say
    assert rule["replicate"] is rule["lumenfall"] is rule["kie"] is ModerationBilling.UNKNOWN
    assert rule["runapi"] is ModerationBilling.NOT_BILLED  # "Failed generations are not charged"
    assert rule["sandbox"] is ModerationBilling.NOT_BILLED
    assert PROFILES["fal"].capabilities.to_dict()["moderation_billing"] == "may_bill"


@pytest.mark.parametrize(
    ("pid", "billed", "words"),
    [("bfl", 0.0, "not billed"), ("fal", None, "may be billed"), ("replicate", None, "billing unknown")],
)
def test_a_moderated_job_is_booked_by_its_providers_rule(pid, billed, words, monkeypatch):
    spec = BY_ID[pid]
    monkeypatch.setenv(spec.env_var, spec.key)
    with hosts(spec, "moderated_output") as (emu, _delivery, _third):
        svc = Services.build(
            base_urls={pid: emu.url}, runner_config=RunnerConfig(poll_interval=0.005, timeout=20)
        )
        svc.runner.sleep = fast_sleep
        request = EditRequest(prompt="something flagged", size=(1024, 1024), seed=3, provider=pid)

        async def go():
            try:
                rec = await svc.runner.run(request)
                return rec, svc.history.spend_since(0)
            finally:
                await svc.aclose()

        rec, spent = asyncio.run(go())
    assert rec.state == "moderated" and rec.billed_usd == billed
    assert rec.message.startswith(f"Moderated — {words}")
    # the ledger: $0 where the provider does not charge, else the quote until a bill says otherwise
    assert spent == pytest.approx(0.0 if billed == 0.0 else rec.quote_usd)


# ------------------------------------------------------------------------------------------------ Lumenfall
@pytest.mark.asyncio
async def test_lumenfall_draws_and_sends_the_seed_when_random(delivery, client):
    with OpenAIImagesEmulator(delivery) as emu:
        from tests.emulators.openai_images import KEY

        prov = make("lumenfall", emu.base_url, client, KEY)
        sub = await prov.submit(EditRequest(prompt="a red chair", size=(1024, 1024)), [])  # seed left random
        sent = emu.calls[0].fields["seed"]
    assert isinstance(sent, int) and sub.handle["seed"] == sent and sub.result.seed == sent


# ------------------------------------------------------------------------------------------------ Kie
@pytest.mark.asyncio
async def test_kie_prompt_length_is_checked_before_sending(delivery, client):
    with KieEmulator(delivery, key="kie_k") as emu:
        prov = make("kie", emu.url, client, "kie_k")
        for prompt in ("ab", "x" * 5001):
            with pytest.raises(BadInput, match="3 to 5000 characters"):
                await prov.submit(EditRequest(prompt=prompt), [])
        assert emu.requests == []
        for prompt in ("abc", "x" * 5000):  # the edges are accepted
            await prov.submit(EditRequest(prompt=prompt), [])
        sent = [r.json()["input"]["prompt"] for r in emu.requests if r.method == "POST"]
    assert sent == ["abc", "x" * 5000]
    assert PROFILES["kie"].capabilities.prompt_length == (3, 5000)


def test_kie_short_prompt_exits_2_from_the_cli(home):
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "flexstudio",
            "edit",
            "--provider",
            "kie",
            "--base-url",
            "http://127.0.0.1:9",
            "-p",
            "hi",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "KIE_API_KEY": "kie_k"},
    )
    assert r.returncode == 2, r.stderr
    assert "3 to 5000 characters" in r.stderr + r.stdout and "Traceback" not in r.stderr
    listed = subprocess.run(
        [sys.executable, "-m", "flexstudio", "history", "list", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(os.environ),
    )
    assert json.loads(listed.stdout)["jobs"] == []
