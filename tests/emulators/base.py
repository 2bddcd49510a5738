"""A small threaded HTTP server to build protocol emulators on, with a request log and fault injection.

Each emulator subclasses ``Emulator`` and implements ``handle(req) -> Reply``. Results are hosted on a
separate ``Delivery`` server (another port, so "another host") that plays the download faults:
expired links, truncated / slow bodies, wrong content type, not an image, a decompression bomb, and a
redirect to a third host. Every request either server sees is logged with its headers, so tests can
assert the exact wire shape (and that no key reached a download host).

Every emulator counts the request-body bytes it receives (``bytes_in``), and with ``bandwidth`` set (bytes
per second) reads request bodies no faster than that, all connections sharing the one link — a throttled
uplink for the upload benchmarks.
"""

from __future__ import annotations

import functools
import io
import json
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

# The scenarios the result host (``Delivery``) plays; an API emulator given one answers as in "success".
DOWNLOAD_SCENARIOS = (
    "expired_url",
    "slow_body",
    "truncated_body",
    "wrong_content_type",
    "not_an_image",
    "bomb",
    "redirect_other_host",
)
# Scenario names every emulator understands (the contract suite's columns).
SCENARIOS = (
    "success",
    "auth",
    "credits",
    "validation",
    "rate_limit",
    "server_error_then_success",
    "reset",
    "malformed_json",
    "moderated_input",
    "moderated_output",
    *DOWNLOAD_SCENARIOS,
    "submit_5xx",
)


@dataclass
class Req:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names
    body: bytes
    url: str

    def json(self) -> Any:
        return json.loads(self.body.decode() or "null")

    def header(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name.lower(), default)

    def q(self, name: str, default: str | None = None) -> str | None:
        v = self.query.get(name)
        return v[0] if v else default


@dataclass
class Reply:
    status: int = 200
    body: bytes | str | dict | list | None = None
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str | None = None
    delay: float = 0.0  # before the status line
    reset: bool = False  # close the socket without answering
    truncate_at: int | None = None  # send Content-Length of the whole body but only this many bytes
    chunk_delay: float = 0.0  # slow body: this long between chunks …
    chunk_size: int = 1024  # … of this many bytes (1: a drip)

    def payload(self) -> tuple[bytes, str]:
        if isinstance(self.body, (dict, list)):
            return json.dumps(self.body).encode(), self.content_type or "application/json"
        if isinstance(self.body, str):
            return self.body.encode(), self.content_type or "text/plain; charset=utf-8"
        return (self.body or b""), self.content_type or "application/octet-stream"


