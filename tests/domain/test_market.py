"""The market's trading rules in pure Python (domain.market): worked examples for every rule and every
refusal in its check order, and properties over random trading days against a brute-force oracle
(tests/domain/test_market_oracle.py) and the conservation and escrow invariants."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

import domain.errors as errors
from domain.errors import (
    InvalidInputError,
    MarketError,
    MarketInsufficientAllowances,
    MarketInsufficientCash,
    MarketNotOrderOwner,
    MarketNotTrader,
    MarketOrderNotOpen,
    MarketOutsideSession,
    MarketPermitNotValid,
    MarketPositionLimit,
    MarketQuantityInvalid,
    MarketRulebookInvalid,
    MarketRuleError,
    MarketSelfTrade,
    MarketTakeExceedsRemaining,
    MarketTakeOutsideBestLevels,
    MarketTooManyOrders,
)
from domain.market import (
    MAX_OPEN_ORDERS,
    MAX_PRICE,
    CallResult,
    Fill,
    Holding,
    MarketEngine,
    Rulebook,
    Side,
    TradeMode,
    band,
    call_pairs,
    check_position,
    fee,
    position_limit,
    uncross_price,
    vwap_close,
)
from domain.tokens import Kind, encode_id
from tests.domain.test_market_oracle import OracleMarket, brute_force_uncross

BUY, SELL = Side.BUY, Side.SELL
RICH = Holding(10**9, 10_000)


def engine(call_phase: bool = False, fee_bps: int = 0, **accounts: Holding) -> MarketEngine:
    """A market at reference 1000 (band 900..1100, block band 700..1300, block minimum 1000 t)."""
    rules = Rulebook(reference_price=1000, fee_bps=fee_bps, block_minimum=1000)
    return MarketEngine(rules, accounts or {"a": RICH, "b": RICH, "c": RICH}, call_phase=call_phase)


def error_of(exc: pytest.ExceptionInfo[MarketError]) -> tuple[str, tuple[int | str, ...]]:
    return exc.value.contract_error, exc.value.arguments


# ----------------------------------------------------------------------------- pure functions


def test_band_rounds_lower_up_and_upper_down() -> None:
    assert band(1005, 1000) == (905, 1105)  # 904.5 → 905, 1105.5 → 1105
    assert band(1000, 1000) == (900, 1100)
    assert band(7, 10_000) == (0, 14)
    assert Rulebook(reference_price=1005).block_band == (704, 1306)  # 703.5 → 704, 1306.5 → 1306


def test_fee_floors_per_side_value() -> None:
    assert fee(999, 10) == 0
    assert fee(1000, 10) == 1
    assert fee(12_345, 25) == 30  # 30.8625
    assert fee(10**30, 0) == 0


def test_vwap_close_rounds_half_up_and_falls_back_to_reference() -> None:
    assert vwap_close([(10, 1), (11, 1)], 99) == 11  # 10.5 → 11
    assert vwap_close([(10, 3), (11, 1)], 99) == 10  # 10.25 → 10
    assert vwap_close([(10, 1), (11, 3)], 99) == 11  # 10.75 → 11
    assert vwap_close([], 99) == 99


def test_uncross_price_maximises_volume() -> None:
    # B(95) = 15, S(95) = 5; B(100) = 10, S(100) = 12 → V 10 at 100; B(105) = 4, S = 12.
    assert uncross_price([(105, 4), (100, 6), (95, 5)], [(95, 5), (100, 7)], 100) == CallResult(100, 10)


def test_uncross_price_breaks_volume_tie_by_smallest_imbalance() -> None:
    # P = 100: B 10, S 10 → V 10, |B−S| 0; P = 90: B 12, S 10 → V 10, |B−S| 2.
    assert uncross_price([(100, 10), (90, 2)], [(90, 10)], 90) == CallResult(100, 10)


def test_uncross_price_breaks_imbalance_tie_by_closest_to_reference() -> None:
    # P = 90 and P = 100 both give V 10, |B−S| 0.
    bids, asks = [(100, 10)], [(90, 10)]
    assert uncross_price(bids, asks, 92) == CallResult(90, 10)
    assert uncross_price(bids, asks, 99) == CallResult(100, 10)


def test_uncross_price_breaks_reference_tie_by_higher_price() -> None:
    assert uncross_price([(100, 10)], [(90, 10)], 95) == CallResult(100, 10)


def test_uncross_price_returns_zero_when_nothing_crosses_or_book_empty() -> None:
    assert uncross_price([(90, 10)], [(100, 10)], 95) == CallResult(0, 0)
    assert uncross_price([], [(100, 10)], 95) == CallResult(0, 0)
    assert uncross_price([], [], 95) == CallResult(0, 0)
    assert uncross_price([(100, 0)], [(90, 0)], 95) == CallResult(0, 0)


def test_call_pairs_pairs_buys_descending_and_sells_ascending_then_by_id() -> None:
    bids = [(3, 100, 5), (1, 100, 5), (2, 110, 4), (9, 80, 50)]
    asks = [(4, 95, 6), (5, 90, 6), (6, 100, 50)]
    result = uncross_price([(p, q) for _, p, q in bids], [(p, q) for _, p, q in asks], 100)
    assert result == CallResult(100, 14)
    # buys: 2 (110), 1 (100, id 1), 3 (100, id 3); sells: 5 (90), 4 (95), 6 (100).
    assert call_pairs(bids, asks, result) == [(2, 5, 4), (1, 5, 2), (1, 4, 3), (3, 4, 3), (3, 6, 2)]
    assert call_pairs(bids, asks, CallResult(0, 0)) == []


def test_rulebook_defaults_are_the_issue_defaults_and_valid() -> None:
    rules = Rulebook(reference_price=6000).validate(7)
    assert rules.as_tuple() == (
        6000, 1000, 3000, 0, 100_000, 33_300, 34_200, 41_400, 46_800, 54_000, 46_800, 0, 0, False
    )  # fmt: skip
    assert not rules.limited and not rules.governed
    assert rules.band == (5400, 6600)


@pytest.mark.parametrize(
    "change",
    [
        {"reference_price": 0},
        {"reference_price": MAX_PRICE + 1},
        {"band_bps": 10_001},
        {"block_band_bps": 10_001},
        {"fee_bps": 1001},
        {"block_minimum": 0},
        {"block_minimum": 2**64},
        {"call_start": 34_201},
        {"open1": 41_400},
        {"close1": 46_801},
        {"open2": 54_000},
        {"close2": 86_401},
        {"block_from": 34_199},
        {"block_from": 54_000},
        {"fee_bps": -1},
        {"position_limit": 2**64},
        {"position_limit": -1},
        {"position_limit_bps": 10_001},
        {"governed": 1},
    ],
)
def test_rulebook_validate_raises_rulebook_invalid_when_a_bound_breaks(change: dict[str, int]) -> None:
    fields = {"reference_price": 6000, **change}
    with pytest.raises(MarketRulebookInvalid) as exc:
        Rulebook(**fields).validate(42)
    assert error_of(exc) == ("MarketRulebookInvalid", (42,))
    with pytest.raises(MarketRulebookInvalid):
        MarketEngine(Rulebook(**fields), {}, call_phase=False)


def test_market_errors_name_their_solidity_error_and_refine_value_error() -> None:
    leaves = [
        c for c in vars(errors).values()
        if isinstance(c, type) and issubclass(c, MarketError) and c not in (MarketError, MarketRuleError)
    ]  # fmt: skip
    spec = """NotListed Halted OutsideSession BookNotExpired CallPending QuantityZero ListingTooLarge
        PriceOutsideBand SelfTrade TooManyOrders InsufficientCash InsufficientAllowances OrderNotOpen
        NotOrderOwner TakeOutsideBestLevels TakeExceedsRemaining BlockBelowMinimum NotTrader
        BlockNotPending NotBlockBuyer NotBlockSeller WrongUncross DayNotOver RulebookInvalid
        PriceInvalid QuantityInvalid ZeroAddress PositionLimit RulebookGoverned NotSettlementAgent"""
    assert {f"Market{name}" for name in spec.split()} <= {leaf.contract_error for leaf in leaves}
    for leaf in leaves:
        assert leaf.contract_error == leaf.__name__
        assert issubclass(leaf, MarketRuleError) and issubclass(leaf, ValueError)
        assert leaf.__doc__ and "\n" not in leaf.__doc__.strip()
    exc = MarketInsufficientCash("a", 10, 3)
    assert (exc.account, exc.needed, exc.available, exc.arguments) == ("a", 10, 3, ("a", 10, 3))
    assert str(exc) == "MarketInsufficientCash('a', 10, 3)"


# ------------------------------------------------------------------------- continuous (rule 3)


def test_place_matches_best_price_first_then_earlier_at_the_resting_price() -> None:
    m = engine()
    m.place(1, "a", SELL, 1010, 5)
    m.place(2, "b", SELL, 1000, 5)
    m.place(3, "a", SELL, 1000, 5)
    fills = m.place(4, "c", BUY, 1010, 12)
    assert [(f.sell_id, f.price, f.quantity, f.mode) for f in fills] == [
        (2, 1000, 5, TradeMode.CONTINUOUS),
        (3, 1000, 5, TradeMode.CONTINUOUS),
        (1, 1010, 2, TradeMode.CONTINUOUS),
    ]
    assert m.depth(SELL) == [(1010, 3)]
    assert m.depth(BUY) == []


def test_place_rests_remainder_with_time_priority() -> None:
    m = engine()
    m.place(1, "a", BUY, 990, 5)
    fills = m.place(2, "b", SELL, 980, 8)
    assert fills == [Fill(1, 2, "a", "b", 990, 5, 0, 0, TradeMode.CONTINUOUS)]
    m.place(3, "c", SELL, 980, 4)
    assert m.depth(SELL) == [(980, 7)]
    assert [f.sell_id for f in m.place(4, "a", BUY, 980, 5)] == [2, 3]
    assert m.order(3).remaining == 2 and m.order(2).open is False


def test_place_sell_matches_highest_bids_first() -> None:
    m = engine()
    m.place(1, "a", BUY, 990, 5)
    m.place(2, "b", BUY, 1000, 5)
    fills = m.place(3, "c", SELL, 950, 7)
    assert [(f.buy_id, f.price, f.quantity) for f in fills] == [(2, 1000, 5), (1, 990, 2)]
    assert m.depth(BUY, 1) == [(990, 3)]
    assert m.open_price == 1000


def test_place_pays_value_and_fees_on_both_sides_to_the_fee_account() -> None:
    m = engine(fee_bps=25, a=Holding(1_000_000, 0), b=Holding(0, 100))
    m.place(1, "b", SELL, 1001, 40)
    fills = m.place(2, "a", BUY, 1001, 30)
    value = 1001 * 30
    assert fills[0].buyer_fee == fills[0].seller_fee == value * 25 // 10_000 == 75
    assert m.holdings == {"a": Holding(1_000_000 - value - 75, 30), "b": Holding(value - 75, 60)}
    assert m.fees == 150
    assert m.escrow == Holding(0, 10)


# ------------------------------------------------------------------------------ escrow (rule 9)


def test_resting_buy_escrows_remaining_value_plus_fee_reserve_and_returns_leftover_when_filled() -> None:
    m = engine(fee_bps=15, a=Holding(100_000, 0), b=Holding(0, 100), c=Holding(0, 100))
    m.place(1, "a", BUY, 1003, 70)  # reserve floor(70210 × 15 / 10000) = 105
    assert m.order(1).escrow == 1003 * 70 + 105
    assert m.holdings["a"].cash == 100_000 - 1003 * 70 - 105
    m.place(2, "b", SELL, 1000, 33)  # fee floor(33099 × 15 / 10000) = 49
    assert m.order(1).escrow == 1003 * 37 + 105 - 49
    m.place(3, "c", SELL, 1000, 37)  # fee 55; leftover reserve 105 − 49 − 55 = 1 returns
    assert not m.order(1).open and m.order(1).escrow == 0
    assert m.holdings["a"] == Holding(100_000 - 1003 * 70 - 49 - 55, 70)
    assert m.escrow == Holding(0, 0)


def test_incoming_buy_pays_fills_directly_and_escrows_only_what_rests() -> None:
    m = engine(fee_bps=100, a=Holding(100_000, 0), b=Holding(0, 100))
    m.place(1, "b", SELL, 950, 10)
    m.place(2, "a", BUY, 1000, 30)  # 10 at 950 (fee 95) now, 20 rest at 1000 with reserve 300 − 95
    assert m.order(2).escrow == 1000 * 20 + 300 - 95
    assert m.holdings["a"] == Holding(100_000 - 9500 - 95 - 20_000 - 205, 10)
    assert m.escrow == Holding(20_205, 0)


def test_cancel_returns_escrow_and_expire_returns_the_rest() -> None:
    m = engine(fee_bps=10, a=Holding(50_000, 0), b=Holding(0, 50))
    m.place(1, "a", BUY, 1000, 20)
    m.place(2, "b", SELL, 1010, 20)
    m.place(3, "a", BUY, 990, 10)
    m.cancel(1, "a")
    assert m.holdings["a"] == Holding(50_000 - 9900 - 9, 0)
    assert m.depth(BUY) == [(990, 10)]
    m.expire()
    assert m.holdings == {"a": Holding(50_000, 0), "b": Holding(0, 50)}
    assert m.escrow == Holding(0, 0)
    assert m.depth(BUY) == m.depth(SELL) == []
    with pytest.raises(MarketOutsideSession):
        m.place(4, "a", BUY, 1000, 1)


# -------------------------------------------------------------------------- opening call (rule 4)


def test_call_phase_collects_orders_without_matching() -> None:
    m = engine(call_phase=True)
    assert m.place(1, "a", BUY, 1050, 10) == []
    assert m.place(2, "b", SELL, 950, 10) == []
    assert m.depth(BUY) == [(1050, 10)] and m.depth(SELL) == [(950, 10)]
    assert m.order(1).call_phase and m.call_phase


def test_open_uncrosses_at_max_volume_price_and_refunds_price_improvement() -> None:
    m = engine(call_phase=True, fee_bps=10, a=Holding(100_000, 0), b=Holding(0, 100), c=Holding(100_000, 0))
    m.place(1, "a", BUY, 1050, 10)
    m.place(2, "c", BUY, 1000, 10)
    m.place(3, "b", SELL, 960, 15)
    m.place(4, "b", SELL, 1040, 5)
    # P=960: B 20 S 15; P=1000: B 20 S 15; P=1040: B 10 S 20; P=1050: B 10 S 20 → V 15, |B−S| 5 at 960 and
    # 1000 → closest to the reference 1000.
    fills = m.open()
    assert m.call_result == CallResult(1000, 15)
    assert fills == [
        Fill(1, 3, "a", "b", 1000, 10, 10, 10, TradeMode.CALL),
        Fill(2, 3, "c", "b", 1000, 5, 5, 5, TradeMode.CALL),
    ]
    # a: filled whole at 1000 < 1050: pays 10000 + 10, the price improvement and the reserve leftover return.
    assert m.holdings["a"] == Holding(100_000 - 10_010, 10)
    assert m.order(2).escrow == 1000 * 5 + 10 - 5
    assert m.depth(BUY) == [(1000, 5)] and m.depth(SELL) == [(1040, 5)]
    assert (m.open_price, m.close_price) == (1000, 1000)
    assert not m.call_phase


def test_open_with_partial_call_fill_keeps_escrow_formula_after_price_improvement() -> None:
    m = engine(call_phase=True, fee_bps=10, a=Holding(100_000, 0), b=Holding(0, 100))
    m.place(1, "a", BUY, 1050, 10)
    m.place(2, "b", SELL, 1000, 4)
    m.open()  # P = 1000 (B 10, S 4 at 1000; at 1050 B 10 S 4 too: closer to reference)
    assert m.order(1).escrow == 1050 * 6 + 10 - 4
    assert m.holdings["a"] == Holding(100_000 - 4000 - 4 - 1050 * 6 - 6, 4)


def test_open_without_crossing_opens_book_and_first_trade_sets_open_price() -> None:
    m = engine(call_phase=True)
    m.place(1, "a", BUY, 990, 10)
    m.place(2, "b", SELL, 1010, 10)
    assert m.open() == []
    assert m.call_result == CallResult(0, 0) and m.open_price is None
    assert m.close_price == 1000
    m.take(3, "c", 2, 4)
    m.place(4, "c", SELL, 990, 10)
    assert m.open_price == 1010
    assert m.close_price == (2 * (1010 * 4 + 990 * 10) + 14) // 28


def test_close_price_rounds_half_up_over_listing_trades_only() -> None:
    m = engine()
    m.place(1, "a", SELL, 1010, 1)
    m.place(2, "a", SELL, 1011, 1)
    m.place(3, "b", BUY, 1011, 2)  # 1010.5 → 1011
    m.block(4, "c", "b", 700, 1000)
    assert (m.open_price, m.close_price) == (1010, 1011)
    m.place(5, "a", SELL, 1000, 2)
    m.take(6, "c", 5, 2)  # (1010 + 1011 + 2000) / 4 = 1005.25 → 1005
    assert m.close_price == 1005


def test_open_raises_outside_session_when_not_in_call_phase() -> None:
    m = engine()
    with pytest.raises(MarketOutsideSession) as exc:
        m.open()
    assert error_of(exc) == ("MarketOutsideSession", (0, 0))
    c = engine(call_phase=True)
    c.open()
    with pytest.raises(MarketOutsideSession):
        c.open()


def test_call_remainders_keep_time_priority_in_continuous_trading() -> None:
    m = engine(call_phase=True)
    m.place(1, "a", SELL, 1000, 5)
    m.place(2, "b", SELL, 1000, 5)
    m.place(3, "c", BUY, 1000, 3)
    m.open()
    assert [(f.buy_id, f.sell_id, f.quantity) for f in m.fills] == [(3, 1, 3)]
    assert [(f.sell_id, f.quantity) for f in m.place(4, "c", BUY, 1000, 5)] == [(1, 2), (2, 3)]


# -------------------------------------------------------------------------------- take (rule 5)


def test_take_fills_specific_order_at_its_price_within_best_five_levels() -> None:
    m = engine(fee_bps=10)
    for i, price in enumerate((1001, 1002, 1003, 1004, 1005, 1006), start=1):
        m.place(i, "a", SELL, price, 10)
    m.place(7, "a", SELL, 1005, 10)
    fill = m.take(8, "b", 7, 4)
    assert fill == Fill(8, 7, "b", "a", 1005, 4, 4, 4, TradeMode.TAKE)
    assert m.order(7).remaining == 6 and m.order(5).remaining == 10  # no time priority in a take
    with pytest.raises(MarketTakeOutsideBestLevels) as exc:
        m.take(9, "b", 6, 1)
    assert error_of(exc) == ("MarketTakeOutsideBestLevels", (6, 1006))
    m.take(10, "b", 1, 10)  # level 1001 emptied: 1006 is now among the best five
    assert m.take(11, "b", 6, 10).price == 1006
    assert m.open_price == 1005 and m.holdings["b"].allowances == 10_000 + 24


def test_take_of_a_buy_order_sells_to_it() -> None:
    m = engine()
    m.place(1, "a", BUY, 995, 10)
    assert m.take(2, "b", 1, 10) == Fill(1, 2, "a", "b", 995, 10, 0, 0, TradeMode.TAKE)
    assert m.depth(BUY) == []
    assert m.bought_today("a") == 10


def test_take_refusals_follow_check_order() -> None:
    m = engine(a=Holding(10**6, 100), b=Holding(1000, 5), c=Holding(0, 0))
    m.place(1, "a", SELL, 1000, 10)
    m.place(2, "a", BUY, 990, 10)
    cases: list[tuple[tuple[str, int, int], tuple[str, tuple[int | str, ...]]]] = [
        (("x", 1, 1), ("MarketNotTrader", ("x",))),
        (("b", 99, 0), ("MarketOrderNotOpen", (99,))),
        (("b", 1, 0), ("MarketQuantityZero", ())),
        (("a", 1, 11), ("MarketSelfTrade", ("a", 1))),
        (("b", 1, 11), ("MarketTakeExceedsRemaining", (1, 11, 10))),
        (("b", 1, 2), ("MarketInsufficientCash", ("b", 2000, 1000))),
        (("c", 2, 1), ("MarketInsufficientAllowances", ("c", 0, 1, 0))),
    ]
    for take_id, ((trader, order_id, quantity), expected) in enumerate(cases, start=10):
        with pytest.raises(MarketRuleError) as exc:
            m.take(take_id, trader, order_id, quantity)
        assert error_of(exc) == expected
    with pytest.raises(MarketTakeExceedsRemaining):
        m.take(20, "b", 1, 2**64)
    with pytest.raises(MarketQuantityInvalid):
        m.take(21, "b", 1, -1)
    c = engine(call_phase=True)
    c.place(1, "a", SELL, 1000, 10)
    with pytest.raises(MarketOutsideSession) as session:
        c.take(2, "b", 1, 1)
    assert error_of(session) == ("MarketOutsideSession", (0, 0))


# -------------------------------------------------------------------------------- block (rule 6)


def test_block_trades_at_once_and_is_excluded_from_open_and_close() -> None:
    m = engine(fee_bps=10, a=Holding(0, 5000), b=Holding(10**7, 0))
    fill = m.block(1, "a", "b", 1300, 1000)
    assert fill == Fill(1, 1, "b", "a", 1300, 1000, 1300, 1300, TradeMode.BLOCK)
    assert m.holdings == {"a": Holding(1_300_000 - 1300, 4000), "b": Holding(10**7 - 1_301_300, 1000)}
    assert (m.open_price, m.close_price, m.fees) == (None, 1000, 2600)
    assert m.sellable("b") == 0 and m.depth(BUY) == []


def test_block_refusals_follow_check_order() -> None:
    m = engine(a=Holding(0, 2000), b=Holding(1_000_000, 0))
    cases: list[tuple[tuple[str, str, int, int], tuple[str, tuple[int | str, ...]]]] = [
        (("x", "b", 1000, 1000), ("MarketNotTrader", ("x",))),
        (("a", "a", 0, 0), ("MarketSelfTrade", ("a", 0))),
        (("a", "y", 0, 0), ("MarketNotTrader", ("y",))),
        (("a", "b", 0, 999), ("MarketBlockBelowMinimum", (999, 1000))),
        (("a", "b", 0, 1000), ("MarketPriceInvalid", (0,))),
        (("a", "b", 1301, 1000), ("MarketPriceOutsideBand", (0, 1301, 700, 1300))),
        (("a", "b", 699, 1000), ("MarketPriceOutsideBand", (0, 699, 700, 1300))),
        (("a", "b", 1000, 2001), ("MarketInsufficientAllowances", ("a", 0, 2001, 2000))),
        (("a", "b", 1000, 1001), ("MarketInsufficientCash", ("b", 1_001_000, 1_000_000))),
    ]
    for block_id, ((seller, buyer, price, quantity), expected) in enumerate(cases, start=1):
        with pytest.raises(MarketRuleError) as exc:
            m.block(block_id, seller, buyer, price, quantity)
        assert error_of(exc) == expected
    assert m.holdings == {"a": Holding(0, 2000), "b": Holding(1_000_000, 0)}
    c = engine(call_phase=True)
    with pytest.raises(MarketOutsideSession):
        c.block(1, "a", "b", 1000, 1000)


# ------------------------------------------------------------------------------ T+1 (rule 11)


def test_allowances_bought_today_cannot_be_sold_but_sale_cash_is_usable_at_once() -> None:
    m = engine(a=Holding(20_000, 5), b=Holding(0, 10))
    m.place(1, "b", SELL, 1000, 10)
    m.place(2, "a", BUY, 1000, 10)
    assert (m.holdings["a"].allowances, m.bought_today("a"), m.sellable("a")) == (15, 10, 5)
    with pytest.raises(MarketInsufficientAllowances) as exc:
        m.place(3, "a", SELL, 1000, 6)
    assert error_of(exc) == ("MarketInsufficientAllowances", ("a", 0, 6, 5))
    m.place(4, "a", SELL, 1000, 5)
    m.place(5, "b", BUY, 1000, 5)  # b's cash comes from its sale minutes ago
    assert m.holdings["b"] == Holding(5000, 5)


# ------------------------------------------------------------------- self-trade and cap (12, 13)


def test_self_trade_refused_whole_naming_lowest_crossing_order_call_phase_included() -> None:
    for call in (False, True):
        m = engine(call_phase=call)
        m.place(5, "a", SELL, 1010, 5)
        m.place(3, "a", SELL, 1020, 5)
        m.place(7, "a", SELL, 1000, 5)
        m.place(8, "b", SELL, 990, 5)
        with pytest.raises(MarketSelfTrade) as exc:
            m.place(9, "a", BUY, 1010, 20)
        assert error_of(exc) == ("MarketSelfTrade", ("a", 5))
        assert m.depth(SELL) == [(990, 5), (1000, 5), (1010, 5), (1020, 5)]
        m.place(10, "a", BUY, 980, 1)  # below all own sells: allowed
        with pytest.raises(MarketSelfTrade) as exc:
            m.place(11, "a", SELL, 980, 1)
        assert error_of(exc) == ("MarketSelfTrade", ("a", 10))


def test_open_order_cap_counts_per_side_before_matching() -> None:
    m = engine(a=Holding(10**12, 10**6), b=RICH)
    for i in range(MAX_OPEN_ORDERS):
        m.place(i + 1, "a", BUY, 900, 1)
    m.place(1000, "a", SELL, 1100, 1)  # the other side has its own count
    m.place(1001, "b", SELL, 1000, 1)
    with pytest.raises(MarketTooManyOrders) as exc:
        m.place(1002, "a", BUY, 1000, 1)  # would fill at once: still refused
    assert error_of(exc) == ("MarketTooManyOrders", ("a", 0, 200))
    m.cancel(1, "a")
    assert m.place(1003, "a", BUY, 1000, 1)[0].sell_id == 1001


# ------------------------------------------------------------------- place check order (2, 7-11)


def test_place_refusals_follow_check_order_with_arguments() -> None:
    m = engine(a=Holding(10_000, 5), b=Holding(10**6, 100))
    m.place(1, "b", SELL, 1050, 5)
    cases: list[tuple[tuple[str, int, int, int], tuple[str, tuple[int | str, ...]]]] = [
        (("x", BUY, 0, 0), ("MarketNotTrader", ("x",))),
        (("a", BUY, 0, 0), ("MarketQuantityZero", ())),
        (("a", BUY, 0, -1), ("MarketQuantityInvalid", (-1,))),
        (("a", BUY, 0, 2**64), ("MarketListingTooLarge", (2**64, 1000))),
        (("a", BUY, 0, 1000), ("MarketListingTooLarge", (1000, 1000))),
        (("a", BUY, 0, 999), ("MarketPriceInvalid", (0,))),
        (("a", BUY, MAX_PRICE + 1, 999), ("MarketPriceInvalid", (MAX_PRICE + 1,))),
        (("a", BUY, 1101, 999), ("MarketPriceOutsideBand", (0, 1101, 900, 1100))),
        (("a", SELL, 899, 999), ("MarketPriceOutsideBand", (0, 899, 900, 1100))),
        (("b", BUY, 1050, 999), ("MarketSelfTrade", ("b", 1))),
        (("a", BUY, 1000, 11), ("MarketInsufficientCash", ("a", 11_000, 10_000))),
        (("a", SELL, 1000, 6), ("MarketInsufficientAllowances", ("a", 0, 6, 5))),
    ]
    for order_id, ((trader, side, price, quantity), expected) in enumerate(cases, start=10):
        with pytest.raises(MarketRuleError) as exc:
            m.place(order_id, trader, side, price, quantity)
        assert error_of(exc) == expected
    assert m.holdings == {"a": Holding(10_000, 5), "b": Holding(10**6, 95)}
    assert m.place(30, "a", BUY, 1000, 10) == []  # exactly affordable


def test_place_raises_invalid_input_on_reused_id_or_bad_side() -> None:
    m = engine()
    m.place(1, "a", BUY, 1000, 1)
    with pytest.raises(InvalidInputError):
        m.place(1, "b", SELL, 1100, 1)
    with pytest.raises(InvalidInputError):
        m.place(2, "b", 2, 1100, 1)
    with pytest.raises(MarketNotTrader):
        m.bought_today("zz")
    with pytest.raises(InvalidInputError):
        MarketEngine(Rulebook(reference_price=1), {"a": Holding(-1, 0)}, call_phase=False)


def test_cancel_refusals_follow_check_order() -> None:
    m = engine()
    m.place(1, "a", BUY, 1000, 1)
    m.place(2, "b", SELL, 1000, 1)
    with pytest.raises(MarketNotTrader):
        m.cancel(1, "x")
    for order_id, trader, expected in (
        (1, "b", ("MarketOrderNotOpen", (1,))),  # filled
        (9, "a", ("MarketOrderNotOpen", (9,))),
    ):
        with pytest.raises(MarketOrderNotOpen) as exc:
            m.cancel(order_id, trader)
        assert error_of(exc) == expected
    m.place(3, "a", BUY, 990, 1)
    with pytest.raises(MarketNotOrderOwner) as owner:
        m.cancel(3, "b")
    assert error_of(owner) == ("MarketNotOrderOwner", (3, "b"))
    m.cancel(3, "a")
    with pytest.raises(MarketOrderNotOpen):
        m.cancel(3, "a")


def test_cancel_allowed_in_call_phase() -> None:
    m = engine(call_phase=True)
    m.place(1, "a", BUY, 1050, 10)
    m.place(2, "b", SELL, 950, 10)
    m.cancel(1, "a")
    assert m.open() == [] and m.depth(SELL) == [(950, 10)]


# ------------------------------------------------------------------------- random-day properties


TRADERS = ("a", "b", "c", "d")


@st.composite
def days(draw: st.DrawFn) -> tuple[Rulebook, dict[str, Holding], bool, list[tuple[object, ...]]]:
    """A small day: reference 100, band 90..110, block minimum 20 t (band 70..130), random fees."""
    rules = Rulebook(
        reference_price=100, fee_bps=draw(st.sampled_from([0, 7, 100, 1000])), block_minimum=20,
        band_bps=1000, block_band_bps=3000,
    )  # fmt: skip
    accounts = {
        t: Holding(draw(st.sampled_from([0, 900, 10**6, 10**6])), draw(st.sampled_from([0, 9, 10**4, 10**4])))
        for t in TRADERS
    }
    call = draw(st.booleans())
    trader = st.sampled_from((*TRADERS, "x")) if draw(st.booleans()) else st.sampled_from(TRADERS)
    near = st.tuples(st.just("order"), st.sampled_from(TRADERS), st.sampled_from(Side), st.integers(97, 103),
                     st.integers(1, 8))  # fmt: skip
    ops = draw(
        st.lists(
            st.one_of(
                near,
                near,
                near,
                st.tuples(
                    st.just("order"), trader, st.sampled_from(Side), st.integers(88, 112), st.integers(0, 21)
                ),
                st.tuples(st.just("cancel"), trader, st.integers(0, 40)),
                st.tuples(st.just("take"), trader, st.integers(0, 40), st.integers(0, 9)),
                st.tuples(st.just("block"), trader, trader, st.integers(68, 132), st.integers(18, 40)),
            ),
            min_size=12,
            max_size=40,
        )
    )
    if call:
        ops.insert(draw(st.integers(0, len(ops))), ("open",))
    return rules, accounts, call, ops


def check_invariants(m: MarketEngine, start: dict[str, Holding], order_ids: list[int]) -> None:
    """Conservation, escrow = open orders' holdings (rule 9's formula per buy), nothing negative, and
    an uncrossed book in continuous trading."""
    now = m.holdings
    assert sum(h.cash for h in now.values()) + m.escrow.cash + m.fees == sum(h.cash for h in start.values())
    assert sum(h.allowances for h in now.values()) + m.escrow.allowances == sum(
        h.allowances for h in start.values()
    )
    assert all(h.cash >= 0 and h.allowances >= 0 for h in now.values())
    views = [m.order(i) for i in order_ids]
    open_views = [(i, v) for i, v in zip(order_ids, views, strict=True) if v.open]
    assert m.escrow.cash == sum(v.escrow for _, v in open_views)
    assert m.escrow.allowances == sum(v.remaining for _, v in open_views if v.side == SELL)
    fills = m.fills
    for i, v in open_views:
        if v.side == BUY:
            paid = sum(f.buyer_fee for f in fills if f.buy_id == i and f.mode != TradeMode.BLOCK)
            assert v.escrow == v.price * v.remaining + fee(v.price * v.quantity, m.rules.fee_bps) - paid
    for side in (BUY, SELL):
        levels: dict[int, int] = {}
        for _, v in open_views:
            if v.side == side:
                levels[v.price] = levels.get(v.price, 0) + v.remaining
        assert m.depth(side) == sorted(levels.items(), reverse=side == BUY)
    bids, asks = m.depth(BUY, 1), m.depth(SELL, 1)
    if not m.call_phase and bids and asks:
        assert bids[0][0] < asks[0][0]
    for t in now:
        assert m.sellable(t) == max(0, now[t].allowances - m.bought_today(t))


@settings(max_examples=300, deadline=None)
@given(days())
def test_engine_matches_brute_force_oracle_and_keeps_invariants_on_random_days(
    day: tuple[Rulebook, dict[str, Holding], bool, list[tuple[object, ...]]],
) -> None:
    """Price-time priority, the call auction, takes, blocks, fees, refusals and their check order
    against a brute-force oracle; conservation and escrow after every step; nothing moves on a refusal."""
    rules, accounts, call, ops = day
    m = MarketEngine(rules, accounts, call_phase=call)
    oracle = OracleMarket(rules, accounts, call_phase=call)
    placed: list[int] = []
    for next_id, op in enumerate(ops, start=1):
        before = (m.holdings, m.escrow, m.fees, m.depth(BUY), m.depth(SELL), len(m.fills))
        got: object
        expected: object
        try:
            got = dispatch(m, op, next_id, placed)
        except MarketRuleError as exc:
            got = (exc.contract_error, exc.arguments)
            event(exc.contract_error)
            assert (m.holdings, m.escrow, m.fees, m.depth(BUY), m.depth(SELL), len(m.fills)) == before
        try:
            expected = dispatch(oracle, op, next_id, placed)
        except MarketRuleError as exc:
            expected = (exc.contract_error, exc.arguments)
        assert got == expected, op
        if op[0] == "order" and not isinstance(got, tuple):
            placed.append(next_id)
        check_invariants(m, accounts, placed)
        assert m.holdings == oracle.holdings()
        assert m.fees == oracle.fees
    assert m.fills == oracle.fills
    event(f"fills: {min(len(m.fills), 8)}+" if m.fills else "fills: none")
    for mode in {f.mode for f in m.fills}:
        event(f"mode {mode.name}")
    assert m.depth(BUY) == oracle.depth(BUY) and m.depth(SELL) == oracle.depth(SELL)
    assert m.open_price == oracle.open_price()
    listing = [(f.price, f.quantity) for f in m.fills if f.mode != TradeMode.BLOCK]
    assert m.close_price == vwap_close(listing, rules.reference_price) == oracle.close_price()
    m.expire()
    oracle.expire()
    check_invariants(m, accounts, placed)
    assert m.escrow == Holding(0, 0)
    assert m.holdings == oracle.holdings()
    assert not any(m.order(i).open for i in placed)


def dispatch(
    m: MarketEngine | OracleMarket, op: tuple[object, ...], next_id: int, placed: list[int]
) -> object:
    """Apply one random-day event; ids of cancels and takes pick among the orders placed so far."""
    kind = op[0]
    if kind == "order":
        _, trader, side, price, quantity = op
        assert isinstance(trader, str) and isinstance(side, int) and isinstance(price, int)
        assert isinstance(quantity, int)
        return m.place(next_id, trader, side, price, quantity)
    if kind == "cancel":
        _, trader, pick = op
        assert isinstance(trader, str) and isinstance(pick, int)
        m.cancel(placed[pick % len(placed)] if placed else 999, trader)
        return None
    if kind == "take":
        _, trader, pick, quantity = op
        assert isinstance(trader, str) and isinstance(pick, int) and isinstance(quantity, int)
        return m.take(next_id, trader, placed[pick % len(placed)] if placed else 999, quantity)
    if kind == "block":
        _, seller, buyer, price, quantity = op
        assert isinstance(seller, str) and isinstance(buyer, str)
        assert isinstance(price, int) and isinstance(quantity, int)
        return m.block(next_id, seller, buyer, price, quantity)
    return m.open()


bids_asks = st.lists(st.tuples(st.integers(1, 30), st.integers(0, 12)), max_size=12)


@settings(max_examples=300, deadline=None)
@given(bids_asks, bids_asks, st.integers(1, 30))
def test_uncross_price_equals_brute_force_over_all_candidate_prices(
    bids: list[tuple[int, int]], asks: list[tuple[int, int]], reference: int
) -> None:
    assert uncross_price(bids, asks, reference) == brute_force_uncross(bids, asks, reference)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 10**6), st.integers(1, 10**6)), max_size=20), st.integers(1, 10**6))
def test_vwap_close_equals_half_up_rounding_of_exact_average(
    trades: list[tuple[int, int]], reference: int
) -> None:
    volume = sum(q for _, q in trades)
    exact = Fraction(sum(p * q for p, q in trades), volume) if volume else Fraction(reference)
    assert vwap_close(trades, reference) == int(exact + Fraction(1, 2))


@settings(max_examples=300, deadline=None)
@given(st.integers(1, MAX_PRICE), st.integers(0, 10_000))
def test_band_equals_exact_ceil_and_floor(reference: int, bps: int) -> None:
    lower, upper = band(reference, bps)
    assert lower - 1 < Fraction(reference * (10_000 - bps), 10_000) <= lower
    assert upper <= Fraction(reference * (10_000 + bps), 10_000) < upper + 1


# ---------------------------------------------------------------------- rule 14: position limits


def limited(position_limit: int = 0, position_limit_bps: int = 0, issued: int | None = None) -> MarketEngine:
    """A market at reference 1000 (block minimum 3000 t) with a position limit; a and b hold
    10,000 t each, c none."""
    rules = Rulebook(
        reference_price=1000, block_minimum=3000, position_limit=position_limit,
        position_limit_bps=position_limit_bps,
    )  # fmt: skip
    accounts = {"a": RICH, "b": RICH, "c": Holding(10**9, 0)}
    return MarketEngine(rules, accounts, call_phase=False, token_id=7, issued=issued)


def test_position_limit_is_the_smaller_of_the_set_limits() -> None:
    rules = Rulebook(reference_price=1000)
    assert position_limit(rules, 50_000) == 0
    assert position_limit(Rulebook(1000, position_limit=700), 50_000) == 700
    assert position_limit(Rulebook(1000, position_limit_bps=333), 50_000) == 1665  # floor(16.65 × 100)
    assert position_limit(Rulebook(1000, position_limit=1000, position_limit_bps=333), 50_000) == 1000
    assert position_limit(Rulebook(1000, position_limit=1000, position_limit_bps=100), 50_000) == 500
    check_position(rules, 50_000, "a", 7, 10**12, 10**12, 1)  # no limit: nothing to check
    with pytest.raises(MarketPositionLimit) as exc:
        check_position(Rulebook(1000, position_limit=100), 50_000, "a", 7, 60, 30, 11)
    assert error_of(exc) == ("MarketPositionLimit", ("a", 7, 101, 100))
    assert isinstance(exc.value, ValueError)
    check_position(Rulebook(1000, position_limit=100), 50_000, "a", 7, 60, 30, 10)


def test_position_limit_refuses_every_buy_path_counting_open_buys_and_changes_nothing() -> None:
    m = limited(position_limit=10_100)
    assert m.position("a") == (10_000, 10_100)
    m.place(1, "a", BUY, 1000, 60)
    assert m.position("a") == (10_060, 10_100)
    before = (m.holdings, m.escrow, m.depth(BUY))
    with pytest.raises(MarketPositionLimit) as exc:
        m.place(2, "a", BUY, 990, 41)
    assert error_of(exc) == ("MarketPositionLimit", ("a", 7, 10_101, 10_100))
    assert (m.holdings, m.escrow, m.depth(BUY)) == before
    m.place(2, "a", BUY, 990, 40)  # the id of a refused order is free
    m.place(3, "b", SELL, 1000, 30)  # fills a's first bid partly: the position stays
    assert m.position("a") == (10_100, 10_100) and m.holdings["a"].allowances == 10_030
    m.cancel(2, "a")
    assert m.position("a") == (10_060, 10_100)
    m.place(4, "b", SELL, 1010, 50)
    with pytest.raises(MarketPositionLimit) as exc:
        m.take(5, "a", 4, 41)
    assert error_of(exc) == ("MarketPositionLimit", ("a", 7, 10_101, 10_100))
    m.take(5, "a", 4, 40)
    assert m.position("a") == (10_100, 10_100)
    m.place(6, "a", SELL, 1100, 50)  # sells are never limited
    assert m.position("a") == (10_050, 10_100)
    with pytest.raises(MarketPositionLimit) as exc:
        m.block(7, "b", "a", 1000, 3000)
    assert error_of(exc) == ("MarketPositionLimit", ("a", 7, 13_050, 10_100))
    m.block(8, "b", "c", 1000, 3000)  # c holds nothing: within the limit
    assert m.position("c") == (3000, 10_100)


def test_a_trader_without_a_valid_permit_cannot_buy_but_sells_and_changes_nothing() -> None:
    so2 = encode_id(Kind.ALLOWANCE, "SO2", 2027)
    rules = Rulebook(reference_price=1000, block_minimum=3000, position_limit=10_100)
    accounts = {"a": RICH, "b": RICH, "c": Holding(10**9, 0)}
    m = MarketEngine(rules, accounts, call_phase=False, token_id=so2, no_permit={"a"})
    m.place(1, "b", SELL, 1000, 30)
    before = (m.holdings, m.escrow, m.depth(BUY), m.depth(SELL))
    for refused in (
        lambda: m.place(2, "a", BUY, 1000, 10),  # would fill
        lambda: m.place(2, "a", BUY, 990, 500),  # would rest; the permit is checked before the limit
        lambda: m.take(2, "a", 1, 10),
        lambda: m.block(2, "b", "a", 1000, 3000),
    ):
        with pytest.raises(MarketPermitNotValid) as exc:
            refused()
        assert error_of(exc) == ("MarketPermitNotValid", ("a", 2))
        assert (m.holdings, m.escrow, m.depth(BUY), m.depth(SELL)) == before
    m.place(2, "a", SELL, 1010, 10)  # selling is the token's gate, not the market's
    m.take(3, "c", 1, 10)  # c (valid) buys
    assert m.holdings["c"].allowances == 10


def test_position_share_limit_uses_the_quantity_in_circulation() -> None:
    m = limited(position_limit_bps=2_500, issued=48_000)  # 12,000 t
    assert m.position("a") == (10_000, 12_000)
    with pytest.raises(MarketPositionLimit) as exc:
        m.place(1, "a", BUY, 1000, 2_001)
    assert error_of(exc) == ("MarketPositionLimit", ("a", 7, 12_001, 12_000))
    m.place(1, "a", BUY, 1000, 999)
    m.place(2, "a", BUY, 1000, 999)
    with pytest.raises(MarketPositionLimit):
        m.place(3, "a", BUY, 1000, 3)
    # by default the quantity in circulation is the traders' allowances (20,000 t here)
    assert limited(position_limit_bps=2_500).position("a") == (10_000, 5_000)
    for issued in (19_999, -1):
        with pytest.raises(InvalidInputError):
            limited(position_limit_bps=2_500, issued=issued)


def test_position_limit_counts_call_buys_until_they_fill_or_expire() -> None:
    rules = Rulebook(reference_price=1000, block_minimum=1000, position_limit=10_100)
    m = MarketEngine(rules, {"a": RICH, "b": RICH}, call_phase=True)
    m.place(1, "a", BUY, 1000, 100)
    with pytest.raises(MarketPositionLimit):
        m.place(2, "a", BUY, 1000, 1)
    m.place(3, "b", SELL, 1000, 60)
    m.open()
    assert m.position("a") == (10_100, 10_100) and m.holdings["a"].allowances == 10_060
    m.expire()
    assert m.position("a") == (10_060, 10_100)


def test_no_position_limit_counts_no_open_buys() -> None:
    m = engine()
    m.place(1, "a", BUY, 1000, 500)
    assert m.position("a") == (10_000, 0)
