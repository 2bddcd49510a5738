"""Fixtures every provider test module uses."""

from __future__ import annotations

from functools import partial

import pytest
import pytest_asyncio

from flexstudio.providers.http import new_client
from tests.emulators.base import Delivery
from tests.support import stop_all


@pytest_asyncio.fixture
async def client():
    """FlexStudio's own HTTP client (no default auth, no redirects), closed after the test."""
    c = new_client()
    yield c
    await c.aclose()


@pytest.fixture(scope="module")
def _delivery_hosts():
    delivery = Delivery().start()
    delivery.third = Delivery().start()
    yield delivery, delivery.third
    stop_all(delivery.third, delivery)


@pytest.fixture
def hosts(_delivery_hosts):
    """The result host and the third host a redirect points at (delivery.third), clean for each test
    (started once per module: stopping a server takes up to its poll interval)."""
    for server in _delivery_hosts:
        with server.lock:
            server.scenario = "success"
            server.requests.clear()
            server.answers.clear()
            server.counters.clear()
            server.files.clear()
    return _delivery_hosts


@pytest.fixture(scope="module")
def rigged(request):
    """One rig's emulator (``request.param``, a ``scenarios.Rig``), started once for the module and reset
    by each test (``rig.use``); parametrize it with ``indirect=True``."""
    rig = request.param
    emu = rig.start()
    yield rig, emu
    rig.stop(emu)


@pytest.fixture(scope="module")
def rig_emulator(request):
    """The emulator of the test module's ``RIG`` (a ``scenarios.Rig``), started once for the module."""
    rig = request.module.RIG
    emu = rig.start()
    yield emu
    rig.stop(emu)


@pytest.fixture
def emulator(rig_emulator, request):
    """``emulator(scenario="success")``: the module's running emulator, reset to play ``scenario``."""
    return partial(request.module.RIG.use, rig_emulator)
