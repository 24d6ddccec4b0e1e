"""TrustedCounterparties on a real Anvil, wired into the AllowanceToken: an addition in effect only
after the governed delay, transfers above the governed limit to an untrusted account refused by
name with their arguments (nothing moved), market trades and system contracts not affected, every
refused caller (someone else, a non-enterprise, a suspended enterprise, not governance), and the
contract equal to ``domain.trusted``."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from web3.logs import DISCARD

from chain.accounts import dev_account
from chain.trusted import TrustedClient, wire_trusted
from domain.errors import InvalidInputError
from domain.market import Side
from domain.trusted import DEFAULT_DELAY_SECONDS, transfer_allowed
from tests.conftest import Consortium
from tests.utils.chain import reverts
from tests.utils.market import CO2_2027, MORNING, build_rig, next_weekday_at

A, B, C = dev_account(28), dev_account(29), dev_account(30)
LIMIT = 100
ZERO = "0x0000000000000000000000000000000000000000"


@dataclass
class Wired:
    c: Consortium
    trusted: TrustedClient


@pytest.fixture(scope="module")
def wired(consortium: Consortium) -> Iterator[Wired]:
    """Market rig with traders A, B, C (1,000,000 t each), TrustedCounterparties deployed (4 days,
    limit 100 t) and wired; rolled back after the module."""
    c = consortium
    snapshot = c.snapshot()
    try:
        build_rig(c, traders=[A, B, C], seed=870)
        address, receipt = c.chain.deploy(
            "TrustedCounterparties", [c.registry.address, DEFAULT_DELAY_SECONDS, LIMIT], c.members[0]
        )
        trusted = TrustedClient(c.chain, address, from_block=int(receipt["blockNumber"]))
        assert wire_trusted(c.registry, c.members, trusted, c.allowance.address)
        assert wire_trusted(c.registry, c.members, trusted, c.allowance.address) == []  # in place
        yield Wired(c, trusted)
    finally:
        c.revert(snapshot)


@pytest.fixture
def w(wired: Wired) -> Iterator[Wired]:
    snapshot = wired.c.snapshot()
    try:
        yield wired
    finally:
        wired.c.revert(snapshot)


def _balances(w: Wired) -> tuple[int, ...]:
    return tuple(w.c.allowance.balance(p.address, CO2_2027) for p in (A, B, C))


def test_trusted_addition_takes_effect_after_the_delay(w: Wired) -> None:
    c, t = w.c, w.trusted
    receipt = t.add(A, B.address)
    event = t.contract.events.TrustedCounterpartyAdded().process_receipt(receipt, errors=DISCARD)[0]["args"]
    now = c.chain.timestamp()
    expected = (A.address, B.address, now + DEFAULT_DELAY_SECONDS)
    assert (event["enterprise"], event["counterparty"], event["activeFrom"]) == expected
    assert t.counterparties(A.address) == [B.address] and not t.is_trusted(A.address, B.address)
    before = _balances(w)
    with reverts(
        "AllowanceUntrustedCounterparty", **{"from": A.address}, to=B.address, amount=LIMIT + 1, limit=LIMIT
    ):
        c.allowance.transfer(A, B.address, CO2_2027, LIMIT + 1)  # used before the delay
    assert _balances(w) == before
    c.chain.advance_time(DEFAULT_DELAY_SECONDS)
    assert t.is_trusted(A.address, B.address) and t.transfer_limit(A.address, B.address) == 2**256 - 1
    c.allowance.transfer(A, B.address, CO2_2027, 50_000)
    assert _balances(w) == (before[0] - 50_000, before[1] + 50_000, before[2])
    # trust is one-way: B -> A stays limited
    with reverts("AllowanceUntrustedCounterparty", to=A.address, amount=LIMIT + 1):
        c.allowance.transfer(B, A.address, CO2_2027, LIMIT + 1)


def test_trusted_transfer_within_the_limit_needs_no_trust_and_removal_is_immediate(w: Wired) -> None:
    c, t = w.c, w.trusted
    c.allowance.transfer(A, C.address, CO2_2027, LIMIT)  # at the limit: allowed untrusted
    t.add(A, C.address)
    c.chain.advance_time(DEFAULT_DELAY_SECONDS + 1)
    c.allowance.transfer(A, C.address, CO2_2027, 10_000)
    receipt = t.remove(A, C.address)
    assert t.contract.events.TrustedCounterpartyRemoved().process_receipt(receipt, errors=DISCARD)
    assert t.counterparties(A.address) == [] and t.active_from(A.address, C.address) == 0
    with reverts("AllowanceUntrustedCounterparty", amount=LIMIT + 1, limit=LIMIT):
        c.allowance.transfer(A, C.address, CO2_2027, LIMIT + 1)


def test_trusted_refuses_someone_else_a_non_enterprise_and_a_suspended_enterprise(w: Wired) -> None:
    c, t = w.c, w.trusted
    with reverts("TrustedCounterpartiesNotOwner", enterprise=A.address, caller=B.address):
        c.chain.transact(t.add_call(A.address, C.address), B)
    with reverts("TrustedCounterpartiesNotActiveEnterprise", enterprise=c.auditor.address):
        c.chain.transact(t.add_call(c.auditor.address, A.address), c.auditor)
    c.registry.govern(c.members, c.registry.encode_suspend(A.address, 7), "suspend A")
    with reverts("TrustedCounterpartiesNotActiveEnterprise", enterprise=A.address):
        t.add(A, B.address)
    assert t.counterparties(A.address) == []


def test_trusted_refuses_bad_entries_by_name(w: Wired) -> None:
    t = w.trusted
    with pytest.raises(InvalidInputError, match="counterparty is the zero address"):
        t.add(A, ZERO)  # refused before any transaction
    with reverts("TrustedCounterpartyInvalid", enterprise=A.address, counterparty=ZERO):
        w.c.chain.transact(t.contract.functions.addCounterparty(A.address, ZERO), A)
    with reverts("TrustedCounterpartyInvalid", counterparty=A.address):
        t.add(A, A.address)
    t.add(A, B.address)
    with reverts(
        "TrustedCounterpartyListed", counterparty=B.address, activeFrom=t.active_from(A.address, B.address)
    ):
        t.add(A, B.address)
    with reverts("TrustedCounterpartyNotListed", enterprise=A.address, counterparty=C.address):
        t.remove(A, C.address)


def test_trusted_settings_are_governance_only_and_bounded(w: Wired) -> None:
    c, t = w.c, w.trusted
    with reverts("OnlyGovernance", caller=c.regulator.address):
        c.chain.transact(t.contract.functions.setLimit(5), c.regulator)
    with reverts("OnlyGovernance"):
        c.chain.transact(t.contract.functions.setDelay(5), A)
    receipt = c.registry.govern_call(c.members, t.contract.functions.setDelay(60), "delay 60 s")
    assert t.delay() == 60
    assert (
        t.contract.events.TrustedDelaySet().process_receipt(receipt, errors=DISCARD)[0]["args"]["delay"] == 60
    )
    c.registry.govern_call(c.members, t.contract.functions.setLimit(7), "limit 7")
    assert t.limit() == 7
    with reverts("TrustedCounterpartiesDelayTooLong", delay=91 * 86_400, maxDelay=90 * 86_400):
        c.registry.govern_call(c.members, t.contract.functions.setDelay(91 * 86_400), "too long")
    with reverts("AllowanceTrustedCounterpartiesZero"):
        c.registry.govern_call(
            c.members, c.allowance.contract.functions.setTrustedCounterparties(ZERO), "zero"
        )
    with reverts("OnlyGovernance"):
        c.chain.transact(c.allowance.contract.functions.setTrustedCounterparties(t.address), c.regulator)


def test_trusted_does_not_limit_market_trades_or_system_contracts(w: Wired) -> None:
    c = w.c
    c.registry.govern_call(c.members, w.trusted.contract.functions.setLimit(0), "nothing untrusted")
    next_weekday_at(c.chain, MORNING)
    before = _balances(w)
    c.market.place(A, CO2_2027, Side.SELL, 5_000, 500)
    executed = c.market.place(B, CO2_2027, Side.BUY, 5_000, 500)
    assert executed.trades and _balances(w) == (before[0] - 500, before[1] + 500, before[2])
    # a system contract (what the auction house and the compliance manager are) is never limited
    c.registry.govern_call(
        c.members, c.allowance.contract.functions.setSystemContract(C.address, True), "sys"
    )
    c.allowance.transfer(A, C.address, CO2_2027, 1_000)
    assert c.allowance.balance(C.address, CO2_2027) == before[2] + 1_000


@settings(max_examples=25, deadline=None)
@given(amount=st.integers(0, 300), listed=st.booleans(), wait=st.integers(0, 2 * DEFAULT_DELAY_SECONDS))
def test_trusted_contract_equals_domain_rule(wired: Wired, amount: int, listed: bool, wait: int) -> None:
    c, t = wired.c, wired.trusted
    snapshot = c.snapshot()
    try:
        if listed:
            t.add(A, B.address)
        if wait:
            c.chain.advance_time(wait)
        allowed = transfer_allowed(
            amount, active_since=t.active_from(A.address, B.address), now=c.chain.timestamp(), limit=t.limit()
        )
        assert allowed == (amount <= t.transfer_limit(A.address, B.address))
    finally:
        c.revert(snapshot)
