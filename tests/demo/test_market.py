"""The market step of ``ets demo`` on a real chain: the demo's trading day (opening call, continuous
trading, takes, the T+1 refusal, a block trade) gives the figures worked out by hand from its plan
(and by :mod:`domain.market`'s engine); the demo's settlement of that day balances with the priced
trades in it; the close after settlement expires the open orders (the market then holds nothing)
and posts the close as the next reference price; a re-run sends nothing."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from chain.accounts import demo_account
from chain.config import ChainSettings
from chain.market import Book, DayQuote, trading_day
from demo.market import BLOCK, CO2, REFERENCE_PRICE, close_market_day, demo_trading_day, market_client
from demo.settlement import run_settlement_demo
from domain.market import Holding, MarketEngine, Side, TradeMode, fee
from tests.conftest import Consortium
from tests.utils.demo_market import register_demo_enterprises

#: The plan's listing trades (price fen/t, tonnes), worked out by hand: the call uncrosses 4,500 t
#: at 98.80 in three fills; then 500 at 98.80 and 300 at 99.00 (partial fills), takes of 700 at
#: 99.50 and 400 at 98.00, a sweep of 900 at 98.90 and 600 at 99.50, and 200 at 99.50 + 200 at 100.00.
LISTING = [(9_880, 2_500), (9_880, 500), (9_880, 1_500), (9_880, 500), (9_900, 300), (9_950, 700),
           (9_800, 400), (9_890, 900), (9_950, 600), (9_950, 200), (10_000, 200)]  # fmt: skip
FEE_BPS = 3


def _settings(c: Consortium, state: Path) -> ChainSettings:
    url = c.chain.w3.provider.endpoint_uri  # type: ignore[attr-defined]
    return ChainSettings(rpc_url=url, state_dir=state, manifest=c.manifest_path, demo=True)


def test_demo_trading_day_settles_balanced_then_closes_when_run_on_demo_consortium(
    fresh: Consortium, tmp_path: Path
) -> None:
    register_demo_enterprises(fresh)
    day = demo_trading_day(fresh.chain, fresh.manifest, fresh.registry, fresh.members)

    turnover = sum(p * q for p, q in LISTING)
    volume = sum(q for _, q in LISTING)
    seller, buyer, block_price, block_quantity = BLOCK
    fees = 2 * (sum(fee(p * q, FEE_BPS) for p, q in LISTING) + fee(block_price * block_quantity, FEE_BPS))
    close = (2 * turnover + volume) // (2 * volume)
    assert (volume, turnover, close) == (8_300, 82_116_000, 9_893)  # the hand-worked figures
    assert day.quote == DayQuote(9_880, close, volume, turnover, len(LISTING), block_quantity, fees)
    assert [(t.price, t.quantity) for t in day.trades if t.mode is not TradeMode.BLOCK] == LISTING
    modes = [t.mode for t in day.trades]
    assert [modes.count(m) for m in TradeMode] == [3, 6, 2, 1]
    [block] = [t for t in day.trades if t.mode is TradeMode.BLOCK]
    parties = (demo_account(seller).address, demo_account(buyer).address)
    assert (block.seller, block.buyer, block.price) == (*parties, block_price)
    assert day.book == Book(bids=[(9_820, 1_000), (9_800, 300), (9_780, 600)],
                            asks=[(10_000, 600), (10_050, 600), (10_100, 400), (10_150, 300)])  # fmt: skip
    e5 = demo_account("enterprise-5").address
    assert day.refusals == [
        f"MarketInsufficientAllowances(account={e5}, tokenId={CO2}, needed=800, sellable=0)"
    ]
    assert day.reference == REFERENCE_PRICE and "12 trades (11 listing, 1 block)" in day.summary
    assert "open CNY 98.80/t, close (VWAP of listing trades) CNY 98.93/t (+0.44%" in day.summary
    # the market holds exactly the escrow of the open orders
    market = market_client(fresh.chain, fresh.manifest)
    open_ids = [i for a in {t.buyer for t in day.trades} | {t.seller for t in day.trades}
                for s in Side for i in market.open_orders_of(a, CO2, s)]  # fmt: skip
    views = [market.order(i) for i in open_ids]
    held = market.holdings(CO2)
    assert held == (sum(v.remaining for v in views if v.side is Side.SELL), sum(v.escrow for v in views))
    assert held[0] == 1_900

    # The demo's settlement of the day: priced trades among its movements, balanced and anchored.
    settings = _settings(fresh, tmp_path)
    settled = run_settlement_demo(settings)
    assert settled.day == day.day and settled.result.balanced and settled.verified
    lines = {(line.account, line.token_id): line for line in settled.result.settlement.lines}
    exchange = demo_account("exchange").address
    assert lines[(market.address, CO2)].closing == held[0] and lines[(market.address, 0)].closing == held[1]
    assert lines[(exchange, 0)].flows["trade_fee"].inflow == fees  # the fee account's income
    moved = {t.movement: t for t in settled.totals}
    block_value = block_price * block_quantity
    assert (moved["trade_buy"].allowances, moved["block_buy"].allowances) == (volume, block_quantity)
    assert (moved["trade_sell"].allowances, moved["block_sell"].allowances) == (volume, block_quantity)
    assert moved["trade_buy"].cash == turnover + fees // 2 - fee(block_value, FEE_BPS)  # value + buyers' fees
    assert moved["block_buy"].cash == block_value + fee(block_value, FEE_BPS)
    assert moved["trade_fee"].cash == fees and moved["block_sell"].cash == block_value - fee(
        block_value, FEE_BPS
    )

    # The close: open orders expire (escrow returned), the close becomes the next reference.
    closed = close_market_day(settings)
    assert closed is not None and (closed.close_price, closed.expired_orders, closed.posted) == (
        close,
        7,
        True,
    )
    assert market.holdings(CO2) == (0, 0) and market.rulebook(CO2).reference_price == close  # type: ignore[union-attr]
    assert trading_day(fresh.chain.timestamp())[0] == (day.day - date(1970, 1, 1)).days  # still day D

    head = fresh.chain.w3.eth.block_number
    again = demo_trading_day(fresh.chain, fresh.manifest, fresh.registry, fresh.members)
    assert close_market_day(settings) is not None
    assert fresh.chain.w3.eth.block_number == head  # nothing sent
    assert again.quote == day.quote and again.trades == day.trades
    assert again.lines[0] == "market: CO2 2027 listed and its day traded by an earlier run"


def test_demo_plan_matches_reference_engine_when_replayed_off_chain() -> None:
    """The demo's order flow run through :class:`domain.market.MarketEngine` gives the same open,
    close and fees as the hand-worked figures the chain test asserts."""
    from demo.market import ALLOCATION, CALL_ORDERS, DEPTH_ORDERS, FUNDING, RULES

    names = [f"enterprise-{n}" for n in range(1, 7)]
    traders = {n: Holding(FUNDING.get(n, 0), ALLOCATION.get(n, 0)) for n in names}
    engine = MarketEngine(RULES, traders, call_phase=True)
    ids = iter(range(1, 100))
    named: dict[str, int] = {}
    for name, side, price, quantity in CALL_ORDERS:
        named[f"call:{name}"] = next(ids)
        engine.place(named[f"call:{name}"], name, side, price, quantity)
    engine.open()
    engine.place(next(ids), "enterprise-5", Side.BUY, 9_900, 800)
    engine.place(next(ids), "enterprise-1", Side.SELL, 9_890, 1_200)
    for name, side, price, quantity in DEPTH_ORDERS:
        named[f"{name}:{int(side)}:{price}"] = next(ids)
        engine.place(named[f"{name}:{int(side)}:{price}"], name, side, price, quantity)
    engine.take(next(ids), "enterprise-2", named["call:enterprise-4"], 700)
    engine.take(next(ids), "enterprise-6", named["enterprise-3:0:9800"], 400)
    engine.place(next(ids), "enterprise-3", Side.BUY, 9_960, 1_500)
    engine.block(next(ids), *BLOCK)
    engine.place(next(ids), "enterprise-5", Side.BUY, 10_000, 400)
    engine.cancel(named["enterprise-2:0:9750"], "enterprise-2")
    listing = [(f.price, f.quantity) for f in engine.fills if f.mode is not TradeMode.BLOCK]
    assert listing == LISTING and (engine.open_price, engine.close_price) == (9_880, 9_893)
