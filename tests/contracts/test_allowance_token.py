"""AllowanceToken and SettlementToken on a real Anvil: allowed callers, every refusal, conservation."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from eth_account.signers.local import LocalAccount
from hypothesis import given, settings
from hypothesis import strategies as st
from web3.logs import DISCARD

from chain.accounts import dev_account
from chain.allowance import bank_reference
from chain.registry import ROLES
from domain.errors import InvalidInputError
from domain.tokens import Kind, decode_id, encode_id
from tests.conftest import Consortium
from tests.utils.chain import encode_call, register, reverts

CO2_2027 = encode_id(Kind.ALLOWANCE, "CO2", 2027)
SO2_2026 = encode_id(Kind.ALLOWANCE, "SO2", 2026)
CCER_2025 = encode_id(Kind.OFFSET, "CO2", 2025)
E1, E2, E3 = (dev_account(i) for i in (20, 21, 22))


@pytest.fixture
def market(fresh: Consortium) -> Consortium:
    """Three registered enterprises; CO2 2027 capped at 1,000,000 with E1=600 and E2=400 allocated."""
    for i, e in enumerate((E1, E2, E3)):
        register(fresh.registry, fresh.members, e.address, seed=200 + i)
    fresh.allowance.set_cap(fresh.regulator, CO2_2027, 1_000_000)
    fresh.allowance.allocate(fresh.regulator, CO2_2027, [E1.address, E2.address], [600, 400], b"\x01" * 32)
    return fresh


def _roles(c: Consortium) -> dict[str, LocalAccount]:
    return {
        "regulator": c.regulator, "exchange": c.exchange, "industry_body": c.industry_body,
        "auditor": c.auditor, "oracle": c.oracle, "enterprise": E1, "outsider": c.outsider,
    }  # fmt: skip


def _govern_token(c: Consortium, target: str, data: bytes) -> None:
    c.registry.govern(c.members, data, "token governance", target=target)


# ---------------------------------------------------------------------- ids


@given(kind=st.sampled_from(list(Kind)), pollutant=st.integers(1, 255), vintage=st.integers(2000, 2200))
@settings(max_examples=40, deadline=None)
def test_encode_id_matches_contract_view(
    consortium: Consortium, kind: Kind, pollutant: int, vintage: int
) -> None:
    token_id = encode_id(kind, pollutant, vintage)
    assert consortium.allowance.contract.functions.encodeId(int(kind), pollutant, vintage).call() == token_id
    assert consortium.allowance.contract.functions.decodeId(token_id).call() == [
        int(kind),
        pollutant,
        vintage,
    ]
    assert decode_id(token_id) == (d := decode_id(token_id)) and (d.kind, d.pollutant, d.vintage) == (
        kind, pollutant, vintage,
    )  # fmt: skip


# ---------------------------------------------------------------------- regulator-only functions

REGULATOR_ACTIONS: dict[str, Callable[[Consortium, LocalAccount], object]] = {
    "setCap": lambda c, a: c.allowance.set_cap(a, SO2_2026, 10),
    "allocate": lambda c, a: c.allowance.allocate(a, CO2_2027, [E3.address], [1], b"\x02" * 32),
    "freeze": lambda c, a: c.allowance.freeze(a, E1.address, CO2_2027, 5),
    "release": lambda c, a: c.allowance.release(a, E2.address, CO2_2027),
}


@pytest.mark.parametrize("action", REGULATOR_ACTIONS)
@pytest.mark.parametrize("who", ["exchange", "industry_body", "auditor", "oracle", "enterprise", "outsider"])
def test_regulator_action_refused_for_other_roles(market: Consortium, action: str, who: str) -> None:
    market.allowance.freeze(market.regulator, E2.address, CO2_2027, 1)  # so release has something
    caller = _roles(market)[who]
    with reverts("UnauthorizedRole", account=caller.address, role=ROLES["REGULATOR"]):
        REGULATOR_ACTIONS[action](market, caller)


@pytest.mark.parametrize("action", REGULATOR_ACTIONS)
def test_regulator_action_allowed_for_regulator(market: Consortium, action: str) -> None:
    market.allowance.freeze(market.regulator, E2.address, CO2_2027, 1)
    receipt = REGULATOR_ACTIONS[action](market, market.regulator)
    assert receipt["status"] == 1  # type: ignore[index]


def test_set_cap_emits_and_refuses_below_issued(market: Consortium) -> None:
    a = market.allowance
    receipt = a.set_cap(market.regulator, CO2_2027, 2000)
    assert a.contract.events.CapSet().process_receipt(receipt, errors=DISCARD)[0]["args"]["newCap"] == 2000
    with reverts("CapBelowIssued", id=CO2_2027, cap=999, issued=1000):
        a.set_cap(market.regulator, CO2_2027, 999)
    a.set_cap(market.regulator, CO2_2027, 1000)  # down to exactly what was issued
    assert a.cap(CO2_2027) == 1000


def test_set_cap_refuses_invalid_ids(market: Consortium) -> None:
    with reverts("AllowanceInvalidId", id=(3 << 24) | (1 << 16) | 2027):
        market.allowance.set_cap(market.regulator, (3 << 24) | (1 << 16) | 2027, 1)
    with reverts("AllowanceInvalidId", id=(1 << 24) | (1 << 16) | 1990):
        market.allowance.set_cap(market.regulator, (1 << 24) | (1 << 16) | 1990, 1)
    with reverts("AllowanceUnknownPollutant", code=9):
        market.allowance.set_cap(market.regulator, (1 << 24) | (9 << 16) | 2027, 1)


def test_allocate_mints_and_refuses_over_cap(market: Consortium) -> None:
    a = market.allowance
    assert (a.balance(E1.address, CO2_2027), a.balance(E2.address, CO2_2027)) == (600, 400)
    assert a.issued(CO2_2027) == 1000
    with reverts("CapExceeded", id=CO2_2027, requested=999_001, remaining=999_000):
        a.allocate(market.regulator, CO2_2027, [E3.address, E1.address], [999_000, 1], b"\x03" * 32)
    assert a.issued(CO2_2027) == 1000 and a.balance(E3.address, CO2_2027) == 0


def test_allocate_refuses_replayed_batch_and_bad_lists(market: Consortium) -> None:
    a = market.allowance
    with reverts("AllocationBatchAlreadyExecuted", batchRef=b"\x01" * 32):
        a.allocate(market.regulator, CO2_2027, [E3.address], [5], b"\x01" * 32)
    fn = a.contract.functions
    with reverts("AllowanceLengthMismatch", recipients=1, amounts=2):
        market.chain.transact(fn.allocate(CO2_2027, [E3.address], [1, 2], b"\x04" * 32), market.regulator)
    with reverts("AllowanceLengthMismatch", recipients=0, amounts=0):
        market.chain.transact(fn.allocate(CO2_2027, [], [], b"\x04" * 32), market.regulator)
    with reverts("AllowanceZeroAmount", index=1):
        market.chain.transact(
            fn.allocate(CO2_2027, [E3.address, E1.address], [1, 0], b"\x04" * 32), market.regulator
        )
    for bad in (-5, 1.5, "ten", 0):
        with pytest.raises(InvalidInputError):
            a.allocate(market.regulator, CO2_2027, [E3.address], [bad], b"\x04" * 32)  # type: ignore[list-item]
    assert a.issued(CO2_2027) == 1000


@pytest.mark.parametrize("who", ["exchange", "auditor", "outsider"])
def test_allocate_refuses_non_enterprise_recipient(market: Consortium, who: str) -> None:
    target = _roles(market)[who].address
    with reverts("AllowanceNotEnterprise", account=target):
        market.allowance.allocate(market.regulator, CO2_2027, [E3.address, target], [1, 1], b"\x05" * 32)
    assert market.allowance.balance(E3.address, CO2_2027) == 0


# ---------------------------------------------------------------------- transfers


def test_transfer_between_enterprises_moves_balance(market: Consortium) -> None:
    market.allowance.transfer(E1, E3.address, CO2_2027, 250)
    assert market.allowance.balance(E1.address, CO2_2027) == 350
    assert market.allowance.balance(E3.address, CO2_2027) == 250


def test_transfer_refused_to_unregistered_or_suspended(market: Consortium) -> None:
    a, r = market.allowance, market.registry
    with reverts("PartyNotAllowed", account=market.outsider.address):
        a.transfer(E1, market.outsider.address, CO2_2027, 1)
    r.govern(market.members, r.encode_suspend(E2.address, 4), "suspend E2")
    with reverts("PartyNotAllowed", account=E2.address):
        a.transfer(E1, E2.address, CO2_2027, 1)
    with reverts("PartyNotAllowed", account=E2.address):
        a.transfer(E2, E1.address, CO2_2027, 1)
    assert (a.balance(E1.address, CO2_2027), a.balance(E2.address, CO2_2027)) == (600, 400)


def test_transfer_refused_when_balance_frozen_until_released(market: Consortium) -> None:
    a = market.allowance
    receipt = a.freeze(market.regulator, E1.address, CO2_2027, 7)
    assert (
        a.contract.events.BalanceFrozen().process_receipt(receipt, errors=DISCARD)[0]["args"]["reasonCode"]
        == 7
    )
    with reverts("AllowanceFrozen", holder=E1.address, id=CO2_2027, reasonCode=7):
        a.transfer(E1, E3.address, CO2_2027, 1)
    # receiving stays possible while frozen:
    a.transfer(E2, E1.address, CO2_2027, 10)
    with reverts("AllowanceFreezeState", holder=E1.address, id=CO2_2027):
        a.freeze(market.regulator, E1.address, CO2_2027, 8)
    a.release(market.regulator, E1.address, CO2_2027)
    with reverts("AllowanceFreezeState", holder=E1.address, id=CO2_2027):
        a.release(market.regulator, E1.address, CO2_2027)
    a.transfer(E1, E3.address, CO2_2027, 1)
    assert a.balance(E1.address, CO2_2027) == 609


def test_transfer_by_operator_for_frozen_holder_refused(market: Consortium) -> None:
    a = market.allowance
    market.chain.transact(a.contract.functions.setApprovalForAll(E3.address, True), E1)
    a.freeze(market.regulator, E1.address, CO2_2027, 2)
    fn = a.contract.functions.safeTransferFrom(E1.address, E3.address, CO2_2027, 1, b"")
    with reverts("AllowanceFrozen", holder=E1.address):
        market.chain.transact(fn, E3)


# ---------------------------------------------------------------------- governance-only functions


def test_add_pollutant_through_governance_only(market: Consortium) -> None:
    a = market.allowance
    data = encode_call(a.contract, "addPollutant", 7, "VOCs")
    for caller in (market.regulator, E1, market.outsider):
        with reverts("OnlyGovernance", caller=caller.address):
            market.chain.transact(a.contract.functions.addPollutant(7, "VOCs"), caller)
    _govern_token(market, a.address, data)
    assert a.contract.functions.pollutantSymbol(7).call() == "VOCs"
    with reverts("AllowancePollutantInvalid", code=1, symbol="CO2"):
        market.registry.propose(
            market.regulator, encode_call(a.contract, "addPollutant", 1, "CO2"), "x", target=a.address
        )
    a.set_cap(market.regulator, (1 << 24) | (7 << 16) | 2027, 50)


def test_proposal_refused_when_target_not_contract(market: Consortium) -> None:
    with reverts("ProposalTargetNotContract", target=market.outsider.address):
        market.registry.propose(
            market.regulator, b"\x12\x34", "x", target=market.outsider.address, preflight=False
        )


def test_set_system_contract_and_compliance_manager_through_governance_only(market: Consortium) -> None:
    a = market.allowance
    for fn in (a.contract.functions.setSystemContract(E3.address, True),
               a.contract.functions.setComplianceManager(E3.address)):  # fmt: skip
        with reverts("OnlyGovernance", caller=market.regulator.address):
            market.chain.transact(fn, market.regulator)
    manager = market.auditor  # an account stands in for the compliance contract here
    _govern_token(market, a.address, encode_call(a.contract, "setSystemContract", manager.address, True))
    _govern_token(market, a.address, encode_call(a.contract, "setComplianceManager", manager.address))
    assert a.contract.functions.complianceManager().call() == manager.address
    assert a.contract.functions.isSystemContract(manager.address).call()


@pytest.mark.parametrize(
    ("function", "args", "error", "field"),
    [
        ("setComplianceManager", [], "AllowanceZeroAddress", "complianceManager"),
        ("setAuctionHouse", [], "AllowanceZeroAddress", "auctionHouse"),
        ("setSystemContract", [True], "RegistryGatedZeroAddress", "account"),
    ],
)
def test_governed_address_refused_when_zero_naming_the_field(
    market: Consortium, function: str, args: list[object], error: str, field: str
) -> None:
    a = market.allowance
    data = encode_call(a.contract, function, "0x" + "00" * 20, *args)
    with reverts(error, field=field):
        market.registry.propose(market.regulator, data, "zero", target=a.address)


# ---------------------------------------------------------------------- surrender


@pytest.fixture
def compliance(market: Consortium) -> LocalAccount:
    """An account acting as the compliance manager (a system contract) for retire tests."""
    a = market.allowance
    manager = dev_account(35)
    _govern_token(market, a.address, encode_call(a.contract, "setSystemContract", manager.address, True))
    _govern_token(market, a.address, encode_call(a.contract, "setComplianceManager", manager.address))
    return manager


def test_retire_records_per_account_year_and_keeps_totals(
    market: Consortium, compliance: LocalAccount
) -> None:
    a = market.allowance
    a.transfer(E1, compliance.address, CO2_2027, 300)  # escrow
    receipt = a.retire(compliance, E1.address, CO2_2027, 300, 2028)  # banked vintage, later year: fine
    event = a.contract.events.AllowancesRetired().process_receipt(receipt, errors=DISCARD)[0]["args"]
    assert (event["account"], event["amount"], event["complianceYear"]) == (E1.address, 300, 2028)
    assert a.contract.functions.retiredOf(E1.address, CO2_2027, 2028).call() == 300
    assert a.retired(CO2_2027) == 300
    assert a.contract.functions.totalSupply(CO2_2027).call() == 700
    holders = (E1, E2, E3, compliance)
    assert sum(a.balance(h.address, CO2_2027) for h in holders) + a.retired(CO2_2027) == a.issued(CO2_2027)


def test_retire_refused_for_future_vintage(market: Consortium, compliance: LocalAccount) -> None:
    a = market.allowance
    a.transfer(E1, compliance.address, CO2_2027, 10)
    with reverts("AllowanceVintageInFuture", id=CO2_2027, vintage=2027, complianceYear=2026):
        a.retire(compliance, E1.address, CO2_2027, 10, 2026)
    assert a.retired(CO2_2027) == 0


@pytest.mark.parametrize("who", ["regulator", "exchange", "enterprise", "outsider"])
def test_retire_refused_for_everyone_but_compliance(
    market: Consortium, compliance: LocalAccount, who: str
) -> None:
    caller = _roles(market)[who]
    with reverts("AllowanceOnlyCompliance", caller=caller.address):
        market.allowance.retire(caller, E1.address, CO2_2027, 1, 2027)


def test_retire_refused_when_escrow_lacks_tokens(market: Consortium, compliance: LocalAccount) -> None:
    with reverts("ERC1155InsufficientBalance", sender=compliance.address, balance=0, needed=5):
        market.allowance.retire(compliance, E1.address, CO2_2027, 5, 2027)


# ---------------------------------------------------------------------- settlement cash


@pytest.mark.parametrize("who", ["regulator", "industry_body", "auditor", "oracle", "enterprise", "outsider"])
def test_cash_deposit_and_withdraw_refused_for_non_exchange(market: Consortium, who: str) -> None:
    caller = _roles(market)[who]
    with reverts("UnauthorizedRole", account=caller.address, role=ROLES["EXCHANGE"]):
        market.cash.deposit(caller, E1.address, 100, "BANK-1")
    with reverts("UnauthorizedRole", account=caller.address, role=ROLES["EXCHANGE"]):
        market.cash.withdraw(caller, E1.address, 100, "BANK-2")


def test_cash_deposit_transfer_withdraw_by_exchange(market: Consortium) -> None:
    cash = market.cash
    receipt = cash.deposit(market.exchange, E1.address, 1_000_000, "ICBC-20270630-0001")
    event = cash.contract.events.CashDeposited().process_receipt(receipt, errors=DISCARD)[0]["args"]
    assert event["bankRef"] == bank_reference("ICBC-20270630-0001") and event["amount"] == 1_000_000
    assert cash.contract.functions.decimals().call() == 2
    cash.transfer(E1, E2.address, 250_000)
    with reverts("ERC20InsufficientAllowance", spender=market.exchange.address, allowance=0, needed=50_000):
        cash.withdraw(market.exchange, E2.address, 50_000, "ICBC-20270630-0002")
    cash.approve(E2, market.exchange.address, 50_000)
    cash.withdraw(market.exchange, E2.address, 50_000, "ICBC-20270630-0002")
    assert (cash.balance(E1.address), cash.balance(E2.address)) == (750_000, 200_000)
    assert cash.contract.functions.totalSupply().call() == 950_000


def test_cash_refuses_duplicate_bank_ref_zero_and_unregistered(market: Consortium) -> None:
    cash = market.cash
    cash.deposit(market.exchange, E1.address, 100, "REF-1")
    with reverts("SettlementDuplicateBankRef", bankRef=bank_reference("REF-1")):
        cash.deposit(market.exchange, E2.address, 100, "REF-1")
    fn = cash.contract.functions.deposit(E1.address, 0, bank_reference("REF-2"))
    with reverts("SettlementZeroAmount"):
        market.chain.transact(fn, market.exchange)
    with reverts("PartyNotAllowed", account=market.outsider.address):
        cash.deposit(market.exchange, market.outsider.address, 100, "REF-3")
    with reverts("PartyNotAllowed", account=market.outsider.address):
        cash.transfer(E1, market.outsider.address, 10)
    with pytest.raises(InvalidInputError):
        cash.deposit(market.exchange, E1.address, -1, "REF-4")
    assert cash.contract.functions.totalSupply().call() == 100
