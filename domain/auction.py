"""Sealed-bid uniform-price auction clearing: the rules in pure Python (the reference the
SealedBidAuction contract is tested against).

The rules (also in the contract's NatSpec and the README):

1. Prices are integers in minor currency units (settlement-cash base units, fen) per allowance;
   quantities are whole allowances. A schedule has up to 16 bids at distinct prices; bids of one
   bidder at the same price are merged, and the schedule is committed in descending price order.
2. A bid is valid iff quantity > 0 and price >= reserve; invalid bids neither win nor count.
3. Purchase limit, per bidder, before clearing: from the highest price down, accept up to the
   limit, cut the bid that crosses it, drop the rest. What remains is the bidder's *demand*.
4. ``lowest_accepted``: no demand → no sale; demand below supply → every bid filled at the
   reserve; otherwise P = the highest price such that demand at prices >= P reaches the supply.
5. ``highest_rejected``: same allocation; the price is the highest bid price not fully filled
   (P when bids at P are cut, else the highest bid below P), or the reserve if none.
6. Ties at P: R = supply − demand above P, Q = demand at P; tied bidder i gets
   floor(R × q_i / Q); the leftover units go one each to tied bidders in commitment order.
7. Everyone pays the same price × allocation.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from domain.errors import AuctionInputError
from domain.units import UINT64_MAX, check_uint

MAX_BIDS = 16


#: A bid schedule: (price, quantity) pairs, prices strictly descending.
Schedule = tuple[tuple[int, int], ...]


class PriceRule(enum.IntEnum):
    """How the uniform price is set (the contract's ``PriceRule``)."""

    LOWEST_ACCEPTED = 0
    HIGHEST_REJECTED = 1

    @classmethod
    def parse(cls, value: str | int | PriceRule) -> PriceRule:
        """``"lowest_accepted"``/``"highest_rejected"`` (any case, ``-`` or ``_``) or 0/1.

        Raises:
            AuctionInputError: anything else.
        """
        if isinstance(value, int):
            try:
                return cls(value)
            except ValueError:
                raise AuctionInputError(f"unknown price rule {value}") from None
        key = str(value).strip().upper().replace("-", "_")
        if key not in cls.__members__:
            raise AuctionInputError(f"unknown price rule {value!r} (lowest_accepted or highest_rejected)")
        return cls[key]

    @property
    def label(self) -> str:
        return self.name.lower()


def normalize_schedule(bids: Iterable[tuple[int, int]]) -> Schedule:
    """A bidder's bids as a committable schedule: same prices merged, descending prices.

    Raises:
        AuctionInputError: a price or quantity not in 0..2^64-1, no bids, or more than 16 prices.
    """
    merged: dict[int, int] = {}
    for price, quantity in bids:
        p = check_uint(price, "price", UINT64_MAX, AuctionInputError)
        quantity = check_uint(quantity, "quantity", UINT64_MAX, AuctionInputError)
        merged[p] = check_uint(merged.get(p, 0) + quantity, "merged quantity", UINT64_MAX, AuctionInputError)
    if not merged:
        raise AuctionInputError("a bid schedule needs at least one bid")
    if len(merged) > MAX_BIDS:
        raise AuctionInputError(f"a bid schedule has at most {MAX_BIDS} prices, got {len(merged)}")
    return tuple(sorted(merged.items(), reverse=True))


def apply_rules(schedule: Schedule, reserve_price: int, purchase_limit: int | None = None) -> Schedule:
    """Rules 2 and 3: the bidder's demand, from its committed schedule (descending prices)."""
    remaining = purchase_limit if purchase_limit else None
    kept: list[tuple[int, int]] = []
    for price, quantity in schedule:
        if remaining == 0 or price < reserve_price:
            break
        if quantity == 0:
            continue
        take = quantity if remaining is None else min(quantity, remaining)
        if remaining is not None:
            remaining -= take
        kept.append((price, take))
    return tuple(kept)


def schedule_value(demand: Schedule) -> int:
    """Σ price × quantity: the guarantee a demand needs."""
    return sum(p * q for p, q in demand)


@dataclass(frozen=True)
class ClearingClaim:
    """What is submitted on-chain: allocation price, demand above it, demand at it."""

    price: int
    demand_above: int
    demand_at: int

    def as_tuple(self) -> tuple[int, int, int]:
        return (self.price, self.demand_above, self.demand_at)


@dataclass(frozen=True)
class ClearingResult:
    """The outcome of an auction under the rules.

    Attributes:
        claim: the clearing to submit on-chain.
        clearing_price: the uniform price paid; ``None`` when nothing is sold.
        allocation_price: P of rule 4 (the lowest accepted price); ``None`` when nothing is sold.
        allocations: allowances won per bidder (every revealed bidder, 0 for losers).
        payments: clearing price × allocation per bidder.
        sold, unsold: allowances sold and left (unsold return to the seller or the cap).
        demand: each bidder's demand after rules 2 and 3.
    """

    claim: ClearingClaim
    clearing_price: int | None
    allocation_price: int | None
    allocations: dict[str, int]
    payments: dict[str, int]
    sold: int
    unsold: int
    demand: dict[str, Schedule] = field(repr=False)


def clear(
    supply: int,
    reserve_price: int,
    schedules: Sequence[tuple[str, Schedule]],
    *,
    purchase_limit: int | None = None,
    price_rule: PriceRule = PriceRule.LOWEST_ACCEPTED,
) -> ClearingResult:
    """Clear an auction: the reference implementation of the rules.

    Args:
        supply: allowances offered (> 0).
        reserve_price: minimum price (> 0).
        schedules: (bidder, schedule) of every *revealed* bidder, in commitment order; a
            schedule as :func:`normalize_schedule` returns it.
        purchase_limit: most allowances one bidder may win; ``None`` or 0 for no limit.
        price_rule: the price rule.

    Raises:
        AuctionInputError: zero supply or reserve, or a bidder listed twice.
    """
    if supply <= 0:
        raise AuctionInputError("supply must be positive")
    if reserve_price <= 0:
        raise AuctionInputError("reserve price must be positive")
    order = [bidder for bidder, _ in schedules]
    if len(set(order)) != len(order):
        raise AuctionInputError("a bidder is listed twice: merge its bids into one schedule")
    demand = {b: apply_rules(s, reserve_price, purchase_limit) for b, s in schedules}
    totals = {b: sum(q for _, q in d) for b, d in demand.items()}
    total = sum(totals.values())

    def outcome(claim: ClearingClaim, price: int | None, alloc_price: int | None,
                allocations: dict[str, int]) -> ClearingResult:  # fmt: skip
        sold = sum(allocations.values())
        payments = {b: (price or 0) * q for b, q in allocations.items()}
        return ClearingResult(claim, price, alloc_price, allocations, payments, sold, supply - sold, demand)

    if total == 0:
        return outcome(ClearingClaim(0, 0, 0), None, None, dict.fromkeys(order, 0))
    if total < supply:
        return outcome(ClearingClaim(reserve_price, total, 0), reserve_price, reserve_price, totals)

    # Rule 4: walk the price levels from the top until the demand reaches the supply.
    levels: dict[int, int] = {}
    for d in demand.values():
        for price, quantity in d:
            levels[price] = levels.get(price, 0) + quantity
    above = 0
    for level in sorted(levels, reverse=True):
        if above + levels[level] >= supply:
            p = level
            break
        above += levels[level]
    at = levels[p]
    rest = supply - above

    allocations: dict[str, int] = {}
    tied: list[str] = []
    for bidder in order:
        mine_above = sum(q for price, q in demand[bidder] if price > p)
        mine_at = sum(q for price, q in demand[bidder] if price == p)
        allocations[bidder] = mine_above
        if mine_at:
            allocations[bidder] += rest * mine_at // at
            tied.append(bidder)
    leftover = supply - sum(allocations.values())
    for bidder in tied[:leftover]:  # rule 6: one each, in commitment order
        allocations[bidder] += 1

    price = p
    if price_rule is PriceRule.HIGHEST_REJECTED and above + at == supply:
        below = [level for level in levels if level < p]
        price = max(below) if below else reserve_price
    return outcome(ClearingClaim(p, above, at), price, p, allocations)
