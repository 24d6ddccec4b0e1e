"""Market opening call auction and expiry on a real Anvil: call orders collected, continuous actions
waiting for the uncrossing, the uncrossing verified against ``domain.market`` (price, pairs, price
improvement, fees), a wrong price refused with the expected one, paging, V = 0, and the end of the
day: every order and block expired, every escrow returned, the market holding nothing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chain.errors import ContractRevertError
from domain.market import CallResult, call_pairs, fee, uncross_price
from tests.conftest import Consortium
from tests.utils.chain import CHAIN_MACHINE_SETTINGS, reverts
from tests.utils.market import (
    AFTERNOON,
    BUY,
    CALL,
    CALL_PHASE,
    CLOSE2,
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
REFERENCE = 5_000


@pytest.fixture(scope="module")
def base(consortium: Consortium) -> Iterator[Rig]:
    yield from module_rig(consortium)


@pytest.fixture
def rig(base: Rig) -> Iterator[Rig]:
    yield from fresh_rig(base)


def call_book(rig: Rig, orders: list[tuple[Any, int, int, int]]) -> list[tuple[int, int, int, int]]:
    """Place ``(trader, side, price, quantity)`` in the call phase; returns (id, side, price, q)."""
    next_weekday_at(rig.chain, CALL_PHASE)
    return [(rig.place(t, side, price, q), side, price, q) for t, side, price, q in orders]


def expected(book: list[tuple[int, int, int, int]], reference: int = REFERENCE) -> CallResult:
    bids = [(p, q) for _, s, p, q in book if s == BUY]
    asks = [(p, q) for _, s, p, q in book if s == SELL]
    return uncross_price(bids, asks, reference)


def probe(rig: Rig) -> int:
    """The uncrossing price the contract expects (from its refusal of an impossible price)."""
    with reverts("MarketWrongUncross", tokenId=CO2_2027, submitted=1) as info:
        rig.uncross(E, 1)
    return int(info.value.args_["expected"])


def trades(rig: Rig, receipt: Any) -> list[tuple[int, int, int, int, int, int]]:
    return [
        (e["buyId"], e["sellId"], e["price"], e["quantity"], e["buyerFee"], e["mode"])
        for e in rig.events(receipt, "TradeExecuted")
    ]


#: A call book with a clear uncrossing (buys of A, B, C; sells of D, E).
BOOK = [
    (A, BUY, 5_100, 30),
    (B, BUY, 5_050, 20),
    (C, BUY, 5_000, 40),
    (A, BUY, 4_900, 10),
    (D, SELL, 4_950, 25),
    (E, SELL, 5_000, 30),
    (D, SELL, 5_050, 10),
    (E, SELL, 5_200, 15),
]


# ---------------------------------------------------------------------- the call phase


def test_call_phase_orders_are_collected_without_matching(rig: Rig) -> None:
    book = call_book(rig, BOOK)
    assert rig.depth(BUY) == [(5_100, 30), (5_050, 20), (5_000, 40), (4_900, 10)]
    assert rig.depth(SELL) == [(4_950, 25), (5_000, 30), (5_050, 10), (5_200, 15)]
    assert all(rig.order(i)["callPhase"] for i, *_ in book)
    assert rig.market.functions.callPending(CO2_2027).call()


def test_continuous_actions_wait_for_the_uncrossing_but_cancels_do_not(rig: Rig) -> None:
    book = call_book(rig, BOOK)
    later_today(rig.chain, MORNING)
    before = rig.holdings()
    with reverts("MarketCallPending", tokenId=CO2_2027):
        rig.place(C, BUY, 5_000, 1)
    with reverts("MarketCallPending", tokenId=CO2_2027):
        rig.take(C, book[4][0], 1)
    assert rig.holdings() == before
    later_today(rig.chain, AFTERNOON)
    with reverts("MarketCallPending", tokenId=CO2_2027):
        rig.propose(D, A.address, 5_000, 100_000)
    rig.cancel(E, book[7][0])  # a cancel before the uncrossing is fine


def test_uncross_before_the_open_is_refused(rig: Rig) -> None:
    call_book(rig, BOOK)
    with reverts("MarketOutsideSession", tokenId=CO2_2027) as info:
        rig.uncross(E, 5_000)
    assert CALL_PHASE <= info.value.args_["timeOfDay"] < OPEN1


def test_an_empty_call_book_opens_continuous_trading_without_an_uncrossing(rig: Rig) -> None:
    next_weekday_at(rig.chain, OPEN1)
    assert not rig.market.functions.callPending(CO2_2027).call()
    rig.place(A, SELL, 5_000, 10)
    rig.place(B, BUY, 5_000, 10)
    receipt = rig.uncross(E, 0)  # harmless: nothing to uncross
    assert rig.events(receipt, "CallUncrossed") == [{"tokenId": CO2_2027, "price": 0, "volume": 0}]
    with reverts("MarketWrongUncross", tokenId=CO2_2027, submitted=5_000, expected=0):
        rig.uncross(E, 5_000)


# ---------------------------------------------------------------------- the uncrossing


@pytest.mark.parametrize("fee_bps", [0, 20])
def test_uncross_executes_the_reference_uncrossing_with_price_improvement(rig: Rig, fee_bps: int) -> None:
    rig.set_rules(rulebook(REFERENCE, feeBps=fee_bps))
    before = rig.holdings()
    book = call_book(rig, BOOK)
    result = expected(book)
    assert result == CallResult(5_000, 55)  # B(5,000) = 90, S(5,000) = 55; at 5,050: 50 and 65
    pairs = call_pairs(
        [(i, p, q) for i, s, p, q in book if s == BUY],
        [(i, p, q) for i, s, p, q in book if s == SELL],
        result,
    )
    later_today(rig.chain, OPEN1)
    cash = {t.address: rig.cash(t.address) for t in TRADERS}
    receipt = rig.uncross(E, result.price)
    assert [(b, s, q) for b, s, _, q, _, _ in trades(rig, receipt)] == pairs
    assert all(p == result.price and m == CALL for _, _, p, _, _, m in trades(rig, receipt))
    assert rig.events(receipt, "CallUncrossed") == [{"tokenId": CO2_2027, "price": 5_000, "volume": 55}]
    assert not rig.market.functions.callPending(CO2_2027).call()
    # A bought 30 at 5,000 with a limit of 5,100: it paid 5,000 × 30 + fee and got the rest back
    paid = 5_000 * 30 + fee(150_000, fee_bps)
    assert rig.cash(A.address) == cash[A.address] + 5_100 * 30 + fee(5_100 * 30, fee_bps) - paid
    assert rig.depth(BUY) == [(5_000, 35), (4_900, 10)]
    assert rig.depth(SELL) == [(5_050, 10), (5_200, 15)]
    after = rig.holdings()
    assert sum(c for c, _ in after.values()) == sum(c for c, _ in before.values())
    assert after["market"] == rig.escrow()
    assert after["fee"][0] - before["fee"][0] == sum(2 * fee(5_000 * q, fee_bps) for _, _, q in pairs)
    assert rig.market.functions.boughtToday(C.address, CO2_2027).call() == 5
    rig.place(D, SELL, 5_000, 5)  # continuous trading is open


def test_uncross_refuses_a_wrong_price_naming_the_expected_one(rig: Rig) -> None:
    call_book(rig, BOOK)
    later_today(rig.chain, OPEN1)
    before = rig.holdings()
    for wrong in (5_050, 4_950, 0):
        with reverts("MarketWrongUncross", tokenId=CO2_2027, submitted=wrong, expected=5_000):
            rig.uncross(E, wrong)
    assert rig.holdings() == before


def test_uncross_in_pages_keeps_the_call_state_until_the_last_fill(rig: Rig) -> None:
    book = call_book(rig, BOOK)
    result = expected(book)
    pairs = call_pairs(
        [(i, p, q) for i, s, p, q in book if s == BUY],
        [(i, p, q) for i, s, p, q in book if s == SELL],
        result,
    )
    assert len(pairs) >= 3
    later_today(rig.chain, OPEN1)
    done: list[tuple[int, int, int]] = []
    receipt = rig.uncross(E, result.price, 1)
    done += [(b, s, q) for b, s, _, q, _, _ in trades(rig, receipt)]
    assert len(done) == 1 and rig.events(receipt, "CallUncrossed") == []
    assert rig.market.functions.callPending(CO2_2027).call()
    with reverts("MarketCallPending", tokenId=CO2_2027):
        rig.place(C, BUY, 4_800, 1)
    with reverts("MarketCallPending", tokenId=CO2_2027):
        rig.cancel(A, book[3][0])
    with reverts("MarketWrongUncross", tokenId=CO2_2027, submitted=5_050, expected=5_000):
        rig.uncross(E, 5_050, 1)
    while rig.market.functions.callPending(CO2_2027).call():
        receipt = rig.uncross(D, result.price, 1)
        done += [(b, s, q) for b, s, _, q, _, _ in trades(rig, receipt)]
    assert done == pairs
    assert rig.events(receipt, "CallUncrossed") == [{"tokenId": CO2_2027, "price": 5_000, "volume": 55}]


DeepOrder = tuple[Any, int, int]


def deep_call_book(rig: Rig) -> list[DeepOrder]:
    """520 call orders at 520 price levels where bids and asks cross (quantity 1 + price % 7);
    returns (trader, side, price) in placement order."""
    next_weekday_at(rig.chain, CALL_PHASE)
    orders = [(A, BUY, 4_501 + i) for i in range(130)] + [(B, BUY, 4_631 + i) for i in range(130)]
    orders += [(C, SELL, 4_501 + 2 * i) for i in range(130)] + [(D, SELL, 4_502 + 2 * i) for i in range(130)]
    fns = [
        (rig.market.functions.placeOrder(CO2_2027, side, price, 1 + price % 7), t)
        for t, side, price in orders
    ]
    rig.chain.send_packed(fns, gas=2_000_000)
    return orders


def deep_result(orders: list[DeepOrder]) -> CallResult:
    return uncross_price(
        [(p, 1 + p % 7) for _, s, p in orders if s == BUY],
        [(p, 1 + p % 7) for _, s, p in orders if s == SELL],
        REFERENCE,
    )


def finish_uncross(rig: Rig, price: int) -> tuple[int, Any]:
    """Submit ``price`` until the call book opens; returns (calls, last receipt)."""
    pages, receipt = 0, None
    while rig.market.functions.callPending(CO2_2027).call():
        receipt = rig.uncross(D, price, 0)
        pages += 1
    return pages, receipt


def test_a_deep_call_book_is_verified_over_several_calls(rig: Rig) -> None:
    """520 price levels where bids and asks cross: the verification takes 256 levels a call; a
    wrong price left half-way never blocks the right one, and is refused when its pass ends."""
    orders = deep_call_book(rig)
    result = deep_result(orders)
    assert result.volume > 0
    later_today(rig.chain, OPEN1)
    wrong = result.price + 1
    receipt = rig.uncross(E, wrong, 0)  # the first 256 levels of the wrong price's pass
    assert rig.events(receipt, "TradeExecuted") == [] and rig.market.functions.callPending(CO2_2027).call()
    pages, receipt = finish_uncross(rig, result.price)
    assert pages >= 3
    assert rig.events(receipt, "CallUncrossed") == [
        {"tokenId": CO2_2027, "price": result.price, "volume": result.volume}
    ]
    with reverts("MarketWrongUncross", tokenId=CO2_2027, submitted=wrong, expected=0):
        rig.uncross(E, wrong, 0)  # nothing left to uncross


def test_a_wrong_run_left_half_way_holds_neither_cancels_nor_the_right_uncrossing(rig: Rig) -> None:
    """The attack: a participant starts verifying a wrong price on a deep call book and leaves it
    there. The owners still cancel (and the exchange force-cancels), and the right uncrossing of
    the book as it now stands completes."""
    orders = deep_call_book(rig)
    later_today(rig.chain, OPEN1)
    wrong = deep_result(orders).price + 1
    rig.uncross(E, wrong, 0)  # the attacker's first page, never continued
    bid = rig.market.functions.openOrdersOf(A.address, CO2_2027, BUY).call()[0]
    ask = rig.market.functions.openOrdersOf(C.address, CO2_2027, SELL).call()[0]
    bid_price, ask_price = rig.order(bid)["price"], rig.order(ask)["price"]
    receipt = rig.cancel(A, bid)
    assert rig.events(receipt, "OrderCancelled") == [
        {"orderId": bid, "owner": A.address, "remaining": 1 + bid_price % 7}
    ]
    rig.send(rig.market.functions.forceCancel(ask), rig.suite.exchange)
    assert not rig.order(bid)["open"] and not rig.order(ask)["open"]
    left = [o for o in orders if (o[0], o[1], o[2]) not in {(A, BUY, bid_price), (C, SELL, ask_price)}]
    assert len(left) == len(orders) - 2
    result = deep_result(left)
    _, receipt = finish_uncross(rig, result.price)
    assert rig.events(receipt, "CallUncrossed") == [
        {"tokenId": CO2_2027, "price": result.price, "volume": result.volume}
    ]
    with reverts("MarketWrongUncross", tokenId=CO2_2027, submitted=wrong, expected=0):
        rig.uncross(E, wrong, 0)  # the stale run is gone with the call


def test_a_run_of_a_call_book_changed_by_a_cancel_restarts_from_the_top(rig: Rig) -> None:
    """A verification is valid only for the book it started on: after a cancel, continuing it
    takes a whole pass again (not the one page it lacked) and the new book's uncrossing results."""
    orders = deep_call_book(rig)
    result = deep_result(orders)
    later_today(rig.chain, OPEN1)
    wrong, pages = result.price + 1, 1  # a whole pass's calls, measured on a wrong price
    while True:
        try:
            rig.uncross(E, wrong, 0)
        except ContractRevertError as exc:  # the pass's last call refuses the wrong price
            assert exc.error == "MarketWrongUncross" and exc.args_["expected"] == result.price
            break
        pages += 1
    assert pages >= 3
    for _ in range(pages - 1):  # the right price, one call short of its end
        rig.uncross(D, result.price, 0)
    assert rig.market.functions.callPending(CO2_2027).call()
    bid = rig.market.functions.openOrdersOf(A.address, CO2_2027, BUY).call()[0]  # the lowest bid
    bid_price = rig.order(bid)["price"]
    assert bid_price < result.price  # cancelling it leaves the uncrossing as it was
    rig.cancel(A, bid)
    after = deep_result([o for o in orders if (o[0], o[1], o[2]) != (A, BUY, bid_price)])
    assert after == result
    again, receipt = finish_uncross(rig, result.price)
    assert again == pages
    assert rig.events(receipt, "CallUncrossed") == [
        {"tokenId": CO2_2027, "price": result.price, "volume": result.volume}
    ]


