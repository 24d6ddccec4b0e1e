"""The demo's trading day on the exchange market: CO2 of the demo's vintage listed on the Market
contract, an opening call auction, continuous trading among the demo enterprises with partial
fills, takes from the best five levels, the T+1 resale lock refusing a same-day resale, an
afternoon block trade, and the day's figures (open, VWAP close, volume, turnover, fees) — before
the settlement step, so the day it settles holds priced trades. After the settlement step,
:func:`close_market_day` expires the orders left at the close and posts the close as the next
day's reference price (as the settlement job does).

The day runs on the demo's own Anvil: the chain's clock is moved to each moment of the day
(``chain.market.set_chain_time``), China Standard Time as the contract counts it."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TYPE_CHECKING

from chain.accounts import Signer, demo_account
from chain.allowance import AllowanceClient, SettlementClient
from chain.compile import compile_contracts
from chain.deploy import Manifest, load_for_chain
from chain.errors import ContractRevertError
from chain.market import (
    Book,
    DayQuote,
    MarketClient,
    Trade,
    cst_time,
    day_quote,
    next_weekday_at,
    set_chain_time,
    trading_day,
    wire_market,
)
from chain.registry import RegistryClient
from chain.tx import ChainClient
from domain.market import Rulebook, Side, TradeMode
from domain.tokens import Kind, encode_id
from settlement.market import close_market

if TYPE_CHECKING:
    from chain.config import ChainSettings

logger = logging.getLogger(__name__)

#: The vintage the demo trades (the demo's CO2 allocation year).
YEAR = 2027
#: CO2 of :data:`YEAR`: the token id the demo lists.
CO2 = encode_id(Kind.ALLOWANCE, "CO2", YEAR)
#: The previous close the exchange lists CO2 with (fen per tonne: CNY 98.50/t).
REFERENCE_PRICE = 9_850
#: Fee per side per fill (bps). The national market's schedule was not found; 3 bps is an
#: assumption (the Hubei pilot publishes 50 bps per side for negotiated trades).
FEE_BPS = 3
#: The demo's rulebook: the issue's defaults (±10 % listing band, ±30 % block band, blocks from
#: 100,000 t in the afternoon, call 9:15–9:30, sessions 9:30–11:30 and 13:00–15:00) and the fee.
RULES = Rulebook(reference_price=REFERENCE_PRICE, fee_bps=FEE_BPS)
#: Free allocation of the vintage to the sellers before the day (tonnes), by demo enterprise.
ALLOCATION = {"enterprise-1": 300_000, "enterprise-4": 20_000, "enterprise-6": 60_000}
#: Settlement cash the buyers deposit before the open (fen), by demo enterprise, with the bank
#: reference of each deposit (``demo.settlement.earlier_bank_references`` knows them).
FUNDING = {"enterprise-2": 60_000_000, "enterprise-3": 1_300_000_000, "enterprise-5": 30_000_000}
BANK_REFS = {name: f"ICBC-DEMO-MARKET-{int(name.rsplit('-', 1)[1]):04d}" for name in FUNDING}
#: Orders of the opening call phase (9:15–9:30): (enterprise, side, price fen/t, tonnes).
CALL_ORDERS: tuple[tuple[str, Side, int, int], ...] = (
    ("enterprise-1", Side.SELL, 9_800, 3_000),
    ("enterprise-6", Side.SELL, 9_880, 2_000),
    ("enterprise-4", Side.SELL, 9_950, 1_500),
    ("enterprise-2", Side.BUY, 9_900, 2_500),
    ("enterprise-3", Side.BUY, 9_880, 2_000),
    ("enterprise-5", Side.BUY, 9_820, 1_000),
)
#: Orders that build the book after the open (no cross): (enterprise, side, price, tonnes).
DEPTH_ORDERS: tuple[tuple[str, Side, int, int], ...] = (
    ("enterprise-6", Side.SELL, 10_000, 800),
    ("enterprise-1", Side.SELL, 10_050, 600),
    ("enterprise-4", Side.SELL, 10_100, 400),
    ("enterprise-6", Side.SELL, 10_150, 300),
    ("enterprise-3", Side.BUY, 9_800, 700),
    ("enterprise-2", Side.BUY, 9_780, 600),
    ("enterprise-2", Side.BUY, 9_750, 400),
)
#: The afternoon block trade: seller, buyer, price (fen/t), tonnes.
BLOCK = ("enterprise-1", "enterprise-3", 9_700, 120_000)
#: Hours and minutes (CST) of the day's moments.
HOUR, MINUTE = 3600, 60


def at(hours: int, minutes: int = 0) -> int:
    """Seconds of the day (CST) of ``hours:minutes``."""
    return hours * HOUR + minutes * MINUTE


@dataclass
class MarketDayReport:
    """What the demo's trading day did.

    Attributes:
        token_id: the id traded.
        day: the trading day (CST).
        reference: the reference price the day traded around (fen/t).
        quote: open, close, volume, turnover and fees of the day.
        trades: the day's fills in execution order.
        book: the best five levels of each side at the end of the day's trading.
        names: address → demo account name, for people.
        lines: what happened, for people.
        refusals: actions the market refused (the custom error and its arguments), for people.
    """

    token_id: int
    day: date
    reference: int
    quote: DayQuote
    trades: list[Trade]
    book: Book
    names: dict[str, str]
    lines: list[str] = field(default_factory=list)
    refusals: list[str] = field(default_factory=list)

    @property
    def summary(self) -> str:
        """One line: trades, volume, turnover, open, close and fees of the day."""
        q = self.quote
        blocks = sum(1 for t in self.trades if t.mode is TradeMode.BLOCK)
        change = (q.close_price - self.reference) / self.reference
        opened = cny(q.open_price) if q.open_price is not None else "none"
        return (
            f"market day {self.day}: {len(self.trades)} trades ({q.trades} listing, {blocks} block), "
            f"listing volume {q.volume:,} t, turnover CNY {q.turnover / 100:,.2f}; block volume "
            f"{q.block_volume:,} t; open {opened}, close (VWAP of listing trades) {cny(q.close_price)} "
            f"({change:+.2%} against the reference {cny(self.reference)}); fees CNY {q.fees / 100:,.2f} "
            "to the exchange's fee account"
        )


def cny(fen: int) -> str:
    """A price in fen per tonne as ``CNY 98.50/t``."""
    return f"CNY {fen / 100:,.2f}/t"


def _names() -> dict[str, str]:
    names: dict[str, str] = {demo_account(f"enterprise-{n}").address: f"enterprise-{n}" for n in range(1, 7)}
    names[demo_account("exchange").address] = "exchange"
    return names


def market_client(chain: ChainClient, manifest: Manifest) -> MarketClient:
    """The deployment's Market with its token clients."""
    record = manifest.contracts["Market"]
    allowance = AllowanceClient(chain, manifest.address("AllowanceToken"))
    cash = SettlementClient(chain, manifest.address("SettlementToken"))
    return MarketClient(chain, record.address, allowance, cash, from_block=record.block)


