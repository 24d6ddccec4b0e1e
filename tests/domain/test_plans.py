"""domain.plans: the rules by name with their arguments, and plans read from JSON."""

from __future__ import annotations

import pytest

from domain.errors import InvalidInputError, PlanRuleError
from domain.plans import (
    AnnualPlan,
    FiveYearPlan,
    RegionShare,
    allowed_last_year,
    check_annual,
    check_five_year,
    plan_from_json,
    region_path,
    totals,
)
from tests.utils.plans import NOX, SO2, TAIZHOU, annual, five_year


def _refused(fn: object, *args: object) -> tuple[str, tuple[int, ...]]:
    with pytest.raises(PlanRuleError) as info:
        fn(*args)  # type: ignore[operator]
    assert isinstance(info.value, ValueError)
    return info.value.contract_error, info.value.arguments


def test_plans_reduction_target_arithmetic() -> None:
    assert allowed_last_year(10_000, 1_600) == 8_400
    assert allowed_last_year(9_999, 1) == 9_998  # floor
    check_five_year(five_year())
    assert _refused(check_five_year, five_year(so2_last=8_401)) == ("PlanTargetMissed", (SO2, 8_401, 8_400))


def test_plans_regional_shares_sum_to_10000() -> None:
    plan = five_year()
    assert region_path(plan, SO2, 2027, TAIZHOU) == 9_600 * 6_000 // 10_000
    short = FiveYearPlan(2026, 2025, plan.pollutants, (RegionShare(TAIZHOU, 6_000),))
    assert _refused(check_five_year, short) == ("PlanRegionSharesInvalid", (6_000,))
    twice = FiveYearPlan(
        2026, 2025, plan.pollutants, (RegionShare(TAIZHOU, 5_000), RegionShare(TAIZHOU, 5_000))
    )
    assert _refused(check_five_year, twice) == ("PlanInvalidRegion", (TAIZHOU,))
    assert _refused(check_five_year, FiveYearPlan(2026, 2025, plan.pollutants, ())) == (
        "PlanRegionSharesInvalid",
        (0,),
    )
    assert _refused(check_five_year, FiveYearPlan(2026, 2026, plan.pollutants, plan.regions)) == (
        "PlanInvalidPeriod", (2026, 2026),
    )  # fmt: skip


def test_plans_annual_within_path() -> None:
    plan = annual(1)
    assert totals(plan) == {SO2: 9_000, NOX: 18_000}
    check_annual(plan, five_year(), plan_id=2)
    assert _refused(check_annual, annual(1, year=2031), five_year()) == ("PlanYearNotCovered", (1, 2031))
    assert _refused(check_annual, annual(1, so2=(9_000, 601)), five_year()) == (
        "PlanAboveFiveYearPath", (0, SO2, 2027, 9_601, 9_600),
    )  # fmt: skip


SO2_LINE = {"pollutant": "SO2", "base_emissions": 10, "target_bps": 0, "path": [10, 10, 10, 10, 10]}
MALFORMED: list[object] = [
    [],
    {"kind": "decade"},
    {"kind": "annual", "year": 2027},
    {"kind": "annual", "five_year_plan_id": -1},
    {
        "kind": "five_year",
        "start_year": 2026,
        "base_year": 2025,
        "pollutants": [{**SO2_LINE, "path": [1, 1]}],
    },
    {"kind": "annual", "five_year_plan_id": 1, "year": 2027, "document_hash": "0x12"},
]


def test_plans_from_json_reads_both_kinds_and_refuses_malformed() -> None:
    regions = [{"region": 331000, "share_bps": 10_000}]
    five = plan_from_json(
        {
            "kind": "five_year",
            "start_year": 2026,
            "base_year": 2025,
            "pollutants": [SO2_LINE],
            "regions": regions,
        }
    )
    assert isinstance(five, FiveYearPlan) and five.pollutants[0].pollutant == SO2
    caps = [{"pollutant": 3, "region": 331000, "cap": 5}]
    one = plan_from_json({"kind": "annual", "five_year_plan_id": 1, "year": 2027, "caps": caps})
    assert isinstance(one, AnnualPlan) and one.caps[0].pollutant == NOX and one.supersedes == 0
    for bad in MALFORMED:
        with pytest.raises(InvalidInputError):
            plan_from_json(bad)
