"""The sandbox keeps a job in its folder like a cloud keeps it: the picture is made and stored in a worker
thread before the id is handed out, a poll reads the small state only (the picture once the job is done),
and another process (a new provider object on the same folder) finishes it."""

from __future__ import annotations

import asyncio
import io
import threading
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from flexstudio.core.errors import JobGone, ProviderError
from flexstudio.core.images import PreparedReference
from flexstudio.core.request import EditRequest
from flexstudio.providers.base import ProviderContext
from flexstudio.providers.registry import Registry


def _sandbox(folder: Path | None, latency: float) -> Any:
    info = Registry().get("sandbox")
    ctx = ProviderContext(
        client=None, options={"latency": latency}, state_dir=str(folder) if folder else None
    )
    return info.create(ctx)


def _ref() -> PreparedReference:
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (30, 120, 200)).save(buf, "PNG")
    return PreparedReference(buf.getvalue(), "image/png", 64, 48, "1" * 64)


@pytest.mark.parametrize("kept", [True, False], ids=["folder", "memory"])
def test_a_job_is_made_off_the_loop_and_its_picture_read_only_when_done(
    tmp_path: Path, monkeypatch: Any, kept: bool
) -> None:
    folder = tmp_path / "sandbox" if kept else None
    sb = _sandbox(folder, latency=60)
    made_on: list[int] = []
    make = sb._make
    monkeypatch.setattr(sb, "_make", lambda *a: (made_on.append(threading.get_ident()), make(*a))[1])
    images: list[str] = []
    image = sb._image
    monkeypatch.setattr(sb, "_image", lambda job_id: (images.append(job_id), image(job_id))[1])

    async def go() -> Any:
        sub = await sb.submit(EditRequest(prompt="warmer", seed=3, provider="sandbox"), [_ref()])
        first = await sb.poll(sub.handle)
        return sub, first, threading.get_ident()

    sub, first, loop_thread = asyncio.run(go())
    assert made_on and made_on[0] != loop_thread  # rendered and stored in a worker thread
    assert first.state == "queued" and images == []  # not done: the picture is not read
    if kept:
        assert sorted(p.suffix for p in folder.iterdir()) == [".img", ".json"]
    # later (or in another process, from the same folder): done, with the picture
    later = _sandbox(folder, latency=0) if kept else sb
    state = later._load(sub.handle["id"])
    state["ready_at"] = state["queued_until"] = 0
    later._save(sub.handle["id"], state)
    done = asyncio.run(later.poll(sub.handle))
    assert done.state == "done" and done.result is not None
    with Image.open(io.BytesIO(done.result.images[0])) as im:
        assert im.size[0] > 0
    assert asyncio.run(later.cancel(sub.handle))
    with pytest.raises(ProviderError, match="cancelled"):
        asyncio.run(later.poll(sub.handle))


def test_a_lost_job_or_picture_is_said_so(tmp_path: Path) -> None:
    sb = _sandbox(tmp_path, latency=0)
    with pytest.raises(JobGone):
        asyncio.run(sb.poll({"id": "nope"}))
    sub = asyncio.run(sb.submit(EditRequest(prompt="x", seed=1, provider="sandbox"), [_ref()]))
    (tmp_path / f"{sub.handle['id']}.img").unlink()
    with pytest.raises(JobGone, match="lost the result"):
        asyncio.run(sb.poll(sub.handle))
    assert not asyncio.run(sb.cancel({"id": "nope"}))


def test_jobs_sent_together_wait_at_distinct_places_in_the_queue() -> None:
    sb = _sandbox(None, latency=600)
    req = EditRequest(prompt="warmer", seed=3, provider="sandbox")

    async def go() -> tuple[list[Any], list[Any], Any]:
        subs = [await sb.submit(req, [_ref()]) for _ in range(3)]
        polls = [await sb.poll(s.handle) for s in reversed(subs)][::-1]  # asked in any order
        await sb.cancel(subs[0].handle)  # a job that leaves the line moves the later ones up
        return subs, polls, await sb.poll(subs[2].handle)

    _subs, polls, after = asyncio.run(go())
    first = polls[0].queue_position or 0  # (behind any job still waiting from an earlier test)
    assert first >= 1 and [(p.state, p.queue_position) for p in polls] == [
        ("queued", first),
        ("queued", first + 1),
        ("queued", first + 2),
    ]
    assert after.queue_position == first + 1
