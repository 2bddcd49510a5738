"""The small badge beside a control the selected provider ignores, renames or converts (from the
provider's capabilities, never its name): a 16 px icon whose tooltip says it in plain words. Its room is
kept when it is hidden, so the label column is as wide for every provider."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPen, QPixmap
from PySide6.QtWidgets import QLabel, QSizePolicy, QWidget

from ...providers.base import Support

if TYPE_CHECKING:
    from ...providers.base import FieldHandling

FIELD_WORDS = {
    "steps": "Steps",
    "guidance": "Guidance",
    "seed": "Seed",
    "size": "Size",
    "output_format": "Format",
    "safety": "Safety",
    "prompt_upsampling": "Prompt upsampling",
}
_ACCENT = {Support.IGNORED: "#e8590c", Support.RENAMED: "#1c7ed6", Support.CONVERTED: "#ae3ec9"}
_GLYPH = {Support.IGNORED: "", Support.RENAMED: "↔", Support.CONVERTED: "≈"}
SIZE = 16


def plain_words(handling: FieldHandling, provider: str) -> str:
    """What a badge says, for a designer: what the provider does with the setting."""
    note = (handling.note or "").strip().rstrip(".")
    if handling.support == Support.IGNORED:
        return f"{provider} has no setting for this, so it is not sent" + (f" ({note})." if note else ".")
    if handling.support == Support.RENAMED:
        return f"Sent to {provider} under another name, with the same value" + (
            f" ({note})." if note else "."
        )
    if handling.support == Support.CONVERTED:
        return f"{provider} takes this in another form; FlexStudio converts it for you" + (
            f" ({note})." if note else "."
        )
    return ""


@cache
def _pixmap(support: Support, dpr: float) -> QPixmap:
    side = round(SIZE * dpr)
    pix = QPixmap(side, side)
    pix.setDevicePixelRatio(dpr)
    pix.fill(Qt.GlobalColor.transparent)
    p = QPainter(pix)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    accent = QColor(_ACCENT[support])
    box = QRectF(1, 1, SIZE - 2, SIZE - 2)
    if support == Support.IGNORED:  # a "not used" sign: a ring with a bar
        p.setPen(QPen(accent, 1.8))
        p.drawEllipse(box.adjusted(1, 1, -1, -1))
        p.drawLine(
            box.adjusted(3.5, 3.5, -3.5, -3.5).topRight(), box.adjusted(3.5, 3.5, -3.5, -3.5).bottomLeft()
        )
    else:
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(accent)
        p.drawEllipse(box)
        f = QFont()
        f.setPixelSize(12)
        f.setBold(True)
        p.setFont(f)
        p.setPen(QColor("white"))
        p.drawText(box, Qt.AlignmentFlag.AlignCenter, _GLYPH[support])
    p.end()
    return pix


class Badge(QLabel):
    def __init__(self, field: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.field = field
        self.support: Support = Support.HONOURED
        self.setFixedSize(SIZE, SIZE)
        pol = self.sizePolicy()
        pol.setRetainSizeWhenHidden(True)  # the label column never changes width with the provider
        self.setSizePolicy(QSizePolicy(pol))
        self.hide()

    def set_handling(self, handling: FieldHandling, label: str) -> None:
        self.support = handling.support
        if handling.support == Support.HONOURED:
            self.setToolTip("")
            self.hide()
            return
        self.setPixmap(_pixmap(handling.support, max(1.0, self.devicePixelRatioF())))
        self.setToolTip(plain_words(handling, label))
        # Words, not field keys: "Steps renamed", and what it means (the control carries it too).
        self.setAccessibleName(f"{FIELD_WORDS.get(self.field, self.field)} {handling.support.value}")
        self.setAccessibleDescription(self.toolTip())
        self.show()
