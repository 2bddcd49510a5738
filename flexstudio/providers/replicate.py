"""Replicate predictions API for the official ``black-forest-labs/flux-2-flex`` model (providers.md §3).

Create ``POST {base}/v1/models/black-forest-labs/flux-2-flex/predictions`` with
``Authorization: Bearer <token>`` and ``Prefer: wait=10`` (short, so the window shows progress). The
prediction comes back finished when the model was quick enough, else ``starting``/``processing``; then
``urls.get`` is polled and ``urls.cancel`` cancels — both used verbatim, and only when they are on the
API base's origin (the token is never sent anywhere else). Errors are RFC 7807 problem details. The
single output URL (replicate.delivery) is deleted after an hour: the runner downloads it at once,
without credentials.

Size: Replicate's ``aspect_ratio: "custom"`` takes 256–2048 px per side (multiples of 16). A requested
size outside that is scaled into it keeping the aspect ratio (the badge says "converted"); an aspect
ratio beyond 8:1 cannot be kept and is refused before anything is sent.

References: a reference above ``INLINE_MAX_BYTES`` (Replicate recommends data URIs only below ~1 MB,
and limits the request's size) is uploaded once with the Files API — ``POST {base}/v1/files`` multipart
(part ``content``), as replicate-python's ``files.create`` does — and the file's ``urls.get`` is sent; the
URL is cached (``uploads.Uploads``) with the file's ``expires_at``. A prediction refused with a 422 on
``input_images`` after cached URLs were sent is created once more with fresh uploads.

Moderation (``error`` containing ``(E005)``, "The input or output was flagged as sensitive") does not say
which side was flagged: a prediction that never started (no ``started_at``) was refused on its input,
otherwise the output is blamed. [I]
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..core.errors import BadInput, ErrorKind, JobGone, ProviderError, verdict
from ..core.sizes import fit_sides
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
from .profiles.replicate import (
    GUIDANCE_RANGE,
    SAFETY_RANGE,
    SIDE_RANGE,
    STEPS_RANGE,
)
from .profiles.replicate import PROFILES as PROFILES
from .uploads import Uploaded, UploadingProvider, epoch_seconds

if TYPE_CHECKING:
    import httpx

    from ..core.request import EditRequest

MODEL = "black-forest-labs/flux-2-flex"
PREFER_WAIT = 10  # seconds the create call may hold the connection (1–60)
OUTPUT_QUALITY = 95
FORMAT_NAMES = {"jpeg": "jpg", "png": "png", "webp": "webp"}
MODERATION_CODE = "(E005)"
INLINE_MAX_BYTES = 256 * 1024  # smaller references travel as data URIs inside the request
FILE_LIFETIME = 3600  # assumed when the Files API states no expires_at (files last 1 h)
_EXT = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp"}
_PERCENT = re.compile(r"(\d{1,3})%\|")


def clamp(value: float, lo: float, hi: float) -> float:
    return max(lo, min(hi, value))


def data_uri(ref: PreparedReference) -> str:
    return f"data:{ref.mime};base64,{base64.b64encode(ref.data).decode('ascii')}"


def custom_size(width: int, height: int) -> tuple[int, int]:
    """The width/height sent with ``aspect_ratio: "custom"``: inside 256–2048 per side, multiples of 16,
    keeping the aspect ratio. Raises ``BadInput`` when the aspect ratio cannot fit (beyond 8:1)."""
    lo, hi = SIDE_RANGE
    size = fit_sides(width, height, lo, hi)
    if size is None:
        raise BadInput(
            f"Replicate makes sizes from {lo} to {hi} pixels per side, so {width}×{height} "
            f"cannot keep its shape (at most {hi // lo}:1) — choose another size."
        )
    return size


def _refused_url(response: httpx.Response) -> bool:
    """A 422 that names ``input_images`` (a file Replicate could not fetch): no prediction was created."""
    if response.status_code != 422:
        return False
    data = _json_or_none(response)
    fields = data.get("invalid_fields") if isinstance(data, dict) else None
    if isinstance(fields, list) and any(
        isinstance(f, dict) and "input_images" in str(f.get("field", "")) for f in fields
    ):
        return True
    return isinstance(data, dict) and "input_images" in str(data.get("detail", ""))


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _last_line(logs: Any) -> str:
    if not isinstance(logs, str):
        return ""
    # progress bars redraw with carriage returns: the last segment is the current state
    for line in reversed(re.split(r"[\r\n]+", logs)):
        if line.strip():
            return line.strip()
    return ""


def _progress(line: str) -> float | None:
    m = _PERCENT.search(line)
    if not m:
        return None
    return min(100, int(m.group(1))) / 100


class ReplicateProvider(UploadingProvider, HttpProvider):
    """Replicate predictions (create with ``Prefer: wait`` → get → cancel)."""

    def __init__(self, info: ProviderInfo, ctx: ProviderContext) -> None:
        super().__init__(info, ctx)
        self.base = self._base()
        options = self.options
        self.model = str(options.get("model", MODEL)).strip("/")
        self.prefer_wait = int(clamp(int(options.get("prefer_wait", PREFER_WAIT)), 1, 60))
        self.inline_max_bytes = INLINE_MAX_BYTES

    # ------------------------------------------------------------------ plumbing
    def _auth(self) -> dict[str, str]:
        token = self.require_key()
        return {"Authorization": f"Bearer {token}"}

    def _api_url(self, url: Any, what: str) -> str:
        return self.api_url(url, what, noun="prediction", secret="token")

    def _error(self, response: httpx.Response) -> ProviderError:
        """Map an RFC 7807 problem (``title``, ``detail``, ``status``, ``invalid_fields``)."""
        data = _json_or_none(response)
        said = body_message(response)
        if isinstance(data, dict):
            fields = data.get("invalid_fields")
            if isinstance(fields, list) and fields:
                parts = [
                    f"{f.get('field', '?')}: {f.get('description') or f.get('type', '')}"
                    for f in fields
                    if isinstance(f, dict)
                ]
                said = "; ".join(p for p in parts if p) or said
            elif isinstance(data.get("title"), str) and data["title"] not in said:
                said = f"{data['title']}: {said}" if said else data["title"]
        return provider_error(self.info.label, response, message=said)

    def _gone(self, response: httpx.Response) -> JobGone:
        said = body_message(response)
        return JobGone(
            f"{self.info.label} no longer knows this prediction ({response.status_code}: {said}); "
            "it cannot be finished.",
            kind=ErrorKind.PROVIDER,
            status=response.status_code,
            provider_message=said,
        )

    # ------------------------------------------------------------------ request
    def build_input(
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
        if request.output_format not in FORMAT_NAMES:
            raise BadInput(f"{self.info.label} cannot return {request.output_format}.")
        request = request.resolved()
        width, height = custom_size(*request.output_size(caps.max_pixels))
        inp: dict[str, Any] = {"prompt": request.prompt}
        if references:
            inp["input_images"] = (
                list(image_urls) if image_urls is not None else [data_uri(r) for r in references]
            )
        inp.update(
            {
                "aspect_ratio": "custom",
                "width": width,
                "height": height,
                "steps": int(clamp(request.steps, *STEPS_RANGE)),
                "guidance": float(clamp(request.guidance, *GUIDANCE_RANGE)),
                "seed": request.seed,
                "safety_tolerance": int(clamp(request.safety, *SAFETY_RANGE)),
                "prompt_upsampling": bool(request.prompt_upsampling),
                "output_format": FORMAT_NAMES[request.output_format],
                "output_quality": OUTPUT_QUALITY,
            }
        )
        return inp

    # ------------------------------------------------------------------ the four steps
    async def submit(self, request: EditRequest, references: Sequence[PreparedReference]) -> Submission:
        headers = self._auth()
        self.build_input(request, references, ())  # refuse a bad request before anything is uploaded
        values, reused = await self.reference_values(references)
        body = {"input": self.build_input(request, references, values)}
        url = f"{self.base}/v1/models/{self.model}/predictions"
        headers["Prefer"] = f"wait={self.prefer_wait}"
        response = await self.http.submit("POST", url, json=body, headers=headers)
        if reused and _refused_url(response):
            # Replicate could not use a cached file (expired or deleted): no prediction was made; once more
            values, _ = await self.reference_values(references, fresh=True)
            body["input"]["input_images"] = values
            response = await self.http.submit("POST", url, json=body, headers=headers)
        if not response.is_success:
            raise self._error(response)
        # an accepting answer we cannot read: the prediction may exist and be billed (the status says so)
        prediction = self._prediction(json_body(self.info.label, response), status=response.status_code)
        pid = prediction["id"]
        urls = prediction.get("urls")
        urls = urls if isinstance(urls, dict) else {}
        try:
            handle = {
                "id": pid,
                "get": self._api_url(urls.get("get"), "prediction URL"),
                "cancel": self._api_url(urls.get("cancel"), "cancel URL"),
            }
        except ProviderError as exc:
            if prediction["status"] != "succeeded":
                # the prediction runs (and bills) but cannot be followed safely: "may have been billed"
                raise ProviderError(
                    f"{exc} (prediction {pid})", kind=exc.kind, status=response.status_code
                ) from None
            handle = {"id": pid, "get": None, "cancel": None}  # finished: nothing to follow
        outcome = self._outcome(prediction)
        return Submission(
            provider_job_id=pid, handle=handle, result=outcome.result if outcome.state == "done" else None
        )

    # ------------------------------------------------------------------ Files API
    def inline_reference(self, ref: PreparedReference) -> str | None:
        return data_uri(ref)

    async def upload_reference(self, ref: PreparedReference) -> Uploaded:
        name = f"{ref.source_sha256[:16] or 'reference'}-{ref.width}x{ref.height}.{_EXT.get(ref.mime, 'png')}"
        started = self.uploads.clock()
        response = await self.http.idempotent(
            "POST",
            f"{self.base}/v1/files",
            headers=self._auth(),
            files={"content": (name, ref.data, ref.mime)},
        )
        if not response.is_success:
            raise self._error(response)
        data = json_body(self.info.label, response)
        urls = data.get("urls") if isinstance(data, dict) else None
        get = urls.get("get") if isinstance(urls, dict) else None
        if not isinstance(get, str) or not get:
            raise error(self.info.label, ErrorKind.PROVIDER, "the file answer has no urls.get")
        expires = epoch_seconds(data.get("expires_at")) or started + FILE_LIFETIME
        return Uploaded(check_url(get, what="uploaded file URL"), expires)

    def _prediction(self, data: Any, *, status: int | None = None) -> dict[str, Any]:
        """The prediction object of an answer; ``status``: the HTTP status the error carries."""
        if not isinstance(data, dict):
            raise error(
                self.info.label, ErrorKind.PROVIDER, "the prediction is not a JSON object", status=status
            )
        missing = [k for k in ("id", "status") if not isinstance(data.get(k), str) or not data.get(k)]
        if missing:
            said = f"the prediction lacks {', '.join(missing)}"
            raise error(self.info.label, ErrorKind.PROVIDER, said, status=status)
        return data

    def _outcome(self, prediction: Mapping[str, Any]) -> PollResult:
        """The poll outcome of one prediction object (raises for failed / canceled)."""
        label = self.info.label
        status = prediction["status"]
        if status in ("starting", "processing"):
            line = _last_line(prediction.get("logs"))
            return PollResult("running", progress=_progress(line), message=line or status.capitalize())
        if status == "succeeded":
            return PollResult("done", result=self._result(prediction))
        if status == "failed":
            said = str(prediction.get("error") or "the prediction failed")
            if MODERATION_CODE in said:
                stage = "output" if prediction.get("started_at") else "input"
                what = "the prompt or references" if stage == "input" else "the input or the result"
                raise ProviderError(
                    f"{label}'s safety filter flagged {what}. ({said})",
                    kind=ErrorKind.MODERATED,
                    provider_message=said,
                    moderation_stage=stage,
                )
            raise verdict(error(label, ErrorKind.PROVIDER, said))
        if status == "canceled":
            raise verdict(error(label, ErrorKind.PROVIDER, "cancelled"))
        raise error(label, ErrorKind.PROVIDER, f"unknown prediction status {status!r}")

    def _result(self, prediction: Mapping[str, Any]) -> Result:
        output = prediction.get("output")
        items = output if isinstance(output, list) else [output]
        urls = tuple(u for u in items if isinstance(u, str) and u)
        if not urls:
            if prediction.get("data_removed"):
                raise verdict(
                    error(
                        self.info.label,
                        ErrorKind.EXPIRED,
                        "the output was deleted (Replicate keeps results for one hour)",
                    )
                )
            raise error(self.info.label, ErrorKind.PROVIDER, "the prediction succeeded without an output")
        inp = prediction.get("input")
        seed = inp.get("seed") if isinstance(inp, dict) else None
        return Result(urls=urls, seed=seed if isinstance(seed, int) and not isinstance(seed, bool) else None)

    async def poll(self, handle: Mapping[str, Any]) -> PollResult:
        headers = self._auth()
        url = self._api_url(handle.get("get"), "prediction URL")
        response = await self.http.get(url, headers=headers)
        if response.status_code in (404, 410):
            raise self._gone(response)
        if not response.is_success:
            raise self._error(response)
        return self._outcome(self._prediction(json_body(self.info.label, response)))

    async def download(self, url: str) -> bytes:
        return await self.http.download(url)

    async def check_key(self) -> str:
        """Whose token this is (``GET {base}/v1/account``, free; replicate-python ``accounts.current()``):
        the account's username, or the provider's refusal as an error (401 → ``AUTH``)."""
        response = await self.http.get(f"{self.base}/v1/account", headers=self._auth())
        if not response.is_success:
            raise self._error(response)
        data = _json_or_none(response)
        name = data.get("username") if isinstance(data, dict) else None
        return f"account: {name}" if isinstance(name, str) and name else ""

    async def cancel(self, handle: Mapping[str, Any]) -> bool:
        headers = self._auth()
        url = self._api_url(handle.get("cancel"), "cancel URL")
        response = await self.http.idempotent("POST", url, headers=headers)
        if response.status_code == 404:
            return False
        if not response.is_success:
            raise self._error(response)
        data = _json_or_none(response)
        status = data.get("status") if isinstance(data, dict) else None
        return status not in ("succeeded", "failed")