def test_uncross_without_volume_opens_the_book_at_price_zero(rig: Rig) -> None:
    book = call_book(rig, [(A, BUY, 4_900, 10), (B, BUY, 4_950, 5), (C, SELL, 5_000, 10)])
    assert expected(book) == CallResult(0, 0)
    later_today(rig.chain, OPEN1)
    with reverts("MarketWrongUncross", tokenId=CO2_2027, submitted=4_950, expected=0):
        rig.uncross(E, 4_950)
    receipt = rig.uncross(E, 0)
    assert rig.events(receipt, "CallUncrossed") == [{"tokenId": CO2_2027, "price": 0, "volume": 0}]
    assert rig.events(receipt, "TradeExecuted") == []
    assert rig.depth(BUY) == [(4_950, 5), (4_900, 10)]
    receipt = rig.place_receipt(D, SELL, 4_950, 5)
    assert len(rig.events(receipt, "TradeExecuted")) == 1


@pytest.mark.parametrize(
    ("orders", "reference", "price"),
    [
        # V = 10 at 4,950 and 5,000; |B − S| is 0 at 5,000 only
        ([(A, BUY, 5_000, 10), (B, BUY, 4_950, 5), (C, SELL, 4_950, 10)], 4_950, 5_000),
        # V and |B − S| tie at 4,990 and 5,010: the one nearer the reference (5,000 → both 10 away:
        # then the higher); with reference 4,995 the lower is nearer
        ([(A, BUY, 5_010, 10), (C, SELL, 4_990, 10)], 5_000, 5_010),
        ([(A, BUY, 5_010, 10), (C, SELL, 4_990, 10)], 4_995, 4_990),
    ],
)
def test_uncross_breaks_ties_by_imbalance_then_reference_then_the_higher_price(
    rig: Rig, orders: list[tuple[Any, int, int, int]], reference: int, price: int
) -> None:
    rig.set_rules(rulebook(reference))
    book = call_book(rig, orders)
    assert expected(book, reference).price == price
    later_today(rig.chain, OPEN1)
    assert probe(rig) == price
    rig.uncross(E, price)


