"""Settings: API keys (system keyring; masked, never shown again; where each comes from), custom
endpoints (OpenAI- or BFL-compatible gateways), spend caps, export folder. Not modal: jobs keep running
and the window stays usable while it is open."""

from __future__ import annotations

import asyncio
from dataclasses import fields
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QPushButton,
    QScrollArea,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ...core.errors import BadInput
from ...storage.settings import CustomEndpoint, SpendCaps
from ..widgets import theme
from . import ask

if TYPE_CHECKING:
    from ...providers.base import ProviderInfo
    from ...services import Services
    from ..models.tasks import TaskRunner

KEYS_INTRO_TAIL = (
    "Keys are never written to FlexStudio's files and never shown again. A provider's usual "
    "environment variable wins when it is set."
)
KEYS_INTRO_KEYRING = (
    "Keys are stored in the system keyring, never in FlexStudio's files, and are never "
    "shown again. A provider's usual environment variable wins when it is set."
)
KEYS_INTRO_UNKNOWN = "Asking the system keyring… " + KEYS_INTRO_TAIL
SOURCE_WORDS = {
    "env": "from the environment variable {env}",
    "keyring": "stored in the system keyring",
    "session": "kept for this session only (no keyring)",
    None: "no key yet",
}
PROTOCOLS = (
    ("openai_images", "OpenAI-compatible (/images/edits)"),
    ("bfl", "BFL-compatible (/v1/flux-2-flex)"),
)


def address_problem(info: ProviderInfo, base_url: str) -> str | None:
    """Why the configured API address cannot be tested (none set, or not https), else None."""
    if not base_url:
        return f"{info.label}: no API address is set for this provider."
    from urllib.parse import urlsplit

    parts = urlsplit(base_url)
    if parts.scheme == "https" or (
        parts.scheme == "http" and parts.hostname in ("127.0.0.1", "localhost", "::1")
    ):
        return None
    return f"{info.label}: {base_url} is not an https address; FlexStudio only talks https to the network."


