"""How long to wait before the next poll of a running job.

The runner's interval (BFL documents 0.5 s, backing off towards ``max_poll_interval``) is the most it
waits. When the provider reports progress that grows, the pause is cut to the moment the progress
predicts the end — never shorter than ``minimum`` — so a finished job is seen within ~``minimum``
instead of up to a whole interval later. Without usable progress the interval is used unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence

MARGIN_S = 0.03  # poll just after the predicted end, not just before it


def poll_pause(seen: Sequence[tuple[float, float | None]], interval: float, minimum: float) -> float:
    """``seen``: (monotonic time, reported progress 0…1 or None) of the latest polls, oldest first."""
    if minimum >= interval or len(seen) < 2:
        return interval
    (t0, p0), (t1, p1) = seen[-2], seen[-1]
    if p0 is None or p1 is None or t1 <= t0:
        return interval
    if p1 >= 1.0 and p0 >= 1.0:
        return minimum  # says it is complete but not Ready yet: the answer is due any moment
    if p1 <= p0:
        return interval
    remaining = (1.0 - min(p1, 1.0)) * (t1 - t0) / (p1 - p0)
    return max(minimum, min(interval, remaining + MARGIN_S))
