"""Remaining balances per provider, for Settings → Keys and ``flexstudio providers --balance``.

Only providers whose capabilities say they document a balance endpoint are asked (BFL's credits), only
when a key is set, all at once, each within ``BALANCE_TIMEOUT`` seconds. Nothing here runs at start-up:
the window asks when the Keys tab is shown, the CLI only with ``--balance``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from ..core.errors import FlexError

if TYPE_CHECKING:
    from ..providers.base import ProviderInfo
    from .runner import Runner

BALANCE_TIMEOUT = 10.0


async def fetch_balances(runner: Runner, infos: Iterable[ProviderInfo]) -> dict[str, dict[str, Any]]:
    """provider id → ``{"status": "ok", "amount", "unit", "usd"}`` | ``{"status": "no_key"}`` |
    ``{"status": "error", "message"}`` for every provider that has a balance endpoint."""
    from ..storage.secrets import scrub

    async def one(info: ProviderInfo) -> dict[str, Any]:
        key = runner.secrets.get(info.id, info.env_var)
        if not key:
            return {"status": "no_key"}
        provider = runner.provider_for(info, key)
        ask = getattr(provider, "balance", None)
        if ask is None:
            return {"status": "error", "message": f"{info.label} has no balance endpoint."}
        try:
            balance = await asyncio.wait_for(ask(), BALANCE_TIMEOUT)
        except TimeoutError:
            return {
                "status": "error",
                "message": f"{info.label} did not answer within {BALANCE_TIMEOUT:g} s.",
            }
        except FlexError as exc:
            return {"status": "error", "message": scrub(str(exc), runner.secrets.known_values())}
        return {"status": "ok", **balance.to_dict()}

    chosen = [i for i in infos if i.capabilities.balance]
    answers = await asyncio.gather(*(one(i) for i in chosen))
    return {i.id: a for i, a in zip(chosen, answers, strict=True)}
