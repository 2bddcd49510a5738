"""Settings (keys in the keyring, masked and never shown again; test connection; caps; endpoints;
export folder), the first-run banner, and the shortcut sheet."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QLabel, QLineEdit

from .conftest import MemoryKeyring

pytestmark = pytest.mark.gui


@pytest.fixture
def local_host() -> Any:
    """A tiny HTTP server on 127.0.0.1 that records what it was sent."""
    seen: list[dict[str, str]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(dict(self.headers))
            self.send_response(404)
            self.end_headers()

        def log_message(self, *a: Any) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", seen
    server.shutdown()
    server.server_close()


def open_settings(w: Any, qtbot: Any) -> Any:
    w.controller.open_settings()
    dlg = w.controller.settings_dialog
    qtbot.waitUntil(lambda: dlg.key_rows["fal"].status.text().startswith("Key:"))
    return dlg


def test_key_saved_masked_and_never_shown_again(
    open_window: Any, make_services: Any, keyring_backend: Any, local_host: Any, qtbot: Any
) -> None:
    url, seen = local_host
    w = open_window(make_services(base_urls={"fal": url}))
    dlg = open_settings(w, qtbot)
    assert not dlg.isModal()
    row = dlg.key_rows["fal"]
    assert row.edit.echoMode() == QLineEdit.EchoMode.Password
    assert row.status.text() == "Key: no key yet"
    # with no key, Remove and Test connection are greyed and say why
    assert not row.remove_button.isEnabled() and "nothing to remove" in row.remove_button.toolTip()
    assert not row.test_button.isEnabled() and row.test_button.toolTip().startswith("Save a key first")
    QTest.keyClicks(row.edit, "fal-secret-123456")
    row.save_button.click()
    qtbot.waitUntil(lambda: keyring_backend.keys.get(("flexstudio", "fal")) == "fal-secret-123456")
    assert row.edit.text() == ""
    qtbot.waitUntil(lambda: row.status.text() == "Key: stored in the system keyring")
    assert row.remove_button.isEnabled() and row.test_button.isEnabled() and not row.test_button.toolTip()
    combo = w.controls.provider
    qtbot.waitUntil(lambda: "key set" in combo.itemText(combo.findData("fal")))
    w.wb.set_provider("fal")
    assert "key set" in w.key_label.text()
    # test connection: fal documents no free authenticated call, so only the host is asked (without the
    # key) and the sentence says so
    row.test_button.click()
    qtbot.waitUntil(lambda: "answers" in row.result.text(), timeout=10000)
    assert row.result.text() == (
        f"fal.ai answers at {url.split('//')[1]} (HTTP 404); this only checks that the host answers; "
        "the key is checked on the first run."
    )
    assert seen and all("fal-secret-123456" not in str(h) for h in seen)
    # nothing in the window or the settings file shows the key
    assert (
        "fal-secret-123456" not in w.services.paths.settings_file.read_text()
        if w.services.paths.settings_file.exists()
        else True
    )
    row.remove_button.click()
    qtbot.waitUntil(lambda: row.status.text() == "Key: no key yet")
    assert not row.test_button.isEnabled() and not row.remove_button.isEnabled()
    assert ("flexstudio", "fal") not in keyring_backend.keys
    dlg.close()


def test_environment_key_is_reported_as_such(
    open_window: Any, make_services: Any, qtbot: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BFL_API_KEY", "bfl_from_env")
    w = open_window(make_services())
    dlg = open_settings(w, qtbot)
    qtbot.waitUntil(lambda: "BFL_API_KEY" in dlg.key_rows["bfl"].status.text())
    assert dlg.key_rows["bfl"].status.text() == "Key: from the environment variable BFL_API_KEY"
    remove = dlg.key_rows["bfl"].remove_button
    assert not remove.isEnabled() and "unset it there" in remove.toolTip()
    assert dlg.key_rows["bfl"].test_button.isEnabled()
    assert not w.banner.isVisible() or "Sandbox" not in w.banner.message()
    dlg.close()


def test_caps_endpoints_and_export_folder_are_saved(
    open_window: Any, make_services: Any, qtbot: Any, tmp_path: Any
) -> None:
    from flexstudio.storage.settings import Settings

    svc = make_services()
    w = open_window(svc)
    dlg = open_settings(w, qtbot)
    dlg.cap_boxes["session_stop"].setValue(2.5)
    dlg.cap_boxes["day_warn"].setValue(1.0)
    saved = Settings.load(svc.paths.settings_file)
    assert saved.caps.session_stop == 2.5 and saved.caps.day_warn == 1.0 and saved.caps.month_stop is None
    assert "of $2.50" in w.spend_label.text()
    # a custom OpenAI-compatible endpoint joins the provider list
    dlg.ep_id.setText("my-gw")
    dlg.ep_label.setText("My gateway")
    dlg.ep_url.setText("https://gateway.example/v1")
    dlg.ep_model.setText("flux.2-flex")
    dlg._save_endpoint()
    assert "Saved" in dlg.ep_result.text(), dlg.ep_result.text()
    assert w.controls.provider.findData("my-gw") >= 0
    assert [e.id for e in Settings.load(svc.paths.settings_file).endpoints] == ["my-gw"]
    dlg.export_dir.setText(str(tmp_path / "out"))
    dlg.export_dir.editingFinished.emit()
    assert Settings.load(svc.paths.settings_file).export_dir == str(tmp_path / "out")
    dlg.close()


def test_first_run_without_keys_opens_on_the_sandbox_with_a_banner(
    open_window: Any, make_services: Any, qtbot: Any
) -> None:
    svc = make_services()
    svc.settings.provider = "bfl"  # chosen last time, but there is no key now
    w = open_window(svc)
    qtbot.waitUntil(lambda: w.banner.isVisible())
    assert w.wb.info.id == "sandbox" and w.controls.provider.currentData() == "sandbox"
    assert "Sandbox" in w.banner.message() and "Settings → Keys" in w.banner.message()
    assert w.banner.action.text() == "Open Settings"
    assert w.key_label.text() == "Sandbox: no key needed"


def test_shortcut_sheet_lists_the_keys(open_window: Any, qtbot: Any) -> None:
    w = open_window()
    w.compare.canvas.setFocus()
    QTest.keyClick(w.compare.canvas, Qt.Key.Key_F1)
    qtbot.waitUntil(lambda: getattr(w, "_sheet", None) is not None and w._sheet.isVisible())
    table = w._sheet.table
    rows = {(table.item(r, 1).text(), table.item(r, 2).text()) for r in range(table.rowCount())}
    assert ("Run", "Ctrl+Return, Ctrl+Enter") in rows
    assert ("Flip before / after", "Space") in rows
    assert ("Cancel the latest job", "Esc") in rows
    assert ("Keyboard shortcuts", "F1, Ctrl+/") in rows
    assert any(action == "Remove reference" and "Del" in keys for action, keys in rows)
    w._sheet.close()


def test_keys_tab_shows_bfls_remaining_balance(
    open_window: Any, make_services: Any, qtbot: Any, monkeypatch: Any
) -> None:
    from tests.emulators.base import Delivery
    from tests.emulators.bfl import BflEmulator

    key = "bfl_FAKEKEY_window_balance"
    monkeypatch.setenv("BFL_API_KEY", key)
    with Delivery() as delivery, BflEmulator(delivery, key=key, credits=250.0) as emu:
        svc = make_services(base_urls={p: emu.url for p in ("bfl", "bfl-eu", "bfl-us")})
        w = open_window(svc)
        assert not [r for r in emu.requests if r.path == "/v1/credits"]  # never asked at start-up
        dlg = open_settings(w, qtbot)
        row = dlg.key_rows["bfl"]
        qtbot.waitUntil(lambda: row.balance.text().startswith("Balance: 250 credits"), timeout=10_000)
        assert "$2.50" in row.balance.text() and row.balance.isVisibleTo(dlg)
        assert not dlg.key_rows["fal"].balance.isVisibleTo(dlg)  # fal documents no balance endpoint
        assert key not in row.balance.text() + row.balance.toolTip()


class NoKeyringBackend:
    """What keyring's fail backend does on a machine without a Secret Service."""

    def _fail(self, *a: Any) -> Any:
        raise type("NoKeyringError", (RuntimeError,), {})("No recommended backend was available.")

    get_password = set_password = delete_password = _fail


