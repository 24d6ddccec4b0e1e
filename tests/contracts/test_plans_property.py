"""Property of TotalControlPlans on a real Anvil: over any sequence of drafts, adoptions,
supersessions, cap executions and direct cap changes, every vintage cap equals the total of the
adopted annual plan that set it, that total never exceeds the five-year path of its year, and no
cap changes without naming a plan."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chain.errors import ContractRevertError
from chain.plans import PlansClient, PlanStatus
from domain.errors import PlanRuleError
from domain.plans import path_of
from domain.tokens import Kind, encode_id
from tests.conftest import Consortium
from tests.utils.plans import NOX, SO2, annual, deploy_plans, five_year

YEARS = (2026, 2027)
POLLUTANTS = (SO2, NOX)

OPS = st.lists(
    st.one_of(
        st.tuples(
            st.just("draft"),
            st.sampled_from(YEARS),
            st.integers(0, 6_000),
            st.integers(0, 6_000),
            st.booleans(),
        ),
        st.tuples(st.just("adopt"), st.integers(1, 8)),
        st.tuples(st.just("execute"), st.integers(1, 8), st.sampled_from(POLLUTANTS)),
        st.tuples(
            st.just("set_cap"), st.sampled_from(YEARS), st.sampled_from(POLLUTANTS), st.integers(0, 20_000)
        ),
    ),
    min_size=1,
    max_size=10,
)


@pytest.fixture(scope="module")
def wired(consortium: Consortium) -> Iterator[tuple[Consortium, PlansClient, int]]:
    snapshot_id = consortium.snapshot()
    try:
        plans = deploy_plans(consortium)
        five_id = plans.draft_five_year(consortium.regulator, five_year())
        plans.adopt(consortium.registry, consortium.members, five_id)
        yield consortium, plans, five_id
    finally:
        consortium.revert(snapshot_id)


def _check(c: Consortium, plans: PlansClient) -> None:
    five = five_year()
    for year in YEARS:
        for pollutant in POLLUTANTS:
            token_id = encode_id(Kind.ALLOWANCE, pollutant, year)
            cap = c.allowance.cap(token_id)
            source = plans.cap_plan_of(token_id)
            if source == 0:
                assert cap == 0
                continue
            header = plans.plan(source)
            assert header.status in (PlanStatus.ADOPTED, PlanStatus.SUPERSEDED)
            assert header.start_year == year
            assert cap == plans.total_of(source, pollutant) <= path_of(five, pollutant, year)


@given(ops=OPS)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_plans_caps_never_exceed_adopted_plans(
    wired: tuple[Consortium, PlansClient, int], ops: list[tuple[object, ...]]
) -> None:
    c, plans, five_id = wired
    snapshot_id = c.snapshot()
    try:
        for op in ops:
            try:
                match op:
                    case ("draft", int(year), int(a), int(b), bool(supersede)):
                        old = plans.current_annual(year) if supersede else 0
                        plan = annual(five_id, year=year, so2=(a, b), supersedes=old)
                        plans.draft_annual(c.regulator, plan, check=False)
                    case ("adopt", int(plan_id)):
                        plans.adopt(c.registry, c.members, plan_id)
                    case ("execute", int(plan_id), int(pollutant)):
                        plans.execute_cap(c.regulator, plan_id, pollutant)
                    case ("set_cap", int(year), int(pollutant), int(cap)):
                        plans.chain.transact(
                            c.allowance.contract.functions.setCap(
                                encode_id(Kind.ALLOWANCE, pollutant, year), cap
                            ),
                            c.regulator,
                        )
                        raise AssertionError("a cap change naming no plan was accepted")
            except (ContractRevertError, PlanRuleError):
                pass
            _check(c, plans)
    finally:
        c.revert(snapshot_id)
