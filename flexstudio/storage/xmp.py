"""FlexStudio's XMP packet: written as RDF elements, read back with a real XML parser whatever layout a
later tool chose (elements, or the attributes Adobe's XMP toolkit / Exempi write on a rewrite)."""

from __future__ import annotations

import hashlib
from xml.etree import ElementTree as ET
from xml.sax.saxutils import escape

XMP_NS = "https://flexstudio.app/ns/1.0/"
RDF_NS = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
XMPNOTE_NS = "http://ns.adobe.com/xmp/note/"
_FIELDS = ("parameters", "recipe")


def packet(fields: dict[str, str], *, extended_guid: str | None = None, wrapper: bool = True) -> bytes:
    """One serialised XMP packet holding ``fields`` (flexstudio:NAME elements). ``extended_guid`` adds
    ``xmpNote:HasExtendedXMP`` (the standard part of a JPEG whose XMP continues in extension segments)."""
    body = "".join(f"<flexstudio:{k}>{escape(v)}</flexstudio:{k}>" for k, v in fields.items())
    note = ""
    if extended_guid:
        note = f' xmlns:xmpNote="{XMPNOTE_NS}" xmpNote:HasExtendedXMP="{extended_guid}"'
    xml = (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/">'
        f'<rdf:RDF xmlns:rdf="{RDF_NS}">'
        f'<rdf:Description rdf:about="" xmlns:flexstudio="{XMP_NS}"{note}>{body}</rdf:Description>'
        "</rdf:RDF></x:xmpmeta>"
    )
    if wrapper:
        xml = f'<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>{xml}<?xpacket end="w"?>'
    return xml.encode("utf-8")


def guid(extended: bytes) -> str:
    """The GUID of an extended XMP serialisation: its MD5, 32 upper-case hex digits (XMP spec part 3)."""
    return hashlib.md5(extended, usedforsecurity=False).hexdigest().upper()


def read_fields(xmp: bytes | str) -> dict[str, str]:
    """FlexStudio's fields, and ``HasExtendedXMP`` when present, from one XMP packet. Never raises."""
    if isinstance(xmp, bytes):
        xmp = xmp.decode("utf-8", "replace")
    if "<!DOCTYPE" in xmp or "<!ENTITY" in xmp:
        return {}  # XMP never declares entities; refuse rather than expand them
    start = xmp.find("<x:xmpmeta")
    if start < 0:
        start = xmp.find("<rdf:RDF")
    end_tag = "</x:xmpmeta>" if xmp.startswith("<x:xmpmeta", start) else "</rdf:RDF>"
    end = xmp.find(end_tag)
    if start < 0 or end < 0:
        return {}
    try:
        root = ET.fromstring(xmp[start : end + len(end_tag)])
    except ET.ParseError:
        return {}
    out: dict[str, str] = {}
    for desc in root.iter(f"{{{RDF_NS}}}Description"):
        for name in _FIELDS:
            key = f"{{{XMP_NS}}}{name}"
            if key in desc.attrib:
                out.setdefault(name, desc.attrib[key])
            el = desc.find(key)
            if el is not None:
                out.setdefault(name, _text(el))
        ext = desc.attrib.get(f"{{{XMPNOTE_NS}}}HasExtendedXMP")
        if ext:
            out.setdefault("HasExtendedXMP", ext)
    return out


def _text(el: ET.Element) -> str:
    """A simple property's value, also when a tool wrapped it in rdf:Alt / rdf:li (a language alternative)."""
    li = el.find(f".//{{{RDF_NS}}}li")
    return (li.text if li is not None else el.text) or ""
