"""Each generator's own record of an image, read in its own structure: A1111 (and FlexStudio's A1111 text),
Fooocus, InvokeAI (``invokeai_metadata``, ``sd-metadata``, ``Dream``) and NovelAI. Each reader returns the
values it found under common names (prompt, negative_prompt, steps, guidance, seed, width, height,
sampler, scheduler, model, …) and leaves judging them to ``recipes``."""

from __future__ import annotations

import json
import re
from typing import Any

from .exports import unescape_prompt

# A1111's own pattern for one ``Key: value`` pair (infotext_utils.re_param): a value in JSON quotes may
# hold commas.
_PARAM = re.compile(r'\s*(\w[\w \-/]+):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)')


def load_json(text: object) -> Any:
    if not isinstance(text, (str, bytes)):
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def _int(v: object) -> int | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, int):
        return v
    if isinstance(v, float) and v.is_integer():
        return int(v)
    if isinstance(v, str) and re.fullmatch(r"\s*-?\d+\s*", v):
        return int(v)
    return None


def _float(v: object) -> float | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, (int, float)):
        return float(v)
    if isinstance(v, str):
        try:
            return float(v)
        except ValueError:
            return None
    return None


def _clean(found: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in found.items() if v is not None and v != ""}


# ---------------------------------------------------------------------- A1111
def parse_a1111(text: str) -> dict[str, Any]:
    """A1111's ``parse_generation_parameters``: the last line is the settings when it holds at least three
    pairs; the ``Negative prompt:`` line and every line after it (up to the settings) are the negative."""
    lines = text.strip().split("\n")
    last = lines[-1] if lines else ""
    if len(_PARAM.findall(last)) < 3:
        last = ""
    else:
        lines = lines[:-1]
    prompt: list[str] = []
    negative: list[str] = []
    for ln in lines:
        if not negative and ln.strip().startswith("Negative prompt:"):
            negative.append(ln.strip()[len("Negative prompt:") :].strip())
        elif negative:
            negative.append(ln)
        else:
            prompt.append(ln)
    out: dict[str, Any] = {
        "prompt": unescape_prompt("\n".join(prompt).strip()),
        "negative_prompt": "\n".join(negative).strip(),
    }
    for key, value in _PARAM.findall(last):
        value = value.strip()
        if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
            try:
                value = json.loads(value)
            except ValueError:
                value = value[1:-1]
        out[key.strip()] = value
    return out


def from_a1111(text: str) -> tuple[dict[str, Any], str]:
    """Values from an A1111 ``parameters`` text, and the generator that wrote it (Fooocus writes this
    layout too, with ``Version: Fooocus …``)."""
    p = parse_a1111(text)
    found: dict[str, Any] = {
        "prompt": p["prompt"],
        "negative_prompt": p["negative_prompt"],
        "steps": _int(p.get("Steps")),
        "guidance": _float(p.get("CFG scale")),
        "seed": _int(p.get("Seed")),
        "sampler": p.get("Sampler"),
        "scheduler": p.get("Schedule type"),
        "model": p.get("Model"),
    }
    size = re.fullmatch(r"\s*(\d+)\s*[x×]\s*(\d+)\s*", str(p.get("Size", "")))
    if size:
        found["width"], found["height"] = int(size[1]), int(size[2])
    # FlexStudio's own keys, when the recipe JSON is gone but the A1111 text survived
    if "Safety tolerance" in p:
        found["safety"] = _int(p["Safety tolerance"])
    if p.get("Prompt upsampling") in ("on", "off"):
        found["prompt_upsampling"] = p["Prompt upsampling"] == "on"
    if p.get("Provider"):
        found["provider"] = p["Provider"]
    if "Denoising strength" in p:
        found["denoise"] = _float(p["Denoising strength"])
    if "Hires upscale" in p or "Hires steps" in p:
        found["hires"] = p.get("Hires upscale") or p.get("Hires steps")
    source = "fooocus" if str(p.get("Version", "")).startswith("Fooocus") else "a1111"
    return _clean(found), source


# ---------------------------------------------------------------------- Fooocus
def from_fooocus(parameters: object) -> dict[str, Any] | None:
    """Fooocus's ``parameters`` JSON (beside ``fooocus_scheme: fooocus``)."""
    d = load_json(parameters)
    if not isinstance(d, dict) or "prompt" not in d:
        return None
    found: dict[str, Any] = {
        "prompt": d.get("prompt"),
        "negative_prompt": d.get("negative_prompt"),
        "steps": _int(d.get("steps")),
        "guidance": _float(d.get("guidance_scale")),
        "seed": _int(d.get("seed")),
        "sampler": d.get("sampler"),
        "scheduler": d.get("scheduler"),
        "model": d.get("base_model"),
        "refiner": d.get("refiner_model") if d.get("refiner_model") not in ("None", None) else None,
        "styles": d.get("styles") if d.get("styles") not in ("[]", [], None) else None,
    }
    res = re.fullmatch(r"\s*\(?\s*(\d+)\s*[,x×]\s*(\d+)\s*\)?\s*", str(d.get("resolution", "")))
    if res:
        found["width"], found["height"] = int(res[1]), int(res[2])
    return _clean(found)


