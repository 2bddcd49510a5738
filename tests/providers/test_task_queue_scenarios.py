"""Kie.ai and RunAPI through the queue providers' table of fault scenarios, over real HTTP against their
emulators (each started once for the module and reset per scenario)."""

from __future__ import annotations

import pytest

from tests.providers.scenarios import KIE_RIG, QUEUE_SCENARIOS, RUNAPI_RIG, Scenario, drive


@pytest.mark.asyncio
@pytest.mark.parametrize("rigged", [KIE_RIG, RUNAPI_RIG], ids=lambda r: r.name, indirect=True, scope="module")
@pytest.mark.parametrize("scenario", QUEUE_SCENARIOS, ids=lambda s: s.name)
async def test_fault_scenario(scenario: Scenario, rigged, client):
    rig, emu = rigged
    await drive(rig, rig.use(emu, scenario.name), client, scenario)
