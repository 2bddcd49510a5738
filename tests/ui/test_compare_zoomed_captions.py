"""Wipe at 100 %: when the wipe line leaves the view only one image shows, and only its caption is drawn."""

from __future__ import annotations

from typing import Any

import pytest
from PySide6.QtCore import QPointF
from PySide6.QtGui import QColor, QPixmap

from flexstudio.ui.widgets.before_after_canvas import CompareCanvas

pytestmark = pytest.mark.gui

RED, BLUE = "#c85028", "#2850c8"


def pixmap(colour: str) -> QPixmap:
    pix = QPixmap(2000, 1500)
    pix.fill(QColor(colour))
    return pix


def shown_colours(canvas: CompareCanvas) -> set[str]:
    """The image colours painted along the middle row of the view (the wipe line and handle excluded)."""
    image = canvas.grab().toImage()
    view = canvas._views()[0]
    dpr = image.devicePixelRatio()
    y = int(view.center().y() + view.height() / 4)  # below the handle
    colours = set()
    for x in range(int(view.left()) + 2, int(view.right()) - 2, 7):
        c = image.pixelColor(int(x * dpr), int(y * dpr)).name()
        if c in (RED, BLUE):
            colours.add(c)
    return colours


@pytest.mark.parametrize("edge", ["left", "right", "middle"])
def test_wipe_at_100_percent_captions_only_the_image_in_view(qtbot: Any, edge: str) -> None:
    canvas = CompareCanvas()
    qtbot.addWidget(canvas)
    canvas.resize(600, 400)
    canvas.set_images(pixmap(RED), pixmap(BLUE))
    canvas.set_labels("Before · image 1", "After · Sandbox")
    assert [t for t, _ in canvas.caption_pills()] == ["Before · image 1", "After · Sandbox"]  # fit
    fr = canvas.frame_rect(canvas._views()[0])
    mid_y = fr.center().y()
    anchor = {
        "left": QPointF(fr.left() + 1, mid_y),
        "right": QPointF(fr.right() - 1, mid_y),
        "middle": QPointF(fr.center().x(), mid_y),
    }[edge]
    canvas.set_zoom(1.0, anchor)  # 100 %, zoomed in where the designer points
    assert canvas.scale() == 1.0
    captions = [t for t, _ in canvas.caption_pills()]
    colours = shown_colours(canvas)
    expected = {
        "left": ({RED}, ["Before · image 1"]),
        "right": ({BLUE}, ["After · Sandbox"]),
        "middle": ({RED, BLUE}, ["Before · image 1", "After · Sandbox"]),
    }[edge]
    assert (colours, captions) == expected
    for _t, rect in canvas.caption_pills():
        assert canvas._views()[0].contains(rect)
