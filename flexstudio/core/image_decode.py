"""Opening untrusted image bytes safely: format sniffing, size limits, completeness checks, orientation.

Everything here works on bytes in memory and never decodes pixels, except where a format gives no cheap
way to tell a complete file from a truncated one (then the first frame is decoded once).

Why not ``Image.open``: it warns (``DecompressionBombWarning``) or raises from Pillow's *global*
``Image.MAX_IMAGE_PIXELS``, and a warning cannot be silenced thread-safely (``warnings.catch_warnings``
mutates process-wide state, and preparation runs in worker threads). So the format is sniffed from the
magic bytes here, and the plugin's own image class is built directly; its constructor parses the header
only. The size limits below are then checked before any pixel buffer is allocated.

Completeness: ``Image.verify()`` is a no-op for JPEG, the format where truncation is most common, so each
format gets a structural check on the bytes instead (JPEG: an EOI marker after the first scan; PNG: the
chunk chain reaches IEND; GIF: the block chain reaches the trailer; WebP: the RIFF length; TIFF: strips
inside the file; BMP: the pixel array inside the file; AVIF/HEIC: the top-level boxes fit). These cost
microseconds to a few milliseconds, where a full decode of a 24 MP photo costs a quarter of a second.
Damage that leaves the structure intact (flipped bits inside compressed data) shows up when ``prepare``
decodes, as the same ``BadInput``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from io import BytesIO

from PIL import Image, ImageFile

from .errors import BadInput
from .sizes import MEGAPIXEL

# ----------------------------------------------------------------------------------------------- limits
MAX_INPUT_SIDE = 20_000  # px, either side of an input image
MAX_INPUT_PIXELS = 100 * MEGAPIXEL  # declared pixels of an input image (before any decode)
MAX_OUTPUT_PIXELS = 64 * MEGAPIXEL  # a provider's result
BOMB_PIXELS_PER_BYTE = 100  # a file this much smaller than its pixel count is called a bomb
ACCEPTED = "PNG, JPEG, WebP, TIFF, GIF, BMP, AVIF or HEIC"

# Formats whose Pillow plugin re-checks the global MAX_IMAGE_PIXELS while decoding or seeking (TIFF on
# load, GIF and MPO on seek). Above that global Pillow would *warn*, so for these the effective limit
# is also capped at it: nothing FlexStudio accepts can then make Pillow warn.
_PILLOW_RECHECKS = frozenset({"TIFF", "GIF", "MPO"})


@dataclass(frozen=True, slots=True)
class FormatSpec:
    key: str  # FlexStudio's name: jpeg, png, webp, tiff, gif, bmp, avif, heic
    label: str  # for messages
    mime: str
    pillow: str  # the Pillow plugin id (Image.OPEN key)


FORMATS: dict[str, FormatSpec] = {
    s.key: s
    for s in (
        FormatSpec("jpeg", "JPEG", "image/jpeg", "JPEG"),
        FormatSpec("png", "PNG", "image/png", "PNG"),
        FormatSpec("webp", "WebP", "image/webp", "WEBP"),
        FormatSpec("tiff", "TIFF", "image/tiff", "TIFF"),
        FormatSpec("gif", "GIF", "image/gif", "GIF"),
        FormatSpec("bmp", "BMP", "image/bmp", "BMP"),
        FormatSpec("avif", "AVIF", "image/avif", "AVIF"),
        FormatSpec("heic", "HEIC", "image/heic", "HEIF"),
    )
}

_AVIF_BRANDS = {b"avif", b"avis"}
_HEIF_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"}

# Recognisable files FlexStudio does not read, for a better message than "not an image".
_OTHER_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"8BPS", "Photoshop (PSD)"),
    (b"%PDF", "PDF"),
    (b"%!PS", "PostScript"),
    (b"\x00\x00\x01\x00", "Windows icon (ICO)"),
    (b"\xff\x0a", "JPEG XL"),
    (b"\x00\x00\x00\x0cJXL ", "JPEG XL"),
    (b"\x00\x00\x00\x0cjP  ", "JPEG 2000"),
    (b"\xff\x4f\xff\x51", "JPEG 2000"),
    (b"qoif", "QOI"),
    (b"DDS ", "DirectDraw Surface (DDS)"),
    (b"PK\x03\x04", "ZIP archive"),
)


def label_of(name: str) -> str:
    """How a file is named in messages."""
    return name or "The image"


# --------------------------------------------------------------------------------------------- sniffing
def _isobmff_brands(data: bytes) -> set[bytes]:
    size = int.from_bytes(data[0:4], "big")
    end = min(len(data), size if 16 <= size <= 4096 else 64)
    brands = {data[8:12]}
    brands.update(data[i : i + 4] for i in range(16, end - 3, 4))
    return brands


def sniff(data: bytes) -> str | None:
    """The format key of ``data`` from its magic bytes (never from a file name), or None."""
    head = data[:32]
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return "tiff"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if head[:2] == b"BM" and len(head) >= 26:
        return "bmp"
    if head[4:8] == b"ftyp":
        brands = _isobmff_brands(data)
        if brands & _AVIF_BRANDS:
            return "avif"
        if brands & _HEIF_BRANDS:
            return "heic"
    return None


def _other_kind(data: bytes) -> str | None:
    for magic, kind in _OTHER_MAGIC:
        if data.startswith(magic):
            return kind
    text = data[:256].lstrip().lower()
    if text.startswith(b"<svg") or (text.startswith(b"<?xml") and b"<svg" in data[:4096].lower()):
        return "SVG"
    if text.startswith(b"P") and text[1:2] in (b"1", b"2", b"3", b"4", b"5", b"6") and text[2:3].isspace():
        return "Netpbm"
    return None


# ------------------------------------------------------------------------------------------- HEIC plugin
_heif_lock = threading.Lock()
_heif_ready: bool | None = None  # None: not tried yet


def heif_available() -> bool:
    """Register pillow-heif's opener the first time a HEIC file is seen (once per process)."""
    global _heif_ready
    with _heif_lock:
        if _heif_ready is None:
            try:
                import pillow_heif
            except ImportError:
                _heif_ready = False
            else:
                pillow_heif.register_heif_opener()
                _heif_ready = True
        return _heif_ready


