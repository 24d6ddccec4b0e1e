"""TotalControlPlans on a real Anvil: the lifecycle (draft, adopt, supersede, execute a cap), the
allowed caller and every refused one (suspended regulator included), the refusals by name with
their arguments (nothing changed), and the contract equal to ``domain.plans``."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest
from eth_account.signers.local import LocalAccount
from hypothesis import given, settings
from hypothesis import strategies as st
from web3.logs import DISCARD

from chain.accounts import dev_account
from chain.errors import ContractRevertError
from chain.plans import PlanKind, PlansClient, PlanStatus
from domain.errors import PlanRuleError
from domain.plans import FiveYearPlan, PollutantPath, RegionCap, RegionShare, check_annual, check_five_year
from domain.tokens import Kind, encode_id
from tests.conftest import Consortium
from tests.utils.chain import register, reverts
from tests.utils.plans import HANGZHOU, NOX, SO2, TAIZHOU, annual, deploy_plans, five_year

SO2_2027 = encode_id(Kind.ALLOWANCE, SO2, 2027)
NOX_2027 = encode_id(Kind.ALLOWANCE, NOX, 2027)
ENTERPRISE = dev_account(24)


@pytest.fixture(scope="module")
def wired(consortium: Consortium) -> Iterator[tuple[Consortium, PlansClient]]:
    """The consortium with TotalControlPlans deployed and wired (rolled back after the module)."""
    snapshot_id = consortium.snapshot()
    try:
        plans = deploy_plans(consortium)
        register(consortium.registry, consortium.members, ENTERPRISE.address, seed=240)
        yield consortium, plans
    finally:
        consortium.revert(snapshot_id)


@pytest.fixture
def pc(wired: tuple[Consortium, PlansClient]) -> Iterator[tuple[Consortium, PlansClient]]:
    c, _ = wired
    snapshot_id = c.snapshot()
    try:
        yield wired
    finally:
        c.revert(snapshot_id)


def adopted_five(c: Consortium, plans: PlansClient) -> int:
    five_id = plans.draft_five_year(c.regulator, five_year())
    plans.adopt(c.registry, c.members, five_id)
    return five_id


def adopted_annual(c: Consortium, plans: PlansClient) -> tuple[int, int]:
    five_id = adopted_five(c, plans)
    annual_id = plans.draft_annual(c.regulator, annual(five_id))
    plans.adopt(c.registry, c.members, annual_id)
    return five_id, annual_id


def suspend(c: Consortium, account: LocalAccount) -> None:
    others = [m for m in c.members if m.address != account.address]
    c.registry.govern(others, c.registry.encode_suspend(account.address, 9), "suspend")


# ---------------------------------------------------------------------- lifecycle


def test_plans_lifecycle_sets_the_cap_from_the_adopted_annual_plan(
    pc: tuple[Consortium, PlansClient],
) -> None:
    c, plans = pc
    five_id = plans.draft_five_year(c.regulator, five_year())
    header = plans.plan(five_id)
    assert (header.kind, header.status, header.version) == (PlanKind.FIVE_YEAR, PlanStatus.DRAFT, 1)
    assert (header.start_year, header.end_year, header.base_year) == (2026, 2030, 2025)
    assert plans.five_year(five_id) == five_year()
    receipt = plans.adopt(c.registry, c.members, five_id)
    adopted = plans.contract.events.PlanAdopted().process_receipt(receipt, errors=DISCARD)
    assert [(e["args"]["planId"], e["args"]["startYear"]) for e in adopted] == [(five_id, 2026)]
    assert plans.plan(five_id).status == PlanStatus.ADOPTED
    assert plans.current_five_year(2026) == five_id
    assert plans.path_of(five_id, SO2, 2027) == 9_600
    annual_id = plans.draft_annual(c.regulator, annual(five_id))
    stored = plans.annual(annual_id)
    assert replace(stored, targets=()) == replace(annual(five_id), targets=())
    assert [(t.enterprise.lower(), t.pollutant, t.target_bps) for t in stored.targets] == [
        (t.enterprise, t.pollutant, t.target_bps) for t in annual(five_id).targets
    ]
    assert plans.total_of(annual_id, SO2) == 9_000
    plans.adopt(c.registry, c.members, annual_id)
    assert plans.current_annual(2027) == annual_id
    receipt = plans.execute_cap(c.regulator, annual_id, SO2)
    executed = plans.contract.events.CapExecuted().process_receipt(receipt, errors=DISCARD)
    assert [dict(e["args"]) for e in executed] == [{"planId": annual_id, "tokenId": SO2_2027, "cap": 9_000}]
    assert c.allowance.cap(SO2_2027) == 9_000
    assert plans.cap_plan_of(SO2_2027) == annual_id
    plans.execute_cap(c.regulator, annual_id, NOX)
    assert c.allowance.cap(NOX_2027) == 18_000


# ---------------------------------------------------------------------- callers


@pytest.mark.parametrize("who", ["exchange", "industry_body", "auditor", "oracle", "enterprise", "outsider"])
def test_plans_regulator_functions_refuse_other_roles(pc: tuple[Consortium, PlansClient], who: str) -> None:
    c, plans = pc
    _, annual_id = adopted_annual(c, plans)
    account = {"enterprise": ENTERPRISE, "outsider": c.outsider}.get(who) or getattr(c, who)
    with reverts("UnauthorizedRole", account=account.address):
        plans.draft_five_year(account, five_year())
    with reverts("UnauthorizedRole", account=account.address):
        plans.execute_cap(account, annual_id, SO2)
    assert c.allowance.cap(SO2_2027) == 0 and plans.plan_count() == 2


def test_plans_suspended_regulator_is_refused(pc: tuple[Consortium, PlansClient]) -> None:
    c, plans = pc
    five_id, annual_id = adopted_annual(c, plans)
    suspend(c, c.regulator)
    with reverts("CallerNotActive", account=c.regulator.address):
        plans.draft_five_year(c.regulator, five_year())
    with reverts("CallerNotActive", account=c.regulator.address):
        plans.draft_annual(c.regulator, annual(five_id, year=2028), check=False)
    with reverts("CallerNotActive", account=c.regulator.address):
        plans.execute_cap(c.regulator, annual_id, SO2)
    assert c.allowance.cap(SO2_2027) == 0 and plans.plan_count() == 2


@pytest.mark.parametrize("who", ["regulator", "exchange", "outsider"])
def test_plans_adopt_outside_governance_is_refused(pc: tuple[Consortium, PlansClient], who: str) -> None:
    c, plans = pc
    five_id = plans.draft_five_year(c.regulator, five_year())
    account = c.outsider if who == "outsider" else getattr(c, who)
    with reverts("OnlyGovernance", caller=account.address):
        c.chain.transact(plans.contract.functions.adopt(five_id), account)
    assert plans.plan(five_id).status == PlanStatus.DRAFT


def test_allowance_set_plans_outside_governance_or_zero_is_refused(
    pc: tuple[Consortium, PlansClient],
) -> None:
    c, plans = pc
    token = c.allowance.contract
    with reverts("OnlyGovernance", caller=c.regulator.address):
        c.chain.transact(token.functions.setPlans(c.regulator.address), c.regulator)
    with reverts("AllowanceZeroAddress", field="plans"):
        c.registry.govern_call(c.members, token.functions.setPlans("0x" + "00" * 20), "zero")
    assert token.functions.plans().call() == plans.address


# ---------------------------------------------------------------------- bad input


def test_plans_cap_change_naming_no_plan_is_refused(pc: tuple[Consortium, PlansClient]) -> None:
    c, plans = pc
    adopted_annual(c, plans)
    with reverts("AllowanceCapNeedsPlan", id=SO2_2027):
        c.allowance.set_cap(c.regulator, SO2_2027, 9_000)
    with reverts("AllowanceCapNeedsPlan", id=SO2_2027):
        c.allowance.set_cap(c.outsider, SO2_2027, 9_000)
    assert c.allowance.cap(SO2_2027) == 0


def test_plans_second_adoption_is_refused(pc: tuple[Consortium, PlansClient]) -> None:
    c, plans = pc
    five_id, annual_id = adopted_annual(c, plans)
    for plan_id in (five_id, annual_id):
        with reverts("PlanAlreadyAdopted", planId=plan_id):
            plans.adopt(c.registry, c.members, plan_id)
    with reverts("PlanNotFound", planId=99):
        plans.adopt(c.registry, c.members, 99)
    assert plans.plan(five_id).status == PlanStatus.ADOPTED


def test_plans_annual_plan_above_its_path_is_refused(pc: tuple[Consortium, PlansClient]) -> None:
    c, plans = pc
    five_id = adopted_five(c, plans)
    above = annual(five_id, so2=(5_000, 4_601))  # 9,601 > the 2027 path 9,600
    with pytest.raises(PlanRuleError) as info:
        check_annual(above, five_year(), plan_id=2)
    assert (info.value.contract_error, info.value.arguments) == (
        "PlanAboveFiveYearPath",
        (2, SO2, 2027, 9_601, 9_600),
    )
    with pytest.raises(PlanRuleError):
        plans.draft_annual(c.regulator, above)
    with reverts("PlanAboveFiveYearPath", planId=2, pollutant=SO2, year=2027, total=9_601, path=9_600):
        plans.draft_annual(c.regulator, above, check=False)
    assert plans.plan_count() == 1
    plans.draft_annual(c.regulator, annual(five_id, so2=(5_000, 4_600)))  # exactly on the path


def test_plans_annual_plan_needs_an_adopted_covering_five_year_plan(
    pc: tuple[Consortium, PlansClient],
) -> None:
    c, plans = pc
    five_id = plans.draft_five_year(c.regulator, five_year())
    with reverts("PlanFiveYearNotAdopted", fiveYearPlanId=five_id):
        plans.draft_annual(c.regulator, annual(five_id), check=False)
    with reverts("PlanNotFound", planId=7):
        plans.draft_annual(c.regulator, annual(7), check=False)
    plans.adopt(c.registry, c.members, five_id)
    with reverts("PlanYearNotCovered", fiveYearPlanId=five_id, year=2031):
        plans.draft_annual(c.regulator, annual(five_id, year=2031), check=False)


def test_plans_execute_cap_refusals(pc: tuple[Consortium, PlansClient]) -> None:
    c, plans = pc
    five_id, annual_id = adopted_annual(c, plans)
    draft = plans.draft_annual(c.regulator, annual(five_id, year=2028, so2=(4_000, 4_000)))
    with reverts("PlanNotCurrent", planId=draft):
        plans.execute_cap(c.regulator, draft, SO2)
    with reverts("PlanNotFound", planId=five_id):
        plans.execute_cap(c.regulator, five_id, SO2)
    with reverts("PlanPollutantNotInPlan", planId=annual_id, pollutant=4):
        plans.execute_cap(c.regulator, annual_id, 4)
    assert c.allowance.cap(SO2_2027) == 0


def test_plans_cap_below_issued_is_refused_by_the_token(pc: tuple[Consortium, PlansClient]) -> None:
    c, plans = pc
    five_id, annual_id = adopted_annual(c, plans)
    plans.execute_cap(c.regulator, annual_id, SO2)
    c.allowance.allocate(c.regulator, SO2_2027, [ENTERPRISE.address], [8_500], b"\x07" * 32)
    lower = plans.draft_annual(c.regulator, annual(five_id, so2=(4_000, 4_000), supersedes=annual_id))
    plans.adopt(c.registry, c.members, lower)
    with reverts("CapBelowIssued", id=SO2_2027, cap=8_000, issued=8_500):
        plans.execute_cap(c.regulator, lower, SO2)
    assert c.allowance.cap(SO2_2027) == 9_000 and plans.cap_plan_of(SO2_2027) == annual_id


# ---------------------------------------------------------------------- superseding


def test_plans_new_version_supersedes_the_adopted_one(pc: tuple[Consortium, PlansClient]) -> None:
    c, plans = pc
    five_id, annual_id = adopted_annual(c, plans)
    plans.execute_cap(c.regulator, annual_id, SO2)
    v2 = plans.draft_annual(c.regulator, annual(five_id, so2=(4_500, 4_000), supersedes=annual_id))
    assert plans.plan(v2).version == 2
    assert plans.current_annual(2027) == annual_id  # a draft supersedes nothing yet
    receipt = plans.adopt(c.registry, c.members, v2)
    superseded = plans.contract.events.PlanSuperseded().process_receipt(receipt, errors=DISCARD)
    assert [(e["args"]["planId"], e["args"]["byPlanId"]) for e in superseded] == [(annual_id, v2)]
    assert plans.plan(annual_id).status == PlanStatus.SUPERSEDED
    assert plans.plan(annual_id).superseded_by == v2
    assert plans.current_annual(2027) == v2
    with reverts("PlanNotCurrent", planId=annual_id):
        plans.execute_cap(c.regulator, annual_id, SO2)
    with reverts("PlanAlreadyAdopted", planId=annual_id):
        plans.adopt(c.registry, c.members, annual_id)
    plans.execute_cap(c.regulator, v2, SO2)
    assert c.allowance.cap(SO2_2027) == 8_500 and plans.cap_plan_of(SO2_2027) == v2
    # the five-year plan too: version 2, the old one superseded
    five_v2 = plans.draft_five_year(c.regulator, five_year(supersedes=five_id, so2_last=8_000))
    plans.adopt(c.registry, c.members, five_v2)
    assert plans.plan(five_id).status == PlanStatus.SUPERSEDED
    assert plans.current_five_year(2026) == five_v2


def test_plans_supersede_and_period_refusals(pc: tuple[Consortium, PlansClient]) -> None:
    c, plans = pc
    five_id, annual_id = adopted_annual(c, plans)
    with reverts("PlanSupersedesInvalid", planId=3, supersedes=five_id):
        plans.draft_annual(c.regulator, annual(five_id, supersedes=five_id), check=False)
    with reverts("PlanSupersedesInvalid", planId=3, supersedes=annual_id):
        plans.draft_annual(c.regulator, annual(five_id, year=2028, supersedes=annual_id), check=False)
    second = plans.draft_annual(c.regulator, annual(five_id))
    with reverts("PlanPeriodTaken", year=2027, currentPlanId=annual_id):
        plans.adopt(c.registry, c.members, second)
    # two drafts superseding the same plan: the second adoption finds it superseded already
    a = plans.draft_annual(c.regulator, annual(five_id, supersedes=annual_id))
    b = plans.draft_annual(c.regulator, annual(five_id, supersedes=annual_id))
    plans.adopt(c.registry, c.members, a)
    with reverts("PlanSupersedesInvalid", planId=b, supersedes=annual_id):
        plans.adopt(c.registry, c.members, b)
    # an annual plan of a superseded five-year plan can no longer be adopted
    draft = plans.draft_annual(c.regulator, annual(five_id, year=2028, so2=(4_000, 4_000)))
    plans.adopt(c.registry, c.members, plans.draft_five_year(c.regulator, five_year(supersedes=five_id)))
    with reverts("PlanFiveYearNotAdopted", fiveYearPlanId=five_id):
        plans.adopt(c.registry, c.members, draft)


# ---------------------------------------------------------------------- contract == domain.plans

REGIONS = st.lists(
    st.tuples(
        st.sampled_from([0, 100_000, 331_000, 330_100, 330_200, 999_999, 1_000_000]), st.integers(0, 10_000)
    ),
    min_size=0,
    max_size=3,
)
LINES = st.lists(
    st.tuples(
        st.sampled_from([0, 2, 3, 4]),
        st.integers(0, 20_000),
        st.sampled_from([0, 1_000, 10_000, 10_001]),
        st.integers(0, 20_000),
    ),
    min_size=0,
    max_size=3,
)


@st.composite
def five_year_plans(draw: st.DrawFn) -> FiveYearPlan:
    start = draw(st.sampled_from([2026, 2030]))
    base = draw(st.sampled_from([2025, start]))
    lines = tuple(
        PollutantPath(p, base_e, target, (last + 4, last + 3, last + 2, last + 1, last))
        for p, base_e, target, last in draw(LINES)
    )
    regions = draw(st.one_of(st.just([(331_000, 6_000), (330_100, 4_000)]), REGIONS))
    return FiveYearPlan(start, base, lines, tuple(RegionShare(r, s) for r, s in regions))


@given(plan=five_year_plans())
@settings(max_examples=60, deadline=None)
def test_plans_contract_checks_five_year_plans_as_domain_plans(
    wired: tuple[Consortium, PlansClient], plan: FiveYearPlan
) -> None:
    c, plans = wired
    snapshot_id = c.snapshot()
    try:
        try:
            check_five_year(plan)
            expected = None
        except PlanRuleError as exc:
            expected = (exc.contract_error, exc.arguments)
        try:
            plans.draft_five_year(c.regulator, plan, check=False)
            got = None
        except ContractRevertError as exc:
            got = (exc.error, tuple(exc.args_.values()))
        assert got == expected
    finally:
        c.revert(snapshot_id)


@given(
    lines=st.lists(
        st.tuples(st.sampled_from([SO2, NOX, 4]), st.sampled_from([TAIZHOU, HANGZHOU, 331_100]),
                  st.integers(0, 12_000), st.sampled_from([0, 10_000, 10_001])),
        min_size=0, max_size=4,
    ),
    year=st.sampled_from([2026, 2027, 2030, 2031]),
)  # fmt: skip
@settings(max_examples=40, deadline=None)
def test_plans_contract_checks_annual_plans_as_domain_plans(
    wired: tuple[Consortium, PlansClient], lines: list[tuple[int, int, int, int]], year: int
) -> None:
    c, plans = wired
    snapshot_id = c.snapshot()
    try:
        five_id = adopted_five(c, plans)
        base = annual(five_id, year=year)
        plan = replace(base, caps=tuple(RegionCap(p, r, cap, bps, 0) for p, r, cap, bps in lines), targets=())
        try:
            check_annual(plan, five_year(), plan_id=five_id + 1)
            expected = None
        except PlanRuleError as exc:
            expected = (exc.contract_error, exc.arguments)
        try:
            plans.draft_annual(c.regulator, plan, check=False)
            got = None
        except ContractRevertError as exc:
            got = (exc.error, tuple(exc.args_.values()))
        assert got == expected
    finally:
        c.revert(snapshot_id)
