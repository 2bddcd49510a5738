"""Widgets: the pieces the window and the dialogs are built from."""
