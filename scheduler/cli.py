"""``ets alarms``: the compliance alarm scheduler (and, when configured, the end-of-day settlement
beside it) and its stored alarms."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

if TYPE_CHECKING:
    from scheduler.alarms import Alarm
    from scheduler.compliance import ComplianceAlarms, ScanReport
    from scheduler.service import PurgeJob, SettlementJob

alarms_app = typer.Typer(help="Compliance alarms and reminders (scheduler).", no_args_is_help=True)

# ets.cli imports this module at its end: the app above exists by then, whichever is imported first.
from ets.cli import _deployment, _print_json, _settings, cli_errors, console, err_console  # noqa: E402


def _alarms() -> ComplianceAlarms:
    from chain.allowance import AllowanceClient, SettlementClient
    from chain.compliance import ComplianceClient
    from scheduler.compliance import CONTRACT, ComplianceAlarms
    from scheduler.config import SchedulerSettings

    settings = SchedulerSettings.load()  # refused before the chain is asked anything
    chain_settings = _settings()
    chain, manifest = _deployment()
    record = manifest.contracts.get(CONTRACT)
    allowance = AllowanceClient(chain, manifest.address("AllowanceToken"))
    cash = SettlementClient(chain, manifest.address("SettlementToken"))
    client = ComplianceClient(
        chain, manifest.address(CONTRACT), allowance, cash, from_block=record.block if record else 0
    )
    return ComplianceAlarms.from_settings(
        client, settings, chain_settings.state_dir, confirmations=chain_settings.confirmations
    )


def settlement_job() -> SettlementJob | None:
    """The settlement job for the service when ``ETS_SETTLE_SCHEDULE=1`` or ``ETS_SETTLE_KEYSTORE``
    is set (None otherwise): runs as ``ets settle`` would, against the read model
    (``ETS_DATABASE_URL``) and the chain, anchoring with the settlement keystore (else the
    service account) unless ``ETS_SETTLE_PUBLISH=0``.

    Raises:
        SettlementError: invalid ``ETS_SETTLE_*`` settings.
        ConfigError: publishing without a key, or a keystore that does not open.
    """
    from scheduler.service import SettlementJob
    from settlement.config import SettlementSettings

    if not SettlementSettings.load().scheduled:
        return None
    from ets.settle_cli import _anchor, _context, settlement_runner

    ctx = _context()
    anchor = _anchor(ctx, None, ctx.settings.keystore)  # the key is opened now, not at the close
    return SettlementJob(settlement_runner(ctx, anchor), ctx.settings.calendar(), ctx.settings.margin_minutes)


def purge_job() -> PurgeJob | None:
    """The purge of the API's expired nonces, sessions and intents in the read model
    (``ETS_DATABASE_URL``, the API's), every ``ETS_SCHEDULER_PURGE_INTERVAL_SECONDS`` (None when 0).

    Raises:
        ApiConfigError: invalid API settings (the read model's URL).
        SchedulerConfigError: invalid scheduler settings.
    """
    import functools

    from api.config import ApiSettings
    from readmodel.purge import purge_expired
    from readmodel.session import make_engine
    from scheduler.config import SchedulerSettings
    from scheduler.service import PurgeJob

    settings = SchedulerSettings.load()
    if settings.purge_interval_seconds <= 0:
        return None
    engine = make_engine(ApiSettings.load().database(_settings()))
    retention = int(settings.intent_retention_days * 86_400)
    return PurgeJob(
        functools.partial(purge_expired, engine, intent_retention_s=retention),
        settings.purge_interval_seconds,
    )


def _deliveries(alarm: Alarm) -> str:
    return ", ".join(
        f"{d.channel} ok" if d.delivered else f"{d.channel} pending ({d.attempts} tries)"
        for d in alarm.deliveries
    )


def _print_report(report: ScanReport) -> None:
    from scheduler.alarms import utc

    console.print(
        f"scan at {utc(report.now)}: blocks {report.from_block}..{report.to_block}, {report.events} events"
    )
    raised = Table("id", "kind", "enterprise", "year", "due", "message", title="alarms raised")
    for a in report.raised:
        raised.add_row(str(a.id), str(a.kind), a.enterprise, str(a.year), utc(a.due_at), a.message)
    console.print(raised)
    deliveries = Table("alarm", "channel", "result", "attempts", title="deliveries")
    for d in report.deliveries:
        deliveries.add_row(
            str(d.alarm.id), d.channel, "delivered" if d.delivered else f"failed: {d.error}", str(d.attempts)
        )
    console.print(deliveries)


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
    close (``ets settle``'s run, at the close + ``ETS_SETTLE_MARGIN_MINUTES``); and purge the API's
    expired nonces, sessions and intents from the read model every
    ``ETS_SCHEDULER_PURGE_INTERVAL_SECONDS`` (an hour; 0: never)."""
    import signal

    from scheduler.config import SchedulerSettings
    from scheduler.service import blocking, stop
    from settlement.schedule import JOB_ID

    alarms = _alarms()
    try:
        if once:
            _print_report(alarms.scan())
            return
        seconds = interval or SchedulerSettings.load().interval_seconds
        purge = purge_job()
        scheduler = blocking(alarms, seconds, settlement_job(), purge)
        signal.signal(signal.SIGTERM, lambda *_: stop(scheduler, wait=False))
        err_console.print(f"compliance alarm scheduler: a scan every {seconds:g} s; Ctrl-C stops it")
        job = scheduler.get_job(JOB_ID)
        if job is not None:
            err_console.print(f"end-of-day settlement: {job.trigger} ({job.trigger.timezone})")
        if purge is not None:
            err_console.print(f"purge of expired API state: every {purge.interval_seconds:g} s")
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

    with AlarmStore(SchedulerSettings.load().database(_settings().state_dir)) as store:
        rows = store.alarms(enterprise=enterprise, year=year)
    if as_json:
        _print_json([a.as_dict() for a in rows])
        return
    table = Table("id", "kind", "enterprise", "year", "due", "raised", "deliveries", title="alarms")
    for a in rows:
        table.add_row(
            str(a.id), str(a.kind), a.enterprise, str(a.year), utc(a.due_at), utc(a.raised_at), _deliveries(a)
        )
    console.print(table)
