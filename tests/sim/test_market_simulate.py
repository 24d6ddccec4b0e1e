"""``sim.market``: scenario files refused with one line, days computed by hand (the call auction's
tie rules, a take, a block, fee rounding), and random days on the session chain equal to the
reference engine event by event (trades, refusals and their error names, book, balances, fees,
open and close), with conservation and the market holding exactly the open orders' escrow after
every step and nothing after expiry."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pydantic
import pytest
from eth_utils.abi import get_abi_output_types
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chain.market import OrderView
from domain.errors import MarketError, MarketInputError
from domain.market import Holding, Side, band
from sim.market import (
    TOKEN_ID,
    Day,
    Event,
    ReferenceDay,
    Scenario,
    Step,
    load_scenario,
    prepare_traders,
    reference_day,
    run_day,
    trader_account,
)
from tests.conftest import Consortium

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "market" / "day.json"
#: Traders of the random days ("zed" is never funded: its events are refused).
NAMES = ("a", "b", "c", "d")
EXAMPLE_NAMES = ("huaneng", "datang", "guodian", "beilun")

# The example day by hand (reference 10,000 fen/t, band [9,000, 11,000], block band [7,000,
# 13,000], block minimum 1,000 t, fee 10 bps per side).
# Call book: bids 10,100×300 (#1), 10,000×200 (#2); asks 9,900×250 (#3), 10,000×400 (#4),
# 10,200×100 (#5); #6 (huaneng sells at 10,000 against its own buy at 10,100) is a self-trade.
# Candidates: P=9,900 → B 500, S 250, V 250; P=10,000 → B 500, S 650, V 500; P=10,100 → V 300;
# P=10,200 → V 0: the open is 10,000 with 500 t: #1/#3 250, #1/#4 50, #2/#4 200.
# Then #7 (datang buys 100 at 10,050) fills #4 at 10,000; #8 takes 60 of #5 at 10,200 (second
# of two ask levels); #9 rests a bid 9,950×10; #10 (beilun sells 600) exceeds its sellable 500
# (700 held, 200 bought today); #11 is a block of 1,500 t at 9,000 from datang to beilun; #12
# cancels a filled order; #13 names a trader without an account.
# Close = (2 × (5,000,000 + 1,000,000 + 612,000) + 660) // (2 × 660) = 10,018 (the block is
# excluded). Fees = 2 × (2,500 + 500 + 2,000 + 1,000 + 612 + 13,500) = 40,224.
# huaneng: 10,000,000 − 3,000,000 − 3,000 (call fills at 10,000, not its 10,100 limit) − 612,612.
EXAMPLE_RESULT: dict[str, Any] = {
    "open_price": 10_000,
    "close_price": 10_018,
    "trades": [
        {"buy": 1, "sell": 3, "price": 10_000, "quantity": 250},
        {"buy": 1, "sell": 4, "price": 10_000, "quantity": 50},
        {"buy": 2, "sell": 4, "price": 10_000, "quantity": 200},
        {"buy": 7, "sell": 4, "price": 10_000, "quantity": 100},
        {"buy": 8, "sell": 5, "price": 10_200, "quantity": 60},
        {"buy": 11, "sell": 11, "price": 9_000, "quantity": 1_500},
    ],
    "rejected": [6, 10, 12, 13],
    "book": {"bids": [[9_950, 10]], "asks": [[10_000, 50], [10_200, 40]]},
    "balances": {
        "huaneng": {"cash": 6_384_388, "allowances": 360},
        "datang": {"cash": 19_983_000, "allowances": 350},
        "guodian": {"cash": 4_107_888, "allowances": 2_590},
        "beilun": {"cash": 4_484_500, "allowances": 2_200},
    },
    "fees": 40_224,
}
EXAMPLE_ERRORS = {
    6: "MarketSelfTrade",
    10: "MarketInsufficientAllowances",
    12: "MarketOrderNotOpen",
    13: "MarketNotTrader",
}


def order(i: int, trader: str, side: str, price: int, quantity: int) -> dict[str, Any]:
    return {"op": "order", "id": i, "trader": trader, "side": side, "price": price, "quantity": quantity}


RICH = {"cash": 10**9, "allowances": 10_000}


def call_day(reference: int, bids: list[tuple[int, int]], asks: list[tuple[int, int]]) -> Scenario:
    """A day with a call phase: trader a bids, trader b offers, then the open."""
    events = [order(i + 1, "a", "buy", p, q) for i, (p, q) in enumerate(bids)]
    events += [order(len(events) + i + 1, "b", "sell", p, q) for i, (p, q) in enumerate(asks)]
    events.append({"op": "open"})
    return Scenario.model_validate(
        {"reference_price": reference, "accounts": {"a": RICH, "b": RICH}, "events": events}
    )


# The call auction's tie rules, by hand: (scenario, open price, trades as (buy, sell, quantity)).
# 1. Most volume: P=1,000 gives V=15 (B 15, S 20), P=990 only 5.
# 2. Equal volume 10 at 990, 1,000 and 1,010: the smallest |B − S| (0 at 990, 5 above) wins.
# 3. Equal volume and imbalance at 980 and 1,020: the one closest to the reference (990) wins.
# 4. Equal distance (20) from the reference 1,000: the higher price wins.
# 5. Nothing crosses (V = 0): no uncrossing, no open price, both orders rest.
CALL_CASES = [
    (call_day(1000, [(1000, 15)], [(990, 5), (1000, 15)]), 1000, [(1, 2, 5), (1, 3, 10)]),
    (call_day(1000, [(1010, 10)], [(990, 10), (1000, 5)]), 990, [(1, 2, 10)]),
    (call_day(990, [(1020, 10)], [(980, 10)]), 980, [(1, 2, 10)]),
    (call_day(1000, [(1020, 10)], [(980, 10)]), 1020, [(1, 2, 10)]),
    (call_day(1000, [(990, 10)], [(1010, 10)]), None, []),
]

# Fee rounding: 7 t at 1,001 = 7,007 fen, fee floor(7,007 × 3 / 10,000) = 2 per side; a holds
# exactly 7,009 (value + fee) and buys; c holds 7,008 and is refused.
FEE_DAY = Scenario.model_validate({
    "reference_price": 1000, "fee_bps": 3,
    "accounts": {"a": {"cash": 7_009, "allowances": 0}, "b": {"cash": 0, "allowances": 100},
                 "c": {"cash": 7_008, "allowances": 0}},
    "events": [order(1, "b", "sell", 1001, 14), order(2, "a", "buy", 1001, 7), order(3, "c", "buy", 1001, 7)],
})  # fmt: skip
FEE_RESULT = {
    "open_price": 1001,
    "close_price": 1001,
    "trades": [{"buy": 2, "sell": 1, "price": 1001, "quantity": 7}],
    "rejected": [3],
    "book": {"bids": [], "asks": [[1001, 7]]},
    "balances": {
        "a": {"cash": 0, "allowances": 7},
        "b": {"cash": 7_005, "allowances": 93},
        "c": {"cash": 7_008, "allowances": 0},
    },
    "fees": 4,
}


# A take must hit one of the best five ask levels: six levels 1,000..1,005, the sixth refused,
# the fifth taken (a at 1,004 × 3: 3,012 fen).
LEVELS_DAY = Scenario.model_validate({
    "reference_price": 1000,
    "accounts": {"a": {"cash": 10_000, "allowances": 0}, "b": {"cash": 0, "allowances": 100}},
    "events": [*(order(i + 1, "b", "sell", 1000 + i, 5) for i in range(6)),
               {"op": "take", "id": 7, "trader": "a", "order": 6, "quantity": 3},
               {"op": "take", "id": 8, "trader": "a", "order": 5, "quantity": 3}],
})  # fmt: skip


# ---------------------------------------------------------------------- scenario files


BASE: dict[str, Any] = {
    "reference_price": 1000,
    "accounts": {"a": {"cash": 1, "allowances": 1}},
    "events": [],
}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not JSON"),
        (json.dumps([BASE]), "scenario"),
        (json.dumps({k: v for k, v in BASE.items() if k != "reference_price"}), "reference_price"),
        (json.dumps({**BASE, "reference_price": 0}), "reference_price"),
        (json.dumps({**BASE, "reference_price": "1000"}), "reference_price"),
        (json.dumps({**BASE, "fee_bps": 1001}), "fee_bps"),
        (json.dumps({**BASE, "band_bps": 10.5}), "band_bps"),
        (json.dumps({**BASE, "accounts": {"a": {"cash": -1, "allowances": 0}}}), "cash"),
        (json.dumps({**BASE, "accounts": {"a": {"cash": True, "allowances": 0}}}), "cash"),
        (json.dumps({**BASE, "surplus": 1}), "surplus"),
        (json.dumps({**BASE, "events": [{"op": "sell", "id": 1}]}), "op"),
        (json.dumps({**BASE, "events": [{**order(1, "a", "buy", 1000, 1), "side": "bid"}]}), "side"),
        (json.dumps({**BASE, "events": [{**order(1, "a", "buy", 1000, 1), "price": -5}]}), "price"),
        (json.dumps({**BASE, "events": [{**order(0, "a", "buy", 1000, 1)}]}), "id"),
        (json.dumps({**BASE, "events": [order(1, "a", "buy", 1000, 1), order(1, "a", "buy", 1000, 1)]}),
         "repeated: 1"),
        (json.dumps({**BASE, "events": [{"op": "open"}, {"op": "open"}]}), "at most one open"),
        (json.dumps({**BASE, "events": [{"op": "open", "id": 3}]}), "id"),
    ],
)  # fmt: skip
def test_load_scenario_refuses_bad_files_with_one_line(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "day.json"
    path.write_text(content)
    with pytest.raises(MarketInputError, match=message) as info:
        load_scenario(path)
    assert "\n" not in str(info.value)


def test_load_scenario_refuses_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(MarketInputError, match=r"missing\.json"):
        load_scenario(tmp_path / "missing.json")


def test_scenario_rulebook_allows_blocks_from_the_morning_open() -> None:
    rules = load_scenario(EXAMPLE).rulebook()
    figures = (
        rules.reference_price,
        rules.band_bps,
        rules.block_band_bps,
        rules.block_minimum,
        rules.fee_bps,
    )
    assert figures == (10_000, 1000, 3000, 1000, 10)
    assert rules.block_from == rules.open1 and rules.validate() == rules


# ---------------------------------------------------------------------- by hand, the reference alone


def test_reference_day_equals_hand_computation_for_example() -> None:
    day = reference_day(load_scenario(EXAMPLE))
    assert day.result == EXAMPLE_RESULT
    assert day.errors == EXAMPLE_ERRORS


@pytest.mark.parametrize(
    ("scenario", "price", "pairs"), CALL_CASES, ids=["volume", "imbalance", "reference", "higher", "none"]
)
def test_reference_day_uncrosses_by_tie_rules_for_hand_cases(
    scenario: Scenario, price: int | None, pairs: list[tuple[int, int, int]]
) -> None:
    result = reference_day(scenario).result
    assert result["open_price"] == price
    assert [(t["buy"], t["sell"], t["quantity"]) for t in result["trades"]] == pairs
    assert all(t["price"] == price for t in result["trades"])


def test_reference_day_rounds_fees_down_per_side_for_hand_case() -> None:
    assert reference_day(FEE_DAY).result == FEE_RESULT


# ---------------------------------------------------------------------- on the session chain


@pytest.fixture(scope="module")
def market(consortium: Consortium) -> Iterator[Consortium]:
    """The session chain with the simulator's traders registered and approved (undone afterwards)."""
    snapshot = consortium.snapshot()
    prepare_traders(consortium, [*NAMES, *EXAMPLE_NAMES])
    try:
        yield consortium
    finally:
        consortium.revert(snapshot)


