"""Presets, provider comparisons, sweeps, lineage, spend caps on groups, and images that carry their own
settings — driven through the window as a designer would."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from flexstudio.core.request import EditRequest
from flexstudio.providers.base import Capabilities, FieldHandling, ProviderInfo, Support
from flexstudio.providers.sandbox import PROFILES

from .conftest import image_bytes
from .helpers import drop, file_mime

pytestmark = pytest.mark.gui

SANDBOX = PROFILES[0]
TWIN = ProviderInfo(
    id="twin",
    label="Twin Sandbox",
    protocol="sandbox",
    default_base_url="",
    needs_key=False,
    simulator=True,
    capabilities=Capabilities(
        max_references=3,
        formats=("jpeg", "png"),
        fields={
            "guidance": FieldHandling(Support.RENAMED, "sent as cfg"),
            "size": FieldHandling(Support.CONVERTED, "sent as an aspect ratio"),
            "safety": FieldHandling(Support.IGNORED, "no safety setting"),
        },
    ),
    factory=SANDBOX.factory,
)


def _settings(w: Any) -> dict[str, Any]:
    r = w.wb.request
    return {
        "provider": r.provider,
        "steps": r.steps,
        "guidance": r.guidance,
        "size": r.size,
        "seed": r.seed,
        "format": r.output_format,
        "safety": r.safety,
        "upsampling": r.prompt_upsampling,
        "seed_policy": w.wb.seed_policy,
        "size_mode": w.wb.size_mode,
    }


def _error(w: Any) -> str:
    return w.banner.message() if w.banner.isVisible() and w.banner.level == "error" else ""


# ---------------------------------------------------------------------------------------------- presets
def test_preset_saved_changed_and_applied_back_gives_identical_settings(open_window: Any, qtbot: Any) -> None:
    w = open_window()
    wb = w.wb
    w.prompt.setPlainText("a lamp on a table")
    wb.set_steps(37)
    wb.set_guidance(6.5)
    wb.set_seed(424242)
    wb.set_format("png")
    wb.set_safety(4)
    wb.set_upsampling(True)
    wb.set_size_mode("custom", (1200, 800))
    wb.set_seed_policy("fixed")
    w.controls.refresh()
    before = _settings(w)

    w.actions_["save_preset"].trigger()  # Ctrl+S
    dlg = w.controller.preset_dialog
    assert dlg.isVisible()
    dlg.name.setText("Lamp shots")
    assert dlg.seed_policy.currentData() == "fixed"  # the policy in the controls
    dlg.template.setText("no placeholder")
    assert not dlg.buttons.button(dlg.buttons.StandardButton.Save).isEnabled()
    assert "{prompt}" in dlg.note.text()
    dlg.template.setText("{prompt}, product photo")
    dlg.accept()
    assert not dlg.isVisible()
    saved = w.services.presets.get("Lamp shots")
    assert saved.settings["seed"] == 424242 and saved.prompt_template == "{prompt}, product photo"
    assert w.presets_bar.combo.findData("Lamp shots") > 0

    # change everything
    wb.set_provider("sandbox")
    wb.set_steps(12)
    wb.set_guidance(2.5)
    wb.set_seed(7)
    wb.set_format("jpeg")
    wb.set_safety(1)
    wb.set_upsampling(False)
    wb.set_size_mode("1:1")
    wb.set_seed_policy("random")
    assert _settings(w) != before

    # apply it back through the combo, as a person would
    combo = w.presets_bar.combo
    combo.setCurrentIndex(combo.findData("Lamp shots"))
    combo.activated.emit(combo.currentIndex())
    assert _settings(w) == before
    assert w.prompt.toPlainText() == "a lamp on a table, product photo"
    assert w.controls.steps.value() == 37 and w.controls.seed.text() == "424242"
    assert w.controls.seed_policy.currentData() == "fixed"
    # applying again never nests the template; a setting changed afterwards releases the combo
    w.controller.apply_preset("Lamp shots")
    assert w.prompt.toPlainText() == "a lamp on a table, product photo"
    wb.set_steps(20)
    assert combo.currentIndex() == 0

    # a built-in: Fast draft is 28 / 3.5
    w.controller.apply_preset("Fast draft")
    assert (wb.request.steps, wb.request.guidance) == (28, 3.5)
    assert w.prompt.toPlainText() == "a lamp on a table"


def test_preset_export_import_rename_delete(
    open_window: Any, make_services: Any, tmp_path: Path, qtbot: Any
) -> None:
    svc = make_services()
    svc.secrets.set("fal", "fal-secret-key-123")
    w = open_window(svc)
    w.wb.set_steps(44)
    w.wb.set_guidance(4.5)
    w.wb.set_seed_policy("increment")
    preset = w.wb.capture_preset("Mine", prompt_template="{prompt} at dusk")
    svc.presets.save(preset)
    w.presets_bar.reload()

    mgr = w.controller.manage_presets()
    names = [mgr.list.item(i).text() for i in range(mgr.list.count())]
    assert names[:4] == [
        "Fast draft   (built in)",
        "Final   (built in)",
        "Photo retouch   (built in)",
        "Typography   (built in)",
    ]
    assert "Mine" in names
    mgr.list.setCurrentRow(0)
    assert not mgr.delete_button.isEnabled()  # built-ins stay

    out = tmp_path / "mine.json"
    assert mgr.export_to("Mine", out) == out
    data = json.loads(out.read_text())
    assert data["settings"]["steps"] == 44 and data["prompt_template"] == "{prompt} at dusk"
    assert "fal-secret-key-123" not in out.read_text() and "key" not in json.dumps(data).lower()

    assert mgr.delete("Mine")
    assert "Mine" not in [p.name for p in svc.presets.list()]
    assert w.presets_bar.combo.findData("Mine") == -1
    imported = mgr.import_file(out)
    assert imported is not None and imported.settings == preset.settings
    assert w.presets_bar.combo.findData("Mine") > 0

    assert mgr.rename("Mine", "Dusk")
    assert [p.name for p in svc.presets.list() if not p.builtin] == ["Dusk"]
    assert w.presets_bar.combo.findData("Dusk") > 0

    bad = tmp_path / "bad.json"
    bad.write_text('{"name": "Bad", "settings": {"steps": 500}}')
    assert mgr.import_file(bad) is None
    assert "between 1 and 50" in mgr.message.text()

    w.wb.set_steps(10)
    mgr.list.setCurrentRow(
        [mgr.list.item(i).data(Qt.ItemDataRole.UserRole) for i in range(mgr.list.count())].index("Dusk")
    )
    mgr.apply_button.click()
    assert w.wb.request.steps == 44 and w.wb.seed_policy == "increment"
    mgr.close()


# ------------------------------------------------------------------------------------------------ sweeps
def test_sweep_2x2x2_after_confirming_its_price(open_window: Any, qtbot: Any) -> None:
    w = open_window()
    w.prompt.setPlainText("a red chair")
    w.sweep_button.click()
    dlg = w.controller.groups.sweep_dialog
    dlg.set_axes("20-30 (+10)", "3, 5", "1, 2")
    assert "2 steps × 2 guidance × 2 seeds = 8 edits" in dlg.size_label.text()
    assert dlg.launch_button.text() == "Launch 8 edits  ·  $0.00"
    assert "Total: $0.00" in dlg.price.total.text()
    dlg.set_axes("20-30 (+10)", "3, 12", "1, 2")
    assert "outside 1.5–10" in dlg.size_label.text() and not dlg.launch_button.isEnabled()
    dlg.set_axes("20-30 (+10)", "3, 5", "1, 2")
    assert w.services.history.count() == 0  # nothing before the price is confirmed

    dlg.launch_button.click()
    assert not dlg.isVisible()
    jobs = w.services.history.list()
    assert len(jobs) == 8 and len({j.group_id for j in jobs}) == 1 and jobs[0].group_kind == "sweep"
    assert {(j.request.steps, j.request.guidance, j.request.seed) for j in jobs} == {
        (s, g, d) for s in (20, 30) for g in (3.0, 5.0) for d in (1, 2)
    }
    results = w.controller.groups.open[jobs[0].group_id]
    assert results.isVisible() and len(results.cards) == 8
    qtbot.waitUntil(lambda: results.done_count() == 8, timeout=20000)
    assert all(j.state == "succeeded" for j in w.services.history.list())
    # a steps × guidance grid, one tab per seed
    assert results.tabs is not None and results.tabs.count() == 2
    assert len(results.visible_cards()) == 4
    assert {c.record.request.seed for c in results.visible_cards()} == {1}
    results.tabs.setCurrentIndex(1)
    assert {c.record.request.seed for c in results.visible_cards()} == {2}
    assert "8 edits on Sandbox" in results.header.text()
    # the history shows them as one sweep
    qtbot.waitUntil(lambda: w.history_model.total() == 8)
    assert all(w.history_model.record(i).group_kind == "sweep" for i in range(8))


# ------------------------------------------------------------------------------------------- spend caps
def test_spend_cap_below_the_quote_refuses_run_comparison_and_sweep(
    open_window: Any, make_services: Any, qtbot: Any
) -> None:
    svc = make_services()
    svc.secrets.set("fal", "fal-key-for-tests")
    svc.settings.caps.session_stop = 0.01
    w = open_window(svc)
    w.wb.set_provider("fal")
    w.prompt.setPlainText("a red chair")
    qtbot.waitUntil(lambda: w.controller.key_status.get("fal") is not None)
    assert w.cost.quote.usd > 0.01
    assert "over your limit" in w.cost.note.full_text()  # said before anything is tried
    assert not w.run_button.isEnabled() and "over your limit" in w.run_button.toolTip()

    w.controller.run()  # single run
    qtbot.waitUntil(lambda: "over your limit" in _error(w))
    assert svc.history.count() == 0
    w.banner.dismiss()

    w.controller.groups.compare_providers()  # comparison
    qtbot.waitUntil(lambda: w.controller.groups.compare_dialog is not None)
    cmp = w.controller.groups.compare_dialog
    cmp.set_chosen(["fal", "sandbox"])
    assert "over your limit" in cmp.price.refusal.text() and "Nothing was sent" in cmp.price.refusal.text()
    assert not cmp.launch()
    assert cmp.isVisible() and "over your limit" in _error(w)
    assert svc.history.count() == 0
    cmp.close()
    w.banner.dismiss()

    dlg = w.controller.groups.open_sweep()  # sweep
    dlg.set_axes("20, 30", "3.5", "1")
    assert "over your limit" in dlg.price.refusal.text()
    dlg.launch_button.click()
    assert dlg.isVisible() and "over your limit" in _error(w)
    assert svc.history.count() == 0
    dlg.close()


def test_warn_level_shows_in_the_price_areas(open_window: Any, make_services: Any, qtbot: Any) -> None:
    svc = make_services()
    svc.secrets.set("fal", "fal-key-for-tests")
    svc.settings.caps.session_warn = 0.01
    w = open_window(svc)
    w.wb.set_provider("fal")
    w.prompt.setPlainText("a red chair")
    assert "warning level $0.01" in w.cost.note.full_text() and w.run_button.isEnabled()
    dlg = w.controller.groups.open_sweep()
    dlg.set_axes("20, 30", "3.5", "1")
    assert "warning level" in dlg.price.warning.text() and dlg.price.warning.isVisibleTo(dlg)
    assert not dlg.price.refusal.text()
    dlg.close()


def test_reaching_a_limit_holds_run_where_it_stands(open_window: Any, make_services: Any, qtbot: Any) -> None:
    svc = make_services()
    svc.secrets.set("fal", "fal-key-for-tests")
    w = open_window(svc, size=(1024, 700))
    w.wb.set_provider("fal")
    w.prompt.setPlainText("a red chair")
    qtbot.waitUntil(lambda: w.controller.key_status.get("fal") is not None and w.run_button.isEnabled())
    at = w.run_button.mapTo(w, w.run_button.rect().topLeft())
    svc.settings.caps.session_warn = 0.01  # the warning and then the refusal take the note's lines
    w.refresh_spend()
    assert "warning level" in w.cost.note.full_text() and w.run_button.isEnabled()
    svc.settings.caps.session_stop = 0.02
    w.refresh_spend()
    assert not w.run_button.isEnabled() and w.run_why.isVisible()
    assert "over your limit" in w.run_button.toolTip() and "over your limit" in w.cost.note.full_text()
    QApplication.processEvents()  # laid out again: Run has not moved
    assert w.run_button.mapTo(w, w.run_button.rect().topLeft()) == at
    w.run_why.click()
    assert "over your limit" in w.banner.message()
    w.controller.run()  # Ctrl+Enter: nothing is sent
    assert svc.history.count() == 0
    svc.settings.caps.session_stop = None
    w.refresh_spend()
    assert w.run_button.isEnabled() and w.run_button.mapTo(w, w.run_button.rect().topLeft()) == at


# -------------------------------------------------------------------------------- side-by-side providers
def test_comparison_grid_and_winner_kept_in_history(
    open_window: Any, make_services: Any, png_file: Any, qtbot: Any
) -> None:
    svc = make_services()
    svc.registry.register(TWIN)
    w = open_window(svc)
    drop(w.tray.view.viewport(), file_mime(png_file("room.png", 320, 240)))
    qtbot.waitUntil(lambda: len(w.wb.references) == 1)
    w.prompt.setPlainText("make image 1 warmer")
    w.wb.set_seed(31337)

    w.actions_["compare_providers"].trigger()
    qtbot.waitUntil(lambda: w.controller.groups.compare_dialog is not None)
    dlg = w.controller.groups.compare_dialog
    ids = [i.id for i in dlg.infos]
    assert "twin" in ids and "fal" in ids
    fal_row = ids.index("fal")
    assert not dlg.table.item(fal_row, 0).flags() & Qt.ItemFlag.ItemIsEnabled  # no key: greyed
    dlg.set_chosen(["sandbox", "twin"])
    assert [i.id for i in dlg.chosen()] == ["sandbox", "twin"]
    assert (
        "Reference limit for this comparison: 3" in dlg.refs_note.text()
        and "Twin Sandbox" in dlg.refs_note.text()
    )
    assert dlg.launch_button.text().startswith("Launch 2 edits")
    assert "Total for 2 providers" in dlg.price.total.text()
    twin_row = dlg.table.item(ids.index("twin"), 3)
    assert twin_row.text() == "renamed guidance · converted size · ignored safety"
    assert "Renamed: guidance (sent as cfg)" in twin_row.toolTip()
    assert ids[:2] == ["sandbox", "twin"]  # the providers that can run come first

    assert dlg.launch()
    jobs = svc.history.list()
    assert {j.provider for j in jobs} == {"sandbox", "twin"} and {j.request.seed for j in jobs} == {31337}
    assert {j.group_kind for j in jobs} == {"comparison"}
    grid = w.controller.groups.open[jobs[0].group_id]
    qtbot.waitUntil(lambda: grid.done_count() == 2, timeout=20000)
    cards = list(grid.cards.values())
    assert [c.title.text() for c in cards] == ["Sandbox", "Twin Sandbox"]
    for c in cards:
        facts = c.facts.text()
        assert "Latency" in facts and "quoted" in facts and "billed" in facts and "Seed 31337" in facts
    assert "quoted $0.00" in cards[0].facts.text()  # the sandbox is free
    assert "quoted $0.00" in cards[1].facts.text()  # the twin is priced by its protocol's rule (free)
    twin_card = next(c for c in cards if c.record.provider == "twin")
    assert "Renamed: guidance (sent as cfg)" in twin_card.handling.text()
    assert "Ignored: safety (no safety setting)" in twin_card.handling.text()
    qtbot.waitUntil(lambda: all(not c.picture.pixmap().isNull() for c in cards))

    twin_card.winner.click()
    assert svc.history.get(twin_card.job_id).winner
    assert not svc.history.get(cards[0].job_id).winner
    assert twin_card.winner.text() == "★ Winner" and "winner" in grid.summary.text()
    row = w.history_model.row_of(twin_card.job_id)
    assert w.history_model.record(row).winner  # the history shows it too

    assert not grid.compare_button.isEnabled()
    for c in cards:
        c.tick.setChecked(True)
    grid.activateWindow()
    qtbot.waitUntil(grid.isActiveWindow)
    grid.compare_button.click()
    from flexstudio.ui.models.describe import settings_words

    # human labels, not job ids; and the comparison shows in front of the results window
    assert {w.compare.before_pic.label, w.compare.after_pic.label} == {
        f"{w.history_model.label(c.record.provider)} · {settings_words(c.record.request)}" for c in cards
    }
    qtbot.waitUntil(w.isActiveWindow)
    grid.close()
    # reopened from the history, the winner is still there
    again = w.controller.groups.open_group(jobs[0].group_id)
    assert again is not grid and again.cards[twin_card.job_id].winner.isChecked()
    again.close()


# -------------------------------------------------------------------------------------------------- lineage
def test_lineage_dialog_shows_the_chain_and_branch_costs(
    open_window: Any, make_services: Any, qtbot: Any
) -> None:
    svc = make_services()
    h = svc.history
    root = h.create(EditRequest(prompt="root"), quote_usd=0.03)
    child = h.create(EditRequest(prompt="child"), quote_usd=0.05, parent_job_id=root.id)
    grandchild = h.create(EditRequest(prompt="grandchild"), quote_usd=0.02, parent_job_id=child.id)
    sibling = h.create(EditRequest(prompt="sibling"), quote_usd=0.10, parent_job_id=root.id)
    w = open_window(svc)
    dlg = w.controller.show_lineage(h.get(grandchild.id))
    # named by what was asked, never by job id
    assert "“root” (Sandbox, $0.03) → “child” (Sandbox, $0.05)" in dlg.chain_label.text()
    assert (
        dlg.chain_label.text().startswith("“grandchild” was made") and root.id not in dlg.chain_label.text()
    )
    assert "This branch cost $0.10" in dlg.chain_label.text()
    assert dlg.tree.topLevelItemCount() == 1
    top = dlg.tree.topLevelItem(0)
    assert top.text(0) == "50 steps · g 5 · $0.03\n“root”" and top.childCount() == 2
    assert top.child(0).child(0).text(4) == "$0.10"  # root → child → grandchild
    assert top.child(1).text(4) == "$0.13"  # root → sibling
    assert dlg.tree.currentItem().text(0) == "50 steps · g 5 · $0.02\n“grandchild”"
    assert "together they cost $0.20" in dlg.total_label.text()
    assert sibling.id in dlg.records
    dlg.close()


def test_lineage_nodes_show_their_result_thumbnail_cost_and_prompt(
    open_window: Any, make_services: Any, qtbot: Any
) -> None:
    from flexstudio.storage.history import Output

    svc = make_services()
    h = svc.history
    colours = {"root": (220, 40, 40), "child": (40, 200, 60)}
    root = h.create(EditRequest(prompt="root"), quote_usd=0.03)
    long_prompt = "Put the straw hat from image 2 on the cat and make the light warmer, like late afternoon"
    child = h.create(EditRequest(prompt=long_prompt), quote_usd=0.05, parent_job_id=root.id)
    failed = h.create(EditRequest(prompt="a failed try"), quote_usd=0.0, parent_job_id=root.id)
    for rec, colour in ((root, colours["root"]), (child, colours["child"])):
        sha = svc.blobs.put(image_bytes(96, 64, "PNG", colour, pattern=False), "image/png")
        h.update(rec.id, state="succeeded", outputs=[Output(sha, "image/png", 96, 64)])
    h.update(failed.id, state="failed")
    w = open_window(svc)
    dlg = w.controller.show_lineage(h.get(child.id))
    top = dlg.tree.topLevelItem(0)
    items = {"root": top, "child": top.child(0), "failed": top.child(1)}
    # the thumbnails are made off the GUI thread and arrive on their own
    qtbot.waitUntil(lambda: dlg.thumbnail_shown(items["root"]) and dlg.thumbnail_shown(items["child"]))
    assert not dlg.thumbnail_shown(items["failed"])  # no result: a blank of the same size keeps the column
    assert dlg.tree.iconSize().width() >= 48
    for name, colour in colours.items():
        image = items[name].icon(0).pixmap(dlg.tree.iconSize()).toImage()
        c = image.pixelColor(image.width() // 2, image.height() // 2)
        assert max(abs(c.red() - colour[0]), abs(c.green() - colour[1]), abs(c.blue() - colour[2])) < 12, name
    assert items["child"].text(0).startswith("50 steps · g 5 · $0.05\n“Put the straw hat from image 2")
    assert items["child"].text(0).endswith("…”") and len(items["child"].text(0).split("\n")[1]) < 60
    assert items["child"].toolTip(0) == long_prompt
    assert items["failed"].text(0).endswith(" · $0.00\n“a failed try”") and failed.id not in items[
        "failed"
    ].text(0)
    dlg.close()


# --------------------------------------------------------------------- images that carry their settings
def test_export_asks_where_and_remembers_the_folder(
    open_window: Any, png_file: Any, tmp_path: Path, qtbot: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flexstudio.ui.dialogs import ask
    from flexstudio.ui.dialogs.settings_dialog import default_export_dir

    w = open_window()
    asked: list[str] = []
    answer = [""]

    def pick(_parent: Any, _title: str, start: str) -> str:
        asked.append(start)
        return answer[0]

    monkeypatch.setattr(ask, "existing_folder", pick)
    drop(w.tray.view.viewport(), file_mime(png_file("base.png", 128, 96)))
    qtbot.waitUntil(lambda: len(w.wb.references) == 1)
    w.prompt.setPlainText("make image 1 a watercolour")
    w.controller.run()
    qtbot.waitUntil(
        lambda: len(w.controller.started) == 1 and w.jobs.latest[w.controller.started[0]].state == "succeeded"
    )
    job = w.services.history.get(w.controller.started[0])
    # cancelled: nothing written, nothing remembered
    w.controller.export_job(job)
    assert asked == [str(default_export_dir())] and w.services.settings.export_dir == ""
    assert not default_export_dir().exists() or not any(default_export_dir().glob("flexstudio-*"))
    # a folder picked: the image goes there and the folder is kept in the settings file
    answer[0] = str(tmp_path / "picked")
    w.controller.export_job(job)
    qtbot.waitUntil(lambda: "Exported" in w.banner.message())
    assert len(list((tmp_path / "picked").glob(f"flexstudio-{job.id}*"))) == 1
    assert json.loads(w.services.paths.settings_file.read_text())["export_dir"] == str(tmp_path / "picked")
    # the next export starts there
    answer[0] = ""
    w.controller.export_job(job)
    assert asked[-1] == str(tmp_path / "picked")


def test_dropping_an_exported_image_restores_its_settings(
    open_window: Any, png_file: Any, tmp_path: Path, qtbot: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flexstudio.ui.dialogs import ask

    w = open_window()
    monkeypatch.setattr(ask, "existing_folder", lambda *_a: str(tmp_path / "exports"))
    drop(w.tray.view.viewport(), file_mime(png_file("base.png", 256, 192)))
    qtbot.waitUntil(lambda: len(w.wb.references) == 1)
    w.prompt.setPlainText("make image 1 a watercolour")
    w.wb.set_steps(33)
    w.wb.set_guidance(6.0)
    w.wb.set_format("png")
    w.wb.set_size_mode("3:2")
    w.wb.set_seed_policy("fixed")
    w.controller.run()
    qtbot.waitUntil(
        lambda: len(w.controller.started) == 1 and w.jobs.latest[w.controller.started[0]].state == "succeeded"
    )
    job = w.services.history.get(w.controller.started[0])
    w.controller.export_job(job)
    qtbot.waitUntil(lambda: "Exported" in w.banner.message())
    exported = next((tmp_path / "exports").glob("flexstudio-*"))

    # change everything, then drop the exported image on the window
    w.wb.clear_references()
    w.prompt.setPlainText("something else")
    w.wb.set_steps(10)
    w.wb.set_guidance(2.0)
    w.wb.set_format("jpeg")
    w.wb.set_size_mode("auto")
    changed = w.wb.snapshot()
    drop(w.compare.canvas, file_mime(exported))
    qtbot.waitUntil(lambda: "Restored the settings" in w.banner.message())
    assert f"job {job.id}" in w.banner.message() and "FlexStudio recipe" in w.banner.message()
    assert w.wb.request == job.request.with_(size=job.request.size)
    assert w.prompt.toPlainText() == "make image 1 a watercolour" and w.controls.steps.value() == 33
    assert w.wb.size_mode == "3:2" and [r.sha256 for r in w.wb.references] == [
        r.sha256 for r in job.request.references
    ]

    # "Add as a reference instead": the settings go back, the image joins the tray
    assert w.banner.action.text() == "Add as a reference instead"
    w.banner.action.click()
    assert w.wb.request == changed[0].with_(references=w.wb.references)
    assert [r.name for r in w.wb.references] == [exported.name]

    # an A1111 PNG: prompt, steps, guidance, seed and size; the references stay
    from PIL import Image, PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text(
        "parameters",
        "a castle at night\nNegative prompt: blurry\n"
        "Steps: 24, Sampler: Euler, CFG scale: 4.5, Seed: 98765, Size: 832x1248, Model: flux",
    )
    a1111 = tmp_path / "a1111.png"
    Image.new("RGB", (64, 64), (10, 20, 30)).save(a1111, pnginfo=info)
    drop(w.tray.view.viewport(), file_mime(a1111))
    qtbot.waitUntil(lambda: "A1111 recipe" in w.banner.message())
    r = w.wb.request
    assert (r.prompt, r.steps, r.guidance, r.seed, r.size) == (
        "a castle at night",
        24,
        4.5,
        98765,
        (832, 1248),
    )
    assert [x.name for x in w.wb.references] == [exported.name]

    # a plain photo is a reference, as always
    plain = tmp_path / "photo.jpg"
    plain.write_bytes(image_bytes(200, 150, "JPEG"))
    drop(w.compare.canvas, file_mime(plain))
    qtbot.waitUntil(lambda: len(w.wb.references) == 2)
    assert w.wb.references[1].name == "photo.jpg"


def test_dropping_a_comfyui_image_restores_what_fits_and_says_what_did_not(
    open_window: Any, tmp_path: Path, qtbot: Any
) -> None:
    from tests import generator_files as F

    w = open_window()
    w.wb.set_seed_policy("fixed")
    w.wb.set_seed(555)
    w.wb.set_format("png")
    sdxl = tmp_path / "sdxl-refiner.png"
    sdxl.write_bytes(F.comfy_png(F.SDXL_REFINER))
    drop(w.compare.canvas, file_mime(sdxl))
    qtbot.waitUntil(lambda: "ComfyUI recipe" in w.banner.message())
    r = w.wb.request
    assert (r.prompt, r.steps, r.guidance, r.size) == (F.SDXL_PROMPT, 25, 8.0, (1024, 1024))
    assert r.seed == 555 and r.output_format == "png"  # the graph's seed does not fit: the window's stays
    text = w.banner.message()
    assert "Its prompt, steps, guidance and size replace yours" in text
    assert "Seed 721897303308196 is left out" in text and "first (KSamplerAdvanced node 10)" in text
    assert w.banner.level == "warning"


def test_restore_settings_from_an_image_file(open_window: Any, tmp_path: Path, qtbot: Any) -> None:
    from .conftest import run

    w = open_window()
    plain = tmp_path / "plain.png"
    plain.write_bytes(image_bytes(120, 90))
    assert not run(qtbot, w.controller.restore_from_image_file(plain))
    assert "carries no settings" in w.banner.message() and w.banner.action.text() == "Add it as a reference"
    w.banner.action.click()
    assert len(w.wb.references) == 1


def test_sweep_on_a_provider_without_a_key_queues_nothing(open_window: Any, qtbot: Any) -> None:
    w = open_window()
    qtbot.waitUntil(lambda: "fal" in w.controller.key_status)
    w.wb.set_provider("fal")
    w.prompt.setPlainText("a red chair")
    dlg = w.controller.groups.open_sweep()
    dlg.set_axes("20, 30", "3.5", "1")
    assert not dlg.launch()
    assert "needs an API key" in dlg.price.refusal.text() and "needs an API key" in _error(w)
    assert w.services.history.count() == 0
    dlg.close()
