"""``ets cards``: IC cards tied to rights (issue, replace, revoke by the regulator; a month's load
or recharge by the enterprise; settle by the oracle; release for the surrender; balance and
month-end statement)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from ets.cli.context import context
from ets.cli.options import AsOption, KeystoreOption, cli_errors

if TYPE_CHECKING:
    from chain.cards import CardsClient

cards_app = typer.Typer(
    help="IC cards beside devices: monthly loads of committed allowances, balances, statements.",
    no_args_is_help=True,
)

CardArg = Annotated[int, typer.Argument(help="The card number.")]
PollutantArg = Annotated[str, typer.Argument(help="Pollutant symbol (SO2, NOx, COD, NH3-N, PM, CO2).")]
YearArg = Annotated[int, typer.Argument(help="The year: the allowances' vintage.")]
MonthArg = Annotated[int, typer.Argument(help="The month, 1-12.")]


def cards_client() -> CardsClient:
    from chain.cards import CardsClient

    return context().contract(CardsClient)


def _id(pollutant: str, year: int) -> int:
    from domain.tokens import Kind, encode_id

    return int(encode_id(Kind.ALLOWANCE, pollutant, year))


@cards_app.command("issue")
@cli_errors
def cards_issue(
    card: CardArg,
    device: Annotated[str, typer.Argument(help="The device's address (bound in the registry).")],
    as_: AsOption = None,
    keystore: KeystoreOption = None,
) -> None:
    """Issue a card for a bound device; the enterprise is the device's (regulator)."""
    ctx = context()
    cards = cards_client()
    cards.issue(ctx.signer(as_, keystore), card, device)
    issued = cards.card(card)
    ctx.console.print(f"card {card} issued to {issued.enterprise} for device {issued.device}")


@cards_app.command("replace")
@cli_errors
def cards_replace(
    old: CardArg,
    new: Annotated[int, typer.Argument(help="The new card number.")],
    as_: AsOption = None,
    keystore: KeystoreOption = None,
) -> None:
    """Replace a card: the old one void, its commitments carried to the new one (regulator)."""
    ctx = context()
    cards_client().replace(ctx.signer(as_, keystore), old, new)
    ctx.console.print(f"card {old} replaced by {new} (same account)")


@cards_app.command("revoke")
@cli_errors
def cards_revoke(
    card: CardArg,
    reason: Annotated[int, typer.Option(help="Reason code.")] = 0,
    as_: AsOption = None,
    keystore: KeystoreOption = None,
) -> None:
    """Revoke a card: no further loads (regulator)."""
    ctx = context()
    cards_client().revoke(ctx.signer(as_, keystore), card, reason)
    ctx.console.print(f"card {card} revoked (reason {reason})")


@cards_app.command("load")
@cli_errors
def cards_load(
    card: CardArg,
    pollutant: PollutantArg,
    year: YearArg,
    month: MonthArg,
    amount: Annotated[int, typer.Argument(help="Tonnes to commit (a load; again in the month: a recharge).")],
    as_: AsOption = None,
    keystore: KeystoreOption = None,
) -> None:
    """Commit allowances you hold to your card for a month (enterprise; approves the cards
    contract on the token first when needed)."""
    ctx = context()
    cards = cards_client()
    token_id = _id(pollutant, year)
    cards.load(ctx.signer(as_, keystore), card, token_id, month, amount)
    committed = cards.month(card, token_id, month).committed
    ctx.console.print(
        f"card {card}: {amount:,} t {pollutant} {year} loaded; "
        f"{committed:,} t committed for {year}-{month:02d}"
    )


@cards_app.command("settle")
@cli_errors
def cards_settle(
    card: CardArg,
    pollutant: PollutantArg,
    year: YearArg,
    month: MonthArg,
    metered: Annotated[int, typer.Argument(help="Tonnes metered on the card's device in the month.")],
    as_: AsOption = None,
    keystore: KeystoreOption = None,
) -> None:
    """Record the month's metered use: used held for surrender, the rest returned (oracle)."""
    ctx = context()
    cards = cards_client()
    token_id = _id(pollutant, year)
    cards.settle_month(ctx.signer(as_, keystore), card, token_id, month, metered)
    m = cards.month(card, token_id, month)
    ctx.console.print(
        f"card {card} {year}-{month:02d}: used {m.used:,} t held, {m.committed - m.used:,} t returned"
    )


@cards_app.command("release")
@cli_errors
def cards_release(
    enterprise: Annotated[str, typer.Argument(help="The enterprise's address.")],
    pollutant: PollutantArg,
    year: YearArg,
    as_: AsOption = None,
    keystore: KeystoreOption = None,
) -> None:
    """Release the used allowances held for surrender to the enterprise, before the compliance
    surrender retires them (regulator)."""
    ctx = context()
    cards = cards_client()
    token_id = _id(pollutant, year)
    held = cards.held_for_surrender(enterprise, token_id)
    cards.release_for_surrender(ctx.signer(as_, keystore), enterprise, token_id)
    ctx.console.print(f"{held:,} t {pollutant} {year} released to {enterprise} for the surrender")


@cards_app.command("balance")
@cli_errors
def cards_balance(
    enterprise: Annotated[str, typer.Argument(help="The enterprise's address.")],
    pollutant: PollutantArg,
    year: YearArg,
    month: MonthArg,
) -> None:
    """An enterprise's cards and what each has committed for the month."""
    ctx = context()
    cards = cards_client()
    token_id = _id(pollutant, year)
    for c in cards.cards_of(enterprise):
        m = cards.month(c.number, token_id, month)
        state = "settled" if m.settled else "open"
        ctx.console.print(
            f"card {c.number} ({c.status.name.lower()}, device {c.device}): {m.committed:,} t {pollutant} "
            f"committed for {year}-{month:02d} ({state})"
        )


@cards_app.command("statement")
@cli_errors
def cards_statement(
    card: CardArg,
    pollutant: PollutantArg,
    year: YearArg,
) -> None:
    """A card's statement for a year: per month committed, used, returned, settled."""
    ctx = context()
    cards = cards_client()
    token_id = _id(pollutant, year)
    c = cards.card(card)
    ctx.console.print(f"card {card} of {c.enterprise} ({c.status.name.lower()}), {pollutant} {year}")
    for month in range(1, 13):
        m = cards.month(card, token_id, month)
        if m.committed or m.settled:
            returned = m.committed - m.used if m.settled else 0
            ctx.console.print(
                f"  {year}-{month:02d}: committed {m.committed:,} t, used {m.used:,} t, "
                f"returned {returned:,} t"
                f"{'' if m.settled else ' (open)'}"
            )
    ctx.console.print(f"  held for surrender: {cards.held_for_surrender(c.enterprise, token_id):,} t")
