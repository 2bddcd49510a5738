"""Metadata into image files without touching their pixels: PNG chunks, JPEG APP1 segments (EXIF, XMP and
extended XMP), WebP RIFF chunks — and the EXIF ``UserComment`` both ways.

The layouts follow the specs the readers follow: EXIF 2.32 (UserComment is UNDEFINED, an 8-byte character
code then the text), XMP part 3 (a standard packet in one APP1 of at most 65 502 bytes, the rest in
``http://ns.adobe.com/xmp/extension/`` segments keyed by the MD5 of the extended packet), JFIF (APP0 right
after SOI), and Google's WebP container (VP8X flags, EXIF and XMP chunks after the image data).
"""

from __future__ import annotations

import struct
import zlib

from . import exif as E
from . import xmp as X

JPEG_SEGMENT_MAX = 0xFFFF - 2  # payload bytes one marker segment can hold
_EXIF_HEAD = EXIF_HEAD = b"Exif\x00\x00"
_XMP_HEAD = b"http://ns.adobe.com/xap/1.0/\x00"
_XMP_EXT_HEAD = b"http://ns.adobe.com/xmp/extension/\x00"
XMP_STANDARD_MAX = 65502  # XMP part 3: the standard packet in a JPEG
USER_COMMENT_TAG, EXIF_IFD_TAG = 0x9286, 0x8769
UNICODE, ASCII = b"UNICODE\x00", b"ASCII\x00\x00\x00"


# ---------------------------------------------------------------------- EXIF
def exif_user_comment(
    text: str, size: tuple[int, int] = (0, 0), *, srgb: bool = True, theirs: bytes | None = None
) -> bytes:
    """A TIFF block (big-endian, so the UTF-16BE text agrees with the byte order) whose Exif IFD holds the
    UserComment (UNDEFINED, ``UNICODE\\0`` header — what piexif writes for A1111) and the tags EXIF 2.32
    requires of a JPEG (so ``exiftool -validate`` finds nothing missing). ``theirs``: the file's own EXIF,
    kept (Orientation, camera fields, GPS…) with ours added where it says nothing."""
    comment = UNICODE + text.encode("utf-16-be")
    short, long_, rational, undefined = E.SHORT, E.LONG, E.RATIONAL, E.UNDEFINED
    ours = E.Tags()
    ours.ifd0 = {
        0x011A: (rational, 1, struct.pack(">II", 72, 1)),
        0x011B: (rational, 1, struct.pack(">II", 72, 1)),
        0x0128: (short, 1, struct.pack(">H", 2)),
        0x0213: (short, 1, struct.pack(">H", 1)),
    }
    ours.exif = {
        0x9000: (undefined, 4, b"0232"),
        0x9101: (undefined, 4, b"\x01\x02\x03\x00"),
        USER_COMMENT_TAG: (undefined, len(comment), comment),
        0xA000: (undefined, 4, b"0100"),
        0xA001: (short, 1, struct.pack(">H", 1 if srgb else 0xFFFF)),
        0xA002: (long_, 1, struct.pack(">I", size[0])),
        0xA003: (long_, 1, struct.pack(">I", size[1])),
    }
    return E.write(E.merged(ours, E.read(theirs)) if theirs else ours)


EXIF_OVERHEAD = len(exif_user_comment("")) + len(_EXIF_HEAD)


def decode_user_comment(value: object) -> str | None:
    """The text of a UserComment as Pillow returns it, whatever character code it declares."""
    if isinstance(value, str):
        return value or None
    if not isinstance(value, (bytes, bytearray)) or len(value) < 8:
        return None
    head, body = bytes(value[:8]), bytes(value[8:])
    if head == UNICODE:
        # The spec says "the byte order of the TIFF header"; writers disagree, so trust a BOM or the zeros.
        if body[:2] in (b"\xff\xfe", b"\xfe\xff"):
            return body.decode("utf-16")
        le = len(body) > 1 and body[1:2] == b"\x00" and body[0:1] != b"\x00"
        return body.decode("utf-16-le" if le else "utf-16-be", "replace").rstrip("\x00") or None
    if head in (ASCII, b"\x00" * 8):
        return body.decode("utf-8", "replace").rstrip("\x00") or None
    return None  # JIS or an unknown code: not text we can trust


# ---------------------------------------------------------------------- PNG
def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


def itxt(key: str, text: str) -> bytes:
    return _png_chunk(b"iTXt", key.encode("latin-1") + b"\x00\x00\x00\x00\x00" + text.encode("utf-8"))


def png_insert(data: bytes, chunks: bytes) -> bytes:
    """Insert ready chunks before the first IDAT, where every reader (Pillow before ``load()``, A1111,
    ComfyUI) finds them."""
    if not data.startswith(b"\x89PNG\r\n\x1a\n"):
        raise ValueError("not a PNG")
    pos = 8
    while pos + 8 <= len(data):
        length = struct.unpack(">I", data[pos : pos + 4])[0]
        if data[pos + 4 : pos + 8] in (b"IDAT", b"IEND"):
            return data[:pos] + chunks + data[pos:]
        pos += 12 + length
    raise ValueError("a PNG without image data")


