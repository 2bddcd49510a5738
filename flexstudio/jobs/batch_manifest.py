"""The batch's manifest, ``DIR/flexstudio-batch-<id>.jsonl``: one line per input (input, job id, status,
quote, billed, latency, output, error), rewritten whole while the batch runs and at its end."""

from __future__ import annotations

import contextlib
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core.errors import ErrorKind
from ..core.job_state import JobState
from ..storage.batches import BAD_INPUT, NOT_LAUNCHED, PENDING, Batch, BatchStore, Item

if TYPE_CHECKING:
    from ..storage.history import JobRecord


def public_status(it: Item) -> str:
    """The contract's status for an item: an input refused before sending failed; one never launched
    (cap, Ctrl-C) is reported cancelled — the batch launches it when run again."""
    if it.status == BAD_INPUT:
        return JobState.FAILED.value
    if it.status in (PENDING, NOT_LAUNCHED):
        return JobState.CANCELLED.value
    return it.status


def manifest_line(it: Item, rec: JobRecord | None) -> dict[str, Any]:
    err = None
    status = public_status(it)
    if it.error_kind or (rec is not None and rec.state != JobState.SUCCEEDED.value):
        err = {
            "kind": it.error_kind or (rec.error_kind if rec else None) or ErrorKind.PROVIDER.value,
            "message": it.error_message or (rec.error_message if rec else None) or status,
        }
    return {
        "input": it.input,
        "job_id": it.job_id,
        "status": status,
        "quote_usd": rec.quote_usd if rec else it.quote_usd,
        "billed_usd": rec.billed_usd if rec else None,
        "latency_s": rec.latency_s if rec else None,
        "output": it.output,
        "error": err,
    }


MANIFEST_PAGE = 100  # items read, and their jobs fetched in one statement, at a time
SETTLED_LINES = 20_000  # at most this many finished items' lines are kept between rewrites


def write_manifest(
    store: BatchStore, history: Any, batch: Batch, settled: dict[int, str] | None = None
) -> Path:
    """``DIR/flexstudio-batch-<id>.jsonl``: one line per input, rewritten whole (temp file + rename).

    Items are read a page at a time and their jobs fetched together (one statement per page, not one per
    job: a short hold of the shared connection, and less of the interpreter, while the window runs).
    ``settled`` (kept by the caller between the rewrites of one run) remembers the lines of items that
    cannot change any more, so a rewrite while the batch runs reads only the items still moving."""
    path = batch.manifest_path
    path.parent.mkdir(parents=True, exist_ok=True)
    # created as any new file of the user's is (umask), like the outputs beside it, not private to its owner
    tmp = str(path.parent / f".tmp-manifest-{os.urandom(8).hex()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            page: list[Item] = []
            for it in store.iter_items(batch.id):
                page.append(it)
                if len(page) == MANIFEST_PAGE:
                    f.write(_manifest_page(page, history, settled))
                    page = []
            f.write(_manifest_page(page, history, settled))
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return path


_SETTLED = {
    JobState.SUCCEEDED.value,
    JobState.FAILED.value,
    JobState.MODERATED.value,
    JobState.CANCELLED.value,
}


def _manifest_page(page: list[Item], history: Any, settled: dict[int, str] | None) -> str:
    known = settled if settled is not None else {}
    recs = _jobs(history, [it.job_id for it in page if it.job_id and it.idx not in known])
    lines = []
    for it in page:
        line = known.get(it.idx)
        if line is None:
            rec = recs.get(it.job_id) if it.job_id else None
            line = json.dumps(manifest_line(it, rec), ensure_ascii=False)
            final = it.status == BAD_INPUT or (
                rec is not None and it.status in _SETTLED and rec.state == it.status
            )
            if settled is not None and final and len(settled) < SETTLED_LINES:
                settled[it.idx] = line
        lines.append(line + "\n")
    return "".join(lines)


def _jobs(history: Any, job_ids: list[str]) -> dict[str, Any]:
    if not job_ids:
        return {}
    get_many = getattr(history, "get_many", None)
    if get_many is not None:
        return dict(get_many(job_ids))
    out = {}
    for job_id in job_ids:
        with contextlib.suppress(KeyError):
            out[job_id] = history.get(job_id)
    return out
