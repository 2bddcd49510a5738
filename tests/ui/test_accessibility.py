"""The window as a screen reader and a keyboard see it: the QAccessible tree (in-process, offscreen) names
every visible control and reports what it shows; Steps and Guidance move by keyboard alone; Tab follows the
screen; a job's start and end and the banner's messages are announced; the Menu key opens context menus."""

from __future__ import annotations

import re
from typing import Any

import pytest
from PySide6 import QtGui
from PySide6.QtCore import Qt
from PySide6.QtGui import QAccessible, QAccessibleInterface, QTextDocument
from PySide6.QtTest import QTest
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractSlider,
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QLabel,
    QWidget,
)

from flexstudio.jobs.events import JobEvent
from flexstudio.ui.widgets.a11y import announcer
from flexstudio.ui.widgets.labels import ElidingLabel

from .helpers import drop, file_mime

pytestmark = pytest.mark.gui

A = QAccessible
INTERACTIVE = {
    A.Role.PushButton,
    A.Role.CheckBox,
    A.Role.RadioButton,
    A.Role.ComboBox,
    A.Role.SpinBox,
    A.Role.Slider,
    A.Role.EditableText,
    A.Role.ButtonMenu,
    A.Role.ButtonDropDown,
    A.Role.List,
}
HEX_ID = re.compile(r"\b[0-9a-f]{12}\b")


def _texts(iface: QAccessibleInterface) -> str:
    return " ".join(iface.text(t) for t in (A.Text.Name, A.Text.Value, A.Text.Description))


def _plain(text: str, label: QLabel | None = None) -> str:
    """What a label shows: rich text as plain text, a mnemonic's "&" dropped."""
    if label is not None:
        if label.textFormat() == Qt.TextFormat.RichText or (
            label.textFormat() == Qt.TextFormat.AutoText and QtGui.Qt.mightBeRichText(text)
        ):
            doc = QTextDocument()
            doc.setHtml(text)
            text = doc.toPlainText()
        elif label.buddy() is not None:
            text = re.sub(r"&(.)", r"\1", text)
    return " ".join(text.split())


def _walk(iface: QAccessibleInterface, out: list[QAccessibleInterface], depth: int = 0) -> None:
    if depth > 40:
        return
    out.append(iface)
    for i in range(iface.childCount()):
        child = iface.child(i)
        if child is not None and child.isValid():
            _walk(child, out, depth + 1)


def audit(window: QWidget) -> list[str]:
    """What a screen reader could not use, one sentence per problem (empty: nothing)."""
    problems: list[str] = []
    nodes: list[QAccessibleInterface] = []
    _walk(QAccessible.queryAccessibleInterface(window), nodes)
    for iface in nodes:
        obj = iface.object()
        state = iface.state()
        if state.invisible or (isinstance(obj, QWidget) and not obj.isVisible()):
            continue
        role = iface.role()
        where = f"{type(obj).__name__} {obj.objectName() if obj is not None else ''} [{role.name}]"
        name = iface.text(A.Text.Name).strip()
        if isinstance(obj, QComboBox):
            # Qt on Linux names a combo box by its current text: only a label tied to it says what it is for.
            labels = [
                r[0].text(A.Text.Name) for r in iface.relations(A.RelationFlag.Label) if r[0] is not None
            ]
            if not any(t.strip() for t in labels):
                problems.append(f"{where} (showing {obj.currentText()!r}) has no label")
        elif role in INTERACTIVE and not name:
            problems.append(f"{where} has no name")
        if role == A.Role.ListItem and obj is None:
            if not name:
                problems.append(f"an item of {iface.parent().text(A.Text.Name)!r} has no name")
            elif HEX_ID.search(name):
                problems.append(f"item {name!r} reads out a job id")
        if isinstance(obj, QAbstractSlider | QAbstractSpinBox):
            v = iface.valueInterface()
            if v is None:
                problems.append(f"{where} reports no value")
                continue
            shown = (obj.minimum(), obj.maximum(), obj.value())  # type: ignore[union-attr]
            reported = (v.minimumValue(), v.maximumValue(), v.currentValue())
            if [float(x) for x in reported] != [float(x) for x in shown]:
                problems.append(f"{where} {name!r} reports {reported} but holds {shown}")
            partner = obj.property("partner")
            if isinstance(obj, QAbstractSlider) and partner is not None:
                scale = float(obj.property("value_scale") or 1)
                if round(partner.value() * scale) != obj.value() or (
                    round(partner.minimum() * scale),
                    round(partner.maximum() * scale),
                ) != (obj.minimum(), obj.maximum()):
                    problems.append(f"{where} {name!r} is out of step with the field that shows it")
            if isinstance(obj, QAbstractSpinBox) and obj.text() not in iface.text(A.Text.Value):
                problems.append(
                    f"{where} {name!r} shows {obj.text()!r} but reports {iface.text(A.Text.Value)!r}"
                )
        if isinstance(obj, QLabel) and obj.objectName() != "a11y_label":
            text = _plain(obj.full_text() if isinstance(obj, ElidingLabel) else obj.text(), obj)
            if not text or text == "…":
                continue
            heard = _plain(_texts(iface))
            if len(text) <= 2 and not text.isalnum():  # a glyph: it must be said in words
                if not name or name == text:
                    problems.append(f"{where} is a bare {text!r}")
            elif text not in heard:
                problems.append(f"{where} shows {text!r} but says {heard!r}")
    return problems


