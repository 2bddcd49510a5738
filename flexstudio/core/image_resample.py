"""Downscaling a decoded image: one integer ``reduce`` pass, then convolution resampling in parallel bands.

This is ``Image.resize(size, method, box, reducing_gap)`` with two differences that matter for big
references: alpha is premultiplied once for the whole image (``resize`` would convert the whole source
again for every call), and the output is cut into horizontal bands resampled on several cores at once
(Pillow releases the GIL while it resamples). Each band reads its source rows from the whole image, so
the bands join without a seam; they match a single ``resize`` to within 2 levels of rounding.
"""

from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor

from PIL import Image

Box = tuple[float, float, float, float]

MIN_BAND_ROWS = 256  # below this many output rows per band, a thread costs more than it saves
MAX_BANDS = 4
_SUPPORT = {
    Image.Resampling.BOX: 0.5,
    Image.Resampling.BILINEAR: 1.0,
    Image.Resampling.HAMMING: 1.0,
    Image.Resampling.BICUBIC: 2.0,
    Image.Resampling.LANCZOS: 3.0,
}
_PREMULTIPLIED = {"RGBA": "RGBa", "LA": "La"}


def usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def _pre_reduce(
    im: Image.Image, size: tuple[int, int], box: Box, method: Image.Resampling, reducing_gap: float
) -> tuple[Image.Image, Box]:
    """Pillow's ``reducing_gap`` step: a fast box ``reduce`` by integer factors while the remaining ratio
    stays ≥ ``reducing_gap``, over the box plus the filter's reach."""
    fx = int((box[2] - box[0]) / size[0] / reducing_gap) or 1
    fy = int((box[3] - box[1]) / size[1] / reducing_gap) or 1
    if fx == 1 and fy == 1:
        return im, box
    reach = _SUPPORT.get(method, 3.0) - 0.5
    sx, sy = (box[2] - box[0]) / size[0] * reach, (box[3] - box[1]) / size[1] * reach
    rbox = (
        max(0, int(box[0] - sx)),
        max(0, int(box[1] - sy)),
        min(im.width, math.ceil(box[2] + sx)),
        min(im.height, math.ceil(box[3] + sy)),
    )
    reduced = im.reduce((fx, fy), box=rbox)
    return reduced, (
        (box[0] - rbox[0]) / fx,
        (box[1] - rbox[1]) / fy,
        (box[2] - rbox[0]) / fx,
        (box[3] - rbox[1]) / fy,
    )


def _banded(
    im: Image.Image, size: tuple[int, int], box: Box, method: Image.Resampling, bands: int
) -> Image.Image:
    width, height = size
    step = (box[3] - box[1]) / height
    rows = [round(k * height / bands) for k in range(bands + 1)]

    def band(k: int) -> Image.Image:
        top, bottom = rows[k], rows[k + 1]
        return im.resize(
            (width, bottom - top), method, (box[0], box[1] + top * step, box[2], box[1] + bottom * step)
        )

    with ThreadPoolExecutor(max_workers=bands - 1, thread_name_prefix="flexstudio-resample") as pool:
        later = [pool.submit(band, k) for k in range(1, bands)]
        parts = [band(0)] + [f.result() for f in later]
    out = Image.new(im.mode, size, None)  # every row is pasted over: no need to clear it first
    for top, part in zip(rows, parts, strict=False):
        out.paste(part, (0, top))
    return out


def resample(
    im: Image.Image,
    size: tuple[int, int],
    box: Box | None = None,
    method: Image.Resampling = Image.Resampling.LANCZOS,
    reducing_gap: float | None = None,
    *,
    bands: int | None = None,
) -> Image.Image:
    """``im``'s region ``box`` (float source coordinates; default all) resampled to exactly ``size``.
    ``bands`` None picks one band per usable CPU (at most 4, each ≥ 256 output rows)."""
    im.load()
    box = box or (0.0, 0.0, float(im.width), float(im.height))
    mode = im.mode
    if mode in _PREMULTIPLIED:
        im = im.convert(_PREMULTIPLIED[mode])
    if reducing_gap is not None:
        im, box = _pre_reduce(im, size, box, method, reducing_gap)
    if bands is None:
        bands = min(usable_cpus(), MAX_BANDS, size[1] // MIN_BAND_ROWS)
    out = _banded(im, size, box, method, bands) if bands >= 2 else im.resize(size, method, box)
    return out.convert(mode) if out.mode != mode else out
