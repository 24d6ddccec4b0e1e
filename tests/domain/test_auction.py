"""The clearing rules in pure Python (domain.auction.clear) against worked examples and an
independent unit-by-unit implementation."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.auction import PriceRule, Schedule, apply_rules, clear, normalize_schedule
from domain.errors import AuctionInputError

LOW, HIGH = PriceRule.LOWEST_ACCEPTED, PriceRule.HIGHEST_REJECTED


def test_clear_fills_highest_bids_at_lowest_accepted_price_when_oversubscribed() -> None:
    result = clear(100, 5000, [("a", ((7000, 30), (6000, 40))), ("b", ((6500, 50),)), ("c", ((6000, 20),))])
    # 30 + 50 above 6000, 60 at 6000 for the 20 left: a gets 20*40//60 = 13, c 20*20//60 = 6, leftover 1 → a.
    assert result.clearing_price == 6000
    assert result.allocations == {"a": 30 + 14, "b": 50, "c": 6}
    assert result.claim.as_tuple() == (6000, 80, 60)
    assert result.payments == {"a": 44 * 6000, "b": 50 * 6000, "c": 6 * 6000}
    assert (result.sold, result.unsold) == (100, 0)


def test_clear_applies_purchase_limit_before_clearing_cutting_the_crossing_bid() -> None:
    schedules: list[tuple[str, Schedule]] = [
        ("a", ((7000, 30), (6000, 40))), ("b", ((6500, 50),)), ("c", ((6000, 20), (5000, 100))),
    ]  # fmt: skip
    result = clear(100, 5000, schedules, purchase_limit=60)
    assert result.demand["a"] == ((7000, 30), (6000, 30))
    assert result.demand["c"] == ((6000, 20), (5000, 40))
    assert result.allocations == {"a": 42, "b": 50, "c": 8}


def test_clear_sells_everything_at_reserve_when_demand_below_supply() -> None:
    result = clear(100, 5000, [("a", ((9000, 30),)), ("b", ((4000, 50),)), ("c", ((5000, 20),))])
    assert result.clearing_price == 5000
    assert result.allocations == {"a": 30, "b": 0, "c": 20}
    assert (result.sold, result.unsold) == (50, 50)
    assert result.claim.as_tuple() == (5000, 50, 0)


def test_clear_declares_no_sale_without_valid_demand() -> None:
    result = clear(100, 5000, [("a", ((4999, 30),)), ("b", ((6000, 0),))])
    assert result.clearing_price is None
    assert result.allocations == {"a": 0, "b": 0}
    assert result.claim.as_tuple() == (0, 0, 0)
    assert result.unsold == 100


def test_clear_highest_rejected_prices_at_highest_bid_not_fully_filled() -> None:
    schedules: list[tuple[str, Schedule]] = [("a", ((8000, 60),)), ("b", ((7000, 40),)), ("c", ((6000, 50),))]
    low, high = clear(100, 5000, schedules), clear(100, 5000, schedules, price_rule=HIGH)
    assert low.allocations == high.allocations == {"a": 60, "b": 40, "c": 0}
    assert low.clearing_price == 7000  # lowest accepted
    assert high.clearing_price == 6000  # highest rejected
    # Demand exactly equal to supply: nothing rejected → reserve.
    exact = clear(100, 5000, [("a", ((8000, 60),)), ("b", ((7000, 40),))], price_rule=HIGH)
    assert exact.clearing_price == 5000
    # A partially filled tie is the highest bid not fully filled.
    tie = clear(100, 5000, [("a", ((8000, 60),)), ("b", ((7000, 50),))], price_rule=HIGH)
    assert tie.clearing_price == 7000 and tie.allocations == {"a": 60, "b": 40}


def test_clear_gives_leftover_units_in_commitment_order() -> None:
    # R = 10 over three tied bidders of 10 each: 3 each, leftover 1 to the first committed.
    result = clear(10, 100, [("z", ((500, 10),)), ("y", ((500, 10),)), ("x", ((500, 10),))])
    assert result.allocations == {"z": 4, "y": 3, "x": 3}


def test_clear_refuses_bad_inputs() -> None:
    with pytest.raises(AuctionInputError, match="supply"):
        clear(0, 1, [])
    with pytest.raises(AuctionInputError, match="reserve"):
        clear(1, 0, [])
    with pytest.raises(AuctionInputError, match="twice"):
        clear(1, 1, [("a", ((5, 1),)), ("a", ((4, 1),))])


def test_normalize_schedule_merges_and_sorts_and_refuses_bad_bids() -> None:
    assert normalize_schedule([(5, 1), (7, 2), (5, 3)]) == ((7, 2), (5, 4))
    with pytest.raises(AuctionInputError, match="at most 16"):
        normalize_schedule([(p, 1) for p in range(1, 18)])
    with pytest.raises(AuctionInputError, match="price"):
        normalize_schedule([(-1, 1)])
    with pytest.raises(AuctionInputError, match="quantity"):
        normalize_schedule([(5, 2**64)])
    with pytest.raises(AuctionInputError, match="at least one"):
        normalize_schedule([])


# ---------------------------------------------------------------------- against a unit-by-unit model


def _unit_model(supply: int, reserve: int, limit: int | None, schedules: list[tuple[str, Schedule]],
                rule: PriceRule) -> tuple[int | None, dict[str, int]]:  # fmt: skip
    """Independent model: expand every bid into single units, sort by price, and fill."""
    demand = {b: apply_rules(s, reserve, limit) for b, s in schedules}
    units = [(p, b) for b, d in demand.items() for p, q in d for _ in range(q)]
    units.sort(key=lambda u: -u[0])
    alloc = dict.fromkeys(demand, 0)
    if not units:
        return None, alloc
    if len(units) < supply:
        for _, b in units:
            alloc[b] += 1
        return reserve, alloc
    p = units[supply - 1][0]
    above = [u for u in units if u[0] > p]
    for _, b in above:
        alloc[b] += 1
    rest = supply - len(above)
    at_q = {b: sum(q for pr, q in d if pr == p) for b, d in demand.items()}
    total_at = sum(at_q.values())
    order = [b for b, _ in schedules]
    for b in order:
        alloc[b] += rest * at_q[b] // total_at
    leftover = supply - sum(alloc.values())
    for b in [b for b in order if at_q[b]][:leftover]:
        alloc[b] += 1
    price = p
    if rule is PriceRule.HIGHEST_REJECTED:
        not_full = [pr for b, d in demand.items() for pr, q in d if pr <= p and (pr < p or rest < total_at)]
        price = max(not_full) if not_full else reserve
    return price, alloc


bids_st = st.lists(st.tuples(st.integers(1, 30), st.integers(0, 12)), min_size=1, max_size=5)
schedules_st = st.lists(bids_st.map(normalize_schedule), min_size=0, max_size=7)


@given(
    supply=st.integers(1, 60),
    reserve=st.integers(1, 20),
    limit=st.one_of(st.none(), st.integers(1, 25)),
    schedules=schedules_st,
    rule=st.sampled_from(list(PriceRule)),
)
@settings(max_examples=400, deadline=None)
def test_clear_equals_unit_by_unit_model(
    supply: int, reserve: int, limit: int | None, schedules: list[Schedule], rule: PriceRule
) -> None:
    named = [(f"b{i}", s) for i, s in enumerate(schedules)]
    result = clear(supply, reserve, named, purchase_limit=limit, price_rule=rule)
    price, alloc = _unit_model(supply, reserve, limit, named, rule)
    assert result.clearing_price == price
    assert result.allocations == alloc
    assert result.sold == sum(alloc.values()) <= supply
    # Nobody wins more than its demand nor pays more than its demand's value.
    for bidder, d in result.demand.items():
        assert result.allocations[bidder] <= sum(q for _, q in d)
        assert result.payments[bidder] <= sum(p * q for p, q in d)
