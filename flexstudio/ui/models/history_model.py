"""The history view-model: every job in the history store, newest first, fetched a page at a time
(``canFetchMore``/``fetchMore``) so ten thousand jobs cost one page at first paint; thumbnails come
lazily from the shared cache as rows are painted."""

from __future__ import annotations

import gc
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt, QTimer, Signal
from PySide6.QtGui import QStandardItemModel

from ...core.job_state import ACTIVE, TERMINAL, JobState
from .describe import money

if TYPE_CHECKING:
    from ...providers.registry import Registry
    from ...storage.history import History, JobRecord
    from .thumbs import ThumbnailCache

THUMB = 96
RecordRole = Qt.ItemDataRole.UserRole + 1


@dataclass(frozen=True)
class Filters:
    search: str = ""
    provider: str | None = None
    states: tuple[JobState, ...] = ()
    favourite: bool = False
    kind: str | None = None  # "single", "comparison", "sweep", "batch"

    def kwargs(self) -> dict[str, Any]:
        return {
            "search": self.search or None,
            "provider": self.provider,
            "states": self.states or None,
            "favourite": self.favourite or None,
            "group_kind": self.kind,
        }

    def matches(self, rec: JobRecord) -> bool:
        if self.search and self.search.lower() not in rec.request.prompt.lower():
            return False
        if self.provider and rec.provider != self.provider:
            return False
        if self.states and rec.state not in self.states:
            return False
        if self.kind and (rec.group_kind or "single") != self.kind:
            return False
        return not (self.favourite and not rec.favourite)


def tooltip(rec: JobRecord, label: str) -> str:
    """Every parameter of a job (the history item's tooltip)."""
    r = rec.request
    size = f"{r.size[0]}×{r.size[1]}" if r.size else "auto"
    state = str(rec.state)
    if rec.state == JobState.INTERRUPTED and rec.handle:
        state = f"interrupted — waiting for {label}, will fetch it (right-click: Try again, Give up)"
    elif rec.state == JobState.INTERRUPTED and rec.submits:
        state = (
            f"interrupted — sent, but {label}'s answer was lost: nothing to fetch, and it may have been "
            "billed (right-click: Give up)"
        )
    lines = [
        f"Job {rec.id} · {label} · {state}",
        time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(rec.created_at)),
        f"Prompt: {r.prompt[:300]}",
        f"Steps {r.steps} · guidance {r.guidance:g} · seed {r.seed} · size {size} · "
        f"{r.output_format.upper()} · safety {r.safety} · upsampling {'on' if r.prompt_upsampling else 'off'}",
        f"References: {len(r.references)}",
    ]
    cost = []
    if rec.quote_usd is not None:
        cost.append(f"quoted {money(rec.quote_usd)}")
    if rec.billed_usd is not None:
        cost.append(f"billed {money(rec.billed_usd)}")
    elif rec.state == JobState.MODERATED:  # the provider's rule: may be billed / billing unknown
        cost.append(
            rec.message.removeprefix("Moderated — ")
            if rec.message.startswith("Moderated")
            else "billing unknown"
        )
    if rec.latency_s is not None:
        cost.append(f"{rec.latency_s:.1f} s")
    if cost:
        lines.append(" · ".join(cost))
    if rec.parent_job_id:
        lines.append(f"Made from job {rec.parent_job_id}")
    if rec.error_message:
        lines.append(rec.error_message)
    return "\n".join(lines)


