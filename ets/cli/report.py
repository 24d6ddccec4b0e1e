"""``ets report``: an enterprise's production data (energy use, computed and anchored emissions)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from ets.cli.context import context
from ets.cli.options import cli_errors

if TYPE_CHECKING:
    from chain.production import ProductionReport

report_app = typer.Typer(help="Reports on production and emissions.", no_args_is_help=True)


@report_app.command("production")
@cli_errors
def production(
    enterprise: Annotated[str, typer.Argument(help="The enterprise's account address.")],
    year: Annotated[int, typer.Option(help="First (or only) year.")],
    to_year: Annotated[int | None, typer.Option(help="Last year of a range (default: --year).")] = None,
    by: Annotated[str, typer.Option(help="Group by 'year' or 'month' (months, then the year).")] = "year",
    history: Annotated[
        Path | None, typer.Option(help="Annual history CSV (energy use), as `ets sample` writes it.")
    ] = None,
    monthly_energy: Annotated[
        Path | None,
        typer.Option(help="Monthly energy CSV: enterprise_id/address, year, month, carrier columns."),
    ] = None,
    enterprises: Annotated[
        Path | None,
        typer.Option(help="enterprises.csv mapping enterprise_id to credit code (default: beside the CSV)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    csv_out: Annotated[
        Path | None, typer.Option("--csv", help="Also write the rows to this CSV file.")
    ] = None,
) -> None:
    """An enterprise's energy use, energy-computed, metered (anchored) and verified emissions."""
    from chain.allocation import load_history
    from chain.ledger import LedgerClient
    from chain.onboarding import read_credit_codes
    from chain.production import enterprise_id_of, gather_production, history_of, load_monthly_energy
    from chain.registry import checked_address
    from domain.production import as_grouping, report_years

    ctx = context()
    address = checked_address(enterprise, "enterprise")
    years = report_years(year, to_year)
    grouping = as_grouping(by)
    monthly = load_monthly_energy(monthly_energy) if monthly_energy is not None else []
    ledger = ctx.contract(LedgerClient)
    enterprise_id = None
    annual = None
    beside = history or monthly_energy
    if beside is not None:
        registry = ctx.registry()
        credit_code = registry.enterprise(address).profile.credit_code
        codes_path = enterprises or beside.with_name("enterprises.csv")
        codes = read_credit_codes(codes_path) if enterprises is not None or codes_path.exists() else {}
        enterprise_id = enterprise_id_of(credit_code, codes)
        if history is not None:
            annual = history_of(load_history(history, enterprises_path=enterprises), enterprise_id)
    report = gather_production(
        ledger,
        address,
        years[0],
        to_year=years[-1],
        by=grouping,
        history=annual,
        monthly=monthly,
        enterprise_id=enterprise_id,
        from_block=ledger.from_block,
    )
    if csv_out is not None:
        report.write_csv(csv_out)
    if as_json:
        ctx.print_json(report.to_json())
        return
    ctx.console.print(_energy_table(report))
    ctx.console.print(_emissions_table(report))
    if csv_out is not None:
        ctx.console.print(f"rows written to {csv_out}")


def _n(value: float | Decimal | None, places: int = 3) -> str:
    return "—" if value is None else f"{float(value):,.{places}f}"


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:+.2f} %"


def _energy_table(report: ProductionReport) -> Table:
    who = report.enterprise + (f" ({report.enterprise_id})" if report.enterprise_id else "")
    table = Table(
        "period", "source", "coal t", "gas 1000 m3", "oil t", "electricity MWh", "heat GJ", "total tce",
        "CO2 computed t", title=f"energy use of {who}",
    )  # fmt: skip
    for p in report.periods:
        e = p.energy
        if e is None:
            table.add_row(p.label, "not available", *["—"] * 7)
            continue
        q = e.quantities
        table.add_row(
            p.label, e.source, _n(q["coal"]), _n(q["natural_gas"]), _n(q["oil"]), _n(q["electricity"]),
            _n(q["heat"]), _n(e.total_tce), _n(e.co2_t),
        )  # fmt: skip
    return table


def _emissions_table(report: ProductionReport) -> Table:
    table = Table(
        "period", "pollutant", "HJ 212", "computed", "metered", "unit", "batches", "period readings",
        "verified t", "metered/verified", "computed/verified", "metered/computed",
        title="emissions and flows",
    )  # fmt: skip
    for p in report.periods:
        if not p.pollutants and not p.flows:
            table.add_row(p.label, "—", "", "", "", "", str(p.batches), str(p.readings), "", "", "", "")
        for r in p.pollutants:
            table.add_row(
                p.label, r.pollutant, r.hj212_code, _n(r.computed_t), _n(r.metered_t, 6), "t", str(r.batches),
                str(p.readings), "—" if r.verified_t is None else f"{r.verified_t:,}",
                _pct(r.metered_vs_verified_pct), _pct(r.computed_vs_verified_pct),
                _pct(r.metered_vs_computed_pct),
            )  # fmt: skip
        for f in p.flows:
            table.add_row(
                p.label, "flow", f.hj212_code, "", _n(f.volume_m3), "m3", str(f.batches), str(p.readings),
                "", "", "", "",
            )  # fmt: skip
    return table
