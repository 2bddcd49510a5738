"""The history panel: a strip of 96 px thumbnails (provider, status, cost, time), search by prompt
(debounced), filters by provider / status / favourite, and the actions of a history item."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QColor, QFontMetrics, QKeySequence, QPainter, QPainterPath, QPalette, QPen
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListView,
    QMenu,
    QStyledItemDelegate,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ...core.job_state import JobState
from ..models import describe
from ..models.history_model import STATUS_FILTERS, THUMB, Filters
from . import icons, shortcuts, theme
from .a11y import label_for
from .labels import SteadyLabel

if TYPE_CHECKING:
    from PySide6.QtWidgets import QStyleOptionViewItem

    from ...storage.history import JobRecord
    from ..models.history_model import HistoryModel

ITEM = QSize(132, 156)  # the thumbnail, then the prompt, the key settings, provider · cost · time
_WIDEST_LINE = "50 steps · g 10.5 · seed 4294967295"  # a card is wide enough for this, in the card's font


def card_size(widget: Any) -> QSize:
    """The size of one card: as wide as its longest settings line, so that line is never cut."""
    width = QFontMetrics(theme.small_font(widget)).horizontalAdvance(_WIDEST_LINE) + 16
    return QSize(max(ITEM.width(), width), ITEM.height())


_DAY_CACHE: dict[int, str] = {}


def when(ts: float) -> str:
    """``14:05`` today, ``03 Mar`` before (a whole day's label is computed once)."""
    now = time.time()
    if now - ts < 86400 and time.localtime(ts).tm_mday == time.localtime(now).tm_mday:
        return time.strftime("%H:%M", time.localtime(ts))
    day = int(ts // 900)  # quarter hours: no time zone's midnight falls inside one
    text = _DAY_CACHE.get(day)
    if text is None:
        if len(_DAY_CACHE) > 4096:
            _DAY_CACHE.clear()
        text = _DAY_CACHE[day] = time.strftime("%d %b", time.localtime(ts))
    return text


_STATE_WORDS = {
    JobState.SUCCEEDED: "…",
    JobState.FAILED: "failed",
    JobState.MODERATED: "moderated",
    JobState.CANCELLED: "cancelled",
    JobState.INTERRUPTED: "waiting",
}
_GROUP_WORDS = {"sweep": "sweep", "comparison": "compare", "batch": "batch"}


def spoken(rec: JobRecord, label: str) -> str:
    """A history item as a screen reader says it, in the order the screen shows it:
    "Make the logo blue — succeeded, $0.20, 17:09, Sandbox, 28 steps, guidance 4.5, seed 7"."""
    prompt = " ".join(rec.request.prompt.split())
    if len(prompt) > 90:
        prompt = prompt[:89].rstrip() + "…"
    cost = rec.billed_usd if rec.billed_usd is not None else rec.quote_usd
    parts = [
        rec.state,
        theme.money(cost) if cost is not None else "price unknown",
        when(rec.created_at),
        label,
        describe.settings_words(rec.request).replace(" · ", ", ").replace("g ", "guidance ", 1),
    ]
    if rec.favourite:
        parts.append("favourite")
    if rec.group_kind:
        parts.append("winner of a comparison" if rec.winner else f"part of a {rec.group_kind}")
    return f"{prompt or 'No prompt'} — {', '.join(parts)}"


class _Style:
    """What every row paints with, made once per palette and font (not once per row)."""

    def __init__(self, pal: QPalette, widget: Any) -> None:
        self.key = (pal.cacheKey(), widget.font().key() if widget is not None else "")
        self.font = theme.small_font(widget)
        self.metrics = QFontMetrics(self.font)
        self.line = self.metrics.height()
        self.text = pal.color(QPalette.ColorRole.Text)
        self.muted = theme.muted(pal)
        self.placeholder = pal.color(QPalette.ColorRole.Midlight)
        self.highlight_pen = QPen(pal.color(QPalette.ColorRole.Highlight), 1.5)
        self.focus_pen = QPen(pal.color(QPalette.ColorRole.Highlight), 2.5, Qt.PenStyle.DashLine)
        self.highlight_fill = theme.tinted(pal.color(QPalette.ColorRole.Highlight), 0.3, pal)
        self.dot_pen = QPen(pal.color(QPalette.ColorRole.Base), 1.5)
        self.accents = {k: QColor(v) for k, v in theme.STATE_ACCENTS.items()}
        self.default_accent = QColor("#868e96")
        self.tag_fill = theme.tinted("#1c7ed6", 0.55, pal)
        self.winner = QColor("#f59f00")
        self.star = icons.star(True)
        self.elided: dict[tuple[str, int], str] = {}

    def elide(self, text: str, width: int) -> str:
        key = (text, width)
        out = self.elided.get(key)
        if out is None:
            if len(self.elided) > 2048:
                self.elided.clear()
            out = self.elided[key] = self.metrics.elidedText(text, Qt.TextElideMode.ElideRight, width)
        return out


class HistoryDelegate(QStyledItemDelegate):
    def __init__(self, model: HistoryModel, parent: Any = None) -> None:
        super().__init__(parent)
        self.model = model
        self._style: _Style | None = None
        self._view = parent
        self._size: tuple[str, QSize] | None = None  # (the view's font key, its card size)

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> QSize:
        # Asked for every row at each layout: measured once per font, not once per row.
        key = self._view.font().key() if self._view is not None else ""
        if self._size is None or self._size[0] != key:
            self._size = (key, card_size(self._view))
        return self._size[1]

    def _style_for(self, pal: QPalette) -> _Style:
        st = self._style
        widget = self._view
        key = (pal.cacheKey(), widget.font().key() if widget is not None else "")
        if st is None or st.key != key:
            st = self._style = _Style(pal, widget)
        return st

    def paint(
        self, p: QPainter, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> None:
        # Straight from the model: QModelIndex.data() returning None loses a reference on PySide6 6.12.0.
        rec = self.model.record(index.row())
        if rec is None:
            return
        pal = option.palette
        st = self._style_for(pal)
        p.save()
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        r = option.rect.adjusted(3, 3, -3, -3)
        is_selected, has_focus = theme.item_state()
        if option.state & is_selected:
            path = QPainterPath()
            path.addRoundedRect(r, 6, 6)
            p.fillPath(path, st.highlight_fill)
            p.setPen(st.highlight_pen)
            p.drawPath(path)
        if option.state & has_focus:  # the keyboard's place: a visible ring
            p.setPen(st.focus_pen)
            p.setBrush(Qt.BrushStyle.NoBrush)
            p.drawRoundedRect(r.adjusted(1, 1, -1, -1), 6, 6)
        box = QRect(r.left() + (r.width() - THUMB) // 2, r.top() + 5, THUMB, THUMB)
        pix = self.model.thumbnail(rec)
        p.setFont(st.font)
        if pix is not None and not pix.isNull():
            p.drawPixmap(
                box.left() + (THUMB - pix.width()) // 2, box.top() + (THUMB - pix.height()) // 2, pix
            )
        else:
            p.fillRect(box, st.placeholder)
            p.setPen(st.muted)
            p.drawText(box, Qt.AlignmentFlag.AlignCenter, _STATE_WORDS.get(rec.state) or rec.state + "…")
        p.setPen(st.dot_pen)
        p.setBrush(st.accents.get(rec.state, st.default_accent))
        p.drawEllipse(box.left() + 4, box.top() + 4, 10, 10)
        if rec.favourite:
            st.star.paint(p, QRect(box.right() - 19, box.top() + 2, 18, 18))
        if rec.group_kind:
            word = "★ winner" if rec.winner else _GROUP_WORDS.get(rec.group_kind, rec.group_kind)
            tag = QRect(
                box.left() + 3,
                box.bottom() - st.line - 3,
                st.metrics.horizontalAdvance(word) + 8,
                st.line + 2,
            )
            p.setPen(Qt.PenStyle.NoPen)
            p.setBrush(st.winner if rec.winner else st.tag_fill)
            p.drawRoundedRect(tag, 4, 4)
            p.setPen(theme.readable_on(st.winner) if rec.winner else st.text)
            p.drawText(tag, Qt.AlignmentFlag.AlignCenter, word)
        width = r.width() - 4
        text_rect = QRect(r.left() + 2, box.bottom() + 4, width, st.line)
        p.setPen(st.text)
        p.drawText(
            text_rect, Qt.AlignmentFlag.AlignHCenter, st.elide(describe.snippet(rec.request.prompt), width)
        )
        cost = rec.billed_usd if rec.billed_usd is not None else rec.quote_usd
        p.setPen(st.muted)
        p.drawText(
            text_rect.translated(0, st.line),
            Qt.AlignmentFlag.AlignHCenter,
            st.elide(describe.settings_words(rec.request), width),
        )
        p.drawText(
            text_rect.translated(0, 2 * st.line),
            Qt.AlignmentFlag.AlignHCenter,
            st.elide(
                f"{self.model.label(rec.provider)} · {theme.money(cost) if cost is not None else '—'}"
                f" · {when(rec.created_at)}",
                width,
            ),
        )
        p.restore()


class HistoryView(QListView):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        # A viewport of our own: the first widget Qt itself makes and hands to Python costs PySide6 about
        # 10 ms (it builds some forty widget classes, and their enums, to find its type).
        self.setViewport(QWidget())

    def paintEvent(self, e: Any) -> None:
        super().paintEvent(e)
        model = self.model()
        if model is not None and model.rowCount() == 0 and getattr(model, "loaded", True):
            filtered = getattr(self.model(), "filters", Filters()) != Filters()
            with QPainter(self.viewport()) as p:  # ended here (see jobs_panel.StateDot)
                p.setPen(theme.muted(self.palette()))
                p.drawText(
                    self.viewport().rect(),
                    Qt.AlignmentFlag.AlignCenter,
                    "No job matches these filters."
                    if filtered
                    else "Every edit you run is kept here, newest first — click to compare, double-click to "
                    "restore its settings.",
                )


class HistoryPanel(QWidget):
    activated = Signal(object)  # JobRecord: show it (click)
    restoreRequested = Signal(object)  # double-click / A
    rerunRequested = Signal(object)
    useRequested = Signal(object)  # use the output as a reference
    compareRequested = Signal(object)  # compare with…
    exportRequested = Signal(object)
    deleteRequested = Signal(list)  # job ids
    lineageRequested = Signal(object)  # the chain and tree of "use result as reference"
    groupRequested = Signal(object)  # open the comparison / sweep a job belongs to
    retryRequested = Signal(object)  # an interrupted job: fetch it now
    giveUpRequested = Signal(object)  # an interrupted job: stop waiting for it

    SEARCH_DELAY_MS = 250

    def __init__(self, model: HistoryModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.last_menu: QMenu | None = None
        self.setObjectName("history")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(8, 4, 8, 4)
        lay.setSpacing(4)
        head = QHBoxLayout()
        head.setSpacing(6)
        title = QLabel("History")
        title.setFont(theme.bold(title.font()))
        # changes as a batch's jobs land: pinned (room for any count), the window is not relaid out
        self.count = SteadyLabel(widest="999 999 jobs")
        self.count.setFont(theme.small_font(self))
        self.search = QLineEdit()
        self.search.setPlaceholderText("Search prompts…")
        self.search.setClearButtonEnabled(True)
        self.search.setAccessibleName("Search the history by prompt")
        self.search.setMaximumWidth(260)
        self._search_timer = QTimer(self, singleShot=True, interval=self.SEARCH_DELAY_MS)
        self._search_timer.timeout.connect(lambda: self.model.set_filters(search=self.search.text().strip()))
        self.search.textChanged.connect(lambda _t: self._search_timer.start())
        self.provider = QComboBox()
        self.provider.setAccessibleName("Filter by provider")
        self.provider.addItem("All providers", None)
        for info in model.registry.all():
            self.provider.addItem(info.label, info.id)
        self.provider.currentIndexChanged.connect(
            lambda _i: self.model.set_filters(provider=self.provider.currentData())
        )
        self.status = QComboBox()
        self.status.setAccessibleName("Filter by status")
        for label, states in STATUS_FILTERS:
            self.status.addItem(label, states)
        self.status.currentIndexChanged.connect(
            lambda _i: self.model.set_filters(states=tuple(self.status.currentData() or ()))
        )
        self.kind = QComboBox()
        self.kind.setAccessibleName("Filter by kind")
        for label, kind in (
            ("All kinds", None),
            ("Single edits", "single"),
            ("Comparisons", "comparison"),
            ("Sweeps", "sweep"),
            ("Batches", "batch"),
        ):
            self.kind.addItem(label, kind)
        self.kind.currentIndexChanged.connect(lambda _i: self.model.set_filters(kind=self.kind.currentData()))
        self.favourites = QToolButton()
        self.favourites.setCheckable(True)
        self.favourites.setIcon(icons.star(True))
        self.favourites.setToolTip("Show favourites only")
        self.favourites.setAccessibleName("Favourites only")
        self.favourites.toggled.connect(lambda on: self.model.set_filters(favourite=on))
        head.addWidget(title)
        head.addWidget(self.count)
        head.addStretch(1)
        for w in (self.search, self.provider, self.status, self.kind, self.favourites):
            head.addWidget(w)
        lay.addLayout(head)
        self.view = HistoryView()
        self.view.setModel(model)
        self.view.setItemDelegate(HistoryDelegate(model, self.view))
        self.view.setViewMode(QListView.ViewMode.IconMode)
        self.view.setFlow(QListView.Flow.LeftToRight)
        self.view.setWrapping(False)
        self.view.setMovement(QListView.Movement.Static)
        self.view.setResizeMode(QListView.ResizeMode.Adjust)
        self.view.setUniformItemSizes(True)
        self.view.setGridSize(card_size(self.view))
        self.view.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.view.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.view.setFixedHeight(ITEM.height() + self.view.horizontalScrollBar().sizeHint().height() + 6)
        self.view.setAccessibleName("History")
        self.view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.view.customContextMenuRequested.connect(self._menu)
        model.speak = lambda rec: spoken(rec, model.label(rec.provider))
        label_for(self.provider, "Filter by provider")
        label_for(self.status, "Filter by status")
        label_for(self.kind, "Filter by kind")
        self.view.clicked.connect(lambda idx: self._emit_for(self.activated, idx))
        self.view.activated.connect(lambda idx: self._emit_for(self.activated, idx))
        self.view.doubleClicked.connect(lambda idx: self._emit_for(self.restoreRequested, idx))
        self.view.horizontalScrollBar().valueChanged.connect(lambda _v: self.view.viewport().update())
        lay.addWidget(self.view)
        model.countChanged.connect(self._count)
        self._count(model.total())
        self._actions()

    def _actions(self) -> None:
        def act(text: str, keys: list[str], slot: Any) -> QAction:
            a = QAction(text, self)
            a.setShortcuts([QKeySequence(k) for k in keys])
            a.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            a.triggered.connect(slot)
            self.view.addAction(a)
            return a

        self.restore_action = act(
            "Restore all settings",
            shortcuts.short_keys("restore"),
            lambda: self._each(self.restoreRequested, 1),
        )
        self.favourite_action = act("Favourite", shortcuts.short_keys("favourite"), self.toggle_favourite)
        self.delete_action = act("Delete", shortcuts.short_keys("delete_job"), self.delete_selected)
        self.menu_action = act("Actions of the current job", ["Menu", "Shift+F10"], self.menu_at_current)

    def _emit_for(self, signal: Any, idx: QModelIndex) -> None:
        if self.model.pending_changes():  # act on the job as it is now, not as last shown
            pid = QPersistentModelIndex(idx)
            self.model.flush_changes()
            idx = self.model.index(pid.row(), 0)
        rec = self.model.record(idx.row())
        if rec is not None:
            signal.emit(rec)

    def _count(self, n: int) -> None:
        if not self.model.loaded:  # the first page is read after the window's first paint
            self.count.setText("")
            return
        self.count.setText(f"{n:,} job{'s' if n != 1 else ''}".replace(",", " "))

    def selected(self) -> list[JobRecord]:
        self.model.flush_changes()  # an action acts on the jobs as they are now, not as last shown
        rows = sorted(i.row() for i in self.view.selectionModel().selectedIndexes())
        return [r for r in (self.model.record(i) for i in rows) if r is not None]

    def current(self) -> JobRecord | None:
        sel = self.selected()
        if sel:
            return sel[0]
        return self.model.record(self.view.currentIndex().row())

    def select_job(self, job_id: str) -> bool:
        self.model.flush_changes()  # a job that just changed (or was created) is found as it is now
        row = self.model.row_of(job_id)
        if row < 0:
            return False
        idx = self.model.index(row, 0)
        self.view.setCurrentIndex(idx)
        self.view.scrollTo(idx)
        return True

    def _each(self, signal: Any, limit: int | None = None) -> None:
        for rec in self.selected()[:limit]:
            signal.emit(rec)

    def toggle_favourite(self) -> None:
        recs = self.selected()
        on = not all(r.favourite for r in recs)
        for r in recs:
            self.model.set_favourite(r.id, on)

    def delete_selected(self) -> None:
        ids = [r.id for r in self.selected()]
        if ids:
            self.deleteRequested.emit(ids)

    def menu_at_current(self) -> None:
        """The Menu key and Shift+F10: the context menu of the current item, opened beside it."""
        idx = self.view.currentIndex()
        if not idx.isValid() and self.model.rowCount():
            idx = self.model.index(0, 0)
            self.view.setCurrentIndex(idx)
        if idx.isValid():
            self._menu(self.view.visualRect(idx).center())

    def _menu(self, pos: Any) -> None:
        idx = self.view.indexAt(pos)
        if not idx.isValid():
            return
        if self.model.pending_changes():  # the menu offers what the job has now
            pid = QPersistentModelIndex(idx)
            self.model.flush_changes()
            idx = self.model.index(pid.row(), 0)
        if not self.view.selectionModel().isSelected(idx):
            self.view.setCurrentIndex(idx)
        rec = self.model.record(idx.row())
        if rec is None:
            return
        has_output = bool(rec.outputs)
        menu = QMenu(self)
        if rec.state == JobState.INTERRUPTED and (rec.handle or rec.submits):
            # waiting for the provider: it may still finish, and FlexStudio fetches it; a submit whose
            # answer was lost has nothing to fetch, but may have been billed until it is given up
            if rec.handle:
                menu.addAction("Try again", lambda: self.retryRequested.emit(rec))
            menu.addAction("Give up", lambda: self.giveUpRequested.emit(rec))
            menu.addSeparator()
        menu.addAction("Show", lambda: self.activated.emit(rec)).setEnabled(has_output)
        menu.addAction(
            shortcuts.menu_text("Restore all settings", "restore"), lambda: self.restoreRequested.emit(rec)
        )
        menu.addAction("Re-run", lambda: self.rerunRequested.emit(rec))
        menu.addAction("Use as reference", lambda: self.useRequested.emit(rec)).setEnabled(has_output)
        menu.addAction("Compare with…", lambda: self.compareRequested.emit(rec)).setEnabled(has_output)
        menu.addAction(
            shortcuts.menu_text("Export with metadata…", "export"), lambda: self.exportRequested.emit(rec)
        ).setEnabled(has_output)
        menu.addAction(shortcuts.menu_text("Lineage…", "lineage"), lambda: self.lineageRequested.emit(rec))
        if rec.group_id:
            word = {"sweep": "sweep", "batch": "batch"}.get(rec.group_kind or "", "comparison")
            menu.addAction(f"Open the {word}…", lambda: self.groupRequested.emit(rec))
        menu.addSeparator()
        fav = menu.addAction(shortcuts.menu_text("Favourite", "favourite"), self.toggle_favourite)
        fav.setCheckable(True)
        fav.setChecked(rec.favourite)
        menu.addAction("Copy prompt", lambda: _copy(rec.request.prompt))
        menu.addAction("Copy seed", lambda: _copy(str(rec.request.seed)))
        menu.addSeparator()
        menu.addAction(shortcuts.menu_text("Delete", "delete_job"), self.delete_selected)
        menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.last_menu = menu
        menu.popup(self.view.viewport().mapToGlobal(pos))


def _copy(text: str) -> None:
    from PySide6.QtGui import QGuiApplication

    QGuiApplication.clipboard().setText(text)