class StepChecker:
    """After every event: the chain refused it (or not) as the reference did, every trader holds
    what the reference says, the market holds exactly the escrow of the open orders (the
    reference's escrow), the fee account got the reference's fees, and nothing was created or lost."""

    def __init__(self, suite: Consortium, scenario: Scenario) -> None:
        self.suite = suite
        self.scenario = scenario
        self.reference = ReferenceDay(scenario)
        self.addresses = {n: str(trader_account(n).address) for n in scenario.accounts}
        self.fee_account = suite.market.fee_account()
        self.fees_before = suite.cash.balance(self.fee_account)
        self.cash_total = sum(a.cash for a in scenario.accounts.values())
        self.allowances_total = sum(a.allowances for a in scenario.accounts.values())
        self.steps = 0

    def __call__(self, step: Step) -> None:
        self.steps += 1
        expected = self.reference.apply(step.event)
        assert step.error == expected, f"event {step.event}: chain {step.error}, reference {expected}"
        suite, engine, m = self.suite, self.reference.engine, self.suite.market
        cash, allowance = suite.cash.contract.functions, suite.allowance.contract.functions
        owners = [*self.addresses.values(), m.address, self.fee_account]
        side_calls = [
            m.contract.functions.openOrdersOf(a, TOKEN_ID, side)
            for a in self.addresses.values()
            for side in Side
        ]
        balances = read(
            suite, [cash.balanceOf(a) for a in owners] + [allowance.balanceOf(a, TOKEN_ID) for a in owners]
        )
        ids = [i for (found,) in read(suite, side_calls) for i in found]
        views = [
            OrderView.from_tuple(i, v)
            for i, (v,) in zip(ids, read(suite, [m.contract.functions.order(i) for i in ids]), strict=True)
        ]
        n = len(owners)
        held = {name: Holding(balances[i][0], balances[n + i][0]) for i, name in enumerate(self.addresses)}
        market = Holding(balances[n - 2][0], balances[2 * n - 2][0])
        fees = balances[n - 1][0] - self.fees_before
        assert held == engine.holdings, f"after {step.event}"
        assert market == engine.escrow, f"market escrow after {step.event}"
        assert all(v.open for v in views)
        assert market.cash == sum(v.escrow for v in views if v.side is Side.BUY)
        assert market.allowances == sum(v.remaining for v in views if v.side is Side.SELL)
        assert fees == engine.fees
        assert sum(h.cash for h in held.values()) + market.cash + fees == self.cash_total
        assert sum(h.allowances for h in held.values()) + market.allowances == self.allowances_total