call_orders = st.lists(
    st.tuples(st.sampled_from([0, 1]), st.integers(4_500, 4_530), st.integers(1, 40)), min_size=1, max_size=10
)


@CHAIN_MACHINE_SETTINGS
@given(orders=call_orders)
def test_the_contract_expects_the_reference_uncrossing_of_any_call_book(
    base: Rig, orders: list[tuple[int, int, int]]
) -> None:
    for rig in fresh_rig(base):
        rig.set_rules(rulebook(4_510, bandBps=100))
        placed = call_book(rig, [(A if side == BUY else C, side, price, q) for side, price, q in orders])
        result = expected(placed, 4_510)
        later_today(rig.chain, OPEN1)
        assert probe(rig) == result.price
        receipt = rig.uncross(E, result.price)
        assert sum(e["quantity"] for e in rig.events(receipt, "TradeExecuted")) == result.volume


# ---------------------------------------------------------------------- expiry


def test_expire_returns_every_escrow_and_leaves_the_market_empty(rig: Rig) -> None:
    rig.set_rules(rulebook(feeBps=15))
    before = rig.holdings()
    next_weekday_at(rig.chain, MORNING)
    rig.place(A, BUY, 5_000, 10)
    rig.place(B, BUY, 4_990, 7)
    rig.place(C, SELL, 5_000, 4)  # a partial fill of A's buy
    rig.place(D, SELL, 5_100, 9)
    rig.place(E, SELL, 5_200, 3)
    later_today(rig.chain, AFTERNOON)
    block = rig.propose(D, A.address, 5_000, 100_000)
    with reverts("MarketDayNotOver", tokenId=CO2_2027):
        rig.expire(E)
    later_today(rig.chain, CLOSE2)
    open_ids = [i for i in rig.orders if rig.order(i)["open"]]
    receipt = rig.expire(E)
    expired = rig.events(receipt, "OrderExpired")
    assert sorted(e["orderId"] for e in expired) == sorted(open_ids)
    assert rig.events(receipt, "BlockExpired") == [{"blockId": block}]
    after = rig.holdings()
    assert after["market"] == (0, 0)
    assert sum(c for c, _ in after.values()) == sum(c for c, _ in before.values())
    assert sum(a for _, a in after.values()) == sum(a for _, a in before.values())
    assert rig.market.functions.bookState(CO2_2027).call()[0] == 0
    assert rig.depth(BUY) == [] and rig.depth(SELL) == []
    assert rig.market.functions.blockProposal(block).call()[-1] == 5  # Expired


