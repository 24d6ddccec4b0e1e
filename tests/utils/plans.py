"""Factories of total-control plans for tests: the TotalControlPlans contract deployed and wired
onto a test consortium, and a five-year plan 2026–2030 with its 2027 annual plan."""

from __future__ import annotations

from chain.accounts import demo_account
from chain.plans import PlansClient, wire_plans
from chain.suite import LocalSuite
from domain.plans import AnnualPlan, EnterpriseTarget, FiveYearPlan, PollutantPath, RegionCap, RegionShare

SO2, NOX = 2, 3
#: Taizhou (331000) and Hangzhou (330100), GB/T 2260.
TAIZHOU, HANGZHOU = 331_000, 330_100
SO2_PATH = (10_000, 9_600, 9_200, 8_800, 8_400)
NOX_PATH = (20_000, 19_500, 19_000, 18_500, 18_000)


def deploy_plans(c: LocalSuite) -> PlansClient:
    """Deploy TotalControlPlans on ``c``'s chain (no manifest entry) and wire it into the token."""
    address, receipt = c.chain.deploy(
        "TotalControlPlans", [c.registry.address, c.allowance.address], demo_account("deployer")
    )
    plans = PlansClient(c.chain, address, from_block=int(receipt["blockNumber"]))
    wire_plans(c.registry, c.members, plans)
    return plans


def five_year(*, supersedes: int = 0, so2_last: int = SO2_PATH[-1]) -> FiveYearPlan:
    """SO2 and NOx, 2026–2030 against 2025; SO2 −16 %, NOx −10 %; Taizhou 60 %, Hangzhou 40 %."""
    return FiveYearPlan(
        start_year=2026,
        base_year=2025,
        pollutants=(
            PollutantPath(SO2, 10_000, 1_600, (*SO2_PATH[:4], so2_last)),
            PollutantPath(NOX, 20_000, 1_000, NOX_PATH),
        ),
        regions=(RegionShare(TAIZHOU, 6_000), RegionShare(HANGZHOU, 4_000)),
        supersedes=supersedes,
        document_hash=b"\x11" * 32,
        uri="ipfs://five-year-2026-2030",
    )


def annual(
    five_id: int, *, year: int = 2027, so2: tuple[int, int] = (5_000, 4_000), supersedes: int = 0
) -> AnnualPlan:
    """The annual plan of ``year``: SO2 (Taizhou, Hangzhou) as given, NOx 11,000 + 7,000."""
    return AnnualPlan(
        five_year_plan_id=five_id,
        year=year,
        caps=(
            RegionCap(SO2, TAIZHOU, so2[0], 1_000, 2_500),
            RegionCap(SO2, HANGZHOU, so2[1], 1_000, 2_500),
            RegionCap(NOX, TAIZHOU, 11_000, 500, 1_800),
            RegionCap(NOX, HANGZHOU, 7_000, 500, 1_800),
        ),
        targets=(EnterpriseTarget("0x" + "ab" * 20, SO2, 500),),
        supersedes=supersedes,
        document_hash=b"\x22" * 32,
        uri=f"ipfs://annual-{year}",
    )
