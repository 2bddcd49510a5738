"""The Settings spending limits on the command line, against the Kie and BFL emulators over real HTTP: an
edit or batch whose price is unknown (Kie bills in credits) is refused while a stop limit is set — one
sentence, exit 2, nothing sent or recorded — as ``--max-cost`` refuses it; without a limit a Kie batch
says "spent: unknown (Kie bills in credits)", never $0; and crossing the warning level prints one warning
line on stderr."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from tests.emulators.base import Delivery
from tests.emulators.bfl import BflEmulator
from tests.emulators.kie import KieEmulator
from tests.support import stop_all

EXE = [sys.executable, "-m", "flexstudio"]
KIE_KEY = "kie_test_key"
BFL_KEY = "bfl_SPENDCLI_9c0d"


@pytest.fixture
def kie():
    delivery = Delivery().start()
    emu = KieEmulator(delivery, key=KIE_KEY).start()
    yield emu
    stop_all(emu, delivery)


@pytest.fixture
def bfl():
    delivery = Delivery().start()
    emu = BflEmulator(delivery, key=BFL_KEY).start()
    yield emu
    stop_all(emu, delivery)


def _home(tmp_path: Path, caps: dict[str, float] | None) -> Path:
    home = tmp_path / "home"
    (home / "config").mkdir(parents=True)
    if caps is not None:
        (home / "config" / "settings.json").write_text(json.dumps({"caps": caps}))
    return home


def _cli(home: Path, *argv: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_KEY", "_TOKEN"))}
    env.update({"FLEXSTUDIO_HOME": str(home), "KIE_API_KEY": KIE_KEY, "BFL_API_KEY": BFL_KEY})
    return subprocess.run([*EXE, *argv], env=env, capture_output=True, text=True, timeout=120)


def _png(tmp_path: Path, name: str = "a.png") -> Path:
    p = tmp_path / name
    p.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (64, 64), (20, 90, 200)).save(p)
    return p


def _jobs(home: Path) -> int:
    db = home / "data" / "history.sqlite3"
    if not db.exists():
        return 0
    con = sqlite3.connect(db)
    try:
        return con.execute("SELECT COUNT(*) FROM jobs").fetchone()[0]
    finally:
        con.close()


@pytest.mark.parametrize("cap", ["session_stop", "day_stop", "month_stop"])
def test_an_unknown_price_is_refused_while_a_stop_limit_is_set(tmp_path: Path, kie, cap: str) -> None:
    home = _home(tmp_path, {cap: 0.01})
    argv = ("--provider", "kie", "--base-url", kie.base_url)
    r = _cli(home, "edit", "-p", "make it blue", "-i", str(_png(tmp_path)), *argv, "-o", str(tmp_path / "o/"))
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert "Traceback" not in r.stderr and r.stdout == ""
    (line,) = r.stderr.strip().splitlines()
    assert "price of this edit is unknown (Kie bills in credits)" in line and "$0.01" in line
    assert "nothing was sent" in line and line.count(". ") == 0  # one sentence
    j = _cli(home, "edit", "-p", "make it blue", "-i", str(_png(tmp_path)), *argv, "--json")
    assert j.returncode == 2 and json.loads(j.stdout)["error"]["kind"] == "bad_input"

    src = tmp_path / "in"
    for i in range(3):
        _png(src, f"i{i}.png")
    b = _cli(
        home, "batch", "-p", "make it blue", "--input", str(src), *argv, "-o", str(tmp_path / "b"), "--yes"
    )
    assert b.returncode == 2, (b.stdout, b.stderr)
    assert "price of this edit is unknown (Kie bills in credits)" in b.stderr
    assert kie.requests == [] and _jobs(home) == 0  # nothing sent, nothing recorded
    assert not (tmp_path / "b").exists()


def test_a_kie_batch_without_limits_says_its_spend_is_unknown_not_zero(tmp_path: Path, kie) -> None:
    home = _home(tmp_path, None)
    src = tmp_path / "in"
    for i in range(2):
        _png(src, f"i{i}.png")
    argv = ("--provider", "kie", "--base-url", kie.base_url)
    b = _cli(
        home, "batch", "-p", "make it blue", "--input", str(src), *argv, "-o", str(tmp_path / "b"), "--yes"
    )
    assert b.returncode == 0, (b.stdout, b.stderr)
    summary = [ln for ln in b.stderr.splitlines() if ln.startswith("Batch ") and "succeeded" in ln]
    assert summary and "spent: unknown (Kie bills in credits)" in summary[-1], b.stderr
    assert "$0.0000" not in summary[-1]
    assert kie.created == 2


def test_crossing_the_warning_level_prints_one_warning_line(tmp_path: Path, bfl) -> None:
    home = _home(tmp_path, {"session_warn": 0.05})
    argv = ("--provider", "bfl", "--base-url", bfl.url, "--json")
    r = _cli(home, "edit", "-p", "one", "-i", str(_png(tmp_path)), *argv)
    assert r.returncode == 0, (r.stdout, r.stderr)
    assert json.loads(r.stdout)["status"] == "succeeded"  # stdout stays the contract's JSON
    warnings = [ln for ln in r.stderr.splitlines() if ln.startswith("warning:")]
    assert len(warnings) == 1 and "warning level $0.05" in warnings[0], r.stderr

    quiet = _home(tmp_path / "q", {"session_warn": 5.0})
    q = _cli(quiet, "edit", "-p", "one", "-i", str(_png(tmp_path)), *argv)
    assert q.returncode == 0 and "warning:" not in q.stderr


def test_a_damaged_settings_file_refuses_paid_work_until_it_is_valid_again(tmp_path: Path, bfl) -> None:
    """The limit and the endpoint vanished with the damaged file: the next paid edit is refused (exit 2,
    one sentence naming the moved file, nothing sent), the sandbox still runs, and once a valid settings
    file is back the paid edit runs."""
    home = _home(tmp_path, {"day_stop": 0.15})
    settings = home / "config" / "settings.json"
    settings.write_text('{"caps": {"day_stop": 0.15}, "base_urls": {"bfl": "' + bfl.url + '"')  # cut off
    png = str(_png(tmp_path))
    r = _cli(home, "edit", "-p", "four", "-i", png, "--provider", "bfl", "--base-url", bfl.url)
    assert r.returncode == 2, (r.stdout, r.stderr)
    (line,) = r.stderr.strip().splitlines()
    assert "Traceback" not in line and str(home / "config" / "settings.broken.json") in line
    assert "spending limits" in line and "nothing was sent" in line and line.count(". ") == 0
    assert bfl.requests == [] and _jobs(home) == 0
    argv = ("--provider", "bfl", "--base-url", bfl.url, "-o", str(tmp_path / "b"), "--yes")
    b = _cli(home, "batch", "-p", "four", "--input", png, *argv)
    assert b.returncode == 2 and "settings.broken.json" in b.stderr and bfl.requests == []
    sandbox = _cli(home, "edit", "-p", "four", "-i", png)
    assert sandbox.returncode == 0, (sandbox.stdout, sandbox.stderr)

    settings.write_text(json.dumps({"caps": {"day_stop": 0.15}}))  # repaired
    ok = _cli(home, "edit", "-p", "four", "-i", png, "--provider", "bfl", "--base-url", bfl.url)
    assert ok.returncode == 0, (ok.stdout, ok.stderr)
