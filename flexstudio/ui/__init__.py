"""The PySide6 workbench: widgets and view-models (the only Qt outside app.py)."""
