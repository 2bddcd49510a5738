"""The prompt editor: multi-line, "image N" mentions highlighted in their chip's colour, ``#rrggbb``
shown as a swatch, prompt history on Alt+Up / Alt+Down. In JSON mode (FLUX.2's structured prompt) the
same marks apply inside the JSON's text values, keys are set apart and the spot a parse error points at is
underlined."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

from PySide6.QtCore import QMimeData, QSize, Qt, Signal
from PySide6.QtGui import QColor, QKeyEvent, QSyntaxHighlighter, QTextCharFormat, QTextDocument
from PySide6.QtWidgets import QPlainTextEdit, QWidget

from ..models import mentions
from . import theme

# One JSON string on a line (JSON text cannot span lines), closed or not; a key when ':' follows.
_JSON_STRING = re.compile(r'"(?:[^"\\\n]|\\.)*"?')
_KEY_AFTER = re.compile(r"\s*:")


class PromptHighlighter(QSyntaxHighlighter):
    def __init__(self, document: QTextDocument) -> None:
        super().__init__(document)
        self.count = 0  # references in the tray: a mention beyond it is marked as dangling
        self.json_mode = False
        self.error_at: tuple[int, int] = (0, 0)  # JSON mode: 1-based line and column of the parse error
        # where the prompt names a removed picture, (start, end) in the whole text: the workbench knows
        self.gone: Callable[[], Sequence[tuple[int, int]]] = tuple

    def set_json(self, on: bool, error_at: tuple[int, int] = (0, 0)) -> None:
        if (on, error_at) != (self.json_mode, self.error_at):
            self.json_mode, self.error_at = on, error_at
            self.rehighlight()

    def set_count(self, count: int) -> None:
        if count != self.count:
            self.count = count
            self.rehighlight()

    def highlightBlock(self, text: str) -> None:
        if not self.json_mode:
            self._marks(text, 0)
            return
        key_colour = theme.muted()
        for m in _JSON_STRING.finditer(text):
            if _KEY_AFTER.match(text, m.end()):
                fmt = QTextCharFormat()
                fmt.setForeground(key_colour)
                self.setFormat(m.start(), m.end() - m.start(), fmt)
            else:
                self._marks(m.group(0), m.start())
        line, col = self.error_at
        if line and self.currentBlock().blockNumber() == line - 1:
            start = max(0, min(col - 1, len(text) - 1))
            for i in range(start, max(start + 1, len(text))):
                fmt = self.format(i)
                fmt.setUnderlineStyle(QTextCharFormat.UnderlineStyle.WaveUnderline)
                fmt.setUnderlineColor(QColor("#e03131"))
                self.setFormat(i, 1, fmt)

    def _marks(self, text: str, offset: int) -> None:
        """Mentions and colour swatches in ``text``, which starts at ``offset`` in the block."""
        for start, length, n in mentions.mentions(text):
            fmt = QTextCharFormat()
            if 1 <= n <= self.count:
                colour = theme.chip_colour(n - 1)
                bg = QColor(colour)
                bg.setAlpha(70)
                fmt.setBackground(bg)
                fmt.setUnderlineStyle(QTextCharFormat.UnderlineStyle.SingleUnderline)
                fmt.setUnderlineColor(colour)
                fmt.setFontWeight(700)
                fmt.setToolTip(f"Reference image {n}")
            else:
                fmt.setUnderlineStyle(QTextCharFormat.UnderlineStyle.WaveUnderline)
                fmt.setUnderlineColor(QColor("#e03131"))
                fmt.setToolTip(f"There is no image {n} in the tray")
            self.setFormat(offset + start, length, fmt)
        block = self.currentBlock().position() + offset
        for a, b in self.gone():  # a mention of a picture that was removed: it points at nothing now
            if block <= a and b <= block + len(text):
                fmt = QTextCharFormat()
                fmt.setUnderlineStyle(QTextCharFormat.UnderlineStyle.WaveUnderline)
                fmt.setUnderlineColor(QColor("#e03131"))
                fmt.setForeground(QColor("#e03131"))
                tint = QColor("#e03131")
                tint.setAlpha(40)
                fmt.setBackground(tint)
                fmt.setToolTip("This names an image you removed. Change it, or Ctrl+Z brings the image back.")
                self.setFormat(a - block + offset, b - a, fmt)
        for start, length, hexcode in mentions.colours(text):
            colour = QColor(hexcode)
            fmt = QTextCharFormat()
            fmt.setBackground(colour)
            fmt.setForeground(theme.readable_on(colour))
            fmt.setToolTip(hexcode)
            self.setFormat(offset + start, length, fmt)


class PromptEdit(QPlainTextEdit):
    """``edited(text)`` on every change by the user; ``set_text`` for changes from the model."""

    edited = Signal(str)
    imagesPasted = Signal(object)  # QMimeData with images or image files: they go to the tray

    def __init__(self, history: Callable[[], list[str]] | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("prompt")
        self.setAccessibleName("Prompt")
        self.setPlaceholderText(
            "Describe the edit — mention references as “image 1”, “image 2”, "
            "colours as #ff6600.  Ctrl+Enter runs; Alt+↑/↓ recalls earlier prompts."
        )
        self.setTabChangesFocus(True)
        self.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        self.highlighter = PromptHighlighter(self.document())
        self._history_source = history
        self._history: list[str] | None = None
        self._pos = -1
        self._draft = ""
        self._quiet = False
        self._last = ""
        self.textChanged.connect(self._changed)

    def sizeHint(self) -> QSize:  # five lines: more only when the window has room to spare
        fm = self.fontMetrics()
        return QSize(super().sizeHint().width(), 5 * fm.lineSpacing() + 12)

    def _changed(self) -> None:
        # textChanged also fires when the highlighter re-colours the text: only real edits go out.
        text = self.toPlainText()
        if not self._quiet and text != self._last:
            self._last = text
            self._pos = -1
            self.edited.emit(text)

    def text(self) -> str:
        return self.toPlainText()

    def set_text(self, text: str) -> None:
        """Show ``text`` without echoing it back as an edit; keeps the cursor where it was if possible."""
        if text == self.toPlainText():
            return
        cursor = self.textCursor()
        pos = cursor.position()
        self._quiet = True
        try:
            self.setPlainText(text)
            self._last = text
        finally:
            self._quiet = False
        cursor = self.textCursor()
        cursor.setPosition(min(pos, len(text)))
        self.setTextCursor(cursor)

    def set_reference_count(self, n: int) -> None:
        self.highlighter.set_count(n)

    def set_json_mode(self, on: bool, error_at: tuple[int, int] = (0, 0)) -> None:
        """Mark the text as FLUX.2 JSON (and where its parse error is), or as plain text."""
        self.highlighter.set_json(on, error_at if on else (0, 0))
        self.setAccessibleDescription("FLUX.2 JSON structured prompt" if on else "")

    def insert_template(self, text: str) -> None:
        """Replace the text by ``text`` as one edit the user can undo (Ctrl+Z)."""
        cursor = self.textCursor()
        cursor.beginEditBlock()
        cursor.select(cursor.SelectionType.Document)
        cursor.insertText(text)
        cursor.endEditBlock()
        cursor.setPosition(0)
        self.setTextCursor(cursor)

    def reload_history(self) -> None:
        self._history = None

    # ------------------------------------------------------------------ history
    def _prompts(self) -> list[str]:
        if self._history is None:
            self._history = self._history_source() if self._history_source else []
        return self._history

    def recall(self, step: int) -> None:
        """Step through earlier prompts: ``step`` -1 goes back in time (Alt+Up), +1 forward."""
        prompts = self._prompts()
        if not prompts:
            return
        if self._pos == -1:
            self._draft = self.toPlainText()
        pos = self._pos + (1 if step < 0 else -1)
        if pos >= len(prompts):
            return
        text = self._draft if pos < 0 else prompts[pos]
        self._quiet = True
        try:
            self.setPlainText(text)
            self._last = text
            self.moveCursor(self.textCursor().MoveOperation.End)
        finally:
            self._quiet = False
        self._pos = max(-1, pos)
        self.edited.emit(text)

    # ------------------------------------------------------------------ images pasted or dropped here
    @staticmethod
    def _is_images(mime: QMimeData) -> bool:
        if mime.hasImage():
            return True
        urls = mime.urls() if mime.hasUrls() else []
        return bool(urls) and all(u.isLocalFile() for u in urls)

    def canInsertFromMimeData(self, source: QMimeData) -> bool:
        return self._is_images(source) or super().canInsertFromMimeData(source)

    def insertFromMimeData(self, source: QMimeData) -> None:
        if self._is_images(source):
            self.imagesPasted.emit(source)
        else:
            super().insertFromMimeData(source)

    def keyPressEvent(self, e: QKeyEvent) -> None:
        if e.modifiers() & Qt.KeyboardModifier.AltModifier and e.key() in (Qt.Key.Key_Up, Qt.Key.Key_Down):
            self.recall(-1 if e.key() == Qt.Key.Key_Up else 1)
            e.accept()
            return
        if (
            e.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter)
            and e.modifiers() & Qt.KeyboardModifier.ControlModifier
        ):
            e.ignore()  # Ctrl+Enter runs (the window's action), never a newline
            return
        super().keyPressEvent(e)

    def event(self, e: Any) -> bool:
        # Let the window's Ctrl+Enter reach its action even while typing here.
        if (
            e.type() == e.Type.ShortcutOverride
            and isinstance(e, QKeyEvent)
            and e.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter)
            and e.modifiers() & Qt.KeyboardModifier.ControlModifier
        ):
            e.ignore()
            return False
        return super().event(e)