def _factory(spec: FormatSpec) -> Callable[[BytesIO, str], ImageFile.ImageFile]:
    if spec.pillow not in Image.OPEN:
        Image.init()  # imports every bundled plugin once (WebP, TIFF, AVIF are not in preinit)
    return Image.OPEN[spec.pillow][0]


# ------------------------------------------------------------------------------------------ size limits
def pixel_limit(pillow_format: str, limit: int) -> int:
    """``limit``, capped at Pillow's own warning threshold for the plugins that re-check it."""
    pillow_max = Image.MAX_IMAGE_PIXELS
    if pillow_format in _PILLOW_RECHECKS and pillow_max:
        return min(limit, int(pillow_max))
    return limit


def check_dimensions(
    width: int, height: int, n_bytes: int, label: str, *, limit: int, side: int = MAX_INPUT_SIDE
) -> None:
    if width <= 0 or height <= 0:
        raise BadInput(f"{label} has no pixels ({width}×{height}).")
    pixels = width * height
    if pixels <= limit and max(width, height) <= side:
        return
    if pixels > limit and n_bytes * BOMB_PIXELS_PER_BYTE < pixels:
        raise BadInput(
            f"{label} declares {width}×{height} pixels in only {n_bytes:,} bytes: it looks "
            f"like a decompression bomb and was not opened."
        )
    raise BadInput(
        f"{label} is too large ({width}×{height} pixels); FlexStudio opens images up to "
        f"{side:,} px a side and {limit / MEGAPIXEL:g} MP."
    )


def _webp_size(data: bytes) -> tuple[int, int] | None:
    """Canvas size from the WebP header: Pillow's WebP decoder allocates the canvas when it opens."""
    chunk = data[12:16]
    if chunk == b"VP8X" and len(data) >= 30:
        return 1 + int.from_bytes(data[24:27], "little"), 1 + int.from_bytes(data[27:30], "little")
    if chunk == b"VP8 " and len(data) >= 30 and data[23:26] == b"\x9d\x01\x2a":
        return (
            int.from_bytes(data[26:28], "little") & 0x3FFF,
            int.from_bytes(data[28:30], "little") & 0x3FFF,
        )
    if chunk == b"VP8L" and len(data) >= 25 and data[20] == 0x2F:
        bits = int.from_bytes(data[21:25], "little")
        return 1 + (bits & 0x3FFF), 1 + ((bits >> 14) & 0x3FFF)
    return None


