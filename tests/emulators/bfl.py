"""Emulator of BFL's FLUX.2 [flex] API (providers.md §1, §7) and of CometAPI's pass-through of it (§5.1).

BFL mode (default):
* ``POST /v1/flux-2-flex`` needs ``x-key: <key>`` (else 401 ``{"detail": …}``); the body is validated
  like the OpenAPI ``Flux2FlexInputs`` and answered 422 ``{"detail": [{loc, msg, type}]}`` — stricter
  than the real service in two places, on purpose: unknown fields are refused (``extra_forbidden``) so a
  misnamed field cannot go unnoticed, and ``input_image*`` with a ``data:`` prefix is refused (whether BFL
  accepts one is undocumented; the client must send raw base64). width/height must be ≥ 64 and
  multiples of 16. Answer ``{id, polling_url, cost, input_mp, output_mp}``: ``cost`` in credits by BFL's
  rule (5 for the first output MP, 5 per further output MP rounded up, 5 per input MP, 1 MP = 1024²),
  ``polling_url`` on another path prefix (``{url}/eu2/v1/get_result?id=``) so a client must use it
  verbatim. The canonical ``/v1/get_result?id=`` answers too (BFL's global host does).
* ``GET …/v1/get_result?id=`` (``x-key`` required) → ``Pending`` with ``progress`` for ``latency_polls``
  polls, then ``Ready`` with ``result.sample`` on the ``Delivery`` host. Unknown ids → HTTP 404; a job
  removed with ``forget(id)`` → ``{"status": "Task not found"}``.
* More than ``max_active`` unfinished jobs → 429 + ``Retry-After: 5``; ``credits`` (a balance in
  credits, None = unlimited) below a job's cost → 402 ``{"detail": "Insufficient credits"}``.

``GET /v1/credits`` (the same key) → ``{"credits": <balance>}`` (BFL's OpenAPI ``CreditsResponse``;
``UNLIMITED_CREDITS`` when no balance was set).

CometAPI mode (``comet=True``): ``POST /flux/v1/flux-2-flex`` and ``GET /flux/v1/get_result?id=`` with
``Authorization: Bearer <key>`` (else 401 ``{"error": {"message", "type"}}``), submit answer
``{id, polling_url}`` only (no cost) — with ``pass_through_cost=True`` also BFL's ``cost``/``input_mp``/
``output_mp``, as CometAPI's own sample code reads them (``result.get('cost')`` "credits"). Custom paths/auth for user-defined endpoints: ``auth``,
``submit_path``, ``result_path`` (``{id}`` in the path, or a query ``id``) and ``polling_url=False``
(do not return one).

Scenarios (``SCENARIOS``): auth → 401 on submit; credits → 402 ``{"detail": "Insufficient credits"}``;
validation → 422 ``detail[]`` on submit; rate_limit → 429 + ``Retry-After: 1`` on the first submit;
server_error_then_success → the first poll answers 500; submit_5xx → the submit answers 500; reset →
the first poll's connection is reset; malformed_json → the submit answers 200 with broken JSON;
moderated_input → ``Request Moderated`` on the first poll; moderated_output → ``Content Moderated``
after the pending polls; the download scenarios are played by ``Delivery``. Extra, protocol-specific:
``error`` → ``{"status": "Error", "details": {…}}`` after the pending polls.

Switches for other tests: ``not_found_polls`` / ``accepted_polls`` (the first N polls of each job answer
HTTP 404 / 202), ``hold`` (jobs created while it is True stay ``Pending`` until ``release(id)`` or
``release_all()`` — for kill-and-resume tests), ``jobs`` (the server-side state, by id).
"""

from __future__ import annotations

import base64
import binascii
import io
import math
import re
import socket
import threading
from typing import Any
from urllib.parse import quote

from .base import Delivery, Emulator, Reply, Req, json_reply, make_image

MP = 1_048_576
FIELDS = {
    "prompt",
    "prompt_upsampling",
    "input_image",
    *(f"input_image_{i}" for i in range(2, 9)),
    "seed",
    "width",
    "height",
    "guidance",
    "steps",
    "safety_tolerance",
    "output_format",
    "webhook_url",
    "webhook_secret",
}


UNLIMITED_CREDITS = 12_345.5  # what GET /v1/credits reports when no balance was set


