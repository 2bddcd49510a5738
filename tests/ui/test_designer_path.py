"""A designer's path through the window, end to end on the offline sandbox: add references three ways,
reorder them, watch the price follow a slider, run, compare, cancel a second job, restart."""

from __future__ import annotations

import re
from typing import Any

import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QGuiApplication, QImage
from PySide6.QtTest import QTest

from .conftest import image_bytes
from .helpers import data_mime, drop, file_mime

pytestmark = pytest.mark.gui

PROMPT = "Put the hat from image 2 on the dog in image 1 and frame it with image 3, wall #ff6600"


def _drag_slider(qtbot: Any, labeled: Any, values: list[int]) -> list[int]:
    """Drag a setting slider's handle with the mouse through ``values``; returns what the
    slider reported while dragging."""
    slider = labeled.slider
    seen: list[int] = []
    slider.valueChanged.connect(seen.append)

    def x_for(v: int) -> int:
        lo, hi = slider.minimum(), slider.maximum()
        span = slider.width() - 16
        return 8 + round(span * (v - lo) / (hi - lo))

    y = slider.height() // 2
    QTest.mousePress(
        slider, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, QPoint(x_for(slider.value()), y)
    )
    for v in values:
        QTest.mouseMove(slider, QPoint(x_for(v), y))
        qtbot.waitUntil(lambda v=v: abs(slider.value() - v) <= 1, timeout=2000)
    QTest.mouseRelease(
        slider, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, QPoint(x_for(values[-1]), y)
    )
    return seen


