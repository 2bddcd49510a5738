"""A file service for the emulators (fal storage, Replicate's Files API): uploaded bytes kept in memory,
counted, and expired on demand (``expire_all()`` or a ``ttl``), so tests can prove that each reference is
uploaded once, reused, and uploaded again after its URL expired."""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass


@dataclass
class StoredFile:
    data: bytes
    mime: str
    name: str
    expires_at: float | None


class FileStore:
    def __init__(self, ttl: float | None = None) -> None:
        self.ttl = ttl
        self.files: dict[str, StoredFile] = {}
        self.lock = threading.Lock()
        self.uploads = 0  # files received
        self.upload_bytes = 0  # their bytes

    def put(self, data: bytes, mime: str, name: str) -> tuple[str, StoredFile]:
        fid = uuid.uuid4().hex
        item = StoredFile(data, mime, name, None if self.ttl is None else time.time() + self.ttl)
        with self.lock:
            self.files[fid] = item
            self.uploads += 1
            self.upload_bytes += len(data)
        return fid, item

    def get(self, fid: str) -> StoredFile | None:
        """The file, or None when it never existed or has expired."""
        with self.lock:
            item = self.files.get(fid)
        if item is None or (item.expires_at is not None and item.expires_at <= time.time()):
            return None
        return item

    def expire_all(self) -> None:
        """Every URL handed out so far stops working (the provider deleted the files)."""
        with self.lock:
            for item in self.files.values():
                item.expires_at = 0.0

    def reset(self) -> None:
        with self.lock:
            self.files.clear()
            self.uploads = 0
            self.upload_bytes = 0
