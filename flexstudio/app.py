"""The window's composition root: ``flexstudio`` with no command opens the workbench here.

Order matters for a fast first paint: the QApplication, the services and the window come first, and the
window is shown and painted by Qt's own event loop. Only then are asyncio and qasync imported and the
asyncio-aware loop started; the keyring, the window icon and resuming unfinished jobs follow
(``MainWindow.after_first_paint``). ``bench/launcher.py`` calls these same steps."""

from __future__ import annotations

import gc
import logging
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from PySide6.QtWidgets import QApplication

    from .services import Services
    from .ui.window.main_window import MainWindow

log = logging.getLogger(__name__)
FIRST_PAINT_WAIT_MS = 2000  # a window never exposed (minimised, no compositor) still starts after this
# How long a thread waiting for the interpreter waits before the running one is asked to let it in. The GUI
# thread gives the interpreter up at every SQLite statement and file call; while a batch's worker threads run
# Python (imports, exports, manifests), Python's default of 5 ms made it wait up to that long each time.
SWITCH_INTERVAL_S = 0.001


def _cores() -> int:
    """The cores this process may run on (a container's share, not the host's)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 2


# The window's worker threads (reading and preparing images, exports, manifests) share that one interpreter
# with the GUI thread: more of them than the cores can run only get preempted while holding it, and the GUI
# thread waits. qasync's default of ten made a 200-input batch's worst stall 18–32 ms on two cores; one more
# than the cores (three there) made it 10–15 ms, the batch taking as long.
WORKER_THREADS = min(8, _cores()) + 1


def _import_qt_free_layers() -> None:
    """The Qt-free services and pricing, imported before PySide6: PySide6's import hook reads the source
    of every module imported after it (looking for ``__feature__``)."""
    from . import pricing, services  # noqa: F401
    from .providers.registry import import_profiles

    import_profiles()


def create_app(argv: Sequence[str] = ()) -> QApplication:
    # Start-up allocates hundreds of thousands of long-lived objects (modules, classes, Qt wrappers): the
    # cyclic collector would run ~80 passes over them before the first paint for nothing to free. It is
    # switched back on once the window has painted (``run_loop``), when those objects are frozen.
    gc.disable()
    os.environ.setdefault("QT_API", "pyside6")
    _import_qt_free_layers()
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance() or QApplication(["flexstudio", *argv])
    assert isinstance(app, QApplication)
    app.setApplicationName("FlexStudio")
    app.setApplicationDisplayName("FlexStudio")
    app.setOrganizationName("FlexStudio")
    app.setDesktopFileName("flexstudio")
    app.setQuitOnLastWindowClosed(False)  # the window's close runs an async shutdown first
    return app


def build_services() -> Services | None:
    """The Qt-free services, or None after telling the user why they cannot start. A history file that
    cannot be read is named in a dialog that offers to move it aside and start fresh."""
    from .core.errors import FlexError
    from .services import Services
    from .storage import faults

    for _attempt in range(3):
        try:
            services = Services.build()
            _probe_history(services)
            _confirm_settings(services)
            return services
        except faults.HistoryUnreadable as fault:
            from .ui.dialogs.history_fault_dialog import HistoryFaultDialog

            if not HistoryFaultDialog(fault).wants_move_aside():
                return None
            try:
                moved = faults.move_aside(fault.path)
            except OSError as exc:
                from PySide6.QtWidgets import QMessageBox

                QMessageBox.critical(
                    None,
                    "FlexStudio cannot start",
                    f"The history could not be moved aside ({exc.strerror or exc}).",
                )
                return None
            log.warning("the unreadable history was moved aside to %s", moved)
        except (FlexError, OSError, RuntimeError) as exc:
            from PySide6.QtWidgets import QMessageBox

            QMessageBox.critical(None, "FlexStudio cannot start", f"{faults.explain(exc) or exc}")
            return None
    return None


def _confirm_settings(services: Services) -> None:
    """A settings file that was damaged is named in a dialog before the window opens: going on with
    the defaults saves them (paid work is allowed again); "Not now" keeps paid work refused."""
    from .storage.settings import settings_fault

    moved = settings_fault(services.paths.settings_file)
    if moved is None:
        return
    from .ui.dialogs.settings_fault_dialog import SettingsFaultDialog

    if SettingsFaultDialog(moved).wants_defaults():
        services.confirm_default_settings()


def _probe_history(services: Services) -> None:
    """Read the history's index once: damage past the first page shows here, before the window opens,
    rather than as an empty history list. Raises ``HistoryUnreadable``."""
    import sqlite3

    from .storage import faults

    try:
        services.history.count()
        services.history.list(limit=1)
    except sqlite3.DatabaseError as exc:
        services.history.close()
        fault = faults.explain(exc, services.history.path)
        raise (fault or exc) from None


def build_window(services: Services) -> MainWindow:
    from .ui.window.main_window import MainWindow

    return MainWindow(services, setup_on_show=False)


def show_and_paint(window: MainWindow, wait_ms: int = FIRST_PAINT_WAIT_MS) -> None:
    """Show the window and run Qt's own loop until it has painted once (or ``wait_ms`` passed)."""
    from PySide6.QtCore import QEvent, QEventLoop, QObject, QTimer

    loop = QEventLoop()
    painted = QTimer(singleShot=True, interval=0)
    painted.timeout.connect(loop.quit)
    give_up = QTimer(singleShot=True, interval=wait_ms)
    give_up.timeout.connect(loop.quit)

    class FirstPaint(QObject):
        def eventFilter(self, obj: Any, event: Any) -> bool:
            if event.type() == QEvent.Type.Paint:
                painted.start()  # quits once this paint (and its children's) is done
            return False

    watch = FirstPaint()
    window.installEventFilter(watch)
    give_up.start()
    window.show()
    loop.exec()
    give_up.stop()
    painted.stop()
    window.removeEventFilter(watch)


