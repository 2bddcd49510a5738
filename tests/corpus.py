"""A generated corpus of awkward image files, for every suite that handles user images.

``CORPUS`` maps a case name to a ``Case``: ``factory`` (→ the file's bytes), ``expected`` ("ok" or
"bad_input": what ``core.images.inspect``/``prepare`` must do with it), ``filename`` (a suggested name,
sometimes with a lying extension) and ``requires`` (None, or a check returning why the case cannot be
made here, e.g. no HEIC encoder). A case unpacks as ``factory, expected = CORPUS[name]``.

``corpus_bytes(name)`` returns the bytes (made once per process) and skips the calling test when the case
is unavailable; ``write_corpus(folder)`` writes every available case to files.

Content is chosen so results can be checked: the rotated JPEGs are red on one half and blue on the other,
the animations start with a red frame, the 16-bit files are gradients, the CMYK files hold red and green.
"""

from __future__ import annotations

import functools
import itertools
import struct
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import Any, Literal

from PIL import Image, ImageDraw

RED, GREEN, BLUE, WHITE = (255, 0, 0), (0, 255, 0), (0, 0, 255), (255, 255, 255)
CMYK_RED, CMYK_GREEN = (0, 255, 255, 0), (255, 0, 255, 0)
BIG_JPEG_SIZE = (6000, 4000)
EXACT_SIZE = (1024, 768)  # a multiple of 16 and under 4 MP: what prepare would produce itself
ORIENTATION = 0x0112


class Unavailable(Exception):
    """The case cannot be generated here (a codec is missing)."""


@dataclass(frozen=True)
class Case:
    factory: Callable[[], bytes]
    expected: Literal["ok", "bad_input"]
    filename: str
    note: str = ""
    requires: Callable[[], str | None] | None = None

    def __iter__(self) -> Iterator[Any]:
        yield self.factory
        yield self.expected

    def unavailable(self) -> str | None:
        return self.requires() if self.requires else None


# ---------------------------------------------------------------------------------------------- helpers
def save(im: Image.Image, fmt: str, **params: Any) -> bytes:
    buf = BytesIO()
    im.save(buf, fmt, **params)
    return buf.getvalue()


