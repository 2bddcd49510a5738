"""``flexstudio info IMAGE [--json]``: the settings an image carries (A1111's "PNG Info" for the command
line). Exit 0 when settings were found, 1 when the image carries none, 2 when it is not a readable image."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..core.errors import BadInput
from . import output

MAX_BYTES = 256 * 1024 * 1024
LABELS = (  # the request's fields, in words
    ("prompt", "prompt"),
    ("steps", "steps"),
    ("guidance", "guidance"),
    ("seed", "seed"),
    ("size", "size"),
    ("output_format", "format"),
    ("safety", "safety tolerance"),
    ("prompt_upsampling", "prompt upsampling"),
    ("provider", "provider"),
)


def _read(path: str) -> bytes:
    from ..storage.files import read_capped

    p = Path(path)
    if not p.is_file():  # stat first: a pipe or a device is refused, never opened
        raise BadInput(f"{path} is not a file." if p.exists() else f"{path} does not exist.")
    return read_capped(path, MAX_BYTES, what="image")


def cmd_info(args: argparse.Namespace) -> int:
    from ..providers.registry import Registry
    from ..storage.recipes import SOURCES, is_image, provider_names, read_recipe

    data = _read(args.image)
    if not is_image(data):
        raise BadInput(f"{args.image} is not an image FlexStudio can read.")
    recipe = read_recipe(data, providers=provider_names(Registry().all()))
    if recipe is None:
        if args.json:
            output.emit_json({"source": None, "request": None, "notes": []})
        else:
            output.emit(
                f"{Path(args.image).name} carries no settings (no FlexStudio, A1111, ComfyUI, Fooocus, InvokeAI "
                "or NovelAI metadata)."
            )
        return 1
    if args.json:
        output.emit_json(recipe.to_dict())
        return 0
    job = recipe.info.get("job_id") if recipe.source == "flexstudio" else None
    output.emit(
        f"{SOURCES.get(recipe.source, recipe.source)} settings" + (f" (FlexStudio job {job})" if job else "")
    )
    d = recipe.request.to_dict()
    for key, label in LABELS:
        if key in recipe.fields:
            value = d[key]
            if key == "prompt":
                value = str(value).replace("\n", "\n        ")
            elif isinstance(value, bool):
                value = "on" if value else "off"
            elif key == "output_format":
                value = str(value).upper()
            output.emit(f"{label}: {value}")
    if "references" in recipe.fields and recipe.request.references:
        refs = ", ".join(r.name or r.sha256[:12] for r in recipe.request.references)
        output.emit(f"references: {refs}")
    kept_out = sorted({"steps", "guidance", "seed", "size"} - recipe.fields)
    if kept_out and recipe.source != "flexstudio":
        output.emit(f"(not in the image, so yours stay: {', '.join(kept_out)})")
    for note in recipe.notes:
        output.emit(f"note: {note}")
    return 0
