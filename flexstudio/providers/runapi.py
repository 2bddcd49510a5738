"""RunAPI (``runapi.ai``) Flux 2 tasks — a **preview** provider (protocol partly undocumented).

What RunAPI documents publicly (providers.md §5.3, seed page ``runapi.ai/models/flux-2/flex-image-to-image.md``):
Bearer auth, a JSON ``POST`` that starts an asynchronous task, model ids per variant, and per-call prices
(i2i from $0.14; t2i $0.14 at 1K, $0.24 at 2K; failed generations not charged). Everything else — the
task-query endpoint, the field names of the answers, how reference images travel, the paths in use today —
is taken from RunAPI's own SDK sources (``runapi-ai/flux-2-sdk`` 0.3.x and ``runapi-ai/core-sdk``), not
from an API reference, and is kept in ``ASSUMPTIONS`` below: the one place to change when RunAPI's
contract turns out different.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from ..core.errors import BadInput, ErrorKind, JobGone, ProviderError, verdict
from .answers import error, json_body, provider_error
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
from .profiles.runapi import (
    ASSUMPTIONS,
    PROTOCOL,
    RunApiAssumptions,
)
from .profiles.runapi import PROFILES as PROFILES
from .profiles.runapi import capabilities as capabilities
from .uploads import Uploaded, UploadingProvider, epoch_seconds


def resolution_for(width: int, height: int, a: RunApiAssumptions = ASSUMPTIONS) -> str:
    """The resolution tier sent for an output of W×H: "1k" up to 1.1 MP (the price table's 1K tier), else
    "2k"."""
    return a.resolutions[0] if width * height <= a.one_k_max_pixels else a.resolutions[1]


if TYPE_CHECKING:
    import httpx

    from ..core.request import EditRequest

_EXT = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp"}
_GONE_RE = re.compile(r"not found|not exist|unknown task", re.IGNORECASE)


class RunApiProvider(UploadingProvider, HttpProvider):
    def __init__(
        self, info: ProviderInfo, ctx: ProviderContext, assumptions: RunApiAssumptions = ASSUMPTIONS
    ) -> None:
        super().__init__(info, ctx)
        self.a = assumptions

    def _auth(self) -> dict[str, str]:
        return self._bearer()

    # -------------------------------------------------------------------- steps
    async def submit(self, request: EditRequest, references: Sequence[PreparedReference]) -> Submission:
        a = self.a
        auth = self._auth()
        urls = user_reference_urls(request, self.options)
        count = len(urls) if urls is not None else len(references)
        if count > a.max_references:
            raise BadInput(
                f"{self.info.label} takes at most {a.max_references} reference images (got {count})."
            )
        if urls is None and references:
            urls, _ = await self.reference_values(references)  # uploaded once per account, then reused
        width, height = request.output_size(self.info.capabilities.max_pixels)
        body: dict[str, Any] = {
            "model": a.edit_model if urls else a.text_model,
            "prompt": request.prompt,
            a.aspect_field: nearest_aspect(width, height),
            a.resolution_field: resolution_for(width, height, a),
            a.safety_field: True,
        }
        if urls:
            body[a.references_field] = urls
        path = a.edit_path if urls else a.text_path
        response = await self.http.submit("POST", f"{self._base()}{path}", headers=auth, json=body)
        if response.status_code not in (200, 201, 202):
            raise self._error(response)
        answer = json_body(self.info.label, response)
        task_id = answer.get(a.id_field) if isinstance(answer, dict) else None
        if not isinstance(task_id, str) or not task_id:
            # an accepting answer we cannot read: the task may exist and be billed (the status says so)
            raise error(
                self.info.label,
                ErrorKind.PROVIDER,
                "the answer holds no task id",
                status=response.status_code,
            )
        poll_url = self._base() + a.task_path.format(submit_path=path, task_id=quote(task_id, safe=""))
        handle = {
            "protocol": PROTOCOL,
            "task_id": task_id,
            "poll_url": poll_url,
            "model": body["model"],
            "resolution": body[a.resolution_field],
        }
        return Submission(provider_job_id=task_id, handle=handle)

    async def poll(self, handle: Mapping[str, Any]) -> PollResult:
        a = self.a
        label = self.info.label
        response = await self.http.get(str(handle["poll_url"]), headers=self._auth())
        if response.status_code == 404:
            raise JobGone(f"{label} no longer knows this task (404).", kind=ErrorKind.PROVIDER, status=404)
        if response.status_code != 200:
            raise self._error(response)
        data = json_body(label, response)
        if not isinstance(data, dict):
            raise error(label, ErrorKind.PROVIDER, "the task answer is not an object")
        status = str(data.get(a.status_field) or "").lower()
        if status in a.queued_statuses:
            return PollResult(state="queued", message=status)
        if status in a.running_statuses:
            return PollResult(state="running", message=status)
        if status == a.done_status:
            urls = [img.get("url") for img in data.get(a.images_field) or () if isinstance(img, dict)]
            found = [u for u in urls if isinstance(u, str) and u]
            if not found:
                raise error(label, ErrorKind.PROVIDER, "the finished task lists no images")
            for u in found:
                check_url(u, what="result URL")
            return PollResult(state="done", result=Result(urls=tuple(found)))
        if status == a.failed_status:
            raise self._failed(data.get(a.error_field))
        return PollResult(state="running", message=status or "unknown status")

    async def download(self, url: str) -> bytes:
        return await self.http.download(url)

    async def cancel(self, handle: Mapping[str, Any]) -> bool:
        return False  # no cancel endpoint known

    # -------------------------------------------------------------------- internals
    def should_stage(self, request: EditRequest) -> bool:
        return user_reference_urls(request, self.options) is None and bool(
            self.options.get("upload_references", True)
        )

    async def upload_reference(self, ref: PreparedReference) -> Uploaded:
        a = self.a
        auth = self._auth()
        started = self.uploads.clock()
        name = f"{hashlib.sha256(ref.data).hexdigest()[:24]}.{_EXT.get(ref.mime, 'png')}"
        payload = {
            "source": {"type": "base64", "data": base64.b64encode(ref.data).decode("ascii")},
            "file_name": name,
        }
        response = await self.http.idempotent(
            "POST", f"{self._base()}{a.upload_path}", headers=auth, json=payload
        )
        if response.status_code not in (200, 201):
            raise self._error(response)
        body = json_body(self.info.label, response)
        url = body.get(a.upload_url_field) if isinstance(body, dict) else None
        if not isinstance(url, str) or not url:
            raise error(self.info.label, ErrorKind.PROVIDER, "the file upload answer holds no URL")
        expires = epoch_seconds(body.get("expires_at")) or started + a.upload_lifetime
        return Uploaded(check_url(url, what="uploaded reference URL"), expires)

    def _failed(self, raw: Any) -> ProviderError:
        label = self.info.label
        msg = raw.get("message", "") if isinstance(raw, dict) else str(raw or "")
        msg = str(msg) or "the task failed"
        if MODERATION_RE.search(msg):
            return error(label, ErrorKind.MODERATED, msg, moderation_stage=moderation_stage(msg))
        return verdict(error(label, ErrorKind.PROVIDER, msg))

    def _error(self, response: httpx.Response) -> ProviderError:
        label = self.info.label
        exc = provider_error(label, response)
        said = exc.provider_message or ""
        if response.status_code in (400, 403, 422, 451) and MODERATION_RE.search(said):
            exc = provider_error(label, response, kind=ErrorKind.MODERATED)
            exc.moderation_stage = moderation_stage(said)
        elif response.status_code == 404 and not _GONE_RE.search(said):
            exc = provider_error(
                label,
                response,
                kind=ErrorKind.VALIDATION,
                message=f"{said or 'not found'} (the endpoint or model may have been renamed)",
            )
        return exc
