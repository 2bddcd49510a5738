"""A local emulator of fal.ai's queue API for ``fal-ai/flux-2-flex`` (providers.md §2, §7).

Routes (``{app}`` = ``fal-ai/flux-2-flex``):

- ``POST /{app}`` (text-to-image) and ``POST /{app}/edit`` → 200
  ``{request_id, response_url, status_url, cancel_url, queue_position}``; the three URLs use only
  ``{app}/requests/{id}`` (never the ``/edit`` sub-path) and requests on ``/{app}/edit/requests/…`` are 404.
- ``GET …/requests/{id}/status[?logs=1]`` → ``IN_QUEUE`` (with ``queue_position``) / ``IN_PROGRESS`` /
  ``COMPLETED`` (both with a ``logs`` key: the log list when ``logs=1|true``, else null). In-flight
  answers are 202, ``COMPLETED`` 200 [I]. The first ``latency_polls // 2`` polls are ``IN_QUEUE``, the rest
  of the first ``latency_polls`` are ``IN_PROGRESS``, then ``COMPLETED``.
- ``GET …/requests/{id}`` → the output ``{images:[{url, content_type, file_name, file_size, width,
  height}], seed}`` (images on the ``Delivery`` host, or a ``data:`` URI with ``sync_mode``); 400 while in
  flight; 422 ``content_policy_violation`` when moderated.
- ``PUT …/requests/{id}/cancel`` → 202 ``{"status":"CANCELLATION_REQUESTED"}``, 400
  ``{"status":"ALREADY_COMPLETED"}``, 404 ``{"status":"NOT_FOUND"}``. A cancelled request then reports
  ``COMPLETED`` with ``error``/``error_type: client_cancelled`` [I].

Storage (providers.md §2.3, the flow ``fal_client`` uses), with the emulator's root standing for fal's
REST host at ``/rest`` and its CDN at ``/cdn`` (architecture.md, ``--base-url`` for fal):

- ``POST /rest/storage/auth/token?storage_type=fal-cdn-v3`` (``Authorization: Key …``, body ``{}``) →
  ``{token, token_type: "Bearer", base_url, expires_at}``;
- ``POST /cdn/files/upload`` with ``Authorization: Bearer <token>`` (the account key is refused there with
  401), ``Content-Type`` and ``X-Fal-File-Name`` → ``{"access_url": "{root}/cdn/files/{id}/{name}"}``;
- ``GET /cdn/files/{id}/{name}`` serves the bytes without auth (404 once expired).
``files`` (a ``FileStore``) counts uploads and bytes; ``files.expire_all()`` or ``upload_ttl`` expires
them, after which a submit naming such a URL gets fal's 422 ``file_download_error``.

Every call needs ``Authorization: Key <key_id>:<key_secret>`` (401 bodies as fal sends them). The body is
validated like the pydantic model: required fields, types (``safety_tolerance`` is a *string* "1".."5",
``image_size`` an object or a preset name), ranges (steps 2–50, guidance 1.5–10), ``image_urls`` https or
decodable ``data:`` image URIs (at most ``max_images``, default 10 [I]); unknown fields are refused with
``extra_forbidden`` [I: so a client sending e.g. ``enable_prompt_expansion`` notices].

Scenarios (``SCENARIOS``), fal specifics: ``credits`` → 403 "User is locked. Reason: Exhausted balance…"
(fal never answers 402); ``rate_limit`` → 429 + ``Retry-After: 1`` on the first submit (the real queue
does not reject queued requests; played for the contract suite); ``submit_5xx`` → a flat
``{"detail","error_type"}`` 500 with ``X-Fal-Error-Type``; ``moderated_input`` / ``moderated_output`` →
``COMPLETED`` then a 422 ``content_policy_violation`` on the result GET, with ``loc`` ``["body","prompt"]``
(input) or ``["body"]`` (output — fal does not say which side; [I]); ``server_error_then_success`` /
``reset`` act on the first status poll. The download faults are the ``Delivery``'s.

Test knobs: ``route_prefix`` puts the per-request URLs under another path (proving they are used as
given), ``status_query`` adds a query to ``status_url``, ``url_origin`` hands out URLs on another origin.
"""

from __future__ import annotations

import base64
import binascii
import io
import random
from datetime import UTC, datetime
from typing import Any

from .base import Delivery, Emulator, Reply, Req, json_reply, make_image
from .files import FileStore

