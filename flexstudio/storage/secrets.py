"""API keys: the provider's usual environment variable wins; otherwise the OS keyring (service
``flexstudio``, one entry per provider profile). With no keyring backend a key is kept in memory for
this session only — never written anywhere in clear — and the user is told why."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any, Literal

SERVICE = "flexstudio"
Source = Literal["env", "keyring", "session"]

NO_KEYRING = (
    "No system keyring is available, so API keys cannot be stored safely on this computer. "
    "The key is kept for this session only; set the provider's environment variable or "
    "install a Secret Service (for example gnome-keyring) to keep it."
)


class Secrets:
    def __init__(self, env: Mapping[str, str] | None = None, backend: Any | None = None) -> None:
        self._env = env if env is not None else os.environ
        self._backend = backend
        self._memory: dict[str, str] = {}
        self._cache: dict[str, str | None] = {}
        self._seen: set[str] = set()  # keys handed out from the environment (for scrubbing)
        self.problem: str | None = None

    # The keyring module is imported on first use: it costs start-up time and may probe D-Bus.
    def _kr(self) -> Any:
        if self._backend is None:
            import keyring

            self._backend = keyring.get_keyring()
        return self._backend

    def _keyring_get(self, provider_id: str) -> str | None:
        if provider_id in self._cache:
            return self._cache[provider_id]
        value: str | None
        try:
            value = self._kr().get_password(SERVICE, provider_id)
        except Exception as exc:  # NoKeyringError, locked keyrings, D-Bus failures
            self.problem = _explain(exc)
            value = None
        self._cache[provider_id] = value
        return value

    def get(self, provider_id: str, env_var: str | None = None) -> str | None:
        if env_var and self._env.get(env_var):
            self._seen.add(self._env[env_var])
            return self._env[env_var]
        if provider_id in self._memory:
            return self._memory[provider_id]
        return self._keyring_get(provider_id)

    def source(self, provider_id: str, env_var: str | None = None) -> Source | None:
        if env_var and self._env.get(env_var):
            return "env"
        if provider_id in self._memory:
            return "session"
        return "keyring" if self._keyring_get(provider_id) else None

    def has(self, provider_id: str, env_var: str | None = None) -> bool:
        return self.source(provider_id, env_var) is not None

    def set(self, provider_id: str, key: str) -> Source:
        """Store a key; returns where it went. ``problem`` explains a session-only store."""
        from ..core.validate import check_key

        key = check_key(key, label=provider_id)  # a malformed key is refused, never stored
        try:
            self._kr().set_password(SERVICE, provider_id, key)
        except Exception as exc:
            self.problem = _explain(exc)
            self._memory[provider_id] = key
            return "session"
        self._memory.pop(provider_id, None)
        self._cache[provider_id] = key
        self.problem = None
        return "keyring"

    def delete(self, provider_id: str) -> bool:
        existed = self._memory.pop(provider_id, None) is not None
        self._cache.pop(provider_id, None)
        try:
            self._kr().delete_password(SERVICE, provider_id)
            existed = True
        except Exception as exc:
            if type(exc).__name__ != "PasswordDeleteError":
                self.problem = _explain(exc)
        self._cache[provider_id] = None
        return existed

    def known_values(self) -> list[str]:
        """Every key this object has seen (for scrubbing text before it is shown or logged)."""
        return [v for v in (*self._memory.values(), *self._cache.values(), *self._seen) if v]


def _explain(exc: Exception) -> str:
    name = type(exc).__name__
    if name in ("NoKeyringError",) or "No recommended backend" in str(exc):
        return NO_KEYRING
    if name == "KeyringLocked":
        return "The system keyring is locked; unlock it and try again (the key is kept for this session)."
    logging.getLogger(__name__).warning("the system keyring failed: %s", name)  # the detail, for a report
    return "The system keyring could not be used; the key is kept for this session only."


def scrub(text: str, secrets: list[str]) -> str:
    """Replace any known key in ``text`` (errors and logs never show a key)."""
    for s in secrets:
        if s and len(s) >= 6 and s in text:
            text = text.replace(s, "•" * 8)
    return text
