"""``flexstudio info IMAGE [--json]`` as a user runs it: a real process, each exit code, never a traceback."""

from __future__ import annotations

import io
import json
import subprocess
import sys

from PIL import Image

from flexstudio.core.request import EditRequest
from flexstudio.storage.exports import export_image
from tests import generator_files as F

EXE = [sys.executable, "-m", "flexstudio", "info"]


def info(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*EXE, *args], capture_output=True, text=True, timeout=60)


def test_a_flexstudio_export_gives_its_whole_request(tmp_path):
    buf = io.BytesIO()
    Image.new("RGB", (32, 32)).save(buf, "WEBP")
    req = EditRequest(
        prompt="Swap the sky\nfor a storm",
        steps=30,
        guidance=3.0,
        seed=42,
        size=(1024, 768),
        provider="bfl",
        safety=5,
        prompt_upsampling=False,
    )
    path = export_image(buf.getvalue(), "image/webp", tmp_path, req, stem="e", job_id="j9").path
    r = info(str(path), "--json")
    assert r.returncode == 0 and r.stderr == ""
    obj = json.loads(r.stdout)
    assert obj["source"] == "flexstudio" and obj["notes"] == []
    assert EditRequest.from_dict(obj["request"]) == req
    text = info(str(path))
    assert text.returncode == 0
    assert text.stdout.splitlines()[:3] == [
        "FlexStudio settings (FlexStudio job j9)",
        "prompt: Swap the sky",
        "        for a storm",
    ]
    assert (
        "steps: 30" in text.stdout and "seed: 42" in text.stdout and "prompt upsampling: off" in text.stdout
    )


def test_a_comfyui_graph_gives_its_settings_and_notes(tmp_path):
    path = tmp_path / "sdxl.png"
    path.write_bytes(F.comfy_png(F.SDXL_REFINER))
    r = info(str(path), "--json")
    assert r.returncode == 0, r.stderr
    obj = json.loads(r.stdout)
    assert set(obj) == {"source", "request", "notes"} and obj["source"] == "comfyui"
    assert (obj["request"]["prompt"], obj["request"]["steps"], obj["request"]["size"]) == (
        F.SDXL_PROMPT,
        25,
        "1024x1024",
    )
    assert obj["request"]["seed"] is None and any("721897303308196" in n for n in obj["notes"])
    text = info(str(path))
    assert (
        text.stdout.startswith("ComfyUI settings\n")
        and "note: Seed 721897303308196 is left out" in text.stdout
    )
    assert "(not in the image, so yours stay: seed)" in text.stdout


def test_an_image_without_settings_exits_1(tmp_path):
    path = tmp_path / "plain.jpg"
    Image.new("RGB", (8, 8)).save(path)
    r = info(str(path))
    assert r.returncode == 1 and "carries no settings" in r.stdout
    r = info(str(path), "--json")
    assert r.returncode == 1 and json.loads(r.stdout) == {"source": None, "request": None, "notes": []}


def test_what_is_not_a_readable_image_exits_2_with_one_sentence(tmp_path):
    (tmp_path / "notes.png").write_text("not an image at all")
    (tmp_path / "cut.png").write_bytes(F.png({"parameters": "x"})[:20])
    for target, words in (
        (tmp_path / "notes.png", "is not an image FlexStudio can read."),
        (tmp_path / "cut.png", "is not an image FlexStudio can read."),
        (tmp_path / "missing.png", "does not exist."),
        (tmp_path, "is not a file."),
    ):
        r = info(str(target))
        assert r.returncode == 2, (target, r.stderr)
        assert r.stdout == "" and r.stderr.strip().endswith(words) and "Traceback" not in r.stderr
        assert len(r.stderr.strip().splitlines()) == 1
    r = subprocess.run([*EXE], capture_output=True, text=True, timeout=60)  # no IMAGE: argparse's usage error
    assert r.returncode == 2 and "Traceback" not in r.stderr


def test_an_export_that_had_to_shorten_its_exif_comment_says_so(tmp_path):
    prompt = "a long, careful description of every thread in the tapestry; " * 700
    out = tmp_path / "long.jpg"
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "flexstudio",
            "edit",
            "-p",
            prompt,
            "--provider",
            "sandbox",
            "--seed",
            "3",
            "--format",
            "jpeg",
            "--size",
            "256x256",
            "-o",
            str(out),
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=90,
    )
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["outputs"] == [str(out)]  # stdout stays the contract's object
    assert f"note: {out.name}: The EXIF comment (what A1111 reads) holds the first" in r.stderr
    back = info(str(out), "--json")
    assert back.returncode == 0 and json.loads(back.stdout)["request"]["prompt"] == prompt
