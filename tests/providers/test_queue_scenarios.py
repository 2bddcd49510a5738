"""fal.ai and Replicate through every contract scenario, over real HTTP against their emulators."""

from __future__ import annotations

from functools import partial

import pytest

from flexstudio.providers import fal, replicate
from tests.emulators import fal as fal_emu
from tests.emulators import replicate as replicate_emu
from tests.emulators.base import Delivery
from tests.providers.scenarios import QUEUE_SCENARIOS, Rig, Scenario, drive, two_references

RIGS = [
    Rig("fal", fal.PROFILES[0], fal_emu.FalEmulator, fal_emu.DEFAULT_KEY,
        is_submit=lambda r: r.method == "POST", is_poll=lambda r: r.path.endswith("/status"),
        job=partial(two_references, "fal"), said={
            "auth": (401, "No user found for Key ID and Secret"),
            "credits": (403, "User is locked"),
            "validation": (422, "image_size: Image size is too large"),
            "submit_5xx": (500, "internal_error"),
            "malformed_json": (200, None),
            "moderated_input": (None, "flagged by a content checker"),
            "moderated_output": (None, "flagged by a content checker"),
        }),
    Rig("replicate", replicate.PROFILES[0], replicate_emu.ReplicateEmulator, replicate_emu.DEFAULT_TOKEN,
        is_submit=lambda r: r.method == "POST" and r.path == f"/v1/models/{replicate_emu.MODEL}/predictions",
        is_poll=lambda r: r.method == "GET", job=partial(two_references, "replicate"), said={
            "auth": (401, "valid authentication token"),
            "credits": (402, "insufficient credit"),
            "validation": (422, "input.width: Must be less than or equal to 2048"),
            "submit_5xx": (500, "unexpected error"),
            "malformed_json": (201, None),
            "moderated_input": (None, "(E005)"),
            "moderated_output": (None, "(E005)"),
        }),
]


@pytest.fixture
def hosts():
    delivery = Delivery().start()
    third = Delivery().start()
    delivery.third = third
    yield delivery, third
    delivery.stop()
    third.stop()


@pytest.mark.asyncio
@pytest.mark.parametrize("rig", RIGS, ids=lambda r: r.name)
@pytest.mark.parametrize("scenario", QUEUE_SCENARIOS, ids=lambda s: s.name)
async def test_fault_scenario(rig: Rig, scenario: Scenario, hosts, client):
    delivery, _ = hosts
    delivery.scenario = scenario.name
    with rig.emulator(delivery, scenario=scenario.name) as emu:
        await drive(rig, emu, client, scenario)
