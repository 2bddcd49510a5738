"""What each command does. Exit codes: 0 succeeded; 1 the provider refused or failed; 2 bad usage or
bad input (nothing was sent); 3 a job ended ``interrupted`` (the provider may still finish it and
``flexstudio resume`` fetches it); 130 interrupted by Ctrl-C (after cancelling the provider job)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..core.errors import BadInput, ErrorKind, FlexError
from ..core.job_state import JobState
from ..core.request import EditRequest
from ..core.sizes import parse_size
from ..core.validate import check_base_url, check_money, check_seconds
from ..services import Services, Started
from ..storage.files import check_destination
from . import output

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_RESUMABLE, EXIT_INTERRUPTED = 0, 1, 2, 3, 130


class UsageError(BadInput):
    pass


def _out(obj: Any) -> None:
    output.emit_json(obj)


def _err(text: str) -> None:
    output.error(text)


def _report(args: argparse.Namespace, exc: BaseException) -> int:
    """The one place an error becomes a sentence and an exit code; never a traceback."""
    from ..storage import faults

    fault = exc if isinstance(exc, FlexError) else faults.explain(exc, _history_path())
    if fault is None:
        log = faults.log_unexpected(exc, _logs_dir())
        where = f"the details are in {log}" if log else "no log could be written"
        fault = FlexError(f"Unexpected error ({type(exc).__name__}); {where}. Please report it.")
        code = EXIT_FAILED
    else:
        code = EXIT_USAGE if fault.kind == ErrorKind.BAD_INPUT or isinstance(fault, BadInput) else EXIT_FAILED
    _err(str(fault))
    if isinstance(fault, faults.FileUnreadable):
        _offer_move_aside(fault)
    if getattr(args, "json", False):
        _out(_error_object(args, fault))
    return code


def _history_path() -> Path | None:
    from ..storage.paths import default_paths

    try:
        return default_paths().history_db
    except Exception:
        return None


def _logs_dir() -> Path | None:
    from ..storage.paths import default_paths

    try:
        return default_paths().logs
    except Exception:
        return None


def _offer_move_aside(fault: Any) -> None:
    """At a terminal, ask; elsewhere the sentence already says how (a script is never asked)."""
    from ..storage import faults

    if not (sys.stdin.isatty() and sys.stderr.isatty()):
        return
    sys.stderr.write(f"Move it aside and start {fault.fresh}? [y/N] ")
    sys.stderr.flush()
    try:
        answer = sys.stdin.readline().strip().lower()
    except (OSError, KeyboardInterrupt):
        return
    if answer in ("y", "yes"):
        try:
            moved = faults.move_aside(fault.path)
        except OSError as exc:
            _err(f"Could not move it aside ({exc.strerror or exc}).")
            return
        output.note(f"Moved the old file to {moved}; a fresh one starts with the next command.")


def _error_object(args: argparse.Namespace, exc: FlexError) -> dict[str, Any]:
    """With --json every error prints one object on stdout: the command's own shape, ``error`` filled in."""
    err = {"kind": exc.kind.value, "message": str(exc)}
    if args.command == "info":
        return {"source": None, "request": None, "notes": [], "error": err}
    if args.command not in ("edit", "compare", "quote", "batch"):
        return {"error": err}
    if args.command == "quote":
        return {"quotes": [], "error": err}
    if args.command == "batch":
        return {"batch_id": None, "manifest": None, "results": [], "error": err}
    obj: dict[str, Any] = {
        "job_id": None,
        "provider": _first_provider(args),
        "status": "failed",
        "outputs": [],
        "seed": getattr(args, "seed", None),
        "quote_usd": None,
        "billed_usd": None,
        "latency_s": None,
        "provider_job_id": None,
        "error": err,
    }
    return {"results": [], "error": err} if args.command == "compare" else obj


def _first_provider(args: argparse.Namespace) -> str:
    p = getattr(args, "provider", None)
    if isinstance(p, list):
        return p[0] if p else "sandbox"
    return p or "sandbox"


# ---------------------------------------------------------------------- building requests
def parse_base_urls(values: list[str], providers: list[str]) -> dict[str, str]:
    urls: dict[str, str] = {}
    for v in values:
        head, sep, tail = v.partition("=")
        if sep and "://" not in head and "/" not in head and head.strip():
            urls[head.strip()] = check_base_url(tail, what=f"--base-url for {head.strip()}")
        elif len(providers) == 1:
            urls[providers[0]] = check_base_url(v)
        else:
            raise UsageError(
                f"--base-url {output.clean(v)!r}: with several providers write ID=URL "
                "(for example bfl=https://…)."
            )
    return urls


