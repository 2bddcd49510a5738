"""A provider's JPEG (or WebP) keeps its own EXIF when we write our settings into it: Orientation, camera
fields, GPS and the interoperability tags survive, checked with piexif (what A1111 reads EXIF with),
exiftool and Pillow; our UserComment is the one A1111 reads; the ICC profile and the pixels stay."""

from __future__ import annotations

import io
import json
import shutil
import struct
import subprocess

import piexif
import piexif.helper
import pytest
from PIL import Image, ImageCms, ImageOps

from flexstudio.storage import exif as E
from flexstudio.storage.containers import exif_user_comment
from flexstudio.storage.recipes import read_recipe
from tests.a1111_reader import parse_generation_parameters, read_info_from_image
from tests.storage.test_exports import REQ, _exiftool, _exiftool_warnings, _export

ICC = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def _camera_jpeg(tmp_path, order: str) -> bytes:
    """A 64×48 JPEG with an sRGB profile whose EXIF says "rotate 90° clockwise" and carries camera fields,
    GPS and an interoperability index, in ``order`` ("MM" written by piexif, "II" by exiftool)."""
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 40, 40)).save(buf, "JPEG", icc_profile=ICC)
    if order == "MM":
        tags = {
            "0th": {
                piexif.ImageIFD.Orientation: 6,
                piexif.ImageIFD.Make: b"Canon",
                piexif.ImageIFD.Model: b"EOS R5",
                piexif.ImageIFD.Software: b"provider-render 2.1",
            },
            "Exif": {
                piexif.ExifIFD.DateTimeOriginal: b"2024:01:02 03:04:05",
                piexif.ExifIFD.ExposureTime: (1, 250),
                piexif.ExifIFD.FNumber: (28, 10),
                piexif.ExifIFD.UserComment: piexif.helper.UserComment.dump("their words"),
            },
            "GPS": {
                piexif.GPSIFD.GPSLatitudeRef: b"N",
                piexif.GPSIFD.GPSLatitude: ((52, 1), (30, 1), (0, 1)),
            },
            "Interop": {piexif.InteropIFD.InteroperabilityIndex: b"R98"},
        }
        out = io.BytesIO()
        piexif.insert(piexif.dump(tags), buf.getvalue(), out)
        return out.getvalue()
    if not shutil.which("exiftool"):
        pytest.fail("exiftool is missing: scripts/setup.sh --test installs it (libimage-exiftool-perl)")
    path = tmp_path / "camera.jpg"
    path.write_bytes(buf.getvalue())
    args = [
        "-ExifByteOrder=Little-endian",
        "-Orientation#=6",
        "-Make=Canon",
        "-Model=EOS R5",
        "-Software=provider-render 2.1",
        "-DateTimeOriginal=2024:01:02 03:04:05",
        "-ExposureTime=1/250",
        "-FNumber=2.8",
        "-UserComment=their words",
        "-GPSLatitudeRef=N",
        "-GPSLatitude=52.5",
        "-InteropIndex=R98",
    ]
    done = subprocess.run(["exiftool", "-q", "-overwrite_original", *args, str(path)], capture_output=True)
    assert done.returncode == 0, done.stderr
    data = path.read_bytes()
    assert b"Exif\x00\x00II*\x00" in data  # little-endian, as many cameras write
    return data


