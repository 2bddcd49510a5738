"""An error nobody caught while the window runs — in a Qt slot or an asyncio callback — is one sentence in
the message bar (no class name, no traceback) and its traceback goes to the error log, keys scrubbed."""

from __future__ import annotations

import sys
from typing import Any

import pytest

pytestmark = pytest.mark.gui
KEY = "bfl_UNCAUGHT_9f8e7d6c"


def test_uncaught_errors_are_one_sentence_in_the_message_bar_and_logged(
    open_window: Any, qtbot: Any, qloop: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from PySide6.QtCore import QTimer

    from flexstudio import app
    from flexstudio.storage.faults import LOG_NAME

    w = open_window()
    w.services.secrets._seen.add(KEY)  # a key this process has read: never written to the log
    monkeypatch.setattr(sys, "excepthook", sys.excepthook)  # put back after the test
    app.watch_errors(qloop, w, w.services)
    log = w.services.paths.logs / LOG_NAME
    try:

        def slot() -> None:
            raise ValueError(f"a slot went wrong with {KEY}")

        QTimer.singleShot(0, slot)
        qtbot.waitUntil(lambda: w.banner.isVisible() and "went wrong" in w.banner.text.text())
        said = w.banner.text.text()
        assert str(log) in said and "ValueError" not in said and "Traceback" not in said
        text = log.read_text()
        assert "ValueError: a slot went wrong" in text and KEY not in text

        w.banner.dismiss()

        def callback() -> None:
            raise LookupError("a loop callback went wrong")

        qloop.call_soon(callback)
        qtbot.waitUntil(lambda: w.banner.isVisible() and "went wrong" in w.banner.text.text())
        assert "LookupError: a loop callback went wrong" in log.read_text()
    finally:
        qloop.set_exception_handler(None)
