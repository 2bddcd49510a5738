"""References added to the window are prepared in the background for the chosen provider, so Run is left
with the upload only."""

from __future__ import annotations

from typing import Any


def test_added_references_are_prepared_before_run(open_window: Any, png_file: Any, qtbot: Any) -> None:
    w = open_window()
    paths = [png_file(f"ref{i}.png", 640 + 32 * i, 480, (20 * i, 90, 40)) for i in range(2)]
    w.importer.import_paths(paths)
    qtbot.waitUntil(lambda: len(w.wb.references) == 2, timeout=10_000)
    runner = w.services.runner
    max_px = w.wb.info.capabilities.max_pixels

    def ready() -> bool:
        cache = runner.preparer.cache
        return cache is not None and all(
            cache.get(r.sha256, max_px) is not None
            and runner.preparer.prepared.get(r.sha256, max_px) is not None
            for r in w.wb.references
        )

    qtbot.waitUntil(ready, timeout=10_000)  # in memory for this Run, on disk for the next process
