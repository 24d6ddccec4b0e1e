"""``ets settle``: end-of-day clearing and settlement, reconciliation and reports."""

from __future__ import annotations

import typer

settle_app: typer.Typer = typer.Typer(help="End-of-day settlement: run a day, reconcile, report.")
