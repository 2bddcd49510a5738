"""The history view keeps up with jobs changing in bursts (a batch's jobs landing together): changes are
shown at once when the view is quiet and together, in one read and one model change, when they come in a
burst; every job is still shown, newest first, in its current state, and actions see the jobs as they are."""

from __future__ import annotations

from typing import Any

import pytest

from flexstudio.core.request import EditRequest

pytestmark = pytest.mark.gui


def _count_reads(monkeypatch: Any, history: Any) -> list[list[str]]:
    reads: list[list[str]] = []
    get_many = history.get_many

    def counted(ids: Any) -> Any:
        reads.append(list(ids))
        return get_many(ids)

    monkeypatch.setattr(history, "get_many", counted)
    return reads


def _create(svc: Any, n: int) -> list[str]:
    return [
        svc.history.create(
            EditRequest(prompt=f"shot {i}", seed=i, provider="sandbox"), group_id="b1", group_kind="batch"
        ).id
        for i in range(n)
    ]


def test_a_burst_of_changes_is_shown_in_one_read_newest_first(
    open_window: Any, qtbot: Any, monkeypatch: Any
) -> None:
    w = open_window()
    model, history = w.history_model, w.services.history
    reads = _count_reads(monkeypatch, history)
    ids = _create(w.services, 20)
    for job_id in ids:  # twenty jobs created in one tick
        model.upsert_soon(job_id)
    assert reads == [ids[:1]] and model.rowCount() == 1  # the first at once, the others wait
    qtbot.waitUntil(lambda: model.pending_changes() == 0)
    assert reads == [ids[:1], ids[1:]]  # one read for the nineteen
    assert [r.id for r in model.records()] == [r.id for r in history.list()] == ids[::-1]
    assert model.total() == 20 and w.history.count.text() == "20 jobs"

    # they finish together: one read again, each row in its new state
    for i, job_id in enumerate(ids):
        history.update(job_id, state="submitting")
        history.update(job_id, state="running")
        history.update(job_id, state="succeeded" if i % 2 else "failed")
        model.upsert_soon(job_id)
        model.upsert_soon(job_id)  # a job changing twice in the burst is read once
    qtbot.waitUntil(lambda: model.pending_changes() == 0)
    assert all(sorted(r) == sorted(ids) for r in reads[2:]) and len(reads) <= 4
    assert [(r.id, r.state) for r in model.records()] == [(r.id, r.state) for r in history.list()]
    assert {r.state for r in model.records()} == {"succeeded", "failed"}


def test_filters_and_actions_see_the_jobs_as_they_are_now(
    open_window: Any, qtbot: Any, monkeypatch: Any
) -> None:
    w = open_window()
    model, history, panel = w.history_model, w.services.history, w.history
    panel.status.setCurrentIndex(panel.status.findText("Failed"))
    a, b, c = _create(w.services, 3)
    for job_id in (a, b, c):
        history.update(job_id, state="submitting")
        history.update(job_id, state="running")
        history.update(job_id, state="failed")
    model.reload()
    assert [r.id for r in model.records()] == [c, b, a]
    history.update(a, state="running")  # cannot happen to a failed job, but the view must follow the store
    model.upsert_soon(c)
    history.update(b, error_message="changed")
    model.upsert_soon(b)
    model.upsert_soon(a)  # no longer matches the filter: its row goes
    assert model.pending_changes() == 2
    # an action flushes first: it acts on the job as it is now
    assert panel.select_job(b) and panel.current().error_message == "changed"
    assert [r.id for r in model.records()] == [c, b] and model.total() == 2
    # a job that disappeared (a submit refused with a 429 is purged, to be sent again) leaves the view
    history.purge(c)
    model.upsert(c)
    assert [r.id for r in model.records()] == [b] and model.total() == 1


def test_a_closed_window_runs_no_batched_update(open_window: Any, qtbot: Any) -> None:
    w = open_window()
    model = w.history_model
    ids = _create(w.services, 3)
    for job_id in ids:
        model.upsert_soon(job_id)
    assert model.pending_changes() == 2
    w.close()
    assert model.pending_changes() == 0 and not model._changes_timer.isActive()  # the history may close next


def test_jobs_landing_do_not_relayout_the_window(open_window: Any, qtbot: Any) -> None:
    from PySide6.QtCore import QEvent, QObject
    from PySide6.QtWidgets import QApplication

    class Layouts(QObject):
        n = 0
        window: Any = None

        def eventFilter(self, obj: Any, ev: Any) -> bool:
            if ev.type() == QEvent.Type.LayoutRequest and obj is self.window:
                self.n += 1
            return False

    w = open_window()
    model = w.history_model
    qtbot.waitUntil(lambda: getattr(model, "loaded", True))
    qtbot.waitUntil(lambda: bool(w.controller.key_status))  # the first-run sentence has its row by now
    w.refresh_spend()  # the window's own start-up: its first spend readout, its first layouts
    qtbot.waitUntil(lambda: not w._spend_timer.isActive())
    for _ in range(3):
        QApplication.processEvents()
    seen = Layouts()
    seen.window = w
    w.installEventFilter(seen)
    for job_id in _create(w.services, 120):  # the count passes 1, 10 and 100 jobs
        model.upsert_soon(job_id)
        w.jobs.activeCountChanged.emit(len(model.records()) % 30)  # "N jobs running" changes too
        QApplication.processEvents()
    qtbot.waitUntil(lambda: model.pending_changes() == 0)
    QApplication.processEvents()
    assert w.history.count.text() == "120 jobs" and w.active_label.text() != "No jobs running"
    # neither label laid the main window out again at each change (each did, 120 times, as a plain QLabel);
    # what is left is once or twice: the history's scroll bar appearing, a readout the window refreshes itself
    assert seen.n <= 2
