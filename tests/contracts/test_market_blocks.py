"""Market block trades on a real Anvil: propose (allowances escrowed) and accept (DvP with fees),
the minimum, the block band, afternoon sessions only, self and unknown buyers, sellable allowances
and the buyer's cash, decline, cancel, and expiry at the end of the day."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import Consortium
from tests.utils.chain import reverts
from tests.utils.market import (
    AFTERNOON,
    BLOCK,
    CO2_2027,
    EVENING,
    MORNING,
    OPEN2,
    TRADERS,
    Rig,
    fresh_rig,
    later_today,
    module_rig,
    next_weekday_at,
    rulebook,
)

A, B, C, D, E = TRADERS
PENDING, ACCEPTED, DECLINED, CANCELLED, EXPIRED = 1, 2, 3, 4, 5


@pytest.fixture(scope="module")
def base(consortium: Consortium) -> Iterator[Rig]:
    yield from module_rig(consortium, rules=rulebook(feeBps=10))


@pytest.fixture
def rig(base: Rig) -> Iterator[Rig]:
    yield from fresh_rig(base)


@pytest.fixture
def afternoon(rig: Rig) -> Rig:
    next_weekday_at(rig.chain, AFTERNOON)
    return rig


def status(rig: Rig, block_id: int) -> int:
    return int(rig.market.functions.blockProposal(block_id).call()[-1])


def test_a_block_is_escrowed_on_proposal_and_settled_dvp_on_acceptance(afternoon: Rig) -> None:
    rig = afternoon
    before = rig.holdings()
    block = rig.propose(A, B.address, 6_000, 100_000)
    view = rig.market.functions.blockProposal(block).call()
    assert list(view[:5]) == [A.address, B.address, CO2_2027, 6_000, 100_000] and view[-1] == PENDING
    assert rig.holdings()["market"] == (0, 100_000)
    assert rig.market.functions.bookState(CO2_2027).call()[0] == 1
    receipt = rig.accept(B, block)
    value, fee = 600_000_000, 600_000  # 10 bps
    [trade] = rig.events(receipt, "TradeExecuted")
    assert (
        trade["buyId"],
        trade["sellId"],
        trade["buyer"],
        trade["seller"],
        trade["price"],
        trade["quantity"],
        trade["buyerFee"],
        trade["sellerFee"],
        trade["mode"],
    ) == (block, block, B.address, A.address, 6_000, 100_000, fee, fee, BLOCK)
    after = rig.holdings()
    assert after[A.address] == (before[A.address][0] + value - fee, before[A.address][1] - 100_000)
    assert after[B.address] == (before[B.address][0] - value - fee, before[B.address][1] + 100_000)
    assert after["fee"][0] - before["fee"][0] == 2 * fee
    assert after["market"] == (0, 0)
    assert status(rig, block) == ACCEPTED
    assert rig.market.functions.boughtToday(B.address, CO2_2027).call() == 100_000
    with reverts("MarketBlockNotPending", blockId=block):
        rig.accept(B, block)


@pytest.mark.parametrize(
    ("price", "quantity", "error", "args"),
    [
        (5_000, 99_999, "MarketBlockBelowMinimum", {"quantity": 99_999, "blockMinimum": 100_000}),
        (3_499, 100_000, "MarketPriceOutsideBand", {"price": 3_499, "lower": 3_500, "upper": 6_500}),
        (6_501, 100_000, "MarketPriceOutsideBand", {"price": 6_501, "lower": 3_500, "upper": 6_500}),
        (0, 100_000, "MarketPriceInvalid", {"price": 0}),
        (5_000, 2**64, "MarketQuantityInvalid", {"quantity": 2**64}),
        (5_000, 1_000_001, "MarketInsufficientAllowances", {"needed": 1_000_001, "sellable": 1_000_000}),
    ],
)
def test_propose_refuses_bad_blocks_and_moves_nothing(
    afternoon: Rig, price: int, quantity: int, error: str, args: dict[str, int]
) -> None:
    rig = afternoon
    before = rig.holdings()
    with reverts(error, **args):
        rig.propose(A, B.address, price, quantity)
    assert rig.holdings() == before


def test_propose_refuses_self_and_non_traders_as_buyers(afternoon: Rig) -> None:
    rig = afternoon
    c: Consortium = rig.suite  # type: ignore[assignment]
    with reverts("MarketSelfTrade", account=A.address, restingOrderId=0):
        rig.propose(A, A.address, 5_000, 100_000)
    for buyer in (c.exchange.address, c.outsider.address):
        with reverts("MarketNotTrader", account=buyer):
            rig.propose(A, buyer, 5_000, 100_000)
    c.registry.govern(c.members, c.registry.encode_suspend(B.address, 1), "suspend")
    with reverts("MarketNotTrader", account=B.address):
        rig.propose(A, B.address, 5_000, 100_000)


@pytest.mark.parametrize("tod", [MORNING, 46_700, EVENING])
def test_blocks_are_afternoon_only(rig: Rig, tod: int) -> None:
    next_weekday_at(rig.chain, tod)
    with reverts("MarketOutsideSession", tokenId=CO2_2027) as info:
        rig.propose(A, B.address, 5_000, 100_000)
    assert tod <= info.value.args_["timeOfDay"] < tod + 60


def test_acceptance_is_afternoon_only_and_by_the_named_buyer_with_the_cash(rig: Rig) -> None:
    next_weekday_at(rig.chain, OPEN2)
    block = rig.propose(A, B.address, 5_000, 100_000)
    with reverts("MarketNotBlockBuyer", blockId=block, caller=C.address):
        rig.accept(C, block)
    poor = B
    keep = 500_000_000 + 500_000 - 1
    rig.send(rig.suite.cash.contract.functions.transfer(E.address, rig.cash(poor.address) - keep), poor)
    before = rig.holdings()
    with reverts("MarketInsufficientCash", account=B.address, needed=500_500_000, available=keep):
        rig.accept(B, block)
    assert rig.holdings() == before
    later_today(rig.chain, EVENING)
    with reverts("MarketOutsideSession", tokenId=CO2_2027):
        rig.accept(B, block)


def test_decline_and_cancel_return_the_escrow_to_the_seller(afternoon: Rig) -> None:
    rig = afternoon
    before = rig.holdings()
    first = rig.propose(A, B.address, 5_000, 100_000)
    second = rig.propose(A, C.address, 5_000, 100_000)
    with reverts("MarketNotBlockBuyer", blockId=first, caller=C.address):
        rig.send(rig.market.functions.declineBlock(first), C)
    with reverts("MarketNotBlockSeller", blockId=second, caller=C.address):
        rig.send(rig.market.functions.cancelBlock(second), C)
    receipt = rig.send(rig.market.functions.declineBlock(first), B)
    assert rig.events(receipt, "BlockDeclined") == [{"blockId": first}]
    receipt = rig.send(rig.market.functions.cancelBlock(second), A)
    assert rig.events(receipt, "BlockCancelled") == [{"blockId": second}]
    assert (status(rig, first), status(rig, second)) == (DECLINED, CANCELLED)
    assert rig.holdings() == before
    for block_id in (first, second):
        with reverts("MarketBlockNotPending", blockId=block_id):
            rig.accept(B, block_id)
        with reverts("MarketBlockNotPending", blockId=block_id):
            rig.send(rig.market.functions.cancelBlock(block_id), A)


def test_a_pending_block_expires_at_the_end_of_the_day(afternoon: Rig) -> None:
    rig = afternoon
    before = rig.holdings()
    block = rig.propose(A, B.address, 5_000, 100_000)
    next_weekday_at(rig.chain, AFTERNOON)
    with reverts("MarketBlockNotPending", blockId=block):
        rig.accept(B, block)
    receipt = rig.expire(E)
    assert rig.events(receipt, "BlockExpired") == [{"blockId": block}]
    assert status(rig, block) == EXPIRED
    assert rig.holdings() == before


def test_todays_block_purchase_is_locked_and_block_sales_need_sellable_allowances(afternoon: Rig) -> None:
    rig = afternoon
    held = rig.allowances(B.address)
    rig.accept(B, rig.propose(A, B.address, 5_000, 100_000))
    with reverts(
        "MarketInsufficientAllowances", account=B.address, tokenId=CO2_2027, needed=held + 1, sellable=held
    ):
        rig.propose(B, C.address, 5_000, held + 1)
    rig.propose(B, C.address, 5_000, held)


def test_blocks_are_refused_while_halted(afternoon: Rig) -> None:
    rig = afternoon
    block = rig.propose(A, B.address, 5_000, 100_000)
    rig.send(rig.market.functions.halt(CO2_2027, "inquiry"), rig.suite.exchange)
    before = rig.holdings()
    with reverts("MarketHalted", tokenId=CO2_2027):
        rig.propose(A, C.address, 5_000, 100_000)
    with reverts("MarketHalted", tokenId=CO2_2027):
        rig.accept(B, block)
    assert rig.holdings() == before
    rig.send(rig.market.functions.cancelBlock(block), A)  # leaving is allowed