def _to(chain: ChainClient, day: int, time_of_day: int) -> None:
    """Move the chain's clock forward to ``time_of_day`` of trading day ``day`` (never back)."""
    target = cst_time(day, time_of_day)
    if chain.timestamp() < target:
        set_chain_time(chain, target)


def _label(n: int) -> str:
    return f"{n:,}"


def demo_trading_day(
    chain: ChainClient,
    manifest: Manifest,
    registry: RegistryClient,
    members: Sequence[Signer],
) -> MarketDayReport:
    """Run the demo's trading day once: wire the market, list CO2 of :data:`YEAR`, fund and
    approve the enterprises, then the next weekday from the call phase to the afternoon (the
    chain's clock moved to each moment). A re-run (CO2 listed already) sends nothing and reports
    the day from the contract's events.

    Raises:
        ContractRevertError: an action the plan expects to succeed is refused.
    """
    market = market_client(chain, manifest)
    names = _names()
    if market.rulebook(CO2) is not None:
        return _report(market, names, [f"market: CO2 {YEAR} listed and its day traded by an earlier run"])
    lines: list[str] = []
    exchange, regulator = demo_account("exchange"), demo_account("regulator")
    done = wire_market(registry, list(members), market, exchange.address, settlement_agent=exchange.address)
    if done:
        lines.append(
            f"market: Market wired by governance ({len(done)} proposals: system contract of both tokens, "
            "the allowance token's market for the T+1 lock, fees to the exchange's account)"
        )
    market.set_rulebook(exchange, CO2, RULES)
    lower, upper = RULES.band
    block_lower, block_upper = RULES.block_band
    lines.append(
        f"market: CO2 {YEAR} listed by the exchange: reference {cny(REFERENCE_PRICE)}, listing band "
        f"{cny(lower)}–{cny(upper)} (±{RULES.band_bps / 100:g} %), block trades from "
        f"{RULES.block_minimum:,} t within {cny(block_lower)}–{cny(block_upper)} after 13:00, fee "
        f"{RULES.fee_bps} bps per side per fill (assumed; see demo.market.FEE_BPS)"
    )

    # The day before the open: allocation to the sellers, cash to the buyers, approvals.
    allowance, cash = market.allowance, market.cash
    allowance.set_cap(regulator, CO2, allowance.cap(CO2) + sum(ALLOCATION.values()))
    allowance.allocate(
        regulator,
        CO2,
        [demo_account(n).address for n in ALLOCATION],
        list(ALLOCATION.values()),
        b"demo-co2-2027-free-allocation".ljust(32, b"\0"),
    )
    day, _ = trading_day(next_weekday_at(chain.timestamp(), at(9)))
    set_chain_time(chain, cst_time(day, at(9)))
    for name, amount in FUNDING.items():
        cash.deposit(exchange, demo_account(name).address, amount, BANK_REFS[name])
    for n in range(1, 7):
        market.ensure_approvals(demo_account(f"enterprise-{n}"))
    when = _date(day)
    lines.append(
        f"market: trading day {when} ({when:%A}): free allocation of CO2 {YEAR} to the sellers "
        f"({', '.join(f'{n} {_label(q)} t' for n, q in ALLOCATION.items())}); the buyers deposit "
        f"CNY {sum(FUNDING.values()) / 100:,.0f} at the bank before the open "
        f"({', '.join(BANK_REFS.values())}); "
        "six enterprises approve the market for their cash and allowances"
    )

    refusals: list[str] = []
    ids = _call_and_open(market, day, lines)
    _continuous(market, day, ids, lines, refusals)
    _afternoon(market, day, ids, lines)
    report = _report(market, names, lines, refusals)
    logger.info(
        "demo trading day",
        extra={"day": report.day.isoformat(), "token_id": CO2, "trades": len(report.trades),
               "close": report.quote.close_price, "fees": report.quote.fees},
    )  # fmt: skip
    return report


