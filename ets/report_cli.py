"""``ets report``: an enterprise's production data (energy use, computed and anchored emissions)."""

from __future__ import annotations

import typer

report_app = typer.Typer(help="Reports on production and emissions.", no_args_is_help=True)