@pytest.mark.parametrize("order", ["II", "MM"])
def test_a_providers_exif_is_kept_and_ours_added(tmp_path, order):
    src = _camera_jpeg(tmp_path, order)
    done = _export(tmp_path, "JPEG", data=src)
    assert done.notes == ()
    data = done.path.read_bytes()
    # piexif, as A1111 reads it: their tags, and our comment in place of theirs
    with Image.open(done.path) as im:
        tags = piexif.load(im.info["exif"])
        assert im.info["icc_profile"] == ICC
        assert ImageOps.exif_transpose(im).size == (48, 64)  # Pillow turns it as the camera said
        text = read_info_from_image(im)
    assert tags["0th"][piexif.ImageIFD.Orientation] == 6
    assert tags["0th"][piexif.ImageIFD.Make] == b"Canon" and tags["0th"][piexif.ImageIFD.Model] == b"EOS R5"
    assert tags["0th"][piexif.ImageIFD.Software] == b"provider-render 2.1"
    assert tags["Exif"][piexif.ExifIFD.DateTimeOriginal] == b"2024:01:02 03:04:05"
    assert tags["Exif"][piexif.ExifIFD.ExposureTime] == (1, 250)
    assert tags["Exif"][piexif.ExifIFD.FNumber] in ((28, 10), (14, 5), (280, 100))
    assert tags["GPS"][piexif.GPSIFD.GPSLatitudeRef] == b"N"
    assert tags["GPS"][piexif.GPSIFD.GPSLatitude][0] == (52, 1)
    assert tags["Interop"][piexif.InteropIFD.InteroperabilityIndex] == b"R98"
    p = parse_generation_parameters(text)
    assert p["Prompt"] == REQ.prompt and p["Steps"] == "33" and p["Seed"] == "4000000000"
    assert read_recipe(data).request == REQ
    assert data.endswith(src[src.index(b"\xff\xdb") :])  # the compressed image is byte for byte the same
    # exiftool reads the same, and its own check finds nothing wrong with the merged block
    out = _exiftool(done.path, "-j", "-n")
    assert out.returncode == 0 and out.stderr == "", out.stderr
    t = json.loads(out.stdout)[0]
    assert t["IFD0:Orientation"] == 6 and t["IFD0:Make"] == "Canon" and t["IFD0:Model"] == "EOS R5"
    assert t["ExifIFD:ExposureTime"] == 0.004 and t["ExifIFD:UserComment"].startswith(REQ.prompt)
    assert t["GPS:GPSLatitudeRef"] == "N" and t["InteropIFD:InteropIndex"] == "R98"
    assert "their words" not in out.stdout
    assert _exiftool_warnings(done.path) == ""


def test_a_webps_own_exif_is_kept(tmp_path):
    exif = piexif.dump({"0th": {piexif.ImageIFD.Orientation: 8, piexif.ImageIFD.Make: b"Canon"}})
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (10, 200, 30)).save(buf, "WEBP", quality=80, exif=exif)
    done = _export(tmp_path, "WEBP", data=buf.getvalue())
    with Image.open(done.path) as im:
        tags = piexif.load(im.info["exif"])
        text = read_info_from_image(im)
    assert tags["0th"][piexif.ImageIFD.Orientation] == 8 and tags["0th"][piexif.ImageIFD.Make] == b"Canon"
    assert parse_generation_parameters(text)["Prompt"] == REQ.prompt
    assert read_recipe(done.path.read_bytes()).request == REQ


@pytest.mark.parametrize(
    "block",
    [
        b"MM\x00*\x00\x00\x00\x08\x00",  # cut inside the first IFD
        b"II*\x00\xff\xff\xff\x7f",  # IFD0 far outside the block
        b"MM\x00*\x00\x00\x00\x08\x00\x01\x01\x12\x00\x03\x00\x00\x00\x01\x00\x06\x00\x00\x00\x00\x00\x08",
        b"not a tiff at all",
    ],
    ids=["truncated", "bad-offset", "loop", "garbage"],
)
def test_a_broken_exif_of_theirs_never_stops_ours(block):
    merged = exif_user_comment("the settings", (64, 48), theirs=block)
    tags = piexif.load(b"Exif\x00\x00" + merged)
    assert piexif.helper.UserComment.load(tags["Exif"][piexif.ExifIFD.UserComment]) == "the settings"
    if block.startswith(b"MM") and len(block) > 20:  # the IFD pointing back at itself: read once
        assert tags["0th"][piexif.ImageIFD.Orientation] == 6


def test_values_are_swapped_by_type_into_big_endian():
    entries = [  # tag, type, count, little-endian value
        (0x0112, 3, 1, struct.pack("<H", 6) + b"\x00\x00"),
        (0xA002, 4, 1, struct.pack("<I", 4000)),
        (0x011A, 5, 1, None),
        (0x010F, 2, 6, None),
    ]
    data_at = 8 + 2 + 12 * len(entries) + 4
    rational, make = struct.pack("<II", 300, 1), b"Canon\x00"
    table = struct.pack("<H", len(entries))
    for tag, kind, count, value in entries:
        if value is None:
            value = struct.pack("<I", data_at)
            data_at += 8
        table += struct.pack("<HHI", tag, kind, count) + value
    block = b"II*\x00" + struct.pack("<I", 8) + table + b"\x00" * 4 + rational + make.ljust(8, b"\x00")
    tags = E.read(block)
    assert tags.ifd0[0x0112] == (3, 1, struct.pack(">H", 6))
    assert tags.ifd0[0xA002] == (4, 1, struct.pack(">I", 4000))
    assert tags.ifd0[0x011A] == (5, 1, struct.pack(">II", 300, 1))
    assert tags.ifd0[0x010F] == (2, 6, make)
    again = E.read(E.write(tags))
    assert again.ifd0 == tags.ifd0 and E.write(again) == E.write(tags)


