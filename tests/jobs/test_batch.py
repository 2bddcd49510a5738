"""The batch scheduler against the BFL emulator over real HTTP: mixed inputs in the manifest, the spend
cap stopping at the right input, 429 storms slowing the batch without failing it, outputs never
overwriting, and a re-run that sends nothing twice."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from PIL import Image

from flexstudio.core.request import EditRequest
from flexstudio.jobs.batch import BatchScheduler
from flexstudio.jobs.batch_plan import batch_key, claim, expand, plan_items, stems
from flexstudio.jobs.runner import RunnerConfig
from flexstudio.services import Services
from flexstudio.storage.batches import BatchStore
from tests.emulators.base import Delivery, json_reply, make_bomb
from tests.emulators.bfl import BflEmulator
from tests.support import Sleeps, stop_all

KEY = "bfl_batch_test_key"


@pytest.fixture
def hosts():
    delivery = Delivery().start()
    made: list[BflEmulator] = []

    def make(cls=BflEmulator, **kw) -> BflEmulator:
        emu = cls(delivery, key=KEY, **kw).start()
        made.append(emu)
        return emu

    yield make
    stop_all(delivery, *made)


def _inputs(folder: Path, n: int, size=(320, 240)) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(n):
        p = folder / f"shot{i:02d}.png"
        Image.new("RGB", size, (i * 20 % 255, 120, 60)).save(p)
        out.append(p)
    return out


def _services(emu: BflEmulator, sleeps: Sleeps | None = None) -> Services:
    svc = Services.build(
        base_urls={"bfl": emu.url},
        env={"BFL_API_KEY": KEY},
        runner_config=RunnerConfig(poll_interval=0.01, max_poll_interval=0.02),
    )
    if sleeps is not None:
        svc.runner.sleep = sleeps
    return svc


def _batch(
    svc: Services,
    store: BatchStore,
    template: EditRequest,
    paths: list[Path],
    out: Path,
    *,
    max_bytes: int | None = None,
):
    kw = {"max_bytes": max_bytes} if max_bytes else {}
    items = plan_items(template, paths, lambda r: svc.quote(r).usd, **kw)
    return store.create(
        key=batch_key(template, [str(p) for p in paths], [], out),
        request=template,
        inputs=[str(p) for p in paths],
        extras=[],
        out_dir=str(out),
        items=items,
    )


def _writer(out: Path, svc: Services):
    def write(rec, it):
        o = rec.outputs[0]
        path = claim(out, it.stem, "jpg" if o.mime == "image/jpeg" else "png")
        path.write_bytes(svc.blobs.get(o.sha256))
        return str(path)

    return write


async def _run(svc, store, batch, *, limit=24, max_cost=None, sleep=None):
    sched = BatchScheduler(
        runner=svc.runner,
        store=store,
        batch=batch,
        extras=(),
        import_file=svc.import_reference_file,
        quote=lambda r: svc.quote(r).usd,
        write_output=_writer(Path(batch.out_dir), svc),
        limit=limit,
        max_cost=max_cost,
        sleep=sleep,
    )
    try:
        return await sched.run()
    finally:
        await svc.runner.aclose()


def _manifest(batch) -> list[dict]:
    return [json.loads(line) for line in batch.manifest_path.read_text().splitlines()]


def test_mixed_inputs_each_reported_in_the_manifest(hosts, tmp_path):
    emu = hosts()
    good = _inputs(tmp_path / "in", 3)
    (tmp_path / "in" / "corrupt.jpg").write_bytes(good[0].read_bytes()[:200])  # a PNG cut short, misnamed
    (tmp_path / "in" / "notes.png").write_text("not an image at all")
    big = tmp_path / "in" / "huge.png"
    Image.new("RGB", (1200, 1200)).save(big, compress_level=0)  # over the (test-sized) file limit
    (tmp_path / "in" / "bomb.png").write_bytes(make_bomb())  # 900 MP declared
    svc = _services(emu)
    store = BatchStore(svc.paths.batches_db)
    paths = expand([str(tmp_path / "in")], exclude=tmp_path / "out")
    template = EditRequest(prompt="warmer light", provider="bfl", seed=3)
    batch = _batch(svc, store, template, paths, tmp_path / "out", max_bytes=2 * 1024 * 1024)
    summary = asyncio.run(_run(svc, store, batch))

    lines = {Path(x["input"]).name: x for x in _manifest(batch)}
    assert set(lines) == {"bomb.png", "corrupt.jpg", "huge.png", "notes.png", *(p.name for p in good)}
    for p in good:
        row = lines[p.name]
        assert row["status"] == "succeeded" and row["error"] is None and row["job_id"]
        assert Path(row["output"]).name == p.stem + ".jpg" and Path(row["output"]).exists()
        assert row["quote_usd"] > 0 and row["billed_usd"] is not None and row["latency_s"] is not None
    for bad, words in (
        ("corrupt.jpg", "truncated"),
        ("notes.png", "not an image"),
        ("huge.png", "MB"),
        ("bomb.png", "pixels"),
    ):
        row = lines[bad]
        assert row["status"] == "failed" and row["job_id"] is None and row["output"] is None, row
        assert row["error"]["kind"] == "bad_input" and words in row["error"]["message"], row
    assert emu.accepted == 3 and emu.count("POST", "/v1/flux-2-flex") == 3  # nothing sent for bad inputs
    assert summary.n("succeeded") == 3 and summary.n("bad_input") == 4
    jobs = svc.history.list(group_id=batch.id)
    assert len(jobs) == 3 and {j.group_kind for j in jobs} == {"batch"}


def test_spend_cap_stops_launching_at_the_right_input(hosts, tmp_path):
    emu = hosts()
    paths = _inputs(tmp_path / "in", 6)
    svc = _services(emu)
    store = BatchStore(svc.paths.batches_db)
    template = EditRequest(prompt="cap me", provider="bfl", seed=1)
    batch = _batch(svc, store, template, paths, tmp_path / "out")
    each = store.items(batch.id)[0].quote_usd
    assert each and all(it.quote_usd == each for it in store.items(batch.id))
    summary = asyncio.run(_run(svc, store, batch, limit=1, max_cost=each * 2.5))

    statuses = [x["status"] for x in _manifest(batch)]
    assert statuses == ["succeeded", "succeeded", "cancelled", "cancelled", "cancelled", "cancelled"]
    assert emu.accepted == 2
    assert summary.stopped and "shot02.png" in summary.stopped and "--max-cost" in summary.stopped
    assert [it.status for it in store.items(batch.id)][2:] == ["not_launched"] * 4
    for line in _manifest(batch)[2:]:  # each unlaunched input is told about itself, not about shot02
        name = Path(line["input"]).name
        assert line["error"]["message"].startswith(
            f"{name} was not launched: the batch stopped at --max-cost"
        )
        assert "run the batch again" in line["error"]["message"]

    # Run again with a cap that covers the rest: only the four not launched are sent.
    svc2 = _services(emu)
    store2 = BatchStore(svc2.paths.batches_db)
    summary = asyncio.run(_run(svc2, store2, store2.get(batch.id), max_cost=each * 6.01))
    assert summary.n("succeeded") == 6 and emu.accepted == 6


def test_a_429_storm_slows_the_batch_down_without_failing_it(hosts, tmp_path):
    emu = hosts(max_active=2, latency_polls=2)  # the provider admits 2 at once; the batch asks for 6
    paths = _inputs(tmp_path / "in", 10)
    sleeps = Sleeps()
    svc = _services(emu, sleeps)
    store = BatchStore(svc.paths.batches_db)
    template = EditRequest(prompt="storm", provider="bfl", seed=9)
    batch = _batch(svc, store, template, paths, tmp_path / "out")
    waits: list[float] = []

    async def batch_sleep(seconds: float) -> None:
        waits.append(seconds)
        await asyncio.sleep(0)

    summary = asyncio.run(_run(svc, store, batch, limit=6, sleep=batch_sleep))

    assert summary.n("succeeded") == 10, summary.counts
    assert emu.accepted == 10  # each input created exactly one job at the provider
    refused = sum(1 for _req, status in emu.answers if status == 429)
    assert refused > 0 and summary.rate_limited > 0
    assert summary.limit_low < 6
    assert 5.0 in sleeps.waits  # the emulator's Retry-After: 5, honoured before trying again
    assert waits and max(waits) <= 5.0
    assert len(svc.history.list(group_id=batch.id)) == 10  # refused attempts leave no job behind
    outputs = sorted(p.name for p in (tmp_path / "out").glob("*.jpg"))
    assert outputs == [f"{p.stem}.jpg" for p in paths]


def test_outputs_are_named_after_inputs_and_never_overwrite(tmp_path):
    a = tmp_path / "a"
    b = tmp_path / "b"
    for d in (a, b):
        d.mkdir()
        Image.new("RGB", (16, 16)).save(d / "photo.png")
    Image.new("RGB", (16, 16)).save(a / "photo.jpg")
    Image.new("RGB", (16, 16)).save(a / "Photo.webp")
    paths = expand([str(a), str(b / "photo.png"), str(a / "*.png")], exclude=tmp_path / "out")
    assert [p.relative_to(tmp_path).as_posix() for p in paths] == [
        "a/photo.jpg",
        "a/photo.png",
        "a/Photo.webp",
        "b/photo.png",
    ]
    assert stems(paths) == ["photo", "photo-2", "Photo-3", "photo-4"]
    out = tmp_path / "out"
    out.mkdir()
    (out / "photo.jpg").write_bytes(b"someone else's file")
    first = claim(out, "photo", "jpg")
    assert first.name == "photo-2.jpg" and (out / "photo.jpg").read_bytes() == b"someone else's file"
    assert claim(out, "photo", "jpg").name == "photo-3.jpg"
    # A folder's own results are never its inputs on a re-run
    Image.new("RGB", (16, 16)).save(a / "result.png")
    assert all("out" not in p.parts for p in expand([str(tmp_path / "*" / "*.png")], exclude=out))


def test_contact_sheet_of_a_batch_pairs_before_and_after_with_captions(hosts, tmp_path):
    from flexstudio.storage.contact_sheet import batch_header, batch_pairs, render

    emu = hosts()
    paths = _inputs(tmp_path / "in", 3)
    (tmp_path / "in" / "broken.png").write_text("no")
    svc = _services(emu)
    store = BatchStore(svc.paths.batches_db)
    template = EditRequest(prompt="sheet", provider="bfl", seed=2)
    batch = _batch(svc, store, template, [*paths, tmp_path / "in" / "broken.png"], tmp_path / "out")
    asyncio.run(_run(svc, store, batch))
    pairs = batch_pairs(store, svc.history, batch.id)
    # the manifest sits beside the outputs with the same permissions (the user's umask), not owner-only
    assert batch.manifest_path.stat().st_mode & 0o044 == 0o044 & ~_umask()
    assert [p.caption.split(" — ")[0] for p in pairs] == [
        "shot00.png",
        "shot01.png",
        "shot02.png",
        "broken.png",
    ]
    assert pairs[0].after is not None and pairs[-1].after is None and "could not be used" in pairs[-1].caption
    assert "$" in pairs[0].caption
    header = batch_header(batch, pairs, provider_label="BFL", spent_usd=0.3)
    assert header[0] == "“sheet”" and "BFL · 50 steps" in header[1] and "seed 2" in header[1]
    assert header[2].startswith("3 of 4 inputs edited · $0.30 spent")
    sheet = render(pairs, tmp_path / "sheet.png", header=header, cell=128, per_row=1)
    assert sheet.pairs == 4 and sheet.pages == (tmp_path / "sheet.png",)
    # a sheet is a file like any other export: what the user's umask gives, not private to its owner
    assert sheet.path.stat().st_mode & 0o044 == 0o044 & ~_umask()
    with Image.open(sheet.path) as im:
        assert im.width == 16 * 2 + 128 * 2 + 16
        # the "after" cell of the first row holds the result's pixels, not the empty cell colour
        top = im.height - 4 * (128 + 28 + 16)
        assert im.getpixel((16 + 128 + 16 + 64, top + 64)) != (225, 225, 222)
    # many inputs: two pairs a row, pages of at most rows_per_page rows, named after the first
    many = render(pairs * 5, tmp_path / "short.jpg", header=header, cell=64, rows_per_page=3)
    assert many.pairs == 20 and [p.name for p in many.pages] == [
        "short.jpg",
        "short-2.jpg",
        "short-3.jpg",
        "short-4.jpg",
    ]
    with Image.open(many.pages[0]) as im:
        assert im.width == 16 + 2 * (64 * 2 + 16 + 32) - 16


def _umask() -> int:
    import os

    old = os.umask(0)
    os.umask(old)
    return old


def test_contact_sheet_text_has_no_missing_glyphs(tmp_path):
    """Every character of a caption is drawn from the font's own glyphs (a missing one would be a box)."""
    from flexstudio.storage.contact_sheet import _Text

    t = _Text(16)
    missing = t.glyph("\U0010fffd")
    text = t.safe("shot.png — succeeded · $0.10 · 1024×768 “quoted” …")
    assert all(ch.isascii() or t.glyph(ch) != missing for ch in text)
    assert t.fit("a" * 400, 100).endswith(t.safe("…")) and t.font.getlength(t.fit("a" * 400, 100)) <= 100
    assert len(t.wrap("word " * 200, 200, 2)) == 2


