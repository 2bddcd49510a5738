"""The preset dialogs: "Save preset…" (Ctrl+S) for the current settings, and a manager (rename, delete,
import / export JSON). The store (``storage.presets``) does the reading and writing; built-ins from ``resources/presets/`` are read-only. A preset never contains a key."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ...core.errors import BadInput
from ..widgets import theme
from ..widgets.preset_bar import SEED_WORDS, describe

if TYPE_CHECKING:
    from ...storage.presets import Preset, PresetStore
    from ..models.workbench import Workbench

JSON_FILTER = "FlexStudio presets (*.json);;All files (*)"


class SavePresetDialog(QDialog):
    """Name, description, seed policy, provider or not, optional prompt template with ``{prompt}``."""

    saved = Signal(object)  # Preset

    def __init__(self, workbench: Workbench, store: PresetStore, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.wb = workbench
        self.store = store
        self.setWindowTitle("Save preset")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.setAccessibleName("Save preset")
        lay = QVBoxLayout(self)
        intro = QLabel("Saves the current settings under a name: " + self._summary())
        intro.setWordWrap(True)
        lay.addWidget(intro)
        form = QFormLayout()
        self.name = QLineEdit()
        self.name.setAccessibleName("Preset name")
        self.name.setPlaceholderText("e.g. Product shots")
        self.description = QLineEdit()
        self.description.setAccessibleName("Preset description")
        self.seed_policy = QComboBox()
        self.seed_policy.setAccessibleName("Seed policy")
        for key in ("random", "increment", "fixed"):
            self.seed_policy.addItem(SEED_WORDS[key].capitalize(), key)
        self.seed_policy.setCurrentIndex(max(0, self.seed_policy.findData(workbench.seed_policy)))
        self.seed_policy.setToolTip("“Fixed” and “increment” keep the current seed in the preset")
        self.include_provider = QCheckBox(f"Include the provider ({workbench.info.display_name})")
        self.include_provider.setChecked(True)
        self.template = QLineEdit()
        self.template.setAccessibleName("Prompt template")
        self.template.setPlaceholderText("optional, e.g. {prompt}, soft studio light")
        self.template.setToolTip("Applying the preset puts your prompt where {prompt} is")
        if workbench.template:
            self.template.setText(workbench.template)
        form.addRow("&Name", self.name)
        form.addRow("&Description", self.description)
        form.addRow("&Seed", self.seed_policy)
        form.addRow("", self.include_provider)
        form.addRow("Prompt &template", self.template)
        lay.addLayout(form)
        self.note = QLabel()
        self.note.setWordWrap(True)
        self.note.setFont(theme.small_font(self))
        self.note.setAccessibleName("Preset note")
        lay.addWidget(self.note)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        lay.addWidget(self.buttons)
        self.name.textChanged.connect(self._check)
        self.template.textChanged.connect(self._check)
        self._check()

    def _summary(self) -> str:
        r = self.wb.request
        size = f"{r.size[0]}×{r.size[1]}" if r.size else "auto size"
        return (
            f"{r.steps} steps, guidance {r.guidance:g}, {size}, {r.output_format.upper()}, safety {r.safety}"
            f"{', upsampling' if r.prompt_upsampling else ''}. Keys are never saved in a preset."
        )

    def _problem(self) -> str | None:
        name = self.name.text().strip()
        if not name:
            return "Give the preset a name."
        tpl = self.template.text().strip()
        if tpl and "{prompt}" not in tpl:
            return "The prompt template must contain {prompt} (where your prompt goes)."
        return None

    def _check(self) -> None:
        problem = self._problem()
        save = self.buttons.button(QDialogButtonBox.StandardButton.Save)
        save.setEnabled(problem is None)
        if problem:
            self.note.setText(problem if self.name.text().strip() or self.template.text().strip() else "")
            return
        name = self.name.text().strip()
        existing = next((p for p in self.store.list() if p.name.lower() == name.lower()), None)
        if existing is None:
            self.note.setText("")
        elif existing.builtin:
            self.note.setText(f"Your preset will be used instead of the built-in “{existing.name}”.")
        else:
            self.note.setText(f"Replaces your preset “{existing.name}”.")

    def preset(self) -> Preset:
        return self.wb.capture_preset(
            self.name.text().strip(),
            seed_policy=self.seed_policy.currentData(),
            prompt_template=self.template.text().strip() or None,
            include_provider=self.include_provider.isChecked(),
            description=self.description.text().strip(),
        )

    def accept(self) -> None:
        problem = self._problem()
        if problem:
            self.note.setText(problem)
            return
        preset = self.preset()
        try:
            self.store.save(preset)
        except (BadInput, OSError, ValueError) as exc:
            self.note.setText(f"Could not save the preset: {exc}")
            return
        self.saved.emit(preset)
        super().accept()


class PresetManager(QDialog):
    """Every preset, with apply, rename (or copy, for a built-in), delete, import and export."""

    changed = Signal(str)  # a preset name to select ("" = none)
    applyRequested = Signal(str)
    batchRequested = Signal(str)  # a preset name: open "Batch…" with it

    def __init__(self, store: PresetStore, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.store = store
        self.setWindowTitle("Presets")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.setAccessibleName("Manage presets")
        self.resize(560, 420)
        lay = QVBoxLayout(self)
        self.list = QListWidget()
        self.list.setAccessibleName("Presets")
        self.list.currentRowChanged.connect(self._selected)
        self.list.itemDoubleClicked.connect(lambda _i: self._apply())
        self.details = QLabel()
        self.details.setWordWrap(True)
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        rename_row = QHBoxLayout()
        self.new_name = QLineEdit()
        self.new_name.setAccessibleName("New name")
        self.new_name.setPlaceholderText("new name")
        self.rename_button = QPushButton("&Rename")
        self.rename_button.clicked.connect(lambda: self.rename(self.current_name(), self.new_name.text()))
        rename_row.addWidget(self.new_name, 1)
        rename_row.addWidget(self.rename_button)
        buttons = QHBoxLayout()
        self.apply_button = QPushButton("&Apply")
        self.apply_button.clicked.connect(self._apply)
        self.delete_button = QPushButton("&Delete")
        self.delete_button.clicked.connect(lambda: self.delete(self.current_name()))
        self.import_button = QPushButton("&Import…")
        self.import_button.clicked.connect(self._import_dialog)
        self.export_button = QPushButton("&Export…")
        self.export_button.clicked.connect(self._export_dialog)
        self.batch_button = QPushButton("&Batch…")
        self.batch_button.setToolTip("Apply this preset to a folder of images")
        self.batch_button.clicked.connect(self._batch)
        close = QPushButton("Close")
        close.clicked.connect(self.close)
        for b in (
            self.apply_button,
            self.batch_button,
            self.delete_button,
            self.import_button,
            self.export_button,
        ):
            buttons.addWidget(b)
        buttons.addStretch(1)
        buttons.addWidget(close)
        self.message = QLabel()
        self.message.setWordWrap(True)
        self.message.setAccessibleName("Presets message")
        lay.addWidget(self.list, 1)
        lay.addWidget(self.details)
        lay.addLayout(rename_row)
        lay.addLayout(buttons)
        lay.addWidget(self.message)
        self.reload()

    # ------------------------------------------------------------------ list
    def reload(self, select: str | None = None) -> None:
        self.presets = self.store.list()
        self.list.clear()
        for p in self.presets:
            item = QListWidgetItem(p.name + ("   (built in)" if p.builtin else ""))
            item.setData(Qt.ItemDataRole.UserRole, p.name)
            item.setToolTip(describe(p))
            self.list.addItem(item)
        names = [p.name.lower() for p in self.presets]
        row = names.index(select.lower()) if select and select.lower() in names else 0
        if self.presets:
            self.list.setCurrentRow(row)
        self._selected(self.list.currentRow())

    def current_name(self) -> str:
        item = self.list.currentItem()
        return str(item.data(Qt.ItemDataRole.UserRole)) if item is not None else ""

    def _current(self) -> Preset | None:
        name = self.current_name()
        return next((p for p in self.presets if p.name == name), None)

    def _selected(self, _row: int) -> None:
        p = self._current()
        for b in (self.apply_button, self.export_button, self.rename_button):
            b.setEnabled(p is not None)
        self.delete_button.setEnabled(p is not None and not p.builtin)
        self.rename_button.setText("Save a &copy as" if p is not None and p.builtin else "&Rename")
        self.details.setText(
            "" if p is None else (p.description + "\n" if p.description else "") + describe(p)
        )

    def _say(self, text: str, error: bool = False) -> None:
        self.message.setText(text)
        self.message.setStyleSheet(f"color: {theme.LEVEL_ACCENTS['error']};" if error else "")

    # ------------------------------------------------------------------ actions (the tests call these)
    def _apply(self) -> None:
        name = self.current_name()
        if name:
            self.applyRequested.emit(name)
            self._say(f"Applied “{name}”.")

    def _batch(self) -> None:
        name = self.current_name()
        if name:
            self.batchRequested.emit(name)

    def rename(self, old: str, new: str) -> bool:
        new = new.strip()
        if not old or not new:
            self._say("Type the new name first.", error=True)
            return False
        try:
            preset = self.store.rename(old, new)
        except (BadInput, OSError) as exc:
            self._say(str(exc), error=True)
            return False
        self.new_name.clear()
        self.reload(preset.name)
        self._say(f"“{old}” is now “{preset.name}”.")
        self.changed.emit(preset.name)
        return True

    def delete(self, name: str) -> bool:
        p = next((x for x in self.presets if x.name == name), None)
        if p is None or p.builtin:
            self._say("Built-in presets cannot be deleted.", error=True)
            return False
        try:
            self.store.delete(name)
        except OSError as exc:
            self._say(f"Could not delete “{name}”: {exc.strerror or exc}.", error=True)
            return False
        self.reload()
        self._say(f"Deleted “{name}”.")
        self.changed.emit("")
        return True

    def import_file(self, path: str | Path) -> Preset | None:
        try:
            preset = self.store.import_file(Path(path))
        except (BadInput, OSError) as exc:
            self._say(f"{Path(path).name}: {exc}", error=True)
            return None
        self.reload(preset.name)
        self._say(f"Imported “{preset.name}”.")
        self.changed.emit(preset.name)
        return preset

    def export_to(self, name: str, path: str | Path) -> Path | None:
        try:
            out = self.store.export(name, Path(path))
        except (BadInput, OSError) as exc:
            self._say(f"Could not export “{name}”: {exc}", error=True)
            return None
        self._say(f"Exported “{name}” to {out}.")
        return out

    def _import_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Import a preset", "", JSON_FILTER)
        if path:
            self.import_file(path)

    def _export_dialog(self) -> None:
        name = self.current_name()
        if not name:
            return
        stem = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "preset"
        path, _ = QFileDialog.getSaveFileName(self, f"Export “{name}”", f"{stem}.json", JSON_FILTER)
        if path:
            self.export_to(name, path)
