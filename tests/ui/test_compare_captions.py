"""The compare view's before/after caption pills never overlap, whatever the canvas width or font size."""

from __future__ import annotations

from typing import Any

import pytest
from PySide6.QtGui import QColor, QPixmap

from flexstudio.ui.widgets.before_after_canvas import CompareCanvas

pytestmark = pytest.mark.gui

AFTER = "After · Sandbox, 28 steps · g 4.5 · seed 1234567890 · “Put the straw hat from image 2 on the cat”"


def pixmap(colour: str) -> QPixmap:
    pix = QPixmap(320, 240)
    pix.fill(QColor(colour))
    return pix


@pytest.mark.parametrize("mode", ["wipe", "side"])
@pytest.mark.parametrize("width", [260, 420, 640, 1100])
@pytest.mark.parametrize("font_scale", [1.0, 2.0])
def test_captions_never_overlap(qtbot: Any, mode: str, width: int, font_scale: float) -> None:
    canvas = CompareCanvas()
    qtbot.addWidget(canvas)
    font = canvas.font()
    font.setPointSizeF(font.pointSizeF() * font_scale)
    canvas.setFont(font)
    canvas.before, canvas.after = pixmap("#c85028"), pixmap("#2850c8")
    canvas.set_labels("Before · image 1", AFTER)
    canvas.set_mode(mode)
    canvas.resize(width, 400)
    (before_text, before), (_after_text, after) = canvas.caption_pills()
    assert not before.intersects(after), (before, after)
    views = canvas._views()
    for rect, view in ((before, views[0]), (after, views[-1])):
        assert view.contains(rect), (rect, view)
    assert before_text.startswith("Bef")  # elided, never dropped
    if width >= 640:
        assert before_text == "Before · image 1"
    canvas.grab()  # paints through the same layout without error
