"""The command line (a public interface: keep it stable). ``flexstudio`` alone opens the workbench."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0].startswith("-psn") or argv == ["--gui"]:
        from ..app import main as gui_main

        return gui_main([])
    from .args import build_parser  # argparse is not needed to open the window

    parser = build_parser()
    args = parser.parse_args(argv)
    from .commands import dispatch

    return dispatch(args, parser)
