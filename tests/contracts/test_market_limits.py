"""Market position limits on a real Anvil (rule 14): the absolute and the share limit and the smaller
of both, every buy path refused whole over the limit (order, call-phase order, take of a sell, block
acceptance) naming the position and the limit, nothing moved, sells never limited, and the open buys
counted through fills, cancels, force-cancels, the uncrossing and expiry; each step compared with
``domain.market.MarketEngine`` given the same holdings and quantity in circulation."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from chain.errors import ContractRevertError
from domain.errors import MarketRuleError
from domain.market import Holding, MarketEngine, Rulebook, position_limit, uncross_price
from tests.conftest import Consortium
from tests.utils.chain import reverts
from tests.utils.market import (
    AFTERNOON,
    BUY,
    CALL_PHASE,
    CO2_2027,
    EVENING,
    MORNING,
    OPEN1,
    SELL,
    TRADERS,
    Rig,
    fresh_rig,
    later_today,
    module_rig,
    next_weekday_at,
    rulebook,
)

A, B, C, D, E = TRADERS
HELD = 1_000_000  # each trader's allowances (tests/utils/market.py)


@pytest.fixture(scope="module")
def base(consortium: Consortium) -> Iterator[Rig]:
    yield from module_rig(consortium, rules=rulebook(feeBps=10))


@pytest.fixture
def rig(base: Rig) -> Iterator[Rig]:
    yield from fresh_rig(base)


def issued(rig: Rig) -> int:
    return int(rig.suite.allowance.contract.functions.totalSupply(CO2_2027).call())


def position(rig: Rig, account: str) -> tuple[int, int]:
    pos, limit = rig.market.functions.positionOf(account, CO2_2027).call()
    return int(pos), int(limit)


def engine_of(rig: Rig, rules: tuple[Any, ...], *, call_phase: bool = False) -> MarketEngine:
    """The reference engine of the rig's traders (their current cash and allowances), the rules
    and the token's quantity in circulation."""
    holdings = {t.address: Holding(rig.cash(t.address), rig.allowances(t.address)) for t in rig.traders}
    rulebook_ = Rulebook(*rules[:-1], governed=bool(rules[-1]))
    return MarketEngine(rulebook_, holdings, call_phase=call_phase, token_id=CO2_2027, issued=issued(rig))


def same(chain_action: Callable[[], Any], engine_action: Callable[[], Any]) -> Any:
    """Run an action in the engine and on the chain: both succeed, or both refuse with the same
    error name and arguments (the chain's result is returned)."""
    try:
        engine_action()
    except MarketRuleError as refused:
        with pytest.raises(ContractRevertError) as info:
            chain_action()
        assert info.value.error == refused.contract_error
        assert tuple(info.value.args_.values()) == refused.arguments
        return None
    return chain_action()


def test_absolute_limit_refuses_buys_counting_open_buys_as_the_engine_does(rig: Rig) -> None:
    rules = rulebook(feeBps=10, positionLimit=HELD + 100)
    rig.set_rules(rules)
    engine = engine_of(rig, rules)
    next_weekday_at(rig.chain, MORNING)
    assert position(rig, A.address) == (HELD, HELD + 100) == engine.position(A.address)

    def place(trader: Any, side: int, price: int, quantity: int) -> int | None:
        order_id = int(rig.market.functions.nextId().call())
        done = same(
            lambda: rig.place(trader, side, price, quantity),
            lambda: engine.place(order_id, trader.address, side, price, quantity),
        )
        return None if done is None else order_id

    first = place(A, BUY, 5_000, 60)
    assert position(rig, A.address) == (HELD + 60, HELD + 100) == engine.position(A.address)
    before = rig.holdings()
    with reverts(
        "MarketPositionLimit", account=A.address, tokenId=CO2_2027, position=HELD + 101, limit=HELD + 100
    ):
        rig.place(A, BUY, 4_900, 41)
    assert place(A, BUY, 4_900, 41) is None  # the engine refuses it the same way
    assert rig.holdings() == before and rig.depth(BUY) == [(5_000, 60)]
    second = place(A, BUY, 4_900, 40)
    assert position(rig, A.address) == (HELD + 100, HELD + 100)
    # a fill moves the quantity from the open buys to the balance: the position stays
    place(B, SELL, 5_000, 30)
    assert rig.allowances(A.address) == HELD + 30
    assert position(rig, A.address) == (HELD + 100, HELD + 100) == engine.position(A.address)
    # a cancel frees what was open
    assert second is not None and first is not None
    rig.cancel(A, second)
    engine.cancel(second, A.address)
    assert position(rig, A.address) == (HELD + 60, HELD + 100) == engine.position(A.address)
    # a take of a sell counts like an order; sells are never limited
    ask = place(B, SELL, 5_010, 50)
    assert ask is not None
    take_id = int(rig.market.functions.nextId().call())
    same(lambda: rig.take(A, ask, 41), lambda: engine.take(take_id, A.address, ask, 41))
    assert int(rig.market.functions.nextId().call()) == take_id  # refused: no id used
    same(lambda: rig.take(A, ask, 40), lambda: engine.take(take_id, A.address, ask, 40))
    assert position(rig, A.address) == (HELD + 100, HELD + 100) == engine.position(A.address)
    place(A, SELL, 5_400, 500)
    with reverts("MarketPositionLimit", account=A.address, position=HELD - 500 + 100 + 501):
        rig.place(A, BUY, 4_900, 501)
    # a seller filling the open buy (take of a bid) keeps the count right too
    take_id = int(rig.market.functions.nextId().call())
    same(lambda: rig.take(C, first, 30), lambda: engine.take(take_id, C.address, first, 30))
    assert position(rig, A.address) == engine.position(A.address) == (HELD - 500 + 100, HELD + 100)
    assert rig.market.functions.openOrdersOf(A.address, CO2_2027, BUY).call() == []
    assert engine.holdings[A.address] == (rig.cash(A.address), rig.allowances(A.address))


