"""APScheduler wiring: the compliance scan as an interval job and, when configured, the end-of-day
settlement as a cron job beside it, started and stopped by their host process."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Protocol

# APScheduler 3 ships no type information
from apscheduler.schedulers.background import BackgroundScheduler  # type: ignore[import-untyped]
from apscheduler.schedulers.base import BaseScheduler  # type: ignore[import-untyped]
from apscheduler.schedulers.blocking import BlockingScheduler  # type: ignore[import-untyped]

from ets.errors import EtsError
from settlement.calendar import TradingCalendar
from settlement.schedule import add_settlement_job

logger = logging.getLogger(__name__)

__all__ = ["JOB_ID", "Scannable", "SettlementJob", "blocking", "run_scan", "schedule", "start", "stop"]

#: Id of the scan job in the scheduler.
JOB_ID = "compliance-alarms"


class Scannable(Protocol):
    """Anything with a ``scan()`` (a :class:`~scheduler.compliance.ComplianceAlarms`)."""

    def scan(self) -> Any: ...


@dataclass(frozen=True)
class SettlementJob:
    """The end-of-day settlement the service runs beside the scan.

    Attributes:
        run: settles one trading day (``ets.settle_cli.settlement_runner`` builds it from the
            read model, the chain and the ``ETS_SETTLE_*`` settings).
        calendar: trading days and their close.
        margin_minutes: the job fires this long after the close.
    """

    run: Callable[[date], Any]
    calendar: TradingCalendar
    margin_minutes: int = 10


def run_scan(alarms: Scannable) -> Any:
    """One scan, with ETS errors logged instead of raised (the next run retries).

    Returns:
        The scan's report, or ``None`` when it failed.
    """
    try:
        return alarms.scan()
    except EtsError as exc:  # chain down, database locked ...: the next run tries again
        logger.error("compliance scan failed: %s: %s", type(exc).__name__, exc)
        return None


def schedule(
    scheduler: BaseScheduler,
    alarms: Scannable,
    interval_seconds: float,
    settlement: SettlementJob | None = None,
) -> BaseScheduler:
    """Add the scan job to ``scheduler``: every ``interval_seconds``, first run at once; with
    ``settlement``, also the settlement job (Mondays to Fridays at the close + margin in the
    calendar's zone, :func:`settlement.schedule.add_settlement_job`).

    Runs never overlap (``max_instances=1``) and missed runs collapse into one (``coalesce``).
    """
    scheduler.add_job(
        run_scan,
        "interval",
        args=(alarms,),
        id=JOB_ID,
        name="compliance alarms scan",
        seconds=interval_seconds,
        next_run_time=datetime.now(UTC),
        max_instances=1,
        coalesce=True,
        replace_existing=True,
        misfire_grace_time=max(int(interval_seconds), 1),
    )
    if settlement is not None:
        add_settlement_job(scheduler, settlement.run, settlement.calendar, settlement.margin_minutes)
    return scheduler


def start(
    alarms: Scannable, interval_seconds: float, settlement: SettlementJob | None = None
) -> BackgroundScheduler:
    """Run the scan job (and ``settlement``'s, when given) in a background thread of this process
    (e.g. the API's); returns the scheduler."""
    scheduler = BackgroundScheduler(timezone=UTC, daemon=True)
    schedule(scheduler, alarms, interval_seconds, settlement)
    scheduler.start()
    logger.info("compliance alarm scheduler started (every %s s)", interval_seconds)
    return scheduler


def stop(scheduler: BaseScheduler, *, wait: bool = True) -> None:
    """Stop ``scheduler`` (``wait``: let a running scan finish first); a stopped one is left alone."""
    if scheduler.running:
        scheduler.shutdown(wait=wait)
        logger.info("compliance alarm scheduler stopped")


def blocking(
    alarms: Scannable, interval_seconds: float, settlement: SettlementJob | None = None
) -> BlockingScheduler:
    """A foreground scheduler with the scan job and, when given, the settlement job (``start()``
    blocks until ``shutdown()``)."""
    scheduler = BlockingScheduler(timezone=UTC)
    schedule(scheduler, alarms, interval_seconds, settlement)
    return scheduler
