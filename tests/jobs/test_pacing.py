"""The poll pause follows the provider's reported progress, within [minimum, interval]."""

from __future__ import annotations

import pytest

from flexstudio.jobs.pacing import MARGIN_S, poll_pause


@pytest.mark.parametrize(
    ("seen", "expected"),
    [
        ([], 0.5),  # nothing seen yet: the interval
        ([(0.0, 0.1)], 0.5),  # one point gives no rate
        ([(0.0, None), (0.5, None)], 0.5),  # no progress reported (BFL often sends null)
        ([(0.0, 0.2), (0.5, 0.2)], 0.5),  # progress not moving: no prediction
        ([(0.0, 0.5), (0.5, 0.3)], 0.5),  # progress going back: no prediction
        ([(0.0, 0.1), (0.5, 0.35)], 0.5),  # the end is far: never longer than the interval
        ([(1.0, 0.55), (1.5, 0.80)], 0.4 + MARGIN_S),  # 0.2 left at 0.5/s: just after the predicted end
        ([(1.5, 0.80), (1.9, 0.99)], 0.1),  # due any moment: never shorter than the minimum
        ([(2.0, 1.0), (2.1, 1.0)], 0.1),  # complete but not Ready yet: the minimum
        ([(0.0, 0.1), (0.0, 0.5)], 0.5),  # same instant: no rate
    ],
)
def test_pause(seen: list[tuple[float, float | None]], expected: float) -> None:
    assert poll_pause(seen, 0.5, 0.1) == pytest.approx(expected)


def test_a_minimum_at_or_above_the_interval_keeps_the_interval() -> None:
    assert poll_pause([(0.0, 0.5), (0.5, 0.9)], 0.5, 0.5) == 0.5
