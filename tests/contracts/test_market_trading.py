"""Market continuous trading on a real Anvil: price-time priority at the resting prices, partial
fills, escrow and its fee reserve, fees to the fee account, cancels, self-trade prevention, listing
takes within and beyond the best five levels, and the T+1 lock in the market and in the token."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from web3.logs import DISCARD

from chain.accounts import dev_account
from domain.market import fee
from domain.tokens import Kind, encode_id
from tests.conftest import Consortium
from tests.utils.chain import reverts
from tests.utils.compliance import CO2, CO2_2024, ENTERPRISES, YEAR, setup_cycle, surrender
from tests.utils.market import (
    BUY,
    CALL_PHASE,
    CO2_2027,
    CONTINUOUS,
    EVENING,
    MAX_UINT,
    MORNING,
    SELL,
    TAKE,
    TRADERS,
    Rig,
    fresh_rig,
    later_today,
    module_rig,
    next_weekday_at,
    rulebook,
)

A, B, C, D, E = TRADERS


@pytest.fixture(scope="module")
def base(consortium: Consortium) -> Iterator[Rig]:
    yield from module_rig(consortium)


@pytest.fixture
def rig(base: Rig) -> Iterator[Rig]:
    yield from fresh_rig(base)


@pytest.fixture
def morning(rig: Rig) -> Rig:
    next_weekday_at(rig.chain, MORNING)
    return rig


def trades(rig: Rig, receipt: Any) -> list[tuple[int, int, str, str, int, int, int, int, int]]:
    return [
        (
            e["buyId"],
            e["sellId"],
            e["buyer"],
            e["seller"],
            e["price"],
            e["quantity"],
            e["buyerFee"],
            e["sellerFee"],
            e["mode"],
        )
        for e in rig.events(receipt, "TradeExecuted")
    ]


def conserved(rig: Rig, before: dict[str, tuple[int, int]]) -> None:
    """Cash and allowances summed over traders, fee account and market are unchanged, and the
    market holds exactly the escrow of the open orders."""
    after = rig.holdings()
    assert sum(c for c, _ in after.values()) == sum(c for c, _ in before.values())
    assert sum(a for _, a in after.values()) == sum(a for _, a in before.values())
    assert after["market"] == rig.escrow()


# ---------------------------------------------------------------------- continuous matching


def test_buy_fills_the_best_ask_first_then_the_earlier_order_at_each_resting_price(morning: Rig) -> None:
    rig = morning
    before = rig.holdings()
    s1 = rig.place(A, SELL, 5_010, 30)
    s2 = rig.place(B, SELL, 5_000, 20)
    s3 = rig.place(C, SELL, 5_000, 10)
    s4 = rig.place(A, SELL, 5_020, 5)
    receipt = rig.place_receipt(D, BUY, 5_010, 55)
    buy = int(rig.events(receipt, "OrderPlaced")[0]["orderId"])
    assert trades(rig, receipt) == [
        (buy, s2, D.address, B.address, 5_000, 20, 0, 0, CONTINUOUS),
        (buy, s3, D.address, C.address, 5_000, 10, 0, 0, CONTINUOUS),
        (buy, s1, D.address, A.address, 5_010, 25, 0, 0, CONTINUOUS),
    ]
    after = rig.holdings()
    assert after[D.address] == (before[D.address][0] - 150_000 - 125_250, before[D.address][1] + 55)
    assert after[B.address][0] - before[B.address][0] == 100_000
    assert after[C.address][0] - before[C.address][0] == 50_000
    assert after[A.address] == (before[A.address][0] + 125_250, before[A.address][1] - 35)
    assert rig.depth(SELL) == [(5_010, 5), (5_020, 5)] and rig.depth(BUY) == []
    assert rig.order(s1)["remaining"] == 5 and rig.order(s4)["open"]
    assert not rig.order(s2)["open"] and rig.order(s2)["owner"] == "0x" + "00" * 20  # filled: forgotten
    assert rig.order(buy)["owner"] == "0x" + "00" * 20  # filled on arrival: never rested
    assert after["market"] == (0, 10)
    conserved(rig, before)


def test_the_remainder_of_a_buy_rests_with_its_escrow(morning: Rig) -> None:
    rig = morning
    before = rig.holdings()
    sell = rig.place(A, SELL, 4_990, 20)
    receipt = rig.place_receipt(B, BUY, 5_000, 50)
    buy = int(rig.events(receipt, "OrderPlaced")[0]["orderId"])
    assert trades(rig, receipt) == [(buy, sell, B.address, A.address, 4_990, 20, 0, 0, CONTINUOUS)]
    view = rig.order(buy)
    assert (view["remaining"], view["escrow"], view["open"], view["callPhase"]) == (30, 150_000, True, False)
    assert rig.holdings()[B.address][0] == before[B.address][0] - 99_800 - 150_000
    assert rig.depth(BUY) == [(5_000, 30)]
    assert rig.market.functions.openOrdersOf(B.address, CO2_2027, BUY).call() == [buy]
    conserved(rig, before)


def test_sell_fills_the_best_bids_and_pays_fees_from_the_buyers_escrow(rig: Rig) -> None:
    rig.set_rules(rulebook(feeBps=25))
    next_weekday_at(rig.chain, MORNING)
    before = rig.holdings()
    b1 = rig.place(A, BUY, 4_990, 10)
    b2 = rig.place(B, BUY, 5_000, 10)
    assert rig.order(b2)["escrow"] == 50_000 + 125
    receipt = rig.place_receipt(C, SELL, 4_990, 15)
    sell = int(rig.events(receipt, "OrderPlaced")[0]["orderId"])
    assert trades(rig, receipt) == [
        (b2, sell, B.address, C.address, 5_000, 10, 125, 125, CONTINUOUS),
        (b1, sell, A.address, C.address, 4_990, 5, 62, 62, CONTINUOUS),
    ]
    after = rig.holdings()
    assert after[C.address] == (before[C.address][0] + 50_000 - 125 + 24_950 - 62, before[C.address][1] - 15)
    assert after["fee"][0] - before["fee"][0] == 2 * 125 + 2 * 62
    assert after[B.address] == (before[B.address][0] - 50_125, before[B.address][1] + 10)
    # A's buy: 4990 × 5 left plus its fee reserve less the fee paid
    assert rig.order(b1)["escrow"] == 4_990 * 5 + fee(49_900, 25) - 62
    conserved(rig, before)
    cash = rig.cash(A.address)
    rig.cancel(A, b1)
    assert rig.cash(A.address) - cash == 4_990 * 5 + 124 - 62
    conserved(rig, before)


def test_a_filled_buy_gets_back_what_its_fills_left_of_the_fee_reserve(rig: Rig) -> None:
    rig.set_rules(rulebook(feeBps=25))
    next_weekday_at(rig.chain, MORNING)
    before = rig.holdings()
    buy = rig.place(A, BUY, 4_999, 3)  # reserve floor(14,997 × 25 / 10,000) = 37
    for _ in range(3):  # each fill pays floor(4,999 × 25 / 10,000) = 12
        rig.place(B, SELL, 4_999, 1)
    assert not rig.order(buy)["open"]
    assert rig.holdings()[A.address][0] == before[A.address][0] - 3 * 4_999 - 36
    assert rig.holdings()["market"] == (0, 0)
    conserved(rig, before)


def test_fees_of_an_incoming_buy_go_to_the_fee_account_in_one_transfer(rig: Rig) -> None:
    rig.set_rules(rulebook(feeBps=100))
    next_weekday_at(rig.chain, MORNING)
    before = rig.holdings()
    rig.place(A, SELL, 5_000, 10)
    rig.place(B, SELL, 5_001, 10)
    receipt = rig.place_receipt(C, BUY, 5_001, 20)
    fees = 2 * (500 + 500)  # floor(50,000 / 100) and floor(50,010 / 100)
    assert rig.holdings()["fee"][0] - before["fee"][0] == fees
    token = rig.suite.cash.contract
    transfers = token.events.Transfer().process_receipt(receipt, errors=DISCARD)
    assert [t["args"]["value"] for t in transfers if t["args"]["to"] == rig.fee_account.address] == [fees]
    assert rig.holdings()[C.address][0] == before[C.address][0] - 100_010 - 1_000
    conserved(rig, before)


def test_a_buy_below_the_best_ask_rests_without_trading(morning: Rig) -> None:
    rig = morning
    rig.place(A, SELL, 5_010, 10)
    receipt = rig.place_receipt(B, BUY, 5_009, 10)
    assert trades(rig, receipt) == []
    assert rig.depth(BUY) == [(5_009, 10)] and rig.depth(SELL) == [(5_010, 10)]


def test_depth_aggregates_levels_best_first_and_counts_levels(morning: Rig) -> None:
    rig = morning
    for trader, price, q in ((A, 4_900, 5), (B, 4_950, 7), (C, 4_900, 3), (D, 4_800, 1)):
        rig.place(trader, BUY, price, q)
    assert rig.depth(BUY) == [(4_950, 7), (4_900, 8), (4_800, 1)]
    assert rig.depth(BUY, 2) == [(4_950, 7), (4_900, 8)]
    rig.cancel(B, rig.orders[1])
    assert rig.depth(BUY) == [(4_900, 8), (4_800, 1)]
    rig.cancel(A, rig.orders[0])  # the first order of a level
    assert rig.depth(BUY) == [(4_900, 3), (4_800, 1)]
    rig.place(E, SELL, 4_800, 4)
    assert rig.depth(BUY) == []


def test_cancelling_orders_in_the_middle_and_tail_of_a_level_keeps_time_order(morning: Rig) -> None:
    rig = morning
    ids = [rig.place(t, SELL, 5_000, 1) for t in (A, B, C, D)]
    rig.cancel(B, ids[1])  # middle
    rig.cancel(D, ids[3])  # tail
    e = rig.place(E, SELL, 5_000, 1)
    receipt = rig.place_receipt(B, BUY, 5_000, 3)
    assert [t[1] for t in trades(rig, receipt)] == [ids[0], ids[2], e]


# ---------------------------------------------------------------------- cancel


def test_cancel_returns_the_escrow_even_outside_the_session(morning: Rig) -> None:
    rig = morning
    before = rig.holdings()
    buy = rig.place(A, BUY, 5_000, 10)
    sell = rig.place(B, SELL, 5_100, 7)
    later_today(rig.chain, EVENING)
    receipt = rig.cancel(A, buy)
    assert rig.events(receipt, "OrderCancelled")[0] == {"orderId": buy, "owner": A.address, "remaining": 10}
    rig.cancel(B, sell)
    assert rig.holdings() == before


def test_cancel_refuses_another_owner_and_a_closed_order(morning: Rig) -> None:
    rig = morning
    sell = rig.place(A, SELL, 5_000, 10)
    before = rig.holdings()
    with reverts("MarketNotOrderOwner", orderId=sell, caller=B.address):
        rig.cancel(B, sell)
    assert rig.holdings() == before
    rig.place(B, BUY, 5_000, 10)
    with reverts("MarketOrderNotOpen", orderId=sell):
        rig.cancel(A, sell)
    with reverts("MarketOrderNotOpen", orderId=999_999):
        rig.cancel(A, 999_999)
    buy = rig.place(A, BUY, 4_900, 1)
    rig.cancel(A, buy)
    with reverts("MarketOrderNotOpen", orderId=buy):
        rig.cancel(A, buy)


# ---------------------------------------------------------------------- self-trade


def test_an_order_crossing_an_own_resting_order_is_refused_naming_the_lowest_id(morning: Rig) -> None:
    rig = morning
    rig.place(B, SELL, 4_990, 5)
    s1 = rig.place(A, SELL, 5_000, 5)
    rig.place(A, SELL, 4_995, 5)
    before = rig.holdings()
    with reverts("MarketSelfTrade", account=A.address, restingOrderId=s1):
        rig.place(A, BUY, 5_000, 1)  # crosses both own asks: the lower id is named
    assert rig.holdings() == before
    rig.place(A, BUY, 4_980, 1)  # below its own asks: fine
    with reverts("MarketSelfTrade", account=A.address, restingOrderId=rig.orders[-1]):
        rig.place(A, SELL, 4_980, 1)


def test_self_trade_is_refused_in_the_call_phase_too(rig: Rig) -> None:
    next_weekday_at(rig.chain, CALL_PHASE)
    sell = rig.place(A, SELL, 5_000, 5)
    with reverts("MarketSelfTrade", account=A.address, restingOrderId=sell):
        rig.place(A, BUY, 5_100, 5)


# ---------------------------------------------------------------------- takes


def _six_ask_levels(rig: Rig) -> list[int]:
    return [rig.place(TRADERS[i % 3], SELL, 5_000 + 10 * i, 10) for i in range(6)]


def test_take_fills_an_order_among_the_best_five_at_its_price(morning: Rig) -> None:
    rig = morning
    asks = _six_ask_levels(rig)
    before = rig.holdings()
    receipt = rig.take(D, asks[4], 4)  # the fifth level, though better asks exist
    take_id = rig.market.functions.nextId().call() - 1
    assert trades(rig, receipt) == [(take_id, asks[4], D.address, B.address, 5_040, 4, 0, 0, TAKE)]
    after = rig.holdings()
    assert after[D.address] == (before[D.address][0] - 20_160, before[D.address][1] + 4)
    assert rig.order(asks[4])["remaining"] == 6
    assert rig.depth(SELL)[4] == (5_040, 6)
    conserved(rig, before)


def test_take_refuses_beyond_the_best_five_levels_and_beyond_the_remaining(morning: Rig) -> None:
    rig = morning
    asks = _six_ask_levels(rig)
    before = rig.holdings()
    with reverts("MarketTakeOutsideBestLevels", orderId=asks[5], price=5_050):
        rig.take(D, asks[5], 1)
    with reverts("MarketTakeExceedsRemaining", orderId=asks[0], quantity=11, remaining=10):
        rig.take(D, asks[0], 11)
    with reverts("MarketQuantityZero"):
        rig.take(D, asks[0], 0)
    with reverts("MarketSelfTrade", account=A.address, restingOrderId=asks[0]):
        rig.take(A, asks[0], 1)
    with reverts("MarketOrderNotOpen", orderId=123_456):
        rig.take(D, 123_456, 1)
    assert rig.holdings() == before
    rig.take(D, asks[0], 10)  # the best level empties: the sixth is now among the best five
    rig.take(D, asks[5], 10)
    with reverts("MarketOrderNotOpen", orderId=asks[0]):
        rig.take(D, asks[0], 1)


def test_take_of_a_bid_pays_the_taker_from_the_buyers_escrow(rig: Rig) -> None:
    rig.set_rules(rulebook(feeBps=10))
    next_weekday_at(rig.chain, MORNING)
    before = rig.holdings()
    bid = rig.place(A, BUY, 5_000, 10)
    receipt = rig.take(B, bid, 10)
    take_id = rig.market.functions.nextId().call() - 1
    assert trades(rig, receipt) == [(bid, take_id, A.address, B.address, 5_000, 10, 50, 50, TAKE)]
    assert rig.holdings()[B.address] == (before[B.address][0] + 50_000 - 50, before[B.address][1] - 10)
    assert rig.holdings()["market"] == (0, 0)
    conserved(rig, before)


def test_take_refuses_a_buyer_without_the_cash_and_a_seller_without_sellable_allowances(rig: Rig) -> None:
    rig.set_rules(rulebook(feeBps=100))
    next_weekday_at(rig.chain, MORNING)
    ask = rig.place(A, SELL, 5_000, 10)
    bid = rig.place(B, BUY, 4_900, 10)
    poor = C
    rig.send(rig.suite.cash.contract.functions.transfer(E.address, rig.cash(poor.address) - 50_499), poor)
    with reverts("MarketInsufficientCash", account=poor.address, needed=50_500, available=50_499):
        rig.take(poor, ask, 10)
    rig.take(poor, ask, 9)
    held = rig.allowances(D.address)
    rig.send(
        rig.suite.allowance.contract.functions.safeTransferFrom(
            D.address, E.address, CO2_2027, held - 5, b""
        ),
        D,
    )
    with reverts("MarketInsufficientAllowances", account=D.address, tokenId=CO2_2027, needed=6, sellable=5):
        rig.take(D, bid, 6)


def test_take_is_refused_in_the_call_phase(rig: Rig) -> None:
    next_weekday_at(rig.chain, CALL_PHASE)
    ask = rig.place(A, SELL, 5_000, 10)
    with reverts("MarketOutsideSession", tokenId=CO2_2027) as info:
        rig.take(B, ask, 1)
    assert CALL_PHASE <= info.value.args_["timeOfDay"] < CALL_PHASE + 60


# ---------------------------------------------------------------------- T+1


def test_allowances_bought_today_cannot_be_sold_until_the_next_day(rig: Rig) -> None:
    rig.set_rules(rulebook(blockMinimum=10**9))
    next_weekday_at(rig.chain, MORNING)
    held = rig.allowances(B.address)
    rig.place(A, SELL, 5_000, 100)
    rig.place(B, BUY, 5_000, 100)
    market = rig.market.functions
    assert market.boughtToday(B.address, CO2_2027).call() == 100
    assert market.sellable(B.address, CO2_2027).call() == held
    before = rig.holdings()
    with reverts(
        "MarketInsufficientAllowances", account=B.address, tokenId=CO2_2027, needed=held + 1, sellable=held
    ):
        rig.place(B, SELL, 5_000, held + 1)
    bid = rig.place(C, BUY, 4_900, held + 1)
    with reverts(
        "MarketInsufficientAllowances", account=B.address, tokenId=CO2_2027, needed=held + 1, sellable=held
    ):
        rig.take(B, bid, held + 1)
    rig.cancel(C, bid)
    assert rig.holdings() == before
    rig.place(B, SELL, 5_400, held)  # what it held before today is sellable
    rig.cancel(B, rig.orders[-1])
    later_today(rig.chain, EVENING)
    next_weekday_at(rig.chain, MORNING)
    assert market.boughtToday(B.address, CO2_2027).call() == 0
    assert market.sellable(B.address, CO2_2027).call() == held + 100
    rig.place(B, SELL, 5_400, held + 100)


def test_cash_from_todays_sales_is_usable_at_once(rig: Rig) -> None:
    next_weekday_at(rig.chain, MORNING)
    rig.send(rig.suite.cash.contract.functions.transfer(E.address, rig.cash(A.address)), A)
    assert rig.cash(A.address) == 0
    rig.place(B, BUY, 5_000, 10)
    rig.place(A, SELL, 5_000, 10)
    rig.place(C, SELL, 5_000, 10)
    rig.place(A, BUY, 5_000, 10)


def test_the_token_refuses_a_plain_transfer_of_todays_purchase(rig: Rig) -> None:
    next_weekday_at(rig.chain, MORNING)
    token = rig.suite.allowance.contract
    held = rig.allowances(B.address)
    rig.place(A, SELL, 5_000, 100)
    rig.place(B, BUY, 5_000, 100)
    with reverts("AllowanceLockedToday", holder=B.address, id=CO2_2027, locked=100):
        rig.send(token.functions.safeTransferFrom(B.address, E.address, CO2_2027, held + 1, b""), B)
    # a batch repeating the id cannot pass the lock either
    with reverts("AllowanceLockedToday", holder=B.address, id=CO2_2027, locked=100):
        fn = token.functions.safeBatchTransferFrom(B.address, E.address, [CO2_2027, CO2_2027], [held, 1], b"")
        rig.send(fn, B)
    rig.send(token.functions.safeTransferFrom(B.address, E.address, CO2_2027, held, b""), B)
    assert rig.allowances(B.address) == 100
    later_today(rig.chain, EVENING)
    next_weekday_at(rig.chain, MORNING)
    rig.send(token.functions.safeTransferFrom(B.address, E.address, CO2_2027, 100, b""), B)


def test_todays_purchase_can_be_surrendered_to_the_compliance_manager(rig: Rig) -> None:
    c: Consortium = rig.suite  # type: ignore[assignment]
    cycle = setup_cycle(c)
    e0, e1 = ENTERPRISES[0], ENTERPRISES[1]
    rig.set_rules(rulebook(), CO2_2024)
    for e in (e0, e1):
        c.cash.approve(e, rig.market.address, MAX_UINT)
        rig.send(c.allowance.contract.functions.setApprovalForAll(rig.market.address, True), e)
    next_weekday_at(rig.chain, MORNING)
    rig.place(e1, SELL, 5_000, 100, token_id=CO2_2024)
    rig.place(e0, BUY, 5_000, 100, token_id=CO2_2024)
    held = rig.allowances(e0.address, CO2_2024)
    assert rig.market.functions.boughtToday(e0.address, CO2_2024).call() == 100
    with reverts("AllowanceLockedToday", holder=e0.address, id=CO2_2024, locked=100):
        rig.send(
            c.allowance.contract.functions.safeTransferFrom(e0.address, e1.address, CO2_2024, held, b""), e0
        )
    c.compliance.acknowledge(e0, CO2, YEAR)
    attestation = cycle.attest(e0.address, held)
    c.compliance.apply(e0, CO2, YEAR, surrender(attestation, {CO2_2024: held}))
    assert rig.allowances(e0.address, CO2_2024) == 0


def test_a_fill_with_a_suspended_makers_order_is_refused_by_the_token(morning: Rig) -> None:
    rig = morning
    c: Consortium = rig.suite  # type: ignore[assignment]
    ask = rig.place(A, SELL, 5_000, 10)
    c.registry.govern(c.members, c.registry.encode_suspend(A.address, 1), "suspend")
    with reverts("PartyNotAllowed", account=A.address):
        rig.place(B, BUY, 5_000, 10)
    receipt = rig.send(rig.market.functions.forceCancel(ask), c.exchange)
    assert rig.events(receipt, "UnclaimedCredited")[0] == {
        "account": A.address,
        "tokenId": CO2_2027,
        "amount": 10,
    }
    assert rig.market.functions.unclaimed(A.address, CO2_2027).call() == 10
    rig.place(B, BUY, 5_000, 10)  # the book is clear again
    c.registry.govern(c.members, c.registry.encode_reinstate(A.address), "reinstate")
    held = rig.allowances(A.address)
    receipt = rig.send(rig.market.functions.withdrawUnclaimed(CO2_2027), A)
    assert rig.events(receipt, "UnclaimedWithdrawn")[0]["amount"] == 10
    assert rig.allowances(A.address) == held + 10
    with reverts("MarketNothingUnclaimed", account=A.address, tokenId=CO2_2027):
        rig.send(rig.market.functions.withdrawUnclaimed(CO2_2027), A)


def test_an_unknown_token_id_or_other_account_has_nothing_bought(rig: Rig) -> None:
    other = encode_id(Kind.OFFSET, "CO2", 2027)
    assert rig.market.functions.boughtToday(dev_account(5).address, other).call() == 0
    assert rig.market.functions.sellable(dev_account(5).address, other).call() == 0


def test_new_levels_link_in_price_order_wherever_they_fall(morning: Rig) -> None:
    """Levels created far from the best, across bitmap words, and again where a removed level
    was, keep the book in price order."""
    rig = morning
    prices = [5_000, 4_600, 4_990, 4_700, 4_608, 4_863, 4_864, 4_599, 4_990, 4_750]
    ids = {p: rig.place(TRADERS[i % 4], 0, p, 1) for i, p in enumerate(prices)}
    expected = sorted(set(prices), reverse=True)
    assert [p for p, _ in rig.depth(0)] == expected
    rig.cancel(TRADERS[prices.index(4_863) % 4], ids[4_863])
    rig.cancel(TRADERS[prices.index(4_700) % 4], ids[4_700])
    rig.place(E, 0, 4_700, 2)  # the removed level's price again
    rig.place(E, 0, 4_862, 2)  # next to a removed level's stale bit
    assert rig.depth(0) == [
        (5_000, 1),
        (4_990, 2),
        (4_864, 1),
        (4_862, 2),
        (4_750, 1),
        (4_700, 2),
        (4_608, 1),
        (4_600, 1),
        (4_599, 1),
    ]
    for p in (5_100, 5_355, 5_101, 5_354, 5_200):
        rig.place(E, 1, p, 1)
    assert [p for p, _ in rig.depth(1)] == [5_100, 5_101, 5_200, 5_354, 5_355]
    rig.place(D, 0, 5_355, 5)  # sweeps every ask: the walk from the best stays right
    assert rig.depth(1) == [] and rig.depth(0)[0] == (5_000, 1)


def test_the_market_refuses_allowances_it_did_not_pull(rig: Rig) -> None:
    token = rig.suite.allowance.contract
    with reverts("MarketUnsolicitedTransfer", operator=A.address):
        rig.send(token.functions.safeTransferFrom(A.address, rig.market.address, CO2_2027, 1, b""), A)
    with reverts("MarketUnsolicitedTransfer", operator=A.address):
        fn = token.functions.safeBatchTransferFrom(A.address, rig.market.address, [CO2_2027], [1], b"")
        rig.send(fn, A)
    assert rig.holdings()["market"] == (0, 0)
