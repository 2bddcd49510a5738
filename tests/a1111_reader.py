"""How AUTOMATIC1111's web UI reads an image's settings ("PNG Info"), restated for tests from its source:
``modules/images.py`` ``read_info_from_image`` (PNG ``parameters`` text, else the EXIF UserComment
through ``piexif.load`` and ``piexif.helper.UserComment.load``, falling back to a UTF-8 decode) and
``modules/infotext_utils.py`` ``parse_generation_parameters`` (lines stripped; the last line is the
settings when its ``re_param`` matches at least three pairs; a line starting ``Negative prompt:`` begins
the negative prompt, every later line belongs to it; quoted values are JSON-unquoted)."""

from __future__ import annotations

import json
import re
from typing import Any

import piexif
import piexif.helper
from PIL import Image

# A1111's re_param: a key, a colon, then a JSON-quoted value or everything up to the next comma.
RE_PARAM = re.compile(r'\s*(\w[\w \-/]+):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)')


def read_info_from_image(image: Image.Image) -> str | None:
    items = dict(image.info or {})
    geninfo = items.pop("parameters", None)
    if "exif" in items:
        try:
            exif = piexif.load(items["exif"])
        except OSError:
            exif = None
        comment = (exif or {}).get("Exif", {}).get(piexif.ExifIFD.UserComment, b"")
        try:
            comment = piexif.helper.UserComment.load(comment)  # a tuple here (type BYTE) raises TypeError
        except ValueError:
            comment = comment.decode("utf8", errors="ignore")
        if comment:
            geninfo = comment
    return geninfo


def parse_generation_parameters(text: str) -> dict[str, Any]:
    res: dict[str, Any] = {}
    prompt, negative, done_with_prompt = "", "", False
    *lines, lastline = text.strip().split("\n")
    if len(RE_PARAM.findall(lastline)) < 3:
        lines.append(lastline)
        lastline = ""
    for line in lines:
        line = line.strip()
        if line.startswith("Negative prompt:"):
            done_with_prompt = True
            line = line[16:].strip()
        if done_with_prompt:
            negative += ("" if negative == "" else "\n") + line
        else:
            prompt += ("" if prompt == "" else "\n") + line
    res["Prompt"], res["Negative prompt"] = prompt, negative
    for k, v in RE_PARAM.findall(lastline):
        if v and v[0] == '"' and v[-1] == '"':
            v = json.loads(v)
        res[k] = v
    return res
