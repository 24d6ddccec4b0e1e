"""domain.bulletin: the daily bulletin's arithmetic, with hypothesis properties (the modes add up
to the ``all`` row, the VWAP lies between the low and the high, the year's totals add up day over
day) and worked examples."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.bulletin import ALL, MODES, Bulletin, Fill, YearTotals, build_bulletin, bulletin_mode
from domain.errors import InvalidInputError
from domain.market import vwap_close

DAY = date(2027, 3, 15)
TOKENS = (16844776, 16844777)

fills_st = st.lists(
    st.builds(
        Fill,
        token_id=st.sampled_from(TOKENS),
        mode=st.sampled_from(("call", "continuous", "take", "block")),
        price=st.integers(1, 2_000_000),
        quantity=st.integers(1, 1_000_000),
    ),
    max_size=60,
)


def test_bulletin_worked_example_per_mode_and_all() -> None:
    fills = [
        Fill(TOKENS[0], "call", 10_000, 100),
        Fill(TOKENS[0], "continuous", 10_100, 50),
        Fill(TOKENS[0], "take", 9_900, 50),
        Fill(TOKENS[0], "block", 9_000, 1_000),
    ]
    b = build_bulletin(DAY, fills, {(TOKENS[0], "block"): YearTotals(500, 4_600_000, 1),
                                    (TOKENS[0], ALL): YearTotals(500, 4_600_000, 1)})  # fmt: skip
    assert [r.mode for r in b.rows] == ["listing", "call", "block", "all"]
    listing = b.row(TOKENS[0], "listing")
    assert listing is not None
    assert (listing.volume, listing.turnover, listing.open, listing.high, listing.low, listing.vwap) == (
        100, 1_000_000, 10_100, 10_100, 9_900, 10_000,
    )  # fmt: skip
    everything = b.row(TOKENS[0], ALL)
    assert everything is not None
    # close: listing and call trades only, half up: 2,000,000 / 200
    assert everything.close == listing.close == 10_000
    assert (everything.open, everything.high, everything.low, everything.trades) == (10_000, 10_100, 9_000, 4)
    assert (everything.ytd_volume, everything.ytd_turnover, everything.ytd_trades) == (1_700, 15_600_000, 5)


def test_bulletin_rows_without_trades_today_carry_the_year_when_quiet() -> None:
    b = build_bulletin(
        DAY, [], {(TOKENS[1], "call"): YearTotals(10, 1_000, 1), (TOKENS[1], ALL): YearTotals(10, 1_000, 1)}
    )
    assert [(r.mode, r.volume, r.open, r.vwap, r.close, r.ytd_volume) for r in b.rows] == [
        ("call", 0, None, None, None, 10),
        ("all", 0, None, None, None, 10),
    ]


def test_bulletin_mode_refused_when_unknown() -> None:
    with pytest.raises(InvalidInputError, match="unknown trade mode"):
        bulletin_mode("auction")
    with pytest.raises(InvalidInputError):
        build_bulletin(DAY, [Fill(TOKENS[0], "continuous", 0, 5)])


@given(fills_st)
def test_bulletin_modes_sum_to_all_row_for_any_day(fills: list[Fill]) -> None:
    b = build_bulletin(DAY, fills)
    for token in {f.token_id for f in fills}:
        rows = [r for r in b.rows if r.token_id == token and r.mode in MODES]
        everything = b.row(token, ALL)
        assert everything is not None
        assert (
            sum(r.volume for r in rows)
            == everything.volume
            == sum(f.quantity for f in fills if f.token_id == token)
        )
        assert sum(r.turnover for r in rows) == everything.turnover
        assert sum(r.trades for r in rows) == everything.trades
        if everything.trades:
            highs = [r.high for r in rows if r.high is not None]
            lows = [r.low for r in rows if r.low is not None]
            assert everything.high == max(highs) and everything.low == min(lows)


@given(fills_st)
def test_bulletin_vwap_between_low_and_high_for_any_day(fills: list[Fill]) -> None:
    for r in build_bulletin(DAY, fills).rows:
        assert r.low is not None and r.high is not None and r.vwap is not None
        assert r.low <= r.vwap <= r.high
        listing = [(f.price, f.quantity) for f in fills if f.token_id == r.token_id and f.mode != "block"]
        assert r.close == (vwap_close(listing, 0) if listing else None)


@given(st.lists(fills_st, min_size=1, max_size=5))
def test_bulletin_year_totals_add_up_day_over_day(days: list[list[Fill]]) -> None:
    prior: dict[tuple[int, str], YearTotals] = {}
    seen: list[Fill] = []
    last: Bulletin | None = None
    for i, fills in enumerate(days):
        last = build_bulletin(DAY + timedelta(days=i), fills, prior)
        for r in last.rows:
            before = prior.get((r.token_id, r.mode), YearTotals())
            assert r.ytd == before + YearTotals(r.volume, r.turnover, r.trades)
        prior = last.year_to_date()
        seen += fills
    assert last is not None
    # the chained totals equal one day holding every fill of the year
    whole = build_bulletin(DAY, seen).year_to_date()
    assert {k: v for k, v in prior.items() if v != YearTotals()} == whole