def test_designer_path(
    open_window: Any, make_services: Any, png_file: Any, qtbot: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    w = open_window()
    wb = w.wb

    # 1. drop a file (URL) on the tray, then image data from a "browser", then paste a screenshot.
    dog = png_file("dog.png", 640, 480, (40, 120, 200))
    drop(w.tray.view.viewport(), file_mime(dog))
    qtbot.waitUntil(lambda: len(wb.references) == 1)
    drop(w.tray.view.viewport(), data_mime(image_bytes(300, 300, "PNG", (220, 200, 30))))
    qtbot.waitUntil(lambda: len(wb.references) == 2)
    frame = QImage(400, 200, QImage.Format.Format_RGB32)
    frame.fill(Qt.GlobalColor.darkGreen)
    QGuiApplication.clipboard().setImage(frame)
    w.tray.view.setFocus()
    QTest.keyClick(w.tray.view, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: len(wb.references) == 3)
    names = [r.name for r in wb.references]
    assert names[0] == "dog.png" and all(
        re.fullmatch(r"pasted image \d\d\.\d\d\.\d\d\.png", n) for n in names[1:]
    ), names
    assert w.tray.counter.text() == "3 / 8"
    assert not (w.banner.isVisible() and w.banner.level in ("error", "warning")), w.banner.message()

    # 2. the prompt mentions them; a chip dragged to the front renumbers the prompt.
    w.prompt.setFocus()
    w.prompt.setPlainText(PROMPT)
    assert wb.prompt == PROMPT
    assert w.prompt.highlighter.count == 3
    mime = w.tray.model.mimeData([w.tray.model.index(2)])  # what a drag of chip 3 carries
    first = w.tray.view.visualRect(w.tray.model.index(0))
    drop(w.tray.view.viewport(), mime, QPointF(first.center().x(), first.top() + 2))
    qtbot.waitUntil(lambda: wb.references[0].name == names[2])
    assert [r.name for r in wb.references] == [names[2], "dog.png", names[1]]
    renumbered = "Put the hat from image 3 on the dog in image 2 and frame it with image 1, wall #ff6600"
    assert wb.prompt == renumbered
    assert w.prompt.toPlainText() == renumbered
    w.tray.move_reference(0, 2)  # and back, through the tray's own API
    assert wb.prompt == PROMPT

    # 3. on a priced provider the price follows the steps slider while it is dragged.
    combo = w.controls.provider
    combo.setCurrentIndex(combo.findData("fal"))
    assert wb.info.id == "fal"
    assert w.tray.counter.text().endswith("/ 10")
    start_price = w.cost.price.text()
    assert start_price.startswith("$") and start_price != "$0.00"
    priced: list[int] = []
    w.cost.refreshed = lambda: priced.append(w.cost.quoted_request.steps)  # type: ignore[attr-defined]
    w.wb.changed.connect(lambda: w.cost.refreshed())  # type: ignore[attr-defined]
    seen = _drag_slider(qtbot, w.controls.steps, [40, 30, 20])
    assert len(seen) >= 3 and priced[-len(seen) :] == seen, "every value seen while dragging was priced"
    assert wb.request.steps == w.controls.steps.value()
    assert w.run_button.text().endswith(w.cost.price.text())
    # a change that moves the price: a bigger output size
    w.controls.size_choice.setCurrentIndex(w.controls.size_choice.findData("custom"))
    w.controls.width_box.setValue(2048)
    w.controls.height_box.setValue(2048)
    assert w.cost.price.text() != start_price
    assert w.run_button.text() == f"Run  ·  {w.cost.price.text()}"
    w.controls.size_choice.setCurrentIndex(w.controls.size_choice.findData("auto"))

    # 4. run on the sandbox with Ctrl+Enter from the prompt; watch it finish; see it in history and compare.
    combo.setCurrentIndex(combo.findData("sandbox"))
    w.prompt.setFocus()
    QTest.keyClick(w.prompt, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: len(w.controller.started) == 1)
    assert "\n" not in w.prompt.toPlainText(), "Ctrl+Enter ran the job instead of adding a line"
    first_job = w.controller.started[0]
    qtbot.waitUntil(lambda: w.jobs.latest[first_job].state == "succeeded", timeout=30000)
    card = w.jobs_panel.card(first_job)
    assert card is not None and card.sentence.text() == "Done."
    qtbot.waitUntil(
        lambda: w.history_model.rowCount() == 1 and w.history_model.record(0).state == "succeeded"
    )
    qtbot.waitUntil(lambda: w.compare.canvas.after is not None and w.compare.canvas.before is not None)
    assert w.compare.after_pic.sha256 == w.services.history.get(first_job).outputs[0].sha256
    assert w.compare.before_pic.sha256 == wb.references[0].sha256
    assert "billed $0.00" in w.cost.billed.text()

    # 5. flip with Space, back to wipe, drag the wipe line.
    canvas = w.compare.canvas
    canvas.setFocus()
    QTest.keyClick(canvas, Qt.Key.Key_Space)
    assert canvas.mode == "flip" and canvas.showing_before
    QTest.keyClick(canvas, Qt.Key.Key_Space)
    assert not canvas.showing_before
    w.compare.mode_buttons["wipe"].click()
    assert canvas.mode == "wipe"
    fr = canvas.frame_rect(canvas._views()[0])
    x0 = round(canvas._split_x())
    y = round(fr.center().y())
    QTest.mousePress(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, QPoint(x0, y))
    QTest.mouseMove(canvas, QPoint(round(fr.left() + fr.width() * 0.25), y))
    QTest.mouseRelease(
        canvas,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
        QPoint(round(fr.left() + fr.width() * 0.25), y),
    )
    assert canvas.split == pytest.approx(0.25, abs=0.02)

    # 6. a second, slow job; Esc cancels it.
    monkeypatch.setenv("FLEXSTUDIO_SANDBOX_LATENCY", "5")
    used_seed = w.services.history.get(first_job).request.seed
    w.actions_["run"].trigger()
    qtbot.waitUntil(lambda: len(w.controller.started) == 2)
    second_job = w.controller.started[1]
    qtbot.waitUntil(lambda: w.jobs.latest[second_job].state == "running", timeout=10000)
    assert w.active_label.text() == "1 job running"
    w.prompt.setFocus()
    QTest.keyClick(w.prompt, Qt.Key.Key_Escape)
    qtbot.waitUntil(lambda: w.jobs.latest[second_job].state == "cancelled", timeout=10000)
    assert "Cancel" in w.jobs_panel.sentence_of(second_job)
    assert w.active_label.text() == "No jobs running"
    second_request = w.services.history.get(second_job).request
    assert second_request.seed != used_seed  # "then randomize" drew a new seed after the first run

    # 7. restart: close, new services on the same home, new window: both jobs are there, settings restore.
    first_request = w.services.history.get(first_job).request
    w.close()
    w2 = open_window(make_services())
    model = w2.history_model
    assert model.total() == 2
    states = {model.record(i).id: model.record(i).state for i in range(model.rowCount())}
    assert states == {first_job: "succeeded", second_job: "cancelled"}
    assert model.record(0).id == second_job  # newest first
    w2.wb.set_provider("sandbox")
    w2.prompt.setPlainText("something else")
    row = model.row_of(first_job)
    idx = model.index(row, 0)
    rect = w2.history.view.visualRect(idx)
    viewport = w2.history.view.viewport()
    QTest.mouseClick(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, rect.center())
    qtbot.waitUntil(lambda: w2.compare.after_pic is not None)  # a click shows the job
    w2.history.view.setFocus()
    QTest.keyClick(w2.history.view, Qt.Key.Key_A)  # A: restore all settings (as InvokeAI's viewer)
    qtbot.waitUntil(lambda: w2.wb.prompt == first_request.prompt)
    restored = w2.wb.request
    assert restored.references == first_request.references
    assert (restored.steps, restored.guidance, restored.seed) == (
        first_request.steps,
        first_request.guidance,
        first_request.seed,
    )
    assert w2.prompt.toPlainText() == first_request.prompt
    assert w2.controls.steps.value() == first_request.steps
    assert w2.controls.seed.text() == str(first_request.seed)
    assert w2.tray.model.rowCount() == 3
    # the window kept its layout across the restart
    assert w2.services.settings.ui.get("geometry")


def test_paste_in_prompt_adds_image_not_text(open_window: Any, qtbot: Any) -> None:
    w = open_window()
    img = QImage(64, 64, QImage.Format.Format_RGB32)
    img.fill(Qt.GlobalColor.red)
    QGuiApplication.clipboard().setImage(img)  # (a QMimeData handed to the clipboard would be freed twice)
    w.prompt.setFocus()
    w.prompt.paste()
    qtbot.waitUntil(lambda: len(w.wb.references) == 1)
    assert w.prompt.toPlainText() == ""


def test_window_finishes_jobs_left_running_by_a_crash(
    open_window: Any, make_services: Any, qtbot: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A job still running when FlexStudio stopped is handed over as interrupted, and finished by the
    next window, in the background."""
    from flexstudio.core.request import EditRequest

    from .conftest import run

    monkeypatch.setenv("FLEXSTUDIO_SANDBOX_LATENCY", "1.5")
    svc = make_services()
    rec = svc.runner.create(EditRequest(prompt="a lighthouse at dusk"))
    task = svc.runner.start(rec.id)
    qtbot.waitUntil(lambda: svc.history.get(rec.id).state == "running", timeout=10000)
    run(qtbot, svc.aclose())  # FlexStudio stops: the job is left running at the "provider"
    assert task.done()
    svc2 = make_services()
    assert svc2.history.get(rec.id).state == "interrupted" and svc2.history.get(rec.id).handle
    w = open_window(svc2, resume=True)
    qtbot.waitUntil(
        lambda: w.history_model.record(0) is not None and w.history_model.record(0).state == "succeeded",
        timeout=15000,
    )
    assert w.history_model.record(0).id == rec.id and w.history_model.record(0).outputs
