"""Text from outside — a provider's error, a prompt — is shown in the window exactly as written:
markup in it is text (never bold, never an image fetched), on the job card, its tooltip and the
results view."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.gui

MARKUP = "<b>bold</b><img src='http://127.0.0.1:9/x.png'> &amp;"


def test_provider_markup_and_prompt_markup_are_shown_literally(open_window: Any, qtbot: Any) -> None:
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QLabel

    from flexstudio.core.errors import ErrorKind, ProviderError
    from flexstudio.providers.base import ProviderInfo
    from flexstudio.providers.sandbox import PROFILES

    sandbox = PROFILES[0]

    class Hostile:
        def __init__(self, info: Any) -> None:
            self.info = info

        async def submit(self, request: Any, refs: Any) -> Any:
            raise ProviderError(f"Acme refused: {MARKUP}", kind=ErrorKind.VALIDATION, status=400)

    info = ProviderInfo(
        id="acme",
        label="Acme",
        protocol="sandbox",
        capabilities=sandbox.capabilities,
        default_base_url="",
        needs_key=False,
        factory=lambda ctx: Hostile(info),
    )
    w = open_window()
    w.services.registry._infos["acme"] = info  # test-only: a provider whose refusal carries markup
    w.controls.set_key_status({})
    w.wb.set_provider("acme")
    w.prompt.setPlainText(f"a chair {MARKUP}")
    w.controller.run()
    qtbot.waitUntil(lambda: len(w.controller.started) == 1)
    job = w.controller.started[0]
    qtbot.waitUntil(lambda: w.jobs.latest[job].state == "failed")
    card = w.jobs_panel.cards[job]
    assert MARKUP in card.sentence.text()
    for label in card.findChildren(QLabel):
        if MARKUP in label.text() or "<b>" in label.text():
            assert label.textFormat() == Qt.TextFormat.PlainText, label.objectName() or label.text()
    tip = card.toolTip()
    assert "<b>" not in tip and "&lt;b&gt;bold&lt;/b&gt;" in tip  # escaped: a tooltip shows it as text
    assert card.title.textFormat() == Qt.TextFormat.PlainText


def test_results_view_escapes_the_provider_sentence(qapp: Any) -> None:
    from flexstudio.jobs.events import JobEvent
    from flexstudio.ui.dialogs.results_dialog import ResultCard

    card = ResultCard("j1", f"a chair {MARKUP}", None)
    card.update_event(
        JobEvent(
            job_id="j1", state="failed", error_message=f"Acme refused: {MARKUP}", error_kind="validation"
        )
    )
    text = card.state_label.text()
    assert "<b>bold</b>" not in text and "&lt;b&gt;bold&lt;/b&gt;" in text  # rich text, the words escaped
    card.deleteLater()
