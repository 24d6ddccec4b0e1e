"""domain.surveillance: the three scans worked by hand, their properties (hypothesis), and the
account-records file refused by name, whole."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.errors import SurveillanceInputError
from domain.market import TradeMode, cst_time
from domain.surveillance import (
    AccountRecord,
    FindingKind,
    SurveillanceSettings,
    SurveilledTrade,
    closing_ramp,
    day_number,
    parse_account_records,
    scan,
    volume_concentration,
)

DAY = "2027-03-15"
TOKEN = 16844776
CLOSE = cst_time(day_number(DAY), 54_000)
A, B, C, D = (f"0x{n:040x}" for n in (0xA1, 0xB2, 0xC3, 0xD4))


def trade(
    id: int,
    buyer: str,
    seller: str,
    *,
    price: int = 9_850,
    quantity: int = 100,
    time: int = CLOSE - 7200,
    mode: TradeMode = TradeMode.CONTINUOUS,
    buy_id: int = 0,
    sell_id: int = 0,
    day: str = DAY,
    token: int = TOKEN,
) -> SurveilledTrade:
    ids = (buy_id or 2 * id + 1, sell_id or 2 * id)
    return SurveilledTrade(id, token, day, time, *ids, buyer, seller, price, quantity, mode)


def test_surveillance_wash_trade_between_accounts_of_one_group_cites_every_trade_between_them() -> None:
    grp, ctl = "Zhejiang Energy Group", "Zhejiang SASAC"
    records = [AccountRecord(A, grp, ctl), AccountRecord(B, grp), AccountRecord(C, None, ctl)]
    records.append(AccountRecord(D))
    trades = [
        trade(1, A, B),
        trade(2, B, A, quantity=50),
        trade(3, A, C, quantity=70),  # same controller, not the same group
        trade(4, C, D),  # unrelated
        trade(5, B, A, quantity=120_000, mode=TradeMode.BLOCK, buy_id=9, sell_id=9),  # blocks count too
    ]
    found = scan(trades, records, day=DAY)
    wash = [f for f in found if f.kind is FindingKind.WASH_TRADE]
    assert [(f.accounts, f.trade_ids, f.figures["relation"], f.figures["volume"]) for f in wash] == [
        ((A, B), (1, 2, 5), "same_group", 120_150),
        ((A, C), (3,), "same_controller", 70),
    ]
    assert "group Zhejiang Energy Group" in wash[0].detail


def test_surveillance_closing_ramp_puts_each_step_down_to_the_aggressor() -> None:
    s = SurveillanceSettings(ramp_bps=300, ramp_minutes=30)
    before = trade(1, A, B, price=10_000, time=CLOSE - 3600)
    # in the window: C's buys lift the price 10,000 -> 10,400 (+4 %); D's one sell takes it back 100
    window = [
        trade(2, C, B, price=10_200, time=CLOSE - 1500, buy_id=20, sell_id=10),  # C's buy is the later id
        trade(3, C, A, price=10_400, time=CLOSE - 900, buy_id=22, sell_id=11),
        trade(4, A, D, price=10_300, time=CLOSE - 600, buy_id=12, sell_id=23),  # D sells into A's bid
        trade(5, C, B, price=10_300, time=CLOSE - 300, mode=TradeMode.CALL),  # no aggressor, no step
        trade(6, C, B, price=11_000, time=CLOSE + 60),  # after the close: not in the window
    ]
    found = closing_ramp([before, *window], CLOSE, s)
    assert len(found) == 1
    f = found[0]
    assert f.accounts == (C,) and f.trade_ids == (2, 3)
    assert f.figures["move"] == 400 and f.figures["move_bps"] == 400 and f.figures["base_price"] == 10_000
    assert f.figures["direction"] == "up"
    # a looser threshold of 5 % finds nothing; nothing before the window: the reference is the base
    assert closing_ramp([before, *window], CLOSE, SurveillanceSettings(ramp_bps=500)) == []
    assert closing_ramp(window, CLOSE, s, reference_price=10_000)[0].trade_ids == (2, 3)


def test_surveillance_closing_ramp_down_from_the_reference_when_nothing_traded_before() -> None:
    window = [trade(1, A, B, price=9_500, time=CLOSE - 60, buy_id=1, sell_id=2)]  # B sells down 350
    (f,) = closing_ramp(window, CLOSE, SurveillanceSettings(), reference_price=9_850)
    assert f.accounts == (B,) and f.figures["move"] == -350 and f.figures["move_bps"] == -355
    assert f.figures["direction"] == "down"


def test_surveillance_volume_concentration_counts_listing_trades_above_the_share() -> None:
    s = SurveillanceSettings(concentration_bps=6_000, concentration_min_trades=4)
    trades = [trade(1, A, B), trade(2, A, C), trade(3, A, D), trade(4, C, D),
              trade(5, B, A, quantity=500_000, mode=TradeMode.BLOCK)]  # fmt: skip
    (f,) = volume_concentration(trades, s)
    assert f.accounts == (A,) and f.trade_ids == (1, 2, 3)
    assert f.figures == {"volume": 400, "account_volume": 300, "bought": 300, "sold": 0, "share_bps": 7_500,
                         "trades": 3}  # fmt: skip
    assert volume_concentration(trades[:3], s) == []  # fewer than 4 listing trades: not judged


def test_surveillance_settings_refuse_thresholds_out_of_range() -> None:
    with pytest.raises(SurveillanceInputError, match="ramp_bps"):
        SurveillanceSettings(ramp_bps=0)
    with pytest.raises(SurveillanceInputError, match="concentration_bps"):
        SurveillanceSettings(concentration_bps=10_000)
    with pytest.raises(SurveillanceInputError, match="not YYYY-MM-DD"):
        scan([], [], day="15/03/2027")


# ---------------------------------------------------------------------- properties

ACCOUNTS = [f"0x{n:040x}" for n in range(1, 9)]


@st.composite
def days(draw: st.DrawFn, *, one_price: bool) -> list[SurveilledTrade]:
    n = draw(st.integers(0, 40))
    out = []
    for i in range(n):
        buyer, seller = draw(st.sampled_from(ACCOUNTS)), draw(st.sampled_from(ACCOUNTS))
        if buyer == seller:
            continue
        price = 9_850 if one_price else draw(st.integers(8_865, 10_835))
        time = draw(st.integers(CLOSE - 6 * 3600, CLOSE + 600))
        mode = draw(st.sampled_from(list(TradeMode)))
        ids = draw(st.permutations([2 * i + 1, 2 * i + 2]))
        day = draw(st.sampled_from([DAY, DAY, "2027-03-16"]))
        token = draw(st.sampled_from([TOKEN, TOKEN, TOKEN + 1]))
        out.append(SurveilledTrade(i + 1, token, day, time, ids[0], ids[1], buyer, seller, price,
                                   draw(st.integers(1, 5_000)), mode))  # fmt: skip
    return out


@given(days(one_price=True))
@settings(max_examples=200, deadline=None)
def test_surveillance_property_unrelated_accounts_and_no_price_move_raise_no_wash_or_ramp(
    trades: list[SurveilledTrade],
) -> None:
    records = [AccountRecord(a, f"group-{i}", f"controller-{i}") for i, a in enumerate(ACCOUNTS)]
    found = scan(trades, records, day=DAY, references={TOKEN: 9_850, TOKEN + 1: 9_850})
    assert [f for f in found if f.kind is not FindingKind.VOLUME_CONCENTRATION] == []


@given(days(one_price=False), st.integers(0, 3), st.integers(100, 5_000), st.integers(1, 120))
@settings(max_examples=200, deadline=None)
def test_surveillance_property_findings_cite_only_that_days_trades_of_their_token_and_accounts(
    trades: list[SurveilledTrade], groups: int, ramp_bps: int, minutes: int
) -> None:
    records = [AccountRecord(a, f"group-{i % (groups + 1)}" if groups else None, None)
               for i, a in enumerate(ACCOUNTS)]  # fmt: skip
    s = SurveillanceSettings(ramp_bps=ramp_bps, ramp_minutes=minutes, concentration_min_trades=3)
    by_id = {t.id: t for t in trades}
    found = scan(trades, records, s, day=DAY)
    keys = [f.key for f in found]
    assert len(keys) == len(set(keys))  # one finding per (kind, day, token, accounts)
    for f in found:
        assert f.day == DAY and f.trade_ids and list(f.trade_ids) == sorted(f.trade_ids)
        cited = [by_id[i] for i in f.trade_ids]
        assert all(t.day == DAY and t.token_id == f.token_id for t in cited)
        named = {a.lower() for a in f.accounts}
        assert all({t.buyer.lower(), t.seller.lower()} & named for t in cited)
        if f.kind is FindingKind.WASH_TRADE:
            assert all({t.buyer.lower(), t.seller.lower()} == named for t in cited)
    assert scan(list(reversed(trades)), records, s, day=DAY) == found  # order of input does not matter


@given(days(one_price=False))
@settings(max_examples=100, deadline=None)
def test_surveillance_property_no_records_no_wash_trade(trades: list[SurveilledTrade]) -> None:
    assert [f for f in scan(trades, [], day=DAY) if f.kind is FindingKind.WASH_TRADE] == []


# ---------------------------------------------------------------------- the records file


def test_surveillance_records_parse_with_empty_cells_as_none() -> None:
    text = f"account,group,controller\n{A},Zhejiang Energy Group,Zhejiang SASAC\n{B},,\n\n"
    assert parse_account_records(text) == [
        AccountRecord(A, "Zhejiang Energy Group", "Zhejiang SASAC"), AccountRecord(B, None, None),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("text", "words"),
    [
        (f"account,group,controller\n0x12345,G,C\n{A},G,C\n", ["line 2", "bad address '0x12345'"]),
        (f"account,group,controller\n{A},G,C\n{A.upper().replace('0X', '0x')},H,D\n",
         ["line 3", "duplicate account", "first on line 2"]),
        (f"account,group,controller\n{A},G\n", ["line 2", "2 cells"]),
        (f"acct,grp,ctl\n{A},G,C\n", ["header must be account,group,controller"]),
        ("account,group,controller\n", ["no account record"]),
        (f"account,group,controller\n{A},{'x' * 201},C\n", ["group is longer than 200"]),
    ],
)  # fmt: skip
def test_surveillance_records_refuse_a_bad_file_by_name(text: str, words: list[str]) -> None:
    with pytest.raises(SurveillanceInputError) as info:
        parse_account_records(text, source="records.csv")
    assert all(w in str(info.value) for w in words), str(info.value)
