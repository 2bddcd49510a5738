"""The compare canvas: before/after in four modes — wipe, side by side (one zoom and pan for both),
flip, difference — with fit, 100 % and wheel zoom. Pixmaps only; all decoding happens elsewhere."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

from PySide6.QtCore import QPointF, QRect, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QFontMetricsF,
    QMouseEvent,
    QPainter,
    QPainterPath,
    QPalette,
    QPen,
    QPixmap,
    QWheelEvent,
)
from PySide6.QtWidgets import QSizePolicy, QWidget

from . import theme

MODES = ("wipe", "side", "flip", "diff")
MODE_LABELS = {"wipe": "Wipe", "side": "Side by side", "flip": "Flip", "diff": "Difference"}
MIN_ZOOM, MAX_ZOOM = 0.02, 32.0


def cover_crop(src: QSize, frame: QSize) -> QRect:
    """The part of an image of ``src`` size that covers a frame of ``frame``'s aspect (centred crop)."""
    if src.isEmpty() or frame.isEmpty():
        return QRect(0, 0, src.width(), src.height())
    sa = src.width() / src.height()
    fa = frame.width() / frame.height()
    if abs(sa - fa) < 1e-3:
        return QRect(0, 0, src.width(), src.height())
    if sa > fa:  # wider: crop the sides
        w = round(src.height() * fa)
        return QRect((src.width() - w) // 2, 0, w, src.height())
    h = round(src.width() / fa)
    return QRect(0, (src.height() - h) // 2, src.width(), h)


class CompareCanvas(QWidget):
    zoomChanged = Signal(object)  # float | None (None = fit)
    modeChanged = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("canvas")
        self.setAccessibleName("Compare view")
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setMouseTracking(True)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(240, 180)
        self.before: QPixmap | None = None
        self.after: QPixmap | None = None
        self.diff: QPixmap | None = None
        self.before_label = "Before"
        self.after_label = "After"
        self.mode = "wipe"
        self.showing_before = False  # flip mode
        self.split = 0.5
        self.zoom: float | None = None  # None: fit
        self.center = QPointF(0, 0)  # frame coordinates at the middle of the view
        self.empty_text = "Run an edit: its result appears here beside image 1."
        self._drag: str | None = None
        self._last = QPointF()
        self._scaled: OrderedDict[tuple[int, int, int, int, int, int, int], QPixmap] = OrderedDict()
        self._describe()

    # ------------------------------------------------------------------ content
    def frame_size(self) -> QSize:
        for pix in (self.after, self.before):
            if pix is not None and not pix.isNull():
                return pix.size()
        return QSize()

    def set_images(self, before: QPixmap | None, after: QPixmap | None, *, keep_view: bool = False) -> None:
        old = self.frame_size()
        self.before, self.after = before, after
        self.diff = None
        self._scaled.clear()
        if not keep_view or old != self.frame_size():
            self.zoom = None
            fs = self.frame_size()
            self.center = QPointF(fs.width() / 2, fs.height() / 2)
        self.zoomChanged.emit(self.zoom)
        self._describe()
        self.update()

    def set_diff(self, diff: QPixmap | None) -> None:
        self.diff = diff
        self.update()

    def set_labels(self, before: str, after: str) -> None:
        self.before_label, self.after_label = before, after
        self._describe()
        self.update()

    def _describe(self) -> None:
        """What the canvas shows, for a screen reader: the mode and the two pictures."""
        if self.after is None and self.before is None:
            text = self.empty_text
        else:
            shown = [
                lbl
                for lbl, pix in ((self.before_label, self.before), (self.after_label, self.after))
                if pix is not None
            ]
            text = f"{MODE_LABELS.get(self.mode, self.mode)}: {' and '.join(shown)}"
        self.setAccessibleDescription(text)

    def set_mode(self, mode: str) -> None:
        if mode in MODES and mode != self.mode:
            self.mode = mode
            self.modeChanged.emit(mode)
            self._describe()
            self.update()

    def flip(self) -> None:
        """Space: in flip mode show the other image; from any other mode, go to flip on "before"."""
        if self.mode != "flip":
            self.set_mode("flip")
            self.showing_before = True
        else:
            self.showing_before = not self.showing_before
        self.update()

    def swap(self) -> None:
        self.before, self.after = self.after, self.before
        self.before_label, self.after_label = self.after_label, self.before_label
        self.diff = None
        self._scaled.clear()
        self.update()

    # ------------------------------------------------------------------ zoom and pan
    def _views(self) -> list[QRectF]:
        r = QRectF(self.rect()).adjusted(6, 6, -6, -6)
        if self.mode == "side":
            half = (r.width() - 8) / 2
            return [
                QRectF(r.left(), r.top(), half, r.height()),
                QRectF(r.left() + half + 8, r.top(), half, r.height()),
            ]
        return [r]

    def scale(self) -> float:
        fs = self.frame_size()
        if fs.isEmpty():
            return 1.0
        if self.zoom is not None:
            return self.zoom
        v = self._views()[0]
        return max(MIN_ZOOM, min(v.width() / fs.width(), v.height() / fs.height()))

    def frame_rect(self, view: QRectF) -> QRectF:
        fs = self.frame_size()
        s = self.scale()
        c = QPointF(fs.width() / 2, fs.height() / 2) if self.zoom is None else self.center
        left = view.center().x() - c.x() * s
        top = view.center().y() - c.y() * s
        return QRectF(left, top, fs.width() * s, fs.height() * s)

    def set_zoom(self, zoom: float | None, anchor: QPointF | None = None) -> None:
        fs = self.frame_size()
        if fs.isEmpty():
            return
        if zoom is None:
            self.zoom = None
            self.center = QPointF(fs.width() / 2, fs.height() / 2)
        else:
            zoom = max(MIN_ZOOM, min(MAX_ZOOM, zoom))
            view = self._views()[0]
            if anchor is None:
                anchor = view.center()
            else:
                for v in self._views():
                    if v.contains(anchor):
                        view = v
            before_rect = self.frame_rect(view)
            s0 = before_rect.width() / fs.width()
            point = QPointF((anchor.x() - before_rect.left()) / s0, (anchor.y() - before_rect.top()) / s0)
            self.zoom = zoom
            # keep ``point`` under ``anchor``
            self.center = QPointF(
                point.x() - (anchor.x() - view.center().x()) / zoom,
                point.y() - (anchor.y() - view.center().y()) / zoom,
            )
        self.zoomChanged.emit(self.zoom)
        self.update()

    def zoom_by(self, factor: float, anchor: QPointF | None = None) -> None:
        self.set_zoom(self.scale() * factor, anchor)

    def resizeEvent(self, e: Any) -> None:
        super().resizeEvent(e)
        if self.zoom is None:
            self.zoomChanged.emit(None)

    def wheelEvent(self, e: QWheelEvent) -> None:
        steps = e.angleDelta().y() / 120
        if steps:
            self.zoom_by(1.15**steps, e.position())
        e.accept()

    def _split_x(self) -> float:
        fr = self.frame_rect(self._views()[0])
        return fr.left() + fr.width() * self.split

    def mousePressEvent(self, e: QMouseEvent) -> None:
        self.setFocus()
        self._last = e.position()
        if self.mode == "wipe" and self.after is not None and abs(e.position().x() - self._split_x()) < 10:
            self._drag = "split"
        else:
            self._drag = "pan"
            self.setCursor(Qt.CursorShape.ClosedHandCursor)

    def mouseMoveEvent(self, e: QMouseEvent) -> None:
        if self._drag == "split":
            self.set_split_at(e.position().x())
        elif self._drag == "pan" and e.buttons():
            if self.zoom is None:
                self.zoom = self.scale()
                fs = self.frame_size()
                self.center = QPointF(fs.width() / 2, fs.height() / 2)
            d = e.position() - self._last
            self.center -= QPointF(d.x() / self.zoom, d.y() / self.zoom)
            self.update()
        elif self.mode == "wipe" and self.after is not None:
            near = abs(e.position().x() - self._split_x()) < 10
            self.setCursor(Qt.CursorShape.SplitHCursor if near else Qt.CursorShape.ArrowCursor)
        self._last = e.position()

    def mouseReleaseEvent(self, e: QMouseEvent) -> None:
        self._drag = None
        self.unsetCursor()

    def mouseDoubleClickEvent(self, e: QMouseEvent) -> None:
        self.set_zoom(None)

    def set_split_at(self, x: float) -> None:
        fr = self.frame_rect(self._views()[0])
        if fr.width() > 0:
            self.set_split((x - fr.left()) / fr.width())

    def set_split(self, fraction: float) -> None:
        self.split = max(0.0, min(1.0, fraction))
        self.update()

    # ------------------------------------------------------------------ painting
    def _draw(self, p: QPainter, pix: QPixmap, target: QRectF) -> None:
        src = cover_crop(pix.size(), self.frame_size())
        dpr = self.devicePixelRatioF()
        tw, th = round(target.width() * dpr), round(target.height() * dpr)
        if 0 < tw < src.width() and tw * th < 9_000_000:
            key = (pix.cacheKey(), src.x(), src.y(), src.width(), src.height(), tw, th)
            scaled = self._scaled.get(key)
            if scaled is None:
                part = pix if src == pix.rect() else pix.copy(src)
                scaled = part.scaled(
                    tw, th, Qt.AspectRatioMode.IgnoreAspectRatio, Qt.TransformationMode.SmoothTransformation
                )
                scaled.setDevicePixelRatio(dpr)
                self._scaled[key] = scaled
                while len(self._scaled) > 6:
                    self._scaled.popitem(last=False)
            p.drawPixmap(target.topLeft(), scaled)
            return
        p.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, self.scale() < 2)
        p.drawPixmap(target, pix, QRectF(src))

    def _pill_rect(
        self, text: str, at: QPointF, right: bool = False, max_w: float | None = None
    ) -> tuple[str, QRectF]:
        """The caption ``text`` (elided to ``max_w`` px) and its pill's rectangle anchored at ``at``."""
        fm = QFontMetricsF(theme.small_font(self))
        if max_w is not None and fm.horizontalAdvance(text) + 14 > max_w:
            text = fm.elidedText(text, Qt.TextElideMode.ElideRight, max(0.0, max_w - 14))
        w, h = fm.horizontalAdvance(text) + 14, fm.height() + 6
        return text, QRectF(at.x() - (w if right else 0), at.y(), w, h)

    def caption_pills(self) -> list[tuple[str, QRectF]]:
        """The before and after captions as drawn in wipe and side-by-side (text, rectangle): each is elided
        to fit its view, and in wipe the after caption drops below the before one when both do not fit on
        one line, so they never overlap however narrow the canvas or large the font. In wipe, a caption
        whose image is scrolled out of the view (the wipe line left it) is not drawn."""
        views = self._views()
        if self.mode == "side":
            return [
                self._pill_rect(
                    label,
                    QPointF(v.right() - 8, v.top() + 8) if right else QPointF(v.left() + 8, v.top() + 8),
                    right,
                    v.width() - 16,
                )
                for v, label, right in (
                    (views[0], self.before_label, False),
                    (views[1], self.after_label, True),
                )
            ]
        view = views[0]
        room = view.width() - 16
        before = self._pill_rect(self.before_label, QPointF(view.left() + 8, view.top() + 8), max_w=room)
        after = self._pill_rect(self.after_label, QPointF(view.right() - 8, view.top() + 8), True, room)
        # Zoomed in (100 %), the wipe line can leave the view: only one image shows, and only its caption.
        fr = self.frame_rect(view)
        x = fr.left() + fr.width() * self.split
        if x <= view.left() + 8:
            return [after]
        if x >= view.right() - 8:
            return [before]
        if before[1].right() + 8 > after[1].left():  # they would touch: stack the after caption below
            after = self._pill_rect(
                self.after_label, QPointF(view.right() - 8, before[1].bottom() + 4), True, room
            )
        return [before, after]

    def _pill(
        self,
        p: QPainter,
        text: str,
        at: QPointF,
        right: bool = False,
        colour: QColor | None = None,
        rect: QRectF | None = None,
    ) -> None:
        if rect is None:
            text, rect = self._pill_rect(text, at, right, self._views()[0].width() - 16)
        r = rect
        h = r.height()
        p.setFont(theme.small_font(self))
        path = QPainterPath()
        path.addRoundedRect(r, h / 2, h / 2)
        p.fillPath(path, QColor(0, 0, 0, 150))
        if colour is not None:
            p.setPen(QPen(colour, 2))
            p.drawPath(path)
        p.setPen(Qt.GlobalColor.white)
        p.drawText(r, Qt.AlignmentFlag.AlignCenter, text)

    def paintEvent(self, event: Any) -> None:
        with QPainter(self) as p:  # ended here, whatever still refers to this frame (see jobs_panel.StateDot)
            self._paint(p)

    def _paint(self, p: QPainter) -> None:
        pal = self.palette()
        p.fillRect(self.rect(), pal.color(QPalette.ColorRole.Base).darker(108 if theme.is_dark(pal) else 104))
        fs = self.frame_size()
        if fs.isEmpty():
            p.setPen(theme.muted(pal))
            p.drawText(
                self.rect().adjusted(24, 24, -24, -24),
                Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                self.empty_text,
            )
            return
        views = self._views()
        if self.mode == "side":
            for view, pix in ((views[0], self.before), (views[1], self.after)):
                p.save()
                p.setClipRect(view)
                if pix is not None:
                    self._draw(p, pix, self.frame_rect(view))
                else:
                    p.setPen(theme.muted(pal))
                    p.drawText(view, Qt.AlignmentFlag.AlignCenter, "(nothing)")
                p.restore()
            for text, rect in self.caption_pills():
                self._pill(p, text, rect.topLeft(), rect=rect)
            return
        view = views[0]
        fr = self.frame_rect(view)
        p.save()
        p.setClipRect(view)
        if self.mode == "diff":
            if self.diff is not None:
                self._draw(p, self.diff, fr)
            elif self.after is not None:
                self._draw(p, self.after, fr)
            p.restore()
            self._pill(
                p,
                "Difference: changed pixels glow"
                if self.diff
                else (
                    "Computing the difference…"
                    if self.before and self.after
                    else "Difference needs a before and an after image"
                ),
                QPointF(view.left() + 8, view.top() + 8),
            )
            return
        if self.mode == "flip" or self.after is None or self.before is None:
            show_before = (self.mode == "flip" and self.showing_before) or self.after is None
            pix = self.before if show_before else self.after
            if pix is not None:
                self._draw(p, pix, fr)
            p.restore()
            label = self.before_label if show_before else self.after_label
            self._pill(
                p,
                label + ("   (Space flips)" if self.mode == "flip" else ""),
                QPointF(view.left() + 8, view.top() + 8),
            )
            return
        # wipe
        x = fr.left() + fr.width() * self.split
        p.save()
        p.setClipRect(QRectF(view.left(), view.top(), max(0.0, x - view.left()), view.height()))
        self._draw(p, self.before, fr)
        p.restore()
        p.save()
        p.setClipRect(QRectF(x, view.top(), max(0.0, view.right() - x), view.height()))
        self._draw(p, self.after, fr)
        p.restore()
        p.restore()
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        top, bottom = max(view.top(), fr.top()), min(view.bottom(), fr.bottom())
        p.setPen(QPen(QColor(255, 255, 255, 230), 2))
        p.drawLine(QPointF(x, top), QPointF(x, bottom))
        mid = (top + bottom) / 2
        p.setBrush(QColor(255, 255, 255, 235))
        p.setPen(QPen(QColor(0, 0, 0, 120), 1))
        p.drawEllipse(QPointF(x, mid), 11, 11)
        p.setPen(QPen(QColor(40, 40, 40), 2))
        for dx in (-1, 1):
            p.drawLine(QPointF(x + dx * 3, mid - 4), QPointF(x + dx * 7, mid))
            p.drawLine(QPointF(x + dx * 7, mid), QPointF(x + dx * 3, mid + 4))
        for text, rect in self.caption_pills():
            self._pill(p, text, rect.topLeft(), rect=rect)
