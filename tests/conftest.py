"""Suite-wide set-up: offscreen Qt, an isolated FLEXSTUDIO_HOME per test, no real network."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("QT_API", "pyside6")

import pytest

# Keys from the developer's own environment must never reach a test.
_KEY_VARS = (
    "BFL_API_KEY",
    "FAL_KEY",
    "REPLICATE_API_TOKEN",
    "LUMENFALL_API_KEY",
    "OPENAI_API_KEY",
    "COMETAPI_KEY",
    "KIE_API_KEY",
    "RUNAPI_KEY",
    "FAIRSTACK_API_KEY",
)


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("FLEXSTUDIO_HOME", str(home))
    monkeypatch.setenv("FLEXSTUDIO_SANDBOX_LATENCY", "0")
    for var in _KEY_VARS:
        monkeypatch.delenv(var, raising=False)
    return home


@pytest.fixture
def home(_isolated_home):
    """The FLEXSTUDIO_HOME folder of this test."""
    return _isolated_home
