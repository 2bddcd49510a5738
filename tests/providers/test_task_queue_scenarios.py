"""Kie.ai and RunAPI through the same fault scenarios, over real HTTP against their emulators."""

from __future__ import annotations

import pytest

from tests.providers.scenarios import KIE_RIG, RUNAPI_RIG, TASK_QUEUE_SCENARIOS, Rig, Scenario, drive

RIGS = [KIE_RIG, RUNAPI_RIG]


@pytest.fixture(scope="module", params=RIGS, ids=lambda r: r.name)
def rigged(request):
    rig: Rig = request.param
    emu = rig.start()
    yield rig, emu
    rig.stop(emu)


@pytest.mark.asyncio
@pytest.mark.parametrize("scenario", TASK_QUEUE_SCENARIOS, ids=lambda s: s.name)
async def test_fault_scenario(scenario: Scenario, rigged, client):
    rig, emu = rigged
    await drive(rig, rig.use(emu, scenario.name), client, scenario)
