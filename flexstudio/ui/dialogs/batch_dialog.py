"""The "Batch…" dialog: one edit over many inputs. Choose the inputs (a folder, files, or the history
selection), the settings (the current ones or a preset), a provider and an output folder; the price of
the whole batch shows before Launch; then a batch card shows progress, time left, money spent and what
did not succeed, with Stop, and once done a contact sheet and the manifest."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QProgressBar,
    QPushButton,
    QStyleOptionViewItem,
    QVBoxLayout,
    QWidget,
)

from ...core.errors import BadInput
from ...jobs.batch_plan import IMAGE_SUFFIXES, batch_key, expand, plan_items
from ...storage.batches import BAD_INPUT, BatchStore
from ..models.aio import asyncio
from ..models.batch_run import BatchRun, Progress
from ..widgets import theme
from ..widgets.price_area import PriceArea

if TYPE_CHECKING:
    from collections.abc import Callable

    from ...core.request import EditRequest
    from ...services import Services
    from ...storage.batches import Batch, NewItem

CURRENT = "Current settings"


def _warm(protocol: str) -> None:
    """Import now, while pricing in a worker thread, what the batch's first launches would import: a module
    first imported while the batch runs holds the interpreter (and so the window) for its whole import."""
    import importlib

    from PIL import Image, ImageDraw, ImageFilter, ImageFont, ImageOps  # noqa: F401 - pictures, the sheet

    import flexstudio.providers.http  # the runner's polling reads its retry rules
    import flexstudio.storage.contact_sheet
    import flexstudio.storage.exports  # noqa: F401

    Image.init()  # every format plugin: inputs, results and exports of any format
    try:
        importlib.import_module(f"flexstudio.providers.{protocol}")  # the provider's protocol code
    except ImportError:
        pass


class BatchDialog(QDialog):
    def __init__(
        self,
        services: Services,
        request: EditRequest,
        *,
        preset: str | None = None,
        history_selection: Callable[[], list[Path]] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        store = BatchStore(services.paths.batches_db)  # a damaged batch list raises before any widget
        super().__init__(parent)
        self.services = services
        self.base = request
        self.store = store
        self.inputs: list[Path] = []
        self.items: list[NewItem] = []
        self.total_usd: float | None = None
        self._planned: tuple[str, str] | None = None  # (batch key, resolved output folder) of self.items
        self.run: BatchRun | None = None
        self.batch: Batch | None = None
        self._history_selection = history_selection
        self._pricing: asyncio.Task[Any] | None = None
        self.setWindowTitle("Batch")
        self.setAccessibleName("Batch")
        self.resize(620, 560)  # kept by the window while it runs (closing only hides it)
        self.destroyed.connect(lambda *_: self.store.close())
        # The history paints its first cards as the batch's jobs land: the painters' style flags (PySide6
        # builds QStyle's enums, ~12 ms, on first use) are resolved now, when the dialog opens, not then.
        theme.item_state()
        QStyleOptionViewItem()  # the first card's paint hands one to Python: its type is built here

        lay = QVBoxLayout(self)
        intro = QLabel(
            "Apply one edit to many images: each becomes image 1, the references in the tray follow "
            "it. The whole batch is priced before anything is sent."
        )
        intro.setWordWrap(True)
        lay.addWidget(intro)
        self.list = QListWidget()
        self.list.setAccessibleName("Inputs")
        lay.addWidget(self.list, 1)
        row = QHBoxLayout()
        self.add_folder_button = QPushButton("Add &folder…")
        self.add_folder_button.clicked.connect(self._choose_folder)
        self.add_files_button = QPushButton("Add f&iles…")
        self.add_files_button.clicked.connect(self._choose_files)
        self.add_selection_button = QPushButton("Add the &history selection")
        self.add_selection_button.setEnabled(history_selection is not None)
        self.add_selection_button.clicked.connect(self._add_selection)
        self.clear_button = QPushButton("Clear")
        self.clear_button.clicked.connect(lambda: self.set_inputs([]))
        for b in (
            self.add_folder_button,
            self.add_files_button,
            self.add_selection_button,
            self.clear_button,
        ):
            row.addWidget(b)
        row.addStretch(1)
        lay.addLayout(row)

        form = QFormLayout()
        self.settings = QComboBox()
        self.settings.setAccessibleName("Settings")
        self.settings.addItem(CURRENT)
        for p in services.presets.list():
            self.settings.addItem(p.name)
        if preset:
            self.settings.setCurrentText(preset)
        self.provider = QComboBox()
        self.provider.setAccessibleName("Provider")
        for info in services.registry.all():
            self.provider.addItem(info.display_name, info.id)
        idx = self.provider.findData(request.provider)
        self.provider.setCurrentIndex(max(0, idx))
        self.out = QLineEdit(str(services.paths.data.parent / "batches"))
        self.out.setAccessibleName("Output folder")
        form.addRow("&Settings", self.settings)
        form.addRow("&Provider", self.provider)
        form.addRow("&Output folder", self.out)
        lay.addLayout(form)
        self.price = PriceArea()
        lay.addWidget(self.price)

        self.card = QWidget()
        card = QVBoxLayout(self.card)
        card.setContentsMargins(0, 0, 0, 0)
        self.bar = QProgressBar()
        self.bar.setAccessibleName("Batch progress")
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.setAccessibleName("Batch status")
        card.addWidget(self.bar)
        card.addWidget(self.status)
        self.card.setVisible(False)
        lay.addWidget(self.card)

        buttons = QHBoxLayout()
        self.sheet_button = QPushButton("Export contact &sheet…")
        self.sheet_button.setEnabled(False)
        self.sheet_button.clicked.connect(self._choose_sheet)
        self.manifest_label = QLabel()
        self.manifest_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.manifest_label.setFont(theme.small_font(self))
        # Where the results go, from the start: the label (and its text control) is built here, not at Launch.
        self.manifest_label.setText(self._destination_text())
        buttons.addWidget(self.sheet_button)
        buttons.addWidget(self.manifest_label, 1)
        self.stop_button = QPushButton("S&top")
        self.stop_button.setEnabled(False)
        self.stop_button.setToolTip(
            "Launch nothing more; running jobs finish (or are cancelled where the provider can)"
        )
        self.stop_button.clicked.connect(self.stop)
        self.close_button = QPushButton("Close")
        self.close_button.clicked.connect(self.close)
        self.launch_button = QPushButton("Launch")
        self.launch_button.setDefault(True)
        self.launch_button.setAccessibleName("Launch the batch")
        self.launch_button.clicked.connect(self.launch)
        for b in (self.stop_button, self.close_button, self.launch_button):
            buttons.addWidget(b)
        lay.addLayout(buttons)
        self.settings.currentIndexChanged.connect(lambda _i: self.refresh())
        self.provider.currentIndexChanged.connect(lambda _i: self.refresh())
        self.out.textChanged.connect(lambda _t: self.refresh())
        self.out.textChanged.connect(lambda _t: self.manifest_label.setText(self._destination_text()))
        self.refresh()

    def _destination_text(self) -> str:
        return f"Results and manifest go to {self.out.text()}"

    # ------------------------------------------------------------------ inputs
    def set_inputs(self, paths: list[Path]) -> None:
        self.inputs = list(dict.fromkeys(paths))
        self.list.clear()
        for p in self.inputs:
            self.list.addItem(str(p))
        self.refresh()

    def add_inputs(self, paths: list[Path]) -> None:
        try:
            found = expand([str(p) for p in paths], exclude=Path(self.out.text()).expanduser())
        except BadInput as exc:
            self.price.set_refusal(str(exc))
            return
        self.set_inputs([*self.inputs, *found])

    def _choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Add the images of a folder")
        if folder:
            self.add_inputs([Path(folder)])

    def _choose_files(self) -> None:
        pattern = " ".join(f"*{s}" for s in sorted(IMAGE_SUFFIXES))
        files, _ = QFileDialog.getOpenFileNames(self, "Add images", "", f"Images ({pattern})")
        if files:
            self.add_inputs([Path(f) for f in files])

    def _add_selection(self) -> None:
        if self._history_selection is not None:
            self.add_inputs(self._history_selection())

    # ------------------------------------------------------------------ the edit and its price
    def template(self) -> EditRequest:
        req = self.base
        name = self.settings.currentText()
        if name != CURRENT:
            req = self.services.presets.get(name).apply(req, prompt=req.prompt)
        return req.with_(provider=str(self.provider.currentData()))

    def refresh(self) -> None:
        """Price the batch off the GUI thread (each input's header is read); the latest request wins."""
        if self._pricing is not None and not self._pricing.done():
            self._pricing.cancel()
        self.launch_button.setEnabled(False)
        if self.run is not None:
            return
        if not self.inputs:
            self.launch_button.setText("Launch")
            self.price.set_total("Add a folder or images to edit.")
            return
        self.price.set_total("Pricing…")
        self._pricing = asyncio.ensure_future(self._price())

    async def _price(self) -> None:
        svc = self.services
        template = self.template()
        info = svc.registry.get(template.provider)
        self.price.set_refusal("")
        try:
            template.resolved().validate()
            if len(template.references) + 1 > info.capabilities.max_references:
                raise BadInput(
                    f"{info.display_name} takes at most {info.capabilities.max_references} images: "
                    f"with each input as image 1 that leaves {info.capabilities.max_references - 1} "
                    f"for the tray (it has {len(template.references)})."
                )
        except BadInput as exc:
            self.price.set_total("")
            self.price.set_refusal(str(exc))
            return
        paths = list(self.inputs)
        out_text = self.out.text()
        self._planned = None

        def plan() -> tuple[list[NewItem], tuple[str, str]]:
            _warm(info.protocol)
            items = plan_items(template, paths, lambda r: svc.quote(r).usd)
            # The batch's key resolves every input's path: done here, so Launch only writes the rows.
            extras = [r.sha256 for r in template.references]
            out = Path(out_text).expanduser()
            key = batch_key(template, [str(p) for p in paths], extras, out)
            return items, (key, str(out.resolve()))

        items, planned = await asyncio.to_thread(plan)
        self.items = items
        self._planned = planned
        good = [it for it in items if it.status != BAD_INPUT]
        bad = len(items) - len(good)
        usd: float | None = (
            None if any(it.quote_usd is None for it in good) else sum(it.quote_usd or 0.0 for it in good)
        )
        self.total_usd = usd
        money = theme.money(usd)
        note = f"{bad} of them cannot be used and will be skipped." if bad else ""
        self.price.set_total(
            f"Total: {money} for {len(good)} input{'s' if len(good) != 1 else ''} on {info.display_name}",
            note,
        )
        ok = self.price.check_spend(svc, usd)
        self.launch_button.setText(f"Launch {len(good)} edit{'s' if len(good) != 1 else ''}  ·  {money}")
        self.launch_button.setEnabled(bool(good) and ok)

    # ------------------------------------------------------------------ running
    def launch(self) -> bool:
        if self.run is not None or not self.items or not self.launch_button.isEnabled():
            return False
        svc = self.services
        template = self.template()
        info = svc.registry.get(template.provider)
        if info.needs_key and not svc.key_source(info):
            from ...core.errors import MissingKey

            self.price.set_refusal(str(MissingKey.of(info.label, info.id, info.env_var)))
            return False
        extras = tuple(template.references)
        inputs = [str(p) for p in self.inputs]
        if self._planned is None:  # priced, but not planned by this dialog's pricing (kept for safety)
            out = Path(self.out.text()).expanduser()
            self._planned = (batch_key(template, inputs, [r.sha256 for r in extras], out), str(out.resolve()))
        key, out_dir = self._planned
        batch = self.store.create(
            key=key,
            request=template.with_(references=()),
            inputs=inputs,
            extras=[r.sha256 for r in extras],
            out_dir=out_dir,
            items=self.items,
        )
        self.batch = batch
        self.run = BatchRun(
            svc,
            self.store,
            batch,
            extras,
            limit=info.capabilities.max_concurrency,
            items=self.items,
            parent=self,
        )
        self.run.progressed.connect(self._progressed)
        self.run.finished.connect(self._finished)
        self.bar.setRange(0, self.run.total)
        self.card.setVisible(True)
        self.manifest_label.setText(f"Manifest: {batch.manifest_path}")
        self._progressed(self.run.progress())
        for w in (
            self.launch_button,
            self.add_folder_button,
            self.add_files_button,
            self.add_selection_button,
            self.clear_button,
            self.settings,
            self.provider,
            self.out,
        ):
            w.setEnabled(False)
        self.stop_button.setEnabled(True)
        self.run.start()
        return True

    def _progressed(self, p: Progress) -> None:
        self.bar.setValue(p.done)
        self.status.setText(p.text + (f"\n{p.note}" if p.note else ""))

    def _finished(self, summary: Any) -> None:
        self.stop_button.setEnabled(False)
        self.sheet_button.setEnabled(True)
        c = summary.counts
        words = [f"{c.get('succeeded', 0)} succeeded"] + [
            f"{c[k]} {w}"
            for k, w in (
                ("failed", "failed"),
                ("bad_input", "could not be used"),
                ("moderated", "moderated"),
                ("interrupted", "still at the provider"),
                ("cancelled", "cancelled"),
                ("not_launched", "not launched"),
            )
            if c.get(k)
        ]
        self.status.setText(
            f"Done: {', '.join(words)} · ${summary.spent_usd:.2f} spent."
            + (f"\n{summary.stopped}" if summary.stopped else "")
        )

    def stop(self) -> None:
        if self.run is not None:
            self.run.cancel()
            self.stop_button.setEnabled(False)
            self.status.setText(self.status.text() + "\nStopping: nothing more is launched.")

    # ------------------------------------------------------------------ exports
    def _choose_sheet(self) -> None:
        if self.batch is None:
            return
        default = str(Path(self.batch.out_dir) / f"flexstudio-batch-{self.batch.id}-sheet.jpg")
        path, _ = QFileDialog.getSaveFileName(
            self, "Export the contact sheet", default, "Images (*.jpg *.png)"
        )
        if path:
            asyncio.ensure_future(self.export_contact_sheet(Path(path)))

    async def export_contact_sheet(self, dest: Path) -> Path | None:
        from ...storage.contact_sheet import batch_header, batch_pairs, render

        if self.batch is None:
            return None
        batch = self.batch
        pairs = batch_pairs(self.store, self.services.history, batch.id)
        summary = self.run.summary if self.run is not None else None
        header = batch_header(
            batch,
            pairs,
            provider_label=self.services.registry.get(batch.provider).label,
            spent_usd=summary.spent_usd if summary is not None else None,
        )
        sheet = await asyncio.to_thread(render, pairs, dest, header=header)
        more = f" (+{len(sheet.pages) - 1} more pages)" if len(sheet.pages) > 1 else ""
        self.manifest_label.setText(f"Contact sheet: {sheet.path}{more} · manifest: {batch.manifest_path}")
        return sheet.path

    @property
    def running(self) -> bool:
        return self.run is not None and self.run.task is not None and not self.run.task.done()
