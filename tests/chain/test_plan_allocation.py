"""chain.plan_allocation on a real Anvil: an SO2 allocation planned from the permits under the
adopted 2027 annual plan (Taizhou scaled to its budget exactly, Hangzhou below it with the
remainder kept), written, read back and executed on chain within the permits; a re-run mints
nothing; refusals (cap not executed yet, a draft plan, a file edited above its permit) change
nothing; the history basis from a metered-emissions CSV; an enterprise that bought from the
government reserve wants that much less, and a purchase after planning stops the execution."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from chain.plan_allocation import (
    PollutantPlan,
    claimants_from_history,
    claimants_from_permits,
    execute_pollutant_plan,
    load_metered_history,
    plan_pollutant,
)
from domain.errors import AllocationInputError
from domain.tokens import Kind, encode_id
from tests.conftest import Consortium
from tests.utils.plan_allocation import ENTERPRISES, PlannedConsortium, set_up
from tests.utils.plans import HANGZHOU, SO2, TAIZHOU, annual
from tests.utils.reserve import deploy_reserve

SO2_2027 = encode_id(Kind.ALLOWANCE, SO2, 2027)
(E0, _, _, _), (E1, _, _, _), (E2, _, _, _) = ENTERPRISES


@pytest.fixture(scope="module")
def planned_module(consortium: Consortium) -> Iterator[PlannedConsortium]:
    start = consortium.snapshot()
    try:
        yield set_up(consortium)
    finally:
        consortium.revert(start)


@pytest.fixture
def planned(planned_module: PlannedConsortium) -> Iterator[PlannedConsortium]:
    snapshot = planned_module.c.snapshot()
    try:
        yield planned_module
    finally:
        planned_module.c.revert(snapshot)


def test_so2_planned_from_permits_is_executed_within_budget_and_permits(
    planned: PlannedConsortium, tmp_path: Path
) -> None:
    c, p = planned.c, planned
    claimants = claimants_from_permits(c.registry, p.permits, c.allowance, "SO2", 2027)
    assert {x.enterprise for x in claimants} == {E0.address, E1.address, E2.address}
    plan = plan_pollutant(p.plans, p.annual_id, "SO2", claimants, "permits")
    by = {g.enterprise: g.allocation for g in plan.allocation.grants}
    # Taizhou: cap 5,000 less 10 % = 4,500 < demand 3,000 x 0.95 + 2,500 = 5,350: scaled, exactly 4,500
    assert (by[E0.address], by[E1.address]) == (2_397, 2_103)
    # Hangzhou: budget 3,600 covers E2's 1,000; the remainder 2,600 stays unallocated
    regions = {r.region: r for r in plan.allocation.regions}
    assert regions[TAIZHOU].allocated_t == 4_500 and regions[TAIZHOU].unallocated_t == 0
    assert by[E2.address] == 1_000 and regions[HANGZHOU].unallocated_t == 2_600
    path = plan.write_csv(tmp_path / "so2-2027.csv")
    assert PollutantPlan.read_csv(path) == plan

    # the cap is not executed from the annual plan yet: refused before any transaction
    with pytest.raises(AllocationInputError, match="cap leaves 0 t"):
        execute_pollutant_plan(c.allowance, c.regulator, path)
    assert c.allowance.issued(SO2_2027) == 0
    p.plans.execute_cap(c.regulator, p.annual_id, SO2)
    report = execute_pollutant_plan(c.allowance, c.regulator, path, batch_size=2)
    assert (report.batches, report.skipped, report.minted) == (2, 0, 5_500)
    for account, amount in by.items():
        assert c.allowance.balance(account, SO2_2027) == amount
        assert c.allowance.permit_allocated(account, SO2_2027) == amount
    assert c.allowance.issued(SO2_2027) == 5_500 <= c.allowance.cap(SO2_2027) == 9_000
    again = execute_pollutant_plan(c.allowance, c.regulator, path, batch_size=2)
    assert (again.skipped, again.minted) == (2, 0)

    # a second plan now counts what was allocated: nothing left in Taizhou, E2 at its permit
    second = plan_pollutant(
        p.plans,
        p.annual_id,
        "SO2",
        claimants_from_permits(c.registry, p.permits, c.allowance, "SO2", 2027),
        "permits",
    )
    assert second.allocation.total == 0


def test_execution_refuses_a_plan_edited_above_a_permit(planned: PlannedConsortium, tmp_path: Path) -> None:
    c, p = planned.c, planned
    claimants = claimants_from_permits(c.registry, p.permits, c.allowance, "SO2", 2027)
    path = plan_pollutant(p.plans, p.annual_id, "SO2", claimants, "permits").write_csv(tmp_path / "p.csv")
    lines = path.read_text().splitlines()
    row = next(i for i, line in enumerate(lines) if line.startswith(E2.address))
    lines[row] = lines[row].rsplit(",", 1)[0] + ",1001"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(AllocationInputError) as info:
        execute_pollutant_plan(c.allowance, c.regulator, path)
    assert any("above the permit's 1000" in m for m in info.value.problems)
    assert c.allowance.issued(SO2_2027) == 0


def test_plan_needs_an_adopted_annual_plan(planned: PlannedConsortium) -> None:
    c, p = planned.c, planned
    draft = p.plans.draft_annual(c.regulator, annual(p.five_year_id, supersedes=p.annual_id))
    with pytest.raises(AllocationInputError, match=f"annual plan {draft} is draft"):
        plan_pollutant(p.plans, draft, "SO2", [], "permits")
    with pytest.raises(AllocationInputError, match="is a five-year plan"):
        plan_pollutant(p.plans, p.five_year_id, "SO2", [], "permits")


def test_history_basis_from_a_metered_csv_is_capped_by_the_permits(
    planned: PlannedConsortium, tmp_path: Path
) -> None:
    c, p = planned.c, planned
    code = c.registry.enterprise(E1.address).profile.credit_code
    csv_path = tmp_path / "metered.csv"
    csv_path.write_text(
        "enterprise,pollutant,year,emissions_t\n"
        f"{E0.address},SO2,2024,1000\n{E0.address},SO2,2025,1200\n{E0.address},SO2,2026,1400\n"
        f"{code},SO2,2026,4000\n{E2.address},SO2,2026,500\n{E2.address},NOx,2026,99\n"
    )
    history = load_metered_history(csv_path, "SO2")
    claimants = claimants_from_history(c.registry, c.allowance, history, "SO2", 2027, permits=p.permits)
    plan = plan_pollutant(p.plans, p.annual_id, "SO2", claimants, "history")
    by = {g.enterprise: g for g in plan.allocation.grants}
    assert by[E0.address].basis_t == 1_200.0 and by[E0.address].allocation == 1_140  # 1,200 x 0.95
    assert by[E1.address].allocation == 2_500  # metered 4,000 but the permit allows 2,500
    assert by[E2.address].allocation == 500 and plan.allocation.basis.value == "history"
    with pytest.raises(AllocationInputError, match="not a registered enterprise"):
        claimants_from_history(c.registry, c.allowance, {"0x" + "12" * 20: {2026: 1.0}}, "SO2", 2027)


def test_reserve_purchase_counts_within_the_permit_in_the_planner_only(
    planned: PlannedConsortium, tmp_path: Path
) -> None:
    c, p = planned.c, planned
    p.plans.execute_cap(c.regulator, p.annual_id, SO2)
    reserve = deploy_reserve(c)  # the token's reserve, found by the planner through the token
    reserve.feed(c.regulator, p.annual_id, SO2)
    before = plan_pollutant(
        p.plans, p.annual_id, "SO2", claimants_from_permits(c.registry, p.permits, c.allowance, "SO2", 2027),
        "permits",
    )  # fmt: skip
    stale = before.write_csv(tmp_path / "stale.csv")
    c.cash.deposit(c.exchange, E2.address, 10**9, "BANK-PLANNER-1")
    reserve.accept(E2, reserve.offer(c.regulator, E2.address, SO2_2027, 300, c.chain.timestamp() + 86_400))
    assert reserve.sold(SO2_2027) == {E2.address: 300}
    assert c.allowance.permit_allocated(E2.address, SO2_2027) == 0  # the token does not count it

    # planned before the purchase: the execution stops, nothing minted
    with pytest.raises(AllocationInputError, match="bought 300 t from the reserve now, 0 t when planned"):
        execute_pollutant_plan(c.allowance, c.regulator, stale)
    assert c.allowance.balance(E2.address, SO2_2027) == 300

    after = plan_pollutant(
        p.plans, p.annual_id, "SO2", claimants_from_permits(c.registry, p.permits, c.allowance, "SO2", 2027),
        "permits",
    )  # fmt: skip
    was = {g.enterprise: g for g in before.allocation.grants}
    now = {g.enterprise: g for g in after.allocation.grants}
    assert (was[E2.address].demand_t, now[E2.address].demand_t) == (1_000.0, 700.0)
    assert (now[E2.address].reserve_t, now[E2.address].allocation) == (300, 700)
    assert [r.budget_t for r in after.allocation.regions] == [r.budget_t for r in before.allocation.regions]
    path = after.write_csv(tmp_path / "after.csv")
    assert PollutantPlan.read_csv(path) == after
    execute_pollutant_plan(c.allowance, c.regulator, path)
    assert c.allowance.balance(E2.address, SO2_2027) == 1_000  # 300 bought + 700 allocated = its permit
    # the history basis counts the purchase the same way
    history: dict[str, dict[int, float]] = {E2.address: {2026: 2_000.0}}
    (claimant,) = claimants_from_history(c.registry, c.allowance, history, "SO2", 2027, permits=p.permits)
    assert (claimant.already_t, claimant.reserve_t) == (700, 300)
