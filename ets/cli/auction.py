"""``ets auction``: sealed-bid uniform-price allowance auctions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from ets.cli.context import context
from ets.cli.options import AsOption, KeystoreOption, cli_errors

if TYPE_CHECKING:
    from chain.auction import AuctionClient, BidStore

auction_app = typer.Typer(help="Sealed-bid uniform-price allowance auctions.", no_args_is_help=True)


def _auction() -> AuctionClient:
    from chain.auction import AuctionClient

    return context().holding(AuctionClient)


def _bid_store() -> BidStore:
    from chain.auction import BidStore

    return BidStore(context().settings.state_dir / "bids")


def _parse_bid(text: str) -> tuple[int, int]:
    from domain.errors import AuctionInputError

    try:
        price, quantity = text.split(":")
        return int(price), int(quantity)
    except ValueError:
        raise AuctionInputError(f"bid {text!r} is not PRICE:QUANTITY (e.g. 6000:25)") from None


@auction_app.command("simulate")
@cli_errors
def auction_simulate(
    scenario: Annotated[Path, typer.Argument(help="Scenario JSON: supply, reserve_price, bids ...")],
) -> None:
    """Run a whole auction on a fresh local chain and print its result as JSON."""
    from sim.auction import load_scenario, simulate

    ctx = context()
    result = simulate(load_scenario(scenario), say=lambda m: ctx.err_console.print(f"[dim]{m}[/]"))
    ctx.print_json(result)


@auction_app.command("create")
@cli_errors
def auction_create(
    supply: Annotated[int, typer.Option(help="Allowances offered.")],
    reserve: Annotated[int, typer.Option(help="Reserve price, fen per allowance.")],
    pollutant: Annotated[str, typer.Option(help="Pollutant symbol.")] = "CO2",
    vintage: Annotated[int, typer.Option(help="Vintage year.")] = 2027,
    limit: Annotated[int, typer.Option(help="Purchase limit per bidder (0 = none).")] = 0,
    rule: Annotated[str, typer.Option(help="lowest_accepted | highest_rejected.")] = "lowest_accepted",
    commit_hours: Annotated[float, typer.Option(help="Length of the commit window.")] = 24.0,
    reveal_hours: Annotated[float, typer.Option(help="Length of the reveal window.")] = 24.0,
    forfeit_bps: Annotated[
        int | None, typer.Option(help="Share of a no-show's guarantee forfeited, bps (default 10 %).")
    ] = None,
    secondary: Annotated[bool, typer.Option(help="Sell the signer's own allowances.")] = False,
    eligible: Annotated[
        Path | None, typer.Option(help="Primary only: file of eligible addresses, one per line.")
    ] = None,
    bidder: Annotated[
        list[str] | None,
        typer.Option(
            "--bidder",
            help="Primary only: restrict to this project account (repeat for a few); it may win "
            "and claim before its permit is issued.",
        ),
    ] = None,
    as_: AsOption = None,
    keystore: KeystoreOption = None,
) -> None:
    """Create a primary (regulator: new allowances) or secondary (own allowances) auction."""
    from chain.auction import DEFAULT_FORFEIT_BPS, ZERO_ROOT, AuctionParams, eligibility_tree
    from domain.auction import PriceRule
    from domain.errors import AuctionInputError
    from domain.tokens import Kind, encode_id

    ctx = context()
    client = _auction()
    signer = ctx.signer(as_, keystore)
    root = ZERO_ROOT
    if eligible is not None:
        lines = [x.strip() for x in eligible.read_text().splitlines() if x.strip()]
        tree = eligibility_tree(lines)
        root = bytes.fromhex(tree.root[2:])
        eligible.with_suffix(".tree.json").write_text(json.dumps(tree.dump()))  # proofs for the bidders
    now = client.chain.timestamp()
    commit_end = now + int(commit_hours * 3600)
    params = AuctionParams(
        token_id=encode_id(Kind.ALLOWANCE, pollutant, vintage), supply=supply, reserve_price=reserve,
        purchase_limit=limit, commit_end=commit_end, reveal_end=commit_end + int(reveal_hours * 3600),
        forfeit_bps=DEFAULT_FORFEIT_BPS if forfeit_bps is None else forfeit_bps,
        price_rule=PriceRule.parse(rule), eligibility_root=root,
    )  # fmt: skip
    if bidder and (secondary or eligible is not None):
        raise AuctionInputError(
            "--bidder restricts a primary auction; it excludes --secondary and --eligible"
        )
    if secondary:
        auction_id = client.create_secondary(signer, params)
    else:
        auction_id = client.create_primary(signer, params, bidders=bidder or ())
    named = f", restricted to {', '.join(bidder)}" if bidder else ""
    ctx.console.print(
        f"auction {auction_id} created: {supply:,} {pollutant} {vintage}, reserve {reserve:,} fen{named}"
    )


@auction_app.command("commit")
@cli_errors
def auction_commit(
    auction_id: int,
    bid: Annotated[list[str], typer.Option("--bid", help="PRICE:QUANTITY (repeat for a schedule).")],
    guarantee: Annotated[int | None, typer.Option(help="Cash escrowed (default: the bids' value).")] = None,
    as_: AsOption = None,
    keystore: KeystoreOption = None,
) -> None:
    """Commit a sealed bid; the salt is kept in a local file (mode 0600) for the reveal."""
    ctx = context()
    client = _auction()
    signer = ctx.signer(as_, keystore)
    sealed = client.seal(auction_id, signer.address, [_parse_bid(b) for b in bid], guarantee=guarantee)
    path = _bid_store().save(sealed)  # saved before sending: a lost salt would forfeit the guarantee
    client.commit(signer, sealed)
    ctx.console.print(
        f"committed {sealed.commitment} with guarantee {sealed.guarantee:,} fen; secret: {path}"
    )


@auction_app.command("reveal")
@cli_errors
def auction_reveal(auction_id: int, as_: AsOption = None, keystore: KeystoreOption = None) -> None:
    """Reveal the bid committed from this machine."""
    ctx = context()
    client = _auction()
    signer = ctx.signer(as_, keystore)
    client.reveal(signer, _bid_store().load(auction_id, signer.address))
    ctx.console.print(f"revealed bid of {signer.address} in auction {auction_id}")


@auction_app.command("clear")
@cli_errors
def auction_clear(
    auction_id: int,
    page: Annotated[int | None, typer.Option(help="Bidders per transaction (default: sized by gas).")] = None,
    as_: AsOption = None,
    keystore: KeystoreOption = None,
) -> None:
    """Compute the clearing from the revealed bids and submit it (anyone may)."""
    ctx = context()
    client = _auction()
    result = client.compute_clearing(auction_id)
    receipts = client.submit_clearing(ctx.signer(as_, keystore), auction_id, result.claim, max_bidders=page)
    ctx.console.print(
        f"auction {auction_id} cleared in {len(receipts)} transaction(s): price {result.clearing_price}, "
        f"sold {result.sold:,}, unsold {result.unsold:,}"
    )


@auction_app.command("claim")
@cli_errors
def auction_claim(auction_id: int, as_: AsOption = None, keystore: KeystoreOption = None) -> None:
    """Winners: take the allowances and pay (DvP). Others: take the guarantee back."""
    ctx = context()
    client = _auction()
    signer = ctx.signer(as_, keystore)
    won = client.allocation_of(auction_id, signer.address)
    client.settle(signer, auction_id)
    ctx.console.print(f"claimed {won:,} allowances" if won else "guarantee refunded")


@auction_app.command("withdraw")
@cli_errors
def auction_withdraw(auction_id: int, as_: AsOption = None, keystore: KeystoreOption = None) -> None:
    """Seller (secondary) or regulator (primary, to the treasury): take the proceeds and unsold allowances."""
    ctx = context()
    client = _auction()
    client.withdraw_proceeds(ctx.signer(as_, keystore), auction_id)
    view = client.view(auction_id)
    ctx.console.print(f"auction {auction_id}: proceeds {view.proceeds:,} fen paid out")


@auction_app.command("show")
@cli_errors
def auction_show(
    auction_id: int,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON (state and events).")] = False,
) -> None:
    """An auction's state, phase and (with --json) every event."""
    from dataclasses import asdict

    from chain.auction import auction_events

    ctx = context()
    client = _auction()
    view = client.view(auction_id)
    phase = view.phase(client.chain.timestamp())
    if as_json:
        ctx.print_json({**asdict(view), "phase": phase, "events": auction_events(client, auction_id)})
        return
    table = Table("field", "value", title=f"auction {auction_id} ({phase})")
    for key, value in asdict(view).items():
        table.add_row(key, str(value.name.lower() if hasattr(value, "name") else value))
    ctx.console.print(table)
