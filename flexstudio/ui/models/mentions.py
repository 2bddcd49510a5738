"""Prompt mentions, Qt-free: "image N" references and ``#rrggbb`` colours.

``renumber`` keeps a prompt's "image N" mentions pointing at the same pictures when the reference tray
is reordered or a reference is removed; the highlighter uses the same patterns.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence

# "image 1", "Image 2", "image #3", "image3" (not "images 2", not "image 12a").
MENTION = re.compile(r"\b(image)(\s*#?\s*)(\d{1,2})\b", re.IGNORECASE)
HEX_COLOUR = re.compile(r"#(?:[0-9a-fA-F]{6}|[0-9a-fA-F]{3})\b")


def mentions(text: str) -> Iterator[tuple[int, int, int]]:
    """``(start, length, number)`` of every "image N" mention in ``text``."""
    for m in MENTION.finditer(text):
        yield m.start(), m.end() - m.start(), int(m.group(3))


def colours(text: str) -> Iterator[tuple[int, int, str]]:
    """``(start, length, "#rrggbb")`` of every hex colour in ``text`` (``#f60`` expands to ``#ff6600``)."""
    for m in HEX_COLOUR.finditer(text):
        raw = m.group(0)[1:]
        if len(raw) == 3:
            raw = "".join(c * 2 for c in raw)
        yield m.start(), m.end() - m.start(), "#" + raw.lower()


def remap(text: str, mapping: Mapping[int, int]) -> str:
    """Replace the number of each "image N" mention by ``mapping[N]`` (all at once; numbers not in the
    mapping are left alone). Only the digits change, so "Image #2" stays "Image #…"."""
    if not mapping:
        return text

    def sub(m: re.Match[str]) -> str:
        n = int(m.group(3))
        return f"{m.group(1)}{m.group(2)}{mapping.get(n, n)}"

    return MENTION.sub(sub, text)


def renumber(text: str, order: Sequence[int]) -> str:
    """The prompt after the references were reordered so that new position ``i`` holds the reference
    that was at old position ``order[i]`` (0-based). "image N" mentions follow their pictures."""
    if sorted(order) != list(range(len(order))):
        raise ValueError(f"order must be a permutation of 0..{len(order) - 1}: {list(order)}")
    mapping = {old + 1: new + 1 for new, old in enumerate(order) if old != new}
    return remap(text, mapping)


def move_order(count: int, src: int, dst: int) -> list[int]:
    """The ``order`` (for ``renumber``) of moving item ``src`` to position ``dst`` in a list of ``count``."""
    order = list(range(count))
    item = order.pop(src)
    order.insert(max(0, min(dst, count - 1)), item)
    return order


REMOVED = "[removed image]"  # what a mention of a removed picture becomes: it points at nothing


def after_removal(text: str, removed: int, count: int) -> str:
    """The prompt after reference ``removed`` (0-based) of ``count`` was taken out: later mentions move
    down by one, and a mention of the removed picture itself becomes ``REMOVED`` — left as written it
    would silently point at the next picture."""
    gone = removed + 1

    def sub(m: re.Match[str]) -> str:
        n = int(m.group(3))
        if n == gone:
            return REMOVED
        return f"{m.group(1)}{m.group(2)}{n - 1 if gone < n <= count else n}"

    return MENTION.sub(sub, text)


def removed_mentions(text: str) -> int:
    """How many mentions point at a removed picture."""
    return text.count(REMOVED)
