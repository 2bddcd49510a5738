"""BFL's own profiles (``bfl``, ``bfl-eu``, ``bfl-us``), CometAPI and user-defined BFL-compatible endpoints,
as data: the protocol code is ``flexstudio.providers.bfl``, imported on the first request."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from ...core.errors import BadInput, ProviderError
from ..base import Capabilities, FieldHandling, ModerationBilling, ProviderInfo, Support

MAX_REFERENCES = 8
STEPS_RANGE = (1, 50)
GUIDANCE_RANGE = (1.5, 10.0)
SAFETY_RANGE = (0, 5)
FORMATS = ("jpeg", "png")
DEFAULT_MODEL = "flux-2-flex"
AUTH_STYLES = ("x-key", "bearer")
OPTION_KEYS = ("auth", "submit_path", "result_path", "model")
# ``cost`` in a submit answer is BFL's charge in BFL credits. Only BFL's own profiles book it as the bill:
# a pass-through (CometAPI, a user's gateway) forwards BFL's figure while charging its own price.
COST_IS_BILL = "cost_is_bill"

# Only BFL's own profiles may send the key to a polling URL on another *.bfl.ai host.
BFL_FAMILY = frozenset({"bfl", "bfl-eu", "bfl-us"})

BFL_OPTIONS: dict[str, Any] = {
    "auth": "x-key",
    "submit_path": "/v1/{model}",
    "result_path": "/v1/get_result?id={id}",
    "model": DEFAULT_MODEL,
    COST_IS_BILL: True,
}
COMET_OPTIONS: dict[str, Any] = {
    "auth": "bearer",
    "submit_path": "/flux/v1/{model}",
    "result_path": "/flux/v1/get_result?id={id}",
    "model": DEFAULT_MODEL,
    COST_IS_BILL: False,
}

FIELDS: dict[str, FieldHandling] = {
    "prompt": FieldHandling(Support.HONOURED),
    "references": FieldHandling(
        Support.RENAMED, "sent as input_image, input_image_2 … input_image_8 (base64, up to 8)"
    ),
    "steps": FieldHandling(Support.HONOURED, "1–50"),
    "guidance": FieldHandling(Support.HONOURED, "1.5–10"),
    "seed": FieldHandling(Support.HONOURED),
    "size": FieldHandling(Support.RENAMED, "sent as width and height"),
    "output_format": FieldHandling(Support.HONOURED, "jpeg or png (no webp)"),
    "safety": FieldHandling(Support.RENAMED, "sent as safety_tolerance, 0–5 (0 strictest)"),
    "prompt_upsampling": FieldHandling(Support.HONOURED),
}

CAPABILITIES = Capabilities(
    max_references=MAX_REFERENCES,
    steps_range=STEPS_RANGE,
    guidance_range=GUIDANCE_RANGE,
    safety_range=SAFETY_RANGE,
    formats=FORMATS,
    can_cancel=False,
    text_to_image=True,
    prompt_upsampling=True,
    fields=FIELDS,
    # "Request Moderated … Not charged. Content Moderated … Not charged." (help.bfl.ai 2916279050)
    moderation_billing=ModerationBilling.NOT_BILLED,
    max_concurrency=24,  # "24 active tasks" for standard endpoints (providers.md §1.5); 429 above
    balance=True,  # GET /v1/credits → {"credits"} (BFL OpenAPI "Get the user's credits")
)
# A pass-through (CometAPI, a user's gateway) bills at its own terms, which do not mention moderation.
# Nor do they document BFL's 24 active tasks (conservative), nor a balance endpoint.
PASS_THROUGH_CAPABILITIES = replace(
    CAPABILITIES, moderation_billing=ModerationBilling.UNKNOWN, max_concurrency=4, balance=False
)


def _info(
    pid: str, label: str, base_url: str, env_var: str | None, key_help: str, options: Mapping[str, Any]
) -> ProviderInfo:
    caps = CAPABILITIES if pid in BFL_FAMILY else PASS_THROUGH_CAPABILITIES
    info = ProviderInfo(
        id=pid,
        label=label,
        protocol="bfl",
        capabilities=caps,
        default_base_url=base_url,
        env_var=env_var,
        key_help=key_help,
        options=dict(options),
    )
    return info.bind_lazy("bfl", "BflProvider")


_BFL_KEY_HELP = "Create a key at https://dashboard.bfl.ai (API Keys); BFL keys start with bfl_."

PROFILES: tuple[ProviderInfo, ...] = (
    _info("bfl", "BFL", "https://api.bfl.ai", "BFL_API_KEY", _BFL_KEY_HELP, BFL_OPTIONS),
    _info("bfl-eu", "BFL (EU)", "https://api.eu.bfl.ai", "BFL_API_KEY", _BFL_KEY_HELP, BFL_OPTIONS),
    _info("bfl-us", "BFL (US)", "https://api.us.bfl.ai", "BFL_API_KEY", _BFL_KEY_HELP, BFL_OPTIONS),
    _info(
        "cometapi",
        "CometAPI",
        "https://api.cometapi.com",
        "COMETAPI_KEY",
        "Create a key in the CometAPI console (https://www.cometapi.com → Console → API Keys).",
        COMET_OPTIONS,
    ),
)


def custom_profile(id: str, label: str, base_url: str, options: Mapping[str, Any]) -> ProviderInfo:
    """A user-defined BFL-compatible endpoint. ``base_url`` is the API root (https, or http to this
    computer); ``options``: ``auth`` ("x-key" | "bearer"), ``submit_path``, ``result_path``, ``model``.
    Raises ``BadInput`` with one sentence when the URL or an option cannot work."""
    from ..http import check_url

    try:
        check_url(base_url, what="API URL")
    except ProviderError as exc:
        raise BadInput(f"{label}: {exc}") from None
    opts: dict[str, Any] = dict(BFL_OPTIONS)
    for k in OPTION_KEYS:
        v = options.get(k)
        if v not in (None, ""):
            opts[k] = str(v)
    opts["auth"] = opts["auth"].lower()
    # A user's BFL-compatible gateway bills at its own price unless the user says its `cost` is the bill.
    opts[COST_IS_BILL] = options.get(COST_IS_BILL) in (True, "true", "1", "yes")
    if opts["auth"] not in AUTH_STYLES:
        raise BadInput(f"{label}: auth must be x-key or bearer (got {opts['auth']!r}).")
    for k in ("submit_path", "result_path"):
        if not opts[k].startswith("/"):
            raise BadInput(f"{label}: {k} must start with '/' (got {opts[k]!r}).")
    if options.get("custom"):
        opts["custom"] = True
    return _info(
        id, label, base_url.rstrip("/"), None, "Use the key your BFL-compatible endpoint gave you.", opts
    )
