"""The window fits every screen: 1024×700, 1280×800, 1440×900 and 1024×700 at 2× scale, with every
provider selected, in Difference mode and with three jobs running (``layout_probe`` in a subprocess, on an
offscreen screen of that size: Qt fixes the screen when it starts)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCREENS = [(1024, 700, 1), (1280, 800, 1), (1440, 900, 1), (1024, 700, 2)]


def run_probe(tmp_path: Path, width: int, height: int, scale: int) -> dict:
    config = tmp_path / "screen.json"
    config.write_text(
        json.dumps(
            {
                "screens": [
                    {
                        "name": "probe",
                        "x": 0,
                        "y": 0,
                        "width": width * scale,
                        "height": height * scale,
                        "logicalDpi": 96,
                        "logicalBaseDpi": 96,
                        "dpr": 1,
                    }
                ]
            }
        )
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("QT_", "FLEXSTUDIO_"))}
    env.update(
        QT_QPA_PLATFORM=f"offscreen:configfile={config}",
        QT_API="pyside6",
        QT_SCALE_FACTOR=str(scale),
        PYTHONPATH=str(ROOT),
    )
    proc = subprocess.run(
        [sys.executable, "-m", "tests.ui.layout_probe"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("LAYOUT ")]
    assert proc.returncode == 0 and lines, f"the probe failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return json.loads(lines[-1][len("LAYOUT ") :])


@pytest.mark.parametrize(("width", "height", "scale"), SCREENS, ids=[f"{w}x{h}-{s}x" for w, h, s in SCREENS])
def test_the_window_fits_the_screen(tmp_path: Path, width: int, height: int, scale: int) -> None:
    result = run_probe(tmp_path, width, height, scale)
    facts = result["facts"]
    assert facts["screen"] == [width, height] and facts["dpr"] == scale, facts
    assert result["problems"] == [], "\n".join(result["problems"][:40])
    assert facts["first_size"][0] <= width and facts["first_size"][1] <= height  # a fresh start fits too
    assert facts["window"] == [width, height]  # nothing widened the window
    assert len(set(facts["run_y"].values())) == 1, facts["run_y"]  # Run stays put whatever the provider
    if height >= 800:
        assert facts["jobs_rows_shown"] >= 3, facts  # the Jobs panel grows: three running jobs all show
