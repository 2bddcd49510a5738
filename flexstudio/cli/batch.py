"""``flexstudio batch``: one edit over many inputs — priced first, capped, resumable.

Exit codes: 0 every input succeeded; 1 some failed, were moderated, or were not launched (a cap);
2 bad usage or input (nothing sent, nothing recorded); 3 some jobs ended interrupted (the provider may
still finish: run the same command again, or ``flexstudio resume``); 130 Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
from pathlib import Path
from typing import Any

from ..core.errors import BadInput, ErrorKind, MissingKey
from ..core.job_state import JobState
from ..core.request import EditRequest, ImageRef
from ..jobs.batch import BatchScheduler, Summary, item_cost, output_writer, public_status
from ..jobs.batch_plan import batch_key, expand, plan_items
from ..storage.batches import BAD_INPUT, Batch, BatchStore, Item, NewItem
from . import output
from .commands import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_OK,
    UsageError,
    _out,
    build_request,
    job_object,
    parse_base_urls,
)

EXIT_SOME_INTERRUPTED = 3
CONFIRM_USD = 1.00  # above this a batch needs --yes or a --max-cost that covers it


def _say(text: str) -> None:
    output.note(text)


def _template(svc: Any, args: argparse.Namespace, provider: str) -> EditRequest:
    if not (args.prompt or args.preset):
        raise UsageError("batch needs -p PROMPT or --preset NAME (the edit to apply to every input).")
    return build_request(svc, args, provider)  # its references are the extras (-i), after each input


def _check_template(svc: Any, template: EditRequest) -> None:
    template.resolved().validate()
    info = svc.registry.get(template.provider)
    caps = info.capabilities
    if len(template.references) + 1 > caps.max_references:
        raise UsageError(
            f"{info.display_name} takes at most {caps.max_references} reference images; with the "
            f"input as image 1 that leaves {caps.max_references - 1} for -i (got "
            f"{len(template.references)})."
        )
    if template.output_format not in caps.formats:
        raise UsageError(
            f"{info.display_name} cannot write {template.output_format.upper()}; choose "
            f"{' or '.join(f.upper() for f in caps.formats)}."
        )


def _price_line(info: Any, to_run: list[Any], bad: int, total: float | None, done: int) -> str:
    n = len(to_run)
    money = "an unknown price" if total is None else f"${total:.4f}"
    each = "" if total is None or not n else f" (${total / n:.4f} each on average)"
    extra = []
    if done:
        extra.append(f"{done} already done")
    if bad:
        extra.append(f"{bad} cannot be used")
    tail = f"; {', '.join(extra)}" if extra else ""
    return f"Batch: {n} input{'s' if n != 1 else ''} on {info.label} for {money}{each}{tail}."


def _confirm(total: float | None, n: int, args: argparse.Namespace) -> None:
    if args.max_cost is not None and total is None:
        raise UsageError("--max-cost is set but the price of this batch is unknown; nothing was sent.")
    if args.yes or n == 0:
        return
    if total is None:
        raise UsageError("The price of this batch is unknown: add --yes to run it anyway. Nothing was sent.")
    if total > CONFIRM_USD + 1e-9 and (args.max_cost is None or args.max_cost + 1e-9 < total):
        raise UsageError(
            f"This batch costs ${total:.4f}, above ${CONFIRM_USD:.2f}: add --yes, or --max-cost "
            f"{total:.2f} (or more) to run it. Nothing was sent."
        )


def _note(path: Path, text: str) -> None:
    """What could not be embedded whole in an output is said, never dropped silently."""
    output.note(f"note: {path.name}: {text}")


class _Progress:
    """tqdm on a terminal; one plain line per step otherwise (logs, CI, tests)."""

    def __init__(self, total: int, label: str) -> None:
        self.bar: Any = None
        self.label = label
        self.total = total
        self.done = 0
        self.failed = 0
        self.names: dict[str, str] = {}
        self.seen_running: set[str] = set()
        if sys.stderr.isatty() and os.environ.get("FLEXSTUDIO_PROGRESS") != "lines":
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit="img", file=sys.stderr, dynamic_ncols=True, desc=label)

    def launched(self, it: Item) -> None:
        if it.job_id:
            self.names[it.job_id] = Path(it.input).name

    def event(self, ev: Any) -> None:
        if ev.state == JobState.RUNNING and ev.job_id in self.names and ev.job_id not in self.seen_running:
            self.seen_running.add(ev.job_id)
            if self.bar is None:
                _say(f"{self.label}: {self.names[ev.job_id]} running")

    def item(self, it: Item, rec: Any, spent: float) -> None:
        self.done += 1
        status = public_status(it)
        if status != "succeeded":
            self.failed += 1
        if self.bar is not None:
            self.bar.set_postfix_str(f"${spent:.2f} spent, {self.failed} not done", refresh=False)
            self.bar.update(1)
            return
        detail = ""
        if status == "succeeded" and rec is not None:
            detail = f" in {rec.latency_s or 0:.1f} s" + (f" · {it.output}" if it.output else "")
        elif it.error_message or (rec is not None and rec.error_message):
            detail = f" — {it.error_message or rec.error_message}"
        width = len(str(self.total))
        _say(f"{self.label}: [{self.done:>{width}}/{self.total}] {Path(it.input).name} {status}{detail}")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def _check_first_launch(
    svc: Any, store: BatchStore, batch: Batch | None, first: Item | NewItem, cap: float
) -> None:
    """A cap that cannot cover even the next input would launch nothing: bad input, refused before
    anything is sent or recorded (like ``edit --max-cost``)."""
    spent = 0.0
    if batch is not None:
        for it in store.iter_items(batch.id):
            if it.job_id:
                with contextlib.suppress(KeyError):
                    spent += item_cost(svc.history.get(it.job_id))
    usd = first.quote_usd or 0.0
    if spent + usd > cap + 1e-9:
        already = f" (this batch has spent ${spent:.4f})" if spent else ""
        raise UsageError(
            f"--max-cost ${cap:.4f} does not cover {Path(first.input).name} (${usd:.4f}){already}, "
            "so the batch would launch nothing. Nothing was sent."
        )


def _result_object(svc: Any, it: Item, provider: str) -> dict[str, Any]:
    if it.job_id:
        with contextlib.suppress(KeyError):
            rec = svc.history.get(it.job_id)
            obj = job_object(svc, rec, [it.output] if it.output else [])
            if it.error_kind and not obj["error"]:
                obj["error"] = {"kind": it.error_kind, "message": it.error_message or ""}
            return {**obj, "input": it.input}
    err = {"kind": it.error_kind or ErrorKind.BAD_INPUT.value, "message": it.error_message or it.status}
    return {
        "job_id": None,
        "provider": provider,
        "status": public_status(it),
        "outputs": [],
        "seed": None,
        "quote_usd": it.quote_usd,
        "billed_usd": None,
        "latency_s": None,
        "provider_job_id": None,
        "error": err,
        "input": it.input,
    }


def _exit_code(summary: Summary) -> int:
    if summary.interrupted_by_user:
        return EXIT_INTERRUPTED
    if summary.n("interrupted", "running", "submitting", "downloading", "queued"):
        return EXIT_SOME_INTERRUPTED
    if summary.n("succeeded") == summary.total:
        return EXIT_OK
    return EXIT_FAILED


def _load_or_plan(
    svc: Any, store: BatchStore, args: argparse.Namespace
) -> tuple[Batch | None, dict[str, Any]]:
    """The batch to run: an earlier one (``--resume ID``, or the same command run again) or a plan for
    a new one (written only once every check has passed)."""
    if args.resume:
        try:
            batch = store.get(args.resume)
        except KeyError:
            raise UsageError(
                f"No batch {args.resume!r}; 'flexstudio batch' prints the id of each batch."
            ) from None
        return batch, {}
    if not args.input:
        raise UsageError("batch needs --input DIR|GLOB|FILE (repeat for more).")
    if not args.out:
        raise UsageError("batch needs -o DIR (the folder for the results and the manifest).")
    provider = args.provider or "sandbox"
    template = _template(svc, args, provider)
    _check_template(svc, template)
    out_dir = Path(args.out).expanduser()
    if out_dir.exists() and not out_dir.is_dir():
        raise UsageError(f"-o {args.out}: is a file, not a folder.")
    paths = expand(args.input, exclude=out_dir)
    extras = [r.sha256 for r in template.references]
    key = batch_key(template, args.input, extras, out_dir)
    found = store.find(key)
    if found is not None:
        return found, {}
    return None, {
        "template": template,
        "paths": paths,
        "key": key,
        "out_dir": out_dir,
        "inputs": [str(Path(i).expanduser().resolve()) for i in args.input],
        "extras": extras,
    }


def cmd_batch(args: argparse.Namespace) -> int:
    from ..services import Services

    if args.concurrency is not None and args.concurrency < 1:
        raise UsageError("--concurrency must be 1 or more.")
    if args.max_cost is not None and args.max_cost < 0:
        raise UsageError("--max-cost cannot be negative.")
    provider = args.provider or "sandbox"
    svc = Services.build(base_urls=parse_base_urls(args.base_url or [], [provider]))
    store = BatchStore(svc.paths.batches_db)
    try:
        return _run(svc, store, args)
    finally:
        store.close()
        with contextlib.suppress(Exception):
            svc.history.close()


def _run(svc: Any, store: BatchStore, args: argparse.Namespace) -> int:
    batch, plan = _load_or_plan(svc, store, args)
    to_run: list[Item] | list[NewItem]
    if batch is not None:
        provider = batch.provider
        items = store.items(batch.id)
        template = batch.request
        to_run = [it for it in items if it.job_id is None and it.status != BAD_INPUT]
        bad = sum(1 for it in items if it.status == BAD_INPUT)
        done = len(items) - len(to_run) - bad
        quotes = [it.quote_usd for it in to_run]
    else:
        template = plan["template"]
        provider = template.provider
        new_items = plan_items(template, plan["paths"], lambda r: svc.quote(r).usd)
        to_run = [it for it in new_items if it.status != BAD_INPUT]
        bad, done = len(new_items) - len(to_run), 0
        quotes = [it.quote_usd for it in to_run]
    info = svc.registry.get(provider)
    if info.needs_key and not svc.key_source(info):
        raise MissingKey.of(info.label, info.id, info.env_var)
    total = None if any(q is None for q in quotes) else round(sum(q for q in quotes if q is not None), 6)
    _say(_price_line(info, to_run, bad, total, done))
    refusal = svc.settings_refusal(template.with_(provider=provider))
    if refusal and to_run:
        raise BadInput(refusal)
    if to_run and total is None:  # an unknown price is refused while a spending limit is set
        svc.guard.check(None, why_unknown=svc.why_unknown(template.with_(provider=provider)))
    _confirm(total, len(to_run), args)
    cap = args.max_cost if args.max_cost is not None else (batch.max_cost if batch is not None else None)
    if cap is not None and to_run:
        _check_first_launch(svc, store, batch, to_run[0], cap)
    for warning in svc.guard.check(total or 0.0) if total else ():
        _say(f"note: {warning}")
    extras_refs = tuple(template.references)
    if batch is None:
        batch = store.create(
            key=plan["key"],
            request=template.with_(references=()),
            inputs=plan["inputs"],
            extras=plan["extras"],
            out_dir=str(plan["out_dir"].resolve()),
            items=new_items,
            concurrency=args.concurrency,
            max_cost=args.max_cost,
        )
    else:
        extras_refs = tuple(_extras(svc, batch))
        if args.resume or to_run or done:
            _say(f"Resuming batch {batch.id}.")
    _say(f"Batch {batch.id}: manifest {batch.manifest_path}")
    limit = args.concurrency or batch.concurrency or info.capabilities.max_concurrency
    max_cost = args.max_cost if args.max_cost is not None else batch.max_cost
    return _execute(svc, store, batch, extras_refs, limit, max_cost, args)


def _extras(svc: Any, batch: Batch) -> list[ImageRef]:
    """The extra references of an earlier batch, by content (they stay in the blob store)."""
    refs = []
    for sha in batch.extras:
        if not svc.blobs.has(sha):
            raise BadInput(
                f"An extra reference of batch {batch.id} ({sha[:12]}) is missing from the history folder."
            )
        data = svc.blobs.get(sha)
        refs.append(svc.import_reference(data))
    return refs


def _execute(
    svc: Any,
    store: BatchStore,
    batch: Batch,
    extras: tuple[ImageRef, ...],
    limit: int,
    max_cost: float | None,
    args: argparse.Namespace,
) -> int:
    n = sum(1 for _ in store.iter_items(batch.id))
    progress = _Progress(n, f"Batch {batch.id}")
    cfg = svc.runner.config
    if args.timeout is not None:
        cfg.timeout = args.timeout
    # A batch polls at a steady pace (BFL's documented 0.5 s) instead of backing off to 2 s: every
    # second a finished job waits unseen is a slot the next input cannot use.
    cfg.max_poll_interval = max(cfg.poll_interval, min(cfg.max_poll_interval, 0.5))
    sched = BatchScheduler(
        runner=svc.runner,
        store=store,
        batch=batch,
        extras=extras,
        import_file=svc.import_reference_file,
        quote=lambda r: svc.quote(r).usd,
        write_output=output_writer(svc.blobs, svc.registry, Path(batch.out_dir), note=_note),
        limit=limit,
        max_cost=max_cost,
        on_launch=progress.launched,
        on_item=lambda it, rec: progress.item(it, rec, sched.spent),
    )
    unsubscribe = svc.bus.subscribe(progress.event)

    async def go() -> Summary:
        loop = asyncio.get_running_loop()
        main = asyncio.current_task()
        presses = 0

        def on_sigint() -> None:
            nonlocal presses
            presses += 1
            if presses == 1:
                sched.interrupt()
                _say(
                    "Ctrl-C: no more inputs are launched; waiting for the running ones "
                    "(Ctrl-C again to leave them for the next run)."
                )
            elif main is not None:
                main.cancel()

        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signal.SIGINT, on_sigint)
        try:
            return await sched.run()
        finally:
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(signal.SIGINT)
            await svc.runner.aclose()

    try:
        summary = asyncio.run(go())
    except asyncio.CancelledError:
        progress.close()
        sched.write_manifest()
        _say(f"Left the running jobs for later: run the same command again (or --resume {batch.id}).")
        return EXIT_INTERRUPTED
    finally:
        unsubscribe()
    progress.close()
    return _report(svc, store, batch, summary, args)


def _spent(svc: Any, batch: Batch, summary: Summary) -> str:
    """ "spent $0.2000", or — when jobs ran whose price is unknown and no bill came — "spent: unknown (Kie
    bills in credits)" (never $0 for work that was paid for in credits)."""
    if not summary.unpriced:
        return f"spent ${summary.spent_usd:.4f}"
    why = svc.why_unknown(batch.request.with_(provider=batch.provider)) or "the provider reports no price"
    known = f"${summary.spent_usd:.4f} plus " if summary.spent_usd else ""
    return f"spent: {known}unknown for {summary.unpriced} ({why})" if known else f"spent: unknown ({why})"


