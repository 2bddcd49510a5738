"""The Batch dialog (Run → Batch…): prices before Launch, refuses without a key, launches, shows progress,
stops, and writes a contact sheet and the manifest."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from PIL import Image

from flexstudio.jobs.runner import RunnerConfig
from tests.ui.conftest import run


def _folder(tmp_path: Path, n: int, bad: bool = False) -> Path:
    folder = tmp_path / "shots"
    folder.mkdir()
    for i in range(n):
        Image.new("RGB", (96, 64), (i * 30 % 255, 100, 50)).save(folder / f"shot{i}.png")
    if bad:
        (folder / "broken.jpg").write_text("not an image")
    return folder


def _open(w: Any) -> Any:
    w.actions_["batch"].trigger()
    dlg = w.controller.groups.batch_dialog
    assert dlg is not None and dlg.isVisible()
    return dlg


def test_batch_dialog_prices_launches_shows_progress_and_writes_a_contact_sheet(
    open_window: Any, qtbot: Any, tmp_path: Path
) -> None:
    w = open_window()
    w.prompt.setPlainText("make it autumn")
    dlg = _open(w)
    dlg.out.setText(str(tmp_path / "out"))
    dlg.add_inputs([_folder(tmp_path, 3, bad=True)])
    assert dlg.list.count() == 4
    qtbot.waitUntil(lambda: dlg.launch_button.isEnabled(), timeout=10000)
    assert dlg.launch_button.text() == "Launch 3 edits  ·  $0.00"
    assert "Total: $0.00 for 3 inputs on Sandbox" in dlg.price.total.text()
    assert "1 of them cannot be used" in dlg.price.note.text()

    # A provider with a price: the total is shown, and without a key nothing is queued.
    dlg.provider.setCurrentIndex(dlg.provider.findData("fal"))
    qtbot.waitUntil(lambda: "on fal" in dlg.price.total.text(), timeout=10000)
    assert "$0.00" not in dlg.launch_button.text() and "$" in dlg.launch_button.text()
    assert not dlg.launch() and "needs an API key" in dlg.price.refusal.text()
    assert w.services.history.count() == 0

    dlg.provider.setCurrentIndex(dlg.provider.findData("sandbox"))
    qtbot.waitUntil(
        lambda: dlg.launch_button.text().endswith("$0.00") and dlg.launch_button.isEnabled(), timeout=10000
    )
    assert dlg.launch()
    assert dlg.card.isVisible() and dlg.bar.maximum() == 4
    qtbot.waitUntil(lambda: dlg.sheet_button.isEnabled(), timeout=30000)
    assert dlg.bar.value() == 4 and dlg.status.text().startswith("Done: 3 succeeded, 1 could not be used")
    jobs = w.services.history.list()
    assert (
        len(jobs) == 3
        and {j.group_kind for j in jobs} == {"batch"}
        and {j.state for j in jobs} == {"succeeded"}
    )
    assert sorted(p.name for p in (tmp_path / "out").glob("*.jpg")) == ["shot0.jpg", "shot1.jpg", "shot2.jpg"]
    lines = [json.loads(x) for x in dlg.batch.manifest_path.read_text().splitlines()]
    assert [x["status"] for x in lines] == ["failed", "succeeded", "succeeded", "succeeded"]

    # the history shows them as a batch, and filters by kind
    w.controller.run()
    qtbot.waitUntil(lambda: w.services.history.count() == 4, timeout=20000)
    panel = w.history
    panel.kind.setCurrentIndex(panel.kind.findData("batch"))
    assert panel.model.total() == 3
    panel.kind.setCurrentIndex(panel.kind.findData("single"))
    assert panel.model.total() == 1
    panel.kind.setCurrentIndex(panel.kind.findData(None))
    assert panel.model.total() == 4

    sheet = run(qtbot, dlg.export_contact_sheet(tmp_path / "sheet.png"))
    with Image.open(sheet) as im:
        im.load()
        assert im.width > 256 * 2 and im.height > 4 * 256
    assert "Contact sheet:" in dlg.manifest_label.text()
    dlg.close()


def test_stop_launches_nothing_more_and_cancels_what_runs(
    open_window: Any, qtbot: Any, make_services: Any, tmp_path: Path
) -> None:
    svc = make_services(runner_config=RunnerConfig(provider_options={"sandbox": {"latency": 30}}))
    w = open_window(svc)
    w.prompt.setPlainText("slow ones")
    dlg = _open(w)
    dlg.out.setText(str(tmp_path / "out"))
    dlg.add_inputs([_folder(tmp_path, 12)])
    qtbot.waitUntil(lambda: dlg.launch_button.isEnabled(), timeout=10000)
    assert dlg.launch()
    qtbot.waitUntil(
        lambda: len([j for j in w.services.history.list() if j.state == "running"]) == 8, timeout=20000
    )  # the sandbox admits 8 at once
    dlg.stop_button.click()
    qtbot.waitUntil(lambda: dlg.sheet_button.isEnabled(), timeout=20000)
    states = [j.state for j in w.services.history.list()]
    assert len(states) == 8 and set(states) == {"cancelled"}  # the four never launched were never created
    assert "not launched" in dlg.status.text() and "Ctrl-C" not in dlg.status.text()
    dlg.close()


def test_the_preset_manager_opens_batch_with_its_preset(open_window: Any, qtbot: Any) -> None:
    w = open_window()
    mgr = w.controller.manage_presets()
    assert mgr.list.count()
    mgr.list.setCurrentRow(0)
    name = mgr.current_name()
    mgr.batch_button.click()
    dlg = w.controller.groups.batch_dialog
    assert dlg is not None and dlg.isVisible() and dlg.settings.currentText() == name
    dlg.close()
    mgr.close()


def test_launch_writes_the_batch_planned_while_pricing_under_the_commands_key(
    open_window: Any, qtbot: Any, tmp_path: Path
) -> None:
    from flexstudio.jobs.batch_plan import batch_key

    w = open_window()
    w.prompt.setPlainText("make it autumn")
    dlg = _open(w)
    out = tmp_path / "out"
    dlg.out.setText(str(out))
    assert dlg.manifest_label.text() == f"Results and manifest go to {out}"  # shown before Launch
    folder = _folder(tmp_path, 2, bad=True)
    dlg.add_inputs([folder])
    qtbot.waitUntil(lambda: dlg.launch_button.isEnabled(), timeout=10000)
    assert dlg.launch()
    template = dlg.template()
    inputs = [str(p) for p in dlg.inputs]
    # the same key the CLI gives the same command, so either resumes the other's batch
    assert dlg.batch.key == batch_key(template, inputs, [r.sha256 for r in template.references], out)
    assert dlg.batch.out_dir == str(out.resolve())
    assert dlg.run.total == 3 and dlg.run.progress().failed == 1  # counted from the planned items
    assert [it.status for it in dlg.store.items(dlg.batch.id)].count("bad_input") == 1
    qtbot.waitUntil(lambda: dlg.sheet_button.isEnabled(), timeout=30000)
    assert dlg.bar.value() == 3 and dlg.batch.manifest_path.exists()
    dlg.close()


def test_a_damaged_batch_list_is_named_and_moved_aside_on_request_then_the_dialog_opens(
    open_window: Any, qtbot: Any, home: Path
) -> None:
    """Run → Batch… on a damaged batches.sqlite3: the message bar names the batch list (not the history),
    a dialog offers to move it aside; Cancel leaves it be, "Move aside" keeps the old file and opens the
    Batch dialog on a fresh list. No exception escapes the action."""
    from flexstudio.ui.dialogs.history_fault_dialog import MOVE_ASIDE, HistoryFaultDialog

    w = open_window()
    db = w.services.paths.batches_db
    junk = b"not a database, a shopping list\n" * 100
    db.write_bytes(junk)
    w.actions_["batch"].trigger()  # a traceback here would fail the test (pytest-qt's exception capture)
    qtbot.waitUntil(lambda: any(b.isVisible() for b in w.findChildren(HistoryFaultDialog)))
    (box,) = [b for b in w.findChildren(HistoryFaultDialog) if b.isVisible()]
    assert str(db) in box.text() and "list of batches" in box.text() and "history" not in box.text()
    assert "history, its jobs and images are not touched" in box.informativeText()
    assert w.banner.isVisible() and "batch list" in w.banner.text.text() and str(db) in w.banner.text.text()
    assert w.controller.groups.batch_dialog is None

    box.quit_button.click()  # "Cancel": nothing moved
    qtbot.waitUntil(lambda: not box.isVisible())
    assert db.read_bytes() == junk and w.controller.groups.batch_dialog is None

    w.actions_["batch"].trigger()
    qtbot.waitUntil(lambda: any(b.isVisible() for b in w.findChildren(HistoryFaultDialog)))
    (box,) = [b for b in w.findChildren(HistoryFaultDialog) if b.isVisible()]
    assert box.move_button.text() == MOVE_ASIDE
    box.move_button.click()
    qtbot.waitUntil(lambda: w.controller.groups.batch_dialog is not None)
    dlg = w.controller.groups.batch_dialog
    assert dlg.isVisible()
    kept = [p for p in db.parent.iterdir() if p.name.startswith("batches.sqlite3.broken-")]
    assert len(kept) == 1 and kept[0].read_bytes() == junk
    assert "Moved the damaged file aside" in w.banner.text.text()
    assert w.services.history.count() == 0 and (db.parent / "history.sqlite3").exists()
