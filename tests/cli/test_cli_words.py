"""The command line speaks to a person: every command, subcommand, option and argument has a help text;
the usage lines say what is required; ``history show`` and ``info`` print words, not Python values or
field names."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

from PIL import Image

from flexstudio.cli.args import build_parser

EXE = [sys.executable, "-m", "flexstudio"]


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*EXE, *args], capture_output=True, text=True, timeout=90, env={**os.environ})


def _parsers(parser: argparse.ArgumentParser, path: str = "flexstudio"):
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            helps = {a.dest: a.help for a in action._choices_actions}
            for name, sub in action.choices.items():
                assert helps.get(name), f"'{path} {name}' has no help line in '{path} --help'"
                yield from _parsers(sub, f"{path} {name}")


def test_every_command_option_and_argument_has_a_help_text():
    seen = []
    for path, parser in _parsers(build_parser()):
        seen.append(path)
        for action in parser._actions:
            if isinstance(action, argparse._HelpAction | argparse._SubParsersAction):
                continue
            name = "/".join(action.option_strings) or action.dest
            assert action.help and action.help != argparse.SUPPRESS, f"{path}: {name} has no help"
    assert {"flexstudio keys delete", "flexstudio presets export", "flexstudio info"} <= set(seen)


def test_usage_lines_say_what_each_command_needs():
    batch = cli("batch", "--help").stdout
    assert "flexstudio batch (-p PROMPT | --preset NAME|FILE) --input DIR|GLOB|FILE" in batch
    assert "-o DIR" in batch.splitlines()[0] and "flexstudio batch --resume ID" in batch
    compare = " ".join(cli("compare", "--help").stdout.split())
    assert "give two or more different ones" in compare and "sandbox (default)" not in compare
    assert "repeat for several; default sandbox" in " ".join(cli("quote", "--help").stdout.split())


def test_history_show_and_info_print_words_not_python_values(tmp_path):
    src = tmp_path / "a.png"
    Image.new("RGB", (64, 48), (200, 40, 40)).save(src)
    out = tmp_path / "x.png"
    r = cli("edit", "-p", "make it blue", "-i", str(src), "--seed", "7", "-o", str(out), "--json")
    assert r.returncode == 0, r.stderr
    job = json.loads(r.stdout)["job_id"]
    show = cli("history", "show", job)
    assert show.returncode == 0, show.stderr
    text = show.stdout
    for internal in ("None", "False", "True", "{", "state_message", "submits", "_id:", "_usd"):
        assert internal not in text, (internal, text)
    lines = text.splitlines()
    assert lines[0] == f"job {job}: succeeded on Sandbox"
    assert "prompt: make it blue" in lines and "image 1: a.png (64×48)" in lines
    assert any(ln.startswith("settings: 50 steps · guidance 5 · seed 7 · size auto · PNG") for ln in lines)
    info = cli("info", str(out)).stdout
    assert "format: PNG" in info and "prompt upsampling: on" in info and "safety tolerance: 2" in info
    assert "output_format" not in info and "prompt_upsampling" not in info
    # without -o the result is only in the history: the note on stderr says how to get it out
    bare = cli("edit", "-p", "make it blue", "-i", str(src))
    assert bare.returncode == 0 and "/blobs/" in bare.stdout
    assert "flexstudio history export" in bare.stderr and "-o DIR" in bare.stderr


def test_a_preset_given_as_a_file_that_is_not_one_says_so(tmp_path):
    src = tmp_path / "a1111.png"
    Image.new("RGB", (8, 8)).save(src)
    r = cli("edit", "-p", "x", "--preset", str(src))
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.strip() == (
        f"flexstudio: {src} is not a preset: a preset file is a FlexStudio .json file (an image's settings "
        "are read with 'flexstudio info', or by dropping it on the window)."
    )
    assert "No preset named" in cli("edit", "-p", "x", "--preset", "no such preset").stderr
    assert json.loads(cli("history", "list", "--json").stdout)["jobs"] == []
