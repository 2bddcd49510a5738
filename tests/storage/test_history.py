"""History: rows survive, migrate, search and filter; blobs are written atomically."""

from __future__ import annotations

import sqlite3

import pytest

from flexstudio.core.request import EditRequest
from flexstudio.storage.blobs import BlobStore
from flexstudio.storage.history import History, Output
from flexstudio.storage.history_schema import MIGRATIONS, SCHEMA_VERSION


@pytest.fixture
def history(tmp_path):
    h = History(tmp_path / "h.sqlite3")
    yield h
    h.close()


def test_create_update_and_reopen(tmp_path):
    path = tmp_path / "h.sqlite3"
    h = History(path)
    req = EditRequest(prompt="a red chair", seed=5, provider="sandbox")
    rec = h.create(req, quote_usd=0.15, quote={"usd": 0.15})
    assert rec.state == "queued" and rec.request == req and rec.quote == {"usd": 0.15}
    h.update(rec.id, state="submitting", submits=1)
    h.update(rec.id, state="running", provider_job_id="p-1", handle={"polling_url": "https://x/1"})
    out = Output("f" * 64, "image/png", 1024, 1024)
    h.update(rec.id, state="succeeded", outputs=[out], billed_usd=0.1, latency_s=1.5)
    h.close()
    h2 = History(path)  # survives a restart
    got = h2.get(rec.id)
    assert got.state == "succeeded" and got.outputs == (out,) and got.handle == {"polling_url": "https://x/1"}
    assert got.provider_job_id == "p-1" and got.billed_usd == 0.1 and got.submits == 1
    assert h2.get(rec.id[:6]).id == rec.id  # a unique prefix finds the job
    assert h2.integrity_check() == "ok"
    h2.close()


def test_create_and_update_are_one_statement_each_and_return_the_row_written(history, monkeypatch):
    statements: list[str] = []
    execute = history.db.execute
    monkeypatch.setattr(
        history.db, "execute", lambda sql, p=(): (statements.append(sql.split()[0]), execute(sql, p))[1]
    )
    rec = history.create(EditRequest(prompt="a chair", seed=3, provider="sandbox"), quote_usd=0.2)
    assert statements == ["INSERT"] and rec.state == "queued" and rec.quote_usd == 0.2
    got = history.update(rec.id, state="submitting", submits=1, handle={"id": "h"})
    assert statements == ["INSERT", "UPDATE"]  # a job's change on the event loop: no read after it
    assert got == history.get(rec.id) and got.state == "submitting" and got.handle == {"id": "h"}
    # an id that is only a prefix updates nothing and is answered as get answers it
    assert history.update(rec.id[:6], message="x").message != "x"
    with pytest.raises(KeyError):
        history.update("nope", message="x")


def test_get_many_reads_the_given_jobs_by_exact_id(history):
    ids = [history.create(EditRequest(prompt=f"p{i}", seed=i, provider="sandbox")).id for i in range(3)]
    history.update(ids[1], state="submitting")
    got = history.get_many([ids[1], "missing", ids[0], ids[1], ids[1][:6]])
    assert set(got) == {ids[0], ids[1]}  # no prefix match, nothing for an unknown id
    assert got[ids[1]].state == "submitting" and got[ids[0]].request.prompt == "p0"
    many = [history.create(EditRequest(prompt="x", seed=i, provider="sandbox")).id for i in range(1200)]
    assert set(history.get_many(many)) == set(many)  # more ids than one statement binds
    assert history.get_many([]) == {}


def test_list_is_newest_first_with_search_and_filters(history):
    a = history.create(EditRequest(prompt="blue sky over 100% cotton", provider="fal"))
    b = history.create(EditRequest(prompt="red car", provider="sandbox"))
    history.update(b.id, state="succeeded", favourite=True)
    assert [r.id for r in history.list()] == [b.id, a.id]
    assert [r.id for r in history.list(search="sky")] == [a.id]
    assert [r.id for r in history.list(search="100%")] == [a.id]  # LIKE wildcards are escaped
    assert [r.id for r in history.list(search="_")] == []
    assert [r.id for r in history.list(provider="sandbox")] == [b.id]
    assert [r.id for r in history.list(states=["succeeded"])] == [b.id]
    assert [r.id for r in history.list(favourite=True)] == [b.id]
    assert history.count() == 2
    assert [r.id for r in history.unfinished()] == [a.id]


