"""``sim.compliance``: the settlement rule alone (examples and a hypothesis property), case
files refused with a clear message, whole years on fresh chains for outcomes A and C, and a year
of several pollutants, each obligation settled as it would be alone."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.errors import ComplianceInputError
from sim.compliance import Case, YearCase, load_case, plan_surrender, reference, simulate, simulate_year

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "compliance"
BASE: dict[str, Any] = {"verified_emissions": 1000, "allowances_held": 900, "offsets_held": 80,
                        "offset_cap_bps": 500, "penalty_per_ton": 30_000}  # fmt: skip


def case(**changes: Any) -> Case:
    return Case.model_validate({**BASE, **changes})


# ---------------------------------------------------------------------- the rule, without a chain


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        # offsets capped at floor(1000 × 5 %) = 50, allowances cover the rest, surplus banked
        ({"allowances_held": 2000}, (950, 50, 0, 0, 0, "A")),
        # 50 offsets + 900 allowances: 50 t short
        ({}, (900, 50, 50, 1_500_000, 50, "B")),
        # fewer offsets than the cap
        ({"offsets_held": 7, "allowances_held": 993}, (993, 7, 0, 0, 0, "A")),
        # a cap of floor(1001 × 333 / 10,000) = 33
        ({"verified_emissions": 1001, "offset_cap_bps": 333}, (900, 33, 68, 2_040_000, 68, "B")),
        # nothing held
        ({"allowances_held": 0, "offsets_held": 0}, (0, 0, 1000, 30_000_000, 1000, "B")),
        # nothing emitted: nothing surrendered
        ({"verified_emissions": 0}, (0, 0, 0, 0, 0, "A")),
        # no verified emissions: unknown shortfall
        ({"verified_emissions": None}, (0, 0, None, None, None, "C")),
        # a 100 % cap
        ({"offset_cap_bps": 10_000, "offsets_held": 5000}, (0, 1000, 0, 0, 0, "A")),
    ],
)
def test_reference_follows_settlement_rule_for_examples(
    changes: dict[str, Any], expected: tuple[Any, ...]
) -> None:
    keys = ("surrendered_allowances", "surrendered_offsets", "shortfall", "penalty_total",
            "make_good_units", "status")  # fmt: skip
    assert reference(case(**changes)) == dict(zip(keys, expected, strict=True))


@given(
    verified=st.integers(0, 10**12),
    allowances=st.integers(0, 10**12),
    offsets=st.integers(0, 10**12),
    bps=st.integers(0, 10_000),
)
def test_plan_surrender_respects_cap_holdings_and_verified_for_any_case(
    verified: int, allowances: int, offsets: int, bps: int
) -> None:
    c = case(
        verified_emissions=verified, allowances_held=allowances, offsets_held=offsets, offset_cap_bps=bps
    )
    used_offsets, used_allowances = plan_surrender(c)
    assert 0 <= used_offsets <= min(verified * bps // 10_000, offsets)
    assert used_offsets == min(verified * bps // 10_000, offsets)  # offsets first, as far as allowed
    assert used_allowances == min(allowances, verified - used_offsets)
    assert used_offsets + used_allowances <= verified
    result = reference(c)
    assert result["shortfall"] == verified - used_offsets - used_allowances >= 0
    assert result["status"] == ("A" if result["shortfall"] == 0 else "B")


def test_plan_surrender_surrenders_nothing_when_verified_is_null() -> None:
    assert plan_surrender(case(verified_emissions=None)) == (0, 0)


def test_examples_load_as_valid_cases() -> None:
    cases = {p.name: load_case(p) for p in sorted(EXAMPLES.glob("case-*.json"))}
    assert [reference(c)["status"] for c in cases.values()] == ["A", "B", "C"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not JSON"),
        (json.dumps({k: v for k, v in BASE.items() if k != "verified_emissions"}), "verified_emissions"),
        (json.dumps({**BASE, "allowances_held": -1}), "allowances_held"),
        (json.dumps({**BASE, "offsets_held": "80"}), "offsets_held"),
        (json.dumps({**BASE, "verified_emissions": 10.5}), "verified_emissions"),
        (json.dumps({**BASE, "penalty_per_ton": True}), "penalty_per_ton"),
        (json.dumps({**BASE, "offset_cap_bps": 10_001}), "offset_cap_bps"),
        (json.dumps({**BASE, "pollutant": "CH4"}), "unknown pollutant"),
        (json.dumps({**BASE, "surplus": 3}), "surplus"),
        (json.dumps([BASE]), "case"),
    ],
)
def test_load_case_refuses_bad_files_with_a_clear_message(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "case.json"
    path.write_text(content)
    with pytest.raises(ComplianceInputError, match=message):
        load_case(path)


def test_load_case_refuses_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ComplianceInputError, match=r"missing\.json"):
        load_case(tmp_path / "missing.json")


# ---------------------------------------------------------------------- on fresh chains (one Anvil each)


def test_simulate_covers_with_capped_offsets_and_banks_surplus_when_holdings_suffice() -> None:
    c = case(allowances_held=2000, offsets_held=80)  # offsets above the 50 cap, 1,050 allowances spare
    messages: list[str] = []
    result = simulate(c, say=messages.append)
    assert result == reference(c)
    assert result == {"surrendered_allowances": 950, "surrendered_offsets": 50, "shortfall": 0,
                      "penalty_total": 0, "make_good_units": 0, "status": "A"}  # fmt: skip
    assert any("outcome A" in m for m in messages)


def test_simulate_reports_unknown_shortfall_when_no_verified_emissions() -> None:
    c = case(verified_emissions=None)
    assert simulate(c) == {"surrendered_allowances": 0, "surrendered_offsets": 0, "shortfall": None,
                           "penalty_total": None, "make_good_units": None, "status": "C"}  # fmt: skip


def test_simulate_charges_whole_emissions_when_nothing_held() -> None:
    c = case(allowances_held=0, offsets_held=0, verified_emissions=120, penalty_per_ton=7, year=2030)
    assert simulate(c) == {"surrendered_allowances": 0, "surrendered_offsets": 0, "shortfall": 120,
                           "penalty_total": 840, "make_good_units": 120, "status": "B"}  # fmt: skip


# ---------------------------------------------------------------------- several pollutants a year

YEAR_FILE = EXAMPLES / "year-so2-nox.json"
SO2: dict[str, Any] = {"pollutant": "SO2", "verified_emissions": 8000, "allowances_held": 6000,
                       "offsets_held": 0, "offset_cap_bps": 500, "penalty_per_ton": 20_000}  # fmt: skip
NOX: dict[str, Any] = {**SO2, "pollutant": "NOx", "verified_emissions": 3000, "allowances_held": 3500,
                       "offsets_held": 400}  # fmt: skip


def test_load_case_reads_a_year_of_several_obligations_each_of_the_files_year() -> None:
    loaded = load_case(YEAR_FILE)
    assert isinstance(loaded, YearCase)
    assert [(c.pollutant, c.year) for c in loaded.cases] == [("SO2", 2027), ("NOx", 2027)]
    assert [reference(c)["status"] for c in loaded.cases] == ["B", "A"]
    assert isinstance(load_case(EXAMPLES / "case-b.json"), Case)  # today's single-obligation file


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ({"year": 2027, "obligations": []}, "obligations"),
        ({"year": 2027, "obligations": [SO2, {**NOX, "pollutant": "SO2"}]}, "one obligation per pollutant"),
        ({"year": 2027, "obligations": [SO2, {**NOX, "penalty_per_ton": 1}]}, "the year's rules"),
        ({"year": 2027, "obligations": [SO2, {**NOX, "year": 2028}]}, "not the file's year 2027"),
        ({"year": 2027, "obligations": [SO2, {**NOX, "pollutant": "CH4"}]}, "unknown pollutant"),
        ({"year": 2027, "obligations": [SO2], "enterprise": "x"}, "enterprise"),
        ({"obligations": [SO2]}, "year"),
    ],
)
def test_load_case_refuses_bad_years_with_a_clear_message(
    tmp_path: Path, content: dict[str, Any], message: str
) -> None:
    path = tmp_path / "year.json"
    path.write_text(json.dumps(content))
    with pytest.raises(ComplianceInputError, match=message):
        load_case(path)


def test_simulate_year_settles_each_pollutant_as_it_would_alone() -> None:
    """SO2 short (B) and NOx covered with capped offsets (A) for one enterprise on one chain:
    each obligation's result is the rule's and that of the same case simulated alone."""
    year = load_case(YEAR_FILE)
    assert isinstance(year, YearCase)
    messages: list[str] = []
    results = simulate_year(year, say=messages.append)
    assert list(results) == ["SO2", "NOx"]
    assert results["SO2"] == {"surrendered_allowances": 6000, "surrendered_offsets": 0,
                              "shortfall": 2000, "penalty_total": 40_000_000, "make_good_units": 2000,
                              "status": "B"}  # fmt: skip
    assert results["NOx"] == {"surrendered_allowances": 2850, "surrendered_offsets": 150, "shortfall": 0,
                              "penalty_total": 0, "make_good_units": 0, "status": "A"}  # fmt: skip
    for c in year.cases:
        assert results[c.pollutant] == reference(c) == simulate(c)
    assert any("outcome B (SO2)" in m for m in messages) and any("outcome A (NOx)" in m for m in messages)
