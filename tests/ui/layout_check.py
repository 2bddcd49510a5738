"""What "the window fits" means, as a check over every visible widget of a window:

- a visible control lies inside the visible area of each of its parents (inside a scroll area only the
  horizontal extent counts: scrolling down to a control is fine, a control cut at the side is not);
- no control is smaller than the minimum its layout promises it (its ``minimumSize`` when set, else its
  ``minimumSizeHint``; a size policy that ignores the hint — an eliding label — opts out);
- the window is no larger than the screen's available area.
Returns one human line per problem (empty: it fits)."""

from __future__ import annotations

from PySide6.QtCore import QPoint, QRect
from PySide6.QtWidgets import (
    QAbstractItemView,
    QAbstractScrollArea,
    QMainWindow,
    QMenu,
    QScrollBar,
    QSizePolicy,
    QSplitterHandle,
    QWidget,
)


def name(w: QWidget) -> str:
    bits = [type(w).__name__]
    for text in (w.objectName(), w.accessibleName()):
        if text:
            bits.append(repr(text))
    label = getattr(w, "text", None)
    if callable(label):
        try:
            t = label()
        except TypeError:
            t = ""
        if isinstance(t, str) and t:
            bits.append(repr(t[:30]))
    return " ".join(bits)


def effective_min(w: QWidget) -> tuple[int, int]:
    """The size below which a layout never squeezes ``w`` (Qt's own qSmartMinSize, roughly)."""
    hint = w.minimumSizeHint()
    pol = w.sizePolicy()
    mw = w.minimumWidth() or (
        0 if pol.horizontalPolicy() == QSizePolicy.Policy.Ignored else max(0, hint.width())
    )
    mh = w.minimumHeight() or (
        0 if pol.verticalPolicy() == QSizePolicy.Policy.Ignored else max(0, hint.height())
    )
    return min(mw, w.maximumWidth()), min(mh, w.maximumHeight())  # a maximum set below the hint wins


def _skip(w: QWidget, window: QWidget) -> bool:
    p = w.parentWidget()
    while p is not None and p is not window:
        if isinstance(p, QAbstractItemView):  # an editor or index widget inside a list: the view clips it
            return True
        p = p.parentWidget()
    return isinstance(w, (QMenu, QSplitterHandle)) or w.isWindow()


def problems(window: QMainWindow, where: str = "") -> list[str]:
    out: list[str] = []
    screen = window.screen().availableGeometry()
    frame = window.geometry()  # the client area (offscreen, the frame is a made-up 2 px border)
    if frame.width() > screen.width() or frame.height() > screen.height():
        out.append(
            f"{where}the window is {frame.width()}×{frame.height()} on a {screen.width()}×"
            f"{screen.height()} screen"
        )
    for w in window.findChildren(QWidget):
        if not w.isVisible() or _skip(w, window):
            continue
        whole = QRect(w.mapTo(window, QPoint(0, 0)), QWidget.size(w))  # (a widget may shadow size())
        rect = whole
        mw, mh = effective_min(w)
        if (whole.width() < mw or whole.height() < mh) and not w.objectName().startswith("qt_"):
            # (Qt's own parts — a spin box's line edit — are sized by their owner, not by a layout)
            out.append(
                f"{where}{name(w)} is {whole.width()}×{whole.height()}, smaller than its minimum {mw}×{mh}"
            )
        p = w.parentWidget()
        child = w
        while p is not None:
            prect = QRect(p.mapTo(window, QPoint(0, 0)), QWidget.size(p))
            in_scroll = (
                isinstance(p.parentWidget(), QAbstractScrollArea)
                and p is p.parentWidget().viewport()
                and not isinstance(child, QScrollBar)
            )  # type: ignore[attr-defined]
            if in_scroll:  # scrolled content: only the sides must fit; above it, only what shows counts
                ok = rect.left() >= prect.left() and rect.right() <= prect.right()
                rect = rect.intersected(prect)
                if ok and rect.isEmpty():
                    break
            else:
                ok = prect.contains(rect)
            if not ok:
                out.append(
                    f"{where}{name(w)} at {whole.x()},{whole.y()} {whole.width()}×{whole.height()} is cut by "
                    f"{name(p)} at {prect.x()},{prect.y()} {prect.width()}×{prect.height()}"
                )
                break
            if p is window:
                break
            child = p
            p = p.parentWidget()
    return out
