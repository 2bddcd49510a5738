"""A contact sheet of a batch: a header with the recipe, "Before" / "After" column heads, and a grid of
before | after pairs with a caption under each, on as many pages as it takes.

Pillow only (Qt-free). Each image is reduced with ``draft`` + ``thumbnail`` as it is pasted and then
dropped, so memory stays at one page plus one image whatever the batch size. A page holds at most
``rows_per_page`` rows (a JPEG cannot be taller than 65 535 px, and a client opens a page, not a scroll);
the first page is ``dest``, the next ones ``<stem>-2<suffix>``, ``<stem>-3<suffix>``…
Text is drawn in a TrueType font that has every glyph we use (DejaVu Sans or Arial where installed,
else Pillow's own font, with the few characters it lacks spelt in ASCII).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from PIL.Image import Image
    from PIL.ImageFont import FreeTypeFont

from .blobs import atomic_write

PAD = 16
BG = (245, 245, 242)
EMPTY = (225, 225, 222)
INK = (30, 30, 30)
MUTED = (95, 95, 95)
FONT_FILES = ("DejaVuSans.ttf", "Arial.ttf", "arial.ttf", "Helvetica.ttc", "LiberationSans-Regular.ttf")
ASCII_FOR = {"—": "-", "–": "-", "×": "x", "…": "...", "“": '"', "”": '"', "’": "'", "≈": "~"}


@dataclass(frozen=True, slots=True)
class Pair:
    before: Path
    after: Path | None  # None: no result (the caption says why)
    caption: str


@dataclass(frozen=True, slots=True)
class Sheet:
    pages: tuple[Path, ...]  # the first is the path asked for
    pairs: int  # pairs drawn

    @property
    def path(self) -> Path:
        return self.pages[0]


def _font(size: int) -> FreeTypeFont:
    from PIL import ImageFont

    for name in FONT_FILES:
        try:
            return ImageFont.truetype(name, size)
        except OSError:
            continue
    return ImageFont.load_default(size=size)  # type: ignore[return-value]


class _Text:
    """Text in one font: characters the font has no glyph for are spelt in ASCII (never a tofu box)."""

    def __init__(self, size: int) -> None:
        self.font = _font(size)
        self.size = size
        self._missing = self.glyph("\U0010fffd")
        self._has: dict[str, bool] = {}

    def glyph(self, ch: str) -> bytes:
        """The pixels ``ch`` is drawn with (a character the font lacks is drawn as the missing glyph)."""
        from PIL import Image, ImageDraw

        im = Image.new("L", (self.size * 2, self.size * 2))
        ImageDraw.Draw(im).text((0, 0), ch, fill=255, font=self.font)
        return im.tobytes()

    def safe(self, text: str) -> str:
        out = []
        for ch in text:
            if ch.isascii():
                out.append(ch)
                continue
            ok = self._has.get(ch)
            if ok is None:
                ok = self._has[ch] = self.glyph(ch) != self._missing
            out.append(ch if ok else ASCII_FOR.get(ch, "?"))
        return "".join(out)

    def fit(self, text: str, width: int) -> str:
        """``text`` cut with an ellipsis to ``width`` pixels."""
        text = self.safe(text)
        if self.font.getlength(text) <= width:
            return text
        dots = self.safe("…")
        lo, hi = 0, len(text)
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if self.font.getlength(text[:mid] + dots) <= width:
                lo = mid
            else:
                hi = mid - 1
        return text[:lo].rstrip() + dots

    def wrap(self, text: str, width: int, lines: int) -> list[str]:
        """At most ``lines`` lines of ``width`` pixels, the last cut with an ellipsis."""
        words, out, cur = self.safe(" ".join(text.split())).split(" "), [], ""
        for i, w in enumerate(words):
            trial = f"{cur} {w}".strip()
            if self.font.getlength(trial) <= width or not cur:
                cur = trial
                continue
            out.append(cur)
            cur = w
            if len(out) == lines - 1:
                cur = " ".join([cur, *words[i + 1 :]])
                break
        if cur:
            out.append(self.fit(cur, width))
        return out[:lines]


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


def _page_path(dest: Path, n: int) -> Path:
    return dest if n == 0 else dest.with_name(f"{dest.stem}-{n + 1}{dest.suffix}")


def render(
    pairs: Iterable[Pair],
    dest: Path,
    *,
    header: Sequence[str] = (),
    cell: int = 384,
    per_row: int | None = None,
    rows_per_page: int = 12,
) -> Sheet:
    """Write the sheet (PNG or JPEG by ``dest``'s suffix) with the permissions any new file of the user
    gets. ``header``: the lines above the grid (the first drawn larger). A page is 1 pair wide for up to
    4 pairs, else 2 (``per_row`` overrides)."""
    from io import BytesIO

    from PIL import Image, ImageDraw

    items = list(pairs)
    across = per_row or (1 if len(items) <= 4 else 2)
    cap, head, title = _Text(max(12, cell // 24)), _Text(max(13, cell // 22)), _Text(max(16, cell // 16))
    cap_h = cap.size * 2 + 12
    col_head_h = head.size + 14
    pair_w = cell * 2 + PAD
    width = PAD + across * (pair_w + PAD * 2) - PAD
    text_w = width - 2 * PAD
    head_lines = [title.wrap(header[0], text_w, 2)] if header else []
    head_lines += [head.wrap(line, text_w, 2) for line in header[1:]]
    header_h = sum(len(ls) for ls in head_lines) * (head.size + 8) + (
        title.size - head.size + PAD if header else 0
    )
    row_h = cell + cap_h + PAD
    rows = max(1, -(-len(items) // across))
    pages: list[Path] = []
    fmt = "JPEG" if dest.suffix.lower() in (".jpg", ".jpeg") else "PNG"
    for page in range(-(-rows // rows_per_page)):
        page_rows = min(rows_per_page, rows - page * rows_per_page)
        top = PAD + header_h + col_head_h
        sheet = Image.new("RGB", (width, top + page_rows * row_h), BG)
        draw = ImageDraw.Draw(sheet)
        y = PAD
        for i, lines in enumerate(head_lines):
            t = title if i == 0 else head
            for line in lines:
                draw.text((PAD, y), line, fill=INK if i == 0 else MUTED, font=t.font)
                y += t.size + 8
        if page:
            draw.text((width - PAD - 120, PAD), f"page {page + 1}", fill=MUTED, font=head.font)
        for a in range(across):
            x0 = PAD + a * (pair_w + PAD * 2)
            for col, word in enumerate(("Before", "After")):
                draw.text((x0 + col * (cell + PAD), top - col_head_h + 2), word, fill=INK, font=head.font)
        for r in range(page_rows):
            for a in range(across):
                n = (page * rows_per_page + r) * across + a
                if n >= len(items):
                    break
                _draw_pair(sheet, draw, items[n], PAD + a * (pair_w + PAD * 2), top + r * row_h, cell, cap)
        buf = BytesIO()
        sheet.save(buf, fmt, **({"quality": 90} if fmt == "JPEG" else {}))
        del sheet, draw
        path = _page_path(dest, page)
        atomic_write(path, buf.getvalue(), public=True)
        pages.append(path)
    return Sheet(tuple(pages), len(items))


def _draw_pair(sheet: Image, draw: Any, pair: Pair, x0: int, y: int, cell: int, cap: _Text) -> None:
    for col, path in enumerate((pair.before, pair.after)):
        x = x0 + col * (cell + PAD)
        draw.rectangle((x, y, x + cell - 1, y + cell - 1), fill=EMPTY)
        im = _thumb(path, cell)
        if im is None:
            word = "no result" if col else "unreadable"
            draw.text((x + 12, y + cell // 2 - cap.size // 2), word, fill=(120, 40, 40), font=cap.font)
            continue
        sheet.paste(im, (x + (cell - im.width) // 2, y + (cell - im.height) // 2))
    for i, line in enumerate(cap.wrap(pair.caption, cell * 2 + PAD, 2)):
        draw.text((x0, y + cell + 6 + i * (cap.size + 4)), line, fill=INK, font=cap.font)


def _money(usd: float) -> str:
    return f"${usd:.2f}" if usd >= 0.1 or round(usd, 2) == usd else f"${usd:.4f}".rstrip("0")


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
                cost = f" · {_money(usd)}" if usd is not None else ""
        status = it.status if it.status != "bad_input" else "could not be used"
        pairs.append(
            Pair(
                Path(it.input),
                Path(it.output) if it.output else None,
                f"{Path(it.input).name} — {status}{cost}",
            )
        )
    return pairs


def batch_header(
    batch: Any, pairs: Sequence[Pair], *, provider_label: str, spent_usd: float | None
) -> list[str]:
    """The lines above a batch's grid: its prompt, the recipe, what came of it."""
    req = batch.request
    size = f"{req.size[0]}×{req.size[1]}" if req.size else "size: each input's"
    recipe = [provider_label, f"{req.steps} steps", f"guidance {req.guidance:g}"]
    recipe += [f"seed {req.seed}" if req.seed is not None else "random seeds", size]
    done = sum(1 for p in pairs if p.after is not None)
    when = time.strftime("%d %b %Y %H:%M", time.localtime(batch.created_at))
    outcome = f"{done} of {len(pairs)} inputs edited"
    if spent_usd is not None:
        outcome += f" · {_money(spent_usd)} spent"
    if batch.extras:
        outcome += f" · {len(batch.extras)} extra reference{'s' if len(batch.extras) != 1 else ''}"
    return [f"“{req.prompt}”", " · ".join(recipe), f"{outcome} · batch {batch.id} · {when}"]
