"""The Market projection against a real chain: orders, the book, trades, quotes, block proposals and
balances in the read model equal the contract's views after a scripted trading day and after its
expiry, on SQLite and PostgreSQL; the rows do not depend on how the blocks were paged, and a page
that fails half-way leaves nothing behind."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from chain.market import day_quote
from domain.market import Side, TradeMode
from readmodel import models as m
from readmodel.indexer.projections.market import MarketPage
from readmodel.indexer.run import Indexer
from readmodel.migrate import upgrade
from readmodel.session import make_engine
from tests.conftest import Consortium
from tests.readmodel.test_indexer import assert_totals_match_rollups
from tests.utils.compliance import ENTERPRISES, setup_cycle
from tests.utils.market_day import RULES, TOKEN, MarketDay, close_day, list_token, trade_day

MARKET_TABLES = (m.MarketRulebook, m.MarketReferencePrice, m.MarketOrder, m.MarketTrade, m.MarketQuote,
                 m.MarketBlock, m.MarketUnclaimed)  # fmt: skip


def _indexer(c: Consortium, url: str, **kwargs: int) -> Indexer:
    engine = make_engine(url)
    upgrade(engine)
    return Indexer(c.chain, c.manifest, engine, **kwargs)


def _rows(engine: Engine, model: type[m.Base], *order: Any) -> list[dict[str, Any]]:
    table = model.__table__
    with engine.connect() as conn:
        return [
            dict(r._mapping)
            for r in conn.execute(select(table).order_by(*(order or table.primary_key.columns)))
        ]


def _book(engine: Engine, side: str) -> list[tuple[int, int]]:
    o = m.MarketOrder
    best = o.price.desc() if side == "buy" else o.price.asc()
    with engine.connect() as conn:
        rows = conn.execute(
            select(o.price, func.sum(o.remaining))
            .where(o.token_id == TOKEN, o.side == side, o.status == "open")
            .group_by(o.price)
            .order_by(best)
        )
        return [(int(p), int(q)) for p, q in rows]


def assert_read_model_equals_chain(c: Consortium, indexer: Indexer, d: MarketDay) -> None:
    """Orders, book, trades, quotes, blocks and balances of the read model equal the chain's."""
    engine = indexer.engine
    orders = {r["order_id"]: r for r in _rows(engine, m.MarketOrder)}
    assert set(orders) == set(d.orders.values())
    placed = {e["args"]["orderId"]: e["args"] for e in c.market.events("OrderPlaced")}
    closed = {e["args"]["orderId"]: (name, e["args"]["remaining"])
              for name in ("OrderCancelled", "OrderExpired") for e in c.market.events(name)}  # fmt: skip
    trades = c.market.trades(TOKEN)
    for order_id, row in orders.items():
        args = placed[order_id]
        assert [row[k] for k in ("owner", "token_id", "price", "quantity", "call_phase")] == [
            args[k] for k in ("owner", "tokenId", "price", "quantity", "callPhase")
        ], order_id
        assert row["side"] == ("buy" if args["side"] == Side.BUY else "sell")
        filled = [t for t in trades if t.mode is not TradeMode.BLOCK and order_id in (t.buy_id, t.sell_id)]
        assert (row["fills"], row["filled_value"]) == (len(filled), sum(t.value for t in filled)), order_id
        assert row["fees"] == sum(t.buyer_fee if t.buy_id == order_id else t.seller_fee for t in filled)
        view = c.market.order(order_id)  # the contract forgets an order once it is closed
        if view.open:
            assert (row["status"], row["remaining"]) == ("open", view.remaining), order_id
        elif order_id in closed:
            name, remaining = closed[order_id]
            assert (row["status"], row["remaining"]) == (name[len("Order") :].lower(), remaining), order_id
        else:
            assert (row["status"], row["remaining"]) == ("filled", 0), order_id
            assert sum(t.quantity for t in filled) == row["quantity"]
    for side, chain_side in (("buy", Side.BUY), ("sell", Side.SELL)):
        assert _book(engine, side) == c.market.depth(TOKEN, chain_side, 100)

    rows = _rows(engine, m.MarketTrade)
    fields = ("buy_id", "sell_id", "buyer", "seller", "price", "quantity", "value", "buyer_fee", "seller_fee",
              "block_number", "log_index")  # fmt: skip
    assert [[r[k] for k in fields] for r in rows] == [[getattr(t, k) for k in fields] for t in trades]
    assert [r["mode"] for r in rows] == [t.mode.name.lower() for t in trades]
    modes = {r["mode"] for r in rows}
    assert modes == {"call", "continuous", "take", "block"}

    quotes = {r["mode"]: r for r in _rows(engine, m.MarketQuote)}
    official = day_quote(trades, RULES.reference_price)
    listing = quotes["listing"]
    assert (listing["open"], listing["close"], listing["volume"], listing["turnover"], listing["trades"]) == (
        official.open_price, official.close_price, official.volume, official.turnover, official.trades,
    )  # fmt: skip
    assert quotes["block"]["volume"] == official.block_volume
    assert sum(q["fees"] for mode, q in quotes.items() if mode != "listing") == official.fees
    for mode, q in quotes.items():
        mine = [
            t
            for t in trades
            if (mode == "listing" and t.mode is not TradeMode.BLOCK) or t.mode.name.lower() == mode
        ]
        assert (q["high"], q["low"], q["last"]) == (max(t.price for t in mine), min(t.price for t in mine),
                                                    mine[-1].price), mode  # fmt: skip

    for block_id in (d.accepted_block, d.pending_block):
        row = next(r for r in _rows(engine, m.MarketBlock) if r["block_id"] == block_id)
        assert row["status"] == c.market.block_proposal(block_id).status.name.lower()

    with engine.connect() as conn:
        held = {(r.account, r.token_id): r.balance for r in conn.execute(select(m.Holding))}
        r = m.StatRollup
        traded = {
            e: v
            for e, v in conn.execute(
                select(r.enterprise, r.value).where(r.grain == "year", r.metric == "traded")
            )
        }
    assert traded == {
        e.address: float(sum(t.quantity for t in trades if t.buyer == e.address))
        for e in ENTERPRISES
        if any(t.buyer == e.address for t in trades)
    }
    for account in [e.address for e in ENTERPRISES] + [c.market.address, c.market.fee_account()]:
        assert held.get((account, TOKEN), 0) == c.allowance.balance(account, TOKEN), account
        assert held.get((account, 0), 0) == c.cash.balance(account), account


