"""The history's sqlite3 schema: the migrations (``PRAGMA user_version``) and opening the file.

The file is opened in WAL mode and brought to ``SCHEMA_VERSION`` one migration at a time, each in its own
write transaction (another process may have migrated while this one waited for the lock). A read-only
folder opens the file read-only, if it is already at this version; a newer schema is refused.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from . import faults
from .db import SerializedConnection

MIGRATIONS: tuple[str, ...] = (
    # 1: the jobs table
    """
    CREATE TABLE jobs (
        id TEXT PRIMARY KEY,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        finished_at REAL,
        provider TEXT NOT NULL,
        state TEXT NOT NULL,
        prompt TEXT NOT NULL DEFAULT '',
        request_json TEXT NOT NULL,
        seed INTEGER,
        quote_usd REAL,
        quote_json TEXT,
        billed_usd REAL,
        provider_job_id TEXT,
        handle_json TEXT,
        progress REAL,
        message TEXT NOT NULL DEFAULT '',
        error_kind TEXT,
        error_message TEXT,
        outputs_json TEXT NOT NULL DEFAULT '[]',
        latency_s REAL,
        submits INTEGER NOT NULL DEFAULT 0,
        favourite INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX jobs_created ON jobs(created_at DESC);
    CREATE INDEX jobs_state ON jobs(state);
    """,
    # 2: lineage, comparison / sweep groups, winners, soft delete
    """
    ALTER TABLE jobs ADD COLUMN parent_job_id TEXT;
    ALTER TABLE jobs ADD COLUMN group_id TEXT;
    ALTER TABLE jobs ADD COLUMN group_kind TEXT;
    ALTER TABLE jobs ADD COLUMN winner INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE jobs ADD COLUMN deleted_at REAL;
    CREATE INDEX jobs_group ON jobs(group_id);
    CREATE INDEX jobs_parent ON jobs(parent_job_id);
    """,
    # 3: keyset paging of the history (newest first, ties broken by id)
    """
    CREATE INDEX jobs_page ON jobs(created_at DESC, id DESC);
    """,
    # 4: where a job was sent (profile + base URL), when the provider took it, and which process is
    # running it (owner + heartbeat), so resume goes back to the same place and leaves live jobs alone
    """
    ALTER TABLE jobs ADD COLUMN endpoint_json TEXT;
    ALTER TABLE jobs ADD COLUMN submitted_at REAL;
    ALTER TABLE jobs ADD COLUMN owner TEXT;
    ALTER TABLE jobs ADD COLUMN heartbeat_at REAL;
    """,
    # 5: references uploaded to a provider's file service (storage.uploads): the URL, never a key
    """
    CREATE TABLE uploads (
        profile TEXT NOT NULL,
        account TEXT NOT NULL,
        image_sha256 TEXT NOT NULL,
        target TEXT NOT NULL,
        url TEXT NOT NULL,
        expires_at REAL,
        created_at REAL NOT NULL,
        PRIMARY KEY (profile, account, image_sha256, target)
    );
    """,
    # 6: where the user asked the result to be written (edit -o PATH|DIR), so resume delivers it there
    """
    ALTER TABLE jobs ADD COLUMN deliver_to TEXT;
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)


def connect(path: Path, *, read_only: bool = False) -> SerializedConnection:
    """The history file opened (and migrated, unless ``read_only``), or an exception for ``faults``."""
    if read_only:
        uri = f"{path.resolve().as_uri()}?mode=ro&immutable=1"
        db = SerializedConnection(
            sqlite3.connect(
                uri,
                uri=True,
                isolation_level=None,
                check_same_thread=False,
                timeout=faults.busy_timeout(),
            )
        )
    else:
        db = SerializedConnection(
            sqlite3.connect(
                path, isolation_level=None, check_same_thread=False, timeout=faults.busy_timeout()
            )
        )
    try:
        db.row_factory = sqlite3.Row
        if not read_only:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
        db.execute("PRAGMA foreign_keys=ON")
        db.execute("SELECT count(*) FROM sqlite_master").fetchone()  # a damaged header shows here
        if read_only:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version != SCHEMA_VERSION:
                raise faults.StorageFault(
                    f"The history file {path} cannot be updated: its folder is read-only."
                )
        else:
            migrate(db, path)
    except BaseException:
        db.close()
        raise
    return db


def migrate(db: SerializedConnection, path: Path) -> int:
    version = db.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise faults.StorageFault(
            f"The history file {path} was written by a newer FlexStudio "
            f"(schema {version}); update FlexStudio to use it."
        )
    for target in range(version + 1, SCHEMA_VERSION + 1):
        script = MIGRATIONS[target - 1]
        db.execute("BEGIN IMMEDIATE")
        try:
            # Another process may have migrated while this one waited for the write lock.
            if db.execute("PRAGMA user_version").fetchone()[0] >= target:
                db.execute("COMMIT")
                continue
            for stmt in (s.strip() for s in script.split(";")):
                if stmt:
                    db.execute(stmt)
            db.execute(f"PRAGMA user_version={target}")
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
    return SCHEMA_VERSION