@pytest.mark.parametrize("keyring_backend", [MemoryKeyring(), NoKeyringBackend()], ids=["keyring", "none"])
def test_keys_tab_says_where_keys_go_in_one_true_sentence(
    open_window: Any, make_services: Any, qtbot: Any, keyring_backend: Any
) -> None:
    working = isinstance(keyring_backend, MemoryKeyring)
    w = open_window(make_services())
    dlg = open_settings(w, qtbot)
    intro = dlg.keys_intro
    qtbot.waitUntil(lambda: "Asking" not in intro.text())
    texts = [lbl.text() for lbl in dlg.tabs.widget(0).findChildren(QLabel) if lbl.isVisibleTo(dlg)]
    stored = [t for t in texts if "stored in the system keyring" in t]
    missing = [t for t in texts if "No system keyring" in t]
    if working:
        assert stored == [intro.text()] and not missing
    else:
        assert missing == [intro.text()] and not stored
        assert "session only" in intro.text() and "never written to FlexStudio's files" in intro.text()
    dlg.close()


def test_test_connection_checks_a_bfl_key_with_the_credits_call(
    open_window: Any, make_services: Any, keyring_backend: Any, qtbot: Any
) -> None:
    """BFL: Test connection asks the (free) credits endpoint with the key: accepted with the balance, or
    "the key is invalid" — a 404 or any answer is no longer a success."""
    from tests.emulators.base import Delivery
    from tests.emulators.bfl import BflEmulator
    from tests.support import stop_all

    delivery = Delivery().start()
    emu = BflEmulator(delivery, key="bfl_right_key_123456", credits=42).start()
    try:
        w = open_window(make_services(base_urls={"bfl": emu.url}))
        dlg = open_settings(w, qtbot)
        row = dlg.key_rows["bfl"]
        for key, said in (
            ("bfl_wrong_key_654321", "BFL says the key is invalid"),
            ("bfl_right_key_123456", "BFL accepted the key (credits: 42)."),
        ):
            row.edit.setText(key)
            row.save_button.click()
            qtbot.waitUntil(lambda key=key: keyring_backend.keys.get(("flexstudio", "bfl")) == key)
            qtbot.waitUntil(row.test_button.isEnabled)
            row.test_button.click()
            qtbot.waitUntil(lambda said=said: row.result.text().startswith(said), timeout=15000)
        assert not [r for r in emu.requests if r.path == "/v1/flux-2-flex"]  # nothing submitted
        dlg.close()
    finally:
        stop_all(emu, delivery)