def test_soft_delete_and_undo(history):
    rec = history.create(EditRequest(prompt="x"))
    history.delete(rec.id)
    assert history.count() == 0
    history.restore(rec.id)
    assert history.count() == 1


def test_migrates_a_version_1_database_keeping_its_jobs(tmp_path):
    path = tmp_path / "old.sqlite3"
    db = sqlite3.connect(path)
    db.executescript(MIGRATIONS[0])
    db.execute("PRAGMA user_version=1")
    db.execute(
        "INSERT INTO jobs (id, created_at, updated_at, provider, state, request_json) VALUES (?,?,?,?,?,?)",
        ("old1", 1.0, 1.0, "bfl", "succeeded", EditRequest(prompt="old job", provider="bfl").to_json()),
    )
    db.commit()
    db.close()
    h = History(path)
    assert h.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    old = h.get("old1")
    assert old.request.prompt == "old job" and old.group_id is None and old.winner is False
    h.update("old1", group_id="g1")
    assert h.get("old1").group_id == "g1"
    assert h.integrity_check() == "ok"
    h.close()


def test_refuses_a_newer_database(tmp_path):
    path = tmp_path / "new.sqlite3"
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    db.close()
    from flexstudio.storage.faults import StorageFault

    with pytest.raises(StorageFault, match="newer FlexStudio"):  # a sentence for the user, not a crash
        History(path)


def test_spend_counts_billed_else_quoted_for_jobs_that_ran(history):
    a = history.create(EditRequest(prompt="a"), quote_usd=0.15)
    history.update(a.id, state="succeeded", billed_usd=0.12)
    b = history.create(EditRequest(prompt="b"), quote_usd=0.20)
    history.update(b.id, state="moderated", billed_usd=0.0)  # moderated on a provider that does not bill it
    m = history.create(EditRequest(prompt="m"), quote_usd=0.10)
    history.update(m.id, state="moderated")  # moderated where the bill is not known: the quote counts
    history.create(EditRequest(prompt="c"), quote_usd=0.05)  # queued: about to be spent
    assert history.spend_since(0) == pytest.approx(0.27)


def test_blobs_are_content_addressed_and_atomic(tmp_path):
    store = BlobStore(tmp_path / "blobs")
    sha = store.put(b"\x89PNG fake", "image/png")
    assert store.path(sha).name == f"{sha}.png" and store.get(sha) == b"\x89PNG fake"
    assert store.put(b"\x89PNG fake", "image/png") == sha  # written once
    leftovers = [p for p in (tmp_path / "blobs").rglob("*") if p.name.startswith(".tmp-")]
    assert leftovers == []
    with pytest.raises(FileNotFoundError, match="missing"):
        store.path("0" * 64)


def test_keyset_pages_walk_the_whole_history_once(history):
    from flexstudio.core.request import EditRequest as R

    history.bulk_insert((R(prompt=f"job {i}"), "succeeded", 1000.0 + (i // 3)) for i in range(50))  # ties too
    seen, before = [], None
    while True:
        page = history.list(limit=7, before=before)
        if not page:
            break
        seen += [r.id for r in page]
        before = (page[-1].created_at, page[-1].id)
    assert len(seen) == len(set(seen)) == 50
    assert seen == [r.id for r in history.list(limit=100)]


@pytest.mark.parametrize(
    ("column", "value", "words"),
    [
        ("request_json", "{not json", "part of its record is not readable text"),
        ("outputs_json", '[{"nope": 1}]', "a value in its record has the wrong form"),
        ("state", "exploded", "a value in its record has the wrong form"),
    ],
)
def test_a_damaged_job_is_named_in_plain_words(history, column, value, words):
    """A job whose row cannot be read: its id and what is wrong, never an exception's class name."""
    from flexstudio.storage.faults import StorageFault

    rec = history.create(EditRequest(prompt="soon damaged"))
    history.db.execute(f"UPDATE jobs SET {column}=? WHERE id=?", (value, rec.id))
    with pytest.raises(StorageFault) as caught:
        history.get(rec.id)
    said = str(caught.value)
    assert (
        said
        == f"Job {rec.id} in the history is damaged and cannot be read: {words}. The other jobs are not affected."
    )
    assert not any(w in said for w in ("Error", "Exception", "JSONDecode", "KeyError", "TypeError"))
