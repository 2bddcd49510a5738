"""FLUX.2's JSON structured prompt: the checker's sentences, hints, and the string that is sent (no Qt)."""

from __future__ import annotations

import json

import pytest

from flexstudio.core import json_prompt as jp


@pytest.mark.parametrize(
    ("text", "error"),
    [
        (
            '{\n  "scene": "a"\n  "style": "b"\n}',
            "line 3, column 3: expected ',' — missing at the end of line 2?",
        ),
        ('{"scene": "a",}', "line 1, column 15: expected a key in double quotes"),
        (
            '{\n  "scene": "a red car\n}',
            "line 2, column 22: this text has no closing '\"' before the line ends",
        ),
        ('{"scene" "a"}', "line 1, column 10: expected ':' after the key."),
        ('{"scene": "a\tb"}', "line 1, column 13: a line break or tab inside text must be written"),
        ('{"scene": }', "line 1, column 11: expected a value"),
        ('{"scene": "x"} and more', "line 1, column 16: more after the closing '}'"),
        ('{scene: "x"}', "line 1, column 2: expected a key in double quotes"),
        ('["a cat"]', "one object in { }"),
        ('"a cat"', "this is a piece of text"),
        ("{}", "an empty object"),
        ("   ", "The JSON prompt is empty"),
        ('{"scene": "a",\n "scene": "b"}', "line 1: the key “scene” appears twice"),
    ],
)
def test_errors_say_where_and_what(text: str, error: str) -> None:
    verdict = jp.check(text)
    assert not verdict.ok
    assert verdict.error.startswith(error) or error in verdict.error, verdict.error
    assert verdict.summary() == verdict.error


def test_error_position_is_the_one_json_reports() -> None:
    verdict = jp.check('{\n  "scene": "a"\n  "style": "b"\n}')
    assert (verdict.line, verdict.column) == (3, 3)


def test_the_template_is_valid_and_uses_only_known_keys() -> None:
    verdict = jp.check(jp.TEMPLATE)
    assert verdict.ok and verdict.hints == ()
    assert verdict.summary() == "Valid JSON prompt."
    assert set(json.loads(jp.TEMPLATE)) == set(jp.TOP_KEYS)


def test_unknown_keys_are_hints_with_the_nearest_key_and_their_line() -> None:
    text = (
        '{\n  "scene": "x",\n  "colour_palette": ["#fff"],\n  "camera": {"lense": "35 mm"},\n'
        '  "subjects": [{"descripton": "a dog", "mood2": 1}],\n  "negative": "blur"\n}'
    )
    verdict = jp.check(text)
    assert verdict.ok  # hints never block
    assert "line 3: “colour_palette” is not a FLUX.2 key — did you mean “color_palette”?" in verdict.hints
    assert "line 4: “lense” is not a FLUX.2 key for the camera — did you mean “lens”?" in verdict.hints
    assert (
        "line 5: “descripton” is not a FLUX.2 key for a subject — did you mean “description”?"
        in verdict.hints
    )
    assert "line 6: “negative” is not in FLUX.2's schema; it is sent as written." in verdict.hints
    assert verdict.summary().startswith("Valid JSON prompt. ")


def test_shape_hints() -> None:
    verdict = jp.check('{"scene": "x", "subjects": "a dog", "color_palette": "#ff6600"}')
    assert verdict.ok
    assert any("“subjects” is usually a list" in h for h in verdict.hints)
    assert any("“color_palette” is usually a list" in h for h in verdict.hints)


def test_compact_keeps_order_text_and_unicode_and_pretty_inverts_it() -> None:
    text = '{\n  "scene": "café in image 1",\n  "color_palette": ["#1f3a5f"],\n  "a": {"b": [1, 2]}\n}'
    sent = jp.compact(text)
    assert sent == '{"scene":"café in image 1","color_palette":["#1f3a5f"],"a":{"b":[1,2]}}'
    assert json.loads(jp.pretty(sent)) == json.loads(text)
    assert jp.pretty(sent).startswith('{\n  "scene"')
    assert jp.compact("not json") == "not json" and jp.pretty("{oops") == "{oops"


def test_is_json_prompt() -> None:
    assert jp.is_json_prompt(' {"scene": "x"} ')
    assert not jp.is_json_prompt("a cat {with braces}")
    assert not jp.is_json_prompt('["scene"]')
    assert not jp.is_json_prompt("{broken")
    assert not jp.is_json_prompt("")


def test_plain_to_json_and_back_loses_nothing() -> None:
    assert jp.from_plain("") == jp.TEMPLATE
    as_json = jp.from_plain("a red car in image 1")
    assert json.loads(as_json) == {"scene": "a red car in image 1"}
    assert jp.to_plain(as_json) == "a red car in image 1"
    assert jp.to_plain(jp.TEMPLATE) == jp.TEMPLATE  # more than a scene: left as typed
    assert jp.to_plain("{broken") == "{broken"
    assert json.loads(jp.from_plain('{"scene":"x"}')) == {"scene": "x"}


def test_deep_nesting_is_a_sentence_not_a_crash() -> None:
    verdict = jp.check("[" * 100_000 + "]" * 100_000)
    assert not verdict.ok
