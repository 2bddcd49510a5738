"""A local emulator of Replicate's predictions API for ``black-forest-labs/flux-2-flex`` (providers.md §3, §7).

Routes:

- ``POST /v1/models/black-forest-labs/flux-2-flex/predictions`` with ``{"input": {...}}`` → 201 with the
  prediction object (``id``, ``model``, ``version``, ``status`` always non-null strings; ``urls.get`` /
  ``urls.cancel`` / ``urls.web``). ``Prefer: wait`` / ``wait=N`` (1–60) is honoured: when the model is quick
  enough (``latency_polls == 0``) the create answers with the finished prediction, else ``starting``.
- ``GET /v1/predictions/{id}``: the first ``latency_polls`` answers are in flight (``starting`` first, then
  ``processing`` with tqdm-like ``logs``), then the terminal state: ``succeeded`` with ``output`` = one URL
  string on the ``Delivery`` host (``metrics.predict_time``), or ``failed`` with
  ``error: "… (E005)"`` when moderated.
- ``POST /v1/files`` (multipart, the file in part ``content``, as replicate-python's ``files.create``
  sends it) → 201 ``{id, name, content_type, size, etag, checksums, metadata, created_at, expires_at,
  urls: {get: "{root}/v1/files/{id}"}}``; ``GET /v1/files/{id}`` → that object (404 once expired).
  ``files`` (a ``FileStore``) counts uploads and bytes; after ``files.expire_all()`` (or ``file_ttl``) a
  prediction naming such a URL in ``input_images`` is refused with a 422 on that field.
- ``GET /v1/account`` → ``{type, username, name, github_url}`` (free; replicate-python
  ``accounts.current()``): whose token it is — Settings → Keys → Test connection.
- ``POST /v1/predictions/{id}/cancel`` → 200 with the prediction (``canceled`` if it was in flight,
  unchanged if it had finished); 404 for an unknown id.

Auth: ``Authorization: Bearer <token>`` (``Token <token>`` is also accepted, as Replicate does); errors are
RFC 7807 problem details (``title``, ``detail``, ``status``; 422 adds ``invalid_fields``). The input is
validated against the model schema: unknown properties, types (``safety_tolerance`` an *integer* 1–5,
``output_format`` one of ``webp|jpg|png`` — never ``jpeg``), ranges (width/height 256–2048, steps 1–50,
guidance 1.5–10, output_quality 0–100), ``input_images`` at most 10 https or decodable ``data:`` URIs.

Scenarios (``SCENARIOS``), Replicate specifics: ``credits`` → 402 "Insufficient credit"; ``rate_limit`` →
429 + ``Retry-After: 1`` on the first create; ``submit_5xx`` → a 500 problem on the create;
``server_error_then_success`` / ``reset`` act on the first GET of the prediction; ``moderated_input`` →
``failed`` with E005 and no ``started_at`` (refused before it ran) [I]; ``moderated_output`` → ``failed``
with E005 after it ran (``started_at`` and ``metrics.predict_time`` set). Replicate's message does not say
which side was flagged. The download faults are the ``Delivery``'s.

Test knobs: ``route_prefix`` puts ``urls.get``/``urls.cancel`` under another path (proving they are used
as given); ``url_origin`` hands out URLs on another origin.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import random
import string
from datetime import UTC, datetime
from typing import Any

from .base import Delivery, Emulator, Reply, Req, json_reply, make_image
from .files import FileStore
from .openai_images import parse_multipart

MODEL = "black-forest-labs/flux-2-flex"
DEFAULT_TOKEN = "r8_emulatortoken0000000000000000000000"
ASPECTS = ("match_input_image", "custom", "1:1", "16:9", "3:2", "2:3", "4:5", "5:4", "9:16", "3:4", "4:3")
RESOLUTIONS = ("match_input_image", "0.5 MP", "1 MP", "2 MP", "4 MP")
FORMATS = {"webp": ("WEBP", "image/webp"), "jpg": ("JPEG", "image/jpeg"), "png": ("PNG", "image/png")}
E005 = "The input or output was flagged as sensitive. (E005)"
# name → (json type, min, max)
NUMBERS = {
    "width": ("integer", 256, 2048),
    "height": ("integer", 256, 2048),
    "steps": ("integer", 1, 50),
    "guidance": ("number", 1.5, 10),
    "safety_tolerance": ("integer", 1, 5),
    "output_quality": ("integer", 0, 100),
    "seed": ("integer", None, None),
}
PROPERTIES = {
    "prompt",
    "input_images",
    "aspect_ratio",
    "resolution",
    "prompt_upsampling",
    "output_format",
    *NUMBERS,
}


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _json_type(v: Any) -> str:
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, int):
        return "integer"
    if isinstance(v, float):
        return "number"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    if v is None:
        return "null"
    return "object"


def _problem(status: int, title: str, detail: str, **extra: Any) -> Reply:
    headers = extra.pop("headers", {})
    return Reply(
        status,
        {"title": title, "detail": detail, "status": status, **extra},
        headers=headers,
        content_type="application/problem+json",
    )


def _uri_ok(v: Any) -> bool:
    if not isinstance(v, str):
        return False
    if v.startswith(("https://", "http://127.0.0.1:")):  # an emulator's own Files API URL is plain http
        return True
    header, _, payload = v.partition(",")
    if not (header.startswith("data:image/") and header.endswith(";base64")):
        return False
    try:
        base64.b64decode(payload, validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


def validate_input(body: Any) -> list[dict[str, str]]:
    """Replicate's ``invalid_fields`` for a create body."""

    def bad(type_: str, field: str, description: str) -> dict[str, str]:
        return {"type": type_, "field": field, "description": description}

    if not isinstance(body, dict) or not isinstance(body.get("input"), dict):
        return [bad("required", "(root)", "input is required")]
    inp = body["input"]
    errs = [
        bad("additional_property_not_allowed", "input", f"Additional property {k} is not allowed")
        for k in inp
        if k not in PROPERTIES
    ]
    if "prompt" not in inp:
        errs.append(bad("required", "input", "prompt is required"))
    elif not isinstance(inp["prompt"], str):
        errs.append(
            bad(
                "invalid_type",
                "input.prompt",
                f"Invalid type. Expected: string, given: {_json_type(inp['prompt'])}",
            )
        )
    if "input_images" in inp:
        images = inp["input_images"]
        if not isinstance(images, list):
            errs.append(
                bad(
                    "invalid_type",
                    "input.input_images",
                    f"Invalid type. Expected: array, given: {_json_type(images)}",
                )
            )
        else:
            if len(images) > 10:
                errs.append(bad("array_max_items", "input.input_images", "Array must have at most 10 items"))
            errs.extend(
                bad("format", f"input.input_images.{i}", "Does not match format 'uri'")
                for i, v in enumerate(images)
                if not _uri_ok(v)
            )
    for name, choices in (("aspect_ratio", ASPECTS), ("resolution", RESOLUTIONS), ("output_format", FORMATS)):
        if name in inp and inp[name] not in choices:
            listed = ", ".join(f'"{c}"' for c in choices)
            errs.append(bad("enum", f"input.{name}", f"{name} must be one of the following: {listed}"))
    for name, (type_, lo, hi) in NUMBERS.items():
        if name not in inp:
            continue
        v, given = inp[name], _json_type(inp[name])
        if given != type_ and not (type_ == "number" and given == "integer"):
            errs.append(
                bad("invalid_type", f"input.{name}", f"Invalid type. Expected: {type_}, given: {given}")
            )
        elif lo is not None and v < lo:
            errs.append(bad("number_gte", f"input.{name}", f"Must be greater than or equal to {lo}"))
        elif hi is not None and v > hi:
            errs.append(bad("number_lte", f"input.{name}", f"Must be less than or equal to {hi}"))
    if "prompt_upsampling" in inp and not isinstance(inp["prompt_upsampling"], bool):
        errs.append(
            bad(
                "invalid_type",
                "input.prompt_upsampling",
                f"Invalid type. Expected: boolean, given: {_json_type(inp['prompt_upsampling'])}",
            )
        )
    return errs


