"""Everything the command line prints goes through here. Text from outside — a provider's error, a
prompt, a file name — may carry terminal escape sequences (set the title, clear the screen, hide text)
or bidirectional overrides; ``clean`` makes each such character visible and harmless (``\\x1b`` →
``\\x1b`` written out as four characters), so what reaches the terminal is only ever text."""

from __future__ import annotations

import json
import sys
import unicodedata
from typing import Any, TextIO

# Bidirectional controls (the "Trojan source" characters) and other invisible formatting.
_BIDI = {0x061C, 0x200E, 0x200F, 0x202A, 0x202B, 0x202C, 0x202D, 0x202E, 0x2066, 0x2067, 0x2068, 0x2069}


def _unsafe(ch: str) -> bool:
    o = ord(ch)
    if o < 0x20 or 0x7F <= o <= 0x9F:
        return True
    return o in _BIDI or o in (0x2028, 0x2029) or unicodedata.category(ch) == "Cs"


def clean(text: Any, *, keep_newlines: bool = False) -> str:
    """``text`` with every control character written out as an escape (``\\n`` kept when asked)."""
    s = str(text)
    if not any(_unsafe(ch) for ch in s):
        return s
    out = []
    for ch in s:
        if keep_newlines and ch == "\n":
            out.append(ch)
        elif ch == "\t":
            out.append("    ")
        elif _unsafe(ch):
            o = ord(ch)
            out.append(f"\\x{o:02x}" if o <= 0xFF else f"\\u{o:04x}")
        else:
            out.append(ch)
    return "".join(out)


def _json_safe(text: str) -> str:
    """JSON text whose strings escape C1 controls, DEL and bidi overrides too (``json`` escapes only
    C0); the values parse back unchanged."""
    if not any(_unsafe(ch) for ch in text):
        return text
    return "".join(f"\\u{ord(ch):04x}" if _unsafe(ch) and ord(ch) >= 0x20 else ch for ch in text)


def emit(text: Any = "", *, stream: TextIO | None = None, keep_newlines: bool = True) -> None:
    """Print one piece of text (lines kept, every other control character neutralised)."""
    out = stream or sys.stdout
    out.write(clean(text, keep_newlines=keep_newlines) + "\n")
    out.flush()


def emit_json(obj: Any, *, indent: int | None = None) -> None:
    """One JSON document on stdout."""
    text = json.dumps(obj, ensure_ascii=False, indent=indent)
    sys.stdout.write(_json_safe(text) + "\n")
    sys.stdout.flush()


def error(text: Any) -> None:
    """One sentence on stderr, prefixed ``flexstudio:``."""
    emit(f"flexstudio: {clean(text)}", stream=sys.stderr, keep_newlines=False)


def note(text: Any) -> None:
    """A side remark on stderr (progress, notes) that never mixes with stdout's JSON."""
    emit(text, stream=sys.stderr, keep_newlines=False)
