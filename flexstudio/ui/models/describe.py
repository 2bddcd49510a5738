"""Human labels for a job where a job id would be: a prompt snippet and the key settings
("30 steps · g 4 · seed 7")."""

from __future__ import annotations

from typing import Any


def settings_words(request: Any) -> str:
    """The settings a designer tells two results apart by: "30 steps · g 4 · seed 7"."""
    parts = [f"{request.steps} steps", f"g {request.guidance:g}"]
    if request.seed is not None:
        parts.append(f"seed {request.seed}")
    return " · ".join(parts)


def snippet(prompt: str, length: int = 40) -> str:
    """The start of a prompt on one line, "…" when cut; "(no prompt)" when empty."""
    text = " ".join(prompt.split())
    if not text:
        return "(no prompt)"
    return text if len(text) <= length else text[: length - 1].rstrip() + "…"
