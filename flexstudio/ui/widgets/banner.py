"""The message bar above the pictures: one clear sentence (info, warning, error) with an optional action
button ("Open Settings", "Undo"); never a traceback, never a modal box. It has its own row
(``MessageRow``): it never covers the pictures' captions; the text takes the width, the buttons their
labels' width, and what does not fit three lines waits behind "Details…"."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, QVariantAnimation, Signal
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from . import theme
from .a11y import announcer
from .labels import fit_lines

MAX_LINES = 3  # the rest of a long message (a restore's "left out" list) is behind "Details…"

GLYPHS = {"info": "i", "success": "✓", "warning": "!", "error": "!"}
LEVEL_WORDS = {"info": "Information", "success": "Done", "warning": "Warning", "error": "Error"}


class MessageBar(QFrame):
    shown = Signal()  # a message appeared
    hidden = Signal()  # it went

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
        self.text.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.text.setMinimumWidth(120)
        self.text.installEventFilter(self)  # its width decides how much of a long message shows
        self.action = QPushButton()
        self.action.hide()
        self.details = QPushButton("Details…")
        self.details.setToolTip("Show the whole message")
        self.details.hide()
        self.details.clicked.connect(self._toggle_details)
        for b in (self.action, self.details):  # a button is as wide as its label, never squeezed
            b.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        self.close_button = QToolButton()
        self.close_button.setText("✕")
        self.close_button.setAutoRaise(True)
        self.close_button.setToolTip("Dismiss")
        self.close_button.setAccessibleName("Dismiss the message")
        self.close_button.clicked.connect(self.dismiss)
        lay.addWidget(self.glyph)
        lay.addWidget(self.text, 1)
        lay.addWidget(self.details)
        lay.addWidget(self.action)
        lay.addWidget(self.close_button)
        self._callback: Callable[[], None] | None = None
        self._full = ""  # the whole message (the label may show its first sentences)
        self._expanded = False
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
        self._full = text
        self._expanded = False
        self._fit()
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
        was = self.isVisible()
        self.hide()
        if was:
            self.hidden.emit()

    def message(self) -> str:
        return self._full if self.isVisible() else ""

    def _toggle_details(self) -> None:
        self._expanded = not self._expanded
        self._fit()

    def _fit(self) -> None:
        """The first sentences that fit ``MAX_LINES`` at the label's width, "Details…" for the rest."""
        full = self._full
        width = self.text.width() if self.text.width() > 20 else max(120, self.width() - 120)
        short = full if self._expanded else fit_lines(self.text.fontMetrics(), full, width, MAX_LINES)
        self.details.setVisible(self._expanded or short != full)
        self.details.setText("Less" if self._expanded else "Details…")
        self.text.setAccessibleDescription(full if short != full else "")
        if short != self.text.text():
            self.text.setText(short)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.text and event.type() == QEvent.Type.Resize and self._full:
            self._fit()
        return super().eventFilter(watched, event)


class MessageRow(QWidget):
    """The message bar's own row above the pictures. It opens when a message comes; when it goes, the
    row closes over a moment instead of at once, so what is under the pointer does not jump."""

    def __init__(self, bar: MessageBar, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.bar = bar
        lay = QVBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 4)
        lay.addWidget(bar)
        self._closing = QVariantAnimation(self)
        self._closing.setDuration(220)
        self._closing.valueChanged.connect(lambda v: self.setFixedHeight(int(v)))
        self._closing.finished.connect(self._closed)
        bar.shown.connect(self._open)
        bar.hidden.connect(self._close)
        self.hide()

    def _open(self) -> None:
        self._closing.stop()
        self.setMinimumHeight(0)
        self.setMaximumHeight(16777215)
        self.show()

    def _close(self) -> None:
        if not self.isVisible():
            return
        self._closing.stop()
        self.setFixedHeight(self.height())  # held until the animation takes it down
        self._closing.setStartValue(self.height())
        self._closing.setEndValue(0)
        self._closing.start()

    def _closed(self) -> None:
        if not self.bar.isVisible():
            self.hide()
            self.setMinimumHeight(0)
            self.setMaximumHeight(16777215)
