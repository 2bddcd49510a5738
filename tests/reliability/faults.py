"""Post-submit faults a real cloud produces, played by the local emulators on chosen requests.

``Faults`` wraps an emulator's ``handle``: a fault rule names which requests it hits (``poll``, ``result``
or ``download``), what they get instead of (or on top of) the normal answer, and how many times
(``None``: until ``clear()`` — the fault outlasts the run, and a later resume must fetch the job).
"""

from __future__ import annotations

import gzip
import threading
from collections.abc import Callable
from dataclasses import dataclass

from tests.emulators.base import Emulator, Reply, Req, json_reply

Make = Callable[[Callable[[], Reply]], Reply]  # gets the normal answer lazily, returns what to send


def target_of(provider: str, req: Req) -> str | None:
    """What a request is: the paid submit, a poll, the result request (fal) or a download."""
    p = req.path
    if p.startswith("/results/"):
        return "download"
    if req.method == "POST":
        return "submit"
    if provider in ("bfl", "cometapi") and "get_result" in p:
        return "poll"
    if provider == "fal" and "/requests/" in p:
        return "poll" if p.endswith("/status") else "result"
    if provider == "replicate" and p.startswith("/v1/predictions/"):
        return "poll"
    return None


@dataclass
class Rule:
    target: str
    make: Make
    times: int | None  # None: until cleared


class Faults:
    def __init__(self, provider: str) -> None:
        self.provider = provider
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
                target = target_of(self.provider, req)
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
def malformed(_normal: Callable[[], Reply]) -> Reply:
    return Reply(200, '{"status": "Rea', content_type="application/json")


def status(code: int, **headers: str) -> Make:
    def make(_normal: Callable[[], Reply]) -> Reply:
        return json_reply({"detail": f"upstream said {code}"}, code, **headers)

    return make


def reset(_normal: Callable[[], Reply]) -> Reply:
    return Reply(reset=True)


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
