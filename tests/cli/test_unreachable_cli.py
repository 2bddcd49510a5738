"""A provider that cannot be reached, through the real command line (one process per run).

A connection that is never made sent nothing: the job ends ``failed`` (exit 1) in one sentence that names
the address tried and what to do, and its row says it was not sent and not billed — nothing to resume,
no submit counted. A server that takes the connection and resets it after the request arrived, without
reading it, cannot be told from a provider that took the job and then broke: that one may have been
billed, ends ``interrupted`` (exit 3) and is never sent again. Neither says an exception class name."""

from __future__ import annotations

import json
import os
import select
import socket
import sqlite3
import struct
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from PIL import Image

EXE = [sys.executable, "-m", "flexstudio"]
KEY = "bfl_FAKEKEY_unreach42"
CLASS_NAMES = ("ConnectError", "ReadError", "WriteError", "RemoteProtocolError", "Timeout", "httpx", "Error")


def run(home: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_KEY", "_TOKEN"))}
    env.update({"FLEXSTUDIO_HOME": str(home), "BFL_API_KEY": KEY, "PYTHONIOENCODING": "utf-8"})
    return subprocess.run(
        [*EXE, *argv], capture_output=True, text=True, timeout=60, env=env, encoding="utf-8", errors="replace"
    )


def edit(home: Path, png: Path, url: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return run(
        home,
        "edit",
        "-p",
        "x",
        "-i",
        str(png),
        "--provider",
        "bfl",
        "--base-url",
        url,
        "--timeout",
        "5",
        *extra,
    )


def job_rows(home: Path) -> list[dict[str, object]]:
    con = sqlite3.connect(f"{(home / 'data' / 'history.sqlite3').as_uri()}?mode=ro", uri=True)
    con.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in con.execute("SELECT * FROM jobs ORDER BY created_at")]
    finally:
        con.close()


def plain(text: str) -> None:
    assert "Traceback" not in text
    for name in CLASS_NAMES:
        assert name not in text, f"{name!r} in {text!r}"
    assert "FAKEKEY" not in text


@pytest.fixture
def png(tmp_path: Path) -> Path:
    p = tmp_path / "a.png"
    Image.new("RGB", (64, 64), (200, 10, 10)).save(p)
    return p


@pytest.fixture
def closed_port():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))  # bound, never listening: every connection is refused
    yield sock.getsockname()[1]
    sock.close()


class Resetter:
    """Takes each connection, waits until the request has arrived, and resets it without reading it."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.with_data = 0
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            readable, _, _ = select.select([conn], [], [], 30)
            self.with_data += bool(readable)
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            conn.close()  # linger 0: a reset, the request unread

    def stop(self) -> None:
        self.sock.close()
        self._thread.join(5)


def test_a_refused_connection_sends_nothing_and_says_where_and_what_to_do(tmp_path, png, closed_port):
    home = tmp_path / "home"
    url = f"http://127.0.0.1:{closed_port}"
    r = edit(home, png, url)
    assert r.returncode == 1, (r.stdout, r.stderr)
    (line,) = [ln for ln in r.stdout.splitlines() if ln.strip()]
    plain(r.stdout + r.stderr)
    assert line.startswith("bfl: failed — ") and line.count(". ") == 0, line  # one sentence
    assert url in line and "nothing was sent" in line and "nothing was billed" in line
    assert "check the address" in line and "connection" in line

    j = edit(home, png, url, "--json")
    assert j.returncode == 1, (j.stdout, j.stderr)
    plain(j.stdout + j.stderr)
    obj = json.loads(j.stdout)
    assert obj["status"] == "failed" and obj["billed_usd"] is None and obj["provider_job_id"] is None
    assert obj["error"]["kind"] == "network" and url in obj["error"]["message"]

    rows = job_rows(home)
    assert len(rows) == 2
    for row in rows:
        assert row["state"] == "failed" and row["message"] == "Not sent — nothing was billed."
        assert row["submits"] == 0 and row["handle_json"] is None and row["billed_usd"] is None
        assert row["error_kind"] == "network"
    res = run(home, "resume", "--json")  # nothing to fetch, nothing to settle
    assert res.returncode == 0 and json.loads(res.stdout)["jobs"] == [], (res.stdout, res.stderr)


def test_a_reset_after_the_request_arrived_may_have_been_billed_and_is_never_sent_again(tmp_path, png):
    home = tmp_path / "home"
    server = Resetter()
    try:
        url = f"http://127.0.0.1:{server.port}"
        r = edit(home, png, url)
        assert r.returncode == 3, (r.stdout, r.stderr)
        (line,) = [ln for ln in r.stdout.splitlines() if ln.strip()]
        plain(r.stdout + r.stderr)
        assert line.startswith("bfl: interrupted — ") and line.count(". ") == 0, line  # one sentence
        assert url in line and "may have been billed" in line and "not sent again" in line
        assert server.connections == 1 and server.with_data == 1  # the paid request went out once
        (row,) = job_rows(home)
        assert row["state"] == "interrupted" and row["submits"] == 1 and row["handle_json"] is None
        res = run(home, "resume", "--json")
        assert "Traceback" not in res.stdout + res.stderr
        assert server.connections == 1  # resume does not send it again
    finally:
        server.stop()
