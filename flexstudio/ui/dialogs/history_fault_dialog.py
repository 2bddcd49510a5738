"""The window's answer to one of its own files it cannot read (the history, the batch list): say which
file, what it holds and why, and offer to move it aside (the old file is kept, next to it) and start
fresh — or leave it be."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox, QWidget

log = logging.getLogger(__name__)
MOVE_ASIDE = "Move aside and start fresh"


class HistoryFaultDialog(QMessageBox):
    def __init__(self, fault: Any, parent: QWidget | None = None, *, leave: str = "Quit") -> None:
        super().__init__(parent)
        from ...storage.faults import BatchesUnreadable, aside_name

        batches = isinstance(fault, BatchesUnreadable)
        self.setObjectName("batchesFaultDialog" if batches else "historyFaultDialog")
        self.setIcon(QMessageBox.Icon.Warning)
        title = "The batch list cannot be read" if batches else "The history cannot be read"
        self.setWindowTitle(f"{title} — FlexStudio")
        self.setTextFormat(Qt.TextFormat.PlainText)  # a path or an error text is shown as written
        self.setText(fault.headline())
        kept = (
            "Batches started earlier can then no longer be resumed; your history, its jobs and images "
            "are not touched."
            if batches
            else "Your images in the history folder are not touched."
        )
        self.setInformativeText(
            f"FlexStudio can move it aside to {aside_name(fault.path).name} — the old file "
            f"is kept, next to it — and start with {fault.fresh}. {kept}"
        )
        self.move_button = self.addButton(MOVE_ASIDE, QMessageBox.ButtonRole.AcceptRole)
        self.quit_button = self.addButton(leave, QMessageBox.ButtonRole.RejectRole)
        self.setDefaultButton(self.move_button)
        self.setEscapeButton(self.quit_button)

    def wants_move_aside(self) -> bool:
        self.exec()
        return self.clickedButton() is self.move_button


def offer_move_aside(
    fault: Any, parent: QWidget, say: Callable[..., None], then: Callable[[], Any]
) -> HistoryFaultDialog | None:
    """A storage fault met while opening part of the window (Run → Batch…): the sentence in the message
    bar and, for a damaged file, the dialog offering to move it aside; ``then()`` runs once it was moved.
    Not modal-blocking: the window's loop keeps running while the dialog is up."""
    from ...storage import faults

    say("error", fault.headline() if isinstance(fault, faults.FileUnreadable) else str(fault))
    if not isinstance(fault, faults.FileUnreadable):
        return None
    box = HistoryFaultDialog(fault, parent, leave="Cancel")

    def done(_result: int) -> None:
        if box.clickedButton() is not box.move_button:
            return
        try:
            moved = faults.move_aside(fault.path)
        except OSError as exc:
            say("error", f"{fault.path.name} could not be moved aside ({exc.strerror or exc}).")
            return
        log.warning("the unreadable %s was moved aside to %s", fault.path.name, moved)
        say("info", f"Moved the damaged file aside to {moved.name}; {fault.fresh} was started.")
        then()

    box.finished.connect(done)
    box.open()
    return box