def test_share_limit_and_the_smaller_of_both(rig: Rig) -> None:
    supply = issued(rig)
    share = supply * 2_001 // 10_000
    assert share > HELD
    cases = [
        (rulebook(positionLimitBps=2_001), share),
        (rulebook(positionLimitBps=2_001, positionLimit=share - 10), share - 10),
        (rulebook(positionLimitBps=2_001, positionLimit=share + 10), share),
        (rulebook(positionLimit=HELD + 5), HELD + 5),
        (rulebook(), 0),
    ]
    for rules, limit in cases:
        rig.set_rules(rules)
        assert position(rig, A.address) == (HELD, limit)
        rulebook_ = Rulebook(*rules[:-1])
        assert position_limit(rulebook_, supply) == limit
    rig.set_rules(rulebook(positionLimitBps=2_001))
    next_weekday_at(rig.chain, MORNING)
    room = share - HELD
    with reverts("MarketPositionLimit", account=A.address, position=share + 1, limit=share):
        rig.place(A, BUY, 5_000, room + 1)
    rig.place(A, BUY, 5_000, room)
    assert position(rig, A.address) == (share, share)


def test_no_limit_counts_no_open_buys(rig: Rig) -> None:
    next_weekday_at(rig.chain, MORNING)
    rig.place(A, BUY, 5_000, 99_999)
    rig.place(A, BUY, 5_000, 99_999)
    assert position(rig, A.address) == (HELD, 0)


def test_call_phase_uncrossing_force_cancel_and_expiry_keep_the_open_buys(rig: Rig) -> None:
    rig.set_rules(rulebook(feeBps=10, positionLimit=HELD + 100))
    next_weekday_at(rig.chain, CALL_PHASE)
    rig.place(A, BUY, 5_010, 60)
    rig.place(B, SELL, 4_990, 50)
    with reverts("MarketPositionLimit", account=A.address, position=HELD + 101, limit=HELD + 100):
        rig.place(A, BUY, 5_010, 41)
    assert position(rig, A.address) == (HELD + 60, HELD + 100)
    later_today(rig.chain, OPEN1)
    price, volume = uncross_price([(5_010, 60)], [(4_990, 50)], 5_000)
    rig.uncross(C, price)
    assert rig.allowances(A.address) == HELD + volume
    assert position(rig, A.address) == (HELD + 60, HELD + 100)
    forced = rig.place(A, BUY, 4_900, 40)
    assert position(rig, A.address) == (HELD + 100, HELD + 100)
    rig.send(rig.market.functions.forceCancel(forced), rig.suite.exchange)
    assert position(rig, A.address) == (HELD + 60, HELD + 100)
    later_today(rig.chain, EVENING)
    rig.expire(C)
    assert position(rig, A.address) == (HELD + volume, HELD + 100)
    # the book is empty: the limit may go and come back, nothing stays counted
    rig.set_rules(rulebook())
    rig.set_rules(rulebook(positionLimit=HELD + volume))
    assert position(rig, A.address) == (HELD + volume, HELD + volume)


def test_block_acceptance_is_refused_over_the_buyers_limit(rig: Rig) -> None:
    rules = rulebook(feeBps=10, blockMinimum=1_000, positionLimit=HELD + 1_000)
    rig.set_rules(rules)
    engine = engine_of(rig, rules)
    next_weekday_at(rig.chain, AFTERNOON)
    resting = rig.place(A, BUY, 4_500, 1)
    engine.place(resting, A.address, BUY, 4_500, 1)
    block = rig.propose(B, A.address, 5_000, 1_000)
    before = rig.holdings()
    with reverts("MarketPositionLimit", account=A.address, position=HELD + 1_001, limit=HELD + 1_000):
        rig.accept(A, block)
    with pytest.raises(MarketRuleError) as refused:
        engine.block(block, B.address, A.address, 5_000, 1_000)
    assert refused.value.arguments == (A.address, CO2_2027, HELD + 1_001, HELD + 1_000)
    assert rig.holdings() == before
    assert rig.market.functions.blockProposal(block).call()[-1] == 1  # still pending
    rig.cancel(A, resting)
    engine.cancel(resting, A.address)
    rig.accept(A, block)
    engine.block(block, B.address, A.address, 5_000, 1_000)
    assert position(rig, A.address) == (HELD + 1_000, HELD + 1_000) == engine.position(A.address)
