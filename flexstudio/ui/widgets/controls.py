"""The controls, built from the selected provider's capabilities: provider, steps, guidance, seed, size,
format, safety, prompt upsampling. A control the provider ignores is greyed; one it renames or converts
carries a badge, named in words and described on the control itself. Every control has a label a screen
reader reports (a combo box on Linux is named by its current text: its label is what says what it is for)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QRegularExpression, QSignalBlocker, Qt
from PySide6.QtGui import QRegularExpressionValidator
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QToolButton,
    QWidget,
)

from ...core.sizes import ASPECT_PRESETS, megapixels
from ...providers.base import Support
from ..models.workbench import SIZE_AUTO, SIZE_CUSTOM, SIZE_MATCH
from . import icons, theme
from .a11y import label_for
from .badges import Badge
from .setting_slider import SettingSlider

if TYPE_CHECKING:
    from ..models.workbench import Workbench

KEY_WORDS = {
    "env": "key from environment",
    "keyring": "key set",
    "session": "key for this session",
    "none-needed": "",
    None: "no key",
}
SEED_POLICY_LABELS = (("random", "randomize"), ("increment", "increment"), ("fixed", "fixed"))


class ControlsPanel(QWidget):
    def __init__(self, workbench: Workbench, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.wb = workbench
        self._key_status: dict[str, str | None] = {}
        grid = QGridLayout(self)
        grid.setContentsMargins(0, 0, 0, 0)
        grid.setHorizontalSpacing(10)
        grid.setVerticalSpacing(5)
        grid.setColumnStretch(1, 1)
        self.grid = grid
        self.badges: dict[str, Badge] = {}
        self.labels: dict[str, QLabel] = {}

        self.provider = QComboBox()
        self.provider.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.provider.setMinimumContentsLength(16)
        self.provider.currentIndexChanged.connect(self._provider_picked)
        self._row(0, "provider", "Provider", self.provider, badge=False)
        self.provider.setAccessibleName("Provider")  # Linux reads the "Provider" label tied to it

        self.steps = SettingSlider("Steps")
        self.steps.setToolTip(
            "Sampling steps: more is slower and finer (most providers price per image, not per step)"
        )
        self._row(1, "steps", "Steps", self.steps, buddy=self.steps.field)
        self.guidance = SettingSlider("Guidance", decimals=1)
        self.guidance.setToolTip("Guidance: how closely the result follows the prompt")
        self._row(2, "guidance", "Guidance", self.guidance, buddy=self.guidance.field)
        self.steps.valueChanged.connect(self.wb.set_steps)
        self.guidance.valueChanged.connect(self.wb.set_guidance)

        seed_box = QWidget()
        sl = QHBoxLayout(seed_box)
        sl.setContentsMargins(0, 0, 0, 0)
        sl.setSpacing(4)
        self.seed = QLineEdit()
        self.seed.setAccessibleName("Seed")
        self.seed.setValidator(QRegularExpressionValidator(QRegularExpression(r"\d{0,10}")))
        self.seed.setMinimumWidth(self.seed.fontMetrics().horizontalAdvance("0000000000") + 14)
        self.seed.editingFinished.connect(self._seed_typed)
        self.dice = QToolButton()
        self.dice.setIcon(icons.dice())
        self.dice.setToolTip("New random seed")
        self.dice.setAccessibleName("Random seed")
        self.dice.clicked.connect(self._roll)
        self.lock = QToolButton()
        self.lock.setCheckable(True)
        self.lock.setIcon(icons.lock_icon())
        self.lock.setToolTip("Lock the seed (it never changes after a run)")
        self.lock.setAccessibleName("Lock seed")
        self.lock.toggled.connect(self._locked)
        self.seed_policy = QComboBox()
        self.seed_policy.setToolTip("What happens to the seed after each run")
        for key, label in SEED_POLICY_LABELS:
            self.seed_policy.addItem(f"then {label}", key)
        self.seed_policy.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.seed_policy.currentIndexChanged.connect(
            lambda _i: self.wb.set_seed_policy(self.seed_policy.currentData())
        )
        sl.addWidget(self.seed, 1)
        sl.addWidget(self.dice)
        sl.addWidget(self.lock)
        sl.addWidget(self.seed_policy)
        label_for(self.seed_policy, "Seed after each run")
        self._row(3, "seed", "Seed", seed_box, buddy=self.seed)

        size_box = QWidget()
        zl = QHBoxLayout(size_box)
        zl.setContentsMargins(0, 0, 0, 0)
        zl.setSpacing(4)
        self.size_choice = QComboBox()
        self.size_choice.addItem("Auto", SIZE_AUTO)
        self.size_choice.addItem("Match image 1", SIZE_MATCH)
        for ratio, (w, h) in ASPECT_PRESETS.items():
            self.size_choice.addItem(f"{ratio}  ·  {w}×{h}", ratio)
        self.size_choice.addItem("Custom…", SIZE_CUSTOM)
        self.size_choice.currentIndexChanged.connect(self._size_picked)
        self.width_box = QSpinBox()
        self.height_box = QSpinBox()
        for box, name in ((self.width_box, "Width"), (self.height_box, "Height")):
            box.setRange(64, 4096)
            box.setSingleStep(16)
            box.setAccessibleName(f"Custom {name.lower()}")
            box.setToolTip(f"{name} in pixels (snapped to a multiple of 16)")
            box.setKeyboardTracking(False)
            box.valueChanged.connect(self._custom_changed)
        self.times = QLabel("×")
        self.size_info = QLabel()
        self.size_info.setFont(theme.small_font(self))
        self.size_info.setWordWrap(True)
        self.size_info.setFixedHeight(2 * self.size_info.fontMetrics().lineSpacing() + 2)  # Run never moves
        zl.addWidget(self.size_choice, 1)
        zl.addWidget(self.width_box)
        zl.addWidget(self.times)
        zl.addWidget(self.height_box)
        self.size_choice.setAccessibleName("Output size")
        self._row(4, "size", "Size", size_box, buddy=self.size_choice)
        self.grid.addWidget(self.size_info, 5, 1)

        fmt_box = QWidget()
        fl = QHBoxLayout(fmt_box)
        fl.setContentsMargins(0, 0, 0, 0)
        fl.setSpacing(6)
        self.format = QComboBox()
        self.format.currentIndexChanged.connect(self._format_picked)
        self.safety_label = QLabel("Safety")
        self.safety = QSpinBox()
        self.safety.setAccessibleName("Safety tolerance")
        self.safety.setToolTip("Safety tolerance: 0 is the strictest")
        self.safety.valueChanged.connect(self.wb.set_safety)
        self.badges["safety"] = Badge("safety")
        fl.addWidget(self.format, 1)
        fl.addSpacing(8)
        fl.addWidget(self.safety_label)
        fl.addWidget(self.badges["safety"])
        fl.addWidget(self.safety)
        self.safety_label.setBuddy(self.safety)
        self.format.setAccessibleName("Output format")
        self._row(6, "output_format", "Format", fmt_box, buddy=self.format)

        self.upsampling = QCheckBox("Prompt upsampling")
        self.upsampling.setToolTip("The provider rewrites the prompt in more detail before the edit")
        self.upsampling.setAccessibleName("Prompt upsampling")
        self.upsampling.toggled.connect(self.wb.set_upsampling)
        self.badges["prompt_upsampling"] = Badge("prompt_upsampling")
        up = QWidget()
        ul = QHBoxLayout(up)
        ul.setContentsMargins(0, 0, 0, 0)
        ul.addWidget(self.upsampling)
        ul.addWidget(self.badges["prompt_upsampling"])
        ul.addStretch(1)
        self.upsampling_row = up
        keep = up.sizePolicy()
        keep.setRetainSizeWhenHidden(True)  # the column keeps its height for every provider
        up.setSizePolicy(keep)
        grid.addWidget(up, 7, 0, 1, 2)

        workbench.providerChanged.connect(self._apply_caps)
        workbench.restored.connect(self.refresh)
        workbench.seedChanged.connect(self._show_seed)
        workbench.changed.connect(self._update_size_info)
        self._fill_providers()
        self.refresh()

    # ------------------------------------------------------------------ layout helpers
    def _row(
        self,
        row: int,
        field: str,
        text: str,
        widget: QWidget,
        badge: bool = True,
        buddy: QWidget | None = None,
    ) -> None:
        box = QWidget()
        hl = QHBoxLayout(box)
        hl.setContentsMargins(0, 0, 0, 0)
        hl.setSpacing(4)
        label = QLabel(text)
        label.setBuddy(buddy or widget)  # the control itself, not its row: Alt+key focuses it
        self.labels[field] = label
        hl.addWidget(label)
        if badge:
            self.badges[field] = Badge(field)
            hl.addWidget(self.badges[field])
        hl.addStretch(1)
        self.grid.addWidget(box, row, 0)
        self.grid.addWidget(widget, row, 1)

    # ------------------------------------------------------------------ providers
    def set_key_status(self, status: dict[str, str | None]) -> None:
        self._key_status = dict(status)
        self._fill_providers()

    def _fill_providers(self) -> None:
        with QSignalBlocker(self.provider):
            self.provider.clear()
            for info in self.wb.providers():
                text = info.display_name
                if info.id in self._key_status and info.needs_key:
                    text += f"  —  {KEY_WORDS.get(self._key_status[info.id], 'no key')}"
                self.provider.addItem(text, info.id)
                self.provider.setItemData(
                    self.provider.count() - 1, info.key_help or info.display_name, Qt.ItemDataRole.ToolTipRole
                )
            self.provider.setCurrentIndex(max(0, self.provider.findData(self.wb.request.provider)))

    def _provider_picked(self, _index: int) -> None:
        pid = self.provider.currentData()
        if pid:
            self.wb.set_provider(pid)

    def _apply_caps(self) -> None:
        wb = self.wb
        caps = wb.caps
        req = wb.request
        with QSignalBlocker(self.provider):
            self.provider.setCurrentIndex(max(0, self.provider.findData(req.provider)))
        for field, badge in self.badges.items():
            badge.set_handling(caps.handling(field), wb.info.label)
            control = self._badged(field)
            if control is not None:  # the badge's words reach the control a screen reader is on
                control.setAccessibleDescription(
                    badge.accessibleDescription() if badge.support != Support.HONOURED else ""
                )

        def usable(field: str, rng: Any) -> bool:
            return rng is not None and caps.handling(field).support != Support.IGNORED

        with QSignalBlocker(self.steps):
            lo, hi = caps.steps_range or (1, 50)
            self.steps.setRange(lo, hi)
            self.steps.setValue(req.steps)
        self.steps.setEnabled(usable("steps", caps.steps_range))
        with QSignalBlocker(self.guidance):
            lo_g, hi_g = caps.guidance_range or (1.5, 10.0)
            self.guidance.setRange(lo_g, hi_g)
            self.guidance.setValue(req.guidance)
        self.guidance.setEnabled(usable("guidance", caps.guidance_range))
        self.labels["steps"].setEnabled(usable("steps", caps.steps_range))
        self.labels["guidance"].setEnabled(usable("guidance", caps.guidance_range))
        with QSignalBlocker(self.format):
            self.format.clear()
            for fmt in caps.formats:
                self.format.addItem(fmt.upper() if fmt != "jpeg" else "JPEG", fmt)
            self.format.setCurrentIndex(max(0, self.format.findData(req.output_format)))
        fmt_ok = caps.handling("output_format").support != Support.IGNORED
        self.format.setEnabled(fmt_ok and len(caps.formats) > 1)
        self.labels["output_format"].setEnabled(fmt_ok)  # greyed like every ignored control's label
        with QSignalBlocker(self.safety):
            lo_s, hi_s = caps.safety_range or (0, 5)
            self.safety.setRange(lo_s, hi_s)
            self.safety.setValue(req.safety)
        safety_ok = usable("safety", caps.safety_range)
        self.safety.setEnabled(safety_ok)
        self.safety_label.setEnabled(safety_ok)
        seed_ok = caps.handling("seed").support != Support.IGNORED
        for w in (self.seed, self.dice, self.lock, self.seed_policy, self.labels["seed"]):
            w.setEnabled(seed_ok)
        if seed_ok:
            self._locked(self.lock.isChecked())
        size_ok = caps.handling("size").support != Support.IGNORED
        self.size_choice.setEnabled(size_ok)
        self.upsampling_row.setVisible(bool(caps.prompt_upsampling))
        self.upsampling.setEnabled(caps.handling("prompt_upsampling").support != Support.IGNORED)
        self._update_size_info()

    def _badged(self, field: str) -> QWidget | None:
        return {
            "steps": self.steps.field,
            "guidance": self.guidance.field,
            "seed": self.seed,
            "size": self.size_choice,
            "output_format": self.format,
            "safety": self.safety,
            "prompt_upsampling": self.upsampling,
        }.get(field)

    # ------------------------------------------------------------------ values from the model
    def refresh(self) -> None:
        """Re-read every value from the model (after a restore)."""
        wb = self.wb
        self._apply_caps()
        self._show_seed(wb.request.seed or 0)
        with QSignalBlocker(self.seed_policy):
            self.seed_policy.setCurrentIndex(max(0, self.seed_policy.findData(wb.seed_policy)))
        with QSignalBlocker(self.size_choice):
            self.size_choice.setCurrentIndex(max(0, self.size_choice.findData(wb.size_mode)))
        for box, v in ((self.width_box, wb.custom_size[0]), (self.height_box, wb.custom_size[1])):
            with QSignalBlocker(box):
                box.setValue(v)
        with QSignalBlocker(self.upsampling):
            self.upsampling.setChecked(wb.request.prompt_upsampling)
        self._show_custom()
        self._update_size_info()

    def _show_seed(self, seed: int) -> None:
        if self.seed.text() != str(seed):
            self.seed.setText(str(seed))

    def _seed_typed(self) -> None:
        text = self.seed.text().strip()
        if text:
            self.wb.set_seed(int(text))
        else:
            self._show_seed(self.wb.request.seed or 0)

    def _roll(self) -> None:
        self.wb.roll_seed()

    def _locked(self, on: bool) -> None:
        self.wb.seed_locked = on
        self.seed.setReadOnly(on)
        self.dice.setEnabled(not on)
        self.seed_policy.setEnabled(not on)

    def _format_picked(self, _index: int) -> None:
        if self.format.currentData():
            self.wb.set_format(self.format.currentData())

    def _size_picked(self, _i: int) -> None:
        self.wb.set_size_mode(self.size_choice.currentData())
        self._show_custom()
        self._update_size_info()

    def _show_custom(self) -> None:
        custom = self.size_choice.currentData() == SIZE_CUSTOM
        for w in (self.width_box, self.height_box, self.times):
            w.setVisible(custom)

    def _custom_changed(self, _v: int) -> None:
        w, h = self.width_box.value(), self.height_box.value()
        self.wb.set_size_mode(SIZE_CUSTOM, (w, h))
        cw, ch = self.wb.custom_size
        for box, v in ((self.width_box, cw), (self.height_box, ch)):
            if box.value() != v:
                with QSignalBlocker(box):
                    box.setValue(v)

    def _update_size_info(self) -> None:
        w, h = self.wb.output_size()
        mode = self.wb.size_mode
        origin = {
            SIZE_AUTO: "auto: image 1's size" if self.wb.references else "auto: no image, so 1024×1024",
            SIZE_MATCH: "image 1's size as sent",
        }.get(mode, "")
        limit = self.wb.caps.max_pixels
        over = w * h > limit
        text = f"Output {w}×{h}  ·  {megapixels(w, h):.2f} MP"
        if origin:
            text += f"  ({origin})"
        if over:
            text += f" — over this provider's {limit / 1048576:g} MP"
        self.size_info.setText(text)
        self.size_info.setStyleSheet("color: #e03131;" if over else "")
