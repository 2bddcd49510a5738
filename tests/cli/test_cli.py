"""The command line as a user runs it: a real process, JSON on stdout, exit codes, history, resume."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

EXE = [sys.executable, "-m", "flexstudio"]


def cli(*args: str, input: str | None = None, env: dict | None = None, timeout: float = 90):
    return subprocess.run(
        [*EXE, *args],
        capture_output=True,
        text=True,
        input=input,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def _img(path: Path, size=(1024, 1024), color=(200, 40, 40), fmt=None) -> Path:
    Image.new("RGB", size, color).save(path, fmt)
    return path


@pytest.fixture
def refs(tmp_path):
    return _img(tmp_path / "a.jpg", (640, 480)), _img(tmp_path / "b.png", (300, 300), (20, 90, 200))


def test_edit_on_the_sandbox_prints_json_writes_the_image_and_is_reproducible(tmp_path, refs):
    a, b = refs
    args = [
        "edit",
        "--provider",
        "sandbox",
        "-i",
        str(a),
        "-i",
        str(b),
        "-p",
        "Put image 2 on the wall of image 1",
        "--seed",
        "7",
        "--json",
    ]
    r1 = cli(*args, "-o", str(tmp_path / "out1"))
    assert r1.returncode == 0, r1.stderr
    obj = json.loads(r1.stdout)
    assert set(obj) == {
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
    assert obj["status"] == "succeeded" and obj["error"] is None and obj["seed"] == 7
    assert obj["provider"] == "sandbox" and obj["quote_usd"] == 0
    out = Path(obj["outputs"][0])
    assert out.parent == tmp_path / "out1"
    with Image.open(out) as im:
        im.load()
        assert im.size == (640, 480)  # auto size: image 1's
        assert im.format == "JPEG"

    hist = json.loads(cli("history", "list", "--json").stdout)["jobs"]
    assert [j["job_id"] for j in hist] == [obj["job_id"]]
    job = hist[0]
    assert job["status"] == "succeeded" and job["request"]["prompt"].startswith("Put image 2")
    assert [r["name"] for r in job["request"]["references"]] == ["a.jpg", "b.png"]
    assert job["quote"]["usd"] == 0 and job["outputs"]

    r2 = cli(*args, "-o", str(tmp_path / "out2"))
    assert r2.returncode == 0, r2.stderr
    out2 = Path(json.loads(r2.stdout)["outputs"][0])
    # Same inputs, same seed: the same image bytes (metadata names the job, so compare pixels + stored blob)
    stored = [
        Path(p) for j in json.loads(cli("history", "list", "--json").stdout)["jobs"] for p in j["outputs"]
    ]
    assert stored[0].read_bytes() == stored[1].read_bytes()
    with Image.open(out) as x, Image.open(out2) as y:
        assert x.tobytes() == y.tobytes()


def test_quote_prints_the_worked_example_prices(tmp_path):
    a = _img(tmp_path / "a.png")
    b = _img(tmp_path / "b.png")
    r = cli(
        "quote",
        "--provider",
        "fal",
        "--provider",
        "bfl",
        "--provider",
        "replicate",
        "-i",
        str(a),
        "-i",
        str(b),
        "--size",
        "1024x1024",
        "--json",
    )
    assert r.returncode == 0, r.stderr
    quotes = {q["provider"]: q for q in json.loads(r.stdout)["quotes"]}
    assert {p: q["usd"] for p, q in quotes.items()} == {"fal": 0.15, "bfl": 0.15, "replicate": 0.18}
    items = [(i["item"], i["megapixels"], i["usd"]) for i in quotes["fal"]["breakdown"]]
    assert items == [("output", 1, 0.05), ("image 1", 1, 0.05), ("image 2", 1, 0.05)]
    assert quotes["replicate"]["breakdown"][0]["usd"] == 0.06


@pytest.mark.parametrize("json_out", [False, True])
def test_quote_of_an_edit_that_cannot_be_sent_exits_2_and_prices_nothing(tmp_path, json_out):
    """9 references on BFL (it takes 8): edit refuses it, so quote does too — no price, one sentence."""
    images = [str(_img(tmp_path / f"{n}.png", (64, 64), (20 * n, 0, 0))) for n in range(9)]
    args = ["quote", "-p", "x", *(a for i in images for a in ("-i", i)), "--provider", "fal"]
    args += ["--provider", "bfl"] + (["--json"] if json_out else [])
    r = cli(*args)
    assert r.returncode == 2, (r.stdout, r.stderr)
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert lines == [
        "flexstudio: This edit cannot be sent, so it has no price: BFL takes at most 8 reference images "
        "(got 9)."
    ]
    assert "$" not in r.stdout
    if json_out:
        obj = json.loads(r.stdout)
        assert obj["quotes"] == [] and obj["error"]["kind"] == "bad_input"
    else:
        assert r.stdout == ""
    edit = cli("edit", "-p", "x", *(a for i in images for a in ("-i", i)), "--provider", "bfl")
    assert edit.returncode == 2 and "takes at most 8 reference images" in edit.stderr
    ok = cli("quote", "-p", "x", *(a for i in images[:8] for a in ("-i", i)), "--provider", "bfl")
    assert ok.returncode == 0 and ok.stdout.startswith("bfl: $"), ok.stderr


@pytest.mark.parametrize(
    "case", ["missing", "not_image", "too_many", "bad_size", "zero_bytes", "bomb", "safety_6"]
)
def test_bad_input_exits_2_with_one_line_and_sends_nothing(tmp_path, case):
    a = _img(tmp_path / "a.png", (64, 64))
    images = [str(a)]
    extra: list[str] = []
    if case == "missing":
        images = [str(tmp_path / "nope.png")]
    elif case == "not_image":
        (tmp_path / "t.jpg").write_text("hello, I am text")
        images = [str(tmp_path / "t.jpg")]
    elif case == "too_many":
        images = [str(a)] * 9  # the sandbox takes 8
    elif case == "bad_size":
        extra = ["--size", "1000x1000"]
    elif case == "safety_6":
        extra = ["--safety", "6"]  # the help and capabilities say 0–5 (BFL's range)
    elif case == "zero_bytes":
        (tmp_path / "z.png").write_bytes(b"")
        images = [str(tmp_path / "z.png")]
    elif case == "bomb":
        Image.new("1", (30000, 30000)).save(tmp_path / "bomb.png")
        images = [str(tmp_path / "bomb.png")]
    args = ["edit", "-p", "x"]
    for i in images:
        args += ["-i", i]
    r = cli(*args, *extra)
    assert r.returncode == 2, (r.stdout, r.stderr)
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("flexstudio: "), r.stderr
    assert "Traceback" not in r.stderr
    assert json.loads(cli("history", "list", "--json").stdout)["jobs"] == []


def test_a_provider_that_needs_a_key_without_one_exits_2_and_says_how(tmp_path):
    r = cli("edit", "--provider", "fal", "-p", "x", "--json")
    assert r.returncode == 2
    obj = json.loads(r.stdout)
    assert obj["status"] == "failed" and obj["error"]["kind"] == "bad_input"
    assert "flexstudio keys set fal" in r.stderr and "FAL_KEY" in r.stderr


def test_max_cost_refuses_above_the_quote(tmp_path):
    a = _img(tmp_path / "a.png")
    r = cli(
        "edit",
        "--provider",
        "fal",
        "-i",
        str(a),
        "-p",
        "x",
        "--max-cost",
        "0.05",
        env={"FAL_KEY": "k-123456"},
    )
    assert r.returncode == 2 and "above --max-cost" in r.stderr


def test_kill_during_an_edit_then_resume_finishes_it(home, tmp_path):
    a = _img(tmp_path / "a.png", (256, 256))
    env = {**os.environ, "FLEXSTUDIO_SANDBOX_LATENCY": "2", "FLEXSTUDIO_PROGRESS": "1"}
    with subprocess.Popen(
        [*EXE, "edit", "-i", str(a), "-p", "slow one", "--seed", "1"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:
        try:
            for line in proc.stderr:  # progress lines: wait (without sleeping) until the job is running
                if "] running" in line:
                    break
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(30)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert proc.returncode == -signal.SIGKILL
    jobs = json.loads(cli("history", "list", "--json").stdout)["jobs"]
    assert len(jobs) == 1 and jobs[0]["status"] == "running"  # never missing

    r = cli("resume", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["jobs"] == [{"job_id": jobs[0]["job_id"], "status": "succeeded"}]
    db = sqlite3.connect(home / "data" / "history.sqlite3")
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    db.close()
    shown = json.loads(cli("history", "show", jobs[0]["job_id"], "--json").stdout)
    assert shown["status"] == "succeeded" and Path(shown["outputs"][0]).exists()


def test_history_export_embeds_the_recipe(tmp_path, refs):
    a, _ = refs
    r = cli("edit", "-i", str(a), "-p", "recipe test", "--seed", "11", "--format", "png", "--json")
    job = json.loads(r.stdout)["job_id"]
    e = cli("history", "export", job, str(tmp_path / "exp"), "--json")
    assert e.returncode == 0, e.stderr
    path = Path(json.loads(e.stdout)["files"][0])
    with Image.open(path) as im:
        params = im.info["parameters"]
        recipe = json.loads(im.info["flexstudio"])
    assert params.startswith("recipe test\n") and "Seed: 11" in params and "Steps: 50" in params
    assert recipe["request"]["seed"] == 11 and recipe["job_id"] == job


def test_providers_lists_the_sandbox_as_a_simulator_without_keys():
    r = cli("providers", "--json")
    assert r.returncode == 0, r.stderr
    rows = {p["id"]: p for p in json.loads(r.stdout)["providers"]}
    sb = rows["sandbox"]
    assert sb["simulator"] is True and sb["needs_key"] is False and sb["price"]["rule"] == "free"
    assert sb["capabilities"]["max_references"] == 8


def test_keys_without_a_keyring_backend_refuse_clearly_and_write_nothing(home):
    r = cli(
        "keys",
        "set",
        "fal",
        input="fal_secret_never_on_disk\n",
        env={"PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"},
    )
    assert r.returncode == 2 and "keyring" in r.stderr.lower() and "Traceback" not in r.stderr
    for p in home.rglob("*"):
        if p.is_file():
            assert b"fal_secret_never_on_disk" not in p.read_bytes()


def test_presets_list_show_export_import(tmp_path):
    r = cli("presets", "list", "--json")
    names = [p["name"] for p in json.loads(r.stdout)["presets"]]
    assert {"Fast draft", "Final", "Typography", "Photo retouch"} <= set(names)
    shown = json.loads(cli("presets", "show", "Fast draft", "--json").stdout)
    assert shown["settings"]["steps"] == 28 and shown["settings"]["guidance"] == 3.5
    out = tmp_path / "p.json"
    assert cli("presets", "export", "Fast draft", str(out)).returncode == 0
    data = json.loads(out.read_text())
    data["name"] = "My draft"
    out.write_text(json.dumps(data))
    assert cli("presets", "import", str(out)).returncode == 0
    assert "My draft" in [p["name"] for p in json.loads(cli("presets", "list", "--json").stdout)["presets"]]
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    r = cli("presets", "import", str(bad))
    assert r.returncode == 2 and "not a FlexStudio preset" in r.stderr


def test_preset_applies_to_an_edit(tmp_path):
    r = cli("edit", "-p", "draft it", "--preset", "Fast draft", "--seed", "3", "--json")
    assert r.returncode == 0, r.stderr
    job = json.loads(cli("history", "show", json.loads(r.stdout)["job_id"], "--json").stdout)
    assert job["request"]["steps"] == 28 and job["request"]["guidance"] == 3.5 and job["request"]["seed"] == 3


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="X11/Wayland displays are a Linux matter")
def test_bare_flexstudio_without_a_display_says_so_in_one_sentence_and_exits_2():
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    r = subprocess.run(EXE, capture_output=True, text=True, timeout=90, env=env)
    assert r.returncode == 2, (r.returncode, r.stderr[-400:])
    assert r.stderr.strip().splitlines() == [
        "flexstudio: No display: the window needs a desktop session (DISPLAY or WAYLAND_DISPLAY is not "
        "set); use the command line instead: flexstudio --help."
    ]


def _unused_display() -> str:
    n = next(n for n in range(917, 999) if not Path(f"/tmp/.X11-unix/X{n}").exists())
    return f":{n}"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="X11/Wayland displays are a Linux matter")
@pytest.mark.parametrize("how", ["stale DISPLAY", "xcb forced, no DISPLAY"])
def test_a_display_that_cannot_be_opened_is_one_sentence_and_exit_2_not_an_abort(how):
    """A stale DISPLAY (a closed ssh -X or VNC session) or QT_QPA_PLATFORM=xcb without one: Qt would abort
    the process (exit 134) with its platform-plugin dump and "Reinstalling the application may fix this"."""
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    display = _unused_display()
    env.update({"DISPLAY": display} if how == "stale DISPLAY" else {"QT_QPA_PLATFORM": "xcb"})
    r = subprocess.run(EXE, capture_output=True, text=True, timeout=90, env=env)
    assert r.returncode == 2, (r.returncode, r.stderr[-600:])
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "Reinstalling" not in r.stderr and "qt.qpa" not in r.stderr, r.stderr
    if how == "stale DISPLAY":
        assert lines[0] == (
            f"flexstudio: Cannot open the display {display}; check DISPLAY, or use the command line: "
            "flexstudio --help."
        )
    else:
        assert lines[0].startswith("flexstudio: No display:")


def test_an_edit_with_o_that_ends_unfinished_is_written_there_by_resume(home, tmp_path):
    a = _img(tmp_path / "a.png", (256, 256))
    out = tmp_path / "rout"
    env = {**os.environ, "FLEXSTUDIO_SANDBOX_LATENCY": "2", "FLEXSTUDIO_PROGRESS": "1"}
    with subprocess.Popen(
        [*EXE, "edit", "-i", str(a), "-p", "resume out test", "-o", f"{out}/"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:
        try:
            for line in proc.stderr:  # wait (without sleeping) until the provider has the job
                if "] running" in line:
                    break
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(30)
        finally:
            if proc.poll() is None:
                proc.kill()
    job = json.loads(cli("history", "list", "--json").stdout)["jobs"][0]["job_id"]
    out.mkdir(exist_ok=True)
    mine = out / f"flexstudio-{job}.jpg"  # a file of the user's with the name the edit would have used
    mine.write_bytes(b"not to be overwritten")

    r = cli("resume", env={"FLEXSTUDIO_SANDBOX_LATENCY": "2"})
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == f"{job}: succeeded"
    written = Path(lines[1].strip())
    assert written.parent == out and written != mine and written.name.startswith(f"flexstudio-{job}")
    with Image.open(written) as im:
        assert im.size == (256, 256)
    assert mine.read_bytes() == b"not to be overwritten"
    assert sorted(out.iterdir()) == sorted([mine, written])


@pytest.mark.parametrize(
    "args,shape",
    [
        (["edit", "-p", "x", "--json", "--steps", "abc"], "job_id"),  # an argument error
        (["quote", "--json", "--nope"], "quotes"),
        (["info", "--json", "/nonexistent/missing.png"], "source"),  # a command's own bad input
        (["history", "show", "nope-such-job", "--json"], "error"),
    ],
)
def test_every_error_honours_json_with_one_object_on_stdout(args, shape):
    r = cli(*args)
    assert r.returncode in (1, 2), (r.returncode, r.stderr)
    obj = json.loads(r.stdout)
    assert shape in obj and obj["error"]["message"] and obj["error"]["kind"]
    assert "Traceback" not in r.stderr


def test_o_with_an_extension_picks_the_format_or_is_refused(tmp_path):
    a = _img(tmp_path / "a.png", (64, 64))
    r = cli("edit", "-p", "x", "-i", str(a), "-o", str(tmp_path / "x.png"), "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["outputs"] == [str(tmp_path / "x.png")]
    with Image.open(tmp_path / "x.png") as im:
        assert im.format == "PNG"
    assert not (tmp_path / "x.jpg").exists()
    for bad in (["-o", str(tmp_path / "y.png"), "--format", "jpeg"], ["-o", str(tmp_path / "y.tif")]):
        r = cli("edit", "-p", "x", "-i", str(a), *bad)
        assert r.returncode == 2 and r.stderr.startswith("flexstudio: -o "), r.stderr
        assert not list(tmp_path.glob("y.*"))
    assert len(json.loads(cli("history", "list", "--json").stdout)["jobs"]) == 1


def test_compare_with_one_provider_twice_asks_for_two_different_ones():
    r = cli("compare", "-p", "x", "--provider", "sandbox", "--provider", "sandbox")
    assert r.returncode == 2
    assert "two different providers" in r.stderr and "got sandbox 2 times" in r.stderr, r.stderr


def test_keys_without_a_keyring_say_the_key_was_not_saved_and_name_the_variable():
    """No system keyring: `keys set` does not pretend to keep the key "for this session" (the command's
    session ends at once); it says the key was not saved, names the provider's variable, exit 2."""
    env = {"PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}
    r = cli("keys", "set", "bfl", input="bfl_abcdef0123456789\n", env=env)
    assert r.returncode == 2, r.stderr
    assert r.stderr.strip() == (
        "flexstudio: No system keyring is available, so the key was not saved; set BFL_API_KEY in the "
        "environment, or install a Secret Service (for example gnome-keyring)."
    )
    assert "session" not in r.stderr and "bfl_abcdef" not in r.stderr + r.stdout
    r = cli("keys", "delete", "fal", env=env)
    assert r.returncode == 2 and "none was deleted" in r.stderr and "FAL_KEY" in r.stderr, r.stderr
    assert "session" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
