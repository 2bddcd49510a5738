"""The history panel: paged (10 000 jobs cost one page at first paint), lazy thumbnails, debounced
search, filters, and its actions (favourite, delete + undo, export, use as reference, compare with…,
re-run)."""

from __future__ import annotations

import time
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from flexstudio.core.request import EditRequest
from flexstudio.storage.history import Output

from .conftest import image_bytes

pytestmark = pytest.mark.gui


def _seed_history(svc: Any, n: int, with_outputs: int = 0) -> list[str]:
    now = time.time()
    states = ("succeeded", "failed", "cancelled", "moderated")
    svc.history.bulk_insert(
        (
            EditRequest(
                prompt=f"{'cat' if i % 10 == 0 else 'dog'} number {i}",
                seed=i,
                provider="sandbox" if i % 3 else "fal",
            ),
            states[i % 4],
            now - 10_000 + i,
        )
        for i in range(n)
    )
    newest = [r.id for r in svc.history.list(limit=with_outputs)]
    for i, job_id in enumerate(newest):
        data = image_bytes(64 + i % 7, 48, "PNG", ((i * 37) % 255, 90, 160), pattern=False)
        sha = svc.blobs.put(data, "image/png")
        svc.history.update(job_id, state="succeeded", outputs=[Output(sha, "image/png", 64 + i % 7, 48)])
    return newest


