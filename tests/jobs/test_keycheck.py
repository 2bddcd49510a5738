"""Settings → Keys → "Test connection" (``jobs.keycheck.check_key``) over real HTTP against the
emulators: the key is checked by a free authenticated call where the provider has one (BFL's credits,
Replicate's account); a wrong key is said to be invalid, an unreachable host is said to be unreachable,
and a provider without such a call says plainly that only the host was checked. Nothing is billed."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest

from flexstudio.jobs.keycheck import HOST_ONLY, check_key
from flexstudio.services import Services
from tests.emulators.base import Delivery
from tests.emulators.bfl import BflEmulator
from tests.emulators.replicate import ACCOUNT, DEFAULT_TOKEN, ReplicateEmulator
from tests.support import stop_all

BFL_KEY = "bfl_KEYCHECK_1a2b3c4d"


@pytest.fixture
def emus() -> Any:
    delivery = Delivery().start()
    bfl = BflEmulator(delivery, key=BFL_KEY, credits=123).start()
    rep = ReplicateEmulator(delivery).start()
    yield bfl, rep
    stop_all(bfl, rep, delivery)


def _closed_port() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


def _check(provider: str, url: str, env: dict[str, str]) -> str:
    async def go() -> str:
        svc = Services.build(base_urls={provider: url}, env=env)
        try:
            return await check_key(svc.runner, svc.registry.get(provider), url)
        finally:
            await svc.aclose()

    return asyncio.run(go())


def test_bfl_key_accepted_refused_or_host_unreachable(emus: Any) -> None:
    bfl, _ = emus
    said = _check("bfl", bfl.url, {"BFL_API_KEY": BFL_KEY})
    assert said == "BFL accepted the key (credits: 123)."
    said = _check("bfl", bfl.url, {"BFL_API_KEY": "bfl_wrong_key_000000"})
    assert said.startswith("BFL says the key is invalid") and "wrong" not in said
    dead = _closed_port()
    said = _check("bfl", dead, {"BFL_API_KEY": BFL_KEY})
    assert said.startswith(f"BFL at {dead.split('//')[1]} could not be reached"), said
    assert [r for r in bfl.requests if r.path == "/v1/flux-2-flex"] == []  # nothing was submitted


def test_replicate_key_checked_with_the_account_endpoint(emus: Any) -> None:
    _, rep = emus
    assert _check("replicate", rep.url, {"REPLICATE_API_TOKEN": DEFAULT_TOKEN}) == (
        f"Replicate accepted the key (account: {ACCOUNT})."
    )
    said = _check("replicate", rep.url, {"REPLICATE_API_TOKEN": "r8_wrongtoken"})
    assert said.startswith("Replicate says the key is invalid"), said
    assert rep.predictions == {}


def test_a_provider_without_a_free_authenticated_call_says_only_the_host_was_checked(emus: Any) -> None:
    bfl, _ = emus  # any local host answers; fal documents no free authenticated GET
    said = _check("fal", bfl.url, {"FAL_KEY": "fal-id:fal-secret"})
    assert said.endswith(f"; {HOST_ONLY}.") and said.startswith("fal.ai answers at 127.0.0.1:"), said
    assert _check("fal", bfl.url, {}).startswith("fal.ai: no key is set yet")
