"""One job's time limits, passed down to every network step of that job.

A ``Deadline`` holds the job's *total* limit (the user's ``--timeout``; ``None`` for no limit) and its
*retry budget* (how long polls and downloads may be retried in all, 10 minutes by default). Each HTTP
step takes its connect / read / total timeouts from it, capped by what is left; each retry wait asks it
first. When either runs out the step gives up and the job is handed over as ``interrupted``.

Time is counted as the larger of the wall clock and the waits asked for: an injected sleep that does not
really sleep (tests) still moves the job towards its limits, so every loop ends.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from ..core.errors import DeadlineExceeded, ErrorKind

RETRY_BUDGET_S = 600.0  # polls and downloads are retried for at most this long per job
OFFLINE_BUDGET_S = 30.0  # … but only this long while no host answers at all (offline: resume later)
MAX_RETRY_AFTER_S = 60.0  # a longer Retry-After is waited only this long (then asked again)
MIN_DOWNLOAD_RATE = 4096.0  # bytes per second a download must keep up, averaged …
RATE_GRACE_S = 15.0  # … after this long (a result that drips is cut)


@dataclass(frozen=True, slots=True)
class StepTimeouts:
    """Per-request limits (seconds): connect, read (between bytes), and the whole request."""

    connect: float = 10.0
    read: float = 60.0
    total: float = 120.0


POLL_STEP = StepTimeouts(connect=10.0, read=60.0, total=120.0)
SUBMIT_STEP = StepTimeouts(connect=10.0, read=60.0, total=120.0)
SYNC_READ_TIMEOUT_S = 600.0  # a synchronous gateway holds the call while it renders (openai-python: 600 s)


class Deadline:
    def __init__(
        self,
        total: float | None = None,
        *,
        retry_budget: float | None = RETRY_BUDGET_S,
        offline_budget: float | None = OFFLINE_BUDGET_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.total = total
        self.retry_budget = retry_budget
        self.offline_budget = offline_budget
        self._offline_waited = 0.0  # waits since the last answer from any host
        self._clock = clock
        self._start = clock()
        self._waited = 0.0  # every wait asked for (polls and retries)
        self._retry_waited = 0.0  # the waits spent retrying

    # ------------------------------------------------------------------ time
    def elapsed(self) -> float:
        return max(self._clock() - self._start, self._waited)

    def remaining(self) -> float | None:
        """Seconds left before the job's total limit (``None``: no limit)."""
        if self.total is None:
            return None
        return self.total - self.elapsed()

    @property
    def expired(self) -> bool:
        left = self.remaining()
        return left is not None and left <= 0

    def check(self, label: str) -> None:
        if self.expired:
            raise self.exceeded(label)

    def exceeded(self, label: str) -> DeadlineExceeded:
        return DeadlineExceeded(
            f"{label} did not finish within the {self.total:g} s time limit.", kind=ErrorKind.TIMEOUT
        )

    def cap(self, seconds: float) -> float:
        """``seconds``, cut to what is left of the total limit (never below a token 0.05 s)."""
        left = self.remaining()
        return seconds if left is None else max(0.05, min(seconds, left))

    # ------------------------------------------------------------------ waits
    def note_wait(self, seconds: float, *, retry: bool = False, offline: bool = False) -> None:
        self._waited += max(0.0, seconds)
        if retry:
            self._retry_waited += max(0.0, seconds)
        if offline:
            self._offline_waited += max(0.0, seconds)

    def note_answer(self) -> None:
        """A host answered (whatever it said): the network is there."""
        self._offline_waited = 0.0

    def may_retry(self, wait: float, *, offline: bool = False) -> bool:
        """Whether a retry after ``wait`` seconds still fits the retry budget (the offline one when no
        host could be reached) and the total limit."""
        if self.retry_budget is not None and self._retry_waited + wait > self.retry_budget:
            return False
        if offline and self.offline_budget is not None and self._offline_waited + wait > self.offline_budget:
            return False
        left = self.remaining()
        return left is None or wait < left

    @property
    def retry_waited(self) -> float:
        return self._retry_waited
