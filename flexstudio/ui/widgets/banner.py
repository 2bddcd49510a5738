"""The message bar at the top of the window: one clear sentence (info, warning, error) with an optional
action button ("Open Settings", "Undo"); never a traceback, never a modal box."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QToolButton, QWidget

from . import theme
from .a11y import announcer

GLYPHS = {"info": "i", "success": "✓", "warning": "!", "error": "!"}
LEVEL_WORDS = {"info": "Information", "success": "Done", "warning": "Warning", "error": "Error"}


class MessageBar(QFrame):
    shown = Signal()  # a message appeared (the window places the bar)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("messagebar")
        self.setAccessibleName("Message")
        self.level = "info"
        lay = QHBoxLayout(self)
        lay.setContentsMargins(10, 6, 6, 6)
        lay.setSpacing(8)
        self.glyph = QLabel()
        self.glyph.setFixedSize(20, 20)
        self.glyph.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.text = QLabel()
        self.text.setTextFormat(Qt.TextFormat.PlainText)  # messages may quote a provider: text, not markup
        self.text.setWordWrap(True)
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.action = QPushButton()
        self.action.hide()
        self.close_button = QToolButton()
        self.close_button.setText("✕")
        self.close_button.setAutoRaise(True)
        self.close_button.setToolTip("Dismiss")
        self.close_button.setAccessibleName("Dismiss the message")
        self.close_button.clicked.connect(self.dismiss)
        lay.addWidget(self.glyph)
        lay.addWidget(self.text, 1)
        lay.addWidget(self.action)
        lay.addWidget(self.close_button)
        self._callback: Callable[[], None] | None = None
        self.action.clicked.connect(self._act)
        self._timer = QTimer(self, singleShot=True)
        self._timer.timeout.connect(self.dismiss)
        self.hide()

    def show_message(
        self,
        level: str,
        text: str,
        *,
        action: str | None = None,
        callback: Callable[[], None] | None = None,
        timeout_ms: int | None = None,
    ) -> None:
        self.level = level
        accent = theme.LEVEL_ACCENTS.get(level, theme.LEVEL_ACCENTS["info"])
        bg = theme.tinted(accent, 0.16)
        self.setStyleSheet(
            f"QFrame#messagebar {{ background: {bg.name()}; border: 1px solid {accent};"
            " border-radius: 6px; }"
        )
        self.glyph.setText(GLYPHS.get(level, "i"))
        self.glyph.setAccessibleName(LEVEL_WORDS.get(level, "Information"))  # not "i" or "!"
        self.glyph.setStyleSheet(
            f"background: {accent}; color: white; border-radius: 10px; font-weight: bold;"
        )
        self.text.setText(text)
        self._callback = callback
        self.action.setVisible(bool(action))
        if action:
            self.action.setText(action)
        self._timer.stop()
        if timeout_ms:
            self._timer.start(timeout_ms)
        self.setAccessibleName(f"{LEVEL_WORDS.get(level, 'Information')} message")
        self.show()
        self.shown.emit()
        # Said at once, without moving the focus; an error interrupts what is being read.
        announcer().say(
            self.text, f"{LEVEL_WORDS.get(level, 'Information')}: {text}", assertive=level == "error"
        )

    def _act(self) -> None:
        cb = self._callback
        self.dismiss()
        if cb is not None:
            cb()

    def dismiss(self) -> None:
        self._timer.stop()
        self._callback = None
        self.hide()

    def message(self) -> str:
        return self.text.text() if self.isVisible() else ""
