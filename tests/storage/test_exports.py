"""Exports that the readers designers use open as they open A1111's own files: sd-parsers, A1111's reading
logic (piexif), exiftool (no warning) — and FlexStudio reads them back exactly."""

from __future__ import annotations

import io
import json
import os
import shutil
import struct
import subprocess

import piexif
import pytest
from PIL import Image, ImageCms
from sd_parsers import ParserManager

from flexstudio.core.request import EditRequest, ImageRef
from flexstudio.storage.exports import export_image
from flexstudio.storage.recipes import read_recipe
from tests.a1111_reader import parse_generation_parameters, read_info_from_image

MIMES = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp"}
REQ = EditRequest(
    prompt="Recolour the chair from image 1 to #ff6600, keep the shadows",
    steps=33,
    guidance=4.5,
    seed=4_000_000_000,
    size=(768, 512),
    output_format="png",
    safety=1,
    prompt_upsampling=False,
    provider="fal",
    references=(
        ImageRef("d60a" + "1" * 60, 1000, 800, "chair.jpg", "image/jpeg"),
        ImageRef("956c" + "2" * 60, 640, 480, "swatch.png"),
    ),
)
needs_exiftool = pytest.mark.usefixtures("exiftool")


@pytest.fixture
def exiftool() -> str:
    path = shutil.which("exiftool")
    assert path, "exiftool is missing: scripts/setup.sh --test installs it (libimage-exiftool-perl)"
    return path


def _encoded(fmt: str, **save: object) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (10, 200, 30)).save(buf, fmt, **save)
    return buf.getvalue()


def _export(tmp_path, fmt: str, req: EditRequest = REQ, data: bytes | None = None, **info: object):
    data = data if data is not None else _encoded(fmt)
    info = {"job_id": "job1", "provider": "fal", "provider_label": "fal.ai", "size": (768, 512), **info}
    return export_image(data, MIMES[fmt], tmp_path, req, stem=f"x-{fmt.lower()}", **info)


def _exiftool(path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["exiftool", "-a", "-G1", *args, str(path)], capture_output=True, text=True, check=False
    )


def _exiftool_warnings(path) -> str:
    """What exiftool's own check finds (``-validate`` plus every warning and error it met reading)."""
    out = _exiftool(path, "-validate", "-warning", "-error")
    assert out.returncode == 0, out.stderr
    return out.stdout.replace("[ExifTool]      Validate                        : OK", "").strip() + out.stderr


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
def test_sd_parsers_reads_prompt_steps_guidance_seed_and_size(tmp_path, fmt):
    path = _export(tmp_path, fmt).path
    info = ParserManager().parse(str(path))
    assert info is not None and info.generator.name == "AUTOMATIC1111"
    sampler = info.samplers[0]
    assert sampler.prompts[0].value == REQ.prompt
    assert sampler.name == "FLUX.2 [flex]"
    assert sampler.parameters["steps"] == "33" and sampler.parameters["cfg_scale"] == "4.5"
    assert sampler.parameters["seed"] == "4000000000"
    assert info.metadata["Size"] == "768x512"


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
def test_a1111_reads_prompt_steps_guidance_seed_size_and_quoted_values(tmp_path, fmt):
    path = _export(tmp_path, fmt).path
    with Image.open(path) as im:
        text = read_info_from_image(im)
    p = parse_generation_parameters(text)
    assert p["Prompt"] == REQ.prompt and p["Negative prompt"] == ""
    assert (p["Steps"], p["CFG scale"], p["Seed"], p["Size"]) == ("33", "4.5", "4000000000", "768x512")
    assert p["Sampler"] == "FLUX.2 [flex]" and p["Provider"] == "fal.ai" and p["FlexStudio job"] == "job1"
    assert p["References"] == "d60a11111111, 956c22222222"  # quoted, so both hashes survive
    assert p["Safety tolerance"] == "1" and p["Prompt upsampling"] == "off"


@pytest.mark.parametrize("fmt", ["JPEG", "WEBP"])
def test_user_comment_is_undefined_with_the_unicode_header(tmp_path, fmt):
    path = _export(tmp_path, fmt).path
    with Image.open(path) as im:
        raw = piexif.load(im.info["exif"])["Exif"][piexif.ExifIFD.UserComment]
    assert isinstance(raw, bytes) and raw.startswith(b"UNICODE\x00")  # type BYTE made piexif give a tuple
    assert piexif.helper.UserComment.load(raw).startswith(REQ.prompt + "\n")


@needs_exiftool
@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "WEBP"])
def test_exiftool_reads_both_fields_without_a_warning(tmp_path, fmt):
    path = _export(tmp_path, fmt).path
    out = _exiftool(path, "-j", "-struct")
    assert out.returncode == 0, out.stderr
    tags = json.loads(out.stdout)[0]
    assert "Warning" not in json.dumps(tags) and out.stderr == ""
    params = tags.get("PNG:Parameters") or tags.get("XMP-flexstudio:Parameters")
    assert params.startswith(REQ.prompt + "\n")
    if fmt != "PNG":
        assert tags["ExifIFD:UserComment"].startswith(REQ.prompt)
        assert json.loads(tags["XMP-flexstudio:Recipe"])["request"]["seed"] == REQ.seed
    assert _exiftool_warnings(path) == ""


