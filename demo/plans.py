"""The demo's total-amount control: TotalControlPlans wired by governance, the 2026–2030 five-year
plan for SO2 and NOx over the demo enterprises' six regions, the 2027 annual plan (regional caps,
reserve shares, guide prices, enterprise reduction targets), its caps executed onto the token, and
the two refusals that follow (a direct cap change; an annual plan above its five-year path).

Runs after the steps that set 2027 caps by hand (market, auctions, compliance): once wired, the
token takes caps from adopted plans only. A re-run finds the plans on-chain and sends nothing but
the two refused calls (which change nothing)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from chain.accounts import Signer, demo_account
from chain.allowance import AllowanceClient
from chain.deploy import Manifest, SuiteConfig, deploy_suite
from chain.errors import ContractRevertError, DeploymentError
from chain.plans import PlansClient, wire_plans
from chain.registry import RegistryClient
from chain.suite import PLANS_SUITE
from chain.tx import ChainClient
from domain.errors import PlanRuleError
from domain.plans import (
    AnnualPlan,
    EnterpriseTarget,
    FiveYearPlan,
    PollutantPath,
    RegionCap,
    RegionShare,
    check_annual,
)
from domain.tokens import Kind, encode_id

SO2, NOX = 2, 3
NAMES = {SO2: "SO2", NOX: "NOx"}
START, BASE_YEAR, YEAR = 2026, 2025, 2027

#: The demo enterprises' regions (GB/T 2260: Taizhou and its Jiaojiang district, Ningbo Beilun,
#: Huzhou Changxing, Shaoxing Shangyu, Jiaxing Pinghu) and their shares (bps) of each year's path.
REGIONS: tuple[tuple[int, int], ...] = (
    (331000, 2_000), (331002, 1_500), (330206, 2_200), (330522, 1_700), (330604, 1_200), (330482, 1_400),
)  # fmt: skip

#: 2025 emissions (t), reduction target by 2030 (bps) and the yearly path 2026–2030 (t).
FIVE_YEAR = FiveYearPlan(
    start_year=START,
    base_year=BASE_YEAR,
    pollutants=(
        PollutantPath(SO2, 60_000, 1_000, (58_000, 57_000, 56_000, 55_000, 54_000)),
        PollutantPath(NOX, 8_000, 1_000, (7_800, 7_600, 7_400, 7_300, 7_200)),
    ),
    regions=tuple(RegionShare(r, s) for r, s in REGIONS),
    uri="demo://plans/five-year-2026-2030",
)

#: The 2027 caps (t) per region, each at least what the demo allocated there for 2027 (SO2:
#: enterprise-1..6 8,000, 6,000, 9,000, 7,000, 5,000, 6,000; NOx: enterprise-1 3,000 in 331000).
SO2_CAPS = (11_200, 8_400, 12_300, 9_500, 6_700, 7_900)  # 56,000 of the 57,000 t path
NOX_CAPS = (3_400, 800, 1_100, 700, 600, 900)  # 7,500 of the 7,600 t path
#: Reserve share (bps) kept back of every line, and guide prices (fen/t).
RESERVE_BPS = 500
GUIDE_PRICE = {SO2: 25_000, NOX: 30_000}
#: Enterprise reduction targets (bps) in 2027: (enterprise, pollutant, bps).
TARGETS = (("enterprise-1", SO2, 300), ("enterprise-1", NOX, 500), ("enterprise-3", SO2, 400))


def annual_plan(five_year_plan_id: int) -> AnnualPlan:
    """The demo's 2027 annual plan of the adopted five-year plan ``five_year_plan_id``."""
    caps = [
        RegionCap(p, region, cap, RESERVE_BPS, GUIDE_PRICE[p])
        for p, row in ((SO2, SO2_CAPS), (NOX, NOX_CAPS))
        for (region, _), cap in zip(REGIONS, row, strict=True)
    ]
    targets = tuple(EnterpriseTarget(demo_account(n).address, p, bps) for n, p, bps in TARGETS)
    return AnnualPlan(five_year_plan_id, YEAR, tuple(caps), targets, uri="demo://plans/annual-2027")


