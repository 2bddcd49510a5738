"""Hostile input and unlucky machines, through the real command line (one process per case).

Every case ends in its documented exit code with one clear ``flexstudio:`` sentence, never a Python
traceback; no key shows up in any output, file or database; refused input leaves no history row; and
the local BFL emulator counts every request, so "nothing was sent" is measured, not assumed."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tests.corpus import CORPUS, write_corpus
from tests.emulators.base import Delivery, Reply, Req, json_reply
from tests.emulators.bfl import BflEmulator

EXE = [sys.executable, "-m", "flexstudio"]
KEY = "bfl_FAKEKEY_h0st1le42"
MARK = "FAKEKEY"  # any key of these tests contains it: searched for in every output and file
ESC = "\x1b]0;owned\x07\x1b[2J\x9b31m\u202e"
KEY_VARS = (
    "BFL_API_KEY",
    "FAL_KEY",
    "REPLICATE_API_TOKEN",
    "LUMENFALL_API_KEY",
    "OPENAI_API_KEY",
    "COMETAPI_KEY",
    "KIE_API_KEY",
    "RUNAPI_KEY",
    "FAIRSTACK_API_KEY",
)


class NastyBfl(BflEmulator):
    """A BFL emulator whose refusals carry terminal escape sequences in their text."""

    nasty = False

    def handle(self, req: Req) -> Reply:
        if self.nasty and req.method == "POST":
            return json_reply({"detail": f"Bad prompt{ESC} please retry"}, 400)
        return super().handle(req)


@pytest.fixture(scope="module")
def emu():
    delivery = Delivery().start()
    e = NastyBfl(delivery, key=KEY).start()
    yield e
    e.stop()
    delivery.stop()


@dataclass
class Ctx:
    tmp: Path
    home: Path
    emu: NastyBfl
    png: Path
    corpus: dict[str, Path] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.emu.url

    def db(self) -> Path:
        return self.home / "data" / "history.sqlite3"

    def file(self, name: str, data: bytes | str) -> Path:
        p = self.tmp / name
        p.write_bytes(data.encode() if isinstance(data, str) else data)
        return p

    def seed_history(self, n: int = 2) -> list[str]:
        ids = []
        for i in range(n):
            r = run(self, ["edit", "-p", f"seed job {i}", "--size", "64x64", "--json"])
            assert r.returncode == 0, r.stderr
            ids.append(json.loads(r.stdout)["job_id"])
        return ids


def run(
    ctx: Ctx,
    argv: list[str],
    *,
    env: dict[str, str] | None = None,
    stdin: str | None = None,
    preexec: Callable[[], None] | None = None,
    timeout: float = 60,
) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k not in KEY_VARS}
    full = {
        **base,
        "FLEXSTUDIO_HOME": str(ctx.home),
        "FLEXSTUDIO_SANDBOX_LATENCY": "0",
        "BFL_API_KEY": KEY,
        "PYTHONIOENCODING": "utf-8",
        **(env or {}),
    }
    return subprocess.run(
        [*EXE, *argv],
        capture_output=True,
        text=True,
        input=stdin,
        timeout=timeout,
        env=full,
        preexec_fn=preexec,
        encoding="utf-8",
        errors="replace",
    )


def rows(ctx: Ctx) -> int:
    db = ctx.db()
    if not db.exists():
        return 0
    con = sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True)
    try:
        return int(con.execute("SELECT count(*) FROM jobs").fetchone()[0])
    except sqlite3.DatabaseError:
        return -1
    finally:
        con.close()


def bfl(*extra: str) -> list[str]:
    return ["edit", "--provider", "bfl", "-p", "make it blue", "--size", "64x64", *extra]


@dataclass(frozen=True)
class Case:
    name: str
    argv: Callable[[Ctx], list[str]]
    rc: int = 2
    says: str = ""  # a phrase the one sentence contains (lower case)
    env: dict[str, str] = field(default_factory=dict)
    stdin: str | None = None
    setup: Callable[[Ctx], Any] | None = None
    rows_after: int | None = 0  # history rows afterwards (None: not checked)
    sends: int = 0  # requests the emulator may see
    one_line: bool = True
    check: Callable[[Ctx, subprocess.CompletedProcess], None] | None = None


def _deep_preset(ctx: Ctx) -> list[str]:
    return [
        "presets",
        "import",
        str(ctx.file("deep.json", '{"name": "x", "settings": ' + "[" * 20_000 + "]" * 20_000 + "}")),
    ]


def _preset(ctx: Ctx, body: str, name: str = "p.json") -> str:
    return str(ctx.file(name, body))


def _big_preset(ctx: Ctx) -> list[str]:
    p = ctx.tmp / "big.json"
    with p.open("wb") as f:
        f.truncate(50 * 1024 * 1024)  # 50 MB (sparse): refused from its size, never read
    return ["presets", "import", str(p)]


def _fifo(ctx: Ctx) -> list[str]:
    p = ctx.tmp / "pipe.png"
    os.mkfifo(p)
    return bfl("-i", str(p))


def _corrupt(ctx: Ctx) -> None:
    ctx.seed_history(1)
    for suffix in ("-wal", "-shm"):
        Path(str(ctx.db()) + suffix).unlink(missing_ok=True)
    ctx.db().write_bytes(b"this is not a database, it is a shopping list\n" * 200)


def _truncated(ctx: Ctx) -> None:
    ctx.seed_history(3)
    data = ctx.db().read_bytes()
    ctx.db().write_bytes(data[: len(data) // 3])


def _bad_row(ctx: Ctx) -> None:
    ids = ctx.seed_history(2)
    con = sqlite3.connect(ctx.db())
    con.execute("UPDATE jobs SET request_json='{not json' WHERE id=?", (ids[0],))
    con.commit()
    con.close()
    ctx.emu.state["bad_row"] = ids


def _check_bad_row(ctx: Ctx, r: subprocess.CompletedProcess) -> None:
    bad, good = ctx.emu.state["bad_row"]
    assert good in r.stdout and bad not in r.stdout
    assert f"skipped ({bad})" in r.stderr


def _export_setup(ctx: Ctx) -> None:
    ctx.emu.state["export_job"] = ctx.seed_history(1)[0]
    ctx.file("existing.txt", "keep me")


def _check_kept(ctx: Ctx, r: subprocess.CompletedProcess) -> None:
    assert (ctx.tmp / "existing.txt").read_text() == "keep me"


def _export_twice(ctx: Ctx) -> list[str]:
    job = ctx.emu.state["export_job"]
    first = run(ctx, ["history", "export", job, str(ctx.tmp / "out")])
    assert first.returncode == 0, first.stderr
    ctx.emu.state["first_export"] = first.stdout.strip()
    return ["history", "export", job, str(ctx.tmp / "out")]


def _check_free_name(ctx: Ctx, r: subprocess.CompletedProcess) -> None:
    first = Path(ctx.emu.state["first_export"])
    second = Path(r.stdout.strip())
    assert first.exists() and second.exists() and first != second
    assert str(second) in r.stderr  # it says which name it picked


def _delete_blob(ctx: Ctx) -> None:
    job = ctx.seed_history(1)[0]
    ctx.emu.state["export_job"] = job
    for p in (ctx.home / "data" / "blobs").rglob("*.*"):
        p.unlink()


def _check_show_missing(ctx: Ctx, r: subprocess.CompletedProcess) -> None:
    show = run(ctx, ["history", "show", ctx.emu.state["export_job"]])
    assert show.returncode == 0 and "missing from the history folder" in show.stderr, show.stderr


def _nasty_on(ctx: Ctx) -> None:
    ctx.emu.nasty = True


def _settings_nan(ctx: Ctx) -> None:
    (ctx.home / "config").mkdir(parents=True, exist_ok=True)
    (ctx.home / "config" / "settings.json").write_text('{"caps": {"day_stop": NaN}}')


def _no_raw_escapes(ctx: Ctx, r: subprocess.CompletedProcess) -> None:
    for text in (r.stdout, r.stderr):
        assert "\x1b" not in text and "\x07" not in text and "\x9b" not in text and "\u202e" not in text


def _check_escape_failure(ctx: Ctx, r: subprocess.CompletedProcess) -> None:
    ctx.emu.nasty = False
    _no_raw_escapes(ctx, r)
    assert "\\x1b" in r.stdout  # shown, harmlessly


CASES = [
    # keys — never sent, never stored, never echoed
    Case("key_with_crlf", lambda c: bfl(), env={"BFL_API_KEY": KEY + "\r\nX-Injected: 1"}, says="line break"),
    Case("key_non_ascii", lambda c: bfl(), env={"BFL_API_KEY": KEY + "é"}, says="printable ascii"),
    Case("key_whitespace_only", lambda c: bfl(), env={"BFL_API_KEY": "   \t "}, says="empty"),
    Case("key_space_inside", lambda c: bfl(), env={"BFL_API_KEY": "bfl_FAKEKEY one two"}, says="space"),
    Case(
        "keys_set_crlf_on_stdin",
        lambda c: ["keys", "set", "bfl"],
        stdin=KEY + "\r\nrest\n",
        says="line break",
    ),
    Case(
        "keys_set_non_ascii",
        lambda c: ["keys", "set", "bfl"],
        stdin="bfl_FAKEKEY_ключ\n",
        says="printable ascii",
    ),
    # money and time
    Case("max_cost_nan", lambda c: bfl("--base-url", c.url, "--max-cost", "nan"), says="finite"),
    Case("max_cost_inf", lambda c: bfl("--base-url", c.url, "--max-cost", "inf"), says="finite"),
    Case("max_cost_negative", lambda c: bfl("--base-url", c.url, "--max-cost", "-1"), says="at least $0"),
    Case("max_cost_not_a_number", lambda c: bfl("--max-cost", "ten"), says="invalid float"),
    Case("timeout_nan", lambda c: bfl("--base-url", c.url, "--timeout", "nan"), says="finite"),
    Case("settings_cap_nan", lambda c: bfl("--base-url", c.url), setup=_settings_nan, says="settings"),
    # base URLs — the key goes to this host
    Case("base_url_empty", lambda c: bfl("--base-url", ""), says="empty"),
    Case("base_url_file", lambda c: bfl("--base-url", "file:///etc/passwd"), says="https://"),
    Case("base_url_javascript", lambda c: bfl("--base-url", "javascript:alert(1)"), says="https://"),
    Case("base_url_plain_http_remote", lambda c: bfl("--base-url", "http://example.com"), says="unencrypted"),
    Case(
        "base_url_id_empty",
        lambda c: ["compare", "-p", "x", "--provider", "bfl", "--provider", "sandbox", "--base-url", "bfl="],
        says="empty",
    ),
    # local files
    Case("reference_fifo", _fifo, says="pipe"),
    Case("reference_dev_zero", lambda c: bfl("-i", "/dev/zero"), says="device"),
    Case("reference_folder", lambda c: bfl("-i", str(c.tmp)), says="folder"),
    Case("reference_missing", lambda c: bfl("-i", str(c.tmp / "nope.png")), says="no such file"),
    # presets
    Case("preset_deeply_nested", _deep_preset, says="nested"),
    Case(
        "preset_infinity_steps",
        lambda c: ["presets", "import", _preset(c, '{"name": "x", "settings": {"steps": Infinity}}')],
        says="not valid json",
    ),
    Case(
        "preset_infinity_version",
        lambda c: ["presets", "import", _preset(c, '{"name": "x", "flexstudio_preset": Infinity}')],
        says="not valid json",
    ),
    Case(
        "preset_huge_steps",
        lambda c: ["presets", "import", _preset(c, '{"name": "x", "settings": {"steps": 1e400}}')],
        says="whole number",
    ),
    Case(
        "preset_list_for_size",
        lambda c: ["presets", "import", _preset(c, '{"name": "x", "settings": {"size": [1024, 1024]}}')],
        says="must be text",
    ),
    Case(
        "preset_list_for_name", lambda c: ["presets", "import", _preset(c, '{"name": ["x"]}')], says="no name"
    ),
    Case(
        "preset_list_prompt_template",
        lambda c: ["presets", "import", _preset(c, '{"name": "x", "prompt_template": ["{prompt}"]}')],
        says="must be text",
    ),
    Case(
        "preset_bool_steps",
        lambda c: ["presets", "import", _preset(c, '{"name": "x", "settings": {"steps": true}}')],
        says="whole number",
    ),
    Case("preset_50_mb", _big_preset, says="the most flexstudio reads"),
    Case(
        "edit_with_bad_preset_file",
        lambda c: bfl(
            "--base-url", c.url, "--preset", _preset(c, '{"name": "x", "prompt_template": ["{prompt}"]}')
        ),
        says="must be text",
    ),
    # where results go — checked before paying
    Case("out_in_proc", lambda c: bfl("--base-url", c.url, "-o", "/proc/nope/x.jpg"), says="cannot be made"),
    Case(
        "out_under_a_file",
        lambda c: bfl("--base-url", c.url, "-o", str(c.file("f.txt", "x")) + "/x.jpg"),
        says="is a file",
    ),
    # exports
    Case(
        "export_onto_existing_file",
        lambda c: ["history", "export", c.emu.state["export_job"], str(c.tmp / "existing.txt")],
        setup=_export_setup,
        says="is a file",
        rows_after=1,
        check=_check_kept,
    ),
    Case(
        "export_twice_picks_a_free_name",
        _export_twice,
        setup=_export_setup,
        rc=0,
        rows_after=1,
        one_line=False,
        check=_check_free_name,
    ),
    Case(
        "export_missing_image",
        lambda c: ["history", "export", c.emu.state["export_job"], str(c.tmp / "o")],
        setup=_delete_blob,
        says="missing from the history folder",
        rows_after=1,
        check=_check_show_missing,
    ),
    # the terminal
    Case(
        "prompt_with_escapes",
        lambda c: ["edit", "-p", f"blue {ESC}", "--size", "64x64"],
        rc=0,
        rows_after=1,
        one_line=False,
        check=_no_raw_escapes,
    ),
    Case(
        "provider_text_with_escapes",
        lambda c: bfl("--base-url", c.url),
        setup=_nasty_on,
        rc=1,
        rows_after=1,
        sends=1,
        one_line=False,
        check=_check_escape_failure,
    ),
    Case(
        "job_id_with_escapes",
        lambda c: ["history", "show", f"nope{ESC}"],
        says="no job",
        check=_no_raw_escapes,
    ),
    # storage
    Case(
        "history_not_a_database",
        lambda c: ["history", "list"],
        setup=_corrupt,
        says="history.sqlite3",
        rows_after=None,
    ),
    Case(
        "history_not_a_database_edit",
        lambda c: bfl("--base-url", c.url),
        setup=_corrupt,
        says="move it aside",
        rows_after=None,
    ),
    Case(
        "history_truncated",
        lambda c: ["history", "list"],
        setup=_truncated,
        says="cannot be read",
        rows_after=None,
    ),
    Case(
        "history_bad_row",
        lambda c: ["history", "list"],
        setup=_bad_row,
        rc=0,
        rows_after=2,
        one_line=False,
        check=_check_bad_row,
    ),
    Case("bad_usage", lambda c: ["edit"], says="required"),
]
# the image corpus: every bad file, through the real CLI against a paid provider
CASES += [
    Case(f"image_{n}", lambda c, n=n: bfl("--base-url", c.url, "-i", str(c.corpus[n])))
    for n in sorted(k for k, v in CORPUS.items() if v.expected == "bad_input")
]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> dict[str, Path]:
    return write_corpus(tmp_path_factory.mktemp("corpus"))


@pytest.fixture
def ctx(tmp_path, emu, corpus) -> Ctx:
    png = tmp_path / "ref.png"
    Image.new("RGB", (64, 64), (10, 20, 30)).save(png)
    home = tmp_path / "home"
    emu.nasty = False
    return Ctx(tmp=tmp_path, home=home, emu=emu, png=png, corpus=corpus)


def _no_key_anywhere(ctx: Ctx, r: subprocess.CompletedProcess) -> None:
    assert MARK not in r.stdout and MARK not in r.stderr, "a key reached the output"
    for p in ctx.home.rglob("*"):
        if p.is_file():
            assert MARK.encode() not in p.read_bytes(), f"a key was written into {p}"


def _one_sentence(r: subprocess.CompletedProcess) -> list[str]:
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("flexstudio: "), r.stderr
    return lines


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_hostile_case(ctx, case: Case):
    if case.name.startswith("image_") and case.name[6:] not in ctx.corpus:
        pytest.skip(CORPUS[case.name[6:]].unavailable() or "not available")
    if case.setup:
        case.setup(ctx)
    before = len(ctx.emu.requests)
    r = run(ctx, case.argv(ctx), env=case.env, stdin=case.stdin)
    assert r.returncode == case.rc, (r.stdout, r.stderr)
    assert "Traceback" not in r.stdout + r.stderr
    if case.one_line:
        (line,) = _one_sentence(r)
        assert case.says.lower() in line.lower(), line
    assert len(ctx.emu.requests) - before == case.sends, "something was sent"
    if case.rows_after is not None:
        assert rows(ctx) == case.rows_after
    _no_key_anywhere(ctx, r)
    if case.check:
        case.check(ctx, r)


# ---------------------------------------------------------------------- machines
def test_corrupt_history_can_be_moved_aside_by_hand_and_the_next_command_starts_fresh(ctx):
    _corrupt(ctx)
    r = run(ctx, ["history", "list"])
    line = _one_sentence(r)[0]
    mv = line.split("or run: mv ")[1]
    src, dst = (s.strip("'") for s in mv.split("' '"))
    Path(src).rename(dst)
    r = run(ctx, ["edit", "-p", "fresh", "--size", "64x64", "--json"])
    assert r.returncode == 0 and json.loads(r.stdout)["status"] == "succeeded", r.stderr
    assert Path(dst).read_bytes().startswith(b"this is not a database")  # the old file is kept


def test_a_lock_held_by_another_program_names_it(ctx):
    ctx.seed_history(1)
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            (
                "import sqlite3, sys\n"
                f"c = sqlite3.connect({str(ctx.db())!r}, isolation_level=None)\n"
                "c.execute('BEGIN IMMEDIATE')\n"
                "print('held', flush=True)\n"
                "sys.stdin.read()\n"
            ),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        before = rows(ctx)
        r = run(ctx, ["edit", "-p", "x", "--size", "64x64"], env={"FLEXSTUDIO_DB_BUSY_TIMEOUT": "0.3"})
        assert r.returncode == 2 and "Traceback" not in r.stderr
        line = _one_sentence(r)[0]
        assert "locked by process" in line and str(holder.pid) in line, line
        assert rows(ctx) == before
    finally:
        holder.communicate("", timeout=30)
    r = run(ctx, ["history", "list"])
    assert r.returncode == 0, r.stderr


def test_default_busy_timeout_is_at_least_30_seconds():
    from flexstudio.storage import faults

    assert faults.BUSY_TIMEOUT_S >= 30


def _read_only_cmd(home: Path) -> list[str] | None:
    """A command prefix that runs the CLI with ``home`` mounted read-only (a real EROFS, which holds
    even for root), or None where this machine cannot do that."""
    import shutil

    if os.geteuid() != 0 or not shutil.which("unshare"):
        return None
    probe = subprocess.run(
        [
            "unshare",
            "-m",
            "sh",
            "-c",
            f"mount --bind {home} {home} && mount -o remount,bind,ro {home} && ! touch {home}/probe",
        ],
        capture_output=True,
    )
    return (
        [
            "unshare",
            "-m",
            "sh",
            "-c",
            f'mount --bind {home} {home} && mount -o remount,bind,ro {home} && exec "$@"',
            "sh",
        ]
        if probe.returncode == 0
        else None
    )


def test_read_only_home_still_lists_and_refuses_writes_with_a_sentence(ctx):
    ids = ctx.seed_history(1)
    ctx.home.mkdir(exist_ok=True)
    prefix = _read_only_cmd(ctx.home)
    if prefix is None:
        if os.geteuid() == 0:
            pytest.skip("cannot make a read-only mount here, and root ignores file modes")
        for p in [ctx.home, *ctx.home.rglob("*")]:
            p.chmod(0o555 if p.is_dir() else 0o444)
        prefix = []
    env = {k: v for k, v in os.environ.items() if k not in KEY_VARS}
    env.update({"FLEXSTUDIO_HOME": str(ctx.home), "PYTHONIOENCODING": "utf-8"})
    try:
        r = subprocess.run(
            [*prefix, *EXE, "history", "list"], capture_output=True, text=True, env=env, timeout=60
        )
        assert r.returncode == 0 and ids[0] in r.stdout, r.stderr
        r = subprocess.run(
            [*prefix, *EXE, "edit", "-p", "x", "--size", "64x64", "--json"],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        assert r.returncode == 2 and "Traceback" not in r.stderr
        assert "read-only" in _one_sentence(r)[0]
        assert json.loads(r.stdout)["error"]["kind"] == "bad_input"
    finally:
        for p in [ctx.home, *ctx.home.rglob("*")]:
            p.chmod(0o700)
    assert rows(ctx) == 1


def _file_size_limit(limit: int) -> Callable[[], None]:
    def apply() -> None:
        import resource

        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def test_a_full_disk_during_an_edit_leaves_nothing_half_written_and_the_next_command_works(ctx):
    ctx.seed_history(1)
    r = run(
        ctx,
        ["edit", "-p", "big", "--size", "2048x2048", "--format", "png", "--seed", "2", "--json"],
        preexec=_file_size_limit(150_000),
    )  # this 4 MP PNG is about 280 KB
    assert "Traceback" not in r.stdout + r.stderr
    assert r.returncode in (1, 2, 3), (r.stdout, r.stderr)  # failed / refused / interrupted: documented ends
    obj = json.loads(r.stdout)
    assert obj["status"] in ("failed", "interrupted") and obj["error"]["message"], obj
    left = [p for p in ctx.home.rglob("*") if p.name.startswith(".tmp") or p.name.endswith(".tmp")]
    assert not left, f"temp files were left behind: {left}"
    nxt = run(ctx, ["history", "list", "--json"])
    assert nxt.returncode == 0, nxt.stderr
    assert all(j["status"] != "submitting" for j in json.loads(nxt.stdout)["jobs"])


def test_an_unexpected_error_is_logged_and_said_in_one_sentence(tmp_path, capsys, monkeypatch):
    from flexstudio.cli import commands

    logs = tmp_path / "logs"
    monkeypatch.setattr(commands, "_logs_dir", lambda: logs)
    args = type("Args", (), {"command": "providers", "json": False})()
    rc = commands._report(args, ZeroDivisionError("boom"))  # type: ignore[arg-type]
    err = capsys.readouterr().err
    assert rc == 1 and "Traceback" not in err and len(err.strip().splitlines()) == 1
    log = logs / "flexstudio-errors.log"
    assert str(log) in err and "ZeroDivisionError: boom" in log.read_text()
