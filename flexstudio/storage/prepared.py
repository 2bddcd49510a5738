"""Prepared references kept between runs: source image + target → the prepared bytes, in the cache folder.

Preparing a 24 MP photo (decode, resample, encode) costs the better part of a second of CPU; the upload
cache is keyed by the *prepared* image's hash, so without this map a re-run, a new sweep or a chain in a
new process would decode every reference again just to learn that hash. With it, a re-run reads ~2 MB
per reference and decodes nothing.

The key is (source content hash, pixel limit, format, ``images.PREPARE_VERSION``). References live in the
content-addressed blob store, so their hash already stands for the file's bytes (no path, size or mtime is
needed). A file is named ``<source>-<max_pixels>-<fmt>-v<version>-<w>x<h>-<prepared sha256>.<ext>``; a read
checks the bytes against that hash, so a damaged cache file is dropped and prepared again, never sent.
The folder is a cache: bounded (oldest files go first) and safe to delete at any time.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tempfile
import threading
from pathlib import Path

from ..core.images import PREPARE_VERSION
from ..core.request import PreparedReference
from .blobs import ext_for

DEFAULT_MAX_BYTES = 1024 * 1024 * 1024  # 1 GiB ≈ 500 prepared 4 MP references
_MIMES = {"jpg": "image/jpeg", "png": "image/png", "webp": "image/webp"}
_NAME = re.compile(
    r"^(?P<src>[0-9a-f]{64})-(?P<px>\d+)-(?P<fmt>[a-z]+)-v(?P<v>\d+)-(?P<w>\d+)x(?P<h>\d+)"
    r"-(?P<sha>[0-9a-f]{64})\.(?P<ext>jpg|png|webp)$"
)


class PreparedStore:
    def __init__(self, root: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.root = root
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._total: int | None = None  # bytes on disk, counted on the first write of this process

    def _prefix(self, source_sha256: str, max_pixels: int, fmt: str) -> str:
        return f"{source_sha256}-{int(max_pixels)}-{fmt}-v{PREPARE_VERSION}-"

    def get(self, source_sha256: str, max_pixels: int, fmt: str = "auto") -> PreparedReference | None:
        shard = self.root / source_sha256[:2]
        if not shard.is_dir():
            return None
        for path in shard.glob(self._prefix(source_sha256, max_pixels, fmt) + "*"):
            m = _NAME.match(path.name)
            if m is None:
                continue
            try:
                data = path.read_bytes()
            except OSError:
                continue
            if hashlib.sha256(data).hexdigest() != m["sha"]:
                path.unlink(missing_ok=True)  # damaged: prepare again rather than send it
                continue
            try:
                os.utime(path)  # recently used: pruned last
            except OSError:
                pass
            return PreparedReference(data, _MIMES[m["ext"]], int(m["w"]), int(m["h"]), source_sha256)
        return None

    def put(self, item: PreparedReference, max_pixels: int, fmt: str = "auto") -> None:
        """Keep ``item`` (best effort: a full or read-only disk only costs a future re-preparation)."""
        sha = hashlib.sha256(item.data).hexdigest()
        name = (
            f"{self._prefix(item.source_sha256, max_pixels, fmt)}{item.width}x{item.height}-{sha}."
            f"{ext_for(item.mime)}"
        )
        path = self.root / item.source_sha256[:2] / name
        try:
            if path.exists():
                return
            _write(path, item.data)
        except OSError:
            return
        with self._lock:
            if self._total is None:
                self._total = self._count()
            else:
                self._total += len(item.data)
            if self._total > self.max_bytes:
                self._prune()

    def _files(self) -> list[Path]:
        return [p for p in self.root.glob("*/*") if _NAME.match(p.name)] if self.root.is_dir() else []

    def _count(self) -> int:
        total = 0
        for p in self._files():
            try:
                total += p.stat().st_size
            except OSError:
                pass
        return total

    def _prune(self) -> None:
        """Delete the least recently used files until the folder is under three quarters of its bound."""
        entries = []
        for p in self._files():
            try:
                st = p.stat()
            except OSError:
                continue
            entries.append((st.st_mtime, st.st_size, p))
        entries.sort()
        total = sum(size for _, size, _ in entries)
        for _, size, p in entries:
            if total <= self.max_bytes * 3 // 4:
                break
            p.unlink(missing_ok=True)
            total -= size
        self._total = total


def _write(path: Path, data: bytes) -> None:
    """Temp file + rename, without fsync: a cache file cut short by a crash fails its hash check."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