def build_request(svc: Services, args: argparse.Namespace, provider: str) -> EditRequest:
    req = EditRequest(prompt=args.prompt or "", provider=provider)
    if args.preset:
        preset = svc.presets.get(args.preset)
        req = preset.apply(req, prompt=args.prompt or "")
        req = req.with_(provider=provider)
    refs = [svc.import_reference_file(path) for path in args.image]
    changes: dict[str, Any] = {"references": refs}
    if args.steps is not None:
        changes["steps"] = args.steps
    if args.guidance is not None:
        changes["guidance"] = args.guidance
    if args.seed is not None:
        changes["seed"] = args.seed
    if args.size is not None:
        changes["size"] = parse_size(args.size)
    if args.format is not None:
        changes["output_format"] = "jpeg" if args.format == "jpg" else args.format
    if args.safety is not None:
        changes["safety"] = args.safety
    if args.upsample is not None:
        changes["prompt_upsampling"] = args.upsample
    return req.with_(**changes)


_FORMAT_OF_SUFFIX = {".png": "png", ".jpg": "jpeg", ".jpeg": "jpeg", ".webp": "webp"}


def format_from_out(req: EditRequest, args: argparse.Namespace) -> EditRequest:
    """``-o x.png`` names the format: it is used (the file is never silently renamed to another
    extension); with a --format that says otherwise, or an extension no format has, nothing is sent."""
    out = getattr(args, "out", None)
    if not out or out.endswith(("/", "\\")) or Path(out).is_dir() or not Path(out).suffix:
        return req
    suffix = Path(out).suffix.lower()
    fmt = _FORMAT_OF_SUFFIX.get(suffix)
    if fmt is None:
        raise UsageError(
            f"-o {output.clean(out)}: FlexStudio writes .png, .jpg or .webp files; "
            "end the name with one of those, or give a folder."
        )
    if args.format is not None and fmt != req.output_format:
        raise UsageError(
            f"-o {output.clean(out)} is a {fmt.upper()} name but --format is {args.format}; make them agree."
        )
    return req.with_(output_format=fmt)


def _services(args: argparse.Namespace, providers: list[str]) -> Services:
    urls = parse_base_urls(getattr(args, "base_url", []) or [], providers)
    return Services.build(base_urls=urls)


# ---------------------------------------------------------------------- results
def job_object(svc: Services, rec: Any, out_paths: list[str] | None = None) -> dict[str, Any]:
    outputs = (
        out_paths
        if out_paths is not None
        else [str(svc.blobs.path(o.sha256)) for o in rec.outputs if svc.blobs.has(o.sha256)]
    )
    err = None
    if rec.state != JobState.SUCCEEDED:
        err = {
            "kind": rec.error_kind or ErrorKind.PROVIDER.value,
            "message": rec.error_message or rec.message or rec.state,
        }
    return {
        "job_id": rec.id,
        "provider": rec.provider,
        "status": rec.state,
        "outputs": outputs,
        "seed": rec.request.seed,
        "quote_usd": rec.quote_usd,
        "billed_usd": rec.billed_usd,
        "latency_s": rec.latency_s,
        "provider_job_id": rec.provider_job_id,
        "error": err,
    }


def write_outputs(svc: Services, rec: Any, out: str | None, *, several: bool = False) -> list[str] | None:
    if not out or rec.state != JobState.SUCCEEDED:
        return None
    paths = []
    for p, wanted in svc.deliver(rec, out, several=several):
        paths.append(str(p.path))
        for note in p.notes:  # what could not be embedded whole (stdout stays the contract's)
            _err(f"note: {p.path.name}: {note}")
        if p.path != wanted:
            output.note(f"note: {wanted} already exists, so it was kept; wrote {p.path} instead.")
    return paths


def _save_outputs(svc: Services, rec: Any, out: str | None, *, several: bool = False) -> list[str] | None:
    """write_outputs after a paid job: a failure to write says where the image still is."""
    try:
        return write_outputs(svc, rec, out, several=several)
    except (OSError, FlexError) as exc:
        from ..storage import faults

        why = faults.explain(exc) or exc
        _err(
            f"The result of job {rec.id} is kept in the history, but it could not be written to {out}: {why} "
            f"Export it with 'flexstudio history export {rec.id} DIR'."
        )
        return []


def _progress_wanted(args: argparse.Namespace) -> bool:
    import os

    # Progress goes to stderr, so it never mixes with --json on stdout; FLEXSTUDIO_PROGRESS=1 asks for it.
    return os.environ.get("FLEXSTUDIO_PROGRESS") == "1" or (not args.json and sys.stderr.isatty())


