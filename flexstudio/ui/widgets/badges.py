"""The small badge beside a control the selected provider ignores, renames or converts (from the
provider's capabilities, never its name); the note is the tooltip."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtWidgets import QLabel, QWidget

from ...providers.base import Support
from . import theme

if TYPE_CHECKING:
    from ...providers.base import FieldHandling

_ACCENT = {Support.IGNORED: "#e8590c", Support.RENAMED: "#1c7ed6", Support.CONVERTED: "#ae3ec9"}


class Badge(QLabel):
    def __init__(self, field: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.field = field
        self.support: Support = Support.HONOURED
        self.setFont(theme.small_font(self, -1.5))
        self.hide()

    def set_handling(self, handling: FieldHandling, label: str) -> None:
        self.support = handling.support
        if handling.support == Support.HONOURED:
            self.hide()
            return
        accent = _ACCENT[handling.support]
        self.setText(handling.support.value)
        bg = theme.tinted(accent, 0.22)
        self.setStyleSheet(f"QLabel {{ background: {bg.name()}; border: 1px solid {accent}; border-radius: 6px;"
                           " padding: 0px 4px; }")
        what = {Support.IGNORED: f"{label} does not use this setting",
                Support.RENAMED: f"{label} takes this setting under another name",
                Support.CONVERTED: f"{label} takes this setting in another form"}[handling.support]
        self.setToolTip(f"{what}{': ' + handling.note if handling.note else '.'}")
        self.setAccessibleName(f"{self.field} {handling.support.value}")
        self.setAccessibleDescription(self.toolTip())
        self.show()
