"""The price table: ``resources/prices.json`` (shipped) merged with the user's own ``prices.json``.

``load_table`` is the only function of ``flexstudio.pricing`` that touches the disk. It is cached: the
built-in file is read once; a user file is read again only when its modification time or size changes.
Everything else here is pure (``parse_table`` builds a table from already-decoded JSON).
"""

from __future__ import annotations

import datetime as _dt
import functools
import json
import math
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import flexstudio

from ..core.errors import BadInput
from ..core.sizes import MEGAPIXEL
from .rules import FIRST_MP, PER_CALL, PER_IMAGE, PER_MP, RULES, PriceRule, Tier, to_micro, unknown_rule

SCHEMA_VERSION = 1
PRICES_FILE = "prices.json"
UNKNOWN_PROVIDER_NOTE = "Price unknown for this provider; set a rate in Settings → Spending."


def resources_dir(package: Path | None = None) -> Path:
    """The shipped ``resources`` folder: ``flexstudio/resources`` inside a wheel, else the repo's
    top-level ``resources``. ``package`` is the ``flexstudio`` package folder (default: this one)."""
    package = Path(flexstudio.__file__).parent if package is None else package
    inside = package / "resources"
    if inside.is_dir():
        return inside
    return package.parent / "resources"


@functools.cache
def builtin_prices_path() -> Path:
    """The shipped price file (resolved once: later look-ups touch no disk)."""
    return resources_dir() / PRICES_FILE


class PriceTable:
    """Price rules by provider id, plus which entry a protocol falls back to. Immutable after build."""

    __slots__ = ("_protocols", "_rules", "schema", "sources")

    def __init__(
        self,
        rules: Mapping[str, PriceRule],
        protocols: Mapping[str, str] | None = None,
        *,
        schema: int = SCHEMA_VERSION,
        sources: tuple[str, ...] = (),
    ) -> None:
        self._rules: dict[str, PriceRule] = dict(rules)
        self._protocols: dict[str, str] = dict(protocols or {})
        self.schema = schema
        self.sources = sources  # the files it was read from, for Settings / diagnostics

    def rule_for(self, provider_id: str, protocol_fallback: str | None = None) -> PriceRule:
        """The rule of ``provider_id``; else the entry its protocol maps to (a custom profile of a known
        protocol); else an ``unknown`` rule (quotes with ``usd=None``). Never raises."""
        rule = self._rules.get(provider_id)
        if rule is not None:
            return rule
        if protocol_fallback is not None:
            target = self._protocols.get(protocol_fallback, protocol_fallback)
            rule = self._rules.get(target)
            if rule is not None:
                return rule
        return unknown_rule(provider_id, UNKNOWN_PROVIDER_NOTE)

    def providers(self) -> tuple[str, ...]:
        return tuple(self._rules)

    def __contains__(self, provider_id: object) -> bool:
        return provider_id in self._rules

    def __iter__(self) -> Iterator[PriceRule]:
        return iter(self._rules.values())

    def __len__(self) -> int:
        return len(self._rules)

    def __repr__(self) -> str:
        return f"PriceTable({', '.join(self._rules)})"


# --------------------------------------------------------------------------------------- parsing
def _fail(where: str, message: str) -> BadInput:
    return BadInput(f"The price file {where} is not valid: {message}.")


def _money(value: Any, where: str, what: str, *, allow_none: bool = False) -> int | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise _fail(where, f"{what} must be a non-negative number of dollars (got {value!r})")
    return to_micro(float(value))


