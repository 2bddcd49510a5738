"""The sandbox's profile as data: the simulator is ``flexstudio.providers.sandbox``, imported on the first
request."""

from __future__ import annotations

from ..base import Capabilities, FieldHandling, ModerationBilling, ProviderInfo, Support

_FIELDS = {
    "prompt": FieldHandling(Support.HONOURED),
    "references": FieldHandling(Support.HONOURED, "image 1 is the base; the others appear as insets"),
    "steps": FieldHandling(Support.HONOURED, "shown in the caption; changes the picture"),
    "guidance": FieldHandling(Support.HONOURED, "changes the picture"),
    "seed": FieldHandling(Support.HONOURED),
    "size": FieldHandling(Support.HONOURED),
    "output_format": FieldHandling(Support.HONOURED),
    "safety": FieldHandling(Support.IGNORED, "the simulator flags only the word 'moderate'"),
    "prompt_upsampling": FieldHandling(Support.IGNORED, "the simulator does not rewrite prompts"),
}

PROFILES: tuple[ProviderInfo, ...] = (
    ProviderInfo(
        id="sandbox",
        label="Sandbox",
        protocol="sandbox",
        capabilities=Capabilities(
            max_references=8,
            formats=("jpeg", "png", "webp"),
            can_cancel=True,
            max_concurrency=8,
            fields=_FIELDS,
            moderation_billing=ModerationBilling.NOT_BILLED,
        ),
        default_base_url="",
        env_var=None,
        needs_key=False,
        simulator=True,
        key_help="No key needed: the sandbox runs offline on this computer and costs nothing.",
    ).bind_lazy("sandbox", "SandboxProvider"),
)
