"""Size rules shared by every provider: multiples of 16, ≥ 64 per side, ≤ 4 MP (1 MP = 1024×1024)."""

from __future__ import annotations

import math

from .errors import BadInput

MEGAPIXEL = 1_048_576  # 1024 × 1024: the unit providers bill in
MULTIPLE = 16
MIN_SIDE = 64
MAX_PIXELS = 4 * MEGAPIXEL
DEFAULT_SIZE = (1024, 1024)


def snap(value: float, multiple: int = MULTIPLE) -> int:
    """Nearest multiple of ``multiple`` (at least one multiple)."""
    return max(multiple, round(value / multiple) * multiple)


def megapixels(width: int, height: int) -> float:
    return width * height / MEGAPIXEL


def billed_megapixels(width: int, height: int) -> int:
    """Megapixels rounded up per image, with a 1 MP minimum (fal, Replicate, Lumenfall rule)."""
    return max(1, math.ceil(width * height / MEGAPIXEL))


def validate_size(width: int, height: int, *, max_pixels: int = MAX_PIXELS) -> None:
    """Raise ``BadInput`` with one clear sentence if W×H is not a size a provider accepts."""
    if width % MULTIPLE or height % MULTIPLE:
        raise BadInput(
            f"Size {width}×{height} is not a multiple of {MULTIPLE} on both sides "
            f"(try {snap(width)}×{snap(height)})."
        )
    if width < MIN_SIDE or height < MIN_SIDE:
        raise BadInput(f"Size {width}×{height} is too small: each side must be at least {MIN_SIDE}.")
    if width * height > max_pixels:
        raise BadInput(
            f"Size {width}×{height} is {megapixels(width, height):.2f} MP; "
            f"the most is {max_pixels / MEGAPIXEL:g} MP."
        )


def fit_within(width: int, height: int, max_pixels: int = MAX_PIXELS) -> tuple[int, int]:
    """The size an image of W×H is sent at: scaled down (never up, except to the 64 px minimum) to fit
    ``max_pixels``, keeping the aspect ratio, each side a multiple of 16."""
    if width <= 0 or height <= 0:
        raise BadInput("The image has no pixels.")
    scale = min(1.0, math.sqrt(max_pixels / (width * height)))
    w = max(MIN_SIDE, int(width * scale) // MULTIPLE * MULTIPLE)
    h = max(MIN_SIDE, int(height * scale) // MULTIPLE * MULTIPLE)
    while w * h > max_pixels:  # the 64 px floor on a very thin image can overshoot
        if w >= h:
            w -= MULTIPLE
        else:
            h -= MULTIPLE
    return w, h


def fit_sides(width: int, height: int, lo: int, hi: int) -> tuple[int, int] | None:
    """The size sent to a provider that takes only ``lo``–``hi`` px per side (Replicate's custom size):
    W×H scaled into that range keeping the aspect ratio, each side a multiple of 16; unchanged when it
    already fits. None when the aspect ratio cannot fit (longer side / shorter side > hi / lo). Pricing
    uses it too, so a quote is made at the size actually sent."""
    if lo <= width <= hi and lo <= height <= hi and not width % MULTIPLE and not height % MULTIPLE:
        return width, height
    long_side, short_side = max(width, height), min(width, height)
    if long_side * lo > short_side * hi:
        return None
    scale = 1.0
    if long_side > hi:
        scale = hi / long_side
    if short_side * scale < lo:
        scale = lo / short_side

    def side(v: int) -> int:
        return int(min(hi, max(lo, round(v * scale / MULTIPLE) * MULTIPLE)))

    return side(width), side(height)


def parse_size(text: str) -> tuple[int, int] | None:
    """``"auto"`` → None; ``"1024x768"`` (or ×, X, *) → (1024, 768). Raises ``BadInput`` otherwise."""
    t = text.strip().lower()
    if t in ("auto", ""):
        return None
    for sep in ("x", "×", "*", ":"):
        if sep in t:
            a, _, b = t.partition(sep)
            try:
                w, h = int(a.strip()), int(b.strip())
            except ValueError:
                break
            validate_size(w, h)
            return w, h
    raise BadInput(f"Size {text!r} is not 'auto' or WIDTHxHEIGHT (for example 1024x1024).")


def format_size(size: tuple[int, int] | None) -> str:
    return "auto" if size is None else f"{size[0]}x{size[1]}"


# Aspect presets offered by the window (about 1 MP each, multiples of 16).
ASPECT_PRESETS: dict[str, tuple[int, int]] = {
    "1:1": (1024, 1024),
    "4:3": (1184, 880),
    "3:4": (880, 1184),
    "3:2": (1248, 832),
    "2:3": (832, 1248),
    "16:9": (1360, 768),
    "9:16": (768, 1360),
    "21:9": (1568, 672),
}


def aspect_size(ratio_w: int, ratio_h: int, target_mp: float) -> tuple[int, int]:
    """W×H with the given aspect ratio at about ``target_mp`` megapixels, snapped to 16, ≤ 4 MP."""
    px = min(target_mp * MEGAPIXEL, MAX_PIXELS)
    h = math.sqrt(px * ratio_h / ratio_w)
    w = h * ratio_w / ratio_h
    w, h = snap(w), snap(h)
    while w * h > MAX_PIXELS:
        w, h = w - MULTIPLE, h - MULTIPLE
    return max(MIN_SIDE, w), max(MIN_SIDE, h)
