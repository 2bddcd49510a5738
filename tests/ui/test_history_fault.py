"""The window started on a history file it cannot read: a dialog names the file, "Move aside and start
fresh" keeps the old file beside the new one, and the window then works (a job runs and is listed).
"Quit" leaves everything as it was."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.gui

JUNK = b"this is not a database, it is a shopping list\n" * 200


def _answer(button_text: str, seen: list[str]) -> Callable[[], None]:
    """Click ``button_text`` on the modal dialog as soon as it is up (records the dialog's text)."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QMessageBox

    def click() -> None:
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox):
            QTimer.singleShot(10, click)
            return
        seen.append(box.text() + "\n" + box.informativeText())
        (button,) = [b for b in box.buttons() if b.text() == button_text]
        button.click()

    return click


def _damage(home: Path, data: bytes) -> Path:
    db = home / "data" / "history.sqlite3"
    db.parent.mkdir(parents=True, exist_ok=True)
    db.write_bytes(data)
    return db


def test_corrupt_history_dialog_moves_it_aside_and_the_window_works(
    qapp: Any, qtbot: Any, home: Path, open_window: Any
) -> None:
    from PySide6.QtCore import QTimer

    from flexstudio import app
    from flexstudio.core.request import EditRequest
    from tests.ui.conftest import run

    db = _damage(home, JUNK)
    seen: list[str] = []
    QTimer.singleShot(0, _answer("Move aside and start fresh", seen))
    services = app.build_services()
    assert services is not None
    assert seen and str(db) in seen[0] and "cannot be read" in seen[0]
    kept = [p for p in db.parent.iterdir() if p.name.startswith("history.sqlite3.broken-")]
    assert len(kept) == 1 and kept[0].read_bytes() == JUNK  # the old file is kept, untouched
    window = None
    try:
        window = open_window(services)
        rec = run(qtbot, services.runner.run(EditRequest(prompt="after the move", size=(64, 64))))
        assert rec.state == "succeeded"
        qtbot.waitUntil(lambda: window.history_model.rowCount() == 1)
        assert [r.id for r in services.history.list()] == [rec.id]
    finally:
        if window is not None:
            window.close()  # as quitting does: the window stops its batched history updates, then services close
        run(qtbot, services.aclose())


def test_truncated_history_is_caught_before_the_window_and_quit_leaves_it(qapp: Any, home: Path) -> None:
    import sqlite3

    from PySide6.QtCore import QTimer

    from flexstudio import app
    from flexstudio.core.request import EditRequest
    from flexstudio.storage.history import History

    db = home / "data" / "history.sqlite3"
    h = History(db)
    h.bulk_insert((EditRequest(prompt=f"job {i} " + "x" * 400), "succeeded", float(i)) for i in range(400))
    h.close()
    con = sqlite3.connect(db)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    data = db.read_bytes()
    db.write_bytes(data[: len(data) // 3])
    seen: list[str] = []
    QTimer.singleShot(0, _answer("Quit", seen))
    assert app.build_services() is None
    assert seen and str(db) in seen[0]
    assert db.read_bytes() == data[: len(data) // 3]  # Quit touches nothing
    assert not [p for p in db.parent.iterdir() if ".broken-" in p.name]
