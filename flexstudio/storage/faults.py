"""Storage faults said as sentences: an unreadable history (with a way to move it aside and start
fresh, keeping the old file), a read-only or full disk, a history locked by another program (and
which one), and unexpected errors logged to a file whose path the sentence gives."""

from __future__ import annotations

import errno
import logging
import os
import sqlite3
import struct
import sys
import time
import traceback
from pathlib import Path

from ..core.errors import ErrorKind, FlexError

BUSY_TIMEOUT_S = 30.0
LOG_NAME = "flexstudio-errors.log"
_DISK_FULL = {errno.ENOSPC, errno.EFBIG, getattr(errno, "EDQUOT", errno.ENOSPC)}
_READ_ONLY = {errno.EROFS, errno.EACCES, errno.EPERM}


class StorageFault(FlexError):
    """The computer, not the user or the provider: a disk, a file, a lock. Nothing was sent."""

    kind = ErrorKind.BAD_INPUT


class FileUnreadable(StorageFault):
    """One of FlexStudio's own database files is damaged or not a database: the sentence names the file
    and what it holds, and how to move it aside (``move_aside``) and start a fresh one."""

    holds = "FlexStudio's data"  # what the file holds, in the user's words
    fresh = "a fresh file"  # what starts when it is moved aside
    untouched = ""  # what moving it aside leaves alone
    where = "open the window"  # where the window offers "Move aside"

    def __init__(self, path: Path, detail: str) -> None:
        self.path = path
        self.detail = detail
        keep = f" {self.untouched}" if self.untouched else ""
        super().__init__(
            f"{self.headline()} FlexStudio can move it aside to {aside_name(path).name} (the old file is "
            f'kept) and start {self.fresh}{keep}: {self.where} and choose "Move aside", or run: '
            f"mv '{path}' '{aside_name(path)}'"
        )

    def headline(self) -> str:
        return f"The file {self.path} ({self.holds}) cannot be read ({self.detail})."


class HistoryUnreadable(FileUnreadable):
    """The history file is damaged or not a database. ``move_aside`` starts a fresh one."""

    holds = "the history of your edits"
    fresh = "a fresh history"

    def headline(self) -> str:
        return f"The history file {self.path} cannot be read ({self.detail})."


class BatchesUnreadable(FileUnreadable):
    """The batch list (``batches.sqlite3``: every batch and how far it got, for resuming) is damaged."""

    holds = "the list of batches and their progress, for resuming them"
    fresh = "a fresh batch list"
    untouched = "— your history and images are not touched"
    where = "open Run → Batch… in the window"

    def headline(self) -> str:
        return f"The batch list {self.path} ({self.holds}) cannot be read ({self.detail})."


def database_damaged(exc: BaseException) -> bool:
    """Whether a sqlite error says the file itself is damaged (not locked, full or read-only)."""
    if not isinstance(exc, sqlite3.DatabaseError):
        return False
    text = str(exc).lower()
    if any(w in text for w in ("locked", "busy", "full", "readonly", "read-only", "unable to open")):
        return False
    return (
        "not a database" in text
        or "malformed" in text
        or "corrupt" in text
        or not isinstance(exc, sqlite3.OperationalError)
    )


def busy_timeout() -> float:
    """How long to wait for another program's lock on the history (``FLEXSTUDIO_DB_BUSY_TIMEOUT``
    shortens it, for tests)."""
    try:
        value = float(os.environ.get("FLEXSTUDIO_DB_BUSY_TIMEOUT", BUSY_TIMEOUT_S))
    except ValueError:
        return BUSY_TIMEOUT_S
    return value if value >= 0 else BUSY_TIMEOUT_S


def aside_name(path: Path) -> Path:
    return path.with_name(f"{path.name}.broken-{time.strftime('%Y%m%d-%H%M%S')}")


def move_aside(path: Path) -> Path:
    """Rename the history (and its -wal/-shm companions) out of the way; returns the new name."""
    target = aside_name(path)
    n = 1
    while target.exists():
        n += 1
        target = target.with_name(f"{aside_name(path).name}-{n}")
    for suffix in ("", "-wal", "-shm"):
        src = path.with_name(path.name + suffix)
        if src.exists():
            src.replace(target.with_name(target.name + suffix))
    return target


# ---------------------------------------------------------------------- who holds the lock
def _getlk(path: Path, start: int) -> int | None:
    """The pid of a process holding a POSIX lock over byte ``start`` of ``path`` (Linux/BSD/macOS)."""
    try:
        import fcntl
    except ImportError:
        return None
    fmt = "hhqqi" if sys.platform.startswith("linux") else "qqihh"
    try:
        fd = os.open(path, os.O_RDWR)
    except OSError:
        return None
    try:
        if sys.platform.startswith("linux"):
            req = struct.pack(fmt, fcntl.F_WRLCK, os.SEEK_SET, start, 1, 0)
            res = fcntl.fcntl(fd, fcntl.F_GETLK, req)
            l_type, _w, _s, _l, pid = struct.unpack(fmt, res)
        else:
            req = struct.pack(fmt, start, 1, 0, fcntl.F_WRLCK, os.SEEK_SET)
            res = fcntl.fcntl(fd, fcntl.F_GETLK, req)
            _s, _l, pid, l_type, _w = struct.unpack(fmt, res)
        return pid if l_type != fcntl.F_UNLCK and pid > 0 else None
    except OSError:
        return None
    finally:
        os.close(fd)


