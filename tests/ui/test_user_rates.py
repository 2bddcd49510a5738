"""A provider that publishes no price gets one in Settings → Spending: the rate is kept in the user's
prices.json, the window quotes with it at once, and clearing it makes the price unknown again."""

from __future__ import annotations

import json
from typing import Any

from .test_settings import open_settings


def test_a_rate_set_in_settings_prices_kie(open_window: Any, make_services: Any, qtbot: Any) -> None:
    svc = make_services()
    w = open_window(svc)
    qtbot.waitUntil(lambda: bool(w.controller.key_status))  # (a first run without keys picks the Sandbox)
    w.wb.set_provider("kie")
    w.prompt.setPlainText("a red chair")
    assert w.cost.quote.usd is None and "Settings → Spending" in w.cost.quote.note
    dlg = open_settings(w, qtbot)
    assert "kie" in dlg.rate_boxes and "sandbox" not in dlg.rate_boxes and "fal" not in dlg.rate_boxes
    dlg.rate_boxes["kie"].setValue(0.04)
    saved = json.loads((svc.paths.config / "prices.json").read_text())
    assert saved["providers"]["kie"]["rate_usd"] == 0.04
    qtbot.waitUntil(lambda: w.cost.quote.usd == 0.04)
    assert "0.04" in w.run_button.text()
    dlg.rate_boxes["kie"].setValue(0)  # "not set"
    assert "kie" not in json.loads((svc.paths.config / "prices.json").read_text())["providers"]
    qtbot.waitUntil(lambda: w.cost.quote.usd is None)
    dlg.close()
