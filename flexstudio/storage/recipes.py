"""Read an edit's recipe back out of an image: FlexStudio's own (PNG iTXt, JPEG/WebP XMP), or what ComfyUI,
A1111, Fooocus, InvokeAI or NovelAI recorded. Dropping such an image onto the window restores its settings;
``flexstudio info`` prints them.

Values FLUX.2 [flex] cannot take (a seed beyond 2³²−1, 150 steps, guidance 12, an SDXL sampler, a negative
prompt) are never changed to fit: the restore keeps what fits and ``notes`` lists what it could not keep.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..core.errors import BadInput
from ..core.request import SEED_MAX, EditRequest
from ..core.sizes import validate_size
from . import containers as C
from . import generators as G
from . import xmp as X
from .comfy import read_graph
from .generators import parse_a1111

__all__ = ["SOURCES", "Recipe", "fit", "parse_a1111", "provider_names", "read_recipe"]

SOURCES = {
    "flexstudio": "FlexStudio",
    "a1111": "A1111",
    "comfyui": "ComfyUI",
    "fooocus": "Fooocus",
    "invokeai": "InvokeAI",
    "novelai": "NovelAI",
}
ALL_FIELDS = frozenset(
    {
        "prompt",
        "references",
        "steps",
        "guidance",
        "seed",
        "size",
        "output_format",
        "safety",
        "prompt_upsampling",
        "provider",
        "extras",
    }
)
# Samplers and schedules that are what FLUX.2 [flex] runs anyway: nothing is lost when they are dropped.
_KNOWN_KEYS = {"flexstudio", "parameters", "prompt", "Comment", "invokeai_metadata", "sd-metadata", "Dream"}
_NATIVE_SAMPLERS = {"euler", "FLUX.2 [flex]", "Euler"}
_NATIVE_SCHEDULES = {"simple", "normal", "beta", "Flux2Scheduler", "Simple", "Automatic"}


@dataclass(frozen=True, slots=True)
class Recipe:
    """What an image says about how it was made. ``request`` is complete for FlexStudio images; for the
    others only ``fields`` were read from the image (the rest are defaults); ``notes`` are sentences about
    what could not be kept and how the settings were chosen."""

    request: EditRequest
    source: str  # "flexstudio" | "a1111" | "comfyui" | "fooocus" | "invokeai" | "novelai"
    info: dict[str, Any]
    notes: tuple[str, ...] = ()
    fields: frozenset[str] = field(default=ALL_FIELDS)

    def to_dict(self) -> dict[str, Any]:
        """The ``flexstudio info --json`` object."""
        return {"source": self.source, "request": self.request.to_dict(), "notes": list(self.notes)}


def _short(text: str, n: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"


def fit(  # noqa: C901 — one rule per field
    found: Mapping[str, Any],
    source: str,
    providers: Mapping[str, str] | None = None,
    notes: list[str] | None = None,
) -> Recipe | None:
    """An ``EditRequest`` from the values an image carries: each value FLUX.2 [flex] takes is kept as it
    is, each other one is left out with a note. None when the image carries no settings at all."""
    notes = list(notes or [])
    kw: dict[str, Any] = {}
    name = SOURCES.get(source, source)
    prompt = found.get("prompt")
    if isinstance(prompt, str) and prompt.strip():
        kw["prompt"] = prompt
    elif any(k in found for k in ("steps", "guidance", "seed", "width")):
        notes.append(f"The {name} settings carry no prompt.")
    if found.get("negative_prompt"):
        notes.append(
            f"The negative prompt (“{_short(str(found['negative_prompt']))}”) is left out: "
            "FLUX.2 [flex] takes none."
        )
    steps = found.get("steps")
    if isinstance(steps, int):
        if 1 <= steps <= 50:
            kw["steps"] = steps
        else:
            notes.append(f"Steps {steps} is left out: FLUX.2 [flex] takes 1–50.")
    guidance = found.get("guidance")
    if isinstance(guidance, (int, float)):
        if 1.5 <= guidance <= 10:
            kw["guidance"] = float(guidance)
        else:
            notes.append(f"Guidance {guidance:g} is left out: FLUX.2 [flex] takes 1.5–10.")
    seed = found.get("seed")
    if isinstance(seed, int):
        if 0 <= seed <= SEED_MAX:
            kw["seed"] = seed
        else:
            notes.append(f"Seed {seed} is left out: FLUX.2 [flex] takes 0–{SEED_MAX}.")
    w, h = found.get("width"), found.get("height")
    if isinstance(w, int) and isinstance(h, int):
        try:
            validate_size(w, h)
            kw["size"] = (w, h)
        except BadInput as exc:
            notes.append(f"{exc} The size is left out (auto: it follows image 1).")
    sampler, schedule = found.get("sampler"), found.get("scheduler")
    lost = [
        str(s)
        for s, native in ((sampler, _NATIVE_SAMPLERS), (schedule, _NATIVE_SCHEDULES))
        if s and str(s) not in native
    ]
    if lost:
        notes.append(f"The sampler ({', '.join(lost)}) is left out: FLUX.2 [flex] has none to choose.")
    if isinstance(found.get("denoise"), float) and found["denoise"] < 1:
        notes.append(
            f"Denoise {found['denoise']:g} is left out: FLUX.2 [flex] edits from its references instead."
        )
    if found.get("hires"):
        notes.append("The hires-fix pass is left out: FLUX.2 [flex] makes the image in one pass.")
    if found.get("refiner"):
        notes.append(
            f"The refiner ({found['refiner']}) is left out: FLUX.2 [flex] makes the image in one pass."
        )
    if found.get("styles"):
        notes.append(
            f"The Fooocus styles ({_short(str(found['styles']))}) are left out; the prompt is as typed."
        )
    safety = found.get("safety")
    if isinstance(safety, int):
        if 0 <= safety <= 5:
            kw["safety"] = safety
        else:
            notes.append(f"Safety tolerance {safety} is left out: FlexStudio takes 0–5.")
    if isinstance(found.get("prompt_upsampling"), bool):
        kw["prompt_upsampling"] = found["prompt_upsampling"]
    if found.get("provider"):
        pid = (providers or {}).get(str(found["provider"]))
        if pid:
            kw["provider"] = pid
        else:
            notes.append(f"The provider “{found['provider']}” is not one FlexStudio knows here; yours stays.")
    if found.get("images"):
        names = ", ".join(found["images"][:4])
        notes.append(
            f"The graph starts from {names}: an image's file does not carry its references — "
            "add them as images to edit them again."
        )
    if not kw:
        return None
    fields = frozenset(kw)
    info = {k: v for k, v in found.items() if k not in ("prompt",)}
    return Recipe(EditRequest(prompt=kw.pop("prompt", ""), **kw), source, info, tuple(notes), fields)


# ---------------------------------------------------------------------- reading
def _metadata(data: bytes) -> tuple[dict[str, Any], dict[str, str], str | None] | None:
    """The image's text chunks / info, FlexStudio's XMP fields (extended XMP joined) and the EXIF
    UserComment text. None when it is not an image Pillow can open."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as im:
            info: dict[str, Any] = {str(k): v for k, v in im.info.items()}
            if im.format == "PNG" and not _KNOWN_KEYS.intersection(info):
                # text chunks after the image data: Pillow reads those only by decoding the pixels
                info.update({k: v for k, v in C.png_text_after_image(data).items() if k not in info})
            xmp = info.get("xmp") or info.get("XML:com.adobe.xmp") or b""
            fields = X.read_fields(xmp) if xmp else {}
            gid = fields.get("HasExtendedXMP")
            if gid:
                ext = C.jpeg_extended_xmp([p for m, p in getattr(im, "applist", []) if m == "APP1"], gid)
                if ext:
                    fields = {**fields, **X.read_fields(ext)}
            try:
                exif = im.getexif().get_ifd(C.EXIF_IFD_TAG).get(C.USER_COMMENT_TAG)
            except Exception:
                exif = None
    except Exception:
        return None
    return info, fields, C.decode_user_comment(exif)


