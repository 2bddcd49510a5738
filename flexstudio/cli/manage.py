"""history, resume, providers, keys and presets."""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from ..core.errors import BadInput, FlexError
from ..core.job_state import JobState
from ..core.validate import check_key
from ..services import Services
from ..storage.files import check_destination
from . import output


def _out(obj: Any) -> None:
    output.emit_json(obj)


def _note_skipped(svc: Services) -> None:
    skipped = svc.history.skipped
    if skipped:
        n = len(skipped)
        output.note(
            f"note: {n} job{'s' if n > 1 else ''} in the history could not be read and "
            f"{'were' if n > 1 else 'was'} skipped ({', '.join(skipped[:5])}{', …' if n > 5 else ''})."
        )


def _record(svc: Services, rec: Any) -> dict[str, Any]:
    from .commands import job_object

    obj = job_object(svc, rec)
    missing = [o.sha256 for o in rec.outputs if not svc.blobs.has(o.sha256)]
    if missing:
        obj["missing_outputs"] = missing
    obj.update(
        {
            "created_at": datetime.fromtimestamp(rec.created_at).isoformat(timespec="seconds"),
            "prompt": rec.request.prompt,
            "request": rec.request.to_dict(),
            "quote": rec.quote,
            "state_message": rec.message,
            "favourite": rec.favourite,
            "parent_job_id": rec.parent_job_id,
            "group_id": rec.group_id,
            "group_kind": rec.group_kind,
            "submits": rec.submits,
        }
    )
    return obj


def _money(usd: float | None) -> str:
    return "unknown" if usd is None else f"${usd:.4f}"


def _show_lines(svc: Services, rec: Any, obj: dict[str, Any]) -> list[str]:
    """``history show`` for a person: the job in words, one line per fact, nothing that is not there."""
    req = rec.request
    label = svc.registry.get(rec.provider).label if rec.provider in svc.registry else rec.provider
    lines = [f"job {rec.id}: {rec.state} on {label}", f"prompt: {req.prompt}"]
    lines.append(f"created: {obj['created_at'].replace('T', ' ')}")
    if rec.latency_s is not None:
        lines.append(f"time: {rec.latency_s:.1f} s")
    billed = "none reported" if rec.billed_usd is None else _money(rec.billed_usd)
    if rec.billed_usd is None and not rec.submits and rec.finished:
        billed = "$0 (not sent)"
    lines.append(f"price: quoted {_money(rec.quote_usd)} · billed {billed}")
    size = "auto" if req.size is None else f"{req.size[0]}×{req.size[1]}"
    seed = "random" if req.seed is None else str(req.seed)
    lines.append(
        f"settings: {req.steps} steps · guidance {req.guidance:g} · seed {seed} · size {size} · "
        f"{req.output_format.upper()} · safety tolerance {req.safety} · prompt upsampling "
        f"{'on' if req.prompt_upsampling else 'off'}"
    )
    for n, ref in enumerate(req.references, 1):
        lines.append(f"image {n}: {ref.name or ref.sha256[:12]} ({ref.width}×{ref.height})")
    for path in obj["outputs"]:
        lines.append(f"result: {path}")
    if obj["error"]:
        lines.append(f"error ({obj['error']['kind']}): {obj['error']['message']}")
    elif rec.message:
        lines.append(f"message: {rec.message}")
    if rec.provider_job_id:
        lines.append(f"provider's job id: {rec.provider_job_id}")
    if rec.parent_job_id:
        lines.append(f"made from job {rec.parent_job_id}")
    if rec.group_id:
        lines.append(f"part of {rec.group_kind or 'group'} {rec.group_id}")
    if rec.favourite:
        lines.append("favourite: yes")
    if rec.submits and rec.submits > 1:
        lines.append(f"sent to the provider {rec.submits} times")
    return lines


def _list_money(rec: Any) -> str:
    """The money column of ``history list``: the bill where known; "not sent" ($0 billed) for a job that
    ended without a submit; else the quote (what a job that was sent may cost)."""
    if rec.billed_usd is not None:
        return f" ${rec.billed_usd:.3f}"
    if not rec.submits and rec.finished:
        return " not sent"
    return "" if rec.quote_usd is None else f" ${rec.quote_usd:.3f}"


