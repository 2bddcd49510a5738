"""Argument parsing for every command."""

from __future__ import annotations

import argparse
from typing import NoReturn

from .. import __version__

PROVIDER_IDS = (
    "bfl, bfl-eu, bfl-us, fal, replicate, lumenfall, openai-compatible, cometapi, kie, runapi, "
    "fairstack, sandbox, or a custom endpoint's id"
)
PROVIDERS_HELP = PROVIDER_IDS.replace("sandbox,", "sandbox (default),")
JSON_HELP = "print one JSON object on stdout"


class Parser(argparse.ArgumentParser):
    """Bad usage exits 2 with one clear line: argparse's message and where to find the usage. With
    --json on the command line, the same error object as any other bad input is printed on stdout."""

    argv: tuple[str, ...] = ()  # the command line being parsed (set by cli.main)

    def error(self, message: str) -> NoReturn:
        from .output import error

        text = f"{message} (see '{self.prog} --help')."
        error(text)
        if "--json" in Parser.argv:
            from ..core.errors import BadInput
            from .commands import _error_object, _out

            command = Parser.argv[0] if Parser.argv and not Parser.argv[0].startswith("-") else None
            _out(_error_object(argparse.Namespace(command=command, provider=None, seed=None), BadInput(text)))
        self.exit(2)


