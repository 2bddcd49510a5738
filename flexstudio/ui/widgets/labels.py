"""Small label widgets."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QSizePolicy, QWidget


def plain(label: QLabel) -> QLabel:
    """A label that shows its text as written: a provider's "<b>" or "<img …>" is text, not markup."""
    label.setTextFormat(Qt.TextFormat.PlainText)
    return label


def literal_tip(text: str) -> str:
    """A tooltip that shows ``text`` as written (Qt would render a tooltip that looks like HTML)."""
    if "<" not in text and "&" not in text:
        return text
    import html

    return "<p style='white-space:pre-wrap'>" + html.escape(text).replace("\n", "<br>") + "</p>"


class ElidingLabel(QLabel):
    """A one-line label that shortens its text with "…" instead of widening its parent."""

    def __init__(self, text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._full = ""
        self.setTextFormat(Qt.TextFormat.PlainText)  # prompts and file names are text, never markup
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.setMinimumWidth(40)
        self.setText(text)

    def setText(self, text: str) -> None:
        if text == self._full and self.accessibleName() == text:
            return  # unchanged: no tooltip/accessibility events (set once per job event in a batch)
        self._full = text
        self.setToolTip(literal_tip(text))
        self.setAccessibleName(text)  # a screen reader reads it whole, not as shortened on screen
        self._elide()

    def full_text(self) -> str:
        return self._full

    def resizeEvent(self, e: Any) -> None:
        super().resizeEvent(e)
        self._elide()

    def _elide(self) -> None:
        super().setText(
            self.fontMetrics().elidedText(self._full, Qt.TextElideMode.ElideRight, max(10, self.width()))
        )
