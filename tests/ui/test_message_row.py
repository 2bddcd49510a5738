"""The message bar has its own row above the pictures: it never covers the compare view's captions or the
History panel, its text takes the width, its buttons their labels' width, a long message waits behind
"Details…", and when it goes the row closes without moving the controls."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QPoint, QRect

SANDBOX = (
    "You are on the Sandbox, an offline simulator that costs nothing — everything works with it. To edit "
    "with a real cloud, add an API key in Settings → Keys."
)
RESTORED = (
    "Restored the settings from a1111.png (A1111 recipe). Its prompt and size replace yours; your "
    "references, format and provider stay. The sampler (DPM++ 2M Karras) is left out: FLUX.2 [flex] has no "
    "sampler. The negative prompt is left out: FLUX.2 [flex] takes none. Steps 150 became 50 (the most "
    "Sandbox takes). Guidance 12 became 10."
)


def _rect(w: Any, widget: Any) -> QRect:
    return QRect(widget.mapTo(w, QPoint(0, 0)), widget.size())


def test_the_bar_sits_above_the_pictures_and_never_over_them(open_window: Any, qtbot: Any) -> None:
    w = open_window(size=(1024, 700))
    qtbot.waitUntil(lambda: bool(w.controller.key_status))  # the first-run sentence has come (or not)
    run_at = _rect(w, w.run_button)
    w.show_message("info", SANDBOX, action="Open Settings", callback=lambda: None)
    qtbot.waitUntil(lambda: _rect(w, w.banner).bottom() < _rect(w, w.compare).top())
    bar = _rect(w, w.banner)
    for panel in (w.compare, w.compare.canvas, w.tray, w.history, w.right_panel):
        assert not bar.intersects(_rect(w, panel)), panel.objectName()
    assert w.banner.message() == SANDBOX and not w.banner.details.isVisible()
    assert _rect(w, w.run_button) == run_at  # the row is over the left column only: Run stays put
    w.banner.dismiss()
    assert not w.banner.isVisible()
    row = w.banner.parentWidget()
    qtbot.waitUntil(lambda: not row.isVisible() or w.banner.isVisible())
    assert not w.banner.isVisible(), w.banner.message()  # it closes over a moment, then gives its room back
    assert _rect(w, w.run_button) == run_at


def test_a_long_message_takes_the_width_and_keeps_the_rest_behind_details(
    open_window: Any, qtbot: Any
) -> None:
    w = open_window(size=(1024, 700))
    qtbot.waitUntil(lambda: bool(w.controller.key_status))  # the first-run sentence has come (or not)
    w.show_message("warning", RESTORED, action="Add as a reference instead", callback=lambda: None)
    action = w.banner.action
    # laid out: the button reads whole
    qtbot.waitUntil(lambda: w.banner.details.isVisible() and action.width() >= action.sizeHint().width())
    bar, text = _rect(w, w.banner), w.banner.text
    assert text.width() > action.width() and bar.width() > 500
    assert text.text() != RESTORED and text.text().endswith("…") and w.banner.message() == RESTORED
    assert bar.height() < 80 and not bar.intersects(_rect(w, w.history))
    w.banner.details.click()
    qtbot.waitUntil(lambda: w.banner.text.text() == RESTORED)
    assert w.banner.details.text() == "Less"
    assert not _rect(w, w.banner).intersects(_rect(w, w.history))
