"""The history: every job ever run, in sqlite3 (WAL, ``user_version`` migrations).

Rows are written *before* each network step (the job runner calls ``update`` at every transition), so a
crash or kill loses nothing: the provider's job id and polling handle are stored the moment a submit
returns. Image bytes live in the ``BlobStore``; a row only ever points at blobs already on disk.
"""

from __future__ import annotations

import builtins
import json
import sqlite3
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core.job_state import ACTIVE, TERMINAL, JobState
from ..core.request import EditRequest
from . import faults, history_schema

# The states as stored (for SQL parameters): where a job has ended, and where its quote counts as spent
# until a bill says otherwise (it ran, or may still run; moderated ones may be billed).
_ENDED = tuple(sorted(s.value for s in TERMINAL))
_SPENDING = tuple(sorted(s.value for s in (*ACTIVE, JobState.SUCCEEDED, JobState.MODERATED)))


@dataclass(frozen=True, slots=True)
class Output:
    sha256: str
    mime: str
    width: int
    height: int

    def to_dict(self) -> dict[str, Any]:
        return {"sha256": self.sha256, "mime": self.mime, "width": self.width, "height": self.height}


@dataclass(frozen=True, slots=True)
class JobRecord:
    id: str
    created_at: float
    updated_at: float
    provider: str
    state: JobState
    request: EditRequest
    quote_usd: float | None = None
    quote: dict[str, Any] | None = None
    billed_usd: float | None = None
    provider_job_id: str | None = None
    handle: dict[str, Any] | None = None
    progress: float | None = None
    message: str = ""
    error_kind: str | None = None
    error_message: str | None = None
    outputs: tuple[Output, ...] = ()
    latency_s: float | None = None
    submits: int = 0
    favourite: bool = False
    finished_at: float | None = None
    parent_job_id: str | None = None
    group_id: str | None = None
    group_kind: str | None = None
    winner: bool = False
    endpoint: dict[str, Any] | None = None  # {"profile", "base_url"} the job was sent to
    submitted_at: float | None = None  # when the provider's answer to the submit arrived
    owner: str | None = None  # the process running it (jobs/owner.py)
    heartbeat_at: float | None = None
    deliver_to: str | None = None  # edit -o, absolute (a trailing separator means a folder)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def finished(self) -> bool:
        return self.state in TERMINAL

    @property
    def seed(self) -> int | None:
        return self.request.seed


_COLUMNS = (
    "id",
    "created_at",
    "updated_at",
    "finished_at",
    "provider",
    "state",
    "prompt",
    "request_json",
    "seed",
    "quote_usd",
    "quote_json",
    "billed_usd",
    "provider_job_id",
    "handle_json",
    "progress",
    "message",
    "error_kind",
    "error_message",
    "outputs_json",
    "latency_s",
    "submits",
    "favourite",
    "parent_job_id",
    "group_id",
    "group_kind",
    "winner",
    "endpoint_json",
    "submitted_at",
    "owner",
    "heartbeat_at",
    "deliver_to",
)
_UPDATABLE = {
    "state",
    "quote_usd",
    "billed_usd",
    "provider_job_id",
    "handle",
    "progress",
    "message",
    "error_kind",
    "error_message",
    "outputs",
    "latency_s",
    "submits",
    "favourite",
    "finished_at",
    "parent_job_id",
    "group_id",
    "group_kind",
    "winner",
    "request",
    "endpoint",
    "submitted_at",
    "owner",
    "heartbeat_at",
    "deliver_to",
}


def _damage(exc: BaseException) -> str:
    """What is wrong with a job's row, in plain words (never an exception's class name)."""
    if isinstance(exc, json.JSONDecodeError):
        return "part of its record is not readable text"
    if isinstance(exc, KeyError | IndexError):
        return "part of its record is missing"
    if isinstance(exc, ValueError | TypeError):
        return "a value in its record has the wrong form"
    return "its record could not be understood"


