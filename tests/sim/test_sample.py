"""Tests of the synthetic consortium generator and its CSV files."""

from __future__ import annotations

import csv
import math
import time
from pathlib import Path

import pytest

from chain.allocation import Benchmarks, energy_co2, load_history, plan
from domain.allocation import trend
from domain.codes import check_industry_code, check_region_code, is_valid_credit_code
from domain.errors import InvalidInputError
from sim.sample import (
    CITIES,
    ENTERPRISE_CSV_COLUMNS,
    SampleConsortium,
    generate_enterprises,
    organisation_code_check_char,
    write_sample,
)


@pytest.fixture(scope="module")
def consortium() -> SampleConsortium:
    return generate_enterprises()


def _mean_emissions(consortium: SampleConsortium) -> list[float]:
    return [sum(h.emissions().values()) / len(h.records) for h in consortium.histories]


def test_generate_enterprises_makes_2162_enterprises_with_ten_years_by_default(
    consortium: SampleConsortium,
) -> None:
    assert len(consortium.enterprises) == 2162
    assert consortium.enterprises[0].enterprise_id == "E0001"
    assert consortium.enterprises[-1].enterprise_id == "E2162"
    assert [e.enterprise_id for e in consortium.enterprises] == [
        h.enterprise_id for h in consortium.histories
    ]
    assert {h.years for h in consortium.histories} == {tuple(range(2017, 2027))}


def test_generate_enterprises_credit_codes_unique_and_valid(consortium: SampleConsortium) -> None:
    codes = [e.credit_code for e in consortium.enterprises]

    assert len(set(codes)) == len(codes)
    for enterprise in consortium.enterprises:
        code = enterprise.credit_code
        assert is_valid_credit_code(code), code
        assert code[:2] == "91"
        assert int(code[2:8]) == enterprise.region_code
        assert organisation_code_check_char(code[8:16]) == code[16]


def test_organisation_code_check_char_matches_gb_11714_example() -> None:
    assert organisation_code_check_char("D2143569") == "X"


def test_generate_enterprises_region_and_industry_codes_valid(consortium: SampleConsortium) -> None:
    cities = {c.code: c for c in CITIES}
    benchmarks = Benchmarks.default()
    for enterprise in consortium.enterprises:
        assert check_region_code(enterprise.region_code) == enterprise.region_code
        assert cities[enterprise.region_code].city == enterprise.city
        assert check_industry_code(enterprise.industry_code) == enterprise.industry_code
        assert benchmarks[enterprise.industry_code].industry == enterprise.industry


def test_cities_table_real_prefecture_codes_unique() -> None:
    codes = [c.code for c in CITIES]

    assert len(set(codes)) == len(codes) >= 60
    assert {110100, 310100, 331000, 440300} <= set(codes)
    assert all(code % 100 == 0 and check_region_code(code) for code in codes)
    assert all(18 <= c.latitude <= 54 and 73 <= c.longitude <= 135 for c in CITIES)


def test_generate_enterprises_coordinates_near_city_centre(consortium: SampleConsortium) -> None:
    cities = {c.code: c for c in CITIES}
    for enterprise in consortium.enterprises:
        city = cities[enterprise.region_code]
        assert abs(enterprise.latitude - city.latitude) <= 0.6 + 1e-9
        assert abs(enterprise.longitude - city.longitude) <= 0.6 + 1e-9


def test_generate_enterprises_names_unique_and_name_the_city(consortium: SampleConsortium) -> None:
    names = [e.name for e in consortium.enterprises]

    assert len(set(names)) == len(names)
    for enterprise in consortium.enterprises:
        assert enterprise.city in enterprise.name
        assert enterprise.name.endswith("Co., Ltd.")


def test_generate_enterprises_emissions_heavy_tailed_top_decile_over_half(
    consortium: SampleConsortium,
) -> None:
    emissions = sorted(_mean_emissions(consortium), reverse=True)
    top = emissions[: len(emissions) // 10]

    assert sum(top) > 0.5 * sum(emissions)
    assert emissions[0] > 20 * emissions[len(emissions) // 2]  # the largest dwarfs the median
    assert {e.size_class for e in consortium.enterprises} == {"very_large", "large", "medium", "small"}


def test_generate_enterprises_reports_missing_for_about_ten_percent(consortium: SampleConsortium) -> None:
    records = [r for h in consortium.histories for r in h.records]
    missing = sum(r.reported_co2_t is None for r in records)

    assert 0.08 < missing / len(records) < 0.12


def test_generate_enterprises_reports_consistent_with_energy(consortium: SampleConsortium) -> None:
    for history in consortium.histories:
        for record in history.records:
            if record.reported_co2_t is not None:
                assert record.reported_co2_t == pytest.approx(energy_co2(record), rel=0.06)


def test_generate_enterprises_intensity_near_benchmark(consortium: SampleConsortium) -> None:
    benchmarks = Benchmarks.default()
    ratios = []
    for history in consortium.histories:
        assert history.industry_code is not None
        latest = history.latest
        assert latest.output_unit == benchmarks[history.industry_code].output_unit
        ratios.append(energy_co2(latest) / latest.output / benchmarks[history.industry_code].intensity)
    ratios.sort()

    assert 0.8 < ratios[len(ratios) // 2] < 1.2


def test_generate_enterprises_emissions_mostly_decline_some_grow(consortium: SampleConsortium) -> None:
    slopes = []
    for history in consortium.histories:
        emissions = history.emissions()
        slopes.append(trend(list(emissions), list(emissions.values())).slope)
    declining = sum(s < 0 for s in slopes) / len(slopes)

    assert 0.55 < declining < 0.95


def test_generate_enterprises_same_output_for_same_seed() -> None:
    first = generate_enterprises(150, 5, seed=7)
    second = generate_enterprises(150, 5, seed=7)
    other = generate_enterprises(150, 5, seed=8)

    assert first == second
    assert first.enterprises != other.enterprises


def test_generate_enterprises_ends_history_at_last_year() -> None:
    result = generate_enterprises(20, 3, last_year=2030)

    assert {h.years for h in result.histories} == {(2028, 2029, 2030)}


@pytest.mark.parametrize(("n", "years"), [(0, 5), (10, 2), (10, 11)])
def test_generate_enterprises_rejects_sizes_when_out_of_range(n: int, years: int) -> None:
    with pytest.raises(InvalidInputError):
        generate_enterprises(n, years)


def test_generate_enterprises_fast_for_default_size() -> None:
    started = time.perf_counter()
    generate_enterprises(seed=99)

    assert time.perf_counter() - started < 2.0


def test_write_sample_round_trips_through_load_history(consortium: SampleConsortium, tmp_path: Path) -> None:
    enterprises_path, history_path = write_sample(consortium, tmp_path / "sample")

    with enterprises_path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert tuple(rows[0]) == ENTERPRISE_CSV_COLUMNS
    assert len(rows) == 2162
    assert rows[0]["name"] == consortium.enterprises[0].name
    assert all(len(r["latitude"].split(".")[1]) == 6 for r in rows)
    loaded = load_history(history_path, rule="mixed")
    assert loaded == list(consortium.histories)
    empty = sum(line.endswith(",") for line in history_path.read_text(encoding="utf-8").splitlines())
    assert math.isclose(empty / 21620, 0.1, abs_tol=0.02)


def test_sample_feeds_plan_with_allocations_summing_to_cap(consortium: SampleConsortium) -> None:
    result = plan(consortium.histories, 2027, "mixed", reduction_rate=0.02, weight=0.6)

    assert result.total == result.cap > 0
    assert result.cap < result.trend.totals[-1]
    assert len(result.entries) == 2162
