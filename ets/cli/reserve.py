"""``ets reserve``: the government reserve (feed from an annual plan, offer to a project at the
guide price, accept and pay, withdraw, confiscate and close (关停) through governance, show)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from ets.cli.context import context
from ets.cli.options import AsOption, KeystoreOption, cli_errors

if TYPE_CHECKING:
    from chain.reserve import ReserveClient

reserve_app = typer.Typer(
    help="Government reserve: plan feeds, paid allocations to new projects, closures.", no_args_is_help=True
)

PollutantArg = Annotated[str, typer.Argument(help="Pollutant symbol (SO2, NOx, COD, NH3-N, PM, CO2).")]


def reserve_client() -> ReserveClient:
    from chain.reserve import ReserveClient

    # closure_ids scans the token's transfers from the token's deployment block
    return ReserveClient.of_manifest(*context().deployment())


def _id(pollutant: str, vintage: int) -> int:
    from domain.tokens import Kind, encode_id

    return int(encode_id(Kind.ALLOWANCE, pollutant, vintage))


@reserve_app.command("feed")
@cli_errors
def reserve_feed(
    plan_id: Annotated[int, typer.Argument(help="The current annual plan whose cap was executed.")],
    pollutant: PollutantArg,
    as_: AsOption = None,
    keystore: KeystoreOption = None,
) -> None:
    """Mint the annual plan's reserve share of a pollutant into the reserve (regulator)."""
    ctx = context()
    amount = reserve_client().feed(ctx.signer(as_, keystore), plan_id, pollutant)
    ctx.console.print(f"fed {amount:,} t {pollutant} from annual plan {plan_id} into the reserve")


@reserve_app.command("offer")
@cli_errors
def reserve_offer(
    project: Annotated[str, typer.Argument(help="The project's (enterprise's) address.")],
    pollutant: PollutantArg,
    vintage: int,
    quantity: int,
    days: Annotated[int, typer.Option(help="Days the project has to accept.")] = 7,
    as_: AsOption = None,
    keystore: KeystoreOption = None,
) -> None:
    """Offer allowances from the reserve to a project at the annual plan's guide price (regulator)."""
    from domain.errors import InvalidInputError

    if days <= 0:
        raise InvalidInputError(f"--days must be positive, got {days}")
    ctx = context()
    reserve = reserve_client()
    deadline = reserve.chain.timestamp() + days * 86_400
    offer = reserve.offer_of(
        reserve.offer(ctx.signer(as_, keystore), project, _id(pollutant, vintage), quantity, deadline)
    )
    ctx.console.print(
        f"offer {offer.id}: {offer.quantity:,} t {pollutant} {vintage} to {offer.project} at "
        f"{offer.price / 100:,.2f} CNY/t = {offer.payment / 100:,.2f} CNY "
        f"(annual plan {offer.annual_plan_id})"
    )


@reserve_app.command("accept")
@cli_errors
def reserve_accept(offer_id: int, as_: AsOption = None, keystore: KeystoreOption = None) -> None:
    """Accept an offer: approve the payment and pay and receive in one transaction (the project)."""
    ctx = context()
    reserve = reserve_client()
    receipt = reserve.accept(ctx.signer(as_, keystore), offer_id)
    offer = reserve.offer_of(offer_id)
    ctx.console.print(
        f"offer {offer_id} accepted: {offer.quantity:,} t delivered, {offer.payment / 100:,.2f} CNY paid "
        f"to the treasury (tx {receipt['transactionHash'].hex()})"
    )


@reserve_app.command("withdraw")
@cli_errors
def reserve_withdraw(offer_id: int, as_: AsOption = None, keystore: KeystoreOption = None) -> None:
    """Withdraw an open offer (regulator)."""
    ctx = context()
    reserve_client().withdraw_offer(ctx.signer(as_, keystore), offer_id)
    ctx.console.print(f"offer {offer_id} withdrawn")


@reserve_app.command("close")
@cli_errors
def reserve_close(
    enterprise: Annotated[str, typer.Argument(help="The enterprise to close (关停).")],
    reason: Annotated[str, typer.Option(help="The closure's reason (recorded on-chain).")],
    as_: AsOption = None,
    keystore: KeystoreOption = None,
) -> None:
    """Propose a closure (a governance member): sweep the enterprise's current and future
    allowances into the reserve, cancel its permit, unbind its devices, suspend it. The others
    approve and execute it with ``ets governance approve|execute``."""
    ctx = context()
    reserve = reserve_client()
    ids = reserve.closure_ids(enterprise)
    data = reserve.encode_close(ctx.registry(), enterprise, reason, ids)
    proposal_id = ctx.registry().propose(
        ctx.signer(as_, keystore), data, f"closure (关停) of {enterprise}: {reason}"
    )
    ctx.console.print(f"proposal {proposal_id}: close {enterprise} (sweeping {len(ids)} allowance ids)")


@reserve_app.command("show")
@cli_errors
def reserve_show(
    years: Annotated[int, typer.Option(help="Vintages from the current year on to list.")] = 4,
) -> None:
    """The reserve's balances per pollutant and vintage, its offers and closures, as JSON."""
    from domain.tokens import POLLUTANT_SYMBOLS

    reserve = reserve_client()
    year = reserve.current_year()
    balances: list[dict[str, Any]] = []
    for code, symbol in sorted(POLLUTANT_SYMBOLS.items()):
        for vintage in range(year - 1, year + years):
            token_id = _id(symbol, vintage)
            held = reserve.balance(token_id)
            if held or reserve.fed(token_id):
                balances.append({
                    "pollutant": symbol, "vintage": vintage, "token_id": token_id, "balance": held,
                    "committed": reserve.committed(token_id), "fed": reserve.fed(token_id), "code": code,
                })  # fmt: skip
    offers = [
        {
            "id": o.id,
            "project": o.project,
            "token_id": o.token_id,
            "quantity": o.quantity,
            "price": o.price,
            "payment": o.payment,
            "annual_plan_id": o.annual_plan_id,
            "deadline": o.deadline,
            "state": o.state.name.lower(),
        }
        for o in reserve.offers()
    ]
    context().print_json(
        {
            "address": reserve.address,
            "treasury": reserve.treasury(),
            "current_year": year,
            "balances": balances,
            "offers": offers,
            "closures": reserve.closure_count(),
        }
    )
