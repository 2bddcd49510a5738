"""Persistence: folders, history (sqlite3 + content-addressed blobs), settings, secrets, presets."""
