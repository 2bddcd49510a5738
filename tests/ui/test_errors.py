"""Refusals are one clear sentence in the window; nothing crashes, nothing is added or queued."""

from __future__ import annotations

from typing import Any

import pytest
from PySide6.QtCore import QMimeData, QUrl

from .helpers import data_mime, drop, file_mime

pytestmark = pytest.mark.gui


def _error_shown(w: Any) -> str:
    return w.banner.message() if w.banner.isVisible() and w.banner.level in ("error", "warning") else ""


def test_bad_file_dropped_shows_a_message_and_adds_nothing(
    open_window: Any, qtbot: Any, tmp_path: Any
) -> None:
    w = open_window()

    def refused(mime: QMimeData) -> str:
        w.banner.dismiss()
        drop(w.tray.view.viewport(), mime)
        qtbot.waitUntil(lambda: bool(_error_shown(w)))
        assert w.wb.references == () and w.tray.counter.text() == "0 / 8"
        return _error_shown(w)

    fake = tmp_path / "holiday.png"
    fake.write_text("this is not a picture")
    text = refused(file_mime(fake))
    assert "holiday.png" in text and "not an image" in text
    # truncated image data from a browser
    text = refused(data_mime(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40))
    assert "truncated" in text or "damaged" in text or "not an image" in text
    # a folder and a missing file
    assert "folder" in refused(file_mime(tmp_path))
    assert "no such file" in refused(file_mime(tmp_path / "gone.jpg"))


def test_web_address_is_refused_with_what_to_do(open_window: Any, qtbot: Any) -> None:
    w = open_window()
    mime = QMimeData()
    mime.setUrls([QUrl("https://example.com/cat.jpg")])
    drop(w.tray.view.viewport(), mime)
    qtbot.waitUntil(lambda: "web address" in _error_shown(w))
    assert "save the image first" in _error_shown(w)
    assert w.wb.references == ()


def test_drop_on_any_part_of_the_window_adds(open_window: Any, png_file: Any, qtbot: Any) -> None:
    w = open_window()
    drop(w.compare.canvas, file_mime(png_file("a.png")))
    qtbot.waitUntil(lambda: len(w.wb.references) == 1)


def test_tray_full_leaves_the_rest_out_with_a_message(open_window: Any, png_file: Any, qtbot: Any) -> None:
    w = open_window()
    files = [png_file(f"p{i}.png", 64 + i * 16, 64) for i in range(10)]
    drop(w.tray.view.viewport(), file_mime(*files))
    qtbot.waitUntil(lambda: bool(_error_shown(w)))
    assert len(w.wb.references) == 8
    assert "2 images left out" in _error_shown(w)
    assert not w.tray.add_button.isEnabled()
    # "Clear all" empties the tray: the message about the images left out goes with them
    w.wb.clear_references()
    assert w.wb.references == () and not w.banner.isVisible()


def test_an_unrelated_message_survives_clear_all(open_window: Any, png_file: Any, qtbot: Any) -> None:
    w = open_window()
    drop(w.tray.view.viewport(), file_mime(png_file("a.png")))
    qtbot.waitUntil(lambda: len(w.wb.references) == 1)
    w.show_message("warning", "Something else entirely.")
    w.wb.clear_references()
    assert _error_shown(w) == "Something else entirely."


def test_empty_prompt_is_refused_before_anything_is_queued(open_window: Any, qtbot: Any) -> None:
    w = open_window()
    w.prompt.setPlainText("   ")
    w.controller.run()
    qtbot.waitUntil(lambda: bool(_error_shown(w)))
    assert "prompt is empty" in _error_shown(w)
    assert w.services.history.count() == 0 and w.jobs.latest == {}


def test_missing_key_points_at_settings(open_window: Any, qtbot: Any) -> None:
    w = open_window()
    w.wb.set_provider("fal")
    w.prompt.setPlainText("a red chair")
    w.controller.run()
    qtbot.waitUntil(lambda: bool(_error_shown(w)))
    text = _error_shown(w)
    assert "needs an API key" in text and "Settings → Keys" in text and "FAL_KEY" in text
    assert w.banner.action.text() == "Open Settings"
    assert w.services.history.count() == 0
    w.banner.action.click()
    qtbot.waitUntil(
        lambda: w.controller.settings_dialog is not None and w.controller.settings_dialog.isVisible()
    )
    w.controller.settings_dialog.close()


def test_spend_cap_refuses_and_queues_nothing(
    open_window: Any, make_services: Any, keyring_backend: Any, qtbot: Any
) -> None:
    svc = make_services()
    svc.secrets.set("fal", "fal-key-for-tests")
    svc.settings.caps.session_stop = 0.01
    w = open_window(svc)
    w.wb.set_provider("fal")
    w.prompt.setPlainText("a red chair")
    assert w.cost.quote.usd > 0.01
    w.controller.run()
    qtbot.waitUntil(lambda: bool(_error_shown(w)))
    assert "over your limit" in _error_shown(w) and "Nothing was sent" in _error_shown(w)
    assert svc.history.count() == 0


def test_failed_job_says_why_and_what_to_do(open_window: Any, qtbot: Any) -> None:
    """A provider failure ends the job card with the reason and advice (here: a key the provider
    refuses — the fake provider fails every submit with an auth error)."""
    from flexstudio.core.errors import ErrorKind, ProviderError
    from flexstudio.providers.base import ProviderInfo
    from flexstudio.providers.sandbox import PROFILES

    sandbox = PROFILES[0]

    class Refusing:
        def __init__(self, info: Any) -> None:
            self.info = info

        async def submit(self, request: Any, refs: Any) -> Any:
            raise ProviderError("Acme says the key is invalid.", kind=ErrorKind.AUTH, status=401)

    info = ProviderInfo(
        id="acme",
        label="Acme",
        protocol="sandbox",
        capabilities=sandbox.capabilities,
        default_base_url="",
        needs_key=False,
        factory=lambda ctx: Refusing(info),
    )
    w = open_window()
    w.services.registry._infos["acme"] = info  # test-only: a provider that always refuses
    w.controls.set_key_status({})
    w.wb.set_provider("acme")
    w.prompt.setPlainText("a red chair")
    w.controller.run()
    qtbot.waitUntil(lambda: len(w.controller.started) == 1)
    job = w.controller.started[0]
    qtbot.waitUntil(lambda: w.jobs.latest[job].state == "failed")
    sentence = w.jobs_panel.sentence_of(job)
    assert sentence.startswith("Failed: Acme says the key is invalid.")
    assert "Settings → Keys" in sentence
