"""Where FlexStudio keeps things: platformdirs folders, or everything under ``FLEXSTUDIO_HOME``."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class Paths:
    data: Path  # history.sqlite3, blobs/
    config: Path  # settings.json, presets/
    cache: Path  # thumbnails, prepared references
    logs: Path

    @property
    def history_db(self) -> Path:
        return self.data / "history.sqlite3"

    @property
    def batches_db(self) -> Path:
        return self.data / "batches.sqlite3"

    @property
    def blobs(self) -> Path:
        return self.data / "blobs"

    @property
    def settings_file(self) -> Path:
        return self.config / "settings.json"

    @property
    def presets(self) -> Path:
        return self.config / "presets"

    @property
    def sandbox_state(self) -> Path:
        return self.data / "sandbox"

    def ensure(self) -> Paths:
        for p in (self.data, self.config, self.cache, self.logs, self.blobs, self.presets):
            p.mkdir(parents=True, exist_ok=True)
        return self


def default_paths() -> Paths:
    home = os.environ.get("FLEXSTUDIO_HOME")
    if home:
        root = Path(home).expanduser()
        return Paths(root / "data", root / "config", root / "cache", root / "logs")
    import platformdirs

    return Paths(
        Path(platformdirs.user_data_dir("FlexStudio", appauthor=False)),
        Path(platformdirs.user_config_dir("FlexStudio", appauthor=False)),
        Path(platformdirs.user_cache_dir("FlexStudio", appauthor=False)),
        Path(platformdirs.user_log_dir("FlexStudio", appauthor=False)),
    )


def resources_dir() -> Path:
    """The read-only resources (prices, presets, icons): inside the package when installed from a
    wheel, else the repository's top-level ``resources/``."""
    import flexstudio

    pkg = Path(flexstudio.__file__).parent
    inside = pkg / "resources"
    return inside if inside.is_dir() else pkg.parent / "resources"
