"""Which function runs each command, and the one place its error becomes a sentence and an exit code.
The command modules import ``commands`` (shared helpers), never each other and never this module, so
the CLI has no import cycle."""

from __future__ import annotations

import argparse

from .batch import cmd_batch
from .commands import EXIT_INTERRUPTED, EXIT_OK, _report, cmd_compare, cmd_edit, cmd_quote
from .info import cmd_info
from .manage import cmd_history, cmd_keys, cmd_presets, cmd_providers, cmd_resume

HANDLERS = {
    "info": cmd_info,
    "edit": cmd_edit,
    "compare": cmd_compare,
    "quote": cmd_quote,
    "batch": cmd_batch,
    "history": cmd_history,
    "resume": cmd_resume,
    "providers": cmd_providers,
    "keys": cmd_keys,
    "presets": cmd_presets,
}


def dispatch(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    if args.command is None:
        parser.print_help()
        return EXIT_OK
    try:
        handler = HANDLERS[args.command]
        return handler(args)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BaseException as exc:
        if isinstance(exc, SystemExit | GeneratorExit):
            raise
        return _report(args, exc)
