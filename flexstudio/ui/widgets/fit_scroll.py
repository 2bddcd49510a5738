"""A vertical scroll area that never cuts its content at the side: it is at least as wide as the content's
minimum plus the scroll bar, and asks for the content's full height (it scrolls only when the screen is
short)."""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt
from PySide6.QtWidgets import QFrame, QScrollArea, QSizePolicy, QWidget


class FitScrollArea(QScrollArea):
    def __init__(self, content: QWidget, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWidgetResizable(True)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setSizePolicy(
            QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum
        )  # never more than it holds
        self.setWidget(content)

    def _bar(self) -> int:
        # the style's scroll-bar extent, as the bar itself reports it (without building QStyle's enums)
        return self.verticalScrollBar().sizeHint().width()

    def minimumSizeHint(self) -> QSize:
        content = self.widget()
        inner = content.minimumSizeHint() if content is not None else QSize(0, 0)
        return QSize(inner.width() + self._bar() + 2, min(inner.height(), 96))

    def sizeHint(self) -> QSize:
        content = self.widget()
        inner = content.sizeHint() if content is not None else QSize(0, 0)
        return QSize(inner.width() + self._bar() + 2, inner.height())
