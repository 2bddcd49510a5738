"""Guard against a Qt binding that leaks references to None (PySide6 6.12.0 does: every
``QModelIndex.data()`` that returns None loses one, and Python 3.11 aborts when None's count reaches 0 —
scrolling a long history would crash the window)."""

from __future__ import annotations

import sys

import pytest


@pytest.mark.gui
def test_model_data_returning_none_keeps_none_alive():
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QStandardItem, QStandardItemModel

    model = QStandardItemModel(1, 1)
    model.setItem(0, 0, QStandardItem("x"))
    index = model.index(0, 0)
    before = sys.getrefcount(None)
    for _ in range(2000):
        assert index.data(Qt.ItemDataRole.DecorationRole) is None
    assert sys.getrefcount(None) - before > -50  # a leak would show as about -2000
