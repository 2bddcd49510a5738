"""Reference-image preparation: inspect what the user dropped, make what a provider gets, check results.

All functions take bytes and return bytes (no file or network I/O) and are safe to call from worker
threads (``asyncio.to_thread``); none touches Pillow's global settings.

* ``inspect`` reads the header only: upright size, format, frames, mode, hash. It refuses empty,
  truncated, non-image, unsupported, oversized and decompression-bomb files with one ``BadInput`` sentence.
* ``prepare`` makes the upload: EXIF orientation applied, first frame, sRGB 8-bit RGB/RGBA, downscaled
  to ``fit_within`` (sides multiples of 16; a centred crop of less than 16 px keeps the aspect exact
  instead of stretching), JPEG 92 when opaque, PNG when it has real transparency. JPEGs are decoded at
  a reduced DCT scale (draft mode) when they are at least twice the target; other formats go through
  ``reduce`` before the final Lanczos resampling, which runs on all cores. A JPEG/PNG/WebP already exactly right is passed through
  byte for byte.
* ``verify_output`` decodes a provider's result once to be sure it is a whole, sane image.
* ``thumbnail`` makes a small preview for the GUI.

``prepare`` returns a ``core.request.PreparedReference``, the one type every provider sends.
"""

from __future__ import annotations

import hashlib
import math
import threading
from collections import OrderedDict
from concurrent.futures import Future
from dataclasses import dataclass
from io import BytesIO

from PIL import Image

from .image_colour import finish, flatten_on_white, has_real_alpha, needs_colour_conversion, resizable
from .image_decode import (
    FORMATS,
    MAX_OUTPUT_PIXELS,
    Opened,
    apply_orientation,
    decoding,
    open_image,
    swaps_sides,
)
from .image_resample import resample
from .request import ImageRef, PreparedReference
from .sizes import MAX_PIXELS, fit_within

# Bump when ``prepare`` makes different bytes for the same input (storage.prepared keeps results between
# runs under this version; older files are simply no longer found).
PREPARE_VERSION = 1
JPEG_QUALITY = 92
WEBP_QUALITY = 92
PNG_COMPRESS_LEVEL = 3  # zlib level: 3 is several times faster than 6/9 for a few % more bytes
THUMB_JPEG_QUALITY = 85
PREPARE_FORMATS = ("auto", "jpeg", "png", "webp")
_PASS_THROUGH = {"JPEG": "jpeg", "PNG": "png", "WEBP": "webp"}
# Resampling. Without a draft: Lanczos, after ``reduce`` by integer factors while ≥ 3× remains. After a
# JPEG draft the DCT has already done the large reduction and less than 2× remains; there bicubic is as
# good as Lanczos (against a full-resolution Lanczos reference of the corpus' 24 MP photo: mean error
# 0.55/0.66/1.33 vs 0.57/0.54/1.39 levels per channel) and a quarter cheaper; bilinear would be cheaper
# still but visibly softer on fine detail. Resampling runs in bands on all cores (image_resample).
FILTER = Image.Resampling.LANCZOS
FILTER_AFTER_DRAFT = Image.Resampling.BICUBIC
# When a half-scale draft already landed within 25 % of the target (the 4 MP case), the last step is a
# gentle one: there the antialiased bilinear filter matches the full-decode reference as closely as
# bicubic (the tests check it) and is a quarter cheaper. Deeper drafts keep bicubic.
FILTER_GENTLE = Image.Resampling.BILINEAR
GENTLE_RATIO = 0.75
REDUCING_GAP = 3.0
_MIME = {"jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp"}


@dataclass(frozen=True, slots=True)
class ImageInfo:
    """What ``inspect`` learns from a file's header. ``width``/``height`` are upright (EXIF applied)."""

    width: int
    height: int
    format: str  # jpeg, png, webp, tiff, gif, bmp, avif, heic (from the bytes, not the name)
    mime: str
    frames: int
    mode: str  # Pillow's mode as stored: RGB, RGBA, P, L, LA, I;16, CMYK…
    sha256: str  # of the file's bytes
    orientation: int = 1
    name: str = ""
    n_bytes: int = 0

    def to_ref(self) -> ImageRef:
        return ImageRef(
            sha256=self.sha256, width=self.width, height=self.height, name=self.name, mime=self.mime
        )


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# ---------------------------------------------------------------------------------------------- inspect
def inspect(data: bytes, name: str = "") -> ImageInfo:
    """Header-only facts about an image file. Raises ``BadInput`` naming ``name`` if it is unusable."""
    src = open_image(data, name)
    im: Image.Image = src.image
    with decoding(src.label, src.spec.label):
        frames = int(getattr(im, "n_frames", 1))
    w, h = src.upright_size
    return ImageInfo(
        width=w,
        height=h,
        format=src.spec.key,
        mime=src.spec.mime,
        frames=frames,
        mode=im.mode,
        sha256=sha256_of(data),
        orientation=src.orientation,
        name=name,
        n_bytes=len(data),
    )