def read(suite: Consortium, calls: list[Any]) -> list[tuple[Any, ...]]:
    """The results of view calls in one JSON-RPC batch (the checks run after every event)."""
    raw = suite.chain.rpc_batch(
        [("eth_call", [{"to": c.address, "data": c._encode_transaction_data()}, "latest"]) for c in calls]
    )
    return [
        tuple(suite.chain.w3.codec.decode(get_abi_output_types(c.abi), bytes.fromhex(r[2:])))
        for c, r in zip(calls, raw, strict=True)
    ]


def run_checked(suite: Consortium, scenario: Scenario, page: int = 200) -> tuple[Day, Day]:
    """The day on the chain (every step checked; uncrossing and expiry in pages of ``page``) and
    the reference's, on a snapshot undone after."""
    snapshot = suite.snapshot()
    try:
        checker = StepChecker(suite, scenario)
        day = run_day(suite, scenario, on_step=checker, page=page)
        assert checker.steps == len(scenario.events)
        assert suite.market.holdings(TOKEN_ID) == (0, 0)
        assert suite.market.book(TOKEN_ID).bids == [] and suite.market.book(TOKEN_ID).asks == []
        return day, checker.reference.finish()
    finally:
        suite.revert(snapshot)


def test_run_day_equals_hand_computation_for_example(market: Consortium) -> None:
    day, reference = run_checked(market, load_scenario(EXAMPLE), page=1)  # 3 uncrossing pages, 3 expiry pages
    assert day.result == EXAMPLE_RESULT == reference.result
    assert day.errors == EXAMPLE_ERRORS
    assert day.fills == reference.fills  # ids, traders, prices, quantities, fees and modes


