"""Content-addressed image files: ``blobs/<sha256>.<ext>``, written atomically before anything points
at them, so a crash never leaves a history row referring to half a file."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

_EXT = {
    "image/jpeg": "jpg",
    "image/png": "png",
    "image/webp": "webp",
    "image/gif": "gif",
    "image/tiff": "tif",
    "image/bmp": "bmp",
    "image/avif": "avif",
    "image/heic": "heic",
    "image/heif": "heif",
}


def ext_for(mime: str) -> str:
    return _EXT.get(mime, "bin")


def atomic_write(path: Path, data: bytes, *, public: bool = False) -> None:
    """Write ``data`` to ``path`` via a temp file in the same folder, fsync, then rename. A ``public`` file
    (an export) gets the permissions the user's umask gives any new file; the rest stay private (0600)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if public:
        tmp = str(path.parent / f".tmp-{os.urandom(8).hex()}")  # as secrets.token_hex(8)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    else:
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def _sha256(data: bytes) -> str:
    import hashlib  # here: hashlib loads OpenSSL, which the window's first frame does not need

    return hashlib.sha256(data).hexdigest()


class BlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def _path(self, sha: str) -> Path | None:
        shard = self.root / sha[:2]
        if shard.is_dir():
            for p in shard.glob(f"{sha}.*"):
                if not p.name.startswith(".tmp-"):
                    return p
        return None

    def put(self, data: bytes, mime: str = "application/octet-stream", sha: str | None = None) -> str:
        sha = sha or _sha256(data)
        if self._path(sha) is None:
            atomic_write(self.root / sha[:2] / f"{sha}.{ext_for(mime)}", data)
        return sha

    def path(self, sha: str) -> Path:
        p = self._path(sha)
        if p is None:
            raise FileNotFoundError(f"image {sha[:12]}… is missing from the history folder")
        return p

    def has(self, sha: str) -> bool:
        return self._path(sha) is not None

    def get(self, sha: str) -> bytes:
        return self.path(sha).read_bytes()

    def delete(self, sha: str) -> None:
        p = self._path(sha)
        if p is not None:
            p.unlink(missing_ok=True)
