"""The scheduler service's wiring from the environment (``ets alarms`` runs it): the compliance
alarms against the deployment, the end-of-day settlement job, the purge job and the market
surveillance after the close, the relay of the sites' field alarms."""

from __future__ import annotations

import functools

from chain.allowance import AllowanceClient, SettlementClient
from chain.compliance import ComplianceClient
from chain.config import ChainSettings
from chain.connect import connect_deployment
from oracle.field import FieldStore
from readmodel.config import ReadModelSettings
from readmodel.purge import purge_expired
from readmodel.session import make_engine
from scheduler.compliance import CONTRACT, ComplianceAlarms
from scheduler.config import SchedulerSettings
from scheduler.field import FieldAlarmRelay
from scheduler.service import FieldRelayJob, PurgeJob, SettlementJob
from scheduler.surveillance import MarketSurveillance, SurveillanceJob
from settlement.config import SettlementSettings
from settlement.service import SettlementService, service_signer


def compliance_alarms() -> ComplianceAlarms:
    """The compliance alarms of the configured deployment (``ETS_*`` chain and scheduler settings).

    Raises:
        SchedulerConfigError: invalid scheduler settings (before the chain is asked anything).
        ChainError, DeploymentError: no node, or no deployment on it.
    """
    settings = SchedulerSettings.load()  # refused before the chain is asked anything
    chain_settings = ChainSettings.load()
    chain, manifest = connect_deployment(chain_settings)
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
    settings = SettlementSettings.load()
    if not settings.scheduled:
        return None
    chain_settings = ChainSettings.load()
    chain, manifest = connect_deployment(chain_settings)
    engine = make_engine(ReadModelSettings().url(chain_settings))
    service = SettlementService.connect(settings, chain, manifest, engine)
    # the key is opened now, not at the close
    anchor = service.anchor(lambda: service_signer(chain_settings, settings.keystore))
    return SettlementJob(service.runner(anchor), settings.calendar(), settings.margin_minutes)


def purge_job() -> PurgeJob | None:
    """The purge of the API's expired nonces, sessions and intents in the read model
    (``ETS_DATABASE_URL``, the API's), every ``ETS_SCHEDULER_PURGE_INTERVAL_SECONDS`` (None when 0).

    Raises:
        SchedulerConfigError: invalid scheduler settings.
    """
    settings = SchedulerSettings.load()
    if settings.purge_interval_seconds <= 0:
        return None
    engine = make_engine(ReadModelSettings().url(ChainSettings.load()))
    retention = int(settings.intent_retention_days * 86_400)
    return PurgeJob(
        functools.partial(purge_expired, engine, intent_retention_s=retention),
        settings.purge_interval_seconds,
    )


def surveillance_job(alarms: ComplianceAlarms) -> SurveillanceJob | None:
    """The market surveillance after each close (None when ``ETS_SCHEDULER_SURVEILLANCE=0``): the
    scans over the read model (``ETS_DATABASE_URL``), alerts raised in ``alarms``' store and
    delivered at once on its channels; the trading calendar and its close are settlement's
    (``ETS_SETTLE_HOLIDAYS`` ...).

    Raises:
        SchedulerConfigError: invalid scheduler settings.
        SurveillanceInputError: a threshold out of range.
        SettlementError: invalid ``ETS_SETTLE_*`` calendar settings.
    """
    settings = SchedulerSettings.load()
    if not settings.surveillance:
        return None
    engine = make_engine(ReadModelSettings().url(ChainSettings.load()))
    channels = [n.name for n in alarms.notifiers]
    surveillance = MarketSurveillance(
        engine,
        alarms.store,
        channels,
        settings.surveillance_settings(),
        deliver=alarms.deliver,
        clock=alarms.clock,
    )
    calendar = SettlementSettings.load().calendar()
    return SurveillanceJob(surveillance.run, calendar, settings.surveillance_margin_minutes)


def field_relay_job(alarms: ComplianceAlarms) -> FieldRelayJob | None:
    """The relay of the sites' field alarms (None when ``ETS_SCHEDULER_FIELD_RELAY=0`` or no field
    store exists): the gateways' outboxes (``ETS_SCHEDULER_FIELD_STORES``, default the local
    gateway's ``<state dir>/oracle/field.db``) into ``alarms``' store and the read model
    (``ETS_DATABASE_URL``), delivered at once on its channels.

    Raises:
        SchedulerConfigError: invalid scheduler settings.
        FieldStoreError: a field store cannot be opened.
    """
    settings = SchedulerSettings.load()
    if not settings.field_relay:
        return None
    chain_settings = ChainSettings.load()
    paths = settings.field_stores or [chain_settings.state_dir / "oracle" / "field.db"]
    paths = [p for p in paths if p.exists()]
    if not paths:
        return None
    engine = make_engine(ReadModelSettings().url(chain_settings))
    relay = FieldAlarmRelay(
        alarms.store,
        [n.name for n in alarms.notifiers],
        [FieldStore(p) for p in paths],
        engine=engine,
        deliver=alarms.deliver,
        clock=alarms.clock,
    )
    return FieldRelayJob(relay.run, settings.field_interval_seconds)
