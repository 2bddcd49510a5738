"""A damaged batch list (``batches.sqlite3``) is named as such when it is opened — a wrong header, or a
file cut short (damage past the first page) — never as the history, never as a bare sqlite error."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from flexstudio.core.request import EditRequest
from flexstudio.storage import faults
from flexstudio.storage.batches import BatchStore, NewItem


def _filled(path: Path) -> bytes:
    store = BatchStore(path)
    for i in range(120):
        store.create(
            key=f"k{i}",
            request=EditRequest(prompt="x" * 300),
            inputs=[f"/in/{i}"],
            extras=[],
            out_dir="/out",
            items=[NewItem(input=f"/in/{i}/{j}" + "y" * 200, stem=f"s{j}") for j in range(5)],
        )
    store.close()
    con = sqlite3.connect(path)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    return path.read_bytes()


@pytest.mark.parametrize("damage", ["header", "cut short"])
def test_a_damaged_batch_list_is_named_when_opened(tmp_path: Path, damage: str) -> None:
    db = tmp_path / "batches.sqlite3"
    data = _filled(db)
    damaged = b"\0" * 2048 + data[2048:] if damage == "header" else data[: len(data) // 3]
    db.write_bytes(damaged)
    with pytest.raises(faults.BatchesUnreadable) as caught:
        BatchStore(db)
    said = str(caught.value)
    assert said.startswith(f"The batch list {db} (the list of batches and their progress")
    assert f"mv '{db}' '{db}.broken-" in said and "history" in said  # "your history … not touched"
    moved = faults.move_aside(caught.value.path)
    assert moved.read_bytes() == damaged and not db.exists()  # the old file is kept as it was
    BatchStore(db).close()  # a fresh list opens