def cmd_history(args: argparse.Namespace) -> int:
    svc = Services.build()
    try:
        if args.history_command == "list":
            states = [args.status] if args.status else None
            recs = svc.history.list(
                limit=args.limit, search=args.search, provider=args.provider, states=states
            )
            if args.json:
                _out({"jobs": [_record(svc, r) for r in recs]})
            else:
                for r in recs:
                    when = datetime.fromtimestamp(r.created_at).strftime("%Y-%m-%d %H:%M")
                    money = _list_money(r)
                    output.emit(
                        f"{r.id}  {when}  {r.provider:<12} {r.state:<11}{money}  {r.request.prompt[:60]}",
                        keep_newlines=False,
                    )
            _note_skipped(svc)
            return 0
        try:
            rec = svc.history.get(args.job)
        except KeyError:
            raise BadInput(f"No job {output.clean(args.job)!r} in the history.") from None
        if args.history_command == "show":
            obj = _record(svc, rec)
            if args.json:
                _out(obj)
            else:
                for line in _show_lines(svc, rec, obj):
                    output.emit(line, keep_newlines=False)
                for sha in obj.get("missing_outputs", []):
                    output.note(
                        f"note: image {sha[:12]}… of this job is missing from the history folder "
                        f"{svc.blobs.root} (deleted outside FlexStudio)."
                    )
            return 0
        # export
        if rec.state != JobState.SUCCEEDED or not rec.outputs:
            raise BadInput(f"Job {rec.id} has no image to export ({rec.state}).")
        from .commands import write_outputs

        target = Path(args.dir)
        if target.exists() and not target.is_dir():
            raise BadInput(
                f"{args.dir} is a file, not a folder; export writes into a folder (nothing was overwritten)."
            )
        check_destination(args.dir, as_dir=True)
        paths = write_outputs(svc, rec, args.dir, several=True) or []
        if args.json:
            _out({"job_id": rec.id, "files": paths})
        else:
            for p in paths:
                output.emit(p)
        return 0
    finally:
        svc.history.close()


def cmd_resume(args: argparse.Namespace) -> int:
    """Fetch every interrupted job and settle what a crash left. Exit 0 when every job it touched
    settled, 3 when some are still interrupted (the provider could not be reached yet)."""
    from .commands import (
        EXIT_OK,
        EXIT_RESUMABLE,
        _progress_printer,
        _progress_wanted,
        _save_outputs,
        parse_base_urls,
    )

    svc = Services.build(base_urls=parse_base_urls(args.base_url, []))
    printer = _progress_printer(_progress_wanted(args))
    if printer:
        svc.bus.subscribe(printer)
    if getattr(args, "timeout", None) is not None:
        svc.runner.config.timeout = args.timeout
        svc.runner.config.retry_budget = min(svc.runner.config.retry_budget, args.timeout)

    async def go() -> list[Any]:
        try:
            done = await svc.runner.resume_unfinished()
            # Sent but never answered: nothing to fetch, and it may have been billed — listed, never hidden.
            seen = {r.id for r in done}
            return done + [r for r in svc.history.unsettled() if r.id not in seen]
        finally:
            await svc.aclose()

    recs = asyncio.run(go())
    # A job started with -o is written there now, as the edit would have (never over an existing file).
    delivered = {r.id: _save_outputs(svc, r, r.deliver_to) or [] for r in recs if r.deliver_to}
    if args.json:
        _out({"jobs": [{"job_id": r.id, "status": r.state} for r in recs]})
        for paths in delivered.values():
            for p in paths:
                output.note(f"wrote {p}")
    else:
        if not recs:
            output.emit("No unfinished jobs.")
        for r in recs:
            output.emit(
                f"{r.id}: {r.state}" + (f" — {r.error_message}" if r.error_message else ""),
                keep_newlines=False,
            )
            for p in delivered.get(r.id, []):
                output.emit(f"  {p}")
    waiting = [r for r in recs if r.state == JobState.INTERRUPTED and (r.handle or r.submits)]
    return EXIT_RESUMABLE if waiting else EXIT_OK


