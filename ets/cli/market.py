"""``ets market``: the exchange's order books: rulebooks, orders, takes, block trades, the opening
call auction, the close of the day, and the simulation of a day from a scenario file."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from ets.cli.context import context
from ets.cli.inputs import JsonOption, parse_token
from ets.cli.options import AsOption, KeystoreOption, cli_errors

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from chain.market import MarketClient, Trade
    from domain.market import Rulebook, Side

market_app = typer.Typer(
    help="The exchange's order books (listing, block and call auction).", no_args_is_help=True
)
rules_app = typer.Typer(help="A token id's rulebook (bands, fees, sessions).", no_args_is_help=True)
block_app = typer.Typer(
    help="Block trades: the seller proposes, the named buyer accepts.", no_args_is_help=True
)
market_app.add_typer(rules_app, name="rules")
market_app.add_typer(block_app, name="block")

TokenArg = Annotated[str, typer.Argument(help="Token id, or POLLUTANT:VINTAGE (e.g. CO2:2027).")]
PageOption = Annotated[int, typer.Option(help="Fills (or orders) per transaction.", min=1)]


def _market() -> MarketClient:
    from chain.market import MarketClient

    return context().holding(MarketClient)


def _listed(client: MarketClient, token_id: int) -> Rulebook:
    from domain.errors import MarketInputError

    rules = client.rulebook(token_id)
    if rules is None:
        raise MarketInputError(f"token {token_id} is not listed (no rulebook)")
    return rules


def _side(text: str) -> Side:
    from domain.errors import MarketInputError
    from domain.market import Side

    sides = {"buy": Side.BUY, "sell": Side.SELL}
    if text.lower() not in sides:
        raise MarketInputError(f"side {text!r} is neither buy nor sell")
    return sides[text.lower()]


def _fills(trades: tuple[Trade, ...] | list[Trade]) -> str:
    if not trades:
        return "no fill"
    volume = sum(t.quantity for t in trades)
    return (
        f"{len(trades)} fill(s), {volume:,} t: "
        + ", ".join(f"{t.quantity:,} @ {t.price:,}" for t in trades[:5])
        + (" ..." if len(trades) > 5 else "")
    )


@market_app.command("simulate")
@cli_errors
def market_simulate(
    scenario: Annotated[Path, typer.Argument(help="Scenario JSON: reference_price, accounts, events ...")],
) -> None:
    """Run one trading day on a fresh local chain, check it against the reference engine and print
    the result as one JSON line (open, close, trades, rejected, book, balances, fees)."""
    from sim.market import load_scenario, simulate

    ctx = context()
    result = simulate(load_scenario(scenario), say=lambda m: ctx.err_console.print(f"[dim]{m}[/]"))
    sys.stdout.write(json.dumps(result) + "\n")


# ---------------------------------------------------------------------- rules


@rules_app.command("show")
@cli_errors
def rules_show(token: TokenArg, as_json: JsonOption = False) -> None:
    """A token id's rulebook, band, block band and halt."""
    from dataclasses import asdict

    client = _market()
    token_id = parse_token(token)
    data = {
        "token_id": token_id,
        **asdict(_listed(client, token_id)),
        "band": list(client.band(token_id)),
        "block_band": list(client.block_band(token_id)),
        "halted": client.is_halted(token_id),
        "market_halted": client.market_halted(),
    }
    ctx = context()
    if as_json:
        ctx.print_json(data)
        return
    table = Table("field", "value", title=f"rulebook of token {token_id}")
    for key, value in data.items():
        table.add_row(key, str(value))
    ctx.console.print(table)


@rules_app.command("set")
@cli_errors
def rules_set(
    token: TokenArg,
    reference: Annotated[int, typer.Option(help="Reference price (the previous close), fen/t.")],
    band_bps: Annotated[int, typer.Option(help="Listing band, bps.")] = 1000,
    block_band_bps: Annotated[int, typer.Option(help="Block band, bps.")] = 3000,
    fee_bps: Annotated[int, typer.Option(help="Fee per side per fill, bps.")] = 0,
    block_minimum: Annotated[int, typer.Option(help="Block minimum (and listing maximum), t.")] = 100_000,
    position_limit: Annotated[
        int, typer.Option(help="Most tonnes an account may hold plus have open to buy (0 = none).")
    ] = 0,
    position_limit_bps: Annotated[
        int, typer.Option(help="The same as a share of the quantity in circulation, bps (0 = none).")
    ] = 0,
    governed: Annotated[
        bool, typer.Option("--governed", help="Later changes need registry governance.")
    ] = False,
    as_: AsOption = None,
    keystore: KeystoreOption = None,
) -> None:
    """List a token id or change its rulebook (EXCHANGE role; a governed rulebook only through
    governance); default sessions."""
    from domain.errors import MarketInputError, MarketRulebookInvalid
    from domain.market import Rulebook

    ctx = context()
    token_id = parse_token(token)
    rules = Rulebook(
        reference_price=reference,
        band_bps=band_bps,
        block_band_bps=block_band_bps,
        fee_bps=fee_bps,
        block_minimum=block_minimum,
        position_limit=position_limit,
        position_limit_bps=position_limit_bps,
        governed=governed,
    )
    try:
        rules.validate(token_id)
    except MarketRulebookInvalid:
        raise MarketInputError(
            "the rulebook breaks a bound: 0 < reference ≤ 2^48 − 1, bands ≤ 10,000 bps, "
            "fee ≤ 1,000 bps, block minimum ≥ 1, position limit ≤ 2^64 − 1, its share ≤ 10,000 bps"
        ) from None
    _market().set_rulebook(ctx.signer(as_, keystore), token_id, rules)
    ctx.console.print(
        f"token {token_id} listed: reference {reference:,} fen/t, band {band_bps} bps, fee {fee_bps} bps"
    )


