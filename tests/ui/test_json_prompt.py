"""The prompt's JSON structured mode, driven through the window: the switch, the template, the check as
you type, Run held back with the reason, the marks inside JSON text, what is sent, restore and the
remembered mode."""

from __future__ import annotations

import json
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QTextCharFormat
from PySide6.QtTest import QTest

from flexstudio.core import json_prompt
from flexstudio.core.request import EditRequest

pytestmark = pytest.mark.gui


def _status(w: Any) -> str:
    return w.prompt_mode.status.text() if w.prompt_mode.row.isVisibleTo(w) else ""


def _formats_at(w: Any, line: int, col: int) -> list[Any]:
    """The highlighter's formats covering 0-based ``col`` of 0-based ``line``."""
    block = w.prompt.document().findBlockByNumber(line)
    return [
        QTextCharFormat(r.format) for r in block.layout().formats() if r.start <= col < r.start + r.length
    ]


def test_plain_is_the_default_and_the_switch_is_named(open_window: Any) -> None:
    w = open_window()
    sw = w.prompt_mode.switch
    assert not sw.isChecked() and sw.accessibleName() == "JSON structured prompt" and sw.text() == "JSON"
    assert sw.isVisibleTo(w) and not w.prompt_mode.row.isVisibleTo(w)
    assert not w.prompt_mode.template_button.isVisibleTo(w)
    w.prompt.setPlainText("a { not json")
    assert w.run_button.isEnabled()
    assert w.wb.request.prompt == "a { not json"  # plain text goes as typed


def test_switching_starts_from_the_template_or_keeps_the_plain_prompt(open_window: Any, qtbot: Any) -> None:
    w = open_window()
    qtbot.mouseClick(w.prompt_mode.switch, Qt.MouseButton.LeftButton)
    assert w.wb.prompt_mode == "json"
    assert w.prompt.toPlainText() == json_prompt.TEMPLATE
    assert _status(w) == "Valid JSON prompt."
    assert w.run_button.isEnabled()

    w.prompt_mode.switch.setChecked(False)
    w.prompt.setPlainText("a red car in image 1")
    w.prompt_mode.switch.setChecked(True)
    assert json.loads(w.prompt.toPlainText()) == {"scene": "a red car in image 1"}
    w.prompt_mode.switch.setChecked(False)
    assert w.prompt.toPlainText() == "a red car in image 1" and w.wb.prompt_mode == "plain"


