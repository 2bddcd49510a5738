"""Parameter sweeps: steps × guidance × seed, written as lists or A1111-style ranges.

``"20-50 (+10)"`` → 20, 30, 40, 50 · ``"1-10 [5]"`` → 5 values spread evenly from 1 to 10 ·
``"1-4"`` → 1, 2, 3, 4 · ``"3.5, 5, 7"`` → a list · ranges and lists mix: ``"1-3, 10"``.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass

from .errors import BadInput
from .request import EditRequest

MAX_SWEEP = 64  # jobs in one sweep at the most (each one is paid)

_NUM = r"-?\d+(?:\.\d+)?"
_RANGE = re.compile(rf"^\s*({_NUM})\s*-\s*({_NUM})\s*(?:\(\s*([+-]\s*{_NUM})\s*\)|\[\s*(\d+)\s*\])?\s*$")


def _num(text: str, integer: bool) -> float | int:
    v = float(text)
    if integer:
        if v != int(v):
            raise BadInput(f"{text} is not a whole number.")
        return int(v)
    return v


def parse_values(text: str, *, integer: bool, what: str = "value") -> list[float | int]:
    """Values from a sweep axis text; raises ``BadInput`` with the part that is wrong."""
    out: list[float | int] = []
    for part in (p for p in text.split(",") if p.strip()):
        m = _RANGE.match(part)
        if m and not re.fullmatch(rf"\s*{_NUM}\s*", part):
            a, b = float(m.group(1)), float(m.group(2))
            if m.group(4):
                n = int(m.group(4))
                if n < 1:
                    raise BadInput(f"{part.strip()}: the count must be at least 1.")
                vals = [a] if n == 1 else [a + (b - a) * i / (n - 1) for i in range(n)]
            else:
                step = float(m.group(3).replace(" ", "")) if m.group(3) else (1.0 if b >= a else -1.0)
                if step == 0 or (b - a) * step < 0:
                    raise BadInput(f"{part.strip()}: the step goes the wrong way.")
                count = int(abs(b - a) / abs(step) + 1e-9) + 1
                if count > 1000:
                    raise BadInput(f"{part.strip()}: too many values.")
                vals = [a + step * i for i in range(count)]
            out.extend(round(v) if integer else round(v, 3) for v in vals)
        else:
            try:
                out.append(_num(part.strip(), integer))
            except (ValueError, BadInput):
                raise BadInput(
                    f"Cannot read {part.strip()!r} as a {what} (write a list like 20, 30 or a range "
                    "like 20-50 (+10) or 1-10 [5])."
                ) from None
    if not out:
        raise BadInput(f"No {what} values given.")
    return list(dict.fromkeys(out))  # keep order, drop repeats


@dataclass(frozen=True, slots=True)
class Sweep:
    steps: tuple[int, ...]
    guidance: tuple[float, ...]
    seeds: tuple[int, ...]

    @classmethod
    def parse(cls, steps: str, guidance: str, seeds: str) -> Sweep:
        s = tuple(int(v) for v in parse_values(steps, integer=True, what="steps"))
        g = tuple(float(v) for v in parse_values(guidance, integer=False, what="guidance"))
        d = tuple(int(v) for v in parse_values(seeds, integer=True, what="seed"))
        for v in s:
            if not 1 <= v <= 50:
                raise BadInput(f"Steps {v} is outside 1–50.")
        for gv in g:
            if not 1.5 <= gv <= 10:
                raise BadInput(f"Guidance {gv:g} is outside 1.5–10.")
        for sd in d:
            if not 0 <= sd < 2**32:
                raise BadInput(f"Seed {sd} is outside 0–{2**32 - 1}.")
        sweep = cls(s, g, d)
        if sweep.size > MAX_SWEEP:
            raise BadInput(f"That sweep is {sweep.size} edits; the most in one sweep is {MAX_SWEEP}.")
        return sweep

    @property
    def size(self) -> int:
        return len(self.steps) * len(self.guidance) * len(self.seeds)

    def requests(self, base: EditRequest) -> list[EditRequest]:
        """One request per grid cell, in row order: steps, then guidance, then seed."""
        return [
            base.with_(steps=s, guidance=g, seed=d)
            for s, g, d in itertools.product(self.steps, self.guidance, self.seeds)
        ]

    def axes(self) -> Sequence[tuple[str, Sequence[float | int]]]:
        return (("steps", self.steps), ("guidance", self.guidance), ("seed", self.seeds))
