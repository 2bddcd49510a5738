"""``flexstudio batch`` as a user runs it: priced first, refused above the threshold without --yes, the
JSON contract, and kill -9 mid-batch then the same command again → every input succeeded exactly once."""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from tests.emulators.base import Delivery
from tests.emulators.bfl import BflEmulator
from tests.support import stop_all

EXE = [sys.executable, "-m", "flexstudio"]
KEY = "bfl_CLI_BATCH_5e6f7a8b"
JOB_KEYS = {
    "job_id",
    "provider",
    "status",
    "outputs",
    "seed",
    "quote_usd",
    "billed_usd",
    "latency_s",
    "provider_job_id",
    "error",
}


@pytest.fixture
def bfl():
    delivery = Delivery().start()
    emu = BflEmulator(delivery, key=KEY).start()
    yield emu
    stop_all(emu, delivery)


def _env(home: Path) -> dict[str, str]:
    return {**os.environ, "BFL_API_KEY": KEY, "FLEXSTUDIO_HOME": str(home)}


def _inputs(folder: Path, n: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        Image.new("RGB", (256, 192), (30 * i % 255, 80, 160)).save(folder / f"item{i}.png")
    return folder


def _cli(args: list[str], env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([*EXE, *args], env=env, capture_output=True, text=True, timeout=timeout)


def _batch_rows(home: Path) -> int:
    db = home / "data" / "batches.sqlite3"
    if not db.exists():
        return 0
    con = sqlite3.connect(db)
    try:
        return con.execute("SELECT COUNT(*) FROM batches").fetchone()[0]
    finally:
        con.close()


def test_above_the_threshold_needs_yes_and_nothing_is_sent_or_recorded(bfl, home, tmp_path):
    src = _inputs(tmp_path / "in", 6)
    args = [
        "batch",
        "--provider",
        "bfl",
        "--base-url",
        bfl.url,
        "--input",
        str(src),
        "-p",
        "poster style",
        "--size",
        "2048x2048",
        "-o",
        str(tmp_path / "out"),
    ]
    r = _cli([*args, "--json"], _env(home))
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr and "--yes" in r.stderr and "Nothing was sent" in r.stderr
    assert r.stderr.splitlines()[0].startswith("Batch: 6 inputs on BFL for $")  # the price comes first
    obj = json.loads(r.stdout)
    assert obj["batch_id"] is None and obj["results"] == [] and obj["error"]["kind"] == "bad_input"
    assert bfl.requests == [] and _batch_rows(home) == 0
    assert json.loads(_cli(["history", "list", "--json"], _env(home)).stdout)["jobs"] == []
    assert not (tmp_path / "out").exists()

    r = _cli([*args, "--max-cost", "0.5"], _env(home))  # a cap below the price does not cover it either
    assert r.returncode == 2 and bfl.requests == []

    r = _cli([*args, "--max-cost", "50", "--json"], _env(home))  # a cap that covers it runs it
    assert r.returncode == 0, r.stderr
    obj = json.loads(r.stdout)
    assert set(obj) == {"batch_id", "manifest", "results"}
    assert len(obj["results"]) == 6 and all(set(x) == JOB_KEYS | {"input"} for x in obj["results"])
    assert {x["status"] for x in obj["results"]} == {"succeeded"}
    assert sorted(Path(x["outputs"][0]).name for x in obj["results"]) == [f"item{i}.jpg" for i in range(6)]
    assert sum(x["quote_usd"] for x in obj["results"]) > 1.0
    lines = Path(obj["manifest"]).read_text().splitlines()
    assert Path(obj["manifest"]).name == f"flexstudio-batch-{obj['batch_id']}.jsonl" and len(lines) == 6
    assert set(json.loads(lines[0])) == {
        "input",
        "job_id",
        "status",
        "quote_usd",
        "billed_usd",
        "latency_s",
        "output",
        "error",
    }


def test_a_cap_below_the_first_input_is_bad_input_and_nothing_is_sent_or_recorded(bfl, home, tmp_path):
    src = _inputs(tmp_path / "in", 2)
    out = tmp_path / "out"
    args = [
        "batch",
        "--provider",
        "bfl",
        "--base-url",
        bfl.url,
        "--input",
        str(src),
        "-p",
        "x",
        "-o",
        str(out),
    ]
    r = _cli([*args, "--max-cost", "0.01", "--json"], _env(home))
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr and "--max-cost $0.0100 does not cover item0.png" in r.stderr
    assert "Nothing was sent" in r.stderr
    assert json.loads(r.stdout)["error"]["kind"] == "bad_input"
    assert bfl.requests == [] and _batch_rows(home) == 0 and not out.exists()
    assert json.loads(_cli(["history", "list", "--json"], _env(home)).stdout)["jobs"] == []


def test_inputs_the_cap_leaves_unlaunched_carry_their_own_provider_and_name(bfl, home, tmp_path):
    src = _inputs(tmp_path / "in", 3)
    args = [
        "batch",
        "--provider",
        "bfl",
        "--base-url",
        bfl.url,
        "--input",
        str(src),
        "-p",
        "x",
        "-o",
        str(tmp_path / "out"),
        "--concurrency",
        "1",
        "--json",
    ]
    each = json.loads(
        _cli(
            ["quote", "-p", "x", "-i", str(src / "item0.png"), "--provider", "bfl", "--json"], _env(home)
        ).stdout
    )["quotes"][0]["usd"]
    r = _cli([*args, "--max-cost", f"{each * 1.5:.6f}"], _env(home))
    assert r.returncode == 1, r.stderr
    results = json.loads(r.stdout)["results"]
    assert [x["status"] for x in results] == ["succeeded", "cancelled", "cancelled"]
    assert {x["provider"] for x in results} == {"bfl"}
    for x in results[1:]:
        name = Path(x["input"]).name
        assert x["job_id"] is None and x["error"]["message"].startswith(f"{name} was not launched")
    assert bfl.count("POST", "/v1/flux-2-flex") == 1


@pytest.mark.parametrize("missing", ["out", "input", "prompt"])
def test_bad_usage_exits_2_with_one_sentence(home, tmp_path, missing):
    src = _inputs(tmp_path / "in", 1)
    args = {"out": ["-o", str(tmp_path / "out")], "input": ["--input", str(src)], "prompt": ["-p", "x"]}
    argv = ["batch"] + [a for k, v in args.items() if k != missing for a in v]
    r = _cli(argv, _env(home))
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert len([ln for ln in r.stderr.splitlines() if ln.strip()]) == 1


def test_kill_9_mid_batch_then_the_same_command_finishes_each_input_exactly_once(home, tmp_path):
    delivery = Delivery().start()
    emu = BflEmulator(delivery, key=KEY, hold=True).start()  # jobs stay Pending until released
    try:
        src = _inputs(tmp_path / "in", 6)
        args = [
            "batch",
            "--provider",
            "bfl",
            "--base-url",
            emu.url,
            "--input",
            str(src),
            "-p",
            "kill me",
            "--seed",
            "4",
            "--concurrency",
            "3",
            "-o",
            str(tmp_path / "out"),
        ]
        env = _env(home)
        with subprocess.Popen(
            [*EXE, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        ) as proc:
            try:
                running, seen = 0, []
                for line in proc.stderr:  # progress lines: no sleeping, wait until three are at BFL
                    seen.append(line)
                    running += line.rstrip().endswith(" running")
                    if running == 3:
                        break
                else:
                    pytest.fail("never saw three running: " + "".join(seen))
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait(30)
            finally:
                if proc.poll() is None:
                    proc.kill()
        assert proc.returncode == -signal.SIGKILL and emu.accepted == 3
        named = [ln for ln in seen if re.match(r"[Bb]atch [0-9a-f]{12}", ln)]  # one capitalisation
        assert named and all(ln.startswith("Batch ") for ln in named), named
        emu.hold = False
        emu.release_all()

        r = _cli([*args, "--json"], env)
        assert r.returncode == 0, r.stderr
        assert "Resuming batch" in r.stderr
        results = json.loads(r.stdout)["results"]
        assert [x["status"] for x in results] == ["succeeded"] * 6
        assert emu.accepted == 6 and emu.count("POST", "/v1/flux-2-flex") == 6  # one submit per input
        outs = sorted((tmp_path / "out").glob("*.jpg"))
        assert [p.name for p in outs] == [f"item{i}.jpg" for i in range(6)]
        for p in outs:
            with Image.open(p) as im:
                im.load()  # whole files, never half written
        jobs = json.loads(_cli(["history", "list", "--json"], env).stdout)["jobs"]
        assert len(jobs) == 6 and {j["group_kind"] for j in jobs} == {"batch"}
        assert all(j["submits"] == 1 for j in jobs)

        again = _cli([*args, "--json"], env)  # and once more: nothing left to send
        assert again.returncode == 0 and emu.accepted == 6
    finally:
        stop_all(emu, delivery)


def test_a_damaged_batch_list_is_named_with_its_own_mv_and_the_history_is_left_alone(home, tmp_path):
    """batches.sqlite3 damaged, history.sqlite3 healthy: `batch` and `batch --resume` name the batch list
    (what it holds), print the mv for THAT file, exit 2, no traceback; following the mv, batch works."""
    env = {**os.environ, "FLEXSTUDIO_HOME": str(home)}
    folder = _inputs(tmp_path / "in", 2)
    r = _cli(["batch", "-p", "make it green", "--input", str(folder), "-o", str(tmp_path / "o1")], env)
    assert r.returncode == 0, r.stderr
    db, history = home / "data" / "batches.sqlite3", home / "data" / "history.sqlite3"
    with db.open("r+b") as f:
        f.write(b"\0" * 2048)  # the header and the first page
    before = history.read_bytes()
    for args in (
        ["batch", "-p", "make it green", "--input", str(folder), "-o", str(tmp_path / "o2")],
        ["batch", "--resume", "5e59d604799c"],
    ):
        r = _cli(args, env)
        assert r.returncode == 2, r.stderr
        assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
        assert f"The batch list {db}" in r.stderr and "list of batches" in r.stderr
        assert "history.sqlite3" not in r.stderr
        mv = r.stderr.split("or run: mv ")[1].strip()
        src, dst = (s.strip("'") for s in mv.split("' '"))
        assert Path(src) == db and Path(dst).parent == db.parent
    assert history.read_bytes() == before
    Path(src).rename(dst)
    r = _cli(["batch", "-p", "make it green", "--input", str(folder), "-o", str(tmp_path / "o3")], env)
    assert r.returncode == 0, r.stderr
    assert len(list((tmp_path / "o3").glob("*.png"))) + len(list((tmp_path / "o3").glob("*.jpg"))) == 2


def _batch_with_ctrl_c(home: Path, tmp_path: Path, presses: int, latency: str) -> tuple[int, str, str, list]:
    """A sandbox batch of 3 inputs; SIGINT once the first job runs, and again (if ``presses`` is 2) once
    the first press is acknowledged. Waits on the progress lines, never on a clock."""
    env = {**_env(home), "FLEXSTUDIO_SANDBOX_LATENCY": latency, "FLEXSTUDIO_PROGRESS": "lines"}
    args = ["batch", "-p", "slow one", "--input", str(_inputs(tmp_path / "in", 3)), "-o", str(tmp_path / "o")]
    with subprocess.Popen(
        [*EXE, *args, "--json"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as proc:
        try:
            seen = []
            assert proc.stderr is not None
            for line in proc.stderr:
                seen.append(line)
                if line.rstrip().endswith(" running"):
                    proc.send_signal(signal.SIGINT)
                    break
            if presses == 2:
                for line in proc.stderr:
                    seen.append(line)
                    if line.startswith("Ctrl-C:"):
                        proc.send_signal(signal.SIGINT)
                        break
            out, err = proc.communicate(timeout=120)
        finally:
            if proc.poll() is None:
                proc.kill()
    return proc.returncode, out, "".join(seen) + err, args


def test_one_ctrl_c_in_a_sandbox_batch_lets_the_running_jobs_finish(home, tmp_path):
    code, out, err, _ = _batch_with_ctrl_c(home, tmp_path, presses=1, latency="3")
    assert code == 130, err  # interrupted by Ctrl-C (architecture.md), after the running ones settled
    assert "waiting for the running ones" in err and "Traceback" not in err
    results = json.loads(out)["results"]
    launched = [r for r in results if r["job_id"]]
    assert launched and all(r["status"] == "succeeded" and r["outputs"] for r in launched), results
    assert not any(r["status"] == "cancelled" for r in results), results
    assert " cancelled" not in err, err
