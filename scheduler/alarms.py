"""Alarm store of the scheduler: alarms, their delivery per channel, and the notices it watches.

SQLAlchemy 2 ORM over SQLite by default (a file under the state directory); only portable
column types are used, so the same models work on PostgreSQL. Tables (all prefixed
``scheduler_`` so they can share a database with the API's read model):

``scheduler_alarms``
    one row per alarm, ``UNIQUE(kind, enterprise, year, pollutant, key)``: raising an alarm
    that exists is a no-op, so a rescan or a restart never duplicates one. ``key`` tells apart
    alarms of one kind and notice (a reminder's lead time in seconds; empty for the
    acknowledgement alarm).
``scheduler_deliveries``
    one row per alarm and channel (notifier name), created when the alarm is raised for every
    channel configured then: ``attempts``, ``last_attempt_at``, ``delivered_at``,
    ``last_error``. A failed delivery is tried again at the next scan; a delivered one never.
``scheduler_notices``
    the scheduler's mirror of the notices it watches, fed from contract events, one per
    obligation (enterprise, pollutant, year): deadlines, ``acknowledged_at`` and the
    obligation's ``outcome`` once it is closed.
``scheduler_checkpoints``
    the last block scanned for events, per watched contract, so each scan is incremental.
``scheduler_alarm_data``
    the structured data of an alarm that has some (a surveillance alert's token id, accounts,
    trade ids and figures), as JSON; sent in the webhook's payload as ``data``.

Times are unix seconds of the scheduler's clock (chain time by default). Tables are created
with ``metadata.create_all``; Alembic migrations come with the API's database.
"""

from __future__ import annotations

import enum
import json
import logging
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    create_engine,
    func,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, IntegrityError, SQLAlchemyError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship, sessionmaker

from scheduler.errors import AlarmStoreError

logger = logging.getLogger(__name__)

__all__ = [
    "Alarm",
    "AlarmDraft",
    "AlarmKind",
    "AlarmStore",
    "Delivery",
    "NoticeRecord",
    "utc",
]


def utc(timestamp: int) -> str:
    """A unix time as ``YYYY-MM-DD HH:MM:SS UTC``."""
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


class AlarmKind(enum.StrEnum):
    """What an alarm is about."""

    ACK_OVERDUE = "ack_overdue"
    """A notice was not acknowledged by its acknowledgement deadline."""
    SUBMISSION_REMINDER = "submission_reminder"
    """An open obligation's submission deadline is near."""
    WASH_TRADE = "wash_trade"
    """Trades between one account and itself or accounts of one group or controller (surveillance)."""
    CLOSING_RAMP = "closing_ramp"
    """One account's trades moved the price before the close (surveillance)."""
    VOLUME_CONCENTRATION = "volume_concentration"
    """One account took part in too large a share of a token id's day (surveillance)."""
    QUOTA = "quota"
    """A card-swipe controller's month passed 80, 90 or 100 % of its loaded quota (field)."""
    OVER_STANDARD = "over_standard"
    """An outlet's hourly average concentration was above its limit (field)."""
    FACILITY_STOPPED = "facility_stopped"
    """A treatment facility was stopped while its outlet discharged (field)."""
    INSTRUMENT_MAINTENANCE = "instrument_maintenance"
    """An instrument stayed in maintenance longer than allowed (field)."""
    PARAMETER_TAMPERING = "parameter_tampering"
    """An instrument parameter (CN=3020 ``i13xxx``) changed from its baseline (field)."""


# ---------------------------------------------------------------------- models


class _Base(DeclarativeBase):
    pass