class HistoryModel(QStandardItemModel):
    """Rows are ``JobRecord``s kept in a Python list; the Qt side is a ``QStandardItemModel`` of empty rows
    so that ``rowCount``/``index`` stay in C++: a list view lays out every row again after each page is
    appended, and with those two in Python that relayout alone took 15 ms at 10 000 rows (1 ms in C++).
    Pages are read with keyset paging (``before=(created_at, id)`` of the last row): each costs the same."""

    countChanged = Signal(int)

    PAGE = 100
    CHANGES_MS = 100  # job changes are shown together at most this often (``upsert_soon``)

    def __init__(
        self, history: History, registry: Registry, thumbs: ThumbnailCache, *, load: bool = True
    ) -> None:
        super().__init__()
        self.setColumnCount(1)
        self.history = history
        self.registry = registry
        self.thumbs = thumbs
        self.filters = Filters()
        self.speak: Callable[[JobRecord], str] | None = (
            None  # a row as a screen reader says it (the view sets it)
        )
        self._rows: list[JobRecord] = []
        self._total = 0
        self._exhausted = False
        self.pages_fetched = 0
        self._changed: dict[str, None] = {}  # jobs changed since the last batched update, in order
        self._changes_timer = QTimer(self)
        self._changes_timer.setSingleShot(True)
        self._changes_timer.setInterval(self.CHANGES_MS)
        self._changes_timer.timeout.connect(self._changes_due)
        thumbs.ready.connect(self._thumb_ready)
        self.loaded = False  # False until the first page is read: the view paints a placeholder
        if load:
            self.reload()

    def load(self) -> None:
        """Read the first page now if it was not read yet (the window does this after its first paint)."""
        if not self.loaded:
            self.reload()

    # ------------------------------------------------------------------ loading
    def reload(self) -> None:
        kw = self.filters.kwargs()
        total = self.history.count(**kw)
        rows = self.history.list(limit=self.PAGE, **kw)
        self.beginResetModel()
        self.blockSignals(True)  # the row-count changes below are part of the reset, not signals of their own
        try:
            self._rows = rows
            self.setRowCount(0)
            self.setRowCount(len(rows))
        finally:
            self.blockSignals(False)
        self._total = total
        self._exhausted = len(rows) < self.PAGE
        self.pages_fetched = 1
        self.loaded = True
        self._changed.clear()  # the page just read shows every change so far
        self.endResetModel()
        self.countChanged.emit(self._total)
        _settle()

    def set_filters(self, **changes: Any) -> None:
        new = Filters(**{**self.filters.__dict__, **changes})
        if new != self.filters:
            self.filters = new
            self.reload()

    def total(self) -> int:
        return self._total

    def canFetchMore(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> bool:  # noqa: B008
        return not parent.isValid() and not self._exhausted and len(self._rows) < self._total

    def fetchMore(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> None:  # noqa: B008
        if parent.isValid() or not self._rows:
            return
        last = self._rows[-1]
        more = self.history.list(limit=self.PAGE, before=(last.created_at, last.id), **self.filters.kwargs())
        if len(more) < self.PAGE:
            self._exhausted = True
        if not more:
            self._total = len(self._rows)
            return
        first = len(self._rows)
        self._rows.extend(more)
        self.insertRows(first, len(more))
        self.pages_fetched += 1
        _settle()

    # ------------------------------------------------------------------ Qt model (rowCount/index: C++)
    def flags(self, index: QModelIndex | QPersistentModelIndex) -> Qt.ItemFlag:
        return _FLAGS if index.isValid() else Qt.ItemFlag.NoItemFlags

    def label(self, provider_id: str) -> str:
        return self.registry.get(provider_id).label if provider_id in self.registry else provider_id

    def data(
        self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        if not index.isValid() or index.row() >= len(self._rows):
            return None
        rec = self._rows[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return rec.request.prompt
        if role == Qt.ItemDataRole.DecorationRole:
            return self.thumbnail(rec)
        if role == RecordRole:
            return rec
        if role == Qt.ItemDataRole.ToolTipRole:
            return tooltip(rec, self.label(rec.provider))
        if role == Qt.ItemDataRole.AccessibleTextRole:
            speak = self.speak
            return speak(rec) if speak is not None else f"{rec.request.prompt[:80]} — {rec.state}"
        return None

    def setData(
        self, index: QModelIndex | QPersistentModelIndex, value: Any, role: int = Qt.ItemDataRole.EditRole
    ) -> bool:
        return False  # read-only: records change through the history store

    def thumbnail(self, rec: JobRecord) -> Any:
        """The job's first output as a 96 px pixmap, or None while it loads (or when there is none)."""
        return self.thumbs.get(rec.outputs[0].sha256, THUMB) if rec.outputs else None

    def record(self, row: int) -> JobRecord | None:
        return self._rows[row] if 0 <= row < len(self._rows) else None

    def records(self) -> list[JobRecord]:
        return list(self._rows)

    def row_of(self, job_id: str) -> int:
        for i, r in enumerate(self._rows):  # new and running jobs are at the top: found at once
            if r.id == job_id:
                return i
        return -1

    def _thumb_ready(self, sha: str, size: int) -> None:
        # One signal for the whole range (the view repaints what it shows): no loop over loaded rows.
        if size == THUMB and self._rows:
            self.dataChanged.emit(
                self.index(0, 0), self.index(len(self._rows) - 1, 0), [Qt.ItemDataRole.DecorationRole]
            )

    # ------------------------------------------------------------------ changes
    def upsert(self, job_id: str) -> None:
        """A job changed (or was created): show its current row now, with any batched change still due."""
        self._changed[job_id] = None
        self.flush_changes()

    def upsert_soon(self, job_id: str) -> None:
        """A job changed (or was created): shown at once when nothing changed for ``CHANGES_MS``, else with
        the next batched update, at most ``CHANGES_MS`` later. Many jobs changing together (a batch's jobs
        landing in one tick) cost one read and one model change."""
        self._changed[job_id] = None
        if self._changes_timer.isActive():
            return
        self.flush_changes()
        self._changes_timer.start()  # what changes next waits for the end of this span

    def _changes_due(self) -> None:
        if self._changed:
            self.flush_changes()
            self._changes_timer.start()  # still busy: keep batching

    def close(self) -> None:
        """The window closes: no batched update runs after it (the history may be closed next)."""
        self._changes_timer.stop()
        self._changed.clear()

    def pending_changes(self) -> int:
        return len(self._changed)

    def flush_changes(self) -> None:
        """Show every job changed since the last update now: rows that no longer match the filters go, the
        others are replaced (one ``dataChanged`` over their span), new jobs are inserted at the top together."""
        ids = list(self._changed)
        self._changed.clear()
        if not ids or not self.loaded:  # not read yet: the first page will show them
            return
        recs = self.history.get_many(ids)
        rows = {job_id: self.row_of(job_id) for job_id in ids}
        # gone: no longer in the store (a refused submit is purged) or no longer matching the filters
        gone = sorted(
            (r for j, r in rows.items() if r >= 0 and (j not in recs or not self.filters.matches(recs[j]))),
            reverse=True,
        )
        for row in gone:
            self._take(row)
        shown = {job_id: row for job_id, row in rows.items() if job_id in recs}
        first, last = len(self._rows), -1
        new: list[JobRecord] = []
        for job_id, row in shown.items():
            rec = recs[job_id]
            if not self.filters.matches(rec):
                continue
            if row >= 0:
                row = self.row_of(job_id) if gone else row
                self._rows[row] = rec
                first, last = min(first, row), max(last, row)
            else:
                new.append(rec)
        if last >= 0:
            self.dataChanged.emit(self.index(first, 0), self.index(last, 0))
        if self._rows:  # only jobs newer than the top row are inserted (older ones come with a reload)
            new = [r for r in new if r.created_at >= self._rows[0].created_at]
        if new:
            new.sort(key=lambda r: (r.created_at, r.id), reverse=True)
            self._rows[0:0] = new
            self._total += len(new)
            self.insertRows(0, len(new))
            self.countChanged.emit(self._total)

    def _take(self, row: int) -> None:
        del self._rows[row]
        self._total = max(0, self._total - 1)
        self.removeRows(row, 1)
        self.countChanged.emit(self._total)

    def set_favourite(self, job_id: str, on: bool) -> None:
        self.history.update(job_id, favourite=on)
        self.upsert(job_id)

    def refresh_job(self, job_id: str) -> None:
        """Re-read one job already shown (its winner mark or favourite changed elsewhere)."""
        self.flush_changes()  # a job created moments ago is shown first
        if self.row_of(job_id) >= 0:
            self.upsert(job_id)

    def delete(self, job_ids: Sequence[str]) -> None:
        for job_id in job_ids:
            self.history.delete(job_id)
            row = self.row_of(job_id)
            if row >= 0:
                self._take(row)

    def undelete(self, job_ids: Sequence[str]) -> None:
        for job_id in job_ids:
            self.history.restore(job_id)
        self.reload()


_FLAGS = Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsEnabled


def _settle() -> None:
    """Records, once loaded, live as long as the list: keep them out of the collector's full passes
    (a gen-2 collection over thousands of records paused the GUI thread for 50 ms inside a page fetch)."""
    gc.freeze()


STATUS_FILTERS: tuple[tuple[str, tuple[JobState, ...]], ...] = (
    ("All statuses", ()),
    ("Succeeded", (JobState.SUCCEEDED,)),
    ("Failed", (JobState.FAILED,)),
    ("Moderated", (JobState.MODERATED,)),
    ("Cancelled", (JobState.CANCELLED,)),
    ("Interrupted", (JobState.INTERRUPTED,)),
    ("Running", tuple(s for s in JobState if s in ACTIVE)),
)
assert set(TERMINAL) <= {s for _l, states in STATUS_FILTERS for s in states}
