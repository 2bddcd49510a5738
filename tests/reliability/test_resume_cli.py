"""Paid work survives the command line: kill -9 at each stage, resume while the provider is unreachable,
resume again once it is back (no --base-url: the job's stored endpoint is used); ``edit --timeout``
hands a job over as interrupted (exit 3) and a later resume fetches it; three editors and a resumer on
one FLEXSTUDIO_HOME lose nothing and never share a job. Elapsed times are printed, never asserted."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tests.emulators.base import Delivery
from tests.emulators.bfl import BflEmulator
from tests.providers import faults as F
from tests.providers.scenarios import BFL_RIG

EXE = [sys.executable, "-m", "flexstudio"]
KEY = "bfl_RESUMETEST_7a1c2e3d"
SUBMIT = "/v1/flux-2-flex"


class SlowSubmit(BflEmulator):
    """Takes the job, then holds the submit answer back a while (the client is killed meanwhile)."""

    def handle(self, req):
        reply = super().handle(req)
        if req.method == "POST" and self.once("slow-submit"):
            reply.delay = 3
        return reply


class SlowFirstDownload(Delivery):
    def handle(self, req):
        reply = super().handle(req)
        if reply.status == 200 and self.once("slow-download"):
            reply.chunk_delay = 0.5
        return reply


def _env(home: Path) -> dict[str, str]:
    return {**os.environ, "BFL_API_KEY": KEY, "FLEXSTUDIO_PROGRESS": "1", "FLEXSTUDIO_HOME": str(home)}


def _cli(args: list[str], env: dict[str, str]) -> tuple[int, Any, float]:
    started = time.monotonic()
    r = subprocess.run([*EXE, *args], env=env, capture_output=True, text=True, timeout=180)
    took = time.monotonic() - started
    assert "Traceback" not in r.stderr, r.stderr
    return r.returncode, json.loads(r.stdout) if r.stdout.strip().startswith("{") else r.stdout, took


class Editor:
    """``flexstudio edit`` in the background; ``wait_for(marker)`` reads its progress lines (no sleeps)."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            [*EXE, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        self.lines: list[str] = []
        self._seen = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            with self._seen:
                self.lines.append(line)
                self._seen.notify_all()
        with self._seen:
            self.lines.append("<eof>")
            self._seen.notify_all()

    def wait_for(self, marker: str, timeout: float = 60) -> None:
        with self._seen:
            ok = self._seen.wait_for(
                lambda: any(marker in ln for ln in self.lines) or "<eof>" in self.lines, timeout
            )
        assert ok and any(marker in ln for ln in self.lines), f"never saw {marker!r}: {''.join(self.lines)}"

    def kill(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(30)
        self._reader.join(10)
        for pipe in (self.proc.stdout, self.proc.stderr):
            if pipe is not None:
                pipe.close()

    def finish(self) -> tuple[int, Any]:
        assert self.proc.stdout is not None
        out = self.proc.stdout.read()
        self.proc.wait(120)
        self._reader.join(10)
        for pipe in (self.proc.stdout, self.proc.stderr):
            if pipe is not None:
                pipe.close()
        return self.proc.returncode, json.loads(out)


@pytest.fixture
def ref(tmp_path: Path) -> Path:
    p = tmp_path / "ref.png"
    Image.new("RGB", (512, 384), (90, 140, 40)).save(p)
    return p


def _edit(url: str, ref: Path, *extra: str) -> list[str]:
    return [
        "edit",
        "--provider",
        "bfl",
        "--base-url",
        url,
        "-i",
        str(ref),
        "-p",
        "keep me",
        "--seed",
        "5",
        "--size",
        "512x384",
        "--json",
        *extra,
    ]


@pytest.mark.parametrize(
    ("stage", "marker"),
    [("submitting", "] submitting"), ("polling", "] running"), ("downloading", "] downloading")],
)
def test_killed_then_resumed_offline_then_online(stage: str, marker: str, home: Path, ref: Path) -> None:
    delivery = (SlowFirstDownload() if stage == "downloading" else Delivery()).start()
    emu = (
        SlowSubmit(delivery, key=KEY)
        if stage == "submitting"
        else BflEmulator(delivery, key=KEY, hold=stage == "polling")
    ).start()
    env = _env(home)
    try:
        editor = Editor(_edit(emu.url, ref), env)
        editor.wait_for(marker)
        editor.kill()
        # The provider (and its result host) can no longer be reached.
        api_port, cdn_port = emu.port, delivery.port
        emu.stop()
        delivery.stop()
        code, offline, took_offline = _cli(["resume", "--json", "--timeout", "5"], env)
        assert [j["status"] for j in offline["jobs"]] == ["interrupted"]
        job_id = offline["jobs"][0]["job_id"]
        _, shown, _ = _cli(["history", "show", job_id, "--json"], env)
        assert shown["status"] == "interrupted"
        if stage == "submitting":
            # Nothing can be fetched and nothing is sent again, but it may have been billed: still listed,
            # still interrupted (counted at its quote until the user gives it up).
            assert code == 3
            assert "may have been billed" in shown["error"]["message"]
            assert "nothing to fetch" in shown["error"]["message"]
        else:
            assert code == 3 and shown["provider_job_id"]
        # Back online, on the same address; the resume is given no --base-url.
        delivery.start(port=cdn_port)
        emu.start(port=api_port)
        emu.release_all()
        code, online, took_online = _cli(["resume", "--json"], env)
        _, shown, _ = _cli(["history", "show", job_id, "--json"], env)
        if stage == "submitting":
            assert code == 3 and online == {"jobs": [{"job_id": job_id, "status": "interrupted"}]}
            assert shown["status"] == "interrupted"
            assert emu.count("POST", SUBMIT) <= 1  # never sent again
        else:
            assert code == 0 and online == {"jobs": [{"job_id": job_id, "status": "succeeded"}]}
            assert shown["status"] == "succeeded" and shown["outputs"]
            assert emu.count("POST", SUBMIT) == 1
        print(f"\n[{stage}] resume offline took {took_offline:.1f} s, online {took_online:.1f} s")
    finally:
        emu.stop()
        delivery.stop()


@pytest.mark.parametrize("fault", ["stays pending", "download drips", "download 429 Retry-After 999999"])
def test_edit_timeout_hands_the_job_over_and_resume_fetches_it(fault: str, home: Path, ref: Path) -> None:
    delivery = Delivery().start()
    emu = BflEmulator(delivery, key=KEY, hold=fault == "stays pending").start()
    faults = F.Faults(BFL_RIG)
    faults.attach(delivery)
    if fault == "download drips":
        faults.add("download", F.drip)
    elif fault.startswith("download 429"):
        faults.add("download", F.status(429, **{"Retry-After": "999999"}))
    env = _env(home)
    try:
        code, obj, took = _cli(_edit(emu.url, ref, "--timeout", "10"), env)
        print(f"\n[{fault}] edit --timeout 10 returned exit {code} after {took:.1f} s")
        assert code == 3 and obj["status"] == "interrupted" and obj["provider_job_id"]
        # (a wait asked for beyond the time left is not waited: the job is handed over at once)
        assert (
            obj["error"]["kind"] in ("timeout", "rate_limited")
            and "may still finish" in obj["error"]["message"]
        )
        faults.clear()
        emu.release_all()
        code, resumed, _ = _cli(["resume", "--json"], env)
        assert code == 0 and resumed == {"jobs": [{"job_id": obj["job_id"], "status": "succeeded"}]}
        assert emu.count("POST", SUBMIT) == 1
    finally:
        emu.stop()
        delivery.stop()


def test_three_editors_and_a_resumer_on_one_home(home: Path, ref: Path) -> None:
    """Three live editors and one killed one; a resumer started while they poll takes only the killed
    editor's job. Every job ends succeeded, each submitted once."""
    delivery = Delivery().start()
    emu = BflEmulator(delivery, key=KEY, hold=True).start()
    env = _env(home)
    try:
        editors = [Editor(_edit(emu.url, ref), env) for _ in range(4)]
        for e in editors:
            e.wait_for("] running")
        victim = editors.pop()
        victim.kill()
        resumer = Editor(["resume", "--json", "--timeout", "60"], env)
        # Let the resumer claim and start polling the dead editor's job, then let every job finish.
        resumer.wait_for("] running")
        emu.release_all()
        results = [e.finish() for e in editors]
        rcode, resumed = resumer.finish()
        assert [c for c, _ in results] == [0, 0, 0]
        assert all(o["status"] == "succeeded" for _, o in results)
        live_ids = {o["job_id"] for _, o in results}
        assert rcode == 0 and len(resumed["jobs"]) == 1 and resumed["jobs"][0]["status"] == "succeeded"
        assert resumed["jobs"][0]["job_id"] not in live_ids  # never a live job of another process
        _, listed, _ = _cli(["history", "list", "--json"], env)
        assert sorted(j["status"] for j in listed["jobs"]) == ["succeeded"] * 4
        assert all(j["submits"] == 1 for j in listed["jobs"])
        assert emu.count("POST", SUBMIT) == 4
    finally:
        emu.stop()
        delivery.stop()


def test_compare_exits_3_when_one_provider_is_still_working(home: Path, ref: Path) -> None:
    delivery = Delivery().start()
    emu = BflEmulator(delivery, key=KEY, hold=True).start()
    env = _env(home)
    try:
        code, obj, _ = _cli(
            [
                "compare",
                "--provider",
                "sandbox",
                "--provider",
                "bfl",
                "--base-url",
                f"bfl={emu.url}",
                "-i",
                str(ref),
                "-p",
                "both",
                "--size",
                "512x384",
                "--timeout",
                "3",
                "--json",
            ],
            env,
        )
        assert code == 3
        assert sorted(r["status"] for r in obj["results"]) == ["interrupted", "succeeded"]
        emu.release_all()
        code, resumed, _ = _cli(["resume", "--json"], env)
        assert code == 0 and [j["status"] for j in resumed["jobs"]] == ["succeeded"]
    finally:
        emu.stop()
        delivery.stop()
