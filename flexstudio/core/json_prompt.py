"""FLUX.2's JSON structured prompt, checked as it is typed.

FLUX.2 reads a prompt that is a JSON object (scene, subjects, style, color_palette, lighting, mood,
background, composition, camera — BFL's "JSON structured prompting" guide) as well as plain text; either
way the provider receives one prompt string. ``check`` says whether the text is such an object and, when
it is not, where and why in one sentence ("line 3, column 3: expected ',' — missing at the end of line
2?"); keys outside BFL's schema are hints (sent as written, never refused). ``compact`` is the string that is sent:
the same object without the indentation (shorter for providers that cap a prompt's length);
``pretty`` shows a compact one again for editing.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

# BFL's base schema, and the keys its examples use inside a subject and the camera.
TOP_KEYS = (
    "scene",
    "subjects",
    "style",
    "color_palette",
    "lighting",
    "mood",
    "background",
    "composition",
    "camera",
)
SUBJECT_KEYS = ("description", "position", "action", "pose", "color_palette")
CAMERA_KEYS = ("angle", "lens", "depth_of_field")

TEMPLATE = """{
  "scene": "overall scene, e.g. the room from image 1 at golden hour",
  "subjects": [
    {
      "description": "the cat from image 2",
      "position": "centre foreground, on the sofa",
      "action": "asleep"
    }
  ],
  "style": "photorealistic, soft film grain",
  "color_palette": ["#1f3a5f", "#f2a65a", "#fefae0"],
  "lighting": "warm window light from the left",
  "mood": "calm",
  "background": "bookshelves, slightly out of focus",
  "composition": "rule of thirds",
  "camera": {
    "angle": "eye level",
    "lens": "50 mm",
    "depth_of_field": "shallow"
  }
}
"""

# json's messages, said for a designer.
_WORDS = {
    "Expecting ',' delimiter": "expected ',' between two items",
    "Expecting ':' delimiter": "expected ':' after the key",
    "Expecting property name enclosed in double quotes": 'expected a key in double quotes ("key": …), '
    "or a stray ',' before '}'",
    "Expecting value": "expected a value (text in double quotes, a number, a list [ ] or an object { })",
    "Unterminated string starting at": "this text has no closing '\"'",
    "Invalid control character at": "a line break or tab inside text must be written \\n or \\t",
    "Invalid \\escape": "unknown escape after '\\' (write \\\\ for a backslash)",
    "Extra data": "more after the closing '}' — the prompt must be one object",
}

_KEY = re.compile(r'"((?:[^"\\]|\\.)*)"\s*:')


@dataclass(frozen=True)
class Check:
    """The verdict on a JSON prompt: ``error`` blocks Run (one sentence, with the line when known);
    ``hints`` never do."""

    error: str = ""
    line: int = 0  # 1-based line and column of the error, 0 when it has none
    column: int = 0
    hints: tuple[str, ...] = field(default_factory=tuple)

    @property
    def ok(self) -> bool:
        return not self.error

    def summary(self) -> str:
        """The sentence the prompt area shows."""
        if self.error:
            return self.error
        if self.hints:
            return "Valid JSON prompt. " + " ".join(self.hints)
        return "Valid JSON prompt."


def _parse_error(text: str, exc: json.JSONDecodeError) -> Check:
    msg = exc.msg
    words = next((w for k, w in _WORDS.items() if msg.startswith(k)), msg[:1].lower() + msg[1:])
    line, col = exc.lineno, exc.colno
    if msg.startswith("Invalid control character") and text[exc.pos : exc.pos + 1] == "\n":
        words = "this text has no closing '\"' before the line ends (a line break inside text is written \\n)"
    if msg.startswith("Expecting ','"):
        # json points at the next item; the missing comma usually belongs at the end of the line before.
        before = text[: exc.pos]
        line_start = before.rfind("\n") + 1
        if not before[line_start:].strip() and line > 1:
            words = f"expected ',' — missing at the end of line {line - 1}?"
    end = "" if words.endswith("?") else "."
    return Check(error=f"line {line}, column {col}: {words}{end}", line=line, column=col)


def _line_of_key(text: str, key: str) -> int:
    for m in _KEY.finditer(text):
        if m.group(1) == key:
            return text.count("\n", 0, m.start()) + 1
    return 0


def _unknown(text: str, keys: Any, known: tuple[str, ...], where: str) -> list[str]:
    hints = []
    for key in keys:
        if not isinstance(key, str) or key in known:
            continue
        line = _line_of_key(text, key)
        at = f"line {line}: " if line else ""
        import difflib  # only for a key that is not known

        close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
        if close:
            hints.append(f"{at}“{key}” is not a FLUX.2 key{where} — did you mean “{close[0]}”?")
        else:
            hints.append(f"{at}“{key}” is not in FLUX.2's schema{where}; it is sent as written.")
    return hints


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for k, v in pairs:
        if k in seen:
            raise _Duplicate(k)
        seen[k] = v
    return seen


class _Duplicate(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def check(text: str) -> Check:
    """Is ``text`` a JSON object FLUX.2 can read as a structured prompt? See :class:`Check`."""
    if not text.strip():
        return Check(
            error="The JSON prompt is empty: start from the template (Insert template) or type "
            "an object in { }."
        )
    try:
        value = json.loads(text, object_pairs_hook=_no_duplicates)
    except json.JSONDecodeError as exc:
        return _parse_error(text, exc)
    except _Duplicate as dup:
        line = _line_of_key(text, dup.key)
        at = f"line {line}: " if line else ""
        return Check(error=f"{at}the key “{dup.key}” appears twice in one object; keep one.", line=line)
    except RecursionError:
        return Check(error="The JSON prompt is nested too deeply.")
    if not isinstance(value, dict):
        return Check(
            error="A JSON prompt is one object in { } with keys such as scene, subjects, style; "
            f"this is {_kind(value)}.",
            line=1,
            column=1,
        )
    if not value:
        return Check(error="The JSON prompt is an empty object: add a key such as “scene”.", line=1, column=1)
    hints = _unknown(text, value, TOP_KEYS, "")
    subjects = value.get("subjects")
    if subjects is not None and not isinstance(subjects, list):
        hints.append("“subjects” is usually a list [ … ] of objects.")
    for subject in subjects if isinstance(subjects, list) else ():
        if isinstance(subject, dict):
            hints += _unknown(text, subject, SUBJECT_KEYS, " for a subject")
    camera = value.get("camera")
    if isinstance(camera, dict):
        hints += _unknown(text, camera, CAMERA_KEYS, " for the camera")
    palette = value.get("color_palette")
    if palette is not None and not isinstance(palette, list):
        hints.append('“color_palette” is usually a list of colours, e.g. ["#1f3a5f", "#f2a65a"].')
    return Check(hints=tuple(dict.fromkeys(hints)))


def _kind(value: Any) -> str:
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "a piece of text"
    if value is None or isinstance(value, bool):
        return f"the value {json.dumps(value)}"
    return "a number"


def is_json_prompt(text: str) -> bool:
    """Whether ``text`` is a JSON object (a prompt restored from history comes back in JSON mode)."""
    stripped = text.strip()
    if not (stripped.startswith("{") and stripped.endswith("}")):
        return False
    try:
        return isinstance(json.loads(stripped), dict)
    except (ValueError, RecursionError):
        return False


def compact(text: str) -> str:
    """The string sent to the provider: the object without indentation (key order, text and non-ASCII
    characters as typed). ``text`` unchanged when it is not valid JSON."""
    try:
        return json.dumps(json.loads(text), ensure_ascii=False, separators=(",", ":"))
    except (ValueError, RecursionError):
        return text


def pretty(text: str) -> str:
    """``text`` indented for editing (a compact prompt from history); unchanged when not valid JSON."""
    try:
        return json.dumps(json.loads(text), ensure_ascii=False, indent=2) + "\n"
    except (ValueError, RecursionError):
        return text


def from_plain(text: str) -> str:
    """A JSON prompt to start from when switching a plain prompt to JSON: the template, with the plain
    prompt as its scene (nothing typed is lost)."""
    plain = text.strip()
    if not plain:
        return TEMPLATE
    if is_json_prompt(plain):
        return pretty(plain)
    return json.dumps({"scene": plain}, ensure_ascii=False, indent=2) + "\n"


def to_plain(text: str) -> str:
    """Back to plain text: a JSON prompt that holds only a scene becomes that scene; anything else stays
    as typed (FLUX.2 reads JSON in a plain prompt too)."""
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return text
    if isinstance(value, dict) and list(value) == ["scene"] and isinstance(value["scene"], str):
        return str(value["scene"])
    return text
