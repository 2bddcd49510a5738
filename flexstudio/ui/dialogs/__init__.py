"""Dialogs: settings, compare providers, sweep, presets, lineage, results, shortcuts."""
