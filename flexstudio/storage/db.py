"""One SQLite connection shared by several threads, used one statement at a time.

The window runs history queries on the GUI thread and, at the same time, in its executor threads (the
runner, the recovery of waiting jobs, batches). Python's ``sqlite3`` allows a connection to cross
threads (``check_same_thread=False``) but does not make concurrent use safe: two threads stepping
statements on one connection can crash the interpreter. Every statement here runs, and its rows are
read, under one re-entrant lock; an explicit transaction (``BEGIN`` … ``COMMIT``/``ROLLBACK``) keeps
the lock from its first statement to its last, so another thread's statement never lands inside it.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

_BEGINS = ("BEGIN",)
_ENDS = ("COMMIT", "ROLLBACK", "END")


class Result:
    """The rows of one statement, read while the lock was held."""

    def __init__(self, rows: list[Any], rowcount: int, lastrowid: int | None) -> None:
        self._rows = rows
        self._next = 0
        self.rowcount = rowcount
        self.lastrowid = lastrowid

    def fetchone(self) -> Any:
        if self._next >= len(self._rows):
            return None
        row = self._rows[self._next]
        self._next += 1
        return row

    def fetchall(self) -> list[Any]:
        rows = self._rows[self._next :]
        self._next = len(self._rows)
        return rows

    def __iter__(self) -> Iterator[Any]:
        return iter(self.fetchall())


class SerializedConnection:
    """A ``sqlite3.Connection`` whose statements never run concurrently (see the module's doc)."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._db = connection
        self._lock = threading.RLock()

    @property
    def lock(self) -> threading.RLock:
        return self._lock

    @property
    def row_factory(self) -> Any:
        return self._db.row_factory

    @row_factory.setter
    def row_factory(self, factory: Any) -> None:
        self._db.row_factory = factory

    def execute(self, sql: str, parameters: Sequence[Any] | dict[str, Any] = ()) -> Result:
        word = sql.lstrip()[:8].upper()
        with self._lock:
            cursor = self._db.execute(sql, parameters)
            result = Result(cursor.fetchall(), cursor.rowcount, cursor.lastrowid)
            if word.startswith(_BEGINS):
                self._lock.acquire()  # held until the transaction ends, on this thread
            elif word.startswith(_ENDS) and not self._db.in_transaction:
                self._release_transaction()
            return result

    def executemany(self, sql: str, seq_of_parameters: Iterable[Sequence[Any]]) -> Result:
        with self._lock:
            cursor = self._db.executemany(sql, seq_of_parameters)
            return Result(cursor.fetchall(), cursor.rowcount, cursor.lastrowid)

    def _release_transaction(self) -> None:
        try:
            self._lock.release()
        except RuntimeError:  # a COMMIT without our BEGIN (none here): nothing is held
            pass

    def close(self) -> None:
        with self._lock:
            self._db.close()
