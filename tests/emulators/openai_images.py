"""Emulator of an OpenAI-compatible image API, Lumenfall flavour (providers.md §4, §7).

- ``POST {prefix}/images/edits``: multipart/form-data. Reference images are file parts named ``image``
  (exactly one) or ``image[]`` (one or more, what the OpenAI SDK sends for a list) — never mixed, at
  most 10, each a PNG/JPEG/WebP that decodes. Every other field is a plain form string: ``model``,
  ``prompt`` (required), ``n``, ``size`` ("WxH", "W:H" or "auto"), ``response_format`` (url|b64_json),
  ``output_format`` (png|jpeg|gif|webp|avif) and pass-through fields, checked when present: ``seed``,
  ``steps`` (1–50), ``num_inference_steps`` (2–50), ``guidance`` / ``cfg_scale`` (1.5–10),
  ``safety_tolerance`` ("1"–"5"), ``prompt_enhancement`` (on|off), ``prompt_upsampling`` (true|false).
- ``POST {prefix}/images/generations``: the same fields as JSON (typed values).
- ``Authorization: Bearer <key>`` exactly; errors are ``{"error": {"message", "type", "code", "param"}}``
  with Lumenfall's codes; answers carry ``metadata.cost`` (fal's per-MP rule at $0.06) and the
  ``X-Lumenfall-*`` headers. Results are inline ``b64_json`` or, when the request asks for
  ``response_format=url``, URLs on the ``Delivery`` host.

Scenarios (synchronous protocol: there is no poll):
success; auth (401 AUTHENTICATION_FAILED); credits (402 insufficient_quota INSUFFICIENT_BALANCE);
validation (400 INVALID_REQUEST, param size); rate_limit (429 RATE_LIMITED + retry-after: 1 on the first
request, then accepted); server_error_then_success (the first request answers 503, then normal);
submit_5xx (500); reset (the connection is closed after the request was read); malformed_json (200 with
a broken body); moderated_input (400 UPSTREAM_ERROR, "input … flagged by content moderation");
moderated_output (422 UPSTREAM_ERROR, "generated image … flagged by the safety checker").
The download scenarios (expired_url … redirect_other_host) set ``delivery.scenario`` and only apply to
``response_format=url``: inline ``b64_json`` results never touch the Delivery host.
"""

from __future__ import annotations

import base64
import io
import json
import math
import re
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from .base import DOWNLOAD_SCENARIOS, Delivery, Emulator, Reply, Req, json_reply, make_image

KEY = "lmnfl_test_key"
MODEL = "flux.2-flex"
PRICE_PER_MP = 0.06
IMAGE_MIMES = {"image/png", "image/jpeg", "image/webp"}
OUTPUT_FORMATS = {"png", "jpeg", "gif", "webp", "avif"}
_PIL_FORMAT = {
    "jpeg": ("JPEG", "image/jpeg", "jpg"),
    "png": ("PNG", "image/png", "png"),
    "webp": ("WEBP", "image/webp", "webp"),
}


@dataclass
class Part:
    name: str
    value: bytes
    filename: str | None = None
    content_type: str | None = None

    @property
    def text(self) -> str:
        return self.value.decode("utf-8")