def test_ten_thousand_jobs_page_in_lazily(open_window: Any, make_services: Any, qtbot: Any) -> None:
    svc = make_services()
    _seed_history(svc, 10_000, with_outputs=150)
    started = time.perf_counter()
    w = open_window(svc)
    opened = time.perf_counter() - started
    model = w.history_model
    assert model.total() == 10_000
    assert model.rowCount() == model.PAGE and model.pages_fetched == 1
    # the list view lays out every row after each page: row count and indexes must stay in C++
    assert "rowCount" not in type(model).__dict__ and "index" not in type(model).__dict__
    assert w.history.count.text() == "10 000 jobs"
    qtbot.waitUntil(lambda: w.thumbs.made > 0)
    from flexstudio.ui.widgets.history_panel import card_size

    on_screen = -(-w.history.view.viewport().width() // card_size(w.history.view).width())  # partly, too
    qtbot.waitUntil(lambda: w.thumbs.made >= min(on_screen, 6))
    assert w.thumbs.made <= on_screen + 2, "only the thumbnails on screen are made"
    # scrolling to the end fetches the next page
    bar = w.history.view.horizontalScrollBar()
    bar.setValue(bar.maximum())
    qtbot.waitUntil(lambda: model.rowCount() == 2 * model.PAGE)
    print(f"\nwindow with 10 000 jobs in history opened in {opened * 1000:.0f} ms")
    assert opened < 3.0


def test_search_is_debounced_and_filters_combine(open_window: Any, make_services: Any, qtbot: Any) -> None:
    svc = make_services()
    _seed_history(svc, 400)
    w = open_window(svc)
    model = w.history_model
    reloads: list[int] = []
    model.modelReset.connect(lambda: reloads.append(model.total()))
    w.history.search.setFocus()
    QTest.keyClicks(w.history.search, "cat")
    assert reloads == []  # nothing while typing
    qtbot.waitUntil(lambda: len(reloads) == 1)
    assert model.total() == 40 and all(
        "cat" in model.record(i).request.prompt for i in range(model.rowCount())
    )
    w.history.provider.setCurrentIndex(w.history.provider.findData("fal"))
    assert 0 < model.total() < 40 and all(model.record(i).provider == "fal" for i in range(model.rowCount()))
    w.history.status.setCurrentIndex(w.history.status.findText("Succeeded"))
    assert all(model.record(i).state == "succeeded" for i in range(model.rowCount()))
    w.history.search.clear()
    qtbot.waitUntil(lambda: model.filters.search == "")
    w.history.provider.setCurrentIndex(0)
    w.history.status.setCurrentIndex(0)
    assert model.total() == 400
    # favourites
    w.history.view.setCurrentIndex(model.index(3, 0))
    w.history.view.setFocus()
    QTest.keyClick(w.history.view, Qt.Key.Key_Period)
    fav = model.record(3)
    assert fav.favourite and svc.history.get(fav.id).favourite
    w.history.favourites.setChecked(True)
    assert model.total() == 1 and model.record(0).id == fav.id


def test_delete_and_undo(open_window: Any, make_services: Any, qtbot: Any) -> None:
    svc = make_services()
    _seed_history(svc, 5)
    w = open_window(svc)
    model = w.history_model
    doomed = model.record(0).id
    w.history.view.setCurrentIndex(model.index(0, 0))
    w.history.view.setFocus()
    QTest.keyClick(w.history.view, Qt.Key.Key_Delete)
    assert model.total() == 4 and model.row_of(doomed) == -1
    assert "Deleted 1 job" in w.banner.message() and w.banner.action.text() == "Undo"
    w.banner.action.click()
    assert model.total() == 5 and model.row_of(doomed) == 0


def test_result_actions_export_reference_compare_rerun(
    open_window: Any, png_file: Any, tmp_path: Any, qtbot: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flexstudio.ui.dialogs import ask

    from .helpers import drop, file_mime

    w = open_window()
    w.services.settings.export_dir = str(tmp_path / "exports")
    monkeypatch.setattr(ask, "existing_folder", lambda _parent, _title, start: start)  # the designer says OK
    drop(w.tray.view.viewport(), file_mime(png_file("base.png", 256, 192)))
    qtbot.waitUntil(lambda: len(w.wb.references) == 1)
    w.prompt.setPlainText("make image 1 warmer")
    w.controller.run()
    qtbot.waitUntil(
        lambda: len(w.controller.started) == 1 and w.jobs.latest[w.controller.started[0]].state == "succeeded"
    )
    first = w.services.history.get(w.controller.started[0])

    # export with metadata (Ctrl+E on the selected history item)
    w.history.select_job(first.id)
    w.history.view.setFocus()
    QTest.keyClick(w.history.view, Qt.Key.Key_E, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: "Exported" in w.banner.message())
    exported = list((tmp_path / "exports").glob("flexstudio-*"))
    assert len(exported) == 1
    data = exported[0].read_bytes()
    assert b"make image 1 warmer" in data and b"flexstudio" in data

    # use the result as a reference: the next job records where it came from
    w.controller.use_job_output(first)
    assert len(w.wb.references) == 2 and w.wb.parent_job_id() == first.id
    assert w.wb.references[1].name == "result: make image 1 warmer"  # named by what was asked, not by id
    w.controller.run()
    qtbot.waitUntil(
        lambda: len(w.controller.started) == 2 and w.jobs.latest[w.controller.started[1]].state == "succeeded"
    )
    second = w.services.history.get(w.controller.started[1])
    assert second.parent_job_id == first.id
    assert "Made from job " + first.id in w.history_model.data(
        w.history_model.index(w.history_model.row_of(second.id), 0), Qt.ItemDataRole.ToolTipRole
    )

    # compare with…: pick the first job, then click the second
    w.controller.start_compare_with(first)
    assert "Compare with" in w.banner.message()
    rect = w.history.view.visualRect(w.history_model.index(w.history_model.row_of(second.id), 0))
    QTest.mouseClick(
        w.history.view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, rect.center()
    )
    qtbot.waitUntil(
        lambda: w.compare.before_pic is not None and w.compare.before_pic.sha256 == first.outputs[0].sha256
    )
    assert w.compare.after_pic.sha256 == second.outputs[0].sha256
    qtbot.waitUntil(lambda: w.compare.canvas.before is not None and w.compare.canvas.after is not None)
    # difference view of the two
    w.compare.set_mode("diff")
    qtbot.waitUntil(lambda: w.compare.canvas.diff is not None)
    assert w.compare.changed_share is not None and "% changed" in w.compare.changed_label.text()

    # re-run: a new job with the very same request (seed included)
    w.controller.rerun_job(first)
    qtbot.waitUntil(
        lambda: len(w.controller.started) == 3 and w.jobs.latest[w.controller.started[2]].state == "succeeded"
    )
    third = w.services.history.get(w.controller.started[2])
    assert third.request == first.request
    assert third.outputs[0].sha256 == first.outputs[0].sha256  # the sandbox is deterministic


def test_prompt_history_recall(open_window: Any, make_services: Any, qtbot: Any) -> None:
    svc = make_services()
    svc.history.create(EditRequest(prompt="older prompt"))
    svc.history.create(EditRequest(prompt="newer prompt"))
    w = open_window(svc)
    w.prompt.setFocus()
    w.prompt.setPlainText("draft")
    QTest.keyClick(w.prompt, Qt.Key.Key_Up, Qt.KeyboardModifier.AltModifier)
    assert w.prompt.toPlainText() == "newer prompt" and w.wb.prompt == "newer prompt"
    QTest.keyClick(w.prompt, Qt.Key.Key_Up, Qt.KeyboardModifier.AltModifier)
    assert w.prompt.toPlainText() == "older prompt"
    QTest.keyClick(w.prompt, Qt.Key.Key_Down, Qt.KeyboardModifier.AltModifier)
    QTest.keyClick(w.prompt, Qt.Key.Key_Down, Qt.KeyboardModifier.AltModifier)
    assert w.prompt.toPlainText() == "draft"