class Forgetful(BflEmulator):
    """Answers "Task not found" to every poll while ``forgetting`` (a cluster catching up): within the
    grace period that leaves a job interrupted with its handle."""

    forgetting = True

    def handle(self, req):
        if self.forgetting and req.method == "GET" and "get_result" in req.path:
            return json_reply({"id": req.q("id"), "status": "Task not found"})
        return super().handle(req)


def test_interrupted_inputs_are_fetched_on_the_next_run_never_sent_again(hosts, tmp_path):
    emu = hosts(Forgetful)
    paths = _inputs(tmp_path / "in", 3)
    svc = _services(emu)
    store = BatchStore(svc.paths.batches_db)
    template = EditRequest(prompt="wait for it", provider="bfl", seed=8)
    batch = _batch(svc, store, template, paths, tmp_path / "out")
    summary = asyncio.run(_run(svc, store, batch))
    assert summary.n("interrupted") == 3 and emu.accepted == 3
    assert all(x["status"] == "interrupted" and x["error"] for x in _manifest(batch))

    emu.forgetting = False
    svc2 = _services(emu)
    store2 = BatchStore(svc2.paths.batches_db)
    summary = asyncio.run(_run(svc2, store2, store2.get(batch.id)))
    assert summary.n("succeeded") == 3 and emu.accepted == 3  # fetched from their handles
    assert emu.count("POST", "/v1/flux-2-flex") == 3
    assert sorted(p.name for p in (tmp_path / "out").glob("*.jpg")) == [f"{p.stem}.jpg" for p in paths]


