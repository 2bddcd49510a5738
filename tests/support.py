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
