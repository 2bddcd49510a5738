"""An image's own EXIF, read and written again with ours added: a provider's Orientation, camera fields,
GPS and the rest are kept; our UserComment (the A1111 ``parameters`` text) is added, and the tags EXIF 2.32
requires of a JPEG fill in only what the file does not say itself.

The block is always written big-endian, whatever the file's byte order was (values are swapped by type),
so the UTF-16BE UserComment agrees with the byte order — what piexif (A1111) and exiftool both expect.
IFD0, the Exif IFD, the GPS IFD and the Interoperability IFD are kept; the thumbnail IFD is not (a
thumbnail of the provider's picture is not ours to carry), nor are entries of a type TIFF does not define.
"""

from __future__ import annotations

import struct

# TIFF 6.0 / EXIF 2.32 field types: bytes per value, and the unit a byte swap works on
_SIZE = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4}
_UNIT = {1: 1, 2: 1, 3: 2, 4: 4, 5: 4, 6: 1, 7: 1, 8: 2, 9: 4, 10: 4, 11: 4, 12: 8, 13: 4}
SHORT, LONG, RATIONAL, UNDEFINED = 3, 4, 5, 7
EXIF_IFD, GPS_IFD, INTEROP_IFD = 0x8769, 0x8825, 0xA005
THUMBNAIL_TAGS = (0x0201, 0x0202)  # JPEGInterchangeFormat(Length): offsets into a thumbnail not kept
USER_COMMENT = 0x9286
_MAX_ENTRIES = 1000

Entry = tuple[int, int, bytes]  # type, count, value bytes (big-endian)
Ifd = dict[int, Entry]


class Tags:
    """The four IFDs of an EXIF block, each tag → (type, count, big-endian value)."""

    def __init__(self) -> None:
        self.ifd0: Ifd = {}
        self.exif: Ifd = {}
        self.gps: Ifd = {}
        self.interop: Ifd = {}

    def __bool__(self) -> bool:
        return bool(self.ifd0 or self.exif or self.gps or self.interop)


def _swap(raw: bytes, unit: int) -> bytes:
    if unit == 1:
        return raw
    return b"".join(raw[i : i + unit][::-1] for i in range(0, len(raw), unit))


def read(tiff: bytes) -> Tags:
    """The tags of a TIFF block (``Exif\\0\\0`` prefix allowed). What cannot be read is left out: a broken
    block gives fewer tags (or none), never an error."""
    if tiff.startswith(b"Exif\x00\x00"):
        tiff = tiff[6:]
    tags = Tags()
    if len(tiff) < 8 or tiff[:4] not in (b"II*\x00", b"MM\x00*"):
        return tags
    end = "<" if tiff[:2] == b"II" else ">"
    seen: set[int] = set()

    def u32(at: int) -> int:
        return int(struct.unpack_from(end + "I", tiff, at)[0])

    def ifd(at: int) -> Ifd:
        out: Ifd = {}
        if at in seen or not 8 <= at <= len(tiff) - 2:
            return out
        seen.add(at)
        count = struct.unpack_from(end + "H", tiff, at)[0]
        for i in range(min(count, _MAX_ENTRIES)):
            pos = at + 2 + 12 * i
            if pos + 12 > len(tiff):
                break
            tag, kind, n = struct.unpack_from(end + "HHI", tiff, pos)
            size = _SIZE.get(kind)
            if size is None or n > len(tiff):
                continue
            total = size * n
            if total <= 4:
                raw = tiff[pos + 8 : pos + 8 + total]
            else:
                off = u32(pos + 8)
                raw = tiff[off : off + total]
                if off < 8 or len(raw) != total:
                    continue
            out[tag] = (kind, n, raw if end == ">" else _swap(raw, _UNIT[kind]))
        return out

    def pointer(d: Ifd, tag: int) -> int | None:
        entry = d.pop(tag, None)
        if entry is None or entry[0] not in (LONG, 13) or entry[1] != 1:
            return None
        return int(struct.unpack(">I", entry[2])[0])

    try:
        tags.ifd0 = ifd(u32(4))
        for tag in THUMBNAIL_TAGS:
            tags.ifd0.pop(tag, None)
        at = pointer(tags.ifd0, EXIF_IFD)
        tags.exif = ifd(at) if at else {}
        at = pointer(tags.ifd0, GPS_IFD)
        tags.gps = ifd(at) if at else {}
        at = pointer(tags.exif, INTEROP_IFD)
        tags.interop = ifd(at) if at else {}
    except struct.error:
        pass
    return tags


def _data_len(d: Ifd) -> int:
    return sum(len(v) + (len(v) & 1) for _k, _n, v in d.values() if len(v) > 4)


def _table(d: Ifd, at: int) -> bytes:
    """One IFD at offset ``at``: its table, then the values longer than four bytes."""
    table_len = 2 + 12 * len(d) + 4
    table, data = struct.pack(">H", len(d)), b""
    for tag in sorted(d):
        kind, n, value = d[tag]
        if len(value) <= 4:
            table += struct.pack(">HHI", tag, kind, n) + value.ljust(4, b"\x00")
        else:
            table += struct.pack(">HHII", tag, kind, n, at + table_len + len(data))
            data += value + (b"\x00" if len(value) & 1 else b"")
    return table + struct.pack(">I", 0) + data


def write(tags: Tags) -> bytes:
    """A big-endian TIFF block of ``tags``, the IFDs one after the other, pointers filled in."""
    ifd0, exif = dict(tags.ifd0), dict(tags.exif)
    pointer = (LONG, 1, b"\x00" * 4)
    if tags.interop:
        exif[INTEROP_IFD] = pointer
    if exif:
        ifd0[EXIF_IFD] = pointer
    if tags.gps:
        ifd0[GPS_IFD] = pointer
    size = {id(d): 2 + 12 * len(d) + 4 + _data_len(d) for d in (ifd0, exif, tags.gps, tags.interop)}
    exif_at = 8 + size[id(ifd0)]
    gps_at = exif_at + (size[id(exif)] if exif else 0)
    interop_at = gps_at + (size[id(tags.gps)] if tags.gps else 0)
    if exif:
        ifd0[EXIF_IFD] = (LONG, 1, struct.pack(">I", exif_at))
    if tags.gps:
        ifd0[GPS_IFD] = (LONG, 1, struct.pack(">I", gps_at))
    if tags.interop:
        exif[INTEROP_IFD] = (LONG, 1, struct.pack(">I", interop_at))
    out = b"MM\x00\x2a" + struct.pack(">I", 8) + _table(ifd0, 8)
    if exif:
        out += _table(exif, exif_at)
    if tags.gps:
        out += _table(tags.gps, gps_at)
    if tags.interop:
        out += _table(tags.interop, interop_at)
    return out


def merged(ours: Tags, theirs: Tags) -> Tags:
    """Theirs, with ours added where they say nothing — except our UserComment, which replaces theirs (it
    is where A1111 looks for the settings)."""
    out = Tags()
    out.ifd0 = {**ours.ifd0, **theirs.ifd0}
    out.exif = {**ours.exif, **theirs.exif}
    if USER_COMMENT in ours.exif:
        out.exif[USER_COMMENT] = ours.exif[USER_COMMENT]
    out.gps = {**ours.gps, **theirs.gps}
    if out.gps:  # a GPS IFD must say its version (EXIF 2.32 §4.6.6): 2.3.0.0 unless it says another
        out.gps.setdefault(0x0000, (1, 4, b"\x02\x03\x00\x00"))
    out.interop = {**ours.interop, **theirs.interop}
    return out