@pytest.mark.parametrize(
    ("scenario", "price", "pairs"), CALL_CASES, ids=["volume", "imbalance", "reference", "higher", "none"]
)
def test_run_day_uncrosses_like_reference_for_hand_cases(
    market: Consortium, scenario: Scenario, price: int | None, pairs: list[tuple[int, int, int]]
) -> None:
    day, reference = run_checked(market, scenario)
    assert day.result == reference.result
    assert day.result["open_price"] == price
    assert [(t["buy"], t["sell"], t["quantity"]) for t in day.result["trades"]] == pairs


def test_run_day_refuses_take_beyond_best_five_levels_like_reference(market: Consortium) -> None:
    day, reference = run_checked(market, LEVELS_DAY)
    assert day.errors == reference.errors == {7: "MarketTakeOutsideBestLevels"}
    assert day.result["trades"] == [{"buy": 8, "sell": 5, "price": 1004, "quantity": 3}]
    assert day.result == reference.result


def test_run_day_rounds_fees_like_reference_for_hand_case(market: Consortium) -> None:
    day, _ = run_checked(market, FEE_DAY)
    assert day.result == FEE_RESULT
    assert day.errors == {3: "MarketInsufficientCash"}


# ---------------------------------------------------------------------- random days


EVENT = pydantic.TypeAdapter(Event)