APP = "fal-ai/flux-2-flex"
DEFAULT_KEY = "fal-key-id:fal-key-secret"
PRESETS = {
    "square_hd": (1024, 1024),
    "square": (512, 512),
    "portrait_4_3": (768, 1024),
    "portrait_16_9": (576, 1024),
    "landscape_4_3": (1024, 768),
    "landscape_16_9": (1024, 576),
}
FORMATS = {"jpeg": ("JPEG", "image/jpeg", "jpeg"), "png": ("PNG", "image/png", "png")}
SAFETY = ("1", "2", "3", "4", "5")
COMMON_FIELDS = {
    "prompt",
    "image_size",
    "guidance_scale",
    "num_inference_steps",
    "seed",
    "safety_tolerance",
    "enable_safety_checker",
    "output_format",
    "sync_mode",
}
POLICY_MSG = "The content could not be processed because it contained material flagged by a content checker."
DOWNLOAD_MSG = "Failed to download the file. Please check if the URL is accessible and try again."
LOAD_MSG = (
    "Failed to load the image. Please ensure the image file is not corrupted and is in a supported format."
)
ERRORS_URL = "https://docs.fal.ai/errors#"


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _detail(loc: list[Any], msg: str, type_: str, value: Any = None, **ctx: Any) -> dict[str, Any]:
    d: dict[str, Any] = {"loc": loc, "msg": msg, "type": type_, "url": ERRORS_URL + type_}
    if ctx:
        d["ctx"] = ctx
    if value is not None and not (isinstance(value, str) and len(value) > 200):
        d["input"] = value
    return d


def _image_error(url: Any, index: int) -> dict[str, Any] | None:
    loc = ["body", "image_urls", index]
    if not isinstance(url, str):
        return _detail(loc, "Input should be a valid string", "string_type", url)
    if url.startswith("https://"):
        return None
    if not url.startswith("data:"):
        return _detail(loc, DOWNLOAD_MSG, "file_download_error", url)
    header, _, payload = url.partition(",")
    if not header.startswith("data:image/") or ";base64" not in header:
        return _detail(loc, LOAD_MSG, "image_load_error")
    try:
        raw = base64.b64decode(payload, validate=True)
        from PIL import Image

        with Image.open(io.BytesIO(raw)) as img:
            img.verify()
    except (binascii.Error, ValueError, OSError):
        return _detail(loc, LOAD_MSG, "image_load_error")
    return None


