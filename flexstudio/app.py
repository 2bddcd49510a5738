"""The window's composition root: ``flexstudio`` with no command opens the workbench here.

Order matters for a fast first paint: the QApplication and the window come first; superqt, the
keyring and resuming unfinished jobs wait until the window is on screen."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal
import sys
from collections.abc import Sequence

log = logging.getLogger(__name__)


def main(argv: Sequence[str] | None = None) -> int:
    """Open the workbench; returns the process exit code."""
    os.environ.setdefault("QT_API", "pyside6")
    argv = list(sys.argv[1:] if argv is None else argv)
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(["flexstudio", *argv])
    assert isinstance(app, QApplication)
    app.setApplicationName("FlexStudio")
    app.setApplicationDisplayName("FlexStudio")
    app.setOrganizationName("FlexStudio")
    app.setDesktopFileName("flexstudio")
    app.setQuitOnLastWindowClosed(False)  # the window's close runs an async shutdown first

    from .ui import theme

    app.setWindowIcon(theme.app_icon())

    import qasync

    from .core.errors import FlexError
    from .services import Services

    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    try:
        services = Services.build()
    except (FlexError, OSError, RuntimeError) as exc:
        from PySide6.QtWidgets import QMessageBox

        QMessageBox.critical(None, "FlexStudio cannot start", f"{exc}")
        return 1

    from .ui.main_window import MainWindow

    window = MainWindow(services)

    async def run() -> None:
        closed = asyncio.Event()
        window.closed.connect(closed.set)
        window.show()
        await asyncio.sleep(0)
        # Start-up objects (modules, widgets) never die: keep them out of the cyclic collector's
        # full passes, which would otherwise pause the GUI thread for tens of milliseconds.
        gc.freeze()
        await closed.wait()
        await window.shutdown()
        await services.aclose()

    # Ctrl+C / SIGTERM close the window properly (jobs left running resume next time).
    def on_signal(*_a: object) -> None:
        QTimer.singleShot(0, window.close)

    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            signal.signal(sig, on_signal)
        except (ValueError, OSError):  # not the main thread
            pass
    wake = QTimer()
    wake.start(250)  # lets Python run signal handlers while Qt waits
    wake.timeout.connect(lambda: None)

    try:
        with loop:
            loop.run_until_complete(run())
    except RuntimeError as exc:  # Qt quit on its own: the display went away, or the session ended
        log.warning("the window stopped unexpectedly (%s); unfinished jobs resume next time", exc)
        print("FlexStudio: the display went away; unfinished jobs resume next time.", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
