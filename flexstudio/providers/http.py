"""Network hygiene shared by every provider: URL checks, one retry policy, safe downloads, error mapping.

Rules (providers.md §11): https only except loopback; credentials only to the API host (downloads carry
no auth header and follow redirects by hand, re-checking each hop); a paid submit is retried only when
the provider provably did not take it (connect error, 429, 503); GETs are retried with capped backoff
honouring Retry-After; every request is bounded by a timeout; a download has a size cap.
"""

from __future__ import annotations

import ipaddress
import json
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ..core.errors import ErrorKind, ProviderError

if TYPE_CHECKING:
    import httpx

LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1"}
DEFAULT_TIMEOUT = (60.0, 10.0)  # read/write/pool seconds, connect seconds
MAX_DOWNLOAD_BYTES = 64 * 1024 * 1024
Sleep = Callable[[float], Awaitable[None]]


def is_loopback(host: str) -> bool:
    host = host.strip("[]").lower()
    if host in LOOPBACK_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_url(url: str, *, what: str = "URL") -> str:
    """Refuse anything but https (plain http only to loopback, for local emulators and tests)."""
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return url
    if parts.scheme == "http" and parts.hostname and is_loopback(parts.hostname):
        return url
    raise ProviderError(f"Refusing the {what} {redact_url(url)!r}: only https is allowed "
                        "(plain http only to this computer).", kind=ErrorKind.NETWORK)


def redact_url(url: str) -> str:
    """The URL without its query (signed URLs carry secrets in the query)."""
    p = urlsplit(url)
    return f"{p.scheme}://{p.netloc}{p.path}" + ("?…" if p.query else "")


def same_origin(a: str, b: str) -> bool:
    pa, pb = urlsplit(a), urlsplit(b)
    return (pa.scheme, pa.hostname, pa.port) == (pb.scheme, pb.hostname, pb.port)


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


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    attempts: int = 5            # total tries for a GET
    base: float = 0.5
    cap: float = 8.0             # the longest backoff between tries
    max_retry_after: float = 60.0  # a Retry-After longer than this ends the job instead
    submit_attempts: int = 3     # total tries for a paid submit (only where it provably was not taken)

    def backoff(self, attempt: int) -> float:
        delay = min(self.cap, self.base * (2 ** attempt))
        return delay * (0.75 + random.random() * 0.5)


RETRY = RetryPolicy()


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


_STATUS_KIND = {400: ErrorKind.VALIDATION, 401: ErrorKind.AUTH, 402: ErrorKind.CREDITS, 403: ErrorKind.AUTH,
                404: ErrorKind.PROVIDER, 408: ErrorKind.TIMEOUT, 413: ErrorKind.VALIDATION,
                422: ErrorKind.VALIDATION, 429: ErrorKind.RATE_LIMITED}

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


def provider_error(label: str, response: httpx.Response, *, kind: ErrorKind | None = None,
                   message: str | None = None) -> ProviderError:
    """Map an HTTP error answer to a ``ProviderError`` with a human sentence and the provider's words."""
    kind = kind or kind_for_status(response.status_code)
    said = message if message is not None else body_message(response)
    sentence = _KIND_SENTENCE.get(kind, "{p} refused the request.").format(p=label)
    text = f"{sentence} ({response.status_code}: {said})" if said else f"{sentence} ({response.status_code})"
    return ProviderError(text, kind=kind, status=response.status_code, provider_message=said,
                         retry_after=parse_retry_after(response.headers))


def error(label: str, kind: ErrorKind, said: str = "", **kw: Any) -> ProviderError:
    sentence = _KIND_SENTENCE.get(kind, "{p} refused the request.").format(p=label)
    return ProviderError(f"{sentence} ({said})" if said else sentence, kind=kind, provider_message=said or None,
                         **kw)


def json_body(label: str, response: httpx.Response) -> Any:
    """Parse a JSON answer or raise a clear provider error (malformed JSON is the provider's fault)."""
    try:
        return response.json()
    except (json.JSONDecodeError, UnicodeDecodeError, ValueError):
        snippet = response.text[:120].strip()
        raise ProviderError(f"{label} sent an answer that is not valid JSON ({snippet!r}).",
                            kind=ErrorKind.PROVIDER, status=response.status_code) from None


def network_error(label: str, exc: Exception) -> ProviderError:
    import httpx

    if isinstance(exc, httpx.TimeoutException):
        return ProviderError(f"{label} did not answer in time ({type(exc).__name__}).", kind=ErrorKind.TIMEOUT)
    return ProviderError(f"Could not reach {label} ({type(exc).__name__}: {exc or 'connection failed'}).",
                         kind=ErrorKind.NETWORK)


