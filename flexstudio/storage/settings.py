"""User settings in ``settings.json``: never a secret. Unknown keys are kept (a newer version's)."""

from __future__ import annotations

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
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return cls()
        except (OSError, ValueError):
            broken = path.with_suffix(".broken.json")
            try:
                path.replace(broken)
            except OSError:
                pass
            return cls()
        if not isinstance(raw, dict):
            return cls()
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