class KeyRow:
    def __init__(self, dialog: SettingsDialog, grid: QGridLayout, row: int, info: ProviderInfo) -> None:
        self.dialog = dialog
        self.info = info
        self.source: str | None = None
        name = QLabel(info.display_name)
        name.setFont(theme.bold(name.font()))
        self.status = QLabel("…")
        self.status.setFont(theme.small_font(dialog))
        self.balance = QLabel()  # the remaining balance, where the provider documents one (BFL's credits)
        self.balance.setFont(theme.small_font(dialog))
        self.balance.setVisible(info.capabilities.balance)
        self.edit = QLineEdit()
        self.edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.edit.setPlaceholderText("Paste a new key")
        self.edit.setAccessibleName(f"New API key for {info.label}")
        self.edit.returnPressed.connect(self.save)
        self.save_button = QPushButton("Save")
        self.save_button.clicked.connect(self.save)
        self.remove_button = QPushButton("Remove")
        self.remove_button.clicked.connect(self.remove)
        self.test_button = QPushButton("Test connection")
        self.test_button.clicked.connect(self.test)
        for b in (self.save_button, self.remove_button, self.test_button):
            b.setAutoDefault(False)
        self.result = QLabel()
        self.result.setWordWrap(True)
        self.result.setFont(theme.small_font(dialog))
        help_label = QLabel(info.key_help)
        help_label.setWordWrap(True)
        help_label.setFont(theme.small_font(dialog))
        help_label.setStyleSheet(f"color: {theme.muted().name()};")
        help_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextBrowserInteraction)
        help_label.setOpenExternalLinks(True)
        r = row * 4
        grid.addWidget(name, r, 0)
        grid.addWidget(self.status, r, 1, 1, 2)
        grid.addWidget(self.balance, r, 3, 1, 2)
        grid.addWidget(self.edit, r + 1, 0, 1, 2)
        grid.addWidget(self.save_button, r + 1, 2)
        grid.addWidget(self.remove_button, r + 1, 3)
        grid.addWidget(self.test_button, r + 1, 4)
        grid.addWidget(help_label, r + 2, 0, 1, 5)
        grid.addWidget(self.result, r + 3, 0, 1, 5)

    def show_source(self, source: str | None) -> None:
        text = SOURCE_WORDS.get(source, str(source)).format(env=self.info.env_var or "")
        self.status.setText(f"Key: {text}")
        self.source = source
        self.remove_button.setEnabled(source in ("keyring", "session"))
        self.remove_button.setToolTip(
            ""
            if source in ("keyring", "session")
            else f"The key comes from the environment variable {self.info.env_var}: unset it there to remove it."
            if source == "env"
            else "No key is saved for this provider, so there is nothing to remove."
        )
        self.test_button.setEnabled(self.can_test())
        self.test_button.setToolTip(
            ""
            if self.can_test()
            else "Save a key first: the test checks that the provider answers with a key set."
        )
        if source == "env":
            self.edit.setPlaceholderText(f"{self.info.env_var} is set and takes precedence")

    def show_balance(self, answer: dict[str, Any] | None) -> None:
        if not self.info.capabilities.balance:
            return
        if answer is None:
            text = "Balance: add a key to see it"
        elif answer.get("status") == "asking":
            text = "Balance: asking…"
        elif answer.get("status") == "ok":
            usd = answer.get("usd")
            text = f"Balance: {answer['amount']:g} {answer['unit']}" + (
                f" ({theme.money(usd)})" if usd is not None else ""
            )
        elif answer.get("status") == "no_key":
            text = "Balance: add a key to see it"
        else:
            text = "Balance unavailable"
            self.balance.setToolTip(str(answer.get("message") or ""))
        self.balance.setText(text)

    def save(self) -> None:
        """A malformed key is refused here, in this row, naming the provider; the pasted text stays
        (masked) so it can be corrected. A saved key is cleared from the field, never shown again."""
        from ...core.validate import check_key

        key = self.edit.text().strip()
        if not key:
            self.result.setText("Paste the key first.")
            return
        try:
            key = check_key(key, label=self.info.label, saving=True)
        except BadInput as exc:
            self.result.setText(str(exc))
            self.edit.setFocus()
            return
        self.edit.clear()  # never kept in the widget, never shown again
        self.dialog.tasks.spawn(self._save(key), what=f"Saving the {self.info.label} key")

    async def _save(self, key: str) -> None:
        import re

        secrets = self.dialog.services.secrets
        where = await asyncio.to_thread(secrets.set, self.info.id, key)
        said = (
            "Saved in the system keyring."
            if where == "keyring"
            else (secrets.problem or "Kept for this session only.")
        )
        if self.info.key_pattern and not re.fullmatch(self.info.key_pattern, key):
            said += (
                f" But {self.info.label} keys look like {self.info.key_format}: check that it was "
                "pasted whole."
            )
        self.result.setText(said)
        await self.dialog.refresh_sources()

    def remove(self) -> None:
        self.dialog.tasks.spawn(self._remove(), what=f"Removing the {self.info.label} key")

    async def _remove(self) -> None:
        await asyncio.to_thread(self.dialog.services.secrets.delete, self.info.id)
        self.result.setText("Key removed.")
        await self.dialog.refresh_sources()

    def can_test(self) -> bool:
        return self.source is not None or not self.info.needs_key

    def test(self) -> None:
        self.test_button.setEnabled(False)
        self.result.setText("Testing…")
        self.dialog.tasks.spawn(
            self._test(),
            what=f"Testing {self.info.label}",
            restore=lambda: self.test_button.setEnabled(self.can_test()),
        )

    async def _test(self) -> None:
        """An authenticated free call where the provider has one (BFL's credits, Replicate's account)."""
        from ...jobs.keycheck import check_key

        svc = self.dialog.services
        base = svc.base_urls.get(self.info.id) or self.info.default_base_url
        problem = address_problem(self.info, base)
        self.result.setText(problem or await check_key(svc.runner, self.info, base))