def test_market_projection_equals_chain_views_and_balances_after_a_day_and_its_expiry(
    fresh: Consortium, database_url: str
) -> None:
    setup_cycle(fresh)
    d = trade_day(fresh)
    indexer = _indexer(fresh, database_url, page_blocks=3)  # orders cross pages
    indexer.catch_up()
    assert_read_model_equals_chain(fresh, indexer, d)
    assert_totals_match_rollups(indexer)
    statuses = {r["order_id"]: r["status"] for r in _rows(indexer.engine, m.MarketOrder)}
    assert statuses[d.orders["call_buy_e3"]] == "cancelled"
    assert {statuses[d.orders["call_buy_e0"]], statuses[d.orders["call_sell_e1"]]} == {"filled"}
    assert "open" in statuses.values()

    close_day(fresh, d)
    indexer.catch_up()
    assert_read_model_equals_chain(fresh, indexer, d)
    statuses = {r["order_id"]: r["status"] for r in _rows(indexer.engine, m.MarketOrder)}
    assert "open" not in statuses.values() and "expired" in statuses.values()
    assert _book(indexer.engine, "buy") == _book(indexer.engine, "sell") == []
    blocks = {r["block_id"]: r["status"] for r in _rows(indexer.engine, m.MarketBlock)}
    assert blocks == {d.accepted_block: "accepted", d.pending_block: "expired"}
    with indexer.engine.connect() as conn:
        escrow = {r.token_id: r.balance for r in conn.execute(
            select(m.Holding).where(m.Holding.account == fresh.market.address))}  # fmt: skip
    assert escrow.get(TOKEN, 0) == escrow.get(0, 0) == 0


