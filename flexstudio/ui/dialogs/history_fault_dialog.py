"""The window's answer to a history file it cannot read: say which file and why, and offer to move it
aside (the old file is kept, next to it) and start with a fresh history — or quit and leave it be."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox, QWidget

MOVE_ASIDE = "Move aside and start fresh"


class HistoryFaultDialog(QMessageBox):
    def __init__(self, fault: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        from ...storage.faults import aside_name

        self.setObjectName("historyFaultDialog")
        self.setIcon(QMessageBox.Icon.Warning)
        self.setWindowTitle("The history cannot be read — FlexStudio")
        self.setTextFormat(Qt.TextFormat.PlainText)  # a path or an error text is shown as written
        self.setText(f"The history file {fault.path} cannot be read ({fault.detail}).")
        self.setInformativeText(
            f"FlexStudio can move it aside to {aside_name(fault.path).name} — the old file "
            "is kept, next to it — and start with a fresh history. Your images in the "
            "history folder are not touched."
        )
        self.move_button = self.addButton(MOVE_ASIDE, QMessageBox.ButtonRole.AcceptRole)
        self.quit_button = self.addButton("Quit", QMessageBox.ButtonRole.RejectRole)
        self.setDefaultButton(self.move_button)
        self.setEscapeButton(self.quit_button)

    def wants_move_aside(self) -> bool:
        self.exec()
        return self.clickedButton() is self.move_button
