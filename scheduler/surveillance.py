"""Market surveillance after the close: :mod:`domain.surveillance`'s scans over a trading day of the
read model, each finding stored once as a ``market_alerts`` row (what ``GET /market/alerts``
reads) and raised once as an alarm in the alarm store (delivered by the scheduler's channels);
and the exchange's account records (enterprise group, controller) the wash-trade scan reads.

Exactly once: a finding's identity is (kind, day, token id, accounts). The read model's unique
constraint keeps one alert row per identity, and the alarm's identity (kind, first account, year,
pollutant, key = day, token id and a digest of the accounts) one alarm; a re-run of a day finds
what the first run stored and raises nothing new. A day whose trades grow (the indexer was behind)
adds the findings that appear; an alert already raised keeps the trades it was raised with.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from apscheduler.schedulers.base import BaseScheduler  # type: ignore[import-untyped]
from sqlalchemy import Engine, delete, insert, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from chain.events import checksum
from domain.errors import EtsError
from domain.market import Rulebook, TradeMode, cst_time
from domain.surveillance import (
    AccountRecord,
    Finding,
    SurveillanceSettings,
    SurveilledTrade,
    day_number,
    parse_account_records,
    scan,
)
from readmodel import models as m
from scheduler.alarms import Alarm, AlarmDraft, AlarmKind, AlarmStore
from settlement.calendar import TradingCalendar
from settlement.schedule import trigger

logger = logging.getLogger(__name__)

__all__ = [
    "JOB_ID",
    "MarketSurveillance",
    "SurveillanceJob",
    "SurveillanceReport",
    "add_surveillance_job",
    "alerts_of_day",
    "import_records",
    "load_records",
    "load_trades",
    "scan_due",
]

#: Id of the surveillance job in a scheduler.
JOB_ID = "market-surveillance"
_DEFAULT_RULES = Rulebook(reference_price=1)


# ---------------------------------------------------------------------- account records


def import_records(engine: Engine, text: str, *, now: int, source: str = "records") -> int:
    """Load account records (CSV ``account,group,controller``) into the read model, replacing the
    stored record of an account listed again; in one transaction, all or nothing.

    Addresses are stored checksummed (EIP-55); a mixed-case address whose checksum is wrong is a
    bad address.

    Returns:
        Records written.

    Raises:
        SurveillanceInputError: the file is refused (every problem named with its line); nothing
            is written.
    """
    records = parse_account_records(text, source=source, checksum=checksum)
    with engine.begin() as conn:
        conn.execute(
            delete(m.MarketAccountRecord).where(
                m.MarketAccountRecord.account.in_([r.account for r in records])
            )
        )
        conn.execute(
            insert(m.MarketAccountRecord),
            [
                {
                    "account": r.account,
                    "enterprise_group": r.group,
                    "controller": r.controller,
                    "recorded_at": now,
                }
                for r in records
            ],
        )
    logger.info("account records imported", extra={"records": len(records), "source": source})
    return len(records)


def load_records(engine: Engine) -> list[AccountRecord]:
    """The exchange's account records in the read model."""
    t = m.MarketAccountRecord
    with engine.connect() as conn:
        rows = conn.execute(select(t.account, t.enterprise_group, t.controller).order_by(t.account))
        return [AccountRecord(a, g, c) for a, g, c in rows]


# ---------------------------------------------------------------------- a day of the read model


def load_trades(engine: Engine, day: str) -> tuple[list[SurveilledTrade], dict[int, int], dict[int, int]]:
    """A trading day's trades from ``market_trades``, with each token id's close time (its
    rulebook's ``close2``) and the reference price it opened with (the last one set before the
    day's call phase), when known.

    Raises:
        SurveillanceInputError: ``day`` is not ``YYYY-MM-DD``.
    """
    number = day_number(day)
    t = m.MarketTrade
    with engine.connect() as conn:
        rows = conn.execute(
            select(
                t.id,
                t.token_id,
                t.day,
                t.block_time,
                t.buy_id,
                t.sell_id,
                t.buyer,
                t.seller,
                t.price,
                t.quantity,
                t.mode,
            )
            .where(t.day == day)
            .order_by(t.id)
        ).all()
        tokens = sorted({r.token_id for r in rows})
        rules = {
            r.token_id: (r.call_start, r.close2)
            for r in conn.execute(
                select(m.MarketRulebook.token_id, m.MarketRulebook.call_start, m.MarketRulebook.close2).where(
                    m.MarketRulebook.token_id.in_(tokens)
                )
            )
        }
        references: dict[int, int] = {}
        p = m.MarketReferencePrice
        for token_id in tokens:
            call_start = rules.get(token_id, (_DEFAULT_RULES.call_start, 0))[0]
            price = conn.execute(
                select(p.price)
                .where(p.token_id == token_id, p.block_time < cst_time(number, call_start))
                .order_by(p.block_number.desc(), p.log_index.desc())
                .limit(1)
            ).scalar()
            if price is not None:
                references[token_id] = int(price)
    trades = [
        SurveilledTrade(
            r.id,
            r.token_id,
            r.day,
            r.block_time,
            r.buy_id,
            r.sell_id,
            r.buyer,
            r.seller,
            r.price,
            r.quantity,
            TradeMode[r.mode.upper()],
        )
        for r in rows
    ]
    closes = {token: cst_time(number, rules.get(token, (0, _DEFAULT_RULES.close2))[1]) for token in tokens}
    return trades, closes, references


