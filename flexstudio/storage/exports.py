"""Saved images carry their recipe: an A1111-style ``parameters`` text and the full request JSON.

PNG: ``iTXt`` chunks before the first IDAT. JPEG: an EXIF ``UserComment`` (UNDEFINED, ``UNICODE``
header) with the parameters text, added to the file's own EXIF (its Orientation, camera fields and GPS are
kept), and an XMP packet with both beside the file's own XMP descriptions, after the JFIF APP0 — extended
XMP when the packet is larger than one segment. WebP: the same EXIF and XMP as chunks of a VP8X container. Pixels are
never re-encoded; what could not be embedded whole is said in the result's ``notes``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..core.request import EditRequest
from . import containers as C
from . import xmp as X
from .blobs import atomic_write
from .files import free_name

XMP_NS = X.XMP_NS
_EXT = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp"}
# Markers an A1111 reader takes for the start of the negative prompt or of the settings line. Written in
# a prompt they get one more backslash before the colon (and lose it again when FlexStudio reads them).
_MARKERS = re.compile(r"(Negative prompt|Steps)(\\*):")
_ELLIPSIS = "…"


@dataclass(frozen=True, slots=True)
class Exported:
    """A file written with its recipe; ``notes`` say what could not be embedded as it was."""

    path: Path
    notes: tuple[str, ...] = ()


def a1111_quote(value: object) -> str:
    """A1111's rule (``infotext_utils.quote``): a value with a comma, colon or newline goes in JSON quotes."""
    text = str(value)
    if "," not in text and "\n" not in text and ":" not in text:
        return text
    return json.dumps(text, ensure_ascii=False)


def escape_prompt(prompt: str) -> str:
    return _MARKERS.sub(r"\1\2\\:", prompt)


def unescape_prompt(prompt: str) -> str:
    return re.sub(r"(Negative prompt|Steps)(\\*)\\:", r"\1\2:", prompt)


def settings_line(
    request: EditRequest,
    *,
    provider_label: str | None = None,
    job_id: str | None = None,
    provider_job_id: str | None = None,
    size: tuple[int, int] | None = None,
) -> str:
    """The A1111 ``Key: value, …`` line; the first keys are the ones A1111 and sd-parsers look for."""
    w, h = size or request.output_size()
    pairs: list[tuple[str, object]] = [
        ("Steps", request.steps),
        ("Sampler", "FLUX.2 [flex]"),
        ("CFG scale", f"{request.guidance:g}"),
        ("Seed", request.seed),
        ("Size", f"{w}x{h}"),
        ("Model", "flux-2-flex"),
        ("Provider", provider_label or request.provider),
        ("Safety tolerance", request.safety),
        ("Prompt upsampling", "on" if request.prompt_upsampling else "off"),
    ]
    if request.references:
        pairs.append(("References", ", ".join(r.sha256[:12] for r in request.references)))
    if job_id:
        pairs.append(("FlexStudio job", job_id))
    if provider_job_id:
        pairs.append(("Provider job", provider_job_id))
    return ", ".join(f"{k}: {a1111_quote(v)}" for k, v in pairs)


def parameters_text(request: EditRequest, **info: Any) -> str:
    """The A1111 ``parameters`` convention: the prompt (markers escaped), then the settings line."""
    return escape_prompt(request.prompt) + "\n" + settings_line(request, **info)


def recipe(request: EditRequest, **extra: Any) -> dict[str, Any]:
    return {
        "flexstudio": 1,
        "request": request.to_dict(),
        "reference_sha256": [r.sha256 for r in request.references],
        **extra,
    }


def _fit_utf16(prompt: str, settings: str, budget: int) -> tuple[str, int | None]:
    """The parameters text whose UTF-16 form fits ``budget`` bytes: whole, or with the prompt cut (returns
    how many prompt characters were kept, or None when it is whole)."""
    whole = prompt + "\n" + settings
    if len(whole.encode("utf-16-be")) <= budget:
        return whole, None
    room = (budget - len(("\n" + settings + _ELLIPSIS).encode("utf-16-be"))) // 2
    cut = prompt[: max(0, room)]
    while len((cut + _ELLIPSIS + "\n" + settings).encode("utf-16-be")) > budget and cut:
        cut = cut[:-1]  # astral characters take two code units
    return cut + _ELLIPSIS + "\n" + settings, len(cut)


def _header(data: bytes) -> tuple[tuple[int, int], bool]:
    """Pixel size and whether the file carries an ICC profile (read from the header, nothing decoded)."""
    from io import BytesIO

    from PIL import Image

    with Image.open(BytesIO(data)) as im:
        return im.size, "icc_profile" in im.info


