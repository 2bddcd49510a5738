"""fal.ai's profile as data: the queue protocol is ``flexstudio.providers.fal``, imported on the first
request."""

from __future__ import annotations

from ...core.sizes import MAX_PIXELS
from ..base import Capabilities, FieldHandling, ModerationBilling, ProviderInfo, Support

LABEL = "fal.ai"
ENV_VAR = "FAL_KEY"
DEFAULT_BASE_URL = "https://queue.fal.run"
STEPS_RANGE = (2, 50)
GUIDANCE_RANGE = (1.5, 10.0)
SAFETY_RANGE = (1, 5)  # sent as the strings "1".."5"; BFL's 0 (strictest) becomes "1"
MAX_REFERENCES = 10  # unstated by fal (third parties say 10); a 422 is the truth

CAPABILITIES = Capabilities(
    max_references=MAX_REFERENCES,
    steps_range=STEPS_RANGE,
    guidance_range=GUIDANCE_RANGE,
    safety_range=SAFETY_RANGE,
    formats=("jpeg", "png"),
    max_pixels=MAX_PIXELS,
    can_cancel=True,
    max_concurrency=10,  # new accounts start at 2 IN_PROGRESS, queued requests are never refused (§2)
    text_to_image=True,
    prompt_upsampling=False,
    # fal's FAQ: server errors are never charged, but a 422 (content policy) may be if GPU time was spent.
    moderation_billing=ModerationBilling.MAY_BILL,
    fields={
        "prompt": FieldHandling(Support.HONOURED),
        "references": FieldHandling(
            Support.RENAMED,
            "sent as image_urls (uploaded once to fal storage; small ones as data URIs), up to 10",
        ),
        "steps": FieldHandling(Support.RENAMED, "sent as num_inference_steps (2–50)"),
        "guidance": FieldHandling(Support.RENAMED, "sent as guidance_scale (1.5–10)"),
        "seed": FieldHandling(Support.HONOURED),
        "size": FieldHandling(Support.CONVERTED, "sent as image_size {width, height}"),
        "output_format": FieldHandling(Support.HONOURED, "jpeg or png; fal offers no webp"),
        "safety": FieldHandling(Support.CONVERTED, 'sent as a string "1"–"5" (0 counts as "1")'),
        "prompt_upsampling": FieldHandling(Support.IGNORED, "fal removed prompt expansion"),
    },
)


def _profile() -> ProviderInfo:
    info = ProviderInfo(
        id="fal",
        label=LABEL,
        protocol="fal",
        capabilities=CAPABILITIES,
        default_base_url=DEFAULT_BASE_URL,
        env_var=ENV_VAR,
        key_help="Create a key at https://fal.ai/dashboard/keys (format KEY_ID:KEY_SECRET).",
        key_pattern=r"[^:]+:[^:]+",  # providers.md §2.4: "Expected '<key_id>:<key_secret>'"
        key_format="KEY_ID:KEY_SECRET",
    )
    return info.bind_lazy("fal", "FalProvider")


PROFILES: tuple[ProviderInfo, ...] = (_profile(),)
