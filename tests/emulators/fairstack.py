"""Emulator of FairStack's synchronous Image API for ``flux-2-flex-i2i`` (providers.md §5.4, FairStack's
Image API and error-handling pages; the model-specific parts follow ``flexstudio.providers.fairstack.
ASSUMPTIONS`` and are [I]).

- ``POST /v1/generations/image`` with ``Authorization: Bearer <key>`` and JSON ``{"model":
  "flux-2-flex-i2i", "prompt", "aspect_ratio"? (1:1|4:3|3:4|16:9|9:16|3:2|2:3), "quality"? (basic|high),
  "seed"? int, "image"? (an http(s) URL or a data:image/…;base64 URI that decodes), "negative_prompt"?,
  "image_size"?, "confirm"?}``; other fields are refused (400) [I]. Answers
  ``{"id": "gen_…", "status": "completed", "url", "model", "modality": "image", "cost": {"micro",
  "display"}, "metadata": {"width", "height", "seed"}}``.
- ``Idempotency-Key``: a repeated key gets the first answer again, not a second generation.
- Errors: ``{"error": {"code", "message", "status"}}`` with 400/401/402/429/500.

Scenarios (synchronous): success; auth (401); credits (402 insufficient_credits); validation (400
invalid_request); rate_limit (429 + Retry-After: 1 on the first request, then accepted);
server_error_then_success (the first request answers 503); submit_5xx (500); reset (the connection is
closed after the request was read); malformed_json (200 with a broken body); moderated_input (400
content_policy_violation naming the prompt); moderated_output (200 with ``status: "failed"`` and an error
naming the generated image, not billed) [I]; the download scenarios set ``delivery.scenario`` (the result
``url`` is on the Delivery host).
"""

from __future__ import annotations

import base64
import binascii
import uuid
from typing import Any

from .base import DOWNLOAD_SCENARIOS, Delivery, Emulator, Reply, Req, json_reply, make_image
from .openai_images import image_size_of

KEY = "fs_live_test_key"
MODEL = "flux-2-flex-i2i"
PRICE_MICRO = 24_000  # $0.024
RATIOS = {
    "1:1": (1, 1),
    "4:3": (4, 3),
    "3:4": (3, 4),
    "16:9": (16, 9),
    "9:16": (9, 16),
    "3:2": (3, 2),
    "2:3": (2, 3),
}
ALLOWED = {
    "model",
    "prompt",
    "negative_prompt",
    "aspect_ratio",
    "image_size",
    "seed",
    "image",
    "confirm",
    "quality",
}


