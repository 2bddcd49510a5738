"""Helpers more than one protocol module uses (protocol modules never import each other): the aspect
ratios and the moderation wording of the "market" APIs (Kie, RunAPI, FairStack), and the public reference
URLs a user may give instead of uploads."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .http import check_url

if TYPE_CHECKING:
    from ..core.request import EditRequest

# The aspect ratios the market APIs document (Kie §5.2, RunAPI §5.3).
ASPECT_RATIOS: dict[str, tuple[int, int]] = {
    "1:1": (1, 1),
    "4:3": (4, 3),
    "3:4": (3, 4),
    "16:9": (16, 9),
    "9:16": (9, 16),
    "3:2": (3, 2),
    "2:3": (2, 3),
}
MODERATION_RE = re.compile(
    r"moderat|content[ _-]?polic|safety (system|filter|checker)|nsfw|flagged|sensitive|inappropriate|"
    r"violat|prohibited",
    re.IGNORECASE,
)
OUTPUT_STAGE_RE = re.compile(r"output|generated image|result image|the result", re.IGNORECASE)


def nearest_aspect(width: int, height: int, ratios: Mapping[str, tuple[int, int]] = ASPECT_RATIOS) -> str:
    """The documented aspect ratio closest to W:H (compared on a log scale, so 2:1 and 1:2 are symmetric)."""
    target = math.log(width / height)
    return min(ratios, key=lambda k: abs(math.log(ratios[k][0] / ratios[k][1]) - target))


def moderation_stage(text: str) -> str:
    """ "output" when a refusal's wording is about the generated image, else "input"."""
    return "output" if OUTPUT_STAGE_RE.search(text) else "input"


def user_reference_urls(request: EditRequest, options: Mapping[str, Any]) -> list[str] | None:
    """Public https URLs the user supplied for the references (request extras win over profile options)."""
    raw = dict(request.extras).get("reference_urls")
    if raw is None:
        raw = options.get("reference_urls")
    if raw is None:
        return None
    if isinstance(raw, str):
        raw = [raw]
    urls = [str(u).strip() for u in raw if str(u).strip()]
    for url in urls:
        check_url(url, what="reference URL")
    return urls or None
