"""Every control follows the selected provider's capabilities (data, never provider names): a fake
provider registered in a test registry ignores steps, renames guidance, converts size, takes three
references, writes PNG only, has no safety setting and no prompt upsampling."""

from __future__ import annotations

from typing import Any

import pytest

from flexstudio.providers.base import Capabilities, FieldHandling, ProviderInfo, Support
from flexstudio.providers.sandbox import PROFILES

pytestmark = pytest.mark.gui

SANDBOX = PROFILES[0]
ODD = ProviderInfo(
    id="odd-cloud",
    label="Odd Cloud",
    protocol="sandbox",
    default_base_url="",
    needs_key=False,
    preview=True,
    capabilities=Capabilities(
        max_references=3,
        steps_range=None,
        guidance_range=(2.0, 6.0),
        safety_range=None,
        formats=("png",),
        prompt_upsampling=False,
        fields={
            "steps": FieldHandling(Support.IGNORED, "Odd Cloud picks its own number of steps"),
            "guidance": FieldHandling(Support.RENAMED, "sent as cfg"),
            "size": FieldHandling(Support.CONVERTED, "sent as an aspect ratio"),
            "safety": FieldHandling(Support.IGNORED, "no safety setting"),
        },
    ),
    factory=SANDBOX.factory,
)


class TestRegistry:
    """The registry interface the window uses, over a fixed list of ProviderInfo."""

    __test__ = False

    def __init__(self, infos: list[ProviderInfo]) -> None:
        self._infos = {i.id: i for i in infos}
        self.problems: list[str] = []

    def all(self) -> list[ProviderInfo]:
        return list(self._infos.values())

    def ids(self) -> list[str]:
        return list(self._infos)

    def __contains__(self, pid: object) -> bool:
        return pid in self._infos

    def get(self, pid: str) -> ProviderInfo:
        return self._infos[pid]


@pytest.fixture
def odd_window(open_window: Any, make_services: Any) -> Any:
    svc = make_services()
    svc.registry = TestRegistry([SANDBOX, ODD])
    svc.runner.registry = svc.registry
    return open_window(svc)


def test_controls_follow_capabilities(odd_window: Any, qtbot: Any) -> None:
    w = odd_window
    c = w.controls
    labels = [c.provider.itemText(i) for i in range(c.provider.count())]
    assert labels == ["Sandbox (simulator)", "Odd Cloud (preview)"]
    # on the sandbox everything is there
    assert c.steps.isEnabled() and not c.badges["steps"].isVisible()
    assert c.upsampling_row.isVisible()
    c.provider.setCurrentIndex(c.provider.findData("odd-cloud"))
    assert w.wb.info.id == "odd-cloud"
    # steps: ignored → greyed with a badge whose tooltip carries the note
    assert not c.steps.isEnabled()
    assert c.badges["steps"].isVisible() and c.badges["steps"].support.value == "ignored"
    assert "Odd Cloud has no setting for this" in c.badges["steps"].toolTip()  # plain words, then the note
    assert "picks its own number of steps" in c.badges["steps"].toolTip()
    # guidance: renamed → usable, badge, range from the capabilities
    assert c.guidance.isEnabled() and c.badges["guidance"].support.value == "renamed"
    assert (
        "under another name" in c.badges["guidance"].toolTip()
        and "sent as cfg" in c.badges["guidance"].toolTip()
    )
    assert (c.guidance.minimum(), c.guidance.maximum()) == (2.0, 6.0)
    assert 2.0 <= w.wb.request.guidance <= 6.0
    # size: converted
    assert c.badges["size"].support.value == "converted" and c.size_choice.isEnabled()
    # the label column is as wide whatever the badges: a badge never widens it
    assert c.badges["size"].width() == c.badges["seed"].width() == 16
    # safety: none → disabled; formats from caps; no upsampling toggle; three references
    assert not c.safety.isEnabled() and c.badges["safety"].isVisible()
    assert [c.format.itemData(i) for i in range(c.format.count())] == ["png"]
    assert w.wb.request.output_format == "png"
    assert not c.upsampling_row.isVisible()
    assert w.tray.counter.text() == "0 / 3"
    # seed is honoured: no badge
    assert not c.badges["seed"].isVisible() and c.seed.isEnabled()
    # and back
    c.provider.setCurrentIndex(c.provider.findData("sandbox"))
    assert c.steps.isEnabled() and not c.badges["steps"].isVisible() and c.upsampling_row.isVisible()


