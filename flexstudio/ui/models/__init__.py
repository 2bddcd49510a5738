"""View-models: Qt signals and state, no widgets (ruff bans QtWidgets here)."""
