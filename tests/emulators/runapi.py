"""Emulator of RunAPI's Flux 2 task API as FlexStudio assumes it (``flexstudio.providers.runapi.ASSUMPTIONS``).

Documented (seed page): Bearer auth, JSON POST starting an asynchronous task, per-call billing. Taken from
RunAPI's SDK sources and therefore [I] here: the paths, the task query and the answer fields.

- ``POST /api/v1/flux_2/remix_image`` ``{"model": "flux-2-flex-remix-image", "prompt" (3–5000),
  "source_image_urls" (1–8 http(s) URLs), "aspect_ratio" (1:1|4:3|3:4|16:9|9:16|3:2|2:3|auto),
  "output_resolution" (1k|2k), "enable_safety_checker"?: bool, "callback_url"?: str}`` and
  ``POST /api/v1/flux_2/text_to_image`` (model ``flux-2-flex-text-to-image``, no source images, no
  ``auto``) → 200 ``{"id"}``. Unknown fields are refused (422) [I].
- ``GET /api/v1/flux_2/<op>/<id>`` → ``{"id", "status": pending|processing|completed|failed,
  "images": [{"url"}], "error"}``; pending/processing for ``latency_polls`` polls. Unknown id → 404.
- ``POST /api/v1/files`` ``{"source": {"type": "base64", "data"}, "file_name"}`` → ``{"file_name",
  "url", "size_bytes", "mime_type", "created_at", "expires_at"}``; files served at ``/files/<token>``.
- Errors: ``{"error": {"code", "message"}}`` with the HTTP status (400/401/402/404/422/429/5xx).

Scenarios: success; auth (401); credits (402); validation (422); rate_limit (429 + Retry-After: 1 on the
first submit, then accepted); server_error_then_success (the first task GET answers 500); submit_5xx
(500); reset (the first task GET's connection is reset); malformed_json (the submit answers 200 with a
broken body); moderated_input / moderated_output (the task ends ``failed`` with an error naming the
prompt / the output image); download scenarios: ``delivery.scenario`` plays them.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from .base import DOWNLOAD_SCENARIOS, Delivery, Emulator, Reply, Req, json_reply, make_image
from .openai_images import image_size_of

KEY = "runapi_test_key"
OPS = {"remix_image": "flux-2-flex-remix-image", "text_to_image": "flux-2-flex-text-to-image"}
RATIOS = ("1:1", "4:3", "3:4", "16:9", "9:16", "3:2", "2:3")
PREFIX = "/api/v1/flux_2/"


@dataclass
class Task:
    task_id: str
    op: str
    body: dict[str, Any]
    polls: int = 0
    result_url: str | None = None


class RunApiEmulator(Emulator):
    name = "runapi"

    def __init__(
        self, delivery: Delivery, *, scenario: str = "success", latency_polls: int = 1, key: str = KEY
    ) -> None:
        super().__init__(scenario=scenario, latency_polls=latency_polls)
        self.delivery = delivery
        self.key = key
        self.tasks: dict[str, Task] = {}
        self.files: dict[str, tuple[bytes, str]] = {}
        self.created = 0
        if scenario in DOWNLOAD_SCENARIOS:
            delivery.scenario = scenario

    @property
    def base_url(self) -> str:
        """The API root to give the provider."""
        return self.url

    def reset(self, scenario: str = "success") -> None:
        """Start over with another scenario, keeping the server running (cheap reuse between tests)."""
        with self.lock:
            self.requests.clear()
            self.counters.clear()
            self.scenario = scenario
            self.tasks.clear()
            self.files.clear()
            self.created = 0
        self.delivery.scenario = scenario if scenario in DOWNLOAD_SCENARIOS else "success"

    @staticmethod
    def err(status: int, code: str, message: str, **headers: str) -> Reply:
        return json_reply({"error": {"code": code, "message": message}}, status, **headers)

    def handle(self, req: Req) -> Reply:
        if req.method == "GET" and req.path.startswith("/files/"):
            item = self.files.get(req.path.rsplit("/", 1)[-1])
            return Reply(200, item[0], content_type=item[1]) if item else Reply(404, "Not Found")
        if req.header("authorization") != f"Bearer {self.key}" or self.scenario == "auth":
            return self.err(401, "unauthorized", "Invalid API key")
        if req.method == "POST" and req.path == "/api/v1/files":
            return self._file(req)
        if req.path.startswith(PREFIX):
            rest = req.path[len(PREFIX) :].split("/")
            if req.method == "POST" and len(rest) == 1 and rest[0] in OPS:
                return self._submit(rest[0], req)
            if req.method == "GET" and len(rest) == 2 and rest[0] in OPS:
                return self._task(rest[0], rest[1])
        return self.err(404, "not_found", f"No route {req.method} {req.path}")

    def _file(self, req: Req) -> Reply:
        try:
            body = req.json()
            src = body["source"]
            assert src["type"] == "base64" and isinstance(body.get("file_name"), str)
            data = base64.b64decode(src["data"], validate=True)
            image_size_of(data)
        except (ValueError, KeyError, TypeError, AssertionError, binascii.Error):
            return self.err(422, "validation_error", "source must be {type: base64, data} with an image")
        except Exception:
            return self.err(422, "validation_error", "the file is not an image")
        token = uuid.uuid4().hex
        mime = "image/png" if data.startswith(b"\x89PNG") else "image/jpeg"
        with self.lock:
            self.files[token] = (data, mime)
        now = datetime.now(UTC)
        return json_reply(
            {
                "file_name": body["file_name"],
                "url": f"{self.url}/files/{token}",
                "size_bytes": len(data),
                "mime_type": mime,
                "created_at": now.isoformat(),
                "expires_at": (now + timedelta(days=7)).isoformat(),
            }
        )

    def _submit(self, op: str, req: Req) -> Reply:
        s = self.scenario
        try:
            body = req.json()
        except ValueError:
            return self.err(400, "bad_request", "Body is not valid JSON")
        problem = self._validate(op, body)
        if problem:
            return self.err(422, "validation_error", problem)
        if s == "credits":
            return self.err(402, "insufficient_credits", "Insufficient credits")
        if s == "validation":
            return self.err(422, "validation_error", "aspect_ratio is not supported")
        if s == "rate_limit" and self.once("rate_limit"):
            return self.err(429, "rate_limited", "Too many requests", **{"Retry-After": "1"})
        if s == "submit_5xx":
            return self.err(500, "server_error", "Internal server error")
        task = Task(f"tsk_{uuid.uuid4().hex[:20]}", op, body)
        if s not in ("moderated_input", "moderated_output"):
            task.result_url = self.delivery.host(make_image(128, 128, "PNG"), "image/png", "png")
        with self.lock:
            self.tasks[task.task_id] = task
            self.created += 1
        if s == "malformed_json":
            return Reply(200, '{"id": "' + task.task_id, content_type="application/json")
        return json_reply({"id": task.task_id})

    def _validate(self, op: str, body: Any) -> str | None:
        if not isinstance(body, dict):
            return "body must be an object"
        allowed = {
            "model",
            "prompt",
            "aspect_ratio",
            "output_resolution",
            "enable_safety_checker",
            "callback_url",
        }
        if op == "remix_image":
            allowed.add("source_image_urls")
        if set(body) - allowed:
            return f"unknown parameters: {sorted(set(body) - allowed)}"
        if body.get("model") != OPS[op]:
            return f"model must be {OPS[op]} on this endpoint"
        if not isinstance(body.get("prompt"), str) or not 3 <= len(body["prompt"]) <= 5000:
            return "prompt must be 3-5000 characters"
        ratios = RATIOS + (("auto",) if op == "remix_image" else ())
        if body.get("aspect_ratio", "1:1") not in ratios:
            return "aspect_ratio is invalid"
        if body.get("output_resolution", "1k") not in ("1k", "2k"):
            return "output_resolution must be 1k or 2k"
        if "enable_safety_checker" in body and not isinstance(body["enable_safety_checker"], bool):
            return "enable_safety_checker must be a boolean"
        if op == "remix_image":
            urls = body.get("source_image_urls")
            if not isinstance(urls, list) or not 1 <= len(urls) <= 8:
                return "source_image_urls must list 1 to 8 URLs"
            for u in urls:
                if not isinstance(u, str) or not u.startswith(("https://", "http://")):
                    return "source_image_urls must be http(s) URLs"
                if u.startswith(self.url + "/files/") and u.rsplit("/", 1)[-1] not in self.files:
                    return f"source image {u} could not be fetched"
        return None

    def _task(self, op: str, task_id: str) -> Reply:
        s = self.scenario
        task = self.tasks.get(task_id)
        if task is None or task.op != op:
            return self.err(404, "not_found", "Task not found")
        if s == "server_error_then_success" and self.once("poll500"):
            return self.err(500, "server_error", "Internal server error")
        if s == "reset" and self.once("poll_reset"):
            return Reply(reset=True)
        with self.lock:
            task.polls += 1
            n = task.polls
        answer: dict[str, Any] = {"id": task.task_id, "model": task.body["model"]}
        if n <= self.latency_polls:
            answer["status"] = "pending" if n == 1 else "processing"
        elif s == "moderated_input":
            answer.update(status="failed", error="Prompt was flagged by content moderation")
        elif s == "moderated_output":
            answer.update(status="failed", error="Output image was flagged as NSFW by the safety checker")
        else:
            answer.update(status="completed", images=[{"url": task.result_url}])
        return json_reply(answer)