def test_market_projection_rows_equal_whatever_the_pages_and_after_a_failed_page(
    fresh: Consortium, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    setup_cycle(fresh)
    trade_day(fresh)
    whole = _indexer(fresh, f"sqlite:///{tmp_path}/whole.db")
    whole.catch_up()
    paged = _indexer(fresh, f"sqlite:///{tmp_path}/paged.db", page_blocks=1)
    # a page with market events fails at its end once: the indexer (the same object, as its
    # run loop retries) resumes from its checkpoint with nothing of the failed page kept
    original = MarketPage.flush
    failures = 0

    def fail_once(self: MarketPage, conn: Any) -> None:
        nonlocal failures
        if self.trades and not failures:
            failures += 1
            raise RuntimeError("power cut")
        original(self, conn)

    monkeypatch.setattr(MarketPage, "flush", fail_once)
    with pytest.raises(RuntimeError):
        paged.catch_up()
    paged.catch_up()
    assert failures == 1
    for model in MARKET_TABLES:
        assert _rows(paged.engine, model) == _rows(whole.engine, model), model.__tablename__
    assert _rows(whole.engine, m.MarketTrade)


def test_market_projection_follows_rulebook_reference_prices_and_halts(
    fresh: Consortium, tmp_path: Path
) -> None:
    setup_cycle(fresh)
    list_token(fresh)
    indexer = _indexer(fresh, f"sqlite:///{tmp_path}/rules.db")
    indexer.catch_up()
    fresh.market.halt(fresh.exchange, TOKEN, "abnormal trading")
    indexer.catch_up()
    (row,) = _rows(indexer.engine, m.MarketRulebook)
    assert (row["halted"], row["halt_reason"]) == (True, "abnormal trading")
    fresh.market.resume(fresh.exchange, TOKEN)
    fresh.market.set_reference_price(fresh.exchange, TOKEN, 10_250)
    indexer.catch_up()
    (row,) = _rows(indexer.engine, m.MarketRulebook)
    rules = fresh.market.rulebook(TOKEN)
    assert (row["halted"], row["halt_reason"]) == (fresh.market.is_halted(TOKEN), None) == (False, None)
    assert {k: row[k] for k in rules.__dataclass_fields__} == {
        k: getattr(rules, k) for k in rules.__dataclass_fields__
    }
    assert row["reference_price"] == 10_250
    prices = [
        (r["price"], r["source"])
        for r in _rows(indexer.engine, m.MarketReferencePrice, "block_number", "log_index")
    ]
    assert prices == [(RULES.reference_price, "rulebook"), (10_250, "posted")]


def test_market_projection_keeps_limits_the_market_wide_halt_and_the_settlement_agent(
    fresh: Consortium, tmp_path: Path
) -> None:
    setup_cycle(fresh)
    list_token(fresh)
    indexer = _indexer(fresh, f"sqlite:///{tmp_path}/state.db")
    indexer.catch_up()
    (state,) = _rows(indexer.engine, m.MarketState)  # the suite's wiring set the agent
    assert (state["id"], state["halted"], state["settlement_agent"]) == (1, False, fresh.exchange.address)
    rules = replace(RULES, position_limit=5_000, position_limit_bps=250, governed=True)
    fresh.market.set_rulebook(fresh.exchange, TOKEN, rules)
    fresh.market.halt(fresh.exchange, 0, "settlement system down")
    indexer.catch_up()
    (row,) = _rows(indexer.engine, m.MarketRulebook)
    assert (row["position_limit"], row["position_limit_bps"], row["governed"]) == (5_000, 250, True)
    assert (row["halted"], row["halt_reason"]) == (False, None)  # its own halt is apart
    (state,) = _rows(indexer.engine, m.MarketState)
    assert (state["halted"], state["halt_reason"]) == (True, "settlement system down")
    assert fresh.market.market_halted()
    fresh.market.resume(fresh.exchange, 0)
    fresh.registry.govern_call(
        fresh.members, fresh.market.contract.functions.setSettlementAgent(fresh.regulator.address), "agent"
    )
    indexer.catch_up()
    (state,) = _rows(indexer.engine, m.MarketState)
    assert (state["halted"], state["halt_reason"], state["settlement_agent"]) == (
        False, None, fresh.regulator.address
    )  # fmt: skip


def test_market_projection_keeps_unclaimed_escrow_of_a_suspended_owner_until_withdrawn(
    fresh: Consortium, tmp_path: Path
) -> None:
    setup_cycle(fresh)
    d = trade_day(fresh)
    e2, order_id = ENTERPRISES[2], d.orders["buy_e2"]
    assert fresh.market.order(order_id).open
    r = fresh.registry
    r.govern(fresh.members, r.encode_suspend(e2.address, 7), "suspend E2")
    fresh.market.force_cancel(fresh.exchange, order_id)
    indexer = _indexer(fresh, f"sqlite:///{tmp_path}/unclaimed.db")
    indexer.catch_up()
    owed = fresh.market.unclaimed(e2.address, 0)
    assert owed > 0
    assert [(u["account"], u["token_id"], u["amount"]) for u in _rows(indexer.engine, m.MarketUnclaimed)] == [
        (e2.address, 0, owed)
    ]
    (order,) = [o for o in _rows(indexer.engine, m.MarketOrder) if o["order_id"] == order_id]
    assert order["status"] == "cancelled"
    r.govern(fresh.members, r.encode_reinstate(e2.address), "reinstate E2")
    fresh.market.withdraw_unclaimed(e2, 0)
    indexer.catch_up()
    assert fresh.market.unclaimed(e2.address, 0) == 0
    assert [u["amount"] for u in _rows(indexer.engine, m.MarketUnclaimed)] == [0]