class SettingsDialog(QDialog):
    keysChanged = Signal(dict)  # provider id → key source
    providersChanged = Signal()  # custom endpoints added
    capsChanged = Signal()

    def __init__(self, services: Services, tasks: TaskRunner, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.services = services
        self.tasks = tasks
        self.setWindowTitle("Settings — FlexStudio")
        self.setModal(False)
        self.tabs = QTabWidget()
        self.tabs.addTab(self._keys_tab(), "Keys")
        self.tabs.addTab(self._endpoints_tab(), "Endpoints")
        self.tabs.addTab(self._spending_tab(), "Spending")
        self.tabs.addTab(self._export_tab(), "Export")
        lay = QVBoxLayout(self)
        lay.addWidget(self.tabs)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.close)
        lay.addWidget(buttons)
        self.resize(680, 560)
        tasks.spawn(self.refresh_sources(), what="Reading the keys")

    # ------------------------------------------------------------------ keys
    def _keys_tab(self) -> QWidget:
        inner = QWidget()
        grid = QGridLayout(inner)
        grid.setColumnStretch(1, 1)
        grid.setVerticalSpacing(4)
        # One sentence says where keys go; it is written once the keyring has answered (refresh_sources).
        intro = self.keys_intro = QLabel(KEYS_INTRO_UNKNOWN)
        intro.setWordWrap(True)
        self.key_rows: dict[str, KeyRow] = {}
        infos = [i for i in self.services.registry.all() if i.needs_key]
        for n, info in enumerate(infos):
            self.key_rows[info.id] = KeyRow(self, grid, n, info)
        grid.setRowStretch(len(infos) * 4, 1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(inner)
        page = QWidget()
        pl = QVBoxLayout(page)
        pl.addWidget(intro)
        pl.addWidget(scroll, 1)
        return page

    async def refresh_sources(self) -> None:
        svc = self.services
        infos = svc.registry.all()
        sources = await asyncio.to_thread(lambda: {i.id: svc.key_source(i) for i in infos})
        for pid, row in self.key_rows.items():
            row.show_source(sources.get(pid))
        problem = svc.secrets.problem
        self.keys_intro.setText(f"{problem} {KEYS_INTRO_TAIL}" if problem else KEYS_INTRO_KEYRING)
        self.keysChanged.emit(sources)
        # Balances are asked here, when Settings is open — never at start-up — and each answer lands alone.
        asked = [pid for pid, row in self.key_rows.items() if row.info.capabilities.balance]
        for pid in asked:
            self.key_rows[pid].show_balance({"status": "asking"} if sources.get(pid) else None)
        with_key = [pid for pid in asked if sources.get(pid)]
        if with_key:
            self.tasks.spawn(
                self.refresh_balances(with_key), what="Asking for balances", key="balances", quiet=True
            )

    async def refresh_balances(self, provider_ids: list[str]) -> None:
        answers = await self.services.balances(provider_ids)
        for pid, answer in answers.items():
            if pid in self.key_rows:
                self.key_rows[pid].show_balance(answer)

    # ------------------------------------------------------------------ endpoints
    def _endpoints_tab(self) -> QWidget:
        page = QWidget()
        lay = QHBoxLayout(page)
        self.endpoint_list = QListWidget()
        self.endpoint_list.setAccessibleName("Custom endpoints")
        self.endpoint_list.currentRowChanged.connect(self._endpoint_picked)
        left = QVBoxLayout()
        left.addWidget(QLabel("Your endpoints"))
        left.addWidget(self.endpoint_list, 1)
        new = QPushButton("New endpoint")
        new.clicked.connect(self._new_endpoint)
        left.addWidget(new)
        lay.addLayout(left, 1)
        form = QFormLayout()
        self.ep_id = QLineEdit()
        self.ep_id.setPlaceholderText("my-gateway")
        self.ep_label = QLineEdit()
        self.ep_label.setPlaceholderText("My gateway")
        self.ep_protocol = QComboBox()
        for key, label in PROTOCOLS:
            self.ep_protocol.addItem(label, key)
        self.ep_url = QLineEdit()
        self.ep_url.setPlaceholderText("https://gateway.example/v1")
        self.ep_model = QLineEdit()
        self.ep_model.setPlaceholderText("flux.2-flex (the gateway's model id)")
        self.ep_auth = QComboBox()
        self.ep_auth.addItem("Bearer token (Authorization header)", "bearer")
        self.ep_auth.addItem("x-key header (as BFL)", "x-key")
        form.addRow("Id", self.ep_id)
        form.addRow("Label", self.ep_label)
        form.addRow("Protocol", self.ep_protocol)
        form.addRow("Base URL", self.ep_url)
        form.addRow("Model", self.ep_model)
        form.addRow("Auth", self.ep_auth)
        buttons = QHBoxLayout()
        save = QPushButton("Save endpoint")
        save.clicked.connect(self._save_endpoint)
        remove = QPushButton("Remove")
        remove.clicked.connect(self._remove_endpoint)
        buttons.addWidget(save)
        buttons.addWidget(remove)
        buttons.addStretch(1)
        self.ep_result = QLabel("Its key goes in the Keys tab once saved.")
        self.ep_result.setWordWrap(True)
        right = QVBoxLayout()
        right.addLayout(form)
        right.addLayout(buttons)
        right.addWidget(self.ep_result)
        right.addStretch(1)
        lay.addLayout(right, 2)
        self._fill_endpoints()
        return page

    def _fill_endpoints(self) -> None:
        self.endpoint_list.clear()
        for ep in self.services.settings.endpoints:
            self.endpoint_list.addItem(f"{ep.label}  ({ep.id})")

    def _new_endpoint(self) -> None:
        self.endpoint_list.setCurrentRow(-1)
        self._endpoint_picked(-1)

    def _endpoint_picked(self, row: int) -> None:
        eps = self.services.settings.endpoints
        ep = eps[row] if 0 <= row < len(eps) else None
        self.ep_id.setText(ep.id if ep else "")
        self.ep_id.setReadOnly(ep is not None)
        self.ep_label.setText(ep.label if ep else "")
        self.ep_protocol.setCurrentIndex(
            max(0, self.ep_protocol.findData(ep.protocol if ep else "openai_images"))
        )
        self.ep_url.setText(ep.base_url if ep else "")
        self.ep_model.setText(str(ep.options.get("model", "")) if ep else "")
        self.ep_auth.setCurrentIndex(
            max(0, self.ep_auth.findData(ep.options.get("auth", "bearer") if ep else "bearer"))
        )

    def _save_endpoint(self) -> None:
        eid = self.ep_id.text().strip()
        label = self.ep_label.text().strip() or eid
        url = self.ep_url.text().strip()
        if not eid or not url:
            self.ep_result.setText("An endpoint needs an id and a base URL.")
            return
        options: dict[str, Any] = {}
        if self.ep_model.text().strip():
            options["model"] = self.ep_model.text().strip()
        if self.ep_protocol.currentData() == "bfl":
            options["auth"] = self.ep_auth.currentData()
        ep = CustomEndpoint(
            id=eid, label=label, protocol=self.ep_protocol.currentData(), base_url=url, options=options
        )
        registry = self.services.registry
        before = len(registry.problems)
        try:
            info = registry.add_custom(ep)
        except BadInput as exc:
            self.ep_result.setText(str(exc))
            return
        if info is None:
            self.ep_result.setText(registry.problems[-1] if len(registry.problems) > before else "Not saved.")
            return
        eps = [e for e in self.services.settings.endpoints if e.id != eid] + [ep]
        self.services.settings.endpoints = eps
        self.services.save_settings()
        self._fill_endpoints()
        self.ep_result.setText(
            f"Saved: {info.display_name} is in the provider list. Add its key in the Keys "
            "tab (reopen Settings to see it there)."
        )
        self.providersChanged.emit()

    def _remove_endpoint(self) -> None:
        row = self.endpoint_list.currentRow()
        eps = list(self.services.settings.endpoints)
        if not 0 <= row < len(eps):
            return
        gone = eps.pop(row)
        self.services.settings.endpoints = eps
        self.services.save_settings()
        self._fill_endpoints()
        self.ep_result.setText(f"Removed {gone.label}; it leaves the provider list when FlexStudio restarts.")

    # ------------------------------------------------------------------ spending
    def _spending_tab(self) -> QWidget:
        page = QWidget()
        lay = QVBoxLayout(page)
        intro = QLabel(
            "FlexStudio warns when a run would pass a warning level, and refuses to send one that "
            "would pass a stop level. 0 means no limit."
        )
        intro.setWordWrap(True)
        lay.addWidget(intro)
        grid = QGridLayout()
        grid.addWidget(QLabel("Warn at"), 0, 1)
        grid.addWidget(QLabel("Stop at"), 0, 2)
        self.cap_boxes: dict[str, QDoubleSpinBox] = {}
        caps = self.services.settings.caps
        for r, (period, label) in enumerate(
            (("session", "This session"), ("day", "Per day"), ("month", "Per month")), start=1
        ):
            grid.addWidget(QLabel(label), r, 0)
            for c, kind in enumerate(("warn", "stop"), start=1):
                box = QDoubleSpinBox()
                box.setRange(0, 100_000)
                box.setDecimals(2)
                box.setPrefix("$")
                box.setSpecialValueText("no limit")
                box.setAccessibleName(f"{label} {kind} limit")
                value = getattr(caps, f"{period}_{kind}")
                box.setValue(value or 0)
                box.valueChanged.connect(self._caps_edited)
                self.cap_boxes[f"{period}_{kind}"] = box
                grid.addWidget(box, r, c)
        lay.addLayout(grid)
        self._rates_section(lay)
        lay.addStretch(1)
        return page

    def _rates_section(self, lay: QVBoxLayout) -> None:
        """A per-image rate for each provider or endpoint whose price is not published: without one its
        edits are "price unknown" and the limits above cannot count them."""
        from ...core.request import EditRequest

        svc = self.services
        rates = svc.user_rates()
        unpriced = []
        for info in svc.registry.all():
            if info.id in rates or svc.quote(EditRequest(prompt="x", provider=info.id)).usd is None:
                unpriced.append(info)
        self.rate_boxes: dict[str, QDoubleSpinBox] = {}
        if not unpriced:
            return
        head = QLabel(
            "Your prices — for providers that publish none. Each edit is then priced at this rate "
            "and counted by the limits above."
        )
        head.setWordWrap(True)
        lay.addWidget(head)
        grid = QGridLayout()
        for r, info in enumerate(unpriced):
            grid.addWidget(QLabel(info.display_name), r, 0)
            box = QDoubleSpinBox()
            box.setRange(0, 100)
            box.setDecimals(3)
            box.setPrefix("$")
            box.setSuffix(" per image")
            box.setSpecialValueText("not set")
            box.setAccessibleName(f"Price per image on {info.display_name}")
            box.setValue(rates.get(info.id, 0.0))
            box.valueChanged.connect(lambda v, pid=info.id: self._rate_edited(pid, v))
            self.rate_boxes[info.id] = box
            grid.addWidget(box, r, 1)
        lay.addLayout(grid)

    def _rate_edited(self, provider_id: str, usd: float) -> None:
        try:
            self.services.set_user_rate(provider_id, usd or None)
        except BadInput as exc:
            self.rate_boxes[provider_id].setToolTip(str(exc))
            return
        self.capsChanged.emit()  # the price readouts quote again

    def _caps_edited(self, _v: float) -> None:
        values = {f.name: (self.cap_boxes[f.name].value() or None) for f in fields(SpendCaps)}
        caps = self.services.settings.caps
        for k, v in values.items():
            setattr(caps, k, v)  # the guard holds this same object: it applies at once
        self.services.save_settings()
        self.capsChanged.emit()

    # ------------------------------------------------------------------ export
    def _export_tab(self) -> QWidget:
        page = QWidget()
        form = QFormLayout(page)
        row = QHBoxLayout()
        self.export_dir = QLineEdit(self.services.settings.export_dir)
        self.export_dir.setPlaceholderText(str(default_export_dir()))
        self.export_dir.editingFinished.connect(self._export_edited)
        browse = QPushButton("Choose…")
        browse.clicked.connect(self._browse)
        row.addWidget(self.export_dir, 1)
        row.addWidget(browse)
        form.addRow("Export folder", row)
        note = QLabel(
            "Exported images carry their settings (the A1111 “parameters” text and the full "
            "request), so dropping one back on FlexStudio or another tool restores them."
        )
        note.setWordWrap(True)
        form.addRow(note)
        return page

    def _browse(self) -> None:
        folder = ask.existing_folder(
            self, "Export folder", self.export_dir.text() or str(default_export_dir())
        )
        if folder:
            self.export_dir.setText(folder)
            self._export_edited()

    def _export_edited(self) -> None:
        self.services.settings.export_dir = self.export_dir.text().strip()
        self.services.save_settings()


def default_export_dir() -> Any:
    """FLEXSTUDIO_HOME/exports when everything lives under one folder, else Pictures/FlexStudio."""
    import os
    from pathlib import Path

    from PySide6.QtCore import QStandardPaths

    if os.environ.get("FLEXSTUDIO_HOME"):
        return Path(os.environ["FLEXSTUDIO_HOME"]).expanduser() / "exports"

    pictures = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.PicturesLocation)
    return Path(pictures or Path.home()) / "FlexStudio"
