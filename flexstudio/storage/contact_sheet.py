"""A contact sheet of a batch: one row per input, before | after, with a caption under each pair.

Pillow only (Qt-free). Each image is reduced with ``draft`` + ``thumbnail`` as it is pasted and then
dropped, so memory stays at one sheet plus one image whatever the batch size; a sheet has at most
``max_rows`` rows (the caption of the last says how many more there were).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from PIL.Image import Image

from .blobs import atomic_write


@dataclass(frozen=True, slots=True)
class Pair:
    before: Path
    after: Path | None  # None: no result (the caption says why)
    caption: str


def _thumb(path: Path | None, cell: int) -> Image | None:
    from PIL import Image as PILImage
    from PIL import ImageOps

    if path is None:
        return None
    try:
        with PILImage.open(path) as src:
            src.draft("RGB", (cell, cell))
            im = ImageOps.exif_transpose(src).convert("RGB")
            im.thumbnail((cell, cell))
            return im
    except (OSError, ValueError, PILImage.DecompressionBombError):
        return None


def render(pairs: Iterable[Pair], dest: Path, *, cell: int = 256, max_rows: int = 500) -> tuple[Path, int]:
    """Write the sheet (PNG or JPEG by ``dest``'s suffix). Returns (path, rows drawn)."""
    from io import BytesIO

    from PIL import Image, ImageDraw, ImageFont

    items = list(pairs)
    shown = items[:max_rows]
    pad, text_h = 12, 34
    width = pad * 3 + cell * 2
    row_h = cell + text_h + pad
    sheet = Image.new("RGB", (width, pad + row_h * max(1, len(shown))), (245, 245, 242))
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default()
    for n, pair in enumerate(shown):
        y = pad + n * row_h
        for col, path in enumerate((pair.before, pair.after)):
            x = pad + col * (cell + pad)
            draw.rectangle((x, y, x + cell - 1, y + cell - 1), fill=(225, 225, 222))
            im = _thumb(path, cell)
            if im is None:
                draw.text(
                    (x + 10, y + cell // 2 - 6),
                    "no result" if col else "unreadable",
                    fill=(120, 40, 40),
                    font=font,
                )
                continue
            sheet.paste(im, (x + (cell - im.width) // 2, y + (cell - im.height) // 2))
        caption = pair.caption
        if n == len(shown) - 1 and len(items) > len(shown):
            caption += f"  (+{len(items) - len(shown)} more not shown)"
        draw.text((pad, y + cell + 6), caption[:120], fill=(30, 30, 30), font=font)
    buf = BytesIO()
    fmt = "JPEG" if dest.suffix.lower() in (".jpg", ".jpeg") else "PNG"
    sheet.save(buf, fmt, **({"quality": 88} if fmt == "JPEG" else {}))
    atomic_write(dest, buf.getvalue())
    return dest, len(shown)


def batch_pairs(store: Any, history: Any, batch_id: str) -> list[Pair]:
    """Before/after pairs of a batch from its items (captions: input name, status, cost)."""
    from contextlib import suppress

    pairs = []
    for it in store.iter_items(batch_id):
        cost = ""
        if it.job_id:
            with suppress(KeyError):
                rec = history.get(it.job_id)
                usd = rec.billed_usd if rec.billed_usd is not None else rec.quote_usd
                cost = f" · ${usd:.4f}" if usd is not None else ""
        status = it.status if it.status != "bad_input" else "could not be used"
        pairs.append(
            Pair(
                Path(it.input),
                Path(it.output) if it.output else None,
                f"{Path(it.input).name} — {status}{cost}",
            )
        )
    return pairs
