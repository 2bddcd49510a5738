"""Settings → Spending's per-image rates live in the user's prices.json, beside entries written by hand,
and the price table reads them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flexstudio.core.errors import BadInput
from flexstudio.pricing import load_table
from flexstudio.storage.user_prices import set_rate, user_rates


def test_rates_are_written_beside_hand_written_entries(tmp_path: Path) -> None:
    path = tmp_path / "prices.json"
    hand = {"rule": "per_image", "rate_usd": 0.2, "currency": "USD", "note": "mine"}
    path.write_text(json.dumps({"schema": 1, "providers": {"gateway": hand}}))
    set_rate(path, "kie", 0.035)
    assert user_rates(path) == {"gateway": 0.2, "kie": 0.035}
    assert json.loads(path.read_text())["providers"]["gateway"] == hand
    rule = load_table(path).rule_for("kie")
    assert rule.rule == "per_image" and rule.rate is not None
    set_rate(path, "kie", None)
    assert user_rates(path) == {"gateway": 0.2} and not list(tmp_path.glob(".prices-*"))


def test_a_broken_file_is_never_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "prices.json"
    path.write_text("{not json")
    with pytest.raises(BadInput, match="cannot be read"):
        set_rate(path, "kie", 0.04)
    assert path.read_text() == "{not json" and user_rates(path) == {}