@st.composite
def days(draw: st.DrawFn) -> Scenario:
    """A random day: 2–4 traders (and the unknown "zed"), up to 25 events (orders, cancels,
    takes, blocks), a call phase or not; thin books (three prices) or deep ones (up to nine
    levels, ties at each; one-sided days build deep sides); bad prices (0, outside the band,
    beyond 2^48 − 1), zero, block-size and oversized quantities; scarce cash and allowances;
    self-trades come from the few traders. Cancels and takes mostly aim at orders the reference
    engine holds open at that point (sometimes by the wrong trader, sometimes at any id)."""
    reference = draw(st.sampled_from([1000, 2500, 9999]))
    band_bps = draw(st.sampled_from([0, 100, 1000]))
    block_band_bps = draw(st.sampled_from([0, 3000]))
    block_min = draw(st.sampled_from([50, 100_000]))
    fee_bps = draw(st.sampled_from([0, 3, 25, 1000]))
    traders = list(NAMES[: draw(st.integers(2, 4))])
    accounts = {
        n: {"cash": draw(st.sampled_from([0, 5_000, 60_000, 2_000_000, 2_000_000])),
            "allowances": draw(st.sampled_from([0, 15, 80, 10_000, 10_000]))}
        for n in traders
    }  # fmt: skip
    lower, upper = band(reference, band_bps)
    if draw(st.booleans()):  # thin
        prices = sorted({lower, reference, upper})
    else:  # deep
        prices = sorted({min(upper, max(lower, reference + step)) for step in range(-4, 5)})
    sells = draw(st.sampled_from([5, 2, 8]))  # sells per ten orders
    bad_prices = [0, lower - 1, upper + 1, 2**48]
    block_lower, block_upper = band(reference, block_band_bps)
    n = draw(st.integers(1, 25))
    open_at = draw(st.integers(0, n)) if draw(st.booleans()) else None
    rules = {"reference_price": reference, "band_bps": band_bps, "block_band_bps": block_band_bps,
             "block_min": block_min, "fee_bps": fee_bps, "accounts": accounts}  # fmt: skip
    # The reference runs alongside to aim cancels and takes at open orders.
    engine = ReferenceDay(
        Scenario.model_validate({**rules, "events": [{"op": "open"}] if open_at is not None else []})
    )

    def who() -> str:
        return draw(st.sampled_from(traders)) if draw(st.integers(0, 24)) else "zed"

    def quantity() -> int:
        if draw(st.integers(0, 14)):
            return draw(st.sampled_from([5, 1, 2, 10, 13, 40]))
        return draw(st.sampled_from([0, block_min, 2**64]))

    def price() -> int:
        if draw(st.integers(0, 14)):
            return draw(st.sampled_from(prices))
        return draw(st.sampled_from(bad_prices))

    def target() -> int:
        resting = sorted(i for t in traders for side in Side for i in engine.engine.open_orders_of(t, side))
        aimed = bool(draw(st.integers(0, 5)))  # mostly at an open order, sometimes at any id
        pool = resting if resting and aimed else list(range(31))
        return draw(st.sampled_from(pool))

    events: list[dict[str, Any]] = []
    for i in range(n + 1):
        if i == open_at:
            events.append({"op": "open"})
            engine.apply(EVENT.validate_python(events[-1]))
        if i == n:
            break
        event_id = i + 1
        kind = draw(st.sampled_from(["order"] * 7 + ["take", "cancel", "take", "block"]))
        if kind == "order":
            side = "sell" if draw(st.integers(0, 9)) < sells else "buy"
            events.append(order(event_id, who(), side, price(), quantity()))
        elif kind == "cancel":
            o = target()
            try:
                owner = engine.engine.order(o).owner
            except MarketError:
                owner = who()
            trader = owner if draw(st.integers(0, 4)) else who()
            events.append({"op": "cancel", "id": event_id, "trader": trader, "order": o})
        elif kind == "take":
            events.append(
                {"op": "take", "id": event_id, "trader": who(), "order": target(), "quantity": quantity()}
            )
        else:
            seller = who()
            others = [t for t in traders if t != seller] or traders
            buyer = draw(st.sampled_from(others)) if draw(st.integers(0, 9)) else who()
            events.append({
                "op": "block", "id": event_id, "seller": seller, "buyer": buyer,
                "price": draw(st.sampled_from([reference, block_lower, block_upper, block_lower - 1])),
                "quantity": draw(st.sampled_from([block_min, block_min + 5, block_min - 1])),
            })  # fmt: skip
        engine.apply(EVENT.validate_python(events[-1]))
    return Scenario.model_validate({**rules, "events": events})


@given(scenario=days(), page=st.sampled_from([200, 1, 3]))
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_run_day_equals_reference_engine_for_random_days(
    market: Consortium, scenario: Scenario, page: int
) -> None:
    day, reference = run_checked(market, scenario, page)
    assert day.errors == reference.errors  # the same events refused, with the same error names
    assert day.fills == reference.fills  # ids, traders, prices, quantities, fees and modes
    assert day.result == reference.result  # open, close, trades, rejected, book, balances, fees
