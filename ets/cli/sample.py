"""``ets sample``: synthetic sample data."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ets.cli.context import context
from ets.cli.options import cli_errors

sample_app = typer.Typer(help="Synthetic sample data.", no_args_is_help=True)


@sample_app.command("enterprises")
@cli_errors
def sample_enterprises(
    n: Annotated[int, typer.Option("--n", help="Number of enterprises.")] = 2162,
    years: Annotated[int, typer.Option(help="Years of history (3-10).")] = 10,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 2027,
    out: Annotated[Path, typer.Option(help="Output folder.")] = Path("sample"),
) -> None:
    """Write a realistic synthetic consortium: enterprises.csv and history.csv."""
    from sim.sample import generate_enterprises, write_sample

    consortium = generate_enterprises(n, years, seed=seed)
    enterprises, history = write_sample(consortium, out)
    context().console.print(f"{n} enterprises, {years} years: {enterprises}, {history}")
