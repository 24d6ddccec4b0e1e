"""Allocation of any pollutant against an adopted annual plan: each region's budget (its cap less
its reserve share), each enterprise's demand (its basis less the plan's reduction target, never
above what its permit still allows) and the whole-tonne rounding, with the remainder rule.

The rule, per (pollutant, region) line of the annual plan, with ``BPS = 10,000``::

    reserve_r = floor(cap_r × reserve_share_bps_r / BPS)          (kept for the reserve)
    budget_r  = cap_r − reserve_r − Σ already_e                    (already: allocated earlier, e in r)
    demand_e  = min(basis_e × (BPS − target_bps_e) / BPS, permitted_e) − already_e − bought_e   (≥ 0)

where ``bought_e`` is what the enterprise bought from the government reserve of this vintage: it
holds it within its permit, so it wants that much less; it came out of the reserve's share
(``reserve_r``), not out of the region's budget, which it therefore does not reduce.

    if Σ demand_e ≤ budget_r:   allocation_e = floor(demand_e)
                                (the remainder budget_r − Σ allocation_e stays unallocated: it is
                                neither minted nor handed to anyone, the region's headroom)
    else:                       allocation_e = largest_remainder(budget_r, demand_e)
                                (Σ allocation_e = budget_r exactly; each ≤ ceil(its quota) ≤ demand_e
                                rounded up, so never above the permit, which is whole tonnes)

so per region ``Σ allocation ≤ budget`` (equal when demand covers the budget), every allocation is
a non-negative whole number of tonnes, and none exceeds ``permitted_e − already_e − bought_e``. The basis is
the permitted amount (``basis=permits``) or the average metered emissions of the enterprise's
last years (``basis=history``, :func:`history_basis`). CO2 from energy history stays with
:mod:`domain.allocation`.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from domain.allocation import largest_remainder
from domain.errors import AllocationInputError, InvalidInputError
from domain.plans import BPS, AnnualPlan

#: Years of metered history averaged by default for the history basis.
DEFAULT_HISTORY_YEARS: Final = 3


class Basis(StrEnum):
    """Where an enterprise's basis comes from."""

    PERMITS = "permits"
    HISTORY = "history"


def as_basis(basis: Basis | str) -> Basis:
    """The :class:`Basis` named by ``basis``.

    Raises:
        InvalidInputError: unknown basis name.
    """
    try:
        return Basis(basis)
    except ValueError:
        raise InvalidInputError(f"unknown basis {basis!r}; known: permits, history") from None


@dataclass(frozen=True, slots=True)
class Claimant:
    """An enterprise asking for a share of its region's budget.

    Attributes:
        enterprise: its account (0x address; compared case-insensitively with the plan's targets).
        region: its GB/T 2260 region code.
        basis_t: the basis, t (permitted amount or metered average).
        permitted_t: what its permit allows this year, t; None when the pollutant is not gated.
        already_t: allowances of this vintage already allocated to it, t.
        label: a name for files and messages (enterprise id or credit code); the account if empty.
        reserve_t: allowances of this vintage it bought from the government reserve, t (held within
            its permit like ``already_t``; not taken from the region's budget).
    """

    enterprise: str
    region: int
    basis_t: float
    permitted_t: int | None = None
    already_t: int = 0
    label: str = ""
    reserve_t: int = 0


@dataclass(frozen=True, slots=True)
class Grant:
    """One enterprise's line of a pollutant allocation."""

    enterprise: str
    label: str
    region: int
    basis_t: float
    target_bps: int
    demand_t: float
    permitted_t: int | None
    already_t: int
    allocation: int
    reserve_t: int = 0


@dataclass(frozen=True, slots=True)
class RegionBudget:
    """One region's figures: the plan's cap, the reserve kept, the budget, and what was allocated."""

    region: int
    cap: int
    reserve_share_bps: int
    reserve_t: int
    already_t: int
    budget_t: int
    demand_t: float
    allocated_t: int
    scaled: bool

    @property
    def unallocated_t(self) -> int:
        """The documented remainder: budget left unallocated (0 when the demand was scaled down)."""
        return self.budget_t - self.allocated_t


@dataclass(frozen=True, slots=True)
class PollutantAllocation:
    """An annual plan's allocation of one pollutant: region figures and grants (sorted)."""

    pollutant: int
    year: int
    basis: Basis
    regions: tuple[RegionBudget, ...]
    grants: tuple[Grant, ...]

    @property
    def total(self) -> int:
        """Sum of the allocations."""
        return sum(g.allocation for g in self.grants)


def reserve_of(cap: int, reserve_share_bps: int) -> int:
    """The part of a region's cap kept for the reserve: ``floor(cap × share / 10,000)``."""
    return cap * reserve_share_bps // BPS


def demand_of(claimant: Claimant, target_bps: int) -> float:
    """``min(basis × (1 − target), permitted) − already − bought from the reserve``, never below 0."""
    wanted = claimant.basis_t * (BPS - target_bps) / BPS
    if claimant.permitted_t is not None:
        wanted = min(wanted, float(claimant.permitted_t))
    return max(0.0, wanted - claimant.already_t - claimant.reserve_t)


