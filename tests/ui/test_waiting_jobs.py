"""Interrupted jobs in the window: the job card and the history item say "Waiting for <provider> — will
fetch it" with Try again and Give up; the window fetches them at start, every few minutes and when a
request succeeds again; a round while the provider is unreachable never marks anything failed."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from flexstudio.core.errors import ErrorKind, ProviderError
from flexstudio.core.request import EditRequest
from flexstudio.providers.base import Capabilities, PollResult, ProviderInfo, Submission

from .conftest import run


def _handed_over(make_services: Any, qtbot: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    """A sandbox job the last window was running when it closed: interrupted, with its handle."""
    monkeypatch.setenv("FLEXSTUDIO_SANDBOX_LATENCY", "1.0")
    svc = make_services()
    rec = svc.runner.create(EditRequest(prompt="a lighthouse at dusk"))
    svc.runner.start(rec.id)
    qtbot.waitUntil(lambda: svc.history.get(rec.id).state == "running", timeout=10000)
    run(qtbot, svc.aclose())
    monkeypatch.setenv("FLEXSTUDIO_SANDBOX_LATENCY", "0")
    return rec.id


def test_a_waiting_job_in_the_history_can_be_tried_again_or_given_up(
    open_window: Any, make_services: Any, qtbot: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = _handed_over(make_services, qtbot, monkeypatch)
    second = _handed_over(make_services, qtbot, monkeypatch)
    w = open_window(make_services(), resume=False)
    model = w.history_model

    def rec(job_id: str) -> Any:
        return w.services.history.get(job_id)

    row = next(i for i in range(model.rowCount()) if model.record(i).id == first)
    from PySide6.QtCore import Qt

    tip = model.data(model.index(row, 0), Qt.ItemDataRole.ToolTipRole)
    assert "waiting for Sandbox, will fetch it" in tip and "Try again" in tip
    assert w.recovery.can_resume(first) and w.recovery.can_resume(second)
    w.history.giveUpRequested.emit(rec(second))
    assert rec(second).state == "cancelled" and "will not fetch it" in rec(second).message
    w.history.retryRequested.emit(rec(first))
    qtbot.waitUntil(lambda: rec(first).state == "succeeded", timeout=15000)
    assert rec(first).outputs and rec(first).submits == 1


def test_the_window_fetches_waiting_jobs_at_start(
    open_window: Any, make_services: Any, qtbot: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    job = _handed_over(make_services, qtbot, monkeypatch)
    w = open_window(make_services(), resume=True)
    qtbot.waitUntil(lambda: w.services.history.get(job).state == "succeeded", timeout=15000)
    assert w.recovery.timer.isActive()  # and again every few minutes while the window is open
    assert w.recovery.timer.interval() >= 60_000


def test_a_waiting_job_started_with_an_output_folder_is_written_there_at_start(
    open_window: Any, make_services: Any, qtbot: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    job = _handed_over(make_services, qtbot, monkeypatch)
    out = tmp_path / "asked"
    svc = make_services()
    svc.history.update(job, deliver_to=f"{out}/")  # as `flexstudio edit -o DIR/` stores it
    w = open_window(svc, resume=True)

    def delivered() -> list[Any]:  # the final name only: a temporary file shows first, then is renamed
        return sorted(out.glob(f"flexstudio-{job}*")) if out.is_dir() else []

    qtbot.waitUntil(
        lambda: len(delivered()) == 1 and w.services.history.get(job).state == "succeeded", timeout=15000
    )
    qtbot.waitUntil(lambda: len(list(out.iterdir())) == 1)  # and no temporary file is left behind


class Flaky:
    """A provider whose polls fail (a 502 its HTTP layer gave up on) until ``up`` is set."""

    up = False

    def __init__(self, info: ProviderInfo, ctx: Any) -> None:
        self.info = info

    async def submit(self, request: Any, references: Any) -> Submission:
        return Submission("flaky-1", {"id": "flaky-1"}, billed_usd=0.04)

    async def poll(self, handle: Any) -> PollResult:
        if not Flaky.up:
            raise ProviderError("Flaky did not answer (502).", kind=ErrorKind.NETWORK)
        from flexstudio.providers.base import Result

        return PollResult("done", result=Result(images=(_png(),)))

    async def download(self, url: str) -> bytes:
        raise AssertionError("not used")

    async def cancel(self, handle: Any) -> bool:
        return False


def _png() -> bytes:
    from .conftest import image_bytes

    return image_bytes(64, 64)


def test_a_job_card_waits_with_try_again_and_give_up(
    open_window: Any, make_services: Any, qtbot: Any
) -> None:
    Flaky.up = False
    svc = make_services()
    info = ProviderInfo(
        id="flaky",
        label="Flaky",
        protocol="test",
        capabilities=Capabilities(max_references=1),
        default_base_url="https://flaky.example",
        needs_key=False,
    ).bind(Flaky)
    svc.registry._infos["flaky"] = info
    w = open_window(svc, resume=False)
    rec = svc.runner.create(EditRequest(prompt="x", provider="flaky"))
    svc.runner.start(rec.id)
    qtbot.waitUntil(
        lambda: w.jobs_panel.card(rec.id) is not None and w.jobs_panel.card(rec.id).state == "interrupted",
        timeout=10000,
    )
    card = w.jobs_panel.card(rec.id)
    assert card.sentence.text() == "Waiting for Flaky — will fetch it."
    assert card.state_label.text().startswith("Waiting")
    assert card.retry.isVisibleTo(w) and card.give_up.isVisibleTo(w) and not card.cancel.isVisibleTo(w)
    assert "may still finish" in card.toolTip() and "$0.0400" in card.toolTip()
    # Still down: Try again leaves it waiting (never failed).
    card.retry.click()
    qtbot.waitUntil(lambda: not w.recovery.services.runner.active(), timeout=10000)
    assert svc.history.get(rec.id).state == "interrupted"
    Flaky.up = True
    card.retry.click()
    qtbot.waitUntil(lambda: svc.history.get(rec.id).state == "succeeded", timeout=10000)
    qtbot.waitUntil(lambda: not card.retry.isVisibleTo(w))


def test_a_round_while_offline_marks_nothing_failed(
    open_window: Any, make_services: Any, qtbot: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A BFL job sent to a host that no longer answers: the window's round leaves it waiting."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there: connection refused, as offline
    monkeypatch.setenv("BFL_API_KEY", "bfl_OFFLINE_0000")
    svc = make_services()

    async def no_wait(_s: float) -> None:
        return None

    svc.runner.sleep = no_wait
    url = f"http://127.0.0.1:{port}"
    rec = svc.history.create(EditRequest(prompt="on a train", provider="bfl"))
    svc.history.update(
        rec.id,
        state="interrupted",
        provider_job_id="b-1",
        submits=1,
        handle={"id": "b-1", "polling_url": f"{url}/v1/get_result?id=b-1"},
        endpoint={"profile": "bfl", "base_url": url},
        error_kind="network",
    )
    w = open_window(svc, resume=False)
    finished: list[tuple[int, int]] = []
    w.recovery.roundFinished.connect(lambda n, ok: finished.append((n, ok)))
    w.recovery.retry_all()
    qtbot.waitUntil(lambda: bool(finished), timeout=20000)
    assert finished == [(1, 0)]
    after = svc.history.get(rec.id)
    assert after.state == "interrupted" and after.handle and "may still finish" in after.error_message
