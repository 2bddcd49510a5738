"""The user's own prices: ``<config>/prices.json``, merged over the shipped table by ``pricing.load_table``.
Settings → Spending writes a per-image rate there for a provider or endpoint whose price is not published
(Kie, an OpenAI-compatible gateway, a custom endpoint); entries written by hand are kept as they are."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from ..core.errors import BadInput

NOTE = "Your rate (Settings → Spending)."


def _read(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {"schema": 1, "providers": {}}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BadInput(f"Your price file {path} cannot be read ({exc}); fix or remove it first.") from None
    if not isinstance(data, dict) or not isinstance(data.get("providers", {}), dict):
        raise BadInput(f"Your price file {path} is not a price table; fix or remove it first.")
    data.setdefault("providers", {})
    return data


def user_rates(path: Path) -> dict[str, float]:
    """The per-image rates set in Settings (and any per-image rate written by hand), by provider id."""
    try:
        providers = _read(path)["providers"]
    except BadInput:
        return {}
    rates = {}
    for pid, entry in providers.items():
        if isinstance(entry, dict) and entry.get("rule") == "per_image":
            rate = entry.get("rate_usd")
            if isinstance(rate, (int, float)) and rate >= 0:
                rates[pid] = float(rate)
    return rates


def set_rate(path: Path, provider_id: str, usd: float | None) -> None:
    """Write (``usd``) or remove (None) the per-image rate of ``provider_id``; the rest of the file stays."""
    data = _read(path)
    providers = data["providers"]
    if usd is None:
        providers.pop(provider_id, None)
    else:
        providers[provider_id] = {
            "rule": "per_image",
            "rate_usd": round(float(usd), 6),
            "currency": "USD",
            "approximate": True,
            "note": NOTE,
        }
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".prices-", suffix=".json")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=2)
            f.write("\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
