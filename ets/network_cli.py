"""``ets network``: Besu QBFT consortium network configuration."""

from __future__ import annotations

import typer

network_app: typer.Typer = typer.Typer(
    help="Consortium network (Besu QBFT): generate, encode extraData, sync allowlists.", no_args_is_help=True
)
