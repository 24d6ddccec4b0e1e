"""The allocation planner's maths (domain.allocation): the least-squares trend and the
largest-remainder rounding."""

from __future__ import annotations

import math
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.allocation import largest_remainder, trend
from domain.errors import InvalidInputError

weight_lists = st.lists(
    st.floats(min_value=0, max_value=1e12, allow_nan=False, allow_infinity=False),
    min_size=1,
    max_size=40,
).filter(lambda ws: any(w > 0 for w in ws))


def test_trend_fits_exact_line_for_linear_series() -> None:
    fitted = trend([2015, 2016, 2017, 2018, 2019], [10, 12, 14, 16, 18], target_year=2021)

    assert fitted.slope == pytest.approx(2.0)
    assert fitted.predict(2015) == pytest.approx(10.0)
    assert fitted.r_squared == pytest.approx(1.0)
    assert fitted.cagr == pytest.approx((18 / 10) ** (1 / 4) - 1)
    assert fitted.projected == pytest.approx(22.0)


def test_trend_r_squared_matches_hand_computation_for_noisy_series() -> None:
    # x = 0..3, y = 1, 3, 2, 4: slope 0.8, intercept 1.3, SS_res 1.8, SS_tot 5 -> R² 0.64.
    fitted = trend([2022, 2020, 2021, 2023], [2.0, 1.0, 3.0, 4.0])

    assert fitted.years == (2020, 2021, 2022, 2023)
    assert fitted.slope == pytest.approx(0.8)
    assert fitted.predict(2020) == pytest.approx(1.3)
    assert fitted.r_squared == pytest.approx(0.64)
    assert fitted.projected is None


def test_trend_cagr_none_when_first_total_zero() -> None:
    assert trend([2020, 2021, 2022], [0.0, 1.0, 2.0]).cagr is None


@pytest.mark.parametrize(
    ("years", "totals"),
    [([2020], [1.0]), ([2020, 2020], [1.0, 2.0]), ([2020, 2021], [1.0]), ([2020, 2021], [1.0, math.nan])],
)
def test_trend_rejects_input_when_not_fittable(years: list[int], totals: list[float]) -> None:
    with pytest.raises(InvalidInputError):
        trend(years, totals)


def test_largest_remainder_breaks_ties_by_key_when_remainders_equal() -> None:
    assert largest_remainder(1, [1.0, 1.0, 1.0], ["E3", "E1", "E2"]) == [0, 1, 0]
    assert largest_remainder(2, [1.0, 1.0, 1.0], ["E3", "E1", "E2"]) == [0, 1, 1]


def test_largest_remainder_gives_zeros_when_total_zero() -> None:
    assert largest_remainder(0, [0.0, 0.0], ["a", "b"]) == [0, 0]


@pytest.mark.parametrize(
    ("total", "weights", "keys"),
    [
        (5, [0.0, 0.0], ["a", "b"]),
        (-1, [1.0], ["a"]),
        (5, [-1.0, 2.0], ["a", "b"]),
        (5, [1.0, 2.0], ["a", "a"]),
        (5, [1.0], ["a", "b"]),
        (5, [math.inf], ["a"]),
    ],
)
def test_largest_remainder_rejects_input_when_invalid(
    total: int, weights: list[float], keys: list[str]
) -> None:
    with pytest.raises(InvalidInputError):
        largest_remainder(total, weights, keys)


@settings(max_examples=200, deadline=None)
@given(total=st.integers(min_value=0, max_value=10**12), weights=weight_lists)
def test_largest_remainder_sums_exactly_within_one_of_quota_for_any_weights(
    total: int, weights: list[float]
) -> None:
    keys = [f"E{i:03d}" for i in range(len(weights))]

    shares = largest_remainder(total, weights, keys)

    assert sum(shares) == total
    assert all(share >= 0 for share in shares)
    whole = sum(Fraction(w) for w in weights)
    for share, weight in zip(shares, weights, strict=True):
        assert abs(share - Fraction(total) * Fraction(weight) / whole) < 1
    assert largest_remainder(total, weights, keys) == shares
