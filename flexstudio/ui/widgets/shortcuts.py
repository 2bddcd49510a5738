"""The one table of keys that the menus, the context menus and the shortcut sheet all read. For each
action: first the key that works anywhere in the window (what every menu shows), then the short keys that
also work where its list has focus ("." in the history favourites the selected job)."""

from __future__ import annotations

KEYS: dict[str, tuple[str, ...]] = {
    "restore": ("Ctrl+Shift+A", "A"),
    "favourite": ("Ctrl+D", "."),
    "delete_job": ("Ctrl+Shift+Del", "Del", "Backspace"),
    "remove_reference": ("Del", "Backspace"),
    "export": ("Ctrl+E",),
    "lineage": ("Ctrl+L",),
    "undo": ("Ctrl+Z",),
    "redo": ("Ctrl+Shift+Z",),
}


def window_keys(name: str) -> tuple[str, ...]:
    return KEYS[name][:1]


def short_keys(name: str) -> list[str]:
    """The extra keys of an action where its list has focus."""
    return list(KEYS[name][1:])


def menu_text(text: str, name: str) -> str:
    """A menu item's text with the key every menu shows for it."""
    return f"{text}\t{KEYS[name][0]}"
