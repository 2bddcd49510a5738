"""Which process runs a job: an owner tag and a heartbeat in the job's row.

A tag is ``host:pid:start``. Another process's job is *live* — and left alone by ``resume`` — while its
heartbeat is fresh and, on this host, that process still exists (a killed process is seen at once; a
reused pid is caught by the stale heartbeat).
"""

from __future__ import annotations

import os
import socket
import time

HEARTBEAT_S = 10.0  # a running job's row is touched this often
STALE_S = 60.0  # a heartbeat older than this belongs to a process that is gone

_START = f"{time.time():.3f}"


def me() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{_START}"


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, under another user
    except OSError:
        return False
    return _not_a_zombie(pid)


def _not_a_zombie(pid: int) -> bool:
    """A killed child not yet reaped still answers ``kill 0``: read its state where /proc exists."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[-1].split()
        return not fields or fields[0] != b"Z"
    except OSError:
        return True


def is_live(owner: str | None, heartbeat_at: float | None, *, now: float | None = None) -> bool:
    """Whether ``owner`` (another process's tag) is still running its job."""
    if not owner or owner == me():
        return False
    now = time.time() if now is None else now
    if heartbeat_at is None or now - heartbeat_at >= STALE_S:
        return False
    host, _, rest = owner.partition(":")
    pid_text, _, _start = rest.partition(":")
    if host != socket.gethostname():
        return True
    try:
        return _pid_alive(int(pid_text))
    except ValueError:
        return False
