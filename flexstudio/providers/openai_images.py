"""OpenAI-compatible image edits: Lumenfall and any gateway that speaks ``POST /images/edits``.

Wire shape (providers.md §4): synchronous. With reference images, ``POST {base}/images/edits`` as
multipart/form-data — one part named ``image`` for a single reference, repeated ``image[]`` parts for
several (what the official SDK sends) — and every other field as a form string. Without references,
``POST {base}/images/generations`` with a JSON body. ``Authorization: Bearer <key>``. The answer is
``{"created", "data": [{"b64_json" | "url", "revised_prompt"?}], "metadata"?: {"cost", ...}}``;
errors are ``{"error": {"message", "type", "code", "param"}}``.

Decisions:
- ``response_format`` is ``b64_json`` by default: the image arrives with the answer, so there is no
  second host to trust and no link to expire. A profile may set ``options["response_format"] = "url"``;
  URL results are then downloaded without credentials.
- The FLUX parameters are not part of the OpenAI API; gateways pass unlisted fields through to the
  model's provider. Lumenfall documents its own names (``cfg_scale``, ``prompt_enhancement``,
  ``safety_tolerance`` as a string, and per-route ``steps`` / ``num_inference_steps``), so the
  ``lumenfall`` parameter style sends those; a generic gateway gets BFL's names (``steps``,
  ``guidance``, ``seed``, ``safety_tolerance``, ``prompt_upsampling``). A profile may pick the style
  with ``options["param_style"]``.
- Billing: Lumenfall reports ``metadata.cost`` (USD) — that is the billed amount.
"""

from __future__ import annotations

import base64
import binascii
import re
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
from .deadline import SYNC_READ_TIMEOUT_S
from .http import HttpProvider, check_url
from .profiles.openai_images import (
    DEFAULT_MODEL,
    MAX_REFERENCES,
    PROTOCOL,
    RESPONSE_FORMATS,
)
from .profiles.openai_images import PROFILES as PROFILES
from .profiles.openai_images import capabilities as capabilities
from .profiles.openai_images import custom_profile as custom_profile

if TYPE_CHECKING:
    import httpx

    from ..core.request import EditRequest

_EXT = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp"}

# Wording a gateway uses when the model's provider refused on content grounds. Kept narrow on purpose:
# "safety_tolerance must be …" is a validation error, not a moderation.
MODERATION_RE = re.compile(
    r"moderat|content[ _-]?polic|safety (system|filter|checker)|nsfw|flagged|sensitive content|"
    r"inappropriate|content[ _-]filter",
    re.IGNORECASE,
)
MODERATION_CODES = {"content_policy_violation", "moderation_blocked", "content_filter", "content_filtered"}
OUTPUT_STAGE_RE = re.compile(
    r"output|generated image|result image|nsfw content detected in the (image|result)", re.IGNORECASE
)


def moderation_stage(text: str) -> str:
    """ "output" when the provider's words say the generated image was flagged, else "input"."""
    return "output" if OUTPUT_STAGE_RE.search(text) else "input"


# ------------------------------------------------------------------------------------------------ params
def _form(value: Any) -> str:
    """A typed value as a multipart form string (what the OpenAI SDK would put on the wire)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return format(value, "g")
    return str(value)


def _clamp(value: float, lo: float, hi: float) -> float:
    return max(lo, min(hi, value))


def lumenfall_params(request: EditRequest) -> dict[str, Any]:
    """Lumenfall's documented names: universal cfg_scale / prompt_enhancement / safety_tolerance ("1"–"5"),
    seed, and steps under both route names (Replicate ``steps``, fal ``num_inference_steps``)."""
    steps = int(_clamp(request.steps, 2, 50))
    out: dict[str, Any] = {
        "steps": steps,
        "num_inference_steps": steps,
        "cfg_scale": float(_clamp(request.guidance, 1.5, 10.0)),
        "safety_tolerance": str(int(_clamp(request.safety, 1, 5))),
        "prompt_enhancement": "on" if request.prompt_upsampling else "off",
    }
    if request.seed is not None:
        out["seed"] = int(request.seed)
    return out


def flux_params(request: EditRequest) -> dict[str, Any]:
    """BFL's own names, for a generic gateway that passes them through to a BFL-like backend."""
    out: dict[str, Any] = {
        "steps": int(_clamp(request.steps, 1, 50)),
        "guidance": float(_clamp(request.guidance, 1.5, 10.0)),
        "safety_tolerance": int(_clamp(request.safety, 0, 5)),
        "prompt_upsampling": bool(request.prompt_upsampling),
    }
    if request.seed is not None:
        out["seed"] = int(request.seed)
    return out