def _place(market: MarketClient, name: str, side: Side, price: int, quantity: int) -> tuple[int, list[Trade]]:
    done = market.place(demo_account(name), CO2, side, price, quantity)
    return done.id, list(done.trades)


def _fills(trades: Sequence[Trade]) -> str:
    return ", ".join(f"{t.quantity:,} t at {cny(t.price)}" for t in trades) or "no fill"


def _call_and_open(market: MarketClient, day: int, lines: list[str]) -> dict[str, int]:
    """The opening call: orders collected 9:15–9:30, then the uncrossing computed off-chain from
    the call book and submitted; the contract checks it and fills the call orders at one price."""
    _to(market.chain, day, RULES.call_start)
    ids: dict[str, int] = {}
    for name, side, price, quantity in CALL_ORDERS:
        ids[f"call:{name}"], _ = _place(market, name, side, price, quantity)  # collected, not matched
    bids, asks = market.call_book(CO2)
    _to(market.chain, day, RULES.open1)
    result = market.compute_uncross(CO2)
    pages = market.uncross_all(demo_account("exchange"), CO2, price=result.price)
    fills = [t for page in pages for t in page.trades]
    lines.append(
        f"market: opening call 9:15–9:30: {len(bids)} buy and {len(asks)} sell orders from "
        f"{len(CALL_ORDERS)} enterprises; uncrossing computed off-chain (domain.market.uncross_price: "
        f"most volume, then least imbalance, then nearest the reference) and verified on-chain: "
        f"{result.volume:,} t at {cny(result.price)} in {len(fills)} fills; the rest rests in the book"
    )
    return ids


