"""The sandbox's stand-in image lines up with image 1: no band drawn over its top edge."""

from __future__ import annotations

import io

from PIL import Image

from flexstudio.core.images import PreparedReference
from flexstudio.core.request import EditRequest
from flexstudio.providers.sandbox import render


def test_the_result_has_no_black_band_across_its_top():
    buf = io.BytesIO()
    Image.new("RGB", (1024, 512), (200, 200, 200)).save(buf, "PNG")
    ref = PreparedReference(buf.getvalue(), "image/png", 1024, 512, "0" * 64)
    out = render(EditRequest(prompt="x", seed=7, output_format="png"), [ref], 1024, 512)
    with Image.open(io.BytesIO(out)) as im:
        rgb = im.convert("RGB")
        # right of the caption, in the top rows: image 1's (graded) colour, not black
        top = [sum(rgb.getpixel((x, y))) for x in range(900, 1020, 10) for y in range(0, 18, 3)]
        below = sum(rgb.getpixel((1010, 60)))
    assert min(top) > 0.6 * below and below > 200