# ---------------------------------------------------------------------- InvokeAI
def from_invokeai(info: dict[str, Any]) -> dict[str, Any] | None:
    meta = load_json(info.get("invokeai_metadata"))
    if isinstance(meta, dict):
        model = meta.get("model")
        name = model.get("name") or model.get("model_name") if isinstance(model, dict) else model
        return _clean(
            {
                "prompt": meta.get("positive_prompt"),
                "negative_prompt": meta.get("negative_prompt"),
                "steps": _int(meta.get("steps")),
                "guidance": _float(meta.get("cfg_scale")),
                "seed": _int(meta.get("seed")),
                "width": _int(meta.get("width")),
                "height": _int(meta.get("height")),
                "sampler": meta.get("scheduler"),
                "model": name,
            }
        )
    meta = load_json(info.get("sd-metadata"))
    if isinstance(meta, dict) and isinstance(meta.get("image"), dict):
        img = meta["image"]
        prompts = img.get("prompt")
        text = (
            prompts[0].get("prompt")
            if isinstance(prompts, list) and prompts and isinstance(prompts[0], dict)
            else prompts
            if isinstance(prompts, str)
            else ""
        )
        positive, negative = _dream_split(str(text or ""))
        return _clean(
            {
                "prompt": positive,
                "negative_prompt": negative,
                "steps": _int(img.get("steps")),
                "guidance": _float(img.get("cfg_scale")),
                "seed": _int(img.get("seed")),
                "width": _int(img.get("width")),
                "height": _int(img.get("height")),
                "sampler": img.get("sampler"),
                "model": meta.get("model_weights"),
            }
        )
    dream = info.get("Dream")
    if isinstance(dream, str):
        m = re.match(r'^\s*"(.*?)"(.*)$', dream, re.S)
        if not m:
            return None
        positive, negative = _dream_split(m[1])
        args = dict(re.findall(r"\s-(\w+)\s+(\S+)", m[2]))
        return _clean(
            {
                "prompt": positive,
                "negative_prompt": negative,
                "steps": _int(args.get("s")),
                "guidance": _float(args.get("C")),
                "seed": _int(args.get("S")),
                "width": _int(args.get("W")),
                "height": _int(args.get("H")),
                "sampler": args.get("A"),
            }
        )
    return None


def _dream_split(text: str) -> tuple[str, str]:
    """InvokeAI 2's prompt syntax: ``[bracketed]`` parts are the negative prompt."""
    negative = " ".join(s.strip() for s in re.findall(r"\[([^\[\]]*)\]", text) if s.strip())
    positive = re.sub(r"\s*\[[^\[\]]*\]\s*", " ", text).strip(" ,")
    return positive, negative


# ---------------------------------------------------------------------- NovelAI
def from_novelai(info: dict[str, Any]) -> dict[str, Any] | None:
    """NovelAI's ``Comment`` JSON (beside ``Software: NovelAI``; the prompt also in ``Description``)."""
    meta = load_json(info.get("Comment"))
    if not isinstance(meta, dict):
        return None
    prompt = meta.get("prompt")
    v4 = meta.get("v4_prompt")
    if not isinstance(prompt, str) and isinstance(v4, dict):
        prompt = (v4.get("caption") or {}).get("base_caption")
    if not isinstance(prompt, str):
        prompt = info.get("Description")
    negative = meta.get("uc")
    if not isinstance(negative, str) and isinstance(meta.get("v4_negative_prompt"), dict):
        negative = (meta["v4_negative_prompt"].get("caption") or {}).get("base_caption")
    model = re.sub(r"\s+[0-9A-F]{6,}$", "", str(info.get("Source", ""))) or None
    return _clean(
        {
            "prompt": prompt,
            "negative_prompt": negative,
            "steps": _int(meta.get("steps")),
            "guidance": _float(meta.get("scale")),
            "seed": _int(meta.get("seed")),
            "width": _int(meta.get("width")),
            "height": _int(meta.get("height")),
            "sampler": meta.get("sampler"),
            "scheduler": meta.get("noise_schedule"),
            "strength": _float(meta.get("strength")) if meta.get("strength") is not None else None,
            "model": model,
        }
    )
