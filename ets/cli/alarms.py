"""``ets alarms``: the compliance alarm scheduler (and, when configured, the end-of-day settlement
beside it) and its stored alarms."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from ets.cli.context import context
from ets.cli.options import cli_errors

if TYPE_CHECKING:
    from scheduler.alarms import Alarm
    from scheduler.compliance import ScanReport

alarms_app = typer.Typer(help="Compliance alarms and reminders (scheduler).", no_args_is_help=True)


def _deliveries(alarm: Alarm) -> str:
    return ", ".join(
        f"{d.channel} ok" if d.delivered else f"{d.channel} pending ({d.attempts} tries)"
        for d in alarm.deliveries
    )


def _print_report(report: ScanReport) -> None:
    from scheduler.alarms import utc

    ctx = context()
    ctx.console.print(
        f"scan at {utc(report.now)}: blocks {report.from_block}..{report.to_block}, {report.events} events"
    )
    raised = Table("id", "kind", "enterprise", "year", "due", "message", title="alarms raised")
    for a in report.raised:
        raised.add_row(str(a.id), str(a.kind), a.enterprise, str(a.year), utc(a.due_at), a.message)
    ctx.console.print(raised)
    deliveries = Table("alarm", "channel", "result", "attempts", title="deliveries")
    for d in report.deliveries:
        deliveries.add_row(
            str(d.alarm.id), d.channel, "delivered" if d.delivered else f"failed: {d.error}", str(d.attempts)
        )
    ctx.console.print(deliveries)


@alarms_app.command("run")
@cli_errors
def alarms_run(
    once: Annotated[bool, typer.Option("--once", help="One scan; print what it did.")] = False,
    interval: Annotated[
        float | None, typer.Option(help="Seconds between scans (default: ETS_SCHEDULER_INTERVAL_SECONDS).")
    ] = None,
) -> None:
    """Raise and deliver compliance alarms every interval until interrupted (Ctrl-C, SIGTERM); with
    ``ETS_SETTLE_SCHEDULE=1`` or ``ETS_SETTLE_KEYSTORE``, also settle each trading day after its
    close (``ets settle``'s run, at the close + ``ETS_SETTLE_MARGIN_MINUTES``); scan each trading
    day's trades for abnormal trading (``ets market scan``'s run, at the close +
    ``ETS_SCHEDULER_SURVEILLANCE_MARGIN_MINUTES``; ``ETS_SCHEDULER_SURVEILLANCE=0``: never); and
    purge the API's expired nonces, sessions and intents from the read model every
    ``ETS_SCHEDULER_PURGE_INTERVAL_SECONDS`` (an hour; 0: never); relay the sites' field alarms
    (quota, over-standard, facility, tamper) from the gateways' field stores every
    ``ETS_SCHEDULER_FIELD_INTERVAL_SECONDS`` (``ETS_SCHEDULER_FIELD_RELAY=0``: never)."""
    import signal

    from scheduler.config import SchedulerSettings
    from scheduler.service import blocking, stop
    from scheduler.wiring import (
        compliance_alarms,
        field_relay_job,
        purge_job,
        settlement_job,
        surveillance_job,
    )
    from settlement.schedule import JOB_ID

    ctx = context()
    alarms = compliance_alarms()
    try:
        if once:
            _print_report(alarms.scan())
            return
        seconds = interval or SchedulerSettings.load().interval_seconds
        purge = purge_job()
        field = field_relay_job(alarms)
        scheduler = blocking(alarms, seconds, settlement_job(), purge, surveillance_job(alarms), field)
        signal.signal(signal.SIGTERM, lambda *_: stop(scheduler, wait=False))
        ctx.err_console.print(f"compliance alarm scheduler: a scan every {seconds:g} s; Ctrl-C stops it")
        job = scheduler.get_job(JOB_ID)
        if job is not None:
            ctx.err_console.print(f"end-of-day settlement: {job.trigger} ({job.trigger.timezone})")
        if purge is not None:
            ctx.err_console.print(f"purge of expired API state: every {purge.interval_seconds:g} s")
        if field is not None:
            ctx.err_console.print(f"field alarms relay: every {field.interval_seconds:g} s")
        try:
            scheduler.start()
        except KeyboardInterrupt:
            stop(scheduler)
    finally:
        alarms.store.close()


@alarms_app.command("list")
@cli_errors
def alarms_list(
    enterprise: Annotated[str | None, typer.Option(help="Only this enterprise's alarms.")] = None,
    year: Annotated[int | None, typer.Option(help="Only this compliance year's alarms.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List stored alarms and their deliveries (reads the alarm database only)."""
    from scheduler.alarms import AlarmStore, utc
    from scheduler.config import SchedulerSettings

    ctx = context()
    with AlarmStore(SchedulerSettings.load().database(ctx.settings.state_dir)) as store:
        rows = store.alarms(enterprise=enterprise, year=year)
    if as_json:
        ctx.print_json([a.as_dict() for a in rows])
        return
    table = Table("id", "kind", "enterprise", "year", "due", "raised", "deliveries", title="alarms")
    for a in rows:
        table.add_row(
            str(a.id), str(a.kind), a.enterprise, str(a.year), utc(a.due_at), utc(a.raised_at), _deliveries(a)
        )
    ctx.console.print(table)
