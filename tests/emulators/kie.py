"""Emulator of Kie.ai's jobs API for FLUX.2 [flex] and its File Upload API (providers.md §5.2).

- ``POST /api/v1/jobs/createTask`` (JSON, ``Authorization: Bearer <key>``):
  ``{"model": "flux-2/flex-image-to-image" | "flux-2/flex-text-to-image", "callBackUrl"?: str,
  "input": {"prompt" (3–5000 chars), "input_urls" (i2i only: 1–8 http(s) URLs), "aspect_ratio"
  (1:1|4:3|3:4|16:9|9:16|3:2|2:3, plus auto for i2i), "resolution" (1K|2K)}}`` →
  ``{"code": 200, "msg": "success", "data": {"taskId": "task_flux-2_<ms>"}}``. Any other input key
  (steps, guidance, seed, …) is refused with code 422 — this model takes none [I: Kie may ignore them].
- ``GET /api/v1/jobs/recordInfo?taskId=`` → ``{"code": 200, "message": "success", "data": {"taskId",
  "model", "state", "param": "<JSON string of the request>", "resultJson": "<JSON string>", "failCode",
  "failMsg", "costTime", "completeTime", "createTime", "updateTime"}}``; states waiting → queuing →
  generating for ``latency_polls`` polls, then success | fail. Unknown task → code 404.
- ``POST /api/file-stream-upload`` (multipart ``file``, ``uploadPath``, ``fileName``) →
  ``{"success": true, "code": 200, "msg", "data": {"fileId", "fileName", "fileUrl", "downloadUrl",
  "expiresAt", …}}``; uploaded files are served at ``/download/<fileId>`` (Kie, not the client, fetches
  them — createTask refuses input_urls on this host that were never uploaded).
- Errors answer **HTTP 200** with the status in the body's ``code`` and ``msg``.

Scenarios: success; auth (code 401 on every endpoint); credits (createTask code 402); validation
(createTask code 422); rate_limit (the first createTask answers code 429 with ``Retry-After: 1`` [I], then
accepted); server_error_then_success (the first recordInfo answers code 500, then normal); submit_5xx
(createTask code 500); reset (the first recordInfo connection is reset); malformed_json (createTask
answers 200 with a broken body); moderated_input / moderated_output (the task ends ``fail`` with a
failMsg naming the prompt / the generated image [I: Kie's exact wording is not documented]); the
download scenarios set ``delivery.scenario`` (results are hosted on the Delivery server).
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from typing import Any

from .base import DOWNLOAD_SCENARIOS, Delivery, Emulator, Reply, Req, json_reply, make_image
from .openai_images import image_size_of, parse_multipart

KEY = "kie_test_key"
MODEL_I2I = "flux-2/flex-image-to-image"
MODEL_T2I = "flux-2/flex-text-to-image"
ASPECTS = {
    "1:1": (1, 1),
    "4:3": (4, 3),
    "3:4": (3, 4),
    "16:9": (16, 9),
    "9:16": (9, 16),
    "3:2": (3, 2),
    "2:3": (2, 3),
}
RES_SIDE = {"1K": 1024, "2K": 2048}
PENDING = ("waiting", "queuing", "generating")


@dataclass
class Task:
    task_id: str
    body: dict[str, Any]
    polls: int = 0
    state: str = "waiting"
    result_url: str | None = None


class KieEmulator(Emulator):
    name = "kie"

    def __init__(
        self, delivery: Delivery, *, scenario: str = "success", latency_polls: int = 1, key: str = KEY
    ) -> None:
        super().__init__(scenario=scenario, latency_polls=latency_polls)
        self.delivery = delivery
        self.key = key
        self.tasks: dict[str, Task] = {}
        self.uploads: dict[str, tuple[bytes, str]] = {}
        self.created = 0  # tasks accepted (paid)
        if scenario in DOWNLOAD_SCENARIOS:
            delivery.scenario = scenario

    @property
    def base_url(self) -> str:
        """The API root to give the provider (uploads are served from it too)."""
        return self.url

    def reset(self, scenario: str = "success") -> None:
        """Start over with another scenario, keeping the server running (cheap reuse between tests)."""
        with self.lock:
            self.requests.clear()
            self.counters.clear()
            self.scenario = scenario
            self.tasks.clear()
            self.uploads.clear()
            self.created = 0
        self.delivery.scenario = scenario if scenario in DOWNLOAD_SCENARIOS else "success"

    @staticmethod
    def code(code: int, msg: str, **headers: str) -> Reply:
        """Kie's way: HTTP 200, the status in the body."""
        return json_reply({"code": code, "msg": msg, "data": None}, 200, **headers)

    def handle(self, req: Req) -> Reply:
        if req.method == "GET" and req.path.startswith("/download/"):
            item = self.uploads.get(req.path.rsplit("/", 1)[-1])
            return Reply(200, item[0], content_type=item[1]) if item else Reply(404, "Not Found")
        routes = {
            ("POST", "/api/v1/jobs/createTask"): self._create,
            ("GET", "/api/v1/jobs/recordInfo"): self._record,
            ("POST", "/api/file-stream-upload"): self._upload,
        }
        route = routes.get((req.method, req.path))
        if route is None:
            return json_reply({"code": 404, "msg": f"No route {req.method} {req.path}"}, 404)
        if req.header("authorization") != f"Bearer {self.key}" or self.scenario == "auth":
            return self.code(401, "You do not have access permissions")
        return route(req)

    # ------------------------------------------------------------------ upload
    def _upload(self, req: Req) -> Reply:
        try:
            parts = {p.name: p for p in parse_multipart(req.body, req.header("content-type") or "")}
        except (ValueError, UnicodeDecodeError) as exc:
            return json_reply({"success": False, "code": 400, "msg": f"bad multipart: {exc}"}, 200)
        f = parts.get("file")
        if f is None or not f.filename or "uploadPath" not in parts:
            return json_reply({"success": False, "code": 400, "msg": "file and uploadPath are required"}, 200)
        file_id = f"file_{uuid.uuid4().hex[:12]}"
        name = parts["fileName"].text if "fileName" in parts else f.filename
        mime = f.content_type or "application/octet-stream"
        with self.lock:
            self.uploads[file_id] = (f.value, mime)
        upload_path = parts["uploadPath"].text
        data = {
            "fileId": file_id,
            "fileName": name,
            "originalName": f.filename,
            "fileSize": len(f.value),
            "mimeType": mime,
            "uploadPath": upload_path,
            "fileUrl": f"{self.url}/files/{upload_path}/{name}",
            "downloadUrl": f"{self.url}/download/{file_id}",
            "uploadTime": "2026-11-21T10:30:00Z",
            "expiresAt": "2026-11-24T10:30:00Z",
        }
        return json_reply({"success": True, "code": 200, "msg": "File uploaded successfully", "data": data})

    # ------------------------------------------------------------------ createTask
    def _create(self, req: Req) -> Reply:
        s = self.scenario
        try:
            body = req.json()
        except ValueError:
            return self.code(422, "Request body is not valid JSON")
        problem = self._validate(body)
        if problem:
            return self.code(422, problem)
        if s == "credits":
            return self.code(402, "Credits insufficient")
        if s == "validation":
            return self.code(422, "aspect_ratio is not supported for this model")
        if s == "rate_limit" and self.once("rate_limit"):
            return self.code(429, "Rate limited: too many requests", **{"Retry-After": "1"})
        if s == "submit_5xx":
            return self.code(500, "Server error")
        task_id = f"task_flux-2_{int(time.time() * 1000)}{uuid.uuid4().hex[:4]}"
        task = Task(task_id, body)
        if s not in ("moderated_input", "moderated_output"):
            inp = body["input"]
            a, b = ASPECTS.get(inp.get("aspect_ratio", "1:1"), (1, 1))  # "auto": the first image's ratio
            side = RES_SIDE[inp.get("resolution", "1K")]
            w, h = (side, side * b // a) if a >= b else (side * a // b, side)
            task.result_url = self.delivery.host(
                make_image(max(64, w // 8), max(64, h // 8), "PNG"), "image/png", "png"
            )
        with self.lock:
            self.tasks[task_id] = task
            self.created += 1
        if s == "malformed_json":
            return Reply(
                200,
                '{"code":200,"msg":"success","data":{"taskId":"' + task_id,
                content_type="application/json",
            )
        return json_reply({"code": 200, "msg": "success", "data": {"taskId": task_id}})

    def _validate(self, body: Any) -> str | None:
        if not isinstance(body, dict):
            return "body must be an object"
        if set(body) - {"model", "callBackUrl", "input"}:
            return f"unknown fields: {sorted(set(body) - {'model', 'callBackUrl', 'input'})}"
        model = body.get("model")
        if model not in (MODEL_I2I, MODEL_T2I):
            return f"model {model!r} is not supported"
        if "callBackUrl" in body and not isinstance(body["callBackUrl"], str):
            return "callBackUrl must be a string"
        inp = body.get("input")
        if not isinstance(inp, dict):
            return "input is required"
        allowed = {"prompt", "aspect_ratio", "resolution"} | ({"input_urls"} if model == MODEL_I2I else set())
        if set(inp) - allowed:
            return f"input has unsupported parameters: {sorted(set(inp) - allowed)}"
        prompt = inp.get("prompt")
        if not isinstance(prompt, str) or not 3 <= len(prompt) <= 5000:
            return "prompt must be between 3 and 5000 characters"
        ratios = set(ASPECTS) | ({"auto"} if model == MODEL_I2I else set())
        if inp.get("aspect_ratio", "1:1") not in ratios:
            return "aspect_ratio is invalid"
        if inp.get("resolution", "1K") not in RES_SIDE:
            return "resolution must be 1K or 2K"
        if model == MODEL_I2I:
            urls = inp.get("input_urls")
            if not isinstance(urls, list) or not 1 <= len(urls) <= 8:
                return "input_urls must list 1 to 8 image URLs"
            for u in urls:
                if not isinstance(u, str) or not u.startswith(("https://", "http://")):
                    return "input_urls must be http(s) URLs"
                if u.startswith(self.url + "/download/"):
                    item = self.uploads.get(u.rsplit("/", 1)[-1])
                    if item is None:
                        return f"input_urls: {u} could not be fetched"
                    try:
                        image_size_of(item[0])
                    except Exception:
                        return f"input_urls: {u} is not an image"
        return None

    # ------------------------------------------------------------------ recordInfo
    def _record(self, req: Req) -> Reply:
        s = self.scenario
        task = self.tasks.get(req.q("taskId") or "")
        if task is None:
            return self.code(404, "Task not found")
        if s == "server_error_then_success" and self.once("poll500"):
            return self.code(500, "Server error")
        if s == "reset" and self.once("poll_reset"):
            return Reply(reset=True)
        with self.lock:
            task.polls += 1
            n = task.polls
        if n <= self.latency_polls:
            task.state = PENDING[min(n - 1, len(PENDING) - 1)]
        elif s in ("moderated_input", "moderated_output"):
            task.state = "fail"
        else:
            task.state = "success"
        now = int(time.time() * 1000)
        data: dict[str, Any] = {
            "taskId": task.task_id,
            "model": task.body["model"],
            "state": task.state,
            "param": json.dumps(task.body),
            "resultJson": "",
            "failCode": "",
            "failMsg": "",
            "costTime": None,
            "completeTime": None,
            "createTime": now - 5000,
            "updateTime": now,
        }
        if task.state == "success":
            data.update(
                resultJson=json.dumps({"resultUrls": [task.result_url]}), costTime=4200, completeTime=now
            )
        elif task.state == "fail":
            data.update(
                failCode="500",
                completeTime=now,
                failMsg=(
                    "Your prompt was flagged by the content moderation system and violates our content policy"
                    if s == "moderated_input"
                    else "The generated image was flagged as NSFW by the output safety check"
                ),
            )
        return json_reply({"code": 200, "message": "success", "data": data})
