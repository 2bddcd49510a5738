"""All providers by id: the built-in profiles of every protocol, plus user-defined endpoints.

The profiles are data (``providers.profiles.<protocol>``, no protocol code): a protocol module is imported
only when one of its providers is first created (a job, a key test), not at start-up."""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from typing import Any, Protocol

from ..core.errors import BadInput
from .base import ProviderInfo

# Protocols in the order their profiles are listed (the sandbox first: it works with no key).
PROTOCOL_MODULES = ("sandbox", "bfl", "fal", "replicate", "openai_images", "kie", "runapi", "fairstack")


class EndpointSpec(Protocol):
    id: str
    label: str
    protocol: str
    base_url: str
    options: dict[str, Any]


def _module(name: str) -> Any:
    """The profiles module of protocol ``name`` (its ``PROFILES`` and, if it takes user endpoints,
    ``custom_profile``); None for a protocol that does not exist."""
    full = f"{__package__}.profiles.{name}"
    try:
        return importlib.import_module(full)
    except ModuleNotFoundError as exc:
        if exc.name == full:
            return None
        raise


def import_profiles() -> None:
    """Import every protocol's profiles module now (the window does, before PySide6 is imported)."""
    for name in PROTOCOL_MODULES:
        _module(name)


class Registry:
    def __init__(self, custom: Iterable[EndpointSpec] = ()) -> None:
        self._infos: dict[str, ProviderInfo] = {}
        for name in PROTOCOL_MODULES:
            mod = _module(name)
            for info in getattr(mod, "PROFILES", ()) if mod else ():
                self._infos[info.id] = info
        self.problems: list[str] = []
        for spec in custom:
            self.add_custom(spec)

    def add_custom(self, spec: EndpointSpec) -> ProviderInfo | None:
        mod = _module(spec.protocol)
        make = getattr(mod, "custom_profile", None) if mod else None
        if make is None:
            self.problems.append(
                f"Endpoint {spec.label!r}: protocol {spec.protocol!r} takes no custom endpoints."
            )
            return None
        if spec.id in self._infos and not self._infos[spec.id].options.get("custom"):
            self.problems.append(
                f"Endpoint {spec.label!r}: the id {spec.id!r} is taken by a built-in provider."
            )
            return None
        try:
            info: ProviderInfo = make(
                spec.id, spec.label, spec.base_url, {**dict(spec.options), "custom": True}
            )
        except BadInput as exc:
            self.problems.append(f"Endpoint {spec.label!r}: {exc}")
            return None
        self._infos[info.id] = info
        return info

    def register(self, info: ProviderInfo) -> None:
        """Add (or replace) a provider profile at run time."""
        self._infos[info.id] = info

    def remove(self, provider_id: str) -> bool:
        """Forget a user-defined endpoint (built-in providers stay)."""
        info = self._infos.get(provider_id)
        if info is None or not info.options.get("custom"):
            return False
        del self._infos[provider_id]
        return True

    def all(self) -> list[ProviderInfo]:
        return list(self._infos.values())

    def ids(self) -> list[str]:
        return list(self._infos)

    def __contains__(self, provider_id: object) -> bool:
        return provider_id in self._infos

    def get(self, provider_id: str) -> ProviderInfo:
        try:
            return self._infos[provider_id]
        except KeyError:
            raise BadInput(
                f"Unknown provider {provider_id!r}; choose one of: {', '.join(self._infos)}."
            ) from None