def json_reply(data: Any, status: int = 200, **headers: str) -> Reply:
    return Reply(status=status, body=data, headers=dict(headers))


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class Emulator:
    """Base: start()/stop(), ``url``, ``requests`` (the log), ``scenario`` and a per-name fault counter."""

    name = "emulator"

    def __init__(self, *, scenario: str = "success", latency_polls: int = 1) -> None:
        self.scenario = scenario
        self.latency_polls = latency_polls  # how many polls answer "pending" before done
        self.requests: list[Req] = []
        self.answers: list[tuple[Req, int]] = []  # each request with the status it got (-1: reset)
        self.lock = threading.RLock()
        self.state: dict[str, Any] = {}
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.counters: dict[str, int] = {}
        self.bandwidth: float | None = None  # bytes/s for reading request bodies (a shared uplink)
        self.bytes_in = 0  # request-body bytes received
        self._link_lock = threading.Lock()
        self._link_free = 0.0
        self.keep_alive = False  # True: answers keep the connection open (HTTP/1.1), as a real cloud does
        self.connections = 0  # TCP connections accepted

    # ---------------------------------------------------------------- lifecycle
    def start(self, port: int = 0) -> Emulator:
        """Serve on ``port`` (0: any free one). A stopped emulator can be started again on its old port,
        keeping its jobs: the provider "comes back" after being unreachable."""
        emulator = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def setup(self) -> None:
                with emulator.lock:
                    emulator.connections += 1
                super().setup()

            def _do(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = emulator._read_body(self.rfile, length) if length else b""
                parts = urlsplit(self.path)
                req = Req(
                    self.command,
                    parts.path,
                    parse_qs(parts.query),
                    {k.lower(): v for k, v in self.headers.items()},
                    body,
                    f"{emulator.url}{self.path}",
                )
                with emulator.lock:
                    emulator.requests.append(req)
                try:
                    reply = emulator.handle(req)
                except Exception as exc:  # an emulator bug shows as a 500 with the reason
                    reply = Reply(500, {"detail": f"emulator error: {exc!r}"})
                with emulator.lock:
                    emulator.answers.append((req, -1 if reply.reset else reply.status))
                emulator._send(self, reply)

            do_GET = do_POST = do_PUT = do_DELETE = _do

        self._server = _Server(("127.0.0.1", port), Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name=self.name, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self._server is not None
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _read_body(self, rfile: Any, length: int) -> bytes:
        if self.bandwidth is None:
            body = rfile.read(length)
        else:
            chunks: list[bytes] = []
            left = length
            while left > 0:
                chunk = rfile.read(min(64 * 1024, left))
                if not chunk:
                    break
                chunks.append(chunk)
                left -= len(chunk)
                self._throttle(len(chunk))
            body = b"".join(chunks)
        with self.lock:
            self.bytes_in += len(body)
        return body

    def _throttle(self, n: int) -> None:
        """Hold the reader so that all connections together get ``bandwidth`` bytes per second."""
        assert self.bandwidth
        with self._link_lock:
            now = time.monotonic()
            start = max(now, self._link_free)
            self._link_free = start + n / self.bandwidth
            wait = self._link_free - now
        if wait > 0:
            time.sleep(wait)

    # ---------------------------------------------------------------- helpers
    def once(self, key: str, times: int = 1) -> bool:
        """True the first ``times`` calls with this key (for "fail N times then succeed" faults)."""
        with self.lock:
            n = self.counters.get(key, 0)
            self.counters[key] = n + 1
            return n < times

    def count(self, method: str, path_prefix: str) -> int:
        with self.lock:
            return sum(1 for r in self.requests if r.method == method and r.path.startswith(path_prefix))

    def new_id(self) -> str:
        return str(uuid.uuid4())

    def handle(self, req: Req) -> Reply:  # pragma: no cover - subclasses implement
        return Reply(404, {"detail": "Not Found"})

    def _send(self, h: BaseHTTPRequestHandler, reply: Reply) -> None:
        if reply.delay:
            time.sleep(reply.delay)
        if reply.reset:
            try:
                h.connection.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
                )
            except OSError:
                pass
            h.close_connection = True
            h.connection.close()
            return
        data, ctype = reply.payload()
        try:
            h.send_response(reply.status)
            h.send_header("Content-Type", ctype)
            h.send_header("Content-Length", str(len(data)))
            if not self.keep_alive:
                h.send_header("Connection", "close")
            for k, v in reply.headers.items():
                h.send_header(k, v)
            h.end_headers()
            body = data if reply.truncate_at is None else data[: reply.truncate_at]
            if reply.chunk_delay:
                step = max(1, reply.chunk_size)
                for i in range(0, len(body), step):
                    h.wfile.write(body[i : i + step])
                    h.wfile.flush()
                    time.sleep(reply.chunk_delay)
            else:
                h.wfile.write(body)
            h.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            h.close_connection = True
            return
        h.close_connection = not self.keep_alive or reply.truncate_at is not None


def make_image(
    width: int = 256, height: int = 256, fmt: str = "JPEG", color: tuple[int, int, int] = (40, 120, 200)
) -> bytes:
    from PIL import Image

    img = Image.new("RGB", (width, height), color)
    buf = io.BytesIO()
    img.save(buf, fmt)
    return buf.getvalue()


@functools.cache
def make_bomb() -> bytes:
    """A small PNG that claims 30 000 × 30 000 pixels (900 MP): a decompression bomb."""
    from PIL import Image

    img = Image.new("1", (30000, 30000))
    buf = io.BytesIO()
    img.save(buf, "PNG", optimize=False)
    return buf.getvalue()


class Delivery(Emulator):
    """The result host (BFL delivery, fal CDN, replicate.delivery, a gateway's URLs) with download faults.

    ``host(data, mime)`` returns a URL; the fault played is the one in ``scenario`` when it concerns
    downloads (expired_url, truncated_body, slow_body, wrong_content_type, not_an_image, bomb,
    redirect_other_host). ``third`` is the other host a redirect points at.
    """

    name = "delivery"

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.files: dict[str, tuple[bytes, str]] = {}
        self.third: Delivery | None = None

    def host(self, data: bytes, mime: str = "image/jpeg", ext: str = "jpg") -> str:
        token = uuid.uuid4().hex
        with self.lock:
            self.files[token] = (data, mime)
        return f"{self.url}/results/{token}/sample.{ext}?se=2026-11-21T12%3A00%3A00Z&sig=s3cr3tsig"

    def handle(self, req: Req) -> Reply:
        parts = req.path.strip("/").split("/")
        if len(parts) < 2 or parts[0] != "results" or parts[1] not in self.files:
            return Reply(404, "<Error><Code>BlobNotFound</Code></Error>", content_type="application/xml")
        data, mime = self.files[parts[1]]
        s = self.scenario
        if s == "expired_url":
            return Reply(
                403,
                "<Error><Code>AuthenticationFailed</Code><Message>Signature expired</Message></Error>",
                content_type="application/xml",
            )
        if s == "truncated_body" and self.once("truncate:" + parts[1]):
            return Reply(200, data, content_type=mime, truncate_at=len(data) // 3)
        if s == "slow_body":
            return Reply(200, data, content_type=mime, chunk_delay=0.002)
        if s == "wrong_content_type":
            return Reply(200, "<html><body>Access denied</body></html>", content_type="text/html")
        if s == "not_an_image":
            return Reply(200, b"\x00\x01 this is not an image at all" * 10, content_type=mime)
        if s == "bomb":
            return Reply(200, make_bomb(), content_type="image/png")
        if s == "redirect_other_host" and self.third is not None:
            url = self.third.host(data, mime)
            return Reply(302, b"", headers={"Location": url})
        return Reply(200, data, content_type=mime)
