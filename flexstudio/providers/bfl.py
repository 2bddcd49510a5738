"""Black Forest Labs' own API (FLUX.2 [flex]) and BFL-compatible pass-throughs (CometAPI, user endpoints).

Wire protocol (providers.md §1, §5.1): ``POST {base}/v1/flux-2-flex`` with a JSON body (references as
``input_image``, ``input_image_2`` … ``input_image_8``, raw base64 without a ``data:`` prefix) →
``{id, polling_url, cost, input_mp, output_mp}``; then ``GET polling_url`` until ``status`` is ``Ready``
(``result.sample`` is a signed URL valid for ~10 minutes, fetched at once without credentials).
BFL has no cancel endpoint: ``cancel`` only stops polling.

Where the key goes (providers.md §11 "credentials go only to the API host that issued them"):

* the submit and our own result path go to the API base URL, with the key;
* the returned ``polling_url`` is polled verbatim, with the key, when it is on the API base's origin or
  — for BFL's own profiles (``bfl``, ``bfl-eu``, ``bfl-us``) only — on an https host ending in
  ``.bfl.ai`` (BFL answers with the cluster that took the job, e.g. ``api.eu2.bfl.ai``);
* a ``polling_url`` on any other origin is never sent the key, and is not polled unauthenticated
  either (that would fail with an auth error on the real services): the profile's own documented
  result path on the API base (``/v1/get_result?id=`` for BFL, ``/flux/v1/get_result?id=`` for
  CometAPI) is polled instead, with the key;
* result downloads carry no credentials at all (``Http.download``).

Profiles: ``bfl`` (global, auto-failover), ``bfl-eu``, ``bfl-us`` (``x-key``, ``BFL_API_KEY``) and
``cometapi`` (the same body at ``/flux/v1/flux-2-flex``, ``Authorization: Bearer``, ``COMETAPI_KEY``).
User-defined BFL-compatible endpoints (``custom_profile``) take the options ``auth`` ("x-key" |
"bearer"), ``submit_path`` (may hold ``{model}``), ``result_path`` (an ``{id}`` placeholder; otherwise
the id is appended as ``?id=``/``&id=``) and ``model`` (path segment, default ``flux-2-flex``).
"""

from __future__ import annotations

import base64
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from ..core.errors import BadInput, ErrorKind, JobGone, ProviderError, verdict
from ..core.sizes import validate_size
from .answers import error, json_body, message_from_json, provider_error
from .base import (
    Balance,
    PollResult,
    PreparedReference,
    ProviderContext,
    ProviderInfo,
    Result,
    Submission,
)
from .http import HttpProvider, same_origin
from .profiles.bfl import (
    AUTH_STYLES,
    BFL_FAMILY,
    BFL_OPTIONS,
    CAPABILITIES,
    COST_IS_BILL,
    DEFAULT_MODEL,
    FORMATS,
    GUIDANCE_RANGE,
    MAX_REFERENCES,
    SAFETY_RANGE,
    STEPS_RANGE,
)
from .profiles.bfl import PROFILES as PROFILES
from .profiles.bfl import custom_profile as custom_profile

if TYPE_CHECKING:
    from ..core.request import EditRequest

CREDIT_USD = 0.01  # 1 BFL credit = $0.01; ``cost`` is in credits
CREDITS_PATH = "/v1/credits"  # BFL OpenAPI get_credits_v1_credits_get → {"credits": number}
DEFAULT_RETRY_AFTER = 5.0  # a 429 without Retry-After: BFL asks to back off (§1.5)
NOT_FOUND_RETRIES = 5  # HTTP 404 while polling: retried this many times … (ComfyUI's loop)
NOT_FOUND_WAIT = 2.0  # … this far apart, then the job is gone
_BFL_HOST_SUFFIX = ".bfl.ai"


def _clamp(value: float, lo: float, hi: float) -> float:
    return min(hi, max(lo, value))


