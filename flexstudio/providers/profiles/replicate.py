"""Replicate's profile as data: the predictions protocol is ``flexstudio.providers.replicate``, imported
on the first request."""

from __future__ import annotations

from ...core.sizes import MAX_PIXELS
from ..base import Capabilities, FieldHandling, ProviderInfo, Support

LABEL = "Replicate"
ENV_VAR = "REPLICATE_API_TOKEN"
DEFAULT_BASE_URL = "https://api.replicate.com"
STEPS_RANGE = (1, 50)
GUIDANCE_RANGE = (1.5, 10.0)
SAFETY_RANGE = (1, 5)  # BFL's 0 (strictest) becomes 1
SIDE_RANGE = (256, 2048)  # aspect_ratio "custom": width/height per side
MAX_REFERENCES = 10

CAPABILITIES = Capabilities(
    max_references=MAX_REFERENCES,
    steps_range=STEPS_RANGE,
    guidance_range=GUIDANCE_RANGE,
    safety_range=SAFETY_RANGE,
    formats=("jpeg", "png", "webp"),
    max_pixels=MAX_PIXELS,
    side_range=SIDE_RANGE,
    can_cancel=True,
    max_concurrency=10,  # 600 creates/min; concurrency undocumented: conservative
    text_to_image=True,
    prompt_upsampling=True,
    fields={
        "prompt": FieldHandling(Support.HONOURED),
        "references": FieldHandling(
            Support.RENAMED,
            "sent as input_images (uploaded once with the Files API; small ones as data URIs), up to 10",
        ),
        "steps": FieldHandling(Support.HONOURED),
        "guidance": FieldHandling(Support.HONOURED),
        "seed": FieldHandling(Support.HONOURED),
        "size": FieldHandling(
            Support.CONVERTED,
            "sent as aspect_ratio custom + width/height; sides outside "
            "256–2048 are scaled into range keeping the aspect ratio",
        ),
        "output_format": FieldHandling(Support.CONVERTED, "jpeg is sent as jpg (quality 95)"),
        "safety": FieldHandling(Support.CONVERTED, "sent as 1–5 (0 counts as 1)"),
        "prompt_upsampling": FieldHandling(Support.HONOURED),
    },
)


def _profile() -> ProviderInfo:
    info = ProviderInfo(
        id="replicate",
        label=LABEL,
        protocol="replicate",
        capabilities=CAPABILITIES,
        default_base_url=DEFAULT_BASE_URL,
        env_var=ENV_VAR,
        key_help="Create a token at https://replicate.com/account/api-tokens.",
    )
    return info.bind_lazy("replicate", "ReplicateProvider")


PROFILES: tuple[ProviderInfo, ...] = (_profile(),)
