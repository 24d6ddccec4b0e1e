"""The settlement job: a cron trigger at the close plus the margin in Asia/Shanghai on weekdays,
and a job that settles only trading days whose close has passed."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from apscheduler.schedulers.background import BackgroundScheduler  # type: ignore[import-untyped]

from domain.errors import EtsError
from settlement.calendar import TradingCalendar
from settlement.schedule import JOB_ID, add_settlement_job, settle_due, trigger

SHANGHAI = ZoneInfo("Asia/Shanghai")
CAL = TradingCalendar(holidays=frozenset({date(2027, 7, 1)}))


def test_trigger_fires_after_close_on_weekdays_when_margin_ten_minutes() -> None:
    cron = trigger(CAL, 10)
    fire = cron.get_next_fire_time(None, datetime(2027, 7, 2, 16, 0, tzinfo=SHANGHAI))  # Friday after it
    assert fire == datetime(2027, 7, 5, 15, 10, tzinfo=SHANGHAI)  # Monday
    fire = cron.get_next_fire_time(None, datetime(2027, 6, 30, 9, 0, tzinfo=SHANGHAI))
    assert fire.astimezone(UTC) == datetime(2027, 6, 30, 7, 10, tzinfo=UTC)


def test_settle_due_runs_trading_day_and_skips_holidays_and_before_close() -> None:
    days: list[date] = []
    assert (
        settle_due(lambda d: days.append(d) or "ok", CAL, datetime(2027, 6, 30, 15, 10, tzinfo=SHANGHAI))
        == "ok"
    )
    assert settle_due(days.append, CAL, datetime(2027, 7, 1, 15, 10, tzinfo=SHANGHAI)) is None  # holiday
    assert settle_due(days.append, CAL, datetime(2027, 7, 2, 14, 0, tzinfo=SHANGHAI)) is None  # before close
    assert days == [date(2027, 6, 30)]


def test_settle_due_logs_and_returns_none_when_run_fails() -> None:
    def failing(day: date) -> None:
        raise EtsError(f"indexer behind on {day}")

    assert settle_due(failing, CAL, datetime(2027, 6, 30, 15, 10, tzinfo=SHANGHAI)) is None


def test_add_settlement_job_registers_one_job_when_added_twice() -> None:
    scheduler = BackgroundScheduler(timezone=SHANGHAI)
    scheduler.start(paused=True)
    try:
        add_settlement_job(scheduler, lambda d: None, CAL, 15)
        add_settlement_job(scheduler, lambda d: None, CAL, 15)
        jobs = scheduler.get_jobs()
    finally:
        scheduler.shutdown(wait=False)
    assert [j.id for j in jobs] == [JOB_ID]
    assert str(jobs[0].trigger) == "cron[day_of_week='mon-fri', hour='15', minute='15']"