def test_expire_in_pages_counts_down_and_the_next_day_trades_after_it(rig: Rig) -> None:
    day = next_weekday_at(rig.chain, MORNING)
    for i in range(5):
        rig.place(TRADERS[i], BUY, 4_900 + i, 1)
    next_weekday_at(rig.chain, MORNING)
    with reverts("MarketBookNotExpired", tokenId=CO2_2027, bookDay=day):
        rig.place(A, SELL, 5_000, 1)
    remaining = []
    for _ in range(3):
        receipt = rig.expire(E, 2)
        remaining.append(rig.market.functions.bookState(CO2_2027).call()[0])
        assert len(rig.events(receipt, "OrderExpired")) <= 2
    assert remaining == [3, 1, 0]
    rig.place(A, SELL, 5_000, 1)


def test_an_unopened_call_book_expires_after_the_close(rig: Rig) -> None:
    call_book(rig, BOOK)
    later_today(rig.chain, EVENING)
    rig.expire(E)
    assert not rig.market.functions.callPending(CO2_2027).call()
    assert rig.holdings()["market"] == (0, 0)
    next_weekday_at(rig.chain, MORNING)
    rig.place(A, BUY, 5_000, 1)  # no call pending on the new day


def test_a_paged_uncrossing_left_unfinished_expires_with_its_orders(rig: Rig) -> None:
    call_book(rig, BOOK)
    later_today(rig.chain, OPEN1)
    rig.uncross(E, 5_000, 1)
    later_today(rig.chain, CLOSE2)
    rig.expire(E)
    assert rig.holdings()["market"] == (0, 0)
    assert not rig.market.functions.callPending(CO2_2027).call()