@dataclass
class PlansDemoReport:
    """What the plans step did or found, with its figures (for the report and the tests)."""

    five_year_id: int
    annual_id: int
    caps: dict[int, int]
    refusals: list[str] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    manifest: Manifest | None = None


def demo_plans(
    chain: ChainClient,
    manifest_path: Path,
    registry: RegistryClient,
    members: Sequence[Signer],
) -> PlansDemoReport:
    """Deploy and wire TotalControlPlans, adopt the five-year and the 2027 plans, execute the 2027
    caps, and show the refusals; each done once (a re-run verifies and skips)."""
    regulator = demo_account("regulator")
    config = SuiteConfig(members=tuple(m.address for m in members), threshold=2)
    manifest = deploy_suite(chain, demo_account("deployer"), config, manifest_path, suite=PLANS_SUITE)
    record = manifest.contracts["TotalControlPlans"]
    plans = PlansClient(chain, record.address, from_block=record.block)
    allowance = AllowanceClient(chain, manifest.address("AllowanceToken"))
    lines = [f"plans: {line} (2-of-3 governance)" for line in wire_plans(registry, members, plans)]

    five_id = plans.current_five_year(START)
    if five_id == 0:
        five_id = plans.draft_five_year(regulator, FIVE_YEAR)
        plans.adopt(registry, members, five_id)
        lines.append(f"plans: five-year plan {five_id} drafted by the regulator, adopted by governance")
    elif plans.five_year(five_id).pollutants != FIVE_YEAR.pollutants:
        raise DeploymentError(f"five-year plan {five_id} on-chain differs from the demo's")
    annual_id = plans.current_annual(YEAR)
    if annual_id == 0:
        annual_id = plans.draft_annual(regulator, annual_plan(five_id))
        plans.adopt(registry, members, annual_id)
        lines.append(f"plans: annual plan {annual_id} ({YEAR}) drafted, adopted by governance")
    caps: dict[int, int] = {}
    for p in (SO2, NOX):
        token = encode_id(Kind.ALLOWANCE, NAMES[p], YEAR)
        if plans.cap_plan_of(token) != annual_id:
            plans.execute_cap(regulator, annual_id, p)
            lines.append(f"plans: {NAMES[p]} {YEAR} cap executed from annual plan {annual_id}")
        caps[p] = allowance.cap(token)

    refusals = []
    so2 = encode_id(Kind.ALLOWANCE, "SO2", YEAR)
    try:
        allowance.set_cap(regulator, so2, caps[SO2] + 1_000)
    except ContractRevertError as e:
        refusals.append(e.error)
    above = AnnualPlan(
        five_id, YEAR + 1, (RegionCap(SO2, REGIONS[0][0], FIVE_YEAR.pollutants[0].path[2] + 1),)
    )
    try:
        check_annual(above, FIVE_YEAR)
    except PlanRuleError as e:
        refusals.append(e.contract_error)  # the rule in Python, before any transaction
    try:
        plans.draft_annual(regulator, above, check=False)
    except ContractRevertError as e:
        refusals.append(e.error)  # the same rule on-chain
    summary = "; ".join(
        f"{NAMES[p.pollutant]} {p.base_emissions:,} t in {BASE_YEAR} → {p.path[-1]:,} t in "
        f"{START + 4} (−{p.target_bps / 100:g} %)"
        for p in FIVE_YEAR.pollutants
    )
    lines.append(
        f"plans: five-year plan {five_id} {START}–{START + 4} ({summary}) over {len(REGIONS)} regions; "
        f"annual plan {annual_id} caps {YEAR}: SO2 {caps[SO2]:,} t, NOx {caps[NOX]:,} t "
        f"({RESERVE_BPS / 100:g} % reserve, {len(TARGETS)} enterprise targets); refused by name: "
        f"a direct cap change ({refusals[0] if refusals else 'NOT refused'}), an annual plan above "
        f"its path ({refusals[-1] if len(refusals) > 1 else 'NOT refused'})"
    )
    return PlansDemoReport(five_id, annual_id, caps, refusals, lines, manifest)
