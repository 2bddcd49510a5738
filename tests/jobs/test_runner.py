"""The job runner: history written before every step, one event stream, cancel, resume after a crash."""

from __future__ import annotations

import asyncio
import io

import pytest
from PIL import Image

from flexstudio.core.errors import ErrorKind, JobGone, ProviderError
from flexstudio.core.request import EditRequest
from flexstudio.jobs.runner import RunnerConfig
from flexstudio.providers.base import (
    Capabilities,
    ModerationBilling,
    PollResult,
    ProviderInfo,
    Result,
    Submission,
)
from flexstudio.services import Services
from flexstudio.storage.paths import default_paths


def _png(color=(200, 30, 30), size=(320, 240)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, color).save(buf, "PNG")
    return buf.getvalue()


class Scripted:
    """A provider whose answers a test scripts: each poll pops the next item (a PollResult or an error)."""

    def __init__(self, info, ctx, script):
        self.info, self.ctx, self.script = info, ctx, script
        self.submits = 0
        self.cancelled = []

    async def submit(self, request, references):
        self.submits += 1
        first = self.script.get("submit")
        if isinstance(first, BaseException):
            raise first
        return Submission("prov-1", {"poll": "https://api.example/poll/1"}, billed_usd=first)

    async def poll(self, handle):
        item = self.script["polls"].pop(0)
        if isinstance(item, BaseException):
            raise item
        if item == "hang":
            await asyncio.Event().wait()
        return item

    async def download(self, url):
        return self.script["download"]

    async def cancel(self, handle):
        self.cancelled.append(handle)
        return True


def _services(script, *, needs_key=False, can_cancel=True, moderation=ModerationBilling.UNKNOWN):
    svc = Services.build(runner_config=RunnerConfig(poll_interval=0.001))
    holder = {}

    def factory(ctx):
        holder["p"] = Scripted(info, ctx, script)
        return holder["p"]

    info = ProviderInfo(
        id="scripted",
        label="Scripted",
        protocol="test",
        capabilities=Capabilities(
            max_references=2, can_cancel=can_cancel, formats=("jpeg", "png"), moderation_billing=moderation
        ),
        default_base_url="https://api.example",
        env_var="SCRIPTED_KEY",
        needs_key=needs_key,
        factory=factory,
    )
    svc.registry._infos["scripted"] = info
    return svc, holder


def _run(coro):
    return asyncio.run(coro)


def _reached(svc, job_id, state) -> asyncio.Event:
    """An event set when the runner publishes ``state`` for the job (no polling, no sleeps)."""
    ev = asyncio.Event()
    svc.bus.subscribe(lambda e: ev.set() if e.job_id == job_id and e.state == state else None)
    return ev


def test_sandbox_job_runs_to_success_with_history_written_at_every_step():
    svc = Services.build()
    ref = svc.import_reference(_png(), "red.png")
    states = []
    seen_in_history = []

    def on_event(ev):
        states.append(ev.state)
        seen_in_history.append(svc.history.get(ev.job_id).state)

    svc.bus.subscribe(on_event)

    async def go():
        try:
            return await svc.runner.run(
                EditRequest(
                    prompt="make it blue", references=(ref,), seed=3, size=(256, 192), output_format="png"
                )
            )
        finally:
            await svc.aclose()

    rec = _run(go())
    assert rec.state == "succeeded", rec.error_message
    assert states[0] == "queued" and states[-1] == "succeeded"
    assert "submitting" in states and "downloading" in states
    # every event was published after its state was already in history
    assert all(s == h or s == "running" for s, h in zip(states, seen_in_history, strict=True))
    out = rec.outputs[0]
    assert (out.width, out.height, out.mime) == (256, 192, "image/png")
    with Image.open(svc.blobs.path(out.sha256)) as im:
        assert im.size == (256, 192)
    assert rec.submits == 1 and rec.quote_usd == 0 and rec.latency_s is not None


def test_sandbox_is_deterministic_and_seed_sensitive():
    def once(seed):
        svc = Services.build()
        ref = svc.import_reference(_png((10, 120, 40)), "g.png")

        async def go():
            try:
                rec = await svc.runner.run(
                    EditRequest(prompt="p", references=(ref,), seed=seed, size=(128, 128))
                )
                return svc.blobs.get(rec.outputs[0].sha256)
            finally:
                await svc.aclose()

        return _run(go())

    assert once(7) == once(7)
    assert once(7) != once(8)


