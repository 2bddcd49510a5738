"""fal.ai and Replicate through every contract scenario, over real HTTP against their emulators."""

from __future__ import annotations

import pytest

from tests.providers.scenarios import FAL_RIG, QUEUE_SCENARIOS, REPLICATE_RIG, Rig, Scenario, drive

RIGS = [FAL_RIG, REPLICATE_RIG]


@pytest.mark.asyncio
@pytest.mark.parametrize("rig", RIGS, ids=lambda r: r.name)
@pytest.mark.parametrize("scenario", QUEUE_SCENARIOS, ids=lambda s: s.name)
async def test_fault_scenario(rig: Rig, scenario: Scenario, hosts, client):
    delivery, _ = hosts
    delivery.scenario = scenario.name
    with rig.emulator(delivery, scenario=scenario.name) as emu:
        await drive(rig, emu, client, scenario)
