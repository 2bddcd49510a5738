"""Small label widgets."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QEvent, QRect, Qt
from PySide6.QtGui import QFontMetrics
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


def _wrapped_height(fm: QFontMetrics, text: str, width: int) -> int:
    return fm.boundingRect(QRect(0, 0, max(1, width), 100000), Qt.TextFlag.TextWordWrap, text).height()


def wrapped_lines(fm: QFontMetrics, text: str, width: int) -> int:
    """How many lines ``text`` takes word-wrapped at ``width`` px."""
    if not text:
        return 0
    return max(1, round(_wrapped_height(fm, text, width) / max(1, fm.lineSpacing())))


def fit_lines(fm: QFontMetrics, text: str, width: int, lines: int) -> str:
    """``text`` as it fits ``lines`` word-wrapped lines of ``width`` px: whole, else its first sentences
    and "…", else (a first sentence too long) its first words and "…"."""
    room = lines * fm.lineSpacing() + fm.leading() + 1
    if not text or _wrapped_height(fm, text, width) <= room:
        return text
    import re

    sentences = re.split(r"(?<=[.!?])\s+", text)
    kept = ""
    for s in sentences:
        trial = f"{kept} {s}".strip()
        if _wrapped_height(fm, trial + " …", width) > room:
            break
        kept = trial
    if kept:
        return kept + " …"
    words = text.split(" ")
    lo, hi = 0, len(words)  # the most words that fit with "…"
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if _wrapped_height(fm, " ".join(words[:mid]) + "…", width) <= room:
            lo = mid
        else:
            hi = mid - 1
    return " ".join(words[:lo]) + "…" if lo else fm.elidedText(text, Qt.TextElideMode.ElideRight, width)


class WrapLabel(QLabel):
    """A label of a set number of lines that wraps its text into them: whole when it fits, else as many
    whole sentences as fit and "…" (the whole text is its tooltip and its accessible name). Its height is
    the lines', whatever the text: what sits below it never moves when the text changes."""

    def __init__(self, lines: int = 2, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._full = ""
        self._lines = self._height = 0
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setWordWrap(True)
        self.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.setMinimumWidth(40)
        self.set_lines(lines)

    def set_lines(self, lines: int) -> None:
        self.set_height(self.height_of(lines))

    def set_height(self, px: int) -> None:
        """A fixed height of ``px``; the text is fitted to the whole lines it holds."""
        fm = self.fontMetrics()
        lines = max(1, (px - fm.leading() - 1) // max(1, fm.lineSpacing()))
        if (px, lines) != (self._height, self._lines):
            self._height, self._lines = px, lines
            self.setFixedHeight(px)
            self._fit()

    def lines(self) -> int:
        return self._lines

    def height_of(self, lines: int) -> int:
        fm = self.fontMetrics()
        return lines * fm.lineSpacing() + fm.leading() + 1

    def setText(self, text: str) -> None:
        if text == self._full and self.accessibleName() == text:
            return
        self._full = text
        self.setAccessibleName(text)
        self._fit()

    def full_text(self) -> str:
        return self._full

    def shown_text(self) -> str:
        return super().text()

    def changeEvent(self, e: Any) -> None:
        super().changeEvent(e)
        if e.type() == QEvent.Type.FontChange and self._lines:
            lines, self._lines = self._lines, 0
            self.set_lines(lines)

    def resizeEvent(self, e: Any) -> None:
        super().resizeEvent(e)
        self._fit()

    def _fit(self) -> None:
        width = self.contentsRect().width()
        shown = fit_lines(self.fontMetrics(), self._full, width, self._lines) if width > 0 else self._full
        super().setText(shown)
        self.setToolTip(literal_tip(self._full) if shown != self._full else "")


class SteadyLabel(QLabel):
    """A one-line label whose text changes often while work runs (a count of running jobs, a running total).
    Its size is pinned (a fixed size is what keeps Qt from relaying out the window at each new text) and only
    grows — to a new text wider than any before, or to ``widest`` from the start — so a batch's hundreds of
    updates relayout the window only when the text outgrows its place."""

    def __init__(self, text: str = "", parent: QWidget | None = None, *, widest: str = "") -> None:
        super().__init__(parent)
        self._widest = widest
        self._pinned = (0, 0)
        self.setTextFormat(Qt.TextFormat.PlainText)
        self.setText(text)

    def setText(self, text: str) -> None:
        super().setText(text)
        self._fit()

    def setContentsMargins(self, *args: Any) -> None:
        super().setContentsMargins(*args)
        self._fit()

    def changeEvent(self, e: Any) -> None:
        super().changeEvent(e)
        if e.type() in (QEvent.Type.FontChange, QEvent.Type.StyleChange):
            self._pinned = (0, 0)  # measured again in the new font
            self._fit()

    def _fit(self) -> None:
        hint = super().sizeHint()  # the current text's
        m = self.contentsMargins()
        widest = (
            self.fontMetrics().horizontalAdvance(self._widest) + m.left() + m.right() if self._widest else 0
        )
        size = (max(self._pinned[0], hint.width(), widest), max(self._pinned[1], hint.height()))
        if size != self._pinned:
            self._pinned = size
            self.setFixedSize(*size)