def test_after_the_submit_only_the_providers_verdict_is_terminal():
    """Moderation and a documented failure end the job; any other fault leaves it interrupted, with its
    handle and the amount billed, for resume to fetch."""
    from flexstudio.core.errors import verdict

    for err, state, kind in [
        (
            ProviderError("flagged", kind=ErrorKind.MODERATED, moderation_stage="output"),
            "moderated",
            "moderated",
        ),
        (verdict(ProviderError("Error: the worker failed", kind=ErrorKind.PROVIDER)), "failed", "provider"),
        (ProviderError("key revoked (401)", kind=ErrorKind.AUTH), "interrupted", "auth"),
        (JobGone("gone"), "interrupted", "expired"),  # within the grace period: it may be catching up
        (OSError(28, "No space left on device"), "interrupted", "provider"),
        (RuntimeError("a bug"), "interrupted", "provider"),
    ]:
        svc, holder = _services({"submit": 0.05, "polls": [PollResult("running", progress=0.5), err]})

        async def go(svc=svc):
            try:
                return await svc.runner.run(EditRequest(prompt="x", provider="scripted"))
            finally:
                await svc.aclose()

        rec = _run(go())
        assert (rec.state, rec.error_kind) == (state, kind), rec.error_message
        assert rec.provider_job_id == "prov-1"
        # the scripted provider does not say whether moderation is billed: the reported cost stands
        assert rec.billed_usd == 0.05
        assert holder["p"].submits == 1
        if state == "moderated":
            assert rec.message.startswith("Moderated — billing unknown (Scripted does not say")
        if state == "interrupted":
            assert rec.handle and rec.owner is None and "may still finish" in rec.error_message
            assert "Billed so far: $0.0500" in rec.error_message
            assert rec.message == "Waiting for Scripted — will fetch it."


@pytest.mark.parametrize(
    ("billing", "billed", "words"),
    [
        (ModerationBilling.NOT_BILLED, 0.0, "not billed"),  # BFL: "Not charged"
        (ModerationBilling.MAY_BILL, None, "may be billed"),  # fal: a 422 after GPU time may be charged
        (ModerationBilling.UNKNOWN, None, "billing unknown"),  # the provider does not say
    ],
)
def test_moderation_is_booked_by_the_providers_billing_rule(billing, billed, words):
    err = ProviderError("flagged", kind=ErrorKind.MODERATED, moderation_stage="output")
    svc, _ = _services({"submit": None, "polls": [err]}, moderation=billing)

    async def go():
        try:
            rec = await svc.runner.run(EditRequest(prompt="x", provider="scripted"))
            svc.history.update(rec.id, quote_usd=0.05)
            return rec, svc.history.spend_since(0)
        finally:
            await svc.aclose()

    rec, spent = _run(go())
    assert rec.state == "moderated" and rec.billed_usd == billed
    assert rec.message.startswith(f"Moderated — {words}")
    # the ledger counts the quote of a moderated job whose bill is not known, and nothing when not billed
    assert spent == pytest.approx(0.0 if billed == 0.0 else 0.05)


def test_a_failed_poll_is_asked_again_inside_the_run():
    """5xx, a malformed answer, a rate limit: the poll is repeated (backoff, Retry-After) and the job
    finishes in the same run."""
    done = PollResult("done", result=Result(urls=("https://cdn/x",)))
    svc, holder = _services(
        {
            "submit": None,
            "download": _png(),
            "polls": [
                ProviderError("Scripted failed on its side (500)"),
                ProviderError("Scripted sent an answer that is not valid JSON"),
                ProviderError("slow down", kind=ErrorKind.RATE_LIMITED, retry_after=7.0),
                done,
            ],
        }
    )
    waits = []

    async def sleep(s):
        waits.append(s)

    svc.runner.sleep = sleep

    async def go():
        try:
            return await svc.runner.run(EditRequest(prompt="x", provider="scripted"))
        finally:
            await svc.aclose()

    rec = _run(go())
    assert rec.state == "succeeded" and holder["p"].submits == 1
    assert 7.0 in waits and len(waits) == 3