def _type_qt_objects(app: QApplication) -> None:
    """The first time Qt hands Python an object Qt made itself (a viewport, a label's text control), PySide6
    builds every Qt class that could be its type, with their enums — some 130 classes, ≈ 25 ms — to find it.
    The first frame avoids that; here it is done once the window has painted, before anyone uses it, rather
    than at the first click or job event. So are the classes the first chip, card and announcement need."""
    from PySide6.QtGui import QAccessible  # noqa: F401 — the first announcement

    from .ui.widgets import theme

    app.children()
    theme.item_state()  # QStyle's flags, for the first reference chip or history card


def run_loop(
    app: QApplication, window: MainWindow, services: Services, on_start: Callable[[Any], None] | None = None
) -> int:
    """Start the asyncio-aware loop (qasync) and run until the window closes; returns the exit code.
    ``on_start(loop)`` runs once the loop is running (the benchmark hooks in there)."""
    import asyncio

    import qasync
    from PySide6.QtCore import QTimer

    from .ui.widgets import theme

    app.setWindowIcon(theme.app_icon())
    sys.setswitchinterval(SWITCH_INTERVAL_S)  # the window gets the interpreter back quickly (see above)
    loop = qasync.QEventLoop(app)
    loop.set_default_executor(qasync.QThreadExecutor(WORKER_THREADS))  # asyncio.to_thread's threads
    asyncio.set_event_loop(loop)
    watch_errors(loop, window, services)

    async def run() -> None:
        closed = asyncio.Event()
        window.closed.connect(closed.set)
        window.after_first_paint()
        if on_start is not None:
            on_start(loop)
        await asyncio.sleep(0)
        _type_qt_objects(app)
        # Start-up objects (modules, widgets) never die: keep them out of the cyclic collector's
        # full passes, which would otherwise pause the GUI thread for tens of milliseconds.
        gc.freeze()
        gc.enable()
        if window.isVisible():
            await closed.wait()
        await window.shutdown()
        await services.aclose()

    # Ctrl+C / SIGTERM close the window properly (jobs left running resume next time).
    import signal  # here, after the first paint: its enums cost a millisecond or two to build

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
    finally:
        gc.enable()  # create_app switched it off for the start-up
    return 0


def log_to_file(services: Services) -> None:
    """Log records (warnings and worse) go to the error log in the data folder, as on the command line."""
    from .storage.faults import LogFileHandler

    root = logging.getLogger()
    for h in root.handlers:
        if isinstance(h, LogFileHandler):
            h.logs = services.paths.logs
            return
    root.addHandler(LogFileHandler(services.paths.logs))


def watch_errors(loop: Any, window: MainWindow, services: Services) -> None:
    """An error nobody caught — in a Qt slot (``sys.excepthook``) or an asyncio task or callback (the
    loop's exception handler) — is written with its traceback to the error log (keys scrubbed) and said
    in one sentence in the message bar; the window goes on."""
    from .storage import faults

    def report(exc: BaseException | None, what: str = "") -> None:
        if exc is None:  # asyncio's own complaint without an exception (a callback that never ran…)
            log.warning("%s", what)
            return
        fault = faults.explain(exc)
        if fault is not None:
            text = str(fault)
        else:
            try:
                secrets = services.secrets.known_values()
            except Exception:
                secrets = []
            path = faults.log_unexpected(exc, services.paths.logs, secrets)
            where = f"the details are in {path}" if path else "no log could be written"
            text = f"Something went wrong inside FlexStudio; {where}. Please report it."
        try:
            window.show_message("error", text)
        except Exception:  # the window itself is going away: the log is all there is
            log.warning("%s", text)

    def hook(kind: type[BaseException], exc: BaseException, tb: Any) -> None:
        if issubclass(kind, KeyboardInterrupt):
            sys.__excepthook__(kind, exc, tb)
            return
        report(exc.with_traceback(tb))

    def on_loop_error(_loop: Any, context: dict[str, Any]) -> None:
        report(context.get("exception"), str(context.get("message", "")))

    sys.excepthook = hook
    loop.set_exception_handler(on_loop_error)


