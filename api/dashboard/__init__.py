"""The web dashboard: its aggregate routes and its static front-end, served by the API process."""

from __future__ import annotations

import logging
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

logger = logging.getLogger(__name__)

#: The front-end: index.html, ES modules, styles, i18n and (after scripts/build-dashboard) vendor/.
STATIC_DIR = Path(__file__).resolve().parent / "static"
#: Vendor files scripts/build-dashboard copies from node_modules.
VENDOR_FILES = ("echarts.min.js", "ethers.umd.min.js", "china-provinces.json")


def missing_vendor_files(static_dir: Path = STATIC_DIR) -> list[str]:
    """Vendor files not built yet (run ``scripts/build-dashboard``)."""
    return [name for name in VENDOR_FILES if not (static_dir / "vendor" / name).is_file()]


def mount_dashboard(app: FastAPI) -> None:
    """Serve the dashboard at ``/dashboard/`` (``/`` redirects there) with its routes under
    ``/dashboard/api/``."""
    from api.dashboard.market import router as market_router
    from api.dashboard.routes import router

    missing = missing_vendor_files()
    if missing:
        logger.warning("dashboard vendor files missing: run scripts/build-dashboard",
                       extra={"missing": ",".join(missing)})  # fmt: skip
    app.include_router(router)
    app.include_router(market_router)

    @app.get("/", include_in_schema=False)
    def home() -> RedirectResponse:
        return RedirectResponse("/dashboard/")

    # ECharts alone is 1.1 MB, about 370 kB compressed: the app's gzip middleware compresses them.
    app.mount("/dashboard", StaticFiles(directory=STATIC_DIR, html=True), name="dashboard")