def test_unknown_job_after_the_grace_period_is_expired():
    from flexstudio.jobs import recovery
    from flexstudio.storage.history import JobRecord

    rec = JobRecord(
        id="j",
        created_at=0.0,
        updated_at=0.0,
        provider="bfl",
        state="running",
        request=EditRequest(prompt="x"),
        handle={"id": "p"},
        provider_job_id="p",
        submitted_at=1000.0,
    )
    early = recovery.decide(rec, JobGone("BFL no longer knows this job."), "BFL", now=1000.0 + 60)
    late = recovery.decide(
        rec, JobGone("BFL no longer knows this job."), "BFL", now=1000.0 + recovery.GRACE_S + 1
    )
    assert early.state == "interrupted" and late.state == "failed"
    assert late.changes["error_kind"] == "expired" and "p is kept" in late.changes["error_message"]


def test_missing_key_fails_before_any_request():
    svc, holder = _services({"polls": []}, needs_key=True)

    async def go():
        try:
            return await svc.runner.run(EditRequest(prompt="x", provider="scripted"))
        finally:
            await svc.aclose()

    rec = _run(go())
    assert rec.state == "failed" and rec.error_kind == "bad_input"  # a missing key is bad input everywhere
    assert "Settings" in rec.error_message and "SCRIPTED_KEY" in rec.error_message
    assert "p" not in holder or holder["p"].submits == 0


def test_a_web_page_in_place_of_the_image_stays_resumable():
    svc, _ = _services(
        {
            "submit": None,
            "polls": [PollResult("done", result=Result(urls=("https://cdn/x",)))],
            "download": b"<html>Log in to the train's wifi</html>",
        }
    )

    async def go():
        try:
            return await svc.runner.run(EditRequest(prompt="x", provider="scripted"))
        finally:
            await svc.aclose()

    rec = _run(go())
    assert rec.state == "interrupted" and "web page" in rec.error_message and rec.handle


def test_a_result_that_is_not_an_image_fails_clearly():
    svc, _ = _services(
        {
            "submit": None,
            "polls": [PollResult("done", result=Result(urls=("https://cdn/x",)))],
            "download": b"\x00\x01 not an image at all",
        }
    )

    async def go():
        try:
            return await svc.runner.run(EditRequest(prompt="x", provider="scripted"))
        finally:
            await svc.aclose()

    rec = _run(go())
    assert rec.state == "failed" and "not a usable image" in rec.error_message and rec.outputs == ()


def test_cancel_calls_the_provider_and_ends_cancelled():
    svc, holder = _services({"submit": None, "polls": ["hang"]})

    async def go():
        try:
            rec = svc.runner.create(EditRequest(prompt="x", provider="scripted"))
            running = _reached(svc, rec.id, "running")
            task = svc.runner.start(rec.id)
            await running.wait()
            assert svc.runner.cancel(rec.id)
            return await task
        finally:
            await svc.aclose()

    rec = _run(go())
    assert rec.state == "cancelled" and holder["p"].cancelled == [{"poll": "https://api.example/poll/1"}]
    assert "may still bill" in rec.message


def test_spend_cap_refuses_before_anything_is_written():
    from flexstudio.core.errors import SpendCapExceeded

    svc, _ = _services({"polls": []})
    svc.guard.caps.session_stop = 0.10
    svc.runner.quoter = lambda req: (0.15, {"usd": 0.15})
    with pytest.raises(SpendCapExceeded, match=r"over your limit of \$0.10"):
        svc.runner.create(EditRequest(prompt="x", provider="scripted"))
    assert svc.history.count() == 0
    svc.history.close()


