"""``sim.market_day``: the recorded trading day is deterministic for a seed, keeps the trading
rules (the only refusals are the self-trades it sends on purpose), reads as an ``ets market
simulate`` scenario, and a small day run on the session chain equals the reference engine."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path

import pytest

from domain.market import Side, TradeMode, band
from sim.market import Scenario, load_scenario, prepare_traders, reference_day, run_day
from sim.market_day import DayPlan, MarketDay, engine_for, generate_day, replay
from tests.conftest import Consortium

PLAN = DayPlan(orders=3_000, enterprises=12, call_orders=120, blocks=2, seed=7)
#: A small day with every kind of event, a self-trade in the call phase among them (seed picked so).
SMALL = DayPlan(orders=90, enterprises=5, call_orders=25, blocks=1, seed=25)


@pytest.fixture(scope="module")
def day() -> MarketDay:
    return generate_day(PLAN)


def test_generate_day_same_events_for_same_plan(day: MarketDay) -> None:
    again = generate_day(PLAN)
    assert again.scenario == day.scenario
    assert (again.afternoon_from, again.self_trades, again.fills) == (
        day.afternoon_from,
        day.self_trades,
        day.fills,
    )


def test_generate_day_other_events_for_other_seed(day: MarketDay) -> None:
    other = generate_day(DayPlan(orders=3_000, enterprises=12, call_orders=120, blocks=2, seed=8))
    assert other.events != day.events


def test_generate_day_counts_and_ids_as_planned(day: MarketDay) -> None:
    events = day.events
    ops = Counter(e["op"] for e in events)
    assert ops["order"] == PLAN.orders
    assert ops["open"] == 1 and ops["block"] == PLAN.blocks
    assert ops["cancel"] > PLAN.orders // 10 and ops["take"] > 0
    ids = [e["id"] for e in events if e["op"] != "open"]
    assert ids == list(range(1, len(ids) + 1))
    opened = next(i for i, e in enumerate(events) if e["op"] == "open")
    assert sum(e["op"] == "order" for e in events[:opened]) == PLAN.call_orders
    assert all(e["op"] in ("order", "cancel") for e in events[:opened])
    assert opened < day.afternoon_from < len(events)
    assert all(e["op"] != "block" for e in events[: day.afternoon_from])
    assert set(day.accounts) == {f"ENT{i:03d}" for i in range(1, PLAN.enterprises + 1)}
    assert len({e["trader"] for e in events if e["op"] == "order"}) == PLAN.enterprises


def test_generate_day_prices_and_quantities_within_rules(day: MarketDay) -> None:
    lower, upper = band(PLAN.reference_price, PLAN.band_bps)
    block_lower, block_upper = band(PLAN.reference_price, PLAN.block_band_bps)
    for e in day.events:
        if e["op"] == "order":
            assert lower <= e["price"] <= upper, e
            assert 1 <= e["quantity"] < PLAN.block_min, e
        elif e["op"] == "block":
            assert block_lower <= e["price"] <= block_upper, e
            assert e["quantity"] >= PLAN.block_min and e["seller"] != e["buyer"], e


def test_generate_day_refused_only_its_self_trades_when_replayed(day: MarketDay) -> None:
    engine = engine_for(day.scenario)
    fills, refused = replay(engine, day.events)
    assert refused == day.self_trades
    assert 0 < len(refused) < PLAN.orders // 50  # a few, and counted
    assert fills == day.fills
    modes = Counter(f.mode for f in fills)
    assert modes[TradeMode.CALL] > 0 and modes[TradeMode.CONTINUOUS] > PLAN.orders // 10
    assert modes[TradeMode.TAKE] > 0 and modes[TradeMode.BLOCK] == PLAN.blocks
    # T+1 from the start-of-day holdings: nobody sold more than it held before the day
    sold: defaultdict[str, int] = defaultdict(int)
    for f in fills:
        sold[f.seller] += f.quantity
    assert all(sold[n] <= a["allowances"] for n, a in day.accounts.items())
    # the open-order cap (200 a side) was never near: count each trader's open orders at the end
    assert all(len(engine.open_orders_of(n, side)) < 200 for n in day.accounts for side in Side)


def test_generate_day_saved_loads_as_simulate_scenario_with_same_reference(
    day: MarketDay, tmp_path: Path
) -> None:
    scenario = load_scenario(day.save(tmp_path / "day.json"))
    reference = reference_day(scenario)
    assert reference.fills == day.fills
    assert reference.result["rejected"] == day.self_trades
    assert set(reference.errors.values()) == {"MarketSelfTrade"}


def test_generate_day_refuses_call_orders_not_fewer_than_orders() -> None:
    with pytest.raises(ValueError, match="call_orders"):
        generate_day(DayPlan(orders=100, call_orders=100))


# ---------------------------------------------------------------------- on the session chain


@pytest.fixture
def small_day_chain(consortium: Consortium) -> Iterator[tuple[Consortium, MarketDay]]:
    small = generate_day(SMALL)
    snapshot = consortium.snapshot()
    try:
        prepare_traders(consortium, list(small.accounts))
        yield consortium, small
    finally:
        consortium.revert(snapshot)


def test_small_day_chain_equals_engine_when_run_by_simulator(
    small_day_chain: tuple[Consortium, MarketDay],
) -> None:
    suite, small = small_day_chain
    ops = Counter(e["op"] for e in small.events)
    assert ops["take"] > 0 and ops["cancel"] > 0 and ops["block"] == 1 and small.self_trades
    scenario = Scenario.model_validate(small.scenario)
    day = run_day(suite, scenario)
    expected = reference_day(scenario)
    assert day.fills == expected.fills == small.fills
    assert day.errors == expected.errors == dict.fromkeys(small.self_trades, "MarketSelfTrade")
    assert day.result == expected.result
