"""Open the real window on an offscreen screen of a given size and scale, and print (JSON) every place it
does not fit (``layout_check.problems``): with every provider selected, then in Difference mode, then
with three jobs running. Run by ``test_layout.py`` in a subprocess, since the screen is fixed when Qt
starts:

    QT_QPA_PLATFORM=offscreen:configfile=screen.json [QT_SCALE_FACTOR=2] python -m tests.ui.layout_probe
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
from typing import Any

from tests.ui.conftest import MemoryKeyring, image_bytes
from tests.ui.layout_check import problems

PROMPT = (
    "Put the straw hat from image 2 on the hiker in image 1, keep the light of a late afternoon, paint "
    "the backpack #ff6600 and make the sky in image 3 a little warmer, as in the sketch of image 4."
)


async def settle(app: Any, rounds: int = 4) -> None:
    """Let the loop run Qt's posted layout requests and resize events (never processEvents() from inside
    a task: it would re-enter the loop)."""
    for _ in range(rounds):
        await asyncio.sleep(0.01)


async def wait_for(app: Any, cond: Any, what: str, seconds: float = 60.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    while not cond():
        if loop.time() > end:
            raise TimeoutError(what)
        await asyncio.sleep(0.02)


async def probe(app: Any, window: Any) -> dict[str, Any]:
    from flexstudio.ui.models.importer import Source

    found: list[str] = []
    facts: dict[str, Any] = {}
    screen = window.screen().availableGeometry()
    window.show()
    await wait_for(app, lambda: window.controls.steps is not None, "the sliders never appeared")
    await wait_for(app, lambda: bool(window.controller.key_status), "the key status never arrived")
    facts["first_size"] = [window.width(), window.height()]
    window.setGeometry(screen)  # as a user maximises it (no window manager offscreen)
    await window.importer.import_sources(
        [
            Source(data=image_bytes(1536, 1024), name="a-rather-long-file-name-for-the-hiker.jpg"),
            Source(data=image_bytes(900, 700, colour=(40, 120, 200)), name="straw-hat.png"),
            Source(data=image_bytes(640, 960, colour=(90, 200, 90)), name="sky.png"),
            Source(data=image_bytes(800, 800, colour=(220, 220, 60)), name="sketch.png"),
        ]
    )
    window.prompt.setPlainText(PROMPT)
    run_y = None
    providers = [i.id for i in window.services.registry.all()]

    async def every_provider(stage: str) -> None:
        nonlocal run_y
        for pid in providers:
            window.wb.set_provider(pid)
            await settle(app)
            found.extend(problems(window, f"{stage}, {pid}: "))
            y = window.run_button.mapTo(window, window.run_button.rect().topLeft()).y()
            if stage == "plain":
                facts.setdefault("run_y", {})[pid] = y
            if window.width() > screen.width():
                found.append(f"{stage}, {pid}: the window grew to {window.width()} px")

    await every_provider("plain")
    window.wb.set_provider("sandbox")
    await settle(app)
    before = window.run_button.mapTo(window, window.run_button.rect().topLeft())
    window.show_message(
        "info",
        "You are on the Sandbox, an offline simulator that costs nothing — everything "
        "works with it. To edit with a real cloud, add an API key in Settings → Keys.",
        action="Open Settings",
        callback=lambda: None,
    )
    await settle(app)
    found.extend(problems(window, "banner shown: "))
    after = window.run_button.mapTo(window, window.run_button.rect().topLeft())
    if after != before:
        found.append(f"the banner moved Run from {before.toTuple()} to {after.toTuple()}")
    window.banner.dismiss()
    window.prompt_mode.switch.setChecked(True)  # the JSON prompt's check line and template button fit too
    window.prompt.setPlainText('{\n  "scene": "' + PROMPT.replace('"', "'") + '"\n  "style": "ink"\n}')
    await settle(app)
    found.extend(problems(window, "JSON prompt with an error: "))
    window.prompt_mode.switch.setChecked(False)
    window.prompt.setPlainText(PROMPT)
    window.compare.set_mode("diff")
    await every_provider("Difference")
    os.environ["FLEXSTUDIO_SANDBOX_LATENCY"] = "3600"
    window.wb.set_provider("sandbox")
    for n in range(3):
        window.wb.set_seed(100 + n)
        window.controller.run()
    await wait_for(
        app,
        lambda: sum(1 for ev in window.jobs.latest.values() if ev.state == "running") >= 3,
        "three jobs never ran",
    )
    await every_provider("three jobs running")
    window.wb.set_provider("sandbox")
    await settle(app)
    viewport = window.jobs_panel.scroll_area.viewport()
    vis = viewport.rect()
    shown = 0
    for card in window.jobs_panel.cards.values():
        r = card.geometry().translated(
            card.parentWidget().mapTo(viewport, card.parentWidget().rect().topLeft())
        )
        shown += vis.contains(r)
    facts["jobs_rows_shown"] = shown
    facts["window"] = [window.width(), window.height()]
    facts["screen"] = [screen.width(), screen.height()]
    facts["dpr"] = window.devicePixelRatio()
    return {"problems": found, "facts": facts}


def main() -> int:
    home = tempfile.mkdtemp(prefix="flexstudio-layout-")
    os.environ["FLEXSTUDIO_HOME"] = home
    os.environ["FLEXSTUDIO_SANDBOX_LATENCY"] = "0.05"
    import qasync
    from PySide6.QtWidgets import QApplication

    from flexstudio.services import Services
    from flexstudio.ui.window.main_window import MainWindow

    app = QApplication.instance() or QApplication(["flexstudio"])
    app.setQuitOnLastWindowClosed(False)
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    keys = MemoryKeyring()
    services = Services.build(keyring_backend=keys, env={})
    for info in services.registry.all():
        if info.needs_key:  # a made-up key: every provider is selectable; nothing is ever sent
            keys.set_password("flexstudio", info.id, "test-key-not-real")
    crashes: list[str] = []
    sys.excepthook = lambda kind, exc, tb: crashes.append(f"{kind.__name__}: {exc}")  # a slot that raised
    window = MainWindow(services)
    result: dict[str, Any] = {}

    async def run() -> None:
        try:
            result.update(await probe(app, window))
        finally:
            window.close()
            await window.shutdown()
            await services.aclose()

    with loop:
        loop.run_until_complete(run())
    result.setdefault("problems", []).extend(f"an error in the window: {c}" for c in crashes)
    sys.stdout.write("LAYOUT " + json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