def history_basis(series: Mapping[int, float], year: int, years: int = DEFAULT_HISTORY_YEARS) -> float:
    """Mean of the last ``years`` years of ``series`` (year -> t) before ``year``; 0 without any.

    Raises:
        InvalidInputError: ``years`` below 1, or a negative or non-finite amount.
    """
    if years < 1:
        raise InvalidInputError(f"history years must be at least 1, got {years}")
    past = sorted((y for y in series if y < year), reverse=True)[:years]
    values = [series[y] for y in past]
    if not all(math.isfinite(v) and v >= 0 for v in values):
        raise InvalidInputError(f"metered amounts must be finite and >= 0, got {values}")
    return math.fsum(values) / len(values) if values else 0.0


def share_region(budget: int, demands: Sequence[float], keys: Sequence[str]) -> tuple[list[int], bool]:
    """Whole-tonne allocations of one region (the module's rule); returns them and whether scaled.

    Raises:
        InvalidInputError: negative budget or demand.
    """
    if budget < 0 or any(not (math.isfinite(d) and d >= 0) for d in demands):
        raise InvalidInputError("budget and demands must be finite and >= 0")
    if math.fsum(demands) <= budget:
        return [math.floor(d) for d in demands], False
    return largest_remainder(budget, demands, keys), True


def line_region(region: int, lines: Collection[int]) -> int | None:
    """The plan line (GB/T 2260 code) an enterprise of ``region`` falls under: its own code, else
    its prefecture's (``xxxx00``), else its province's (``xx0000``), as the reserve's guide price
    is looked up; ``None`` when the plan has none of them."""
    for code in (region, region - region % 100, region - region % 10_000):
        if code in lines:
            return code
    return None


def allocate(
    plan: AnnualPlan, pollutant: int, claimants: Sequence[Claimant], basis: Basis | str
) -> PollutantAllocation:
    """Share ``plan``'s caps of ``pollutant`` among ``claimants`` region by region.

    Args:
        plan: the adopted annual plan (its (pollutant, region) lines and enterprise targets).
        pollutant: pollutant code.
        claimants: one per enterprise, each in a region of the plan's lines of ``pollutant`` (a
            county falls under its prefecture's or province's line: :func:`line_region`).
        basis: what the claimants' bases are (recorded in the result).

    Raises:
        AllocationInputError: the plan has no line of ``pollutant``, an enterprise repeats, its
            region has no line, or a basis is negative or non-finite (every problem listed).
    """
    chosen = as_basis(basis)
    lines = {c.region: c for c in plan.caps if c.pollutant == pollutant}
    problems: list[str] = []
    if not lines:
        problems.append(f"annual plan of {plan.year} has no cap line for pollutant {pollutant}")
    targets = {t.enterprise.lower(): t.target_bps for t in plan.targets if t.pollutant == pollutant}
    seen: set[str] = set()
    for c in claimants:
        name = c.label or c.enterprise
        if c.enterprise.lower() in seen:
            problems.append(f"{name}: listed more than once")
        seen.add(c.enterprise.lower())
        if lines and line_region(c.region, lines) is None:
            problems.append(f"{name}: region {c.region} has no {pollutant} cap in the annual plan")
        if not (math.isfinite(c.basis_t) and c.basis_t >= 0):
            problems.append(f"{name}: basis {c.basis_t!r} must be finite and >= 0")
        if c.already_t < 0 or c.reserve_t < 0 or (c.permitted_t is not None and c.permitted_t < 0):
            problems.append(f"{name}: permitted, already allocated and reserve amounts must be >= 0")
    if problems:
        raise AllocationInputError(problems)
    grants: list[Grant] = []
    regions: list[RegionBudget] = []
    for region in sorted(lines):
        line = lines[region]
        under = (c for c in claimants if line_region(c.region, lines) == region)
        members = sorted(under, key=lambda c: c.enterprise.lower())
        target = [targets.get(c.enterprise.lower(), 0) for c in members]
        demands = [demand_of(c, t) for c, t in zip(members, target, strict=True)]
        reserve = reserve_of(line.cap, line.reserve_share_bps)
        already = sum(c.already_t for c in members)
        budget = max(0, line.cap - reserve - already)
        shares, scaled = share_region(budget, demands, [c.enterprise.lower() for c in members])
        for c, t, d, a in zip(members, target, demands, shares, strict=True):
            grants.append(
                Grant(
                    c.enterprise,
                    c.label or c.enterprise,
                    region,
                    c.basis_t,
                    t,
                    d,
                    c.permitted_t,
                    c.already_t,
                    a,
                    c.reserve_t,
                )
            )
        regions.append(
            RegionBudget(
                region,
                line.cap,
                line.reserve_share_bps,
                reserve,
                already,
                budget,
                math.fsum(demands),
                sum(shares),
                scaled,
            )
        )
    return PollutantAllocation(pollutant, plan.year, chosen, tuple(regions), tuple(grants))