def _progress_printer(enabled: bool) -> Any:
    last: dict[str, str] = {}

    def show(ev: Any) -> None:
        line = (
            f"{ev.state}"
            + (
                f" {ev.progress * 100:.0f}%"
                if ev.progress is not None and ev.state == JobState.RUNNING
                else ""
            )
            + (f" — {ev.message}" if ev.message else "")
        )
        if last.get(ev.job_id) != line:
            last[ev.job_id] = line
            output.note(f"[{ev.job_id}] {line}")

    return show if enabled else None


def _check_money(args: argparse.Namespace) -> None:
    """--max-cost and --timeout: finite and in range, or nothing is sent."""
    check_money(args.max_cost, "--max-cost")
    check_seconds(args.timeout, "--timeout")


def _check_out(args: argparse.Namespace, *, several: bool) -> None:
    """-o is checked before the paid submit, not after."""
    out = getattr(args, "out", None)
    if not out:
        return
    dest = Path(out)
    as_dir = several or out.endswith(("/", "\\")) or dest.is_dir() or not dest.suffix
    check_destination(out, as_dir=as_dir)


async def _run_jobs(
    svc: Services, start: Callable[[], Started], limit_s: float | None
) -> tuple[list[Any], bool]:
    """Start the work (``svc.start_work``) and run its jobs to their end; Ctrl-C cancels them at the
    provider. Returns the final records and whether the run was interrupted."""
    if limit_s is not None:
        svc.runner.config.timeout = limit_s
    started = start()
    if started.warnings:  # the user's warning level (Settings → Spending): one line, on stderr
        output.note("warning: " + " ".join(started.warnings))
    job_ids = [rec.id for rec in started.records]
    loop = asyncio.get_running_loop()
    interrupted = False

    def on_sigint() -> None:
        nonlocal interrupted
        interrupted = True
        for j in job_ids:
            svc.runner.cancel(j)

    with contextlib.suppress(NotImplementedError, RuntimeError):
        loop.add_signal_handler(signal.SIGINT, on_sigint)
    try:
        await asyncio.gather(*started.tasks, return_exceptions=True)
    finally:
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.remove_signal_handler(signal.SIGINT)
    return [svc.history.get(j) for j in job_ids], interrupted


def _deliver_to(out: str | None) -> str | None:
    """-o as stored with the job: absolute (resume may run elsewhere), a folder keeping its separator."""
    if not out:
        return None
    import os

    folder = out.endswith(("/", "\\"))
    return str(Path(out).expanduser().absolute()) + (os.sep if folder else "")


# ---------------------------------------------------------------------- commands
def cmd_edit(args: argparse.Namespace) -> int:
    provider = args.provider or "sandbox"
    svc = _services(args, [provider])
    try:
        _check_money(args)
        req = format_from_out(build_request(svc, args, provider), args)
        info = svc.check_work([req])[0]
        _check_out(args, several=False)
        if info.preview and not args.json:
            from ..providers.base import PREVIEW_NOTE

            output.note(f"note: {info.label} is a {PREVIEW_NOTE}.")
        svc.check_work([req], max_cost=args.max_cost)
        printer = _progress_printer(_progress_wanted(args))
        if printer:
            svc.bus.subscribe(printer)

        async def go() -> tuple[list[Any], bool]:
            try:
                return await _run_jobs(
                    svc,
                    lambda: svc.start_work([req], max_cost=args.max_cost, deliver_to=_deliver_to(args.out)),
                    args.timeout,
                )
            finally:
                await svc.aclose()

        (rec,), interrupted = asyncio.run(go())
    except BaseException:
        svc.history.close()
        raise
    paths = _save_outputs(svc, rec, args.out)
    obj = job_object(svc, rec, paths)
    if args.json:
        _out(obj)
    else:
        _print_job(obj)
        _hint_history_only([obj], args.out)
    if paths == [] and not interrupted:
        return EXIT_FAILED  # made and kept in the history, but not written where -o asked
    return exit_code([rec], interrupted)


def exit_code(recs: list[Any], ctrl_c: bool = False) -> int:
    """130 after Ctrl-C; 0 when every job succeeded; 3 when one ended interrupted (resume fetches it);
    else 1."""
    if ctrl_c:
        return EXIT_INTERRUPTED
    if all(r.state == JobState.SUCCEEDED for r in recs):
        return EXIT_OK
    if any(r.state == JobState.INTERRUPTED for r in recs):
        return EXIT_RESUMABLE
    return EXIT_FAILED