def halves(size: tuple[int, int], left: Any, right: Any, mode: str = "RGB") -> Image.Image:
    """Left half one colour, right half another."""
    im = Image.new(mode, size, left)
    ImageDraw.Draw(im).rectangle((size[0] // 2, 0, size[0], size[1]), fill=right)
    return im


def textured(size: tuple[int, int]) -> Image.Image:
    """Photo-like content: smooth shapes plus grain (compresses and decodes like a real photo)."""
    w, h = size
    coarse = Image.effect_noise((max(1, w // 8), max(1, h // 8)), 70).resize(size, Image.Resampling.BICUBIC)
    grain = Image.effect_noise(size, 12)
    ramp = Image.linear_gradient("L").resize(size, Image.Resampling.BILINEAR)
    return Image.merge(
        "RGB",
        (
            Image.blend(coarse, grain, 0.25),
            Image.blend(ramp, coarse, 0.5),
            Image.blend(ramp.transpose(Image.Transpose.FLIP_LEFT_RIGHT), grain, 0.3),
        ),
    )


def exif_with_orientation(value: int) -> bytes:
    exif = Image.Exif()
    exif[ORIENTATION] = value
    return exif.tobytes()


def truncate(data: bytes, fraction: float = 0.6) -> bytes:
    return data[: int(len(data) * fraction)]


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def raw_png(width: int, height: int, bit_depth: int, colour_type: int, rows: bytes | None) -> bytes:
    """A PNG written by hand (16-bit RGB, or a header declaring any size with tiny data)."""
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    idat = zlib.compress(rows if rows is not None else b"\x00" * 64)
    return (
        b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")
    )


# ------------------------------------------------------------------------------------------ ICC profiles
def _s15(v: float) -> bytes:
    return struct.pack(">i", round(v * 65536))


def _icc(device_class: bytes, space: bytes, pcs: bytes, tags: dict[bytes, bytes]) -> bytes:
    """A minimal ICC v2 profile (tags sharing identical data share one copy)."""
    table, body, seen = [], b"", {}
    offset0 = 128 + 4 + 12 * len(tags)
    for sig, data in tags.items():
        if data not in seen:
            seen[data] = offset0 + len(body)
            body += data + b"\x00" * (-len(data) % 4)
        table.append(struct.pack(">4sII", sig, seen[data], len(data)))
    size = offset0 + len(body)
    header = (
        struct.pack(">I4sI4s4s4s", size, b"\x00" * 4, 0x02100000, device_class, space, pcs)
        + struct.pack(">6H", 2024, 1, 1, 0, 0, 0)
        + b"acsp"
        + b"\x00" * 24
        + struct.pack(">I", 0)
        + _s15(0.9642)
        + _s15(1.0)
        + _s15(0.8249)
    )
    header += b"\x00" * (128 - len(header))
    return header + struct.pack(">I", len(tags)) + b"".join(table) + body


def _desc(text: str) -> bytes:
    ascii_ = text.encode() + b"\x00"
    return (
        b"desc"
        + b"\x00" * 4
        + struct.pack(">I", len(ascii_))
        + ascii_
        + b"\x00" * 8
        + b"\x00" * 3
        + b"\x00" * 67
    )


def _xyz(x: float, y: float, z: float) -> bytes:
    return b"XYZ " + b"\x00" * 4 + _s15(x) + _s15(y) + _s15(z)


def swapped_rgb_profile() -> bytes:
    """An RGB display profile whose red and green primaries are sRGB's green and red: a pixel (255,0,0)
    tagged with it is green once converted to sRGB. Its name does not say sRGB."""
    gamma = b"curv" + b"\x00" * 4 + struct.pack(">IH", 1, round(2.2 * 256)) + b"\x00" * 2
    return _icc(
        b"mntr",
        b"RGB ",
        b"XYZ ",
        {
            b"desc": _desc("FlexStudio test: red and green swapped"),
            b"wtpt": _xyz(0.9642, 1.0, 0.8249),
            b"rXYZ": _xyz(0.3850649, 0.7168786, 0.0971045),
            b"gXYZ": _xyz(0.4360747, 0.2225045, 0.0139322),
            b"bXYZ": _xyz(0.1430804, 0.0606169, 0.7141733),
            b"rTRC": gamma,
            b"gTRC": gamma,
            b"bTRC": gamma,
            b"cprt": b"text" + b"\x00" * 4 + b"public domain\x00",
        },
    )


def tinted_cmyk_profile() -> bytes:
    """A CMYK printer profile (lut8 A2B0 to Lab) where ink only darkens, towards a dull yellow
    (L* = 100·(1 − 0.9K)·(1 − (C+M+Y)/4), a* = 0, b* = +40): CMYK red and CMYK green both become the same
    yellow-brown through it, where the plain conversion gives pure red and green. (Paper stays white:
    littlecms pins the white point.)"""
    ramp = bytes(range(256))
    clut = b""
    for c, m, y, k in itertools.product((0, 1), repeat=4):
        lightness = 100 * (1 - 0.9 * k) * (1 - 0.25 * (c + m + y))
        clut += bytes((round(lightness * 2.55), 128, 168))
    lut = (
        b"mft1"
        + b"\x00" * 4
        + bytes((4, 3, 2, 0))
        + b"".join(_s15(1.0 if i % 4 == 0 else 0.0) for i in range(9))
        + ramp * 4
        + clut
        + ramp * 3
    )
    return _icc(
        b"prtr",
        b"CMYK",
        b"Lab ",
        {
            b"desc": _desc("FlexStudio test CMYK: ink darkens towards yellow"),
            b"wtpt": _xyz(0.9642, 1.0, 0.8249),
            b"A2B0": lut,
            b"cprt": b"text" + b"\x00" * 4 + b"public domain\x00",
        },
    )


# ------------------------------------------------------------------------------------------ availability
def _no_heic_encoder() -> str | None:
    try:
        import pillow_heif
    except ImportError:
        return "pillow-heif is not installed"
    if not pillow_heif.libheif_info().get("HEIF"):
        return "libheif has no HEVC encoder"
    return None


def _no_avif() -> str | None:
    from PIL import features

    return None if features.check("avif") else "this Pillow has no AVIF codec"


# ------------------------------------------------------------------------------------------- factories
def rotated_jpeg(orientation: int) -> bytes:
    """Stored 128×64, left half red, right half blue, with an EXIF orientation.

    Upright (orientation 6 = turn 90° clockwise): red on top, blue below. Orientation 8: blue on top."""
    return save(halves((128, 64), RED, BLUE), "JPEG", quality=95, exif=exif_with_orientation(orientation))


def cmyk_jpeg(icc: bytes | None = None) -> bytes:
    params: dict[str, Any] = {"quality": 95}
    if icc is not None:
        params["icc_profile"] = icc
    return save(halves((64, 64), CMYK_RED, CMYK_GREEN, "CMYK"), "JPEG", **params)


def gradient16(size: tuple[int, int] = (256, 64)) -> Image.Image:
    """I;16, columns 0 → 65535 left to right."""
    w, h = size
    row = b"".join(struct.pack("<H", round(x * 65535 / (w - 1))) for x in range(w))
    return Image.frombytes("I;16", size, row * h)


def png_rgb16(colour16: tuple[int, int, int] = (0x8000, 0x4000, 0xFFFF), size: int = 64) -> bytes:
    row = b"\x00" + struct.pack(">3H", *colour16) * size
    return raw_png(size, size, 16, 2, row * size)


def palette_png_with_transparency() -> bytes:
    """Left half transparent (index 0), right half opaque blue (index 1)."""
    im = Image.new("P", (64, 64), 0)
    im.putpalette(list(RED) + list(BLUE) + [0, 0, 0] * 254)
    ImageDraw.Draw(im).rectangle((32, 0, 64, 64), fill=1)
    return save(im, "PNG", transparency=0)


def la_png() -> bytes:
    """Grey 128, alpha ramping 0 → 255 left to right."""
    alpha = Image.linear_gradient("L").rotate(90).resize((64, 64))
    return save(Image.merge("LA", (Image.new("L", (64, 64), 128), alpha)), "PNG")


def animation(fmt: str, **params: Any) -> bytes:
    frames = [Image.new("RGB", (64, 64), c) for c in (RED, GREEN, BLUE)]
    return save(frames[0], fmt, save_all=True, append_images=frames[1:], duration=100, loop=0, **params)


def big_jpeg() -> bytes:
    """24 MP (6000×4000) photo-like JPEG at quality 90."""
    return save(textured(BIG_JPEG_SIZE), "JPEG", quality=90)


def small_jpeg(size: tuple[int, int] = (256, 192), **params: Any) -> bytes:
    return save(textured(size), "JPEG", quality=90, **params)


def jpeg_declaring(width: int, height: int) -> bytes:
    """A small JPEG whose frame header is patched to declare another size."""
    data = bytearray(small_jpeg((16, 16)))
    sof = data.find(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def webp_declaring(width: int, height: int) -> bytes:
    """A VP8X header declaring a canvas, and no image data."""
    vp8x = (
        b"VP8X"
        + struct.pack("<I", 10)
        + b"\x00" * 4
        + (width - 1).to_bytes(3, "little")
        + (height - 1).to_bytes(3, "little")
    )
    return b"RIFF" + struct.pack("<I", 4 + len(vp8x)) + b"WEBP" + vp8x


def tiff_rgb() -> bytes:
    return save(textured((96, 64)), "TIFF", compression="tiff_lzw")


def heic() -> bytes:
    import pillow_heif

    buf = BytesIO()
    pillow_heif.from_pillow(halves((128, 64), RED, BLUE)).save(buf, quality=90)
    return buf.getvalue()


def avif() -> bytes:
    return save(halves((128, 64), RED, BLUE), "AVIF", quality=90)


# ---------------------------------------------------------------------------------------------- registry
def _case(
    factory: Callable[[], bytes],
    expected: Literal["ok", "bad_input"],
    filename: str,
    note: str = "",
    requires: Callable[[], str | None] | None = None,
) -> Case:
    return Case(functools.cache(factory), expected, filename, note, requires)


CORPUS: dict[str, Case] = {
    # --- fine, in every accepted format
    "jpeg": _case(small_jpeg, "ok", "photo.jpg"),
    "jpeg_progressive": _case(lambda: small_jpeg(progressive=True), "ok", "progressive.jpg"),
    "png": _case(lambda: save(textured((96, 64)), "PNG"), "ok", "image.png"),
    "webp": _case(lambda: save(textured((96, 64)), "WEBP", quality=90), "ok", "image.webp"),
    "gif": _case(lambda: save(halves((64, 64), RED, BLUE), "GIF"), "ok", "image.gif"),
    "bmp": _case(lambda: save(halves((64, 48), RED, BLUE), "BMP"), "ok", "image.bmp"),
    "tiff": _case(tiff_rgb, "ok", "image.tiff"),
    "avif": _case(avif, "ok", "image.avif", "red left, blue right", _no_avif),
    "heic": _case(heic, "ok", "IMG_0001.HEIC", "red left, blue right", _no_heic_encoder),
    "jpeg_24mp": _case(big_jpeg, "ok", "camera.jpg", "6000×4000: draft-mode decoding"),
    "png_exact": _case(
        lambda: save(textured(EXACT_SIZE), "PNG", compress_level=1),
        "ok",
        "exact.png",
        "already the size prepare makes: passed through",
    ),
    "jpeg_exact": _case(lambda: small_jpeg(EXACT_SIZE), "ok", "exact.jpg", "passed through"),
    # --- awkward but fine
    "jpeg_exif_rot6": _case(lambda: rotated_jpeg(6), "ok", "rot6.jpg", "upright: red top, blue bottom"),
    "jpeg_exif_rot8": _case(lambda: rotated_jpeg(8), "ok", "rot8.jpg", "upright: blue top, red bottom"),
    "jpeg_cmyk": _case(cmyk_jpeg, "ok", "cmyk.jpg", "red left, green right"),
    "jpeg_cmyk_icc": _case(
        lambda: cmyk_jpeg(tinted_cmyk_profile()),
        "ok",
        "cmyk_icc.jpg",
        "through its profile both halves are the same yellow-brown",
    ),
    "jpeg_cmyk_bad_icc": _case(
        lambda: cmyk_jpeg(b"not a profile" * 20),
        "ok",
        "cmyk_bad_icc.jpg",
        "broken profile: plain conversion, red left",
    ),
    "tiff_cmyk": _case(
        lambda: save(halves((64, 64), CMYK_RED, CMYK_GREEN, "CMYK"), "TIFF"),
        "ok",
        "cmyk.tif",
        "red left, green right",
    ),
    "png_rgb_swapped_icc": _case(
        lambda: save(Image.new("RGB", (64, 64), RED), "PNG", icc_profile=swapped_rgb_profile()),
        "ok",
        "wide_gamut.png",
        "red pixels tagged with a profile that makes them green",
    ),
    "png_16bit": _case(lambda: save(gradient16(), "PNG"), "ok", "gradient16.png", "black → white ramp"),
    "png_rgb16": _case(png_rgb16, "ok", "rgb16.png", "(128, 64, 255) once reduced to 8 bits"),
    "tiff_16bit": _case(lambda: save(gradient16(), "TIFF"), "ok", "gradient16.tif", "black → white ramp"),
    "png_palette_alpha": _case(
        palette_png_with_transparency, "ok", "palette.png", "left transparent, right blue"
    ),
    "png_la": _case(la_png, "ok", "grey_alpha.png", "grey, alpha 0 → 255"),
    "png_rgba_opaque": _case(
        lambda: save(textured((100, 70)).convert("RGBA"), "PNG"),
        "ok",
        "opaque.png",
        "alpha channel all 255: re-encoded as JPEG",
    ),
    "gif_animated": _case(lambda: animation("GIF"), "ok", "anim.gif", "first frame red"),
    "webp_animated": _case(lambda: animation("WEBP", lossless=True), "ok", "anim.webp", "first frame red"),
    "png_animated": _case(lambda: animation("PNG"), "ok", "anim.png", "first frame red"),
    "jpeg_named_png": _case(small_jpeg, "ok", "really_a_jpeg.png", "the extension lies"),
    # --- refused with BadInput
    "zero_bytes": _case(lambda: b"", "bad_input", "empty.jpg"),
    "text_named_jpg": _case(lambda: b"Just some notes, not a photo.\n" * 20, "bad_input", "notes.jpg"),
    "html_named_png": _case(lambda: b"<!doctype html><html><body>404</body></html>", "bad_input", "page.png"),
    "psd": _case(lambda: b"8BPS\x00\x01" + b"\x00" * 64, "bad_input", "layers.psd", "unsupported format"),
    "pdf_named_jpg": _case(lambda: b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n" + b"0" * 64, "bad_input", "scan.jpg"),
    "jpeg_truncated": _case(lambda: truncate(small_jpeg()), "bad_input", "cut.jpg"),
    "jpeg_progressive_truncated": _case(
        lambda: truncate(small_jpeg(progressive=True)), "bad_input", "cut_progressive.jpg"
    ),
    "jpeg_header_only": _case(lambda: small_jpeg()[:200], "bad_input", "header.jpg"),
    "png_truncated": _case(lambda: truncate(save(textured((96, 64)), "PNG")), "bad_input", "cut.png"),
    "gif_truncated": _case(lambda: truncate(animation("GIF")), "bad_input", "cut.gif"),
    "webp_truncated": _case(lambda: truncate(save(textured((96, 64)), "WEBP")), "bad_input", "cut.webp"),
    "tiff_truncated": _case(lambda: truncate(tiff_rgb()), "bad_input", "cut.tif"),
    "bmp_truncated": _case(
        lambda: truncate(save(halves((64, 48), RED, BLUE), "BMP")), "bad_input", "cut.bmp"
    ),
    "avif_truncated": _case(lambda: truncate(avif()), "bad_input", "cut.avif", requires=_no_avif),
    "heic_truncated": _case(lambda: truncate(heic()), "bad_input", "cut.heic", requires=_no_heic_encoder),
    "png_bomb": _case(
        lambda: raw_png(15000, 15000, 8, 2, None), "bad_input", "bomb.png", "225 M px declared in ~100 bytes"
    ),
    "jpeg_bomb": _case(lambda: jpeg_declaring(60000, 60000), "bad_input", "bomb.jpg"),
    "webp_bomb": _case(lambda: webp_declaring(16383, 16383), "bad_input", "bomb.webp"),
    "png_huge_side": _case(
        lambda: save(Image.new("L", (25000, 64)), "PNG"),
        "bad_input",
        "strip.png",
        "25000 px wide (only 1.5 MP)",
    ),
}


def unavailable(name: str) -> str | None:
    return CORPUS[name].unavailable()


def corpus_bytes(name: str) -> bytes:
    """The bytes of one case; skips the calling test (pytest) when the case cannot be made here."""
    reason = unavailable(name)
    if reason is not None:
        import pytest

        pytest.skip(f"corpus case {name!r}: {reason}")
    return CORPUS[name].factory()


def write_corpus(folder: Path, names: list[str] | None = None) -> dict[str, Path]:
    """Write the available cases into ``folder`` (one subfolder per case, so names never clash)."""
    out = {}
    for name in names or list(CORPUS):
        case = CORPUS[name]
        if case.unavailable() is not None:
            continue
        path = folder / name / case.filename
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(case.factory())
        out[name] = path
    return out
