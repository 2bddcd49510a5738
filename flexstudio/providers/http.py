"""Network hygiene shared by every provider: URL checks, one retry policy, safe downloads (reading the
answers and mapping errors is in ``answers``).

Rules (providers.md §11): https only except loopback; credentials only to the API host (downloads carry
no auth header and follow redirects by hand, re-checking each hop); a paid submit is retried only when
the provider provably did not take it (connect error, 429, 503); GETs are retried with capped backoff
honouring Retry-After (up to a cap); every request has connect, read and total timeouts cut to the
job's ``Deadline``; a download has a size cap on the decoded bytes and a minimum rate (a drip is cut).
"""

from __future__ import annotations

import ipaddress
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ..core.errors import DeadlineExceeded, ErrorKind, ProviderError, verdict
from .answers import error, network_error, parse_retry_after, provider_error
from .deadline import MIN_DOWNLOAD_RATE, POLL_STEP, RATE_GRACE_S, Deadline

if TYPE_CHECKING:
    import httpx

    from .base import ProviderContext, ProviderInfo

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
    raise ProviderError(
        f"Refusing the {what} {redact_url(url)!r}: only https is allowed (plain http only to this computer).",
        kind=ErrorKind.NETWORK,
    )


def redact_url(url: str) -> str:
    """The URL without its query (signed URLs carry secrets in the query)."""
    p = urlsplit(url)
    return f"{p.scheme}://{p.netloc}{p.path}" + ("?…" if p.query else "")


def same_origin(a: str, b: str) -> bool:
    pa, pb = urlsplit(a), urlsplit(b)
    return (pa.scheme, pa.hostname, pa.port) == (pb.scheme, pb.hostname, pb.port)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    attempts: int = 5  # total tries for a GET
    base: float = 0.5
    cap: float = 8.0  # the longest backoff between tries
    max_retry_after: float = 60.0  # a longer Retry-After is waited only this long
    submit_attempts: int = 3  # total tries for a paid submit (only where it provably was not taken)

    def backoff(self, attempt: int) -> float:
        delay = min(self.cap, self.base * (2.0**attempt))
        return delay * (0.75 + random.random() * 0.5)


RETRY = RetryPolicy()


