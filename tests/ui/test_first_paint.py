"""The window's first frame reads no history: the history panel paints a placeholder (no empty-state
sentence, no count), then shows its first page once the window has painted (``after_first_paint``) —
without a job shown twice, and with a job changed meanwhile shown as it is now."""

from __future__ import annotations

import time
from typing import Any

import pytest

from flexstudio.core.request import EditRequest

pytestmark = pytest.mark.gui


def _seed(svc: Any, n: int) -> None:
    now = time.time()
    svc.history.bulk_insert(
        (EditRequest(prompt=f"job {i}", seed=i, provider="sandbox"), "succeeded", now - 1000 + i)
        for i in range(n)
    )


def _window(svc: Any, qtbot: Any) -> Any:
    from flexstudio.ui.window.main_window import MainWindow

    w = MainWindow(svc, setup_on_show=False)
    qtbot.addWidget(w)
    return w


def test_the_history_is_read_after_the_first_paint(
    qloop: Any, make_services: Any, qtbot: Any, monkeypatch: Any
) -> None:
    svc = make_services()
    _seed(svc, 30)
    reads: list[int] = []
    real_list = svc.history.list
    monkeypatch.setattr(svc.history, "list", lambda *a, **kw: reads.append(1) or real_list(*a, **kw))
    w = _window(svc, qtbot)
    model = w.history_model
    assert reads == []  # building the window read no page of the history
    assert not model.loaded and model.rowCount() == 0
    assert w.history.count.text() == ""  # not "0 jobs": the count comes with the page
    w.after_first_paint(resume=False)
    assert model.loaded and model.rowCount() == 30 and model.total() == 30
    assert w.history.count.text() == "30 jobs"
    assert w.history.select_job(model.record(3).id)  # the rows are there to select
    assert w.history.current() == model.record(3)
    run_shutdown(w, qtbot)


def test_a_job_that_changes_before_the_first_page_is_shown_once(
    qloop: Any, make_services: Any, qtbot: Any
) -> None:
    svc = make_services()
    _seed(svc, 5)
    w = _window(svc, qtbot)
    model = w.history_model
    rec = svc.history.create(EditRequest(prompt="made before the first page", provider="sandbox"))
    model.upsert(rec.id)  # a job event that comes before the page is read
    model.upsert_soon(rec.id)
    assert model.rowCount() == 0
    w.after_first_paint(resume=False)
    ids = [r.id for r in model.records()]
    assert ids.count(rec.id) == 1 and len(ids) == 6 and ids[0] == rec.id
    assert model.pending_changes() == 0
    run_shutdown(w, qtbot)


def test_the_empty_history_sentence_waits_for_the_first_page(
    qloop: Any, make_services: Any, qtbot: Any
) -> None:
    svc = make_services()
    w = _window(svc, qtbot)
    w.resize(1280, 800)
    w.show()
    qtbot.waitExposed(w)
    view = w.history.view
    before = view.grab().toImage()
    w.after_first_paint(resume=False)
    after = view.grab().toImage()
    assert w.history.count.text() == "0 jobs"
    assert before != after  # the sentence is drawn only once the history is known to be empty
    run_shutdown(w, qtbot)


def run_shutdown(w: Any, qtbot: Any) -> None:
    from .conftest import run

    w.close()
    run(qtbot, w.shutdown())


def test_the_price_is_worked_out_once_while_the_window_is_built(
    qloop: Any, make_services: Any, qtbot: Any, monkeypatch: Any
) -> None:
    from flexstudio.ui.widgets.cost import CostReadout

    refreshed: list[int] = []
    real = CostReadout.refresh
    monkeypatch.setattr(CostReadout, "refresh", lambda self: refreshed.append(1) or real(self))
    svc = make_services()
    w = _window(svc, qtbot)
    assert len(refreshed) == 1  # each refresh quotes every provider (for the note's height)
    assert w.cost.quote is not None and w.run_button.text().startswith("Run")
    assert w.spend_label.text()  # the spend is shown without pricing again
    w.refresh_spend()  # a job that ends still prices again
    assert len(refreshed) == 2
    run_shutdown(w, qtbot)


_FIRST_FRAME = """
import json, os, sys
from flexstudio import app as flexapp

qapp = flexapp.create_app([])
services = flexapp.build_services()
window = flexapp.build_window(services)
flexapp.show_and_paint(window)
import PySide6.QtCore as C, PySide6.QtGui as G, PySide6.QtWidgets as W

built = {m.__name__.rsplit(".", 1)[1]: sorted(n for n in NAMES if n in vars(m)) for m in (C, G, W)}
print(json.dumps({"built": built, "ui": sorted(m for m in sys.modules if m.startswith("flexstudio.ui"))}))
sys.stdout.flush()
os._exit(0)
"""

# PySide6 builds a Qt class (and every enum in it) on first use; these are not drawn in the first frame.
_NOT_IN_FIRST_FRAME = [
    "QStyle",  # the item painters' state flags: no chip or history card yet
    "QMessageBox",  # start-up errors only
    "QFileDialog",  # Add…, Restore from image…
    "QAccessible",  # the first announcement
    "QDesktopServices",  # Show folder
    "QUrl",
    "QTabWidget",  # one of the ~40 classes PySide6 builds to type the first widget Qt makes itself
    "QWizard",
    "QImageWriter",  # a pasted picture
    "QBuffer",
]


def test_the_first_frame_builds_no_qt_class_it_does_not_draw(tmp_path: Any) -> None:
    import json
    import os
    import subprocess
    import sys

    env = {
        **os.environ,
        "FLEXSTUDIO_HOME": str(tmp_path / "home"),
        "QT_QPA_PLATFORM": "offscreen",
        "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
    }
    code = f"NAMES = {_NOT_IN_FIRST_FRAME!r}\n" + _FIRST_FRAME
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60, check=True
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["built"] == {"QtCore": [], "QtGui": [], "QtWidgets": []}
    assert "flexstudio.ui.widgets.history_panel" in result["ui"]  # the real window was built
    assert not any(m.startswith("flexstudio.ui.dialogs") for m in result["ui"])


def test_a_pasted_picture_is_read_with_the_image_classes_built_on_first_use(qtbot: Any) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from PySide6.QtCore import QMimeData
    from PySide6.QtGui import QColor, QImage

    from flexstudio.ui.models.importer import _encode_png, sources_from_mime

    picture = QImage(40, 30, QImage.Format.Format_RGB32)
    picture.fill(QColor(200, 80, 40))
    mime = QMimeData()
    mime.setImageData(picture)
    (source,) = sources_from_mime(mime)
    assert source.image is not None and source.name.endswith(".png")
    with ThreadPoolExecutor(1) as pool:  # encoded in a worker thread, as the importer does
        data = pool.submit(_encode_png, source.image).result(timeout=10)
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    back = QImage.fromData(data, "PNG")
    assert (back.width(), back.height()) == (40, 30)
