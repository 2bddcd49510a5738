"""The reference tray: numbered, colour-coded chips (size sent, megapixels billed), drag to reorder,
drop or paste to add, Delete to remove, a context menu to replace, reveal or set the "before" image."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import (
    QAbstractListModel,
    QByteArray,
    QMimeData,
    QModelIndex,
    QPersistentModelIndex,
    QRect,
    QSize,
    Qt,
    Signal,
)
from PySide6.QtGui import (
    QAction,
    QColor,
    QDropEvent,
    QFont,
    QFontMetrics,
    QKeySequence,
    QPainter,
    QPainterPath,
    QPalette,
    QPen,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QLabel,
    QListView,
    QMenu,
    QStyledItemDelegate,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ..models.describe import plural
from ..models.importer import mime_has_images
from . import shortcuts, theme

if TYPE_CHECKING:
    from PySide6.QtWidgets import QStyleOptionViewItem

    from ..models.importer import ReferenceImporter
    from ..models.thumbs import ThumbnailCache
    from ..models.workbench import Workbench

THUMB = 128  # thumbnail size asked for (painted at 56 px, sharp on HiDPI)
CHIP_HEIGHT = 68
ROW_MIME = "application/x-flexstudio-reference-row"  # a chip being dragged within the tray
OVER_LIMIT = "over the limit: not sent"  # the third line of a chip beyond the provider's limit
RefRole = Qt.ItemDataRole.UserRole + 1
SentRole = Qt.ItemDataRole.UserRole + 2
BilledRole = Qt.ItemDataRole.UserRole + 3


class ReferenceListModel(QAbstractListModel):
    def __init__(self, workbench: Workbench, thumbs: ThumbnailCache) -> None:
        super().__init__()
        self.wb = workbench
        self.thumbs = thumbs
        self._billed: dict[int, float | None] = {}
        workbench.referencesChanged.connect(self._reset)
        workbench.providerChanged.connect(self._reset)
        workbench.changed.connect(self._requote)
        thumbs.ready.connect(self._thumb_ready)

    def _reset(self) -> None:
        self.beginResetModel()
        self._requote(emit=False)
        self.endResetModel()
        for ref in self.wb.references:  # at most ten: make them all, not only the visible ones
            self.thumbs.request(ref.sha256, THUMB)

    def _requote(self, emit: bool = True) -> None:
        billed: dict[int, float | None] = {}
        for item in self.wb.quote().breakdown:
            if item.item.startswith("image "):
                billed[int(item.item.split()[1]) - 1] = item.megapixels
        if billed != self._billed:
            self._billed = billed
            if emit and self.rowCount():
                self.dataChanged.emit(self.index(0), self.index(self.rowCount() - 1), [BilledRole])

    def _thumb_ready(self, sha: str, size: int) -> None:
        for row, ref in enumerate(self.wb.references):
            if ref.sha256 == sha:
                idx = self.index(row)
                self.dataChanged.emit(idx, idx, [Qt.ItemDataRole.DecorationRole])

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self.wb.references)

    def data(
        self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole
    ) -> Any:
        refs = self.wb.references
        if not index.isValid() or index.row() >= len(refs):
            return None
        ref = refs[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return ref.name or f"image {index.row() + 1}"
        if role == Qt.ItemDataRole.DecorationRole:
            return self.thumbs.get(ref.sha256, THUMB)
        if role == RefRole:
            return ref
        if role == SentRole:
            return ref.sent_size(self.wb.caps.max_pixels)
        if role == BilledRole:
            return self._billed.get(index.row())
        if role == Qt.ItemDataRole.ToolTipRole:
            w, h = ref.sent_size(self.wb.caps.max_pixels)
            scaled = "" if (w, h) == (ref.width, ref.height) else f", sent at {w}×{h}"
            tip = f"image {index.row() + 1}: {ref.name or ref.sha256[:12]} — {ref.width}×{ref.height}{scaled}"
            return tip + (f"\n{self.over_limit_text()}" if self.over_limit(index.row()) else "")
        if role == Qt.ItemDataRole.AccessibleTextRole:  # what the chip shows, in its order
            w, h = ref.sent_size(self.wb.caps.max_pixels)
            billed = self._billed.get(index.row())
            if self.over_limit(index.row()):
                return f"image {index.row() + 1}, {ref.name or 'pasted'}, {self.over_limit_text()}"
            text = f"image {index.row() + 1}, {ref.name or 'pasted'}, sent {w}×{h}"
            if billed is not None:
                text += f" · {billed:g} MP"
            before = self.wb.before_reference()
            return text + (", the before image" if before is not None and before.sha256 == ref.sha256 else "")
        return None

    def room(self) -> int:
        return self.wb.room()

    def over_limit(self, row: int) -> bool:
        """Chip ``row`` is beyond what the provider takes: Run stays off until it is removed."""
        return row >= self.wb.caps.max_references

    def over_limit_text(self) -> str:
        cap = self.wb.caps.max_references
        return (
            f"over the limit: {self.wb.info.display_name} takes {plural(cap, 'reference image')}; "
            "remove this one to run"
        )

    # Delegates read these directly rather than through QModelIndex.data(), which on PySide6 6.12.0
    # loses a reference to None each time it returns None.
    def thumbnail(self, row: int) -> Any:
        refs = self.wb.references
        return self.thumbs.get(refs[row].sha256, THUMB) if 0 <= row < len(refs) else None

    def billed(self, row: int) -> float | None:
        return self._billed.get(row)

    def flags(self, index: QModelIndex | QPersistentModelIndex) -> Qt.ItemFlag:
        base = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        return base | Qt.ItemFlag.ItemIsDragEnabled if index.isValid() else Qt.ItemFlag.ItemIsDropEnabled

    def supportedDragActions(self) -> Qt.DropAction:
        return Qt.DropAction.MoveAction

    def mimeTypes(self) -> list[str]:
        return [ROW_MIME]

    def mimeData(self, indexes: Any) -> QMimeData:
        mime = QMimeData()
        rows = sorted({i.row() for i in indexes if i.isValid()})
        if rows:
            mime.setData(ROW_MIME, QByteArray(str(rows[0]).encode()))
        return mime


def chip_texts(
    fm: QFontMetrics, name: str, sent: tuple[int, int] | None, billed: float | None, width: int
) -> tuple[str, str, str]:
    """A chip's second and third lines in ``width`` px: (file name, megapixels billed, size sent).

    The numbers are never cut: the megapixels sit at the right of the name line and the name gives way
    to them; the size line drops its word "sent" before it would elide."""
    mp = f"{billed:g} MP" if billed is not None else ""
    room = width - (fm.horizontalAdvance(mp) + fm.horizontalAdvance("  ") if mp else 0)
    name_text = fm.elidedText(name, Qt.TextElideMode.ElideMiddle, max(0, room)) if name else ""
    size = f"{sent[0]}×{sent[1]}" if sent else ""
    size_text = f"sent {size}" if size and fm.horizontalAdvance(f"sent {size}") <= width else size
    return name_text, mp, size_text


class ChipDelegate(QStyledItemDelegate):
    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> QSize:
        return QSize(max(160, option.rect.width()), CHIP_HEIGHT)

    @staticmethod
    def text_rect(rect: QRect) -> tuple[QRect, QRect]:
        """The chip's box and its thumbnail inside an item's ``rect``; the text runs right of the thumbnail."""
        r = rect.adjusted(2, 3, -2, -3)
        return r, QRect(r.left() + 6, r.top() + 5, r.height() - 10, r.height() - 10)

    @classmethod
    def text_width(cls, rect: QRect) -> int:
        r, thumb = cls.text_rect(rect)
        return r.right() - (thumb.right() + 10) - 6

    def paint(
        self, p: QPainter, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> None:
        p.save()
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        pal = option.palette
        row = index.row()
        colour = theme.chip_colour(row)
        r, thumb = self.text_rect(option.rect)
        is_selected, has_focus = theme.item_state()
        selected = bool(option.state & is_selected)
        path = QPainterPath()
        path.addRoundedRect(r, 6, 6)
        model = index.model()
        over = isinstance(model, ReferenceListModel) and model.over_limit(row)
        error = QColor(theme.LEVEL_ACCENTS["error"])
        p.fillPath(path, theme.tinted(error if over else colour, 0.22 if selected else 0.08, pal))
        if over:  # beyond the provider's limit: a red dashed border and the words, not only a colour
            p.setPen(QPen(error, 2, Qt.PenStyle.DashLine))
        else:
            p.setPen(QPen(colour if selected else pal.color(QPalette.ColorRole.Mid), 2 if selected else 1))
        p.drawPath(path)
        if option.state & has_focus:  # the keyboard's place: a visible ring
            p.setPen(QPen(pal.color(QPalette.ColorRole.Highlight), 2.5, Qt.PenStyle.DashLine))
            p.drawRoundedRect(r.adjusted(2, 2, -2, -2), 5, 5)
        # Thumbnail with the number badge.
        pix = model.thumbnail(row) if isinstance(model, ReferenceListModel) else None
        if pix is not None and not pix.isNull():
            scaled = pix.scaled(
                thumb.size() * p.device().devicePixelRatioF(),
                Qt.AspectRatioMode.KeepAspectRatio,
                Qt.TransformationMode.SmoothTransformation,
            )
            scaled.setDevicePixelRatio(p.device().devicePixelRatioF())
            sw = scaled.width() / scaled.devicePixelRatio()
            sh = scaled.height() / scaled.devicePixelRatio()
            p.drawPixmap(int(thumb.center().x() - sw / 2 + 1), int(thumb.center().y() - sh / 2 + 1), scaled)
        else:
            p.fillRect(thumb, pal.color(QPalette.ColorRole.Midlight))
        p.setPen(QPen(colour, 2))
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.drawRoundedRect(thumb, 3, 3)
        badge = QRect(thumb.left() - 4, thumb.top() - 4, 20, 20)
        p.setBrush(colour)
        p.setPen(Qt.PenStyle.NoPen)
        p.drawEllipse(badge)
        p.setPen(theme.readable_on(colour))
        p.setFont(theme.bold(theme.small_font(option.widget, -1), QFont.Weight.Bold))
        p.drawText(badge, Qt.AlignmentFlag.AlignCenter, str(row + 1))
        # Text: "image N" + name, the size sent, the megapixels billed.
        x = thumb.right() + 10
        width = self.text_width(option.rect)
        fm_font = theme.bold(option.font)
        p.setFont(fm_font)
        p.setPen(pal.color(QPalette.ColorRole.Text))
        ref = (
            model.wb.references[row]
            if isinstance(model, ReferenceListModel) and row < len(model.wb.references)
            else None
        )
        name = (ref.name or f"image {row + 1}") if ref is not None else ""
        line_h = p.fontMetrics().height()
        top = r.top() + (r.height() - 3 * line_h) // 2 + 1
        p.drawText(
            QRect(x, top, width, line_h),
            Qt.AlignmentFlag.AlignVCenter,
            p.fontMetrics().elidedText(f"image {row + 1}", Qt.TextElideMode.ElideRight, width),
        )
        small = theme.small_font(option.widget)
        p.setFont(small)
        sent = (
            ref.sent_size(model.wb.caps.max_pixels)
            if ref is not None and isinstance(model, ReferenceListModel)
            else None
        )
        billed = model.billed(row) if isinstance(model, ReferenceListModel) and not over else None
        name_text, mp_text, size_text = chip_texts(p.fontMetrics(), name, sent, billed, width)
        if over:
            size_text = p.fontMetrics().elidedText(OVER_LIMIT, Qt.TextElideMode.ElideRight, width)
        p.setPen(theme.muted(pal))
        p.drawText(QRect(x, top + line_h, width, line_h), Qt.AlignmentFlag.AlignVCenter, name_text)
        p.setPen(pal.color(QPalette.ColorRole.Text))
        right = Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight
        p.drawText(QRect(x, top + line_h, width, line_h), right, mp_text)
        if over:
            p.setPen(error)
            p.setFont(theme.bold(small))
        p.drawText(QRect(x, top + 2 * line_h, width, line_h), Qt.AlignmentFlag.AlignVCenter, size_text)
        p.restore()


class TrayView(QListView):
    """Drag a chip to reorder; drop files or image data to add."""

    moveRequested = Signal(int, int)

    def __init__(self, importer: ReferenceImporter, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.importer = importer
        # A viewport of our own: the first widget Qt itself makes and hands to Python costs PySide6 about
        # 10 ms (it builds some forty widget classes, and their enums, to find its type).
        self.setViewport(QWidget())
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setDragEnabled(True)
        self.setAcceptDrops(True)
        self.viewport().setAcceptDrops(True)
        self.setDropIndicatorShown(True)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DragDrop)
        self.setDefaultDropAction(Qt.DropAction.MoveAction)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setUniformItemSizes(True)
        self.setSpacing(0)
        self.setFrameShape(QListView.Shape.NoFrame)
        self.viewport().setAutoFillBackground(False)

    @staticmethod
    def _internal(event: Any) -> bool:
        return bool(event.mimeData().hasFormat(ROW_MIME))

    def dragEnterEvent(self, event: Any) -> None:
        if self._internal(event):
            super().dragEnterEvent(event)
            event.acceptProposedAction()
        elif mime_has_images(event.mimeData()):
            event.setDropAction(Qt.DropAction.CopyAction)
            event.accept()
        else:
            event.ignore()

    def dragMoveEvent(self, event: Any) -> None:
        if self._internal(event):
            super().dragMoveEvent(event)
            event.setDropAction(Qt.DropAction.MoveAction)
            event.accept()
        elif mime_has_images(event.mimeData()):
            event.setDropAction(Qt.DropAction.CopyAction)
            event.accept()
        else:
            event.ignore()

    def drop_row(self, pos: Any) -> int:
        """The position a chip dropped at ``pos`` goes to."""
        idx = self.indexAt(pos)
        n = self.model().rowCount()
        if not idx.isValid():
            return n - 1
        rect = self.visualRect(idx)
        return idx.row() + (1 if pos.y() > rect.center().y() else 0)

    def dropEvent(self, event: QDropEvent) -> None:
        pos = event.position().toPoint()
        if self._internal(event):
            try:
                src = int(bytes(event.mimeData().data(ROW_MIME).data()).decode())
            except ValueError:
                src = -1
            dst = self.drop_row(pos)
            if dst > src:
                dst -= 1
            event.setDropAction(Qt.DropAction.CopyAction)  # the view must not remove the source row itself
            event.accept()
            self.stopAutoScroll()
            self.setState(QAbstractItemView.State.NoState)
            self.viewport().update()
            if 0 <= src < self.model().rowCount():
                self.moveRequested.emit(src, dst)
            return
        if mime_has_images(event.mimeData()):
            event.setDropAction(Qt.DropAction.CopyAction)
            event.accept()
            self.importer.import_mime(event.mimeData(), check_recipe=True)
        else:
            event.ignore()

    def paintEvent(self, event: Any) -> None:
        super().paintEvent(event)
        model = self.model()
        if model is None:
            return
        rows = model.rowCount()
        with QPainter(self.viewport()) as p:  # ended here (see jobs_panel.StateDot)
            p.setPen(theme.muted(self.palette()))
            p.setFont(theme.small_font(self, 0 if rows == 0 else -1))
            if rows == 0:
                p.drawText(
                    self.viewport().rect().adjusted(12, 12, -12, -12),
                    Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                    "Drop images here,\npaste one with Ctrl+V,\nor click Add.\n\n"
                    "Mention them in the prompt as “image 1”, “image 2”…",
                )
                return
            last = self.visualRect(model.index(rows - 1, 0))
            room = getattr(model, "room", lambda: 0)()
            if room > 0 and last.bottom() + 40 < self.viewport().height():
                p.drawText(
                    QRect(8, last.bottom() + 8, self.viewport().width() - 16, 40),
                    Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop | Qt.TextFlag.TextWordWrap,
                    f"Drop or paste more — room for {room}.\nDrag a chip to reorder.",
                )


class ReferenceTray(QWidget):
    """Header (title, counter "3 / 8", Add, Remove) over the chip list."""

    addRequested = Signal()
    replaceRequested = Signal(int)
    revealRequested = Signal(int)

    def __init__(
        self,
        workbench: Workbench,
        importer: ReferenceImporter,
        thumbs: ThumbnailCache,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.wb = workbench
        self.setObjectName("tray")
        self.setAccessibleName("Reference tray")
        lay = QVBoxLayout(self)
        lay.setContentsMargins(8, 8, 4, 8)
        lay.setSpacing(6)
        head = QHBoxLayout()
        head.setSpacing(6)
        title = QLabel("References")
        title.setFont(theme.bold(title.font()))
        self.counter = QLabel()
        head.addWidget(title)
        head.addStretch(1)
        head.addWidget(self.counter)
        lay.addLayout(head)
        self.add_button = QToolButton()
        self.add_button.setText("Add images…")
        self.add_button.setToolTip(
            "Add reference images from files (or drop them here, or paste with Ctrl+V)"
        )
        self.add_button.setAccessibleName("Add reference images")
        self.add_button.clicked.connect(self.addRequested)
        self.remove_button = QToolButton()
        self.remove_button.setText("Remove")
        self.remove_button.setToolTip("Remove the selected reference (Delete)")
        self.remove_button.setAccessibleName("Remove the selected reference")
        self.remove_button.clicked.connect(self.remove_selected)
        foot = QHBoxLayout()
        foot.setSpacing(6)
        foot.addWidget(self.add_button)
        foot.addWidget(self.remove_button)
        foot.addStretch(1)
        self.model = ReferenceListModel(workbench, thumbs)
        self.view = TrayView(importer)
        self.view.setModel(self.model)
        self.view.setItemDelegate(ChipDelegate(self.view))
        self.view.setAccessibleName("Reference images")
        self.view.moveRequested.connect(self.move_reference)
        self.view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.view.customContextMenuRequested.connect(self._menu)
        lay.addWidget(self.view, 1)
        lay.addLayout(foot)
        self.remove_action = QAction("Remove reference", self)
        self.remove_action.setShortcuts([QKeySequence(k) for k in shortcuts.KEYS["remove_reference"]])
        self.remove_action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.remove_action.triggered.connect(self.remove_selected)
        self.view.addAction(self.remove_action)
        self.menu_action = QAction("Actions of the current reference", self)
        self.menu_action.setShortcuts([QKeySequence("Menu"), QKeySequence("Shift+F10")])
        self.menu_action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.menu_action.triggered.connect(self.menu_at_current)
        self.view.addAction(self.menu_action)
        self.last_menu: QMenu | None = None
        self.view.selectionModel().selectionChanged.connect(self._update)
        workbench.referencesChanged.connect(self._update)
        workbench.providerChanged.connect(self._update)
        self._update()

    def selected_row(self) -> int:
        rows = self.view.selectionModel().selectedRows()
        return rows[0].row() if rows else -1

    def select(self, row: int) -> None:
        if 0 <= row < self.model.rowCount():
            self.view.setCurrentIndex(self.model.index(row))

    def remove_selected(self) -> None:
        row = self.selected_row()
        if row >= 0:
            self.wb.remove_reference(row)
            self.select(min(row, self.model.rowCount() - 1))

    def remove_row(self, row: int) -> None:
        self.select(row)
        self.remove_selected()

    def move_reference(self, src: int, dst: int) -> None:
        """Move chip ``src`` to position ``dst`` (the prompt's "image N" mentions follow)."""
        self.wb.move_reference(src, dst)
        self.select(max(0, min(dst, self.model.rowCount() - 1)))

    def _update(self) -> None:
        n, cap = len(self.wb.references), self.wb.caps.max_references
        self.counter.setText(f"{n} / {cap}")
        over = n > cap
        self.counter.setStyleSheet("color: #e03131; font-weight: 600;" if over else "")
        self.counter.setToolTip(
            f"{self.wb.info.display_name} takes up to {plural(cap, 'reference image')}"
            + (
                f" — remove {plural(n - cap, 'image')} (marked “{OVER_LIMIT}”) before running."
                if over
                else "."
            )
        )
        self.add_button.setEnabled(n < cap)
        self.remove_button.setEnabled(self.selected_row() >= 0)

    def menu_at_current(self) -> None:
        """The Menu key and Shift+F10: the context menu of the current chip, opened beside it."""
        idx = self.view.currentIndex()
        if not idx.isValid() and self.model.rowCount():
            idx = self.model.index(0)
        if idx.isValid():
            self._menu(self.view.visualRect(idx).center())

    def _menu(self, pos: Any) -> None:
        idx = self.view.indexAt(pos)
        if not idx.isValid():
            return
        row = idx.row()
        self.select(row)
        menu = QMenu(self)
        menu.addAction("Replace…", lambda: self.replaceRequested.emit(row))
        menu.addAction("Reveal file", lambda: self.revealRequested.emit(row))
        before = menu.addAction("Set as the “before” image", lambda: self.wb.set_before(row))
        before.setCheckable(True)
        ref = self.wb.before_reference()
        before.setChecked(ref is not None and ref.sha256 == self.wb.references[row].sha256)
        menu.addSeparator()
        if row > 0:
            menu.addAction("Move up", lambda: self.move_reference(row, row - 1))
        if row < self.model.rowCount() - 1:
            menu.addAction("Move down", lambda: self.move_reference(row, row + 1))
        menu.addAction(shortcuts.menu_text("Remove", "remove_reference"), lambda: self.remove_row(row))
        menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.last_menu = menu
        menu.popup(self.view.viewport().mapToGlobal(pos))
