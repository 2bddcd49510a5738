"""Post-submit faults a real cloud produces, played by the local emulators on chosen requests.

``Faults`` wraps an emulator's ``handle``: a fault rule names which requests it hits (``poll``, ``result``,
``download``, or ``answer``: the paid submit's own answer — on a synchronous gateway, the result), what
they get instead
of (or on top of) the normal answer, and how many times (``None``: until ``clear()`` — the fault outlasts
the run, and a later resume must fetch the job). Which request is which comes from the provider's
``scenarios.Rig``. A fault that loses an answer (malformed, truncated, reset, drip, silence) lets the
emulator handle the request first: the work was done (and, for a paid call, billed), only its answer is
lost on the way.
"""

from __future__ import annotations

import email.utils
import gzip
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from tests.emulators.base import Emulator, Reply, Req, json_reply

Make = Callable[[Callable[[], Reply]], Reply]  # gets the normal answer lazily, returns what to send


def target_of(rig: Any, req: Req) -> str | None:
    """What a request is to ``rig`` (a ``scenarios.Rig``): the paid submit (``answer``; on a synchronous
    gateway its answer is the result), a poll, the result request (fal) or a download."""
    if req.path.startswith("/results/"):
        return "download"
    if rig.is_submit(req):
        return "answer"
    if rig.is_result is not None and rig.is_result(req):
        return "result"
    if rig.is_poll(req):
        return "poll"
    return None


@dataclass
class Rule:
    target: str
    make: Make
    times: int | None  # None: until cleared


class Faults:
    def __init__(self, rig: Any) -> None:
        self.rig = rig
        self.rules: list[Rule] = []
        self.hits: dict[str, int] = {}
        self.lock = threading.Lock()

    def add(self, target: str, make: Make, times: int | None = None) -> Faults:
        self.rules.append(Rule(target, make, times))
        return self

    def clear(self) -> None:
        with self.lock:
            self.rules.clear()

    def attach(self, *emulators: Emulator) -> None:
        for emu in emulators:
            original = emu.handle

            def handle(req: Req, original: Callable[[Req], Reply] = original) -> Reply:
                target = target_of(self.rig, req)
                with self.lock:
                    rule = next(
                        (r for r in self.rules if r.target == target and (r.times is None or r.times > 0)),
                        None,
                    )
                    if rule is not None and rule.times is not None:
                        rule.times -= 1
                    if rule is not None:
                        self.hits[rule.target] = self.hits.get(rule.target, 0) + 1
                if rule is None:
                    return original(req)
                return rule.make(lambda: original(req))

            emu.handle = handle  # type: ignore[method-assign]


# ---------------------------------------------------------------------------------------- the faults
def malformed(normal: Callable[[], Reply]) -> Reply:
    normal()
    return Reply(200, '{"status": "Rea', content_type="application/json")


def status(code: int, **headers: str) -> Make:
    def make(_normal: Callable[[], Reply]) -> Reply:
        return json_reply({"detail": f"upstream said {code}"}, code, **headers)

    return make


def busy_until(seconds: float) -> Make:
    """A 429 whose Retry-After is an HTTP date ``seconds`` from the moment it is sent."""

    def make(_normal: Callable[[], Reply]) -> Reply:
        when = email.utils.formatdate(time.time() + seconds, usegmt=True)
        return json_reply({"detail": "upstream said 429"}, 429, **{"Retry-After": when})

    return make


def reset(normal: Callable[[], Reply]) -> Reply:
    """The request was read and handled; the connection breaks before the answer."""
    normal()
    return Reply(reset=True)


def other_json(normal: Callable[[], Reply]) -> Reply:
    """Valid JSON of another shape (``{}``): none of the fields the protocol documents."""
    normal()
    return Reply(200, "{}", content_type="application/json")


def foreign_urls(normal: Callable[[], Reply]) -> Reply:
    """The normal JSON answer with every URL of this host moved to plain http on another host (a gateway
    behind a TLS proxy that does not know it is, or a misrouted answer): URLs a key must never follow."""
    reply = normal()
    data, _ = reply.payload()
    text = data.decode().replace("http://127.0.0.1", "http://api.example.invalid")
    reply.body, reply.content_type = text.encode(), "application/json"
    return reply


def web_page(normal: Callable[[], Reply]) -> Reply:
    """A 200 HTML page where the image or the JSON should be (a captive portal, a CDN's error page)."""
    normal()
    return Reply(200, "<html><body><h1>Access denied</h1></body></html>", content_type="text/html")


def empty(normal: Callable[[], Reply]) -> Reply:
    """A 200 with the normal content type and no body at all (Content-Length: 0)."""
    reply = normal()
    reply.body = b""
    return reply


def expired(_normal: Callable[[], Reply]) -> Reply:
    """The signed result link has expired (the storage host's own answer)."""
    return Reply(
        403,
        "<Error><Code>AuthenticationFailed</Code><Message>Signature expired</Message></Error>",
        content_type="application/xml",
    )


def gzipped(normal: Callable[[], Reply]) -> Reply:
    """The normal answer, sent with ``Content-Encoding: gzip`` (Content-Length counts it compressed)."""
    reply = normal()
    data, ctype = reply.payload()
    reply.body = gzip.compress(data)
    reply.content_type = ctype
    reply.headers = {**reply.headers, "Content-Encoding": "gzip"}
    return reply


def truncated(normal: Callable[[], Reply]) -> Reply:
    reply = normal()
    data, _ = reply.payload()
    reply.truncate_at = len(data) // 3
    return reply


def drip(normal: Callable[[], Reply]) -> Reply:
    """One byte every 0.5 s (a real drip is slower; the client must cut it long before it ends)."""
    reply = normal()
    reply.chunk_delay, reply.chunk_size = 0.5, 1
    return reply


def silent(seconds: float) -> Make:
    """Accept the request and send no headers for ``seconds``."""

    def make(normal: Callable[[], Reply]) -> Reply:
        reply = normal()
        reply.delay = seconds
        return reply

    return make
