"""Checks at the edges, before anything is sent or recorded: API keys, money, base URLs and the JSON
of preset files. Pure functions (no I/O); each refuses with one ``BadInput`` sentence that never echoes
a key."""

from __future__ import annotations

import ipaddress
import json
import math
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from .errors import BadInput

MAX_JSON_DEPTH = 32


# ---------------------------------------------------------------------- keys
def check_key(key: str | None, *, label: str, where: str = "", saving: bool = False) -> str:
    """The key, trimmed, or ``BadInput``. A key is printable ASCII with no whitespace inside; the
    sentence says what is wrong and where the key came from, never the key itself (``saving``: it is
    being stored, not sent)."""
    text = (key or "").strip()
    origin = f" ({where})" if where else ""
    after = "Correct it and save again; it was not saved." if saving else "Set it again. Nothing was sent."
    if not text:
        raise BadInput(f"The API key for {label}{origin} is empty. " + after.split(". ")[-1])
    if any(ch.isspace() for ch in text):
        raise BadInput(
            f"The API key for {label}{origin} has a space or line break inside it — probably a "
            f"paste gone wrong. {after}"
        )
    if not all(33 <= ord(ch) <= 126 for ch in text):
        raise BadInput(
            f"The API key for {label}{origin} contains characters an API key cannot have "
            f"(only printable ASCII). {after}"
        )
    return text


# ---------------------------------------------------------------------- money and time
def check_money(value: float | None, what: str) -> float | None:
    """A price limit: ``None`` (no limit) or a finite amount ≥ 0."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadInput(f"{what} must be an amount in US dollars.")
    if not math.isfinite(value) or value < 0:
        raise BadInput(f"{what} must be a finite amount of at least $0 (got {value}).")
    return float(value)


def check_seconds(value: float | None, what: str) -> float | None:
    """A time limit: ``None`` or a finite number of seconds > 0."""
    if value is None:
        return None
    if not math.isfinite(value) or value <= 0:
        raise BadInput(f"{what} must be a finite number of seconds above 0 (got {value}).")
    return float(value)


def check_caps(caps: Any) -> None:
    """Spend caps from the settings (``SpendCaps``-like): each unset or finite and ≥ 0."""
    for period in ("session", "day", "month"):
        for level in ("warn", "stop"):
            value = getattr(caps, f"{period}_{level}", None)
            try:
                check_money(value, f"The {period} {level} limit in the settings")
            except BadInput as exc:
                raise BadInput(f"{exc} Fix it in Settings → Spending. Nothing was sent.") from None


# ---------------------------------------------------------------------- base URLs
def _is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_base_url(url: str, *, what: str = "--base-url") -> str:
    """An API root: ``https://host…``, or ``http://`` only to this computer (loopback). The key goes to
    this host, so anything else is refused."""
    text = url.strip()
    if not text:
        raise BadInput(
            f"{what} is empty; give the provider's API root (for example https://api.example.com)."
        )
    if any(ord(ch) < 33 or ord(ch) == 127 for ch in text):
        raise BadInput(f"{what} contains spaces or control characters.")
    try:
        parts = urlsplit(text)
        host = parts.hostname or ""
        _ = parts.port  # a bad port raises here
    except ValueError:
        raise BadInput(f"{what} is not a valid URL.") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise BadInput(
            f"{what} must start with https:// (or http:// for this computer); "
            f"{scheme + ':' if scheme else 'a bare name'} is not allowed."
        )
    if not host:
        raise BadInput(f"{what} has no host name.")
    if parts.username is not None or parts.password is not None:
        raise BadInput(f"{what} must not carry a user name or password; keys belong in the keyring.")
    if scheme == "http" and not _is_loopback(host):
        raise BadInput(
            f"{what} uses plain http:// to {host}; the key would travel unencrypted. "
            "Use https:// (http:// is only for this computer, like 127.0.0.1)."
        )
    return text


# ---------------------------------------------------------------------- JSON files (presets)
def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def parse_json(text: str, what: str, *, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """Strict JSON: no NaN/Infinity, nesting at most ``max_depth`` deep."""
    depth = 0
    in_str = esc = False
    for ch in text:  # an iterative depth check first: the parser itself would recurse
        if in_str:
            if esc:
                esc = False
            elif ch == "\\":
                esc = True
            elif ch == '"':
                in_str = False
        elif ch == '"':
            in_str = True
        elif ch in "[{":
            depth += 1
            if depth > max_depth:
                raise BadInput(
                    f"{what} is nested more than {max_depth} levels deep; it is not a FlexStudio file."
                )
        elif ch in "]}":
            depth -= 1
    try:
        return json.loads(text, parse_constant=_no_constants)
    except (ValueError, RecursionError) as exc:
        raise BadInput(f"{what} is not valid JSON ({_short(exc)}).") from None


def _short(exc: BaseException) -> str:
    text = str(exc)
    return text if len(text) <= 120 else text[:117] + "…"


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v: Any) -> bool:
    return (_is_int(v) or isinstance(v, float)) and math.isfinite(v)


def _need_int(s: Mapping[str, Any], key: str, lo: int, hi: int, what: str) -> None:
    if key in s and not (_is_int(s[key]) and lo <= s[key] <= hi):
        raise BadInput(f"{what} must be a whole number between {lo} and {hi}.")


def check_preset_dict(
    d: Any, *, formats: tuple[str, ...], seed_policies: tuple[str, ...], seed_max: int, schema: int
) -> None:
    """The preset schema: types and ranges of every field FlexStudio reads."""
    if not isinstance(d, dict):
        raise BadInput("This file is not a FlexStudio preset (not a JSON object).")
    if not isinstance(d.get("name"), str) or not d["name"].strip():
        raise BadInput("This file is not a FlexStudio preset (no name).")
    if len(d["name"]) > 200:
        raise BadInput("A preset's name must be at most 200 characters.")
    version = d.get("flexstudio_preset", 1)
    if not _is_int(version) or version < 1:
        raise BadInput("A preset's format version must be a whole number.")
    if version > schema:
        raise BadInput(f"This preset was saved by a newer FlexStudio (format {version}).")
    for key in ("description", "prompt_template"):
        if key in d and d[key] is not None and not isinstance(d[key], str):
            raise BadInput(f"A preset's {key.replace('_', ' ')} must be text.")
    s = d.get("settings") or {}
    if not isinstance(s, dict):
        raise BadInput("The preset's settings are not an object.")
    _need_int(s, "steps", 1, 50, "A preset's steps")
    _need_int(s, "safety", 0, 5, "A preset's safety tolerance")
    _need_int(s, "seed", 0, seed_max, "A preset's seed")
    if "guidance" in s and not (_is_num(s["guidance"]) and 1.5 <= s["guidance"] <= 10):
        raise BadInput("A preset's guidance must be a number between 1.5 and 10.")
    for key in ("provider", "size"):
        if key in s and not isinstance(s[key], str):
            raise BadInput(f"A preset's {key} must be text.")
    if "output_format" in s and s["output_format"] not in formats:
        raise BadInput(f"A preset's format must be one of {', '.join(formats)}.")
    if "seed_policy" in s and s["seed_policy"] not in seed_policies:
        raise BadInput(f"A preset's seed policy must be one of {', '.join(seed_policies)}.")
    if "prompt_upsampling" in s and not isinstance(s["prompt_upsampling"], bool):
        raise BadInput("A preset's prompt upsampling must be true or false.")