# ---------------------------------------------------------------------- orders


@market_app.command("order")
@cli_errors
def market_order(
    token: TokenArg,
    side: Annotated[str, typer.Argument(help="buy or sell.")],
    price: Annotated[int, typer.Argument(help="Limit price, fen/t.")],
    quantity: Annotated[int, typer.Argument(help="Tonnes.")],
    as_: AsOption = None,
    keystore: KeystoreOption = None,
) -> None:
    """Place a limit order (approves the market for the signer's tokens first, once)."""
    ctx = context()
    client = _market()
    signer = ctx.signer(as_, keystore)
    client.ensure_approvals(signer)
    done = client.place(signer, parse_token(token), _side(side), price, quantity)
    ctx.console.print(f"order {done.id} placed: {_fills(done.trades)}")


@market_app.command("cancel")
@cli_errors
def market_cancel(order_id: int, as_: AsOption = None, keystore: KeystoreOption = None) -> None:
    """Cancel one of the signer's open orders (its escrow returns)."""
    ctx = context()
    _market().cancel(ctx.signer(as_, keystore), order_id)
    ctx.console.print(f"order {order_id} cancelled")


@market_app.command("take")
@cli_errors
def market_take(
    order_id: int,
    quantity: Annotated[int, typer.Argument(help="Tonnes to take from the order.")],
    as_: AsOption = None,
    keystore: KeystoreOption = None,
) -> None:
    """Take part or all of a resting order at its price (best five levels of its side only)."""
    ctx = context()
    client = _market()
    signer = ctx.signer(as_, keystore)
    client.ensure_approvals(signer)
    done = client.take(signer, order_id, quantity)
    ctx.console.print(f"take {done.id}: {_fills(done.trades)}")


# ---------------------------------------------------------------------- block trades


@block_app.command("propose")
@cli_errors
def block_propose(
    token: TokenArg,
    buyer: Annotated[str, typer.Argument(help="The buyer's address.")],
    price: Annotated[int, typer.Argument(help="Price, fen/t (within the block band).")],
    quantity: Annotated[int, typer.Argument(help="Tonnes (at least the block minimum).")],
    as_: AsOption = None,
    keystore: KeystoreOption = None,
) -> None:
    """Propose a block trade to a named buyer (the seller's allowances go into escrow)."""
    ctx = context()
    client = _market()
    signer = ctx.signer(as_, keystore)
    client.ensure_approvals(signer)
    block_id = client.propose_block(signer, parse_token(token), buyer, price, quantity)
    ctx.console.print(f"block {block_id} proposed to {buyer}: {quantity:,} t @ {price:,}")


@block_app.command("accept")
@cli_errors
def block_accept(block_id: int, as_: AsOption = None, keystore: KeystoreOption = None) -> None:
    """Accept a block trade addressed to the signer: it executes at once (DvP)."""
    ctx = context()
    client = _market()
    signer = ctx.signer(as_, keystore)
    client.ensure_approvals(signer)
    done = client.accept_block(signer, block_id)
    ctx.console.print(f"block {block_id} executed: {_fills(done.trades)}")


@block_app.command("decline")
@cli_errors
def block_decline(block_id: int, as_: AsOption = None, keystore: KeystoreOption = None) -> None:
    """Decline a block trade addressed to the signer."""
    ctx = context()
    _market().decline_block(ctx.signer(as_, keystore), block_id)
    ctx.console.print(f"block {block_id} declined")


