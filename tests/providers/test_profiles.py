"""Provider profiles are data: reading them (the registry, at start-up) imports no protocol code, and a
profile's factory imports its protocol module on the first ``create``."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

import httpx
import pytest

from flexstudio.providers import openai_images
from flexstudio.providers.base import ProviderContext
from flexstudio.providers.profiles import openai_images as openai_profiles
from flexstudio.providers.registry import PROTOCOL_MODULES, Registry

PROTOCOL_CODE = [f"flexstudio.providers.{m}" for m in PROTOCOL_MODULES] + [
    "flexstudio.providers.http",
    "flexstudio.providers.uploads",
    "flexstudio.providers.common",
    "flexstudio.providers.deadline",
    "httpx",
]

_PROBE = """
import json, sys
from flexstudio.providers.registry import Registry
registry = Registry()
info = registry.get({pid!r})
before = sorted(m for m in {watch!r} if m in sys.modules)
{create}
after = sorted(m for m in {watch!r} if m in sys.modules)
print(json.dumps({{"ids": registry.ids(), "before": before, "after": after}}))
"""


def _probe(pid: str, create: str = "") -> dict[str, list[str]]:
    code = _PROBE.format(pid=pid, watch=PROTOCOL_CODE, create=create)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    result: dict[str, list[str]] = json.loads(out.stdout)
    return result


def test_reading_every_profile_imports_no_protocol_code():
    result = _probe("bfl")
    assert result["before"] == []
    assert result["ids"][0] == "sandbox"
    assert {"bfl", "bfl-eu", "bfl-us", "cometapi", "fal", "replicate", "lumenfall", "kie"} <= set(
        result["ids"]
    )


def test_the_first_create_imports_that_protocol_only():
    create = (
        "from flexstudio.providers.base import ProviderContext\ninfo.create(ProviderContext(client=None))"
    )
    result = _probe("sandbox", create)
    assert result["before"] == []
    assert result["after"] == ["flexstudio.providers.sandbox"]


@pytest.mark.parametrize("pid", Registry().ids())
def test_every_built_in_profile_creates_its_protocol_class(pid):
    info = Registry().get(pid)
    client = httpx.AsyncClient()
    try:
        provider = info.create(ProviderContext(client=client, api_key="k", base_url="http://127.0.0.1:9"))
    finally:
        asyncio.run(client.aclose())
    assert type(provider).__module__ == f"flexstudio.providers.{info.protocol}"
    assert provider.info is info


def test_the_profiles_name_every_param_style_the_protocol_speaks():
    assert tuple(openai_images.PARAM_STYLES) == openai_profiles.PARAM_STYLE_NAMES


def test_a_custom_endpoint_is_made_from_its_protocol_profiles():
    class Spec:
        id = "gw"
        label = "My gateway"
        protocol = "bfl"
        base_url = "http://127.0.0.1:9000"
        options: dict[str, object] = {"auth": "bearer"}

    registry = Registry([Spec()])
    assert registry.problems == []
    info = registry.get("gw")
    assert info.options["custom"] is True and info.options["auth"] == "bearer"
    client = httpx.AsyncClient()
    try:
        assert type(info.create(ProviderContext(client=client, api_key="k"))).__name__ == "BflProvider"
    finally:
        asyncio.run(client.aclose())
