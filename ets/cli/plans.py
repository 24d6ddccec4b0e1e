"""``ets plans``: total-amount control plans (draft from JSON, adopt through governance, show,
list, execute an annual plan's cap, progress)."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ets.cli.context import context
from ets.cli.options import AsOption, KeystoreOption, cli_errors

if TYPE_CHECKING:
    from chain.plans import PlansClient

plans_app = typer.Typer(help="Total-amount control plans: five-year and annual.", no_args_is_help=True)


def plans_client() -> PlansClient:
    from chain.plans import PlansClient

    return context().contract(PlansClient)


def _header(plans: PlansClient, plan_id: int) -> dict[str, Any]:
    h = plans.plan(plan_id)
    if h.kind == 0:
        from domain.errors import InvalidInputError

        raise InvalidInputError(f"no plan {plan_id}")
    row = asdict(h)
    row.update(
        kind=h.kind.name.lower(), status=h.status.name.lower(), document_hash="0x" + h.document_hash.hex()
    )
    return row


@plans_app.command("draft")
@cli_errors
def plans_draft(
    file: Annotated[Path, typer.Argument(help="Plan JSON (kind five_year or annual; see domain.plans).")],
    as_: AsOption = None,
    keystore: KeystoreOption = None,
) -> None:
    """Draft a plan from a JSON file (regulator); prints its id."""
    from domain.errors import InvalidInputError
    from domain.plans import FiveYearPlan, plan_from_json

    try:
        data = json.loads(file.read_text())
    except (OSError, ValueError) as exc:
        raise InvalidInputError(f"{file}: {exc}") from None
    plan = plan_from_json(data)
    ctx = context()
    plans = plans_client()
    signer = ctx.signer(as_, keystore)
    if isinstance(plan, FiveYearPlan):
        plan_id = plans.draft_five_year(signer, plan)
    else:
        plan_id = plans.draft_annual(signer, plan)
    ctx.console.print(f"plan {plan_id} drafted (adopt it: ets plans adopt {plan_id})")


@plans_app.command("adopt")
@cli_errors
def plans_adopt(plan_id: int, as_: AsOption = None, keystore: KeystoreOption = None) -> None:
    """Propose the adoption of a drafted plan (a governance member); the others approve and execute
    it with ``ets governance approve|execute``."""
    ctx = context()
    plans = plans_client()
    proposal_id = plans.propose_adoption(ctx.registry(), ctx.signer(as_, keystore), plan_id)
    ctx.console.print(f"proposal {proposal_id}: adopt plan {plan_id}")


@plans_app.command("execute-cap")
@cli_errors
def plans_execute_cap(
    plan_id: int,
    pollutant: Annotated[str, typer.Option(help="Pollutant symbol.")],
    as_: AsOption = None,
    keystore: KeystoreOption = None,
) -> None:
    """Set the vintage cap of a pollutant from the current annual plan (regulator)."""
    from domain.tokens import Kind, encode_id, pollutant_code

    ctx = context()
    plans = plans_client()
    code = pollutant_code(pollutant)
    plans.execute_cap(ctx.signer(as_, keystore), plan_id, code)
    year = plans.plan(plan_id).start_year
    cap = plans.total_of(plan_id, code)
    ctx.console.print(f"cap of {pollutant} {year} set to {cap:,} t from plan {plan_id} "
                      f"(token {encode_id(Kind.ALLOWANCE, code, year)})")  # fmt: skip


@plans_app.command("show")
@cli_errors
def plans_show(plan_id: int) -> None:
    """One plan's header and content, as JSON."""
    from chain.plans import PlanKind

    plans = plans_client()
    row = _header(plans, plan_id)
    content = (
        plans.five_year(plan_id) if plans.plan(plan_id).kind == PlanKind.FIVE_YEAR else plans.annual(plan_id)
    )
    row["content"] = {
        k: v for k, v in asdict(content).items() if k in ("pollutants", "regions", "caps", "targets")
    }
    context().print_json(row)


@plans_app.command("list")
@cli_errors
def plans_list() -> None:
    """Every plan's header, as JSON lines in id order."""
    plans = plans_client()
    context().print_json([_header(plans, i) for i in range(1, plans.plan_count() + 1)])


@plans_app.command("progress")
@cli_errors
def plans_progress(
    plan_id: int,
    emissions: Annotated[
        bool,
        typer.Option(
            "--emissions",
            help="Per pollutant, region and year from the read model: path, adopted annual cap, reserve, "
            "metered and verified emissions (as GET /plans/{id}/progress).",
        ),
    ] = False,
) -> None:
    """An annual plan's caps against the chain: per pollutant the plan's total, the vintage cap in
    force (and the plan that set it) and what has been issued; a five-year plan's path per year
    against the current annual plan of that year. With --emissions: the emissions against the plans
    per pollutant, region and year, from the read model."""
    if emissions:
        _progress_emissions(plan_id)
        return
    from chain.allowance import AllowanceClient
    from chain.plans import PlanKind
    from domain.tokens import POLLUTANT_SYMBOLS, Kind, encode_id

    plans = plans_client()
    token = context().contract(AllowanceClient)
    header = plans.plan(plan_id)
    rows: list[dict[str, Any]] = []
    if header.kind == PlanKind.ANNUAL:
        for code in sorted({c.pollutant for c in plans.annual(plan_id).caps}):
            token_id = encode_id(Kind.ALLOWANCE, code, header.start_year)
            row = {"pollutant": POLLUTANT_SYMBOLS.get(code, code), "year": header.start_year}
            row |= {"planned": plans.total_of(plan_id, code), "cap": token.cap(token_id)}
            rows.append(row | {"cap_plan": plans.cap_plan_of(token_id), "issued": token.issued(token_id)})
    else:
        _header(plans, plan_id)
        for line in plans.five_year(plan_id).pollutants:
            for offset, path in enumerate(line.path):
                year = header.start_year + offset
                annual = plans.current_annual(year)
                total = plans.total_of(annual, line.pollutant) if annual else None
                symbol = POLLUTANT_SYMBOLS.get(line.pollutant, line.pollutant)
                rows.append({"pollutant": symbol, "year": year, "path": path, "annual_plan": annual,
                             "annual_total": total})  # fmt: skip
    context().print_json(rows)


def _progress_emissions(plan_id: int) -> None:
    from dataclasses import asdict

    from sqlalchemy.orm import Session

    from domain.errors import InvalidInputError
    from domain.tokens import POLLUTANT_SYMBOLS
    from readmodel import models as m
    from readmodel.config import ReadModelSettings
    from readmodel.emissions import plan_progress
    from readmodel.session import make_engine, require_schema

    engine = make_engine(ReadModelSettings().url(context().settings))
    try:
        require_schema(engine)
        with Session(engine) as db:
            plan = db.get(m.Plan, plan_id)
            if plan is None:
                raise InvalidInputError(f"plan {plan_id} is not in the read model (is the indexer running?)")
            rows = [asdict(f) | {"pollutant": POLLUTANT_SYMBOLS.get(f.pollutant, f.pollutant)}
                    for f in plan_progress(db, plan)]  # fmt: skip
    finally:
        engine.dispose()
    context().print_json(rows)
