"""The upload cache's persistent half: one row per reference uploaded to a provider's file service, in
the history database (table ``uploads``, migration 5). Keyed by (profile, account fingerprint, prepared
image hash, target size) → URL + expiry; the account key itself is never stored (only its hash)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from ..providers.uploads import Uploaded, UploadKey

if TYPE_CHECKING:
    from .history import History


class UploadStore:
    def __init__(self, history: History) -> None:
        self.db = history.db

    def get(self, key: UploadKey) -> Uploaded | None:
        row = self.db.execute(
            "SELECT url, expires_at FROM uploads WHERE profile=? AND account=? AND image_sha256=? AND target=?",
            (key.profile, key.account, key.image_sha256, key.target),
        ).fetchone()
        return None if row is None else Uploaded(str(row[0]), row[1])

    def put(self, key: UploadKey, item: Uploaded) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO uploads (profile, account, image_sha256, target, url, expires_at, created_at)"
            " VALUES (?,?,?,?,?,?,?)",
            (key.profile, key.account, key.image_sha256, key.target, item.url, item.expires_at, time.time()),
        )

    def forget(self, key: UploadKey) -> None:
        self.db.execute(
            "DELETE FROM uploads WHERE profile=? AND account=? AND image_sha256=? AND target=?",
            (key.profile, key.account, key.image_sha256, key.target),
        )

    def prune(self, now: float | None = None) -> int:
        """Drop rows whose URL has expired; returns how many."""
        cur = self.db.execute(
            "DELETE FROM uploads WHERE expires_at IS NOT NULL AND expires_at < ?",
            (now if now is not None else time.time(),),
        )
        return int(cur.rowcount or 0)
