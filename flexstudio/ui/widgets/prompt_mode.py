"""The prompt's JSON mode: the switch beside the "Prompt" label and, under the editor in JSON mode, the
check's sentence ("line 3, column 3: expected ',' …", in words and not only in colour) and the template
button.
The mode and the verdict live in the workbench model; this only shows them."""

from __future__ import annotations

from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSizePolicy, QToolButton, QWidget

from ...core import json_prompt
from ..models.workbench import PROMPT_JSON, PROMPT_PLAIN, Workbench
from . import theme
from .prompt import PromptEdit

_MAX_HINTS_SHOWN = 1


class PromptMode(QObject):
    """``switch`` goes beside the "Prompt" label, ``row`` under the editor (shown in JSON mode only)."""

    def __init__(self, wb: Workbench, prompt: PromptEdit, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.wb, self.prompt = wb, prompt
        # A toggle as narrow as its word: the head row it shares with the presets sets the column's width.
        self.switch = QToolButton()
        self.switch.setText("JSON")
        self.switch.setCheckable(True)
        self.switch.setObjectName("prompt_json")
        self.switch.setAccessibleName("JSON structured prompt")
        self.switch.setToolTip(
            "Write the prompt as FLUX.2's JSON structured prompt (scene, subjects, style, "
            "color_palette, lighting, camera…) instead of plain text"
        )
        self.template_button = QToolButton()
        self.template_button.setText("Insert template")
        self.template_button.setAccessibleName("Insert the JSON template")
        self.template_button.setToolTip(
            "Replace the prompt by a JSON template with every FLUX.2 key (Ctrl+Z brings your text back)"
        )
        self.status = QLabel()
        self.status.setObjectName("prompt_json_status")
        self.status.setAccessibleName("JSON prompt check")
        self.status.setWordWrap(True)
        self.status.setFont(theme.small_font(self.status))
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.status.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        # Two lines, always: the sentence changing as you type never moves what is below.
        self.status.setFixedHeight(2 * self.status.fontMetrics().lineSpacing() + 2)
        self.row = QWidget()
        self.row.setObjectName("prompt_json_row")
        rl = QHBoxLayout(self.row)
        rl.setContentsMargins(0, 0, 0, 0)
        rl.setSpacing(8)
        rl.addWidget(self.status, 1)
        rl.addWidget(self.template_button, 0, Qt.AlignmentFlag.AlignTop)

        self.switch.toggled.connect(lambda on: wb.set_prompt_mode(PROMPT_JSON if on else PROMPT_PLAIN))
        self.template_button.clicked.connect(lambda: prompt.insert_template(json_prompt.TEMPLATE))
        wb.promptModeChanged.connect(self.refresh)
        wb.changed.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        on = self.wb.prompt_mode == PROMPT_JSON
        if self.switch.isChecked() != on:
            self.switch.blockSignals(True)
            self.switch.setChecked(on)
            self.switch.blockSignals(False)
        self.row.setVisible(on)
        if not on:
            self.prompt.set_json_mode(False)
            return
        verdict = self.wb.prompt_check()
        self.prompt.set_json_mode(True, (verdict.line, verdict.column) if verdict.line else (0, 0))
        if verdict.error:
            text = f"Invalid JSON: {verdict.error}"
            colour = theme.LEVEL_ACCENTS["error"]
        else:
            shown = verdict.hints[:_MAX_HINTS_SHOWN]
            more = len(verdict.hints) - len(shown)
            text = " ".join(("Valid JSON prompt.", *shown)) + (f" (+{more} more)" if more > 0 else "")
            colour = theme.LEVEL_ACCENTS["warning"] if verdict.hints else theme.LEVEL_ACCENTS["success"]
        self.status.setText(text)
        self.status.setToolTip(verdict.summary() if not verdict.error else text)
        self.status.setStyleSheet(f"color: {colour};")
        self.status.setAccessibleDescription(verdict.summary())
