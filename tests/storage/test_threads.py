"""One History is used by the GUI thread and the executor threads at once (the runner, the recovery of
waiting jobs, batches): concurrent statements must neither crash the interpreter nor land inside
another thread's transaction."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading
from pathlib import Path

from flexstudio.core.request import EditRequest
from flexstudio.storage.history import History

HAMMER = textwrap.dedent("""
    import sys, threading
    from flexstudio.core.request import EditRequest
    from flexstudio.storage.history import History
    h = History(__import__("pathlib").Path(sys.argv[1]))
    h.bulk_insert((EditRequest(prompt=f"seed job {i}"), "succeeded", float(i)) for i in range(200))
    errors = []
    def reader():
        try:
            for _ in range(150):
                h.resumable(); h.list(limit=50); h.count()
        except Exception as exc:  # a Python error is a failure too, but a crash is what this catches
            errors.append(repr(exc))
    def writer():
        try:
            for i in range(150):
                rec = h.create(EditRequest(prompt=f"new {i}"))
                h.bulk_insert([(EditRequest(prompt=f"bulk {i}"), "succeeded", 1.0)])
                h.list(limit=5)
                assert rec.id
        except Exception as exc:
            errors.append(repr(exc))
    threads = [threading.Thread(target=reader) for _ in range(3)] + [threading.Thread(target=writer) for _ in range(2)]
    for t in threads: t.start()
    for t in threads: t.join()
    print("errors:", errors)
    sys.exit(1 if errors else 0)
""")


def test_concurrent_statements_from_many_threads_never_crash(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", HAMMER, str(tmp_path / "history.sqlite3")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, (done.returncode, done.stdout[-2000:], done.stderr[-2000:])
    assert "errors: []" in done.stdout


def test_a_statement_from_another_thread_waits_for_an_open_transaction(tmp_path: Path) -> None:
    h = History(tmp_path / "history.sqlite3")
    try:
        entered = threading.Event()
        seen: list[int] = []

        def count_from_another_thread() -> None:
            entered.set()
            seen.append(h.count())

        h.db.execute("BEGIN IMMEDIATE")
        h.db.execute(
            "INSERT INTO jobs (id, created_at, updated_at, provider, state, prompt, request_json)"
            " VALUES ('half', 1, 1, 'sandbox', 'queued', 'x', ?)",
            (EditRequest(prompt="x").to_json(),),
        )
        other = threading.Thread(target=count_from_another_thread)
        other.start()
        entered.wait(10)
        other.join(0.2)  # it cannot finish while the transaction is open
        assert seen == []
        h.db.execute("ROLLBACK")
        other.join(10)
        assert seen == [0]  # it never saw the rolled-back row
    finally:
        h.close()
