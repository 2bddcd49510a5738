"""A label that changes at every job event of a batch (running jobs, spend, the history's count) does not
make Qt lay the whole window out again: its size is pinned and only grows."""

from __future__ import annotations

from typing import Any

import pytest
from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QApplication, QHBoxLayout, QLabel, QWidget

from flexstudio.ui.widgets.labels import SteadyLabel

pytestmark = pytest.mark.gui


class _Layouts(QObject):
    def __init__(self) -> None:
        super().__init__()
        self.n = 0

    def eventFilter(self, obj: Any, ev: Any) -> bool:
        if ev.type() == QEvent.Type.LayoutRequest:
            self.n += 1
        return False


def test_a_new_text_relayouts_the_window_only_when_it_outgrows_the_label(qtbot: Any) -> None:
    top = QWidget()
    qtbot.addWidget(top)
    row = QHBoxLayout(top)
    steady = SteadyLabel("No jobs running", widest="99 jobs running")
    plain = QLabel("0 jobs")
    row.addWidget(steady)
    row.addWidget(plain)
    top.show()
    qtbot.waitExposed(top)
    seen = _Layouts()
    top.installEventFilter(seen)
    QApplication.processEvents()
    seen.n = 0
    width = steady.width()
    assert width >= steady.fontMetrics().horizontalAdvance("99 jobs running")
    for n in (1, 8, 24, 3, 0):
        steady.setText(f"{n} jobs running" if n else "No jobs running")
        QApplication.processEvents()
    assert seen.n == 0 and steady.width() == width and steady.text() == "No jobs running"

    plain.setText("12345 jobs")  # an ordinary label: each new text lays the window out again
    QApplication.processEvents()
    assert seen.n >= 1

    seen.n = 0
    steady.setText("Spent: session $12.34 · today $56.78 · this month $901.23")  # wider than ever before
    QApplication.processEvents()
    assert seen.n >= 1 and steady.width() > width
    grown = steady.width()
    seen.n = 0
    steady.setText("Spent: session $0.00")
    QApplication.processEvents()
    assert seen.n == 0 and steady.width() == grown  # it does not shrink back


def test_a_larger_font_measures_it_again(qtbot: Any) -> None:
    label = SteadyLabel("7 jobs running", widest="999 jobs running")
    qtbot.addWidget(label)
    before = label.minimumWidth()
    font = label.font()
    font.setPointSizeF(font.pointSizeF() * 2)
    label.setFont(font)
    assert label.minimumWidth() > before and label.minimumWidth() == label.maximumWidth()
    assert label.minimumHeight() == label.maximumHeight() >= label.fontMetrics().height()