# -------------------------------------------------------------------------------------- decode guarding
@contextmanager
def decoding(label: str, fmt_label: str) -> Iterator[None]:
    """Turn whatever Pillow (or a codec) raises on hostile bytes into one ``BadInput`` sentence."""
    try:
        yield
    except BadInput:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise BadInput(
            f"{label} declares more pixels than FlexStudio opens: it looks like a "
            f"decompression bomb and was not opened."
        ) from e
    except MemoryError as e:
        raise BadInput(f"{label} is too large to decode in the memory available.") from e
    except Exception as e:
        raise BadInput(f"{label} is damaged or truncated: its {fmt_label} data cannot be decoded.") from e


# -------------------------------------------------------------------------------------- completeness
def _jpeg_complete(data: bytes) -> bool:
    n, i = len(data), 2
    while i + 4 <= n:
        if data[i] != 0xFF:
            return False
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
            continue
        if marker == 0xD9:  # EOI before any scan
            return False
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:
            i += 2
            continue
        seg = int.from_bytes(data[i + 2 : i + 4], "big")
        if marker == 0xDA:
            # First scan: complete if an EOI follows. Searched from the end, where it is (searching
            # forwards would stop at every 0xFF of the entropy-coded data).
            return data.rfind(b"\xff\xd9", i + 2 + seg) != -1
        i += 2 + seg
    return False


def _png_complete(data: bytes) -> bool:
    n, i = len(data), 8
    while i + 12 <= n:
        length = int.from_bytes(data[i : i + 4], "big")
        kind = data[i + 4 : i + 8]
        i += 12 + length
        if kind == b"IEND":
            return i <= n
    return False


def _gif_complete(data: bytes) -> bool:
    n = len(data)

    def skip_sub_blocks(i: int) -> int:
        while i < n:
            size = data[i]
            i += 1 + size
            if size == 0:
                return i
        return -1

    if n < 13:
        return False
    i = 13
    if data[10] & 0x80:
        i += 3 << ((data[10] & 7) + 1)
    images = 0
    while 0 <= i < n:
        block = data[i]
        if block == 0x3B:  # trailer
            return images > 0
        if block == 0x21:  # extension
            i = skip_sub_blocks(i + 2)
        elif block == 0x2C:  # image descriptor
            if i + 11 > n:
                return False
            flags = data[i + 9]
            i += 10 + ((3 << ((flags & 7) + 1)) if flags & 0x80 else 0)
            i = skip_sub_blocks(i + 1)  # +1: the LZW minimum code size
            images += i > 0
        else:
            return False
    # No trailer: accept a file that ends exactly after a complete block (common and harmless).
    return i == n and images > 0


def _riff_complete(data: bytes) -> bool:
    return len(data) >= 8 + int.from_bytes(data[4:8], "little")


def _isobmff_complete(data: bytes) -> bool:
    n, i = len(data), 0
    while i + 8 <= n:
        size = int.from_bytes(data[i : i + 4], "big")
        if size == 1:
            if i + 16 > n:
                return False
            size = int.from_bytes(data[i + 8 : i + 16], "big")
        elif size == 0:  # "to the end of the file"
            return True
        if size < 8:
            return False
        i += size
    return i <= n


def _bmp_complete(data: bytes) -> bool | None:
    if len(data) < 30:
        return False
    offset = int.from_bytes(data[10:14], "little")
    if int.from_bytes(data[14:18], "little") == 12:  # OS/2 header
        w, h = int.from_bytes(data[18:20], "little"), int.from_bytes(data[20:22], "little")
        bpp, compression = int.from_bytes(data[24:26], "little"), 0
    else:
        if len(data) < 34:
            return False
        w = int.from_bytes(data[18:22], "little", signed=True)
        h = int.from_bytes(data[22:26], "little", signed=True)
        bpp, compression = int.from_bytes(data[28:30], "little"), int.from_bytes(data[30:34], "little")
    if compression not in (0, 3, 6):  # RLE or embedded JPEG/PNG: decode to know
        return None
    return len(data) >= offset + (abs(w) * bpp + 31) // 32 * 4 * abs(h)


