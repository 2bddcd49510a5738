"""Small painted icons (no icon theme is guaranteed on Linux, and emoji fonts often are missing)."""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPainterPath, QPen, QPixmap

from . import theme

_SIZE = 32


def _canvas(disabled: bool = False) -> tuple[QPixmap, QPainter, QColor]:
    pix = QPixmap(_SIZE, _SIZE)
    pix.fill(Qt.GlobalColor.transparent)
    p = QPainter(pix)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    pal = theme.palette()
    group = pal.ColorGroup.Disabled if disabled else pal.ColorGroup.Active
    return pix, p, pal.color(group, pal.ColorRole.ButtonText)


def _both(paint: Callable[[bool], QPixmap]) -> QIcon:
    """An icon with its own greyed picture for a disabled button (the style's own disabled version of a
    black drawing stays black: the button looked live)."""
    icon = QIcon(paint(False))
    icon.addPixmap(paint(True), QIcon.Mode.Disabled)
    return icon


@cache
def dice() -> QIcon:
    return _both(_dice)


def _dice(disabled: bool) -> QPixmap:
    pix, p, ink = _canvas(disabled)
    p.setPen(QPen(ink, 2.2))
    p.drawRoundedRect(QRectF(5, 5, 22, 22), 5, 5)
    p.setBrush(ink)
    p.setPen(Qt.PenStyle.NoPen)
    for x, y in ((11, 11), (16, 16), (21, 21), (21, 11), (11, 21)):
        p.drawEllipse(QPointF(x, y), 2.1, 2.1)
    p.end()
    return pix


@cache
def lock(closed: bool = True) -> QIcon:
    return _both(lambda disabled: _lock(closed, disabled))


def _lock(closed: bool, disabled: bool) -> QPixmap:
    pix, p, ink = _canvas(disabled)
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
    return pix


def lock_icon() -> QIcon:
    """A padlock that shows open when the button is off and closed when it is on (greyed when disabled)."""
    icon = QIcon()
    for mode, disabled in ((QIcon.Mode.Normal, False), (QIcon.Mode.Disabled, True)):
        icon.addPixmap(_lock(False, disabled), mode, QIcon.State.Off)
        icon.addPixmap(_lock(True, disabled), mode, QIcon.State.On)
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
