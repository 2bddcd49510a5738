"""The sentence that explains a price is read on the readout, not only in its tooltip: the note wraps into
its lines (whole sentences, "…" after the last one that fits), at every provider, without moving Run."""

from __future__ import annotations

import re
from typing import Any

import pytest
from PySide6.QtGui import QFont, QFontMetrics

from flexstudio.ui.widgets.cost import CANT_RUN, DETAIL_LINES, NOTE_LINES
from flexstudio.ui.widgets.labels import fit_lines, wrapped_lines

from .helpers import drop, file_mime

pytestmark = pytest.mark.gui


def _first_sentence(text: str) -> str:
    return re.split(r"(?<=[.!?])\s+", text)[0]


def test_fit_lines_keeps_whole_sentences_then_words(qapp: Any) -> None:
    fm = QFontMetrics(QFont())
    width = fm.horizontalAdvance("x" * 40)
    short = "One short sentence."
    assert fit_lines(fm, short, width, 1) == short
    long = "The first sentence says what the price is. " + "Then comes a long caveat about rounding " * 4
    two = fit_lines(fm, long, width, 2)
    assert two == "The first sentence says what the price is. …"
    assert wrapped_lines(fm, two, width) <= 2
    words = fit_lines(fm, "word " * 60 + "end.", width, 2)  # one sentence longer than the lines
    assert words.endswith("…") and wrapped_lines(fm, words, width) <= 2 and len(words) > 40
    assert fit_lines(fm, long, width, 20) == long  # room for all of it: all of it
    assert fit_lines(fm, "", width, 1) == ""


@pytest.mark.parametrize("size", [(1024, 700), (1280, 800)])
def test_every_providers_note_shows_its_first_sentence_and_run_stays_put(
    open_window: Any, png_file: Any, qtbot: Any, size: tuple[int, int]
) -> None:
    w = open_window(size=size)
    files = [png_file("hiker.png", 1536, 1024), png_file("hat.png", 896, 688, (20, 90, 200))]
    drop(w.tray.view.viewport(), file_mime(*files))
    qtbot.waitUntil(lambda: len(w.wb.references) == 2)
    w.prompt.setPlainText("Put the hat from image 2 on the hiker in image 1")
    note, cost = w.cost.note, w.cost
    fm = note.fontMetrics()
    seen: dict[str, tuple[int, int, int]] = {}
    for info in w.services.registry.all():
        w.wb.set_provider(info.id)
        qtbot.waitUntil(lambda: cost.provider.full_text() == w.wb.info.display_name)
        full, shown = note.full_text(), note.shown_text()
        width = note.contentsRect().width()
        assert 1 <= note.lines() <= NOTE_LINES + (DETAIL_LINES - 1 if cost.unsendable else 0)
        assert wrapped_lines(fm, shown, width) <= note.lines(), (info.id, shown)
        if not cost.unsendable and full:
            # the sentence that explains the price is there whole, not cut to "…"
            assert shown.startswith(_first_sentence(full)), (info.id, shown)
            assert shown == full or shown.endswith(" …")
            assert note.toolTip() == ("" if shown == full else full)  # the rest is in the tooltip
            assert cost.price.text() != CANT_RUN
        if info.id == "bfl":  # the note the review found cut to "Estimate: BFL's formula (black-fo…"
            assert shown.startswith(
                "Estimate: 5¢ for the first output MP, 5¢ per further MP, 5¢ per input MP."
            )
        y = w.run_button.mapTo(w, w.run_button.rect().topLeft()).y()
        seen[info.id] = (y, cost.height(), note.y() + note.height())
    assert len({v[0] for v in seen.values()}) == 1, seen  # Run never moves with the provider
    assert len({v[1] for v in seen.values()}) == 1, seen
    assert w.cost._budget[1] == NOTE_LINES  # the longest note needs more than one line here: it wraps