@block_app.command("cancel")
@cli_errors
def block_cancel(block_id: int, as_: AsOption = None, keystore: KeystoreOption = None) -> None:
    """Cancel the signer's pending block proposal (its allowances return)."""
    ctx = context()
    _market().cancel_block(ctx.signer(as_, keystore), block_id)
    ctx.console.print(f"block {block_id} cancelled")


# ---------------------------------------------------------------------- the day


@market_app.command("open")
@cli_errors
def market_open(
    token: TokenArg, page: PageOption = 200, as_: AsOption = None, keystore: KeystoreOption = None
) -> None:
    """Compute the opening uncrossing from the call book and submit it (anyone may), in pages."""
    ctx = context()
    client = _market()
    token_id = parse_token(token)
    result = client.compute_uncross(token_id)
    pages = client.uncross_all(ctx.signer(as_, keystore), token_id, page, price=result.price)
    if not pages:
        ctx.console.print(f"token {token_id}: no call pending")
        return
    trades = [t for p in pages for t in p.trades]
    ctx.console.print(
        f"token {token_id} opened in {len(pages)} transaction(s): price {result.price:,}, "
        f"volume {result.volume:,} t, {len(trades)} fill(s)"
    )


@market_app.command("book")
@cli_errors
def market_book(
    token: TokenArg,
    levels: Annotated[int, typer.Option(help="Price levels per side.", min=1)] = 5,
    as_json: JsonOption = False,
) -> None:
    """The book aggregated by price level, best first (anonymous)."""
    ctx = context()
    token_id = parse_token(token)
    book = _market().book(token_id, levels)
    if as_json:
        ctx.print_json({"token_id": token_id, "bids": book.bids, "asks": book.asks})
        return
    table = Table("bid qty", "bid", "ask", "ask qty", title=f"book of token {token_id}")
    for i in range(max(len(book.bids), len(book.asks))):
        bid = book.bids[i] if i < len(book.bids) else None
        ask = book.asks[i] if i < len(book.asks) else None
        table.add_row(
            f"{bid[1]:,}" if bid else "",
            f"{bid[0]:,}" if bid else "",
            f"{ask[0]:,}" if ask else "",
            f"{ask[1]:,}" if ask else "",
        )
    ctx.console.print(table)