def parse_multipart(body: bytes, content_type: str) -> list[Part]:
    """A strict multipart/form-data parser (no email-module line-ending surprises)."""
    m = re.search(r'boundary="?([^";]+)"?', content_type or "")
    if not content_type.startswith("multipart/form-data") or not m:
        raise ValueError("expected multipart/form-data with a boundary")
    delimiter = b"--" + m.group(1).encode()
    chunks = body.split(delimiter)
    if len(chunks) < 3 or not chunks[-1].startswith(b"--"):
        raise ValueError("the multipart body is not terminated")
    parts: list[Part] = []
    for chunk in chunks[1:-1]:
        if not chunk.startswith(b"\r\n") or not chunk.endswith(b"\r\n"):
            raise ValueError("a multipart part is not framed by CRLF")
        head, sep, content = chunk[2:-2].partition(b"\r\n\r\n")
        if not sep:
            raise ValueError("a multipart part has no header/body separator")
        headers: dict[str, str] = {}
        for line in head.decode("utf-8").split("\r\n"):
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        disp = headers.get("content-disposition", "")
        name = re.search(r'(?:^|;)\s*name="([^"]*)"', disp)
        if not disp.startswith("form-data") or not name:
            raise ValueError("a multipart part has no form-data name")
        filename = re.search(r'filename="([^"]*)"', disp)
        parts.append(
            Part(name.group(1), content, filename.group(1) if filename else None, headers.get("content-type"))
        )
    return parts


def image_size_of(data: bytes) -> tuple[int, int]:
    from PIL import Image

    with Image.open(io.BytesIO(data)) as img:
        img.verify()
    with Image.open(io.BytesIO(data)) as img:
        return img.size


def billed_mp(width: int, height: int) -> int:
    return max(1, math.ceil(width * height / 1_048_576))


class Invalid(Exception):
    def __init__(self, message: str, param: str | None = None) -> None:
        super().__init__(message)
        self.param = param


@dataclass
class Call:
    """One request the emulator accepted for parsing: which endpoint, its fields (strings for multipart,
    typed for JSON), the image parts and the name they were sent under."""

    endpoint: str
    fields: dict[str, Any]
    images: list[Part] = field(default_factory=list)
    image_field: str | None = None


