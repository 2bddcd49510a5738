"""What a screen reader needs from our widgets: a label tied to a control (a combo box on Linux is named
by its current text, so only a label whose buddy it is says what it is for), announcements of things that
happen away from the focus (a job ends, a message appears), and a Tab order that follows the screen."""

from __future__ import annotations

from collections.abc import Iterable
from itertools import pairwise

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QLabel, QWidget


def label_for(widget: QWidget, text: str) -> QLabel:
    """Name ``widget`` ``text``: its accessible name and a hidden label beside it whose buddy it is (Qt
    reports a control's label only from a sibling label). For a control without a visible label; call it
    once the control is in its layout (it needs its parent)."""
    widget.setAccessibleName(text)
    parent = widget.parentWidget()
    if parent is None:
        raise ValueError("label_for needs a control that is already placed in a widget")
    label = QLabel(text, parent)
    label.setObjectName("a11y_label")
    label.setBuddy(widget)
    label.hide()
    return label


class Announcer(QObject):
    """Sends ``QAccessibleAnnouncementEvent`` (AT-SPI ``object:announcement``) and says so in
    ``announced(text, assertive)``, so that a test and a log can see what a screen reader was told."""

    announced = Signal(str, bool)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.history: list[str] = []

    def say(self, source: QObject, text: str, *, assertive: bool = False) -> None:
        text = text.strip()
        if not text:
            return
        from PySide6.QtGui import QAccessible, QAccessibleAnnouncementEvent  # the first announcement

        ev = QAccessibleAnnouncementEvent(source, text)
        ev.setPoliteness(
            QAccessible.AnnouncementPoliteness.Assertive
            if assertive
            else QAccessible.AnnouncementPoliteness.Polite
        )
        QAccessible.updateAccessibility(ev)
        self.history = [*self.history[-49:], text]
        self.announced.emit(text, assertive)


_ANNOUNCER: Announcer | None = None


def announcer() -> Announcer:
    """The application's one announcer."""
    global _ANNOUNCER
    if _ANNOUNCER is None:
        _ANNOUNCER = Announcer()
    return _ANNOUNCER


def chain(widgets: Iterable[QWidget | None]) -> None:
    """Tab goes through ``widgets`` in this order. Qt skips, when Tab is pressed, the ones hidden, disabled
    or without Tab focus at that moment (a radio group's unchecked buttons)."""
    seq = [w for w in widgets if w is not None]
    for a, b in pairwise(seq):
        QWidget.setTabOrder(a, b)
