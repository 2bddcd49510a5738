"""User settings in ``settings.json``: never a secret. Unknown keys are kept (a newer version's)."""

from __future__ import annotations

import contextlib
import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from .blobs import atomic_write

SETTINGS_SCHEMA = 1
_SECRET_WORDS = ("api_key", "apikey", "token", "secret", "password")


@dataclass
class SpendCaps:
    session_warn: float | None = None
    session_stop: float | None = None
    day_warn: float | None = None
    day_stop: float | None = None
    month_warn: float | None = None
    month_stop: float | None = None


@dataclass
class CustomEndpoint:
    """A user-defined provider profile: any OpenAI-compatible or BFL-compatible gateway."""

    id: str
    label: str
    protocol: str  # "openai_images" | "bfl"
    base_url: str
    options: dict[str, Any] = field(default_factory=dict)  # model, auth ("x-key"/"bearer"), paths


@dataclass
class Settings:
    provider: str = "sandbox"
    export_dir: str = ""
    export_format: str = "png"
    sandbox_latency: float = 2.0
    base_urls: dict[str, str] = field(default_factory=dict)  # provider id → API root override
    caps: SpendCaps = field(default_factory=SpendCaps)
    endpoints: list[CustomEndpoint] = field(default_factory=list)
    seed_mode: str = "random"  # random | fixed | increment
    ui: dict[str, Any] = field(default_factory=dict)  # window geometry, splitter sizes, last size preset…
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> Settings:
        """The settings in ``path``; defaults when there is none. A damaged file (not JSON, not an object,
        fields that do not fit) is moved aside to ``settings.broken.json`` (an older one there is kept
        under a free name) and defaults are used — ``settings_fault`` then names it, and paid work is
        refused until the settings are valid again or the defaults are confirmed (saved)."""
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(raw, dict):
                raise ValueError("not a JSON object")
            return cls._from(raw)
        except FileNotFoundError:
            return cls()
        except (OSError, ValueError, TypeError):
            with contextlib.suppress(OSError):
                path.replace(_free_broken_name(path))
            return cls()

    @classmethod
    def _from(cls, raw: dict[str, Any]) -> Settings:
        known = {f.name for f in fields(cls)}
        s = cls()
        for k, v in raw.items():
            if k == "schema":
                continue
            if k == "caps" and isinstance(v, dict):
                s.caps = SpendCaps(**{f.name: v.get(f.name) for f in fields(SpendCaps)})
            elif k == "endpoints" and isinstance(v, list):
                s.endpoints = [CustomEndpoint(**e) for e in v if isinstance(e, dict) and "id" in e]
            elif k in known:
                setattr(s, k, v)
            else:
                s.extra[k] = v
        return s

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        extra = d.pop("extra")
        out = {"schema": SETTINGS_SCHEMA, **extra, **d}
        _refuse_secrets(out)
        return out

    def save(self, path: Path) -> None:
        atomic_write(path, json.dumps(self.to_dict(), indent=2, sort_keys=True).encode("utf-8"))


def broken_name(path: Path) -> Path:
    return path.with_suffix(".broken.json")


def _free_broken_name(path: Path) -> Path:
    target = broken_name(path)
    n = 1
    while target.exists():
        n += 1
        target = path.with_suffix(f".broken-{n}.json")
    return target


def settings_fault(path: Path) -> Path | None:
    """The damaged settings file moved aside (the newest), while no valid settings file replaced it:
    the spending limits and endpoints it held are not in effect. None when the settings are fine."""
    if path.exists():
        return None
    moved = [p for p in path.parent.glob(f"{path.stem}.broken*.json") if p.is_file()]
    return max(moved, key=lambda p: p.stat().st_mtime) if moved else None


def _refuse_secrets(obj: Any, where: str = "") -> None:
    """Settings never hold a secret: a field named like one is a bug, refused loudly."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            if isinstance(k, str) and any(w in k.lower() for w in _SECRET_WORDS) and v:
                raise ValueError(f"settings must not contain secrets ({where}{k})")
            _refuse_secrets(v, f"{where}{k}.")
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            _refuse_secrets(v, f"{where}{i}.")