# ---------------------------------------------------------------------- per format
def embed_png(data: bytes, parameters: str, recipe_json: str) -> bytes:
    return C.png_insert(data, C.itxt("parameters", parameters) + C.itxt("flexstudio", recipe_json))


def _their_exif(theirs: bytes | None, size: tuple[int, int], icc: bool, notes: list[str]) -> bytes | None:
    """The file's own EXIF when ours still fits beside it in one JPEG segment (with room for a prompt),
    else None and a note: the settings come first."""
    if not theirs:
        return None
    overhead = len(C.exif_user_comment("", size, srgb=not icc, theirs=theirs)) + len(C.EXIF_HEAD)
    if overhead <= C.JPEG_SEGMENT_MAX // 2:
        return theirs
    notes.append(
        "The provider's own EXIF was too large to keep beside the settings in one JPEG segment, so it "
        "was left out; the image itself is unchanged."
    )
    return None


def embed_jpeg(data: bytes, parameters: str, recipe_json: str) -> tuple[bytes, list[str]]:
    notes: list[str] = []
    size, icc = _header(data)
    theirs = _their_exif(C.jpeg_exif(data), size, icc, notes)
    prompt, _, settings = parameters.rpartition("\n")
    overhead = len(C.exif_user_comment("", size, srgb=not icc, theirs=theirs)) + len(C.EXIF_HEAD)
    comment, kept = _fit_utf16(prompt, settings, C.JPEG_SEGMENT_MAX - overhead)
    if kept is not None:
        notes.append(
            f"The EXIF comment (what A1111 reads) holds the first {kept:,} of the prompt's "
            f"{len(prompt):,} characters — a JPEG segment holds 64 KB; the whole prompt and request "
            "are in the file's XMP."
        )
    exif = C.jpeg_exif_segment(C.exif_user_comment(comment, size, srgb=not icc, theirs=theirs))
    xmp, _extended = C.jpeg_xmp_segments(
        {"parameters": parameters, "recipe": recipe_json},
        keep_standard=("parameters",),
        keep=X.foreign_descriptions(C.jpeg_xmp(data)),
    )
    return C.jpeg_insert(data, exif + xmp), notes


def embed_webp(data: bytes, parameters: str, recipe_json: str) -> bytes:
    size, icc = _header(data)
    return C.webp_insert(
        data,
        C.exif_user_comment(parameters, size, srgb=not icc, theirs=C.webp_exif(data)),
        X.packet(
            {"parameters": parameters, "recipe": recipe_json}, keep=X.foreign_descriptions(C.webp_xmp(data))
        ),
    )


def embed(data: bytes, mime: str, parameters: str, recipe_json: str) -> tuple[bytes, list[str]]:
    """The file with its metadata, and sentences about anything that could not be embedded whole."""
    if mime == "image/png":
        return embed_png(data, parameters, recipe_json), []
    if mime == "image/jpeg":
        return embed_jpeg(data, parameters, recipe_json)
    if mime == "image/webp":
        return embed_webp(data, parameters, recipe_json), []
    raise ValueError(f"cannot embed metadata in {mime}")


def target_path(dest: Path, mime: str, stem: str) -> Path:
    """Where ``export_image`` means to write: ``dest/stem.ext`` for a folder, else ``dest`` with the
    extension of the real format (the name tells the truth about the format)."""
    ext = _EXT.get(mime, "bin")
    path = dest / f"{stem}.{ext}" if dest.is_dir() or not dest.suffix else dest
    if path.suffix.lower().lstrip(".") not in (ext, "jpeg" if ext == "jpg" else ext):
        path = path.with_suffix(f".{ext}")
    return path


def export_image(
    data: bytes, mime: str, dest: Path, request: EditRequest, *, stem: str, claimed: bool = False, **info: Any
) -> Exported:
    """Write ``data`` with its recipe to ``dest`` (a folder, or a file path), with the permissions any new
    file of the user gets. Returns the file written — ``target_path``, or when a file is already there a
    free name beside it (never an overwrite) — and what could not be embedded whole. ``claimed``: ``dest``
    is an empty file the caller reserved for this image (batches do), so it is written in place."""
    path = target_path(dest, mime, stem) if claimed else free_name(target_path(dest, mime, stem))
    params = parameters_text(
        request,
        provider_label=info.get("provider_label"),
        job_id=info.get("job_id"),
        provider_job_id=info.get("provider_job_id"),
        size=info.get("size"),
    )
    meta = recipe(
        request,
        **{
            k: v
            for k, v in info.items()
            if k in ("job_id", "provider_job_id", "provider", "seed", "billed_usd", "quote_usd")
        },
    )
    out, notes = embed(data, mime, params, json.dumps(meta, sort_keys=True, ensure_ascii=False))
    atomic_write(path, out, public=True)
    return Exported(path, tuple(notes))
