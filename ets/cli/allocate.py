"""``ets allocate``: allocation planning and on-chain allocation."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ets.cli.context import context
from ets.cli.options import AsOption, KeystoreOption, cli_errors

if TYPE_CHECKING:
    from sqlalchemy import Engine

allocate_app = typer.Typer(help="Allocation planning and on-chain allocation.", no_args_is_help=True)


@allocate_app.command("plan")
@cli_errors
def allocate_plan(
    history: Annotated[
        Path | None,
        typer.Argument(
            help="CO2: history.csv (enterprises.csv read from beside it). Other pollutants with "
            "--basis history: a CSV of metered emissions (enterprise,pollutant,year,emissions_t); "
            "without it the read model's statistics."
        ),
    ] = None,
    year: Annotated[int | None, typer.Option(help="Target (vintage) year.")] = None,
    rule: Annotated[str, typer.Option(help="CO2: grandfathering | benchmark | mixed.")] = "benchmark",
    reduction: Annotated[float, typer.Option(help="CO2: reduction rate applied to the trend.")] = 0.02,
    weight: Annotated[float, typer.Option(help="CO2: grandfathering weight for the mixed rule.")] = 0.5,
    cap: Annotated[int | None, typer.Option(help="CO2: cap (default: from the trend).")] = None,
    pollutant: Annotated[str, typer.Option(help="CO2 (energy history) or SO2, NOx, COD, NH3-N, PM.")] = "CO2",
    basis: Annotated[str, typer.Option(help="Other pollutants: permits | history.")] = "permits",
    annual_plan: Annotated[int | None, typer.Option(help="Other pollutants: annual plan id.")] = None,
    history_years: Annotated[int, typer.Option(help="Basis history: metered years averaged.")] = 3,
    out: Annotated[Path, typer.Option(help="Plan CSV to write.")] = Path("plan.csv"),
) -> None:
    """Plan an allocation. CO2: trend, proposed cap, per-enterprise integers summing to the cap, and a
    chart PNG. Other pollutants: each region's cap in the adopted annual plan less its reserve share,
    shared by the permits or metered history less the plan's enterprise targets, within the permits."""
    from domain.errors import InvalidInputError
    from domain.tokens import pollutant_code

    if pollutant_code(pollutant) != pollutant_code("CO2"):
        _plan_pollutant(pollutant, basis, annual_plan, history, year, history_years, out)
        return
    if history is None or year is None:
        raise InvalidInputError("a CO2 plan needs the history file and --year")
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


def _plan_pollutant(
    pollutant: str,
    basis: str,
    annual_plan: int | None,
    history: Path | None,
    year: int | None,
    history_years: int,
    out: Path,
) -> None:
    from chain.allowance import AllowanceClient
    from chain.plan_allocation import (
        claimants_from_history,
        claimants_from_permits,
        load_metered_history,
        plan_pollutant,
    )
    from domain.errors import InvalidInputError
    from domain.plan_allocation import Basis, as_basis
    from domain.tokens import pollutant_code
    from ets.cli.permits import permits_client
    from ets.cli.plans import plans_client

    chosen = as_basis(basis)
    if annual_plan is None:
        raise InvalidInputError(f"a {pollutant} plan needs --annual-plan (the adopted annual plan's id)")
    ctx = context()
    _, manifest = ctx.deployment()
    registry = ctx.registry()
    allowance = ctx.contract(AllowanceClient)
    plans = plans_client()
    plan_year = plans.plan(annual_plan).start_year
    if year is not None and year != plan_year:
        raise InvalidInputError(f"--year {year} differs from annual plan {annual_plan}'s year {plan_year}")
    permits = permits_client() if "DischargePermits" in manifest.contracts else None
    if chosen is Basis.PERMITS:
        if permits is None:
            raise InvalidInputError("basis permits needs DischargePermits in the deployment")
        claimants = claimants_from_permits(registry, permits, allowance, pollutant, plan_year)
    else:
        if history is not None:
            metered = load_metered_history(history, pollutant)
        else:
            from readmodel.emissions import metered_history
            from readmodel.session import session_factory, session_scope

            with session_scope(session_factory(_read_model())) as db:
                metered = metered_history(db, pollutant_code(pollutant), before=plan_year)
        claimants = claimants_from_history(
            registry, allowance, metered, pollutant, plan_year, permits=permits, years=history_years
        )
    result = plan_pollutant(plans, annual_plan, pollutant, claimants, chosen)
    result.write_csv(out)
    ctx.console.print(
        f"{len(result.allocation.grants)} enterprises, {pollutant} {plan_year} from {chosen.value} under "
        f"annual plan {annual_plan}: {result.allocation.total:,} t"
    )
    for r in result.allocation.regions:
        ctx.console.print(
            f"  region {r.region}: cap {r.cap:,} t, reserve {r.reserve_t:,} t, already {r.already_t:,} t, "
            f"budget {r.budget_t:,} t, allocated {r.allocated_t:,} t, unallocated {r.unallocated_t:,} t"
            + (" (scaled to the budget)" if r.scaled else "")
        )
    ctx.console.print(f"plan: {out}")


def _read_model() -> Engine:
    from readmodel.config import ReadModelSettings
    from readmodel.session import make_engine, require_schema

    engine = make_engine(ReadModelSettings().url(context().settings))
    require_schema(engine)
    return engine


@allocate_app.command("execute")
@cli_errors
def allocate_execute(
    plan_csv: Annotated[Path, typer.Argument(help="Plan CSV from `ets allocate plan`.")],
    enterprises: Annotated[
        Path | None, typer.Option(help="CO2 plans: enterprises.csv (maps ids to credit codes).")
    ] = None,
    pollutant: Annotated[str, typer.Option(help="CO2 plans: pollutant symbol.")] = "CO2",
    batch_size: Annotated[int, typer.Option(help="Enterprises per transaction.")] = 200,
    as_: AsOption = None,
    keystore: KeystoreOption = None,
) -> None:
    """Mint a plan on-chain in batches with a progress bar; re-running resumes, never mints twice. A
    pollutant plan (planned under an annual plan) names its accounts, pollutant and year itself and
    needs the vintage's cap executed from the annual plan first."""
    from rich.progress import Progress

    from chain.allowance import AllowanceClient
    from chain.onboarding import execute_plan
    from chain.plan_allocation import MARKER, execute_pollutant_plan
    from domain.errors import InvalidInputError

    ctx = context()
    registry = ctx.registry()
    allowance = ctx.contract(AllowanceClient)
    signer = ctx.signer(as_, keystore)
    with Progress(console=ctx.console) as progress:
        task = progress.add_task("allocating", total=None)

        def advance(n: int, done: bool) -> None:
            progress.advance(task, n)

        if plan_csv.read_text(encoding="utf-8").startswith(MARKER):
            report = execute_pollutant_plan(
                allowance, signer, plan_csv, batch_size=batch_size, on_batch=advance
            )
        elif enterprises is None:
            raise InvalidInputError("a CO2 plan needs --enterprises")
        else:
            report = execute_plan(
                allowance, registry, signer, plan_csv, enterprises, pollutant=pollutant,
                batch_size=batch_size, on_batch=advance,
            )  # fmt: skip
    ctx.console.print(
        f"{report.batches} batches: {report.batches - report.skipped} minted now, "
        f"{report.skipped} already on-chain; {report.minted:,} allowances minted, gas {report.gas_used:,}"
    )
