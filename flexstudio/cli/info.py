"""``flexstudio info IMAGE [--json]``: the settings an image carries (A1111's "PNG Info" for the command
line). Exit 0 when settings were found, 1 when the image carries none, 2 when it is not a readable image."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ..core.errors import BadInput

MAX_BYTES = 256 * 1024 * 1024


def _read(path: str) -> bytes:
    p = Path(path)
    try:
        if not p.is_file():
            raise BadInput(f"{path} is not a file." if p.exists() else f"{path} does not exist.")
        if p.stat().st_size > MAX_BYTES:
            raise BadInput(f"{path} is larger than {MAX_BYTES // 2**20} MB; it is not an image FlexStudio reads.")
        return p.read_bytes()
    except OSError as exc:
        raise BadInput(f"{path} cannot be read ({exc.strerror or exc}).") from None


def cmd_info(args: argparse.Namespace) -> int:
    from ..providers.registry import Registry
    from ..storage.recipes import SOURCES, is_image, provider_names, read_recipe

    data = _read(args.image)
    if not is_image(data):
        raise BadInput(f"{args.image} is not an image FlexStudio can read.")
    recipe = read_recipe(data, providers=provider_names(Registry().all()))
    if recipe is None:
        if args.json:
            sys.stdout.write(json.dumps({"source": None, "request": None, "notes": []}) + "\n")
        else:
            print(f"{Path(args.image).name} carries no settings (no FlexStudio, A1111, ComfyUI, Fooocus, InvokeAI "
                  "or NovelAI metadata).")
        return 1
    if args.json:
        sys.stdout.write(json.dumps(recipe.to_dict(), ensure_ascii=False) + "\n")
        return 0
    job = recipe.info.get("job_id") if recipe.source == "flexstudio" else None
    print(f"{SOURCES.get(recipe.source, recipe.source)} settings" + (f" (FlexStudio job {job})" if job else ""))
    d = recipe.request.to_dict()
    for key in ("prompt", "steps", "guidance", "seed", "size", "output_format", "safety", "prompt_upsampling",
                "provider"):
        if key in recipe.fields:
            value = d[key]
            if key == "prompt":
                value = str(value).replace("\n", "\n        ")
            elif isinstance(value, bool):
                value = "on" if value else "off"
            print(f"{key}: {value}")
    if "references" in recipe.fields and recipe.request.references:
        refs = ", ".join(r.name or r.sha256[:12] for r in recipe.request.references)
        print(f"references: {refs}")
    kept_out = sorted({"steps", "guidance", "seed", "size"} - recipe.fields)
    if kept_out and recipe.source != "flexstudio":
        print(f"(not in the image, so yours stay: {', '.join(kept_out)})")
    for note in recipe.notes:
        print(f"note: {note}")
    return 0
