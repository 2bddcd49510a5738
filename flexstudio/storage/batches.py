"""Batches: one edit over many inputs, kept so that running the same command again resumes it.

A batch row holds what was asked (the request template, provider, output folder, inputs as given) and
one item row per input: its file, the name its output gets, its quote, the job made for it and how it
ended. The jobs themselves live in the history (``group_kind = "batch"``, ``group_id`` = batch id); an
item points at its job the moment the job is written, before anything is sent, so a crash can never
make an input run twice. Its own sqlite file (WAL, ``user_version`` migrations) beside the history.
"""

from __future__ import annotations

import builtins
import json
import sqlite3
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..core.request import EditRequest
from . import faults
from .db import SerializedConnection

# Item states besides a job's own: not launched yet, or refused before anything was sent.
PENDING = "pending"
BAD_INPUT = "bad_input"
NOT_LAUNCHED = "not_launched"  # the batch stopped (spend cap, Ctrl-C) before this input was sent

_MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE batches (
        id TEXT PRIMARY KEY,
        key TEXT NOT NULL,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        provider TEXT NOT NULL,
        request_json TEXT NOT NULL,
        inputs_json TEXT NOT NULL,
        extras_json TEXT NOT NULL DEFAULT '[]',
        out_dir TEXT NOT NULL,
        concurrency INTEGER,
        max_cost REAL,
        status TEXT NOT NULL DEFAULT 'pending',
        note TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX batches_key ON batches(key, created_at DESC);
    CREATE TABLE batch_items (
        batch_id TEXT NOT NULL REFERENCES batches(id) ON DELETE CASCADE,
        idx INTEGER NOT NULL,
        input TEXT NOT NULL,
        stem TEXT NOT NULL,
        sha256 TEXT,
        width INTEGER,
        height INTEGER,
        quote_usd REAL,
        job_id TEXT,
        status TEXT NOT NULL DEFAULT 'pending',
        output TEXT,
        error_kind TEXT,
        error_message TEXT,
        PRIMARY KEY (batch_id, idx)
    );
    CREATE INDEX batch_items_job ON batch_items(job_id);
    """,
)
SCHEMA_VERSION = len(_MIGRATIONS)
TOUCH_EVERY = 1.0  # seconds: how fresh a batch's updated_at is kept while its items change


@dataclass(frozen=True, slots=True)
class Batch:
    id: str
    key: str
    created_at: float
    provider: str
    request: EditRequest
    inputs: tuple[str, ...]
    extras: tuple[str, ...]
    out_dir: str
    concurrency: int | None
    max_cost: float | None
    status: str
    note: str

    @property
    def manifest_path(self) -> Path:
        return Path(self.out_dir) / f"flexstudio-batch-{self.id}.jsonl"


@dataclass(frozen=True, slots=True)
class Item:
    batch_id: str
    idx: int
    input: str
    stem: str
    sha256: str | None = None
    width: int | None = None
    height: int | None = None
    quote_usd: float | None = None
    job_id: str | None = None
    status: str = PENDING
    output: str | None = None
    error_kind: str | None = None
    error_message: str | None = None


@dataclass(frozen=True, slots=True)
class NewItem:
    input: str
    stem: str
    sha256: str | None = None
    width: int | None = None
    height: int | None = None
    quote_usd: float | None = None
    status: str = PENDING
    error_kind: str | None = None
    error_message: str | None = None


_BATCH_COLS = (
    "id, key, created_at, provider, request_json, inputs_json, extras_json, out_dir, concurrency, "
    "max_cost, status, note"
)
_ITEM_COLS = (
    "batch_id, idx, input, stem, sha256, width, height, quote_usd, job_id, status, output, "
    "error_kind, error_message"
)
_ITEM_UPDATABLE = {"job_id", "status", "output", "error_kind", "error_message", "quote_usd"}


def _batch(row: sqlite3.Row) -> Batch:
    return Batch(
        id=row["id"],
        key=row["key"],
        created_at=row["created_at"],
        provider=row["provider"],
        request=EditRequest.from_json(row["request_json"]),
        inputs=tuple(json.loads(row["inputs_json"])),
        extras=tuple(json.loads(row["extras_json"])),
        out_dir=row["out_dir"],
        concurrency=row["concurrency"],
        max_cost=row["max_cost"],
        status=row["status"],
        note=row["note"],
    )


def _item(row: sqlite3.Row) -> Item:
    return Item(**{k: row[k] for k in row.keys()})  # noqa: SIM118 - sqlite3.Row has no iterator of names


class BatchStore:
    def __init__(self, db_path: Path) -> None:
        db_path.parent.mkdir(parents=True, exist_ok=True)
        self.path = db_path
        self.db = SerializedConnection(
            sqlite3.connect(db_path, isolation_level=None, check_same_thread=False, timeout=30)
        )
        self.db.row_factory = sqlite3.Row
        self._touched: dict[str, float] = {}  # batch id → when its updated_at was last written
        try:
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.execute("PRAGMA foreign_keys=ON")
            self._migrate()
            for table in ("batches", "batch_items"):  # damage past the header shows here, not mid-batch
                self.db.execute(f"SELECT count(*) FROM {table}").fetchone()
        except sqlite3.DatabaseError as exc:
            self.db.close()
            if faults.database_damaged(exc):
                raise faults.BatchesUnreadable(db_path, str(exc)) from None
            raise (faults.explain(exc, doing="opening the batch list") or exc) from None

    def _migrate(self) -> None:
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise RuntimeError(f"The batch list was written by a newer FlexStudio (schema {version}).")
        for target in range(version + 1, SCHEMA_VERSION + 1):
            self.db.execute("BEGIN IMMEDIATE")
            try:
                for stmt in (s.strip() for s in _MIGRATIONS[target - 1].split(";")):
                    if stmt:
                        self.db.execute(stmt)
                self.db.execute(f"PRAGMA user_version={target}")
                self.db.execute("COMMIT")
            except BaseException:
                self.db.execute("ROLLBACK")
                raise

    def close(self) -> None:
        self.db.close()

    # ------------------------------------------------------------------ batches
    def create(
        self,
        *,
        key: str,
        request: EditRequest,
        inputs: Sequence[str],
        extras: Sequence[str],
        out_dir: str,
        items: Iterable[NewItem],
        concurrency: int | None = None,
        max_cost: float | None = None,
    ) -> Batch:
        """The batch and all its items in one transaction (a batch is never half written)."""
        now = time.time()
        bid = uuid.uuid4().hex[:12]
        self.db.execute("BEGIN IMMEDIATE")
        try:
            self.db.execute(
                f"INSERT INTO batches ({_BATCH_COLS}, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    bid,
                    key,
                    now,
                    request.provider,
                    request.to_json(),
                    json.dumps(list(inputs)),
                    json.dumps(list(extras)),
                    out_dir,
                    concurrency,
                    max_cost,
                    "pending",
                    "",
                    now,
                ),
            )
            self.db.executemany(
                f"INSERT INTO batch_items ({_ITEM_COLS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    (
                        bid,
                        i,
                        it.input,
                        it.stem,
                        it.sha256,
                        it.width,
                        it.height,
                        it.quote_usd,
                        None,
                        it.status,
                        None,
                        it.error_kind,
                        it.error_message,
                    )
                    for i, it in enumerate(items)
                ),
            )
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        return self.get(bid)

    def get(self, batch_id: str) -> Batch:
        row = self.db.execute(f"SELECT {_BATCH_COLS} FROM batches WHERE id=?", (batch_id,)).fetchone()
        if row is None and len(batch_id) >= 4:
            rows = self.db.execute(
                f"SELECT {_BATCH_COLS} FROM batches WHERE id LIKE ? LIMIT 2", (batch_id + "%",)
            ).fetchall()
            row = rows[0] if len(rows) == 1 else None
        if row is None:
            raise KeyError(batch_id)
        return _batch(row)

    def find(self, key: str) -> Batch | None:
        """The latest batch made by the same command (same edit, provider, inputs and folder)."""
        row = self.db.execute(
            f"SELECT {_BATCH_COLS} FROM batches WHERE key=? ORDER BY created_at DESC LIMIT 1", (key,)
        ).fetchone()
        return _batch(row) if row else None

    def list(self, limit: int = 50) -> list[Batch]:
        rows = self.db.execute(
            f"SELECT {_BATCH_COLS} FROM batches ORDER BY created_at DESC LIMIT ?", (limit,)
        ).fetchall()
        return [_batch(r) for r in rows]

    def set_status(self, batch_id: str, status: str, note: str = "") -> None:
        self.db.execute(
            "UPDATE batches SET status=?, note=?, updated_at=? WHERE id=?",
            (status, note, time.time(), batch_id),
        )

    # ------------------------------------------------------------------ items
    def items(self, batch_id: str) -> builtins.list[Item]:
        rows = self.db.execute(
            f"SELECT {_ITEM_COLS} FROM batch_items WHERE batch_id=? ORDER BY idx", (batch_id,)
        ).fetchall()
        return [_item(r) for r in rows]

    def iter_items(self, batch_id: str, chunk: int = 500) -> Iterator[Item]:
        """Every item in order, a page at a time (a huge batch is never all in memory)."""
        last = -1
        while True:
            rows = self.db.execute(
                f"SELECT {_ITEM_COLS} FROM batch_items WHERE batch_id=? AND idx>? ORDER BY idx LIMIT ?",
                (batch_id, last, chunk),
            ).fetchall()
            if not rows:
                return
            for r in rows:
                yield _item(r)
            last = rows[-1]["idx"]

    def item(self, batch_id: str, idx: int) -> Item:
        row = self.db.execute(
            f"SELECT {_ITEM_COLS} FROM batch_items WHERE batch_id=? AND idx=?", (batch_id, idx)
        ).fetchone()
        if row is None:
            raise KeyError((batch_id, idx))
        return _item(row)

    def update_item(self, batch_id: str, idx: int, **changes: Any) -> Item:
        unknown = set(changes) - _ITEM_UPDATABLE
        if unknown:
            raise TypeError(f"cannot update {sorted(unknown)}")
        if not changes:
            return self.item(batch_id, idx)
        cols = ", ".join(f"{k}=?" for k in changes)
        # one statement: the row as written comes back with it (a batch's items change on the event loop)
        row = self.db.execute(
            f"UPDATE batch_items SET {cols} WHERE batch_id=? AND idx=? RETURNING {_ITEM_COLS}",
            (*changes.values(), batch_id, idx),
        ).fetchone()
        if row is None:
            raise KeyError((batch_id, idx))
        self._touch(batch_id)
        return _item(row)

    def _touch(self, batch_id: str) -> None:
        """The batch's ``updated_at``, kept to the second: not one more write for every item change."""
        now = time.time()
        if now - self._touched.get(batch_id, 0.0) >= TOUCH_EVERY:
            self._touched[batch_id] = now
            self.db.execute("UPDATE batches SET updated_at=? WHERE id=?", (now, batch_id))

    def counts(self, batch_id: str) -> dict[str, int]:
        return {
            r[0]: r[1]
            for r in self.db.execute(
                "SELECT status, COUNT(*) FROM batch_items WHERE batch_id=? GROUP BY status", (batch_id,)
            )
        }
