"""Lineage: the chain of edits a job was made from ("use result as reference"), and the whole tree grown
from its root with each branch's cumulative cost. Each node shows its result's thumbnail (made off the GUI
thread by the window's thumbnail cache), its cost and the start of its prompt. Double-click a job to show it."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from PySide6.QtCore import QSize, Qt, Signal, SignalInstance
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ..models.describe import settings_words
from ..widgets import theme

if TYPE_CHECKING:
    from collections.abc import Callable

    from ...storage.history import History, JobRecord
    from ..models.thumbs import ThumbnailCache

COLUMNS = ("Job", "Provider", "State", "Cost", "Branch total", "When", "Prompt")
THUMB = 128  # the size asked of the thumbnail cache (the history list asks the same: one decode)
ICON = 56  # painted size of a node's thumbnail
SNIPPET = 48  # characters of the prompt shown on the node


def snippet(prompt: str) -> str:
    text = " ".join(prompt.split())
    return (
        f"“{text[:SNIPPET].rstrip()}…”" if len(text) > SNIPPET else (f"“{text}”" if text else "(no prompt)")
    )


def cost_of(rec: JobRecord) -> float:
    return rec.billed_usd if rec.billed_usd is not None else (rec.quote_usd or 0.0)


class LineageDialog(QDialog):
    showRequested = Signal(object)  # JobRecord
    restoreRequested = Signal(object)  # JobRecord

    def __init__(
        self,
        history: History,
        job_id: str,
        label: Callable[[str], str],
        parent: QWidget | None = None,
        thumbs: ThumbnailCache | None = None,
    ) -> None:
        super().__init__(parent)
        self.history = history
        self.thumbs = thumbs
        self._items_by_sha: dict[str, list[QTreeWidgetItem]] = {}
        blank = QPixmap(ICON, ICON)
        blank.fill(QColor(0, 0, 0, 0))
        self._blank = QIcon(blank)  # nodes without a result (yet) keep the column aligned
        self.job_id = job_id
        self._label = label
        self.setModal(False)
        self.setWindowTitle(f"Lineage of job {job_id}")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)  # closed windows do not pile up
        self.setAccessibleName("Lineage")
        self.resize(820, 420)
        lay = QVBoxLayout(self)
        self.chain_label = QLabel()
        self.chain_label.setWordWrap(True)
        self.chain_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.chain_label.setAccessibleName("Chain to the root")
        lay.addWidget(self.chain_label)
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(list(COLUMNS))
        self.tree.setAccessibleName("Lineage tree")
        self.tree.setRootIsDecorated(True)
        self.tree.setUniformRowHeights(True)
        self.tree.setIconSize(QSize(ICON, ICON))
        self.tree.header().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.tree.header().setStretchLastSection(True)
        self.tree.itemDoubleClicked.connect(lambda item, _c: self._emit(self.showRequested, item))
        lay.addWidget(self.tree, 1)
        self.total_label = QLabel()
        self.total_label.setFont(theme.small_font(self))
        self.total_label.setAccessibleName("Cost of the tree")
        foot = QHBoxLayout()
        foot.addWidget(self.total_label, 1)
        show = QPushButton("Show")
        show.clicked.connect(lambda: self._emit(self.showRequested, self.tree.currentItem()))
        restore = QPushButton("Restore its settings")
        restore.clicked.connect(lambda: self._emit(self.restoreRequested, self.tree.currentItem()))
        close = QPushButton("Close")
        close.clicked.connect(self.close)
        for b in (show, restore, close):
            foot.addWidget(b)
        lay.addLayout(foot)
        self.records: dict[str, JobRecord] = {}
        self.rows: list[tuple[int, JobRecord, float]] = []
        if thumbs is not None:
            thumbs.ready.connect(self._thumb_ready)
        self.reload()

    def reload(self) -> None:
        chain = self.history.ancestry(self.job_id)
        if not chain:
            self.chain_label.setText("This job is no longer in the history.")
            return
        root = chain[0]
        running = 0.0
        steps = []
        for rec in chain:
            running += cost_of(rec)
            steps.append(
                f"{snippet(rec.request.prompt)} ({self._label(rec.provider)}, {theme.money(cost_of(rec))})"
            )
        self.chain_cost = round(running, 6)
        self.chain = chain
        if len(chain) == 1:
            head = f"{snippet(chain[-1].request.prompt)} was not made from another job's result."
        else:
            head = (
                f"{snippet(chain[-1].request.prompt)} was made, step by step, from: "
                + " → ".join(steps)
                + f". This branch cost {theme.money(self.chain_cost)}."
            )
        self.chain_label.setText(head)
        self.rows = self.history.lineage_tree(root.id)
        self.tree.clear()
        self._items_by_sha.clear()
        parents: list[QTreeWidgetItem] = []
        mark = None
        for depth, rec, total in self.rows:
            self.records[rec.id] = rec
            item = QTreeWidgetItem(
                [
                    f"{settings_words(rec.request)} · {theme.money(cost_of(rec))}\n{snippet(rec.request.prompt)}",
                    self._label(rec.provider),
                    rec.state,
                    theme.money(cost_of(rec)),
                    theme.money(total),
                    time.strftime("%d %b %H:%M", time.localtime(rec.created_at)),
                    rec.request.prompt[:120],
                ]
            )
            item.setData(0, Qt.ItemDataRole.UserRole, rec.id)
            item.setToolTip(0, rec.request.prompt)
            self._set_thumbnail(item, rec)
            item.setToolTip(6, rec.request.prompt)
            del parents[depth:]
            if parents:
                parents[-1].addChild(item)
            else:
                self.tree.addTopLevelItem(item)
            parents.append(item)
            if rec.id == self.job_id:
                mark = item
                f = theme.bold(item.font(0))
                for c in range(len(COLUMNS)):
                    item.setFont(c, f)
        self.tree.expandAll()
        if mark is not None:
            self.tree.setCurrentItem(mark)
        whole = sum(cost_of(r) for _d, r, _t in self.rows)
        if len(self.rows) == 1:
            self.total_label.setText(f"Nothing was made from this result yet; it cost {theme.money(whole)}.")
        else:
            self.total_label.setText(
                f"{len(self.rows)} jobs grew from job {root.id}; together they cost "
                f"{theme.money(whole)}. “Branch total” is the cost from the root down to "
                "each job."
            )

    def _set_thumbnail(self, item: QTreeWidgetItem, rec: JobRecord) -> None:
        sha = rec.outputs[0].sha256 if rec.outputs else None
        item.setData(0, Qt.ItemDataRole.UserRole + 1, sha)
        pix = self.thumbs.get(sha, THUMB) if sha and self.thumbs is not None else None  # None: it is made
        item.setIcon(0, QIcon(pix) if pix is not None else self._blank)
        if sha:
            self._items_by_sha.setdefault(sha, []).append(item)

    def _thumb_ready(self, sha: str, size: int) -> None:
        if size != THUMB or self.thumbs is None:
            return
        pix = self.thumbs.peek(sha, size)
        if pix is not None:
            for item in self._items_by_sha.get(sha, []):
                item.setIcon(0, QIcon(pix))

    def thumbnail_shown(self, item: QTreeWidgetItem) -> bool:
        """Whether the node shows its result's thumbnail (not the blank placeholder)."""
        return item.icon(0).cacheKey() != self._blank.cacheKey()

    def _emit(self, signal: SignalInstance, item: QTreeWidgetItem | None) -> None:
        if item is None:
            return
        rec = self.records.get(str(item.data(0, Qt.ItemDataRole.UserRole)))
        if rec is not None:
            signal.emit(rec)
