"""The settlement job for APScheduler: every weekday at the close plus a margin (Asia/Shanghai),
settle the day when it is a trading day; a failed run is logged and retried at the next run."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

# APScheduler 3 ships no type information
from apscheduler.schedulers.base import BaseScheduler  # type: ignore[import-untyped]
from apscheduler.schedulers.blocking import BlockingScheduler  # type: ignore[import-untyped]
from apscheduler.triggers.cron import CronTrigger  # type: ignore[import-untyped]

from domain.errors import EtsError
from settlement.calendar import TradingCalendar

logger = logging.getLogger(__name__)

__all__ = ["JOB_ID", "add_settlement_job", "blocking", "settle_due", "trigger"]

#: Id of the settlement job in a scheduler.
JOB_ID = "end-of-day-settlement"


def trigger(calendar: TradingCalendar, margin_minutes: int) -> CronTrigger:
    """Mondays to Fridays at the close + ``margin_minutes``, in the calendar's zone (holidays are
    skipped by :func:`settle_due`, since cron knows no holiday list)."""
    at = datetime.combine(date(2000, 1, 3), calendar.close) + timedelta(minutes=margin_minutes)
    return CronTrigger(day_of_week="mon-fri", hour=at.hour, minute=at.minute, timezone=calendar.zone)


def settle_due(run: Callable[[date], Any], calendar: TradingCalendar, now: datetime | None = None) -> Any:
    """The job: settle today's trading day when today is one and its close has passed.

    Args:
        run: settles a day (``settlement.service.SettlementService.runner`` builds one).
        calendar: the trading calendar.
        now: the time (default: now).

    Returns:
        ``run``'s result, or None when there was nothing to settle or the run failed (logged).
    """
    local = (now or datetime.now(UTC)).astimezone(calendar.zone)
    today = local.date()
    if not calendar.is_trading_day(today) or local.time() < calendar.close:
        logger.info("no settlement due", extra={"day": today.isoformat()})
        return None
    try:
        return run(today)
    except EtsError as exc:  # day still open on-chain, indexer behind, bank file late: logged, rerun by hand
        logger.error("settlement of %s failed: %s: %s", today, type(exc).__name__, exc)
        return None


def add_settlement_job(
    scheduler: BaseScheduler, run: Callable[[date], Any], calendar: TradingCalendar, margin_minutes: int = 10
) -> BaseScheduler:
    """Add the settlement job to ``scheduler`` (e.g. the service's, next to the compliance scan).

    Runs never overlap (``max_instances=1``); a run missed by up to six hours (the host was down
    at the close) still runs once (``coalesce``).
    """
    scheduler.add_job(
        settle_due,
        trigger(calendar, margin_minutes),
        args=(run, calendar),
        id=JOB_ID,
        name="end-of-day settlement",
        max_instances=1,
        coalesce=True,
        replace_existing=True,
        misfire_grace_time=6 * 3600,
    )
    return scheduler


def blocking(
    run: Callable[[date], Any], calendar: TradingCalendar, margin_minutes: int = 10
) -> BlockingScheduler:
    """A foreground scheduler with the settlement job (``start()`` blocks until ``shutdown()``)."""
    scheduler = BlockingScheduler(timezone=calendar.zone)
    return add_settlement_job(scheduler, run, calendar, margin_minutes)
