"""fal.ai queue protocol for FLUX.2 [flex] (providers.md §2).

Submit ``POST {base}/fal-ai/flux-2-flex/edit`` (with references) or ``POST {base}/fal-ai/flux-2-flex``
(text-to-image) with ``Authorization: Key <FAL_KEY>``; the answer names ``status_url``, ``response_url``
and ``cancel_url``, which are stored verbatim and used as given (they omit the ``/edit`` sub-path, so
they are never rebuilt from the submit URL). Status is polled with ``?logs=1``; on ``COMPLETED`` the
result is fetched from ``response_url``. A content-policy refusal arrives as a 422 on that result GET.

The key goes only to the configured API origin: a status/result/cancel URL on another origin is refused
with a clear error rather than followed with credentials. Result images (fal CDN, or ``data:`` URIs)
are downloaded with no credentials.

References (providers.md §2.3, the flow ``fal_client`` uses): a reference above ``INLINE_MAX_BYTES`` is
uploaded once to fal storage — ``POST {rest}/storage/auth/token?storage_type=fal-cdn-v3`` with the key
(``{}`` → ``{token, token_type, base_url, expires_at}``), then ``POST {cdn}/files/upload`` with
``Authorization: {token_type} {token}`` (the short-lived storage token, never the key), the image's
``Content-Type``, ``X-Fal-File-Name`` and ``X-Fal-Object-Lifecycle: {"expiration_duration_seconds": N}``
→ ``{"access_url"}`` — and its URL is cached (``uploads.Uploads``) for every later job on the account.
``rest`` and ``cdn`` are ``https://rest.fal.ai`` and ``https://v3.fal.media``; with an overridden API root
``B`` they are ``B/rest`` and ``B/cdn`` (architecture.md). A submit refused with ``file_download_error``
after cached URLs were sent is sent once more with fresh uploads (a 422 creates no job).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..core.errors import BadInput, ErrorKind, JobGone, ProviderError, verdict
from .answers import body_message, error, json_body, provider_error
from .base import (
    PollResult,
    PreparedReference,
    ProviderContext,
    ProviderInfo,
    Result,
    Submission,
)
from .http import HttpProvider, check_url
from .profiles.fal import (
    GUIDANCE_RANGE,
    SAFETY_RANGE,
    STEPS_RANGE,
)
from .profiles.fal import PROFILES as PROFILES
from .uploads import Uploaded, UploadingProvider, account_fingerprint, epoch_seconds

if TYPE_CHECKING:
    import httpx

    from ..core.request import EditRequest

MODEL = "fal-ai/flux-2-flex"  # text-to-image; "/edit" is appended when there are references
TIMEOUT_ERROR_TYPES = {"request_timeout", "startup_timeout"}
INPUT_FIELDS = {"prompt", "image_urls"}  # a content-policy 422 naming these was about the input
REST_URL = "https://rest.fal.ai"  # fal_client's REST_URL (storage token)
CDN_URL = "https://v3.fal.media"  # fal_client's CDN_URL (uploads)
INLINE_MAX_BYTES = 256 * 1024  # smaller references travel as data URIs inside the request
UPLOAD_LIFETIME = 86_400  # seconds fal keeps an upload (fal_client's "1d" lifecycle)
REFUSED_URL_TYPES = {"file_download_error"}
_EXT = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp"}


def clamp(value: float, lo: float, hi: float) -> float:
    return max(lo, min(hi, value))


def data_uri(ref: PreparedReference) -> str:
    return f"data:{ref.mime};base64,{base64.b64encode(ref.data).decode('ascii')}"


def with_query(url: str, name: str, value: str) -> str:
    """``url`` with ``name=value`` appended, keeping whatever query (and fragment) it already has."""
    base, hash_, fragment = url.partition("#")
    sep = "&" if "?" in base else "?"
    if base.endswith(("?", "&")):
        sep = ""
    return f"{base}{sep}{name}={value}{hash_}{fragment}"


def _refused_url(response: httpx.Response) -> bool:
    """A 422 saying fal could not fetch one of the image URLs (no job was created)."""
    if response.status_code != 422:
        return False
    data = _json_or_none(response)
    detail = data.get("detail") if isinstance(data, dict) else None
    return isinstance(detail, list) and any(
        isinstance(d, dict) and d.get("type") in REFUSED_URL_TYPES for d in detail
    )


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _last_log(logs: Any) -> str:
    if isinstance(logs, list):
        for entry in reversed(logs):
            if isinstance(entry, dict) and isinstance(entry.get("message"), str) and entry["message"].strip():
                return str(entry["message"]).strip()
    return ""


class FalProvider(UploadingProvider, HttpProvider):
    """The fal.ai queue API (submit → status → result, cancel)."""

    def __init__(self, info: ProviderInfo, ctx: ProviderContext) -> None:
        super().__init__(info, ctx)
        self.base = self._base()
        options = self.options
        self.model = str(options.get("model", MODEL)).strip("/")
        self.inline_max_bytes = INLINE_MAX_BYTES
        overridden = self.ctx.base_url is not None
        self.rest_url = str(
            options.get("rest_url") or (f"{self.base}/rest" if overridden else REST_URL)
        ).rstrip("/")
        self.cdn_url = str(options.get("cdn_url") or (f"{self.base}/cdn" if overridden else CDN_URL)).rstrip(
            "/"
        )

    # ------------------------------------------------------------------ plumbing
    def _auth(self) -> dict[str, str]:
        key = self.require_key()
        return {"Authorization": f"Key {key}"}

    def _api_url(self, url: Any, what: str) -> str:
        return self.api_url(url, what, noun="job", secret="key")

    def _error(self, response: httpx.Response) -> ProviderError:
        """Map a fal error answer (flat ``{detail, error_type}`` or FastAPI ``{detail: [...]}``)."""
        label = self.info.label
        status = response.status_code
        data = _json_or_none(response)
        said = body_message(response)
        detail = data.get("detail") if isinstance(data, dict) else None
        error_type = (data.get("error_type") if isinstance(data, dict) else None) or response.headers.get(
            "x-fal-error-type"
        )
        if isinstance(detail, list):
            policy = [
                d for d in detail if isinstance(d, dict) and d.get("type") == "content_policy_violation"
            ]
            if policy:
                return self._moderated(policy[0], said, status)
        kind: ErrorKind | None = None
        if status == 403:
            kind = ErrorKind.CREDITS if "user is locked" in said.lower() else ErrorKind.AUTH
        elif status == 400:
            kind = ErrorKind.VALIDATION
        elif error_type in TIMEOUT_ERROR_TYPES:
            kind = ErrorKind.TIMEOUT
        if isinstance(error_type, str) and error_type and error_type not in said:
            said = f"{said} [{error_type}]"
        return provider_error(label, response, kind=kind, message=said)

    def _moderated(self, item: Mapping[str, Any], said: str, status: int | None) -> ProviderError:
        raw_loc = item.get("loc")
        loc = raw_loc if isinstance(raw_loc, list) else []
        stage = "input" if INPUT_FIELDS & {str(x) for x in loc} else "output"
        what = "the prompt or references" if stage == "input" else "the result"
        return ProviderError(
            f"{self.info.label}'s content checker flagged {what}. ({said})",
            kind=ErrorKind.MODERATED,
            status=status,
            provider_message=said,
            moderation_stage=stage,
        )

    # ------------------------------------------------------------------ fal storage
    def inline_reference(self, ref: PreparedReference) -> str | None:
        return data_uri(ref)

    async def _storage_token(self) -> tuple[str, str]:
        """fal storage's short-lived upload token (fetched with the key from the REST API, shared by all
        jobs of the account until its ``expires_at``)."""
        key = (self.info.id, account_fingerprint(self.require_key()))
        token_type, token = await self.uploads.credential(key, self._fetch_storage_token)
        return str(token_type), str(token)

    async def _fetch_storage_token(self) -> tuple[tuple[str, str], float]:
        url = f"{self.rest_url}/storage/auth/token?storage_type=fal-cdn-v3"
        response = await self.http.idempotent(
            "POST", url, json={}, headers={**self._auth(), "Accept": "application/json"}
        )
        if not response.is_success:
            raise self._error(response)
        data = json_body(self.info.label, response)
        token = data.get("token") if isinstance(data, dict) else None
        token_type = data.get("token_type") if isinstance(data, dict) else None
        if not isinstance(token, str) or not token or not isinstance(token_type, str) or not token_type:
            raise error(
                self.info.label, ErrorKind.PROVIDER, "the storage token answer lacks token/token_type"
            )
        expires = epoch_seconds(data.get("expires_at")) or self.uploads.clock() + 300
        return (token_type, token), expires

    async def upload_reference(self, ref: PreparedReference) -> Uploaded:
        token_type, token = await self._storage_token()
        url = check_url(f"{self.cdn_url}/files/upload", what="upload URL")
        name = f"{ref.source_sha256[:16] or 'reference'}-{ref.width}x{ref.height}.{_EXT.get(ref.mime, 'png')}"
        headers = {
            "Authorization": f"{token_type} {token}",
            "Content-Type": ref.mime,
            "X-Fal-File-Name": name,
            "X-Fal-Object-Lifecycle": json.dumps({"expiration_duration_seconds": UPLOAD_LIFETIME}),
        }
        started = self.uploads.clock()
        response = await self.http.idempotent("POST", url, content=ref.data, headers=headers)
        if not response.is_success:
            raise self._error(response)
        data = json_body(self.info.label, response)
        access = data.get("access_url") if isinstance(data, dict) else None
        if not isinstance(access, str) or not access:
            raise error(self.info.label, ErrorKind.PROVIDER, "the upload answer has no access_url")
        return Uploaded(check_url(access, what="uploaded reference URL"), started + UPLOAD_LIFETIME)

    def _gone(self, response: httpx.Response) -> JobGone:
        said = body_message(response)
        return JobGone(
            f"{self.info.label} no longer knows this request ({response.status_code}: {said}); "
            "it cannot be finished.",
            kind=ErrorKind.PROVIDER,
            status=response.status_code,
            provider_message=said,
        )

    # ------------------------------------------------------------------ the four steps
    def build_body(
        self,
        request: EditRequest,
        references: Sequence[PreparedReference],
        image_urls: Sequence[str] | None = None,
    ) -> dict[str, Any]:
        caps = self.info.capabilities
        if len(references) > caps.max_references:
            raise BadInput(
                f"{self.info.label} takes at most {caps.max_references} reference images "
                f"(got {len(references)})."
            )
        if request.output_format not in caps.formats:
            raise BadInput(
                f"{self.info.label} cannot return {request.output_format.upper()}; choose JPEG or PNG."
            )
        request = request.resolved()
        width, height = request.output_size(caps.max_pixels)
        body: dict[str, Any] = {"prompt": request.prompt}
        if references:
            body["image_urls"] = (
                list(image_urls) if image_urls is not None else [data_uri(r) for r in references]
            )
        body.update(
            {
                "image_size": {"width": width, "height": height},
                "num_inference_steps": int(clamp(request.steps, *STEPS_RANGE)),
                "guidance_scale": float(clamp(request.guidance, *GUIDANCE_RANGE)),
                "seed": request.seed,
                "safety_tolerance": str(int(clamp(request.safety, *SAFETY_RANGE))),
                "enable_safety_checker": True,
                "output_format": request.output_format,
            }
        )
        return body

    async def submit(self, request: EditRequest, references: Sequence[PreparedReference]) -> Submission:
        headers = self._auth()
        self.build_body(request, references, ())  # refuse a bad request before anything is uploaded
        values, reused = await self.reference_values(references)
        body = self.build_body(request, references, values)
        url = f"{self.base}/{self.model}/edit" if references else f"{self.base}/{self.model}"
        response = await self.http.submit("POST", url, json=body, headers=headers)
        if reused and _refused_url(response):
            # fal could not fetch a cached upload (expired or removed): no job was made; upload afresh, once
            values, _ = await self.reference_values(references, fresh=True)
            body["image_urls"] = values
            response = await self.http.submit("POST", url, json=body, headers=headers)
        if not response.is_success:
            raise self._error(response)
        data = json_body(self.info.label, response)
        # An accepting answer we cannot read: the request may be queued and billed (the status says so).
        accepted = response.status_code
        if not isinstance(data, dict):
            raise error(
                self.info.label, ErrorKind.PROVIDER, "the queue answer is not a JSON object", status=accepted
            )
        missing = [
            k
            for k in ("request_id", "response_url", "status_url", "cancel_url")
            if not isinstance(data.get(k), str) or not data.get(k)
        ]
        if missing:
            said = f"the queue answer lacks {', '.join(missing)}"
            raise error(self.info.label, ErrorKind.PROVIDER, said, status=accepted)
        request_id = data["request_id"]
        for name in ("status_url", "response_url", "cancel_url"):
            try:
                self._api_url(data[name], name.replace("_", " "))
            except ProviderError as exc:
                # the request is queued (and billed) but cannot be followed safely: "may have been billed"
                raise ProviderError(
                    f"{exc} (fal request {request_id})", kind=exc.kind, status=accepted
                ) from None
        handle = {
            "request_id": request_id,
            "status_url": data["status_url"],
            "response_url": data["response_url"],
            "cancel_url": data["cancel_url"],
        }
        return Submission(provider_job_id=request_id, handle=handle)

    async def poll(self, handle: Mapping[str, Any]) -> PollResult:
        headers = self._auth()
        status_url = self._api_url(handle.get("status_url"), "status URL")
        response = await self.http.get(with_query(status_url, "logs", "1"), headers=headers)
        if response.status_code in (404, 410):
            raise self._gone(response)
        if not response.is_success:
            raise self._error(response)
        data = json_body(self.info.label, response)
        if not isinstance(data, dict):
            raise error(self.info.label, ErrorKind.PROVIDER, "the status answer is not a JSON object")
        status = data.get("status")
        if status == "IN_QUEUE":
            position = data.get("queue_position")
            return PollResult("queued", queue_position=position if isinstance(position, int) else None)
        if status == "IN_PROGRESS":
            return PollResult("running", message=_last_log(data.get("logs")))
        if status == "COMPLETED":
            if data.get("error") or data.get("error_type"):
                raise self._completed_error(data)
            result = await self._result(handle, headers)
            return PollResult("done", result=result, message=_last_log(data.get("logs")))
        raise error(self.info.label, ErrorKind.PROVIDER, f"unknown queue status {status!r}")

    def _completed_error(self, data: Mapping[str, Any]) -> ProviderError:
        said = str(data.get("error") or data.get("error_type"))
        error_type = data.get("error_type")
        if error_type == "content_policy_violation":
            return self._moderated({}, said, None)
        kind = ErrorKind.TIMEOUT if error_type in TIMEOUT_ERROR_TYPES else ErrorKind.PROVIDER
        if isinstance(error_type, str) and error_type not in said:
            said = f"{said} [{error_type}]"
        return verdict(error(self.info.label, kind, said))

    async def _result(self, handle: Mapping[str, Any], headers: dict[str, str]) -> Result:
        url = self._api_url(handle.get("response_url"), "response URL")
        response = await self.http.get(url, headers=headers)
        if response.status_code in (404, 410):
            raise self._gone(response)
        if not response.is_success:
            exc = self._error(response)
            if 400 <= response.status_code < 500 and response.status_code not in (401, 403, 408, 425, 429):
                verdict(exc)  # fal checks a request while running it: a 4xx result is its verdict on the job
            raise exc
        data = json_body(self.info.label, response)
        images = data.get("images") if isinstance(data, dict) else None
        if not isinstance(images, list):
            raise error(self.info.label, ErrorKind.PROVIDER, "the result has no images list")
        urls = tuple(i["url"] for i in images if isinstance(i, dict) and isinstance(i.get("url"), str))
        if not urls:
            raise error(self.info.label, ErrorKind.PROVIDER, "the result holds no image")
        seed = data.get("seed")
        return Result(urls=urls, seed=seed if isinstance(seed, int) and not isinstance(seed, bool) else None)

    async def download(self, url: str) -> bytes:
        return await self.http.download(url)

    async def cancel(self, handle: Mapping[str, Any]) -> bool:
        headers = self._auth()
        url = self._api_url(handle.get("cancel_url"), "cancel URL")
        response = await self.http.idempotent("PUT", url, headers=headers)
        data = _json_or_none(response)
        state = data.get("status") if isinstance(data, dict) else None
        if state == "ALREADY_COMPLETED" or state == "NOT_FOUND" or response.status_code == 404:
            return False
        if response.is_success:
            return True
        raise self._error(response)