class Http:
    """The HTTP steps of one provider, sharing the retry policy and the hygiene rules.

    With a ``Deadline`` (the job runner always passes one) polls and downloads are retried for as long
    as the job's retry budget and time limit allow; without one, ``policy.attempts`` tries per call.
    ``read_timeout`` is the longest wait between bytes of one answer (a synchronous gateway renders
    while it holds the call, so its profile sets a long one).
    """

    def __init__(
        self,
        client: httpx.AsyncClient,
        label: str,
        *,
        sleep: Sleep | None = None,
        policy: RetryPolicy = RETRY,
        timeout: httpx.Timeout | None = None,
        deadline: Deadline | None = None,
        read_timeout: float | None = None,
    ) -> None:
        self.client = client
        self.label = label
        if sleep is None:
            import asyncio

            sleep = asyncio.sleep
        self.sleep: Sleep = sleep
        self.policy = policy
        import httpx  # imported on first use: it costs start-up time

        self._httpx = httpx
        self.timeout = timeout or _timeout(read_timeout)
        self.deadline = deadline
        self.read_timeout = read_timeout

    # ------------------------------------------------------------------ limits
    def _step_timeout(self) -> httpx.Timeout:
        """This request's timeouts: the helper's own, cut to what is left of the job's time limit."""
        t = self.timeout
        d = self.deadline
        if d is None or d.remaining() is None:
            return t

        def cut(v: float | None) -> float | None:
            return None if v is None else d.cap(v)

        return self._httpx.Timeout(
            connect=cut(t.connect), read=cut(t.read), write=cut(t.write), pool=cut(t.pool)
        )

    def _step_total(self) -> float | None:
        """The longest one whole request may take (connect + send + every read)."""
        base = max(POLL_STEP.total, (self.timeout.read or 0.0) + (self.timeout.connect or 0.0) + 30.0)
        return base if self.deadline is None else self.deadline.cap(base)

    async def _request(self, method: str, url: str, **kw: Any) -> httpx.Response:
        import asyncio

        if self.deadline is not None:
            self.deadline.check(self.label)
        total = self._step_total()
        try:
            return await asyncio.wait_for(
                self.client.request(method, url, timeout=self._step_timeout(), follow_redirects=False, **kw),
                total,
            )
        except TimeoutError:
            raise self._httpx.ReadTimeout(f"no whole answer within {total:g} s") from None

    async def _wait(self, wait: float, attempt: int, *, offline: bool = False) -> bool:
        """Wait before try ``attempt + 1`` if the budget allows; False when the caller should give up.
        ``offline``: no host could be reached (a shorter budget: resume fetches the job later)."""
        wait = min(max(0.0, wait), self.policy.max_retry_after)
        d = self.deadline
        if d is None:
            if attempt >= self.policy.attempts - 1:
                return False
        elif not d.may_retry(wait, offline=offline):
            return False
        if d is not None:
            d.note_wait(wait, retry=True, offline=offline)
        await self.sleep(wait)
        return True

    async def retry_wait(self, wait: float, attempt: int) -> bool:
        """A protocol's own retry (an answer that says "busy" in its body, not in its status): the same
        wait as this helper's retries — Retry-After capped, counted by the job's deadline; False when
        the budget is spent and the caller should give up."""
        return await self._wait(wait, attempt)

    def _gave_up(self, err: ProviderError) -> ProviderError:
        """The error to raise when retrying ends: the job's time limit when that is what ran out."""
        d = self.deadline
        if d is not None and d.expired:
            exc = d.exceeded(self.label)
            exc.provider_message = str(err)
            return exc
        return err

    # ------------------------------------------------------------------ requests
    async def submit(
        self, method: str, url: str, *, default_retry_after: float | None = None, **kw: Any
    ) -> httpx.Response:
        """A paid request: retried only on a connect error or a 429/503 answer (no job was created).

        Any other outcome — a read timeout, a reset after sending, another 5xx — is returned or raised
        at once: a job may exist, and trying again could charge twice. Such a lost answer is raised with
        ``submitted=True``: the job may have been billed.
        """
        check_url(url, what="API URL")
        for attempt in range(self.policy.submit_attempts):
            last = attempt == self.policy.submit_attempts - 1
            try:
                response = await self._request(method, url, **kw)
            except DeadlineExceeded:
                raise
            except (self._httpx.ConnectError, self._httpx.ConnectTimeout) as exc:
                if last or not await self._wait(self.policy.backoff(attempt), 0):
                    # No connection was ever made: nothing was sent, whatever the time limit says.
                    raise network_error(self.label, exc, paid=True) from None
                continue
            except self._httpx.HTTPError as exc:
                err = network_error(self.label, exc)
                err.submitted = True
                raise err from None
            if response.status_code in (429, 503) and not last:
                fallback = (
                    default_retry_after if default_retry_after is not None else self.policy.backoff(attempt)
                )
                wait = parse_retry_after(response.headers, default=fallback)
                if wait is not None and wait <= self.policy.max_retry_after and await self._wait(wait, 0):
                    continue
            return response
        raise AssertionError("unreachable")

    async def get(
        self, url: str, *, retry_statuses: tuple[int, ...] = (408, 425, 429, 500, 502, 503, 504), **kw: Any
    ) -> httpx.Response:
        """An idempotent request (poll, status, result, cancel-less GET): retried with capped backoff."""
        return await self.idempotent("GET", url, retry_statuses=retry_statuses, **kw)

    async def idempotent(
        self,
        method: str,
        url: str,
        *,
        retry_statuses: tuple[int, ...] = (408, 425, 429, 500, 502, 503, 504),
        **kw: Any,
    ) -> httpx.Response:
        """Retried on network faults and ``retry_statuses`` with capped backoff and jitter, honouring
        ``Retry-After`` up to ``policy.max_retry_after``, until the budget runs out; then the last answer
        is returned (or the network fault raised)."""
        check_url(url, what="API URL")
        attempt = 0
        while True:
            try:
                response = await self._request(method, url, **kw)
            except DeadlineExceeded:
                raise
            except self._httpx.HTTPError as exc:
                offline = isinstance(exc, (self._httpx.ConnectError, self._httpx.ConnectTimeout))
                if not await self._wait(self.policy.backoff(attempt), attempt, offline=offline):
                    raise self._gave_up(network_error(self.label, exc)) from None
                attempt += 1
                continue
            if self.deadline is not None:
                self.deadline.note_answer()
            if response.status_code in retry_statuses:
                wait = parse_retry_after(response.headers, default=self.policy.backoff(attempt))
                if await self._wait(wait if wait is not None else self.policy.backoff(attempt), attempt):
                    attempt += 1
                    continue
                if self.deadline is not None and self.deadline.expired:
                    raise self._gave_up(provider_error(self.label, response))
            return response

    async def download(
        self, url: str, *, max_bytes: int = MAX_DOWNLOAD_BYTES, max_redirects: int = 5
    ) -> bytes:
        """Fetch a result with **no credentials**, following redirects by hand (each hop re-checked),
        retrying network faults, 5xx/429 and truncated or dripping bodies; 403/404/410 → the link has
        expired (the provider's verdict on the result)."""
        if url.startswith("data:"):
            return decode_data_uri(self.label, url)
        attempt = 0
        while True:
            if self.deadline is not None:
                self.deadline.check(self.label)
            try:
                return await self._download_once(url, max_bytes, max_redirects)
            except _Retryable as exc:
                wait = exc.wait if exc.wait is not None else self.policy.backoff(attempt)
                if not await self._wait(wait, attempt, offline=exc.offline):
                    raise self._gave_up(exc.error) from None
                attempt += 1

    async def _download_once(self, url: str, max_bytes: int, max_redirects: int) -> bytes:
        import asyncio

        current = url
        for _ in range(max_redirects + 1):
            check_url(current, what="result URL")
            if self.deadline is not None:
                self.deadline.check(self.label)
            # A fresh request with no default headers: nothing identifying the account leaves here.
            request = self.client.build_request("GET", current, timeout=self._step_timeout())
            for name in ("authorization", "x-key", "cookie"):
                if name in request.headers:
                    del request.headers[name]
            try:
                response = await asyncio.wait_for(
                    self.client.send(request, stream=True, follow_redirects=False), self._step_total()
                )
            except TimeoutError:
                raise _Retryable(
                    error(self.label, ErrorKind.TIMEOUT, "the download host sent no answer in time")
                ) from None
            except self._httpx.HTTPError as exc:
                offline = isinstance(exc, (self._httpx.ConnectError, self._httpx.ConnectTimeout))
                raise _Retryable(network_error(self.label, exc), offline=offline) from None
            if self.deadline is not None:
                self.deadline.note_answer()
            try:
                if response.status_code in (301, 302, 303, 307, 308):
                    location = response.headers.get("location")
                    if not location:
                        raise error(self.label, ErrorKind.PROVIDER, "redirect without a location")
                    current = str(self._httpx.URL(current).join(location))
                    continue
                if response.status_code in (401, 403, 404, 410):
                    raise verdict(
                        error(
                            self.label,
                            ErrorKind.EXPIRED,
                            f"{response.status_code} on the result link",
                            status=response.status_code,
                        )
                    )
                if response.status_code in (408, 425, 429, 500, 502, 503, 504):
                    wait = parse_retry_after(response.headers)
                    said = f"{response.status_code} while downloading the result" + (
                        f", asked to wait {wait:g} s" if wait else ""
                    )
                    kind = ErrorKind.RATE_LIMITED if response.status_code == 429 else ErrorKind.PROVIDER
                    raise _Retryable(error(self.label, kind, said, status=response.status_code), wait)
                if response.status_code != 200:
                    raise _Retryable(
                        error(
                            self.label,
                            ErrorKind.PROVIDER,
                            f"{response.status_code} while downloading the result",
                        )
                    )
                return await self._read_body(response, max_bytes)
            finally:
                await response.aclose()
        raise error(self.label, ErrorKind.PROVIDER, "too many redirects on the result link")

    async def _read_body(self, response: httpx.Response, max_bytes: int) -> bytes:
        """The decoded body, with the size cap on the *decoded* bytes, the length check on the bytes as
        sent (``Content-Length`` counts them compressed), a minimum rate and the job's time limit."""
        import asyncio

        encoded = bool(response.headers.get("content-encoding", "").strip(" ,").replace("identity", ""))
        declared = response.headers.get("content-length")
        if declared and declared.isdigit() and not encoded and int(declared) > max_bytes:
            raise verdict(
                error(
                    self.label,
                    ErrorKind.PROVIDER,
                    f"the result is {int(declared) // 1_048_576} MB, over the "
                    f"{max_bytes // 1_048_576} MB limit",
                )
            )
        chunks: list[bytes] = []
        size = 0
        started = time.monotonic()
        stream = response.aiter_bytes().__aiter__()
        while True:
            step = self.timeout.read or 60.0
            if self.deadline is not None:
                if self.deadline.expired:
                    raise _Retryable(error(self.label, ErrorKind.TIMEOUT, "the download ran out of time"))
                step = self.deadline.cap(step)
            try:
                chunk = await asyncio.wait_for(stream.__anext__(), step)
            except StopAsyncIteration:
                break
            except TimeoutError:
                raise _Retryable(error(self.label, ErrorKind.TIMEOUT, "the download stalled")) from None
            except self._httpx.HTTPError as exc:  # reset, truncated mid-body, or a body that does not decode
                what = "did not decode" if isinstance(exc, self._httpx.DecodingError) else "broke off"
                raise _Retryable(error(self.label, ErrorKind.NETWORK, f"the download {what}")) from None
            size += len(chunk)
            if size > max_bytes:
                raise verdict(
                    error(
                        self.label,
                        ErrorKind.PROVIDER,
                        f"the result is over the {max_bytes // 1_048_576} MB limit",
                    )
                )
            chunks.append(chunk)
            took = time.monotonic() - started
            if took > RATE_GRACE_S and size / took < MIN_DOWNLOAD_RATE:
                raise _Retryable(
                    error(
                        self.label, ErrorKind.NETWORK, f"the download crawled ({size} bytes in {took:.0f} s)"
                    )
                )
        data = b"".join(chunks)
        sent = response.num_bytes_downloaded
        if declared and declared.isdigit() and sent != int(declared):
            raise _Retryable(
                error(
                    self.label, ErrorKind.NETWORK, f"the download was truncated ({sent} of {declared} bytes)"
                )
            )
        return data