def png_text_after_image(data: bytes, limit: int = 16 * 2**20) -> dict[str, str]:
    """Text chunks (tEXt, zTXt, iTXt) that come after the image data — Pillow reads those only when it
    decodes the pixels; this walks the chunks without decoding anything. Compressed text is inflated up
    to ``limit`` bytes."""
    out: dict[str, str] = {}
    if not data.startswith(b"\x89PNG\r\n\x1a\n"):
        return out
    pos, seen_idat = 8, False
    while pos + 8 <= len(data):
        length = struct.unpack(">I", data[pos : pos + 4])[0]
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        pos += 12 + length
        if kind == b"IDAT":
            seen_idat = True
        elif kind == b"IEND":
            break
        elif seen_idat and kind in (b"tEXt", b"zTXt", b"iTXt"):
            key, _, rest = body.partition(b"\x00")
            try:
                if kind == b"tEXt":
                    text = rest.decode("latin-1")
                elif kind == b"zTXt":
                    text = _inflate(rest[1:], limit).decode("latin-1")
                else:
                    flag, _method, tail = rest[0], rest[1], rest[2:]
                    _lang, _, tail = tail.partition(b"\x00")
                    _tkey, _, tail = tail.partition(b"\x00")
                    text = (_inflate(tail, limit) if flag else tail).decode("utf-8")
            except (ValueError, IndexError, zlib.error):
                continue
            out.setdefault(key.decode("latin-1"), text)
    return out


def _inflate(data: bytes, limit: int) -> bytes:
    d = zlib.decompressobj()
    out = d.decompress(data, limit)
    if d.unconsumed_tail:
        raise ValueError("compressed text larger than the limit")
    return out


# ---------------------------------------------------------------------- JPEG
def _segment(marker: int, payload: bytes) -> bytes:
    if len(payload) > JPEG_SEGMENT_MAX:
        raise ValueError("a JPEG segment holds at most 65 533 bytes")
    return bytes((0xFF, marker)) + struct.pack(">H", len(payload) + 2) + payload


def jpeg_xmp_segments(
    fields: dict[str, str], keep_standard: tuple[str, ...], keep: tuple[str, ...] = ()
) -> tuple[bytes, bool]:
    """APP1 segments for ``fields``: one standard packet when it fits, else a standard packet with the
    ``keep_standard`` fields (those that fit) and ``HasExtendedXMP``, the whole set in extension segments.
    ``keep``: the file's own descriptions, in the standard packet (left out only when they alone do not
    fit). Returns the segments and whether the extension was needed."""
    std = X.packet(fields, keep=keep)
    if len(std) <= XMP_STANDARD_MAX:
        return _segment(0xE1, _XMP_HEAD + std), False
    extended = X.packet(fields, wrapper=False)
    gid = X.guid(extended)
    small = {k: fields[k] for k in keep_standard if k in fields}
    std = X.packet(small, extended_guid=gid, keep=keep)
    if len(std) > XMP_STANDARD_MAX:
        std = X.packet({}, extended_guid=gid, keep=keep)
    if len(std) > XMP_STANDARD_MAX:
        std = X.packet({}, extended_guid=gid)
    out = _segment(0xE1, _XMP_HEAD + std)
    step = JPEG_SEGMENT_MAX - len(_XMP_EXT_HEAD) - 32 - 8
    for off in range(0, len(extended), step):
        part = extended[off : off + step]
        out += _segment(0xE1, _XMP_EXT_HEAD + gid.encode() + struct.pack(">II", len(extended), off) + part)
    return out, True


def jpeg_insert(data: bytes, segments: bytes) -> bytes:
    """Insert ``segments`` after SOI and any JFIF/JFXX APP0, dropping the file's own EXIF and XMP APP1
    segments (ours replace them — our EXIF carries the file's own tags, ``exif_user_comment(theirs=)`` —
    as a reader takes the first one it meets)."""
    if not data.startswith(b"\xff\xd8"):
        raise ValueError("not a JPEG")
    pos, head, kept = 2, b"", b""
    while pos + 4 <= len(data) and data[pos] == 0xFF:
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if not (0xE0 <= marker <= 0xEF or marker == 0xFE):
            break  # the first non-APP segment: everything from here on stays as it is
        length = struct.unpack(">H", data[pos + 2 : pos + 4])[0]
        seg, payload = data[pos : pos + 2 + length], data[pos + 4 : pos + 2 + length]
        if marker == 0xE0 and payload[:5] in (b"JFIF\x00", b"JFXX\x00") and not kept:
            head += seg
        elif marker == 0xE1 and payload.startswith((_EXIF_HEAD, _XMP_HEAD, _XMP_EXT_HEAD)):
            pass
        else:
            kept += seg
        pos += 2 + length
    return data[:2] + head + segments + kept + data[pos:]


