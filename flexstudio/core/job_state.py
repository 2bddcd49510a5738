"""A job is an explicit state machine with one transition function. Every layer names states by
``JobState`` (a ``StrEnum``: the values are what history stores and the CLI prints); ``TERMINAL`` and
``ACTIVE`` are the only lists of them."""

from __future__ import annotations

from enum import StrEnum


class JobState(StrEnum):
    QUEUED = "queued"
    SUBMITTING = "submitting"
    RUNNING = "running"
    DOWNLOADING = "downloading"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    MODERATED = "moderated"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"


TERMINAL = frozenset(
    {JobState.SUCCEEDED, JobState.FAILED, JobState.MODERATED, JobState.CANCELLED, JobState.INTERRUPTED}
)
_ENDS = {JobState.FAILED, JobState.MODERATED, JobState.CANCELLED, JobState.INTERRUPTED}
_ALLOWED: dict[JobState, frozenset[JobState]] = {
    JobState.QUEUED: frozenset({JobState.SUBMITTING, *_ENDS}),
    JobState.SUBMITTING: frozenset({JobState.RUNNING, JobState.DOWNLOADING, *_ENDS}),
    JobState.RUNNING: frozenset({JobState.RUNNING, JobState.DOWNLOADING, *_ENDS}),
    JobState.DOWNLOADING: frozenset({JobState.SUCCEEDED, *_ENDS}),
    # An interrupted job with a handle is picked up again by ``resume`` (or given up: cancelled).
    JobState.INTERRUPTED: frozenset({JobState.RUNNING, JobState.DOWNLOADING, *_ENDS}),
}
# Not yet at an end: queued, or somewhere between the submit and the result.
ACTIVE = frozenset(set(JobState) - TERMINAL)
# Interrupted is where a run ends, but not the job: the provider may still finish, and resume fetches it.
RESUMABLE = frozenset({JobState.INTERRUPTED})


class InvalidTransition(RuntimeError):
    pass


def transition(current: str | JobState, new: str | JobState) -> JobState:
    """Return ``new`` if a job in ``current`` may move there; raise ``InvalidTransition`` otherwise."""
    cur, nxt = JobState(current), JobState(new)
    if nxt not in _ALLOWED.get(cur, frozenset()):
        raise InvalidTransition(f"a job cannot go from {cur} to {nxt}")
    return nxt


# One human sentence per end state (the job card and the CLI say these).
SENTENCES = {
    JobState.QUEUED: "Waiting to start.",
    JobState.SUBMITTING: "Sending the request…",
    JobState.RUNNING: "Running at the provider…",
    JobState.DOWNLOADING: "Downloading the result…",
    JobState.SUCCEEDED: "Done.",
    JobState.FAILED: "Failed.",
    JobState.MODERATED: "The provider flagged the request and did not bill it.",
    JobState.CANCELLED: "Cancelled.",
    JobState.INTERRUPTED: "Waiting for the provider — FlexStudio will fetch the result (the provider may "
    "still finish it).",
}
