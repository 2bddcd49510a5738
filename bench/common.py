"""Shared pieces of the benchmark: result records, timing, RSS, benchmark data.

Qt-free (the Qt helpers are in ``qtprobe.py``) so the Qt-free metrics never import PySide6.
"""

from __future__ import annotations

import io
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
FRAME_MS = 1000 / 60  # 16.7 ms: one frame at 60 Hz
RESULT_PREFIX = "BENCH-RESULT "


@dataclass
class Metric:
    """One figure: ``value`` measured, ``floor`` measured (or fixed) in the same run, ``ratio`` of the two
    and whether it meets ``goal``. ``goal_op`` says which way: ``<=`` (ratio at most goal) or ``>=``."""

    name: str
    value: float | None
    floor: float | None
    goal: float
    unit: str
    goal_op: str = "<="
    ratio: float | None = None
    ok: bool = False
    label: str = ""
    floor_label: str = ""
    reason: str | None = None  # why there is no value (n/a)
    extra: dict[str, Any] = field(default_factory=dict)

    def finish(self, ratio: float | None = None) -> Metric:
        if self.value is not None and self.floor:
            if ratio is None:
                ratio = self.value / self.floor
            self.ratio = ratio
            self.ok = ratio <= self.goal if self.goal_op == "<=" else ratio >= self.goal
        return self

    def to_json(self) -> dict[str, Any]:
        d = {
            "value": _round(self.value),
            "floor": _round(self.floor),
            "ratio": _round(self.ratio),
            "goal": self.goal,
            "goal_op": self.goal_op,
            "unit": self.unit,
            "ok": bool(self.ok),
        }
        if self.reason:
            d["reason"] = self.reason
        if self.extra:
            d["extra"] = {k: _round(v) if isinstance(v, float) else v for k, v in self.extra.items()}
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Metric:
        return cls(**d)


def _round(v: float | None) -> float | None:
    if v is None:
        return None
    return float(f"{v:.4g}")


def not_available(
    name: str,
    goal: float,
    unit: str,
    reason: str,
    goal_op: str = "<=",
    label: str = "",
    floor_label: str = "",
) -> Metric:
    return Metric(
        name, None, None, goal, unit, goal_op=goal_op, label=label, floor_label=floor_label, reason=reason
    )


def emit(metrics: list[Metric]) -> None:
    """A worker's answer to ``run.py``: one line on stdout."""
    sys.stdout.write(RESULT_PREFIX + json.dumps([asdict(m) for m in metrics]) + "\n")
    sys.stdout.flush()


# ------------------------------------------------------------------------------------------- timing
def median(values: list[float]) -> float:
    return statistics.median(values)


def time_calls(fn: Callable[[], Any], repeats: int) -> list[float]:
    """Wall seconds of ``repeats`` calls of ``fn``."""
    out = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def rss_mb() -> float:
    """This process's resident set size (VmRSS) in MB."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def bench_env(home: Path, **extra: str) -> dict[str, str]:
    """The environment every worker runs in: a private FLEXSTUDIO_HOME, offscreen Qt, no key store."""
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_KEY", "_TOKEN"))}
    env.update(
        {
            "FLEXSTUDIO_HOME": str(home),
            "QT_QPA_PLATFORM": "offscreen",
            "QT_API": "pyside6",
            "PYTHONPATH": str(ROOT),
            "XDG_DATA_HOME": str(home / "xdg-data"),
            "XDG_CONFIG_HOME": str(home / "xdg-config"),
            "XDG_CACHE_HOME": str(home / "xdg-cache"),
            "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring",
        }
    )
    env.pop("DBUS_SESSION_BUS_ADDRESS", None)
    # An installed app starts from compiled bytecode: allow it, but keep the .pyc files in the temp folder
    # (this machine sets PYTHONDONTWRITEBYTECODE, which would make every start compile from source).
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(home.parent / "pycache")
    env.update(extra)
    return env


# --------------------------------------------------------------------------------------------- data
BIG_SIZE = (6000, 4000)  # 24 MP, a typical full-frame camera photo


def make_photos(folder: Path, count: int = 8, size: tuple[int, int] = BIG_SIZE) -> list[Path]:
    """``count`` distinct photo-like JPEGs (smooth structure + grain, ~10 MB each at 24 MP), made once per
    folder. Distinct bytes so no cache can serve one for another."""
    from PIL import Image, ImageChops

    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"photo{i}_{size[0]}x{size[1]}.jpg" for i in range(count)]
    if all(p.exists() for p in paths):
        return paths
    w, h = size
    coarse = Image.effect_noise((w // 8, h // 8), 60).resize((w, h), Image.Resampling.BICUBIC)
    grain = Image.effect_noise((w // 2, h // 2), 30).resize((w, h), Image.Resampling.BILINEAR)
    ramp = Image.linear_gradient("L").resize((w, h))
    for i, p in enumerate(paths):
        a = ImageChops.offset(coarse, i * 377, i * 211)
        b = ImageChops.offset(grain, i * 97, i * 53)
        r = ramp.rotate(i * 45 % 360) if i % 2 else ramp
        bands = [Image.blend(a, r, 0.3 + 0.05 * i), Image.blend(b, a, 0.5), Image.blend(r, b, 0.4)]
        im = Image.merge("RGB", bands[i % 3 :] + bands[: i % 3])
        buf = io.BytesIO()
        im.save(buf, "JPEG", quality=90)
        p.write_bytes(buf.getvalue())
    return paths


def small_jpeg(size: tuple[int, int], color: tuple[int, int, int]) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, "JPEG", quality=90)
    return buf.getvalue()