# ---------------------------------------------------------------------------------------------- prepare
def _normalise_fmt(fmt: str) -> str:
    f = fmt.lower()
    f = "jpeg" if f == "jpg" else f
    if f not in PREPARE_FORMATS:
        raise ValueError(f"fmt must be one of {', '.join(PREPARE_FORMATS)} (got {fmt!r})")
    return f


def _render(src: Opened, size: tuple[int, int], *, crop_only: bool, reducing_gap: float) -> Image.Image:
    """The upright first frame at exactly ``size``: 8-bit RGB/RGBA in sRGB.

    Works in the stored orientation (so JPEG draft and the resampling box apply to the file as stored)
    and rotates only the small result. The source region is the centred box with the target's aspect.
    """
    im: Image.Image = src.image
    sw, sh = im.size
    tw, th = (size[1], size[0]) if swaps_sides(src.orientation) else size
    scale = max(tw / sw, th / sh)
    cw, ch = min(sw, tw / scale), min(sh, th / scale)
    x0, y0 = (sw - cw) / 2, (sh - ch) / 2
    kx = ky = 1.0
    with decoding(src.label, src.spec.label):
        if scale < 1 and not crop_only:
            # JPEG: decode at 1/2, 1/4 or 1/8 scale straight from the DCT, still ≥ the target.
            # HEIC: pillow-heif may pick an embedded thumbnail that is large enough.
            drafted = im.draft(None, (math.ceil(sw * scale), math.ceil(sh * scale)))
            if drafted:
                bx0, by0, bx1, by1 = drafted[1]
                kx, ky = (bx1 - bx0) / sw, (by1 - by0) / sh
        im.load()
        icc = im.info.get("icc_profile")
        im = resizable(im)
    if crop_only:
        left, top = (sw - tw) // 2, (sh - th) // 2
        if (tw, th) != im.size:
            im = im.crop((left, top, left + tw, top + th))
    else:
        box = (x0 * kx, y0 * ky, (x0 + cw) * kx, (y0 + ch) * ky)
        method = FILTER_AFTER_DRAFT if (kx, ky) != (1.0, 1.0) else FILTER
        if (
            method is FILTER_AFTER_DRAFT
            and min(kx, ky) >= 0.5
            and min(tw / (cw * kx), th / (ch * ky)) >= GENTLE_RATIO
        ):
            method = FILTER_GENTLE
        im = resample(im, (tw, th), box, method, reducing_gap)
    im = apply_orientation(im, src.orientation)
    return finish(im, icc)


def _can_pass_through(src: Opened, data: bytes, size: tuple[int, int], fmt: str) -> bool:
    im: Image.Image = src.image
    kind = _PASS_THROUGH.get(im.format or "")
    if kind is None or fmt not in ("auto", kind):
        return False
    if src.orientation != 1 or im.size != size or im.mode not in ("RGB", "RGBA"):
        return False
    if kind == "png" and data[24] != 8:  # 16-bit RGB(A) also opens as "RGB"; IHDR says the depth
        return False
    if im.info.get("exif") or b"Exif\x00\x00" in data[:65536]:
        return False  # re-encode: camera EXIF (GPS, serial numbers) never leaves with a reference
    with decoding(src.label, src.spec.label):
        if getattr(im, "n_frames", 1) != 1:
            return False
    return not needs_colour_conversion(im.info.get("icc_profile"))


def _encode(im: Image.Image, fmt: str) -> tuple[bytes, str]:
    """JPEG when opaque (alpha flattened on white), PNG when it has real transparency (auto); a forced
    PNG or WebP keeps real transparency and drops an alpha channel that is all opaque."""
    alpha = has_real_alpha(im)
    if fmt == "auto":
        fmt = "png" if alpha else "jpeg"
    buf = BytesIO()
    if fmt == "jpeg":
        flatten_on_white(im).save(buf, "JPEG", quality=JPEG_QUALITY, optimize=False, progressive=False)
        return buf.getvalue(), _MIME[fmt]
    if im.mode == "RGBA" and not alpha:
        im = im.convert("RGB")
    if fmt == "png":
        im.save(buf, "PNG", compress_level=PNG_COMPRESS_LEVEL)
    else:
        im.save(buf, "WEBP", quality=WEBP_QUALITY, method=4)
    return buf.getvalue(), _MIME[fmt]