def _with_a_job(w: Any, png_file: Any, qtbot: Any) -> None:
    drop(w.tray.view.viewport(), file_mime(png_file("logo.png", 800, 592)))
    qtbot.waitUntil(lambda: len(w.wb.references) == 1)
    w.prompt.setPlainText("Make the logo blue")
    w.controller.run()
    qtbot.waitUntil(lambda: len(w.controller.started) == 1)
    job = w.controller.started[0]
    qtbot.waitUntil(
        lambda: w.jobs.latest.get(job) is not None and w.jobs.latest[job].state == "succeeded", timeout=30000
    )
    qtbot.waitUntil(
        lambda: w.history_model.rowCount() == 1 and w.history_model.record(0).state == "succeeded"
    )


def test_every_control_is_named_and_reports_what_it_shows_on_the_sandbox(
    open_window: Any, png_file: Any, qtbot: Any
) -> None:
    w = open_window()
    qtbot.waitUntil(lambda: w.banner.isVisible())  # the first-run sentence, with its "Open Settings"
    _with_a_job(w, png_file, qtbot)
    w.compare.set_mode("diff")  # the threshold slider and its readout are on screen too
    assert audit(w) == []
    qtbot.waitUntil(lambda: w.compare.canvas.after is not None)
    canvas = QAccessible.queryAccessibleInterface(w.compare.canvas)
    assert canvas.text(A.Text.Description).startswith("Difference: Before · image 1 and After"), canvas.text(
        A.Text.Description
    )

    price = w.cost.price.text()
    run = QAccessible.queryAccessibleInterface(w.run_button)
    assert run.text(A.Text.Name) == f"Run, {price}"
    assert price in _texts(QAccessible.queryAccessibleInterface(w.cost.price))
    assert "1 / 8" in _texts(QAccessible.queryAccessibleInterface(w.tray.counter))
    assert w.banner.message() in _texts(QAccessible.queryAccessibleInterface(w.banner.text))
    item = w.history_model.index(0, 0).data(Qt.ItemDataRole.AccessibleTextRole)
    assert re.fullmatch(
        r"Make the logo blue — succeeded, \$0\.00, \d\d:\d\d, Sandbox, \d+ steps, guidance 5, "
        r"seed \d+",
        item,
    ), item
    chip = w.tray.model.index(0).data(Qt.ItemDataRole.AccessibleTextRole)
    assert chip.startswith("image 1, logo.png, sent 800×592"), chip
    card = w.jobs_panel.card(w.controller.started[0])
    assert card is not None and card.focusPolicy() & Qt.FocusPolicy.TabFocus
    named = QAccessible.queryAccessibleInterface(card).text(A.Text.Name)
    assert named.startswith("Make the logo blue on Sandbox — Succeeded"), named
    assert not HEX_ID.search(named), named


