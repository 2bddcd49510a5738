"""Sweep axes in the A1111 syntax, priced and expanded before launch."""

from __future__ import annotations

import pytest

from flexstudio.core.errors import BadInput
from flexstudio.core.request import EditRequest
from flexstudio.core.sweep import MAX_SWEEP, Sweep, parse_values


@pytest.mark.parametrize(
    ("text", "integer", "expected"),
    [
        ("20-50 (+10)", True, [20, 30, 40, 50]),
        ("50-20 (-10)", True, [50, 40, 30, 20]),
        ("1-10 [5]", False, [1.0, 3.25, 5.5, 7.75, 10.0]),
        ("1-4", True, [1, 2, 3, 4]),
        ("3.5, 5, 7", False, [3.5, 5.0, 7.0]),
        ("1-3, 10, 2", True, [1, 2, 3, 10]),
        ("28", True, [28]),
    ],
)
def test_axis_syntax(text, integer, expected):
    assert parse_values(text, integer=integer) == expected


@pytest.mark.parametrize("text", ["", "abc", "10-20 (-5)", "1-5 [0]", "2.5"])
def test_bad_axes_say_what_is_wrong(text):
    with pytest.raises(BadInput):
        parse_values(text, integer=True)


def test_grid_expands_in_order_with_the_rest_of_the_request_kept():
    base = EditRequest(prompt="p", provider="sandbox", size=(512, 512))
    sweep = Sweep.parse("20, 40", "3, 5", "1, 2")
    reqs = sweep.requests(base)
    assert sweep.size == len(reqs) == 8
    assert [(r.steps, r.guidance, r.seed) for r in reqs[:3]] == [(20, 3.0, 1), (20, 3.0, 2), (20, 5.0, 1)]
    assert all(r.size == (512, 512) and r.prompt == "p" for r in reqs)


def test_limits():
    with pytest.raises(BadInput, match="outside 1–50"):
        Sweep.parse("0-60 (+20)", "5", "1")
    with pytest.raises(BadInput, match="most in one sweep"):
        Sweep.parse("1-50", "2-9", "1")
    assert MAX_SWEEP >= 8
