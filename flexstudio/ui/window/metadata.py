"""What the window does with images that carry their settings: export a result with its metadata, and
restore the settings an image carries (FlexStudio, A1111, ComfyUI, Fooocus, InvokeAI, NovelAI), dropped,
pasted or opened. A part of ``WindowController`` (``controller.py``)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...core.errors import BadInput
from ..models.aio import asyncio

if TYPE_CHECKING:
    from ...core.request import ImageRef
    from ...services import Services
    from ...storage.history import JobRecord
    from ...storage.recipes import Recipe
    from ..models.workbench import Workbench
    from .view import WindowView

RECIPE_FILTER = "Images (*.png *.jpg *.jpeg *.webp);;All files (*)"
SOURCES = {
    "flexstudio": "FlexStudio",
    "a1111": "A1111",
    "comfyui": "ComfyUI",
    "fooocus": "Fooocus",
    "invokeai": "InvokeAI",
    "novelai": "NovelAI",
}
_FIELD_WORDS = {
    "prompt": "prompt",
    "steps": "steps",
    "guidance": "guidance",
    "seed": "seed",
    "size": "size",
    "safety": "safety tolerance",
    "prompt_upsampling": "prompt upsampling",
    "provider": "provider",
}


def show_folder(folder: Path) -> None:
    """Open ``folder`` in the desktop's file manager (Qt's URL and desktop-services classes are built on
    first use, not with the window)."""
    from PySide6.QtCore import QUrl
    from PySide6.QtGui import QDesktopServices

    QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))


class MetadataActions:
    """Export with metadata and restore from an image's metadata (mixed into ``WindowController``)."""

    services: Services
    view: WindowView
    wb: Workbench
    shown_job: JobRecord | None

    # ------------------------------------------------------------------ export with metadata
    def export_current(self) -> None:
        rec = self.view.selected_job() or self.shown_job
        if rec is None or not rec.outputs:
            self.view.show_message("info", "Pick a finished job in the history to export.")
            return
        self.export_job(rec)

    def export_job(self, rec: JobRecord) -> None:
        """Asks where (starting at the folder used last, kept in the settings), then writes there."""
        from ..dialogs import ask
        from ..dialogs.settings_dialog import default_export_dir

        svc = self.services
        start = svc.settings.export_dir or str(default_export_dir())
        folder = ask.existing_folder(self.view.dialog_parent(), "Export with metadata to", start)
        if not folder:
            return  # cancelled: nothing written
        if folder != svc.settings.export_dir:
            svc.settings.export_dir = folder
            svc.save_settings()
        self.view.tasks.spawn(self._export(rec, Path(folder)), what="Exporting the image")

    async def _export(self, rec: JobRecord, folder: Path) -> None:
        from ...storage.exports import Exported, export_image

        svc = self.services
        out = rec.outputs[0]
        label = self.view.history_model.label(rec.provider)

        def work() -> Exported:
            folder.mkdir(parents=True, exist_ok=True)
            return export_image(
                svc.blobs.get(out.sha256),
                out.mime,
                folder,
                rec.request,
                stem=f"flexstudio-{rec.id}",
                job_id=rec.id,
                provider=rec.provider,
                provider_label=label,
                provider_job_id=rec.provider_job_id,
                seed=rec.request.seed,
                billed_usd=rec.billed_usd,
                quote_usd=rec.quote_usd,
                size=(out.width, out.height),
            )

        done = await asyncio.to_thread(work)
        path = done.path
        self.view.show_message(
            "warning" if done.notes else "success",
            f"Exported job {rec.id} with its settings to {path}." + "".join(f" {n}" for n in done.notes),
            action="Show folder",
            callback=lambda: show_folder(path.parent),
            timeout_ms=12000,
        )

    # ------------------------------------------------------------------ images that carry their settings
    def offer_recipe(self, recipe: Recipe, ref: ImageRef, name: str) -> None:
        """An image with a recipe was dropped or pasted: restore its settings (what a designer dropping an
        exported image wants) and offer to add it as a reference instead."""
        snap = self.wb.snapshot()
        missing = self.wb.apply_recipe(recipe)
        job = recipe.info.get("job_id") if recipe.source == "flexstudio" else None
        text = (
            f"Restored the settings from {name} ({SOURCES.get(recipe.source, recipe.source)} recipe"
            + (f", job {job}" if job else "")
            + ")."
        )
        if recipe.source != "flexstudio":
            words = [w for k, w in _FIELD_WORDS.items() if k in recipe.fields]
            listed = (
                ", ".join(words[:-1]) + (" and " if len(words) > 1 else "") + words[-1]
                if words
                else "nothing"
            )
            text += f" Its {listed} replace yours; the references stay."
        if missing:
            text += f" Missing from disk, left out: {', '.join(missing)}."
        if recipe.notes:  # what the image carries that FLUX.2 [flex] cannot take (as `flexstudio info` says)
            text += " " + " ".join(recipe.notes)
        self.view.show_message(
            "warning" if recipe.notes else "success",
            text,
            action="Add as a reference instead",
            callback=lambda: self._recipe_as_reference(snap, ref),
            timeout_ms=20000,
        )

    def _recipe_as_reference(self, snap: tuple[Any, ...], ref: ImageRef) -> None:
        self.wb.restore_snapshot(snap)
        if self.view.importer.add_loaded(ref):
            self.view.status(
                f"Settings put back; {ref.name or 'the image'} is now image {len(self.wb.references)}.", 5000
            )

    def restore_from_image(self) -> None:
        self.view.ask_open_file(
            "Restore settings from an image",
            RECIPE_FILTER,
            lambda file: self.view.tasks.spawn(
                self.restore_from_image_file(file), what="Reading the image's settings"
            ),
        )

    async def restore_from_image_file(self, path: str | Path) -> bool:
        from ...storage.recipes import provider_names, read_recipe

        p = Path(path)
        svc = self.services

        def work() -> tuple[Any, Any]:
            ref = svc.import_reference_file(p)
            return ref, read_recipe(svc.blobs.get(ref.sha256), providers=provider_names(svc.registry.all()))

        try:
            ref, recipe = await asyncio.to_thread(work)
        except BadInput as exc:
            self.view.show_message("error", str(exc))
            return False
        if recipe is None:
            self.view.show_message(
                "info",
                f"{p.name} carries no settings (no FlexStudio, A1111, ComfyUI, "
                "Fooocus, InvokeAI or NovelAI metadata).",
                action="Add it as a reference",
                callback=lambda: self.view.importer.add_loaded(ref),
            )
            return False
        self.offer_recipe(recipe, ref, p.name)
        return True
