"""The job state machine: only the documented transitions are possible."""

from __future__ import annotations

import pytest

from flexstudio.core.job_state import TERMINAL, InvalidTransition, JobState, transition


def test_happy_path():
    s = JobState.QUEUED
    for nxt in (
        JobState.SUBMITTING,
        JobState.RUNNING,
        JobState.RUNNING,
        JobState.DOWNLOADING,
        JobState.SUCCEEDED,
    ):
        s = transition(s, nxt)
    assert s == JobState.SUCCEEDED


@pytest.mark.parametrize(
    "end", [JobState.FAILED, JobState.MODERATED, JobState.CANCELLED, JobState.INTERRUPTED]
)
@pytest.mark.parametrize(
    "start", [JobState.QUEUED, JobState.SUBMITTING, JobState.RUNNING, JobState.DOWNLOADING]
)
def test_every_live_state_can_end(start, end):
    assert transition(start, end) == end


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (JobState.QUEUED, JobState.RUNNING),  # never skip the submit record
        (JobState.QUEUED, JobState.SUCCEEDED),
        (JobState.SUBMITTING, JobState.SUCCEEDED),  # never succeed without downloading
        (JobState.RUNNING, JobState.SUBMITTING),  # never submit twice
        (JobState.DOWNLOADING, JobState.RUNNING),
    ],
)
def test_forbidden_transitions(a, b):
    with pytest.raises(InvalidTransition):
        transition(a, b)


@pytest.mark.parametrize("end", sorted(TERMINAL - {JobState.INTERRUPTED}))
def test_terminal_states_are_final(end):
    for nxt in JobState:
        with pytest.raises(InvalidTransition):
            transition(end, nxt)


def test_an_interrupted_job_can_be_resumed_or_given_up_but_never_resubmitted():
    for nxt in (JobState.RUNNING, JobState.DOWNLOADING, JobState.CANCELLED, JobState.FAILED):
        assert transition(JobState.INTERRUPTED, nxt) == nxt
    for nxt in (JobState.QUEUED, JobState.SUBMITTING, JobState.SUCCEEDED):
        with pytest.raises(InvalidTransition):
            transition(JobState.INTERRUPTED, nxt)