def _accounts(finding: Finding) -> str:
    return ",".join(finding.accounts)


def _store(engine: Engine, findings: Sequence[Finding], now: int) -> list[int]:
    """Insert the findings not stored yet; returns the ids of the rows inserted."""
    inserted: list[int] = []
    with engine.begin() as conn:
        upsert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
        for f in findings:
            values = {
                "kind": str(f.kind),
                "day": f.day,
                "token_id": f.token_id,
                "accounts": _accounts(f),
                "trade_ids": list(f.trade_ids),
                "figures": dict(f.figures),
                "detail": f.detail,
                "raised_at": now,
            }
            stmt = (
                upsert(m.MarketAlert)
                .values(**values)
                .on_conflict_do_nothing(index_elements=["kind", "day", "token_id", "accounts"])
                .returning(m.MarketAlert.id)
            )
            alert_id = conn.execute(stmt).scalar_one_or_none()  # RETURNING: PostgreSQL gives no row count
            if alert_id is not None:
                inserted.append(int(alert_id))
    return inserted


def alerts_of_day(engine: Engine, day: str) -> list[m.MarketAlert]:
    """The alerts stored for ``day``, by token id, kind and accounts."""
    a = m.MarketAlert
    with Session(engine, expire_on_commit=False) as session:
        return list(session.scalars(select(a).where(a.day == day).order_by(a.token_id, a.id)))


def alarm_draft(finding: Finding, alert_id: int, due_at: int) -> AlarmDraft:
    """The alarm of a stored finding: identity (kind, first account, year, pollutant of the token
    id, ``day:token:digest of the accounts``), its detail and trade ids as the message, and its
    data (alert id, token id, accounts, trade ids, figures) for the webhook."""
    digest = hashlib.sha256(_accounts(finding).lower().encode()).hexdigest()[:16]
    ids = ", ".join(str(i) for i in finding.trade_ids[:20]) + (" …" if len(finding.trade_ids) > 20 else "")
    data = {
        "alert_id": alert_id,
        "day": finding.day,
        "token_id": finding.token_id,
        "accounts": list(finding.accounts),
        "trade_ids": list(finding.trade_ids),
        "figures": dict(finding.figures),
    }
    return AlarmDraft(
        AlarmKind(str(finding.kind)),
        finding.accounts[0],
        int(finding.day[:4]),
        (finding.token_id >> 16) & 0xFF,
        f"{finding.day}:{finding.token_id}:{digest}",
        due_at,
        f"{finding.detail} (token {finding.token_id}, {finding.day}; trades {ids})",
        data,
    )


# ---------------------------------------------------------------------- the job


@dataclass(frozen=True)
class SurveillanceReport:
    """What one run over a day did.

    Attributes:
        day: the trading day scanned.
        trades: trades of the day in the read model.
        findings: every finding of the day's scan (stored now or before).
        stored: ids of the ``market_alerts`` rows this run inserted.
        raised: alarms this run raised.
        deliveries: what the delivery step returned (the channels' attempts), when it ran.
    """

    day: str
    trades: int
    findings: tuple[Finding, ...]
    stored: tuple[int, ...]
    raised: tuple[Alarm, ...]
    deliveries: tuple[Any, ...] = ()


