"""Settings never hold a secret; keys live in the OS keyring (or the env), never in clear."""

from __future__ import annotations

import json
import os

import keyring
import pytest
from keyring.backends import fail

from flexstudio.storage.secrets import NO_KEYRING, Secrets, scrub
from flexstudio.storage.settings import CustomEndpoint, Settings, SpendCaps


def test_settings_round_trip_and_keep_unknown_keys(tmp_path):
    path = tmp_path / "settings.json"
    s = Settings(
        provider="fal",
        caps=SpendCaps(day_stop=5.0),
        endpoints=[
            CustomEndpoint(
                "gw", "My gateway", "openai_images", "https://gw.example/v1", {"model": "flux.2-flex"}
            )
        ],
    )
    s.extra["future_option"] = 3
    s.save(path)
    back = Settings.load(path)
    assert back.provider == "fal" and back.caps.day_stop == 5.0
    assert back.endpoints[0].base_url == "https://gw.example/v1" and back.extra["future_option"] == 3


def test_settings_refuse_a_secret(tmp_path):
    s = Settings()
    s.ui["api_key"] = "sk-123"
    with pytest.raises(ValueError, match="secrets"):
        s.save(tmp_path / "settings.json")
    assert not (tmp_path / "settings.json").exists()


def test_a_corrupt_settings_file_is_set_aside_not_fatal(tmp_path):
    path = tmp_path / "settings.json"
    path.write_text("{not json")
    assert Settings.load(path).provider == "sandbox"
    assert (tmp_path / "settings.broken.json").exists()


def test_env_var_wins_over_the_keyring():
    secrets = Secrets(env={"FAL_KEY": "env-key"}, backend=fail.Keyring())
    assert secrets.get("fal", "FAL_KEY") == "env-key"
    assert secrets.source("fal", "FAL_KEY") == "env"


def test_no_keyring_backend_keeps_the_key_in_memory_only_and_says_why(tmp_path, home):
    secrets = Secrets(env={}, backend=fail.Keyring())
    assert secrets.get("bfl", "BFL_API_KEY") is None  # no crash
    assert secrets.set("bfl", "bfl_sessiononly_123") == "session"
    assert secrets.problem == NO_KEYRING
    assert secrets.get("bfl") == "bfl_sessiononly_123"
    # nothing anywhere on disk holds it
    for p in home.rglob("*"):
        if p.is_file():
            assert b"bfl_sessiononly_123" not in p.read_bytes()


def test_real_secret_service_round_trip():
    backend = keyring.get_keyring()
    if (
        isinstance(backend, fail.Keyring)
        or "SecretService" not in type(backend).__module__ + type(backend).__name__
    ):
        if os.environ.get("CI"):
            pytest.fail("CI must run the suite inside a Secret Service session (scripts/test.sh)")
        pytest.skip("no Secret Service in this session (scripts/test.sh provides one)")
    s = Secrets(env={})
    assert s.set("fal", "fal-test-key-123456") == "keyring"
    fresh = Secrets(env={})  # a new process would see it
    assert fresh.get("fal", "FAL_KEY") == "fal-test-key-123456"
    assert fresh.source("fal", "FAL_KEY") == "keyring"
    assert fresh.delete("fal")
    assert Secrets(env={}).get("fal", "FAL_KEY") is None


def test_scrub_removes_known_keys():
    assert scrub("failed with key abcdef123456 in url", ["abcdef123456"]) == "failed with key •••••••• in url"
    assert json.dumps(scrub("short", ["ab"])) == '"short"'
