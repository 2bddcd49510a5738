"""The built-in offline sandbox: a simulator of a FLUX.2 [flex] cloud, in-process, no key, $0.

Its result is a real image of the requested size and format, derived deterministically from the
references, the prompt and the seed (same inputs → same bytes; another seed → another image). It plays
a queue → running (with progress) → done life cycle over a configurable latency, and keeps its
"server-side" state in a folder, so a job interrupted by a crash is finished after a restart just as a
real cloud's would be. It is labelled a simulator wherever it appears.
"""

from __future__ import annotations

import asyncio  # this module is imported with the first sandbox job, the loop already running
import colorsys
import errno
import hashlib
import io
import json
import os
import random
import time
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core.errors import ErrorKind, JobGone, ProviderError
from .base import (
    PollResult,
    PreparedReference,
    ProviderContext,
    ProviderInfo,
    Result,
    Submission,
)
from .profiles.sandbox import PROFILES as PROFILES

if TYPE_CHECKING:
    from ..core.request import EditRequest

DEFAULT_LATENCY = 2.0
_MEMORY: dict[str, dict[str, Any]] = {}  # state when no folder is given


# Jobs this process sent that wait in the simulated queue: id → (sent at, leaves the queue at). A job's
# place is one behind every job sent before it that still waits, as in a real provider's queue.
_WAITING: dict[str, tuple[float, float]] = {}


def _position(job_id: str, state: Mapping[str, Any], now: float) -> int:
    for other, (_sent, until) in list(_WAITING.items()):
        if until <= now:
            del _WAITING[other]
    sent = float(state["submitted"])
    _WAITING[job_id] = (sent, float(state["queued_until"]))
    return 1 + sum(1 for other, (at, _u) in _WAITING.items() if other != job_id and at < sent)


def _latency(ctx: ProviderContext) -> float:
    if "latency" in ctx.options:
        return max(0.0, float(ctx.options["latency"]))
    env = os.environ.get("FLEXSTUDIO_SANDBOX_LATENCY")
    if env:
        try:
            return max(0.0, float(env))
        except ValueError:
            pass
    return DEFAULT_LATENCY


class SandboxProvider:
    def __init__(self, info: ProviderInfo, ctx: ProviderContext) -> None:
        self.info = info
        self.ctx = ctx
        self.latency = _latency(ctx)
        self.dir = Path(ctx.state_dir) if ctx.state_dir else None

    # ------------------------------------------------------------------ state
    def _save(self, job_id: str, state: dict[str, Any], image: bytes | None = None) -> None:
        if self.dir is None:
            _MEMORY[job_id] = {
                **state,
                "image": image if image is not None else _MEMORY.get(job_id, {}).get("image"),
            }
            return
        if image is not None:
            _write(self.dir / f"{job_id}.img", image)
        _write(self.dir / f"{job_id}.json", json.dumps(state).encode())

    def _load(self, job_id: str) -> dict[str, Any]:
        if self.dir is None:
            st = _MEMORY.get(job_id)
            if st is None:
                raise JobGone("The sandbox has no job with that id.", kind=ErrorKind.PROVIDER)
            return st
        try:
            return dict(json.loads((self.dir / f"{job_id}.json").read_text()))
        except (FileNotFoundError, ValueError):
            raise JobGone("The sandbox has no job with that id.", kind=ErrorKind.PROVIDER) from None

    def _image(self, job_id: str) -> bytes | None:
        """The finished picture (read only once the job is done, not at every poll)."""
        if self.dir is None:
            image = _MEMORY.get(job_id, {}).get("image")
            return image if isinstance(image, bytes) else None
        try:
            return (self.dir / f"{job_id}.img").read_bytes()
        except FileNotFoundError:
            return None

    def _make(
        self,
        job_id: str,
        state: dict[str, Any],
        request: EditRequest,
        references: Sequence[PreparedReference],
        width: int,
        height: int,
    ) -> None:
        """Render and keep the job (a worker thread: neither the picture nor its files touch the event loop)."""
        self._save(job_id, state, render(request, list(references), width, height))

    # ------------------------------------------------------------------ protocol
    async def submit(self, request: EditRequest, references: Sequence[PreparedReference]) -> Submission:
        if "moderate" in request.prompt.lower().split():  # lets a designer see the moderated state offline
            raise ProviderError(
                "The sandbox flagged the prompt (it contains the word 'moderate'; not billed).",
                kind=ErrorKind.MODERATED,
                moderation_stage="input",
            )
        width, height = request.output_size(self.info.capabilities.max_pixels)
        job_id = uuid.uuid4().hex
        now = time.time()
        state = {
            "id": job_id,
            "submitted": now,
            "queued_until": now + self.latency * 0.2,
            "ready_at": now + self.latency,
            "seed": request.seed,
            "cancelled": False,
        }
        # The picture is made before the job id is handed out, so a job that exists can always finish
        # (after a crash too), as a real cloud's would.
        _WAITING[job_id] = (now, now + self.latency * 0.2)  # in line from the moment it is sent
        await asyncio.to_thread(self._make, job_id, state, request, list(references), width, height)
        return Submission(provider_job_id=job_id, handle={"id": job_id}, billed_usd=0.0)

    async def poll(self, handle: Mapping[str, Any]) -> PollResult:
        state = self._load(str(handle["id"]))
        if state.get("cancelled"):
            raise ProviderError("The sandbox job was cancelled.", kind=ErrorKind.PROVIDER)
        now = time.time()
        if now < state["queued_until"]:
            return PollResult("queued", queue_position=_position(str(handle["id"]), state, now))
        if now < state["ready_at"]:
            span = max(1e-6, state["ready_at"] - state["queued_until"])
            done = (now - state["queued_until"]) / span
            step = int(done * 50)
            return PollResult("running", progress=min(0.99, done), message=f"Simulating step {step}/50")
        image = await asyncio.to_thread(self._image, str(handle["id"]))
        if image is None:
            raise JobGone(
                "The sandbox lost the result (FlexStudio stopped while it was being made).",
                kind=ErrorKind.PROVIDER,
            )
        return PollResult(
            "done", progress=1.0, result=Result(images=(image,), seed=state.get("seed"), billed_usd=0.0)
        )

    async def download(self, url: str) -> bytes:
        raise ProviderError("The sandbox has nothing to download.", kind=ErrorKind.PROVIDER)

    async def cancel(self, handle: Mapping[str, Any]) -> bool:
        try:
            state = self._load(str(handle["id"]))
        except JobGone:
            return False
        state["cancelled"] = True
        self._save(str(handle["id"]), state)
        _WAITING.pop(str(handle["id"]), None)  # out of the line
        return True