class _Retryable(Exception):
    def __init__(self, err: ProviderError, wait: float | None = None, *, offline: bool = False) -> None:
        super().__init__(str(err))
        self.error = err
        self.wait = wait
        self.offline = offline


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


def _timeout(read: float | None = None) -> httpx.Timeout:
    import httpx

    return httpx.Timeout(read or DEFAULT_TIMEOUT[0], connect=DEFAULT_TIMEOUT[1])


def new_client(**kw: Any) -> httpx.AsyncClient:
    """The client FlexStudio uses: no default auth, no redirects, bounded timeouts, no env proxies' auth."""
    import httpx

    return httpx.AsyncClient(
        timeout=_timeout(), follow_redirects=False, headers={"user-agent": "FlexStudio/0.1"}, **kw
    )


def read_timeout(options: Mapping[str, Any], default: float | None = None) -> float | None:
    """A profile's ``read_timeout`` option (seconds), else ``default``."""
    value = options.get("read_timeout")
    try:
        return float(value) if value not in (None, "") else default
    except (TypeError, ValueError):
        return default


class HttpProvider:
    """What the HTTP protocols share: merged profile options, the API root, the ``Http`` helper and the
    key check (no key → ``MissingKey`` before any request)."""

    default_read_timeout: float | None = None  # a synchronous gateway sets a long one

    def __init__(self, info: ProviderInfo, ctx: ProviderContext) -> None:
        self.info = info
        self.ctx = ctx
        self.options: dict[str, Any] = {**dict(info.options), **dict(ctx.options)}
        self._http: Http | None = None

    @property
    def http(self) -> Http:
        if self._http is None:
            if self.ctx.client is None:
                raise RuntimeError(f"{self.info.label}: no HTTP client was given")
            self._http = Http(
                self.ctx.client,
                self.info.label,
                sleep=self.ctx.sleep,
                deadline=self.ctx.deadline,
                read_timeout=read_timeout(self.options, self.default_read_timeout),
            )
        return self._http

    def _base(self) -> str:
        return (self.ctx.base_url or self.info.default_base_url).rstrip("/")

    def require_key(self) -> str:
        from ..core.errors import MissingKey

        key: str = (self.ctx.api_key or "").strip()
        if not key:
            raise MissingKey.of(self.info.label, self.info.id, self.info.env_var)
        from ..core.validate import check_key

        return check_key(key, label=self.info.label)  # never put a malformed key into a header

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
                f"sent to {p.scheme}://{p.netloc}, so this {noun} cannot be followed.",
                kind=ErrorKind.PROVIDER,
            )
        return url
