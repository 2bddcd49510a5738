"""Readouts: money, approximate prices, the job sentences, the compare view's modes and zoom."""

from __future__ import annotations

from typing import Any

import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtTest import QTest

from flexstudio.jobs.events import JobEvent
from flexstudio.ui.widgets.jobs_panel import outcome_text
from flexstudio.ui.widgets.theme import money

pytestmark = pytest.mark.gui


def test_money() -> None:
    assert [money(v) for v in (0, 0.05, 0.045, 0.15, 1.2, 0.0004)] == [
        "$0.00",
        "$0.05",
        "$0.045",
        "$0.15",
        "$1.20",
        "$0.0004",
    ]
    assert money(0.15, approximate=True) == "≈ $0.15"
    assert money(None) == "price unknown"


def test_job_sentences() -> None:
    assert outcome_text(JobEvent("j", "running", queue_position=3)) == "In the provider's queue, position 3."
    assert (
        outcome_text(
            JobEvent("j", "failed", error_kind="credits", error_message="fal says: no credits left.")
        )
        == "Failed: fal says: no credits left. Add credits at the provider, then run again."
    )
    # the runner writes the provider's billing rule as the message; without one the card says "unknown"
    assert (
        outcome_text(
            JobEvent(
                "j",
                "moderated",
                message="Moderated — not billed (BFL does not charge).",
                error_message="The output was flagged.",
            )
        )
        == "Moderated — not billed (BFL does not charge). The output was flagged."
    )
    assert outcome_text(JobEvent("j", "moderated", error_message="The output was flagged.")).startswith(
        "Moderated — billing unknown."
    )
    assert outcome_text(JobEvent("j", "succeeded", message="Done.")) == "Done."


def test_approximate_price_is_marked(open_window: Any) -> None:
    w = open_window()
    w.wb.set_provider("bfl")
    assert w.cost.quote.approximate
    assert w.cost.price.text().startswith("≈ $")
    assert w.run_button.text() == f"Run  ·  {w.cost.price.text()}"
    assert "approximate" in w.cost.price.toolTip()


def test_compare_modes_zoom_and_side_by_side_sync(open_window: Any, png_file: Any, qtbot: Any) -> None:
    from .helpers import drop, file_mime

    w = open_window()
    drop(w.tray.view.viewport(), file_mime(png_file("a.png", 800, 600)))
    qtbot.waitUntil(lambda: len(w.wb.references) == 1)
    w.prompt.setPlainText("brighter")
    w.controller.run()
    qtbot.waitUntil(
        lambda: w.compare.canvas.after is not None and w.compare.canvas.before is not None, timeout=20000
    )
    canvas = w.compare.canvas
    assert w.compare.zoom_label.text().endswith("%")
    w.actions_["actual"].trigger()
    assert canvas.zoom == 1.0 and w.compare.zoom_label.text() == "100 %"
    QTest.mouseDClick(canvas, Qt.MouseButton.LeftButton)
    assert canvas.zoom is None
    # side by side: one zoom and one pan for both halves
    w.compare.set_mode("side")
    left, right = canvas._views()
    anchor = QPointF(left.center().x() + 20, left.center().y())
    canvas.zoom_by(2.0, anchor)
    fl, fr = canvas.frame_rect(left), canvas.frame_rect(right)
    assert fl.size() == fr.size()
    assert fl.left() - left.left() == pytest.approx(fr.left() - right.left())
    assert fl.top() == pytest.approx(fr.top())
    canvas.grab()  # paints without error in every mode
    for mode in ("wipe", "flip", "diff"):
        w.compare.set_mode(mode)
        canvas.grab()
    qtbot.waitUntil(lambda: canvas.diff is not None)
    w.compare.threshold.setValue(100)
    qtbot.waitUntil(lambda: w.compare.changed_share is not None)
    qtbot.waitUntil(lambda: "changed" in w.compare.changed_label.text())
    share_high = w.compare.changed_share
    assert share_high is not None and 0.0 <= share_high <= 1.0
    # M cycles the modes from the keyboard; C swaps
    canvas.setFocus()
    before_sha = w.compare.before_pic.sha256
    QTest.keyClick(canvas, Qt.Key.Key_M)
    assert canvas.mode == "wipe"
    QTest.keyClick(canvas, Qt.Key.Key_C)
    assert w.compare.after_pic.sha256 == before_sha


def test_a_long_breakdown_sums_the_references_even_when_one_price_is_unknown(qapp: Any) -> None:
    from types import SimpleNamespace

    from PySide6.QtWidgets import QLabel

    from flexstudio.ui.widgets.cost import breakdown_text

    items = [SimpleNamespace(item="output", megapixels=2.0, usd=0.1)] + [
        SimpleNamespace(item=f"image {n}", megapixels=1.0, usd=None if n == 3 else 0.05) for n in range(1, 9)
    ]
    label = QLabel()
    label.setWordWrap(True)
    label.resize(120, 2 * label.fontMetrics().lineSpacing())
    text = breakdown_text(items, label)
    assert "8\u00a0images" in text and "unknown" not in text  # summed; an unknown total is not made up
    assert "image 1" in breakdown_text(items).replace("\u00a0", " ")  # the tooltip lists each


def test_words_money_and_plurals() -> None:
    from flexstudio.core.job_state import JobState
    from flexstudio.core.request import EditRequest
    from flexstudio.storage.history import JobRecord
    from flexstudio.ui.models.describe import plural
    from flexstudio.ui.models.history_model import tooltip

    assert [plural(1, "job"), plural(3, "job"), plural(0, "waiting job")] == [
        "1 job",
        "3 jobs",
        "0 waiting jobs",
    ]
    rec = JobRecord(
        id="j1",
        created_at=0.0,
        updated_at=0.0,
        provider="sandbox",
        state=JobState.SUCCEEDED,
        request=EditRequest(prompt="p"),
        quote_usd=0.0,
        billed_usd=0.0004,
        latency_s=1.5,
    )
    text = tooltip(rec, "Sandbox")
    assert "quoted $0.00 · billed $0.0004 · 1.5 s" in text and "$0.000 " not in text


def test_the_window_title_names_the_app_once(open_window: Any) -> None:
    w = open_window()
    title = w.windowTitle()
    assert title.count("FlexStudio") == 1
    # Qt adds the display name app.py sets ("FlexStudio") unless the title already ends with it
    assert title.endswith(" — FlexStudio")


def test_a_card_is_queued_or_running_never_both(qapp: Any) -> None:
    from flexstudio.core.job_state import JobState
    from flexstudio.ui.widgets.jobs_panel import JobCard

    card = JobCard("j", "Sandbox · make it warmer")
    card.update_event(JobEvent("j", JobState.RUNNING, queue_position=2, waiting=True))
    assert card.state_label.text() == "Queued" and card.progress.maximum() == 0  # busy, no percentage
    assert card.sentence.text() == "In the provider's queue, position 2."
    card.update_event(JobEvent("j", JobState.RUNNING, waiting=True, message="Waiting in BFL's queue."))
    assert card.state_label.text() == "Queued"
    card.update_event(JobEvent("j", JobState.RUNNING, progress=0.4, message="Simulating step 20/50"))
    assert card.state_label.text() == "Running" and card.progress.value() == 40
    assert card.sentence.text() == "Simulating step 20/50"
    card.deleteLater()
