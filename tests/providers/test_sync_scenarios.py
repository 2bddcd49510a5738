"""The synchronous gateways (Lumenfall as the OpenAI-compatible one, FairStack) through every contract
scenario that applies to a call whose answer is the result, over real HTTP against their emulators."""

from __future__ import annotations

import pytest

from tests.providers.scenarios import FAIRSTACK_RIG, LUMENFALL_RIG, SYNC_SCENARIOS, Scenario, drive


@pytest.mark.asyncio
@pytest.mark.parametrize(
    "rigged", [FAIRSTACK_RIG, LUMENFALL_RIG], ids=lambda r: r.name, indirect=True, scope="module"
)
@pytest.mark.parametrize("scenario", SYNC_SCENARIOS, ids=lambda s: s.name)
async def test_fault_scenario(scenario: Scenario, rigged, client):
    rig, emu = rigged
    await drive(rig, rig.use(emu, scenario.name), client, scenario)