def test_expire_credits_an_owner_no_longer_active(rig: Rig) -> None:
    c: Consortium = rig.suite  # type: ignore[assignment]
    next_weekday_at(rig.chain, MORNING)
    buy = rig.place(A, BUY, 5_000, 10)
    c.registry.govern(c.members, c.registry.encode_suspend(A.address, 1), "suspend")
    later_today(rig.chain, EVENING)
    receipt = rig.expire(E)
    assert rig.events(receipt, "OrderExpired") == [{"orderId": buy, "owner": A.address, "remaining": 10}]
    assert rig.events(receipt, "UnclaimedCredited") == [
        {"account": A.address, "tokenId": 0, "amount": 50_000}
    ]
    assert rig.holdings()["market"] == (50_000, 0)
    with reverts("CallerNotActive", account=A.address):
        rig.send(rig.market.functions.withdrawUnclaimed(0), A)
    c.registry.govern(c.members, c.registry.encode_reinstate(A.address), "reinstate")
    rig.send(rig.market.functions.withdrawUnclaimed(0), A)
    assert rig.holdings()["market"] == (0, 0)


def test_uncross_is_refused_while_halted_and_expiry_is_not(rig: Rig) -> None:
    call_book(rig, BOOK)
    later_today(rig.chain, OPEN1)
    rig.send(rig.market.functions.halt(CO2_2027, "inquiry"), rig.suite.exchange)
    before = rig.holdings()
    with reverts("MarketHalted", tokenId=CO2_2027):
        rig.uncross(E, 5_000)
    assert rig.holdings() == before
    later_today(rig.chain, EVENING)
    rig.expire(E)
    assert rig.holdings()["market"] == (0, 0)


