"""GovernmentReserve on a real Anvil: the annual plan's reserve share fed within the cap and never
above the share; a paid allocation at the guide price to a project without a permit, delivery
versus payment to the treasury; confiscation; the closure (关停) as one k-of-n proposal (sweep,
permit cancelled, devices unbound, suspended); every refusal by name with nothing changed."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from hexbytes import HexBytes
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from chain.accounts import dev_account
from chain.compile import Artifact
from chain.node import AnvilNode
from chain.permits import Outlet, PermitState, Term
from chain.reserve import OfferState, ReserveClient
from chain.tx import ChainClient
from domain.tokens import Kind, encode_id
from tests.conftest import Consortium
from tests.utils.chain import (
    CHAIN_MACHINE_SETTINGS,
    encode_call,
    expect,
    profile,
    register,
    reverts,
    self_call,
)
from tests.utils.plans import NOX, SO2
from tests.utils.reserve import (
    ENTERPRISES,
    NOX_2027,
    SO2_2027,
    SO2_PRICE,
    SO2_SHARE,
    deploy_reserve_suite,
    reserve_of,
)

E0, E1, E2, E3 = ENTERPRISES
DEVICE = dev_account(30)
DAY = 86_400


@pytest.fixture(scope="module")
def suite_module(
    anvil: AnvilNode, artifacts: dict[str, Artifact], tmp_path_factory: pytest.TempPathFactory
) -> tuple[Consortium, int]:
    chain = ChainClient.connect(anvil.url, artifacts)
    return deploy_reserve_suite(anvil, chain, Path(tmp_path_factory.mktemp("reserve")))


@pytest.fixture
def c(suite_module: tuple[Consortium, int]) -> Iterator[Consortium]:
    suite = suite_module[0]
    snapshot = suite.snapshot()
    try:
        yield suite
    finally:
        suite.revert(snapshot)


@pytest.fixture
def plan_id(suite_module: tuple[Consortium, int]) -> int:
    return suite_module[1]


def _now(c: Consortium) -> int:
    return int(c.chain.w3.eth.get_block("latest")["timestamp"])


def _suspend(c: Consortium, account: str) -> None:
    c.registry.govern(c.members[1:], c.registry.encode_suspend(account, 1), "suspend")


def _permit(c: Consortium, enterprise: object, so2: int = 2_000, nox: int = 1_000) -> int:
    assert c.permits is not None
    address = enterprise.address  # type: ignore[attr-defined]
    tag = address[2:10].upper()
    app = c.permits.apply(
        enterprise,  # type: ignore[arg-type]
        [Outlet("DA001", f"MN{tag}01")],
        [Term(SO2, so2, 35_000), Term(NOX, nox, 50_000)],
        b"\x11" * 32,
    )
    return c.permits.issue(c.regulator, app, f"P-{tag}", [so2, nox])


def _cash(c: Consortium, account: str, amount: int, ref: str) -> None:
    c.cash.deposit(c.exchange, account, amount, ref)


# ---------------------------------------------------------------------- feed


def test_feed_mints_the_plan_reserve_share_once_within_the_cap(c: Consortium, plan_id: int) -> None:
    r, a = reserve_of(c), c.allowance
    assert r.reserve_share_of(plan_id, SO2) == SO2_SHARE
    assert r.feed(c.regulator, plan_id, SO2) == SO2_SHARE
    assert (r.balance(SO2_2027), r.fed(SO2_2027), a.issued(SO2_2027)) == (SO2_SHARE, SO2_SHARE, SO2_SHARE)
    with reverts("ReserveNothingToFeed", id=SO2_2027, share=SO2_SHARE, fed=SO2_SHARE):
        r.feed(c.regulator, plan_id, SO2)
    assert a.issued(SO2_2027) == SO2_SHARE
    # governance may feed too (NOx: (11,000 + 7,000) × 5 %)
    c.registry.govern_call(c.members, r.contract.functions.feed(plan_id, NOX), "feed NOx")
    assert r.balance(NOX_2027) == 900


def test_feed_refused_to_other_callers_and_plans_with_nothing_changed(c: Consortium, plan_id: int) -> None:
    r = reserve_of(c)
    for caller in (c.exchange, c.outsider, E0):
        with reverts("ReserveNotRegulatorOrGovernance", caller=caller.address):
            r.feed(caller, plan_id, SO2)
    with reverts("ReserveNotPlanCap", annualPlanId=plan_id, id=encode_id(Kind.ALLOWANCE, "COD", 2027)):
        r.feed(c.regulator, plan_id, "COD")
    with reverts("ReserveNotPlanCap", annualPlanId=1):  # the five-year plan executed no cap
        r.feed(c.regulator, 1, SO2)
    _suspend(c, c.regulator.address)
    with reverts("ReserveNotRegulatorOrGovernance", caller=c.regulator.address):
        r.feed(c.regulator, plan_id, SO2)
    assert r.balance(SO2_2027) == 0 and c.allowance.issued(SO2_2027) == 0


def test_only_the_reserve_issues_to_itself_and_confiscates(c: Consortium) -> None:
    a = c.allowance
    with reverts("AllowanceOnlyReserve", caller=c.regulator.address):
        c.chain.transact(a.contract.functions.issueToReserve(SO2_2027, 1), c.regulator)
    with reverts("AllowanceOnlyReserve", caller=c.regulator.address):
        c.chain.transact(a.contract.functions.confiscate(E0.address, [SO2_2027], [1]), c.regulator)
    with reverts("OnlyGovernance", caller=c.regulator.address):
        c.chain.transact(reserve_of(c).contract.functions.setPlans(c.outsider.address), c.regulator)


# ---------------------------------------------------------------------- paid allocation


def test_project_without_permit_buys_at_the_guide_price_delivery_versus_payment(
    c: Consortium, plan_id: int
) -> None:
    r, a = reserve_of(c), c.allowance
    r.feed(c.regulator, plan_id, SO2)
    assert c.permits is not None and c.permits.permit_of(E0.address) == 0
    assert r.guide_price(SO2_2027, 331_082) == (SO2_PRICE, plan_id)  # a county of Taizhou: its prefecture's
    offer_id = r.offer(c.regulator, E0.address, SO2_2027, 300, _now(c) + DAY)
    offer = r.offer_of(offer_id)
    assert (offer.price, offer.payment, offer.state) == (SO2_PRICE, 300 * SO2_PRICE, OfferState.OPEN)
    assert (r.available(SO2_2027), r.committed(SO2_2027)) == (SO2_SHARE - 300, 300)
    _cash(c, E0.address, 1_000_000, "BANK-R-1")
    treasury_before = c.cash.balance(c.treasury.address)
    r.accept(E0, offer_id)
    assert a.balance(E0.address, SO2_2027) == 300
    assert c.cash.balance(E0.address) == 1_000_000 - 300 * SO2_PRICE
    assert c.cash.balance(c.treasury.address) == treasury_before + 300 * SO2_PRICE
    assert (r.balance(SO2_2027), r.committed(SO2_2027)) == (SO2_SHARE - 300, 0)
    assert r.offer_of(offer_id).state == OfferState.ACCEPTED
    # the rights came before the permit; trading them on needs it
    with reverts("AllowancePermitNotValid", enterprise=E0.address, pollutant=SO2):
        a.transfer(E0, E1.address, SO2_2027, 1)
    with reverts("ReserveOfferNotOpen", offerId=offer_id, state=int(OfferState.ACCEPTED)):
        r.accept(E0, offer_id, approve_cash=False)


def test_offer_refused_by_name_with_nothing_changed(c: Consortium, plan_id: int) -> None:
    r = reserve_of(c)
    r.feed(c.regulator, plan_id, SO2)
    deadline = _now(c) + DAY
    for caller in (c.exchange, c.outsider, E0):
        with reverts("UnauthorizedRole", account=caller.address):
            r.offer(caller, E0.address, SO2_2027, 10, deadline)
    with reverts("ReserveNotProject", account=c.outsider.address):
        r.offer(c.regulator, c.outsider.address, SO2_2027, 10, deadline)
    with reverts("ReserveZeroAmount"):
        c.chain.transact(r.contract.functions.offer(E0.address, SO2_2027, 0, deadline), c.regulator)
    with reverts("ReserveInsufficient", id=SO2_2027, requested=SO2_SHARE + 1, available=SO2_SHARE):
        r.offer(c.regulator, E0.address, SO2_2027, SO2_SHARE + 1, deadline)
    with reverts("ReserveInvalidDeadline"):
        r.offer(c.regulator, E0.address, SO2_2027, 10, _now(c) - 1)
    offset = encode_id(Kind.OFFSET, "CO2", 2027)
    with reverts("ReserveInvalidId", id=offset):
        c.chain.transact(r.contract.functions.offer(E0.address, offset, 10, deadline), c.regulator)
    beijing = dev_account(36)
    register(c.registry, c.members, beijing.address, seed=990)
    c.registry.govern(
        c.members,
        c.registry.encode_update_enterprise(beijing.address, profile(990, region_code=110_105)),
        "move to Beijing",
    )
    with reverts("ReserveNoGuidePrice", id=SO2_2027, region=110_105):
        r.offer(c.regulator, beijing.address, SO2_2027, 10, deadline)
    _suspend(c, E1.address)
    with reverts("ReserveNotProject", account=E1.address):
        r.offer(c.regulator, E1.address, SO2_2027, 10, deadline)
    _suspend(c, c.regulator.address)
    with reverts("CallerNotActive", account=c.regulator.address):
        r.offer(c.regulator, E0.address, SO2_2027, 10, deadline)
    assert (r.offer_count(), r.committed(SO2_2027), r.available(SO2_2027)) == (0, 0, SO2_SHARE)


def test_accept_and_withdraw_refused_by_name_with_nothing_changed(c: Consortium, plan_id: int) -> None:
    r, a = reserve_of(c), c.allowance
    r.feed(c.regulator, plan_id, SO2)
    offer_id = r.offer(c.regulator, E0.address, SO2_2027, 100, _now(c) + DAY)
    _cash(c, E0.address, 1_000_000, "BANK-R-2")
    _cash(c, E1.address, 1_000_000, "BANK-R-3")
    with reverts("ReserveNotOfferee", offerId=offer_id, caller=E1.address):
        r.accept(E1, offer_id)
    with reverts("UnauthorizedRole", account=c.outsider.address):
        r.accept(c.outsider, offer_id, approve_cash=False)
    with reverts("ERC20InsufficientAllowance"):
        r.accept(E0, offer_id, approve_cash=False)
    with reverts("ReserveOfferUnknown", offerId=99):
        r.accept(E0, 99, approve_cash=False)
    for caller in (c.exchange, E0):
        with reverts("UnauthorizedRole", account=caller.address):
            r.withdraw_offer(caller, offer_id)
    _suspend(c, E0.address)
    with reverts("CallerNotActive", account=E0.address):
        r.accept(E0, offer_id, approve_cash=False)
    c.registry.govern(c.members[1:], c.registry.encode_reinstate(E0.address), "reinstate")
    c.chain.w3.provider.make_request("evm_increaseTime", [2 * DAY])  # type: ignore[arg-type]
    c.chain.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
    deadline = r.offer_of(offer_id).deadline
    with reverts("ReserveOfferExpired", offerId=offer_id, deadline=deadline):
        r.accept(E0, offer_id)
    assert a.balance(E0.address, SO2_2027) == 0 and c.cash.balance(E0.address) == 1_000_000
    assert r.committed(SO2_2027) == 100
    r.withdraw_offer(c.regulator, offer_id)  # an expired offer is withdrawn: its quantity is free again
    assert (r.committed(SO2_2027), r.available(SO2_2027)) == (0, SO2_SHARE)
    with reverts("ReserveOfferNotOpen", offerId=offer_id, state=int(OfferState.WITHDRAWN)):
        r.withdraw_offer(c.regulator, offer_id)


# ---------------------------------------------------------------------- confiscation and closure


def _holder(c: Consortium, plan_id: int, enterprise: object) -> None:
    """``enterprise`` with a permit, a bound device on its outlet, SO2 and NOx 2027 allocated."""
    address = enterprise.address  # type: ignore[attr-defined]
    _permit(c, enterprise)
    c.registry.bind_device(c.regulator, DEVICE.address, address, f"MN{address[2:10].upper()}01")
    tag = bytes.fromhex(address[2:])
    c.allowance.allocate(c.regulator, SO2_2027, [address], [1_500], tag + b"SO2-2027".rjust(12, b"\0"))
    c.allowance.allocate(c.regulator, NOX_2027, [address], [700], tag + b"NOx-2027".rjust(12, b"\0"))


def test_confiscation_by_governance_moves_into_the_reserve(c: Consortium, plan_id: int) -> None:
    r, a = reserve_of(c), c.allowance
    _holder(c, plan_id, E1)
    fn = r.encode_confiscate(E1.address, [SO2_2027], [200], "illegal discharge, penalty decision 2027-01")
    with reverts("OnlyGovernance", caller=c.regulator.address):
        c.chain.transact(fn, c.regulator)
    c.registry.govern_call(c.members, fn, "confiscate")
    assert (a.balance(E1.address, SO2_2027), r.balance(SO2_2027)) == (1_300, 200)
    assert r.closure_count() == 0


def test_closure_is_one_proposal_sweeping_cancelling_unbinding_and_suspending(
    c: Consortium, plan_id: int
) -> None:
    r, a, reg = reserve_of(c), c.allowance, c.registry
    assert c.permits is not None
    r.feed(c.regulator, plan_id, SO2)
    _holder(c, plan_id, E1)
    permit_id = c.permits.permit_of(E1.address)
    assert r.closure_ids(E1.address) == [SO2_2027, NOX_2027]
    issued = (a.issued(SO2_2027), a.issued(NOX_2027))
    closure = r.close(reg, c.members, E1.address, "关停: plant shut down by order 2027-3")
    assert (closure.closure_id, closure.permit_id, closure.devices) == (1, permit_id, 1)
    assert (closure.token_ids, closure.amounts) == ((SO2_2027, NOX_2027), (1_500, 700))
    assert a.balance(E1.address, SO2_2027) == 0 and a.balance(E1.address, NOX_2027) == 0
    assert (r.balance(SO2_2027), r.balance(NOX_2027)) == (SO2_SHARE + 1_500, 700)
    assert (a.issued(SO2_2027), a.issued(NOX_2027)) == issued  # moved, not minted
    assert c.permits.permit(permit_id).state == PermitState.CANCELLED
    assert reg.contract.functions.devicesOf(E1.address).call() == []
    assert not reg.contract.functions.isActiveParticipant(E1.address).call()
    # the swept rights serve a new project
    offer_id = r.offer(c.regulator, E2.address, SO2_2027, SO2_SHARE + 1_500, _now(c) + DAY)
    assert offer_id == 1


def test_closure_ids_scan_the_token_from_its_deployment_block(c: Consortium, plan_id: int) -> None:
    r = reserve_of(c)
    token_block = c.manifest.contracts["AllowanceToken"].block
    assert 0 < r.token_from_block == token_block < r.from_block  # the manifest's, before the reserve's
    _holder(c, plan_id, E1)
    assert r.closure_ids(E1.address) == [SO2_2027, NOX_2027]
    # the start is honoured: told the token came after the allocations, a client finds none
    c.chain.advance_time(1)  # an empty block after the allocations
    later = ReserveClient(c.chain, r.address, token_from_block=c.chain.w3.eth.block_number)
    assert later.closure_ids(E1.address) == []


def test_closure_refused_below_threshold_directly_and_in_bad_states(c: Consortium, plan_id: int) -> None:
    r, a, reg = reserve_of(c), c.allowance, c.registry
    _holder(c, plan_id, E1)
    data = r.encode_close(reg, E1.address, "shut down", [SO2_2027, NOX_2027])
    proposal = reg.propose(c.members[0], data, "closure with one approval")
    with reverts("ProposalThresholdNotMet", proposalId=proposal, approvals=1, threshold=2):
        reg.execute(c.members[0], proposal)
    with reverts("GovernanceOnlySelf", caller=c.regulator.address):
        self_call(reg, c.regulator, data)
    with reverts("OnlyGovernance", caller=c.regulator.address):
        c.chain.transact(r.contract.functions.sweepClosure(E1.address, [SO2_2027], "x"), c.regulator)
    past = encode_id(Kind.ALLOWANCE, "SO2", 2020)
    year = r.current_year()
    with reverts("ReserveVintagePast", id=past, vintage=2020, currentYear=year):
        reg.govern(c.members, r.encode_close(reg, E1.address, "x", [SO2_2027, past]), "closure")
    with reverts("ReserveInvalidId", id=SO2_2027):
        reg.govern(c.members, r.encode_close(reg, E1.address, "x", [SO2_2027, SO2_2027]), "closure")
    with reverts("RegistryNotEnterprise", account=c.outsider.address):
        reg.govern(c.members, r.encode_close(reg, c.outsider.address, "x", []), "closure")
    _suspend(c, E3.address)
    with reverts("RegistryWrongStatus", account=E3.address):
        reg.govern(c.members, r.encode_close(reg, E3.address, "x", []), "closure")
    assert a.balance(E1.address, SO2_2027) == 1_500 and r.balance(SO2_2027) == 0
    assert reg.contract.functions.isActiveParticipant(E1.address).call()
    assert len(reg.contract.functions.devicesOf(E1.address).call()) == 1
    assert r.closure_count() == 0
    with pytest.raises(ValueError):
        r.encode_close(reg, E1.address, "", [SO2_2027])
    with pytest.raises(ValueError):
        r.encode_close(reg, E1.address, "x", [encode_id(Kind.OFFSET, "CO2", 2027)])


# ---------------------------------------------------------------------- the calendar


@given(st.integers(0, 4_102_444_800))  # 1970 .. 2100
@settings(max_examples=40, deadline=None)
def test_year_of_is_the_china_standard_time_year(suite_module: tuple[Consortium, int], ts: int) -> None:
    r = reserve_of(suite_module[0])
    expected = dt.datetime.fromtimestamp(ts, dt.timezone(dt.timedelta(hours=8))).year
    assert r.year_of(ts) == expected


def test_encode_call_helper_matches_client(c: Consortium) -> None:
    r = reserve_of(c)
    data = encode_call(r.contract, "feed", 1, SO2)
    assert data == bytes(HexBytes(r.contract.functions.feed(1, SO2)._encode_transaction_data()))


# ---------------------------------------------------------------------- conservation


ESCROW = dev_account(35)  # stands in for the compliance manager (a system contract) to retire
HOLDERS = ENTERPRISES[:3]
IDS: list[int] = [SO2_2027, NOX_2027]
PERMITTED: dict[int, int] = {SO2_2027: 3_000, NOX_2027: 1_500}
MACHINE_SETTINGS = settings(CHAIN_MACHINE_SETTINGS, max_examples=3, stateful_step_count=10)


@pytest.fixture
def prepared(suite_module: tuple[Consortium, int]) -> Iterator[tuple[Consortium, int]]:
    """Holders with permits (SO2 3,000 t, NOx 1,500 t) and cash, the escrow made compliance
    manager; rolled back afterwards."""
    c, plan_id = suite_module
    snapshot = c.snapshot()
    a = c.allowance
    for i, h in enumerate(HOLDERS):
        _permit(c, h, so2=PERMITTED[SO2_2027], nox=PERMITTED[NOX_2027])
        _cash(c, h.address, 100_000_000, f"BANK-P-{i}")
    for fn in (a.contract.functions.setSystemContract(ESCROW.address, True),
               a.contract.functions.setComplianceManager(ESCROW.address)):  # fmt: skip
        c.registry.govern_call(c.members, fn, "escrow")
    try:
        yield c, plan_id
    finally:
        c.revert(snapshot)


def test_allowances_are_conserved_over_reserve_sales_closures_and_retirement(
    prepared: tuple[Consortium, int],
) -> None:
    """holders + reserve + retired == issued per id, caps within the plan, over any sequence of
    allocate / transfer / feed / sale / closure / retire."""
    c, plan_id = prepared
    a, r, plans = c.allowance, reserve_of(c), c.plans
    assert plans is not None
    plans_ = plans
    share = {t: r.reserve_share_of(plan_id, t >> 16 & 0xFF) for t in IDS}
    caps = {t: a.cap(t) for t in IDS}

    class Reserve(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.snapshot = c.snapshot()
            self.held: dict[tuple[str, int], int] = {(h.address, t): 0 for h in HOLDERS for t in IDS}
            self.reserve: dict[int, int] = dict.fromkeys(IDS, 0)
            self.issued: dict[int, int] = dict.fromkeys(IDS, 0)
            self.retired: dict[int, int] = dict.fromkeys(IDS, 0)
            self.allocated: dict[tuple[str, int], int] = {(h.address, t): 0 for h in HOLDERS for t in IDS}
            self.fed: set[int] = set()
            self.closed: set[str] = set()
            self.batch = 0

        def teardown(self) -> None:
            c.revert(self.snapshot)

        @rule(t=st.sampled_from(IDS), i=st.integers(0, 2), amount=st.integers(1, 2_000))
        def allocate(self, t: int, i: int, amount: int) -> None:
            who = HOLDERS[i].address
            if who in self.closed:
                return
            self.batch += 1
            error = None
            if self.allocated[(who, t)] + amount > PERMITTED[t]:
                error = "AllowanceAbovePermit"
            elif amount > caps[t] - self.issued[t]:
                error = "CapExceeded"
            expect(error, a.allocate, c.regulator, t, [who], [amount], self.batch.to_bytes(32, "big"))
            if error is None:
                self.allocated[(who, t)] += amount
                self.issued[t] += amount
                self.held[(who, t)] += amount

        @rule(t=st.sampled_from(IDS), i=st.integers(0, 2), j=st.integers(0, 2), amount=st.integers(1, 800))
        def transfer(self, t: int, i: int, j: int, amount: int) -> None:
            src, dst = HOLDERS[i], HOLDERS[j].address
            if src.address in self.closed or dst in self.closed or i == j:
                return
            error = "ERC1155InsufficientBalance" if self.held[(src.address, t)] < amount else None
            expect(error, a.transfer, src, dst, t, amount)
            if error is None:
                self.held[(src.address, t)] -= amount
                self.held[(dst, t)] += amount

        @rule(t=st.sampled_from(IDS))
        def feed(self, t: int) -> None:
            error = None
            if t in self.fed:
                error = "ReserveNothingToFeed"
            elif share[t] > caps[t] - self.issued[t]:
                error = "CapExceeded"
            expect(error, r.feed, c.regulator, plan_id, t >> 16 & 0xFF)
            if error is None:
                self.fed.add(t)
                self.issued[t] += share[t]
                self.reserve[t] += share[t]

        @rule(t=st.sampled_from(IDS), i=st.integers(0, 2), quantity=st.integers(1, 600))
        def sale(self, t: int, i: int, quantity: int) -> None:
            project = HOLDERS[i]
            if project.address in self.closed:
                return
            deadline = _now(c) + DAY
            if quantity > self.reserve[t]:
                expect("ReserveInsufficient", r.offer, c.regulator, project.address, t, quantity, deadline)
                return
            r.accept(project, r.offer(c.regulator, project.address, t, quantity, deadline))
            self.reserve[t] -= quantity
            self.held[(project.address, t)] += quantity

        @rule(i=st.integers(0, 2))
        def closure(self, i: int) -> None:
            who = HOLDERS[i].address
            if who in self.closed:
                return
            r.close(c.registry, c.members, who, "关停")
            self.closed.add(who)
            for t in IDS:
                self.reserve[t] += self.held[(who, t)]
                self.held[(who, t)] = 0

        @rule(t=st.sampled_from(IDS), i=st.integers(0, 2), amount=st.integers(1, 500))
        def retire(self, t: int, i: int, amount: int) -> None:
            holder = HOLDERS[i]
            if holder.address in self.closed or self.held[(holder.address, t)] < amount:
                return
            a.transfer(holder, ESCROW.address, t, amount)
            a.retire(ESCROW, holder.address, t, amount, 2027)
            self.held[(holder.address, t)] -= amount
            self.retired[t] += amount

        @invariant()
        def conserved(self) -> None:
            for t in IDS:
                held = {h: a.balance(h, t) for h, tt in self.held if tt == t}
                assert held == {h: n for (h, tt), n in self.held.items() if tt == t}
                assert r.balance(t) == self.reserve[t] and a.balance(ESCROW.address, t) == 0
                issued, retired = a.issued(t), a.retired(t)
                assert (issued, retired) == (self.issued[t], self.retired[t])
                assert sum(held.values()) + r.balance(t) + retired == issued <= a.cap(t)
                pollutant = t >> 16 & 0xFF
                assert a.cap(t) == plans_.total_of(plan_id, pollutant) <= plans_.path_of(1, pollutant, 2027)
                assert r.fed(t) <= share[t]

    Reserve.TestCase.settings = MACHINE_SETTINGS
    Reserve.TestCase().runTest()
