"""domain.plan_allocation: region budgets (cap less reserve less earlier allocations), reduction
targets, the permit ceiling, purchases from the government reserve (less demand, the same budget),
the floor-or-largest-remainder rounding; refusals by name; a hypothesis property over random plans
and claimants (per region the sum is the budget exactly when demand covers it, else at most it;
every allocation whole, >= 0 and, with what was allocated before and bought from the reserve,
within the permit)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.errors import AllocationInputError, InvalidInputError
from domain.plan_allocation import (
    Basis,
    Claimant,
    allocate,
    as_basis,
    demand_of,
    history_basis,
    line_region,
    reserve_of,
)
from domain.plans import AnnualPlan, EnterpriseTarget, RegionCap

SO2, NOX, COD = 2, 3, 4
TAIZHOU, HANGZHOU = 331_000, 330_100
A, B, C = ("0x" + c * 40 for c in "abc")


def plan(*caps: RegionCap, targets: tuple[EnterpriseTarget, ...] = ()) -> AnnualPlan:
    return AnnualPlan(five_year_plan_id=1, year=2027, caps=caps, targets=targets)


def test_reserve_and_demand_follow_the_rule() -> None:
    assert reserve_of(9_999, 1_000) == 999
    assert demand_of(Claimant(A, TAIZHOU, 1_000.0), 500) == 950.0
    assert demand_of(Claimant(A, TAIZHOU, 1_000.0, permitted_t=900), 500) == 900.0
    assert demand_of(Claimant(A, TAIZHOU, 1_000.0, permitted_t=900, already_t=850), 0) == 50.0
    assert demand_of(Claimant(A, TAIZHOU, 1_000.0, permitted_t=900, already_t=950), 0) == 0.0
    assert demand_of(Claimant(A, TAIZHOU, 1_000.0, permitted_t=900, already_t=50, reserve_t=300), 0) == 550.0
    assert demand_of(Claimant(A, TAIZHOU, 1_000.0, permitted_t=900, reserve_t=950), 0) == 0.0


def test_a_purchase_from_the_reserve_lowers_demand_by_as_much_and_leaves_the_budget() -> None:
    p = plan(RegionCap(SO2, TAIZHOU, 5_000, 1_000))
    before = allocate(p, SO2, [Claimant(A, TAIZHOU, 1_000, permitted_t=1_000)], "permits")
    after = allocate(p, SO2, [Claimant(A, TAIZHOU, 1_000, permitted_t=1_000, reserve_t=300)], "permits")
    assert (before.grants[0].demand_t, after.grants[0].demand_t) == (1_000.0, 700.0)
    assert (before.grants[0].allocation, after.grants[0].allocation) == (1_000, 700)
    assert after.grants[0].reserve_t == 300
    assert before.regions[0].budget_t == after.regions[0].budget_t == 4_500  # the reserve share paid it


def test_allocate_floors_demand_when_the_budget_covers_it_and_keeps_the_remainder() -> None:
    p = plan(
        RegionCap(SO2, TAIZHOU, 5_000, 1_000),
        targets=(EnterpriseTarget(A.upper().replace("0X", "0x"), SO2, 1_000),),
    )
    result = allocate(p, SO2, [Claimant(A, TAIZHOU, 1_000.5), Claimant(B, TAIZHOU, 2_000.7)], "history")
    region = result.regions[0]
    assert (region.reserve_t, region.budget_t, region.scaled) == (500, 4_500, False)
    assert [g.allocation for g in result.grants] == [900, 2_000]  # A: 1,000.5 x 0.9 = 900.45
    assert region.allocated_t == 2_900 and region.unallocated_t == 1_600
    assert result.grants[0].target_bps == 1_000 and result.basis is Basis.HISTORY


def test_allocate_scales_to_the_budget_exactly_when_demand_exceeds_it() -> None:
    p = plan(RegionCap(NOX, TAIZHOU, 1_001, 0), RegionCap(NOX, HANGZHOU, 700, 500))
    claimants = [
        Claimant(A, TAIZHOU, 900, permitted_t=900),
        Claimant(B, TAIZHOU, 600, permitted_t=600),
        Claimant(C, HANGZHOU, 800, permitted_t=800, already_t=10),
    ]
    result = allocate(p, NOX, claimants, Basis.PERMITS)
    by = {g.enterprise: g.allocation for g in result.grants}
    assert by[A] + by[B] == 1_001 and (by[A], by[B]) == (601, 400)  # 600.6 / 400.4: A's remainder larger
    hangzhou = next(r for r in result.regions if r.region == HANGZHOU)
    assert (hangzhou.reserve_t, hangzhou.already_t, hangzhou.budget_t) == (35, 10, 655)
    assert by[C] == 655 and hangzhou.scaled and hangzhou.unallocated_t == 0


def test_allocate_refuses_bad_input_by_name() -> None:
    p = plan(RegionCap(SO2, TAIZHOU, 5_000))
    with pytest.raises(AllocationInputError) as info:
        allocate(p, SO2, [Claimant(A, HANGZHOU, 1.0), Claimant(A, TAIZHOU, -1.0)], "permits")
    text = "\n".join(info.value.problems)
    assert "region 330100 has no 2 cap" in text and "listed more than once" in text and "basis -1.0" in text
    with pytest.raises(AllocationInputError, match="no cap line for pollutant 4"):
        allocate(p, COD, [], "permits")
    with pytest.raises(InvalidInputError, match="unknown basis"):
        as_basis("energy")


def test_history_basis_averages_the_last_years_before_the_target() -> None:
    series = {2022: 100.0, 2023: 200.0, 2024: 300.0, 2025: 400.0, 2027: 9e9}
    assert history_basis(series, 2027) == 300.0
    assert history_basis(series, 2027, years=1) == 400.0
    assert history_basis({}, 2027) == 0.0
    with pytest.raises(InvalidInputError):
        history_basis({2025: -1.0}, 2027)


REGIONS = (TAIZHOU, HANGZHOU, 330_200)


@st.composite
def cases(draw: st.DrawFn) -> tuple[AnnualPlan, list[Claimant]]:
    caps = tuple(
        RegionCap(SO2, r, draw(st.integers(0, 50_000)), draw(st.integers(0, 10_000)))
        for r in REGIONS[: draw(st.integers(1, 3))]
    )
    n = draw(st.integers(0, 12))
    claimants = []
    targets = []
    for i in range(n):
        account = f"0x{i:040x}"
        permitted = draw(st.none() | st.integers(0, 20_000))
        already = draw(st.integers(0, permitted if permitted is not None else 2_000))
        bought = draw(st.integers(0, permitted - already if permitted is not None else 2_000))
        basis = draw(st.floats(0, 30_000, allow_nan=False))
        region = draw(st.sampled_from([c.region for c in caps]))
        claimants.append(Claimant(account, region, basis, permitted, already, reserve_t=bought))
        if draw(st.booleans()):
            targets.append(EnterpriseTarget(account, SO2, draw(st.integers(0, 10_000))))
    return plan(*caps, targets=tuple(targets)), claimants


@settings(max_examples=300, deadline=None)
@given(cases())
def test_allocate_conserves_the_budget_and_respects_permits(case: tuple[AnnualPlan, list[Claimant]]) -> None:
    p, claimants = case
    result = allocate(p, SO2, claimants, "permits")
    assert len(result.grants) == len(claimants)
    for region in result.regions:
        line = next(c for c in p.caps if c.region == region.region)
        grants = [g for g in result.grants if g.region == region.region]
        total = sum(g.allocation for g in grants)
        assert region.budget_t == max(
            0, line.cap - line.cap * line.reserve_share_bps // 10_000 - region.already_t
        )
        assert total == region.allocated_t <= region.budget_t
        if region.demand_t > region.budget_t:
            assert total == region.budget_t and region.scaled
        else:
            assert region.budget_t - total == region.unallocated_t >= 0
            assert all(g.allocation == math.floor(g.demand_t) for g in grants)
        # with what was allocated before, the region never passes its cap less the reserve
        assert total + region.already_t <= line.cap - region.reserve_t or total == 0
    for g in result.grants:
        assert isinstance(g.allocation, int) and g.allocation >= 0
        assert g.allocation <= math.ceil(g.demand_t)
        if g.permitted_t is not None:
            assert g.allocation + g.already_t + g.reserve_t <= g.permitted_t


def test_a_county_falls_under_its_prefectures_line_else_its_provinces() -> None:
    assert line_region(331_082, {331_000, 330_000}) == 331_000  # Linhai under Taizhou
    assert line_region(331_082, {330_000}) == 330_000  # else Zhejiang
    assert line_region(331_082, {331_082, 331_000}) == 331_082  # its own line first
    assert line_region(320_102, {331_000, 330_000}) is None
    p = plan(RegionCap(SO2, TAIZHOU, 1_000, 0))
    result = allocate(p, SO2, [Claimant(A, 331_082, 300.0), Claimant(B, TAIZHOU, 200.0)], "permits")
    assert [(g.region, g.allocation) for g in result.grants] == [(TAIZHOU, 300), (TAIZHOU, 200)]
    with pytest.raises(AllocationInputError, match="region 320102 has no 2 cap"):
        allocate(p, SO2, [Claimant(C, 320_102, 100.0)], "permits")