class BflProvider(HttpProvider):
    """One BFL-protocol profile. Stateless apart from its context; everything a job needs is in its handle."""

    def __init__(self, info: ProviderInfo, ctx: ProviderContext) -> None:
        if ctx.client is None:
            raise RuntimeError(f"{info.id}: an HTTP client is required")
        super().__init__(info, ctx)
        self.label = info.label
        opts = {**BFL_OPTIONS, **self.options}
        auth = str(opts.get("auth", "x-key")).lower()
        if auth not in AUTH_STYLES:
            raise BadInput(f"{info.label}: unknown auth style {auth!r} (use x-key or bearer).")
        self.auth = auth
        self.model = str(opts.get("model") or DEFAULT_MODEL)
        self.submit_path = str(opts.get("submit_path") or BFL_OPTIONS["submit_path"])
        self.result_path = str(opts.get("result_path") or BFL_OPTIONS["result_path"])
        self.cost_is_bill = bool(opts.get(COST_IS_BILL, False))
        self.base_url = self._base()

    # ------------------------------------------------------------------ helpers
    def _auth_headers(self, key: str) -> dict[str, str]:
        if self.auth == "bearer":
            return {"Authorization": f"Bearer {key}"}
        return {"x-key": key}

    def _submit_url(self) -> str:
        return self.base_url + self.submit_path.replace("{model}", quote(self.model, safe=""))

    def _result_url(self, job_id: str) -> str:
        """Our own documented result path for a job id, on the API base."""
        qid = quote(job_id, safe="")
        path = self.result_path
        if "{id}" in path:
            return self.base_url + path.replace("{id}", qid)
        if path.endswith(("?id=", "&id=")):
            return self.base_url + path + qid
        return self.base_url + path + ("&" if "?" in path else "?") + "id=" + qid

    def key_may_go_to(self, url: str) -> bool:
        """Whether the key may be sent to ``url``: the API base's origin, or (BFL's own profiles only)
        an https ``*.bfl.ai`` host."""
        if same_origin(url, self.base_url):
            return True
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        return (
            self.info.id in BFL_FAMILY
            and self.auth == "x-key"
            and parts.scheme == "https"
            and host.endswith(_BFL_HOST_SUFFIX)
        )

    def poll_url(self, handle: Mapping[str, Any]) -> str:
        """The URL a poll goes to: the returned ``polling_url`` verbatim when the key may go there,
        otherwise our own result path on the API base (see the module docstring)."""
        polling_url = handle.get("polling_url")
        if isinstance(polling_url, str) and polling_url and self.key_may_go_to(polling_url):
            return polling_url
        job_id = handle.get("id")
        if not isinstance(job_id, str) or not job_id:
            raise JobGone(f"{self.label}: this job has no id to ask about.", kind=ErrorKind.PROVIDER)
        return self._result_url(job_id)

    def build_body(self, request: EditRequest, references: Sequence[PreparedReference]) -> dict[str, Any]:
        """The exact JSON body: every parameter explicit, clamped into BFL's ranges."""
        if request.output_format not in FORMATS:
            raise ProviderError(
                f"{self.label} returns only jpeg or png, not {request.output_format}: choose jpeg or png.",
                kind=ErrorKind.VALIDATION,
            )
        if len(references) > MAX_REFERENCES:
            raise ProviderError(
                f"{self.label} takes at most {MAX_REFERENCES} reference images (got {len(references)}).",
                kind=ErrorKind.VALIDATION,
            )
        width, height = request.output_size(CAPABILITIES.max_pixels)
        validate_size(width, height, max_pixels=CAPABILITIES.max_pixels)
        seed = request.seed if request.seed is not None else request.resolved().seed  # always explicit
        body: dict[str, Any] = {"prompt": request.prompt}
        for i, ref in enumerate(references):
            name = "input_image" if i == 0 else f"input_image_{i + 1}"
            body[name] = base64.b64encode(ref.data).decode("ascii")
        body.update(
            {
                "seed": int(seed or 0),
                "width": int(width),
                "height": int(height),
                "steps": int(_clamp(int(request.steps), *STEPS_RANGE)),
                "guidance": float(_clamp(float(request.guidance), *GUIDANCE_RANGE)),
                "safety_tolerance": int(_clamp(int(request.safety), *SAFETY_RANGE)),
                "output_format": request.output_format,
                "prompt_upsampling": bool(request.prompt_upsampling),
            }
        )
        return body

    def _error(self, response: Any) -> ProviderError:
        err = provider_error(self.label, response)
        if err.kind is ErrorKind.RATE_LIMITED and err.retry_after is None:
            err.retry_after = DEFAULT_RETRY_AFTER
        return err

    # ------------------------------------------------------------------ the four steps
    async def submit(self, request: EditRequest, references: Sequence[PreparedReference]) -> Submission:
        key = self.require_key()
        body = self.build_body(request, references)
        response = await self.http.submit(
            "POST",
            self._submit_url(),
            json=body,
            headers={**self._auth_headers(key), "accept": "application/json"},
        )
        if not 200 <= response.status_code < 300:
            raise self._error(response)
        data = json_body(self.label, response)
        job_id = data.get("id") if isinstance(data, dict) else None
        if not isinstance(job_id, str) or not job_id:
            raise error(
                self.label, ErrorKind.PROVIDER, "the answer has no job id", status=response.status_code
            )
        polling_url = data.get("polling_url")
        if polling_url is not None and not isinstance(polling_url, str):
            polling_url = None
        cost = data.get("cost")
        billed = None
        handle: dict[str, Any] = {
            "id": job_id,
            "polling_url": polling_url,
            "seed": body["seed"],
            "upsampling": body["prompt_upsampling"],
        }
        if isinstance(cost, (int, float)) and not isinstance(cost, bool) and math.isfinite(cost):
            if self.cost_is_bill:
                billed = round(float(cost) * CREDIT_USD, 6)
            else:  # BFL's figure, forwarded: kept for reference, never booked as this provider's bill
                handle["upstream_cost_credits"] = float(cost)
        if billed is not None:
            handle["billed_usd"] = billed
        return Submission(provider_job_id=job_id, handle=handle, billed_usd=billed)

    async def poll(self, handle: Mapping[str, Any]) -> PollResult:
        key = self.require_key()
        url = self.poll_url(handle)
        headers = {**self._auth_headers(key), "accept": "application/json"}
        for attempt in range(NOT_FOUND_RETRIES + 1):
            response = await self.http.get(url, headers=headers)
            if response.status_code == 404:
                if attempt < NOT_FOUND_RETRIES:
                    await self.http.sleep(NOT_FOUND_WAIT)
                    continue
                raise JobGone(
                    f"{self.label} no longer knows this job (404 after {NOT_FOUND_RETRIES} retries).",
                    kind=ErrorKind.PROVIDER,
                    status=404,
                    provider_message=message_from_json(_safe_json(response)) or None,
                )
            break
        if response.status_code == 202:
            return PollResult(state="queued", message=f"Waiting in {self.label}'s queue.")
        if not 200 <= response.status_code < 300:
            raise self._error(response)
        data = json_body(self.label, response)
        if not isinstance(data, dict):
            raise error(
                self.label,
                ErrorKind.PROVIDER,
                "the status answer is not an object",
                status=response.status_code,
            )
        return self._status(data, handle)

    def _status(self, data: Mapping[str, Any], handle: Mapping[str, Any]) -> PollResult:
        status = str(data.get("status") or "")
        billed = handle.get("billed_usd")
        if status == "Pending":
            progress = _progress(data.get("progress"))
            return PollResult(
                state="running" if progress else "queued",
                progress=progress,
                message="Generating…" if progress else f"Waiting in {self.label}'s queue.",
                billed_usd=billed,
            )
        if status == "Ready":
            result = data.get("result")
            sample = result.get("sample") if isinstance(result, dict) else None
            if not isinstance(result, dict) or not isinstance(sample, str) or not sample:
                raise error(self.label, ErrorKind.PROVIDER, "Ready without result.sample")
            seed = result.get("seed") if isinstance(result.get("seed"), int) else handle.get("seed")
            revised = result.get("prompt") if handle.get("upsampling") else None
            res = Result(
                urls=(sample,),
                seed=seed,
                billed_usd=billed,
                revised_prompt=revised if isinstance(revised, str) and revised else None,
            )
            return PollResult(state="done", progress=1.0, message="Ready", result=res, billed_usd=billed)
        if status in ("Request Moderated", "Content Moderated"):
            stage = "input" if status == "Request Moderated" else "output"
            reasons = _reasons(data.get("details"))
            said = f"{status}: {reasons}" if reasons else status
            what = "the request" if stage == "input" else "the generated image"
            raise ProviderError(
                f"{self.label} flagged {what} and did not deliver it. ({said})",
                kind=ErrorKind.MODERATED,
                provider_message=said,
                moderation_stage=stage,
            )
        if status == "Error":
            details = _details_text(data.get("details"))
            raise verdict(error(self.label, ErrorKind.PROVIDER, f"Error: {details}" if details else "Error"))
        if status == "Task not found":
            raise JobGone(
                f"{self.label} no longer knows this job (Task not found).",
                kind=ErrorKind.PROVIDER,
                provider_message=status,
            )
        # A status this client does not know (the enum may grow): keep polling, show it.
        return PollResult(
            state="running",
            progress=_progress(data.get("progress")),
            message=status or "unknown status",
            billed_usd=billed,
        )

    async def download(self, url: str) -> bytes:
        return await self.http.download(url)

    async def balance(self) -> Balance:
        """The account's credits (``GET {base}/v1/credits``, BFL's documented endpoint), and in dollars."""
        key = self.require_key()
        response = await self.http.get(
            self.base_url + CREDITS_PATH, headers={**self._auth_headers(key), "accept": "application/json"}
        )
        if not 200 <= response.status_code < 300:
            raise self._error(response)
        data = json_body(self.label, response)
        credits = data.get("credits") if isinstance(data, dict) else None
        if isinstance(credits, bool) or not isinstance(credits, (int, float)) or not math.isfinite(credits):
            raise error(self.label, ErrorKind.PROVIDER, "the credits answer holds no number")
        return Balance(amount=float(credits), unit="credits", usd=round(float(credits) * CREDIT_USD, 4))

    async def cancel(self, handle: Mapping[str, Any]) -> bool:
        """BFL has no cancel endpoint: the caller just stops polling (the job may still be billed)."""
        return False


# ---------------------------------------------------------------------- response helpers
def _safe_json(response: Any) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _progress(value: Any) -> float | None:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value):
        return None
    v = float(value)
    if v > 1.0:  # a percentage
        v /= 100.0
    return _clamp(v, 0.0, 1.0)


def _reasons(details: Any) -> str:
    if not isinstance(details, dict):
        return ""
    reasons = details.get("Moderation Reasons") or details.get("moderation_reasons")
    if isinstance(reasons, list):
        return ", ".join(str(r) for r in reasons)
    return str(reasons) if reasons else ""


def _details_text(details: Any) -> str:
    if details is None:
        return ""
    if isinstance(details, dict):
        text = message_from_json(details)
        if text:
            return text
        return "; ".join(f"{k}: {v}" for k, v in details.items())[:300]
    return str(details)[:300]
