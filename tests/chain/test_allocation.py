"""Tests of the allocation planner: emissions, trend, cap, rules, apportionment and plan files."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chain.allocation import (
    CARRIER_COLUMNS,
    HISTORY_COLUMNS,
    PLAN_MARKER,
    Adjustments,
    AllocationInputError,
    AllocationPlan,
    Benchmark,
    Benchmarks,
    EmissionFactors,
    EnterpriseHistory,
    YearRecord,
    energy_co2,
    load_history,
    plan,
    propose_cap,
    record_co2,
    render_trend_chart,
)
from domain.allocation import Rule
from domain.errors import DomainError, InvalidInputError

BENCHMARKS = Benchmarks.from_entries(
    [
        Benchmark("D4411", "Thermal power generation", "MWh", 0.8),
        Benchmark("C3011", "Cement manufacturing", "t clinker", 0.9),
    ]
)
UNITS = {"D4411": "MWh", "C3011": "t clinker"}


def _record(
    enterprise: str,
    year: int,
    *,
    reported: float | None = None,
    coal: float = 0.0,
    output: float = 1000.0,
    unit: str = "MWh",
) -> YearRecord:
    return YearRecord(enterprise, year, coal, 0.0, 0.0, 0.0, 0.0, output, unit, reported)


def _history(
    enterprise: str,
    emissions: dict[int, float],
    *,
    industry: str = "D4411",
    region: int = 110100,
    output: float = 1000.0,
) -> EnterpriseHistory:
    records = tuple(
        _record(enterprise, year, reported=value, output=output, unit=UNITS[industry])
        for year, value in emissions.items()
    )
    return EnterpriseHistory(enterprise, records, region, industry)


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


HEADER = ",".join(HISTORY_COLUMNS)


# --------------------------------------------------------------------------- emissions


def test_energy_co2_sums_quantity_times_factor_for_every_carrier() -> None:
    factors = EmissionFactors.from_values(
        {"coal": 2.0, "natural_gas": 3.0, "oil": 5.0, "electricity": 7.0, "heat": 11.0}
    )
    record = YearRecord("E1", 2020, 1.0, 2.0, 3.0, 4.0, 5.0, 10.0, "MWh", None)

    assert energy_co2(record, factors) == 2 * 1 + 3 * 2 + 5 * 3 + 7 * 4 + 11 * 5


def test_record_co2_prefers_reported_when_present() -> None:
    assert record_co2(_record("E1", 2020, reported=42.0, coal=1000.0)) == 42.0


def test_record_co2_falls_back_to_energy_when_report_missing() -> None:
    record = _record("E1", 2020, coal=100.0)

    assert record_co2(record) == pytest.approx(100.0 * EmissionFactors.default()["coal"])


def test_emission_factors_default_lists_every_carrier_with_source() -> None:
    table = EmissionFactors.default()

    assert set(table.factors) == set(CARRIER_COLUMNS)
    assert table["electricity"] == 0.5703
    assert table["heat"] == 0.11
    assert all(item.source for item in table.factors.values())


def test_benchmarks_default_covers_the_sample_sectors_with_sources() -> None:
    table = Benchmarks.default()

    for code in ("D4411", "C3110", "C3120", "C3011", "C2511", "C2614", "C2211", "C2221"):
        assert code in table
    for code in ("C3216", "C3041", "G5611"):
        assert table[code].source and table[code].intensity > 0


def test_emission_factors_load_reports_bad_rows_with_line_numbers(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "factors.csv",
        [
            "# comment",
            "carrier,unit,factor_tco2_per_unit,source",
            "coal,t,-1,x",
            "natural_gas,m3,2.1,x",
            "oil,t,3.2,x",
            "electricity,MWh,0.57,x",
            "peat,t,1.0,x",
        ],
    )

    with pytest.raises(AllocationInputError) as info:
        EmissionFactors.load(path)

    message = str(info.value)
    assert "line 3: factor_tco2_per_unit '-1' is negative" in message
    assert "line 4: unit of natural_gas" in message
    assert "line 7: unknown energy carrier 'peat'" in message
    assert "no row for carrier 'heat'" in message


# --------------------------------------------------------------------------- trend and cap


def test_propose_cap_reduces_projection_when_projection_positive() -> None:
    history = [
        _history("E1", {2020: 100.0, 2021: 110.0, 2022: 120.0}),
        _history("E2", {2020: 200.0, 2021: 210.0, 2022: 220.0}),
    ]

    proposal = propose_cap(history, 2024, 0.1)

    # totals 300, 320, 340 -> projected 380 for 2024; 380 x 0.9 = 342.
    assert proposal.basis == "projected"
    assert proposal.base_t == pytest.approx(380.0)
    assert proposal.cap == 342
    assert proposal.trend.totals == (300.0, 320.0, 340.0)


def test_propose_cap_uses_last_year_when_projection_not_positive() -> None:
    history = [_history("E1", {2020: 300.0, 2021: 150.0, 2022: 10.0})]

    proposal = propose_cap(history, 2025, 0.5)

    assert proposal.basis == "last-year"
    assert proposal.cap == 5


def test_propose_cap_rejects_target_year_when_not_after_history() -> None:
    history = [_history("E1", {2020: 1.0, 2021: 2.0, 2022: 3.0})]

    with pytest.raises(InvalidInputError, match="after 2022"):
        propose_cap(history, 2022, 0.02)


# --------------------------------------------------------------------------- apportionment


# --------------------------------------------------------------------------- rules


def test_benchmark_rule_matches_hand_computation_with_adjustments() -> None:
    years = {2021: 1.0, 2022: 1.0, 2023: 1.0}
    history = [
        _history("E1", years, industry="D4411", region=330100, output=1000.0),
        _history("E2", years, industry="C3011", region=331000, output=500.0),
        _history("E3", years, industry="D4411", region=110100, output=250.0),
    ]
    adjustments = Adjustments(region={330000: 1.1, 330100: 1.0}, early_action={"E3": 1.2})

    result = plan(history, 2024, "benchmark", cap=1000, benchmarks=BENCHMARKS, adjustments=adjustments)

    # bases: 0.8 x 1000 = 800; 0.9 x 500 x 1.1 (Zhejiang) = 495; 0.8 x 250 x 1.2 = 240.
    # quotas of 1000: 521.17, 322.48, 156.35 -> floors 521, 322, 156; the one unit left
    # goes to the largest remainder (E2).
    assert [e.basis_t for e in result.entries] == pytest.approx([800.0, 495.0, 240.0])
    assert result.allocations() == {"E1": 521, "E2": 323, "E3": 156}
    assert result.entries[0].share == pytest.approx(800 / 1535)
    assert result.rule is Rule.BENCHMARK
    assert result.weight is None


def test_grandfathering_rule_averages_last_three_years_by_default() -> None:
    history = [
        _history("E1", {2019: 100.0, 2020: 200.0, 2021: 300.0, 2022: 400.0, 2023: 500.0}),
        _history("E2", {2021: 100.0, 2022: 100.0, 2023: 100.0}),
    ]

    result = plan(history, 2024, Rule.GRANDFATHERING, cap=1000)

    assert [e.basis_t for e in result.entries] == pytest.approx([400.0, 100.0])
    assert result.allocations() == {"E1": 800, "E2": 200}


def test_grandfathering_rule_raises_when_enterprise_lacks_base_years() -> None:
    history = [
        _history("E1", {2019: 1.0, 2020: 2.0, 2021: 3.0}),
        _history("E2", {2021: 1.0, 2022: 1.0, 2023: 1.0}),
    ]

    with pytest.raises(AllocationInputError, match="E2 has none of the base years"):
        plan(history, 2024, "grandfathering", cap=10, base_years=(2019, 2020))


def test_mixed_rule_weights_each_rules_shares_when_scales_differ() -> None:
    # grandfathering shares 3/4, 1/4; benchmark shares 1/4, 3/4 (benchmark tonnes 10x smaller).
    years_1 = {2021: 300.0, 2022: 300.0, 2023: 300.0}
    years_2 = {2021: 100.0, 2022: 100.0, 2023: 100.0}
    history = [
        _history("E1", years_1, output=25.0),
        _history("E2", years_2, output=75.0),
    ]

    even = plan(history, 2024, "mixed", weight=0.5, cap=1000, benchmarks=BENCHMARKS)
    mostly_history = plan(history, 2024, "mixed", weight=0.9, cap=1000, benchmarks=BENCHMARKS)

    assert even.allocations() == {"E1": 500, "E2": 500}
    assert mostly_history.allocations() == {"E1": 700, "E2": 300}
    assert sum(e.basis_t for e in even.entries) == pytest.approx(400.0)
    assert even.weight == 0.5


def test_benchmark_rule_lists_every_enterprise_when_industry_unusable() -> None:
    years = {2021: 1.0, 2022: 1.0, 2023: 1.0}
    history = [
        EnterpriseHistory("E1", _history("E1", years).records, 110100, None),
        EnterpriseHistory("E2", _history("E2", years).records, 110100, "C9999"),
        _history("E3", years),
    ]

    with pytest.raises(AllocationInputError) as info:
        plan(history, 2024, "benchmark", cap=10, benchmarks=BENCHMARKS)

    assert "E1 has no industry code" in str(info.value)
    assert "E2: unknown industry 'C9999'" in str(info.value)
    assert len(info.value.problems) == 2


def test_plan_cap_argument_overrides_proposed_cap() -> None:
    history = [_history("E1", {2021: 10.0, 2022: 10.0, 2023: 10.0})]

    result = plan(history, 2024, "grandfathering", reduction_rate=0.5, cap=77)

    assert result.proposed_cap == 5
    assert result.cap == 77
    assert result.total == 77


@pytest.mark.parametrize(
    "kwargs",
    [{"rule": "auction"}, {"weight": 1.5}, {"reduction_rate": -0.1}, {"cap": -3}, {"cap": 2.5}],
)
def test_plan_rejects_parameters_when_out_of_range(kwargs: dict[str, object]) -> None:
    history = [_history("E1", {2021: 10.0, 2022: 10.0, 2023: 10.0})]
    arguments: dict[str, object] = {"rule": "mixed", **kwargs}

    with pytest.raises(InvalidInputError):
        plan(history, 2024, **arguments)  # type: ignore[arg-type]


industries = st.sampled_from(["D4411", "C3011"])


@st.composite
def histories(draw: st.DrawFn) -> list[EnterpriseHistory]:
    count = draw(st.integers(min_value=1, max_value=8))
    first = draw(st.integers(min_value=2015, max_value=2018))
    span = draw(st.integers(min_value=3, max_value=6))
    result = []
    for i in range(count):
        industry = draw(industries)
        values = draw(
            st.lists(
                st.floats(min_value=1.0, max_value=1e8, allow_nan=False),
                min_size=span,
                max_size=span,
            )
        )
        output = draw(st.floats(min_value=1.0, max_value=1e7, allow_nan=False))
        emissions = dict(zip(range(first, first + span), values, strict=True))
        result.append(_history(f"E{i:02d}", emissions, industry=industry, output=output))
    return result


@settings(max_examples=60, deadline=None)
@given(
    history=histories(),
    rule=st.sampled_from(list(Rule)),
    weight=st.floats(min_value=0, max_value=1),
    rate=st.floats(min_value=0, max_value=0.5),
    cap=st.none() | st.integers(min_value=0, max_value=10**10),
)
def test_plan_allocations_sum_to_cap_non_negative_and_deterministic_for_any_history(
    history: list[EnterpriseHistory], rule: Rule, weight: float, rate: float, cap: int | None
) -> None:
    target = max(history[0].years) + 1

    first = plan(history, target, rule, rate, weight, cap, benchmarks=BENCHMARKS)
    second = plan(list(reversed(history)), target, rule, rate, weight, cap, benchmarks=BENCHMARKS)

    assert first.total == first.cap
    assert cap is None or first.cap == cap
    assert all(e.allocation >= 0 for e in first.entries)
    assert first == second
    for entry in first.entries:
        assert abs(entry.allocation - entry.share * first.cap) <= 1 + 1e-9 * first.cap


# --------------------------------------------------------------------------- history files


def test_load_history_reports_every_bad_row_with_line_number_when_several_rows_malformed(
    tmp_path: Path,
) -> None:
    path = _write(
        tmp_path / "history.csv",
        [
            HEADER,
            "E1,2020,100,0,0,0,0,1000,MWh,",
            "E1,2021,-5,0,0,0,0,1000,MWh,",
            "E1,2022,100,0,abc,0,0,1000,MWh,",
            "E1,2023,100,0,0,0,0,1000,MWh",
            "E1,2020,100,0,0,0,0,1000,MWh,",
            "E2,2020,1,0,0,0,0,10,MWh,5",
            "E2,2021,1,0,0,0,0,10,MWh,5",
        ],
    )

    with pytest.raises(AllocationInputError) as info:
        load_history(path)

    problems = info.value.problems
    assert len(problems) == 5
    assert "history.csv line 3: coal_t '-5' is negative" in problems
    assert "history.csv line 4: oil_t 'abc' is not a number" in problems
    assert "history.csv line 5: expected 10 fields, got 9" in problems
    assert "history.csv line 6: duplicate enterprise-year E1 2020 (first at line 2)" in problems
    assert "history.csv lines 7, 8: enterprise E2 has 2 year(s), needs 3 to 10" in problems
    assert isinstance(info.value, DomainError) and isinstance(info.value, ValueError)


def test_load_history_reports_missing_columns_on_header_line(tmp_path: Path) -> None:
    path = _write(tmp_path / "history.csv", ["# exported", "enterprise_id,year,coal_t", "E1,2020,1"])

    with pytest.raises(AllocationInputError, match=r"line 2: missing column\(s\) natural_gas_km3"):
        load_history(path)


def test_load_history_reports_more_than_ten_years_and_unit_changes(tmp_path: Path) -> None:
    rows = [f"E1,{year},1,0,0,0,0,10,MWh,1" for year in range(2010, 2021)]
    rows[3] = "E1,2013,1,0,0,0,0,10,t clinker,1"
    path = _write(tmp_path / "history.csv", [HEADER, *rows])

    with pytest.raises(AllocationInputError) as info:
        load_history(path)

    message = str(info.value)
    assert "line 5: output_unit 't clinker' of E1 differs from 'MWh' at line 2" in message
    assert "enterprise E1 has 11 year(s), needs 3 to 10" in message


def _enterprises(path: Path, rows: list[str]) -> Path:
    return _write(path, ["enterprise_id,credit_code,region_code,industry_code", *rows])


def test_load_history_reports_unknown_industry_when_benchmark_rule(tmp_path: Path) -> None:
    _enterprises(
        tmp_path / "enterprises.csv",
        ["E1,91350100M000100Y43,350100,D4411", "E2,91350100M000100Y43,350100,C1311"],
    )
    rows = [f"{e},{y},1,0,0,0,0,10,MWh," for e in ("E1", "E2") for y in (2020, 2021, 2022)]
    path = _write(tmp_path / "history.csv", [HEADER, *rows])

    with pytest.raises(AllocationInputError) as info:
        load_history(path, rule="benchmark")

    assert info.value.problems == (
        "enterprises.csv line 3: unknown industry 'C1311' of E2 (no benchmark), needed by the benchmark rule",
    )
    loaded = load_history(path, rule="grandfathering")
    assert [(h.enterprise_id, h.region_code, h.industry_code) for h in loaded] == [
        ("E1", 350100, "D4411"),
        ("E2", 350100, "C1311"),
    ]


def test_load_history_reports_bad_enterprise_rows_and_unlisted_enterprises(tmp_path: Path) -> None:
    enterprises = _enterprises(
        tmp_path / "firms.csv",
        ["E1,91350100M000100Y44,99,D4411", "E1,91350100M000100Y43,350100,4411"],
    )
    rows = [f"{e},{y},1,0,0,0,0,10,MWh," for e in ("E1", "E9") for y in (2020, 2021, 2022)]
    path = _write(tmp_path / "history.csv", [HEADER, *rows])

    with pytest.raises(AllocationInputError) as info:
        load_history(path, enterprises_path=enterprises)

    message = str(info.value)
    assert "firms.csv line 2: region code 99 is not a 6-digit GB/T 2260 code" in message
    assert "firms.csv line 2: credit_code '91350100M000100Y44' is not a valid" in message
    assert "firms.csv line 3: duplicate enterprise E1 (first at line 2)" in message
    assert "history.csv line 5: enterprise E9 is not in firms.csv" in message


def test_load_history_uses_energy_when_report_empty(tmp_path: Path) -> None:
    rows = ["E1,2020,10,0,0,0,0,10,MWh,", "E1,2021,10,0,0,0,0,10,MWh,7.5", "E1,2022,10,0,0,0,0,10,MWh,"]
    path = _write(tmp_path / "history.csv", [HEADER, *rows])

    (history,) = load_history(path)

    assert history.region_code is None and history.industry_code is None
    coal = EmissionFactors.default()["coal"]
    assert history.emissions() == pytest.approx({2020: 10 * coal, 2021: 7.5, 2022: 10 * coal})


# --------------------------------------------------------------------------- plan files


def _sample_plan() -> AllocationPlan:
    history = [
        _history("E1", {2021: 120.0, 2022: 110.0, 2023: 100.0}, output=100.0),
        _history("E2", {2021: 60.0, 2022: 61.0, 2023: 62.0}, industry="C3011", output=70.0),
        _history("E3", {2021: 5.0, 2022: 5.5, 2023: 6.0}, output=8.0),
    ]
    return plan(history, 2024, "mixed", 0.03, 0.7, benchmarks=BENCHMARKS)


def test_plan_write_csv_round_trips_through_read_csv(tmp_path: Path) -> None:
    original = _sample_plan()

    path = original.write_csv(tmp_path / "plan.csv")

    assert path.read_text(encoding="utf-8").startswith(PLAN_MARKER)
    assert path.read_text(encoding="utf-8").splitlines()[1] == "enterprise_id,allocation,share,basis_t"
    assert AllocationPlan.read_csv(path) == original


def test_plan_read_csv_reports_bad_rows_with_line_numbers(tmp_path: Path) -> None:
    meta = _sample_plan().metadata() | {"cap": 100}
    path = _write(
        tmp_path / "plan.csv",
        [
            PLAN_MARKER + json.dumps(meta),
            "enterprise_id,allocation,share,basis_t",
            "E1,60,0.6,60.0",
            "E2,-1,0.3,30.0",
            "E3,ten,0.1,10.0",
            "E1,40,0.4,40.0",
            "E4,5,0.9,1.0",
        ],
    )

    with pytest.raises(AllocationInputError) as info:
        AllocationPlan.read_csv(path)

    message = str(info.value)
    assert "plan.csv line 4: allocation '-1' is not a non-negative integer" in message
    assert "plan.csv line 5: allocation 'ten' is not a non-negative integer" in message
    assert "plan.csv line 6: duplicate enterprise E1 (first at line 3)" in message
    assert "plan.csv line 7: allocation 5 is more than 1 from share x cap = 90.000" in message


def test_plan_read_csv_reports_sum_differing_from_cap(tmp_path: Path) -> None:
    path = _sample_plan().write_csv(tmp_path / "plan.csv")
    lines = path.read_text(encoding="utf-8").splitlines()
    meta = json.loads(lines[0][len(PLAN_MARKER) :])
    lines[0] = PLAN_MARKER + json.dumps(meta | {"cap": meta["cap"] + 1})
    _write(path, lines)

    with pytest.raises(AllocationInputError, match=r"allocations sum to \d+, cap \(line 1\) is \d+"):
        AllocationPlan.read_csv(path)


def test_plan_read_csv_reports_bad_metadata_on_line_one(tmp_path: Path) -> None:
    path = _write(tmp_path / "plan.csv", ["enterprise_id,allocation,share,basis_t", "E1,1,1.0,1.0"])

    with pytest.raises(
        AllocationInputError, match=re.escape("plan.csv line 1: expected a '# ets-allocation-plan")
    ):
        AllocationPlan.read_csv(path)


# --------------------------------------------------------------------------- chart


def test_render_trend_chart_writes_png_for_plan_and_trend(tmp_path: Path) -> None:
    result = _sample_plan()

    from_plan = render_trend_chart(result, tmp_path / "plan.png")
    from_trend = render_trend_chart(result.trend, tmp_path / "trend.png", cap=150)

    for path in (from_plan, from_trend):
        data = path.read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n")
        assert len(data) > 10_000
