"""Reading the user's files and checking where results go, before anything is sent.

A path is checked with ``stat`` before it is opened, so a FIFO, a device (``/dev/zero``) or a socket
is refused instead of hanging or filling memory; it is opened without blocking and checked again on
the open file (nothing can be swapped in between), and read in chunks up to a byte cap."""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from pathlib import Path

from ..core.errors import BadInput

CHUNK = 1 << 20


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "is a folder, not a file"
    if stat.S_ISFIFO(mode):
        return "is a pipe (FIFO), not a file"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "is a device, not a file"
    if stat.S_ISSOCK(mode):
        return "is a socket, not a file"
    return "is not a regular file"


def _os_sentence(path: str | Path, exc: OSError) -> str:
    if isinstance(exc, FileNotFoundError):
        return f"{path}: no such file."
    if isinstance(exc, PermissionError):
        return f"{path}: permission denied (the file cannot be read)."
    if exc.errno == errno.ELOOP:
        return f"{path}: the link points at itself (a symlink loop)."
    if isinstance(exc, IsADirectoryError):
        return f"{path}: is a folder, not a file."
    return f"{path}: cannot be read ({exc.strerror or exc})."


def read_capped(path: str | Path, cap: int, *, what: str = "file") -> bytes:
    """The bytes of a regular file of at most ``cap`` bytes, or ``BadInput`` naming the path."""
    try:
        st = os.stat(path)
        if not stat.S_ISREG(st.st_mode):
            raise BadInput(f"{path}: {_kind(st.st_mode)}.")
        if st.st_size > cap:
            raise BadInput(
                f"{path}: the {what} is {_size(st.st_size)}; the most FlexStudio reads is {_size(cap)}."
            )
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
        try:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                raise BadInput(f"{path}: {_kind(st.st_mode)}.")
            chunks: list[bytes] = []
            total = 0
            while True:
                chunk = os.read(fd, min(CHUNK, cap + 1 - total))
                if not chunk:
                    break
                chunks.append(chunk)
                total += len(chunk)
                if total > cap:  # it grew while being read
                    raise BadInput(
                        f"{path}: the {what} is larger than {_size(cap)}, the most FlexStudio reads."
                    )
        finally:
            os.close(fd)
    except OSError as exc:
        raise BadInput(_os_sentence(path, exc)) from None
    return b"".join(chunks)


def _size(n: int) -> str:
    return f"{n / 1048576:.0f} MB" if n >= 1048576 else f"{n / 1024:.0f} KB" if n >= 1024 else f"{n} bytes"


def check_destination(out: str, *, as_dir: bool) -> None:
    """``-o`` before a paid submit: the folder (made if missing) must be writable, a file's folder too,
    and nothing in the way may be a file where a folder is needed."""
    dest = Path(out)
    folder = dest if as_dir else dest.parent
    probe = folder
    while not probe.exists():
        if probe.parent == probe:
            break
        if probe.is_symlink():
            raise BadInput(f"-o {out}: {probe} is a broken link.")
        probe = probe.parent
    if not probe.is_dir():
        raise BadInput(f"-o {out}: {probe} is a file, not a folder; nothing was sent.")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BadInput(
            f"-o {out}: the folder {folder} cannot be made ({exc.strerror or exc}); nothing was sent."
        ) from None
    try:  # a real write: permissions, a read-only disk and root's privileges all answer truthfully
        with tempfile.TemporaryFile(dir=folder, prefix=".flexstudio-probe-"):
            pass
    except OSError as exc:
        raise BadInput(
            f"-o {out}: {folder} cannot be written to ({exc.strerror or exc}); nothing was sent."
        ) from None
    if not as_dir and dest.is_dir():
        return
    if not as_dir and dest.exists() and not dest.is_file():
        raise BadInput(f"-o {out}: is not a regular file; nothing was sent.")


def free_name(path: Path) -> Path:
    """``path`` if nothing is there, else ``name-2.ext``, ``name-3.ext``… (an existing file is never
    overwritten)."""
    if not path.exists() and not path.is_symlink():
        return path
    n = 2
    while True:
        candidate = path.with_name(f"{path.stem}-{n}{path.suffix}")
        if not candidate.exists() and not candidate.is_symlink():
            return candidate
        n += 1
