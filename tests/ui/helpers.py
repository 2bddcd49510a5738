"""Small helpers for driving the window like a person would."""

from __future__ import annotations

import warnings
from typing import Any

from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QWidget


def drop(widget: QWidget, mime: QMimeData, pos: QPointF | None = None) -> QDropEvent:
    """Drag ``mime`` onto ``widget`` and drop it at ``pos`` (default: the middle): enter, move, drop —
    Qt only delivers a drop to the widget that accepted the drag's enter event."""
    at = pos if pos is not None else QPointF(widget.rect().center())
    actions = Qt.DropAction.CopyAction | Qt.DropAction.MoveAction
    buttons, mods = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    with warnings.catch_warnings():  # PySide6 binds only the QPoint constructors, marked deprecated
        warnings.simplefilter("ignore", DeprecationWarning)
        enter = QDragEnterEvent(at.toPoint(), actions, mime, buttons, mods)
        move = QDragMoveEvent(at.toPoint(), actions, mime, buttons, mods)
    QApplication.sendEvent(widget, enter)
    QApplication.sendEvent(widget, move)
    ev = QDropEvent(at, actions, mime, buttons, mods)
    QApplication.sendEvent(widget, ev)
    return ev


def file_mime(*paths: Any) -> QMimeData:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    return mime


def data_mime(data: bytes, fmt: str = "image/png") -> QMimeData:
    mime = QMimeData()
    mime.setData(fmt, data)
    return mime


def job_states(window: Any) -> dict[str, str]:
    return {jid: ev.state for jid, ev in window.jobs.latest.items()}
