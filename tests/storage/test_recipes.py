"""Images carry their recipe; dropping one back restores the request (FlexStudio, A1111, ComfyUI)."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import pytest
from PIL import Image, PngImagePlugin

from flexstudio.core.request import EditRequest, ImageRef
from flexstudio.storage.exports import export_image
from flexstudio.storage.history import History
from flexstudio.storage.recipes import parse_a1111, read_recipe

REQ = EditRequest(
    prompt="Recolour the chair from image 1 to #ff6600",
    steps=33,
    guidance=4.5,
    seed=1234,
    size=(768, 512),
    output_format="png",
    safety=1,
    prompt_upsampling=False,
    provider="fal",
    references=(ImageRef("ab" * 32, 1000, 800, "chair.jpg", "image/jpeg"),),
)


def _encoded(fmt: str) -> tuple[bytes, str]:
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (10, 200, 30)).save(buf, fmt)
    return buf.getvalue(), {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}[fmt]


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
def test_exported_images_give_their_request_back(tmp_path, fmt):
    data, mime = _encoded(fmt)
    path = export_image(data, mime, tmp_path, REQ, stem="x", job_id="job1", provider="fal", seed=1234).path
    recipe = read_recipe(path.read_bytes())
    assert recipe is not None and recipe.source == "flexstudio"
    assert recipe.request == REQ
    assert recipe.info["job_id"] == "job1" and recipe.info["reference_sha256"] == ["ab" * 32]
    with Image.open(path) as im:  # the pixels are still a normal image
        im.load()
        assert im.size == (64, 48)


def test_png_is_readable_by_a_plain_pillow_script(tmp_path):
    data, mime = _encoded("PNG")
    path = export_image(data, mime, tmp_path, REQ, stem="plain").path
    script = (
        "import sys, json; from PIL import Image; im = Image.open(sys.argv[1]); "
        "print(json.dumps({'parameters': im.info['parameters'], 'request': json.loads(im.info['flexstudio'])['request']}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", script, str(path)], capture_output=True, text=True, check=True
    )
    shown = json.loads(out.stdout)
    assert shown["parameters"].startswith(REQ.prompt + "\n")
    assert "Steps: 33" in shown["parameters"] and "Seed: 1234" in shown["parameters"]
    assert shown["request"]["seed"] == 1234 and shown["request"]["provider"] == "fal"


def test_a1111_png_restores_what_it_shares():
    info = PngImagePlugin.PngInfo()
    info.add_text(
        "parameters",
        "a castle at dusk, detailed\nNegative prompt: blurry\n"
        'Steps: 24, Sampler: Euler a, CFG scale: 7, Seed: 99, Size: 832x1216, Model: "sdxl, v1"',
    )
    buf = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buf, "PNG", pnginfo=info)
    recipe = read_recipe(buf.getvalue())
    assert recipe is not None and recipe.source == "a1111"
    r = recipe.request
    assert (r.prompt, r.steps, r.guidance, r.seed, r.size) == (
        "a castle at dusk, detailed",
        24,
        7.0,
        99,
        (832, 1216),
    )
    assert parse_a1111('x\nSteps: 5, Seed: 1, Model: "a, b"')["Model"] == "a, b"


def test_images_without_a_recipe_and_junk_give_none():
    data, _ = _encoded("JPEG")
    assert read_recipe(data) is None
    assert read_recipe(b"not an image") is None


def test_lineage_chain_and_branch_cost(tmp_path):
    h = History(tmp_path / "h.sqlite3")
    a = h.create(EditRequest(prompt="a"), quote_usd=0.10)
    b = h.create(EditRequest(prompt="b"), quote_usd=0.15, parent_job_id=a.id)
    h.update(b.id, billed_usd=0.12)
    c = h.create(EditRequest(prompt="c"), quote_usd=0.05, parent_job_id=b.id)
    d = h.create(EditRequest(prompt="d"), quote_usd=0.20, parent_job_id=a.id)
    assert [r.id for r in h.ancestry(c.id)] == [a.id, b.id, c.id]
    tree = [(depth, rec.id, cost) for depth, rec, cost in h.lineage_tree(a.id)]
    assert tree == [(0, a.id, 0.10), (1, b.id, 0.22), (2, c.id, 0.27), (1, d.id, 0.30)]
    h.close()