def _openers(path: Path) -> list[int]:
    """Processes with ``path`` open (Linux ``/proc``), not counting this one."""
    found: list[int] = []
    target = str(path.resolve())
    proc = Path("/proc")
    if not proc.is_dir():
        return found
    for entry in proc.iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            for fd in (entry / "fd").iterdir():
                if os.readlink(fd) in (target, target + "-wal", target + "-shm"):
                    found.append(int(entry.name))
                    break
        except OSError:
            continue
    return found


def _describe(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
        cmd = " ".join(p.decode("utf-8", "replace") for p in raw.split(b"\0") if p)
    except OSError:
        cmd = ""
    cmd = "".join(ch if ch.isprintable() else "?" for ch in cmd)
    if len(cmd) > 80:
        cmd = cmd[:77] + "…"
    return f"process {pid}" + (f" ({cmd})" if cmd else "")


def lock_holders(db: Path) -> str:
    """A phrase naming who holds the history's lock, as far as the system can tell."""
    pids: list[int] = []
    for file, offset in ((db.with_name(db.name + "-shm"), 120), (db, 0x40000001), (db, 0x40000000)):
        if file.exists():
            pid = _getlk(file, offset)
            if pid and pid not in pids:
                pids.append(pid)
    if not pids:
        pids = _openers(db)
    if not pids:
        return "another program"
    return ", ".join(_describe(p) for p in pids[:3])


# ---------------------------------------------------------------------- translating errors
def explain(exc: BaseException, db: Path | None = None, *, doing: str = "") -> StorageFault | None:
    """A sentence for a storage error, or ``None`` when ``exc`` is not one (a bug, to be logged)."""
    what = f" while {doing}" if doing else ""
    where = f"The history file {db}" if db else "A FlexStudio file"
    if isinstance(exc, StorageFault):
        return exc
    if isinstance(exc, sqlite3.Error):
        text = str(exc).lower()
        if "locked" in text or "busy" in text:
            holder = lock_holders(db) if db else "another program"
            return StorageFault(
                f"{where} is locked by {holder} and stayed locked for {busy_timeout():g} s"
                f"{what}; close it and try again. Nothing was sent."
            )
        if "full" in text:
            return StorageFault(
                f"The disk is full: {where[0].lower() + where[1:]} could not be written{what}. "
                "Free some space and try again."
            )
        if "readonly" in text or "read-only" in text or "unable to open" in text:
            return StorageFault(
                f"{where} cannot be written{what}: its folder is read-only or not "
                "accessible. Nothing was sent."
            )
        if db is not None and (
            "not a database" in text
            or "malformed" in text
            or "corrupt" in text
            or (isinstance(exc, sqlite3.DatabaseError) and not isinstance(exc, sqlite3.OperationalError))
        ):
            return HistoryUnreadable(db, str(exc))
        return None
    if isinstance(exc, OSError):
        name = f" ({exc.filename})" if exc.filename else ""
        if exc.errno in _DISK_FULL:
            return StorageFault(
                f"The disk is full{name}{what}; nothing was left half-written. Free some space and try again."
            )
        if exc.errno in _READ_ONLY:
            return StorageFault(
                f"FlexStudio cannot write{name}{what}: the folder is read-only or not accessible."
            )
    return None


def log_unexpected(exc: BaseException, logs: Path | None, secrets: list[str] | None = None) -> Path | None:
    """Append the traceback (known keys scrubbed) to the error log; returns its path (``None`` when
    even that failed)."""
    from .secrets import scrub

    folders = [logs] if logs else []
    import tempfile

    folders.append(Path(tempfile.gettempdir()))
    for folder in folders:
        try:
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / LOG_NAME
            with path.open("a", encoding="utf-8") as f:
                f.write(f"--- {time.strftime('%Y-%m-%d %H:%M:%S')} flexstudio {' '.join(sys.argv[1:2])}\n")
                f.write(scrub("".join(traceback.format_exception(exc)), secrets or []))
            return path
        except OSError:
            continue
    logging.getLogger(__name__).error("could not write the error log", exc_info=exc)
    return None


class LogFileHandler(logging.Handler):
    """Log records go to the error log under the data folder, never to the terminal; the file is
    opened on the first record (most runs write none)."""

    def __init__(self, logs: Path | None) -> None:
        super().__init__(logging.WARNING)
        self.logs = logs
        self.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self.format(record)
            if self.logs is None:
                return
            self.logs.mkdir(parents=True, exist_ok=True)
            with (self.logs / LOG_NAME).open("a", encoding="utf-8") as f:
                f.write(text + "\n")
        except Exception:  # a log that cannot be written must not become the error
            pass
