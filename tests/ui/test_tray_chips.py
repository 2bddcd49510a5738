"""Reference chips keep their numbers readable when the tray scrolls: the file name gives way, not the
size sent or the megapixels billed."""

from __future__ import annotations

from typing import Any

import pytest
from PySide6.QtGui import QFontMetrics

from flexstudio.ui.widgets import theme
from flexstudio.ui.widgets.tray import ChipDelegate, chip_texts

from .helpers import drop, file_mime

pytestmark = pytest.mark.gui


@pytest.mark.parametrize("font_scale", [1.0, 1.5])
@pytest.mark.parametrize("size", [(1024, 700), (1280, 800)])
def test_chip_numbers_stay_whole_when_the_tray_scrolls(
    open_window: Any, png_file: Any, qtbot: Any, size: tuple[int, int], font_scale: float
) -> None:
    w = open_window(size=size)
    font = w.tray.view.font()  # a designer with larger text: the chips do not get wider
    font.setPointSizeF(font.pointSizeF() * font_scale)
    w.tray.view.setFont(font)
    w.wb.set_provider("bfl")  # bills every reference by the megapixel
    names = [
        png_file(f"holiday-photo-from-the-beach-at-sunset-number-{n}-final-version.png", 1600, 1144)
        for n in range(8)
    ]
    drop(w.tray.view.viewport(), file_mime(*names))
    qtbot.waitUntil(lambda: len(w.wb.references) == 8)
    view, model = w.tray.view, w.tray.model
    qtbot.waitUntil(lambda: view.verticalScrollBar().isVisible())  # the case that cut the numbers
    qtbot.waitUntil(lambda: model.billed(7) is not None)
    fm = QFontMetrics(theme.small_font(view))
    for row in range(8):
        index = model.index(row)
        width = ChipDelegate.text_width(view.visualRect(index))
        ref = w.wb.references[row]
        sent = ref.sent_size(w.wb.caps.max_pixels)
        billed = model.billed(row)
        name_text, mp_text, size_text = chip_texts(fm, ref.name, sent, billed, width)
        assert mp_text == f"{billed:g} MP" and size_text.endswith(f"{sent[0]}×{sent[1]}")
        assert fm.horizontalAdvance(name_text) + fm.horizontalAdvance("  " + mp_text) <= width
        assert fm.horizontalAdvance(size_text) <= width
        assert "…" in name_text  # the long name is what gave way
    if font_scale > 1:  # the old single line did not fit here: it was cut to "sent 1600×1136 · 1.7…"
        assert fm.horizontalAdvance(f"sent {sent[0]}×{sent[1]} · {billed:g} MP") > width
    view.grab()  # the delegate paints through the same layout


def test_chip_texts_fall_back_to_the_bare_size() -> None:
    from PySide6.QtGui import QFont

    fm = QFontMetrics(QFont())
    wide = chip_texts(fm, "a.png", (1600, 1144), 2.0, 400)
    assert wide == ("a.png", "2 MP", "sent 1600×1144")
    narrow_w = fm.horizontalAdvance("1600×1144") + 2
    assert chip_texts(fm, "a.png", (1600, 1144), 2.0, narrow_w)[2] == "1600×1144"
    assert chip_texts(fm, "", None, None, 100) == ("", "", "")