class OpenAIImagesEmulator(Emulator):
    name = "openai-images"

    def __init__(
        self,
        delivery: Delivery,
        *,
        scenario: str = "success",
        latency_polls: int = 1,
        key: str = KEY,
        model: str = MODEL,
        prefix: str = "/openai/v1",
        max_images: int = 10,
    ) -> None:
        super().__init__(scenario=scenario, latency_polls=latency_polls)
        self.delivery = delivery
        self.key = key
        self.model = model
        self.prefix = prefix.rstrip("/")
        self.max_images = max_images
        self.calls: list[Call] = []
        self.accepted = 0  # requests that produced (and billed) images
        if scenario in DOWNLOAD_SCENARIOS:
            delivery.scenario = scenario

    @property
    def base_url(self) -> str:
        """The API root to give the provider (it holds /images/edits)."""
        return self.url + self.prefix

    def reset(self, scenario: str = "success") -> None:
        """Start over with another scenario, keeping the server running (cheap reuse between tests)."""
        with self.lock:
            self.requests.clear()
            self.counters.clear()
            self.scenario = scenario
            self.calls.clear()
            self.accepted = 0
        self.delivery.scenario = scenario if scenario in DOWNLOAD_SCENARIOS else "success"

    # ------------------------------------------------------------------ errors
    @staticmethod
    def err(
        status: int, message: str, etype: str, code: str, param: str | None = None, **headers: str
    ) -> Reply:
        return json_reply(
            {"error": {"message": message, "type": etype, "code": code, "param": param}}, status, **headers
        )

    # ------------------------------------------------------------------ handler
    def handle(self, req: Req) -> Reply:
        endpoints = {
            self.prefix + "/images/edits": "edits",
            self.prefix + "/images/generations": "generations",
        }
        if req.method != "POST" or req.path not in endpoints:
            return self.err(
                404, f"Unknown endpoint {req.method} {req.path}", "invalid_request_error", "NOT_FOUND"
            )
        s = self.scenario
        if req.header("authorization") != f"Bearer {self.key}" or s == "auth":
            return self.err(401, "Invalid API key", "authentication_error", "AUTHENTICATION_FAILED")
        try:
            call = self._parse(endpoints[req.path], req)
        except Invalid as exc:
            return self.err(400, str(exc), "invalid_request_error", "INVALID_REQUEST", exc.param)
        with self.lock:
            self.calls.append(call)
        if call.fields.get("model") != self.model:
            return self.err(
                404,
                f"Model '{call.fields.get('model')}' not found",
                "invalid_request_error",
                "MODEL_NOT_FOUND",
                "model",
            )
        if s == "credits":
            return self.err(
                402,
                "Insufficient balance: $0.06 required, $0.02 available",
                "insufficient_quota",
                "INSUFFICIENT_BALANCE",
            )
        if s == "rate_limit" and self.once("rate_limit"):
            return self.err(
                429, "Rate limit exceeded", "rate_limit_error", "RATE_LIMITED", **{"retry-after": "1"}
            )
        if s == "server_error_then_success" and self.once("503"):
            return self.err(503, "Service temporarily unavailable", "server_error", "SERVICE_UNAVAILABLE")
        if s == "submit_5xx":
            return self.err(500, "Internal server error", "server_error", "INTERNAL_ERROR")
        if s == "reset":
            return Reply(reset=True)
        if s == "validation":
            return self.err(
                400,
                "Invalid size: dimensions exceed the model's limits",
                "invalid_request_error",
                "INVALID_REQUEST",
                "size",
            )
        if s == "malformed_json":
            return Reply(
                200, '{"created": 1732000000, "data": [{"b64_json": "iVBOR', content_type="application/json"
            )
        if s == "moderated_input":
            return self.err(
                400,
                "Upstream provider error: the input was flagged by content moderation "
                "(content_policy_violation)",
                "upstream_error",
                "UPSTREAM_ERROR",
            )
        if s == "moderated_output":
            return self.err(
                422,
                "Upstream provider error: the generated image was flagged by the safety checker",
                "upstream_error",
                "UPSTREAM_ERROR",
            )
        return self._success(call)

    # ------------------------------------------------------------------ parsing
    def _parse(self, endpoint: str, req: Req) -> Call:
        if endpoint == "edits":
            try:
                parts = parse_multipart(req.body, req.header("content-type") or "")
            except (ValueError, UnicodeDecodeError) as exc:
                raise Invalid(f"Malformed multipart body: {exc}") from None
            fields: dict[str, Any] = {}
            images: list[Part] = []
            names = set()
            for p in parts:
                if p.name in ("image", "image[]"):
                    names.add(p.name)
                    images.append(p)
                    continue
                if p.filename is not None:
                    raise Invalid(f"Unexpected file part {p.name!r}", p.name)
                if p.name in fields:
                    raise Invalid(f"Field {p.name!r} given twice", p.name)
                fields[p.name] = p.text
            if not images:
                raise Invalid("image is required for edits", "image")
            if len(names) > 1 or (names == {"image"} and len(images) > 1):
                raise Invalid("Send one image as 'image' or several as repeated 'image[]' parts", "image")
            if len(images) > self.max_images:
                raise Invalid(f"At most {self.max_images} input images are supported", "image")
            for p in images:
                if not p.filename or p.content_type not in IMAGE_MIMES:
                    raise Invalid("Each image must be a PNG, JPEG or WebP file", "image")
                try:
                    image_size_of(p.value)
                except Exception:
                    raise Invalid("An input image could not be decoded", "image") from None
            self._check(fields, strings=True)
            return Call("edits", fields, images, names.pop())
        if not (req.header("content-type") or "").startswith("application/json"):
            raise Invalid("Content-Type must be application/json")
        try:
            fields = json.loads(req.body)
        except ValueError:
            raise Invalid("Body is not valid JSON") from None
        if not isinstance(fields, dict):
            raise Invalid("Body must be a JSON object")
        self._check(fields, strings=False)
        return Call("generations", fields)

    def _check(self, f: dict[str, Any], *, strings: bool) -> None:
        def num(name: str, kind: type, lo: float, hi: float) -> None:
            if name not in f:
                return
            v = f[name]
            if strings:
                if not isinstance(v, str):
                    raise Invalid(f"{name} must be a form string", name)
                try:
                    v = kind(v)
                except ValueError:
                    raise Invalid(f"{name} must be a number", name) from None
            elif isinstance(v, bool) or not isinstance(v, (int, float) if kind is float else int):
                raise Invalid(f"{name} must be {'a number' if kind is float else 'an integer'}", name)
            if not lo <= v <= hi:
                raise Invalid(f"{name} must be between {lo:g} and {hi:g}", name)

        for required in ("model", "prompt"):
            if not isinstance(f.get(required), str) or not f[required].strip():
                raise Invalid(f"{required} is required", required)
        num("n", int, 1, 10)
        num("seed", int, 0, 2**32 - 1)
        num("steps", int, 1, 50)
        num("num_inference_steps", int, 2, 50)
        num("guidance", float, 1.5, 10)
        num("cfg_scale", float, 1.5, 10)
        size = f.get("size", "auto")
        if not isinstance(size, str) or not (size == "auto" or re.fullmatch(r"\d{1,5}[x:]\d{1,5}", size)):
            raise Invalid(f"Invalid size {size!r}", "size")
        if "x" in size:
            w, h = (int(x) for x in size.split("x"))
            if not (1 <= w <= 14142 and 1 <= h <= 14142):
                raise Invalid("size is out of range", "size")
        if f.get("response_format", "url") not in ("url", "b64_json"):
            raise Invalid("response_format must be url or b64_json", "response_format")
        if f.get("output_format", "png") not in OUTPUT_FORMATS:
            raise Invalid("Unsupported output_format", "output_format")
        if "safety_tolerance" in f and str(f["safety_tolerance"]) not in ("1", "2", "3", "4", "5"):
            raise Invalid("safety_tolerance must be one of 1, 2, 3, 4, 5", "safety_tolerance")
        if "prompt_enhancement" in f and f["prompt_enhancement"] not in ("on", "off"):
            raise Invalid("prompt_enhancement must be on or off", "prompt_enhancement")
        if "prompt_upsampling" in f and f["prompt_upsampling"] not in (
            ("true", "false") if strings else (True, False)
        ):
            raise Invalid("prompt_upsampling must be a boolean", "prompt_upsampling")

    # ------------------------------------------------------------------ answer
    def _success(self, call: Call) -> Reply:
        f = call.fields
        size = str(f.get("size", "auto"))
        if "x" in size:
            w, h = (int(x) for x in size.split("x"))
        elif call.images:
            w, h = image_size_of(call.images[0].value)
        else:
            w, h = 1024, 1024
        pil, mime, ext = _PIL_FORMAT.get(str(f.get("output_format", "png")), _PIL_FORMAT["png"])
        data = make_image(w, h, pil)
        cost = PRICE_PER_MP * (billed_mp(w, h) + sum(billed_mp(*image_size_of(p.value)) for p in call.images))
        item: dict[str, Any] = {"revised_prompt": f["prompt"]}
        if f.get("response_format", "url") == "url":
            item["url"] = self.delivery.host(data, mime, ext)
        else:
            item["b64_json"] = base64.b64encode(data).decode("ascii")
        with self.lock:
            self.accepted += 1
        body = {
            "created": int(time.time()),
            "data": [item],
            "size": f"{w}x{h}",
            "output_format": ext,
            "metadata": {
                "model": self.model,
                "executed_model": "fal-ai/flux-2-flex/edit",
                "provider": "fal",
                "provider_name": "fal.ai",
                "cost": round(cost, 6),
                "cost_currency": "USD",
            },
        }
        return json_reply(
            body,
            200,
            **{
                "X-Lumenfall-Provider": "fal",
                "X-Lumenfall-Model": self.model,
                "X-Lumenfall-Request-Id": f"req_{uuid.uuid4().hex[:16]}",
            },
        )
