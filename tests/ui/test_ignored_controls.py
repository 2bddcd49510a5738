"""A control the provider ignores looks it: its label greyed (Format like Steps or Seed), and the seed's
dice and padlock drawn greyed, not at full contrast beside their greyed field."""

from __future__ import annotations

from typing import Any


def _darkest(button: Any) -> int:
    """The darkest pixel of the icon as the button draws it."""
    img = button.grab().toImage()
    size = button.iconSize()
    x0, y0 = (img.width() - size.width()) // 2, (img.height() - size.height()) // 2
    return min(
        img.pixelColor(x, y).lightness()
        for x in range(x0, x0 + size.width())
        for y in range(y0, y0 + size.height())
    )


def test_ignored_controls_look_ignored(open_window: Any) -> None:
    w = open_window(size=(1024, 700))
    c = w.controls
    w.wb.set_provider("kie")  # takes no steps, guidance, seed or format
    for field in ("steps", "guidance", "seed", "output_format"):
        assert not c.labels[field].isEnabled(), field
    assert not c.dice.isEnabled() and not c.lock.isEnabled()
    greyed = {b.accessibleName(): _darkest(b) for b in (c.dice, c.lock)}
    pal = c.labels["seed"].palette()
    text = pal.color(pal.ColorGroup.Disabled, pal.ColorRole.WindowText).lightness()  # the greyed label's
    w.wb.set_provider("sandbox")
    assert all(c.labels[f].isEnabled() for f in ("steps", "guidance", "seed", "output_format"))
    assert c.dice.isEnabled() and c.lock.isEnabled()
    live = {b.accessibleName(): _darkest(b) for b in (c.dice, c.lock)}
    for name, level in greyed.items():  # drawn as light as the greyed text beside them, not near black
        assert level >= text - 30 and level > live[name] + 60, (name, live[name], level, text)
