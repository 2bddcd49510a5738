"""RunAPI's profile and the assumptions its protocol rests on, as data: the protocol is
``flexstudio.providers.runapi``, imported on the first request."""

from __future__ import annotations

from dataclasses import dataclass

from ...core.sizes import MEGAPIXEL
from ..base import Capabilities, FieldHandling, ModerationBilling, ProviderInfo, Support


@dataclass(frozen=True, slots=True)
class RunApiAssumptions:
    """Every part of RunAPI's contract that is not in a public API reference, in one place."""

    # Seed page: https://api.runapi.ai/api/v1/flux_2/image_to_image with model flux-2-flex-image-to-image.
    # RunAPI's current SDKs (July 2026) use this host and the "remix_image" names below instead; the
    # models page shows the same. The older names are kept here for reference only.
    base_url: str = "https://runapi.ai"
    edit_path: str = "/api/v1/flux_2/remix_image"  # older: /api/v1/flux_2/image_to_image
    edit_model: str = "flux-2-flex-remix-image"  # older: flux-2-flex-image-to-image
    text_path: str = "/api/v1/flux_2/text_to_image"
    text_model: str = "flux-2-flex-text-to-image"
    # Task query: GET {submit path}/{id} (SDK ``get(id)``); the create answer is {"id": ...}.
    task_path: str = "{submit_path}/{task_id}"
    id_field: str = "id"
    # Task answer: {"id", "status": pending|processing|completed|failed, "images": [{"url"}], "error"}.
    status_field: str = "status"
    queued_statuses: tuple[str, ...] = ("pending", "queued")
    running_statuses: tuple[str, ...] = ("processing", "running")
    done_status: str = "completed"
    failed_status: str = "failed"
    images_field: str = "images"
    error_field: str = "error"
    # Request fields: references as public URLs (1–8), aspect ratio, resolution tier, safety checker.
    references_field: str = "source_image_urls"
    aspect_field: str = "aspect_ratio"
    resolution_field: str = "output_resolution"
    resolutions: tuple[str, str] = ("1k", "2k")
    # The largest output sent as "1k": RunAPI's price table (resources/prices.json) ends its $0.14 1K
    # tier at 1.1 MP, so anything larger is sent — and quoted — as 2K. One threshold for both sides.
    one_k_max_pixels: int = round(1.1 * MEGAPIXEL)
    safety_field: str = "enable_safety_checker"  # on/off only; FlexStudio always sends true
    max_references: int = 8
    # Local references go to RunAPI's file store first: POST /api/v1/files
    # {"source": {"type": "base64", "data": <plain base64>}, "file_name"} → {"url", "expires_at", ...}.
    upload_path: str = "/api/v1/files"
    upload_url_field: str = "url"
    upload_lifetime: float = 3600.0  # assumed when the answer's expires_at is missing


ASSUMPTIONS = RunApiAssumptions()

PROTOCOL = "runapi"


def capabilities() -> Capabilities:
    no = "RunAPI's Flux 2 flex endpoint has no such setting: not sent"
    fields = {
        "prompt": FieldHandling(Support.HONOURED),
        "references": FieldHandling(
            Support.CONVERTED, f"uploaded to RunAPI's file store and sent as {ASSUMPTIONS.references_field}"
        ),
        "steps": FieldHandling(Support.IGNORED, no),
        "guidance": FieldHandling(Support.IGNORED, no),
        "seed": FieldHandling(Support.IGNORED, f"{no}; results are not reproducible"),
        "size": FieldHandling(
            Support.CONVERTED, "sent as the nearest aspect ratio and resolution 1k (up to 1.1 MP) or 2k"
        ),
        "output_format": FieldHandling(Support.IGNORED, "RunAPI chooses the file type: saved as delivered"),
        "safety": FieldHandling(Support.IGNORED, "RunAPI only has an on/off safety checker: always sent on"),
        "prompt_upsampling": FieldHandling(Support.IGNORED, no),
    }
    return Capabilities(
        max_references=ASSUMPTIONS.max_references,
        steps_range=None,
        guidance_range=None,
        safety_range=None,
        prompt_upsampling=False,
        fields=fields,
        # RunAPI's model page: "Failed generations are not charged".
        moderation_billing=ModerationBilling.NOT_BILLED,
    )


def _profile() -> ProviderInfo:
    info = ProviderInfo(
        id="runapi",
        label="RunAPI",
        protocol=PROTOCOL,
        capabilities=capabilities(),
        default_base_url=ASSUMPTIONS.base_url,
        env_var="RUNAPI_KEY",
        preview=True,
        key_help="Create a key in the RunAPI dashboard: https://runapi.ai",
    )
    return info.bind_lazy("runapi", "RunApiProvider")


PROFILES: tuple[ProviderInfo, ...] = (_profile(),)
