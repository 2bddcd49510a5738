"""Read an edit's recipe back out of an image: FlexStudio's own (PNG iTXt / JPEG & WebP XMP), or an
A1111 / ComfyUI ``parameters`` text. Dropping such an image onto the window restores its settings."""

from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass
from typing import Any

from ..core.request import EditRequest
from . import containers as C
from . import xmp as X
from .exports import unescape_prompt

_KV = re.compile(r"\s*([\w ]+?):\s*(\"(?:[^\"\\]|\\.)*\"|[^,]*)(?:,|$)")


@dataclass(frozen=True, slots=True)
class Recipe:
    """What an image says about how it was made. ``request`` is complete for FlexStudio images; for
    A1111/ComfyUI only the fields they share (prompt, steps, guidance, seed, size) are set."""

    request: EditRequest
    source: str  # "flexstudio" | "a1111" | "comfyui"
    info: dict[str, Any]


def parse_a1111(text: str) -> dict[str, Any]:
    """The A1111 ``parameters`` text → prompt, negative prompt and the key/value line."""
    lines = text.strip().split("\n")
    kv_line = lines[-1] if lines and re.match(r"^\s*Steps:", lines[-1]) else ""
    body = lines[:-1] if kv_line else lines
    prompt_lines, negative = [], ""
    for ln in body:
        if ln.startswith("Negative prompt:"):
            negative = ln[len("Negative prompt:"):].strip()
        else:
            prompt_lines.append(ln)
    out: dict[str, Any] = {"prompt": unescape_prompt("\n".join(prompt_lines).strip()), "negative_prompt": negative}
    for key, value in _KV.findall(kv_line):
        out[key.strip()] = value.strip().strip('"')
    return out


def _from_a1111(params: str) -> EditRequest:
    p = parse_a1111(params)
    kw: dict[str, Any] = {"prompt": p["prompt"] or "(no prompt)"}
    try:
        if "Steps" in p:
            kw["steps"] = max(1, min(50, int(p["Steps"])))
        if "CFG scale" in p:
            kw["guidance"] = max(1.5, min(10.0, float(p["CFG scale"])))
        if "Seed" in p:
            kw["seed"] = int(p["Seed"]) % 2**32
        if "Size" in p:
            w, h = (int(x) for x in p["Size"].lower().split("x"))
            w, h = max(64, w // 16 * 16), max(64, h // 16 * 16)
            if w * h <= 4 * 1048576:
                kw["size"] = (w, h)
    except ValueError:
        pass
    return EditRequest(**kw)


def _from_comfy(prompt_json: str) -> EditRequest | None:
    try:
        graph = json.loads(prompt_json)
    except ValueError:
        return None
    if not isinstance(graph, dict):
        return None
    text, kw = "", {}
    for node in graph.values():
        if not isinstance(node, dict):
            continue
        inputs = node.get("inputs") or {}
        ctype = str(node.get("class_type", ""))
        if "CLIPTextEncode" in ctype and isinstance(inputs.get("text"), str) and not text:
            text = inputs["text"]
        if "Sampler" in ctype or "Flux" in ctype:
            if isinstance(inputs.get("seed"), int):
                kw["seed"] = inputs["seed"] % 2**32
            if isinstance(inputs.get("noise_seed"), int):
                kw["seed"] = inputs["noise_seed"] % 2**32
            if isinstance(inputs.get("steps"), int):
                kw["steps"] = max(1, min(50, inputs["steps"]))
            for g in ("cfg", "guidance"):
                if isinstance(inputs.get(g), (int, float)):
                    kw["guidance"] = max(1.5, min(10.0, float(inputs[g])))
    if not text:
        return None
    return EditRequest(prompt=text, **kw)


def _jpeg_extended(im: Any, fields: dict[str, str]) -> dict[str, str]:
    gid = fields.get("HasExtendedXMP")
    if not gid:
        return fields
    ext = C.jpeg_extended_xmp([p for m, p in getattr(im, "applist", []) if m == "APP1"], gid)
    return {**X.read_fields(ext), **fields} if ext else fields


def read_recipe(data: bytes) -> Recipe | None:
    """The recipe an image carries, or None. Never raises on a strange file."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as im:
            info = dict(im.info)
            xmp = info.get("xmp") or info.get("XML:com.adobe.xmp") or b""
            fields = _jpeg_extended(im, X.read_fields(xmp)) if xmp else {}
            exif = im.getexif().get_ifd(C.EXIF_IFD_TAG).get(C.USER_COMMENT_TAG) if hasattr(im, "getexif") else None
    except Exception:
        return None
    recipe_json = info.get("flexstudio") or fields.get("recipe")
    if recipe_json:
        try:
            meta = json.loads(recipe_json)
            return Recipe(EditRequest.from_dict(meta["request"]), "flexstudio", meta)
        except (ValueError, KeyError, TypeError):
            pass
    params = info.get("parameters") or fields.get("parameters") or C.decode_user_comment(exif)
    if params:
        return Recipe(_from_a1111(str(params)), "a1111", parse_a1111(str(params)))
    if info.get("prompt"):
        req = _from_comfy(str(info["prompt"]))
        if req is not None:
            return Recipe(req, "comfyui", {})
    return None
