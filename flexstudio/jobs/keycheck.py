"""Settings → Keys → "Test connection": is the key accepted? One free, authenticated call where the
provider documents one — BFL's credits (``GET /v1/credits``, the balance endpoint), Replicate's account
(``GET /v1/account``, replicate-python's ``accounts.current()``) — else a plain GET of the host, saying
plainly that the key itself is only checked on the first run. Nothing here is ever billed."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from ..core.errors import ErrorKind, FlexError

if TYPE_CHECKING:
    from ..providers.base import ProviderInfo
    from .runner import Runner

CHECK_TIMEOUT = 10.0  # seconds for the whole check, retries included
HOST_ONLY = "this only checks that the host answers; the key is checked on the first run"


def _host(base_url: str) -> str:
    return urlsplit(base_url).netloc or base_url


async def check_key(runner: Runner, info: ProviderInfo, base_url: str) -> str:
    """One sentence: the key accepted (with what the provider said), refused, or the host unreachable."""
    from ..storage.secrets import scrub

    label, host = info.label, _host(base_url)
    key = await asyncio.to_thread(runner.secrets.get, info.id, info.env_var) if info.needs_key else None
    if info.needs_key and not key:
        return f"{label}: no key is set yet — paste one above and Save."
    provider = runner.provider_for(info, key)
    ask = getattr(provider, "check_key", None)
    if ask is None and info.capabilities.balance:
        ask = getattr(provider, "balance", None)
    try:
        if ask is None:
            return await _host_answers(runner, info, base_url)
        answer = await asyncio.wait_for(ask(), CHECK_TIMEOUT)
    except TimeoutError:
        return f"{label} at {host} could not be reached (no answer within {CHECK_TIMEOUT:g} s)."
    except FlexError as exc:
        if exc.kind is ErrorKind.AUTH:
            return f"{label} says the key is invalid — paste the right one above and Save."
        if exc.kind in (ErrorKind.NETWORK, ErrorKind.TIMEOUT):
            return f"{label} at {host} could not be reached: check the address and your connection."
        if exc.kind is ErrorKind.BAD_INPUT:  # a key FlexStudio would never send (spaces, line breaks)
            return scrub(str(exc), runner.secrets.known_values())
        said = scrub(str(exc), runner.secrets.known_values())
        return f"{label} answered, but not with a yes: {said}"
    if hasattr(answer, "amount"):  # a Balance
        return f"{label} accepted the key ({answer.unit}: {answer.amount:g})."
    return f"{label} accepted the key ({answer})." if answer else f"{label} accepted the key."


async def _host_answers(runner: Runner, info: ProviderInfo, base_url: str) -> str:
    """No free authenticated call is documented: a keyless GET of the API root."""
    import httpx

    label = info.label
    try:
        response = await asyncio.wait_for(runner.client.get(base_url, follow_redirects=False), CHECK_TIMEOUT)
    except (httpx.HTTPError, TimeoutError):
        return f"{label} at {_host(base_url)} could not be reached: check the address and your connection."
    said = f"{label} answers at {_host(base_url)} (HTTP {response.status_code})"
    return f"{said}; {HOST_ONLY}." if info.needs_key else f"{said}."