def test_the_market_pays_no_escrow_out_to_a_suspended_account(rig: Rig) -> None:
    """The token still checks the receiver of the market's own escrow: an uncrossing that would
    deliver to a suspended call buyer is refused until the exchange force-cancels its order."""
    c: Consortium = rig.suite  # type: ignore[assignment]
    book = call_book(rig, [(A, BUY, 5_000, 10), (C, SELL, 5_000, 10)])
    c.registry.govern(c.members, c.registry.encode_suspend(A.address, 1), "suspend")
    later_today(rig.chain, OPEN1)
    with reverts("PartyNotAllowed", account=A.address):
        rig.uncross(E, 5_000)
    rig.send(rig.market.functions.forceCancel(book[0][0]), c.exchange)
    assert rig.market.functions.unclaimed(A.address, 0).call() == 50_000
    rig.uncross(E, 0)  # nothing left to cross


def test_a_party_suspended_during_the_fills_is_force_cancelled_and_the_uncrossing_ends(rig: Rig) -> None:
    c: Consortium = rig.suite  # type: ignore[assignment]
    before = rig.holdings()
    book = call_book(rig, BOOK)
    later_today(rig.chain, OPEN1)
    rig.uncross(E, 5_000, 1)  # A 25 from D
    c.registry.govern(c.members, c.registry.encode_suspend(C.address, 1), "suspend")
    rig.uncross(E, 5_000, 2)  # A 5 and B 20 from E
    with reverts("PartyNotAllowed", account=C.address):
        rig.uncross(E, 5_000, 1)  # C's 5 from E: no delivery to a suspended account
    rig.send(rig.market.functions.forceCancel(book[2][0]), c.exchange)
    receipt = rig.uncross(E, 5_000, 1)
    assert rig.events(receipt, "TradeExecuted") == []
    assert rig.events(receipt, "CallUncrossed") == [{"tokenId": CO2_2027, "price": 5_000, "volume": 50}]
    assert rig.depth(BUY) == [(4_900, 10)] and rig.depth(SELL) == [(5_000, 5), (5_050, 10), (5_200, 15)]
    after = rig.holdings()
    assert after["market"][0] == rig.escrow()[0] + 200_000  # C's 40 × 5,000, kept as unclaimed
    assert rig.market.functions.unclaimed(C.address, 0).call() == 200_000
    assert after["market"][1] == rig.escrow()[1]
    for i in (0, 1):
        assert sum(v[i] for v in after.values()) == sum(v[i] for v in before.values())
