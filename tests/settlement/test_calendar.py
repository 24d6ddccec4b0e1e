"""The trading calendar: closes in Asia/Shanghai, weekends and holidays roll into the next
trading day, every timestamp falls in exactly one trading day's window, holidays files."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from settlement.calendar import TradingCalendar, day_code, read_holidays
from settlement.errors import CalendarError

SHANGHAI = ZoneInfo("Asia/Shanghai")
HOLIDAYS = frozenset({date(2027, 10, d) for d in range(1, 8)} | {date(2027, 6, 30)})
CAL = TradingCalendar(holidays=HOLIDAYS)


def test_close_at_is_15_shanghai_when_default_calendar() -> None:
    assert CAL.close_at(date(2027, 7, 1)) == int(datetime(2027, 7, 1, 15, tzinfo=SHANGHAI).timestamp())
    assert CAL.close_at(date(2027, 7, 1)) == int(datetime(2027, 7, 1, 7, tzinfo=ZoneInfo("UTC")).timestamp())


def test_window_starts_at_previous_close_when_holiday_and_weekend_between() -> None:
    start, end = CAL.window(date(2027, 10, 8))  # Friday after the National Day week
    assert start == CAL.close_at(date(2027, 9, 30)) and end == CAL.close_at(date(2027, 10, 8))
    assert CAL.window(date(2027, 7, 1))[0] == CAL.close_at(date(2027, 6, 29))


@pytest.mark.parametrize("day", [date(2027, 6, 30), date(2027, 7, 3), date(2027, 10, 4)])
def test_window_refused_when_not_a_trading_day(day: date) -> None:
    with pytest.raises(CalendarError, match="not a trading day"):
        CAL.window(day)


def test_trading_day_of_rolls_forward_when_after_close_or_closed_day() -> None:
    at = lambda *a: int(datetime(*a, tzinfo=SHANGHAI).timestamp())  # noqa: E731
    assert CAL.trading_day_of(at(2027, 7, 1, 14, 59, 59)) == date(2027, 7, 1)
    assert CAL.trading_day_of(at(2027, 7, 1, 15, 0, 0)) == date(2027, 7, 2)
    assert CAL.trading_day_of(at(2027, 7, 3, 11, 0)) == date(2027, 7, 5)
    assert CAL.trading_day_of(at(2027, 6, 30, 10, 0)) == date(2027, 7, 1)


@given(st.integers(1_700_000_000, 1_900_000_000))
def test_every_timestamp_falls_in_exactly_one_trading_day_window(timestamp: int) -> None:
    day = CAL.trading_day_of(timestamp)
    start, end = CAL.window(day)
    assert start <= timestamp < end
    assert CAL.window(CAL.next_trading_day(day))[0] == end
    before = CAL.previous_trading_day(day)
    assert CAL.window(before)[1] == start


def test_read_holidays_skips_comments_when_file_well_formed(tmp_path: Path) -> None:
    path = tmp_path / "holidays.txt"
    path.write_text("# 2027\n2027-10-01 National Day\n\n2027-10-02  # golden week\n")
    assert read_holidays(path) == {date(2027, 10, 1), date(2027, 10, 2)}


def test_read_holidays_refused_with_line_numbers_when_dates_malformed(tmp_path: Path) -> None:
    path = tmp_path / "holidays.txt"
    path.write_text("2027-10-01\n2027-13-01\n# ok\nsoon\n")
    with pytest.raises(CalendarError, match=r"line 2: '2027-13-01'.*line 4: 'soon'"):
        read_holidays(path)


def test_load_refused_when_holidays_file_missing_or_close_malformed(tmp_path: Path) -> None:
    with pytest.raises(CalendarError, match="holidays file"):
        TradingCalendar.load(tmp_path / "none.txt")
    with pytest.raises(CalendarError, match="HH:MM"):
        TradingCalendar.load(close="3pm")
    with pytest.raises(CalendarError, match="time zone"):
        TradingCalendar(timezone="Mars/Olympus")


def test_day_code_is_yyyymmdd() -> None:
    assert day_code(date(2027, 6, 30)) == 20270630
    assert day_code(date(2027, 6, 30) + timedelta(days=1)) == 20270701