def test_every_control_is_named_with_a_cloud_provider(
    open_window: Any, qtbot: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAL_KEY", "fal-test-key-not-real")
    w = open_window()
    qtbot.waitUntil(lambda: "fal" in w.controller.key_status)
    w.controls.provider.setCurrentIndex(w.controls.provider.findData("fal"))
    assert w.wb.info.id == "fal"
    assert w.controls.badges["steps"].isVisible()  # fal renames steps: the badge is on screen
    assert audit(w) == []
    badge = QAccessible.queryAccessibleInterface(w.controls.badges["steps"])
    assert badge.text(A.Text.Name) == "Steps renamed"
    steps_field = QAccessible.queryAccessibleInterface(w.controls.steps.field)
    assert "fal" in steps_field.text(A.Text.Description).lower()  # the badge's words are on the control
    assert (
        QAccessible.queryAccessibleInterface(w.run_button).text(A.Text.Name) == f"Run, {w.cost.price.text()}"
    )


def test_the_dialogs_are_named_and_read_their_values(open_window: Any, qtbot: Any) -> None:
    w = open_window()
    g = w.controller.groups
    for opener in (
        w.controller.open_settings,
        g.compare_providers,
        g.open_sweep,
        w.controller.manage_presets,
        w.controller.save_preset,
        w.show_shortcuts,
    ):
        before = set(QApplication.topLevelWidgets())
        opener()
        qtbot.waitUntil(
            lambda before=before: any(
                x not in before and x.isVisible() for x in QApplication.topLevelWidgets()
            )
        )
        for d in [x for x in QApplication.topLevelWidgets() if x not in before and x.isVisible()]:
            assert audit(d) == [], type(d).__name__
            d.close()


def test_the_audit_catches_what_the_issue_found(open_window: Any) -> None:
    """The audit is not vacuous: an unnamed combo, a fixed name over a price, a slider out of step."""
    w = open_window()
    w.cost.price.setAccessibleName("Price of this edit")
    w.controls.guidance.slider.blockSignals(True)
    w.controls.guidance.slider.setValue(w.controls.guidance.slider.minimum())
    w.controls.guidance.slider.blockSignals(False)
    for label in w.findChildren(QLabel):
        if label.buddy() is w.controls.size_choice:
            label.setBuddy(None)  # type: ignore[arg-type]
    found = "\n".join(audit(w))
    assert "shows '$0.00' but says \"Price of this edit" in found
    assert "Guidance slider' is out of step" in found
    assert "showing 'Auto') has no label" in found


def _key(key: Qt.Key, times: int = 1, mod: Qt.KeyboardModifier = Qt.KeyboardModifier.NoModifier) -> None:
    for _ in range(times):
        QTest.keyClick(QApplication.focusWidget(), key, mod)


def test_steps_and_guidance_move_by_keyboard_alone(
    open_window: Any, qtbot: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAL_KEY", "fal-test-key-not-real")
    w = open_window()
    qtbot.waitUntil(lambda: "fal" in w.controller.key_status)
    c = w.controls
    assert QApplication.focusWidget() is w.prompt  # focus starts in the prompt
    _key(Qt.Key.Key_Tab)
    assert QApplication.focusWidget() is c.provider
    _key(Qt.Key.Key_Down)  # the arrow keys pick a provider without opening the list
    while c.provider.currentData() != "fal":
        _key(Qt.Key.Key_Down)
    assert w.wb.info.id == "fal"
    _key(Qt.Key.Key_Tab)
    assert QApplication.focusWidget() is c.steps.field
    start = w.wb.request.steps
    _key(Qt.Key.Key_PageDown)  # ten down
    _key(Qt.Key.Key_Up, 3)
    assert w.wb.request.steps == start - 10 + 3 == c.steps.value() == c.steps.slider.value()
    assert w.cost.quoted_request.steps == w.wb.request.steps  # the readout priced exactly this
    assert w.cost.price.text() in w.run_button.accessibleName()
    steps_iface = QAccessible.queryAccessibleInterface(c.steps.field)
    assert float(steps_iface.valueInterface().currentValue()) == w.wb.request.steps
    # typing a number and Enter sets it too
    _key(Qt.Key.Key_A, mod=Qt.KeyboardModifier.ControlModifier)
    QTest.keyClicks(c.steps.field, "12")
    _key(Qt.Key.Key_Return)
    assert w.wb.request.steps == 12 == c.steps.slider.value()

    _key(Qt.Key.Key_Tab)
    assert QApplication.focusWidget() is c.guidance.field
    g0 = w.wb.request.guidance
    _key(Qt.Key.Key_Up, 4)
    assert w.wb.request.guidance == pytest.approx(g0 + 0.4)
    _key(Qt.Key.Key_Down)
    assert w.wb.request.guidance == pytest.approx(g0 + 0.3) == c.guidance.value()
    assert c.guidance.slider.value() == round(w.wb.request.guidance * 10)
    assert w.cost.quoted_request.guidance == pytest.approx(w.wb.request.guidance)
    g_iface = QAccessible.queryAccessibleInterface(c.guidance.field)
    vi = g_iface.valueInterface()
    lo, hi = w.wb.caps.guidance_range
    assert (float(vi.minimumValue()), float(vi.maximumValue())) == (lo, hi)
    assert float(vi.currentValue()) == pytest.approx(w.wb.request.guidance)
    # the slider beside it moves by keyboard too once clicked
    c.guidance.slider.setFocus()
    _key(Qt.Key.Key_Right)
    assert w.wb.request.guidance == pytest.approx(g0 + 0.4)


GROUPS = [
    "banner",
    "tray",
    "compare",
    "history",
    "presets",
    "prompt",
    "provider",
    "steps",
    "guidance",
    "seed",
    "size",
    "format",
    "Run",
]


def _group(w: Any, widget: QWidget) -> str:
    c = w.controls
    exact = {
        w.prompt: "prompt",
        c.provider: "provider",
        c.steps.field: "steps",
        c.steps.slider: "steps",
        c.guidance.field: "guidance",
        c.guidance.slider: "guidance",
        c.seed: "seed",
        c.dice: "seed",
        c.lock: "seed",
        c.seed_policy: "seed",
        c.size_choice: "size",
        c.width_box: "size",
        c.height_box: "size",
        c.format: "format",
        c.safety: "format",
        c.upsampling: "upsampling",
        w.run_button: "Run",
        w.run_why: "Run",
    }
    p: QWidget | None = widget
    while p is not None:
        if p in exact:
            return exact[p]
        for name, container in (
            ("banner", w.banner),
            ("tray", w.tray),
            ("compare", w.compare),
            ("history", w.history),
            ("presets", w.presets_bar),
            ("jobs", w.jobs_panel),
        ):
            if p is container:
                return name
        p = p.parentWidget()
    return type(widget).__name__


def test_tab_follows_the_screen(open_window: Any, png_file: Any, qtbot: Any) -> None:
    w = open_window()
    qtbot.waitUntil(lambda: w.banner.isVisible())
    _with_a_job(w, png_file, qtbot)
    assert w.focusWidget() is w.prompt or QApplication.focusWidget() is w.prompt
    w.banner.action.setFocus(Qt.FocusReason.TabFocusReason)
    seen: list[QWidget] = []
    for _ in range(80):
        fw = QApplication.focusWidget()
        if seen and fw is seen[0]:
            break
        seen.append(fw)
        _key(Qt.Key.Key_Tab)
    groups = [_group(w, x) for x in seen]
    order = [g for i, g in enumerate(groups) if i == 0 or g != groups[i - 1]]
    assert [g for g in order if g in GROUPS] == GROUPS, order
    assert order.index("Run") < order.index("jobs")  # then the launchers and the job cards
    unnamed = [x for x in seen if not QAccessible.queryAccessibleInterface(x).text(A.Text.Name).strip()]
    assert unnamed == [], [type(x).__name__ for x in unnamed]
    # the compare modes are one Tab stop, a radio group the arrow keys move in
    modes = [x for x in seen if x in w.compare.mode_buttons.values()]
    assert modes == [w.compare.mode_buttons["wipe"]]
    assert QAccessible.queryAccessibleInterface(modes[0]).role() == A.Role.RadioButton
    modes[0].setFocus(Qt.FocusReason.TabFocusReason)
    _key(Qt.Key.Key_Right)
    assert w.compare.mode == "side" and QApplication.focusWidget() is w.compare.mode_buttons["side"]
    # a job card takes the focus and Enter shows its image
    card = w.jobs_panel.card(w.controller.started[0])
    assert card in seen
    w.compare.canvas.after = None
    card.setFocus(Qt.FocusReason.TabFocusReason)
    _key(Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: w.compare.canvas.after is not None)


def _tab_to(target: QWidget, start: QWidget, most: int = 8) -> list[QWidget]:
    start.setFocus(Qt.FocusReason.TabFocusReason)
    seen: list[QWidget] = []
    for _ in range(most):
        _key(Qt.Key.Key_Tab)
        seen.append(QApplication.focusWidget())
        if seen[-1] is target:
            break
    return seen


def test_a_disabled_run_is_reached_by_tab_and_says_why(open_window: Any, qtbot: Any) -> None:
    w = open_window()
    qtbot.waitUntil(lambda: not w.run_button.isEnabled())  # a fresh window: the prompt is empty
    assert w.run_why.isVisible()
    seen = _tab_to(w.run_why, w.controls.format)
    assert seen[-1] is w.run_why, [type(x).__name__ for x in seen]  # the Tab stop where Run is
    assert w.run_button not in seen and w.compare_button not in seen  # … reached before the launchers
    iface = QAccessible.queryAccessibleInterface(w.run_why)
    assert iface.text(A.Text.Name) == "Why Run can't start"
    assert iface.text(A.Text.Description) == "The prompt is empty: describe the edit."
    heard: list[str] = []
    announcer().announced.connect(lambda text, _assertive: heard.append(text))
    _key(Qt.Key.Key_Space)  # Space on it says why, on screen and to a screen reader
    qtbot.waitUntil(lambda: w.banner.isVisible())
    assert w.banner.message() == "Run can't start: The prompt is empty: describe the edit."
    assert any("The prompt is empty" in t for t in heard), heard
    _key(Qt.Key.Key_Tab)
    assert QApplication.focusWidget() is w.compare_button  # then on to the launchers, as from Run
    # once it can run, Run itself is the Tab stop and the "Why?" goes
    w.prompt.setPlainText("a room")
    assert w.run_button.isEnabled() and not w.run_why.isVisible()
    assert _tab_to(w.run_button, w.controls.format)[-1] is w.run_button


def test_a_job_start_and_end_are_announced(open_window: Any, png_file: Any, qtbot: Any) -> None:
    w = open_window()
    heard: list[tuple[str, bool]] = []
    announcer().announced.connect(lambda text, assertive: heard.append((text, assertive)))
    with qtbot.waitSignal(
        announcer().announced,
        timeout=30000,
        check_params_cb=lambda text, _a: text.startswith("Job succeeded"),
    ):
        _with_a_job(w, png_file, qtbot)
    texts = [t for t, _a in heard]
    assert "Job started: Make the logo blue on Sandbox." in texts, texts
    assert "Job succeeded: Make the logo blue on Sandbox. Done." in texts, texts
    # moderated, failed and interrupted are said too; failed and interrupted interrupt the reader
    heard.clear()
    jobs = w.jobs
    for ev in (
        JobEvent("f1", "queued"),
        JobEvent("f1", "failed", error_kind="credits", error_message="fal says: no credits left."),
        JobEvent("i1", "running"),
        JobEvent(
            "i1",
            "interrupted",
            message="Waiting for fal.ai — will fetch it.",
            error_message="The window closed.",
        ),
    ):
        jobs.jobChanged.emit(ev)
    assert (
        "Job failed: Job f1. Failed: fal says: no credits left. Add credits at the provider, then run again.",
        True,
    ) in heard, heard
    assert ("Job waiting: Job i1. Waiting for fal.ai — will fetch it.", True) in heard, heard


def test_banner_messages_are_announced(open_window: Any, qtbot: Any) -> None:
    w = open_window()
    with qtbot.waitSignal(announcer().announced, timeout=5000) as blocker:
        w.show_message("error", "BFL says the key is invalid — check Settings → Keys.")
    assert blocker.args == ["Error: BFL says the key is invalid — check Settings → Keys.", True]
    glyph = QAccessible.queryAccessibleInterface(w.banner.glyph)
    assert glyph.text(A.Text.Name) == "Error"


def test_menu_key_and_shift_f10_open_the_context_menus(open_window: Any, png_file: Any, qtbot: Any) -> None:
    w = open_window()
    _with_a_job(w, png_file, qtbot)
    w.history.view.setFocus()
    w.history.view.setCurrentIndex(w.history_model.index(0, 0))
    QTest.keyClick(w.history.view, Qt.Key.Key_F10, Qt.KeyboardModifier.ShiftModifier)
    qtbot.waitUntil(lambda: w.history.last_menu is not None and w.history.last_menu.isVisible())
    assert w.history.last_menu.actions()[1].text().startswith("Restore all settings")
    w.history.last_menu.close()
    w.tray.view.setFocus()
    QTest.keyClick(w.tray.view, Qt.Key.Key_Menu)
    qtbot.waitUntil(lambda: w.tray.last_menu is not None and w.tray.last_menu.isVisible())
    assert w.tray.last_menu.actions()[0].text() == "Replace…"
    w.tray.last_menu.close()


def test_add_references_returns_at_once(open_window: Any, qtbot: Any) -> None:
    """The accessible "press" on Add must not wait for the file dialog to be closed."""
    w = open_window()
    iface = QAccessible.queryAccessibleInterface(w.tray.add_button)
    assert iface.actionInterface() is not None
    done: list[bool] = []
    iface.actionInterface().doAction(iface.actionInterface().actionNames()[0])
    done.append(True)  # reached while the dialog is still open
    dialogs = [d for d in QApplication.topLevelWidgets() if d.windowTitle() == "Add reference images"]
    qtbot.waitUntil(
        lambda: (
            any(d.isVisible() for d in dialogs)
            or bool(
                [
                    d
                    for d in QApplication.topLevelWidgets()
                    if d.windowTitle() == "Add reference images" and d.isVisible()
                ]
            )
        )
    )
    assert done == [True]
    for d in QApplication.topLevelWidgets():
        if d.windowTitle() == "Add reference images":
            d.close()
    assert isinstance(w.tray.add_button, QAbstractButton)
