"""Kie.ai and RunAPI through the same fault scenarios, over real HTTP against their emulators."""

from __future__ import annotations

import pytest

from flexstudio.providers import kie, runapi
from tests.emulators import kie as kie_emu
from tests.emulators import runapi as runapi_emu
from tests.providers.scenarios import TASK_QUEUE_SCENARIOS, Rig, Scenario, drive

RIGS = [
    Rig("kie", kie.PROFILES[0], kie_emu.KieEmulator, kie_emu.KEY,
        lambda r: r.path == "/api/v1/jobs/createTask"),
    Rig("runapi", runapi.PROFILES[0], runapi_emu.RunApiEmulator, runapi_emu.KEY,
        lambda r: r.method == "POST" and r.path.startswith("/api/v1/flux_2/")),
]


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
