"""Hypothesis state machine over random trading days on a real Anvil, differential against the
Python reference ``domain.market.MarketEngine``: orders, cancels, takes, blocks, an opening call or
not, fees, refusals (every action refused by one is refused by the other with the same error name).
After every step the trades, the book and every balance equal the reference's; cash and allowances
are conserved across traders, the fee account and the market; the market holds exactly the escrow
of the open orders; at the end of the day expiry returns it all and the market holds nothing."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from chain.errors import ContractRevertError
from domain.errors import MarketRuleError
from domain.market import Fill, Holding, MarketEngine, Rulebook, TradeMode
from tests.conftest import Consortium
from tests.utils.chain import CHAIN_MACHINE_SETTINGS
from tests.utils.market import (
    BUY,
    CALL_PHASE,
    CO2_2027,
    EVENING,
    MORNING,
    OPEN1,
    TRADERS,
    Rig,
    later_today,
    module_rig,
    next_weekday_at,
    rulebook,
)

NAMES = ["A", "B", "C", "D"]
ACCOUNTS = dict(zip(NAMES, TRADERS[:4], strict=False))
BY_ADDRESS = {a.address: n for n, a in ACCOUNTS.items()}
REFERENCE = 5_000
#: Small holdings so that refusals for cash and allowances happen.
CASH = 3_000_000
ALLOWANCES = 300

prices = st.integers(4_940, 5_060)  # band [4,950, 5,050]
quantities = st.integers(0, 70)  # block minimum 60
traders = st.sampled_from(NAMES)
picks = st.integers(0, 10_000)


@pytest.fixture(scope="module")
def base(consortium: Consortium) -> Iterator[Rig]:
    yield from module_rig(consortium, traders=TRADERS[:4], cash=CASH, allowances=ALLOWANCES, seed=850)


def contract_fills(rig: Rig, receipts: list[Any]) -> list[Fill]:
    return [
        Fill(
            e["buyId"],
            e["sellId"],
            BY_ADDRESS[e["buyer"]],
            BY_ADDRESS[e["seller"]],
            e["price"],
            e["quantity"],
            e["buyerFee"],
            e["sellerFee"],
            TradeMode(e["mode"]),
        )
        for receipt in receipts
        for e in rig.events(receipt, "TradeExecuted")
    ]


def test_random_days_match_the_reference_engine_and_conserve_value(base: Rig) -> None:
    rig = base
    c: Consortium = rig.suite  # type: ignore[assignment]
    market = rig.market.functions

    class Day(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.snapshot = c.snapshot()
            self.engine: MarketEngine | None = None
            self.ids: list[int] = []
            self.start: dict[str, tuple[int, int]] = {}
            self.fee_start = 0

        def teardown(self) -> None:
            try:
                if self.engine is not None:
                    later_today(c.chain, EVENING)
                    rig.expire(rig.suite.exchange)
                    self.engine.expire()
                    assert rig.holdings()["market"] == (0, 0)
                    self.check_balances()
            finally:
                c.revert(self.snapshot)

        @initialize(fee_bps=st.sampled_from([0, 30]), call=st.booleans())
        def open_day(self, fee_bps: int, call: bool) -> None:
            rules = Rulebook(
                REFERENCE,
                band_bps=100,
                block_band_bps=300,
                fee_bps=fee_bps,
                block_minimum=60,
                block_from=OPEN1,
            )
            rig.set_rules(
                rulebook(
                    REFERENCE, bandBps=100, blockBandBps=300, feeBps=fee_bps, blockMinimum=60, blockFrom=OPEN1
                )
            )
            next_weekday_at(c.chain, CALL_PHASE if call else MORNING)
            rig.orders.clear()  # ids of earlier examples come back after their rollback
            holdings = rig.holdings()
            self.start = holdings
            self.fee_start = holdings["fee"][0]
            accounts = {n: Holding(*holdings[a.address]) for n, a in ACCOUNTS.items()}
            self.engine = MarketEngine(rules, accounts, call_phase=call, token_id=CO2_2027)

        # -- the differential step -------------------------------------------------

        def both(self, on_engine: Callable[[int], list[Fill]], on_chain: Callable[[], list[Any]]) -> None:
            """Run an action on the reference (with the id the contract will give) and on the chain;
            both refuse it with the same error, or both make the same fills."""
            assert self.engine is not None
            next_id = int(market.nextId().call())
            engine_error = chain_error = None
            fills: list[Fill] = []
            try:
                fills = on_engine(next_id)
            except MarketRuleError as exc:
                engine_error = exc.contract_error
            receipts: list[Any] = []
            try:
                receipts = on_chain()
            except ContractRevertError as exc:
                chain_error = exc.error
            assert chain_error == engine_error, f"chain {chain_error}, reference {engine_error}"
            assert contract_fills(rig, receipts) == fills
            event(f"{chain_error or 'accepted'}{' with fills' if fills else ''}")

        @rule(who=traders, side=st.sampled_from([0, 1]), price=prices, quantity=quantities)
        def place(self, who: str, side: int, price: int, quantity: int) -> None:
            assert self.engine is not None
            engine = self.engine

            def on_chain() -> list[Any]:
                receipt = rig.place_receipt(ACCOUNTS[who], side, price, quantity)
                self.ids.append(rig.orders[-1])
                return [receipt]

            self.both(lambda i: engine.place(i, who, side, price, quantity), on_chain)

        def choose(self, pick: int, any_order: bool) -> int:
            """An order id placed today: mostly an open one, sometimes any (closed, refused)."""
            assert self.engine is not None
            engine = self.engine
            live = {i for n in NAMES for side in (0, 1) for i in engine.open_orders_of(n, side)}
            open_ids = [i for i in self.ids if i in live]
            pool = self.ids if any_order or not open_ids else open_ids
            return pool[pick % len(pool)]

        @precondition(lambda self: self.ids)
        @rule(who=traders, pick=picks, any_order=st.booleans(), own=st.booleans())
        def cancel(self, who: str, pick: int, any_order: bool, own: bool) -> None:
            assert self.engine is not None
            engine = self.engine
            order_id = self.choose(pick, any_order)
            if own and not any_order:
                who = next(
                    (n for n in NAMES for side in (0, 1) if order_id in engine.open_orders_of(n, side)), who
                )

            def on_engine(_: int) -> list[Fill]:
                engine.cancel(order_id, who)
                return []

            self.both(on_engine, lambda: [rig.cancel(ACCOUNTS[who], order_id)])

        @precondition(lambda self: self.ids)
        @rule(who=traders, pick=picks, quantity=st.integers(0, 40), any_order=st.booleans())
        def take(self, who: str, pick: int, quantity: int, any_order: bool) -> None:
            assert self.engine is not None
            engine = self.engine
            order_id = self.choose(pick, any_order)
            self.both(
                lambda i: [engine.take(i, who, order_id, quantity)],
                lambda: [rig.take(ACCOUNTS[who], order_id, quantity)],
            )

        @rule(seller=traders, buyer=traders, price=st.integers(4_840, 5_160), quantity=st.integers(50, 130))
        def block(self, seller: str, buyer: str, price: int, quantity: int) -> None:
            assert self.engine is not None
            engine = self.engine

            def on_chain() -> list[Any]:
                block_id = rig.propose(ACCOUNTS[seller], ACCOUNTS[buyer].address, price, quantity)
                try:
                    return [rig.accept(ACCOUNTS[buyer], block_id)]
                except ContractRevertError:
                    rig.send(rig.market.functions.cancelBlock(block_id), ACCOUNTS[seller])
                    raise

            self.both(lambda i: [engine.block(i, seller, buyer, price, quantity)], on_chain)

        @rule()
        def open_market(self) -> None:
            assert self.engine is not None
            if not self.engine.call_phase:
                return
            later_today(c.chain, OPEN1 + 30)
            engine = self.engine
            result: dict[str, int] = {}

            def on_engine(_: int) -> list[Fill]:
                fills = engine.open()
                assert engine.call_result is not None
                result["price"] = engine.call_result.price
                return fills

            def on_chain() -> list[Any]:
                return [rig.uncross(ACCOUNTS["D"], result["price"])]

            self.both(on_engine, on_chain)

        # -- after every step --------------------------------------------------------

        def check_balances(self) -> None:
            assert self.engine is not None
            now = rig.holdings()
            for name, account in ACCOUNTS.items():
                assert now[account.address] == tuple(self.engine.holdings[name]), name
            assert now["market"] == tuple(self.engine.escrow)
            assert now["fee"][0] - self.fee_start == self.engine.fees
            for i in (0, 1):
                assert sum(v[i] for v in now.values()) == sum(v[i] for v in self.start.values())

        @invariant()
        def matches_the_reference(self) -> None:
            if self.engine is None:
                return
            self.check_balances()
            assert rig.depth(BUY) == self.engine.depth(0)
            assert rig.depth(1) == self.engine.depth(1)
            assert rig.holdings()["market"] == rig.escrow()  # what the open orders hold, per order

    # fewer examples than the other machines: each step here is several transactions and calls
    Day.TestCase.settings = settings(CHAIN_MACHINE_SETTINGS, max_examples=10)
    Day.TestCase().runTest()
