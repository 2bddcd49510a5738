"""Presets: named settings (provider, steps, guidance, size, format, safety, upsampling, seed policy and
an optional prompt template with ``{prompt}``). One JSON format for the built-ins (read-only, in
``resources/presets/``) and the user's folder. A preset never contains a key."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core.errors import BadInput
from ..core.request import OUTPUT_FORMATS, SEED_MAX, EditRequest
from ..core.sizes import format_size, parse_size
from ..core.validate import check_preset_dict, parse_json
from .blobs import atomic_write
from .files import free_name, read_capped
from .settings import _refuse_secrets

PRESET_SCHEMA = 1
SETTING_KEYS = (
    "provider",
    "steps",
    "guidance",
    "size",
    "output_format",
    "safety",
    "prompt_upsampling",
    "seed_policy",
    "seed",
)
SEED_POLICIES = ("random", "fixed", "increment")
MAX_PRESET_BYTES = 256 * 1024  # a preset is a few hundred bytes; anything near this is not one


@dataclass(frozen=True)
class Preset:
    name: str
    settings: dict[str, Any] = field(default_factory=dict)
    prompt_template: str | None = None
    description: str = ""
    builtin: bool = False

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "flexstudio_preset": PRESET_SCHEMA,
            "name": self.name,
            "description": self.description,
            "settings": dict(self.settings),
        }
        if self.prompt_template:
            d["prompt_template"] = self.prompt_template
        _refuse_secrets(d)
        return d

    @classmethod
    def from_dict(cls, d: Any, *, builtin: bool = False) -> Preset:
        check_preset_dict(
            d, formats=OUTPUT_FORMATS, seed_policies=SEED_POLICIES, seed_max=SEED_MAX, schema=PRESET_SCHEMA
        )
        raw = d.get("settings") or {}
        settings = {k: raw[k] for k in SETTING_KEYS if k in raw}
        _check(settings)
        tpl = d.get("prompt_template")
        if tpl is not None and "{prompt}" not in str(tpl):
            raise BadInput("A preset's prompt template must contain {prompt}.")
        return cls(
            name=str(d["name"]).strip(),
            settings=settings,
            prompt_template=tpl,
            description=str(d.get("description", "")),
            builtin=builtin,
        )

    @classmethod
    def capture(
        cls,
        name: str,
        request: EditRequest,
        *,
        seed_policy: str = "random",
        prompt_template: str | None = None,
        include_provider: bool = True,
        description: str = "",
    ) -> Preset:
        s: dict[str, Any] = {
            "steps": request.steps,
            "guidance": request.guidance,
            "size": format_size(request.size),
            "output_format": request.output_format,
            "safety": request.safety,
            "prompt_upsampling": request.prompt_upsampling,
            "seed_policy": seed_policy,
        }
        if include_provider:
            s["provider"] = request.provider
        if seed_policy != "random" and request.seed is not None:
            s["seed"] = request.seed
        return cls(name=name, settings=s, prompt_template=prompt_template, description=description)

    def apply(self, request: EditRequest, *, prompt: str | None = None) -> EditRequest:
        s = self.settings
        changes: dict[str, Any] = {}
        for key in ("provider", "steps", "guidance", "output_format", "safety", "prompt_upsampling"):
            if key in s:
                changes[key] = s[key]
        if "size" in s:
            changes["size"] = parse_size(str(s["size"]))
        if "steps" in changes:
            changes["steps"] = int(changes["steps"])
        if "guidance" in changes:
            changes["guidance"] = float(changes["guidance"])
        policy = s.get("seed_policy")
        if policy in ("fixed", "increment") and "seed" in s:
            changes["seed"] = int(s["seed"])
        elif policy == "random":
            changes["seed"] = None
        text = request.prompt if prompt is None else prompt
        if self.prompt_template:
            changes["prompt"] = self.prompt_template.replace("{prompt}", text)
        elif prompt is not None:
            changes["prompt"] = prompt
        return request.with_(**changes)


def _check(s: dict[str, Any]) -> None:
    try:
        if "steps" in s and not 1 <= int(s["steps"]) <= 50:
            raise BadInput("A preset's steps must be between 1 and 50.")
        if "guidance" in s and not 1.5 <= float(s["guidance"]) <= 10:
            raise BadInput("A preset's guidance must be between 1.5 and 10.")
        if "size" in s:
            parse_size(str(s["size"]))
        if "output_format" in s and s["output_format"] not in OUTPUT_FORMATS:
            raise BadInput(f"A preset's format must be one of {', '.join(OUTPUT_FORMATS)}.")
        if "seed_policy" in s and s["seed_policy"] not in SEED_POLICIES:
            raise BadInput(f"A preset's seed policy must be one of {', '.join(SEED_POLICIES)}.")
    except (TypeError, ValueError) as exc:
        raise BadInput(f"The preset has a value of the wrong type ({exc}).") from None


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "preset"


class PresetStore:
    def __init__(self, user_dir: Path, builtin_dir: Path | None) -> None:
        self.user_dir = user_dir
        self.builtin_dir = builtin_dir

    def _read(self, path: Path, builtin: bool) -> Preset:
        raw = read_capped(path, MAX_PRESET_BYTES, what="preset")
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise BadInput(f"The preset {path.name} is not UTF-8 text.") from None
        data = parse_json(text, f"The preset {path.name}")
        try:
            return Preset.from_dict(data, builtin=builtin)
        except BadInput as exc:
            raise BadInput(f"{path.name}: {exc}") from None

    def list(self) -> list[Preset]:
        found: dict[str, Preset] = {}
        for folder, builtin in ((self.builtin_dir, True), (self.user_dir, False)):
            if folder and folder.is_dir():
                for p in sorted(folder.glob("*.json")):
                    try:
                        preset = self._read(p, builtin)
                    except BadInput:
                        continue
                    found[preset.name.lower()] = preset  # a user preset overrides a built-in of that name
        return sorted(found.values(), key=lambda p: (not p.builtin, p.name.lower()))

    def get(self, name_or_file: str) -> Preset:
        path = Path(name_or_file)
        if path.suffix == ".json" and path.is_file():
            return self._read(path, False)
        for p in self.list():
            if p.name.lower() == name_or_file.lower() or _slug(p.name) == _slug(name_or_file):
                return p
        if path.is_file():  # a file given by path that is not a preset file (an image, a text…)
            raise BadInput(
                f"{name_or_file} is not a preset: a preset file is a FlexStudio .json file (an image's "
                "settings are read with 'flexstudio info', or by dropping it on the window)."
            )
        raise BadInput(f"No preset named {name_or_file!r}. See 'flexstudio presets list'.")

    def save(self, preset: Preset) -> Path:
        if not preset.name:
            raise BadInput("A preset needs a name.")
        path = self.user_dir / f"{_slug(preset.name)}.json"
        atomic_write(path, json.dumps(preset.to_dict(), indent=2, sort_keys=True).encode("utf-8"))
        return path

    def delete(self, name: str) -> bool:
        path = self.user_dir / f"{_slug(name)}.json"
        if path.exists():
            path.unlink()
            return True
        return False

    def rename(self, old: str, new: str) -> Preset:
        preset = self.get(old)
        renamed = Preset(new, preset.settings, preset.prompt_template, preset.description)
        self.save(renamed)
        if not preset.builtin:
            self.delete(old)
        return renamed

    def import_file(self, path: Path) -> Preset:
        preset = self._read(path, False)
        self.save(preset)
        return preset

    def export(self, name: str, path: Path) -> Path:
        """Write a preset to a file; an existing file is kept and a free name beside it is used."""
        preset = self.get(name)
        if path.is_dir():
            path = path / f"{_slug(preset.name)}.json"
        path = free_name(path)
        atomic_write(path, json.dumps(preset.to_dict(), indent=2, sort_keys=True).encode("utf-8"))
        return path
