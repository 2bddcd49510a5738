"""One undo list for the window: removing, clearing and reordering references and deleting history jobs
(Ctrl+Z undoes the latest, Ctrl+Shift+Z redoes it). Each step is a pair of callables."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QObject, Signal


@dataclass(frozen=True)
class Step:
    text: str  # "Remove image 2", "Delete 1 job"
    undo: Callable[[], None]
    redo: Callable[[], None]


class UndoList(QObject):
    changed = Signal()

    LIMIT = 50

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.done: list[Step] = []
        self.undone: list[Step] = []

    def push(self, text: str, undo: Callable[[], None], redo: Callable[[], None]) -> None:
        self.done.append(Step(text, undo, redo))
        del self.done[: -self.LIMIT]
        self.undone.clear()
        self.changed.emit()

    def undo(self) -> str:
        """Undo the latest step; its text ("" when there is nothing to undo)."""
        if not self.done:
            return ""
        step = self.done.pop()
        step.undo()
        self.undone.append(step)
        self.changed.emit()
        return step.text

    def redo(self) -> str:
        if not self.undone:
            return ""
        step = self.undone.pop()
        step.redo()
        self.done.append(step)
        self.changed.emit()
        return step.text

    def next_undo(self) -> str:
        return self.done[-1].text if self.done else ""

    def next_redo(self) -> str:
        return self.undone[-1].text if self.undone else ""