@market_app.command("trades")
@cli_errors
def market_trades(
    token: TokenArg,
    day: Annotated[
        int | None, typer.Option(help="Trading day (days since 1970-01-01, CST); default today.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """The fills of a trading day, in execution order."""
    from dataclasses import asdict

    ctx = context()
    token_id = parse_token(token)
    trades = _market().trades_of_day(token_id, day)
    if as_json:
        ctx.print_json([{**asdict(t), "mode": t.mode.name.lower()} for t in trades])
        return
    table = Table(
        "block", "buy", "sell", "price", "quantity", "mode", "fees", title=f"trades of token {token_id}"
    )
    for t in trades:
        table.add_row(
            str(t.block_number),
            str(t.buy_id),
            str(t.sell_id),
            f"{t.price:,}",
            f"{t.quantity:,}",
            t.mode.name.lower(),
            f"{t.buyer_fee + t.seller_fee:,}",
        )
    ctx.console.print(table)


@market_app.command("close-day")
@cli_errors
def market_close_day(
    token: TokenArg,
    page: PageOption = 200,
    as_: AsOption = None,
    keystore: KeystoreOption = None,
    as_json: JsonOption = False,
) -> None:
    """After the close: expire the day's open orders and pending blocks (their escrow returns) and
    print the day's open, close (volume-weighted), volume and turnover."""
    from dataclasses import asdict

    from chain.market import day_quote

    ctx = context()
    client = _market()
    token_id = parse_token(token)
    day, _ = client.trading_day()
    sent = client.expire_all(ctx.signer(as_, keystore), token_id, page)
    quote = day_quote(client.trades_of_day(token_id, day), _listed(client, token_id).reference_price)
    if as_json:
        ctx.print_json({"token_id": token_id, "day": day, **asdict(quote)})
        return
    opened = "none" if quote.open_price is None else f"{quote.open_price:,}"
    ctx.console.print(
        f"token {token_id} day {day} closed ({sent} expiry transaction(s)): open {opened}, "
        f"close {quote.close_price:,}, volume {quote.volume:,} t, turnover {quote.turnover:,} fen, "
        f"{quote.trades} trade(s), block volume {quote.block_volume:,} t, fees {quote.fees:,} fen"
    )


HaltTokenArg = Annotated[
    str | None, typer.Argument(help="Token id, or POLLUTANT:VINTAGE (e.g. CO2:2027); none with --all.")
]
AllOption = Annotated[bool, typer.Option("--all", help="The whole market: every token id.")]


def _halt_target(token: str | None, every: bool) -> int:
    """The token id a halt or resume names: 0 with ``--all`` (the market-wide halt)."""
    from domain.errors import MarketInputError

    if every == (token is not None):
        raise MarketInputError("name a token id or give --all (the whole market), not both")
    return 0 if token is None else parse_token(token)


def _target_text(token_id: int) -> str:
    return "the market (every token id)" if token_id == 0 else f"token {token_id}"


@market_app.command("halt")
@cli_errors
def market_halt(
    reason: Annotated[str, typer.Option(help="Why trading stops (published in the event).")],
    token: HaltTokenArg = None,
    every: AllOption = False,
    as_: AsOption = None,
    keystore: KeystoreOption = None,
) -> None:
    """Halt trading of a token id, or of every token id with --all (EXCHANGE role); cancels stay
    possible."""
    ctx = context()
    token_id = _halt_target(token, every)
    _market().halt(ctx.signer(as_, keystore), token_id, reason)
    ctx.console.print(f"{_target_text(token_id)} halted: {reason}")


@market_app.command("resume")
@cli_errors
def market_resume(
    token: HaltTokenArg = None,
    every: AllOption = False,
    as_: AsOption = None,
    keystore: KeystoreOption = None,
) -> None:
    """Resume trading of a halted token id, or end the market-wide halt with --all (EXCHANGE role)."""
    ctx = context()
    token_id = _halt_target(token, every)
    _market().resume(ctx.signer(as_, keystore), token_id)
    ctx.console.print(f"{_target_text(token_id)} resumed")


# ---------------------------------------------------------------------- surveillance

records_app = typer.Typer(
    help="The exchange's account records (enterprise group, controller) the surveillance reads.",
    no_args_is_help=True,
)
market_app.add_typer(records_app, name="records")


def _read_model() -> Engine:
    from readmodel.config import ReadModelSettings
    from readmodel.migrate import upgrade
    from readmodel.session import make_engine

    engine = make_engine(ReadModelSettings().url(context().settings))
    upgrade(engine)
    return engine


@records_app.command("import")
@cli_errors
def records_import(
    file: Annotated[Path, typer.Argument(help="CSV with the header account,group,controller.", exists=True)],
) -> None:
    """Load account records into the read model (an account listed again replaces its record); a
    file with any bad line (address, duplicate account, cells) is refused whole, naming each."""
    import time

    from scheduler.surveillance import import_records

    engine = _read_model()
    try:
        count = import_records(
            engine, file.read_text(encoding="utf-8"), now=int(time.time()), source=file.name
        )
    finally:
        engine.dispose()
    context().console.print(f"{count} account record(s) imported from {file}")


@market_app.command("scan")
@cli_errors
def market_scan(
    day: Annotated[str, typer.Option(help="Trading day (China Standard Time), YYYY-MM-DD.")],
    as_json: JsonOption = False,
) -> None:
    """Run the surveillance scans (wash trades, closing ramp, volume concentration) over a trading
    day of the read model: new findings are stored as alerts (GET /market/alerts) and raised as
    alarms (delivered by ``ets alarms run``); prints the day's alerts with their trades."""
    from scheduler.alarms import AlarmStore
    from scheduler.config import SchedulerSettings
    from scheduler.notify import build_notifiers
    from scheduler.surveillance import MarketSurveillance, alerts_of_day

    ctx = context()
    settings = SchedulerSettings.load()
    engine = _read_model()
    try:
        with AlarmStore(settings.database(ctx.settings.state_dir)) as store:
            channels = [n.name for n in build_notifiers(settings)]
            report = MarketSurveillance(engine, store, channels, settings.surveillance_settings()).run(day)
        alerts = alerts_of_day(engine, report.day)
    finally:
        engine.dispose()
    new = set(report.stored)
    if as_json:
        ctx.print_json([
            {"id": a.id, "kind": a.kind, "day": a.day, "token_id": a.token_id,
             "accounts": a.accounts.split(","), "detail": a.detail, "trade_ids": a.trade_ids,
             "figures": a.figures, "raised_at": a.raised_at, "new": a.id in new}
            for a in alerts
        ])  # fmt: skip
        return
    table = Table(
        "id", "kind", "token", "accounts", "trades", "detail", title=f"surveillance alerts of {report.day}"
    )
    for a in alerts:
        ids = ", ".join(str(i) for i in a.trade_ids)
        table.add_row(f"{a.id}{' new' if a.id in new else ''}", a.kind, str(a.token_id),
                      "\n".join(a.accounts.split(",")), ids, a.detail)  # fmt: skip
    ctx.console.print(table)
    ctx.console.print(
        f"{report.trades} trade(s) scanned, {len(report.findings)} finding(s), "
        f"{len(report.stored)} new alert(s), {len(report.raised)} alarm(s) raised"
    )