def _continuous(
    market: MarketClient, day: int, ids: dict[str, int], lines: list[str], refusals: list[str]
) -> None:
    """Morning session: crossing orders with partial fills, the book built, takes from the best
    five levels on both sides, an order sweeping two levels, and a same-day resale refused (T+1)."""
    chain = market.chain
    _to(chain, day, at(9, 45))
    order, trades = _place(market, "enterprise-5", Side.BUY, 9_900, 800)
    rest = market.order(order).remaining
    lines.append(
        f"market: 9:45 enterprise-5 buys 800 t at up to {cny(9_900)}: {_fills(trades)}, "
        f"{rest:,} t rest as the best bid (a partial fill)"
    )
    _to(chain, day, at(10, 5))
    order, trades = _place(market, "enterprise-1", Side.SELL, 9_890, 1_200)
    ids["e1-ask"] = order
    lines.append(
        f"market: 10:05 enterprise-1 sells 1,200 t at {cny(9_890)} or better: {_fills(trades)}, "
        f"{market.order(order).remaining:,} t rest"
    )
    _to(chain, day, at(10, 20))
    for name, side, price, quantity in DEPTH_ORDERS:
        order, _ = _place(market, name, side, price, quantity)
        ids[f"{name}:{int(side)}:{price}"] = order
    book = market.book(CO2, 5)
    lines.append(
        f"market: 10:20 {len(DEPTH_ORDERS)} more orders build the book: best bid {cny(book.bids[0][0])}, "
        f"best ask {cny(book.asks[0][0])}, {len(book.bids)} bid and {len(book.asks)} ask levels shown"
    )

    # Takes: pick a resting order on the other side within the best five levels.
    _to(chain, day, at(10, 40))
    e4_ask = ids["call:enterprise-4"]
    level = [p for p, _ in market.depth(CO2, Side.SELL, 5)].index(market.order(e4_ask).price) + 1
    take = market.take(demo_account("enterprise-2"), e4_ask, 700)
    lines.append(
        f"market: 10:40 enterprise-2 takes 700 t of enterprise-4's ask at level {level} of the best five: "
        f"{_fills(take.trades)} (take #{take.id})"
    )
    _to(chain, day, at(10, 55))
    e3_bid = ids["enterprise-3:0:9800"]
    level = [p for p, _ in market.depth(CO2, Side.BUY, 5)].index(market.order(e3_bid).price) + 1
    take = market.take(demo_account("enterprise-6"), e3_bid, 400)
    lines.append(
        f"market: 10:55 enterprise-6 sells into enterprise-3's bid at level {level}: {_fills(take.trades)} "
        f"(take #{take.id}, {market.order(e3_bid).remaining:,} t of the bid remain)"
    )
    _to(chain, day, at(11, 10))
    order, trades = _place(market, "enterprise-3", Side.BUY, 9_960, 1_500)
    lines.append(
        f"market: 11:10 enterprise-3 buys 1,500 t at up to {cny(9_960)}, sweeping two ask levels: "
        f"{_fills(trades)}; enterprise-4's ask is partly filled "
        f"({market.order(e4_ask).remaining:,} t of {market.order(e4_ask).quantity:,} t left)"
    )

    # T+1: what enterprise-5 bought this morning cannot be sold today. The order is simulated
    # (eth_call): refused, nothing is mined; were it accepted, the day's plan would stay intact.
    _to(chain, day, at(11, 20))
    e5 = demo_account("enterprise-5")
    bought = market.bought_today(e5.address, CO2)
    held = market.allowance.balance(e5.address, CO2)
    attempt = (
        f"market: 11:20 enterprise-5 tries to sell all {held:,} t it holds, {bought:,} t of them bought today"
    )
    try:
        chain.call(market.place_call(CO2, Side.SELL, 9_990, held), sender=e5.address)
    except ContractRevertError as exc:
        args = ", ".join(f"{k}={v}" for k, v in exc.args_.items())
        refusals.append(f"{exc.error}({args})")
        lines.append(
            f"{attempt}: refused, {exc.error} (sellable {market.sellable(e5.address, CO2):,} t: "
            "allowances bought today cannot be sold before the next trading day)"
        )
    else:
        logger.warning("same-day resale accepted", extra={"account": e5.address, "token_id": CO2})
        lines.append(f"{attempt}: the market would ACCEPT it — the T+1 lock did not hold")


def _afternoon(market: MarketClient, day: int, ids: dict[str, int], lines: list[str]) -> None:
    """Afternoon session: a block trade (proposed by the seller, accepted by the named buyer,
    delivered versus payment at once), one more crossing order, a cancel; then the book."""
    chain = market.chain
    seller, buyer, price, quantity = BLOCK
    _to(chain, day, at(13, 30))
    block_id = market.propose_block(demo_account(seller), CO2, demo_account(buyer).address, price, quantity)
    _to(chain, day, at(13, 32))
    done = market.accept_block(demo_account(buyer), block_id)
    [trade] = done.trades
    lower, upper = RULES.block_band
    lines.append(
        f"market: 13:30 block trade #{block_id}: {seller} proposes {quantity:,} t at {cny(price)} to "
        f"{buyer} (block band {cny(lower)}–{cny(upper)}), who accepts at 13:32: delivered versus payment "
        f"in one transaction, CNY {trade.value / 100:,.2f} plus fees CNY "
        f"{(trade.buyer_fee + trade.seller_fee) / 100:,.2f}; excluded from the open and the close"
    )
    _to(chain, day, at(14, 5))
    _, trades = _place(market, "enterprise-5", Side.BUY, 10_000, 400)
    lines.append(f"market: 14:05 enterprise-5 buys 400 t at up to {cny(10_000)}: {_fills(trades)}")
    _to(chain, day, at(14, 20))
    market.cancel(demo_account("enterprise-2"), ids["enterprise-2:0:9750"])
    lines.append(f"market: 14:20 enterprise-2 cancels its 400 t bid at {cny(9_750)}: its cash escrow returns")
    _to(chain, day, at(14, 30))


