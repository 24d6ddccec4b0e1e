"""APScheduler wiring: the compliance scan as an interval job, the purge of the API's expired state
(nonces, sessions, intents) beside it, and, when configured, the end-of-day settlement as a cron
job, started and stopped by their host process."""

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
from sqlalchemy.exc import SQLAlchemyError

from domain.errors import EtsError
from scheduler.surveillance import SurveillanceJob, add_surveillance_job
from settlement.calendar import TradingCalendar
from settlement.schedule import add_settlement_job

logger = logging.getLogger(__name__)

__all__ = [
    "JOB_ID",
    "PURGE_JOB_ID",
    "FieldRelayJob",
    "PurgeJob",
    "Scannable",
    "SettlementJob",
    "add_field_job",
    "add_purge_job",
    "blocking",
    "run_purge",
    "run_relay",
    "run_scan",
    "schedule",
    "start",
    "stop",
]

#: Id of the scan job in the scheduler.
JOB_ID = "compliance-alarms"
#: Id of the purge job in the scheduler.
PURGE_JOB_ID = "purge-expired-api-state"


class Scannable(Protocol):
    """Anything with a ``scan()`` (a :class:`~scheduler.compliance.ComplianceAlarms`)."""

    def scan(self) -> Any: ...


@dataclass(frozen=True)
class SettlementJob:
    """The end-of-day settlement the service runs beside the scan.

    Attributes:
        run: settles one trading day (``settlement.service.SettlementService.runner`` builds it
            from the read model, the chain and the ``ETS_SETTLE_*`` settings).
        calendar: trading days and their close.
        margin_minutes: the job fires this long after the close.
    """

    run: Callable[[date], Any]
    calendar: TradingCalendar
    margin_minutes: int = 10


@dataclass(frozen=True)
class PurgeJob:
    """The purge of the API's expired state the service runs beside the scan.

    Attributes:
        run: deletes expired nonces, sessions and intents (:func:`readmodel.purge.purge_expired`
            on the read model's engine) and returns what it deleted.
        interval_seconds: seconds between two purges.
    """

    run: Callable[[], Any]
    interval_seconds: float = 3600.0


def run_purge(job: PurgeJob) -> Any:
    """One purge, with failures logged instead of raised (the next run retries).

    Returns:
        The purge's report, or ``None`` when it failed.
    """
    try:
        return job.run()
    except (EtsError, SQLAlchemyError) as exc:  # database locked or down: the next run tries again
        logger.error("purge failed: %s: %s", type(exc).__name__, exc)
        return None


def add_purge_job(scheduler: BaseScheduler, job: PurgeJob) -> None:
    """Add the purge to ``scheduler``: every ``job.interval_seconds``, first run at once; runs never
    overlap and missed runs collapse into one."""
    scheduler.add_job(
        run_purge,
        "interval",
        args=(job,),
        id=PURGE_JOB_ID,
        name="purge expired API nonces, sessions and intents",
        seconds=job.interval_seconds,
        next_run_time=datetime.now(UTC),
        max_instances=1,
        coalesce=True,
        replace_existing=True,
        misfire_grace_time=max(int(job.interval_seconds), 1),
    )


@dataclass(frozen=True)
class FieldRelayJob:
    """The relay of the sites' field alarms (``scheduler.field.FieldAlarmRelay.run``) and its interval."""

    run: Callable[[], Any]
    interval_seconds: float


def run_relay(job: FieldRelayJob) -> Any:
    """One relay of the field alarms, with ETS errors logged instead of raised (the next run retries)."""
    try:
        return job.run()
    except EtsError as exc:
        logger.error("field alarm relay failed: %s: %s", type(exc).__name__, exc)
        return None


def add_field_job(scheduler: BaseScheduler, job: FieldRelayJob) -> None:
    """Add the field alarm relay to ``scheduler``: every ``job.interval_seconds``, first run at once."""
    scheduler.add_job(
        run_relay,
        "interval",
        args=(job,),
        id="field-alarms",
        name="field alarms relay",
        seconds=job.interval_seconds,
        next_run_time=datetime.now(UTC),
        max_instances=1,
        coalesce=True,
        replace_existing=True,
        misfire_grace_time=max(int(job.interval_seconds), 1),
    )


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
    purge: PurgeJob | None = None,
    surveillance: SurveillanceJob | None = None,
    field: FieldRelayJob | None = None,
) -> BaseScheduler:
    """Add the scan job to ``scheduler``: every ``interval_seconds``, first run at once; with
    ``settlement``, also the settlement job (Mondays to Fridays at the close + margin in the
    calendar's zone, :func:`settlement.schedule.add_settlement_job`); with ``purge``, the purge of
    the API's expired state (:func:`add_purge_job`); with ``surveillance``, the market surveillance
    after the close (:func:`scheduler.surveillance.add_surveillance_job`).

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
    if purge is not None:
        add_purge_job(scheduler, purge)
    if surveillance is not None:
        add_surveillance_job(scheduler, surveillance)
    if field is not None:
        add_field_job(scheduler, field)
    return scheduler


def start(
    alarms: Scannable,
    interval_seconds: float,
    settlement: SettlementJob | None = None,
    purge: PurgeJob | None = None,
    surveillance: SurveillanceJob | None = None,
) -> BackgroundScheduler:
    """Run the scan job (and ``settlement``'s, ``purge``'s and ``surveillance``'s, when given) in a
    background thread of this process (e.g. the API's); returns the scheduler."""
    scheduler = BackgroundScheduler(timezone=UTC, daemon=True)
    schedule(scheduler, alarms, interval_seconds, settlement, purge, surveillance)
    scheduler.start()
    logger.info("compliance alarm scheduler started (every %s s)", interval_seconds)
    return scheduler


def stop(scheduler: BaseScheduler, *, wait: bool = True) -> None:
    """Stop ``scheduler`` (``wait``: let a running scan finish first); a stopped one is left alone."""
    if scheduler.running:
        scheduler.shutdown(wait=wait)
        logger.info("compliance alarm scheduler stopped")


def blocking(
    alarms: Scannable,
    interval_seconds: float,
    settlement: SettlementJob | None = None,
    purge: PurgeJob | None = None,
    surveillance: SurveillanceJob | None = None,
    field: FieldRelayJob | None = None,
) -> BlockingScheduler:
    """A foreground scheduler with the scan job and, when given, the settlement, purge,
    surveillance and field alarm relay jobs (``start()`` blocks until ``shutdown()``)."""
    scheduler = BlockingScheduler(timezone=UTC)
    schedule(scheduler, alarms, interval_seconds, settlement, purge, surveillance, field)
    return scheduler