class FairStackEmulator(Emulator):
    name = "fairstack"

    def __init__(
        self, delivery: Delivery, *, scenario: str = "success", latency_polls: int = 1, key: str = KEY
    ) -> None:
        super().__init__(scenario=scenario, latency_polls=latency_polls)
        self.delivery = delivery
        self.key = key
        self.generated = 0  # generations billed
        self.by_idempotency_key: dict[str, Reply] = {}
        if scenario in DOWNLOAD_SCENARIOS:
            delivery.scenario = scenario

    @property
    def base_url(self) -> str:
        """The API root to give the provider (it holds /generations/image)."""
        return self.url + "/v1"

    def reset(self, scenario: str = "success") -> None:
        """Start over with another scenario, keeping the server running (cheap reuse between tests)."""
        with self.lock:
            self.requests.clear()
            self.counters.clear()
            self.scenario = scenario
            self.by_idempotency_key.clear()
            self.generated = 0
        self.delivery.scenario = scenario if scenario in DOWNLOAD_SCENARIOS else "success"

    @staticmethod
    def err(status: int, code: str, message: str, **headers: str) -> Reply:
        return json_reply({"error": {"code": code, "message": message, "status": status}}, status, **headers)

    def handle(self, req: Req) -> Reply:
        if req.method != "POST" or req.path != "/v1/generations/image":
            return self.err(404, "not_found", f"No route {req.method} {req.path}")
        s = self.scenario
        if req.header("authorization") != f"Bearer {self.key}" or s == "auth":
            return self.err(401, "unauthorized", "Invalid API key")
        try:
            body = req.json()
        except ValueError:
            return self.err(400, "invalid_request", "Body is not valid JSON")
        problem = self._validate(body)
        if problem:
            return self.err(400, "invalid_request", problem)
        idem = req.header("idempotency-key")
        if idem and idem in self.by_idempotency_key:
            return self.by_idempotency_key[idem]
        if s == "credits":
            return self.err(
                402, "insufficient_credits", "Not enough credits. Required: $0.024, Available: $0.001"
            )
        if s == "validation":
            return self.err(400, "invalid_request", "aspect_ratio is not supported by this model")
        if s == "rate_limit" and self.once("rate_limit"):
            return self.err(429, "rate_limited", "Too many requests", **{"Retry-After": "1"})
        if s == "server_error_then_success" and self.once("503"):
            return self.err(503, "service_unavailable", "Service temporarily unavailable")
        if s == "submit_5xx":
            return self.err(500, "server_error", "Internal server error")
        if s == "reset":
            return Reply(reset=True)
        if s == "malformed_json":
            return Reply(
                200, '{"id": "gen_x", "status": "completed", "url": "ht', content_type="application/json"
            )
        if s == "moderated_input":
            return self.err(
                400, "content_policy_violation", "The prompt was rejected by the content moderation filter"
            )
        gen_id = f"gen_{uuid.uuid4().hex[:16]}"
        if s == "moderated_output":
            reply = json_reply(
                {
                    "id": gen_id,
                    "status": "failed",
                    "model": MODEL,
                    "modality": "image",
                    "error": {
                        "code": "content_filtered",
                        "message": "The generated image was flagged by the safety checker",
                    },
                    "cost": {"micro": 0, "display": "$0.000"},
                }
            )
        else:
            a, b = RATIOS[body.get("aspect_ratio", "1:1")]
            side = 2048 if body.get("quality") == "high" else 1024
            w, h = (side, side * b // a) if a >= b else (side * a // b, side)
            url = self.delivery.host(
                make_image(max(64, w // 8), max(64, h // 8), "JPEG"), "image/jpeg", "jpg"
            )
            seed = body.get("seed", 1234)
            reply = json_reply(
                {
                    "id": gen_id,
                    "status": "completed",
                    "url": url,
                    "model": MODEL,
                    "modality": "image",
                    "cost": {"micro": PRICE_MICRO, "display": "$0.024"},
                    "metadata": {"width": w, "height": h, "seed": seed},
                }
            )
            with self.lock:
                self.generated += 1
        if idem:
            with self.lock:
                self.by_idempotency_key[idem] = reply
        return reply

    @staticmethod
    def _validate(body: Any) -> str | None:
        if not isinstance(body, dict):
            return "Body must be a JSON object"
        if set(body) - ALLOWED:
            return f"Unknown parameters: {sorted(set(body) - ALLOWED)}"
        if body.get("model") != MODEL:
            return f"Unknown model {body.get('model')!r}"
        if not isinstance(body.get("prompt"), str) or not body["prompt"].strip():
            return "prompt is required"
        if body.get("aspect_ratio", "1:1") not in RATIOS:
            return "aspect_ratio is invalid"
        if body.get("quality", "basic") not in ("basic", "high"):
            return "quality must be basic or high"
        if "seed" in body and (isinstance(body["seed"], bool) or not isinstance(body["seed"], int)):
            return "seed must be an integer"
        image = body.get("image")
        if image is not None:
            if not isinstance(image, str):
                return "image must be a URL string"
            if image.startswith("data:"):
                header, _, payload = image.partition(",")
                if not header.startswith("data:image/") or not header.endswith(";base64"):
                    return "image data URI must be base64 image data"
                try:
                    image_size_of(base64.b64decode(payload, validate=True))
                except (binascii.Error, ValueError):
                    return "image data URI does not decode"
                except Exception:
                    return "image is not a readable image"
            elif not image.startswith(("https://", "http://")):
                return "image must be a URL"
        return None