def bfl_cost(width: int, height: int, input_mp: float) -> float:
    """Credits by BFL's published rule (skill SKILL.md): 5 + 5·(⌈out MP⌉ − 1) + 5·in MP."""
    out_mp = max(1, math.ceil(width * height / MP))
    return round(5 + 5 * (out_mp - 1) + 5 * input_mp, 2)


def _err(loc: str, msg: str, typ: str) -> dict[str, Any]:
    return {"loc": ["body", loc], "msg": msg, "type": typ}


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


class BflEmulator(Emulator):
    name = "bfl"

    def __init__(
        self,
        delivery: Delivery,
        *,
        scenario: str = "success",
        latency_polls: int = 1,
        comet: bool = False,
        key: str = "bfl_test_key",
        auth: str | None = None,
        submit_path: str | None = None,
        result_path: str | None = None,
        polling_url: bool = True,
        cluster: str = "/eu2",
        credits: float | None = None,
        max_active: int = 24,
        not_found_polls: int = 0,
        accepted_polls: int = 0,
        hold: bool = False,
        pass_through_cost: bool = False,
    ) -> None:
        super().__init__(scenario=scenario, latency_polls=latency_polls)
        self.delivery = delivery
        self.comet = comet
        self.key = key
        self.auth = auth or ("bearer" if comet else "x-key")
        self.submit_path = submit_path or ("/flux/v1/flux-2-flex" if comet else "/v1/flux-2-flex")
        self.result_path = result_path or ("/flux/v1/get_result" if comet else "/v1/get_result")
        self.return_polling_url = polling_url
        self.cluster = "" if comet else cluster
        self.credits = credits
        self.max_active = max_active
        self.not_found_polls = not_found_polls
        self.accepted_polls = accepted_polls
        self.hold = hold
        self.pass_through_cost = pass_through_cost
        self.jobs: dict[str, dict[str, Any]] = {}
        self.state["jobs"] = self.jobs

    def stop(self) -> None:
        """Stop without waiting out the accept loop's 0.5 s poll interval: shut down, then wake it."""
        server = self._server
        if server is None:
            return
        addr = server.server_address[:2]
        t = threading.Thread(target=server.shutdown, daemon=True)
        t.start()
        while t.is_alive():
            try:
                socket.create_connection(addr, timeout=0.2).close()
            except OSError:
                pass
            t.join(0.02)
        server.server_close()
        self._server = None

    # ---------------------------------------------------------------- switches
    def release(self, job_id: str) -> None:
        with self.lock:
            self.jobs[job_id]["held"] = False

    def release_all(self) -> None:
        with self.lock:
            for job in self.jobs.values():
                job["held"] = False

    def forget(self, job_id: str) -> None:
        """The job expired server-side: polls now answer ``Task not found``."""
        with self.lock:
            self.jobs[job_id]["gone"] = True

    def polling_url_for(self, job_id: str) -> str:
        path = self.result_path
        if "{id}" in path:
            return self.url + self.cluster + path.replace("{id}", quote(job_id, safe=""))
        return f"{self.url}{self.cluster}{path}?id={quote(job_id, safe='')}"

    @property
    def accepted(self) -> int:
        """Jobs created (paid submits that were accepted)."""
        return len(self.jobs)

    # ---------------------------------------------------------------- routing
    def handle(self, req: Req) -> Reply:
        if req.method == "POST" and req.path == self.submit_path:
            return self._submit(req)
        if req.method == "GET" and req.path == "/v1/credits" and not self.comet:
            denied = self._authorized(req)
            if denied:
                return denied
            if self.scenario == "submit_5xx":
                return json_reply({"detail": "Internal Server Error"}, 500)
            return json_reply({"credits": self.credits if self.credits is not None else UNLIMITED_CREDITS})
        if req.method == "GET":
            job_id = self._poll_id(req.path, req.q("id"))
            if job_id is not None:
                return self._poll(req, job_id)
        return json_reply({"detail": "Not Found"}, 404)

    def _poll_id(self, path: str, qid: str | None) -> str | None:
        templates = [self.result_path]
        if self.cluster:
            templates.append(self.cluster + self.result_path)
        for t in templates:
            if "{id}" in t:
                m = re.fullmatch(re.escape(t).replace(re.escape("{id}"), "(?P<id>[^/]+)"), path)
                if m:
                    return m.group("id")
            elif path == t:
                return qid or ""
        return None

    def _authorized(self, req: Req) -> Reply | None:
        if self.auth == "bearer":
            if req.header("authorization") == f"Bearer {self.key}":
                return None
            return json_reply(
                {"error": {"message": "Invalid token (request id: emu)", "type": "comet_api_error"}}, 401
            )
        value = req.header("x-key")
        if value is None:
            return json_reply({"detail": "Not authenticated"}, 401)
        if value != self.key:
            return json_reply({"detail": "Invalid API key"}, 401)
        return None

    # ---------------------------------------------------------------- submit
    def _submit(self, req: Req) -> Reply:
        denied = self._authorized(req)
        if denied:
            return denied
        s = self.scenario
        if s == "auth":
            return json_reply({"detail": "Invalid API key"}, 401)
        if s == "credits":
            return json_reply({"detail": "Insufficient credits"}, 402)
        if s == "validation":
            return json_reply(
                {"detail": [_err("steps", "Input should be less than or equal to 50", "less_than_equal")]},
                422,
            )
        if s == "rate_limit" and self.once("submit-429"):
            return json_reply({"detail": "Too many active tasks"}, 429, **{"Retry-After": "1"})
        if s == "submit_5xx":
            return json_reply({"detail": "Internal Server Error"}, 500)
        try:
            body = req.json()
        except ValueError:
            return json_reply({"detail": [_err("", "JSON decode error", "json_invalid")]}, 422)
        problems, input_mp = self._validate(body)
        if problems:
            return json_reply({"detail": problems}, 422)
        width = body.get("width") or 1024
        height = body.get("height") or 1024
        cost = bfl_cost(width, height, input_mp)
        with self.lock:
            active = sum(1 for j in self.jobs.values() if not j["finished"])
            if active >= self.max_active:
                return json_reply(
                    {"detail": f"Too many active tasks (limit {self.max_active})"},
                    429,
                    **{"Retry-After": "5"},
                )
            if self.credits is not None:
                if cost > self.credits:
                    return json_reply({"detail": "Insufficient credits"}, 402)
                self.credits -= cost
        if s == "malformed_json":
            return Reply(
                200, '{"id": "' + self.new_id() + '", "polling_url": ', content_type="application/json"
            )
        job_id = self.new_id()
        with self.lock:
            self.jobs[job_id] = {
                "body": body,
                "polls": 0,
                "finished": False,
                "held": self.hold,
                "gone": False,
                "sample": None,
                "width": width,
                "height": height,
                "cost": cost,
            }
        answer: dict[str, Any] = {"id": job_id}
        if self.return_polling_url:
            answer["polling_url"] = self.polling_url_for(job_id)
        if not self.comet or self.pass_through_cost:
            answer.update(
                {"cost": cost, "input_mp": round(input_mp, 2), "output_mp": round(width * height / MP, 2)}
            )
        return json_reply(answer)

    def _validate(self, body: Any) -> tuple[list[dict[str, Any]], float]:
        if not isinstance(body, dict):
            return [{"loc": ["body"], "msg": "Input should be a valid dictionary", "type": "dict_type"}], 0.0
        out: list[dict[str, Any]] = []
        for k in body:
            if k not in FIELDS:
                out.append(_err(k, "Extra inputs are not permitted", "extra_forbidden"))
        prompt = body.get("prompt")
        if "prompt" not in body:
            out.append(_err("prompt", "Field required", "missing"))
        elif not isinstance(prompt, str):
            out.append(_err("prompt", "Input should be a valid string", "string_type"))
        for k in ("prompt_upsampling",):
            if body.get(k) is not None and not isinstance(body[k], bool):
                out.append(_err(k, "Input should be a valid boolean", "bool_type"))
        for k in ("seed", "width", "height", "steps", "safety_tolerance"):
            if body.get(k) is not None and not _is_int(body[k]):
                out.append(_err(k, "Input should be a valid integer", "int_type"))
        for k in ("width", "height"):
            v = body.get(k)
            if _is_int(v) and v < 64:
                out.append(_err(k, "Input should be greater than or equal to 64", "greater_than_equal"))
            elif _is_int(v) and v % 16:
                out.append(_err(k, "Input should be a multiple of 16", "multiple_of"))
        steps = body.get("steps")
        if _is_int(steps) and not 1 <= steps <= 50:
            out.append(_err("steps", "Input should be between 1 and 50", "range"))
        g = body.get("guidance")
        if g is not None and not _is_num(g):
            out.append(_err("guidance", "Input should be a valid number", "float_type"))
        elif g is not None and not 1.5 <= g <= 10:
            out.append(_err("guidance", "Input should be between 1.5 and 10", "range"))
        st = body.get("safety_tolerance")
        if _is_int(st) and not 0 <= st <= 5:
            out.append(_err("safety_tolerance", "Input should be between 0 and 5", "range"))
        fmt = body.get("output_format")
        if fmt is not None and fmt not in ("jpeg", "png"):
            out.append(_err("output_format", "Input should be 'jpeg' or 'png'", "enum"))
        input_mp = 0.0
        names = ["input_image", *(f"input_image_{i}" for i in range(2, 9))]
        for name in names:
            v = body.get(name)
            if v is None:
                continue
            if not isinstance(v, str):
                out.append(_err(name, "Input should be a valid string", "string_type"))
                continue
            if v.startswith(("http://", "https://")):
                input_mp += 1.0  # cannot fetch it here: bill 1 MP
                continue
            if v.startswith("data:"):
                out.append(_err(name, "Expected raw base64 or a URL, not a data: URI", "value_error"))
                continue
            size = _image_size(v)
            if size is None:
                out.append(_err(name, "Invalid image: not base64 of an image", "value_error"))
                continue
            input_mp += size[0] * size[1] / MP
        return out, input_mp

    # ---------------------------------------------------------------- poll
    def _poll(self, req: Req, job_id: str) -> Reply:
        denied = self._authorized(req)
        if denied:
            return denied
        with self.lock:
            job = self.jobs.get(job_id)
            if job is None:
                return json_reply({"detail": "Not Found"}, 404)
            job["polls"] += 1
            n = job["polls"]
        s = self.scenario
        if s == "server_error_then_success" and self.once("poll-500"):
            return json_reply({"detail": "Internal Server Error"}, 500)
        if s == "reset" and self.once("poll-reset"):
            return Reply(reset=True)
        if n <= self.not_found_polls:
            return json_reply({"detail": "Not Found"}, 404)
        if n <= self.not_found_polls + self.accepted_polls:
            return json_reply({"id": job_id, "status": "Pending"}, 202)
        base = {"id": job_id, "result": None, "progress": None, "details": None, "preview": None}
        if job["gone"]:
            return json_reply({"id": job_id, "status": "Task not found"})
        if s == "moderated_input":
            job["finished"] = True
            return json_reply(
                {**base, "status": "Request Moderated", "details": {"Moderation Reasons": ["Sexual Content"]}}
            )
        pending = n - self.not_found_polls - self.accepted_polls
        if job["held"] or pending <= self.latency_polls:
            progress = 0.0 if job["held"] else round(pending / (self.latency_polls + 1), 2)
            return json_reply({**base, "status": "Pending", "progress": progress})
        job["finished"] = True
        if s == "moderated_output":
            return json_reply(
                {
                    **base,
                    "status": "Content Moderated",
                    "details": {"Moderation Reasons": ["Derivative Works Filter"]},
                }
            )
        if s == "error":
            return json_reply(
                {**base, "status": "Error", "details": {"message": "Generation failed on the worker"}}
            )
        with self.lock:
            if job["sample"] is None:
                body = job["body"]
                fmt = body.get("output_format") or "jpeg"
                data = make_image(job["width"], job["height"], "PNG" if fmt == "png" else "JPEG")
                ext = "png" if fmt == "png" else "jpeg"
                job["sample"] = self.delivery.host(data, f"image/{ext}", ext)
        result = {
            "sample": job["sample"],
            "prompt": job["body"].get("prompt"),
            "seed": job["body"].get("seed"),
            "start_time": 1781078400.1,
            "end_time": 1781078407.3,
            "duration": 7.2,
        }
        return json_reply({**base, "status": "Ready", "result": result})


def _image_size(b64: str) -> tuple[int, int] | None:
    from PIL import Image

    try:
        raw = base64.b64decode(b64, validate=True)
    except (binascii.Error, ValueError):
        return None
    try:
        with Image.open(io.BytesIO(raw)) as img:
            return img.size
    except Exception:
        return None
