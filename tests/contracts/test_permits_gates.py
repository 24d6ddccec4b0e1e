"""The permits gates on a real Anvil: AllowanceToken allocation needs a valid permit and stays
within the permitted amount; transfers of a gated pollutant by or to an enterprise whose permit is
expired, revoked or cancelled are refused while holding and surrender stay possible, except that
when the market moves them only the sender is checked (a lapsed enterprise's resting orders are
cancelled, expired and filled, it cannot sell); the market refuses its buys (an order, a take of a
sell, a block acceptance: ``MarketPermitNotValid``), and those of an enterprise with no permit; CO2
is not gated; the registry binds a device only to an outlet on a valid permit; the gas of an ungated
transfer stays within +2,500 of the suite without permits."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from chain.accounts import dev_account
from chain.compile import Artifact
from chain.node import AnvilNode
from chain.tx import ChainClient
from tests.conftest import Consortium
from tests.utils.chain import register, reverts
from tests.utils.market import (
    AFTERNOON,
    BUY,
    EVENING,
    FEE_ACCOUNT,
    MAX_UINT,
    MORNING,
    SELL,
    Rig,
    later_today,
    market_contract,
    next_weekday_at,
    rulebook,
    wire_market,
)
from tests.utils.permits import (
    CO2_2027,
    ENTERPRISES,
    NOX,
    NOX_2027,
    SO2,
    SO2_2027,
    deploy_permits_suite,
    issued,
    outlets,
    permits_of,
)

E0, E1, E2, E3 = ENTERPRISES
DEVICE = dev_account(30)


@pytest.fixture(scope="module")
def suite_module(
    anvil: AnvilNode, artifacts: dict[str, Artifact], tmp_path_factory: pytest.TempPathFactory
) -> Consortium:
    chain = ChainClient.connect(anvil.url, artifacts)
    c = deploy_permits_suite(anvil, chain, Path(tmp_path_factory.mktemp("permit-gates")))
    for token_id in (SO2_2027, NOX_2027, CO2_2027):
        c.allowance.set_cap(c.regulator, token_id, 1_000_000)
    return c


@pytest.fixture
def c(suite_module: Consortium) -> Iterator[Consortium]:
    snapshot = suite_module.snapshot()
    try:
        yield suite_module
    finally:
        suite_module.revert(snapshot)


def _ref(n: int) -> bytes:
    return n.to_bytes(32, "big")


# ---------------------------------------------------------------------- allocation


def test_allocation_needs_a_permit_and_stays_within_it(c: Consortium) -> None:
    a = c.allowance
    with reverts("AllowancePermitRequired", enterprise=E0.address, pollutant=SO2, year=2027):
        a.allocate(c.regulator, SO2_2027, [E0.address], [10], _ref(1))
    assert a.issued(SO2_2027) == 0 and not a.batch_executed(_ref(1))
    issued(c, E0, so2=1_000, nox=500)
    issued(c, E1, so2=300, nox=300)
    a.allocate(c.regulator, SO2_2027, [E0.address, E1.address], [600, 300], _ref(2))
    a.allocate(c.regulator, SO2_2027, [E0.address], [400], _ref(3))  # cumulative: exactly the permit
    assert a.contract.functions.permitAllocated(E0.address, SO2_2027).call() == 1_000
    with reverts(
        "AllowanceAbovePermit",
        enterprise=E0.address,
        pollutant=SO2,
        year=2027,
        permitted=1_000,
        allocated=1_001,
    ):
        a.allocate(c.regulator, SO2_2027, [E0.address], [1], _ref(4))
    # a batch with one recipient above its permit is refused whole
    with reverts("AllowanceAbovePermit", enterprise=E1.address, permitted=300, allocated=301):
        a.allocate(c.regulator, NOX_2027, [E0.address, E1.address], [10, 301], _ref(5))
    assert a.balance(E0.address, NOX_2027) == 0 and a.issued(NOX_2027) == 0
    # without a permit covering the vintage (validity ends within five years)
    so2_2040 = (1 << 24) | (SO2 << 16) | 2040
    a.set_cap(c.regulator, so2_2040, 100)
    with reverts("AllowancePermitRequired", enterprise=E0.address, pollutant=SO2, year=2040):
        a.allocate(c.regulator, so2_2040, [E0.address], [1], _ref(6))
    assert (a.balance(E0.address, SO2_2027), a.balance(E1.address, SO2_2027)) == (1_000, 300)


def test_allocation_stops_after_revocation(c: Consortium) -> None:
    pid = issued(c, E0)
    c.allowance.allocate(c.regulator, SO2_2027, [E0.address], [10], _ref(1))
    permits_of(c).revoke(c.regulator, pid, "violations")
    with reverts("AllowancePermitRequired", enterprise=E0.address, pollutant=SO2, year=2027):
        c.allowance.allocate(c.regulator, SO2_2027, [E0.address], [10], _ref(2))


def test_co2_is_not_gated(c: Consortium) -> None:
    a = c.allowance
    a.allocate(c.regulator, CO2_2027, [E2.address, E3.address], [100, 100], _ref(1))  # no permits at all
    a.transfer(E2, E3.address, CO2_2027, 40)
    assert (a.balance(E2.address, CO2_2027), a.balance(E3.address, CO2_2027)) == (60, 140)


# ---------------------------------------------------------------------- transfers


@pytest.mark.parametrize("end", ["revoke", "cancel", "expire"])
def test_trading_refused_without_a_valid_permit_while_holding_and_surrender_work(
    c: Consortium, end: str
) -> None:
    a, p = c.allowance, permits_of(c)
    pid0, _ = issued(c, E0), issued(c, E1)
    a.allocate(c.regulator, SO2_2027, [E0.address, E1.address], [100, 100], _ref(1))
    a.transfer(E0, E1.address, SO2_2027, 10)  # both valid: trading works
    if end == "revoke":
        p.revoke(c.regulator, pid0, "r")
    elif end == "cancel":
        p.cancel(c.regulator, pid0, "c")
    else:
        c.chain.advance_time(p.permit(pid0).valid_until - c.chain.timestamp() + 1)
        p.renew(c.regulator, p.permit_of(E1.address), c.chain.timestamp() + 86_400)
    with reverts("AllowancePermitNotValid", enterprise=E0.address, pollutant=SO2):
        a.transfer(E0, E1.address, SO2_2027, 1)
    with reverts("AllowancePermitNotValid", enterprise=E0.address, pollutant=SO2):
        a.transfer(E1, E0.address, SO2_2027, 1)
    assert (a.balance(E0.address, SO2_2027), a.balance(E1.address, SO2_2027)) == (90, 110)  # still held
    # surrender: to the compliance manager (here a key governance made the manager) stays possible
    manager = dev_account(31)
    token = a.contract.functions
    c.registry.govern_call(c.members, token.setSystemContract(manager.address, True), "manager key")
    c.registry.govern_call(c.members, token.setComplianceManager(manager.address), "manager key")
    a.transfer(E0, manager.address, SO2_2027, 90)
    a.retire(manager, E0.address, SO2_2027, 90, 2027)
    assert a.balance(E0.address, SO2_2027) == 0 and a.retired_of(E0.address, SO2_2027, 2027) == 90


def test_an_enterprise_without_a_permit_cannot_receive_a_gated_pollutant(c: Consortium) -> None:
    issued(c, E0)
    c.allowance.allocate(c.regulator, SO2_2027, [E0.address], [100], _ref(1))
    with reverts("AllowancePermitNotValid", enterprise=E2.address, pollutant=SO2):
        c.allowance.transfer(E0, E2.address, SO2_2027, 1)


def test_a_permit_without_the_pollutant_does_not_cover_it(c: Consortium) -> None:
    p = permits_of(c)
    issued(c, E0)
    issued(c, E1)
    c.allowance.allocate(c.regulator, NOX_2027, [E0.address], [100], _ref(1))
    p.change(c.regulator, p.permit_of(E1.address), outlets(E1), [p.permit(p.permit_of(E1.address)).terms[0]])
    assert not p.is_valid(E1.address, NOX, c.chain.timestamp())
    with reverts("AllowancePermitNotValid", enterprise=E1.address, pollutant=NOX):
        c.allowance.transfer(E0, E1.address, NOX_2027, 1)


def test_ungated_transfer_gas_within_2500_of_the_suite_without_permits(
    c: Consortium, fresh: Consortium
) -> None:
    def gas(suite: Consortium) -> int:
        if suite is fresh:
            for i, e in enumerate((E2, E3)):
                register(fresh.registry, fresh.members, e.address, seed=950 + i)
            fresh.allowance.set_cap(fresh.regulator, CO2_2027, 1_000)
        suite.allowance.allocate(suite.regulator, CO2_2027, [E2.address, E3.address], [100, 100], _ref(77))
        return int(suite.allowance.transfer(E2, E3.address, CO2_2027, 10)["gasUsed"])

    with_permits = gas(c)
    issued(c, E0)
    c.allowance.allocate(c.regulator, SO2_2027, [E0.address], [100], _ref(78))
    without = gas(fresh)
    print(f"ungated transfer gas: {with_permits} with permits wired, {without} without")
    assert with_permits - without <= 2_500, (with_permits, without)


# ---------------------------------------------------------------------- devices


def test_device_binds_only_to_an_outlet_on_a_valid_permit(c: Consortium) -> None:
    r, p = c.registry, permits_of(c)
    with reverts("RegistryDeviceNotOnPermit", mn="MNNOPERMIT1", enterprise=E0.address):
        r.bind_device(c.regulator, DEVICE.address, E0.address, "MNNOPERMIT1")
    pid = issued(c, E0)
    mn = outlets(E0)[0].mn
    with reverts("RegistryDeviceNotOnPermit", mn=mn, enterprise=E1.address):
        r.bind_device(c.regulator, DEVICE.address, E1.address, mn)  # E0's outlet
    with reverts("RegistryDeviceNotOnPermit", mn="MNOTHER01", enterprise=E0.address):
        r.bind_device(c.regulator, DEVICE.address, E0.address, "MNOTHER01")  # not on its permit
    assert r.contract.functions.deviceByMn(mn).call() == "0x" + "0" * 40
    r.bind_device(c.regulator, DEVICE.address, E0.address, mn)
    assert r.contract.functions.deviceByMn(mn).call() == DEVICE.address
    r.unbind_device(c.regulator, DEVICE.address)
    p.revoke(c.regulator, pid, "r")
    with reverts("RegistryDeviceNotOnPermit", mn=mn, enterprise=E0.address):
        r.bind_device(c.regulator, DEVICE.address, E0.address, mn)


def _market_rig(c: Consortium) -> Rig:
    """The market wired on the permits suite, SO2 2027 listed, E0..E2 with permits, 100 t of SO2
    and cash each, approvals given, the clock on a weekday morning."""
    market = market_contract(c)
    wire_market(
        c.registry,
        c.members,
        market,
        c.allowance.contract,
        c.cash.contract,
        FEE_ACCOUNT.address,
        c.exchange.address,
    )
    traders = [E0, E1, E2]
    for e in traders:
        issued(c, e)
    c.allowance.allocate(c.regulator, SO2_2027, [e.address for e in traders], [100] * 3, _ref(7))
    for i, e in enumerate(traders):
        c.cash.deposit(c.exchange, e.address, 10**9, f"permits-market-{i}")
        c.cash.approve(e, market.address, MAX_UINT)
        c.chain.transact(c.allowance.contract.functions.setApprovalForAll(market.address, True), e)
    rig = Rig(suite=c, market=market, traders=traders, fee_account=FEE_ACCOUNT, token_id=SO2_2027)
    rig.set_rules(rulebook())
    next_weekday_at(c.chain, MORNING)
    return rig


def test_a_lapsed_enterprise_s_resting_sells_are_cancelled_and_expired(c: Consortium) -> None:
    rig, p = _market_rig(c), permits_of(c)
    cancelled, resting = rig.place(E0, SELL, 5_000, 10), rig.place(E0, SELL, 5_000, 20)
    forced = rig.place(E0, SELL, 5_000, 5)
    assert rig.allowances(E0.address) == 65
    p.revoke(c.regulator, p.permit_of(E0.address), "r")
    rig.cancel(E0, cancelled)  # the escrow returns to the lapsed enterprise
    assert rig.allowances(E0.address) == 75 and not rig.order(cancelled)["open"]
    rig.send(rig.market.functions.forceCancel(forced), c.exchange)
    assert rig.allowances(E0.address) == 80 and not rig.order(forced)["open"]
    later_today(c.chain, EVENING)
    rig.expire(E1)  # the day's expiry is not blocked by the lapsed owner's order
    assert rig.allowances(E0.address) == 100 and not rig.order(resting)["open"]
    assert rig.allowances(rig.market.address) == 0


def test_a_lapsed_enterprise_s_resting_buy_is_filled_by_a_valid_seller(c: Consortium) -> None:
    rig, p = _market_rig(c), permits_of(c)
    bid = rig.place(E0, BUY, 5_000, 10)
    p.revoke(c.regulator, p.permit_of(E0.address), "r")
    rig.place(E1, SELL, 5_000, 10)  # a valid seller's taker sell delivers to the lapsed buyer
    assert (rig.allowances(E0.address), rig.allowances(E1.address)) == (110, 90)
    assert not rig.order(bid)["open"]


def test_a_lapsed_enterprise_cannot_sell_nor_receive_directly(c: Consortium) -> None:
    rig, p = _market_rig(c), permits_of(c)
    rig.place(E1, BUY, 5_000, 10)
    p.revoke(c.regulator, p.permit_of(E0.address), "r")
    with reverts("AllowancePermitNotValid", enterprise=E0.address, pollutant=SO2):
        rig.place(E0, SELL, 5_000, 10)  # a taker sell into E1's bid
    with reverts("AllowancePermitNotValid", enterprise=E0.address, pollutant=SO2):
        rig.place(E0, SELL, 5_400, 10)  # a resting sell's escrow
    with reverts("AllowancePermitNotValid", enterprise=E0.address, pollutant=SO2):
        c.allowance.transfer(E1, E0.address, SO2_2027, 1)  # a direct transfer to it
    assert (rig.allowances(E0.address), rig.allowances(E1.address)) == (100, 100)


# ---------------------------------------------------------------------- market entry


@pytest.mark.parametrize("end", ["revoke", "cancel", "expire", "none"])
def test_an_enterprise_without_a_valid_permit_cannot_buy_on_the_market(c: Consortium, end: str) -> None:
    rig, p = _market_rig(c), permits_of(c)
    rig.set_rules(rulebook(blockMinimum=50))
    buyer = E3 if end == "none" else E0  # E3: registered, never held a permit
    c.cash.deposit(c.exchange, E3.address, 10**9, "permits-market-3")
    c.cash.approve(E3, rig.market.address, MAX_UINT)
    if end == "expire":
        c.chain.advance_time(p.permit(p.permit_of(E0.address)).valid_until - c.chain.timestamp() + 1)
        for e in (E1, E2):  # the sellers stay valid
            p.renew(c.regulator, p.permit_of(e.address), c.chain.timestamp() + 30 * 86_400)
        next_weekday_at(c.chain, MORNING)
    ask = rig.place(E1, SELL, 5_000, 10)
    later_today(c.chain, AFTERNOON)
    block = rig.propose(E2, buyer.address, 5_000, 50)
    if end == "revoke":
        p.revoke(c.regulator, p.permit_of(E0.address), "r")
    elif end == "cancel":
        p.cancel(c.regulator, p.permit_of(E0.address), "c")
    before = rig.holdings(), c.cash.balance(E3.address)
    error = {"account": buyer.address, "pollutant": SO2}
    with reverts("MarketPermitNotValid", **error):
        rig.place(buyer, BUY, 5_000, 5)  # a buy that would fill against the ask
    with reverts("MarketPermitNotValid", **error):
        rig.place(buyer, BUY, 4_900, 5)  # a buy that would rest
    with reverts("MarketPermitNotValid", **error):
        rig.take(buyer, ask, 5)
    with reverts("MarketPermitNotValid", **error):
        rig.accept(buyer, block)
    assert (rig.holdings(), c.cash.balance(E3.address)) == before
    assert rig.order(ask)["remaining"] == 10
    assert rig.market.functions.blockProposal(block).call()[6] == 1  # still pending


def test_a_valid_buyer_buys_and_co2_asks_no_permit_on_the_market(c: Consortium) -> None:
    rig = _market_rig(c)
    rig.set_rules(rulebook(blockMinimum=50))
    rig.set_rules(rulebook(blockMinimum=50), CO2_2027)
    c.allowance.allocate(c.regulator, CO2_2027, [E1.address], [100], _ref(8))
    c.cash.deposit(c.exchange, E3.address, 10**9, "permits-market-3")
    c.cash.approve(E3, rig.market.address, MAX_UINT)
    ask = rig.place(E1, SELL, 5_000, 10)
    rig.place(E0, BUY, 5_000, 4)  # fills against the ask
    rig.take(E0, ask, 3)
    later_today(c.chain, AFTERNOON)
    rig.accept(E0, rig.propose(E2, E0.address, 5_000, 50))
    assert rig.allowances(E0.address) == 100 + 4 + 3 + 50
    # CO2 is not gated: an enterprise without any permit buys it
    co2_ask = rig.place(E1, SELL, 5_000, 10, CO2_2027)
    rig.take(E3, co2_ask, 6)
    rig.place(E3, BUY, 5_000, 4, CO2_2027)
    assert c.allowance.balance(E3.address, CO2_2027) == 10


def test_a_suspended_enterprise_is_refused_before_its_permit_is_asked(c: Consortium) -> None:
    rig = _market_rig(c)
    c.registry.govern(c.members, c.registry.encode_suspend(E0.address, 1), "suspend")
    with reverts("CallerNotActive", account=E0.address):
        rig.place(E0, BUY, 5_000, 5)
