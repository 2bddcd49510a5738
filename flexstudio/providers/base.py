"""The provider interface: capabilities as data, and the four async steps every protocol implements.

A provider never runs a whole job itself: the job runner (``flexstudio.jobs``) calls ``submit``, stores
the returned ``Submission.handle`` in history, then calls ``poll`` until it reports ``done``, then
downloads with ``download``. So a crash between any two steps loses nothing: the handle (polling URLs,
job id) is enough to finish the job after a restart.
"""

from __future__ import annotations

import importlib
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

from ..core.request import PreparedReference as PreparedReference  # the one type (made in core.images)
from ..core.sizes import MAX_PIXELS

if TYPE_CHECKING:
    import httpx

    from ..core.request import EditRequest
    from .deadline import Deadline


class Support(StrEnum):
    """How a provider handles one request field (shown as a badge on the control)."""

    HONOURED = "honoured"  # sent as is
    RENAMED = "renamed"  # sent under another name (e.g. steps → num_inference_steps)
    CONVERTED = "converted"  # sent with another type or scale (e.g. safety as a string, size → aspect)
    IGNORED = "ignored"  # not sent: the provider cannot take it


class ModerationBilling(StrEnum):
    """Whether a provider charges for a request its safety filter stopped (from its own pages)."""

    NOT_BILLED = "not_billed"  # the provider says moderated requests are not charged (BFL)
    MAY_BILL = "may_bill"  # the provider may charge for work already done (fal: a 422 after GPU time)
    UNKNOWN = "unknown"  # the provider does not say


MODERATION_BILLING_WORDS = {
    ModerationBilling.NOT_BILLED: "not billed",
    ModerationBilling.MAY_BILL: "may be billed",
    ModerationBilling.UNKNOWN: "billing unknown",
}


def moderation_sentence(label: str, billing: ModerationBilling) -> str:
    """The ledger's sentence for a moderated job on a provider with this billing rule."""
    if billing is ModerationBilling.NOT_BILLED:
        return f"Moderated — not billed ({label} does not charge for moderated requests)."
    if billing is ModerationBilling.MAY_BILL:
        return (
            f"Moderated — may be billed ({label} can charge for the work done before its filter stopped it)."
        )
    return f"Moderated — billing unknown ({label} does not say whether moderated requests are charged)."


@dataclass(frozen=True, slots=True)
class FieldHandling:
    support: Support
    note: str = ""  # one short sentence for the badge tooltip, e.g. "sent as num_inference_steps"


# The request fields a provider declares handling for.
REQUEST_FIELDS = (
    "prompt",
    "references",
    "steps",
    "guidance",
    "seed",
    "size",
    "output_format",
    "safety",
    "prompt_upsampling",
)


@dataclass(frozen=True, slots=True)
class Capabilities:
    max_references: int
    steps_range: tuple[int, int] | None = (1, 50)  # None: steps are ignored
    guidance_range: tuple[float, float] | None = (1.5, 10.0)
    safety_range: tuple[int, int] | None = (0, 5)
    formats: tuple[str, ...] = ("jpeg", "png")
    max_pixels: int = MAX_PIXELS  # output and each reference
    side_range: tuple[int, int] | None = None  # output px per side (Replicate: 256–2048)
    can_cancel: bool = False
    text_to_image: bool = True
    prompt_upsampling: bool = True
    references_need_urls: bool = False  # FairStack: public URLs only (no upload service)
    moderation_billing: ModerationBilling = ModerationBilling.UNKNOWN
    prompt_length: tuple[int, int] | None = None  # characters (Kie: 3–5000), checked before sending
    balance: bool = False  # the provider documents a balance endpoint (BFL)
    max_concurrency: int = 4  # jobs at once the provider admits per account
    fields: Mapping[str, FieldHandling] = field(default_factory=dict)

    def handling(self, name: str) -> FieldHandling:
        return self.fields.get(name, FieldHandling(Support.HONOURED))

    def to_dict(self) -> dict[str, Any]:
        return {
            "max_references": self.max_references,
            "steps_range": list(self.steps_range) if self.steps_range else None,
            "guidance_range": list(self.guidance_range) if self.guidance_range else None,
            "safety_range": list(self.safety_range) if self.safety_range else None,
            "formats": list(self.formats),
            "max_megapixels": self.max_pixels / 1_048_576,
            "side_range": list(self.side_range) if self.side_range else None,
            "can_cancel": self.can_cancel,
            "text_to_image": self.text_to_image,
            "prompt_upsampling": self.prompt_upsampling,
            "references_need_urls": self.references_need_urls,
            "moderation_billing": self.moderation_billing.value,
            "prompt_length": list(self.prompt_length) if self.prompt_length else None,
            "balance": self.balance,
            "max_concurrency": self.max_concurrency,
            "fields": {
                k: {"support": v.support.value, "note": v.note} for k, v in sorted(self.fields.items())
            },
        }


@dataclass(frozen=True, slots=True)
class Balance:
    """What an account has left, as the provider reports it (``amount`` in ``unit``) and in dollars."""

    amount: float
    unit: str  # "credits", "USD"
    usd: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "amount": self.amount,
            "unit": self.unit,
            "usd": None if self.usd is None else round(self.usd, 4),
        }


