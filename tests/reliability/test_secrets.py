"""With distinctive fake keys set, run every provider's success and failure paths, then search every
place FlexStudio writes (settings, history database, blobs, logs, exports, presets, command output) and
every request the download hosts saw: the key appears nowhere but in the provider's own API requests."""

from __future__ import annotations

import asyncio
import io
import json

import pytest
from PIL import Image

from flexstudio.cli import main
from flexstudio.core.request import EditRequest
from flexstudio.jobs.runner import RunnerConfig
from flexstudio.services import Services
from flexstudio.storage.presets import Preset

from .matrix import SPECS, fast_sleep, hosts, key_seen_in


def _png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (200, 160), (30, 30, 220)).save(buf, "PNG")
    return buf.getvalue()


def _files_containing(root, needle: bytes) -> list[str]:
    return [str(p) for p in root.rglob("*") if p.is_file() and needle in p.read_bytes()]


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.provider)
def test_keys_stay_with_the_provider_api(spec, home, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(spec.env_var, spec.key)
    outputs = []
    for scenario in ("success", "auth", "redirect_other_host", "validation"):
        with hosts(spec, scenario) as (emu, delivery, third):
            svc = Services.build(
                base_urls={spec.provider: getattr(emu, "base_url", emu.url)},
                runner_config=RunnerConfig(
                    poll_interval=0.005, provider_options={spec.provider: spec.options}
                ),
            )
            svc.runner.sleep = fast_sleep
            refs = (svc.import_reference(_png(), "r.png"),) if spec.references else ()

            async def go(svc=svc, refs=refs):
                try:
                    return await svc.runner.run(
                        EditRequest(
                            prompt="key hygiene",
                            references=refs,
                            seed=1,
                            size=(256, 256),
                            provider=spec.provider,
                        )
                    )
                finally:
                    await svc.aclose()

            rec = asyncio.run(go())
            outputs.append(rec)
            assert key_seen_in(spec, emu), "the API itself must get the key"
            assert not key_seen_in(spec, delivery) and not key_seen_in(spec, third)
    ok = next(r for r in outputs if r.state == "succeeded")
    # exports and presets written through the same code the window and CLI use
    rc = main(["history", "export", ok.id, str(tmp_path / "exports"), "--json"])
    rc2 = main(["history", "show", outputs[1].id, "--json"])
    assert rc == 0 and rc2 == 0
    svc = Services.build()
    svc.presets.save(Preset.capture("mine", ok.request))
    svc.save_settings()
    svc.history.close()
    printed = capsys.readouterr()
    needle = spec.key.encode()
    assert _files_containing(home, needle) == []
    assert _files_containing(tmp_path / "exports", needle) == []
    assert spec.key not in printed.out and spec.key not in printed.err
    assert "auth" in json.dumps([r.error_kind for r in outputs])


def test_a_key_that_leaks_into_a_provider_message_is_scrubbed(home):
    from flexstudio.storage.secrets import Secrets, scrub

    s = Secrets(env={"FAL_KEY": "fal-abcdef-123456"})
    s.get("fal", "FAL_KEY")
    text = "upstream said: invalid key fal-abcdef-123456"
    assert "fal-abcdef-123456" not in scrub(text, s.known_values())
