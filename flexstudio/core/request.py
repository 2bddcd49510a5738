"""The one request type that flows everywhere: pricing, providers, jobs, history, presets, CLI and GUI."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from .errors import BadInput
from .sizes import DEFAULT_SIZE, fit_within, format_size, parse_size, validate_size

SCHEMA_VERSION = 1
OutputFormat = Literal["jpeg", "png", "webp"]
OUTPUT_FORMATS: tuple[str, ...] = ("jpeg", "png", "webp")
SEED_MAX = 2**32 - 1
_SYSTEM_RANDOM = random.SystemRandom()  # os.urandom, as ``secrets`` (whose import brings hmac and OpenSSL)


def random_seed() -> int:
    """A new seed, 0 ≤ seed < SEED_MAX, from the operating system's random source."""
    return _SYSTEM_RANDOM.randrange(SEED_MAX)


# Defaults come from the model's owner (BFL OpenAPI for FLUX.2 [flex]).
DEFAULT_STEPS = 50
DEFAULT_GUIDANCE = 5.0
DEFAULT_SAFETY = 2
SAFETY_MAX = 5  # BFL int 0–5 (providers.md §11); fal and Replicate take 1–5
DEFAULT_FORMAT: OutputFormat = "jpeg"
DEFAULT_PROVIDER = "sandbox"


@dataclass(frozen=True, slots=True)
class ImageRef:
    """One reference image, by content. The bytes live in the blob store under ``sha256``.

    ``width``/``height`` are the upright size (EXIF orientation applied) of the original file.
    """

    sha256: str
    width: int
    height: int
    name: str = ""
    mime: str = "image/png"

    def sent_size(self, max_pixels: int) -> tuple[int, int]:
        return fit_within(self.width, self.height, max_pixels)

    def to_dict(self) -> dict[str, Any]:
        return {
            "sha256": self.sha256,
            "width": self.width,
            "height": self.height,
            "name": self.name,
            "mime": self.mime,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ImageRef:
        return cls(
            sha256=str(d["sha256"]),
            width=int(d["width"]),
            height=int(d["height"]),
            name=str(d.get("name", "")),
            mime=str(d.get("mime", "image/png")),
        )


@dataclass(frozen=True, slots=True)
class PreparedReference:
    """A reference image ready to upload: decoded once, oriented, downscaled, re-encoded
    (``core.images.prepare`` makes it; every provider sends it)."""

    data: bytes
    mime: str  # image/jpeg | image/png | image/webp
    width: int
    height: int
    source_sha256: str  # the original's content hash (ImageRef.sha256)


@dataclass(frozen=True, slots=True)
class EditRequest:
    """Everything the user sets for one edit. Immutable; change it with ``with_(...)``."""

    prompt: str
    references: tuple[ImageRef, ...] = ()
    steps: int = DEFAULT_STEPS
    guidance: float = DEFAULT_GUIDANCE
    seed: int | None = None  # None: a random seed is drawn when the job is created (see resolved())
    size: tuple[int, int] | None = None  # None = auto (match image 1, else 1024×1024)
    output_format: OutputFormat = DEFAULT_FORMAT
    safety: int = DEFAULT_SAFETY
    prompt_upsampling: bool = True
    provider: str = DEFAULT_PROVIDER
    extras: tuple[tuple[str, Any], ...] = field(default=())  # provider-specific knobs, stable order

    def __post_init__(self) -> None:
        if not isinstance(self.references, tuple):
            object.__setattr__(self, "references", tuple(self.references))
        if isinstance(self.extras, dict):
            object.__setattr__(self, "extras", tuple(sorted(self.extras.items())))
        if self.size is not None and not isinstance(self.size, tuple):
            object.__setattr__(self, "size", tuple(self.size))

    # ----------------------------------------------------------------------------- helpers
    def with_(self, **changes: Any) -> EditRequest:
        return replace(self, **changes)

    def resolved(self) -> EditRequest:
        """The same request with a concrete seed (drawn at random when unset)."""
        if self.seed is not None:
            return self
        return replace(self, seed=random_seed())

    def output_size(self, max_pixels: int = 4 * 1_048_576) -> tuple[int, int]:
        """The concrete output size: the explicit size, else image 1's sent size, else 1024×1024."""
        if self.size is not None:
            return self.size
        if self.references:
            return self.references[0].sent_size(max_pixels)
        return DEFAULT_SIZE

    def validate(self) -> None:
        """Raise ``BadInput`` for anything no provider would accept (provider limits are checked later)."""
        if not self.prompt.strip():
            raise BadInput("The prompt is empty: describe the edit.")
        if not 1 <= self.steps <= 50:
            raise BadInput(f"Steps must be between 1 and 50 (got {self.steps}).")
        if not 1.5 <= self.guidance <= 10:
            raise BadInput(f"Guidance must be between 1.5 and 10 (got {self.guidance:g}).")
        if self.seed is not None and not 0 <= self.seed <= SEED_MAX:
            raise BadInput(f"Seed must be between 0 and {SEED_MAX} (got {self.seed}).")
        if self.size is not None:
            validate_size(*self.size)
        if self.output_format not in OUTPUT_FORMATS:
            raise BadInput(f"Output format must be one of {', '.join(OUTPUT_FORMATS)}.")
        if not 0 <= self.safety <= SAFETY_MAX:
            raise BadInput(f"Safety tolerance must be between 0 and {SAFETY_MAX} (got {self.safety}).")

    # ----------------------------------------------------------------------------- JSON
    def to_dict(self) -> dict[str, Any]:
        """Stable JSON form (keys sorted by ``to_json``); carries ``schema`` for migrations."""
        return {
            "schema": SCHEMA_VERSION,
            "prompt": self.prompt,
            "references": [r.to_dict() for r in self.references],
            "steps": self.steps,
            "guidance": self.guidance,
            "seed": self.seed,
            "size": format_size(self.size),
            "output_format": self.output_format,
            "safety": self.safety,
            "prompt_upsampling": self.prompt_upsampling,
            "provider": self.provider,
            "extras": dict(self.extras),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> EditRequest:
        schema = int(d.get("schema", 1))
        if schema > SCHEMA_VERSION:
            raise BadInput(f"This request was saved by a newer FlexStudio (schema {schema}).")
        size = d.get("size", "auto")
        fmt = str(d.get("output_format", DEFAULT_FORMAT)).lower()
        if fmt == "jpg":
            fmt = "jpeg"
        kw: dict[str, Any] = {
            "prompt": str(d.get("prompt", "")),
            "references": tuple(ImageRef.from_dict(r) for r in d.get("references", ())),
            "steps": int(d.get("steps", DEFAULT_STEPS)),
            "guidance": float(d.get("guidance", DEFAULT_GUIDANCE)),
            "seed": None if d.get("seed") is None else int(d["seed"]),
            "size": parse_size(size) if isinstance(size, str) else (tuple(size) if size else None),
            "output_format": fmt,
            "safety": min(int(d.get("safety", DEFAULT_SAFETY)), SAFETY_MAX),  # older rows allowed 6
            "prompt_upsampling": bool(d.get("prompt_upsampling", True)),
            "provider": str(d.get("provider", DEFAULT_PROVIDER)),
            "extras": tuple(sorted(dict(d.get("extras") or {}).items())),
        }
        return cls(**kw)

    @classmethod
    def from_json(cls, text: str) -> EditRequest:
        return cls.from_dict(json.loads(text))