DIGITAL_SOURCE = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"


THEIR_XMP = (  # as exiftool writes a provider's labels, plus one description in the attribute form Adobe's
    # toolkit writes that mixes their Credit with an old FlexStudio recipe and a dangling HasExtendedXMP
    "<?xpacket begin='\ufeff' id='W5M0MpCehiHzreSzNTczkc9d'?>"
    "<x:xmpmeta xmlns:x='adobe:ns:meta/'><rdf:RDF xmlns:rdf='http://www.w3.org/1999/02/22-rdf-syntax-ns#'>"
    " <rdf:Description rdf:about='' xmlns:Iptc4xmpExt='http://iptc.org/std/Iptc4xmpExt/2008-02-29/'>"
    f"  <Iptc4xmpExt:DigitalSourceType>{DIGITAL_SOURCE}</Iptc4xmpExt:DigitalSourceType></rdf:Description>"
    " <rdf:Description rdf:about='' xmlns:dc='http://purl.org/dc/elements/1.1/'><dc:creator><rdf:Seq>"
    "<rdf:li>FLUX.2 [flex] at a provider</rdf:li></rdf:Seq></dc:creator><dc:rights><rdf:Alt>"
    "<rdf:li xml:lang='x-default'>Generated; see the provider&#39;s terms</rdf:li></rdf:Alt></dc:rights>"
    "</rdf:Description>"
    " <rdf:Description rdf:about='' xmlns:flexstudio='https://flexstudio.app/ns/1.0/'"
    " xmlns:photoshop='http://ns.adobe.com/photoshop/1.0/' xmlns:xmpNote='http://ns.adobe.com/xmp/note/'"
    " flexstudio:recipe='{\"old\": true}' xmpNote:HasExtendedXMP='0123456789ABCDEF0123456789ABCDEF'"
    " photoshop:Credit='A provider'/>"
    "</rdf:RDF></x:xmpmeta><?xpacket end='w'?>"
).encode()


def _with_their_xmp(fmt: str) -> bytes:
    from flexstudio.storage import containers as C

    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (20, 90, 200)).save(buf, fmt)
    if fmt == "JPEG":
        return C.jpeg_insert(
            buf.getvalue(),
            b"\xff\xe1"
            + struct.pack(">H", 31 + len(THEIR_XMP))
            + (b"http://ns.adobe.com/xap/1.0/\x00" + THEIR_XMP),
        )
    return C.webp_insert(buf.getvalue(), C.exif_user_comment(""), THEIR_XMP)


@pytest.mark.parametrize("fmt", ["JPEG", "WEBP"])
@pytest.mark.parametrize("long_prompt", [False, True], ids=["packet", "extended"])
def test_a_providers_xmp_is_kept_beside_ours(tmp_path, fmt, long_prompt):
    if fmt == "WEBP" and long_prompt:
        pytest.skip("a WebP has no 64 KB segments: one packet holds everything")
    req = REQ.with_(prompt="ü" * 70_000) if long_prompt else REQ
    src = _with_their_xmp(fmt)
    done = _export(tmp_path, fmt, req=req, data=src)
    out = _exiftool(done.path, "-j", "-XMP:all")
    assert out.returncode == 0 and out.stderr == "", out.stderr
    t = json.loads(out.stdout)[0]
    assert t["XMP-iptcExt:DigitalSourceType"] == DIGITAL_SOURCE
    assert t["XMP-dc:Creator"] == "FLUX.2 [flex] at a provider"
    assert t["XMP-dc:Rights"] == "Generated; see the provider's terms"
    assert t["XMP-photoshop:Credit"] == "A provider"
    assert "0123456789ABCDEF" not in out.stdout  # their HasExtendedXMP pointed at nothing: gone
    assert '"old"' not in out.stdout  # their old recipe is gone: ours is the one
    assert read_recipe(done.path.read_bytes()).request == req
    with Image.open(done.path) as im:
        assert parse_generation_parameters(read_info_from_image(im))["Steps"] == "33"
    assert _exiftool_warnings(done.path) == ""