def parse_prefer(value: str | None) -> int | None:
    """Seconds asked for by ``Prefer: wait`` (60) or ``wait=N`` (1–60); None without a usable one."""
    if not value:
        return None
    for part in value.split(","):
        name, _, arg = part.strip().partition("=")
        if name.strip().lower() != "wait":
            continue
        if not arg:
            return 60
        try:
            n = int(arg.strip())
        except ValueError:
            return None
        return n if 1 <= n <= 60 else None
    return None


ACCOUNT = "emu-user"  # GET /v1/account's username


class ReplicateEmulator(Emulator):
    name = "replicate"

    def __init__(
        self,
        delivery: Delivery,
        *,
        scenario: str = "success",
        latency_polls: int = 1,
        token: str = DEFAULT_TOKEN,
        route_prefix: str = "",
        url_origin: str | None = None,
        file_ttl: float | None = None,
        **kw: Any,
    ) -> None:
        super().__init__(scenario=scenario, latency_polls=latency_polls)
        self.files = FileStore(file_ttl)
        self.delivery = delivery
        self.token = token
        self.route_prefix = route_prefix.rstrip("/")
        self.url_origin = url_origin
        self.predictions: dict[str, dict[str, Any]] = {}

    # ---------------------------------------------------------------- routing
    def handle(self, req: Req) -> Reply:
        path = req.path
        if self.route_prefix and path.startswith(self.route_prefix + "/"):
            path = path[len(self.route_prefix) :]
        denied = self._auth(req)
        if denied:
            return denied
        if req.method == "POST" and path == f"/v1/models/{MODEL}/predictions":
            return self.create(req)
        if req.method == "POST" and path == "/v1/files":
            return self.upload(req)
        if req.method == "GET" and path == "/v1/account":  # free: whose token this is
            return json_reply(
                {"type": "user", "username": ACCOUNT, "name": "Emulated User", "github_url": None}
            )
        if req.method == "GET" and path.startswith("/v1/files/"):
            item = self.files.get(path.split("/")[3])
            if item is None:
                return _problem(404, "Not found", "The requested file could not be found.")
            return json_reply(self._file_view(path.split("/")[3], item))
        if path.startswith("/v1/models/") and path.endswith("/predictions"):
            return _problem(404, "Not found", "The requested resource could not be found.")
        parts = path.strip("/").split("/")
        if len(parts) >= 3 and parts[:2] == ["v1", "predictions"]:
            pid = parts[2]
            if req.method == "GET" and len(parts) == 3:
                return self.get(pid)
            if req.method == "POST" and len(parts) == 4 and parts[3] == "cancel":
                return self.cancel(pid)
        return _problem(404, "Not found", "Not found.")

    def _auth(self, req: Req) -> Reply | None:
        value = req.header("authorization")
        if not value:
            return _problem(401, "Unauthenticated", "You did not pass an authentication token")
        scheme, _, token = value.partition(" ")
        if scheme not in ("Bearer", "Token") or token != self.token:
            return _problem(401, "Unauthenticated", "You did not pass a valid authentication token")
        return None

    # ---------------------------------------------------------------- create
    def create(self, req: Req) -> Reply:
        s = self.scenario
        if s == "auth":
            return _problem(401, "Unauthenticated", "You did not pass a valid authentication token")
        if s == "credits":
            return _problem(
                402,
                "Insufficient credit",
                "You have insufficient credit to run this model. Go to "
                "https://replicate.com/account/billing#billing to purchase credit. Once you "
                "purchase credit, please wait a few minutes before trying again.",
            )
        if s == "validation":
            fields = [
                {
                    "type": "number_lte",
                    "field": "input.width",
                    "description": "Must be less than or equal to 2048",
                }
            ]
            return _problem(
                422,
                "Input validation failed",
                "- input.width: Must be less than or equal to 2048\n",
                invalid_fields=fields,
            )
        if s == "rate_limit" and self.once("create-429"):
            return Reply(
                429,
                {"detail": "Request was throttled. Expected available in 1 second.", "status": 429},
                headers={"Retry-After": "1"},
                content_type="application/problem+json",
            )
        if s == "submit_5xx":
            return _problem(500, "Internal Server Error", "An unexpected error occurred.")
        if s == "malformed_json":
            return Reply(
                201, '{"id": "q4x", "status": "starting", "urls": {', content_type="application/json"
            )
        try:
            body = req.json()
        except ValueError:
            return _problem(400, "Bad request", "The request body is not valid JSON.")
        errs = validate_input(body)
        if not errs:
            errs = self._gone_files(body["input"].get("input_images") or [])
        if errs:
            detail = "".join(f"- {e['field']}: {e['description']}\n" for e in errs)
            return _problem(422, "Input validation failed", detail, invalid_fields=errs)
        pid = "".join(random.choices(string.ascii_lowercase + string.digits, k=26))
        inp = body["input"]
        job = {
            "id": pid,
            "input": inp,
            "polls": 0,
            "created_at": _now(),
            "cancelled": False,
            "output": None,
            "seed": inp.get("seed", random.randrange(2**31)),
        }
        with self.lock:
            self.predictions[pid] = job
        quick = parse_prefer(req.header("prefer")) is not None and self.latency_polls == 0
        return json_reply(self._view(job, terminal=quick, index=0), 201)

    # ---------------------------------------------------------------- files
    def upload(self, req: Req) -> Reply:
        try:
            parts = parse_multipart(req.body, req.header("content-type") or "")
        except ValueError as exc:
            return _problem(400, "Bad request", str(exc))
        content = next((p for p in parts if p.name == "content"), None)
        if content is None or not content.value:
            return _problem(422, "Input validation failed", "- content: a file is required\n")
        fid, item = self.files.put(
            content.value, content.content_type or "application/octet-stream", content.filename or "file"
        )
        return json_reply(self._file_view(fid, item), 201)

    def _file_view(self, fid: str, item: Any) -> dict[str, Any]:
        expires = (
            None if item.expires_at is None else datetime.fromtimestamp(item.expires_at, UTC).isoformat()
        )
        return {
            "id": fid,
            "name": item.name,
            "content_type": item.mime,
            "size": len(item.data),
            "etag": hashlib.md5(item.data).hexdigest(),
            "checksums": {"sha256": hashlib.sha256(item.data).hexdigest()},
            "metadata": {},
            "created_at": _now(),
            "expires_at": expires,
            "urls": {"get": f"{self.url}/v1/files/{fid}"},
        }

    def _gone_files(self, images: list[Any]) -> list[dict[str, str]]:
        own = f"{self.url}/v1/files/"
        return [
            {
                "type": "format",
                "field": f"input.input_images.{i}",
                "description": "The file could not be downloaded (it expired or was deleted)",
            }
            for i, v in enumerate(images)
            if isinstance(v, str) and v.startswith(own) and self.files.get(v[len(own) :]) is None
        ]

    # ---------------------------------------------------------------- predictions
    def _urls(self, pid: str) -> dict[str, str]:
        base = f"{self.url_origin or self.url}{self.route_prefix}/v1/predictions/{pid}"
        return {
            "get": base,
            "cancel": f"{base}/cancel",
            "web": f"https://replicate.com/p/{pid}",
            "stream": f"https://stream.replicate.com/v1/files/{pid}",
        }

    def _view(self, job: dict[str, Any], *, terminal: bool, index: int) -> dict[str, Any]:
        steps = job["input"].get("steps", 30)
        view: dict[str, Any] = {
            "id": job["id"],
            "model": MODEL,
            "version": "hidden",
            "input": job["input"],
            "logs": "",
            "output": None,
            "data_removed": False,
            "error": None,
            "status": "starting",
            "source": "api",
            "created_at": job["created_at"],
            "started_at": None,
            "completed_at": None,
            "urls": self._urls(job["id"]),
            "metrics": {},
        }
        seed_line = f"Using seed: {job['seed']}\n"
        if job["cancelled"]:
            view.update(status="canceled", started_at=job["created_at"], completed_at=_now(), logs=seed_line)
            return view
        if not terminal:
            if index > 0:
                done = min(steps, steps * index // max(1, self.latency_polls))
                pct = 100 * done // steps
                view.update(
                    status="processing",
                    started_at=job["created_at"],
                    logs=f"{seed_line}{pct:3d}%|{'█' * (pct // 10):<10}| {done}/{steps}",
                )
            return view
        if self.scenario == "moderated_input":
            view.update(status="failed", error=E005, completed_at=_now())
            return view
        view.update(
            started_at=job["created_at"],
            completed_at=_now(),
            logs=f"{seed_line}100%|██████████| {steps}/{steps}",
            metrics={"predict_time": 2.31, "total_time": 2.4},
        )
        if self.scenario == "moderated_output":
            view.update(status="failed", error=E005)
            return view
        with self.lock:
            if job["output"] is None:
                job["output"] = self._output(job)
        view.update(status="succeeded", output=job["output"])
        return view

    def _output(self, job: dict[str, Any]) -> str:
        inp = job["input"]
        if inp.get("aspect_ratio") == "custom" and "width" in inp and "height" in inp:
            w, h = inp["width"], inp["height"]
        else:
            w, h = 1024, 1024
        fmt = inp.get("output_format", "webp")
        pil_fmt, mime = FORMATS[fmt]
        return self.delivery.host(make_image(w, h, pil_fmt), mime, fmt)

    def get(self, pid: str) -> Reply:
        s = self.scenario
        if s == "server_error_then_success" and self.once("get-500"):
            return _problem(500, "Internal Server Error", "An unexpected error occurred.")
        if s == "reset" and self.once("get-reset"):
            return Reply(reset=True)
        with self.lock:
            job = self.predictions.get(pid)
            if job is None:
                return _problem(404, "Not found", "Not found.")
            index = job["polls"]
            job["polls"] += 1
        return json_reply(self._view(job, terminal=index >= self.latency_polls, index=index))

    def cancel(self, pid: str) -> Reply:
        with self.lock:
            job = self.predictions.get(pid)
            if job is None:
                return _problem(404, "Not found", "Not found.")
            finished = job["polls"] >= self.latency_polls or job["cancelled"]
            if not finished:
                job["cancelled"] = True
        if finished:
            return json_reply(self._view(job, terminal=True, index=job["polls"]))
        return json_reply(self._view(job, terminal=False, index=0))

    @property
    def accepted(self) -> int:
        """How many predictions were created (the paid ones)."""
        with self.lock:
            return len(self.predictions)
