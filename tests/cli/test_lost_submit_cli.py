"""A paid submit whose answer was lost (a garbled reply, or a reset after the request was read), through the
real command line against the BFL emulator: the job may have been billed and has no job id, so there is
nothing to fetch. ``edit`` says so at the time (status interrupted, exit 3, one sentence that never
promises resume will fetch it); ``resume`` lists it honestly (``{"jobs": [{"job_id", "status":
"interrupted"}]}``, exit 3) and never sends it again; the spending limits count it at its quote."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from tests.emulators.base import Delivery, Reply
from tests.emulators.bfl import BflEmulator

EXE = [sys.executable, "-m", "flexstudio"]
KEY = "bfl_LOSTSUBMIT_5d2e"


class ResetAfterReading(BflEmulator):
    """Reads the whole submit, takes the job, then resets the connection instead of answering."""

    def handle(self, req):
        reply = super().handle(req)
        if req.method == "POST" and req.path == self.submit_path:
            return Reply(reset=True)
        return reply


def run(home: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_KEY", "_TOKEN"))}
    env.update({"FLEXSTUDIO_HOME": str(home), "BFL_API_KEY": KEY, "PYTHONIOENCODING": "utf-8"})
    return subprocess.run(
        [*EXE, *argv], capture_output=True, text=True, timeout=90, env=env, encoding="utf-8", errors="replace"
    )


def rows(home: Path) -> list[dict[str, object]]:
    con = sqlite3.connect(f"{(home / 'data' / 'history.sqlite3').as_uri()}?mode=ro", uri=True)
    con.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in con.execute("SELECT * FROM jobs ORDER BY created_at")]
    finally:
        con.close()


@pytest.fixture
def png(tmp_path: Path) -> Path:
    p = tmp_path / "a.png"
    Image.new("RGB", (64, 64), (20, 90, 200)).save(p)
    return p


@pytest.mark.parametrize("how", ["malformed_json", "reset_after_reading"])
def test_a_lost_submit_answer_says_there_is_nothing_to_fetch_and_resume_lists_it(
    tmp_path: Path, png: Path, how: str
) -> None:
    home = tmp_path / "home"
    delivery = Delivery().start()
    emu = (
        BflEmulator(delivery, scenario="malformed_json", key=KEY)
        if how == "malformed_json"
        else ResetAfterReading(delivery, key=KEY)
    ).start()
    try:
        argv = ("edit", "-p", "make it blue", "-i", str(png), "--provider", "bfl", "--base-url", emu.url)
        r = run(home, *argv, "--timeout", "10")
        assert r.returncode == 3, (r.stdout, r.stderr)
        assert "Traceback" not in r.stdout + r.stderr and KEY not in r.stdout + r.stderr
        (line,) = [ln for ln in r.stdout.splitlines() if ln.strip()]
        assert line.startswith("bfl: interrupted — ") and line.count(". ") == 0, line  # one sentence
        assert "may have been billed $0.1000" in line and "not sent again" in line
        assert "nothing to fetch" in line and "will fetch it" not in line and "resume" not in line

        j = run(home, *argv, "--json", "--timeout", "10")
        assert j.returncode == 3, (j.stdout, j.stderr)
        obj = json.loads(j.stdout)
        assert obj["status"] == "interrupted" and obj["provider_job_id"] is None
        assert obj["quote_usd"] == pytest.approx(0.1) and obj["billed_usd"] is None
        assert "nothing to fetch" in obj["error"]["message"]
        submits = emu.count("POST", emu.submit_path)
        assert submits == 2  # each paid request went out once

        res = run(home, "resume", "--json")
        assert res.returncode == 3, (res.stdout, res.stderr)  # some jobs are still interrupted
        listed = json.loads(res.stdout)["jobs"]
        ids = [row["id"] for row in rows(home)]
        assert listed == [{"job_id": i, "status": "interrupted"} for i in ids]
        human = run(home, "resume")
        assert human.returncode == 3 and "No unfinished jobs" not in human.stdout
        lines = [ln for ln in human.stdout.splitlines() if ln.strip()]
        assert len(lines) == 2 and all("nothing to fetch" in ln for ln in lines), lines
        assert emu.count("POST", emu.submit_path) == submits  # resume never sends it again
        for row in rows(home):
            assert row["state"] == "interrupted" and row["submits"] == 1 and row["handle_json"] is None
    finally:
        emu.stop()
        delivery.stop()


def test_a_lost_submit_counts_towards_the_spending_limit_at_its_quote(tmp_path: Path, png: Path) -> None:
    """$0.15 a day: the first job may have cost $0.10, so a second $0.10 one is refused, nothing sent."""
    home = tmp_path / "home"
    (home / "config").mkdir(parents=True)
    (home / "config" / "settings.json").write_text(json.dumps({"caps": {"day_stop": 0.15}}))
    delivery = Delivery().start()
    emu = BflEmulator(delivery, scenario="malformed_json", key=KEY).start()
    try:
        argv = ("edit", "-p", "make it blue", "-i", str(png), "--provider", "bfl", "--base-url", emu.url)
        assert run(home, *argv).returncode == 3
        second = run(home, *argv)
        assert second.returncode == 2, (second.stdout, second.stderr)
        assert "over your limit of $0.15" in second.stderr and "Nothing was sent" in second.stderr
        assert emu.count("POST", emu.submit_path) == 1
        assert len(rows(home)) == 1
    finally:
        emu.stop()
        delivery.stop()


def test_history_list_says_not_sent_for_a_job_that_never_reached_the_provider(
    tmp_path: Path, png: Path
) -> None:
    """A refused connection ends the job failed with 0 submits: the list shows "not sent", not its quote."""
    import socket

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))  # bound, never listening: the connection is refused
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    home = tmp_path / "home"
    try:
        r = run(home, "edit", "-p", "never sent", "-i", str(png), "--provider", "bfl", "--base-url", url)
        assert r.returncode == 1, (r.stdout, r.stderr)
    finally:
        sock.close()
    (row,) = rows(home)
    assert row["submits"] == 0 and row["quote_usd"]
    listed = run(home, "history", "list")
    (line,) = [ln for ln in listed.stdout.splitlines() if row["id"] in ln]
    assert " not sent " in line and "$0.1" not in line, line
    shown = run(home, "history", "show", str(row["id"]))
    assert "billed $0 (not sent)" in shown.stdout, shown.stdout