@dataclass(frozen=True, slots=True)
class Result:
    """What a finished provider job produced. ``urls`` are fetched by ``download`` (without credentials);
    ``images`` are bytes already in hand (base64 / data URIs / the sandbox)."""

    urls: tuple[str, ...] = ()
    images: tuple[bytes, ...] = ()
    seed: int | None = None
    billed_usd: float | None = None
    revised_prompt: str | None = None


@dataclass(frozen=True, slots=True)
class Submission:
    """What ``submit`` returns. ``handle`` must be JSON-serialisable and hold everything ``poll``,
    ``download`` and ``cancel`` need (the provider's URLs verbatim, ids)."""

    provider_job_id: str | None
    handle: dict[str, Any]
    billed_usd: float | None = None
    result: Result | None = None  # synchronous providers: already finished


@dataclass(frozen=True, slots=True)
class PollResult:
    state: Literal["queued", "running", "done"]
    progress: float | None = None  # 0..1 where the provider reports it
    queue_position: int | None = None
    message: str = ""  # a provider log line, for the job's status text
    result: Result | None = None  # set when state == "done"
    billed_usd: float | None = None


@runtime_checkable
class Provider(Protocol):
    """One protocol. Constructed with a ``ProviderContext``; stateless between calls apart from that.

    Errors are raised as ``flexstudio.core.errors.ProviderError`` with an ``ErrorKind``; a moderated
    request raises kind ``MODERATED`` (with ``moderation_stage`` "input"/"output"); a job the provider no
    longer knows raises ``JobGone``.
    """

    info: ProviderInfo

    async def submit(self, request: EditRequest, references: Sequence[PreparedReference]) -> Submission: ...

    async def poll(self, handle: Mapping[str, Any]) -> PollResult: ...

    async def download(self, url: str) -> bytes: ...

    async def cancel(self, handle: Mapping[str, Any]) -> bool: ...


@dataclass(frozen=True, slots=True)
class ProviderContext:
    """What a provider is built with. I/O is injected: tests pass a client aimed at a local emulator."""

    client: httpx.AsyncClient | None
    api_key: str | None = None
    base_url: str | None = None  # the API root; None → the profile's default
    options: Mapping[str, Any] = field(default_factory=dict)  # profile options (model id, paths, auth style)
    poll_interval: float = 0.5
    state_dir: str | None = None  # a folder the provider may keep state in (the sandbox does)
    sleep: Callable[[float], Awaitable[None]] | None = None  # injectable for tests; None → asyncio.sleep
    deadline: Deadline | None = None  # the job's time limit and retry budget (the runner passes one)
    idempotency_key: str | None = None  # stable per job: sent with a paid call where the API takes one
    uploads: Any = None  # providers.uploads.Uploads shared by every job; None → per provider


@dataclass(frozen=True, slots=True)
class ProviderInfo:
    """Static facts about one provider id (one profile of a protocol)."""

    id: str
    label: str
    protocol: str  # module that speaks it: bfl, fal, replicate, openai_images, …
    capabilities: Capabilities
    default_base_url: str
    env_var: str | None = None  # the provider's usual key variable (wins over the keyring)
    needs_key: bool = True
    simulator: bool = False  # the sandbox: labelled a simulator wherever it appears
    preview: bool = False  # protocol partly undocumented
    key_help: str = ""  # where a user gets a key
    key_pattern: str = ""  # a regular expression a well-formed key matches ("" = any), for a hint only
    key_format: str = ""  # the same in words ("KEY_ID:KEY_SECRET")
    options: Mapping[str, Any] = field(default_factory=dict)
    factory: Callable[[ProviderContext], Provider] | None = field(default=None, compare=False, repr=False)

    @property
    def display_name(self) -> str:
        if self.simulator:
            return f"{self.label} (simulator)"
        if self.preview:
            return f"{self.label} (preview)"
        return self.label

    def bind(self, cls: Callable[[ProviderInfo, ProviderContext], Provider]) -> ProviderInfo:
        """Attach the factory ``cls(this info, ctx)`` (the info must exist before its factory can name
        it, and the dataclass is frozen). Returns the same info."""
        object.__setattr__(self, "factory", lambda ctx: cls(self, ctx))
        return self

    def bind_lazy(self, module: str, class_name: str) -> ProviderInfo:
        """Attach a factory that imports the protocol module ``module`` (a module of this package) on
        the first ``create``: the profiles are read at start-up, the protocol code only when a job or a
        key test needs it. Returns the same info."""

        def make(ctx: ProviderContext) -> Provider:
            cls = getattr(importlib.import_module(f"{__package__}.{module}"), class_name)
            provider: Provider = cls(self, ctx)
            return provider

        object.__setattr__(self, "factory", make)
        return self

    def create(self, ctx: ProviderContext) -> Provider:
        if self.factory is None:
            raise RuntimeError(f"provider {self.id} has no implementation")
        return self.factory(ctx)


PREVIEW_NOTE = "preview — protocol partly undocumented"
