"""Read the benchmark's JSON line on stdin and print one line of ratios (fails if it is not JSON)."""

import json
import sys

figures = json.load(sys.stdin)
parts = [
    f"{name} {v['ratio']}x{'' if v.get('ok') else ' (goal missed)'}"
    for name, v in figures.items()
    if v.get("ratio") is not None
]
print("bench smoke:", ", ".join(parts))
