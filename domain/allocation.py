"""The allocation planner's maths: the rules, the least-squares trend of annual totals, the cap
proposal, the mixed rule's basis and the largest-remainder (Hamilton) rounding.

The method follows patent CN115239263A (history, tables, plan file and chart: :mod:`chain.allocation`):
the consortium's annual totals are fitted with a least-squares line; the cap of the target year
is the projected (or last-year) total x (1 - reduction rate); the cap is shared out by
grandfathering, benchmark or a weighted mix of both, rounded to whole tonnes by the
largest-remainder method.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final

from domain.errors import AllocationInputError, InvalidInputError

#: An enterprise needs between 3 and 10 years of history.
MIN_YEARS: Final = 3
MAX_YEARS: Final = 10
#: Grandfathering averages each enterprise's most recent years by default.
DEFAULT_BASE_YEARS: Final = 3
#: Default annual reduction applied to the projected total.
DEFAULT_REDUCTION_RATE: Final = 0.02
#: Default weight of grandfathering in the mixed rule.
DEFAULT_WEIGHT: Final = 0.5
_MAX_TOTAL: Final = 1e18  # tCO2; far above any real total, keeps the fit free of overflow


class Rule(StrEnum):
    """Allocation rule."""

    GRANDFATHERING = "grandfathering"
    BENCHMARK = "benchmark"
    MIXED = "mixed"


def as_rule(rule: Rule | str) -> Rule:
    """The :class:`Rule` named by ``rule``.

    Raises:
        InvalidInputError: unknown rule name.
    """
    try:
        return Rule(rule)
    except ValueError:
        known = ", ".join(r.value for r in Rule)
        raise InvalidInputError(f"unknown allocation rule {rule!r}; known: {known}") from None


@dataclass(frozen=True, slots=True)
class Trend:
    """Least-squares line through annual totals.

    Attributes:
        years: the years, ascending.
        totals: the totals (tCO2) of those years.
        slope: tCO2 per year.
        intercept: fitted value at year 0 (so ``intercept + slope * year``).
        r_squared: coefficient of determination (1.0 for a perfect or constant series).
        cagr: compound annual growth rate first -> last year, None if the first total is 0.
        target_year: year projected to, if any.
        projected: fitted value at ``target_year``, if any.
    """

    years: tuple[int, ...]
    totals: tuple[float, ...]
    slope: float
    intercept: float
    r_squared: float
    cagr: float | None
    target_year: int | None = None
    projected: float | None = None

    def predict(self, year: int) -> float:
        """Fitted value at ``year``."""
        return self.intercept + self.slope * year

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        return {
            "years": list(self.years),
            "totals": list(self.totals),
            "slope": self.slope,
            "intercept": self.intercept,
            "r_squared": self.r_squared,
            "cagr": self.cagr,
            "target_year": self.target_year,
            "projected": self.projected,
        }


def trend(years: Sequence[int], totals: Sequence[float], target_year: int | None = None) -> Trend:
    """Fit ``total = intercept + slope * year`` by least squares.

    R² is ``1 - SS_res / SS_tot`` (1.0 when the totals are constant). The compound annual
    growth rate is ``(last / first) ** (1 / (last_year - first_year)) - 1``.

    Args:
        years: distinct years (any order).
        totals: the totals of those years, finite.
        target_year: year to project to (``projected`` in the result).

    Raises:
        InvalidInputError: fewer than two points, repeated years, lengths differ, or a
            non-finite (or absurdly large, > 1e18) total.
    """
    if len(years) != len(totals):
        raise InvalidInputError(f"{len(years)} years but {len(totals)} totals")
    if len(years) < 2:
        raise InvalidInputError("a trend needs at least two years")
    if len(set(years)) != len(years):
        raise InvalidInputError("years must be distinct")
    if not all(math.isfinite(t) and abs(t) <= _MAX_TOTAL for t in totals):
        raise InvalidInputError(f"totals must be finite and at most {_MAX_TOTAL:g} in size")
    pairs = sorted(zip(years, totals, strict=True))
    xs = [float(y) for y, _ in pairs]
    ys = [float(t) for _, t in pairs]
    n = len(xs)
    mean_x = math.fsum(xs) / n
    mean_y = math.fsum(ys) / n
    sxx = math.fsum((x - mean_x) ** 2 for x in xs)
    sxy = math.fsum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True))
    slope = sxy / sxx
    intercept = mean_y - slope * mean_x
    ss_tot = math.fsum((y - mean_y) ** 2 for y in ys)
    ss_res = math.fsum((y - (intercept + slope * x)) ** 2 for x, y in zip(xs, ys, strict=True))
    r_squared = 1.0 if ss_tot == 0 else max(0.0, 1.0 - ss_res / ss_tot)
    first, last = ys[0], ys[-1]
    span = pairs[-1][0] - pairs[0][0]
    cagr: float | None = None
    if first > 0 and last >= 0:
        try:
            cagr = (last / first) ** (1.0 / span) - 1.0
        except OverflowError:
            cagr = None
    projected = intercept + slope * target_year if target_year is not None else None
    return Trend(
        years=tuple(y for y, _ in pairs),
        totals=tuple(ys),
        slope=slope,
        intercept=intercept,
        r_squared=r_squared,
        cagr=cagr,
        target_year=target_year,
        projected=projected,
    )


@dataclass(frozen=True, slots=True)
class CapProposal:
    """A proposed cap and how it was reached.

    Attributes:
        cap: proposed cap, whole tCO2.
        base_t: the total the reduction was applied to.
        basis: ``"projected"`` or ``"last-year"``.
        reduction_rate: fraction removed from the base.
        target_year: the year the cap is for.
        trend: the fitted trend of annual totals (projected to ``target_year``).
    """

    cap: int
    base_t: float
    basis: str
    reduction_rate: float
    target_year: int
    trend: Trend


def check_rate(name: str, value: float) -> float:
    if isinstance(value, bool) or not (math.isfinite(value) and 0.0 <= value <= 1.0):
        raise InvalidInputError(f"{name} must be between 0 and 1, got {value!r}")
    return float(value)


def largest_remainder(total: int, weights: Sequence[float], keys: Sequence[str]) -> list[int]:
    """Share ``total`` units in proportion to ``weights`` by the largest-remainder method.

    Each party first gets the floor of its exact quota ``total * w_i / sum(w)``; the units
    left go one each to the largest remainders, ties broken by ascending key. The arithmetic
    is exact (weights are turned into integers on a common power-of-two scale), so the
    result sums to ``total`` and every share is within 1 of its exact quota.

    Args:
        total: units to share, >= 0.
        weights: non-negative finite weights, not all zero unless ``total`` is 0.
        keys: distinct tie-breaking keys (enterprise ids), same length as ``weights``.

    Raises:
        InvalidInputError: negative total, bad weights, length mismatch or repeated keys.
    """
    if isinstance(total, bool) or not isinstance(total, int) or total < 0:
        raise InvalidInputError(f"total must be a non-negative integer, got {total!r}")
    if len(weights) != len(keys):
        raise InvalidInputError(f"{len(weights)} weights but {len(keys)} keys")
    if len(set(keys)) != len(keys):
        raise InvalidInputError("keys must be distinct")
    ratios = []
    for weight in weights:
        if not (math.isfinite(weight) and weight >= 0):
            raise InvalidInputError(f"weights must be finite and >= 0, got {weight!r}")
        ratios.append(float(weight).as_integer_ratio())  # denominator is a power of two
    if total == 0:
        return [0] * len(weights)
    scale = max((d for _, d in ratios), default=1)
    scaled = [n * (scale // d) for n, d in ratios]
    whole = sum(scaled)
    if whole == 0:
        raise InvalidInputError(f"cannot share {total} units: all weights are zero")
    shares = []
    remainders = []
    for value in scaled:
        quotient, remainder = divmod(total * value, whole)
        shares.append(quotient)
        remainders.append(remainder)
    left = total - sum(shares)
    order = sorted(range(len(shares)), key=lambda i: (-remainders[i], keys[i]))
    for i in order[:left]:
        shares[i] += 1
    return shares


def mixed_basis(
    grandfathering: Mapping[str, float], benchmark: Mapping[str, float], weight: float
) -> dict[str, float]:
    """Weighted mix of the two rules' shares, expressed in tonnes.

    With ``G = sum(g)`` and ``B = sum(b)``::

        basis_e = w * g_e + (1 - w) * b_e * G / B

    so ``basis_e / sum(basis) = w * g_e / G + (1 - w) * b_e / B``: ``w`` is the weight of the
    grandfathering share, and the basis stays on the grandfathering (historical) scale. If
    ``G`` is 0 the benchmark scale is used instead.

    Raises:
        InvalidInputError: bad weight or the two bases name different enterprises.
        AllocationInputError: a rule with a positive weight has an all-zero basis.
    """
    w = check_rate("weight", weight)
    if set(grandfathering) != set(benchmark):
        raise InvalidInputError("grandfathering and benchmark bases cover different enterprises")
    g_total = math.fsum(grandfathering.values())
    b_total = math.fsum(benchmark.values())
    if w > 0 and g_total == 0:
        raise AllocationInputError(["grandfathering basis is zero for every enterprise"])
    if w < 1 and b_total == 0:
        raise AllocationInputError(["benchmark basis is zero for every enterprise"])
    scale = g_total if g_total > 0 else b_total
    result = {}
    for name in sorted(grandfathering):
        g_share = grandfathering[name] / g_total if g_total > 0 else 0.0
        b_share = benchmark[name] / b_total if b_total > 0 else 0.0
        result[name] = (w * g_share + (1 - w) * b_share) * scale
    return result


def cap_from_totals(
    years: Sequence[int],
    totals: Sequence[float],
    target_year: int,
    reduction_rate: float = DEFAULT_REDUCTION_RATE,
    *,
    use_projection: bool = True,
) -> CapProposal:
    """The cap of ``target_year`` from the consortium's annual totals ``T_y`` (``years`` ascending).

    With ``a + b * y`` the least-squares line through the ``T_y``::

        P    = a + b * target_year                       (projected total)
        base = P          if use_projection and P > 0
               T_last     otherwise                      (total of the last year)
        cap  = floor(base * (1 - reduction_rate))

    Raises:
        InvalidInputError: a bad rate, a single year or a target year not after the totals.
    """
    rate = check_rate("reduction_rate", reduction_rate)
    if target_year <= years[-1]:
        raise InvalidInputError(f"target year {target_year} must be after {years[-1]}")
    fitted = trend(years, totals, target_year)
    projected = fitted.projected if fitted.projected is not None else 0.0
    if use_projection and projected > 0:
        base, basis = projected, "projected"
    else:
        base, basis = totals[-1], "last-year"
    cap = math.floor(base * (1.0 - rate))
    return CapProposal(max(cap, 0), base, basis, rate, target_year, fitted)
