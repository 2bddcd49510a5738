"""A generated corpus of awkward and hostile files through the command line: each bad file gets one
clear message and exit 2 with nothing sent; each awkward-but-valid file goes all the way through an
edit on the sandbox. Plus symlinks, folders and unreadable files."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from flexstudio.cli import main
from tests.corpus import CORPUS, write_corpus

BAD = sorted(n for n, c in CORPUS.items() if c.expected == "bad_input")
GOOD = sorted(n for n, c in CORPUS.items() if c.expected == "ok")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> dict[str, Path]:
    return write_corpus(tmp_path_factory.mktemp("corpus"))


def _run(capsys, *args: str) -> tuple[int, str, str]:
    rc = main(list(args))
    out, err = capsys.readouterr()
    return rc, out, err


def _history(capsys) -> list:
    rc, out, _ = _run(capsys, "history", "list", "--json")
    assert rc == 0
    return json.loads(out)["jobs"]


@pytest.mark.parametrize("name", BAD)
def test_bad_files_are_refused_with_one_clear_line(capsys, corpus, name):
    if name not in corpus:
        pytest.skip(CORPUS[name].unavailable() or "not available")
    path = corpus[name]
    rc, out, err = _run(capsys, "edit", "-p", "use it", "-i", str(path))
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert rc == 2, (out, err)
    assert len(lines) == 1 and lines[0].startswith("flexstudio: "), err
    assert path.name in lines[0] or "image" in lines[0].lower()
    assert "Traceback" not in err
    assert _history(capsys) == []  # nothing was queued, nothing was sent


@pytest.mark.parametrize("name", GOOD)
def test_awkward_but_valid_files_go_through_an_edit(capsys, corpus, name, tmp_path):
    if name not in corpus:
        pytest.skip(CORPUS[name].unavailable() or "not available")
    rc, out, err = _run(
        capsys,
        "edit",
        "-p",
        "use image 1",
        "-i",
        str(corpus[name]),
        "--seed",
        "1",
        "--size",
        "256x256",
        "--json",
        "-o",
        str(tmp_path),
    )
    assert rc == 0, err
    assert json.loads(out)["status"] == "succeeded"


def test_symlinks_folders_and_unreadable_files(capsys, corpus, tmp_path):
    good = corpus["png"]
    link = tmp_path / "link.png"
    link.symlink_to(good)
    rc, _out, err = _run(capsys, "edit", "-p", "x", "-i", str(link), "--size", "128x128", "--json")
    assert rc == 0, err  # a link to a good image is a good image
    dangling = tmp_path / "dangling.png"
    dangling.symlink_to(tmp_path / "gone.png")
    loop = tmp_path / "loop.png"
    loop.symlink_to(loop)
    for bad in (dangling, loop, tmp_path):
        rc, _, err = _run(capsys, "edit", "-p", "x", "-i", str(bad))
        assert rc == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err, err


def test_unreadable_file(capsys, corpus, tmp_path):
    good = corpus["png"]
    locked = tmp_path / "locked.png"
    locked.write_bytes(good.read_bytes())
    locked.chmod(0)
    try:
        if os.access(locked, os.R_OK):
            pytest.skip("running as root: file permissions do not stop reading here")
        rc, _, err = _run(capsys, "edit", "-p", "x", "-i", str(locked))
        assert rc == 2 and "permission denied" in err
    finally:
        locked.chmod(0o600)
