"""The one rule for how a job ends when something goes wrong, and the sentences that say so.

Before the provider took a job, an error ends it ``failed`` (nothing was billed). After the submit
returned a job id, the job is terminal only on the provider's own verdict: a documented failure
(``ProviderError.verdict``) → ``failed``, moderation → ``moderated``, "unknown job" after ``GRACE_S`` →
``failed`` (expired). Everything else — malformed or truncated answers, 5xx, 429, resets, DNS or
connection errors, timeouts (``--timeout`` included), a failed download, a full disk while saving, a bug,
the app quitting — leaves the job ``interrupted`` with its handle: the provider may still finish it, and
``resume`` fetches it from the stored endpoint. A submit whose answer was lost (``submitted``) is
``interrupted`` too, without a handle: it may have been billed, and it is never sent again.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..core.errors import DeadlineExceeded, ErrorKind, FlexError, JobGone, ProviderError
from ..core.job_state import SENTENCES, JobState

if TYPE_CHECKING:
    from ..storage.history import JobRecord

GRACE_S = 300.0  # a provider that says "unknown job" this soon after the submit may just be catching up

# Faults the runner does not ask again about inside the run: the provider's words on the account or the
# request, and network faults and timeouts (the HTTP helper already retried those within the budget).
_NOT_RETRIED = frozenset(
    {
        ErrorKind.MODERATED,
        ErrorKind.AUTH,
        ErrorKind.CREDITS,
        ErrorKind.VALIDATION,
        ErrorKind.BAD_INPUT,
        ErrorKind.NETWORK,
        ErrorKind.TIMEOUT,
    }
)


@dataclass(frozen=True, slots=True)
class Outcome:
    state: JobState
    changes: dict[str, Any]


def retry_in_run(exc: BaseException) -> bool:
    """Whether a failed poll is worth asking again inside this run (the answer may differ next time)."""
    return (
        isinstance(exc, ProviderError)
        and not exc.verdict
        and not isinstance(exc, JobGone)
        and exc.kind not in _NOT_RETRIED
        and not isinstance(exc, DeadlineExceeded)
    )


NOT_SENT = "Not sent — nothing was billed."


def waiting_message(label: str) -> str:
    return f"Waiting for {label} — will fetch it."


def _money(rec: JobRecord) -> str:
    if rec.billed_usd is not None:
        return f" Billed so far: ${rec.billed_usd:.4f}."
    if rec.quote_usd is not None:
        return f" It may have been billed (quoted ${rec.quote_usd:.4f})."
    return ""


def interrupted(rec: JobRecord, label: str, cause: str, kind: str) -> Outcome:
    """A submitted job handed over: it keeps its handle, and anyone may resume it (no owner)."""
    ident = f" (its job id there: {rec.provider_job_id})" if rec.provider_job_id else ""
    text = (
        f"{cause.rstrip('.')}. {label} may still finish this job{ident}; FlexStudio will fetch it "
        f"('flexstudio resume', or the window at start).{_money(rec)}"
    )
    return Outcome(
        JobState.INTERRUPTED,
        {"error_kind": kind, "error_message": text, "message": waiting_message(label), "owner": None},
    )


NOTHING_TO_FETCH = "nothing to fetch"


def lost_submit(rec: JobRecord, label: str, cause: str) -> Outcome:
    """The submit's answer never came: the job may exist and be billed, but has no handle to follow —
    there is nothing to fetch. It stays ``interrupted`` (counted at its quote) until the user gives it up."""
    quoted = f" ${rec.quote_usd:.4f}" if rec.quote_usd is not None else ""
    text = (
        f"{cause.rstrip('.')}, so FlexStudio cannot tell whether {label} took this job: it may have been "
        f"billed{quoted}, and it was not sent again (no double charge); {label} gave no job id, so there is "
        f"{NOTHING_TO_FETCH} — check your {label} account, then give the job up in the window's History "
        "(until then it counts towards your spending limits)."
    )
    return Outcome(
        JobState.INTERRUPTED,
        {
            "error_kind": ErrorKind.NETWORK.value,
            "error_message": text,
            "message": f"Sent, but no answer came: it may have been billed{quoted}; nothing to fetch.",
            "owner": None,
        },
    )


def result_gone(rec: JobRecord, label: str) -> str:
    """The sentence for a paid result whose link expired and that the provider no longer gives again."""
    if rec.billed_usd is not None:
        money = f"billed ${rec.billed_usd:.4f}"
    elif rec.quote_usd is not None:
        money = f"it may have been billed ${rec.quote_usd:.4f}"
    else:
        money = "it may have been billed"
    return (
        f"{label}'s result link expired before it could be downloaded: {money}; the result is gone at "
        f"{label} — run it again to get a new one."
    )


def not_sent(rec: JobRecord, exc: ProviderError) -> Outcome:
    """No connection to the provider could be made: nothing was sent, so nothing can have been billed and
    there is nothing to fetch. The job ends ``failed`` (re-run it once the address or the connection is
    right), and the submit it never made is not counted."""
    changes: dict[str, Any] = {
        "error_kind": exc.kind.value,
        "error_message": str(exc),
        "message": NOT_SENT,
    }
    if rec.state == JobState.SUBMITTING:
        changes["submits"] = max(0, rec.submits - 1)
    return Outcome(JobState.FAILED, changes)


def decide(rec: JobRecord, exc: BaseException, label: str, *, now: float | None = None) -> Outcome:
    """How the job ``rec`` (as stored when ``exc`` ended its run) ends. Moderation is settled by the
    runner before this (its billing is the provider's capability data)."""
    submitted = rec.state in (JobState.RUNNING, JobState.DOWNLOADING) and rec.handle is not None
    if submitted:
        if isinstance(exc, JobGone):
            since = rec.submitted_at or rec.created_at
            age = (time.time() if now is None else now) - since
            if age >= GRACE_S:
                return Outcome(
                    JobState.FAILED,
                    {
                        "error_kind": ErrorKind.EXPIRED.value,
                        "error_message": f"{exc} The provider's job id {rec.provider_job_id} is kept in history.",
                        "message": SENTENCES[JobState.FAILED],
                    },
                )
            return interrupted(rec, label, f"{exc} (it may only be catching up)", ErrorKind.EXPIRED.value)
        if isinstance(exc, ProviderError) and exc.verdict:
            return Outcome(
                JobState.FAILED,
                {
                    "error_kind": exc.kind.value,
                    "error_message": str(exc),
                    "message": SENTENCES[JobState.FAILED],
                },
            )
        if isinstance(exc, FlexError):
            return interrupted(rec, label, str(exc), exc.kind.value)
        if isinstance(exc, OSError):
            what = exc.strerror or type(exc).__name__
            return interrupted(
                rec, label, f"The result could not be saved ({what})", ErrorKind.PROVIDER.value
            )
        return interrupted(
            rec, label, f"Unexpected error: {type(exc).__name__}: {exc}", ErrorKind.PROVIDER.value
        )
    if (
        rec.state == JobState.SUBMITTING
        and isinstance(exc, ProviderError)
        and (exc.submitted or (exc.status is not None and 200 <= exc.status < 300))
    ):
        # No answer, or an answer accepting the job that could not be read: the job may exist.
        return lost_submit(rec, label, str(exc))
    if isinstance(exc, ProviderError) and exc.unsent:
        return not_sent(rec, exc)
    if isinstance(exc, FlexError):
        return Outcome(
            JobState.FAILED,
            {"error_kind": exc.kind.value, "error_message": str(exc), "message": SENTENCES[JobState.FAILED]},
        )
    return Outcome(
        JobState.FAILED,
        {
            "error_kind": ErrorKind.PROVIDER.value,
            "error_message": f"Unexpected error: {type(exc).__name__}: {exc}",
            "message": SENTENCES[JobState.FAILED],
        },
    )