def _jpeg_app1(data: bytes, head: bytes) -> bytes | None:
    """The payload after ``head`` of a JPEG's first APP1 segment that starts with it (as readers take
    it), or None. Only the segments before the image data are read."""
    pos = 2 if data.startswith(b"\xff\xd8") else len(data)
    while pos + 4 <= len(data) and data[pos] == 0xFF:
        marker = data[pos + 1]
        if marker == 0xFF:
            pos += 1
            continue
        if not (0xE0 <= marker <= 0xEF or marker == 0xFE):
            return None
        length = struct.unpack(">H", data[pos + 2 : pos + 4])[0]
        payload = data[pos + 4 : pos + 2 + length]
        if marker == 0xE1 and payload.startswith(head):
            return payload[len(head) :]
        pos += 2 + length
    return None


def jpeg_exif(data: bytes) -> bytes | None:
    """The TIFF block of a JPEG's own EXIF APP1 (the first, as readers take it), or None."""
    return _jpeg_app1(data, _EXIF_HEAD)


def jpeg_xmp(data: bytes) -> bytes | None:
    """A JPEG's own standard XMP packet (the first XMP APP1, as readers take it), or None."""
    return _jpeg_app1(data, _XMP_HEAD)


def webp_xmp(data: bytes) -> bytes | None:
    """A WebP's own XMP chunk, or None."""
    try:
        return next((p for k, p in _riff_chunks(data) if k == b"XMP "), None)
    except ValueError:
        return None


def webp_exif(data: bytes) -> bytes | None:
    """The TIFF block of a WebP's own EXIF chunk, or None."""
    try:
        chunks = _riff_chunks(data)
    except ValueError:
        return None
    for kind, payload in chunks:
        if kind == b"EXIF":
            return payload[len(_EXIF_HEAD) :] if payload.startswith(_EXIF_HEAD) else payload
    return None


def jpeg_exif_segment(tiff: bytes) -> bytes:
    return _segment(0xE1, _EXIF_HEAD + tiff)


def jpeg_extended_xmp(app1_payloads: list[bytes], gid: str) -> bytes | None:
    """Reassemble the extended XMP with GUID ``gid`` from a JPEG's APP1 payloads (Pillow's ``applist``)."""
    parts: dict[int, bytes] = {}
    total = None
    for p in app1_payloads:
        if not p.startswith(_XMP_EXT_HEAD) or p[35:67].decode("ascii", "replace") != gid:
            continue
        total, off = struct.unpack(">II", p[67:75])
        parts[off] = p[75:]
    if total is None:
        return None
    out = b"".join(parts[k] for k in sorted(parts))
    if len(out) != total or X.guid(out) != gid:
        return None
    return out


# ---------------------------------------------------------------------- WebP
def _riff_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        raise ValueError("not a WebP")
    end = min(len(data), 8 + struct.unpack("<I", data[4:8])[0])
    pos, out = 12, []
    while pos + 8 <= end:
        kind, size = data[pos : pos + 4], struct.unpack("<I", data[pos + 4 : pos + 8])[0]
        out.append((kind, data[pos + 8 : pos + 8 + size]))
        pos += 8 + size + (size & 1)
    return out


def _riff_chunk(kind: bytes, payload: bytes) -> bytes:
    return kind + struct.pack("<I", len(payload)) + payload + (b"\x00" if len(payload) & 1 else b"")


def _webp_canvas(chunks: list[tuple[bytes, bytes]]) -> tuple[int, int, bool]:
    for kind, p in chunks:
        if kind == b"VP8 " and len(p) >= 10 and p[3:6] == b"\x9d\x01\x2a":
            w, h = struct.unpack("<HH", p[6:10])
            return w & 0x3FFF, h & 0x3FFF, False
        if kind == b"VP8L" and len(p) >= 5 and p[0] == 0x2F:
            bits = int.from_bytes(p[1:5], "little")
            return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1, bool((bits >> 28) & 1)
    raise ValueError("a WebP without image data")


def webp_insert(data: bytes, exif_tiff: bytes, xmp_packet: bytes) -> bytes:
    """Add EXIF and XMP chunks to a WebP without re-encoding it: a simple file becomes VP8X (its bitstream
    as it was); an extended one keeps every chunk (ICC profile, animation, alpha) and gains the flags."""
    chunks = [(k, p) for k, p in _riff_chunks(data) if k not in (b"EXIF", b"XMP ")]
    if chunks and chunks[0][0] == b"VP8X":
        head = bytearray(chunks[0][1])
        head[0] |= 0x08 | 0x04
        chunks[0] = (b"VP8X", bytes(head))
    else:
        w, h, alpha = _webp_canvas(chunks)
        flags = 0x08 | 0x04 | (0x10 if alpha else 0)
        vp8x = bytes((flags, 0, 0, 0)) + (w - 1).to_bytes(3, "little") + (h - 1).to_bytes(3, "little")
        chunks.insert(0, (b"VP8X", vp8x))
    chunks += [(b"EXIF", exif_tiff), (b"XMP ", xmp_packet)]
    body = b"WEBP" + b"".join(_riff_chunk(k, p) for k, p in chunks)
    return b"RIFF" + struct.pack("<I", len(body)) + body