def test_guidance_has_one_decimal_and_steps_the_provider_range(open_window: Any) -> None:
    w = open_window()
    g = w.controls.guidance
    assert g.decimals() == 1
    g.setValue(3.47)
    assert w.wb.request.guidance == 3.5
    w.wb.set_provider("fal")
    lo, hi = w.wb.caps.steps_range
    assert (w.controls.steps.minimum(), w.controls.steps.maximum()) == (lo, hi)
    assert w.controls.badges["steps"].support.value == "renamed"


def test_size_custom_snaps_to_16_and_shows_megapixels(open_window: Any) -> None:
    w = open_window()
    c = w.controls
    assert not c.width_box.isVisible()
    c.size_choice.setCurrentIndex(c.size_choice.findData("custom"))
    assert c.width_box.isVisible()
    c.width_box.setValue(1001)
    c.height_box.setValue(1000)
    assert w.wb.request.size == (1008, 992)
    assert (c.width_box.value(), c.height_box.value()) == (1008, 992)
    assert "1008×992" in c.size_info.text() and "0.95 MP" in c.size_info.text()
    c.size_choice.setCurrentIndex(c.size_choice.findData("16:9"))
    assert w.wb.request.size == (1360, 768)
    c.size_choice.setCurrentIndex(c.size_choice.findData("auto"))
    assert w.wb.request.size is None


def test_seed_dice_lock_and_after_run_policy(open_window: Any, qtbot: Any) -> None:
    w = open_window()
    c = w.controls
    c.seed.setText("1234")
    c.seed.editingFinished.emit()
    assert w.wb.request.seed == 1234
    c.dice.click()
    assert w.wb.request.seed != 1234 and c.seed.text() == str(w.wb.request.seed)
    c.seed_policy.setCurrentIndex(c.seed_policy.findData("increment"))
    c.seed.setText("41")
    c.seed.editingFinished.emit()
    w.prompt.setPlainText("a chair")
    w.controller.run()
    qtbot.waitUntil(lambda: len(w.controller.started) == 1)
    assert w.services.history.get(w.controller.started[0]).request.seed == 41
    assert c.seed.text() == "42"
    c.lock.setChecked(True)
    assert not c.dice.isEnabled() and c.seed.isReadOnly()
    w.controller.run()
    qtbot.waitUntil(lambda: len(w.controller.started) == 2)
    assert w.services.history.get(w.controller.started[1]).request.seed == 42
    assert c.seed.text() == "42"  # locked: unchanged after the run
    qtbot.waitUntil(lambda: not w.jobs.active_ids())


def test_the_seed_row_is_one_thing_for_every_provider(open_window: Any) -> None:
    """Where the seed is ignored (Kie, RunAPI) the dice, lock and policy are greyed with it; where it is
    honoured a locked seed still greys only the dice and the policy."""
    w = open_window()
    c = w.controls
    seen = {}
    for pid in [c.provider.itemData(i) for i in range(c.provider.count())]:
        w.wb.set_provider(pid)
        parts = (c.seed, c.dice, c.lock, c.seed_policy, c.labels["seed"])
        assert len({p.isEnabled() for p in parts}) == 1, (pid, [p.isEnabled() for p in parts])
        seen[pid] = c.seed.isEnabled()
    assert not seen["kie"] and seen["sandbox"]
    w.wb.set_provider("sandbox")
    c.lock.setChecked(True)
    w.wb.set_provider("kie")
    assert not any(p.isEnabled() for p in (c.seed, c.dice, c.lock, c.seed_policy))
    w.wb.set_provider("sandbox")
    assert (
        c.seed.isEnabled() and c.lock.isEnabled() and not c.dice.isEnabled() and not c.seed_policy.isEnabled()
    )