def _print_job(obj: dict[str, Any]) -> None:
    if obj["status"] == "succeeded":
        price = obj["billed_usd"] if obj["billed_usd"] is not None else obj["quote_usd"]
        money = f" · ${price:.4f}" if price is not None else ""
        output.emit(f"{obj['provider']}: done in {obj['latency_s']:.1f} s{money} · seed {obj['seed']}")
        for p in obj["outputs"]:
            output.emit(p)
    else:
        output.emit(
            f"{obj['provider']}: {obj['status']} — {obj['error']['message'] if obj['error'] else ''}",
            keep_newlines=False,
        )
        if obj["status"] == "interrupted" and obj["provider_job_id"]:
            output.emit(
                f"  job {obj['job_id']}: run 'flexstudio resume' to fetch it when {obj['provider']} "
                "can be reached."
            )


def _hint_history_only(objs: list[dict[str, Any]], out: str | None) -> None:
    """Without -o a result is only in the history folder, under its hash: say how to get it out."""
    done = [o for o in objs if o["status"] == "succeeded" and o["outputs"]]
    if out or not done:
        return
    job = done[0]["job_id"] if len(done) == 1 else "JOB"
    output.note(
        "note: kept in the history folder only (named by its content); give -o DIR to write it where "
        f"you want it, or run 'flexstudio history export {job} DIR'."
    )


def cmd_compare(args: argparse.Namespace) -> int:
    providers = list(dict.fromkeys(args.provider or []))
    if len(providers) < 2:
        given = len(args.provider or [])
        raise UsageError(
            "compare needs two different providers: give --provider twice with different ids"
            + (f" (got {providers[0]} {given} times)." if given > 1 else ".")
        )
    svc = _services(args, providers)
    try:
        _check_money(args)
        base = build_request(svc, args, providers[0])
        reqs = [base.with_(provider=p) for p in providers]
        if base.seed is None:
            seed = base.resolved().seed
            reqs = [r.with_(seed=seed) for r in reqs]  # one seed for a fair comparison
        limit = min(svc.registry.get(p).capabilities.max_references for p in providers)
        if len(base.references) > limit:
            raise UsageError(
                f"These providers together take at most {limit} reference images "
                f"(the smallest limit among them); got {len(base.references)}."
            )
        svc.check_work(reqs, max_cost=args.max_cost)
        _check_out(args, several=True)
        printer = _progress_printer(_progress_wanted(args))
        if printer:
            svc.bus.subscribe(printer)

        async def go() -> tuple[list[Any], bool]:
            try:
                return await _run_jobs(
                    svc, lambda: svc.start_work(reqs, kind="comparison", max_cost=args.max_cost), args.timeout
                )
            finally:
                await svc.aclose()

        recs, interrupted = asyncio.run(go())
    except BaseException:
        svc.history.close()
        raise
    results = [job_object(svc, r, _save_outputs(svc, r, args.out, several=True)) for r in recs]
    if args.json:
        _out({"results": results})
    else:
        for obj in results:
            _print_job(obj)
        _hint_history_only(results, args.out)
    return exit_code(recs, interrupted)


def _check_sendable(svc: Services, req: EditRequest) -> None:
    """A quote is for an edit that could be sent: what ``edit`` would refuse (the provider's limits) is
    refused here too, in the same words, rather than priced (no key is needed and nothing is sent). The
    prompt may be left out: a price does not depend on it."""
    try:
        svc.runner.check(req.resolved() if req.prompt.strip() else req.with_(prompt="-").resolved())
    except BadInput as exc:
        raise UsageError(f"This edit cannot be sent, so it has no price: {exc}") from None


def cmd_quote(args: argparse.Namespace) -> int:
    providers = list(dict.fromkeys(args.provider or [])) or ["sandbox"]
    svc = Services.build()
    try:
        base = build_request(svc, args, providers[0])
        quotes = []
        for p in providers:
            req = base.with_(provider=p)
            _check_sendable(svc, req)
            quotes.append(svc.quote(req))
    finally:
        svc.history.close()
    if args.json:
        _out({"quotes": [q.to_dict() for q in quotes]})
        return EXIT_OK
    for q in quotes:
        total = "unknown" if q.usd is None else f"${q.usd:.4f}"
        output.emit(f"{q.provider}: {total}" + (" (approximate)" if q.approximate else ""))
        for item in q.breakdown:
            mp = "" if item.megapixels is None else f" {item.megapixels:g} MP"
            usd = "?" if item.usd is None else f"${item.usd:.4f}"
            output.emit(f"  {item.item}:{mp} {usd}")
        if q.note:
            output.emit(f"  note: {q.note}", keep_newlines=False)
    return EXIT_OK
