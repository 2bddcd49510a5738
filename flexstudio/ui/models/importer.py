"""Adding references from drops, the clipboard and file dialogs. Qt mime data is unpacked on the GUI
thread (cheap: paths and bytes); checking, hashing and storing the images runs in worker threads."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QByteArray, QMimeData, QObject, Signal

from ...core.errors import BadInput
from .aio import asyncio

if TYPE_CHECKING:
    from PySide6.QtGui import QImage

    from ...core.request import ImageRef
    from ...services import Services
    from ...storage.recipes import Recipe
    from .tasks import TaskRunner
    from .workbench import Workbench

_IMAGE_MIMES = (
    "image/png",
    "image/jpeg",
    "image/webp",
    "image/gif",
    "image/bmp",
    "image/tiff",
    "image/avif",
    "image/heic",
)


@dataclass(frozen=True)
class Source:
    """One thing to import: a local file, encoded bytes, or a decoded QImage (a screenshot paste)."""

    path: Path | None = None
    data: bytes | None = None
    image: QImage | None = None
    name: str = ""
    problem: str | None = None  # refused before reading (a web address, …)


def _encode_png(image: QImage) -> bytes:
    """Worker-thread side: a pasted QImage as PNG bytes (the classes were built by ``sources_from_mime``,
    in the GUI thread)."""
    from PySide6.QtCore import QBuffer, QIODevice
    from PySide6.QtGui import QImageWriter

    buf = QBuffer()
    buf.open(QIODevice.OpenModeFlag.WriteOnly)
    writer = QImageWriter(buf, QByteArray(b"PNG"))
    writer.setQuality(1)  # as QImage.save(buf, "PNG", 1): the smallest file
    if not writer.write(image):
        raise BadInput("The pasted picture could not be read.")
    return bytes(buf.data().data())


def unnamed_image() -> str:
    """The name of an image that came without a file (a paste, a drop from a browser): "pasted image 14.05.09"."""
    return "pasted image " + time.strftime("%H.%M.%S")


def sources_from_mime(mime: QMimeData) -> list[Source]:
    """What a drop or a paste offers, best first: local files, else image bytes, else a decoded image."""
    out: list[Source] = []
    remote: list[str] = []
    if mime.hasUrls():
        for url in mime.urls():
            if url.isLocalFile():
                out.append(Source(path=Path(url.toLocalFile()), name=Path(url.toLocalFile()).name))
            elif url.scheme() in ("http", "https", "ftp", "data"):
                remote.append(url.toString()[:80])
    if out:
        return out
    for fmt in _IMAGE_MIMES:
        if mime.hasFormat(fmt):
            data = bytes(QByteArray(mime.data(fmt)).data())
            if data:
                return [Source(data=data, name=f"{unnamed_image()}.{fmt.split('/')[1]}")]
    if mime.hasImage():
        # Qt's image classes are built on the first pasted picture, not with the window
        from PySide6.QtCore import QBuffer, QIODevice  # noqa: F401 — for _encode_png, in a worker thread
        from PySide6.QtGui import QImage, QImageWriter  # noqa: F401

        image = mime.imageData()
        if isinstance(image, QImage) and not image.isNull():
            return [Source(image=image.copy(), name=f"{unnamed_image()}.png")]
    if remote:
        return [
            Source(
                problem=f"{u} is a web address: FlexStudio adds images from this computer — "
                "save the image first, then drop the file."
            )
            for u in remote
        ]
    text = mime.text().strip() if mime.hasText() else ""
    if text and "\n" not in text and Path(text).is_file():
        return [Source(path=Path(text), name=Path(text).name)]
    return []


def mime_has_images(mime: QMimeData) -> bool:
    return bool(mime.hasUrls() or mime.hasImage() or any(mime.hasFormat(f) for f in _IMAGE_MIMES))


class ReferenceImporter(QObject):
    """Turns sources into references on the workbench; one clear message for anything refused."""

    message = Signal(str, str)  # level ("error" | "warning" | "info"), sentence
    busyChanged = Signal(bool)
    recipeFound = Signal(object, object, str)  # Recipe, the image as an ImageRef, its name

    def __init__(
        self, services: Services, workbench: Workbench, tasks: TaskRunner, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self.services = services
        self.workbench = workbench
        self.tasks = tasks
        self.paths: dict[str, Path] = {}  # reference sha → the file it came from (for "reveal file")
        self._busy = 0
        workbench.referencesChanged.connect(self.prepare_ahead)
        workbench.providerChanged.connect(self.prepare_ahead)

    def prepare_ahead(self) -> asyncio.Task[None] | None:
        """Prepare the tray's references for the chosen provider in the background while the prompt is
        written, so Run is left with only the upload (the runner keeps them, in memory and on disk)."""
        wb = self.workbench
        refs = wb.references
        if not refs:
            return None
        try:
            asyncio.get_running_loop()
        except RuntimeError:  # no event loop yet (start-up, some tests): Run prepares them itself
            return None
        # not "latest wins": a cancelled task would free its slot while its thread still decodes
        return self.tasks.spawn(self.services.runner.prepare_ahead(refs, wb.info.id), quiet=True)

    # ------------------------------------------------------------------ entry points
    def import_mime(
        self, mime: QMimeData, *, replace_index: int | None = None, check_recipe: bool = False
    ) -> asyncio.Task[None] | None:
        sources = sources_from_mime(mime)
        if not sources:
            self.message.emit("warning", "Nothing to add: drop or paste an image, or image files.")
            return None
        return self.import_sources(sources, replace_index=replace_index, check_recipe=check_recipe)

    def import_paths(
        self, paths: Sequence[str | Path], *, replace_index: int | None = None, check_recipe: bool = False
    ) -> asyncio.Task[None] | None:
        if not paths:
            return None
        return self.import_sources(
            [Source(path=Path(p), name=Path(p).name) for p in paths],
            replace_index=replace_index,
            check_recipe=check_recipe,
        )

    def import_sources(
        self, sources: list[Source], *, replace_index: int | None = None, check_recipe: bool = False
    ) -> asyncio.Task[None]:
        """With ``check_recipe``, one image that carries a recipe (an exported FlexStudio image, an A1111 or
        ComfyUI PNG) is offered through ``recipeFound`` instead of joining the tray."""
        self._set_busy(+1)
        single = len(sources) == 1 and sources[0].image is None and not sources[0].problem
        coro = (
            self._import_checked(sources[0])
            if check_recipe and single and replace_index is None
            else self._import(sources, replace_index)
        )
        return self.tasks.spawn(coro, what="Adding the reference", restore=lambda: self._set_busy(-1))

    def _set_busy(self, delta: int) -> None:
        was = self._busy > 0
        self._busy += delta
        if (self._busy > 0) != was:
            self.busyChanged.emit(self._busy > 0)

    # ------------------------------------------------------------------ the work
    def _load(self, src: Source) -> ImageRef:
        """Worker-thread side: read, check and store one source."""
        if src.problem:
            raise BadInput(src.problem)
        if src.path is not None:
            ref = self.services.import_reference_file(src.path)
            self.paths[ref.sha256] = src.path
            return ref
        data = src.data if src.data is not None else _encode_png(src.image) if src.image is not None else b""
        return self.services.import_reference(data, src.name)

    def _load_with_recipe(self, src: Source) -> tuple[ImageRef, Recipe | None]:
        """Worker-thread side: the image as a reference, and the recipe it carries (or None)."""
        from ...storage.recipes import provider_names, read_recipe

        ref = self._load(src)
        return ref, read_recipe(
            self.services.blobs.get(ref.sha256), providers=provider_names(self.services.registry.all())
        )

    async def _import_checked(self, src: Source) -> None:
        try:
            ref, recipe = await asyncio.to_thread(self._load_with_recipe, src)
        except BadInput as exc:
            self.message.emit("error", str(exc))
            return
        if recipe is not None:
            self.recipeFound.emit(recipe, ref, src.name or ref.name)
            return
        self.add_loaded(ref)

    def add_loaded(self, ref: ImageRef) -> bool:
        """Put an image already checked and stored into the tray (or say why not)."""
        wb = self.workbench
        if wb.add_references([ref]):
            return True
        self.message.emit(
            "warning",
            f"The tray is full: {wb.info.display_name} takes at most "
            f"{wb.caps.max_references} reference images. Remove one first.",
        )
        return False

    async def _import(self, sources: list[Source], replace_index: int | None) -> None:
        wb = self.workbench
        room = 1 if replace_index is not None else wb.room()
        info = wb.info
        if room == 0:
            self.message.emit(
                "warning",
                f"The tray is full: {info.display_name} takes at most "
                f"{wb.caps.max_references} reference images. Remove one first.",
            )
            return
        # One file at a time, each in a worker thread: several Python threads at once would fight the
        # GUI thread for the GIL. Each picture joins the tray as soon as it is checked.
        added = 0
        problems: list[str] = []
        left_out = 0
        for n, src in enumerate(sources):
            if replace_index is None and wb.room() == 0:
                left_out = len(sources) - n  # not even read
                break
            try:
                ref = await asyncio.to_thread(self._load, src)
            except BadInput as exc:
                problems.append(str(exc))
                continue
            if replace_index is not None:
                wb.replace_reference(replace_index, ref)
                added += 1
                break
            added += wb.add_references([ref])
        if left_out:
            problems.append(
                f"{left_out} image{'s' if left_out > 1 else ''} left out: {info.display_name} takes "
                f"at most {wb.caps.max_references} reference images."
            )
        if problems:
            head = (
                problems[0] if len(problems) == 1 else f"{len(problems)} problems: " + " ".join(problems[:3])
            )
            self.message.emit("error" if not added else "warning", head)