def test_a_rejected_key_is_said_in_its_row_and_kept_for_correction(
    open_window: Any, make_services: Any, keyring_backend: Any, qtbot: Any
) -> None:
    """A key with a space inside: the sentence is in the BFL row (naming BFL, not "bfl"), not behind the
    dialog in the main window; the pasted text stays, masked, to be corrected; nothing is stored. A fal
    key without the documented KEY_ID:KEY_SECRET colon is saved with a hint."""
    w = open_window(make_services())
    dlg = open_settings(w, qtbot)
    row = dlg.key_rows["bfl"]
    row.edit.setText("bfl_test key")
    row.save_button.click()
    assert row.result.text().startswith("The API key for BFL has a space or line break inside it")
    assert "it was not saved" in row.result.text() and "Nothing was sent" not in row.result.text()
    assert row.edit.text() == "bfl_test key" and row.edit.echoMode() == QLineEdit.EchoMode.Password
    assert ("flexstudio", "bfl") not in keyring_backend.keys
    assert not w.banner.isVisible() or "space" not in w.banner.text.text()
    row.edit.setText("bfl_test_key")  # corrected
    row.save_button.click()
    qtbot.waitUntil(lambda: keyring_backend.keys.get(("flexstudio", "bfl")) == "bfl_test_key")
    qtbot.waitUntil(lambda: row.result.text() == "Saved in the system keyring.")
    assert row.edit.text() == ""

    fal = dlg.key_rows["fal"]
    fal.edit.setText("nocolon")
    fal.save_button.click()
    qtbot.waitUntil(lambda: fal.result.text().startswith("Saved in the system keyring."))
    assert "fal.ai keys look like KEY_ID:KEY_SECRET" in fal.result.text()
    fal.edit.setText("id123:secret456")
    fal.save_button.click()
    qtbot.waitUntil(lambda: keyring_backend.keys.get(("flexstudio", "fal")) == "id123:secret456")
    qtbot.waitUntil(lambda: fal.result.text() == "Saved in the system keyring.")
    dlg.close()
