"""FairStack (``api.fairstack.ai``) — a **preview** provider (protocol partly undocumented).

Documented (providers.md §5.4 and the seed page, plus FairStack's Image API and error-handling pages):
``POST https://api.fairstack.ai/v1/generations/image`` with ``Authorization: Bearer <key>`` and JSON
``{"model": "flux-2-flex-i2i", "prompt", "aspect_ratio", "quality": "basic" | "high", "seed"?, "image"?
(a source image URL)}``; the call is synchronous and answers ``{"id", "status": "completed" | "failed",
"url", "cost": {...}, "metadata": {"width", "height", "seed"}}``; errors are
``{"error": {"code", "message", "status"}}`` with 400/401/402/429/500; an ``Idempotency-Key`` header makes
a retried request return the first answer without charging again. $0.024 per image.

Not documented for this model and therefore assumed — all in ``ASSUMPTIONS`` below: how a *local*
reference is passed (FairStack documents ``image`` as a URL), how many references the model takes, what
``quality`` means in pixels, the text-to-image model id, and where a failed generation's message sits.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..core.errors import BadInput, ErrorKind, JobGone, ProviderError
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
from .deadline import SYNC_READ_TIMEOUT_S
from .http import HttpProvider, check_url
from .profiles.fairstack import (
    ASSUMPTIONS,
    PROTOCOL,
    FairStackAssumptions,
)
from .profiles.fairstack import PROFILES as PROFILES
from .profiles.fairstack import capabilities as capabilities

if TYPE_CHECKING:
    import httpx

    from ..core.request import EditRequest


NEEDS_URLS = (
    "FairStack takes reference images only at public https URLs and has no upload service, so a "
    "local image cannot be sent to it: give the image's URL (reference_urls) or choose another "
    "provider."
)


_RATIOS = {
    "1:1": (1, 1),
    "4:3": (4, 3),
    "3:4": (3, 4),
    "16:9": (16, 9),
    "9:16": (9, 16),
    "3:2": (3, 2),
    "2:3": (2, 3),
}
_CREDIT_CODES = {"insufficient_credits", "insufficient_balance", "spending_cap_reached"}
_MODERATION_CODES = {"content_policy_violation", "content_filtered", "moderation_blocked", "nsfw_content"}


class FairStackProvider(HttpProvider):
    def __init__(
        self, info: ProviderInfo, ctx: ProviderContext, assumptions: FairStackAssumptions = ASSUMPTIONS
    ) -> None:
        super().__init__(info, ctx)
        self.a = assumptions

    # A synchronous gateway renders while it holds the call: a long read timeout (the profile option
    # ``read_timeout`` changes it).
    default_read_timeout = SYNC_READ_TIMEOUT_S

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
                f"{self.info.display_name} takes {a.max_references} reference image"
                f"{'s' if a.max_references != 1 else ''} (got {count})."
            )
        image: str | None = urls[0] if urls else None
        if image is None and references:
            if not a.inline_references_as_data_uri:
                raise BadInput(NEEDS_URLS)
            ref = references[0]
            image = f"data:{ref.mime};base64,{base64.b64encode(ref.data).decode('ascii')}"
        width, height = request.output_size(self.info.capabilities.max_pixels)
        ratios = {k: v for k, v in _RATIOS.items() if k in a.aspect_ratios}
        body: dict[str, Any] = {
            "model": a.edit_model if image else a.text_model,
            "prompt": request.prompt,
            "aspect_ratio": nearest_aspect(width, height, ratios),
            "quality": a.quality_high if width * height > a.high_above_pixels else a.quality_low,
        }
        if request.seed is not None:
            body["seed"] = int(request.seed)
        if image:
            body[a.reference_field] = image
        idem = self.ctx.idempotency_key or f"flexstudio-{uuid.uuid4().hex}"
        headers = {**auth, "idempotency-key": idem}
        response = await self.http.submit(
            "POST", f"{self._base()}{a.generate_path}", headers=headers, json=body
        )
        if response.status_code not in (200, 201):
            raise self._error(response)
        return self._submission(request, response, idem)

    async def poll(self, handle: Mapping[str, Any]) -> PollResult:
        urls = [str(u) for u in handle.get("urls") or ()]
        if urls:
            billed = handle.get("billed_usd")
            return PollResult(
                state="done",
                billed_usd=billed,
                result=Result(urls=tuple(urls), seed=handle.get("seed"), billed_usd=billed),
            )
        raise JobGone(
            f"{self.info.label} answers synchronously and left no result link for this job.",
            kind=ErrorKind.PROVIDER,
        )

    async def download(self, url: str) -> bytes:
        return await self.http.download(url)

    async def cancel(self, handle: Mapping[str, Any]) -> bool:
        return False

    # -------------------------------------------------------------------- internals
    def _submission(self, request: EditRequest, response: httpx.Response, idem: str) -> Submission:
        a = self.a
        label = self.info.label
        body = json_body(label, response)
        # An accepting answer we cannot read: the generation may exist and be billed (the status says so).
        if not isinstance(body, dict):
            raise error(label, ErrorKind.PROVIDER, "the answer is not an object", status=response.status_code)
        status = str(body.get("status") or a.done_status).lower()
        if status == a.failed_status:
            raise self._failed(body.get(a.error_field))
        url = body.get("url")
        if not isinstance(url, str) or not url:
            raise error(
                label, ErrorKind.PROVIDER, "the answer holds no image URL", status=response.status_code
            )
        check_url(url, what="result URL")
        billed = _cost(body.get("cost"))
        raw_meta = body.get("metadata")
        meta = raw_meta if isinstance(raw_meta, dict) else {}
        seed = meta.get("seed") if isinstance(meta.get("seed"), int) else None
        gen_id = str(body["id"]) if body.get("id") else None
        handle = {
            "protocol": PROTOCOL,
            "generation_id": gen_id,
            "urls": [url],
            "seed": seed,
            "billed_usd": billed,
            "idempotency_key": idem,
        }
        return Submission(
            provider_job_id=gen_id,
            handle=handle,
            billed_usd=billed,
            result=Result(urls=(url,), seed=seed, billed_usd=billed),
        )

    def _failed(self, raw: Any) -> ProviderError:
        label = self.info.label
        if isinstance(raw, dict):
            code, msg = str(raw.get("code") or ""), str(raw.get("message") or "")
        else:
            code, msg = "", str(raw or "")
        said = msg or code or "the generation failed"
        if code.lower() in _MODERATION_CODES or MODERATION_RE.search(msg):
            return error(label, ErrorKind.MODERATED, said, moderation_stage=moderation_stage(msg))
        return error(label, ErrorKind.PROVIDER, said)

    def _error(self, response: httpx.Response) -> ProviderError:
        label = self.info.label
        err: dict[str, Any] = {}
        try:
            body = response.json()
            if isinstance(body, dict) and isinstance(body.get("error"), dict):
                err = body["error"]
        except ValueError:
            pass
        code = str(err.get("code") or "").lower()
        msg = str(err.get("message") or "")
        status = response.status_code
        if status not in (401, 402, 429) and (code in _MODERATION_CODES or MODERATION_RE.search(msg)):
            exc = provider_error(label, response, kind=ErrorKind.MODERATED)
            exc.moderation_stage = moderation_stage(msg)
            return exc
        if code in _CREDIT_CODES:
            return provider_error(label, response, kind=ErrorKind.CREDITS)
        return provider_error(label, response)


def _cost(cost: Any) -> float | None:
    """Cost in microdollars: ``cost.micro`` (current page) or ``cost.credits_used`` (another version)."""
    if not isinstance(cost, dict):
        return None
    for key in ("micro", "credits_used"):
        v = cost.get(key)
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return round(float(v) / 1_000_000, 6)
    return None