def _tiers(value: Any, where: str, what: str) -> tuple[Tier, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not value:
        raise _fail(where, f"{what} must be a non-empty list")
    tiers = []
    for i, t in enumerate(value, 1):
        if not isinstance(t, dict):
            raise _fail(where, f"{what} #{i} must be an object")
        max_mp = t.get("max_mp")
        if isinstance(max_mp, bool) or not isinstance(max_mp, int | float) or not max_mp > 0:
            raise _fail(where, f"{what} #{i} needs a positive max_mp")
        micro = _money(t.get("usd"), where, f"{what} #{i} usd")
        tiers.append(
            Tier(
                label=str(t.get("label") or f"≤{max_mp:g} MP"),
                max_pixels=round(max_mp * MEGAPIXEL),
                micro_usd=micro or 0,
                approximate=bool(t.get("approximate", False)),
            )
        )
    tiers.sort(key=lambda tier: tier.max_pixels)
    return tuple(tiers)


def _rule(provider: str, entry: Mapping[str, Any], where: str, origin: str) -> PriceRule:
    name = entry.get("rule")
    if name not in RULES:
        raise _fail(where, f"{provider}: rule must be one of {', '.join(RULES)} (got {name!r})")
    currency = str(entry.get("currency", "USD"))
    if currency != "USD":
        raise _fail(where, f"{provider}: only USD prices are supported (got {currency})")
    checked = entry.get("checked")
    if checked is not None:
        try:
            _dt.date.fromisoformat(str(checked))
        except ValueError:
            raise _fail(where, f"{provider}: checked must be a date like 2026-01-31") from None
    at = f"{provider}:"
    kw: dict[str, Any] = {}
    if name in (PER_MP, PER_IMAGE):
        kw["rate"] = _money(entry.get("rate_usd"), where, f"{at} rate_usd", allow_none=True)
    elif name == FIRST_MP:
        rates = entry.get("rates")
        if not isinstance(rates, dict):
            raise _fail(
                where,
                f"{provider}: the first_mp rule needs rates "
                "{first_mp_usd, additional_mp_usd, input_mp_usd}",
            )
        kw["first_mp"] = _money(rates.get("first_mp_usd"), where, f"{at} first_mp_usd")
        kw["additional_mp"] = _money(rates.get("additional_mp_usd"), where, f"{at} additional_mp_usd")
        kw["input_mp"] = _money(rates.get("input_mp_usd"), where, f"{at} input_mp_usd")
    elif name == PER_CALL:
        kw["tiers"] = _tiers(entry.get("tiers"), where, f"{at} tiers")
        kw["edit_tiers"] = _tiers(entry.get("edit_tiers"), where, f"{at} edit_tiers")
        if not kw["tiers"]:
            raise _fail(where, f"{provider}: the per_call rule needs tiers")
    source_url = entry.get("source_url")
    return PriceRule(
        provider=provider,
        rule=name,
        currency=currency,
        approximate=bool(entry.get("approximate", False)),
        source_url=None if source_url is None else str(source_url),
        checked=None if checked is None else str(checked),
        note=str(entry.get("note") or ""),
        origin=origin,
        **kw,
    )


def _document(data: Any, where: str) -> tuple[dict[str, Any], dict[str, Any]]:
    if not isinstance(data, dict):
        raise _fail(where, "it must hold a JSON object")
    schema = data.get("schema", SCHEMA_VERSION)
    if isinstance(schema, bool) or not isinstance(schema, int):
        raise _fail(where, "schema must be a whole number")
    if schema > SCHEMA_VERSION:
        raise _fail(where, f"it was written for a newer FlexStudio (schema {schema})")
    providers = data.get("providers", {})
    protocols = data.get("protocols", {})
    if not isinstance(providers, dict) or not all(isinstance(v, dict) for v in providers.values()):
        raise _fail(where, "providers must map provider ids to objects")
    if not isinstance(protocols, dict) or not all(isinstance(v, str) for v in protocols.values()):
        raise _fail(where, "protocols must map protocol names to provider ids")
    return providers, protocols


def parse_table(
    builtin: Any,
    override: Any = None,
    *,
    builtin_name: str = PRICES_FILE,
    override_name: str = "prices.json (yours)",
    sources: tuple[str, ...] = (),
) -> PriceTable:
    """Build a table from decoded JSON: the built-in document, then the user's merged over it.

    The user's entries are merged field by field over the built-in ones (``{"fal": {"rate_usd": 0.06}}``
    changes only fal's rate); an entry for a new provider id must be complete. Raises ``BadInput``.
    """
    providers, protocols = _document(builtin, builtin_name)
    merged: dict[str, tuple[dict[str, Any], str, str]] = {
        pid: (dict(entry), builtin_name, "built-in") for pid, entry in providers.items()
    }
    protocols = dict(protocols)
    if override is not None:
        user_providers, user_protocols = _document(override, override_name)
        for pid, entry in user_providers.items():
            base = merged[pid][0] if pid in merged else {}
            merged[pid] = ({**base, **entry}, override_name, "user")
        protocols.update(user_protocols)
    rules = {pid: _rule(pid, entry, where, origin) for pid, (entry, where, origin) in merged.items()}
    return PriceTable(rules, protocols, schema=SCHEMA_VERSION, sources=sources)


# --------------------------------------------------------------------------------------- loading
def load_table(override: Path | None = None) -> PriceTable:
    """The price table: the shipped one, with ``override`` (the user's ``<config>/prices.json``) merged
    over it when that file exists. Cached; a changed user file is read again. Raises ``BadInput`` if a
    file is not a valid price table (the caller may then fall back to ``load_table()``)."""
    if override is not None:
        try:
            st = Path(override).stat()
        except FileNotFoundError:
            override = None
        else:
            return _load(str(builtin_prices_path()), str(override), st.st_mtime_ns, st.st_size)
    return _load(str(builtin_prices_path()), None, 0, 0)


def _read_json(path: str, name: str) -> Any:
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except json.JSONDecodeError as e:
        raise _fail(name, f"bad JSON at line {e.lineno} column {e.colno}") from None
    except UnicodeDecodeError:
        raise _fail(name, "it is not UTF-8 text") from None
    except OSError as e:
        raise BadInput(f"The price file {name} cannot be read: {e.strerror or e}.") from None


@functools.lru_cache(maxsize=8)
def _load(builtin_path: str, override_path: str | None, _mtime_ns: int, _size: int) -> PriceTable:
    builtin = _read_json(builtin_path, builtin_path)
    override = None if override_path is None else _read_json(override_path, override_path)
    sources = (builtin_path,) if override_path is None else (builtin_path, override_path)
    return parse_table(
        builtin, override, builtin_name=builtin_path, override_name=override_path or "", sources=sources
    )


def clear_cache() -> None:
    """Forget loaded tables (tests; Settings after replacing the built-in file)."""
    _load.cache_clear()