NO_DISPLAY = (
    "No display: the window needs a desktop session (DISPLAY or WAYLAND_DISPLAY is not set); "
    "use the command line instead: flexstudio --help."
)
X_PROBE_TIMEOUT_S = 2.0


def has_display(env: Mapping[str, str] | None = None, platform: str = sys.platform) -> bool:
    """False on Linux with neither an X11 nor a Wayland display and no Qt platform chosen: Qt would abort."""
    return display_problem(env, platform, probe=False) is None


def display_problem(
    env: Mapping[str, str] | None = None, platform: str = sys.platform, *, probe: bool = True
) -> str | None:
    """Why Qt could not open a window here (Linux), as one sentence, or None. Qt itself aborts the process
    (SIGABRT, exit 134, with a dump about platform plugins) when its X11/Wayland display cannot be opened,
    so the display named in the environment is tried first (``probe``): the Wayland socket, or a connection
    to the X server's socket."""
    env = os.environ if env is None else env
    chosen = env.get("QT_QPA_PLATFORM", "")
    if not platform.startswith("linux") or (chosen and not chosen.startswith(("xcb", "wayland"))):
        return None  # offscreen, vnc, eglfs…: Qt's own business
    x11, wayland = env.get("DISPLAY", ""), env.get("WAYLAND_DISPLAY", "")
    if chosen.startswith("xcb"):
        wayland = ""
    elif chosen.startswith("wayland"):
        x11 = ""
    if not (x11 or wayland):
        return NO_DISPLAY
    if not probe:
        return None
    if wayland and _wayland_answers(wayland, env):
        return None
    if x11 and _x11_answers(x11):
        return None
    name = x11 or wayland
    return f"Cannot open the display {name}; check DISPLAY, or use the command line: flexstudio --help."


def _wayland_answers(name: str, env: Mapping[str, str]) -> bool:
    path = name if name.startswith("/") else os.path.join(env.get("XDG_RUNTIME_DIR", ""), name)
    return _connects(path)


def _x11_answers(display: str) -> bool:
    """Whether the X server of ``display`` lets this process in — asked the way Qt asks it, through
    libxcb (which also reads the X authority: a live server that refuses us is no display either);
    without libxcb, whether its socket accepts a connection."""
    import ctypes

    try:
        xcb = ctypes.CDLL("libxcb.so.1")
    except OSError:
        return _x11_socket_answers(display)
    xcb.xcb_connect.restype = ctypes.c_void_p
    xcb.xcb_connect.argtypes = [ctypes.c_char_p, ctypes.c_void_p]
    xcb.xcb_connection_has_error.argtypes = [ctypes.c_void_p]
    xcb.xcb_disconnect.argtypes = [ctypes.c_void_p]
    saved = os.dup(2)  # the server's refusal ("Authorization required…") is said by us, in our words
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
            conn = xcb.xcb_connect(display.encode(), None)  # never NULL: an error connection at worst
    finally:
        os.dup2(saved, 2)
        os.close(saved)
    try:
        return bool(conn) and xcb.xcb_connection_has_error(conn) == 0
    finally:
        if conn:
            xcb.xcb_disconnect(conn)


def _x11_socket_answers(display: str) -> bool:
    """Whether an X server accepts a connection for ``display`` (``[host]:N[.screen]``)."""
    host, _, rest = display.rpartition(":")
    number = rest.split(".")[0]
    if not number.isdigit():
        return False
    if host.startswith("/"):  # macOS launchd style: a socket path
        return _connects(display)
    if host in ("", "unix"):
        return _connects(f"\0/tmp/.X11-unix/X{number}") or _connects(f"/tmp/.X11-unix/X{number}")
    import socket

    try:
        socket.create_connection((host, 6000 + int(number)), timeout=X_PROBE_TIMEOUT_S).close()
    except OSError:
        return False
    return True


def _connects(path: str) -> bool:
    """Whether a Unix socket accepts a connection (a leading NUL: Linux's abstract namespace)."""
    import socket

    if not path.strip("\0"):
        return False
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(X_PROBE_TIMEOUT_S)
        try:
            sock.connect(path)
        except OSError:
            return False
    return True


def main(argv: Sequence[str] | None = None) -> int:
    """Open the workbench; returns the process exit code."""
    problem = display_problem()
    if problem:
        print(f"flexstudio: {problem}", file=sys.stderr)
        return 2
    app = create_app(list(sys.argv[1:] if argv is None else argv))
    services = build_services()
    if services is None:
        return 1
    log_to_file(services)
    window = build_window(services)
    show_and_paint(window)
    return run_loop(app, window, services)


if __name__ == "__main__":
    raise SystemExit(main())
