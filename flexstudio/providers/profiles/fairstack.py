"""FairStack's profile and the assumptions its protocol rests on, as data: the protocol is
``flexstudio.providers.fairstack``, imported on the first request."""

from __future__ import annotations

from dataclasses import dataclass

from ..base import Capabilities, FieldHandling, ProviderInfo, Support


@dataclass(frozen=True, slots=True)
class FairStackAssumptions:
    """Every part of FairStack's contract for FLUX.2 [flex] that is not documented, in one place."""

    base_url: str = "https://api.fairstack.ai/v1"  # documented (API reference "Base URL")
    generate_path: str = "/generations/image"  # documented
    edit_model: str = "flux-2-flex-i2i"  # documented (model page)
    # No text-to-image key for flex is documented; the model page's own example sends this model with a
    # prompt only, so that is what a request without references does.
    text_model: str = "flux-2-flex-i2i"
    # The Image API documents ``image`` as ONE source image URL; nothing says more than one is taken.
    reference_field: str = "image"
    max_references: int = 1
    # FairStack documents ``image`` as a URL and offers no upload service, so a local image cannot be sent:
    # a data: URI would most likely be refused after the (paid) call. References must be public https URLs
    # (``reference_urls``), sent verbatim; the runner refuses a local reference before anything is sent.
    inline_references_as_data_uri: bool = False
    # Aspect ratios from the model page ("1:1, 4:3, 3:4, 16:9, 9:16, 2:3...") plus 3:2, its mirror.
    aspect_ratios: tuple[str, ...] = ("1:1", "4:3", "3:4", "16:9", "9:16", "3:2", "2:3")
    # quality basic|high is documented; that basic ≈ 1K (≈1 MP) and high ≈ 2K (≈4 MP) is assumed.
    quality_low: str = "basic"
    quality_high: str = "high"
    high_above_pixels: int = 2 * 1_048_576
    # A generation that ran but failed: HTTP 200, status "failed", message under "error" (string or
    # {"code", "message"}), like the documented error object.
    failed_status: str = "failed"
    done_status: str = "completed"
    error_field: str = "error"


ASSUMPTIONS = FairStackAssumptions()

PROTOCOL = "fairstack"


def capabilities() -> Capabilities:
    no = "FairStack's flux-2-flex-i2i takes no such setting: not sent"
    fields = {
        "prompt": FieldHandling(Support.HONOURED),
        "references": FieldHandling(
            Support.CONVERTED,
            "one image, sent as image: a public https URL only (FairStack has no upload service)",
        ),
        "steps": FieldHandling(Support.IGNORED, no),
        "guidance": FieldHandling(Support.IGNORED, no),
        "seed": FieldHandling(
            Support.HONOURED, "documented by FairStack's Image API; use by this model is not documented"
        ),
        "size": FieldHandling(
            Support.CONVERTED, "sent as the nearest aspect ratio and quality basic (≈1 MP) or high"
        ),
        "output_format": FieldHandling(
            Support.IGNORED, "FairStack chooses the file type: saved as delivered"
        ),
        "safety": FieldHandling(Support.IGNORED, no),
        "prompt_upsampling": FieldHandling(Support.IGNORED, no),
    }
    return Capabilities(
        max_references=ASSUMPTIONS.max_references,
        steps_range=None,
        guidance_range=None,
        safety_range=None,
        prompt_upsampling=False,
        fields=fields,
        references_need_urls=not ASSUMPTIONS.inline_references_as_data_uri,
    )


def _profile() -> ProviderInfo:
    info = ProviderInfo(
        id="fairstack",
        label="FairStack",
        protocol=PROTOCOL,
        capabilities=capabilities(),
        default_base_url=ASSUMPTIONS.base_url,
        env_var="FAIRSTACK_API_KEY",
        preview=True,
        key_help="Create a key (fs_live_…) in the FairStack dashboard: https://fairstack.ai",
    )
    return info.bind_lazy("fairstack", "FairStackProvider")


PROFILES: tuple[ProviderInfo, ...] = (_profile(),)