def _write(path: Path, data: bytes) -> None:
    """Write via a temp file and rename: a reader never sees half a file. No fsync — this is simulated
    server state, not the user's history."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_bytes(data)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)  # nothing half-written is left behind
        full = exc.errno in (errno.ENOSPC, errno.EFBIG, getattr(errno, "EDQUOT", errno.ENOSPC))
        why = "the disk is full" if full else (exc.strerror or str(exc))
        raise ProviderError(
            f"The sandbox could not keep this job in {path.parent} ({why}).", kind=ErrorKind.PROVIDER
        ) from None


# ---------------------------------------------------------------------- the picture
def _rng(request: EditRequest, refs: Sequence[PreparedReference]) -> random.Random:
    key = "|".join(
        [
            str(request.seed),
            request.prompt,
            str(request.steps),
            f"{request.guidance:.2f}",
            *(r.source_sha256 for r in refs),
        ]
    )
    return random.Random(hashlib.sha256(key.encode()).digest())


def render(request: EditRequest, refs: Sequence[PreparedReference], width: int, height: int) -> bytes:
    """A deterministic stand-in for an edit: image 1 (cover-cropped) graded by the seed, the other
    references as inset tiles, soft light blobs, and a caption. Pure function of its inputs."""
    from PIL import Image, ImageDraw, ImageFilter, ImageOps

    rng = _rng(request, refs)
    if refs:
        with Image.open(io.BytesIO(refs[0].data)) as first:
            base = ImageOps.fit(first.convert("RGB"), (width, height), Image.Resampling.BILINEAR)
    else:
        h1 = rng.random()
        top = tuple(int(c * 255) for c in colorsys.hsv_to_rgb(h1, 0.55, 0.9))
        bottom = tuple(int(c * 255) for c in colorsys.hsv_to_rgb((h1 + 0.3) % 1, 0.6, 0.35))
        grad = Image.linear_gradient("L").resize((width, height))
        base = Image.composite(
            Image.new("RGB", (width, height), bottom), Image.new("RGB", (width, height), top), grad
        )
    # Seed-dependent colour grade: per-channel gains and a tint.
    gains = [0.75 + rng.random() * 0.5 for _ in range(3)]
    bands = [b.point(lambda v, g=g: min(255, int(v * g))) for b, g in zip(base.split(), gains, strict=True)]
    graded = Image.merge("RGB", bands)
    tint = tuple(int(c * 255) for c in colorsys.hsv_to_rgb(rng.random(), 0.5, 1.0))
    graded = Image.blend(graded, Image.new("RGB", (width, height), tint), 0.12 + rng.random() * 0.1)
    # Soft light blobs, placed by the seed.
    glow = Image.new("L", (width, height), 0)
    draw = ImageDraw.Draw(glow)
    for _ in range(6):
        r = int(min(width, height) * (0.05 + rng.random() * 0.12))
        x, y = int(rng.random() * width), int(rng.random() * height)
        draw.ellipse((x - r, y - r, x + r, y + r), fill=int(60 + rng.random() * 90))
    glow = glow.filter(ImageFilter.BoxBlur(max(2, min(width, height) // 40)))
    graded = Image.composite(Image.new("RGB", (width, height), (255, 244, 220)), graded, glow)
    # The other references as numbered inset tiles along the bottom edge.
    if len(refs) > 1:
        tile = max(32, min(width, height) // 6)
        pad = max(4, tile // 10)
        for i, ref in enumerate(refs[1:], start=2):
            with Image.open(io.BytesIO(ref.data)) as im:
                thumb = ImageOps.fit(im.convert("RGB"), (tile, tile), Image.Resampling.BILINEAR)
            x = pad + (i - 2) * (tile + pad)
            if x + tile > width:
                break
            graded.paste(ImageOps.expand(thumb, border=2, fill=(255, 255, 255)), (x, height - tile - pad - 4))
    caption = f"FlexStudio sandbox · seed {request.seed} · {request.steps} steps · g {request.guidance:g}"
    d = ImageDraw.Draw(graded)
    # Outlined text, not a black band: the result lines up with image 1 in the before/after views.
    d.text((6, 3), caption[: max(8, width // 6)], fill=(255, 255, 255), stroke_width=1, stroke_fill=(0, 0, 0))
    buf = io.BytesIO()
    fmt = request.output_format
    if fmt == "png":
        graded.save(buf, "PNG", compress_level=3)
    elif fmt == "webp":
        graded.save(buf, "WEBP", quality=90, method=2)
    else:
        graded.save(buf, "JPEG", quality=92)
    return buf.getvalue()