def cmd_providers(args: argparse.Namespace) -> int:
    from .commands import parse_base_urls

    svc = Services.build(base_urls=parse_base_urls(getattr(args, "base_url", []) or [], []))
    try:
        balances: dict[str, dict[str, Any]] = {}
        if getattr(args, "balance", False):

            async def ask() -> dict[str, dict[str, Any]]:
                try:
                    return await svc.balances()
                finally:
                    if svc._runner is not None:
                        await svc._runner.aclose()

            balances = asyncio.run(ask())
        rows: list[dict[str, Any]] = []
        for info in svc.registry.all():
            rule = svc.price_table.rule_for(info.id, info.protocol)
            source = svc.key_source(info)
            rows.append(
                {
                    "id": info.id,
                    "label": info.label,
                    "display_name": info.display_name,
                    "protocol": info.protocol,
                    "simulator": info.simulator,
                    "preview": info.preview,
                    "needs_key": info.needs_key,
                    "key_set": source is not None,
                    "key_source": source,
                    "env_var": info.env_var,
                    "default_base_url": info.default_base_url,
                    "capabilities": info.capabilities.to_dict(),
                    "price": {
                        "rule": rule.rule,
                        "rate_usd": rule.rate_usd,
                        "approximate": rule.approximate,
                        "source_url": rule.source_url,
                        "checked": rule.checked,
                        "note": rule.note,
                    },
                }
            )
            if getattr(args, "balance", False):
                rows[-1]["balance"] = balances.get(info.id)  # null: this provider documents no balance
    finally:
        svc.history.close()
    if args.json:
        _out({"providers": rows})
        return 0
    for r in rows:
        key = (
            "no key needed"
            if not r["needs_key"]
            else (f"key: {r['key_source']}" if r["key_set"] else "no key")
        )
        line = (
            f"{r['id']:<18} {r['display_name']:<28} {key:<16} max refs {r['capabilities']['max_references']}"
        )
        bal = r.get("balance")
        if bal and bal.get("status") == "ok":
            line += f"  balance {bal['amount']:g} {bal['unit']}" + (
                f" (${bal['usd']:.2f})" if bal.get("usd") is not None else ""
            )
        elif bal and bal.get("status") == "error":
            line += f"  balance unavailable: {bal['message']}"
        output.emit(line, keep_newlines=False)
    return 0


def cmd_keys(args: argparse.Namespace) -> int:
    svc = Services.build()
    try:
        info = svc.registry.get(args.provider)
        if not info.needs_key:
            raise BadInput(f"{info.display_name} needs no key.")
        if args.keys_command == "set":
            if sys.stdin.isatty():
                import getpass

                key = getpass.getpass(f"API key for {info.label}: ")
            else:
                # all of it: a paste of two lines is refused, not cut to its first line
                key = sys.stdin.buffer.read(64 * 1024).decode("utf-8", "replace")
            if not key.strip():
                raise BadInput("No key was given on standard input.")
            key = check_key(key, label=info.label, where="from standard input")
            where = svc.secrets.set(info.id, key)
            if where != "keyring":  # a one-shot command has no session to keep it for
                raise BadInput(_no_keyring(svc, info, "so the key was not saved"))
            output.emit(f"Stored the key for {info.label} in the system keyring.")
            return 0
        existed = svc.secrets.delete(info.id)
        if svc.secrets.problem:
            raise BadInput(
                _no_keyring(svc, info, "so no key is stored on this computer and none was deleted", True)
            )
        output.emit(
            f"Deleted the key for {info.label}." if existed else f"No key was stored for {info.label}."
        )
        return 0
    except FlexError:
        raise
    finally:
        svc.history.close()


def _no_keyring(svc: Services, info: Any, outcome: str, deleting: bool = False) -> str:
    """Why ``keys set``/``keys delete`` did nothing, and what to do instead (exit 2: nothing was done)."""
    from ..storage.secrets import NO_KEYRING

    problem = svc.secrets.problem or ""
    why = (
        "No system keyring is available"
        if problem == NO_KEYRING
        else "The system keyring is locked"
        if "locked" in problem
        else "The system keyring could not be used"
    )
    if deleting:
        unset = f" (a key in {info.env_var} goes when that variable is unset)" if info.env_var else ""
        return f"{why}, {outcome}{unset}."
    instead = f"set {info.env_var} in the environment" if info.env_var else "use the window's Settings → Keys"
    return f"{why}, {outcome}; {instead}, or install a Secret Service (for example gnome-keyring)."


def cmd_presets(args: argparse.Namespace) -> int:
    svc = Services.build()
    try:
        store = svc.presets
        c = args.presets_command
        if c == "list":
            presets = store.list()
            if args.json:
                _out({"presets": [{**p.to_dict(), "builtin": p.builtin} for p in presets]})
            else:
                for p in presets:
                    output.emit(
                        f"{p.name:<20} {'built-in' if p.builtin else 'yours':<9} {p.description}",
                        keep_newlines=False,
                    )
        elif c == "show":
            p = store.get(args.name)
            output.emit_json({**p.to_dict(), "builtin": p.builtin}, indent=None if args.json else 2)
        elif c == "import":
            p = store.import_file(Path(args.file))
            output.emit(f"Imported preset {p.name!r}.", keep_newlines=False)
        else:
            path = store.export(args.name, Path(args.file))
            if path != Path(args.file):
                output.note(f"note: {args.file} already exists, so it was kept.")
            output.emit(f"Exported to {path}")
        return 0
    finally:
        svc.history.close()
