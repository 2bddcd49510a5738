"""The command line (a public interface: keep it stable). ``flexstudio`` alone opens the workbench."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0].startswith("-psn") or argv == ["--gui"]:
        from ..app import main as gui_main

        return gui_main([])
    for stream in (sys.stdout, sys.stderr):  # a terminal that cannot show a character gets an escape
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            reconfigure(errors="backslashreplace")
    _quiet()
    from .args import Parser, build_parser  # argparse is not needed to open the window

    parser = build_parser()
    Parser.argv = tuple(argv)
    args = parser.parse_args(argv)
    from .dispatch import dispatch

    return dispatch(args, parser)


def _quiet() -> None:
    """Library warnings and log records go to the error log, not onto the user's terminal."""
    import logging
    import warnings

    if not sys.warnoptions:
        warnings.simplefilter("ignore")
    from ..storage.faults import LogFileHandler
    from ..storage.paths import default_paths

    try:
        logs = default_paths().logs
    except Exception:
        logs = None
    root = logging.getLogger()
    for h in root.handlers:
        if isinstance(h, LogFileHandler):
            h.logs = logs
            return
    root.addHandler(LogFileHandler(logs))
