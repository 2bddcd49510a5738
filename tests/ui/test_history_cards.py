"""A history card shows its whole story at a glance: the key settings and "provider · cost · time" are
drawn in full, not cut ("28 steps · g 4.5 · se…", "Sandbox · $0.00 · 2…")."""

from __future__ import annotations

from typing import Any

import pytest

from .conftest import run

pytestmark = pytest.mark.gui


def test_history_cards_draw_settings_and_cost_lines_uncut(open_window: Any, qtbot: Any) -> None:
    from flexstudio.core.request import EditRequest

    w = open_window(size=(1440, 900))
    rec = run(
        qtbot,
        w.services.runner.run(
            EditRequest(
                prompt="Put the straw hat from image 2 on the hiker",
                steps=28,
                guidance=4.5,
                seed=2251122720,
                size=(64, 64),
            )
        ),
    )
    assert rec.state == "succeeded"
    qtbot.waitUntil(lambda: w.history_model.rowCount() == 1)
    w.history.view.viewport().grab()  # paint the cards
    style = w.history.view.itemDelegate()._style
    assert style is not None
    lines = {text: out for (text, _width), out in style.elided.items()}
    settings = next(t for t in lines if t.startswith("28 steps"))
    money = next(t for t in lines if t.startswith("Sandbox ·"))
    assert lines[settings] == settings == "28 steps · g 4.5 · seed 2251122720"
    assert lines[money] == money
