"""The preset bar in the window: a combo that applies a preset at once, with "Save…" (Ctrl+S) and "Manage…"
beside it (the dialogs are in ``dialogs.presets_dialog``). A preset never contains a key."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QSignalBlocker, Qt, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QToolButton, QWidget

from .a11y import label_for

if TYPE_CHECKING:
    from ...storage.presets import Preset, PresetStore
    from ..models.workbench import Workbench

PLACEHOLDER = "Apply a preset…"
SEED_WORDS = {
    "random": "randomize after each run",
    "increment": "increment after each run",
    "fixed": "fixed seed",
}


def describe(preset: Preset) -> str:
    """One line saying what a preset sets."""
    s = preset.settings
    parts = []
    if "provider" in s:
        parts.append(str(s["provider"]))
    if "steps" in s:
        parts.append(f"{s['steps']} steps")
    if "guidance" in s:
        parts.append(f"guidance {float(s['guidance']):g}")
    if "size" in s:
        parts.append("auto size" if s["size"] == "auto" else str(s["size"]).replace("x", "×"))
    if "output_format" in s:
        parts.append(str(s["output_format"]).upper())
    if "safety" in s:
        parts.append(f"safety {s['safety']}")
    if s.get("prompt_upsampling"):
        parts.append("upsampling")
    policy = s.get("seed_policy")
    if policy:
        seed = f" {s['seed']}" if "seed" in s and policy != "random" else ""
        parts.append(SEED_WORDS.get(str(policy), str(policy)) + seed)
    text = " · ".join(parts)
    if preset.prompt_template:
        text += f"\nPrompt template: {preset.prompt_template}"
    return text


class PresetBar(QWidget):
    """[Apply a preset… ▾] [Save…] [Manage…]: choosing an item applies it at once."""

    saveRequested = Signal()
    manageRequested = Signal()
    applied = Signal(str)  # the preset's name

    def __init__(self, workbench: Workbench, store: PresetStore, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.wb = workbench
        self.store = store
        self.presets: list[Preset] = []
        self._applied_request: Any = None
        lay = QHBoxLayout(self)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(4)
        self.combo = QComboBox()
        self.combo.setToolTip("Apply a preset's settings (and its prompt template)")
        self.combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.combo.setMinimumContentsLength(10)
        self.combo.addItem(PLACEHOLDER, None)
        self.combo.activated.connect(self._picked)
        self.save_button = QToolButton()
        self.save_button.setText("Save…")
        self.save_button.setToolTip("Save the current settings as a preset (Ctrl+S)")
        self.save_button.setAccessibleName("Save preset")
        self.save_button.clicked.connect(self.saveRequested)
        self.manage_button = QToolButton()
        self.manage_button.setText("Manage…")
        self.manage_button.setToolTip("Rename, delete, import or export presets")
        self.manage_button.setAccessibleName("Manage presets")
        self.manage_button.clicked.connect(self.manageRequested)
        lay.addWidget(self.combo, 1)
        lay.addWidget(self.save_button)
        lay.addWidget(self.manage_button)
        label_for(self.combo, "Preset")
        workbench.changed.connect(self._maybe_modified)

    def reload(self, select: str | None = None) -> None:
        """Re-read the presets (built-ins first); ``select`` shows that one as applied."""
        self.presets = self.store.list()
        current = select or (self.combo.currentData() if self._applied_request is not None else None)
        with QSignalBlocker(self.combo):
            self.combo.clear()
            self.combo.addItem(PLACEHOLDER, None)
            for p in self.presets:
                self.combo.addItem(p.name, p.name)
                i = self.combo.count() - 1
                tip = (p.description + "\n" if p.description else "") + describe(p)
                self.combo.setItemData(
                    i, tip + ("\n(built in)" if p.builtin else ""), Qt.ItemDataRole.ToolTipRole
                )
            self.combo.setCurrentIndex(max(0, self.combo.findData(current)) if current else 0)

    def preset(self, name: str) -> Preset | None:
        return next((p for p in self.presets if p.name.lower() == name.lower()), None)

    def apply(self, name: str) -> bool:
        if not self.presets:
            self.reload()
        preset = self.preset(name)
        if preset is None:
            return False
        self.wb.apply_preset(preset)
        self._applied_request = self.wb.request
        with QSignalBlocker(self.combo):
            self.combo.setCurrentIndex(max(0, self.combo.findData(preset.name)))
        self.applied.emit(preset.name)
        return True

    def _picked(self, index: int) -> None:
        name = self.combo.itemData(index)
        if name:
            self.apply(name)

    def _maybe_modified(self) -> None:
        """Once a setting differs from what the preset set, the combo no longer claims it."""
        if self._applied_request is not None and self.wb.request != self._applied_request:
            self._applied_request = None
            with QSignalBlocker(self.combo):
                self.combo.setCurrentIndex(0)
