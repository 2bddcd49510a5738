"""Colours, fonts and icons that follow the system palette (light and dark alike).

Only the reference-chip colours are fixed: they identify "image N" in the tray, the prompt and the
compare view, and are chosen to read on both light and dark backgrounds.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QFont, QIcon, QPalette
from PySide6.QtWidgets import QApplication, QWidget

from ...core.job_state import JobState
from ..models import describe

if TYPE_CHECKING:
    from PySide6.QtWidgets import QStyle

CHIP_COLOURS = (
    "#e8590c",
    "#1c7ed6",
    "#2f9e44",
    "#ae3ec9",
    "#f59f00",
    "#0ca678",
    "#e64980",
    "#4263eb",
    "#868e96",
    "#d6336c",
)

# Tints for messages, mixed into the window colour so text keeps the palette's own contrast.
LEVEL_ACCENTS = {"info": "#1c7ed6", "success": "#2f9e44", "warning": "#f59f00", "error": "#e03131"}
STATE_ACCENTS = {
    JobState.QUEUED: "#868e96",
    JobState.SUBMITTING: "#1c7ed6",
    JobState.RUNNING: "#1c7ed6",
    JobState.DOWNLOADING: "#1c7ed6",
    JobState.SUCCEEDED: "#2f9e44",
    JobState.FAILED: "#e03131",
    JobState.MODERATED: "#f59f00",
    JobState.CANCELLED: "#868e96",
    JobState.INTERRUPTED: "#f59f00",
}


def chip_colour(index: int) -> QColor:
    """The colour of reference ``index`` (0-based) — "image index+1"."""
    return QColor(CHIP_COLOURS[index % len(CHIP_COLOURS)])


def palette() -> QPalette:
    app = QApplication.instance()
    return app.palette() if isinstance(app, QApplication) else QPalette()


def is_dark(pal: QPalette | None = None) -> bool:
    pal = pal or palette()
    return pal.color(QPalette.ColorRole.Window).lightness() < 128


def mix(a: QColor, b: QColor, amount: float) -> QColor:
    """``a`` moved ``amount`` (0..1) of the way towards ``b``."""
    t = max(0.0, min(1.0, amount))
    return QColor(
        round(a.red() + (b.red() - a.red()) * t),
        round(a.green() + (b.green() - a.green()) * t),
        round(a.blue() + (b.blue() - a.blue()) * t),
    )


def tinted(accent: str | QColor, amount: float = 0.18, pal: QPalette | None = None) -> QColor:
    """A background: the window colour with a touch of ``accent`` (stronger in dark mode)."""
    pal = pal or palette()
    base = pal.color(QPalette.ColorRole.Window)
    return mix(base, QColor(accent), amount * (1.5 if is_dark(pal) else 1.0))


def readable_on(colour: QColor) -> QColor:
    """Black or white, whichever reads better on ``colour``."""
    r, g, b = colour.redF(), colour.greenF(), colour.blueF()
    luminance = 0.2126 * r + 0.7152 * g + 0.0722 * b
    return QColor(Qt.GlobalColor.black) if luminance > 0.55 else QColor(Qt.GlobalColor.white)


def muted(pal: QPalette | None = None) -> QColor:
    """Secondary text: the text colour faded towards the background (opaque; readable in both modes)."""
    pal = pal or palette()
    return mix(pal.color(QPalette.ColorRole.WindowText), pal.color(QPalette.ColorRole.Window), 0.42)


def small_font(widget: QWidget | None = None, delta: float = -1.0) -> QFont:
    f = QFont(widget.font() if widget is not None else QApplication.font())
    size = f.pointSizeF()
    if size > 0:
        f.setPointSizeF(max(6.0, size + delta))
    return f


def bold(font: QFont, weight: QFont.Weight = QFont.Weight.DemiBold) -> QFont:
    f = QFont(font)
    f.setWeight(weight)
    return f


@cache
def app_icon() -> QIcon:
    from ...storage.paths import resources_dir

    path = resources_dir() / "icons" / "flexstudio.svg"
    return QIcon(str(path)) if path.exists() else QIcon()


money = describe.money  # one formatter for every amount of money in the window


@cache
def item_state() -> tuple[QStyle.StateFlag, QStyle.StateFlag]:
    """QStyle's "selected" and "has focus" flags for the item painters, resolved once, on the first item
    painted: PySide6 takes ~5 ms to build QStyle's enums, and the first frame paints no chip or card."""
    from PySide6.QtWidgets import QStyle

    return QStyle.StateFlag.State_Selected, QStyle.StateFlag.State_HasFocus
