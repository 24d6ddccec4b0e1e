"""The compliance settlement rule (domain.compliance) by hand."""

from __future__ import annotations

from domain.compliance import (
    Outcome,
    YearConfig,
    offset_cap,
    outcome_of,
    penalty,
    shortfall_of,
    surrender_plan,
)

RULES = YearConfig(offset_cap_bps=500, fine_per_tonne=10_000, make_good_bps=12_000, no_report_fine=50_000)


def test_offset_cap_is_the_share_of_verified_emissions_bounded_by_eligible_and_used() -> None:
    assert offset_cap(1_000, 200, 500) == 50
    assert offset_cap(1_000, 20, 500) == 20
    assert offset_cap(1_000, 200, 500, already=45) == 5
    assert offset_cap(1_000, 200, 500, already=60) == 0


def test_surrender_plan_takes_offsets_first_then_allowances_up_to_verified() -> None:
    assert surrender_plan(1_000, 2_000, 100, 500) == (50, 950)
    assert surrender_plan(1_000, 300, 10, 500) == (10, 300)
    assert surrender_plan(None, 300, 10, 500) == (0, 0)


def test_outcome_and_penalty_of_each_case() -> None:
    assert (shortfall_of(1_000, 1_000), outcome_of(1_000, 0)) == (0, Outcome.COVERED)
    assert (shortfall_of(1_000, 690), outcome_of(1_000, 310)) == (310, Outcome.SHORTFALL)
    assert (shortfall_of(None, 0), outcome_of(None, 0)) == (0, Outcome.NO_VERIFIED_EMISSIONS)
    assert penalty(RULES, Outcome.COVERED, 0) == (0, 0)
    assert penalty(RULES, Outcome.SHORTFALL, 7) == (70_000, 8)
    assert penalty(RULES, Outcome.NO_VERIFIED_EMISSIONS, 0) == (50_000, 0)
    assert [o.code for o in Outcome] == ["-", "A", "B", "C"]