class Http:
    """The HTTP steps of one provider, sharing the retry policy and the hygiene rules."""

    def __init__(self, client: httpx.AsyncClient, label: str, *, sleep: Sleep | None = None,
                 policy: RetryPolicy = RETRY, timeout: httpx.Timeout | None = None) -> None:
        self.client = client
        self.label = label
        if sleep is None:
            import asyncio

            sleep = asyncio.sleep
        self.sleep: Sleep = sleep
        self.policy = policy
        import httpx  # imported on first use: it costs start-up time

        self._httpx = httpx
        self.timeout = timeout or _timeout()

    async def submit(self, method: str, url: str, *, default_retry_after: float | None = None,
                     **kw: Any) -> httpx.Response:
        """A paid request: retried only on a connect error or a 429/503 answer (no job was created).

        Any other outcome — a read timeout, a reset after sending, another 5xx — is returned or raised
        at once: a job may exist, and trying again could charge twice.
        """
        check_url(url, what="API URL")
        for attempt in range(self.policy.submit_attempts):
            last = attempt == self.policy.submit_attempts - 1
            try:
                response = await self.client.request(method, url, timeout=self.timeout,
                                                     follow_redirects=False, **kw)
            except (self._httpx.ConnectError, self._httpx.ConnectTimeout) as exc:
                if last:
                    raise network_error(self.label, exc) from None
                await self.sleep(self.policy.backoff(attempt))
                continue
            except self._httpx.HTTPError as exc:
                raise network_error(self.label, exc) from None
            if response.status_code in (429, 503) and not last:
                fallback = default_retry_after if default_retry_after is not None else self.policy.backoff(attempt)
                wait = parse_retry_after(response.headers, default=fallback)
                if wait is not None and wait <= self.policy.max_retry_after:
                    await self.sleep(wait)
                    continue
            return response
        raise AssertionError("unreachable")

    async def get(self, url: str, *, retry_statuses: tuple[int, ...] = (408, 425, 429, 500, 502, 503, 504),
                  **kw: Any) -> httpx.Response:
        """An idempotent request (poll, status, result, cancel-less GET): retried with capped backoff."""
        return await self.idempotent("GET", url, retry_statuses=retry_statuses, **kw)

    async def idempotent(self, method: str, url: str, *,
                         retry_statuses: tuple[int, ...] = (408, 425, 429, 500, 502, 503, 504),
                         **kw: Any) -> httpx.Response:
        check_url(url, what="API URL")
        for attempt in range(self.policy.attempts):
            last = attempt == self.policy.attempts - 1
            try:
                response = await self.client.request(method, url, timeout=self.timeout,
                                                     follow_redirects=False, **kw)
            except self._httpx.HTTPError as exc:
                if last:
                    raise network_error(self.label, exc) from None
                await self.sleep(self.policy.backoff(attempt))
                continue
            if response.status_code in retry_statuses and not last:
                wait = parse_retry_after(response.headers, default=self.policy.backoff(attempt))
                if wait is not None and wait <= self.policy.max_retry_after:
                    await self.sleep(min(wait, self.policy.max_retry_after))
                    continue
            return response
        raise AssertionError("unreachable")

    async def download(self, url: str, *, max_bytes: int = MAX_DOWNLOAD_BYTES, max_redirects: int = 5) -> bytes:
        """Fetch a result with **no credentials**, following redirects by hand (each hop re-checked),
        retrying network faults and truncated bodies; 403/404/410 → the link has expired."""
        if url.startswith("data:"):
            return decode_data_uri(self.label, url)
        for attempt in range(self.policy.attempts):
            last = attempt == self.policy.attempts - 1
            try:
                return await self._download_once(url, max_bytes, max_redirects)
            except _Retryable as exc:
                if last:
                    raise exc.error from None
                await self.sleep(exc.wait if exc.wait is not None else self.policy.backoff(attempt))
        raise AssertionError("unreachable")

    async def _download_once(self, url: str, max_bytes: int, max_redirects: int) -> bytes:
        current = url
        for _ in range(max_redirects + 1):
            check_url(current, what="result URL")
            # A fresh request with no default headers: nothing identifying the account leaves here.
            request = self.client.build_request("GET", current, timeout=self.timeout)
            for name in ("authorization", "x-key", "cookie"):
                if name in request.headers:
                    del request.headers[name]
            try:
                response = await self.client.send(request, stream=True, follow_redirects=False)
            except self._httpx.HTTPError as exc:
                raise _Retryable(network_error(self.label, exc)) from None
            try:
                if response.status_code in (301, 302, 303, 307, 308):
                    location = response.headers.get("location")
                    if not location:
                        raise error(self.label, ErrorKind.PROVIDER, "redirect without a location")
                    current = str(self._httpx.URL(current).join(location))
                    continue
                if response.status_code in (401, 403, 404, 410):
                    raise error(self.label, ErrorKind.EXPIRED, f"{response.status_code} on the result link",
                                status=response.status_code)
                if response.status_code in (408, 429, 500, 502, 503, 504):
                    raise _Retryable(error(self.label, ErrorKind.PROVIDER,
                                           f"{response.status_code} while downloading the result",
                                           status=response.status_code),
                                     parse_retry_after(response.headers))
                if response.status_code != 200:
                    raise error(self.label, ErrorKind.PROVIDER,
                                f"{response.status_code} while downloading the result")
                declared = response.headers.get("content-length")
                if declared and declared.isdigit() and int(declared) > max_bytes:
                    raise error(self.label, ErrorKind.PROVIDER,
                                f"the result is {int(declared) // 1_048_576} MB, over the "
                                f"{max_bytes // 1_048_576} MB limit")
                chunks: list[bytes] = []
                size = 0
                try:
                    async for chunk in response.aiter_bytes():
                        size += len(chunk)
                        if size > max_bytes:
                            raise error(self.label, ErrorKind.PROVIDER,
                                        f"the result is over the {max_bytes // 1_048_576} MB limit")
                        chunks.append(chunk)
                except self._httpx.HTTPError as exc:  # reset or truncated mid-body
                    raise _Retryable(error(self.label, ErrorKind.NETWORK,
                                           f"the download broke off ({type(exc).__name__})")) from None
                data = b"".join(chunks)
                if declared and declared.isdigit() and len(data) != int(declared):
                    raise _Retryable(error(self.label, ErrorKind.NETWORK,
                                           f"the download was truncated ({len(data)} of {declared} bytes)"))
                return data
            finally:
                await response.aclose()
        raise error(self.label, ErrorKind.PROVIDER, "too many redirects on the result link")


