"""A spending limit set in Settings and a provider whose price is unknown (Kie bills in credits): the price
area says, before anything is tried, that the edit is refused and why; Run, and a comparison that includes
Kie, are refused in the same sentence and nothing is written or sent. Without a limit Kie runs as before."""

from __future__ import annotations

from typing import Any

REFUSAL = "price of this edit is unknown (Kie bills in credits)"


def _error(w: Any) -> str:
    return w.banner.message() if w.banner.isVisible() and w.banner.level == "error" else ""


def test_an_unknown_price_is_refused_under_a_spending_limit(
    open_window: Any, make_services: Any, qtbot: Any
) -> None:
    svc = make_services()
    svc.secrets.set("kie", "kie_test_key")
    svc.settings.caps.day_stop = 5.0
    w = open_window(svc)
    w.wb.set_provider("kie")
    w.prompt.setPlainText("a red chair")
    qtbot.waitUntil(lambda: w.controller.key_status.get("kie") is not None)
    assert w.cost.quote.usd is None
    assert REFUSAL in w.cost.note.full_text() and "$5.00 today" in w.cost.note.full_text()
    assert not w.run_button.isEnabled() and REFUSAL in w.run_button.toolTip()  # Run is held, saying why

    w.controller.run()
    qtbot.waitUntil(lambda: REFUSAL in _error(w))
    assert svc.history.count() == 0
    w.banner.dismiss()

    w.controller.groups.compare_providers()
    qtbot.waitUntil(lambda: w.controller.groups.compare_dialog is not None)
    cmp = w.controller.groups.compare_dialog
    cmp.set_chosen(["kie", "sandbox"])
    assert not cmp.launch()
    assert REFUSAL in _error(w) and svc.history.count() == 0
    cmp.close()

    # The limit removed: the same edit is no longer refused for its unknown price.
    svc.settings.caps.day_stop = None
    w.refresh_spend()
    assert REFUSAL not in w.cost.note.full_text() and w.run_button.isEnabled()