def test_an_extra_reference_is_uploaded_once_for_the_whole_batch(tmp_path):
    import os

    from tests.emulators.fal import DEFAULT_KEY, FalEmulator

    delivery = Delivery().start()
    emu = FalEmulator(delivery).start()
    try:
        paths = _inputs(tmp_path / "in", 4, size=(96, 64))  # small: they travel inside the request
        extra = tmp_path / "texture.png"
        Image.frombytes("RGB", (900, 900), os.urandom(900 * 900 * 3)).save(extra)  # far above inline size
        svc = Services.build(
            base_urls={"fal": emu.url},
            env={"FAL_KEY": DEFAULT_KEY},
            runner_config=RunnerConfig(poll_interval=0.01, max_poll_interval=0.02),
        )
        store = BatchStore(svc.paths.batches_db)
        ref = svc.import_reference_file(extra)
        template = EditRequest(prompt="put the texture of image 2 on image 1", provider="fal", seed=5)
        items = plan_items(template.with_(references=(ref,)), paths, lambda r: svc.quote(r).usd)
        out = tmp_path / "out"
        batch = store.create(
            key="k",
            request=template,
            inputs=[str(p) for p in paths],
            extras=[ref.sha256],
            out_dir=str(out),
            items=items,
        )
        sched = BatchScheduler(
            runner=svc.runner,
            store=store,
            batch=batch,
            extras=(ref,),
            import_file=svc.import_reference_file,
            quote=lambda r: svc.quote(r).usd,
            write_output=_writer(out, svc),
            limit=4,
        )

        async def go():
            try:
                return await sched.run()
            finally:
                await svc.aclose()

        summary = asyncio.run(go())
        assert summary.n("succeeded") == 4, summary.counts
        assert emu.accepted == 4 and emu.files.uploads == 1  # the extra once, for all four jobs
    finally:
        stop_all(emu, delivery)