def _row_to_record(row: sqlite3.Row) -> JobRecord:
    return JobRecord(
        id=row["id"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        provider=row["provider"],
        state=JobState(row["state"]),
        request=EditRequest.from_json(row["request_json"]),
        quote_usd=row["quote_usd"],
        quote=json.loads(row["quote_json"]) if row["quote_json"] else None,
        billed_usd=row["billed_usd"],
        provider_job_id=row["provider_job_id"],
        handle=json.loads(row["handle_json"]) if row["handle_json"] else None,
        progress=row["progress"],
        message=row["message"],
        error_kind=row["error_kind"],
        error_message=row["error_message"],
        outputs=tuple(Output(**o) for o in json.loads(row["outputs_json"] or "[]")),
        latency_s=row["latency_s"],
        submits=row["submits"],
        favourite=bool(row["favourite"]),
        finished_at=row["finished_at"],
        parent_job_id=row["parent_job_id"],
        group_id=row["group_id"],
        group_kind=row["group_kind"],
        winner=bool(row["winner"]),
        endpoint=json.loads(row["endpoint_json"]) if row["endpoint_json"] else None,
        submitted_at=row["submitted_at"],
        owner=row["owner"],
        heartbeat_at=row["heartbeat_at"],
        deliver_to=row["deliver_to"],
    )


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class History:
    def __init__(self, db_path: Path) -> None:
        self.path = db_path
        self.read_only = False
        self.skipped: list[str] = []  # ids of rows the last read could not decode (noted, not fatal)
        try:
            db_path.parent.mkdir(parents=True, exist_ok=True)
            self.db = history_schema.connect(db_path)
        except (sqlite3.Error, OSError) as exc:
            fault = faults.explain(exc, db_path, doing="opening the history")
            if fault is None:
                raise
            if isinstance(fault, faults.HistoryUnreadable) or not db_path.is_file():
                raise fault from None
            try:  # a read-only folder: the history can still be read (list, show, export)
                self.db = history_schema.connect(db_path, read_only=True)
                self.read_only = True
            except (sqlite3.Error, OSError) as exc2:
                raise (faults.explain(exc2, db_path, doing="opening the history") or fault) from None

    def close(self) -> None:
        self.db.close()

    def integrity_check(self) -> str:
        return str(self.db.execute("PRAGMA integrity_check").fetchone()[0])

    # ------------------------------------------------------------------ writes
    def create(
        self,
        request: EditRequest,
        *,
        quote_usd: float | None = None,
        quote: dict[str, Any] | None = None,
        parent_job_id: str | None = None,
        group_id: str | None = None,
        group_kind: str | None = None,
        state: JobState = JobState.QUEUED,
        owner: str | None = None,
    ) -> JobRecord:
        now = time.time()
        job_id = uuid.uuid4().hex[:12]
        row = self.db.execute(
            "INSERT INTO jobs (id, created_at, updated_at, provider, state, prompt, request_json, seed,"
            " quote_usd, quote_json, parent_job_id, group_id, group_kind, owner, heartbeat_at)"
            f" VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) RETURNING {', '.join(_COLUMNS)}",
            (
                job_id,
                now,
                now,
                request.provider,
                state.value,
                request.prompt,
                request.to_json(),
                request.seed,
                quote_usd,
                json.dumps(quote) if quote is not None else None,
                parent_job_id,
                group_id,
                group_kind,
                owner,
                now if owner else None,
            ),
        ).fetchone()
        return self._decoded(
            row
        )  # the row as written, in the same statement (jobs are written on the GUI thread)

    def update(self, job_id: str, **changes: Any) -> JobRecord:
        unknown = set(changes) - _UPDATABLE
        if unknown:
            raise TypeError(f"cannot update {sorted(unknown)}")
        cols: list[str] = []
        vals: list[Any] = []
        for key, value in changes.items():
            if key in ("handle", "endpoint"):
                cols.append(f"{key}_json")
                vals.append(json.dumps(value) if value is not None else None)
            elif key == "outputs":
                cols.append("outputs_json")
                vals.append(json.dumps([o.to_dict() for o in value]))
            elif key == "request":
                cols += ["request_json", "prompt", "seed", "provider"]
                vals += [value.to_json(), value.prompt, value.seed, value.provider]
            elif key in ("favourite", "winner"):
                cols.append(key)
                vals.append(int(bool(value)))
            else:
                cols.append(key)
                vals.append(value)
        cols.append("updated_at")
        vals.append(time.time())
        row = self.db.execute(
            f"UPDATE jobs SET {', '.join(c + '=?' for c in cols)} WHERE id=? RETURNING {', '.join(_COLUMNS)}",
            (*vals, job_id),
        ).fetchone()
        # the row as written comes back with the statement; no job of exactly that id: as ``get`` says
        return self._decoded(row) if row is not None else self.get(job_id)

    def delete(self, job_id: str) -> None:
        """Soft delete (undoable with ``restore``)."""
        self.db.execute("UPDATE jobs SET deleted_at=? WHERE id=?", (time.time(), job_id))

    def restore(self, job_id: str) -> None:
        self.db.execute("UPDATE jobs SET deleted_at=NULL WHERE id=?", (job_id,))

    def purge(self, job_id: str) -> None:
        self.db.execute("DELETE FROM jobs WHERE id=?", (job_id,))

    # ------------------------------------------------------------------ reads
    def get(self, job_id: str) -> JobRecord:
        row = self.db.execute(f"SELECT {', '.join(_COLUMNS)} FROM jobs WHERE id=?", (job_id,)).fetchone()
        if row is None:
            rows = (
                self.db.execute(
                    f"SELECT {', '.join(_COLUMNS)} FROM jobs WHERE id LIKE ? ESCAPE '\\' LIMIT 2",
                    (_like_escape(job_id) + "%",),
                ).fetchall()
                if len(job_id) >= 4
                else []
            )
            if len(rows) != 1:
                raise KeyError(job_id)
            row = rows[0]
        return self._decoded(row)

    @staticmethod
    def _decoded(row: sqlite3.Row) -> JobRecord:
        try:
            return _row_to_record(row)
        except Exception as exc:
            raise faults.StorageFault(
                f"Job {row['id']} in the history is damaged and cannot be read: {_damage(exc)}. "
                "The other jobs are not affected."
            ) from None

    def get_many(self, job_ids: Sequence[str]) -> dict[str, JobRecord]:
        """The records of these jobs by id, read together (exact ids; a missing or unreadable one is left
        out): a window showing many jobs that changed at once reads them in one statement, not one each."""
        out: dict[str, JobRecord] = {}
        ids = list(dict.fromkeys(job_ids))
        for i in range(0, len(ids), 500):  # well under SQLite's limit of bound parameters
            chunk = ids[i : i + 500]
            rows = self.db.execute(
                f"SELECT {', '.join(_COLUMNS)} FROM jobs WHERE id IN ({','.join('?' * len(chunk))})", chunk
            ).fetchall()
            out.update((rec.id, rec) for rec in self._records(rows))
        return out

    def _records(self, rows: Iterable[sqlite3.Row]) -> list[JobRecord]:
        """Decode rows; a row that cannot be decoded is skipped and its id noted in ``skipped``."""
        out: list[JobRecord] = []
        self.skipped = []
        for r in rows:
            try:
                out.append(_row_to_record(r))
            except Exception:
                self.skipped.append(str(r["id"]))
        return out

    def _where(
        self,
        search: str | None,
        provider: str | None,
        states: Sequence[str] | None,
        favourite: bool | None,
        group_id: str | None,
        group_kind: str | None = None,
    ) -> tuple[str, list[Any]]:
        clauses = ["deleted_at IS NULL"]
        args: list[Any] = []
        if search:
            clauses.append("prompt LIKE ? ESCAPE '\\'")
            args.append("%" + _like_escape(search) + "%")
        if provider:
            clauses.append("provider=?")
            args.append(provider)
        if states:
            clauses.append(f"state IN ({','.join('?' * len(states))})")
            args.extend(states)
        if favourite:
            clauses.append("favourite=1")
        if group_id:
            clauses.append("group_id=?")
            args.append(group_id)
        if group_kind == "single":  # jobs that belong to no comparison, sweep or batch
            clauses.append("group_kind IS NULL")
        elif group_kind:
            clauses.append("group_kind=?")
            args.append(group_kind)
        return " AND ".join(clauses), args

    def list(
        self,
        *,
        limit: int = 200,
        offset: int = 0,
        search: str | None = None,
        provider: str | None = None,
        states: Sequence[str] | None = None,
        favourite: bool | None = None,
        group_id: str | None = None,
        before: tuple[float, str] | None = None,
        group_kind: str | None = None,
    ) -> list[JobRecord]:
        """Newest first. For paging a long history pass ``before=(created_at, id)`` of the last record
        already shown (keyset paging: every page costs the same, unlike a growing OFFSET). ``group_kind``:
        "comparison", "sweep", "batch", or "single" for jobs in no group."""
        where, args = self._where(search, provider, states, favourite, group_id, group_kind)
        if before is not None:
            where += " AND (created_at < ? OR (created_at = ? AND id < ?))"
            args = [*args, before[0], before[0], before[1]]
        rows = self.db.execute(
            f"SELECT {', '.join(_COLUMNS)} FROM jobs WHERE {where} ORDER BY created_at DESC, id DESC"
            " LIMIT ? OFFSET ?",
            (*args, limit, offset),
        ).fetchall()
        return self._records(rows)

    def count(
        self,
        *,
        search: str | None = None,
        provider: str | None = None,
        states: Sequence[str] | None = None,
        favourite: bool | None = None,
        group_id: str | None = None,
        group_kind: str | None = None,
    ) -> int:
        where, args = self._where(search, provider, states, favourite, group_id, group_kind)
        return int(self.db.execute(f"SELECT COUNT(*) FROM jobs WHERE {where}", args).fetchone()[0])

    def unfinished(self) -> builtins.list[JobRecord]:
        marks = ",".join("?" * len(_ENDED))
        rows = self.db.execute(
            f"SELECT {', '.join(_COLUMNS)} FROM jobs WHERE state NOT IN ({marks}) ORDER BY created_at", _ENDED
        ).fetchall()
        return self._records(rows)

    def resumable(self) -> builtins.list[JobRecord]:
        """What ``resume`` looks at: jobs a crash left unfinished, and interrupted jobs with a handle."""
        marks = ",".join("?" * len(_ENDED))
        rows = self.db.execute(
            f"SELECT {', '.join(_COLUMNS)} FROM jobs WHERE deleted_at IS NULL AND (state NOT IN ({marks})"
            " OR (state=? AND handle_json IS NOT NULL)) ORDER BY created_at",
            (*_ENDED, JobState.INTERRUPTED.value),
        ).fetchall()
        return self._records(rows)

    def unsettled(self) -> builtins.list[JobRecord]:
        """Interrupted jobs that were sent but have no handle (the submit's answer was lost): there is
        nothing to fetch, and they may have been billed until the user gives them up."""
        rows = self.db.execute(
            f"SELECT {', '.join(_COLUMNS)} FROM jobs WHERE deleted_at IS NULL AND state=?"
            " AND handle_json IS NULL AND submits>0 ORDER BY created_at",
            (JobState.INTERRUPTED.value,),
        ).fetchall()
        return self._records(rows)

    def claim(self, job_id: str, owner: str, *, expected: str | None) -> bool:
        """Take a job for ``owner`` if its owner is still ``expected`` (compare-and-set: of two
        processes resuming at once, one wins)."""
        now = time.time()
        cur = self.db.execute(
            "UPDATE jobs SET owner=?, heartbeat_at=? WHERE id=? AND owner IS ?",
            (owner, now, job_id, expected),
        )
        return cur.rowcount == 1

    def heartbeat(self, job_ids: Sequence[str], owner: str) -> None:
        if job_ids:
            self.db.execute(
                f"UPDATE jobs SET heartbeat_at=? WHERE owner=? AND id IN ({','.join('?' * len(job_ids))})",
                (time.time(), owner, *job_ids),
            )

    def children(self, job_id: str) -> builtins.list[JobRecord]:
        rows = self.db.execute(
            f"SELECT {', '.join(_COLUMNS)} FROM jobs WHERE parent_job_id=? AND"
            " deleted_at IS NULL ORDER BY created_at",
            (job_id,),
        ).fetchall()
        return self._records(rows)

    def ancestry(self, job_id: str) -> builtins.list[JobRecord]:
        """The chain of jobs that fed this one (via "use result as reference"), root first."""
        chain: list[JobRecord] = []
        seen: set[str] = set()
        current: str | None = job_id
        while current and current not in seen:
            seen.add(current)
            try:
                rec = self.get(current)
            except KeyError:
                break
            chain.append(rec)
            current = rec.parent_job_id
        return chain[::-1]

    def lineage_tree(self, root_id: str) -> builtins.list[tuple[int, JobRecord, float]]:
        """Depth-first (depth, job, cumulative cost of the branch down to it) from a root job."""
        out: list[tuple[int, JobRecord, float]] = []

        def cost(r: JobRecord) -> float:
            return r.billed_usd if r.billed_usd is not None else (r.quote_usd or 0.0)

        def walk(rec: JobRecord, depth: int, acc: float) -> None:
            total = acc + cost(rec)
            out.append((depth, rec, round(total, 6)))
            for child in self.children(rec.id):
                if len(out) < 10_000:
                    walk(child, depth + 1, total)

        walk(self.get(root_id), 0, 0.0)
        return out

    def set_winner(self, job_id: str) -> None:
        """Mark one job of a comparison group as the winner (and no other)."""
        rec = self.get(job_id)
        if rec.group_id:
            self.db.execute("UPDATE jobs SET winner=0 WHERE group_id=?", (rec.group_id,))
        self.db.execute("UPDATE jobs SET winner=1 WHERE id=?", (job_id,))

    def spend_since(self, since: float) -> float:
        """Money spent since a time: the billed amount where known, else the quote, for jobs that ran —
        including moderated jobs whose bill is not known (a provider that may bill, or does not say) and
        interrupted jobs that were sent (they may have been billed, until the user gives them up)."""
        row = self.db.execute(
            "SELECT COALESCE(SUM(CASE WHEN billed_usd IS NOT NULL THEN billed_usd"
            f" WHEN state IN ({','.join('?' * len(_SPENDING))})"
            " OR (state=? AND submits>0)"
            " THEN COALESCE(quote_usd, 0) ELSE 0 END), 0) FROM jobs WHERE created_at>=?",
            (*_SPENDING, JobState.INTERRUPTED.value, since),
        ).fetchone()
        return float(row[0])

    def providers_used(self) -> builtins.list[str]:
        return [r[0] for r in self.db.execute("SELECT DISTINCT provider FROM jobs ORDER BY provider")]

    def bulk_insert(self, records: Iterable[tuple[EditRequest, str, float]]) -> None:
        """Fast import (benchmarks, migrations from other tools): (request, state, created_at)."""
        self.db.execute("BEGIN")
        try:
            self.db.executemany(
                "INSERT INTO jobs (id, created_at, updated_at, provider, state, prompt, request_json, seed)"
                " VALUES (?,?,?,?,?,?,?,?)",
                (
                    (uuid.uuid4().hex[:12], ts, ts, r.provider, st, r.prompt, r.to_json(), r.seed)
                    for r, st, ts in records
                ),
            )
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