def provider_names(infos: Iterable[Any]) -> dict[str, str]:
    """Provider labels and ids → ids, from the registry's ``ProviderInfo`` objects (an A1111 text written
    by FlexStudio names the provider by its label)."""
    out: dict[str, str] = {}
    for info in infos:
        out[info.label] = info.id
        out[info.id] = info.id
    return out


def is_image(data: bytes) -> bool:
    return _metadata(data) is not None


def read_recipe(data: bytes, providers: Mapping[str, str] | None = None) -> Recipe | None:
    """The recipe an image carries, or None. Never raises on a strange file. ``providers`` maps provider
    labels and ids to ids, to restore the provider an A1111 text of FlexStudio names."""
    meta = _metadata(data)
    if meta is None:
        return None
    info, fields, comment = meta
    recipe_json = info.get("flexstudio") or fields.get("recipe")
    if recipe_json:
        try:
            d = json.loads(recipe_json)
            return Recipe(EditRequest.from_dict(d["request"]), "flexstudio", d)
        except (ValueError, KeyError, TypeError, BadInput):
            pass
    text = {k: v for k, v in info.items() if isinstance(v, str)}
    if text.get("Software") == "NovelAI" or ("Comment" in text and '"uc"' in text.get("Comment", "")):
        found = G.from_novelai(text)
        if found:
            return fit(found, "novelai", providers)
    if any(k in text for k in ("invokeai_metadata", "sd-metadata", "Dream")):
        found = G.from_invokeai(text)
        if found:
            return fit(found, "invokeai", providers)
    params = text.get("parameters") or fields.get("parameters") or comment
    if params and params.lstrip().startswith("{"):
        found = G.from_fooocus(params)
        if found:
            return fit(found, "fooocus", providers)
    if params:
        found, source = G.from_a1111(params)
        r = fit(found, source, providers)
        if r is not None:
            return r
    if text.get("prompt"):
        graph = G.load_json(text["prompt"])
        if isinstance(graph, dict):
            got = read_graph(graph)
            if got is not None:
                return fit(got[0], "comfyui", providers, got[1])
    return None
