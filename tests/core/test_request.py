"""The one EditRequest: validation, sizes and a stable JSON round-trip."""

from __future__ import annotations

import json

import pytest

from flexstudio.core.errors import BadInput
from flexstudio.core.request import SCHEMA_VERSION, EditRequest, ImageRef
from flexstudio.core.sizes import aspect_size, billed_megapixels, fit_within, parse_size, validate_size


def _req(**kw):
    refs = (ImageRef("a" * 64, 3000, 2000, "a.jpg", "image/jpeg"), ImageRef("b" * 64, 512, 512, "b.png"))
    base = dict(
        prompt="Put the cat from image 1 in image 2",
        references=refs,
        steps=28,
        guidance=3.5,
        seed=7,
        size=(1024, 768),
        output_format="png",
        safety=3,
        prompt_upsampling=False,
        provider="fal",
    )
    base.update(kw)
    return EditRequest(**base)


def test_round_trip_is_exact_and_stable():
    req = _req(extras={"quality": "high"})
    text = req.to_json()
    back = EditRequest.from_json(text)
    assert back == req
    assert back.to_json() == text  # byte-stable: history, presets and exports all store this
    d = json.loads(text)
    assert d["schema"] == SCHEMA_VERSION
    assert d["size"] == "1024x768"
    assert [r["name"] for r in d["references"]] == ["a.jpg", "b.png"]  # order kept


def test_auto_size_follows_image_one_and_defaults_to_1024():
    req = _req(size=None)
    w, h = req.output_size()
    assert (w, h) == fit_within(3000, 2000)
    assert w % 16 == 0 and h % 16 == 0 and w * h <= 4 * 1048576
    assert EditRequest(prompt="x").output_size() == (1024, 1024)
    assert EditRequest.from_dict({"prompt": "x", "size": "auto"}).size is None


def test_from_dict_accepts_jpg_and_refuses_newer_schema():
    assert EditRequest.from_dict({"prompt": "x", "output_format": "jpg"}).output_format == "jpeg"
    with pytest.raises(BadInput, match="newer"):
        EditRequest.from_dict({"schema": SCHEMA_VERSION + 1, "prompt": "x"})


def test_resolved_draws_a_seed_once():
    req = EditRequest(prompt="x")
    r = req.resolved()
    assert r.seed is not None and 0 <= r.seed < 2**32
    assert r.resolved() is r
    assert _req().resolved().seed == 7


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"prompt": "  "}, "prompt is empty"),
        ({"steps": 0}, "Steps"),
        ({"steps": 51}, "Steps"),
        ({"guidance": 1.0}, "Guidance"),
        ({"seed": -1}, "Seed"),
        ({"size": (1000, 1000)}, "multiple of 16"),
        ({"size": (48, 1024)}, "at least 64"),
        ({"size": (4096, 4096)}, "MP"),
        ({"output_format": "gif"}, "format"),
    ],
)
def test_validation_names_the_problem(change, message):
    with pytest.raises(BadInput, match=message):
        _req(**change).validate()


def test_size_rules():
    assert parse_size("auto") is None
    assert parse_size("1920x1088") == (1920, 1088)
    assert parse_size("1024×768") == (1024, 768)
    with pytest.raises(BadInput, match="try 1920×1088"):
        parse_size("1920x1080")
    with pytest.raises(BadInput):
        parse_size("large")
    validate_size(2048, 2048)  # exactly 4 MP is allowed
    assert billed_megapixels(512, 512) == 1
    assert billed_megapixels(1024, 1024) == 1
    assert billed_megapixels(1920, 1088) == 2
    w, h = fit_within(6000, 4000)
    assert w * h <= 4 * 1048576 and w % 16 == 0 and h % 16 == 0
    assert abs(w / h - 1.5) < 0.02
    assert fit_within(800, 600) == (800, 592)  # never scaled up; sides floored to 16
    assert fit_within(10, 5000)[0] == 64  # the 64 px floor
    for rw, rh in ((16, 9), (1, 1), (2, 3)):
        aw, ah = aspect_size(rw, rh, 1.0)
        assert aw % 16 == 0 and ah % 16 == 0 and aw * ah <= 4 * 1048576
