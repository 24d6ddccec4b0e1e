"""Settlement of trading days with exchange market trades, on a real chain (issue 20): the day of
the demo's trading (orders escrowed by the Market, fills paid buyer to seller, fees to the fee
account, an afternoon block trade) settles and reconciles with the chain and the read model, the
Market's escrow of the orders open at the close in its lines; its orders expire after the close,
so their escrow returns in the next trading day, which also balances, and where what was bought
on the first day is sellable (T+1)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from chain.accounts import demo_account
from chain.settlement import ledger_for
from demo.market import CO2, demo_trading_day, market_client
from domain.market import Side, TradeMode
from domain.tokens import CASH_ID as CASH
from readmodel.indexer.run import Indexer
from readmodel.migrate import upgrade
from readmodel.session import make_engine
from settlement.day import DayResult, run_day
from settlement.run import SystemAccounts
from tests.conftest import Consortium
from tests.settlement.conftest import CALENDAR, to_time
from tests.utils.demo_market import register_demo_enterprises


def test_market_days_settle_balanced_with_escrow_returned_next_day_when_orders_expire_after_close(
    fresh: Consortium, tmp_path: Path
) -> None:
    c = fresh
    register_demo_enterprises(c)
    traded = demo_trading_day(c.chain, c.manifest, c.registry, c.members)
    market = market_client(c.chain, c.manifest)
    escrow_t, escrow_cash = market.holdings(CO2)
    assert (escrow_t, escrow_cash) != (0, 0)  # orders rest at the close
    engine = make_engine(f"sqlite:///{tmp_path / 'read.db'}")
    upgrade(engine)
    indexer = Indexer(c.chain, c.manifest, engine)
    contracts = {name: record.address for name, record in c.manifest.contracts.items()}
    system = SystemAccounts(contracts["SealedBidAuction"], contracts["ComplianceManager"])

    def settled(day: date) -> DayResult:
        to_time(c, CALENDAR.close_at(day) + 60)
        indexer.catch_up()
        result = run_day(engine, CALENDAR, day, tmp_path / "reports", chain=ledger_for(c.chain, contracts),
                         system=system)  # fmt: skip
        assert result.balanced, result.reconciliation.differences
        return result

    try:
        first = settled(traded.day)
        lines = {(line.account, line.token_id): line for line in first.settlement.lines}
        assert (lines[(market.address, CO2)].closing, lines[(market.address, CASH)].closing) == (
            escrow_t,
            escrow_cash,
        )
        fees = sum(t.buyer_fee + t.seller_fee for t in traded.trades)
        assert lines[(demo_account("exchange").address, CASH)].flows["transfer"].inflow == fees
        bought = sum(t.quantity for t in traded.trades if t.buyer == demo_account("enterprise-5").address)
        assert bought == 1_200  # 500 + 300 in the morning, 200 + 200 in the afternoon; none held before
        assert lines[(demo_account("enterprise-5").address, CO2)].flows["transfer"].inflow == bought

        # After the close: the day's open orders expire (escrow back to their owners), the close is
        # posted; the next day enterprise-5 sells what it bought the day before to enterprise-2.
        assert market.expire_all(c.exchange, CO2) == 1
        assert market.holdings(CO2) == (0, 0)
        market.set_reference_price(c.exchange, CO2, traded.quote.close_price)
        day2 = CALENDAR.next_trading_day(traded.day)
        open_at = CALENDAR.close_at(day2) - 5 * 3600  # 10:00 CST
        to_time(c, open_at)
        seller, buyer2 = demo_account("enterprise-5"), demo_account("enterprise-2")
        assert market.sellable(seller.address, CO2) == bought  # T+1: yesterday's purchases are sellable
        ask = market.place(seller, CO2, Side.SELL, 9_900, 800)
        bid = market.place(buyer2, CO2, Side.BUY, 9_900, 500)
        [trade] = bid.trades
        assert (trade.sell_id, trade.price, trade.quantity, trade.mode) == (
            ask.id,
            9_900,
            500,
            TradeMode.CONTINUOUS,
        )

        second = settled(day2)
        lines2 = {(line.account, line.token_id): line for line in second.settlement.lines}
        market_co2 = lines2[(market.address, CO2)]
        # day 2 opens with day 1's escrow, which the expiry returned, and closes with the 300 t still offered
        assert (market_co2.opening, market_co2.closing) == (escrow_t, 300)
        assert (
            lines2[(market.address, CASH)].opening == escrow_cash
            and lines2[(market.address, CASH)].closing == 0
        )
        assert (lines2[(seller.address, CO2)].net, lines2[(seller.address, CO2)].closing) == (
            -800,
            bought - 800,
        )
        assert lines2[(buyer2.address, CO2)].net == 500
    finally:
        engine.dispose()
