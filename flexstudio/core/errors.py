"""One typed error tree. User-facing text lives in the exception; bugs stay plain exceptions."""

from __future__ import annotations

from enum import StrEnum


class ErrorKind(StrEnum):
    """The error kinds of the command-line contract (``error.kind``)."""

    AUTH = "auth"
    CREDITS = "credits"
    RATE_LIMITED = "rate_limited"
    VALIDATION = "validation"
    MODERATED = "moderated"
    NETWORK = "network"
    TIMEOUT = "timeout"
    PROVIDER = "provider"
    EXPIRED = "expired"
    BAD_INPUT = "bad_input"


class FlexError(Exception):
    """Base of every error FlexStudio shows to a person. ``str(e)`` is the sentence to show."""

    kind: ErrorKind = ErrorKind.PROVIDER

    def __init__(self, message: str, *, kind: ErrorKind | None = None) -> None:
        super().__init__(message)
        if kind is not None:
            self.kind = kind

    @property
    def message(self) -> str:
        return str(self)


class BadInput(FlexError):
    """The user's input cannot be used (missing file, not an image, a bomb, out of range). Nothing sent."""

    kind = ErrorKind.BAD_INPUT


class ProviderError(FlexError):
    """A provider refused or failed. ``provider_message`` keeps the provider's own words.

    ``retry_after`` (seconds) is set when the provider asked us to wait; ``status`` is the HTTP status.
    ``submitted`` tells whether a paid job may exist at the provider although no answer came (never
    retry a submit then). ``verdict`` marks the provider's own word that the job failed (a documented
    failure status or body): only such an error ends a submitted job as ``failed``; any other fault
    leaves it ``interrupted`` and resumable. ``unsent`` says the request never left this computer (no
    connection to the provider could be made): nothing can have been billed.
    """

    def __init__(
        self,
        message: str,
        *,
        kind: ErrorKind = ErrorKind.PROVIDER,
        status: int | None = None,
        provider_message: str | None = None,
        retry_after: float | None = None,
        moderation_stage: str | None = None,
        submitted: bool = False,
        verdict: bool = False,
        unsent: bool = False,
    ) -> None:
        super().__init__(message, kind=kind)
        self.submitted = submitted
        self.unsent = unsent
        self.verdict = verdict
        self.status = status
        self.provider_message = provider_message
        self.retry_after = retry_after
        self.moderation_stage = moderation_stage  # "input" | "output" | None


class MissingKey(BadInput):
    """A provider needs a key and none is set. Found before anything is sent, so it is bad input (exit 2)
    in the CLI, in the window and in a job's record alike; ``auth`` is for a key the provider refused."""

    @classmethod
    def of(cls, label: str, provider_id: str, env_var: str | None) -> MissingKey:
        """The one sentence everywhere: where to add the key, in the window and on the command line."""
        where = f" or set {env_var}" if env_var else ""
        return cls(
            f"{label} needs an API key: add it in Settings → Keys, run 'flexstudio keys set "
            f"{provider_id}'{where}. Nothing was sent."
        )


class KeyringUnavailable(FlexError):
    """No OS keyring backend: keys can only be kept in memory for this session (never in clear)."""

    kind = ErrorKind.AUTH


class SpendCapExceeded(FlexError):
    kind = ErrorKind.BAD_INPUT


class JobGone(ProviderError):
    """The provider no longer knows this job (expired or never existed): it cannot be finished."""


class DeadlineExceeded(ProviderError):
    """The job's own time limit (``--timeout``) or retry budget ran out: the job is handed over as
    ``interrupted``, never ``failed`` — the provider may still finish it."""

    kind = ErrorKind.TIMEOUT


def verdict(exc: ProviderError) -> ProviderError:
    """Mark ``exc`` as the provider's own verdict on the job (see ``ProviderError``)."""
    exc.verdict = True
    return exc
