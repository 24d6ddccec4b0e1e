"""``ets allocate``: allocation planning and on-chain allocation."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ets.cli.context import context
from ets.cli.options import AsOption, KeystoreOption, cli_errors

allocate_app = typer.Typer(help="Allocation planning and on-chain allocation.", no_args_is_help=True)


@allocate_app.command("plan")
@cli_errors
def allocate_plan(
    history: Annotated[Path, typer.Argument(help="history.csv (enterprises.csv read from beside it).")],
    year: Annotated[int, typer.Option(help="Target (vintage) year.")],
    rule: Annotated[str, typer.Option(help="grandfathering | benchmark | mixed.")] = "benchmark",
    reduction: Annotated[float, typer.Option(help="Reduction rate applied to the trend.")] = 0.02,
    weight: Annotated[float, typer.Option(help="Grandfathering weight for the mixed rule.")] = 0.5,
    cap: Annotated[
        int | None, typer.Option(help="Cap to allocate (default: proposed from the trend).")
    ] = None,
    out: Annotated[Path, typer.Option(help="Plan CSV to write.")] = Path("plan.csv"),
) -> None:
    """Plan an allocation: trend, proposed cap, per-enterprise integers summing to the cap; chart PNG."""
    from chain.allocation import load_history, plan, render_trend_chart

    ctx = context()
    records = load_history(history, rule=rule)
    result = plan(records, year, rule, reduction_rate=reduction, weight=weight, cap=cap)
    result.write_csv(out)
    chart = render_trend_chart(result, out.with_suffix(".png"))
    t = result.trend
    ctx.console.print(
        f"{len(result.entries)} enterprises, rule {result.rule}, cap {result.cap:,} t for {year} "
        f"(trend {t.cagr:+.2%}/yr, R² {t.r_squared:.3f})"
    )
    ctx.console.print(f"plan: {out}\nchart: {chart}")


@allocate_app.command("execute")
@cli_errors
def allocate_execute(
    plan_csv: Annotated[Path, typer.Argument(help="Plan CSV from `ets allocate plan`.")],
    enterprises: Annotated[Path, typer.Option(help="enterprises.csv (maps ids to credit codes).")],
    pollutant: Annotated[str, typer.Option(help="Pollutant symbol.")] = "CO2",
    batch_size: Annotated[int, typer.Option(help="Enterprises per transaction.")] = 200,
    as_: AsOption = None,
    keystore: KeystoreOption = None,
) -> None:
    """Mint a plan on-chain in batches with a progress bar; re-running resumes, never mints twice."""
    from rich.progress import Progress

    from chain.allowance import AllowanceClient
    from chain.onboarding import execute_plan
    from chain.registry import RegistryClient

    ctx = context()
    chain, manifest = ctx.deployment()
    registry = RegistryClient(chain, manifest.address("ConsortiumRegistry"))
    allowance = AllowanceClient(chain, manifest.address("AllowanceToken"))
    signer = ctx.signer(as_, keystore)
    with Progress(console=ctx.console) as progress:
        task = progress.add_task("allocating", total=None)

        def advance(n: int, done: bool) -> None:
            progress.advance(task, n)

        report = execute_plan(
            allowance, registry, signer, plan_csv, enterprises, pollutant=pollutant,
            batch_size=batch_size, on_batch=advance,
        )  # fmt: skip
    ctx.console.print(
        f"{report.batches} batches: {report.batches - report.skipped} minted now, "
        f"{report.skipped} already on-chain; {report.minted:,} allowances minted, gas {report.gas_used:,}"
    )
