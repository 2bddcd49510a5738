"""``flexstudio edit --provider X --base-url http://127.0.0.1:PORT`` against each protocol's emulator:
the job succeeds and the emulator saw the documented request (auth, fields, references, explicit
parameters, its polling URL used verbatim, no key on the download host)."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from tests.reliability.matrix import BY_ID, hosts, key_seen_in

EXE = [sys.executable, "-m", "flexstudio"]


def _refs(tmp_path: Path) -> tuple[Path, Path]:
    a, b = tmp_path / "a.png", tmp_path / "b.jpg"
    Image.new("RGB", (640, 480), (200, 60, 30)).save(a)
    Image.new("RGB", (500, 500), (30, 60, 200)).save(b)
    return a, b


def _edit(provider: str, base_url: str, images: list[Path], key_env: dict[str, str], *extra: str):
    args = [
        *EXE,
        "edit",
        "--provider",
        provider,
        "--base-url",
        base_url,
        "-p",
        "Put the cat from image 1 in image 2",
        "--seed",
        "99",
        "--steps",
        "30",
        "--guidance",
        "4.5",
        "--size",
        "768x512",
        "--json",
    ]
    for i in images:
        args += ["-i", str(i)]
    return subprocess.run(
        [*args, *extra], capture_output=True, text=True, timeout=120, env={**os.environ, **key_env}
    )


def _post_body(emu, prefix):
    return next(r for r in emu.requests if r.method == "POST" and prefix in r.path)


@pytest.mark.parametrize(
    "provider", ["bfl", "cometapi", "fal", "replicate", "lumenfall", "kie", "runapi", "fairstack"]
)
def test_edit_against_the_emulator(tmp_path, provider):
    spec = BY_ID[provider]
    a, b = _refs(tmp_path)
    images = [] if provider == "fairstack" else [a, b]  # FairStack takes references only as public URLs
    with hosts(spec, "success") as (emu, delivery, _third):
        r = _edit(provider, getattr(emu, "base_url", emu.url), images, {spec.env_var: spec.key})
        assert r.returncode == 0, r.stderr
        obj = json.loads(r.stdout)
        assert obj["status"] == "succeeded" and obj["error"] is None and obj["provider"] == provider
        assert obj["seed"] == 99
        with Image.open(obj["outputs"][0]) as im:
            im.load()
        assert not key_seen_in(spec, delivery), "the key reached the download host"
        submit = _post_body(emu, spec.submit[1])
        auth = submit.header("x-key") or submit.header("authorization")
        assert auth is not None and spec.key in auth
        if provider in ("bfl", "cometapi"):
            body = submit.json()
            assert [k for k in body if k.startswith("input_image")] == ["input_image", "input_image_2"]
            assert not body["input_image"].startswith("data:")
            base64.b64decode(body["input_image"], validate=True)
            assert (body["steps"], body["guidance"], body["seed"], body["width"], body["height"]) == (
                30,
                4.5,
                99,
                768,
                512,
            )
            assert body["safety_tolerance"] == 2 and body["output_format"] == "jpeg"
            assert isinstance(body["prompt_upsampling"], bool)
            if provider == "bfl":
                assert submit.header("x-key") == spec.key
                polled = [q for q in emu.requests if "get_result" in q.path]
                assert polled and all(q.path.startswith("/eu2/") for q in polled)  # the URL it returned
            else:
                assert submit.header("authorization") == f"Bearer {spec.key}"
        elif provider == "fal":
            body = submit.json()
            assert submit.header("authorization") == f"Key {spec.key}"
            assert submit.path == "/fal-ai/flux-2-flex/edit"
            assert len(body["image_urls"]) == 2 and body["image_urls"][0].startswith("data:image/")
            assert body["num_inference_steps"] == 30 and body["guidance_scale"] == 4.5
            assert body["image_size"] == {"width": 768, "height": 512} and body["safety_tolerance"] == "2"
        elif provider == "replicate":
            body = submit.json()["input"]
            assert submit.header("authorization") == f"Bearer {spec.key}"
            assert len(body["input_images"]) == 2 and body["output_format"] == "jpg"
            assert (body["steps"], body["guidance"], body["width"], body["height"]) == (30, 4.5, 768, 512)
        elif provider == "lumenfall":
            assert submit.path.endswith("/images/edits")
            assert b'name="image[]"' in submit.body
        elif provider in ("kie", "runapi"):
            body = submit.json()
            flat = json.dumps(body)
            assert "steps" not in flat and "guidance" not in flat  # not accepted: not sent
        elif provider == "fairstack":
            assert submit.json()["model"] == "flux-2-flex-i2i"


def test_openai_compatible_gateway_needs_its_base_url_and_uses_it(tmp_path):
    spec = BY_ID["lumenfall"]
    a, _ = _refs(tmp_path)
    with hosts(spec, "success") as (emu, _d, _t):
        r = _edit("openai-compatible", emu.base_url, [a], {"OPENAI_API_KEY": spec.key})
        assert r.returncode == 0, r.stderr
        submit = _post_body(emu, spec.submit[1])
        assert submit.header("authorization") == f"Bearer {spec.key}" and b'name="image"' in submit.body
        for field in (b'name="seed"', b'name="steps"', b'name="guidance"', b'name="model"'):
            assert field in submit.body


def test_providers_json_lists_every_provider_with_preview_flags_and_no_keys():
    r = subprocess.run(
        [*EXE, "providers", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "FAL_KEY": "fal-secret-in-env-123"},
    )
    assert r.returncode == 0, r.stderr
    rows = {p["id"]: p for p in json.loads(r.stdout)["providers"]}
    assert {
        "sandbox",
        "bfl",
        "bfl-eu",
        "bfl-us",
        "cometapi",
        "fal",
        "replicate",
        "lumenfall",
        "openai-compatible",
        "kie",
        "runapi",
        "fairstack",
    } <= set(rows)
    assert rows["runapi"]["preview"] is True and rows["fairstack"]["preview"] is True
    assert rows["bfl"]["preview"] is False and rows["sandbox"]["simulator"] is True
    assert rows["fal"]["key_set"] is True and rows["fal"]["key_source"] == "env"
    assert rows["bfl"]["key_set"] is False
    assert rows["kie"]["capabilities"]["fields"]["steps"]["support"] == "ignored"
    assert rows["fal"]["price"]["rule"] == "per_mp" and rows["fairstack"]["price"]["rule"] == "per_image"
    assert "fal-secret-in-env-123" not in r.stdout


def test_compare_runs_one_edit_on_several_providers_at_once(tmp_path):
    bfl, fal = BY_ID["bfl"], BY_ID["fal"]
    a, b = _refs(tmp_path)
    with hosts(bfl, "success") as (bemu, _bd, _bt), hosts(fal, "success") as (femu, _fd, _ft):
        r = subprocess.run(
            [
                *EXE,
                "compare",
                "--provider",
                "sandbox",
                "--provider",
                "bfl",
                "--provider",
                "fal",
                "--base-url",
                f"bfl={bemu.url}",
                "--base-url",
                f"fal={femu.url}",
                "-p",
                "Put image 2 on image 1",
                "-i",
                str(a),
                "-i",
                str(b),
                "--size",
                "512x512",
                "--json",
                "-o",
                str(tmp_path / "out"),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, bfl.env_var: bfl.key, fal.env_var: fal.key},
        )
        assert r.returncode == 0, r.stderr
        results = json.loads(r.stdout)["results"]
        assert [x["provider"] for x in results] == ["sandbox", "bfl", "fal"]
        assert all(x["status"] == "succeeded" for x in results)
        assert len({x["seed"] for x in results}) == 1  # one seed: a fair comparison
        assert results[0]["quote_usd"] == 0 and results[1]["quote_usd"] > 0 and results[2]["quote_usd"] > 0
        assert results[1]["billed_usd"] is not None  # BFL reports its cost
        for x in results:
            assert Path(x["outputs"][0]).parent == tmp_path / "out"
        hist = json.loads(
            subprocess.run(
                [*EXE, "history", "list", "--json"], capture_output=True, text=True, timeout=60
            ).stdout
        )["jobs"]
        assert len({j["group_id"] for j in hist}) == 1 and {j["group_kind"] for j in hist} == {"comparison"}


def test_fairstack_refuses_a_local_reference_before_sending(tmp_path):
    a, _ = _refs(tmp_path)
    spec = BY_ID["fairstack"]
    with hosts(spec, "success") as (emu, _d, _t):
        r = _edit("fairstack", emu.url, [a], {spec.env_var: spec.key})
        assert emu.requests == []
    assert r.returncode == 2 and "public https URLs" in r.stderr and "Traceback" not in r.stderr
    hist = json.loads(
        subprocess.run([*EXE, "history", "list", "--json"], capture_output=True, text=True, timeout=60).stdout
    )["jobs"]
    assert hist == []


def test_compare_refuses_more_references_than_the_smallest_limit(tmp_path):
    a, _ = _refs(tmp_path)
    r = subprocess.run(
        [
            *EXE,
            "compare",
            "--provider",
            "sandbox",
            "--provider",
            "fairstack",
            "-p",
            "x",
            "-i",
            str(a),
            "-i",
            str(a),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "FAIRSTACK_API_KEY": "fs-key-123456"},
    )
    assert r.returncode == 2 and "smallest limit" in r.stderr


def test_providers_balance_reads_bfls_credits_only_when_asked(tmp_path):
    from tests.emulators.base import Delivery
    from tests.emulators.bfl import BflEmulator

    key = "bfl_FAKEKEY_balance_7a1"
    with Delivery() as delivery, BflEmulator(delivery, key=key, credits=321.0) as emu:
        urls = [f"--base-url={pid}={emu.url}" for pid in ("bfl", "bfl-eu", "bfl-us")]
        env = {**os.environ, "BFL_API_KEY": key}
        r = subprocess.run(
            [*EXE, "providers", "--json", "--balance", *urls],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
        )
        assert r.returncode == 0, r.stderr
        rows = {p["id"]: p for p in json.loads(r.stdout)["providers"]}
        assert rows["bfl"]["balance"] == {"status": "ok", "amount": 321.0, "unit": "credits", "usd": 3.21}
        assert rows["bfl"]["capabilities"]["balance"] is True
        assert (
            rows["fal"]["balance"] is None and rows["cometapi"]["balance"] is None
        )  # no documented endpoint
        asked = [q for q in emu.requests if q.path == "/v1/credits"]
        assert len(asked) == 3 and all(q.header("x-key") == key for q in asked)
        # a wrong key: the row says why, without the key
        r = subprocess.run(
            [*EXE, "providers", "--json", "--balance", *urls],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "BFL_API_KEY": "bfl_wrong_key_0000"},
        )
        bad = {p["id"]: p for p in json.loads(r.stdout)["providers"]}["bfl"]["balance"]
        assert (
            bad["status"] == "error"
            and "key" in bad["message"]
            and "bfl_wrong_key_0000" not in bad["message"]
        )
        # without --balance nothing is asked and rows carry no balance
        before = len(emu.requests)
        plain = subprocess.run(
            [*EXE, "providers", "--json"], capture_output=True, text=True, timeout=60, env=env
        )
        assert "balance" not in json.loads(plain.stdout)["providers"][0] and len(emu.requests) == before