class FalEmulator(Emulator):
    name = "fal"

    def __init__(
        self,
        delivery: Delivery,
        *,
        scenario: str = "success",
        latency_polls: int = 1,
        key: str = DEFAULT_KEY,
        route_prefix: str = "",
        status_query: str = "",
        url_origin: str | None = None,
        max_images: int = 10,
        upload_ttl: float | None = None,
        **kw: Any,
    ) -> None:
        super().__init__(scenario=scenario, latency_polls=latency_polls)
        self.files = FileStore(upload_ttl)
        self.tokens: set[str] = set()
        self.token_requests = 0
        self.delivery = delivery
        self.key = key
        self.route_prefix = route_prefix.rstrip("/")
        self.status_query = status_query
        self.url_origin = url_origin
        self.max_images = max_images
        self.jobs: dict[str, dict[str, Any]] = {}

    # ---------------------------------------------------------------- routing
    def handle(self, req: Req) -> Reply:
        path = req.path
        if self.route_prefix and path.startswith(self.route_prefix + "/"):
            path = path[len(self.route_prefix) :]
        if req.method == "POST" and path in (f"/{APP}", f"/{APP}/edit"):
            return self.submit(req, edit=path.endswith("/edit"))
        if req.method == "POST" and path == "/rest/storage/auth/token":
            return self.storage_token(req)
        if req.method == "POST" and path == "/cdn/files/upload":
            return self.upload(req)
        if req.method == "GET" and path.startswith("/cdn/files/"):
            item = self.files.get(path.split("/")[3])
            if item is None:
                return json_reply({"detail": "File not found"}, 404)
            return Reply(200, item.data, content_type=item.mime)
        prefix = f"/{APP}/requests/"
        if path.startswith(prefix):
            rest = path[len(prefix) :].split("/")
            denied = self._auth(req)
            if denied:
                return denied
            rid = rest[0]
            if req.method == "GET" and len(rest) == 2 and rest[1] == "status":
                return self.status(req, rid)
            if req.method == "GET" and len(rest) == 1:
                return self.result(rid)
            if req.method == "PUT" and len(rest) == 2 and rest[1] == "cancel":
                return self.cancel(rid)
        return json_reply({"detail": "Not Found"}, 404)

    def _auth(self, req: Req) -> Reply | None:
        value = req.header("authorization")
        if not value:
            return json_reply({"detail": "No authentication header provided"}, 401)
        scheme, _, cred = value.partition(" ")
        if scheme != "Key":
            return json_reply({"detail": "Invalid authentication header format"}, 401)
        if ":" not in cred:
            return json_reply(
                {"detail": "Invalid Key Authorization header format. Expected '<key_id>:<key_secret>'."}, 401
            )
        if cred != self.key:
            return json_reply({"detail": "No user found for Key ID and Secret"}, 401)
        return None

    # ---------------------------------------------------------------- storage
    def storage_token(self, req: Req) -> Reply:
        denied = self._auth(req)
        if denied:
            return denied
        if req.q("storage_type") != "fal-cdn-v3":
            return json_reply({"detail": "Unsupported storage type"}, 400)
        token = "cdn-" + self.new_id()
        with self.lock:
            self.tokens.add(token)
            self.token_requests += 1
        expires = datetime.fromtimestamp(datetime.now(UTC).timestamp() + 600, UTC).isoformat()
        return json_reply(
            {"token": token, "token_type": "Bearer", "base_url": f"{self.url}/cdn", "expires_at": expires}
        )

    def upload(self, req: Req) -> Reply:
        scheme, _, token = (req.header("authorization") or "").partition(" ")
        if scheme != "Bearer" or token not in self.tokens:
            return json_reply({"detail": "Invalid or missing storage token"}, 401)
        mime = req.header("content-type") or "application/octet-stream"
        name = req.header("x-fal-file-name") or "upload.bin"
        if not req.body:
            return json_reply({"detail": "Empty upload"}, 400)
        fid, _ = self.files.put(req.body, mime, name)
        return json_reply({"access_url": f"{self.url}/cdn/files/{fid}/{name}"})

    def _image_error(self, url: Any, index: int) -> dict[str, Any] | None:
        own = f"{self.url}/cdn/files/"
        if isinstance(url, str) and url.startswith(own):
            if self.files.get(url[len(own) :].split("/")[0]) is None:
                return _detail(["body", "image_urls", index], DOWNLOAD_MSG, "file_download_error", url)
            return None
        return _image_error(url, index)

    def _urls(self, rid: str) -> dict[str, str]:
        base = f"{self.url_origin or self.url}{self.route_prefix}/{APP}/requests/{rid}"
        status = f"{base}/status" + (f"?{self.status_query}" if self.status_query else "")
        return {"request_id": rid, "response_url": base, "status_url": status, "cancel_url": f"{base}/cancel"}

    # ---------------------------------------------------------------- submit
    def submit(self, req: Req, *, edit: bool) -> Reply:
        denied = self._auth(req)
        if denied:
            return denied
        s = self.scenario
        if s == "auth":
            return json_reply({"detail": "No user found for Key ID and Secret"}, 401)
        if s == "credits":
            return json_reply(
                {
                    "detail": "User is locked. Reason: Exhausted balance. Top up your balance "
                    "at fal.ai/dashboard/billing."
                },
                403,
            )
        if s == "validation":
            return json_reply(
                {"detail": [_detail(["body", "image_size"], "Image size is too large", "value_error")]}, 422
            )
        if s == "rate_limit" and self.once("submit-429"):
            return json_reply(
                {"detail": "Too many requests", "error_type": "rate_limited"}, 429, **{"Retry-After": "1"}
            )
        if s == "submit_5xx":
            return json_reply(
                {"detail": "Internal server error", "error_type": "internal_error"},
                500,
                **{"X-Fal-Error-Type": "internal_error"},
            )
        if s == "malformed_json":
            return Reply(
                200, '{"request_id": "7a1c", "status_url": "http://', content_type="application/json"
            )
        try:
            body = req.json()
        except ValueError:
            return json_reply({"detail": [_detail(["body"], "JSON decode error", "json_invalid")]}, 422)
        problems = self.validate(body, edit=edit)
        if problems:
            return json_reply({"detail": problems}, 422, **{"X-Fal-Retryable": "false"})
        rid = self.new_id()
        with self.lock:
            self.jobs[rid] = {
                "input": body,
                "edit": edit,
                "polls": 0,
                "cancelled": False,
                "output": None,
                "seed": body.get("seed", random.randrange(2**31)),
                "logs": [],
            }
        return json_reply({**self._urls(rid), "queue_position": 0})

    def validate(self, body: Any, *, edit: bool) -> list[dict[str, Any]]:
        if not isinstance(body, dict):
            return [_detail(["body"], "Input should be a valid dictionary", "dict_type")]
        errs: list[dict[str, Any]] = []
        allowed = COMMON_FIELDS | ({"image_urls"} if edit else set())
        for name in body:
            if name not in allowed:
                errs.append(
                    _detail(["body", name], "Extra inputs are not permitted", "extra_forbidden", body[name])
                )
        if not isinstance(body.get("prompt"), str):
            errs.append(
                _detail(["body", "prompt"], "Field required", "missing")
                if "prompt" not in body
                else _detail(["body", "prompt"], "Input should be a valid string", "string_type")
            )
        if edit:
            urls = body.get("image_urls")
            if urls is None:
                errs.append(_detail(["body", "image_urls"], "Field required", "missing"))
            elif not isinstance(urls, list):
                errs.append(_detail(["body", "image_urls"], "Input should be a valid list", "list_type"))
            elif not 1 <= len(urls) <= self.max_images:
                errs.append(
                    _detail(
                        ["body", "image_urls"],
                        f"List should have at most {self.max_images} items"
                        if urls
                        else "List should have at least 1 item",
                        "too_long" if urls else "too_short",
                    )
                )
            else:
                errs.extend(e for i, u in enumerate(urls) if (e := self._image_error(u, i)))
        size = body.get("image_size")
        if size is not None:
            if isinstance(size, str):
                if size not in PRESETS and not (edit and size == "auto"):
                    errs.append(
                        _detail(
                            ["body", "image_size"],
                            "Input should be a valid ImageSize or preset",
                            "literal_error",
                            size,
                        )
                    )
            elif isinstance(size, dict):
                w, h = size.get("width"), size.get("height")
                if not (_is_int(w) and _is_int(h)) or set(size) - {"width", "height"}:
                    errs.append(
                        _detail(
                            ["body", "image_size"], "width and height should be integers", "int_type", size
                        )
                    )
                elif w <= 0 or h <= 0 or w * h > 4 * 1_048_576:
                    errs.append(
                        _detail(["body", "image_size"], "Image size is out of range", "value_error", size)
                    )
            else:
                errs.append(
                    _detail(["body", "image_size"], "Input should be a valid dictionary", "dict_type")
                )
        for name, lo, hi, is_ok, what in (
            ("num_inference_steps", 2, 50, _is_int, "integer"),
            ("guidance_scale", 1.5, 10, _is_number, "number"),
        ):
            if name not in body:
                continue
            v = body[name]
            if not is_ok(v):
                errs.append(_detail(["body", name], f"Input should be a valid {what}", f"{what[:3]}_type", v))
            elif v < lo:
                errs.append(
                    _detail(
                        ["body", name],
                        f"Input should be greater than or equal to {lo}",
                        "greater_than_equal",
                        v,
                        ge=lo,
                    )
                )
            elif v > hi:
                errs.append(
                    _detail(
                        ["body", name],
                        f"Input should be less than or equal to {hi}",
                        "less_than_equal",
                        v,
                        le=hi,
                    )
                )
        if "seed" in body and not _is_int(body["seed"]):
            errs.append(
                _detail(["body", "seed"], "Input should be a valid integer", "int_type", body["seed"])
            )
        if "safety_tolerance" in body and body["safety_tolerance"] not in SAFETY:
            errs.append(
                _detail(
                    ["body", "safety_tolerance"],
                    "Input should be '1', '2', '3', '4' or '5'",
                    "literal_error",
                    body["safety_tolerance"],
                )
            )
        if "output_format" in body and body["output_format"] not in FORMATS:
            errs.append(
                _detail(
                    ["body", "output_format"],
                    "Input should be 'jpeg' or 'png'",
                    "literal_error",
                    body["output_format"],
                )
            )
        for name in ("enable_safety_checker", "sync_mode"):
            if name in body and not isinstance(body[name], bool):
                errs.append(
                    _detail(["body", name], "Input should be a valid boolean", "bool_type", body[name])
                )
        return errs

    # ---------------------------------------------------------------- queue
    def status(self, req: Req, rid: str) -> Reply:
        s = self.scenario
        if s == "server_error_then_success" and self.once("status-500"):
            return json_reply(
                {"detail": "Internal server error", "error_type": "internal_error"},
                500,
                **{"X-Fal-Error-Type": "internal_error"},
            )
        if s == "reset" and self.once("status-reset"):
            return Reply(reset=True)
        with self.lock:
            job = self.jobs.get(rid)
            if job is None:
                return json_reply({"detail": f"Request {rid} not found"}, 404)
            n = job["polls"]
            job["polls"] += 1
        want_logs = req.q("logs", "0") in ("1", "true")
        urls = self._urls(rid)
        steps = job["input"].get("num_inference_steps", 28)
        if job["cancelled"]:
            return json_reply(
                {
                    "status": "COMPLETED",
                    **urls,
                    "logs": job["logs"] if want_logs else None,
                    "error": "Request cancelled by the client",
                    "error_type": "client_cancelled",
                }
            )
        if n < self.latency_polls:
            queued = self.latency_polls // 2
            if n < queued:
                return json_reply({"status": "IN_QUEUE", "queue_position": queued - 1 - n, **urls}, 202)
            job["logs"].append(
                {
                    "message": f"Step {n - queued + 1}/{steps}",
                    "level": "INFO",
                    "source": "USER",
                    "timestamp": _now(),
                }
            )
            return json_reply(
                {"status": "IN_PROGRESS", **urls, "logs": job["logs"] if want_logs else None}, 202
            )
        return json_reply(
            {
                "status": "COMPLETED",
                **urls,
                "logs": job["logs"] if want_logs else None,
                "metrics": {"inference_time": 1.25},
            }
        )

    def _done(self, job: dict[str, Any]) -> bool:
        return job["polls"] >= self.latency_polls or job["cancelled"]

    def result(self, rid: str) -> Reply:
        with self.lock:
            job = self.jobs.get(rid)
        if job is None:
            return json_reply({"detail": f"Request {rid} not found"}, 404)
        if not self._done(job):
            return json_reply({"detail": "Request is still in progress"}, 400)
        if job["cancelled"]:
            return json_reply(
                {"detail": "Request cancelled by the client", "error_type": "client_cancelled"}, 499
            )
        if self.scenario in ("moderated_input", "moderated_output"):
            loc = ["body", "prompt"] if self.scenario == "moderated_input" else ["body"]
            return json_reply(
                {
                    "detail": [
                        {
                            "loc": loc,
                            "msg": POLICY_MSG,
                            "type": "content_policy_violation",
                            "url": ERRORS_URL + "content_policy_violation",
                        }
                    ]
                },
                422,
            )
        with self.lock:
            if job["output"] is None:
                job["output"] = self._output(job)
        return json_reply(job["output"])

    def _output(self, job: dict[str, Any]) -> dict[str, Any]:
        body = job["input"]
        size = body.get("image_size", "auto" if job["edit"] else "landscape_4_3")
        if isinstance(size, dict):
            w, h = size["width"], size["height"]
        else:
            w, h = PRESETS.get(size, (1024, 1024))
        pil_fmt, mime, ext = FORMATS[body.get("output_format", "jpeg")]
        data = make_image(w, h, pil_fmt)
        if body.get("sync_mode"):
            url = f"data:{mime};base64,{base64.b64encode(data).decode()}"
        else:
            url = self.delivery.host(data, mime, ext)
        name = f"{self.new_id()[:8]}.{ext}"
        return {
            "images": [
                {
                    "url": url,
                    "content_type": mime,
                    "file_name": name,
                    "file_size": len(data),
                    "width": w,
                    "height": h,
                }
            ],
            "seed": job["seed"],
        }

    def cancel(self, rid: str) -> Reply:
        with self.lock:
            job = self.jobs.get(rid)
            if job is None:
                return json_reply({"status": "NOT_FOUND"}, 404)
            if job["polls"] >= self.latency_polls or job["cancelled"]:
                return json_reply({"status": "ALREADY_COMPLETED"}, 400)
            job["cancelled"] = True
        return json_reply({"status": "CANCELLATION_REQUESTED"}, 202)

    @property
    def accepted(self) -> int:
        """How many requests the queue took (the paid ones)."""
        with self.lock:
            return len(self.jobs)
