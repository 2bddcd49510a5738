"""A designer's first hour: image 1 on the canvas at once, a removed image never silently changes what
the prompt means, Run says why it can't start, one undo (Ctrl+Z / Ctrl+Shift+Z) for the tray and the
history, menus and context menus that agree on keys, a banner that speaks of the chosen provider."""

from __future__ import annotations

from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from flexstudio.ui.widgets import shortcuts

from .helpers import drop, file_mime

pytestmark = pytest.mark.gui


def _three(w: Any, png_file: Any, qtbot: Any) -> None:
    files = [
        png_file(f"{name}.png", 200 + 16 * i, 160, (40 * i, 120, 200 - 40 * i))
        for i, name in enumerate(("room", "cat", "sofa"))
    ]
    drop(w.tray.view.viewport(), file_mime(*files))
    qtbot.waitUntil(lambda: len(w.wb.references) == 3)


def test_image_1_is_on_the_canvas_before_the_first_run(open_window: Any, png_file: Any, qtbot: Any) -> None:
    w = open_window()
    assert w.compare.canvas.frame_size().isEmpty()
    drop(w.tray.view.viewport(), file_mime(png_file("first.png", 320, 240)))
    qtbot.waitUntil(lambda: w.compare.canvas.before is not None)
    assert w.compare.canvas.before.width() == 320 and w.compare.canvas.before_label == "image 1"
    assert "no result yet" in w.compare.canvas.after_label
    w.wb.remove_reference(0)
    qtbot.waitUntil(lambda: w.compare.canvas.before is None)