class _AlarmRow(_Base):
    __tablename__ = "scheduler_alarms"
    __table_args__ = (
        UniqueConstraint("kind", "enterprise", "year", "pollutant", "key", name="uq_scheduler_alarms_key"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(32))
    enterprise: Mapped[str] = mapped_column(String(42), index=True)
    year: Mapped[int] = mapped_column(Integer)
    pollutant: Mapped[int] = mapped_column(Integer)
    key: Mapped[str] = mapped_column(String(64))
    due_at: Mapped[int] = mapped_column(BigInteger)
    raised_at: Mapped[int] = mapped_column(BigInteger)
    message: Mapped[str] = mapped_column(Text)
    deliveries: Mapped[list[_DeliveryRow]] = relationship(
        back_populates="alarm", lazy="selectin", order_by="_DeliveryRow.channel", cascade="all, delete-orphan"
    )
    data_row: Mapped[_AlarmDataRow | None] = relationship(lazy="selectin", cascade="all, delete-orphan")


class _AlarmDataRow(_Base):
    __tablename__ = "scheduler_alarm_data"

    alarm_id: Mapped[int] = mapped_column(
        ForeignKey("scheduler_alarms.id", ondelete="CASCADE"), primary_key=True
    )
    data: Mapped[str] = mapped_column(Text)


class _DeliveryRow(_Base):
    __tablename__ = "scheduler_deliveries"

    alarm_id: Mapped[int] = mapped_column(
        ForeignKey("scheduler_alarms.id", ondelete="CASCADE"), primary_key=True
    )
    channel: Mapped[str] = mapped_column(String(32), primary_key=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_attempt_at: Mapped[int | None] = mapped_column(BigInteger, default=None)
    delivered_at: Mapped[int | None] = mapped_column(BigInteger, default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    alarm: Mapped[_AlarmRow] = relationship(back_populates="deliveries")


class _NoticeRow(_Base):
    __tablename__ = "scheduler_notices"

    enterprise: Mapped[str] = mapped_column(String(42), primary_key=True)
    pollutant: Mapped[int] = mapped_column(Integer, primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    ack_deadline: Mapped[int] = mapped_column(BigInteger)
    submission_deadline: Mapped[int] = mapped_column(BigInteger)
    acknowledged_at: Mapped[int | None] = mapped_column(BigInteger, default=None)
    outcome: Mapped[int | None] = mapped_column(Integer, default=None)


class _CheckpointRow(_Base):
    __tablename__ = "scheduler_checkpoints"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    address: Mapped[str] = mapped_column(String(42))
    block: Mapped[int] = mapped_column(BigInteger)


metadata = _Base.metadata


# ---------------------------------------------------------------------- views


@dataclass(frozen=True)
class Delivery:
    """Where an alarm stands on one channel."""

    channel: str
    attempts: int
    last_attempt_at: int | None
    delivered_at: int | None
    last_error: str | None

    @property
    def delivered(self) -> bool:
        return self.delivered_at is not None


@dataclass(frozen=True)
class AlarmDraft:
    """An alarm about to be raised (its identity is ``(kind, enterprise, year, pollutant, key)``)."""

    kind: AlarmKind
    enterprise: str
    year: int
    pollutant: int
    key: str
    due_at: int
    message: str
    data: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class Alarm:
    """A stored alarm and its deliveries.

    Attributes:
        id: row id (local to one database).
        kind: what it is about.
        enterprise: the enterprise's address (checksummed).
        year: the compliance year.
        pollutant: the notice's pollutant code.
        key: tells apart alarms of one kind and notice (a reminder's lead in seconds).
        due_at: the deadline it is about (unix seconds).
        raised_at: when it was raised (scheduler clock).
        message: human-readable text.
        deliveries: per channel, by channel name.
        data: structured data of the alarm (JSON-ready), when it has some.
    """

    id: int
    kind: AlarmKind
    enterprise: str
    year: int
    pollutant: int
    key: str
    due_at: int
    raised_at: int
    message: str
    deliveries: tuple[Delivery, ...] = ()
    data: Mapping[str, Any] | None = None

    @property
    def uid(self) -> str:
        """Identity of the alarm across databases (the webhook's idempotency key)."""
        return f"{self.kind}:{self.enterprise}:{self.year}:{self.pollutant}:{self.key}"

    def payload(self) -> dict[str, Any]:
        """The alarm as JSON-ready data (what the webhook sends)."""
        return {
            "uid": self.uid,
            "kind": str(self.kind),
            "enterprise": self.enterprise,
            "year": self.year,
            "pollutant": self.pollutant,
            "key": self.key,
            "due_at": self.due_at,
            "raised_at": self.raised_at,
            "message": self.message,
            **({"data": dict(self.data)} if self.data is not None else {}),
        }

    def as_dict(self) -> dict[str, Any]:
        """:meth:`payload` with the row id and delivery states (``ets alarms list --json``)."""
        return {
            "id": self.id,
            **self.payload(),
            "deliveries": [
                {"channel": d.channel, "attempts": d.attempts, "last_attempt_at": d.last_attempt_at,
                 "delivered_at": d.delivered_at, "last_error": d.last_error}
                for d in self.deliveries
            ],
        }  # fmt: skip

    @classmethod
    def _of(cls, row: _AlarmRow) -> Alarm:
        return cls(
            row.id, AlarmKind(row.kind), row.enterprise, row.year, row.pollutant, row.key, row.due_at,
            row.raised_at, row.message,
            tuple(Delivery(d.channel, d.attempts, d.last_attempt_at, d.delivered_at, d.last_error)
                  for d in row.deliveries),
            None if row.data_row is None else json.loads(row.data_row.data),
        )  # fmt: skip


@dataclass(frozen=True)
class NoticeRecord:
    """What the scheduler knows of a notice (one obligation: enterprise, pollutant, year).

    Attributes:
        enterprise: the enterprise's address (checksummed).
        year: the compliance year.
        pollutant: the notice's pollutant code.
        ack_deadline: acknowledgement deadline (unix seconds, chain time).
        submission_deadline: submission deadline (unix seconds, chain time).
        acknowledged_at: when it was acknowledged (``None``: not yet).
        outcome: the obligation's outcome code once closed (1 covered, 2 shortfall, 3 no
            verified emissions); ``None`` while it is open.
    """

    enterprise: str
    year: int
    pollutant: int
    ack_deadline: int
    submission_deadline: int
    acknowledged_at: int | None = None
    outcome: int | None = None

    @property
    def open(self) -> bool:
        return self.outcome is None

    @classmethod
    def _of(cls, row: _NoticeRow) -> NoticeRecord:
        return cls(row.enterprise, row.year, row.pollutant, row.ack_deadline, row.submission_deadline,
                   row.acknowledged_at, row.outcome)  # fmt: skip


# ---------------------------------------------------------------------- store


class AlarmStore:
    """The alarm database (thread-safe: one short session per call)."""

    def __init__(self, url: str, **engine_kwargs: Any) -> None:
        """Open (and create if needed) the store at SQLAlchemy ``url``.

        Raises:
            AlarmStoreError: the URL is invalid or the database cannot be reached.
        """
        try:
            parsed = make_url(url)
        except ArgumentError:
            raise AlarmStoreError("invalid alarm database URL") from None
        if parsed.get_backend_name() == "sqlite":
            database = parsed.database
            if database and database != ":memory:" and not database.startswith("file:"):
                Path(database).parent.mkdir(parents=True, exist_ok=True)
            engine_kwargs.setdefault("connect_args", {"check_same_thread": False})
        self._where = parsed.render_as_string(hide_password=True)
        try:
            self.engine: Engine = create_engine(parsed, **engine_kwargs)
            metadata.create_all(self.engine)
        except SQLAlchemyError as exc:
            raise AlarmStoreError(f"cannot open alarm database {self._where}: {type(exc).__name__}") from None
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    def __repr__(self) -> str:
        return f"AlarmStore({self._where!r})"

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> AlarmStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _session(self) -> Iterator[Session]:
        try:
            with self._sessions.begin() as session:
                yield session
        except SQLAlchemyError as exc:
            detail = f"{type(exc).__name__}: {exc.args[0] if exc.args else ''}"
            raise AlarmStoreError(f"alarm database {self._where}: {detail}") from None

    # ------------------------------------------------------------------ notices and checkpoint

    def checkpoint(self, name: str, address: str) -> int | None:
        """The last block scanned of contract ``name`` at ``address`` (``None``: never scanned).

        Raises:
            AlarmStoreError: the store follows ``name`` at another address (a redeployment: use
                another database).
        """
        with self._session() as s:
            row = s.get(_CheckpointRow, name)
            if row is None:
                return None
            if row.address.lower() != address.lower():
                raise AlarmStoreError(
                    f"alarm database {self._where} follows {name} at {row.address}, not {address}"
                )
            return row.block

    def record(
        self,
        name: str,
        address: str,
        to_block: int,
        *,
        notices: Sequence[NoticeRecord] = (),
        acknowledged: Sequence[tuple[str, int, int, int]] = (),
        closed: Sequence[tuple[str, int, int, int]] = (),
    ) -> None:
        """Apply what a scan of blocks up to ``to_block`` found, and move the checkpoint, atomically.

        Args:
            name: the watched contract's name.
            address: its address.
            to_block: the last block scanned.
            notices: notices issued (a stored notice keeps what it knows already).
            acknowledged: ``(enterprise, pollutant, year, acknowledged_at)`` rows.
            closed: ``(enterprise, pollutant, year, outcome)`` rows of obligations that got their
                outcome.
        """
        with self._session() as s:
            for n in notices:
                row = s.get(_NoticeRow, (n.enterprise, n.pollutant, n.year))
                if row is None:
                    s.add(_NoticeRow(enterprise=n.enterprise, year=n.year, pollutant=n.pollutant,
                                     ack_deadline=n.ack_deadline, submission_deadline=n.submission_deadline,
                                     acknowledged_at=n.acknowledged_at, outcome=n.outcome))  # fmt: skip
                else:
                    row.acknowledged_at = row.acknowledged_at or n.acknowledged_at
                    row.outcome = row.outcome or n.outcome
            s.flush()
            for enterprise, pollutant, year, at in acknowledged:
                row = s.get(_NoticeRow, (enterprise, pollutant, year))
                if row is not None and row.acknowledged_at is None:
                    row.acknowledged_at = at
            for enterprise, pollutant, year, outcome in closed:
                row = s.get(_NoticeRow, (enterprise, pollutant, year))
                if row is not None and row.outcome is None:
                    row.outcome = outcome
            checkpoint = s.get(_CheckpointRow, name)
            if checkpoint is None:
                s.add(_CheckpointRow(name=name, address=address, block=to_block))
            else:
                checkpoint.block = to_block

    def notice(self, enterprise: str, pollutant: int, year: int) -> NoticeRecord | None:
        """The stored notice of one obligation (``None``: not known)."""
        with self._session() as s:
            row = s.get(_NoticeRow, (enterprise, pollutant, year))
            return None if row is None else NoticeRecord._of(row)

    def notices(self, *, open_only: bool = False) -> list[NoticeRecord]:
        """Stored notices by (year, enterprise, pollutant); ``open_only``: those without an outcome."""
        query = select(_NoticeRow).order_by(_NoticeRow.year, _NoticeRow.enterprise, _NoticeRow.pollutant)
        if open_only:
            query = query.where(_NoticeRow.outcome.is_(None))
        with self._session() as s:
            return [NoticeRecord._of(r) for r in s.scalars(query)]

    # ------------------------------------------------------------------ alarms

    def raise_alarm(self, draft: AlarmDraft, channels: Sequence[str], now: int) -> Alarm | None:
        """Store an alarm with a pending delivery per channel, unless it exists.

        Returns:
            The new alarm, or ``None`` when it was raised before (nothing changes then).
        """
        values = {"kind": str(draft.kind), "enterprise": draft.enterprise, "year": draft.year,
                  "pollutant": draft.pollutant, "key": draft.key, "due_at": draft.due_at,
                  "raised_at": now, "message": draft.message}  # fmt: skip
        unique = ["kind", "enterprise", "year", "pollutant", "key"]
        with self._session() as s:
            dialect = s.get_bind().dialect.name
            if dialect in ("sqlite", "postgresql"):
                insert = sqlite.insert if dialect == "sqlite" else postgresql.insert
                stmt = insert(_AlarmRow).values(**values).on_conflict_do_nothing(index_elements=unique)
                # RETURNING, not rowcount: PostgreSQL's driver reports no row count for this statement
                inserted = s.execute(stmt.returning(_AlarmRow.id)).scalar_one_or_none() is not None
            else:  # pragma: no cover - other databases: a savepoint and the unique constraint
                try:
                    with s.begin_nested():
                        s.add(_AlarmRow(**values))
                    inserted = True
                except IntegrityError:
                    inserted = False
            if not inserted:
                return None
            row = s.scalars(
                select(_AlarmRow).where(*(getattr(_AlarmRow, k) == values[k] for k in unique))
            ).one()
            for channel in channels:
                s.add(_DeliveryRow(alarm_id=row.id, channel=channel, attempts=0))
            if draft.data is not None:
                s.add(_AlarmDataRow(alarm_id=row.id, data=json.dumps(draft.data, sort_keys=True)))
            s.flush()
            s.refresh(row)
            return Alarm._of(row)

    def pending(self, channel: str, *, max_attempts: int | None = None) -> list[Alarm]:
        """Alarms not yet delivered on ``channel`` (fewer than ``max_attempts`` tries), oldest first."""
        query = (
            select(_AlarmRow)
            .join(_DeliveryRow)
            .where(_DeliveryRow.channel == channel, _DeliveryRow.delivered_at.is_(None))
            .order_by(_AlarmRow.id)
        )
        if max_attempts is not None:
            query = query.where(_DeliveryRow.attempts < max_attempts)
        with self._session() as s:
            return [Alarm._of(r) for r in s.scalars(query)]

    def record_delivery(self, alarm_id: int, channel: str, now: int, error: str | None = None) -> Delivery:
        """Count a delivery attempt: delivered when ``error`` is ``None``, else failed with it.

        Raises:
            AlarmStoreError: no delivery of that alarm on that channel.
        """
        with self._session() as s:
            row = s.get(_DeliveryRow, (alarm_id, channel))
            if row is None:
                raise AlarmStoreError(f"no delivery of alarm {alarm_id} on channel {channel!r}")
            row.attempts += 1
            row.last_attempt_at = now
            if error is None:
                row.delivered_at = now
                row.last_error = None
            else:
                row.last_error = error[:1000]
            return Delivery(row.channel, row.attempts, row.last_attempt_at, row.delivered_at, row.last_error)

    def alarms(
        self, *, enterprise: str | None = None, year: int | None = None, kind: AlarmKind | None = None
    ) -> list[Alarm]:
        """Stored alarms, oldest first, optionally of one enterprise (any letter case), year, kind."""
        query = select(_AlarmRow).order_by(_AlarmRow.id)
        if enterprise is not None:
            query = query.where(func.lower(_AlarmRow.enterprise) == enterprise.lower())
        if year is not None:
            query = query.where(_AlarmRow.year == year)
        if kind is not None:
            query = query.where(_AlarmRow.kind == str(kind))
        with self._session() as s:
            return [Alarm._of(r) for r in s.scalars(query)]
