"""The queue providers (BFL, CometAPI, fal.ai, Replicate) through every contract scenario, over real HTTP
against their emulators (Kie.ai and RunAPI face the same table in test_task_queue_scenarios.py)."""

from __future__ import annotations

import pytest

from tests.emulators.base import SCENARIOS
from tests.providers.scenarios import (
    BFL_RIG,
    COMETAPI_RIG,
    FAL_RIG,
    QUEUE_SCENARIOS,
    REPLICATE_RIG,
    SYNC_SCENARIOS,
    Rig,
    Scenario,
    drive,
)

RIGS = [BFL_RIG, COMETAPI_RIG, FAL_RIG, REPLICATE_RIG]


def test_every_emulator_scenario_has_an_expected_outcome():
    assert [s.name for s in QUEUE_SCENARIOS] == list(dict.fromkeys(s.name for s in QUEUE_SCENARIOS))
    assert {s.name for s in QUEUE_SCENARIOS} == set(SCENARIOS)
    assert [s.name for s in SYNC_SCENARIOS] == list(dict.fromkeys(s.name for s in SYNC_SCENARIOS))
    assert {s.name for s in SYNC_SCENARIOS} == set(SCENARIOS)


@pytest.mark.asyncio
@pytest.mark.parametrize("rig", RIGS, ids=lambda r: r.name)
@pytest.mark.parametrize("scenario", QUEUE_SCENARIOS, ids=lambda s: s.name)
async def test_fault_scenario(rig: Rig, scenario: Scenario, hosts, client):
    delivery, _ = hosts
    delivery.scenario = scenario.name
    with rig.emulator(delivery, scenario=scenario.name) as emu:
        await drive(rig, emu, client, scenario)