def prepare(
    data: bytes, *, max_pixels: int = MAX_PIXELS, fmt: str = "auto", name: str = "", sha256: str | None = None
) -> PreparedReference:
    """The reference as a provider should get it (see the module docstring). ``fmt`` is auto, jpeg, png or
    webp; ``sha256`` may be given when the caller already knows the hash of ``data``."""
    fmt = _normalise_fmt(fmt)
    src = open_image(data, name)
    source_sha = sha256 or sha256_of(data)
    w, h = src.upright_size
    tw, th = fit_within(w, h, max_pixels)
    if _can_pass_through(src, data, (tw, th), fmt):
        return PreparedReference(data, src.spec.mime, tw, th, source_sha)
    crop_only = w * h <= max_pixels and tw <= w and th <= h
    im = _render(src, (tw, th), crop_only=crop_only, reducing_gap=REDUCING_GAP)
    out, mime = _encode(im, fmt)
    return PreparedReference(out, mime, tw, th, source_sha)


# ------------------------------------------------------------------------------------- results, previews
def verify_output(data: bytes, name: str = "") -> tuple[str, int, int]:
    """``(format, width, height)`` of a provider's result after decoding it once (pixel size as stored).
    Raises ``BadInput`` for not-an-image, truncated or damaged data, and anything over 64 MP; callers
    turn that into their own error kind."""
    src = open_image(data, name or "The result image", limit=MAX_OUTPUT_PIXELS)
    with decoding(src.label, src.spec.label):
        src.image.load()
    return src.spec.key, *src.image.size


def thumbnail(data: bytes, size: int, name: str = "") -> bytes:
    """A preview whose longer side is at most ``size`` px: JPEG, or PNG when it has transparency."""
    if size < 1:
        raise ValueError("thumbnail size must be at least 1")
    src = open_image(data, name)
    w, h = src.upright_size
    scale = min(1.0, size / max(w, h))
    tw, th = max(1, round(w * scale)), max(1, round(h * scale))
    im = _render(src, (tw, th), crop_only=scale == 1.0, reducing_gap=2.0)
    buf = BytesIO()
    if has_real_alpha(im):
        im.save(buf, "PNG", compress_level=1)
    else:
        flatten_on_white(im).save(buf, "JPEG", quality=THUMB_JPEG_QUALITY)
    return buf.getvalue()


# ------------------------------------------------------------------------------------------------ cache
class PreparedCache:
    """A thread-safe LRU of prepared references, bounded by the total size of their bytes.

    Keyed by ``(sha256, max_pixels, fmt)``: each (image, target) is encoded once, even when several
    threads ask for it at the same time (later callers wait for the first). Failures are not cached.
    """

    def __init__(self, max_bytes: int = 128 * 1024 * 1024) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[tuple[str, int, str], PreparedReference] = OrderedDict()
        self._pending: dict[tuple[str, int, str], Future[PreparedReference]] = {}
        self._bytes = 0
        self._lock = threading.Lock()

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    @property
    def total_bytes(self) -> int:
        with self._lock:
            return self._bytes

    def get(self, sha256: str, max_pixels: int = MAX_PIXELS, fmt: str = "auto") -> PreparedReference | None:
        key = (sha256, max_pixels, _normalise_fmt(fmt))
        with self._lock:
            item = self._items.get(key)
            if item is not None:
                self._items.move_to_end(key)
            return item

    def add(self, item: PreparedReference, max_pixels: int = MAX_PIXELS, fmt: str = "auto") -> None:
        """Keep an item prepared earlier (read back from storage.prepared)."""
        with self._lock:
            key = (item.source_sha256, max_pixels, _normalise_fmt(fmt))
            if key not in self._items:
                self._store(key, item)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0

    def prepare(
        self,
        data: bytes,
        *,
        max_pixels: int = MAX_PIXELS,
        fmt: str = "auto",
        name: str = "",
        sha256: str | None = None,
    ) -> PreparedReference:
        """``prepare(...)`` through the cache; the same object comes back for the same key."""
        fmt = _normalise_fmt(fmt)
        sha = sha256 or sha256_of(data)
        key = (sha, max_pixels, fmt)
        with self._lock:
            item = self._items.get(key)
            if item is not None:
                self._items.move_to_end(key)
                return item
            pending = self._pending.get(key)
            owner = pending is None
            if owner:
                pending = self._pending[key] = Future()
        assert pending is not None
        if not owner:
            return pending.result()
        try:
            item = prepare(data, max_pixels=max_pixels, fmt=fmt, name=name, sha256=sha)
        except BaseException as e:
            with self._lock:
                del self._pending[key]
            pending.set_exception(e)
            raise
        with self._lock:
            del self._pending[key]
            self._store(key, item)
        pending.set_result(item)
        return item

    def _store(self, key: tuple[str, int, str], item: PreparedReference) -> None:
        size = len(item.data)
        if size > self.max_bytes:
            return
        self._items[key] = item
        self._bytes += size
        while self._bytes > self.max_bytes:
            _, old = self._items.popitem(last=False)
            self._bytes -= len(old.data)


__all__ = [
    "FORMATS",
    "PREPARE_VERSION",
    "ImageInfo",
    "PreparedCache",
    "PreparedReference",
    "inspect",
    "prepare",
    "sha256_of",
    "thumbnail",
    "verify_output",
]
