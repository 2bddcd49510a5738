"""Bringing any decoded pixel mode to 8-bit RGB or RGBA in sRGB, with as few full-size passes as possible.

Two stages, so the expensive colour work runs on the small, already downscaled image:

* ``resizable`` (before resampling): only what resampling cannot handle is converted at full size —
  palettes (resampled as indices otherwise), 1-bit, and 16/32-bit greys (scaled, not clipped to white).
* ``finish`` (after resampling): grey → RGB, CMYK → RGB (through its ICC profile when it has one), and
  RGB with a non-sRGB ICC profile (Display P3 from phones, Adobe RGB) → sRGB, since the output carries
  no profile and providers read pixels as sRGB.
"""

from __future__ import annotations

import sys
from functools import lru_cache
from io import BytesIO
from typing import Any, cast

from PIL import Image

_SIXTEEN_BIT_RAW = {
    "I;16": "L;16",
    "I;16L": "L;16",
    "I;16B": "L;16B",
    "I;16N": "L;16" if sys.byteorder == "little" else "L;16B",
}


def _has_palette_alpha(im: Image.Image) -> bool:
    return "transparency" in im.info or (im.palette is not None and im.palette.mode == "RGBA")


def _wide_grey_to_l(im: Image.Image) -> Image.Image:
    """32-bit int or float grey → L, scaled by the range the values use (16-bit data in "I" is common)."""
    _lo, hi = cast("tuple[float, float]", im.getextrema())  # one band: (min, max)
    if im.mode == "F" and hi <= 1.0:
        scale = 255.0
    elif hi <= 255:
        scale = 1.0
    elif hi <= 65535:
        scale = 255 / 65535
    else:
        scale = 255 / hi
    if scale != 1.0:
        im = im.point(lambda v: v * scale)
    return im.convert("L")


def resizable(im: Image.Image) -> Image.Image:
    """An 8-bit image in a mode Pillow resamples correctly: L, LA, RGB, RGBA or CMYK."""
    mode = im.mode
    if mode in ("RGB", "L"):
        return im.convert("RGBA") if "transparency" in im.info else im
    if mode in ("RGBA", "LA", "CMYK"):
        return im
    if mode == "P":
        return im.convert("RGBA" if _has_palette_alpha(im) else "RGB")
    if mode in _SIXTEEN_BIT_RAW:  # keep the high byte: 65535 → 255, 32768 → 128
        return Image.frombytes("L", im.size, im.tobytes(), "raw", _SIXTEEN_BIT_RAW[mode])
    if mode in ("I", "F"):
        return _wide_grey_to_l(im)
    if mode == "1":
        return im.convert("L")
    if mode in ("PA", "RGBa"):
        return im.convert("RGBA")
    if mode == "La":
        return im.convert("LA")
    if mode == "LAB":
        return _lab_to_rgb(im)
    return im.convert("RGB")  # RGBX, YCbCr, HSV


# ------------------------------------------------------------------------------------------------- ICC
def _imagecms() -> Any:
    try:
        from PIL import ImageCms
    except ImportError:  # Pillow built without littlecms: plain conversions only
        return None
    return ImageCms


@lru_cache(maxsize=16)
def _transform_from(icc: bytes, mode: str) -> Any:
    """A cached transform from the embedded profile to sRGB, or None when none is needed or possible
    (the profile is sRGB already, broken, or does not match the pixels). ``NOCACHE`` makes the transform
    safe to apply from several threads at once."""
    cms = _imagecms()
    if cms is None:
        return None
    try:
        src = cms.ImageCmsProfile(BytesIO(icc))
        if mode == "RGB" and "srgb" in cms.getProfileDescription(src).lower():
            return None
        return cms.buildTransform(
            src,
            cms.createProfile("sRGB"),
            mode,
            "RGB",
            renderingIntent=cms.Intent.PERCEPTUAL,
            flags=cms.Flags.NOCACHE,
        )
    except Exception:  # PyCMSError, OSError, ValueError…: a broken profile falls back to plain maths
        return None


def needs_colour_conversion(icc: bytes | None) -> bool:
    """True when RGB pixels tagged with ``icc`` must be converted to be read correctly as sRGB."""
    return icc is not None and bool(icc) and _transform_from(icc, "RGB") is not None


def _lab_to_rgb(im: Image.Image) -> Image.Image:
    cms = _imagecms()
    if cms is None:
        raise ValueError("LAB images need Pillow's colour management (littlecms)")
    return cast(
        Image.Image,
        cms.applyTransform(
            im, cms.buildTransform(cms.createProfile("LAB"), cms.createProfile("sRGB"), "LAB", "RGB")
        ),
    )


def _profiled_to_srgb(im: Image.Image, icc: bytes | None) -> Image.Image:
    transform = _transform_from(bytes(icc), "CMYK" if im.mode == "CMYK" else "RGB") if icc else None
    if transform is None:
        return im if im.mode in ("RGB", "RGBA") else im.convert("RGB")
    if im.mode == "RGBA":
        alpha = im.getchannel("A")
        out: Image.Image = transform.apply(im.convert("RGB"))
        out.putalpha(alpha)
        return out
    return cast(Image.Image, transform.apply(im))


def finish(im: Image.Image, icc: bytes | None) -> Image.Image:
    """RGB or RGBA, in sRGB. Runs after downscaling."""
    mode = im.mode
    if mode == "L":
        return im.convert("RGB")
    if mode == "LA":
        return im.convert("RGBA")
    if mode in ("CMYK", "RGB", "RGBA"):
        return _profiled_to_srgb(im, icc)
    return im.convert("RGBA" if "A" in mode else "RGB")


# ----------------------------------------------------------------------------------------------- alpha
def has_real_alpha(im: Image.Image) -> bool:
    """RGBA with at least one pixel not fully opaque."""
    return im.mode == "RGBA" and cast("tuple[int, int]", im.getchannel("A").getextrema())[0] < 255


def flatten_on_white(im: Image.Image) -> Image.Image:
    if im.mode != "RGBA":
        return im if im.mode == "RGB" else im.convert("RGB")
    out = Image.new("RGB", im.size, (255, 255, 255))
    out.paste(im, mask=im.getchannel("A"))
    return out
