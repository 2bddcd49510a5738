"""The window's answer to a damaged settings file (moved aside at start): name the file and what it held
(spending limits, endpoints), and ask whether to go on with default settings — saved, so paid work is
allowed again — or not now, when paid work stays refused and the Sandbox still works."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox, QWidget

USE_DEFAULTS = "Go on with default settings"
NOT_NOW = "Not now"


class SettingsFaultDialog(QMessageBox):
    def __init__(self, moved: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("settingsFaultDialog")
        self.setIcon(QMessageBox.Icon.Warning)
        self.setWindowTitle("The settings could not be read — FlexStudio")
        self.setTextFormat(Qt.TextFormat.PlainText)  # a path is shown as written
        self.setText(f"The settings file was damaged; it was moved aside to {moved}.")
        self.setInformativeText(
            "Your spending limits, provider addresses and custom endpoints in it are not in effect, so "
            "FlexStudio sends no paid work until you confirm the default settings (set your limits again "
            "in Settings afterwards) or repair the file and name it settings.json again. The Sandbox "
            "works meanwhile."
        )
        self.defaults_button = self.addButton(USE_DEFAULTS, QMessageBox.ButtonRole.AcceptRole)
        self.later_button = self.addButton(NOT_NOW, QMessageBox.ButtonRole.RejectRole)
        self.setDefaultButton(self.later_button)
        self.setEscapeButton(self.later_button)

    def wants_defaults(self) -> bool:
        self.exec()
        return self.clickedButton() is self.defaults_button