def test_a_batch_keeps_its_connections_alive_across_jobs(hosts, tmp_path):
    """One HTTP client for the whole batch: against a provider that keeps connections open (as clouds
    do) the jobs reuse them instead of opening one per request."""
    emu = hosts(latency_polls=1)
    emu.keep_alive = True
    emu.delivery.keep_alive = True
    svc = _services(emu)
    store = BatchStore(svc.paths.batches_db)
    template = EditRequest(prompt="the same retouch", provider="bfl", seed=3)
    batch = _batch(svc, store, template, _inputs(tmp_path / "in", 12), tmp_path / "out")
    summary = asyncio.run(_run(svc, store, batch, limit=2))
    assert summary.n("succeeded") == 12, summary.counts
    requests = len(emu.requests)
    assert requests >= 12 * 3  # a submit and at least two polls each
    assert emu.connections <= 4, (emu.connections, requests)  # two at a time, each kept open
    assert emu.delivery.connections <= 4, emu.delivery.connections


def test_an_item_update_returns_the_row_written_and_touches_the_batch_once_a_second(tmp_path, monkeypatch):
    from flexstudio.storage import batches
    from flexstudio.storage.batches import NewItem

    store = BatchStore(tmp_path / "b.sqlite3")
    batch = store.create(
        key="k",
        request=EditRequest(prompt="p", provider="sandbox"),
        inputs=["a.png", "b.png"],
        extras=[],
        out_dir=str(tmp_path / "out"),
        items=[NewItem("a.png", "a"), NewItem("b.png", "b")],
    )
    clock = [1000.0]
    monkeypatch.setattr(batches.time, "time", lambda: clock[0])
    writes: list[str] = []
    execute = store.db.execute
    monkeypatch.setattr(
        store.db, "execute", lambda sql, p=(): (writes.append(sql.split()[1]), execute(sql, p))[1]
    )
    it = store.update_item(batch.id, 1, job_id="j1", status="running", quote_usd=0.25)
    assert (it.idx, it.input, it.job_id, it.status, it.quote_usd) == (1, "b.png", "j1", "running", 0.25)
    assert it == store.item(batch.id, 1)
    store.update_item(batch.id, 0, status="failed", error_message="no")
    assert writes.count("batches") == 1  # the second change within the second did not rewrite the batch
    clock[0] += batches.TOUCH_EVERY
    store.update_item(batch.id, 0, status="failed")
    assert writes.count("batches") == 2
    row = store.db.execute("SELECT updated_at FROM batches WHERE id=?", (batch.id,)).fetchone()
    assert row[0] == clock[0]
    with pytest.raises(KeyError):
        store.update_item(batch.id, 7, status="failed")
    with pytest.raises(TypeError):
        store.update_item(batch.id, 0, input="other.png")
    store.close()


