"""The trading calendar: trading days (weekdays that are not holidays), their 15:00 close in
Asia/Shanghai, and the window of block times each trading day settles."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from settlement.errors import CalendarError

#: Longest run of non-trading days the calendar accepts (Spring Festival plus weekends is ~9).
MAX_CLOSED_RUN = 40


def read_holidays(path: Path) -> frozenset[date]:
    """Holidays from a text file: one ISO date (``2027-10-01``) per line, optionally followed by
    a description; blank lines and ``#`` comments are ignored.

    Raises:
        CalendarError: the file is missing or a line is not a date (every bad line is listed).
    """
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise CalendarError(f"holidays file {path}: {exc.strerror or exc}") from None
    days: set[date] = set()
    problems: list[str] = []
    for number, line in enumerate(lines, start=1):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        token = text.split()[0]
        try:
            days.add(date.fromisoformat(token))
        except ValueError:
            problems.append(f"line {number}: {token!r} is not a date (YYYY-MM-DD)")
    if problems:
        raise CalendarError(f"holidays file {path}: " + "; ".join(problems))
    return frozenset(days)


@dataclass(frozen=True)
class TradingCalendar:
    """Trading days and their close.

    A trading day is a Monday to Friday that is not a holiday. Trading day D settles every block
    with ``close(previous trading day) <= timestamp < close(D)``: movements on a weekend, a
    holiday or after a close fall into the next trading day, so each block belongs to exactly one.

    Attributes:
        timezone: IANA zone of the close (``Asia/Shanghai``).
        close: local close time (15:00).
        holidays: dates the market is closed besides weekends.
    """

    timezone: str = "Asia/Shanghai"
    close: time = time(15, 0)
    holidays: frozenset[date] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise CalendarError(f"unknown time zone {self.timezone!r}") from None

    @classmethod
    def load(
        cls, holidays: Path | None = None, *, timezone: str = "Asia/Shanghai", close: str = "15:00"
    ) -> TradingCalendar:
        """A calendar from a holidays file (None: weekends only) and a close ``HH:MM``.

        Raises:
            CalendarError: bad file, zone or close time.
        """
        try:
            close_time = time.fromisoformat(close)
        except ValueError:
            raise CalendarError(f"close time {close!r} is not HH:MM") from None
        days = read_holidays(holidays) if holidays is not None else frozenset()
        return cls(timezone=timezone, close=close_time, holidays=days)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def is_trading_day(self, day: date) -> bool:
        """Whether ``day`` is a weekday and not a holiday."""
        return day.weekday() < 5 and day not in self.holidays

    def _step(self, day: date, direction: int) -> date:
        candidate = day
        for _ in range(MAX_CLOSED_RUN):
            candidate += timedelta(days=direction)
            if self.is_trading_day(candidate):
                return candidate
        raise CalendarError(f"no trading day within {MAX_CLOSED_RUN} days of {day}")

    def previous_trading_day(self, day: date) -> date:
        """The last trading day before ``day``."""
        return self._step(day, -1)

    def next_trading_day(self, day: date) -> date:
        """The first trading day after ``day``."""
        return self._step(day, 1)

    def close_at(self, day: date) -> int:
        """Unix time of ``day``'s close."""
        return int(datetime.combine(day, self.close, tzinfo=self.zone).timestamp())

    def window(self, day: date) -> tuple[int, int]:
        """``(start, end)`` unix times of the block timestamps trading day ``day`` settles:
        ``start <= t < end``.

        Raises:
            CalendarError: ``day`` is not a trading day.
        """
        if not self.is_trading_day(day):
            kind = "a holiday" if day in self.holidays else "a weekend"
            raise CalendarError(f"{day} is not a trading day ({kind})")
        return self.close_at(self.previous_trading_day(day)), self.close_at(day)

    def trading_day_of(self, timestamp: int) -> date:
        """The trading day whose window holds ``timestamp``."""
        local = datetime.fromtimestamp(timestamp, self.zone)
        day = local.date()
        if not self.is_trading_day(day) or local.time() >= self.close:
            day = self.next_trading_day(day)
        return day

    def trading_days(self, start: date, end: date) -> Iterable[date]:
        """Trading days from ``start`` to ``end`` inclusive."""
        day = start
        while day <= end:
            if self.is_trading_day(day):
                yield day
            day += timedelta(days=1)


def day_code(day: date) -> int:
    """The on-chain form of a trading day: ``YYYYMMDD`` as an integer."""
    return day.year * 10_000 + day.month * 100 + day.day
