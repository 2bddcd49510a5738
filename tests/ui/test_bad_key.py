"""A key pasted wrong (a line break inside) in the provider's environment variable: the window says so
in one sentence, never shows the key, and nothing is recorded or sent."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.gui

KEY = "fal_FAKEKEY_w1nd0w"


def test_a_key_with_a_line_break_is_refused_before_anything_is_recorded(
    open_window: Any, make_services: Any, qtbot: Any
) -> None:
    svc = make_services(env={"FAL_KEY": KEY + "\r\nX-Injected: 1"})
    w = open_window(svc)
    qtbot.waitUntil(lambda: w.controller.key_status.get("fal") == "env")
    w.wb.set_provider("fal")
    w.prompt.setPlainText("a red chair")
    w.controller.run()
    qtbot.waitUntil(lambda: w.banner.isVisible() and w.banner.level in ("error", "warning"))
    text = w.banner.message()
    assert "line break" in text and "FAL_KEY" in text and "FAKEKEY" not in text
    assert svc.history.count() == 0
