"""Open the real FlexStudio window with a small demo and save docs/screenshot.png (1280×800).

Runs itself under Xvfb when there is no display:
    .venv/bin/python scripts/screenshot.py [--provider ID] [--size WxH] [--scale 2] [--out FILE]
                                           [--settings FILE] [--mode diff] [--running 3]
The demo: two generated reference images in the tray, a prompt naming image 1 and image 2 with a
#ff6600 swatch, two finished sandbox jobs in the history, the latest in the compare view (wipe mode).
Then the chosen provider is selected (with a made-up key, so it is selectable; nothing is sent to it).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
W, H = 1280, 800
SCALE = 1.0
PROMPT = (
    "Put the straw hat from image 2 on the hiker in image 1, keep the light of a late afternoon, "
    "and paint the backpack #ff6600."
)


def reexec_under_xvfb() -> None:
    if os.environ.get("DISPLAY") or os.environ.get("FLEXSTUDIO_SCREENSHOT_CHILD"):
        return
    xvfb = shutil.which("xvfb-run")
    if xvfb is None:
        sys.exit("No display and no xvfb-run: install xvfb (bash scripts/setup.sh does).")
    env = {**os.environ, "FLEXSTUDIO_SCREENSHOT_CHILD": "1", "QT_QPA_PLATFORM": "xcb"}
    if SCALE != 1:
        env["QT_SCALE_FACTOR"] = f"{SCALE:g}"
    screen = f"{round(W * SCALE)}x{round(H * SCALE)}x24"
    cmd = [xvfb, "-a", "-s", f"-screen 0 {screen} -nolisten tcp", sys.executable, *sys.argv]
    sys.exit(subprocess.call(cmd, env=env))


def scene() -> bytes:
    """Image 1: a hiker on a hill at the end of the afternoon."""
    from PIL import Image, ImageDraw, ImageFilter

    w, h = 1536, 1024
    sky = Image.linear_gradient("L").resize((w, h))
    im = Image.composite(
        Image.new("RGB", (w, h), (247, 196, 140)), Image.new("RGB", (w, h), (92, 140, 214)), sky
    )
    d = ImageDraw.Draw(im)
    d.ellipse((1040, 150, 1240, 350), fill=(255, 236, 180))
    d.polygon(
        [(0, 700), (380, 520), (760, 640), (1120, 480), (1536, 620), (1536, 1024), (0, 1024)],
        fill=(96, 128, 92),
    )
    d.polygon([(0, 820), (500, 700), (1000, 780), (1536, 720), (1536, 1024), (0, 1024)], fill=(70, 104, 70))
    im = im.filter(ImageFilter.GaussianBlur(1.5))
    d = ImageDraw.Draw(im)
    x, y = 640, 560  # the hiker
    d.rounded_rectangle((x - 46, y, x + 46, y + 190), 30, fill=(52, 64, 92))
    d.rounded_rectangle((x + 30, y + 20, x + 96, y + 140), 18, fill=(58, 112, 160))  # backpack
    d.ellipse((x - 38, y - 84, x + 38, y - 6), fill=(228, 186, 150))
    d.rectangle((x - 40, y + 180, x - 8, y + 300), fill=(40, 44, 60))
    d.rectangle((x + 8, y + 180, x + 40, y + 300), fill=(40, 44, 60))
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=90)
    return buf.getvalue()


def hat() -> bytes:
    """Image 2: a straw hat on a plain background."""
    from PIL import Image, ImageDraw

    im = Image.new("RGB", (900, 700), (236, 232, 224))
    d = ImageDraw.Draw(im)
    d.ellipse((110, 360, 790, 520), fill=(214, 176, 102))
    d.ellipse((290, 200, 610, 470), fill=(226, 190, 116))
    d.rectangle((298, 380, 602, 420), fill=(160, 52, 40))
    for i in range(0, 680, 34):
        d.arc((110, 360, 790, 520), 0, 360, fill=(190, 150, 80))
        d.line((140 + i, 440, 150 + i, 452), fill=(190, 150, 80), width=2)
    buf = io.BytesIO()
    im.save(buf, "PNG")
    return buf.getvalue()


async def wait_for(cond, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not cond():
        if time.monotonic() > deadline:
            raise TimeoutError("the demo did not get there in time")
        await asyncio.sleep(0.05)


async def demo(
    window,
    out: Path,
    settings_out: Path | None,
    extras: Path | None = None,
    *,
    provider: str | None = None,
    mode: str = "wipe",
    running: int = 0,
) -> None:
    from PySide6.QtWidgets import QApplication

    from flexstudio.ui.models.importer import Source

    window.resize(W, H)
    window.move(0, 0)
    window.show()
    await wait_for(lambda: window.controls.steps is not None)
    task = window.importer.import_sources(
        [Source(data=scene(), name="hiker.jpg"), Source(data=hat(), name="straw-hat.png")]
    )
    await task
    window.prompt.setPlainText(PROMPT)
    window.controls.steps.setValue(28)
    window.controls.guidance.setValue(4.5)
    for n in (1, 2):
        window.wb.set_seed(20251120 + n)  # the same picture every time the script runs
        window.controller.run()
        await wait_for(
            lambda n=n: (
                len(window.controller.started) == n
                and window.services.history.get(window.controller.started[-1]).finished
            )
        )
    await wait_for(
        lambda: window.compare.canvas.after is not None and window.compare.canvas.before is not None
    )
    if running:  # jobs that stay running while the picture is taken
        os.environ["FLEXSTUDIO_SANDBOX_LATENCY"] = "3600"
        for n in range(running):
            window.wb.set_seed(20251200 + n)
            window.controller.run()
        await wait_for(
            lambda: sum(1 for ev in window.jobs.latest.values() if ev.state == "running") >= running
        )
    if provider:
        window.services.registry.get(provider)  # an unknown id stops here, with the list of ids
        window.controller.set_key_status({**window.controller.key_status, provider: "keyring"})
        window.wb.set_provider(provider)
    window.compare.set_mode(mode)
    window.compare.canvas.set_split(0.52)
    window.history.view.setFocus()
    window.banner.dismiss()
    window.statusBar().clearMessage()
    await asyncio.sleep(0.6)
    QApplication.processEvents()
    out.parent.mkdir(parents=True, exist_ok=True)
    window.grab().save(str(out))
    print(f"saved {out}")
    if settings_out is not None:
        window.controller.open_settings()
        dlg = window.controller.settings_dialog
        await asyncio.sleep(0.6)
        dlg.grab().save(str(settings_out))
        print(f"saved {settings_out}")
        dlg.close()
    if extras is not None:
        await shoot_groups(window, extras)


async def shoot_groups(window, folder: Path) -> None:
    """The "Compare providers…" dialog and its grid, the "Sweep…" dialog and its grid (for review)."""
    from dataclasses import replace

    from flexstudio.providers.base import FieldHandling, Support

    folder.mkdir(parents=True, exist_ok=True)
    sandbox = window.services.registry.get("sandbox")
    caps = replace(
        sandbox.capabilities,
        max_references=3,
        fields={
            "guidance": FieldHandling(Support.RENAMED, "sent as cfg"),
            "safety": FieldHandling(Support.IGNORED, "no safety setting"),
        },
    )
    window.services.registry.register(replace(sandbox, id="sandbox-b", label="Sandbox B", capabilities=caps))
    window.controller.groups.compare_providers()
    await wait_for(lambda: window.controller.groups.compare_dialog is not None)
    dlg = window.controller.groups.compare_dialog
    dlg.set_chosen(["sandbox", "sandbox-b"])
    await asyncio.sleep(0.4)
    dlg.grab().save(str(folder / "compare-dialog.png"))
    dlg.launch()
    grid = next(iter(window.controller.groups.open.values()))
    await wait_for(lambda: grid.done_count() == len(grid.cards))
    await asyncio.sleep(0.8)
    next(iter(grid.cards.values())).winner.click()
    await asyncio.sleep(0.3)
    grid.grab().save(str(folder / "compare-grid.png"))
    grid.close()
    sweep = window.controller.groups.open_sweep()
    sweep.set_axes("20-30 (+10)", "3.5, 5", "1, 2")
    await asyncio.sleep(0.4)
    sweep.grab().save(str(folder / "sweep-dialog.png"))
    sweep.launch()
    grid = [g for g in window.controller.groups.open.values() if g.kind == "sweep"][0]
    await wait_for(lambda: grid.done_count() == len(grid.cards))
    await asyncio.sleep(0.8)
    grid.grab().save(str(folder / "sweep-grid.png"))
    grid.close()
    window.controller.show_lineage(window.services.history.list(limit=1)[0]).grab().save(
        str(folder / "lineage.png")
    )
    await asyncio.sleep(0.6)
    window.grab().save(str(folder / "window-after-groups.png"))
    print(f"saved the comparison and sweep shots in {folder}")


def dark_palette():
    from PySide6.QtGui import QColor, QPalette

    pal = QPalette()
    roles = QPalette.ColorRole
    for role, colour in (
        (roles.Window, "#2b2b2e"),
        (roles.WindowText, "#e6e6e6"),
        (roles.Base, "#1f1f22"),
        (roles.AlternateBase, "#2b2b2e"),
        (roles.Text, "#e6e6e6"),
        (roles.Button, "#35353a"),
        (roles.ButtonText, "#e6e6e6"),
        (roles.Highlight, "#3d7bd9"),
        (roles.HighlightedText, "#ffffff"),
        (roles.ToolTipBase, "#35353a"),
        (roles.ToolTipText, "#e6e6e6"),
        (roles.PlaceholderText, "#8a8a90"),
        (roles.Mid, "#4a4a50"),
        (roles.Midlight, "#3c3c42"),
        (roles.Light, "#505056"),
        (roles.Dark, "#18181a"),
    ):
        pal.setColor(role, QColor(colour))
    return pal


def main() -> int:
    global W, H, SCALE
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "docs" / "screenshot.png"))
    parser.add_argument("--settings", default=None, help="also save the Settings dialog here")
    parser.add_argument("--dark", action="store_true", help="a dark palette (as a dark desktop theme gives)")
    parser.add_argument(
        "--groups", default=None, help="also save the comparison and sweep dialogs and grids in this folder"
    )
    parser.add_argument("--provider", default=None, help="select this provider (by id) before the picture")
    parser.add_argument("--size", default="1280x800", help="window and screen size, WxH (default 1280x800)")
    parser.add_argument("--scale", type=float, default=1.0, help="device pixel ratio (2 = a HiDPI screen)")
    parser.add_argument(
        "--mode", default="wipe", choices=("wipe", "side", "flip", "diff"), help="the compare view's mode"
    )
    parser.add_argument("--running", type=int, default=0, help="leave this many sandbox jobs running")
    args = parser.parse_args()
    try:
        W, H = (int(v) for v in args.size.lower().split("x"))
    except ValueError:
        parser.error(f"--size {args.size!r}: write it as WIDTHxHEIGHT, for example 1024x700")
    SCALE = args.scale
    reexec_under_xvfb()
    home = tempfile.mkdtemp(prefix="flexstudio-shot-")
    os.environ["FLEXSTUDIO_HOME"] = home
    os.environ.setdefault("FLEXSTUDIO_SANDBOX_LATENCY", "0.6")
    os.environ.setdefault("QT_API", "pyside6")
    for var in ("BFL_API_KEY", "FAL_KEY", "REPLICATE_API_TOKEN", "LUMENFALL_API_KEY", "OPENAI_API_KEY"):
        os.environ.pop(var, None)
    sys.path.insert(0, str(ROOT))
    import qasync
    from PySide6.QtWidgets import QApplication

    from flexstudio.services import Services
    from flexstudio.ui.widgets import theme
    from flexstudio.ui.window.main_window import MainWindow

    app = QApplication.instance() or QApplication(["flexstudio"])
    app.setApplicationName("FlexStudio")
    app.setWindowIcon(theme.app_icon())
    app.setQuitOnLastWindowClosed(False)
    if args.dark:
        app.setStyle("Fusion")
        app.setPalette(dark_palette())
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)

    class _MemoryKeyring:  # the demo never touches the real keyring
        def get_password(self, *_a):
            return None

    services = Services.build(keyring_backend=_MemoryKeyring())
    window = MainWindow(services)

    async def run() -> None:
        try:
            await demo(
                window,
                Path(args.out),
                Path(args.settings) if args.settings else None,
                Path(args.groups) if args.groups else None,
                provider=args.provider,
                mode=args.mode,
                running=args.running,
            )
        finally:
            window.close()
            await window.shutdown()
            await services.aclose()

    try:
        with loop:
            loop.run_until_complete(run())
    finally:
        shutil.rmtree(home, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
