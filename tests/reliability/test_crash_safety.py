"""A job killed with SIGKILL at each stage, against the BFL emulator: after a restart it is finished by
polling its stored handle when the provider still has it, otherwise settled as ``interrupted`` with the
provider's job id kept. No paid submit is repeated, no half-written image is referenced, and the
history database stays intact."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from tests.emulators.base import Delivery
from tests.emulators.bfl import BflEmulator

EXE = [sys.executable, "-m", "flexstudio"]
KEY = "bfl_CRASHTEST_0c9d8e7f"


class SlowSubmit(BflEmulator):
    """Takes the job, then holds the submit answer back (the client is killed while waiting)."""

    def handle(self, req):
        reply = super().handle(req)
        if req.method == "POST" and self.once("slow-submit"):
            reply.delay = 20
        return reply


class SlowFirstDownload(Delivery):
    def handle(self, req):
        reply = super().handle(req)
        if reply.status == 200 and self.once("slow-download"):
            reply.chunk_delay = 1.0
        return reply


def _env(home: Path) -> dict[str, str]:
    return {**os.environ, "BFL_API_KEY": KEY, "FLEXSTUDIO_PROGRESS": "1", "FLEXSTUDIO_HOME": str(home)}


def _kill_when(args: list[str], env: dict[str, str], marker: str) -> None:
    """Run the CLI, read its progress lines (no sleeping) until ``marker`` appears, then SIGKILL it."""
    with subprocess.Popen(
        [*EXE, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as proc:
        try:
            seen = []
            for line in proc.stderr:
                seen.append(line)
                if marker in line:
                    break
            else:
                pytest.fail(f"never saw {marker!r}: {''.join(seen)}")
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(30)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == -signal.SIGKILL


def _cli(args: list[str], env: dict[str, str], code: int = 0) -> dict:
    r = subprocess.run([*EXE, *args], env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == code, r.stderr
    return json.loads(r.stdout)


def _check_store(home: Path) -> None:
    db = sqlite3.connect(home / "data" / "history.sqlite3")
    try:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        for (outputs,) in db.execute("SELECT outputs_json FROM jobs"):
            for o in json.loads(outputs):
                blob = next((home / "data" / "blobs" / o["sha256"][:2]).glob(o["sha256"] + ".*"))
                assert hashlib.sha256(blob.read_bytes()).hexdigest() == o["sha256"]  # whole, never half
    finally:
        db.close()


@pytest.fixture
def ref(tmp_path):
    p = tmp_path / "ref.png"
    Image.new("RGB", (512, 384), (90, 140, 40)).save(p)
    return p


def _edit_args(url: str, ref: Path) -> list[str]:
    return [
        "edit",
        "--provider",
        "bfl",
        "--base-url",
        url,
        "-i",
        str(ref),
        "-p",
        "crash me",
        "--seed",
        "5",
        "--size",
        "512x384",
    ]


def test_killed_while_pending_is_finished_after_restart_by_polling_the_stored_url(home, ref):
    delivery = Delivery().start()
    emu = BflEmulator(delivery, key=KEY, hold=True).start()
    try:
        env = _env(home)
        _kill_when(_edit_args(emu.url, ref), env, "] running")
        jobs = _cli(["history", "list", "--json"], env)["jobs"]
        assert [j["status"] for j in jobs] == ["running"] and jobs[0]["provider_job_id"]
        emu.release_all()
        polls_before = sum(1 for r in emu.requests if "get_result" in r.path)
        resumed = _cli(["resume", "--base-url", f"bfl={emu.url}", "--json"], env)
        assert resumed == {"jobs": [{"job_id": jobs[0]["job_id"], "status": "succeeded"}]}
        after = [r for r in emu.requests if "get_result" in r.path][polls_before:]
        assert after and all(r.path.startswith("/eu2/") for r in after)  # the stored polling URL, verbatim
        assert emu.count("POST", "/v1/flux-2-flex") == 1  # never submitted again
        shown = _cli(["history", "show", jobs[0]["job_id"], "--json"], env)
        assert shown["status"] == "succeeded" and shown["billed_usd"] is not None
        _check_store(home)
    finally:
        emu.stop()
        delivery.stop()


def test_killed_while_submitting_is_interrupted_and_never_sent_again(home, ref):
    delivery = Delivery().start()
    emu = SlowSubmit(delivery, key=KEY).start()
    try:
        env = _env(home)
        _kill_when(_edit_args(emu.url, ref), env, "] submitting")
        # exit 3: a job is still interrupted (the CLI contract), listed though there is nothing to fetch
        resumed = _cli(["resume", "--base-url", f"bfl={emu.url}", "--json"], env, code=3)
        assert [j["status"] for j in resumed["jobs"]] == ["interrupted"]
        shown = _cli(["history", "show", resumed["jobs"][0]["job_id"], "--json"], env)
        assert "not sent again" in shown["error"]["message"]
        # The kill may land before or after the request left; either way it is never sent a second time.
        assert emu.count("POST", "/v1/flux-2-flex") <= 1
        _check_store(home)
    finally:
        emu.stop()
        delivery.stop()


def test_killed_while_downloading_refetches_the_result_after_restart(home, ref):
    delivery = SlowFirstDownload().start()
    emu = BflEmulator(delivery, key=KEY).start()
    try:
        env = _env(home)
        _kill_when(_edit_args(emu.url, ref), env, "] downloading")
        jobs = _cli(["history", "list", "--json"], env)["jobs"]
        assert jobs[0]["status"] == "downloading" and jobs[0]["outputs"] == []
        resumed = _cli(["resume", "--base-url", f"bfl={emu.url}", "--json"], env)
        assert [j["status"] for j in resumed["jobs"]] == ["succeeded"]
        assert emu.count("POST", "/v1/flux-2-flex") == 1
        assert not any(KEY in v for r in delivery.requests for v in r.headers.values())
        _check_store(home)
    finally:
        emu.stop()
        delivery.stop()


def test_a_job_the_provider_forgot_is_interrupted_with_its_id_kept(home, ref):
    delivery = Delivery().start()
    emu = BflEmulator(delivery, key=KEY, hold=True).start()
    try:
        env = _env(home)
        _kill_when(_edit_args(emu.url, ref), env, "] running")
        job = _cli(["history", "list", "--json"], env)["jobs"][0]
        emu.forget(job["provider_job_id"])
        # Within the grace period a provider that says "unknown job" may be catching up: still waiting
        # (exit 3), never failed.
        resumed = _cli(["resume", "--base-url", f"bfl={emu.url}", "--json"], env, code=3)
        assert resumed["jobs"] == [{"job_id": job["job_id"], "status": "interrupted"}]
        shown = _cli(["history", "show", job["job_id"], "--json"], env)
        assert shown["provider_job_id"] == job["provider_job_id"]
        assert job["provider_job_id"] in shown["error"]["message"]
        _check_store(home)
    finally:
        emu.stop()
        delivery.stop()
