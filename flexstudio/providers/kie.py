"""Kie.ai "market" jobs API for FLUX.2 [flex] (providers.md §5.2).

Wire shape:
- ``POST {base}/api/v1/jobs/createTask`` with ``Authorization: Bearer <key>`` and
  ``{"model": "flux-2/flex-image-to-image" | "flux-2/flex-text-to-image",
  "input": {"prompt", "input_urls" (i2i, 1–8 URLs), "aspect_ratio", "resolution": "1K" | "2K"}}``
  → ``{"code": 200, "msg": "success", "data": {"taskId"}}``.
- ``GET {base}/api/v1/jobs/recordInfo?taskId=…`` → ``data.state`` waiting | queuing | generating |
  success | fail; ``data.resultJson`` and ``data.param`` are JSON *strings* (``resultJson`` →
  ``{"resultUrls": [...]}``); ``failCode`` / ``failMsg`` on failure.
- Kie answers HTTP 200 and puts the real status in the body's ``code`` (401 key, 402 credits, 404, 422
  validation, 429 rate limit, 455 unavailable, 500 server, 501 generation failed). Both an HTTP status
  and a body code are mapped; a body 429/455 on submit means no task was created, so it is retried
  after waiting (Retry-After when given) like an HTTP 429.

Decisions:
- No ``callBackUrl``: Kie documents it as optional, and a desktop app cannot receive callbacks — the
  task is polled instead.
- Steps, guidance, seed, safety, output format and prompt upsampling are not accepted by this model on
  Kie, so they are not sent (IGNORED in the capabilities). The size is sent as the nearest documented
  aspect ratio plus resolution 1K (up to 2 MP) or 2K.
- Reference images must be URLs. The user may give public https URLs (``reference_urls`` in the
  request's extras or the profile options), which are sent verbatim. Otherwise local references are
  uploaded first to Kie's documented File Upload API (``POST /api/file-stream-upload`` on
  ``https://kieai.redpandaai.co``, same key, free, files deleted after 3 days) and the returned
  ``downloadUrl`` is sent. With ``options["upload_references"] = False`` local references are refused
  with a clear error before anything is sent. When the API root is overridden (``--base-url``), uploads
  go to that same root unless ``options["upload_base_url"]`` says otherwise, so the key never leaves
  for the real upload host while talking to an emulator.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from ..core.errors import BadInput, ErrorKind, JobGone, ProviderError, verdict
from ..core.sizes import MEGAPIXEL
from .answers import error, json_body, parse_retry_after, provider_error
from .base import (
    PollResult,
    PreparedReference,
    ProviderContext,
    ProviderInfo,
    Result,
    Submission,
)
from .common import MODERATION_RE, moderation_stage, nearest_aspect, user_reference_urls
from .http import HttpProvider, check_url
from .profiles.kie import (
    MAX_REFERENCES,
    PROMPT_LENGTH,
    PROTOCOL,
)
from .profiles.kie import PROFILES as PROFILES
from .profiles.kie import capabilities as capabilities
from .uploads import Uploaded, UploadingProvider

if TYPE_CHECKING:
    import httpx

    from ..core.request import EditRequest

UPLOAD_BASE = "https://kieai.redpandaai.co"
MODEL_I2I = "flux-2/flex-image-to-image"
MODEL_T2I = "flux-2/flex-text-to-image"
UPLOAD_PATH = "flexstudio"
UPLOAD_LIFETIME = 3 * 86_400  # Kie's File Upload API deletes files after 3 days
_EXT = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp"}

QUEUED_STATES = {"waiting", "queuing"}
RUNNING_STATES = {"generating"}

GONE_RE = re.compile(r"not found|not exist|is null|no record", re.IGNORECASE)
_CODE_KIND = {
    400: ErrorKind.VALIDATION,
    401: ErrorKind.AUTH,
    402: ErrorKind.CREDITS,
    403: ErrorKind.AUTH,
    422: ErrorKind.VALIDATION,
    429: ErrorKind.RATE_LIMITED,
}
_RETRY_CODES = (429, 455)  # the task was not created: safe to send again after waiting
_POLL_RETRY_CODES = (429, 455, 500)  # a status read is idempotent


def resolution_tier(width: int, height: int) -> str:
    """1K (≈1 MP) or 2K (≈4 MP), whichever is nearer on a log scale: up to 2 MP → 1K."""
    return "1K" if width * height <= 2 * MEGAPIXEL else "2K"


class KieProvider(UploadingProvider, HttpProvider):
    def __init__(self, info: ProviderInfo, ctx: ProviderContext) -> None:
        super().__init__(info, ctx)

    # -------------------------------------------------------------------- plumbing

    def _upload_base(self) -> str:
        explicit = self.options.get("upload_base_url")
        if explicit:
            return str(explicit).rstrip("/")
        return self.ctx.base_url.rstrip("/") if self.ctx.base_url else UPLOAD_BASE

    def _auth(self) -> dict[str, str]:
        return self._bearer()

    # -------------------------------------------------------------------- steps
    async def submit(self, request: EditRequest, references: Sequence[PreparedReference]) -> Submission:
        auth = self._auth()
        lo, hi = PROMPT_LENGTH
        if not lo <= len(request.prompt) <= hi:
            raise BadInput(
                f"Kie.ai takes prompts of {lo} to {hi} characters; this one has {len(request.prompt)}."
            )
        urls = user_reference_urls(request, self.options)
        if urls is None and references:
            if not self.options.get("upload_references", True):
                raise ProviderError(
                    "Kie.ai needs reference images at public https URLs; local images cannot be sent to it. "
                    "Give the images' URLs (reference_urls) or turn on uploads to Kie's file storage.",
                    kind=ErrorKind.VALIDATION,
                )
            if len(references) > MAX_REFERENCES:
                raise BadInput(
                    f"Kie.ai takes at most {MAX_REFERENCES} reference images (got {len(references)})."
                )
            urls, _ = await self.reference_values(references)  # uploaded once per account, then reused
        if urls and len(urls) > MAX_REFERENCES:
            raise BadInput(f"Kie.ai takes at most {MAX_REFERENCES} reference images (got {len(urls)}).")
        width, height = request.output_size(self.info.capabilities.max_pixels)
        payload: dict[str, Any] = {
            "prompt": request.prompt,
            "aspect_ratio": nearest_aspect(width, height),
            "resolution": resolution_tier(width, height),
        }
        if urls:
            payload["input_urls"] = urls
        body = {"model": MODEL_I2I if urls else MODEL_T2I, "input": payload}
        data = await self._create(body, auth)
        task_id = data.get("taskId") if isinstance(data, dict) else None
        if not isinstance(task_id, str) or not task_id:
            raise error(self.info.label, ErrorKind.PROVIDER, "the answer holds no taskId", status=200)
        poll_url = f"{self._base()}/api/v1/jobs/recordInfo?taskId={quote(task_id, safe='')}"
        handle = {"protocol": PROTOCOL, "task_id": task_id, "poll_url": poll_url, "model": body["model"]}
        return Submission(provider_job_id=task_id, handle=handle)

    async def poll(self, handle: Mapping[str, Any]) -> PollResult:
        auth = self._auth()
        url = str(handle["poll_url"])
        label = self.info.label
        policy = self.http.policy
        for attempt in range(policy.attempts):
            response = await self.http.get(url, headers=auth)
            if response.status_code == 404:
                raise JobGone(
                    f"{label} no longer knows this task ({response.status_code}).",
                    kind=ErrorKind.PROVIDER,
                    status=404,
                )
            if response.status_code != 200:
                raise self._http_error(response)
            body = json_body(label, response)
            code = _code(body)
            if code in _POLL_RETRY_CODES and attempt < policy.attempts - 1:
                wait = parse_retry_after(response.headers, default=policy.backoff(attempt)) or 0
                if await self.http.retry_wait(wait, attempt):
                    continue
            if code != 200:
                msg = _msg(body)
                if code == 404 or (code == 422 and GONE_RE.search(msg)):
                    raise JobGone(
                        f"{label} no longer knows this task ({msg or code}).",
                        kind=ErrorKind.PROVIDER,
                        status=code,
                        provider_message=msg or None,
                    )
                raise self._code_error(code, msg)
            return self._record(body.get("data"))
        raise AssertionError("unreachable")

    async def download(self, url: str) -> bytes:
        return await self.http.download(url)

    async def cancel(self, handle: Mapping[str, Any]) -> bool:
        return False  # Kie documents no cancel endpoint

    # -------------------------------------------------------------------- internals
    async def _create(self, body: dict[str, Any], auth: dict[str, str]) -> Any:
        label = self.info.label
        policy = self.http.policy
        url = f"{self._base()}/api/v1/jobs/createTask"
        for attempt in range(policy.submit_attempts):
            response = await self.http.submit("POST", url, headers=auth, json=body)
            if response.status_code != 200:
                raise self._http_error(response)
            answer = json_body(label, response)
            code = _code(answer)
            if code in _RETRY_CODES and attempt < policy.submit_attempts - 1:
                wait = parse_retry_after(response.headers, default=policy.backoff(attempt))
                if (
                    wait is not None
                    and wait <= policy.max_retry_after
                    and await self.http.retry_wait(wait, 0)
                ):
                    continue
            if code is None:  # a 200 we cannot read: the task may exist and be billed (the status says so)
                raise error(
                    label, ErrorKind.PROVIDER, "the answer holds no code", status=response.status_code
                )
            if code != 200:
                raise self._code_error(code, _msg(answer), retry_after=parse_retry_after(response.headers))
            return answer.get("data")
        raise AssertionError("unreachable")

    def should_stage(self, request: EditRequest) -> bool:
        return user_reference_urls(request, self.options) is None and bool(
            self.options.get("upload_references", True)
        )

    async def upload_reference(self, ref: PreparedReference) -> Uploaded:
        """Put one local reference on Kie's temporary file storage (kept 3 days); return its public URL."""
        auth = self._auth()
        started = self.uploads.clock()
        name = f"{hashlib.sha256(ref.data).hexdigest()[:24]}.{_EXT.get(ref.mime, 'png')}"
        response = await self.http.idempotent(
            "POST",
            f"{self._upload_base()}/api/file-stream-upload",
            headers=auth,
            files={"file": (name, ref.data, ref.mime)},
            data={"uploadPath": UPLOAD_PATH, "fileName": name},
        )
        if response.status_code != 200:
            raise self._http_error(response)
        body = json_body(self.info.label, response)
        code = _code(body)
        if code != 200 or body.get("success") is False:
            raise self._code_error(code if code != 200 else 500, _msg(body) or "the upload was refused")
        data = body.get("data") if isinstance(body.get("data"), dict) else {}
        url = data.get("downloadUrl") or data.get("fileUrl")
        if not isinstance(url, str) or not url:
            raise error(self.info.label, ErrorKind.PROVIDER, "the upload answer holds no file URL")
        return Uploaded(check_url(url, what="uploaded reference URL"), started + UPLOAD_LIFETIME)

    def _record(self, data: Any) -> PollResult:
        label = self.info.label
        if not isinstance(data, dict):
            raise JobGone(f"{label} has no record of this task.", kind=ErrorKind.PROVIDER)
        state = str(data.get("state") or "").lower()
        if state in QUEUED_STATES:
            return PollResult(state="queued", message=state)
        if state in RUNNING_STATES:
            progress = data.get("progress")
            return PollResult(
                state="running",
                message=state,
                progress=progress / 100 if isinstance(progress, (int, float)) and progress > 1 else None,
            )
        if state == "success":
            urls = _result_urls(label, data.get("resultJson"))
            for u in urls:
                check_url(u, what="result URL")
            return PollResult(state="done", result=Result(urls=tuple(urls)))
        if state == "fail":
            raise self._fail(data)
        return PollResult(state="running", message=state or "unknown state")

    def _fail(self, data: Mapping[str, Any]) -> ProviderError:
        label = self.info.label
        msg = str(data.get("failMsg") or "")
        fcode = str(data.get("failCode") or "")
        said = f"{msg} (failCode {fcode})" if fcode and msg else (msg or fcode or "the task failed")
        if MODERATION_RE.search(msg):
            return error(label, ErrorKind.MODERATED, said, moderation_stage=moderation_stage(msg))
        kind = {"400": ErrorKind.VALIDATION, "422": ErrorKind.VALIDATION, "402": ErrorKind.CREDITS}.get(
            fcode, ErrorKind.PROVIDER
        )
        return verdict(error(label, kind, said))

    def _code_error(self, code: int | None, msg: str, *, retry_after: float | None = None) -> ProviderError:
        label = self.info.label
        said = f"code {code}: {msg}" if msg else f"code {code}"
        if code in (400, 422, 451) and MODERATION_RE.search(msg):
            return error(
                label, ErrorKind.MODERATED, said, status=code, moderation_stage=moderation_stage(msg)
            )
        kind = _CODE_KIND.get(code or 0, ErrorKind.PROVIDER)
        return error(label, kind, said, status=code, retry_after=retry_after)

    def _http_error(self, response: httpx.Response) -> ProviderError:
        """A real HTTP error status (a gateway in front of Kie, or Kie mirroring the code)."""
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict) and isinstance(body.get("code"), int) and body["code"] != 200:
            return self._code_error(body["code"], _msg(body), retry_after=parse_retry_after(response.headers))
        return provider_error(self.info.label, response)


def _code(body: Any) -> int | None:
    if not isinstance(body, dict):
        return None
    code = body.get("code")
    if isinstance(code, bool):
        return None
    if isinstance(code, int):
        return code
    if isinstance(code, str) and code.isdigit():
        return int(code)
    return None


def _msg(body: Any) -> str:
    if not isinstance(body, dict):
        return ""
    for key in ("msg", "message"):
        if isinstance(body.get(key), str) and body[key]:
            return str(body[key])
    return ""


def _result_urls(label: str, raw: Any) -> list[str]:
    """``resultJson`` is a JSON string (tolerate an object too) holding ``resultUrls``."""
    data = raw
    if isinstance(raw, str):
        try:
            data = json.loads(raw) if raw.strip() else {}
        except json.JSONDecodeError:
            raise error(label, ErrorKind.PROVIDER, "resultJson is not valid JSON") from None
    urls = data.get("resultUrls") if isinstance(data, dict) else None
    if not isinstance(urls, list) or not urls or not all(isinstance(u, str) and u for u in urls):
        raise error(label, ErrorKind.PROVIDER, "the finished task lists no result URLs")
    return list(urls)