class MarketSurveillance:
    """The surveillance of trading days over the read model.

    Args:
        engine: the read model.
        store: the alarm store alerts are raised in (``None``: stored in the read model only).
        channels: delivery channels (notifier names) each alarm gets a pending delivery on.
        settings: the scans' thresholds.
        deliver: tries the store's pending deliveries at a time (``ComplianceAlarms.deliver``:
            the scheduler's channels); ``None``: left to the scheduler's next scan.
        clock: "now" in unix seconds.
    """

    def __init__(
        self,
        engine: Engine,
        store: AlarmStore | None,
        channels: Sequence[str] = (),
        settings: SurveillanceSettings | None = None,
        *,
        deliver: Callable[[int], Iterable[Any]] | None = None,
        clock: Callable[[], int] = lambda: int(time.time()),
    ) -> None:
        self.engine = engine
        self.store = store
        self.channels = tuple(channels)
        self.settings = settings or SurveillanceSettings()
        self.deliver = deliver
        self.clock = clock
        self._lock = threading.Lock()

    def run(self, day: date | str, now: int | None = None) -> SurveillanceReport:
        """Scan ``day``'s trades, store the new findings and raise their alarms, deliver.

        Raises:
            SurveillanceInputError: ``day`` is not a date.
            AlarmStoreError: the alarm store failed (the alerts stored stay; a re-run raises them).
        """
        text = day.isoformat() if isinstance(day, date) else day
        at = self.clock() if now is None else int(now)
        with self._lock:
            trades, closes, references = load_trades(self.engine, text)
            findings = scan(
                trades,
                load_records(self.engine),
                self.settings,
                day=text,
                closes=closes,
                references=references,
            )
            stored = _store(self.engine, findings, at)
            raised = self._raise(findings, closes, at)
            deliveries = tuple(self.deliver(at)) if self.deliver is not None else ()
        report = SurveillanceReport(
            text, len(trades), tuple(findings), tuple(stored), tuple(raised), deliveries
        )
        logger.info(
            "surveillance of %s: %d trades, %d findings, %d new alerts, %d alarms raised",
            text,
            len(trades),
            len(findings),
            len(stored),
            len(raised),
        )
        return report

    def _raise(self, findings: Sequence[Finding], closes: dict[int, int], now: int) -> list[Alarm]:
        if self.store is None or not findings:
            return []
        a = m.MarketAlert
        with self.engine.connect() as conn:
            ids = {
                (r.kind, r.token_id, r.accounts): r.id
                for r in conn.execute(
                    select(a.id, a.kind, a.token_id, a.accounts).where(a.day == findings[0].day)
                )
            }
        raised = []
        for f in findings:
            due = closes.get(f.token_id, cst_time(day_number(f.day), _DEFAULT_RULES.close2))
            draft = alarm_draft(f, ids[(str(f.kind), f.token_id, _accounts(f))], due)
            alarm = self.store.raise_alarm(draft, self.channels, now)
            if alarm is not None:
                raised.append(alarm)
                logger.info(
                    "surveillance alarm raised",
                    extra={"enterprise": alarm.enterprise, "kind": str(alarm.kind)},
                )
        return raised


# ---------------------------------------------------------------------- the schedule


@dataclass(frozen=True)
class SurveillanceJob:
    """The surveillance the service runs after each close.

    Attributes:
        run: scans one trading day (:meth:`MarketSurveillance.run`).
        calendar: trading days and their close.
        margin_minutes: the job fires this long after the close (the indexer has the day's trades).
    """

    run: Callable[[date], Any]
    calendar: TradingCalendar
    margin_minutes: int = 5


def scan_due(job: SurveillanceJob, now: datetime | None = None) -> Any:
    """The job: scan today when today is a trading day and its close has passed; failures are logged
    (a run by hand, ``ets market scan --day D``, or the next day's catches up nothing: rerun it).

    Returns:
        The run's report, or None when nothing was due or the run failed.
    """
    local = (now or datetime.now(UTC)).astimezone(job.calendar.zone)
    today = local.date()
    if not job.calendar.is_trading_day(today) or local.time() < job.calendar.close:
        logger.info("no surveillance due", extra={"day": today.isoformat()})
        return None
    try:
        return job.run(today)
    except EtsError as exc:
        logger.error("surveillance of %s failed: %s: %s", today, type(exc).__name__, exc)
        return None


def add_surveillance_job(scheduler: BaseScheduler, job: SurveillanceJob) -> BaseScheduler:
    """Add the surveillance to ``scheduler``: Mondays to Fridays at the close + margin (holidays
    skipped by :func:`scan_due`); runs never overlap, a run missed by up to six hours runs once."""
    scheduler.add_job(
        scan_due,
        trigger(job.calendar, job.margin_minutes),
        args=(job,),
        id=JOB_ID,
        name="market surveillance after the close",
        max_instances=1,
        coalesce=True,
        replace_existing=True,
        misfire_grace_time=6 * 3600,
    )
    return scheduler
