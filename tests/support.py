"""Small helpers the provider tests share."""

from __future__ import annotations

import threading


class Sleeps:
    """An injected sleep that records the waits instead of sleeping (retry and poll waits are asserted,
    never slept)."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def stop_all(*servers) -> None:
    """Stop several emulators at once (each stop waits for its server loop)."""
    threads = [threading.Thread(target=s.stop) for s in servers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def reference(w: int = 256, h: int = 256, color=(10, 200, 30)):
    """A JPEG reference as the job runner hands it to a provider: (ImageRef, PreparedReference)."""
    import hashlib

    from flexstudio.core.request import ImageRef
    from flexstudio.providers.base import PreparedReference
    from tests.emulators.base import make_image

    data = make_image(w, h, "JPEG", color)
    sha = hashlib.sha256(data).hexdigest()
    return ImageRef(sha, w, h, mime="image/jpeg"), PreparedReference(data, "image/jpeg", w, h, sha)


async def run_to_done(provider, request, refs, max_polls: int = 30):
    """submit → poll until done → download (what the job runner does, minus persistence).
    Returns (submission, polls, downloaded images)."""
    sub = await provider.submit(request, refs)
    polls = []
    for _ in range(max_polls):
        polls.append(await provider.poll(sub.handle))
        if polls[-1].state == "done":
            break
    else:
        raise AssertionError(f"not done after {max_polls} polls")
    result = polls[-1].result
    assert result is not None
    return sub, polls, [await provider.download(u) for u in result.urls]