def _day_of_first_trade(market: MarketClient) -> tuple[int, int]:
    """The trading day (CST) of the first CO2 trade (today's when none) and the reference price
    that day traded around (its rulebook's; the close posted after it is the next day's)."""
    trades = market.trades(CO2)
    stamp = (
        int(market.chain.w3.eth.get_block(trades[0].block_number)["timestamp"])
        if trades
        else market.chain.timestamp()
    )
    listed = market.events("RulebookSet", tokenId=CO2)
    reference = int(listed[-1]["args"]["rules"]["referencePrice"]) if listed else REFERENCE_PRICE
    return trading_day(stamp)[0], reference


def _report(
    market: MarketClient, names: dict[str, str], lines: list[str], refusals: list[str] | None = None
) -> MarketDayReport:
    """The day of the first CO2 trade (this run's, or an earlier run's), from the events."""
    day, reference = _day_of_first_trade(market)
    trades = market.trades_of_day(CO2, day)
    report = MarketDayReport(
        CO2, _date(day), reference, day_quote(trades, reference), trades, market.book(CO2, 5), names,
        lines, refusals or [],
    )  # fmt: skip
    report.lines.append(report.summary)
    whole = market.book(CO2)
    bid, offered = sum(q for _, q in whole.bids), sum(q for _, q in whole.asks)
    if bid or offered:
        report.lines.append(
            f"market: at the end of trading {bid:,} t bid and {offered:,} t offered stay open, their "
            "escrow held by the Market contract; they expire after the 15:00 close"
        )
    return report


def _date(day: int) -> date:
    return date(1970, 1, 1) + timedelta(days=day)


@dataclass(frozen=True)
class MarketCloseReport:
    """What the close did: orders expired, the close posted as the next reference price."""

    day: date
    close_price: int
    expired_orders: int
    transactions: int
    posted: bool
    lines: list[str]


def close_market_day(settings: ChainSettings) -> MarketCloseReport | None:
    """After the settlement step (the chain past the 15:00 close): expire the day's open orders
    (their escrow returns) and post the day's close (the VWAP of its listing trades) as the next
    day's reference price, as the exchange; once (a re-run finds both done and sends nothing).
    None when the demo has not traded.
    """
    chain = ChainClient.connect(settings.rpc_url, compile_contracts())
    manifest = load_for_chain(chain, settings.manifest_path)
    if "Market" not in manifest.contracts:
        return None
    market = market_client(chain, manifest)
    rules = market.rulebook(CO2)
    trades = market.trades(CO2)
    if rules is None or not trades:
        return None
    day, reference = _day_of_first_trade(market)
    quote = day_quote(market.trades_of_day(CO2, day), reference)
    lines: list[str] = []
    _to(chain, day, rules.close2)
    # the settlement layer's rule (settlement.market): expire the day's orders, post the close
    closed = close_market(market, demo_account("exchange"), _date(day)).token(CO2)
    expired, posted = closed.expired_orders, closed.posted
    sent = closed.transactions - int(posted)
    if expired or closed.expired_blocks:
        lines.append(
            f"market close: {expired} open orders of {_date(day)} expired "
            f"after 15:00 in {sent} transaction(s), their escrow returned "
            f"(Market now holds {market.holdings(CO2)[0]:,} t and CNY {market.holdings(CO2)[1] / 100:,.2f})"
        )
    if posted:
        lines.append(
            f"market close: the close {cny(quote.close_price)} (VWAP of the day's listing trades) posted as "
            f"CO2 {YEAR}'s reference price for the next trading day; its band is now "
            f"{cny(market.band(CO2)[0])}–{cny(market.band(CO2)[1])}"
        )
    return MarketCloseReport(_date(day), quote.close_price, expired, sent, posted, lines)
