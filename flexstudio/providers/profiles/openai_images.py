"""The OpenAI-compatible gateways' profiles (Lumenfall, a generic gateway, user-defined ones) as data: the
protocol is ``flexstudio.providers.openai_images``, imported on the first request."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ...core.errors import BadInput, ProviderError
from ..base import Capabilities, FieldHandling, ProviderInfo, Support

PROTOCOL = "openai_images"
LUMENFALL_BASE = "https://api.lumenfall.ai/openai/v1"
DEFAULT_MODEL = "flux.2-flex"
MAX_REFERENCES = 10
RESPONSE_FORMATS = ("b64_json", "url")
PARAM_STYLE_NAMES = ("lumenfall", "flux")  # how the request fields are named (the protocol's PARAM_STYLES)


def capabilities(style: str) -> Capabilities:
    passthrough = "passed through by the gateway to the model's provider"
    if style == "lumenfall":
        fields = {
            "prompt": FieldHandling(Support.HONOURED),
            "references": FieldHandling(Support.CONVERTED, "uploaded as multipart image / image[] parts"),
            "steps": FieldHandling(
                Support.CONVERTED, f"sent as steps and num_inference_steps (2–50), {passthrough}"
            ),
            "guidance": FieldHandling(Support.RENAMED, "sent as cfg_scale"),
            "seed": FieldHandling(Support.CONVERTED, "sent as a form string"),
            "size": FieldHandling(Support.CONVERTED, 'sent as size "WxH"'),
            "output_format": FieldHandling(Support.HONOURED),
            "safety": FieldHandling(Support.CONVERTED, 'sent as safety_tolerance "1"–"5"'),
            "prompt_upsampling": FieldHandling(Support.CONVERTED, "sent as prompt_enhancement on/off"),
        }
        return Capabilities(
            max_references=MAX_REFERENCES,
            steps_range=(2, 50),
            safety_range=(1, 5),
            formats=("jpeg", "png", "webp"),
            fields=fields,
        )
    fields = {
        "prompt": FieldHandling(Support.HONOURED),
        "references": FieldHandling(Support.CONVERTED, "uploaded as multipart image / image[] parts"),
        "steps": FieldHandling(Support.CONVERTED, f"sent as a form string, {passthrough}"),
        "guidance": FieldHandling(Support.CONVERTED, f"sent as a form string, {passthrough}"),
        "seed": FieldHandling(Support.CONVERTED, "sent as a form string"),
        "size": FieldHandling(Support.CONVERTED, 'sent as size "WxH"'),
        "output_format": FieldHandling(Support.HONOURED),
        "safety": FieldHandling(Support.CONVERTED, f"sent as safety_tolerance, {passthrough}"),
        "prompt_upsampling": FieldHandling(Support.CONVERTED, f"sent as prompt_upsampling, {passthrough}"),
    }
    return Capabilities(
        max_references=MAX_REFERENCES,
        steps_range=(1, 50),
        safety_range=(0, 5),
        formats=("jpeg", "png", "webp"),
        fields=fields,
    )


def _profile(
    id: str, label: str, base_url: str, options: Mapping[str, Any], *, env_var: str | None, key_help: str
) -> ProviderInfo:
    opts = {"model": DEFAULT_MODEL, "param_style": "flux", "response_format": "b64_json", **dict(options)}
    info = ProviderInfo(
        id=id,
        label=label,
        protocol=PROTOCOL,
        capabilities=capabilities(str(opts["param_style"])),
        default_base_url=base_url,
        env_var=env_var,
        key_help=key_help,
        options=opts,
    )
    return info.bind_lazy("openai_images", "OpenAIImagesProvider")


def custom_profile(id: str, label: str, base_url: str, options: Mapping[str, Any]) -> ProviderInfo:
    """A user-defined OpenAI-compatible gateway: its own base URL (the root holding /images/edits) and
    options ``model`` (default flux.2-flex), ``param_style`` (flux | lumenfall), ``response_format``."""
    base = base_url.strip().rstrip("/")
    if not base:
        raise BadInput(f"{label} needs a base URL: the gateway's root that holds /images/edits.")
    from ..http import check_url

    try:
        check_url(base, what="base URL")
    except ProviderError as exc:
        raise BadInput(str(exc)) from None
    if str(options.get("param_style") or "flux") not in PARAM_STYLE_NAMES:
        raise BadInput(f"{label}: param_style must be one of {', '.join(PARAM_STYLE_NAMES)}.")
    if str(options.get("response_format") or "b64_json") not in RESPONSE_FORMATS:
        raise BadInput(f"{label}: response_format must be b64_json or url.")
    return _profile(id, label, base, options, env_var=None, key_help="Use the API key your gateway issued.")


PROFILES: tuple[ProviderInfo, ...] = (
    _profile(
        "lumenfall",
        "Lumenfall",
        LUMENFALL_BASE,
        {"param_style": "lumenfall"},
        env_var="LUMENFALL_API_KEY",
        key_help="Create a key (lmnfl_…) in the Lumenfall dashboard: https://lumenfall.ai",
    ),
    _profile(
        "openai-compatible",
        "OpenAI-compatible",
        "",
        {},
        env_var="OPENAI_API_KEY",
        key_help="Use the API key of the gateway whose base URL you set (--base-url or the profile).",
    ),
)
