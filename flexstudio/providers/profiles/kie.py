"""Kie.ai's profile as data: the protocol is ``flexstudio.providers.kie``, imported on the first request."""

from __future__ import annotations

from ..base import Capabilities, FieldHandling, ProviderInfo, Support

PROTOCOL = "kie"

KIE_BASE = "https://api.kie.ai"

MAX_REFERENCES = 8

PROMPT_LENGTH = (3, 5000)  # characters, Kie's documented prompt rule (checked before anything is sent)


def capabilities() -> Capabilities:
    no = "Kie.ai's FLUX.2 [flex] endpoint has no such setting: not sent"
    fields = {
        "prompt": FieldHandling(Support.HONOURED),
        "references": FieldHandling(
            Support.CONVERTED,
            "uploaded to Kie.ai's temporary file storage (deleted after 3 days) and sent as input_urls",
        ),
        "steps": FieldHandling(Support.IGNORED, no),
        "guidance": FieldHandling(Support.IGNORED, no),
        "seed": FieldHandling(Support.IGNORED, f"{no}; results are not reproducible"),
        "size": FieldHandling(
            Support.CONVERTED,
            "sent as the nearest aspect ratio (1:1, 4:3, 3:4, 16:9, 9:16, 3:2, 2:3) and resolution 1K or 2K",
        ),
        "output_format": FieldHandling(Support.IGNORED, "Kie.ai chooses the file type: saved as delivered"),
        "safety": FieldHandling(Support.IGNORED, no),
        "prompt_upsampling": FieldHandling(Support.IGNORED, no),
    }
    return Capabilities(
        max_references=MAX_REFERENCES,
        steps_range=None,
        guidance_range=None,
        safety_range=None,
        prompt_upsampling=False,
        references_need_urls=False,
        fields=fields,
        prompt_length=PROMPT_LENGTH,
    )


def _profile() -> ProviderInfo:
    info = ProviderInfo(
        id="kie",
        label="Kie.ai",
        protocol=PROTOCOL,
        capabilities=capabilities(),
        default_base_url=KIE_BASE,
        env_var="KIE_API_KEY",
        key_help="Create a key on the API Key page of https://kie.ai",
        options={"upload_references": True},
    )
    return info.bind_lazy("kie", "KieProvider")


PROFILES: tuple[ProviderInfo, ...] = (_profile(),)