def test_removing_a_mentioned_image_flags_it_and_warns_before_run(
    open_window: Any, png_file: Any, qtbot: Any
) -> None:
    w = open_window()
    _three(w, png_file, qtbot)
    w.prompt.setPlainText("the cat from image 2 on the sofa in image 3")
    w.tray.select(1)
    w.tray.view.setFocus()
    QTest.keyClick(w.tray.view, Qt.Key.Key_Delete)
    assert len(w.wb.references) == 2
    # the sofa follows its picture; the cat's mention keeps the user's words, flagged, and holds Run
    assert w.wb.prompt == "the cat from image 2 on the sofa in image 2"
    assert w.prompt.toPlainText() == w.wb.prompt
    at = len("the cat from ")
    assert w.wb.gone_mentions() == ((at, at + 7),)
    block = w.prompt.document().firstBlock()
    flagged = [r for r in block.layout().formats() if r.format.foreground().color().name() == "#e03131"]
    assert [(r.start, r.length) for r in flagged] == [(at, 7)]
    assert not w.run_button.isEnabled() and "image 2 was removed" in w.cost.note.text()
    w.controller.run()  # Ctrl+Enter: says why, sends nothing
    assert "image 2 was removed" in w.banner.message() and not w.controller.started
    assert w.banner.action.text() == "Run anyway"
    # Ctrl+Z brings the picture back and the prompt as it was
    w.activateWindow()
    w.history.view.setFocus()
    QTest.keyClick(w, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert len(w.wb.references) == 3 and w.wb.prompt == "the cat from image 2 on the sofa in image 3"
    assert not w.wb.gone_mentions() and w.run_button.isEnabled()
    QTest.keyClick(w, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert len(w.wb.references) == 2 and w.wb.gone_mentions() and not w.run_button.isEnabled()
    # typing elsewhere keeps the flag on the same words
    cursor = w.prompt.textCursor()
    cursor.movePosition(cursor.MoveOperation.Start)
    w.prompt.setTextCursor(cursor)
    QTest.keyClicks(w.prompt, "Now ")
    assert w.wb.gone_mentions() == ((at + 4, at + 11),) and not w.run_button.isEnabled()
    # "Why?" says it and offers to run the prompt as written
    w.run_why.click()
    assert "image 2 was removed" in w.banner.message()
    w.banner.action.click()
    qtbot.waitUntil(lambda: len(w.controller.started) == 1)
    assert not w.wb.gone_mentions()


def test_changing_the_removed_mention_lets_run_go(open_window: Any, png_file: Any, qtbot: Any) -> None:
    w = open_window()
    _three(w, png_file, qtbot)
    w.prompt.setPlainText("image 3 on image 1")
    w.wb.remove_reference(2)
    assert w.wb.prompt == "image 3 on image 1" and not w.run_button.isEnabled()
    w.prompt.setPlainText("image 2 on image 1")
    assert not w.wb.gone_mentions() and w.run_button.isEnabled()


def test_undo_covers_clear_reorder_and_history_delete(open_window: Any, png_file: Any, qtbot: Any) -> None:
    w = open_window()
    _three(w, png_file, qtbot)
    names = [r.name for r in w.wb.references]
    w.prompt.setPlainText("image 1 and image 3")
    w.wb.move_reference(2, 0)
    assert [r.name for r in w.wb.references] == [names[2], names[0], names[1]]
    assert w.wb.prompt == "image 2 and image 1"
    w.actions_["clear_refs"].trigger()
    assert not w.wb.references
    assert w.actions_["undo"].text().replace("&", "") == "Undo clear 3 references"
    w.actions_["undo"].trigger()
    assert [r.name for r in w.wb.references] == [names[2], names[0], names[1]]
    w.actions_["undo"].trigger()
    assert [r.name for r in w.wb.references] == names and w.wb.prompt == "image 1 and image 3"
    # a history delete is undone by the same Ctrl+Z
    w.controller.run()
    qtbot.waitUntil(lambda: len(w.controller.started) == 1 and w.history_model.total() == 1)
    job = w.controller.started[0]
    w.controller.delete_jobs([job])
    assert w.history_model.total() == 0
    w.actions_["undo"].trigger()
    assert w.history_model.total() == 1 and w.history_model.row_of(job) == 0


def test_menus_and_context_menus_read_one_key_table(open_window: Any) -> None:
    w = open_window()
    a = w.actions_
    for name in ("restore", "favourite", "delete_job", "export", "lineage", "undo", "redo"):
        assert a[name].shortcut().toString() == shortcuts.KEYS[name][0]
    assert a["undo"].shortcut().toString() == "Ctrl+Z" and a["redo"].shortcut().toString() == "Ctrl+Shift+Z"
    # the history list's own short keys are the table's, and its context menu names the window's key
    h = w.history
    assert [k.toString() for k in h.favourite_action.shortcuts()] == ["."]
    assert shortcuts.menu_text("Favourite", "favourite") == "Favourite\tCtrl+D"
    assert "Ctrl+Shift+Del" in shortcuts.menu_text("Delete", "delete_job")


def test_too_many_references_disable_run_with_the_reason(open_window: Any, png_file: Any, qtbot: Any) -> None:
    w = open_window()
    _three(w, png_file, qtbot)
    w.prompt.setPlainText("a room")
    assert w.run_button.isEnabled()
    w.wb.set_provider("fairstack")  # takes one reference
    assert not w.run_button.isEnabled()
    assert (
        "at most 1 reference" in w.run_button.toolTip() and "at most 1 reference" in w.cost.note.full_text()
    )
    assert w.cost.note.isVisible()
    # a request that cannot be sent has no price: the reason stands in its place, on Run too
    assert w.cost.price.text() == "Can't run" and "$" not in w.cost.price.text()
    assert w.cost.note.shown_text() == "FairStack (preview) takes at most 1 reference image (got 3)."
    assert not w.cost.breakdown.isVisible() and w.run_button.text() == "Run"
    # the chips over the limit say so (drawn, and to a screen reader); image 1 is sent
    model = w.tray.model
    assert [model.over_limit(r) for r in range(3)] == [False, True, True]
    spoken = [model.index(r).data(Qt.ItemDataRole.AccessibleTextRole) for r in range(3)]
    assert "over the limit" not in spoken[0] and "sent" in spoken[0]
    assert all("over the limit: FairStack (preview) takes 1 reference image;" in t for t in spoken[1:])
    assert "remove 2 images" in w.tray.counter.toolTip()
    w.tray.view.grab()  # the delegate paints the over-limit chips
    w.wb.set_provider("sandbox")
    assert w.run_button.isEnabled() and "reference" not in w.cost.note.full_text()
    assert w.cost.price.text().startswith("$") and w.run_button.text() == f"Run  ·  {w.cost.price.text()}"
    assert w.cost.breakdown.isVisible() and not any(model.over_limit(r) for r in range(3))


def test_the_sandbox_banner_goes_when_another_provider_is_chosen(open_window: Any, qtbot: Any) -> None:
    w = open_window()
    qtbot.waitUntil(lambda: "You are on the Sandbox" in w.banner.message())
    w.wb.set_provider("bfl")
    assert not w.banner.isVisible()


def test_the_draft_is_back_at_the_next_start(
    open_window: Any, make_services: Any, png_file: Any, qtbot: Any
) -> None:
    svc = make_services()
    w = open_window(svc)
    drop(w.tray.view.viewport(), file_mime(png_file("kept.png", 300, 200), png_file("also.png", 200, 300)))
    qtbot.waitUntil(lambda: len(w.wb.references) == 2)
    w.prompt.setPlainText("put image 2 beside image 1")
    w.controls.steps.setValue(33)
    w.wb.set_seed(77)
    refs = w.wb.references
    w.close()  # saves the settings, the draft with them
    again = make_services()  # the same FLEXSTUDIO_HOME, read from disk
    w2 = open_window(again)
    assert w2.wb.references == refs and w2.tray.counter.text().startswith("2 /")
    assert w2.prompt.toPlainText() == "put image 2 beside image 1" == w2.wb.prompt
    assert w2.wb.request.steps == 33 and w2.controls.steps.value() == 33 and w2.wb.request.seed == 77
    qtbot.waitUntil(lambda: w2.compare.canvas.before is not None)  # image 1 on the canvas, as before


def test_compare_providers_works_with_the_sandbox_alone_and_says_why_not(
    open_window: Any, png_file: Any, qtbot: Any
) -> None:
    w = open_window()  # a fresh machine: no key anywhere
    drop(w.tray.view.viewport(), file_mime(png_file("room.png", 320, 240)))
    qtbot.waitUntil(lambda: len(w.wb.references) == 1)
    w.prompt.setPlainText("make image 1 warmer")
    w.controller.groups.compare_providers()
    qtbot.waitUntil(lambda: w.controller.groups.compare_dialog is not None)
    dlg = w.controller.groups.compare_dialog
    assert [i.id for i in dlg.chosen()] == ["sandbox"]
    assert dlg.launch_button.isEnabled() and "Settings → Keys" in dlg.why.text()
    dlg.set_chosen([])
    assert not dlg.launch_button.isEnabled() and dlg.why.text() == "Tick the providers to compare."
    assert dlg.launch_button.toolTip() == dlg.why.text()
    dlg.set_chosen(["sandbox"])
    assert dlg.launch()
    qtbot.waitUntil(lambda: w.history_model.total() == 1)
    rec = w.services.history.list(limit=1)[0]
    assert rec.group_kind == "comparison" and rec.provider == "sandbox"


def test_one_provider_of_two_usable_is_not_a_comparison(
    open_window: Any, make_services: Any, qtbot: Any
) -> None:
    from dataclasses import replace

    svc = make_services()
    sandbox = svc.registry.get("sandbox")
    svc.registry.register(replace(sandbox, id="sandbox-b", label="Sandbox B"))
    w = open_window(svc)
    w.prompt.setPlainText("a room")
    w.controller.groups.compare_providers()
    qtbot.waitUntil(lambda: w.controller.groups.compare_dialog is not None)
    dlg = w.controller.groups.compare_dialog
    dlg.set_chosen(["sandbox"])
    assert not dlg.launch_button.isEnabled() and "one more provider" in dlg.why.text()
    dlg.set_chosen(["sandbox", "sandbox-b"])
    assert dlg.launch_button.isEnabled() and not dlg.why.text()
    dlg.close()


def test_the_default_export_folder_respects_flexstudio_home(tmp_path: Any, monkeypatch: Any) -> None:
    from flexstudio.ui.dialogs.settings_dialog import default_export_dir

    monkeypatch.setenv("FLEXSTUDIO_HOME", str(tmp_path / "home"))
    assert default_export_dir() == tmp_path / "home" / "exports"
    monkeypatch.delenv("FLEXSTUDIO_HOME")
    assert default_export_dir().name == "FlexStudio"
