"""The plans step of ``ets demo`` on a real chain: TotalControlPlans deployed into the demo's
deployment and wired by governance, the five-year plan 2026–2030 (SO2, NOx, six regions) and the
2027 annual plan adopted, the 2027 caps executed from it (above what the demo already allocated),
a direct cap change refused (AllowanceCapNeedsPlan) and an annual plan above its path refused
(PlanAboveFiveYearPath, in Python and on-chain); a re-run adopts and executes nothing."""

from __future__ import annotations

import shutil
from pathlib import Path

from chain.accounts import demo_account
from chain.plans import PlanKind, PlansClient, PlanStatus
from demo.plans import FIVE_YEAR, NOX, NOX_CAPS, SO2, SO2_CAPS, YEAR, annual_plan, demo_plans
from domain.plans import region_path
from domain.tokens import Kind, encode_id
from tests.conftest import Consortium
from tests.utils.demo_market import register_demo_enterprises

#: What the demo allocates for 2027 before the plans step (demo.run, demo.compliance).
SO2_ALLOCATED = [8_000, 6_000, 9_000, 7_000, 5_000, 6_000]
NOX_ALLOCATED = 3_000


def test_demo_plans_adopts_executes_and_refuses_then_rerun_sends_nothing(
    fresh: Consortium, tmp_path: Path
) -> None:
    register_demo_enterprises(fresh)
    so2, nox = encode_id(Kind.ALLOWANCE, "SO2", YEAR), encode_id(Kind.ALLOWANCE, "NOx", YEAR)
    demo = [demo_account(f"enterprise-{i + 1}").address for i in range(6)]
    fresh.allowance.set_cap(fresh.regulator, so2, 50_000)
    fresh.allowance.allocate(fresh.regulator, so2, demo, SO2_ALLOCATED, b"t-so2".ljust(32, b"\0"))
    fresh.allowance.set_cap(fresh.regulator, nox, NOX_ALLOCATED)
    fresh.allowance.allocate(fresh.regulator, nox, demo[:1], [NOX_ALLOCATED], b"t-nox".ljust(32, b"\0"))
    manifest_path = tmp_path / "deployment.json"  # the session's manifest stays without the plans
    shutil.copy(fresh.manifest_path, manifest_path)

    first = demo_plans(fresh.chain, manifest_path, fresh.registry, fresh.members)

    assert first.manifest is not None
    plans = PlansClient(fresh.chain, first.manifest.address("TotalControlPlans"))
    token = fresh.chain.contract("AllowanceToken", fresh.allowance.address)
    assert token.functions.plans().call() == plans.address
    assert (first.five_year_id, first.annual_id, plans.plan_count()) == (1, 2, 2)
    five, annual = plans.plan(1), plans.plan(2)
    assert (five.kind, five.status, five.start_year, five.end_year) == (
        PlanKind.FIVE_YEAR, PlanStatus.ADOPTED, 2026, 2030,
    )  # fmt: skip
    assert (annual.kind, annual.status, annual.five_year_plan_id) == (PlanKind.ANNUAL, PlanStatus.ADOPTED, 1)
    assert plans.five_year(1).pollutants == FIVE_YEAR.pollutants
    assert plans.five_year(1).regions == FIVE_YEAR.regions
    assert plans.annual(2).caps == annual_plan(1).caps and plans.annual(2).targets == annual_plan(1).targets
    assert first.caps == {SO2: 56_000, NOX: 7_500} == {SO2: sum(SO2_CAPS), NOX: sum(NOX_CAPS)}
    assert (fresh.allowance.cap(so2), fresh.allowance.cap(nox)) == (56_000, 7_500)
    assert (plans.cap_plan_of(so2), plans.cap_plan_of(nox)) == (2, 2)
    assert (plans.path_of(1, SO2, YEAR), plans.path_of(1, NOX, YEAR)) == (57_000, 7_600)
    assert fresh.allowance.issued(so2) == sum(SO2_ALLOCATED) <= 56_000
    # every region's SO2 cap is at least its allocation, and at most its share of the path
    for line, allocated in zip(
        [c for c in plans.annual(2).caps if c.pollutant == SO2], SO2_ALLOCATED, strict=True
    ):
        assert allocated <= line.cap <= region_path(FIVE_YEAR, SO2, YEAR, line.region)
    assert first.refusals == ["AllowanceCapNeedsPlan", "PlanAboveFiveYearPath", "PlanAboveFiveYearPath"]
    assert "refused by name: a direct cap change (AllowanceCapNeedsPlan)" in first.lines[-1]
    assert "SO2 56,000 t, NOx 7,500 t" in first.lines[-1]
    assert len(first.lines) == 6  # wiring, two adoptions, two executions, the summary

    again = demo_plans(fresh.chain, manifest_path, fresh.registry, fresh.members)

    assert (again.five_year_id, again.annual_id, again.caps, again.refusals) == (
        1, 2, first.caps, first.refusals,
    )  # fmt: skip
    assert again.lines == first.lines[-1:] and plans.plan_count() == 2
