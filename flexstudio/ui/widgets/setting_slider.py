"""A setting shown as a slider with its value field beside it (steps, guidance). The field is the Tab stop:
it reports the real range and value to a screen reader, and Up/Down, Page Up/Down and typing change it;
the slider follows it and is there for the mouse (click it, then the arrow keys move it too). A setting
with decimals runs its slider on an integer scale (guidance 5.0 is 50 on a 10× slider)."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, QSignalBlocker, Qt, Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QAbstractSpinBox, QDoubleSpinBox, QHBoxLayout, QSlider, QSpinBox, QWidget

from . import theme


class SettingSlider(QWidget):
    valueChanged = Signal(object)  # int, or float when the setting has decimals

    def __init__(self, name: str, *, decimals: int = 0, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.name = name
        self._decimals = decimals
        self.scale = 10**decimals
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(8)
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setFocusPolicy(Qt.FocusPolicy.ClickFocus)
        self.slider.setAccessibleName(f"{name} slider")
        self.slider.setProperty("value_scale", self.scale)
        if decimals:
            self.slider.setAccessibleDescription(
                f"In {'tenths' if decimals == 1 else 'hundredths'}: the field "
                f"beside it shows the {name.lower()} itself"
            )
        self.field: QSpinBox | QDoubleSpinBox
        if decimals:
            field = QDoubleSpinBox()
            field.setDecimals(decimals)
            field.setSingleStep(1 / self.scale)
            self.field = field
        else:
            self.field = QSpinBox()
        self.field.setAccessibleName(name)
        self.field.setKeyboardTracking(False)  # a typed "30" is one change, not "3" then "30"
        # Drawn like a label beside the slider (the row stays as low as the other controls' rows), but a real
        # spin box: Up/Down, Page Up/Down and typing work, and it reports its range and value.
        self.field.setButtonSymbols(QAbstractSpinBox.ButtonSymbols.NoButtons)
        self.field.setFrame(False)
        self.field.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.field.installEventFilter(self)  # the keyboard's place: tinted while it has the focus
        self.field.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.field.setMinimumWidth(44)
        self.slider.setProperty("partner", self.field)
        lay.addWidget(self.slider, 1)
        lay.addWidget(self.field)
        self.setFocusProxy(self.field)
        self.slider.valueChanged.connect(self._slid)
        self.field.valueChanged.connect(self._typed)

    def eventFilter(self, obj: QObject, ev: QEvent) -> bool:
        # A style sheet would show the focus with a border, but on a frameless spin box it hides the text.
        if obj is self.field and ev.type() in (QEvent.Type.FocusIn, QEvent.Type.FocusOut):
            pal = self.palette()
            if ev.type() == QEvent.Type.FocusIn:
                pal.setColor(
                    QPalette.ColorRole.Base,
                    theme.mix(
                        pal.color(QPalette.ColorRole.Base), pal.color(QPalette.ColorRole.Highlight), 0.35
                    ),
                )
            self.field.setPalette(pal)
        return False

    # ------------------------------------------------------------------ value
    def decimals(self) -> int:
        return self._decimals

    def value(self) -> int | float:
        return self.field.value()

    def minimum(self) -> int | float:
        return self.field.minimum()

    def maximum(self) -> int | float:
        return self.field.maximum()

    def setRange(self, lo: float, hi: float) -> None:
        with QSignalBlocker(self.field), QSignalBlocker(self.slider):
            self.field.setRange(lo, hi)  # type: ignore[arg-type]
            self.slider.setRange(round(lo * self.scale), round(hi * self.scale))
            self.slider.setPageStep(max(1, round((hi - lo) * self.scale / 10)))
            self.slider.setValue(round(self.field.value() * self.scale))

    def setValue(self, v: float) -> None:
        self.field.setValue(v)  # type: ignore[arg-type]  # _typed moves the slider and tells the world

    def setToolTip(self, tip: str) -> None:
        super().setToolTip(tip)
        self.slider.setToolTip(tip)
        self.field.setToolTip(tip)

    def _slid(self, raw: int) -> None:
        v = raw / self.scale if self._decimals else raw
        if v != self.field.value():
            with QSignalBlocker(self.field):
                self.field.setValue(v)
        self.valueChanged.emit(self.field.value())

    def _typed(self, v: float) -> None:
        raw = round(v * self.scale)
        if raw != self.slider.value():
            with QSignalBlocker(self.slider):
                self.slider.setValue(raw)
        self.valueChanged.emit(v)
