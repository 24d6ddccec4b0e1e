"""The demo's allocation planner: SO2 and NOx of 2027 planned from the discharge permits under the
adopted 2027 annual plan (each region's cap less its reserve share and less what its enterprises
were already allocated within their permits; the plan's enterprise targets applied), written as
plan files and executed on chain.

Runs after the plans step (demo.plans): the demo allocated 2027 up to the permits before, except
enterprise-5 (5,000 t SO2 of a 6,000 t permit), so the planner gives it the 1,000 t its permit
still allows, within its region's budget, and nothing to the others. A re-run plans from the chain
as it is then and mints nothing."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from chain.accounts import demo_account
from chain.allowance import AllowanceClient
from chain.deploy import Manifest
from chain.permits import PermitsClient
from chain.plan_allocation import (
    PollutantPlan,
    claimants_from_permits,
    execute_pollutant_plan,
    plan_pollutant,
)
from chain.plans import PlansClient
from chain.registry import RegistryClient
from chain.tx import ChainClient

YEAR = 2027
POLLUTANTS = ("SO2", "NOx")


@dataclass
class PlannerDemoReport:
    """What the planner step planned and minted, per pollutant, with its plan files and lines."""

    annual_id: int
    planned: dict[str, int] = field(default_factory=dict)
    minted: dict[str, int] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)


def demo_planner(
    chain: ChainClient, manifest: Manifest, out_dir: Path, *, year: int = YEAR
) -> PlannerDemoReport:
    """Plan SO2 and NOx of ``year`` from the permits under the adopted annual plan of ``year`` and
    execute the plans as the regulator; plan files ``allocation-<pollutant>-<year>.csv`` in ``out_dir``.

    Needs the plans and permits steps done (TotalControlPlans and DischargePermits in ``manifest``,
    an adopted annual plan of ``year`` whose caps were executed).
    """
    regulator = demo_account("regulator")
    registry = RegistryClient(chain, manifest.address("ConsortiumRegistry"))
    allowance = AllowanceClient(chain, manifest.address("AllowanceToken"))
    plans_record = manifest.contracts["TotalControlPlans"]
    plans = PlansClient(chain, plans_record.address, from_block=plans_record.block)
    permits_record = manifest.contracts["DischargePermits"]
    permits = PermitsClient(chain, permits_record.address, from_block=permits_record.block)
    annual_id = plans.current_annual(year)
    report = PlannerDemoReport(annual_id)
    for pollutant in POLLUTANTS:
        path = out_dir / f"allocation-{pollutant.lower()}-{year}.csv"
        if path.exists():  # a re-run resumes the plan it made (later steps add permit holders)
            plan = PollutantPlan.read_csv(path)
        else:
            claimants = claimants_from_permits(registry, permits, allowance, pollutant, year)
            plan = plan_pollutant(plans, annual_id, pollutant, claimants, "permits")
            plan.write_csv(path)
        executed = execute_pollutant_plan(allowance, regulator, path)
        report.planned[pollutant] = plan.allocation.total
        report.minted[pollutant] = executed.minted
        report.files.append(path)
        given = [f"{g.label} {g.allocation:,} t" for g in plan.allocation.grants if g.allocation]
        budgets = sum(r.budget_t for r in plan.allocation.regions)
        kept = sum(r.reserve_t for r in plan.allocation.regions)
        report.lines.append(
            f"planner: {pollutant} {year} from {len(plan.allocation.grants)} "
            f"permit{'s' * (len(plan.allocation.grants) != 1)} under "
            f"annual plan {annual_id}: "
            f"{plan.allocation.total:,} t planned of {budgets:,} t left in the regions' budgets "
            f"(reserve {kept:,} t kept); minted {executed.minted:,} t"
            + (f" ({', '.join(given)})" if given else "")
            + f"; plan {path.name}"
        )
    return report