def test_resume_finishes_running_jobs_and_settles_the_rest(monkeypatch):
    # A first "process" submits a sandbox job and dies while it runs.
    monkeypatch.setenv("FLEXSTUDIO_SANDBOX_LATENCY", "0.05")
    svc = Services.build()

    async def first():
        rec = svc.runner.create(EditRequest(prompt="resume me", seed=1, size=(128, 128)))
        running = _reached(svc, rec.id, "running")
        task = svc.runner.start(rec.id)
        await running.wait()
        task.cancel()  # the app quitting: the job is handed over as interrupted, with its handle
        await asyncio.gather(task, return_exceptions=True)
        return rec.id

    running_id = _run(first())
    assert svc.history.get(running_id).state == "interrupted" and svc.history.get(running_id).handle
    sending = svc.history.create(EditRequest(prompt="was sending", seed=2))
    svc.history.update(sending.id, state="submitting")
    never_sent = svc.history.create(EditRequest(prompt="never sent", seed=3))
    svc.history.close()

    svc2 = Services.build()

    async def second():
        try:
            return await svc2.runner.resume_unfinished()
        finally:
            await svc2.aclose()

    done = {r.id: r for r in _run(second())}
    assert done[running_id].state == "succeeded" and done[running_id].outputs
    assert done[sending.id].state == "interrupted" and "not sent again" in done[sending.id].error_message
    assert (
        done[never_sent.id].state == "interrupted"
        and "nothing was billed" in done[never_sent.id].error_message
    )
    h = Services.build().history
    assert h.integrity_check() == "ok" and not h.unfinished()
    assert default_paths().history_db.exists()


def test_a_group_is_checked_and_priced_as_a_whole_and_keeps_its_parent():
    from flexstudio.core.errors import SpendCapExceeded
    from flexstudio.storage.settings import CustomEndpoint

    svc = Services.build()
    svc.registry.add_custom(
        CustomEndpoint("my-gw", "My gateway", "bfl", "https://gw.example", {"auth": "bearer"})
    )
    # a user-defined BFL-compatible endpoint is priced by BFL's rule, not "unknown"
    assert svc.quote(EditRequest(prompt="x", provider="my-gw", size=(1024, 1024))).usd == 0.05
    parent = svc.history.create(EditRequest(prompt="root"))
    recs = svc.runner.create_group(
        [EditRequest(prompt="x", seed=1), EditRequest(prompt="x", seed=2)], "sweep", parent_job_id=parent.id
    )
    assert {r.group_id for r in recs} != {None} and len({r.group_id for r in recs}) == 1
    assert [r.parent_job_id for r in recs] == [parent.id, parent.id]
    svc.guard.caps.session_stop = 0.12
    before = svc.history.count()
    with pytest.raises(SpendCapExceeded):
        svc.runner.create_group(
            [EditRequest(prompt="x", provider="fal", size=(1024, 1024))] * 3, "comparison"
        )
    assert svc.history.count() == before  # nothing of the group was written
    svc.history.close()


def test_a_job_left_downloading_resumes_through_legal_transitions_only():
    """A crash while the result was being fetched: resume asks the provider again without moving the job
    back to running (a job never goes back), then finishes it."""
    from flexstudio.core.job_state import JobState, transition

    svc, holder = _services(
        {
            "polls": [PollResult("done", result=Result(urls=("https://cdn.example/x.png",)))],
            "download": _png(),
        }
    )
    rec = svc.history.create(EditRequest(prompt="was downloading", provider="scripted", seed=4))
    for state in (JobState.SUBMITTING, JobState.RUNNING, JobState.DOWNLOADING):
        svc.history.update(rec.id, state=state.value)
    svc.history.update(rec.id, provider_job_id="prov-1", handle={"poll": "https://api.example/poll/1"})
    seen: list[JobState] = []
    svc.bus.subscribe(lambda e: seen.append(e.state) if e.job_id == rec.id else None)
    written: list[str] = []  # every state the runner writes to history, in order
    update = svc.history.update

    def recording_update(job_id, **changes):
        if "state" in changes:
            written.append(changes["state"])
        return update(job_id, **changes)

    svc.history.update = recording_update

    async def go():
        try:
            return await svc.runner.resume_unfinished()
        finally:
            await svc.aclose()

    (done,) = _run(go())
    assert done.state == JobState.SUCCEEDED and done.outputs
    assert holder["p"].submits == 0  # never sent again
    current = JobState.DOWNLOADING
    for state in written:
        current = transition(current, state)  # raises on a transition the state machine forbids
    assert current == JobState.SUCCEEDED and JobState.RUNNING not in seen


def test_a_group_leaves_the_runners_spend_guard_as_it_was():
    svc = Services.build()
    guard = svc.runner.guard
    svc.runner.create_group([EditRequest(prompt="x", seed=1), EditRequest(prompt="x", seed=2)], "sweep")
    assert svc.runner.guard is guard  # checked once for the group, never switched off
    svc.history.close()
