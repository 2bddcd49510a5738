"""The file dialogs the window asks through, one function each, so that tests replace them (a real modal
dialog in a test waits for a click that never comes)."""

from __future__ import annotations

from PySide6.QtWidgets import QFileDialog, QWidget


def existing_folder(parent: QWidget | None, title: str, start: str) -> str:
    """The folder the designer picks, starting at ``start``; ``""`` when they cancel."""
    return QFileDialog.getExistingDirectory(parent, title, start)
