"""Human labels for a job where a job id would be: a prompt snippet and the key settings
("30 steps · g 4 · seed 7")."""

from __future__ import annotations

from typing import Any


def money(usd: float | None, *, approximate: bool = False, free_word: bool = False) -> str:
    """Every amount of money the window shows: ``$0.15``, ``≈ $0.15``, ``$0.004``, ``$0.00``."""
    if usd is None:
        return "price unknown"
    if free_word and usd == 0:
        return "free"
    text = f"${usd:.2f}" if usd >= 0.1 or round(usd, 2) == usd else f"${usd:.4f}".rstrip("0")
    return f"≈ {text}" if approximate else text


def plural(n: int, word: str, many: str | None = None) -> str:
    """``1 job``, ``3 jobs``."""
    return f"{n} {word if n == 1 else (many or word + 's')}"


def settings_words(request: Any) -> str:
    """The settings a designer tells two results apart by: "30 steps · g 4 · seed 7"."""
    parts = [f"{request.steps} steps", f"g {request.guidance:g}"]
    if request.seed is not None:
        parts.append(f"seed {request.seed}")
    return " · ".join(parts)


def job_words(provider_label: str, request: Any) -> str:
    """A job where its id would be: "Sandbox · 28 steps · g 4.5 · seed 42"."""
    return f"{provider_label} · {settings_words(request)}"


def result_name(prompt: str) -> str:
    """A result used as a reference, named by what it was asked: "result: make it warmer"."""
    return f"result: {snippet(prompt, 32)}"


def snippet(prompt: str, length: int = 40) -> str:
    """The start of a prompt on one line, "…" when cut; "(no prompt)" when empty."""
    text = " ".join(prompt.split())
    if not text:
        return "(no prompt)"
    return text if len(text) <= length else text[: length - 1].rstrip() + "…"
