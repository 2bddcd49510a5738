"""A damaged settings.json: moved aside (an older damaged copy is kept), named by ``settings_fault`` until a
valid settings file replaces it, and paid work is refused meanwhile (the Sandbox still runs)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flexstudio.core.errors import BadInput
from flexstudio.core.request import EditRequest
from flexstudio.services import Services
from flexstudio.storage.settings import Settings, settings_fault


@pytest.mark.parametrize(
    "text",
    ["{broken", "[1, 2]", '"caps"', '{"endpoints": [{"id": "gw", "colour": "red"}]}'],
    ids=["not-json", "a-list", "a-string", "fields-that-do-not-fit"],
)
def test_a_damaged_settings_file_is_moved_aside_and_named(tmp_path: Path, text: str) -> None:
    path = tmp_path / "settings.json"
    path.write_text(text)
    assert Settings.load(path) == Settings()
    assert not path.exists() and (tmp_path / "settings.broken.json").read_text() == text
    assert settings_fault(path) == tmp_path / "settings.broken.json"
    path.write_text("{also broken")  # a second damaged file never overwrites the first one
    Settings.load(path)
    assert (tmp_path / "settings.broken.json").read_text() == text
    assert (tmp_path / "settings.broken-2.json").read_text() == "{also broken"
    Settings().save(path)  # the defaults confirmed
    assert settings_fault(path) is None


def test_paid_work_is_refused_until_the_defaults_are_confirmed() -> None:
    first = Services.build()  # under the test's own FLEXSTUDIO_HOME
    first.history.close()
    first.paths.settings_file.write_text(json.dumps({"caps": {"day_stop": 0.15}})[:-3])
    svc = Services.build()
    try:
        assert svc.settings.caps.day_stop is None
        bfl = EditRequest(prompt="four", provider="bfl")
        with pytest.raises(BadInput) as err:
            svc.check_work([bfl], key_sources={"bfl": "env"})
        sentence = str(err.value)
        assert "settings.broken.json" in sentence and "nothing was sent" in sentence
        assert sentence.count(". ") == 0  # one sentence
        svc.check_work([EditRequest(prompt="four")])  # the sandbox still works
        svc.confirm_default_settings()
        assert svc.settings_refusal(bfl) == ""
    finally:
        svc.history.close()
