"""Small painted icons (no icon theme is guaranteed on Linux, and emoji fonts often are missing)."""

from __future__ import annotations

from functools import cache

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPainterPath, QPen, QPixmap

from . import theme

_SIZE = 32


def _canvas() -> tuple[QPixmap, QPainter, QColor]:
    pix = QPixmap(_SIZE, _SIZE)
    pix.fill(Qt.GlobalColor.transparent)
    p = QPainter(pix)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    return pix, p, theme.palette().color(theme.palette().ColorRole.ButtonText)


@cache
def dice() -> QIcon:
    pix, p, ink = _canvas()
    p.setPen(QPen(ink, 2.2))
    p.drawRoundedRect(QRectF(5, 5, 22, 22), 5, 5)
    p.setBrush(ink)
    p.setPen(Qt.PenStyle.NoPen)
    for x, y in ((11, 11), (16, 16), (21, 21), (21, 11), (11, 21)):
        p.drawEllipse(QPointF(x, y), 2.1, 2.1)
    p.end()
    return QIcon(pix)


@cache
def lock(closed: bool = True) -> QIcon:
    pix, p, ink = _canvas()
    p.setPen(QPen(ink, 2.4))
    p.setBrush(Qt.BrushStyle.NoBrush)
    path = QPainterPath()
    if closed:
        path.moveTo(10, 15)
        path.lineTo(10, 11)
        path.arcTo(QRectF(10, 5, 12, 12), 180, -180)
        path.lineTo(22, 15)
    else:
        path.moveTo(10, 15)
        path.lineTo(10, 11)
        path.arcTo(QRectF(10, 5, 12, 12), 180, -150)
    p.drawPath(path)
    p.setBrush(ink)
    p.setPen(Qt.PenStyle.NoPen)
    p.drawRoundedRect(QRectF(7, 15, 18, 13), 2.5, 2.5)
    p.end()
    return QIcon(pix)


def lock_icon() -> QIcon:
    """A padlock that shows open when the button is off and closed when it is on."""
    icon = QIcon()
    icon.addPixmap(lock(False).pixmap(_SIZE, _SIZE), QIcon.Mode.Normal, QIcon.State.Off)
    icon.addPixmap(lock(True).pixmap(_SIZE, _SIZE), QIcon.Mode.Normal, QIcon.State.On)
    return icon


@cache
def star(filled: bool) -> QIcon:
    import math

    pix, p, ink = _canvas()
    path = QPainterPath()
    for i in range(10):
        r = 12 if i % 2 == 0 else 5.2
        a = -math.pi / 2 + i * math.pi / 5
        pt = QPointF(16 + r * math.cos(a), 17 + r * math.sin(a))
        path.moveTo(pt) if i == 0 else path.lineTo(pt)
    path.closeSubpath()
    gold = QColor("#f59f00")
    p.setPen(QPen(gold if filled else ink, 2))
    if filled:
        p.setBrush(gold)
    p.drawPath(path)
    p.end()
    return QIcon(pix)