def test_manifest_rewrites_read_only_the_items_still_moving(tmp_path, monkeypatch):
    from flexstudio.jobs.batch import write_manifest
    from flexstudio.storage.batches import BAD_INPUT, NewItem
    from flexstudio.storage.history import History

    history = History(tmp_path / "h.sqlite3")
    store = BatchStore(tmp_path / "b.sqlite3")
    n = 250  # more than one page of items
    batch = store.create(
        key="k",
        request=EditRequest(prompt="p", provider="sandbox"),
        inputs=[f"{i}.png" for i in range(n)],
        extras=[],
        out_dir=str(tmp_path / "out"),
        items=[NewItem(f"{i}.png", str(i)) for i in range(n - 1)]
        + [NewItem("bad.png", "bad", status=BAD_INPUT)],
    )
    jobs = []
    for i in range(n - 1):
        rec = history.create(EditRequest(prompt="p", seed=i, provider="sandbox"), group_id=batch.id)
        store.update_item(batch.id, i, job_id=rec.id, status="queued")
        jobs.append(rec.id)
    for i in range(0, n - 1, 2):  # half of them have finished
        history.update(jobs[i], state="submitting")
        history.update(jobs[i], state="running")
        history.update(jobs[i], state="failed", error_message="no")
        store.update_item(batch.id, i, status="failed", error_message="no")
    read: list[str] = []
    get_many = history.get_many
    monkeypatch.setattr(history, "get_many", lambda ids: (read.extend(ids), get_many(ids))[1])
    settled: dict[int, str] = {}
    first = write_manifest(store, history, batch, settled).read_text().splitlines()
    assert len(read) == n - 1 and len(first) == n
    assert len(settled) == (n - 1 + 1) // 2 + 1  # the failed ones and the refused input
    read.clear()
    history.update(jobs[1], state="submitting")
    second = write_manifest(store, history, batch, settled).read_text().splitlines()
    assert sorted(read) == sorted(jobs[1::2])  # only the jobs still moving were read again
    assert [json.loads(x)["input"] for x in second] == [f"{i}.png" for i in range(n - 1)] + ["bad.png"]
    assert json.loads(second[0])["status"] == "failed" and json.loads(second[-1])["status"] == "failed"
    assert second == write_manifest(store, history, batch).read_text().splitlines()  # same as read whole
    store.close()
    history.close()


def test_contact_sheet_without_a_system_font_spells_what_pillows_own_font_lacks(monkeypatch):
    from flexstudio.storage import contact_sheet

    monkeypatch.setattr(contact_sheet, "FONT_FILES", ())
    t = contact_sheet._Text(16)
    missing = t.glyph("\U0010fffd")
    text = t.safe("shot.png — succeeded · 1024×768")
    assert t.glyph("—") == missing  # Pillow's own font has no em dash…
    assert "—" not in text and "shot.png - succeeded" in text  # …so it is spelt in ASCII, never a box
    assert all(ch.isascii() or t.glyph(ch) != missing for ch in text)