def _tiff_complete(data: bytes, im: ImageFile.ImageFile) -> bool | None:
    tags = getattr(im, "tag_v2", None)
    if tags is None:
        return None
    offsets, counts = tags.get(273) or tags.get(324), tags.get(279) or tags.get(325)
    if not offsets or not counts:
        return None
    offsets = offsets if isinstance(offsets, tuple) else (offsets,)
    counts = counts if isinstance(counts, tuple) else (counts,)
    return bool(max(o + c for o, c in zip(offsets, counts, strict=False)) <= len(data))


def structurally_complete(key: str, data: bytes, im: ImageFile.ImageFile) -> bool | None:
    """True/False from the file's structure; None when only a decode can tell."""
    match key:
        case "jpeg":
            return _jpeg_complete(data)
        case "png":
            return _png_complete(data)
        case "gif":
            return _gif_complete(data)
        case "webp":
            return _riff_complete(data)
        case "avif" | "heic":
            return _isobmff_complete(data)
        case "bmp":
            return _bmp_complete(data)
        case "tiff":
            return _tiff_complete(data, im)
    return None


# ------------------------------------------------------------------------------------------ orientation
def orientation_of(im: Image.Image) -> int:
    """The EXIF orientation (1–8) without decoding: PNG's own ``getexif`` would decode the whole image
    to look for an eXIf chunk after the pixels, so only metadata before the pixels is used (the PNG spec
    places eXIf there). HEIC decoders apply their own rotation and report 1."""
    try:
        exif = Image.Image.getexif(im) if im.format == "PNG" else im.getexif()
        value = int(exif.get(0x0112, 1))
    except Exception:  # damaged EXIF must not make a good image unusable
        return 1
    return value if 1 <= value <= 8 else 1


def swaps_sides(orientation: int) -> bool:
    return orientation in (5, 6, 7, 8)


_TRANSPOSE = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def apply_orientation(im: Image.Image, orientation: int) -> Image.Image:
    """What ``ImageOps.exif_transpose`` does, on an image that no longer carries its EXIF (it is applied
    after downscaling, so it moves 4 MP instead of 24)."""
    method = _TRANSPOSE.get(orientation)
    return im if method is None else im.transpose(method)


# ------------------------------------------------------------------------------------------------- open
@dataclass(slots=True)
class Opened:
    """An image whose header has been read and checked; no pixels are decoded yet."""

    image: ImageFile.ImageFile
    spec: FormatSpec
    orientation: int
    label: str

    @property
    def upright_size(self) -> tuple[int, int]:
        w, h = self.image.size
        return (h, w) if swaps_sides(self.orientation) else (w, h)


def open_image(
    data: bytes,
    name: str = "",
    *,
    limit: int = MAX_INPUT_PIXELS,
    side: int = MAX_INPUT_SIDE,
    check_complete: bool = True,
) -> Opened:
    """Sniff, open (header only), check size limits and completeness. Raises ``BadInput``."""
    label = label_of(name)
    if not data:
        raise BadInput(f"{label} is empty (0 bytes).")
    key = sniff(data)
    if key is None:
        kind = _other_kind(data)
        if kind:
            raise BadInput(f"{label} is a {kind} file, which FlexStudio cannot read; use {ACCEPTED}.")
        raise BadInput(f"{label} is not an image (FlexStudio reads {ACCEPTED}).")
    spec = FORMATS[key]
    if key == "heic" and not heif_available():
        raise BadInput(
            f"{label} is a HEIC image, but HEIC support (the pillow-heif package) is not installed."
        )
    if key == "avif":
        from PIL import AvifImagePlugin  # only when an AVIF shows up

        if not AvifImagePlugin.SUPPORTED:
            raise BadInput(f"{label} is an AVIF image, but this Pillow build cannot decode AVIF.")
    if key == "webp" and (size := _webp_size(data)) is not None:
        check_dimensions(*size, len(data), label, limit=limit, side=side)
    with decoding(label, spec.label):
        im = _factory(spec)(BytesIO(data), "")
        check_dimensions(
            *im.size, len(data), label, limit=pixel_limit(im.format or spec.pillow, limit), side=side
        )
        if check_complete:
            complete = structurally_complete(key, data, im)
            if complete is None:  # no cheap structural test: decode the first frame (kept for use)
                im.load()
                complete = True
            if not complete:
                raise BadInput(f"{label} is truncated or damaged: its {spec.label} data ends early.")
    return Opened(im, spec, orientation_of(im), label)
