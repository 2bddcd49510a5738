"""A damaged settings file at the window's start: a dialog names the moved file and what it held; "Not now"
keeps paid work refused (Run on BFL says why, nothing is written) while the Sandbox still runs; "Go on with
default settings" saves them and paid work is allowed again."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from flexstudio import app
from flexstudio.ui.dialogs.settings_fault_dialog import SettingsFaultDialog


def _damage(make_services: Any) -> Any:
    svc = make_services()
    svc.paths.settings_file.write_text('{"caps": {"day_stop": 0.15}')
    return make_services()  # loads it: moved aside, defaults used


def _answer(button: str) -> None:
    """Click ``button`` on the settings dialog as soon as it is up (its exec() runs the loop)."""

    def click() -> None:
        box = next((w for w in QApplication.topLevelWidgets() if isinstance(w, SettingsFaultDialog)), None)
        if box is None or not box.isVisible():
            QTimer.singleShot(10, click)
            return
        (box.defaults_button if button == "defaults" else box.later_button).click()

    QTimer.singleShot(0, click)


def test_not_now_keeps_paid_work_refused_and_the_sandbox_working(
    open_window: Any, make_services: Any, qtbot: Any
) -> None:
    svc = _damage(make_services)
    moved = svc.paths.settings_file.with_suffix(".broken.json")
    assert moved.exists()
    _answer("later")
    app._confirm_settings(svc)
    assert not svc.paths.settings_file.exists()
    svc.secrets.set("bfl", "bfl_SETTINGSFAULT_1")
    w = open_window(svc)
    w.wb.set_provider("bfl")
    w.prompt.setPlainText("four")
    w.controller.run()
    qtbot.waitUntil(lambda: w.banner.isVisible() and str(moved) in w.banner.message(), timeout=10000)
    assert "spending limits" in w.banner.message() and svc.history.count() == 0
    w.banner.dismiss()
    w.wb.set_provider("sandbox")
    w.controller.run()
    qtbot.waitUntil(lambda: svc.history.count() == 1, timeout=10000)


def test_going_on_with_the_defaults_saves_them(qloop: Any, make_services: Any) -> None:
    svc = _damage(make_services)
    box = SettingsFaultDialog(svc.paths.settings_file.with_suffix(".broken.json"))
    assert "settings.broken.json" in box.text() and "spending limits" in box.informativeText()
    box.deleteLater()
    _answer("defaults")
    app._confirm_settings(svc)
    assert svc.paths.settings_file.exists()
    from flexstudio.core.request import EditRequest

    assert svc.settings_refusal(EditRequest(prompt="four", provider="bfl")) == ""
