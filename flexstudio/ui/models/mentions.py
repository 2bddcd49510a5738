"""Prompt mentions, Qt-free: "image N" references and ``#rrggbb`` colours.

``renumber`` keeps a prompt's "image N" mentions pointing at the same pictures when the reference tray
is reordered or a reference is removed; the highlighter uses the same patterns.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence

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


Span = tuple[int, int]  # where, in the prompt, a mention of a removed picture stands: (start, end)


def rewrite(
    text: str, number_for: Callable[[int], int | None], gone: Sequence[Span] = ()
) -> tuple[str, tuple[Span, ...]]:
    """Give each "image N" mention the number ``number_for(N)``; ``None`` means its picture was removed:
    the mention is left as the user wrote it and its span is returned with ``gone`` (moved with the text;
    a mention in ``gone`` keeps its words and its number). Only the digits change."""
    keep = set(gone)
    out: list[str] = []
    spans: list[Span] = []
    size = last = 0
    for m in MENTION.finditer(text):
        out.append(text[last : m.start()])
        size += m.start() - last
        n = int(m.group(3))
        new = None if (m.start(), m.end()) in keep else number_for(n)
        word = m.group(0) if new is None else f"{m.group(1)}{m.group(2)}{new}"
        if new is None:
            spans.append((size, size + len(word)))
        out.append(word)
        size += len(word)
        last = m.end()
    out.append(text[last:])
    return "".join(out), tuple(spans)


def after_removal(
    text: str, removed: int, count: int, gone: Sequence[Span] = ()
) -> tuple[str, tuple[Span, ...]]:
    """The prompt after reference ``removed`` (0-based) of ``count`` was taken out: later mentions move
    down by one; a mention of the removed picture keeps the user's words and is returned as a span to
    flag (left unflagged it would silently point at the next picture)."""
    gone_n = removed + 1
    return rewrite(text, lambda n: None if n == gone_n else (n - 1 if gone_n < n <= count else n), gone)


def reordered(text: str, order: Sequence[int], gone: Sequence[Span] = ()) -> tuple[str, tuple[Span, ...]]:
    """``renumber`` that leaves the flagged mentions in ``gone`` as they are (and says where they went)."""
    if sorted(order) != list(range(len(order))):
        raise ValueError(f"order must be a permutation of 0..{len(order) - 1}: {list(order)}")
    mapping = {old + 1: new + 1 for new, old in enumerate(order)}
    return rewrite(text, lambda n: mapping.get(n, n), gone)


def gone_sentence(text: str, gone: Sequence[Span]) -> str:
    """Why a prompt naming removed pictures is held: "image 2 was removed, but the prompt still names it…"."""
    names = sorted({text[a:b] for a, b in gone})
    one = len(names) == 1
    return (
        f"{' and '.join(names)} {'was' if one else 'were'} removed, but the prompt still names "
        f"{'it' if one else 'them'} (marked in red): change the mention, or Ctrl+Z brings the image back."
    )


def follow_edit(old: str, new: str, gone: Sequence[Span]) -> tuple[Span, ...]:
    """The spans of ``gone`` after the user changed ``old`` into ``new``: moved with the text around the
    edit; a mention the edit touched is dropped (the user has dealt with it)."""
    if not gone:
        return ()
    short = min(len(old), len(new))
    head = 0
    while head < short and old[head] == new[head]:
        head += 1
    tail = 0
    while tail < short - head and old[-1 - tail] == new[-1 - tail]:
        tail += 1
    delta = len(new) - len(old)
    kept: list[Span] = []
    for a, b in gone:
        if b <= head:
            span = (a, b)
        elif a >= len(old) - tail:
            span = (a + delta, b + delta)
        else:
            continue
        m = MENTION.match(new, span[0])
        if m is not None and m.end() == span[1]:
            kept.append(span)
    return tuple(kept)