def _report(svc: Any, store: BatchStore, batch: Batch, summary: Summary, args: argparse.Namespace) -> int:
    if summary.stopped:
        _say(summary.stopped)
    if summary.rate_limited:
        _say(
            f"The provider refused {summary.rate_limited} submit(s) with 429; the batch slowed down to "
            f"{summary.limit_low} at once and sent each of those inputs later."
        )
    c = summary.counts
    parts = [f"{c.get('succeeded', 0)} succeeded"]
    for key, word in (
        ("failed", "failed"),
        ("bad_input", "could not be used"),
        ("moderated", "moderated"),
        ("interrupted", "interrupted"),
        ("cancelled", "cancelled"),
        ("not_launched", "not launched"),
    ):
        if c.get(key):
            parts.append(f"{c[key]} {word}")
    _say(
        f"Batch {batch.id}: {', '.join(parts)} of {summary.total}; {_spent(svc, batch, summary)}. "
        f"Manifest: {batch.manifest_path}"
    )
    code = _exit_code(summary)
    if code == EXIT_SOME_INTERRUPTED:
        _say(
            "Some jobs are interrupted: the provider may still finish them. Run the same command again "
            f"(or flexstudio batch --resume {batch.id}) to fetch them; nothing is sent twice."
        )
    if args.json:
        _out(
            {
                "batch_id": batch.id,
                "manifest": str(batch.manifest_path),
                "results": [_result_object(svc, it, batch.provider) for it in store.iter_items(batch.id)],
            }
        )
    return code