def test_prompt_lines_that_look_like_settings_stay_in_the_prompt(tmp_path):
    prompt = (
        "a poster that reads\nNegative prompt: none at all\nSteps: 3 to the door\n"
        "and a plain last line with Steps: in it"
    )
    req = REQ.with_(prompt=prompt)
    for fmt in ("PNG", "JPEG"):
        path = _export(tmp_path, fmt, req).path
        with Image.open(path) as im:
            p = parse_generation_parameters(read_info_from_image(im))
        assert p["Negative prompt"] == "" and p["Steps"] == "33"
        assert "Negative prompt\\: none at all" in p["Prompt"] and p["Prompt"].count("\n") == 3
        sd = ParserManager().parse(str(path))
        assert not sd.samplers[0].negative_prompts and sd.samplers[0].parameters["steps"] == "33"
        r = read_recipe(path.read_bytes())
        assert r.request.prompt == prompt
        # and the A1111 text alone (no FlexStudio recipe) also gives the exact prompt back
        with Image.open(path) as im:
            text = read_info_from_image(im)
        png = io.BytesIO()
        from PIL import PngImagePlugin

        meta = PngImagePlugin.PngInfo()
        meta.add_text("parameters", text)
        Image.new("RGB", (8, 8)).save(png, "PNG", pnginfo=meta)
        assert read_recipe(png.getvalue()).request.prompt == prompt


def test_a_long_prompt_keeps_its_metadata_and_says_what_was_shortened(tmp_path):
    prompt = ("an intricate tapestry, every thread described; " * 900)[:40_000]
    req = REQ.with_(prompt=prompt)
    done = _export(tmp_path, "JPEG", req)
    assert len(done.notes) == 1 and "EXIF comment" in done.notes[0] and "40,000" in done.notes[0]
    data = done.path.read_bytes()
    r = read_recipe(data)  # the whole request, from the extended XMP
    assert r is not None and r.source == "flexstudio" and r.request == req
    with Image.open(done.path) as im:
        text = read_info_from_image(im)
    p = parse_generation_parameters(text)
    assert p["Steps"] == "33" and p["Seed"] == "4000000000"  # the settings survive the cut
    assert p["Prompt"].endswith("…") and prompt.startswith(p["Prompt"][:-1])
    for fmt in ("PNG", "WEBP"):  # no 64 KB segments there: whole, no note
        other = _export(tmp_path, fmt, req)
        assert other.notes == () and read_recipe(other.path.read_bytes()).request == req
        with Image.open(other.path) as im:
            assert parse_generation_parameters(read_info_from_image(im))["Prompt"] == prompt.strip()


@needs_exiftool
def test_exiftool_reads_the_extended_xmp_of_a_long_prompt(tmp_path):
    req = REQ.with_(prompt="ü" * 70_000)
    done = _export(tmp_path, "JPEG", req)
    out = _exiftool(done.path, "-j")
    tags = json.loads(out.stdout)[0]
    assert out.stderr == "" and "Warning" not in json.dumps(tags)
    assert tags["XMP-xmpNote:HasExtendedXMP"]
    recipe = _exiftool(done.path, "-b", "-XMP-flexstudio:Recipe").stdout  # long values: only with -b
    assert json.loads(recipe)["request"]["prompt"] == req.prompt
    assert _exiftool_warnings(done.path) == ""


def _jpeg_markers(data: bytes) -> list[tuple[int, bytes]]:
    out, pos = [], 2
    while data[pos] == 0xFF and data[pos + 1] != 0xDA:
        length = struct.unpack(">H", data[pos + 2 : pos + 4])[0]
        out.append((data[pos + 1], data[pos + 4 : pos + 10]))
        pos += 2 + length
    return out


def test_jpeg_keeps_jfif_first_its_icc_profile_and_its_pixels(tmp_path):
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    src = _encoded("JPEG", icc_profile=icc, exif=Image.Exif().tobytes())
    done = _export(tmp_path, "JPEG", data=src)
    data = done.path.read_bytes()
    markers = _jpeg_markers(data)
    assert markers[0] == (0xE0, b"JFIF\x00\x01")
    app1 = [m for m, head in markers if m == 0xE1]
    assert len(app1) == 2  # our EXIF and XMP; the file's own empty EXIF is replaced, not doubled
    assert data.endswith(src[src.index(b"\xff\xdb") :])  # the compressed image is byte for byte the same
    with Image.open(done.path) as im:
        assert im.info["icc_profile"] == icc


def test_webp_gains_chunks_without_being_re_encoded(tmp_path):
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    for save in ({"quality": 80}, {"lossless": True}, {"quality": 80, "icc_profile": icc}):
        src = _encoded("WEBP", **save)
        done = _export(tmp_path, "WEBP", data=src)
        out = done.path.read_bytes()
        bitstream = src[min(i for i in (src.find(b"VP8 "), src.find(b"VP8L")) if i >= 0) :]
        assert bitstream[:4] in (b"VP8 ", b"VP8L") and bitstream in out
        assert len(out) - len(src) < 4000  # the metadata, not a new encoding
        with Image.open(done.path) as im:
            im.load()
            assert im.size == (64, 48)
            assert im.info.get("icc_profile") == save.get("icc_profile")
        assert read_recipe(out).request == REQ


def test_webp_with_alpha_keeps_its_alpha_flag(tmp_path):
    buf = io.BytesIO()
    Image.new("RGBA", (20, 10), (1, 2, 3, 100)).save(buf, "WEBP", lossless=True)
    done = _export(tmp_path, "WEBP", data=buf.getvalue())
    with Image.open(done.path) as im:
        assert im.mode == "RGBA" and im.getpixel((3, 3))[3] == 100


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions")
def test_exports_get_the_permissions_of_any_new_file(tmp_path):
    old = os.umask(0o022)
    try:
        path = _export(tmp_path, "PNG").path
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o644
    old = os.umask(0o077)
    try:
        path = _export(tmp_path, "JPEG").path
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == 0o600
