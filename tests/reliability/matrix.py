"""Which emulator plays which provider with a distinctive fake key, for the tests that search every place
for a key (test_secrets) or drive the command line and the quotes per provider. The fault scenarios and
their outcomes are the harness's (tests/providers/scenarios.py, job_scenarios.py)."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from tests.emulators.base import DOWNLOAD_SCENARIOS, Delivery, Emulator
from tests.emulators.bfl import BflEmulator
from tests.emulators.fairstack import FairStackEmulator
from tests.emulators.fal import FalEmulator
from tests.emulators.kie import KieEmulator
from tests.emulators.openai_images import OpenAIImagesEmulator
from tests.emulators.replicate import ReplicateEmulator
from tests.emulators.runapi import RunApiEmulator


@dataclass(frozen=True)
class Spec:
    provider: str
    emulator: type[Emulator]
    key_arg: str  # the emulator's constructor argument holding the expected key
    key: str  # a distinctive fake key: searched for everywhere afterwards
    env_var: str
    submit: tuple[str, str]  # (method, path prefix) of the paid request
    synchronous: bool = False
    references: bool = True
    options: dict[str, Any] = field(default_factory=dict)
    emulator_kw: dict[str, Any] = field(default_factory=dict)


SPECS = (
    Spec("bfl", BflEmulator, "key", "bfl_FAKEKEY_b7c1e9a4", "BFL_API_KEY", ("POST", "/v1/flux-2-flex")),
    Spec(
        "cometapi",
        BflEmulator,
        "key",
        "comet-FAKEKEY-3d8e2f10",
        "COMETAPI_KEY",
        ("POST", "/flux/v1/flux-2-flex"),
        emulator_kw={"comet": True},
    ),
    Spec("fal", FalEmulator, "key", "falid:FAKEKEY-5a9c0d2e", "FAL_KEY", ("POST", "/fal-ai/flux-2-flex")),
    Spec(
        "replicate",
        ReplicateEmulator,
        "token",
        "r8_FAKEKEY_4e1a7b3c",
        "REPLICATE_API_TOKEN",
        ("POST", "/v1/models/"),
    ),
    Spec(
        "lumenfall",
        OpenAIImagesEmulator,
        "key",
        "lmnfl_FAKEKEY_9f2b6c71",
        "LUMENFALL_API_KEY",
        ("POST", "/images/"),
        synchronous=True,
        options={"response_format": "url"},
    ),
    Spec(
        "kie",
        KieEmulator,
        "key",
        "kie_FAKEKEY_2c7d9e04",
        "KIE_API_KEY",
        ("POST", "/api/v1/jobs/createTask"),
        references=False,
    ),
    Spec(
        "runapi", RunApiEmulator, "key", "runapi_FAKEKEY_8b3f1a6d", "RUNAPI_KEY", ("POST", "/api/v1/flux_2")
    ),
    Spec(
        "fairstack",
        FairStackEmulator,
        "key",
        "fs_FAKEKEY_6e0c4b92",
        "FAIRSTACK_API_KEY",
        ("POST", "/v1/generations/image"),
        synchronous=True,
        references=False,
    ),  # public URLs only
)
BY_ID = {s.provider: s for s in SPECS}


@contextlib.contextmanager
def hosts(spec: Spec, scenario: str) -> Iterator[tuple[Emulator, Delivery, Delivery]]:
    delivery = Delivery(scenario=scenario if scenario in DOWNLOAD_SCENARIOS else "success").start()
    third = Delivery().start()
    delivery.third = third
    api_scenario = "success" if scenario in DOWNLOAD_SCENARIOS else scenario
    emu = spec.emulator(
        delivery, scenario=api_scenario, latency_polls=1, **{spec.key_arg: spec.key}, **spec.emulator_kw
    ).start()
    try:
        yield emu, delivery, third
    finally:
        emu.stop()
        delivery.stop()
        third.stop()


async def fast_sleep(seconds: float) -> None:
    """Retry and poll waits are honoured in order but shortened, so the matrix runs in seconds."""
    await asyncio.sleep(min(seconds, 0.005))


def key_seen_in(spec: Spec, emulator: Emulator) -> bool:
    return any(spec.key in v for r in emulator.requests for v in r.headers.values()) or any(
        spec.key.encode() in r.body for r in emulator.requests
    )


def environ_with_key(spec: Spec) -> dict[str, str]:
    return {**os.environ, spec.env_var: spec.key}
