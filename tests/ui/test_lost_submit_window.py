"""A BFL submit whose answer was garbled (the BFL emulator over real HTTP): the window's job card says it may
have been billed and that there is nothing to fetch, offers Give up but no Try again, and the spend readout
counts the job at its quote until it is given up; giving up keeps "may have billed it $X" in history."""

from __future__ import annotations

from typing import Any

import pytest

from flexstudio.core.request import EditRequest
from tests.emulators.base import Delivery
from tests.emulators.bfl import BflEmulator

KEY = "bfl_LOSTWINDOW_77aa"


@pytest.fixture
def garbled_bfl() -> Any:
    delivery = Delivery().start()
    emu = BflEmulator(delivery, scenario="malformed_json", key=KEY).start()
    yield emu
    emu.stop()
    delivery.stop()


def test_a_lost_submit_offers_give_up_and_counts_its_quote_until_then(
    open_window: Any, make_services: Any, qtbot: Any, monkeypatch: pytest.MonkeyPatch, garbled_bfl: Any
) -> None:
    monkeypatch.setenv("BFL_API_KEY", KEY)
    svc = make_services(base_urls={"bfl": garbled_bfl.url})
    w = open_window(svc, resume=False)
    ref = svc.import_reference(_png(), "a.png")
    rec = svc.runner.create(EditRequest(prompt="make it blue", provider="bfl", references=(ref,)))
    svc.runner.start(rec.id)
    qtbot.waitUntil(
        lambda: w.jobs_panel.card(rec.id) is not None and w.jobs_panel.card(rec.id).state == "interrupted",
        timeout=20000,
    )
    card = w.jobs_panel.card(rec.id)
    quote = svc.history.get(rec.id).quote_usd
    assert quote and quote > 0
    assert "nothing to fetch" in card.sentence.text() and f"${quote:.4f}" in card.sentence.text()
    assert card.give_up.isVisibleTo(w) and not card.retry.isVisibleTo(w) and not card.cancel.isVisibleTo(w)
    assert not w.recovery.can_fetch(rec.id) and w.recovery.can_resume(rec.id)
    # Counted at its quote while it may have been billed (the window's readout and the caps' guard).
    assert svc.guard.status().session == pytest.approx(quote)
    w.refresh_spend()
    assert f"${quote:.2f}" in w.spend_label.text()

    from PySide6.QtCore import Qt

    w.history_model.flush_changes()
    row = next(i for i in range(w.history_model.rowCount()) if w.history_model.record(i).id == rec.id)
    tip = w.history_model.data(w.history_model.index(row, 0), Qt.ItemDataRole.ToolTipRole)
    assert "nothing to fetch" in tip and "Give up" in tip and "Try again" not in tip

    card.give_up.click()
    after = svc.history.get(rec.id)
    assert after.state == "cancelled" and f"may have billed it ${quote:.4f}" in after.message
    assert svc.guard.status().session == pytest.approx(0.0)
    assert garbled_bfl.count("POST", garbled_bfl.submit_path) == 1  # never sent again


def _png() -> bytes:
    from .conftest import image_bytes

    return image_bytes(64, 64)