def test_insert_template_is_one_undoable_edit(open_window: Any, qtbot: Any) -> None:
    w = open_window()
    w.prompt_mode.switch.setChecked(True)
    w.prompt.setPlainText('{"scene": "mine"}')
    qtbot.mouseClick(w.prompt_mode.template_button, Qt.MouseButton.LeftButton)
    assert w.wb.prompt == json_prompt.TEMPLATE
    w.prompt.setFocus()
    QTest.keyClick(w.prompt, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert w.wb.prompt == '{"scene": "mine"}'


def test_typing_is_checked_and_run_waits_with_the_reason(open_window: Any, qtbot: Any) -> None:
    w = open_window()
    w.prompt_mode.switch.setChecked(True)
    w.prompt.setPlainText('{\n  "scene": "a cat"\n}')
    assert w.run_button.isEnabled()
    # type a second key without the comma the first line needs
    w.prompt.setFocus()
    cur = w.prompt.textCursor()
    cur.setPosition(len('{\n  "scene": "a cat"'))
    w.prompt.setTextCursor(cur)
    QTest.keyClick(w.prompt, Qt.Key.Key_Return)
    QTest.keyClicks(w.prompt, '"style": "ink"')
    assert w.wb.prompt == '{\n  "scene": "a cat"\n"style": "ink"\n}'
    text = _status(w)
    assert text == "Invalid JSON: line 3, column 1: expected ',' — missing at the end of line 2?", text
    assert "end of line 2" in text
    assert not w.run_button.isEnabled()
    assert "Fix the JSON prompt first" in w.run_button.toolTip() and "line 3" in w.run_button.toolTip()
    assert "line 3" in w.run_button.accessibleDescription()
    # the spot json points at is underlined
    assert any(f.underlineStyle() == f.UnderlineStyle.WaveUnderline for f in _formats_at(w, 2, 0))

    # Ctrl+Enter (the Run action) says why and sends nothing
    QTest.keyClick(w.prompt, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert w.banner.isVisible() and "Fix the JSON prompt first" in w.banner.message()
    assert w.controller.started == [] and w.services.history.list(limit=5) == []
    # so do the group launchers
    w.controller.groups.open_sweep()
    assert getattr(w.controller.groups, "sweep_dialog", None) is None

    # add the comma: fine again
    cur = w.prompt.textCursor()
    cur.setPosition(len('{\n  "scene": "a cat"'))
    w.prompt.setTextCursor(cur)
    QTest.keyClick(w.prompt, Qt.Key.Key_Comma)
    assert _status(w) == "Valid JSON prompt."
    assert w.run_button.isEnabled() and w.run_button.accessibleDescription() == ""
    assert not any(f.underlineStyle() == f.UnderlineStyle.WaveUnderline for f in _formats_at(w, 2, 0))


def test_unknown_keys_hint_but_do_not_block(open_window: Any) -> None:
    w = open_window()
    w.prompt_mode.switch.setChecked(True)
    w.prompt.setPlainText('{\n  "scene": "a cat",\n  "colour_palette": ["#ff6600"],\n  "zzz": 1\n}')
    text = _status(w)
    assert text.startswith(
        "Valid JSON prompt. line 3: “colour_palette” is not a FLUX.2 key — did you mean “color_palette”?"
    ) and text.endswith("(+1 more)")
    assert "“zzz”" in w.prompt_mode.status.toolTip()  # every hint in the tooltip
    assert w.run_button.isEnabled()


def test_mentions_and_swatches_are_marked_inside_json_text_only(open_window: Any) -> None:
    w = open_window()
    w.prompt_mode.switch.setChecked(True)
    w.prompt.set_reference_count(2)
    w.prompt.setPlainText('{\n  "image 1": "the cat from image 2",\n  "color_palette": ["#ff6600"]\n}')
    line = w.prompt.document().findBlockByNumber(1).text()
    key_at, mention_at = line.index("image 1"), line.index("image 2")
    assert not any(f.fontWeight() == 700 for f in _formats_at(w, 1, key_at))  # a key is not a mention
    mention = [f for f in _formats_at(w, 1, mention_at) if f.fontWeight() == 700]
    assert mention and mention[0].toolTip() == "Reference image 2"
    swatch_at = w.prompt.document().findBlockByNumber(2).text().index("#ff6600")
    swatch = _formats_at(w, 2, swatch_at + 1)
    assert swatch and swatch[0].background().color().name() == "#ff6600"
    # in plain mode the same words are marked wherever they are
    w.prompt_mode.switch.setChecked(False)
    assert any(f.fontWeight() == 700 for f in _formats_at(w, 1, key_at))


def test_json_is_sent_compact_kept_and_restored_in_json_mode(open_window: Any, qtbot: Any) -> None:
    w = open_window()
    w.prompt_mode.switch.setChecked(True)
    typed = '{\n  "scene": "a café at night",\n  "color_palette": ["#1f3a5f", "#f2a65a"]\n}'
    w.prompt.setPlainText(typed)
    w.controller.run()
    qtbot.waitUntil(
        lambda: (
            len(w.controller.started) == 1 and w.jobs.latest[w.controller.started[0]].state == "succeeded"
        ),
        timeout=20000,
    )
    rec = w.services.history.get(w.controller.started[0])
    assert rec.request.prompt == '{"scene":"a café at night","color_palette":["#1f3a5f","#f2a65a"]}'

    w.prompt_mode.switch.setChecked(False)
    w.prompt.setPlainText("something else")
    w.controller.restore_job(rec)
    assert w.wb.prompt_mode == "json" and w.prompt_mode.switch.isChecked()
    assert json.loads(w.prompt.toPlainText()) == json.loads(typed)
    assert w.prompt.toPlainText().startswith('{\n  "scene"')  # indented again for editing
    assert _status(w) == "Valid JSON prompt." and w.run_button.isEnabled()

    # a plain prompt restored while in JSON mode brings plain mode back
    w.controller.restore_job(w.services.history.create(EditRequest(prompt="plain words")))
    assert w.wb.prompt_mode == "plain" and not w.prompt_mode.switch.isChecked()
    assert w.prompt.toPlainText() == "plain words" and w.run_button.isEnabled()


def test_the_mode_is_remembered(open_window: Any, make_services: Any) -> None:
    svc = make_services()
    w = open_window(svc)
    w.prompt_mode.switch.setChecked(True)
    w.save_state()
    assert svc.settings.ui["prompt_mode"] == "json"
    again = open_window(svc)
    assert again.wb.prompt_mode == "json" and again.prompt_mode.switch.isChecked()
    assert again.prompt_mode.row.isVisibleTo(again)


def test_the_switch_is_reached_and_pressed_by_keyboard(open_window: Any) -> None:
    from PySide6.QtWidgets import QApplication

    w = open_window()
    w.history.view.setFocus(Qt.FocusReason.TabFocusReason)
    QTest.keyClick(QApplication.focusWidget(), Qt.Key.Key_Tab)
    assert QApplication.focusWidget() is w.prompt_mode.switch
    QTest.keyClick(w.prompt_mode.switch, Qt.Key.Key_Space)
    assert w.wb.prompt_mode == "json" and w.prompt_mode.switch.isChecked()
    # in JSON mode the template button follows the prompt in the Tab order
    w.prompt.setFocus(Qt.FocusReason.TabFocusReason)
    QTest.keyClick(w.prompt, Qt.Key.Key_Tab)
    assert QApplication.focusWidget() is w.prompt_mode.template_button
