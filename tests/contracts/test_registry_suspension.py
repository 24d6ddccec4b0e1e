"""Suspension removes every power (issue 17 item 3) on the contracts of the registry, token,
auction and settlement areas: each privileged function called by a suspended holder of its role
reverts with the custom error and its arguments, and works again once the holder is reinstated.
(ComplianceManager and EmissionsLedger have their own table in their test files.)"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from eth_account.signers.local import LocalAccount

from chain.accounts import dev_account
from chain.auction import AuctionParams, AuctionStatus
from chain.settlement import SettlementReportsClient
from domain.auction import ClearingClaim
from domain.tokens import Kind, encode_id
from tests.conftest import Consortium
from tests.utils.chain import register, reverts

CO2_2027 = encode_id(Kind.ALLOWANCE, "CO2", 2027)
ENTERPRISE = dev_account(20)
DEVICE = dev_account(30)
SECOND_EXCHANGE = dev_account(25)
HOUR = 3600
REPORT_HASH = hashlib.sha256(b"suspension table report").digest()


@pytest.fixture(scope="module")
def world(consortium: Consortium) -> Iterator[Consortium]:
    """An enterprise with cash and 500 CO2-2027 allowances, a device bound to it with the oracle
    set, the auditor assigned to it, and a second exchange key."""
    c = consortium
    snapshot = c.snapshot()
    register(c.registry, c.members, ENTERPRISE.address, seed=20)
    c.registry.grant_roles(c.members, [("EXCHANGE", SECOND_EXCHANGE.address)])
    c.cash.deposit(c.exchange, ENTERPRISE.address, 10**9, "suspension-table-0")
    c.cash.approve(ENTERPRISE, c.exchange.address, 10**9)
    c.allowance.set_cap(c.regulator, CO2_2027, 1_000_000)
    c.allowance.allocate(c.regulator, CO2_2027, [ENTERPRISE.address], [500], b"\x5a" * 32)
    c.registry.bind_device(
        c.regulator, DEVICE.address, ENTERPRISE.address, "SUSPDEV0001", oracle=c.oracle.address
    )
    c.registry.assign_auditor(c.regulator, c.auditor.address, ENTERPRISE.address)
    yield c
    c.revert(snapshot)


@pytest.fixture
def w(world: Consortium) -> Iterator[Consortium]:
    snapshot = world.snapshot()
    try:
        yield world
    finally:
        world.revert(snapshot)


def suspend(c: Consortium, account: LocalAccount) -> None:
    """Suspend ``account`` through governance by the members other than it."""
    others = [m for m in c.members if m.address != account.address]
    c.registry.govern(others, c.registry.encode_suspend(account.address, 9), "suspend")


def reinstate(c: Consortium, account: LocalAccount) -> None:
    others = [m for m in c.members if m.address != account.address]
    c.registry.govern(others, c.registry.encode_reinstate(account.address), "reinstate")


def auction_params(c: Consortium, supply: int = 100) -> AuctionParams:
    now = c.chain.timestamp()
    return AuctionParams(
        token_id=CO2_2027, supply=supply, reserve_price=5000, commit_end=now + HOUR, reveal_end=now + 2 * HOUR
    )


def reports(c: Consortium) -> SettlementReportsClient:
    return SettlementReportsClient(c.chain, c.manifest.address("SettlementReports"))


@dataclass(frozen=True)
class Power:
    """A privileged function: who holds it, what it needs first, the call, the error when suspended."""

    holder: Callable[[Consortium], LocalAccount]
    call: Callable[[Consortium, LocalAccount, object], object]
    error: str
    prepare: Callable[[Consortium], object] = lambda c: None


def _regulator(c: Consortium) -> LocalAccount:
    return c.regulator


def _exchange(c: Consortium) -> LocalAccount:
    return c.exchange


def _enterprise(c: Consortium) -> LocalAccount:
    return ENTERPRISE


def _proposal_by_exchange(c: Consortium) -> object:
    r = c.registry
    return r.propose(c.exchange, r.encode_grant_role("AUDITOR", dev_account(26).address), "auditor")


def _proposal_approved_by_others(c: Consortium) -> object:
    pid = _proposal_by_exchange(c)
    c.registry.approve(c.industry_body, int(pid))  # type: ignore[call-overload]
    return pid


def _no_sale_primary(c: Consortium) -> object:
    auction_id = c.auction.create_primary(c.regulator, auction_params(c))
    c.chain.advance_time(2 * HOUR)
    c.auction.submit_clearing(c.exchange, auction_id, ClearingClaim(0, 0, 0))
    assert c.auction.view(auction_id).status is AuctionStatus.NO_SALE
    return auction_id


def _frozen(c: Consortium) -> object:
    return c.allowance.freeze(c.regulator, ENTERPRISE.address, CO2_2027, 3)


POWERS: dict[str, Power] = {
    # ConsortiumRegistry: the regulator's functions and governance
    "registry.bindDevice": Power(
        _regulator,
        lambda c, a, _: c.registry.bind_device(a, dev_account(31).address, ENTERPRISE.address, "SUSPDEV0002"),
        "RegistryCallerNotActive",
    ),
    "registry.unbindDevice": Power(
        _regulator, lambda c, a, _: c.registry.unbind_device(a, DEVICE.address), "RegistryCallerNotActive"
    ),
    "registry.setDeviceOracle": Power(
        _regulator,
        lambda c, a, _: c.registry.set_device_oracle(a, DEVICE.address, c.oracle.address),
        "RegistryCallerNotActive",
    ),
    "registry.assignAuditor": Power(
        _regulator,
        lambda c, a, _: c.registry.assign_auditor(a, c.auditor.address, ENTERPRISE.address),
        "RegistryCallerNotActive",
        lambda c: c.registry.unassign_auditor(c.regulator, c.auditor.address, ENTERPRISE.address),
    ),
    "registry.unassignAuditor": Power(
        _regulator,
        lambda c, a, _: c.registry.unassign_auditor(a, c.auditor.address, ENTERPRISE.address),
        "RegistryCallerNotActive",
    ),
    "registry.propose": Power(
        _regulator,
        lambda c, a, _: c.registry.propose(a, c.registry.encode_set_lifetime(86_400), "lifetime"),
        "GovernanceMemberSuspended",
    ),
    "registry.approve": Power(
        _regulator,
        lambda c, a, pid: c.registry.approve(a, int(pid)),  # type: ignore[call-overload]
        "GovernanceMemberSuspended",
        _proposal_by_exchange,
    ),
    "registry.execute": Power(
        _regulator,
        lambda c, a, pid: c.registry.execute(a, int(pid)),  # type: ignore[call-overload]
        "GovernanceMemberSuspended",
        _proposal_approved_by_others,
    ),
    # AllowanceToken: the regulator's functions
    "allowance.setCap": Power(
        _regulator, lambda c, a, _: c.allowance.set_cap(a, CO2_2027, 2_000_000), "CallerNotActive"
    ),
    "allowance.allocate": Power(
        _regulator,
        lambda c, a, _: c.allowance.allocate(a, CO2_2027, [ENTERPRISE.address], [10], b"\x5b" * 32),
        "CallerNotActive",
    ),
    "allowance.freeze": Power(
        _regulator, lambda c, a, _: c.allowance.freeze(a, ENTERPRISE.address, CO2_2027, 3), "CallerNotActive"
    ),
    "allowance.release": Power(
        _regulator,
        lambda c, a, _: c.allowance.release(a, ENTERPRISE.address, CO2_2027),
        "CallerNotActive",
        _frozen,
    ),
    # SettlementToken: the exchange's functions
    "cash.deposit": Power(
        _exchange,
        lambda c, a, _: c.cash.deposit(a, ENTERPRISE.address, 100, "suspension-1"),
        "CallerNotActive",
    ),
    "cash.withdraw": Power(
        _exchange,
        lambda c, a, _: c.cash.withdraw(a, ENTERPRISE.address, 100, "suspension-2"),
        "CallerNotActive",
    ),
    # SealedBidAuction: creating auctions, the regulator taking primary proceeds
    "auction.createPrimary": Power(
        _regulator, lambda c, a, _: c.auction.create_primary(a, auction_params(c)), "CallerNotActive"
    ),
    "auction.createSecondary": Power(
        _enterprise, lambda c, a, _: c.auction.create_secondary(a, auction_params(c, 50)), "CallerNotActive"
    ),
    "auction.withdrawProceeds(primary)": Power(
        _regulator,
        lambda c, a, auction_id: c.auction.withdraw_proceeds(a, int(auction_id)),  # type: ignore[call-overload]
        "CallerNotActive",
        _no_sale_primary,
    ),
    # SettlementReports: the exchange publishing
    "reports.publish": Power(
        _exchange,
        lambda c, a, _: reports(c).publish(a, reports(c).current_trading_day(), REPORT_HASH),
        "CallerNotActive",
    ),
}


@pytest.mark.parametrize("name", list(POWERS))
def test_privileged_function_refused_when_holder_suspended_and_allowed_after_reinstatement(
    w: Consortium, name: str
) -> None:
    power = POWERS[name]
    holder = power.holder(w)
    context = power.prepare(w)
    suspend(w, holder)
    with reverts(power.error, account=holder.address):
        power.call(w, holder, context)
    reinstate(w, holder)
    power.call(w, holder, context)


def test_transaction_allowed_false_when_governance_member_suspended(w: Consortium) -> None:
    r = w.registry
    assert r.transaction_allowed(w.regulator.address)
    suspend(w, w.regulator)
    assert w.regulator.address in r.members()
    assert not r.transaction_allowed(w.regulator.address)
    reinstate(w, w.regulator)
    assert r.transaction_allowed(w.regulator.address)


def test_publish_refused_when_signer_suspended(w: Consortium) -> None:
    client = reports(w)
    day = client.current_trading_day()
    suspend(w, w.exchange)
    with reverts("ReportSignerNotActive", tradingDay=day, signer=w.exchange.address):
        client.publish(SECOND_EXCHANGE, day, REPORT_HASH, signer=w.exchange)
    reinstate(w, w.exchange)
    client.publish(SECOND_EXCHANGE, day, REPORT_HASH, signer=w.exchange)
    assert client.report(day).signer == w.exchange.address  # type: ignore[union-attr]
