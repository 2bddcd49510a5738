"""Saved images carry their recipe: an A1111-style ``parameters`` text and the full request JSON.

PNG: ``iTXt`` chunks inserted before ``IEND`` (pixels untouched). JPEG: an EXIF ``UserComment`` with
the parameters text and an XMP packet with the JSON, inserted after SOI (pixels untouched). WebP: the
same EXIF and XMP chunks in a VP8X container.
"""

from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path
from typing import Any

from ..core.request import EditRequest
from .blobs import atomic_write

XMP_NS = "https://flexstudio.app/ns/1.0/"
_EXT = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp"}


def parameters_text(request: EditRequest, *, provider_label: str | None = None, job_id: str | None = None,
                    provider_job_id: str | None = None, size: tuple[int, int] | None = None) -> str:
    """The A1111 ``parameters`` convention: prompt, then one line of ``Key: value`` pairs."""
    w, h = size or request.output_size()
    pairs = [("Steps", request.steps), ("Sampler", "FLUX.2 [flex]"), ("CFG scale", f"{request.guidance:g}"),
             ("Seed", request.seed), ("Size", f"{w}x{h}"), ("Model", "flux-2-flex"),
             ("Provider", provider_label or request.provider), ("Safety tolerance", request.safety),
             ("Prompt upsampling", "on" if request.prompt_upsampling else "off")]
    if request.references:
        pairs.append(("References", ", ".join(r.sha256[:12] for r in request.references)))
    if job_id:
        pairs.append(("FlexStudio job", job_id))
    if provider_job_id:
        pairs.append(("Provider job", provider_job_id))
    return request.prompt + "\n" + ", ".join(f"{k}: {v}" for k, v in pairs)


def recipe(request: EditRequest, **extra: Any) -> dict[str, Any]:
    return {"flexstudio": 1, "request": request.to_dict(),
            "reference_sha256": [r.sha256 for r in request.references], **extra}


# ---------------------------------------------------------------------- PNG
def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def _itxt(key: str, text: str) -> bytes:
    return _png_chunk(b"iTXt", key.encode("latin-1") + b"\x00\x00\x00\x00\x00" + text.encode("utf-8"))


def embed_png(data: bytes, parameters: str, recipe_json: str) -> bytes:
    """Insert the chunks before the first IDAT, where every reader (Pillow before ``load()``, A1111,
    ComfyUI) finds them."""
    if not data.startswith(b"\x89PNG\r\n\x1a\n"):
        raise ValueError("not a PNG")
    pos = 8
    while pos + 8 <= len(data):
        length = struct.unpack(">I", data[pos:pos + 4])[0]
        if data[pos + 4:pos + 8] in (b"IDAT", b"IEND"):
            break
        pos += 12 + length
    else:
        raise ValueError("a PNG without image data")
    return data[:pos] + _itxt("parameters", parameters) + _itxt("flexstudio", recipe_json) + data[pos:]


# ---------------------------------------------------------------------- JPEG
def _xmp_packet(parameters: str, recipe_json: str) -> bytes:
    from xml.sax.saxutils import escape

    return (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
        f'<rdf:Description rdf:about="" xmlns:flexstudio="{XMP_NS}">'
        f"<flexstudio:parameters>{escape(parameters)}</flexstudio:parameters>"
        f"<flexstudio:recipe>{escape(recipe_json)}</flexstudio:recipe>"
        '</rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="w"?>'
    ).encode()


def _exif_user_comment(parameters: str) -> bytes:
    from PIL import Image

    exif = Image.Exif()
    # UserComment (0x9286) in the Exif IFD, "UNICODE" header + UTF-16BE, as A1111 writes it.
    exif.get_ifd(0x8769)[0x9286] = b"UNICODE\x00" + parameters.encode("utf-16-be")
    return exif.tobytes()


def embed_jpeg(data: bytes, parameters: str, recipe_json: str) -> bytes:
    if not data.startswith(b"\xff\xd8"):
        raise ValueError("not a JPEG")
    exif = _exif_user_comment(parameters)
    if not exif.startswith(b"Exif\x00\x00"):
        exif = b"Exif\x00\x00" + exif
    xmp = b"http://ns.adobe.com/xap/1.0/\x00" + _xmp_packet(parameters, recipe_json)
    segs = b""
    for payload in (exif, xmp):
        if len(payload) + 2 > 0xFFFF:
            continue  # too long for one segment: the other one still carries the recipe
        segs += b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload
    return data[:2] + segs + data[2:]


# ---------------------------------------------------------------------- WebP
def embed_webp(data: bytes, parameters: str, recipe_json: str) -> bytes:
    from io import BytesIO

    from PIL import Image

    with Image.open(BytesIO(data)) as im:
        im.load()
        out = BytesIO()
        exif = _exif_user_comment(parameters)
        im.save(out, "WEBP", lossless=True, exif=exif, xmp=_xmp_packet(parameters, recipe_json))
    return out.getvalue()


def embed(data: bytes, mime: str, parameters: str, recipe_json: str) -> bytes:
    if mime == "image/png":
        return embed_png(data, parameters, recipe_json)
    if mime == "image/jpeg":
        return embed_jpeg(data, parameters, recipe_json)
    if mime == "image/webp":
        return embed_webp(data, parameters, recipe_json)
    raise ValueError(f"cannot embed metadata in {mime}")


def export_image(data: bytes, mime: str, dest: Path, request: EditRequest, *, stem: str,
                 **info: Any) -> Path:
    """Write ``data`` with its recipe to ``dest`` (a folder, or a file path). Returns the file written."""
    ext = _EXT.get(mime, "bin")
    path = dest / f"{stem}.{ext}" if dest.is_dir() or not dest.suffix else dest
    if path.suffix.lower().lstrip(".") not in (ext, "jpeg" if ext == "jpg" else ext):
        path = path.with_suffix(f".{ext}")  # the name tells the truth about the format
    params = parameters_text(request, provider_label=info.get("provider_label"), job_id=info.get("job_id"),
                             provider_job_id=info.get("provider_job_id"), size=info.get("size"))
    meta = recipe(request, **{k: v for k, v in info.items() if k in ("job_id", "provider_job_id", "provider",
                                                                      "seed", "billed_usd", "quote_usd")})
    atomic_write(path, embed(data, mime, params, json.dumps(meta, sort_keys=True, ensure_ascii=False)))
    return path
