"""Reading a provider's HTTP answers: its own words from an error body (whichever shape it uses), the
status → ``ErrorKind`` mapping with the sentence the user reads, JSON bodies, ``Retry-After``, and the
sentence for a network fault (the address tried and what to do — never an exception class name)."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..core.errors import ErrorKind, ProviderError

if TYPE_CHECKING:
    import httpx


def parse_retry_after(headers: Mapping[str, str], default: float | None = None) -> float | None:
    """Seconds to wait from ``retry-after-ms`` / ``Retry-After`` (seconds or an HTTP date)."""
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return max(0.0, float(ms) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return default
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        import email.utils  # only a Retry-After date needs it (it costs start-up time)

        when = email.utils.parsedate_to_datetime(value)
        return max(0.0, when.timestamp() - time.time())
    except (TypeError, ValueError):
        return default


def body_message(response: httpx.Response) -> str:
    """The provider's own words from an error body, whichever shape it uses."""
    try:
        data = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError, ValueError):
        text = response.text.strip()
        return text[:300] if text else response.reason_phrase
    return message_from_json(data) or response.reason_phrase


def message_from_json(data: Any) -> str:
    if isinstance(data, str):
        return data
    if not isinstance(data, dict):
        return ""
    err = data.get("error")
    if isinstance(err, dict):
        return str(err.get("message") or err.get("code") or "")
    detail = data.get("detail")
    if isinstance(detail, list):
        parts = []
        for d in detail:
            if isinstance(d, dict):
                loc = ".".join(str(x) for x in d.get("loc", []) if x != "body")
                parts.append(f"{loc}: {d.get('msg', '')}" if loc else str(d.get("msg", "")))
            else:
                parts.append(str(d))
        return "; ".join(p for p in parts if p)
    for key in ("detail", "message", "msg", "error", "title", "failMsg"):
        v = data.get(key)
        if isinstance(v, str) and v:
            return v
    return ""


_STATUS_KIND = {
    400: ErrorKind.VALIDATION,
    401: ErrorKind.AUTH,
    402: ErrorKind.CREDITS,
    403: ErrorKind.AUTH,
    404: ErrorKind.PROVIDER,
    408: ErrorKind.TIMEOUT,
    413: ErrorKind.VALIDATION,
    422: ErrorKind.VALIDATION,
    429: ErrorKind.RATE_LIMITED,
}

_KIND_SENTENCE = {
    ErrorKind.AUTH: "{p} says the key is invalid or lacks access — check Settings → Keys.",
    ErrorKind.CREDITS: "{p} says the account is out of credits — top up, then run again.",
    ErrorKind.VALIDATION: "{p} refused the request as invalid.",
    ErrorKind.RATE_LIMITED: "{p} is rate-limiting this account — wait a moment and run again.",
    ErrorKind.PROVIDER: "{p} failed on its side.",
    ErrorKind.TIMEOUT: "{p} did not answer in time.",
    ErrorKind.MODERATED: "{p} flagged the request and did not run it.",
    ErrorKind.EXPIRED: "{p}'s result link expired before it could be downloaded.",
}


def kind_for_status(status: int) -> ErrorKind:
    if status in _STATUS_KIND:
        return _STATUS_KIND[status]
    return ErrorKind.PROVIDER


def provider_error(
    label: str, response: httpx.Response, *, kind: ErrorKind | None = None, message: str | None = None
) -> ProviderError:
    """Map an HTTP error answer to a ``ProviderError`` with a human sentence and the provider's words."""
    kind = kind or kind_for_status(response.status_code)
    said = message if message is not None else body_message(response)
    sentence = _KIND_SENTENCE.get(kind, "{p} refused the request.").format(p=label)
    text = f"{sentence} ({response.status_code}: {said})" if said else f"{sentence} ({response.status_code})"
    return ProviderError(
        text,
        kind=kind,
        status=response.status_code,
        provider_message=said,
        retry_after=parse_retry_after(response.headers),
    )


def error(label: str, kind: ErrorKind, said: str = "", **kw: Any) -> ProviderError:
    sentence = _KIND_SENTENCE.get(kind, "{p} refused the request.").format(p=label)
    return ProviderError(
        f"{sentence} ({said})" if said else sentence, kind=kind, provider_message=said or None, **kw
    )


def json_body(label: str, response: httpx.Response) -> Any:
    """Parse a JSON answer or raise a clear provider error (malformed JSON is the provider's fault)."""
    try:
        return response.json()
    except (json.JSONDecodeError, UnicodeDecodeError, ValueError):
        snippet = response.text[:120].strip()
        raise ProviderError(
            f"{label} sent an answer that is not valid JSON ({snippet!r}).",
            kind=ErrorKind.PROVIDER,
            status=response.status_code,
        ) from None


def _origin(exc: Exception) -> str:
    """scheme://host:port of the request that failed — never its path, query or headers (a key may be there)."""
    try:
        url = exc.request.url  # type: ignore[attr-defined]
    except (AttributeError, RuntimeError):
        return ""
    port = url.port or {"http": 80, "https": 443}.get(url.scheme, 0)
    return f"{url.scheme}://{url.host}:{port}" if url.host else ""


def network_error(label: str, exc: Exception, *, paid: bool = False) -> ProviderError:
    """A plain sentence: which address was tried and what to do; no exception class names. A connection
    that could not be made sent nothing (``unsent``); for the ``paid`` submit the sentence says so."""
    import httpx

    origin = _origin(exc)
    at = f" at {origin}" if origin else ""
    if isinstance(exc, httpx.ConnectTimeout | httpx.ConnectError):
        verb = "did not answer" if isinstance(exc, httpx.ConnectTimeout) else "could not be reached"
        if paid:
            text = (
                f"{label}{at} {verb}, so nothing was sent and nothing was billed: check the address "
                "(--base-url) and your connection."
            )
        else:
            text = f"{label}{at} {verb}: check your connection, or the address (--base-url)."
        return ProviderError(
            text,
            kind=ErrorKind.TIMEOUT if isinstance(exc, httpx.ConnectTimeout) else ErrorKind.NETWORK,
            unsent=True,
        )
    if isinstance(exc, httpx.TimeoutException):
        return ProviderError(f"{label}{at} did not answer in time.", kind=ErrorKind.TIMEOUT)
    return ProviderError(
        f"The connection to {label}{at} broke before its answer was complete.", kind=ErrorKind.NETWORK
    )