PARAM_STYLES = {"lumenfall": lumenfall_params, "flux": flux_params}


# ------------------------------------------------------------------------------------------------ provider
class OpenAIImagesProvider(HttpProvider):
    """One OpenAI-compatible gateway (a profile: base URL, model id, parameter style)."""

    # A synchronous gateway renders while it holds the call: a long read timeout (the profile option
    # ``read_timeout`` changes it).
    default_read_timeout = SYNC_READ_TIMEOUT_S

    def __init__(self, info: ProviderInfo, ctx: ProviderContext) -> None:
        super().__init__(info, ctx)
        options = self.options
        self.model = str(options.get("model") or DEFAULT_MODEL)
        self.response_format = str(options.get("response_format") or "b64_json")
        if self.response_format not in RESPONSE_FORMATS:
            raise BadInput(
                f"{info.label}: response_format must be b64_json or url (got {self.response_format!r})."
            )
        style = str(options.get("param_style") or "flux")
        if style not in PARAM_STYLES:
            raise BadInput(
                f"{info.label}: param_style must be one of {', '.join(PARAM_STYLES)} (got {style!r})."
            )
        self.params = PARAM_STYLES[style]

    # -------------------------------------------------------------------- plumbing
    def _base(self) -> str:
        base = (self.ctx.base_url or self.info.default_base_url or "").strip().rstrip("/")
        if not base:
            raise BadInput(
                f"{self.info.label} needs the gateway's base URL (the root that holds "
                "/images/edits, e.g. https://gateway.example/v1): pass --base-url or set it "
                "in the profile."
            )
        return base

    def _auth(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.require_key()}"}

    # -------------------------------------------------------------------- steps
    async def submit(self, request: EditRequest, references: Sequence[PreparedReference]) -> Submission:
        auth = self._auth()
        # Parameters are always explicit (providers.md §11): a random seed is drawn here and sent, so the
        # run can be reproduced from history.
        request = request.resolved()
        base = self._base()
        if len(references) > MAX_REFERENCES:
            raise BadInput(
                f"{self.info.label} takes at most {MAX_REFERENCES} reference images (got {len(references)})."
            )
        width, height = request.output_size(self.info.capabilities.max_pixels)
        fields: dict[str, Any] = {
            "model": self.model,
            "prompt": request.prompt,
            "n": 1,
            "size": f"{width}x{height}",
            "response_format": self.response_format,
            "output_format": request.output_format,
            **self.params(request),
        }
        headers = {**auth, "accept": "application/json"}
        if self.ctx.idempotency_key:
            # A gateway that keeps idempotency keys answers a repeated call once, without billing again.
            headers["idempotency-key"] = self.ctx.idempotency_key
        if references:
            name = "image" if len(references) == 1 else "image[]"
            files = [
                (name, (f"image-{i}.{_EXT.get(ref.mime, 'png')}", ref.data, ref.mime))
                for i, ref in enumerate(references, 1)
            ]
            response = await self.http.submit(
                "POST",
                f"{base}/images/edits",
                headers=headers,
                data={k: _form(v) for k, v in fields.items()},
                files=files,
            )
        else:
            response = await self.http.submit(
                "POST", f"{base}/images/generations", headers=headers, json=fields
            )
        if response.status_code != 200:
            raise self._error(response)
        return self._submission(request, response)

    async def poll(self, handle: Mapping[str, Any]) -> PollResult:
        """Synchronous protocol: the result came with the submit answer. A handle that kept result URLs
        (``response_format=url``) can still be finished; inline images cannot be fetched again."""
        urls = [str(u) for u in handle.get("urls") or ()]
        if urls:
            billed = handle.get("billed_usd")
            return PollResult(
                state="done",
                billed_usd=billed,
                result=Result(urls=tuple(urls), seed=handle.get("seed"), billed_usd=billed),
            )
        raise JobGone(
            f"{self.info.label} answers synchronously and returned the image with its answer; "
            "there is nothing left to fetch for this job.",
            kind=ErrorKind.PROVIDER,
        )

    async def download(self, url: str) -> bytes:
        return await self.http.download(url)

    async def cancel(self, handle: Mapping[str, Any]) -> bool:
        return False  # synchronous: nothing to cancel once the answer is in

    # -------------------------------------------------------------------- answers
    def _submission(self, request: EditRequest, response: httpx.Response) -> Submission:
        label = self.info.label
        body = json_body(label, response)
        if not isinstance(body, dict) or not isinstance(body.get("data"), list) or not body["data"]:
            raise error(label, ErrorKind.PROVIDER, "the answer holds no images", status=response.status_code)
        images: list[bytes] = []
        urls: list[str] = []
        for item in body["data"]:
            if not isinstance(item, dict):
                continue
            if isinstance(item.get("b64_json"), str) and item["b64_json"]:
                try:
                    images.append(base64.b64decode(item["b64_json"], validate=False))
                except (binascii.Error, ValueError):
                    raise error(label, ErrorKind.PROVIDER, "an image that is not valid base64") from None
            elif isinstance(item.get("url"), str) and item["url"]:
                url = item["url"]
                if not url.startswith("data:"):
                    check_url(url, what="result URL")
                urls.append(url)
        if not images and not urls:
            raise error(label, ErrorKind.PROVIDER, "the answer holds no images", status=response.status_code)
        first = body["data"][0] if isinstance(body["data"][0], dict) else {}
        revised = first.get("revised_prompt") if isinstance(first.get("revised_prompt"), str) else None
        billed = _cost(body)
        seed = request.seed
        meta = body.get("metadata")
        if isinstance(meta, dict) and isinstance(meta.get("seed"), int):
            seed = meta["seed"]
        request_id = response.headers.get("x-lumenfall-request-id") or body.get("id")
        handle: dict[str, Any] = {
            "protocol": PROTOCOL,
            "model": self.model,
            "seed": seed,
            "billed_usd": billed,
        }
        if urls:
            handle["urls"] = urls
        if request_id:
            handle["request_id"] = str(request_id)
        result = Result(
            urls=tuple(urls), images=tuple(images), seed=seed, billed_usd=billed, revised_prompt=revised
        )
        return Submission(
            provider_job_id=str(request_id) if request_id else None,
            handle=handle,
            billed_usd=billed,
            result=result,
        )

    def _error(self, response: httpx.Response) -> ProviderError:
        label = self.info.label
        err: dict[str, Any] = {}
        try:
            body = response.json()
            if isinstance(body, dict) and isinstance(body.get("error"), dict):
                err = body["error"]
        except ValueError:
            pass
        code = str(err.get("code") or "")
        etype = str(err.get("type") or "")
        message = str(err.get("message") or "")
        status = response.status_code
        if status not in (401, 402, 429) and (
            code.lower() in MODERATION_CODES or "content_policy" in etype or MODERATION_RE.search(message)
        ):
            exc = provider_error(label, response, kind=ErrorKind.MODERATED)
            exc.moderation_stage = moderation_stage(message)
            return exc
        if etype == "insufficient_quota" or code.upper() in ("INSUFFICIENT_BALANCE", "INSUFFICIENT_QUOTA"):
            return provider_error(label, response, kind=ErrorKind.CREDITS)
        if status == 404 and code.upper() in ("MODEL_NOT_FOUND", "MODEL_DISABLED"):
            return provider_error(
                label,
                response,
                kind=ErrorKind.VALIDATION,
                message=f"{message or code} (model id {self.model!r})",
            )
        if status >= 500:
            return provider_error(label, response, kind=ErrorKind.PROVIDER)
        return provider_error(label, response)


def _cost(body: Mapping[str, Any]) -> float | None:
    meta = body.get("metadata")
    if not isinstance(meta, dict):
        return None
    cost = meta.get("cost")
    currency = str(meta.get("cost_currency") or "USD").upper()
    if isinstance(cost, (int, float)) and not isinstance(cost, bool) and currency == "USD":
        return float(cost)
    return None