class _Retryable(Exception):
    def __init__(self, err: ProviderError, wait: float | None = None) -> None:
        super().__init__(str(err))
        self.error = err
        self.wait = wait


def decode_data_uri(label: str, uri: str) -> bytes:
    import base64
    import binascii

    header, _, payload = uri.partition(",")
    if ";base64" not in header:
        raise error(label, ErrorKind.PROVIDER, "a data URI result that is not base64")
    try:
        return base64.b64decode(payload, validate=False)
    except (binascii.Error, ValueError):
        raise error(label, ErrorKind.PROVIDER, "a data URI result that does not decode") from None


def _timeout() -> httpx.Timeout:
    import httpx

    return httpx.Timeout(DEFAULT_TIMEOUT[0], connect=DEFAULT_TIMEOUT[1])


def new_client(**kw: Any) -> httpx.AsyncClient:
    """The client FlexStudio uses: no default auth, no redirects, bounded timeouts, no env proxies' auth."""
    import httpx

    return httpx.AsyncClient(timeout=_timeout(), follow_redirects=False,
                             headers={"user-agent": "FlexStudio/0.1"}, **kw)


class HttpProvider:
    """What the HTTP protocols share: merged profile options, the API root, the ``Http`` helper and the
    key check (no key → ``MissingKey`` before any request)."""

    def __init__(self, info: Any, ctx: Any) -> None:
        self.info = info
        self.ctx = ctx
        self.options: dict[str, Any] = {**dict(info.options), **dict(ctx.options)}
        self._http: Http | None = None

    @property
    def http(self) -> Http:
        if self._http is None:
            if self.ctx.client is None:
                raise RuntimeError(f"{self.info.label}: no HTTP client was given")
            self._http = Http(self.ctx.client, self.info.label, sleep=self.ctx.sleep)
        return self._http

    def _base(self) -> str:
        return (self.ctx.base_url or self.info.default_base_url).rstrip("/")

    def require_key(self) -> str:
        from ..core.errors import MissingKey

        key = (self.ctx.api_key or "").strip()
        if not key:
            raise MissingKey.of(self.info.label, self.info.id, self.info.env_var)
        return key

    def _bearer(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.require_key()}", "accept": "application/json"}

    def api_url(self, url: Any, what: str, *, noun: str = "job", secret: str = "key") -> str:
        """A URL the provider handed back (status, result, cancel), checked before the key is sent to
        it: https (or loopback) and the same origin as the API root, nothing else."""
        if not isinstance(url, str) or not url:
            raise error(self.info.label, ErrorKind.PROVIDER, f"the {noun} has no {what}")
        check_url(url, what=what)
        base = self._base()
        if not same_origin(url, base):
            p = urlsplit(base)
            raise ProviderError(
                f"{self.info.label} gave a {what} on another host ({redact_url(url)}); the {secret} is only "
                f"sent to {p.scheme}://{p.netloc}, so this {noun} cannot be followed.", kind=ErrorKind.PROVIDER)
        return url
