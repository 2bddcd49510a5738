"""A paid result whose link has expired, through the real command line against the BFL, fal and Replicate
emulators: the provider is asked for the result once more (while it still knows the job it gives the
result again, with a fresh link); when it gives the same expired link the job ends ``failed`` (kind
expired, exit 1) with one sentence that says what was billed and to run it again. The paid submit is
never repeated."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from tests.emulators.base import Delivery, Reply
from tests.emulators.bfl import BflEmulator
from tests.emulators.fal import FalEmulator
from tests.emulators.replicate import ReplicateEmulator
from tests.support import stop_all

EXE = [sys.executable, "-m", "flexstudio"]
RIGS = {
    "bfl": (BflEmulator, "key", "bfl_FAKEKEY_expired1", "BFL_API_KEY", "/v1/flux-2-flex"),
    "fal": (FalEmulator, "key", "falid:FAKEKEY-expired2", "FAL_KEY", "/fal-ai/flux-2-flex"),
    "replicate": (
        ReplicateEmulator,
        "token",
        "r8_FAKEKEY_expired3",
        "REPLICATE_API_TOKEN",
        "/v1/models/",
    ),
}


class FirstLinkExpires(Delivery):
    """The first link handed out answers 403 (a signature that expired); a fresh link works."""

    def handle(self, req):
        parts = req.path.strip("/").split("/")
        if len(parts) >= 2 and parts[0] == "results" and self.once("expire"):
            return Reply(
                403, "<Error><Code>AuthenticationFailed</Code></Error>", content_type="application/xml"
            )
        return super().handle(req)


class FreshLinks(BflEmulator):
    """BFL signs the result link anew on every poll (as its get_result does)."""

    def handle(self, req):
        reply = super().handle(req)
        with self.lock:
            for job in self.jobs.values():
                job["sample"] = None
        return reply


def _cli(home: Path, env_var: str, key: str, *argv: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_KEY", "_TOKEN"))}
    env.update({"FLEXSTUDIO_HOME": str(home), env_var: key})
    return subprocess.run([*EXE, *argv], env=env, capture_output=True, text=True, timeout=120)


def _png(tmp_path: Path) -> Path:
    p = tmp_path / "a.png"
    Image.new("RGB", (64, 64), (20, 90, 200)).save(p)
    return p


@pytest.mark.parametrize("provider", sorted(RIGS))
def test_an_expired_link_given_again_ends_failed_saying_what_was_billed(
    tmp_path: Path, provider: str
) -> None:
    cls, key_arg, key, env_var, submit = RIGS[provider]
    delivery = Delivery(scenario="expired_url").start()
    emu = cls(delivery, **{key_arg: key}).start()
    try:
        url = emu.url
        argv = (
            "edit",
            "-p",
            "make it blue",
            "-i",
            str(_png(tmp_path)),
            "--provider",
            provider,
            "--base-url",
            url,
        )
        r = _cli(tmp_path / "home", env_var, key, *argv, "--json")
        assert r.returncode == 1, (r.stdout, r.stderr)
        obj = json.loads(r.stdout)
        assert obj["status"] == "failed" and obj["error"]["kind"] == "expired"
        message = obj["error"]["message"]
        assert "the result is gone at" in message and "run it again to get a new one" in message
        assert ("billed $" in message) and message.count(". ") == 0, message  # one sentence
        if obj["billed_usd"] is not None:
            assert f"billed ${obj['billed_usd']:.4f}" in message
        downloads = [q for q in delivery.requests if q.path.startswith("/results/")]
        assert len(downloads) >= 1
        assert emu.count("POST", submit) == 1  # the paid call was not repeated
        assert key not in r.stdout + r.stderr
    finally:
        stop_all(emu, delivery)


def test_bfl_gives_a_fresh_link_and_the_job_succeeds(tmp_path: Path) -> None:
    _, _, key, env_var, submit = RIGS["bfl"]
    delivery = FirstLinkExpires().start()
    emu = FreshLinks(delivery, key=key).start()
    try:
        out = tmp_path / "out"
        argv = (
            "edit",
            "-p",
            "make it blue",
            "-i",
            str(_png(tmp_path)),
            "--provider",
            "bfl",
            "--base-url",
            emu.url,
        )
        r = _cli(tmp_path / "home", env_var, key, *argv, "-o", f"{out}/", "--json")
        assert r.returncode == 0, (r.stdout, r.stderr)
        obj = json.loads(r.stdout)
        assert obj["status"] == "succeeded" and len(obj["outputs"]) == 1 and Path(obj["outputs"][0]).exists()
        links = {q.path.split("/")[2] for q in delivery.requests if q.path.startswith("/results/")}
        assert len(links) == 2  # the expired link, then the fresh one
        assert emu.count("POST", submit) == 1
    finally:
        stop_all(emu, delivery)
