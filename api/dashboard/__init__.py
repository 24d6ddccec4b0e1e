"""The web dashboard: static front-end served by the API process."""

from __future__ import annotations

from fastapi import FastAPI


def mount_dashboard(app: FastAPI) -> None:
    """Serve the dashboard's files from the app (nothing yet)."""
