"""Planning a batch: which files are its inputs, what each output is called, what each input is.

Pure file-system work, no network and no history: ``expand`` turns ``--input DIR|GLOB|FILE`` into an
ordered list of files (never the batch's own output folder), ``stems`` gives every input a distinct
output name (``<stem>.<ext>``; ``photo.png`` and ``photo.jpg`` become ``photo`` and ``photo-2``),
``probe`` reads one file's header (size, format, completeness) so the batch is priced before anything
is sent, and ``claim`` takes a free output name without ever replacing a file already there.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..core.errors import BadInput, ErrorKind
from ..core.request import EditRequest, ImageRef
from ..storage.batches import BAD_INPUT, NewItem

IMAGE_SUFFIXES = frozenset(
    {".jpg", ".jpeg", ".jpe", ".png", ".webp", ".tif", ".tiff", ".bmp", ".gif", ".avif", ".heic", ".heif"}
)
MAX_INPUT_FILE = 200 * 1024 * 1024  # the most FlexStudio reads from one file (as for -i)
_GLOB_CHARS = frozenset("*?[")


def _inside(path: Path, folder: Path | None) -> bool:
    if folder is None:
        return False
    try:
        path.resolve().relative_to(folder.resolve())
        return True
    except ValueError:
        return False


def expand(specs: Sequence[str], *, exclude: Path | None = None) -> list[Path]:
    """Files named by ``--input`` values, in order, each once. A folder gives its images (not its
    subfolders, not hidden files) sorted by name; a glob its matches, sorted. Files inside ``exclude``
    (the output folder) are never inputs, so a re-run does not edit its own results."""
    out: list[Path] = []
    seen: set[Path] = set()

    def add(p: Path) -> None:
        key = p.resolve()
        if key not in seen and not _inside(p, exclude):
            seen.add(key)
            out.append(p)

    for spec in specs:
        p = Path(spec).expanduser()
        if p.is_dir():
            found = sorted(
                (
                    c
                    for c in p.iterdir()
                    if c.is_file() and not c.name.startswith(".") and c.suffix.lower() in IMAGE_SUFFIXES
                ),
                key=lambda c: c.name.lower(),
            )
            if not found:
                raise BadInput(
                    f"--input {spec}: the folder holds no images ({', '.join(sorted(IMAGE_SUFFIXES))})."
                )
            for c in found:
                add(c)
        elif any(ch in spec for ch in _GLOB_CHARS):
            matches = sorted(
                (Path(m) for m in glob.glob(os.path.expanduser(spec))), key=lambda c: str(c).lower()
            )
            files = [m for m in matches if m.is_file()]
            if not files:
                raise BadInput(f"--input {spec}: no file matches.")
            for m in files:
                add(m)
        elif p.is_file():
            add(p)
        else:
            raise BadInput(f"--input {spec}: no such file or folder.")
    if not out:
        raise BadInput("The batch has no inputs (every file named is inside the output folder).")
    return out


def stems(paths: Iterable[Path]) -> list[str]:
    """One distinct output stem per input (case-insensitively distinct, for macOS and Windows)."""
    taken: set[str] = set()
    result: list[str] = []
    for p in paths:
        base = p.stem or "image"
        stem, n = base, 1
        while stem.lower() in taken:
            n += 1
            stem = f"{base}-{n}"
        taken.add(stem.lower())
        result.append(stem)
    return result


@dataclass(frozen=True, slots=True)
class Probe:
    sha256: str | None
    width: int | None
    height: int | None
    error: str | None = None  # one sentence: why this input cannot be used (nothing is sent for it)


def probe(path: Path, *, max_bytes: int = MAX_INPUT_FILE) -> Probe:
    """Header facts of one input (reads the file once, keeps nothing of it)."""
    from ..core import images

    try:
        size = path.stat().st_size
        if size > max_bytes:
            return Probe(
                None,
                None,
                None,
                f"{path.name}: the file is {size / 1048576:.1f} MB; the most "
                f"FlexStudio reads is {max_bytes / 1048576:g} MB.",
            )
        data = path.read_bytes()
    except OSError as exc:
        return Probe(None, None, None, f"{path.name}: cannot be read ({exc.strerror or exc}).")
    try:
        info = images.inspect(data, path.name)
    except BadInput as exc:
        return Probe(None, None, None, str(exc))
    return Probe(info.sha256, info.width, info.height)


def plan_items(
    template: EditRequest,
    paths: Sequence[Path],
    quote: Callable[[EditRequest], float | None],
    *,
    max_bytes: int = MAX_INPUT_FILE,
) -> list[NewItem]:
    """One item per input: its output stem, its header facts and its quote (the input as image 1, the
    template's references after it), or why it cannot be used."""
    items = []
    for path, stem in zip(paths, stems(paths), strict=True):
        p = probe(path, max_bytes=max_bytes)
        name = str(path.expanduser().resolve())
        if p.error or p.sha256 is None or p.width is None or p.height is None:
            items.append(
                NewItem(
                    name, stem, status=BAD_INPUT, error_kind=ErrorKind.BAD_INPUT.value, error_message=p.error
                )
            )
            continue
        ref = ImageRef(sha256=p.sha256, width=p.width, height=p.height, name=path.name)
        usd = quote(template.with_(references=(ref, *template.references)))
        items.append(NewItem(name, stem, p.sha256, p.width, p.height, usd))
    return items


def batch_key(request: EditRequest, inputs: Sequence[str], extras: Sequence[str], out_dir: Path) -> str:
    """What makes two commands "the same batch": the edit (seed as given, not as drawn), the provider, the
    inputs as named, the extra references by content, and the output folder."""
    doc = {
        "request": request.to_dict(),
        "inputs": [str(Path(i).expanduser().resolve()) for i in inputs],
        "extras": list(extras),
        "out": str(out_dir.expanduser().resolve()),
    }
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()[:32]


def claim(folder: Path, stem: str, ext: str) -> Path:
    """Create ``folder/<stem>.<ext>`` (or ``<stem>-2.<ext>``, …) empty and exclusively: a file that is
    already there, from any run or program, is never replaced."""
    folder.mkdir(parents=True, exist_ok=True)
    n = 1
    while True:
        name = f"{stem}.{ext}" if n == 1 else f"{stem}-{n}.{ext}"
        path = folder / name
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            n += 1
            continue
        os.close(fd)
        return path
