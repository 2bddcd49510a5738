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


def packet(
    fields: dict[str, str],
    *,
    extended_guid: str | None = None,
    wrapper: bool = True,
    keep: tuple[str, ...] = (),
) -> bytes:
    """One serialised XMP packet holding ``fields`` (flexstudio:NAME elements). ``extended_guid`` adds
    ``xmpNote:HasExtendedXMP`` (the standard part of a JPEG whose XMP continues in extension segments).
    ``keep``: the file's own rdf:Description elements (``foreign_descriptions``), after ours."""
    body = "".join(f"<flexstudio:{k}>{escape(v)}</flexstudio:{k}>" for k, v in fields.items())
    note = ""
    if extended_guid:
        note = f' xmlns:xmpNote="{XMPNOTE_NS}" xmpNote:HasExtendedXMP="{extended_guid}"'
    xml = (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/">'
        f'<rdf:RDF xmlns:rdf="{RDF_NS}">'
        f'<rdf:Description rdf:about="" xmlns:flexstudio="{XMP_NS}"{note}>{body}</rdf:Description>'
        f"{''.join(keep)}</rdf:RDF></x:xmpmeta>"
    )
    if wrapper:
        xml = f'<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>{xml}<?xpacket end="w"?>'
    return xml.encode("utf-8")


def guid(extended: bytes) -> str:
    """The GUID of an extended XMP serialisation: its MD5, 32 upper-case hex digits (XMP spec part 3)."""
    return hashlib.md5(extended, usedforsecurity=False).hexdigest().upper()


def _root(xmp: bytes | str) -> ET.Element | None:
    """The x:xmpmeta (or rdf:RDF) element of a packet, parsed; None when there is none or it is not XML."""
    if isinstance(xmp, bytes):
        xmp = xmp.decode("utf-8", "replace")
    if "<!DOCTYPE" in xmp or "<!ENTITY" in xmp:
        return None  # XMP never declares entities; refuse rather than expand them
    start = xmp.find("<x:xmpmeta")
    if start < 0:
        start = xmp.find("<rdf:RDF")
    end_tag = "</x:xmpmeta>" if xmp.startswith("<x:xmpmeta", start) else "</rdf:RDF>"
    end = xmp.find(end_tag)
    if start < 0 or end < 0:
        return None
    try:
        return ET.fromstring(xmp[start : end + len(end_tag)])
    except ET.ParseError:
        return None


def foreign_descriptions(xmp: bytes | str | None) -> tuple[str, ...]:
    """The file's own rdf:Description elements, serialised to sit beside ours in one packet: what a
    provider or a camera says (IPTC's digital source type, C2PA's XMP, creator, rights…) is kept. FlexStudio's
    own fields and ``HasExtendedXMP`` are left out (ours replace them); () when the packet is unreadable."""
    root = _root(xmp) if xmp else None
    if root is None:
        return ()
    rdf = root if root.tag == f"{{{RDF_NS}}}RDF" else root.find(f"{{{RDF_NS}}}RDF")
    if rdf is None:
        return ()
    ours = (f"{{{XMP_NS}}}", f"{{{XMPNOTE_NS}}}HasExtendedXMP")
    out = []
    for desc in rdf.findall(f"{{{RDF_NS}}}Description"):  # the top level: a struct's own stays inside it
        for key in [k for k in desc.attrib if k.startswith(ours)]:
            del desc.attrib[key]
        for el in [e for e in desc if e.tag.startswith(ours)]:
            desc.remove(el)
        if len(desc) or any(k != f"{{{RDF_NS}}}about" for k in desc.attrib):
            desc.tail = None
            out.append(ET.tostring(desc, encoding="unicode"))
    return tuple(out)


def read_fields(xmp: bytes | str) -> dict[str, str]:
    """FlexStudio's fields, and ``HasExtendedXMP`` when present, from one XMP packet. Never raises."""
    root = _root(xmp)
    if root is None:
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
