"""Kie.ai and RunAPI through the same fault scenarios, over real HTTP against their emulators."""

from __future__ import annotations

import pytest

from tests.providers.scenarios import KIE_RIG, RUNAPI_RIG, TASK_QUEUE_SCENARIOS, Scenario, drive


@pytest.mark.asyncio
@pytest.mark.parametrize("rigged", [KIE_RIG, RUNAPI_RIG], ids=lambda r: r.name, indirect=True, scope="module")
@pytest.mark.parametrize("scenario", TASK_QUEUE_SCENARIOS, ids=lambda s: s.name)
async def test_fault_scenario(scenario: Scenario, rigged, client):
    rig, emu = rigged
    await drive(rig, rig.use(emu, scenario.name), client, scenario)