def _request_options(
    p: argparse.ArgumentParser, *, many: bool, prompt_required: bool, provider_help: str = PROVIDERS_HELP
) -> None:
    p.add_argument("-p", "--prompt", required=prompt_required, help="the edit, in words")
    p.add_argument(
        "-i",
        "--image",
        action="append",
        default=[],
        metavar="IMAGE",
        help="a reference image (repeat, in order: image 1, image 2, …)",
    )
    p.add_argument(
        "--provider",
        action="append" if many else "store",
        default=[] if many else None,
        metavar="ID",
        help=provider_help,
    )
    p.add_argument(
        "--base-url",
        action="append",
        default=[],
        metavar="URL|ID=URL",
        help="the provider's API root (for several providers: ID=URL, repeated)",
    )
    p.add_argument("--steps", type=int, help="inference steps (1–50; default 50)")
    p.add_argument("--guidance", type=float, help="guidance (1.5–10; default 5)")
    p.add_argument("--seed", type=int, help="seed (default: random, recorded)")
    p.add_argument("--size", help="WxH (multiples of 16, ≤ 4 MP) or auto (default: match image 1)")
    p.add_argument("--format", choices=("png", "jpeg", "jpg", "webp"), help="output format (default jpeg)")
    p.add_argument("--safety", type=int, help="safety tolerance (0 strictest … 5; default 2)")
    up = p.add_mutually_exclusive_group()
    up.add_argument(
        "--upsample",
        dest="upsample",
        action="store_true",
        default=None,
        help="let the provider rewrite the prompt",
    )
    up.add_argument("--no-upsample", dest="upsample", action="store_false", help="send the prompt as written")
    p.add_argument("--preset", metavar="NAME|FILE", help="start from a preset")
    p.add_argument("--json", action="store_true", help=JSON_HELP)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="flexstudio",
        description="FlexStudio — edit images with FLUX.2 [flex] on the clouds that sell it. "
        "Run with no command to open the workbench.",
    )
    parser.add_argument("--version", action="version", version=f"flexstudio {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)

    p = sub.add_parser("edit", help="one edit, headless")
    _request_options(p, many=False, prompt_required=True)
    p.add_argument("-o", "--out", metavar="PATH|DIR", help="where to write the result (with its recipe)")
    p.add_argument("--max-cost", type=float, metavar="USD", help="refuse to submit above this price")
    p.add_argument(
        "--timeout",
        type=float,
        metavar="SECONDS",
        help="stop waiting after this long (the job stays interrupted; resume fetches it)",
    )

    p = sub.add_parser("compare", help="the same edit on several providers at once")
    _request_options(
        p,
        many=True,
        prompt_required=True,
        provider_help="a provider to compare (give two or more different ones): " + PROVIDER_IDS,
    )
    p.add_argument("-o", "--out", metavar="DIR", help="folder for the results")
    p.add_argument("--max-cost", type=float, metavar="USD", help="refuse to submit above this total price")
    p.add_argument(
        "--timeout",
        type=float,
        metavar="SECONDS",
        help="stop waiting after this long (the job stays interrupted; resume fetches it)",
    )

    p = sub.add_parser(
        "batch",
        help="one edit over a folder of images, priced first, resumable",
        usage="flexstudio batch (-p PROMPT | --preset NAME|FILE) --input DIR|GLOB|FILE [--input …] "
        "-o DIR [options]\n       flexstudio batch --resume ID [options]",
    )
    _request_options(p, many=False, prompt_required=False)
    p.add_argument(
        "--input",
        action="append",
        default=[],
        metavar="DIR|GLOB|FILE",
        help="the images to edit, each as image 1 (repeat; -i adds references after it)",
    )
    p.add_argument("-o", "--out", metavar="DIR", help="folder for the results and the manifest")
    p.add_argument(
        "--concurrency", type=int, metavar="N", help="jobs at once (default: as many as the provider admits)"
    )
    p.add_argument(
        "--max-cost", type=float, metavar="USD", help="stop launching before the batch passes this"
    )
    p.add_argument("--yes", action="store_true", help="run a batch above the confirmation price")
    p.add_argument("--resume", metavar="ID", help="go on with an earlier batch")
    p.add_argument("--timeout", type=float, metavar="SECONDS", help="the longest one job may run")

    p = sub.add_parser("quote", help="prices only, no network")
    _request_options(
        p,
        many=True,
        prompt_required=False,
        provider_help="a provider to price on (repeat for several; default sandbox): " + PROVIDER_IDS,
    )

    p = sub.add_parser("info", help="the settings an image carries (FlexStudio, A1111, ComfyUI, …)")
    p.add_argument("image", metavar="IMAGE", help="the image file to read")
    p.add_argument("--json", action="store_true", help=JSON_HELP)

    p = sub.add_parser("history", help="list, show or export past jobs")
    hs = p.add_subparsers(
        dest="history_command", metavar="list|show|export", required=True, parser_class=Parser
    )
    h = hs.add_parser("list", help="past jobs, newest first")
    h.add_argument("--limit", type=int, default=50, metavar="N", help="at most this many jobs (default 50)")
    h.add_argument("--search", help="only prompts containing this text")
    h.add_argument("--provider", metavar="ID", help="only this provider")
    h.add_argument(
        "--status", help="only this status (succeeded, failed, moderated, cancelled, interrupted, …)"
    )
    h.add_argument("--json", action="store_true", help=JSON_HELP)
    h = hs.add_parser("show", help="one job in full")
    h.add_argument("job", metavar="JOB", help="the job's id, as 'history list' prints it")
    h.add_argument("--json", action="store_true", help=JSON_HELP)
    h = hs.add_parser("export", help="write a job's images, with their recipe, into a folder")
    h.add_argument("job", metavar="JOB", help="the job's id, as 'history list' prints it")
    h.add_argument("dir", metavar="DIR", help="the folder to write into (made if missing)")
    h.add_argument("--json", action="store_true", help=JSON_HELP)

    p = sub.add_parser(
        "resume",
        help="fetch every interrupted job and settle what a crash left "
        "(exit 3 while some are still waiting for their provider)",
    )
    p.add_argument("--json", action="store_true", help=JSON_HELP)
    p.add_argument(
        "--base-url",
        action="append",
        default=[],
        metavar="URL|ID=URL",
        help="only for jobs sent before their endpoint was recorded",
    )
    p.add_argument(
        "--timeout",
        type=float,
        metavar="SECONDS",
        help="give up on each job after this long (it stays interrupted)",
    )

    p = sub.add_parser("providers", help="providers, capabilities, whether a key is set")
    p.add_argument("--json", action="store_true", help=JSON_HELP)
    p.add_argument(
        "--balance",
        action="store_true",
        help="also ask each provider that documents one for the account's remaining balance",
    )
    p.add_argument(
        "--base-url",
        action="append",
        default=[],
        metavar="ID=URL",
        help="a provider's API root for --balance (repeat for several providers)",
    )

    p = sub.add_parser("keys", help="store or delete an API key (in the system keyring)")
    ks = p.add_subparsers(dest="keys_command", metavar="set|delete", required=True, parser_class=Parser)
    k = ks.add_parser("set", help="read the key from standard input")
    k.add_argument("provider", metavar="PROVIDER", help="the provider's id (see 'flexstudio providers')")
    k = ks.add_parser("delete", help="forget the stored key (an environment variable is not touched)")
    k.add_argument("provider", metavar="PROVIDER", help="the provider's id (see 'flexstudio providers')")

    p = sub.add_parser("presets", help="list, show, import or export presets")
    ps = p.add_subparsers(
        dest="presets_command", metavar="list|show|import|export", required=True, parser_class=Parser
    )
    q = ps.add_parser("list", help="the built-in presets and yours")
    q.add_argument("--json", action="store_true", help=JSON_HELP)
    q = ps.add_parser("show", help="one preset's settings")
    q.add_argument("name", metavar="NAME", help="the preset's name, as 'presets list' prints it")
    q.add_argument("--json", action="store_true", help=JSON_HELP)
    q = ps.add_parser("import", help="add a preset file to yours")
    q.add_argument("file", metavar="FILE", help="a preset's JSON file")
    q = ps.add_parser("export", help="write a preset to a file, to share it")
    q.add_argument("name", metavar="NAME", help="the preset's name, as 'presets list' prints it")
    q.add_argument("file", metavar="FILE", help="the JSON file to write")
    return parser
