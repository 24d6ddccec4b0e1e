"""Durable store-and-forward queue of signed readings and their Merkle batches (SQLite, WAL).

The gateway appends every signed reading here *before* it ACKs the device, cuts the
unbatched readings of each device into Merkle batches, and records each batch's way to the
chain: ``CUT`` (root computed, rows linked) → ``SUBMITTED`` (anchoring transaction sent) →
``ANCHORED`` (receipt seen). A crash or a chain outage loses nothing committed and anchors
nothing twice: a batch that was submitted but not anchored stays pending, and the anchoring
code asks the EmissionsLedger whether its batch id is already there before re-sending.

Storage is SQLite through SQLAlchemy 2 Core (not the ORM: the hot path is one ``executemany``
per call), in WAL journal mode with ``synchronous=NORMAL`` set on every connection. In WAL
mode a committed transaction survives a crash of the process; with ``NORMAL`` the last
transactions before a *power loss* may roll back (pass ``synchronous="FULL"`` to fsync every
commit, at a cost in appends per second). A ``path`` of ``None`` or ``":memory:"`` gives a
private in-memory database (tests).

Tables:

``readings``
    one row per signed reading: ``id`` (the rowid: the queue never deletes rows, so ids only
    grow and are never reused; no AUTOINCREMENT, which costs a page write per commit), the reading's
    fields (``value`` as decimal text, since int256 exceeds SQLite's int64), ``qc`` status,
    ``digest`` (its EIP-712 digest, the Merkle leaf value), ``received_at`` (gateway clock,
    unix seconds) and ``backfilled`` (recovered from the controller's history after a
    transmission gap, HJ 212 back-fill; schema version 4). ``UNIQUE(device, sequence)``: a
    device's signer gives every reading its own sequence number, so a second reading with a
    stored (device, sequence), be it an exact replay or a conflicting one, is refused. SQLite
    integers are signed 64-bit, so the queue refuses sequences and times at or above ``2**63``
    (the EIP-712 type allows uint64).
``signed_frames``
    one row per signed frame: ``device``, ``first_sequence``, ``size`` and the device's
    ``signature``. A frame's readings have consecutive sequences, so the frame of a reading is
    the device's frame with the largest first sequence at or below it; the witness of a
    reading (its frame's reading hashes) is rebuilt from the frame's rows when asked for.
``devices``
    one row per device: ``last_batched``, the highest sequence cut into a batch (0 before the
    first cut). A device's batches are cut in sequence order, so
    its unbatched readings are exactly those above ``last_batched`` and a reading's batch is
    the one whose sequence range holds it: cutting writes one batch row and moves the
    cursor, without touching the readings (no per-row update, no index on a batch column).
``frames``
    one row per accepted data frame: device code ``mn``, command ``cn``, ``datatime`` (unix
    seconds), ``readings`` (how many signed readings it gave), ``received_at``. Primary key
    ``(mn, cn, datatime)``: a frame a device re-sends because its answer was lost is refused
    (:class:`FrameAlreadyStoredError`) without storing anything, and after a restart the
    gateway resumes quality control's "last DataTime" per device and command from here.
``state``
    small JSON documents of the gateway (the quota controllers' state), written in the same
    transaction as the frame whose effect they record, so a crash never splits the two.
``outbox``
    documents for another store, written in the transaction of the frame they belong to and
    removed once that store has taken them (:meth:`Queue.outbox`, :meth:`Queue.drop_outbox`):
    the field rules' alarms, review marks and state (:mod:`oracle.field`), so a crash between
    the queue's commit and the field store's write loses none of them. ``id`` (AUTOINCREMENT:
    taken in order, never reused), ``body`` (JSON text). Added to schema version 4 files when
    they are opened.
``estimates``
    one row per gap estimate quality control filled in (unsigned, never a reading):
    ``device``, ``time``, ``pollutant``, ``unit``, ``value`` (decimal text), ``decimals``,
    ``method``, and ``batch_id`` once a batch of the device took it (the first batch cut whose
    period ends at or after its time).
``batches``
    one row per batch: ``batch_id``, ``root``, ``device``, optional ``enterprise``, first and
    last sequence, period start and end (min and max reading time), ``count``, ``totals`` (JSON:
    per-pollutant sums of the valid readings, of the excluded ones by reason, and of the gap
    estimates by method; ``domain.review`` says which reading is which), ``status``,
    ``tx_hash``, ``block``, ``created_at``, ``updated_at``. A
    batch holds every stored reading of its device in its sequence range.

A batch id is ``keccak256(abi.encode(address device, uint64 firstSequence, uint64
lastSequence, bytes32 root))``: deterministic (the same readings give the same id and root on
any gateway, even one rebuilt from scratch, since it uses the device's sequence numbers and
not local row ids), and recomputable on-chain from what the anchoring call carries.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time as _time
from bisect import bisect_right
from collections import OrderedDict, defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, fields
from decimal import Decimal
from enum import StrEnum
from itertools import repeat
from pathlib import Path
from typing import Any, ClassVar, Final, Literal, NamedTuple, Self

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import StaticPool

from chain.abi import bytes32
from chain.merkle import StandardMerkleTree
from domain.review import Exclusion, exclusion_of, quality_sums
from oracle.errors import (
    BatchNotFoundError,
    BatchStateError,
    FrameAlreadyStoredError,
    QueueValueError,
    ReadingDuplicateError,
    ReadingNotBatchedError,
    ReadingRowNotFoundError,
)
from oracle.signing.eip712 import reading_hash
from oracle.signing.hashing import keccak
from oracle.signing.proof import LEAF_ENCODING, FrameWitness, SignedFrame, SignedReading, batch_root
from oracle.signing.reading import Reading

__all__ = [
    "SCHEMA_VERSION",
    "SEQUENCE_LIMIT",
    "Batch",
    "BatchStatus",
    "Estimate",
    "EstimateTotal",
    "ExcludedTotal",
    "FrameKey",
    "PollutantTotal",
    "Queue",
    "QueueStats",
    "ReadingProof",
    "StoredReading",
    "batch_id_of",
]

logger = logging.getLogger(__name__)

#: Stored in ``PRAGMA user_version``; a database of another version is refused.
SCHEMA_VERSION: Final = 4
_INT64: Final = 1 << 63
#: Sequence numbers and times the queue stores are below this (SQLite integers are int64).
SEQUENCE_LIMIT: Final = _INT64
_DEFAULT_QC: Final = "UNCHECKED"
_TREE_CACHE: Final = 8


class BatchStatus(StrEnum):
    """Where a batch is on its way to the chain."""

    CUT = "CUT"
    """Root computed and readings linked; not sent yet."""
    SUBMITTED = "SUBMITTED"
    """Anchoring transaction sent; no receipt seen yet."""
    ANCHORED = "ANCHORED"
    """Receipt seen: the root is on-chain."""


_metadata = sa.MetaData()

readings_table: Final = sa.Table(
    "readings",
    _metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("device", sa.String, nullable=False),
    sa.Column("sequence", sa.BigInteger, nullable=False),
    sa.Column("time", sa.BigInteger, nullable=False),
    sa.Column("pollutant", sa.String, nullable=False),
    sa.Column("value", sa.String, nullable=False),
    sa.Column("decimals", sa.Integer, nullable=False),
    sa.Column("unit", sa.String, nullable=False),
    sa.Column("flag", sa.String, nullable=False),
    sa.Column("qc", sa.String, nullable=False),
    sa.Column("digest", sa.LargeBinary, nullable=False),
    sa.Column("received_at", sa.Float, nullable=False),
    sa.Column("backfilled", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.UniqueConstraint("device", "sequence", name="uq_readings_device_sequence"),
)

signed_frames_table: Final = sa.Table(
    "signed_frames",
    _metadata,
    sa.Column("device", sa.String, primary_key=True),
    sa.Column("first_sequence", sa.BigInteger, primary_key=True),
    sa.Column("size", sa.Integer, nullable=False),
    sa.Column("signature", sa.LargeBinary, nullable=False),
    sqlite_with_rowid=False,
)

devices_table: Final = sa.Table(
    "devices",
    _metadata,
    sa.Column("device", sa.String, primary_key=True),
    sa.Column("last_batched", sa.BigInteger, nullable=False),
    sqlite_with_rowid=False,
)

frames_table: Final = sa.Table(
    "frames",
    _metadata,
    sa.Column("mn", sa.String, primary_key=True),
    sa.Column("cn", sa.String, primary_key=True),
    sa.Column("datatime", sa.BigInteger, primary_key=True),
    sa.Column("readings", sa.Integer, nullable=False),
    sa.Column("received_at", sa.Float, nullable=False),
)

state_table: Final = sa.Table(
    "state",
    _metadata,
    sa.Column("key", sa.String, primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

outbox_table: Final = sa.Table(
    "outbox",
    _metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("body", sa.Text, nullable=False),
    sqlite_autoincrement=True,
)

estimates_table: Final = sa.Table(
    "estimates",
    _metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("device", sa.String, nullable=False),
    sa.Column("time", sa.BigInteger, nullable=False),
    sa.Column("pollutant", sa.String, nullable=False),
    sa.Column("unit", sa.String, nullable=False),
    sa.Column("value", sa.String, nullable=False),
    sa.Column("decimals", sa.Integer, nullable=False),
    sa.Column("method", sa.String, nullable=False),
    sa.Column("batch_id", sa.LargeBinary, nullable=True),
)
sa.Index("ix_estimates_device", estimates_table.c.device, estimates_table.c.batch_id, estimates_table.c.time)

batches_table: Final = sa.Table(
    "batches",
    _metadata,
    sa.Column("batch_id", sa.LargeBinary, primary_key=True),
    sa.Column("root", sa.LargeBinary, nullable=False),
    sa.Column("device", sa.String, nullable=False),
    sa.Column("enterprise", sa.String, nullable=True),
    sa.Column("first_sequence", sa.BigInteger, nullable=False),
    sa.Column("last_sequence", sa.BigInteger, nullable=False),
    sa.Column("period_start", sa.BigInteger, nullable=False),
    sa.Column("period_end", sa.BigInteger, nullable=False),
    sa.Column("count", sa.Integer, nullable=False),
    sa.Column("totals", sa.Text, nullable=False),
    sa.Column("status", sa.String, nullable=False),
    sa.Column("tx_hash", sa.LargeBinary, nullable=True),
    sa.Column("block", sa.BigInteger, nullable=True),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
    sa.CheckConstraint("status IN ('CUT', 'SUBMITTED', 'ANCHORED')", name="ck_batches_status"),
)
sa.Index("ix_batches_status", batches_table.c.status)
sa.Index("ix_batches_device", batches_table.c.device, batches_table.c.first_sequence)

# The hot path: plain driver-level statements (no per-parameter processing by SQLAlchemy).
_INSERT_READINGS: Final = (
    "INSERT INTO readings (device, sequence, time, pollutant, value, decimals, unit, flag,"
    " qc, digest, received_at, backfilled) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_INSERT_SIGNED_FRAME: Final = (
    "INSERT INTO signed_frames (device, first_sequence, size, signature) VALUES (?, ?, ?, ?)"
)
_INSERT_BATCH: Final = (
    "INSERT INTO batches (batch_id, root, device, enterprise, first_sequence, last_sequence, period_start,"
    " period_end, count, totals, status, tx_hash, block, created_at, updated_at) VALUES (:batch_id, :root,"
    " :device, :enterprise, :first_sequence, :last_sequence, :period_start, :period_end, :count, :totals,"
    " :status, :tx_hash, :block, :created_at, :updated_at)"
)
# The device's highest stored sequence (an index seek) and its last batched one.
_DEVICE_CURSOR: Final = (
    "SELECT coalesce((SELECT max(sequence) FROM readings WHERE device = ?1), 0), last_batched"
    " FROM devices WHERE device = ?1"
)
_READING_COLUMNS: Final = (
    "id, device, sequence, time, pollutant, value, decimals, unit, flag, qc, digest, received_at, backfilled"
)


# --- values ---------------------------------------------------------------------------------


class FrameKey(NamedTuple):
    """What identifies an accepted data frame: device code, command and DataTime (unix seconds)."""

    mn: str
    cn: str
    datatime: int


class _Sum:
    """What the batch totals share: an exact sum of readings and its JSON form.

    Subclasses are frozen dataclasses whose fields end in ``value`` (the sum scaled by
    ``10**decimals``), ``decimals`` and ``count``. The JSON form lists the fields in their order,
    ``value`` as decimal text (it may exceed JSON's safe integers) and the other integers as
    numbers: the stored batch totals and the anchored totals hash depend on it byte for byte.
    """

    __slots__ = ()
    __dataclass_fields__: ClassVar[dict[str, Any]]  # set on each subclass by @dataclass

    value: int
    decimals: int

    @property
    def amount(self) -> Decimal:
        """The sum as an exact decimal."""
        return Decimal(f"{self.value}E-{self.decimals}")  # exact: no context rounding

    def to_json(self) -> dict[str, Any]:
        """JSON-safe form (``value`` as decimal text)."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            out[f.name] = str(value) if f.name == "value" else value
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Self:
        """Inverse of :meth:`to_json` (integer fields parsed, text fields as given)."""
        return cls(*(int(data[f.name]) if f.type == "int" else data[f.name] for f in fields(cls)))


@dataclass(frozen=True, slots=True)
class PollutantTotal(_Sum):
    """Sum of a batch's readings of one pollutant in one unit.

    Attributes:
        pollutant: HJ 212 factor code.
        unit: the readings' unit (a code can come in several: ``mg/m3`` averages, ``kg`` amounts).
        value: the exact sum, scaled by ``10**decimals``.
        decimals: the largest precision among the summed readings.
        count: how many readings were summed.
    """

    pollutant: str
    unit: str
    value: int
    decimals: int
    count: int


@dataclass(frozen=True, slots=True)
class ExcludedTotal(_Sum):
    """Sum of a batch's readings of one pollutant and unit excluded for one reason.

    Attributes:
        pollutant: HJ 212 factor code.
        unit: the readings' unit.
        reason: :class:`domain.review.Exclusion` value (1 invalid, 2 outlier, 3 fault).
        value: the exact sum, scaled by ``10**decimals``.
        decimals: the largest precision among the summed readings.
        count: how many readings were summed.
    """

    pollutant: str
    unit: str
    reason: int
    value: int
    decimals: int
    count: int


@dataclass(frozen=True, slots=True)
class EstimateTotal(_Sum):
    """Sum of the unsigned gap estimates of one pollutant and unit by one method.

    Attributes:
        pollutant: HJ 212 factor code.
        unit: unit.
        method: how they were estimated (``linear``).
        value: the exact sum, scaled by ``10**decimals``.
        decimals: the largest precision among them.
        count: how many estimates were summed.
    """

    pollutant: str
    unit: str
    method: str
    value: int
    decimals: int
    count: int


class Estimate(NamedTuple):
    """A gap estimate to store (quality control's filled value of a missing frame): unsigned.

    ``value`` is scaled by ``10**decimals``; ``method`` says how it was estimated."""

    device: str
    time: int
    pollutant: str
    unit: str
    value: int
    decimals: int
    method: str


def _totals(
    rows: Iterable[tuple[str, str, int, int, str, str]],
) -> tuple[tuple[PollutantTotal, ...], tuple[ExcludedTotal, ...]]:
    """Exact per-(pollutant, unit) sums of ``(pollutant, unit, value, decimals, qc, flag)`` rows:
    of the valid readings, and of the excluded ones by reason (``domain.review.exclusion_of``).

    A (pollutant, unit) with readings has a valid total (zero with count 0 when none is valid),
    so valid + excluded is every reading; all sums of a pair share its largest precision."""
    groups: dict[tuple[str, str], list[tuple[int, int, Exclusion | None]]] = defaultdict(list)
    for pollutant, unit, value, decimals, qc, flag in rows:
        groups[pollutant, unit].append((value, decimals, exclusion_of(qc, flag)))
    totals = []
    excluded = []
    for (pollutant, unit), values in sorted(groups.items()):
        sums = quality_sums(values)
        totals.append(
            PollutantTotal(pollutant, unit, sums.sums.get(None, 0), sums.decimals, sums.counts.get(None, 0))
        )
        for reason in Exclusion:
            if reason in sums.counts:
                excluded.append(
                    ExcludedTotal(
                        pollutant, unit, int(reason), sums.sums[reason], sums.decimals, sums.counts[reason]
                    )
                )
    return tuple(totals), tuple(excluded)


def _estimate_totals(rows: Iterable[tuple[str, str, str, int, int]]) -> tuple[EstimateTotal, ...]:
    """Exact per-(pollutant, unit, method) sums of ``(pollutant, unit, method, value, decimals)``."""
    groups: dict[tuple[str, str, str], list[tuple[int, int]]] = defaultdict(list)
    for pollutant, unit, method, value, decimals in rows:
        groups[pollutant, unit, method].append((value, decimals))
    out = []
    for (pollutant, unit, method), values in sorted(groups.items()):
        scale = max(d for _, d in values)
        total = sum(v * 10 ** (scale - d) for v, d in values)
        out.append(EstimateTotal(pollutant, unit, method, total, scale, len(values)))
    return tuple(out)


def batch_id_of(device: str, first_sequence: int, last_sequence: int, root: bytes) -> bytes:
    """Batch id: ``keccak256(abi.encode(address device, uint64 first, uint64 last, bytes32 root))``."""
    return keccak(
        bytes(12)
        + bytes.fromhex(device[2:])
        + first_sequence.to_bytes(32, "big")
        + last_sequence.to_bytes(32, "big")
        + root
    )


@dataclass(frozen=True, slots=True)
class Batch:
    """A Merkle batch of one device's readings and its state on the way to the chain.

    Attributes:
        batch_id: deterministic id (see :func:`batch_id_of`).
        root: standard Merkle tree root over the readings' digests (what gets anchored).
        device: the device whose readings these are.
        enterprise: the device's enterprise, when the cut was told.
        first_sequence: lowest sequence in the batch.
        last_sequence: highest sequence in the batch.
        period_start: earliest reading time (unix seconds).
        period_end: latest reading time (unix seconds).
        count: number of readings.
        totals: per (pollutant, unit) sums of the valid readings.
        status: CUT, SUBMITTED or ANCHORED.
        tx_hash: the anchoring transaction (SUBMITTED, ANCHORED).
        block: the block that included it (ANCHORED).
        created_at: when the batch was cut (unix seconds).
        excluded: per (pollutant, unit, reason) sums of the excluded readings.
        estimates: per (pollutant, unit, method) sums of the gap estimates it took.
    """

    batch_id: bytes
    root: bytes
    device: str
    enterprise: str | None
    first_sequence: int
    last_sequence: int
    period_start: int
    period_end: int
    count: int
    totals: tuple[PollutantTotal, ...]
    status: BatchStatus
    tx_hash: bytes | None
    block: int | None
    created_at: float
    excluded: tuple[ExcludedTotal, ...] = ()
    estimates: tuple[EstimateTotal, ...] = ()

    def totals_json(self) -> str:
        """The totals as stored: compact JSON ``{"valid": [...], "excluded": [...],
        "estimates": [...]}``, each list sorted as the ledger requires."""
        return json.dumps(
            {
                "valid": [t.to_json() for t in self.totals],
                "excluded": [t.to_json() for t in self.excluded],
                "estimates": [t.to_json() for t in self.estimates],
            },
            separators=(",", ":"),
        )


@dataclass(frozen=True, slots=True)
class StoredReading:
    """A reading as the queue holds it.

    Attributes:
        row_id: the row's id (what :meth:`Queue.proof` takes).
        signed: the signed reading.
        qc: its quality-control status.
        received_at: when the gateway appended it (unix seconds).
        batch_id: its batch, ``None`` until cut.
        backfilled: recovered by a history request after a transmission gap.
    """

    row_id: int
    signed: SignedReading
    qc: str
    received_at: float
    batch_id: bytes | None
    backfilled: bool = False


class ReadingProof(NamedTuple):
    """Inclusion proof of one reading, for ``MerkleProof.verify(proof, root, leaf)`` on-chain."""

    batch_id: bytes
    root: bytes
    proof: tuple[bytes, ...]


@dataclass(frozen=True, slots=True)
class QueueStats:
    """Counts by status.

    Attributes:
        readings: readings per state (``UNBATCHED`` or their batch's status).
        batches: batches per status.
    """

    readings: dict[str, int]
    batches: dict[str, int]

    @property
    def settled(self) -> bool:
        """Nothing left to do: every reading is in a batch and every batch is anchored."""
        r = self.readings
        return r["UNBATCHED"] == r[BatchStatus.CUT.value] == r[BatchStatus.SUBMITTED.value] == 0


# --- the queue ------------------------------------------------------------------------------


def _hex(value: bytes) -> str:
    return "0x" + value.hex()


def _make_engine(path: Path | None, synchronous: str) -> Engine:
    url = "sqlite+pysqlite:///:memory:" if path is None else f"sqlite+pysqlite:///{path}"
    # One connection for the queue's lifetime (StaticPool): no checkout per call, and an
    # in-memory database lives as long as its connection.
    engine = sa.create_engine(url, poolclass=StaticPool, connect_args={"check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's begin event below issue BEGIN (the pysqlite recipe), so writers
        # take the write lock up front with BEGIN IMMEDIATE.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            # Small pages: a one-frame append dirties a handful of pages, each written to the WAL
            # at commit (the main cost of an append); takes effect when the file is created.
            cursor.execute("PRAGMA page_size=1024")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA synchronous={synchronous}")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=10000")
            # Checkpoint every ~8 MB of WAL (default ~1 MB): pages rewritten by many commits
            # (the tails of the append-only trees) are copied back once, not many times.
            cursor.execute("PRAGMA wal_autocheckpoint=8192")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        deferred = connection.info.get("ets_read_only", False)
        connection.connection.driver_connection.execute("BEGIN" if deferred else "BEGIN IMMEDIATE")  # type: ignore[union-attr]

    return engine


class Queue:
    """Durable store-and-forward queue of signed readings and Merkle batches.

    Thread-safe (one lock around one SQLite connection). Several processes may open the same
    file: SQLite serialises writers, and readers see committed data.

    Args:
        path: database file; ``None`` or ``":memory:"`` for a private in-memory database.
        synchronous: SQLite ``synchronous`` level, ``"NORMAL"`` (default) or ``"FULL"``.

    Raises:
        QueueValueError: bad ``synchronous``, or the file holds another schema version.
    """

    def __init__(
        self, path: str | Path | None = None, *, synchronous: Literal["NORMAL", "FULL"] = "NORMAL"
    ) -> None:
        if synchronous not in ("NORMAL", "FULL"):
            raise QueueValueError(f"synchronous must be NORMAL or FULL, not {synchronous!r}")
        self.path = None if path is None or str(path) == ":memory:" else Path(path)
        self._engine = _make_engine(self.path, synchronous)
        self._lock = threading.RLock()
        self._trees: OrderedDict[bytes, StandardMerkleTree] = OrderedDict()
        self._conn = self._engine.connect()
        try:
            with self._write() as conn:
                version = conn.exec_driver_sql("PRAGMA user_version").scalar_one()
                if version not in (0, SCHEMA_VERSION):
                    raise QueueValueError(
                        f"queue {self.path} has schema version {version}, expected {SCHEMA_VERSION}"
                    )
                _metadata.create_all(conn)
                conn.exec_driver_sql(f"PRAGMA user_version={SCHEMA_VERSION}")
        except BaseException:
            self.close()
            raise
        logger.info("queue open", extra={"path": str(self.path or ":memory:")})

    # lifecycle ----------------------------------------------------------------------------

    def close(self) -> None:
        """Close the connection (committed data stays on disk)."""
        with self._lock:
            self._conn.close()
            self._engine.dispose()

    def __enter__(self) -> Queue:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Queue(path={str(self.path or ':memory:')!r})"

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        with self._lock, self._conn.begin():
            yield self._conn

    @contextmanager
    def _raw_write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction on the driver's own connection, for the hot paths (append and
        cut): SQLAlchemy's per-statement and per-transaction bookkeeping costs more than the
        SQLite work of a one-frame append. Outside :meth:`_write`, so SQLAlchemy has no
        transaction open on the connection meanwhile."""
        with self._lock:
            raw = self._conn.connection.driver_connection
            assert isinstance(raw, sqlite3.Connection)
            raw.execute("BEGIN IMMEDIATE")
            try:
                yield raw
            except BaseException:
                raw.execute("ROLLBACK")
                raise
            raw.execute("COMMIT")

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        with self._lock:
            self._conn.info["ets_read_only"] = True
            try:
                with self._conn.begin():
                    yield self._conn
            finally:
                self._conn.info.pop("ets_read_only", None)

    # appending ----------------------------------------------------------------------------

    def append(
        self,
        signed_frames: Iterable[SignedFrame],
        *,
        qc: str | Sequence[str] = _DEFAULT_QC,
        now: float | None = None,
        frame: FrameKey | None = None,
        state: Mapping[str, str] | None = None,
        estimates: Sequence[Estimate] = (),
        backfilled: bool = False,
        outbox: Sequence[str] = (),
    ) -> int:
        """Store signed frames durably, in one transaction; call this before ACKing the device.

        Insert-or-report, a signed frame at a time (its signature covers all its readings, so
        it is stored whole or not at all): a frame with a reading whose (device, sequence) is
        stored already, or at or below its device's last batched sequence (the ledger would
        refuse it as a replay), is refused; all the others are stored and committed, and only
        then is :class:`ReadingDuplicateError` raised, naming the refused readings.

        Args:
            signed_frames: the signed frames.
            qc: quality-control status, one for all readings or one per reading (in order).
            now: the gateway's clock (unix seconds) recorded as ``received_at``; default now.
            frame: the HJ 212 data frame the readings come from, recorded with them; a data
                frame stored before refuses the whole call.
            state: gateway state documents (key → JSON text) to write in the same transaction.
            estimates: quality control's gap estimates to record with them (unsigned; summed
                apart into the next batch of their device).
            backfilled: the readings were recovered by a history request (HJ 212 back-fill).
            outbox: documents for another store (:meth:`outbox`) to write in the same
                transaction.

        Returns:
            How many readings were stored.

        Raises:
            FrameAlreadyStoredError: ``frame`` was stored before; nothing is stored.
            ReadingDuplicateError: some frames repeated stored readings; the others were
                stored (``error.stored`` readings).
            QueueValueError: ``qc`` does not match the readings, or a sequence or time is at or
                above ``2**63``; nothing is stored then.
        """
        items = signed_frames if isinstance(signed_frames, Sequence) else list(signed_frames)
        if not items and frame is None and not state and not estimates and not outbox:
            return 0
        received = _time.time() if now is None else float(now)
        total = sum(len(f.readings) for f in items)
        statuses: Iterator[str]
        if isinstance(qc, str):
            statuses = repeat(qc)
        else:
            if len(qc) != total:
                raise QueueValueError(f"{len(qc)} qc statuses for {total} readings")
            statuses = iter(qc)
        batches: list[tuple[SignedFrame, list[tuple[Any, ...]]]] = []
        for signed in items:
            if signed.last_sequence >= _INT64:
                raise QueueValueError(
                    f"device {signed.device} sequence {signed.last_sequence}: the queue stores int64"
                )
            digests = signed.digests
            rows = []
            for i, r in enumerate(signed.readings):
                if r.time >= _INT64:
                    raise QueueValueError(f"device {r.device} time {r.time}: the queue stores int64")
                rows.append(
                    (r.device, r.sequence, r.time, r.pollutant, str(r.value), r.decimals, r.unit, r.flag,
                     next(statuses), digests[i], received, backfilled)
                )  # fmt: skip
            batches.append((signed, rows))
        stored = 0
        duplicates: list[tuple[str, int]] = []
        with self._raw_write() as raw:
            execute = raw.execute
            if frame is not None:
                inserted_frame = execute(
                    "INSERT OR IGNORE INTO frames (mn, cn, datatime, readings, received_at)"
                    " VALUES (?, ?, ?, ?, ?)",
                    (frame.mn, frame.cn, frame.datatime, total, received),
                ).rowcount
                if inserted_frame == 0:
                    raise FrameAlreadyStoredError(
                        f"frame CN={frame.cn} DataTime {frame.datatime} of {frame.mn} is stored already"
                    )
            if estimates:
                raw.executemany(
                    "INSERT INTO estimates (device, time, pollutant, unit, value, decimals, method)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?)",
                    [
                        (e.device, e.time, e.pollutant, e.unit, str(e.value), e.decimals, e.method)
                        for e in estimates
                    ],
                )
            if state:
                raw.executemany(
                    "INSERT INTO state (key, value) VALUES (?, ?)"
                    " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    list(state.items()),
                )
            if outbox:
                raw.executemany("INSERT INTO outbox (body) VALUES (?)", [(body,) for body in outbox])
            for signed, rows in batches:
                device, first, last = signed.device, signed.first_sequence, signed.last_sequence
                cursor = execute(_DEVICE_CURSOR, (device,)).fetchone()
                if cursor is None:
                    execute("INSERT INTO devices (device, last_batched) VALUES (?, 0)", (device,))
                else:
                    last_stored, last_batched = cursor
                    if first <= last_stored and (
                        first <= last_batched
                        or execute(
                            "SELECT 1 FROM readings WHERE device = ? AND sequence BETWEEN ? AND ? LIMIT 1",
                            (device, first, last),
                        ).fetchone()
                    ):
                        duplicates.extend((device, r.sequence) for r in signed.readings)
                        continue
                raw.executemany(_INSERT_READINGS, rows)
                execute(_INSERT_SIGNED_FRAME, (device, first, len(rows), signed.signature))
                stored += len(rows)
        if duplicates:
            for device, sequence in duplicates[:20]:
                logger.warning("duplicate reading refused", extra={"device": device, "sequence": sequence})
            shown = ", ".join(f"device {d} sequence {s}" for d, s in duplicates[:5])
            more = f" and {len(duplicates) - 5} more" if len(duplicates) > 5 else ""
            raise ReadingDuplicateError(
                f"{len(duplicates)} duplicate readings refused ({shown}{more}); {stored} stored",
                duplicates=tuple(duplicates),
                stored=stored,
            )
        return stored

    # cutting ------------------------------------------------------------------------------

    def cut_batches(
        self,
        max_size: int,
        max_age_seconds: float,
        now: float | None = None,
        *,
        enterprises: Mapping[str, str] | None = None,
        max_span: int | None = None,
    ) -> list[Batch]:
        """Cut each device's unbatched readings into Merkle batches.

        A device's unbatched readings, in sequence order, are cut ``max_size`` at a time; the
        remainder is cut too once its oldest reading was received ``max_age_seconds`` ago or
        more. With ``max_span`` (the ledger's ``MAX_SEQUENCE_SPAN``), a batch never reaches
        more than ``max_span`` sequences past the one before it: the device's previous batch,
        or for its first batch in this queue the sequence before its first reading (the
        gateway's signer continues right after the ledger's last anchored sequence); a batch
        that stops there is cut at once, whatever its age. A gap wider than the span still
        gives a batch of one reading (the ledger refuses it, and the anchoring loop flags the
        device). Each batch is stored with status CUT and its device's cursor moved past it, in
        one transaction (a crash leaves whole batches or none). The same readings always give
        the same root and batch id.

        Args:
            max_size: most readings in a batch (>= 1).
            max_age_seconds: longest a reading waits unbatched (by the gateway's clock).
            now: the gateway's clock (unix seconds); default now.
            enterprises: checksummed device address → enterprise id, recorded on the batches.
            max_span: most sequences a batch may reach past the one before it (>= 1).

        Returns:
            The new batches, by device then sequence.

        Raises:
            QueueValueError: ``max_size`` or ``max_span`` < 1, or a negative age.
        """
        if isinstance(max_size, bool) or not isinstance(max_size, int) or max_size < 1:
            raise QueueValueError(f"max_size must be a positive int, not {max_size!r}")
        if max_span is not None and (
            isinstance(max_span, bool) or not isinstance(max_span, int) or max_span < 1
        ):
            raise QueueValueError(f"max_span must be a positive int, not {max_span!r}")
        if max_age_seconds < 0:
            raise QueueValueError(f"max_age_seconds must not be negative, not {max_age_seconds!r}")
        clock = _time.time() if now is None else float(now)
        with self._read() as conn:
            devices = [
                d
                for (d,) in conn.exec_driver_sql(
                    "SELECT device FROM devices d WHERE EXISTS (SELECT 1 FROM readings r"
                    " WHERE r.device = d.device AND r.sequence > d.last_batched) ORDER BY device"
                )
            ]
        batches: list[Batch] = []
        for device in devices:
            enterprise = None if enterprises is None else enterprises.get(device)
            while True:
                with self._raw_write() as raw:
                    execute = raw.execute
                    (last_batched,) = execute(
                        "SELECT last_batched FROM devices WHERE device = ?", (device,)
                    ).fetchone()
                    bound = _INT64
                    if max_span is not None:
                        first = execute(
                            "SELECT MIN(sequence) FROM readings WHERE device = ? AND sequence > ?",
                            (device, last_batched),
                        ).fetchone()[0]
                        if first is None:
                            break
                        base = last_batched if last_batched else first - 1
                        bound = max(base + max_span, first)
                    rows = execute(
                        "SELECT sequence, time, pollutant, value, decimals, unit, digest, received_at,"
                        " qc, flag FROM readings WHERE device = ? AND sequence > ? AND sequence <= ?"
                        " ORDER BY sequence LIMIT ?",
                        (device, last_batched, min(bound, _INT64 - 1), max_size),
                    ).fetchall()
                    if not rows:
                        break
                    full = len(rows) == max_size or (
                        bound < _INT64
                        and execute(
                            "SELECT 1 FROM readings WHERE device = ? AND sequence > ? LIMIT 1",
                            (device, bound),
                        ).fetchone()
                        is not None
                    )
                    if not full and clock - min(row[7] for row in rows) < max_age_seconds:
                        break
                    period_end = max(row[1] for row in rows)
                    estimate_rows = execute(
                        "SELECT id, pollutant, unit, method, value, decimals FROM estimates"
                        " WHERE device = ? AND batch_id IS NULL AND time <= ?",
                        (device, period_end),
                    ).fetchall()
                    batch = self._new_batch(device, enterprise, rows, clock, estimate_rows)
                    execute(_INSERT_BATCH, self._batch_row(batch, clock))
                    if estimate_rows:
                        raw.executemany(
                            "UPDATE estimates SET batch_id = ? WHERE id = ?",
                            [(batch.batch_id, row[0]) for row in estimate_rows],
                        )
                    execute(
                        "UPDATE devices SET last_batched = ? WHERE device = ?", (batch.last_sequence, device)
                    )
                batches.append(batch)
                logger.info(
                    "batch cut: %d readings",
                    batch.count,
                    extra={"device": device, "batch_id": _hex(batch.batch_id), "root": _hex(batch.root)},
                )
                if not full:
                    break
        return batches

    @staticmethod
    def _new_batch(
        device: str, enterprise: str | None, rows: Sequence[Any], clock: float, estimates: Sequence[Any] = ()
    ) -> Batch:
        sequences, times, pollutants, values, decimals, units, digests, _, qcs, flags = zip(
            *rows, strict=True
        )
        totals, excluded = _totals(
            zip(pollutants, units, map(int, values), decimals, qcs, flags, strict=True)
        )
        root = batch_root(digests)
        first, last = sequences[0], sequences[-1]
        return Batch(
            batch_id=batch_id_of(device, first, last, root),
            root=root,
            device=device,
            enterprise=enterprise,
            first_sequence=first,
            last_sequence=last,
            period_start=min(times),
            period_end=max(times),
            count=len(rows),
            totals=totals,
            status=BatchStatus.CUT,
            tx_hash=None,
            block=None,
            created_at=clock,
            excluded=excluded,
            estimates=_estimate_totals((e[1], e[2], e[3], int(e[4]), e[5]) for e in estimates),
        )

    @staticmethod
    def _batch_row(batch: Batch, clock: float) -> dict[str, Any]:
        return {
            "batch_id": batch.batch_id,
            "root": batch.root,
            "device": batch.device,
            "enterprise": batch.enterprise,
            "first_sequence": batch.first_sequence,
            "last_sequence": batch.last_sequence,
            "period_start": batch.period_start,
            "period_end": batch.period_end,
            "count": batch.count,
            "totals": batch.totals_json(),
            "status": batch.status.value,
            "tx_hash": None,
            "block": None,
            "created_at": clock,
            "updated_at": clock,
        }

    # batches ------------------------------------------------------------------------------

    @staticmethod
    def _to_batch(row: Any) -> Batch:
        stored = json.loads(row.totals)
        if isinstance(stored, list):  # a batch cut before quality totals were split
            stored = {"valid": stored}
        return Batch(
            batch_id=row.batch_id,
            root=row.root,
            device=row.device,
            enterprise=row.enterprise,
            first_sequence=row.first_sequence,
            last_sequence=row.last_sequence,
            period_start=row.period_start,
            period_end=row.period_end,
            count=row.count,
            totals=tuple(PollutantTotal.from_json(t) for t in stored["valid"]),
            status=BatchStatus(row.status),
            tx_hash=row.tx_hash,
            block=row.block,
            created_at=row.created_at,
            excluded=tuple(ExcludedTotal.from_json(t) for t in stored.get("excluded", ())),
            estimates=tuple(EstimateTotal.from_json(t) for t in stored.get("estimates", ())),
        )

    def _get_batch(self, conn: Connection, batch_id: bytes) -> Batch:
        row = conn.execute(sa.select(batches_table).where(batches_table.c.batch_id == batch_id)).one_or_none()
        if row is None:
            raise BatchNotFoundError(f"no batch {_hex(batch_id)}")
        return self._to_batch(row)

    def batch(self, batch_id: bytes | str) -> Batch:
        """The batch with this id.

        Raises:
            BatchNotFoundError: no such batch.
            QueueValueError: the id is not 32 bytes.
        """
        key = bytes32(batch_id, "batch id", QueueValueError)
        with self._read() as conn:
            return self._get_batch(conn, key)

    def batches(self, status: BatchStatus | str | None = None) -> list[Batch]:
        """All batches (or those with ``status``), oldest first."""
        query = sa.select(batches_table).order_by(sa.literal_column("rowid"))
        if status is not None:
            query = query.where(batches_table.c.status == BatchStatus(status).value)
        with self._read() as conn:
            return [self._to_batch(row) for row in conn.execute(query)]

    def pending_batches(self) -> list[Batch]:
        """Batches not anchored yet (CUT or SUBMITTED), oldest first.

        A SUBMITTED batch may already be on-chain (the receipt was lost): check the
        EmissionsLedger for its batch id before sending it again.
        """
        query = (
            sa.select(batches_table)
            .where(batches_table.c.status.in_([BatchStatus.CUT.value, BatchStatus.SUBMITTED.value]))
            .order_by(sa.literal_column("rowid"))
        )
        with self._read() as conn:
            return [self._to_batch(row) for row in conn.execute(query)]

    def mark_submitted(
        self, batch_id: bytes | str, tx_hash: bytes | str, *, now: float | None = None
    ) -> Batch:
        """Record that the batch's anchoring transaction was sent.

        Idempotent; a SUBMITTED batch takes the new hash (a re-sent or replaced transaction);
        an ANCHORED batch is left as it is.

        Returns:
            The batch as recorded.

        Raises:
            BatchNotFoundError: no such batch.
            QueueValueError: an id or hash is not 32 bytes.
        """
        key, tx = bytes32(batch_id, "batch id", QueueValueError), bytes32(tx_hash, "tx hash", QueueValueError)
        clock = _time.time() if now is None else float(now)
        with self._write() as conn:
            batch = self._get_batch(conn, key)
            if batch.status is BatchStatus.ANCHORED or (
                batch.status is BatchStatus.SUBMITTED and batch.tx_hash == tx
            ):
                return batch
            conn.execute(
                sa.update(batches_table)
                .where(batches_table.c.batch_id == key)
                .values(status=BatchStatus.SUBMITTED.value, tx_hash=tx, updated_at=clock)
            )
            updated = self._get_batch(conn, key)
        logger.info("batch submitted", extra={"batch_id": _hex(key), "tx_hash": _hex(tx)})
        return updated

    def mark_anchored(
        self, batch_id: bytes | str, tx_hash: bytes | str, block: int, *, now: float | None = None
    ) -> Batch:
        """Record that the batch's root is on-chain; call only after seeing the receipt.

        Idempotent for the same transaction (a new block number for it, after a re-org, is
        taken).

        Returns:
            The batch as recorded.

        Raises:
            BatchNotFoundError: no such batch.
            BatchStateError: the batch is already anchored by another transaction.
            QueueValueError: an id or hash is not 32 bytes, or a negative block.
        """
        key, tx = bytes32(batch_id, "batch id", QueueValueError), bytes32(tx_hash, "tx hash", QueueValueError)
        if isinstance(block, bool) or not isinstance(block, int) or not 0 <= block < _INT64:
            raise QueueValueError(f"block must be a non-negative int64, not {block!r}")
        clock = _time.time() if now is None else float(now)
        with self._write() as conn:
            batch = self._get_batch(conn, key)
            if batch.status is BatchStatus.ANCHORED:
                if batch.tx_hash != tx:
                    raise BatchStateError(
                        f"batch {_hex(key)} is anchored by {_hex(batch.tx_hash or b'')}, not {_hex(tx)}"
                    )
                if batch.block == block:
                    return batch
            conn.execute(
                sa.update(batches_table)
                .where(batches_table.c.batch_id == key)
                .values(status=BatchStatus.ANCHORED.value, tx_hash=tx, block=block, updated_at=clock)
            )
            updated = self._get_batch(conn, key)
        logger.info("batch anchored", extra={"batch_id": _hex(key), "tx_hash": _hex(tx), "block": block})
        return updated

    def reopen(self, batch_id: bytes | str, *, now: float | None = None) -> Batch:
        """Put an ANCHORED or SUBMITTED batch back to CUT: its anchoring is not on-chain after all.

        For a development chain restarted from an older state (a consortium chain with QBFT
        finality never loses a mined block). The batch keeps its id and root.

        Raises:
            BatchNotFoundError: no such batch.
        """
        key = bytes32(batch_id, "batch id", QueueValueError)
        clock = _time.time() if now is None else float(now)
        with self._write() as conn:
            self._get_batch(conn, key)
            conn.execute(
                sa.update(batches_table)
                .where(batches_table.c.batch_id == key)
                .values(status=BatchStatus.CUT.value, tx_hash=None, block=None, updated_at=clock)
            )
            updated = self._get_batch(conn, key)
        logger.warning("batch reopened: not on-chain", extra={"batch_id": _hex(key)})
        return updated

    # readings and proofs ------------------------------------------------------------------

    def _stored(self, conn: Connection, rows: Sequence[Any]) -> list[StoredReading]:
        """Reading rows (columns :data:`_READING_COLUMNS`) as stored readings, in the rows'
        order, each with its frame witness (rebuilt from the frame's rows) and its batch.

        Raises:
            BatchStateError: a reading's frame is incomplete (the database was altered).
        """
        execute = conn.exec_driver_sql
        by_device: defaultdict[str, list[int]] = defaultdict(list)
        for row in rows:
            by_device[row[1]].append(row[2])
        witnesses: dict[tuple[str, int], FrameWitness] = {}
        batch_ranges: dict[str, list[tuple[int, int, bytes]]] = {}
        for device, sequences in by_device.items():
            low, high = min(sequences), max(sequences)
            frames = execute(
                "SELECT first_sequence, size, signature FROM signed_frames WHERE device = ?"
                " AND first_sequence <= ? AND first_sequence >= coalesce((SELECT max(first_sequence)"
                " FROM signed_frames WHERE device = ? AND first_sequence <= ?), 0) ORDER BY first_sequence",
                (device, high, device, low),
            ).all()
            if frames:
                span = execute(
                    "SELECT sequence, time, pollutant, value, decimals, unit, flag FROM readings"
                    " WHERE device = ? AND sequence BETWEEN ? AND ?",
                    (device, frames[0][0], frames[-1][0] + frames[-1][1] - 1),
                ).all()
                hashes_of = {
                    r[0]: reading_hash(Reading(device, r[0], r[1], r[2], int(r[3]), r[4], r[5], r[6]))
                    for r in span
                }
                for first, size, signature in frames:
                    try:
                        hashes = tuple(hashes_of[s] for s in range(first, first + size))
                    except KeyError:
                        raise BatchStateError(
                            f"device {device}: the frame from sequence {first} has readings missing"
                        ) from None
                    for i in range(size):
                        witnesses[(device, first + i)] = FrameWitness(hashes, i, signature)
            batch_ranges[device] = [
                (first, last, batch_id)
                for batch_id, first, last in execute(
                    "SELECT batch_id, first_sequence, last_sequence FROM batches WHERE device = ?"
                    " AND first_sequence <= ? AND last_sequence >= ? ORDER BY first_sequence",
                    (device, high, low),
                )
            ]
        stored: list[StoredReading] = []
        for row in rows:
            row_id, device, sequence, time, pollutant, value, decimals, unit, flag, qc, digest = row[:11]
            received, back = row[11], row[12]
            witness = witnesses.get((device, sequence))
            if witness is None:
                raise BatchStateError(f"device {device} sequence {sequence}: no signed frame holds it")
            reading = Reading(device, sequence, time, pollutant, int(value), decimals, unit, flag)
            ranges = batch_ranges[device]
            at = bisect_right(ranges, (sequence, _INT64)) - 1
            batch_id = ranges[at][2] if at >= 0 and ranges[at][1] >= sequence else None
            stored.append(
                StoredReading(
                    row_id, SignedReading(reading, digest, witness), qc, received, batch_id, bool(back)
                )
            )
        return stored

    def _select_readings(self, where: str, params: tuple[Any, ...]) -> list[StoredReading]:
        """Stored readings matching a (constant) SQL condition, by device and sequence."""
        with self._read() as conn:
            rows = conn.exec_driver_sql(
                f"SELECT {_READING_COLUMNS} FROM readings WHERE {where} ORDER BY device, sequence", params
            ).all()
            return self._stored(conn, rows)

    def reading(self, row_id: int) -> StoredReading:
        """The reading stored under ``row_id``.

        Raises:
            ReadingRowNotFoundError: no such row.
        """
        found = self._select_readings("id = ?", (row_id,))
        if not found:
            raise ReadingRowNotFoundError(f"no reading row {row_id}")
        return found[0]

    def batch_readings(self, batch_id: bytes | str) -> list[StoredReading]:
        """The readings of a batch, in sequence order (the order of its tree's values).

        Raises:
            BatchNotFoundError: no such batch.
        """
        key = bytes32(batch_id, "batch id", QueueValueError)
        with self._read() as conn:
            batch = self._get_batch(conn, key)
        return self._select_readings(
            "device = ? AND sequence BETWEEN ? AND ?",
            (batch.device, batch.first_sequence, batch.last_sequence),
        )

    def unbatched(self, device: str | None = None) -> list[StoredReading]:
        """Readings not cut into a batch yet (of one device, or all), by device and sequence."""
        where = "sequence > (SELECT last_batched FROM devices d WHERE d.device = readings.device)"
        if device is None:
            return self._select_readings(where, ())
        return self._select_readings(f"device = ? AND {where}", (device,))

    def device_readings(self, device: str) -> list[StoredReading]:
        """Every stored reading of a device, in sequence order."""
        return self._select_readings("device = ?", (device,))

    def last_sequences(self) -> dict[str, int]:
        """Highest stored sequence per device (to resume signers and replay guards on restart)."""
        with self._read() as conn:
            rows = conn.exec_driver_sql(
                "SELECT device, (SELECT max(sequence) FROM readings r WHERE r.device = d.device)"
                " FROM devices d"
            ).all()
        return {device: sequence for device, sequence in rows}

    def last_frame_times(self) -> dict[tuple[str, str], int]:
        """Latest stored DataTime (unix seconds) per (device code, command), to resume QC."""
        with self._read() as conn:
            rows = conn.exec_driver_sql("SELECT mn, cn, max(datatime) FROM frames GROUP BY mn, cn").all()
        return {(mn, cn): datatime for mn, cn, datatime in rows}

    def frame_count(self) -> int:
        """How many data frames are stored."""
        with self._read() as conn:
            return int(conn.exec_driver_sql("SELECT count(*) FROM frames").scalar_one())

    def get_state(self, key: str) -> str | None:
        """A gateway state document, ``None`` when never written."""
        with self._read() as conn:
            return conn.execute(
                sa.select(state_table.c.value).where(state_table.c.key == key)
            ).scalar_one_or_none()

    def outbox(self) -> list[tuple[int, str]]:
        """The outbox's documents with their ids, oldest first (see :meth:`append`)."""
        with self._read() as conn:
            rows = conn.exec_driver_sql("SELECT id, body FROM outbox ORDER BY id").all()
        return [(int(i), str(body)) for i, body in rows]

    def drop_outbox(self, ids: Sequence[int]) -> None:
        """Remove outbox documents the other store has taken (unknown ids are ignored)."""
        with self._write() as conn:
            conn.execute(sa.delete(outbox_table).where(outbox_table.c.id.in_(list(ids))))

    def tree(self, batch_id: bytes | str) -> StandardMerkleTree:
        """The batch's standard Merkle tree, rebuilt from its readings' digests.

        Raises:
            BatchNotFoundError: no such batch.
            BatchStateError: the rebuilt root is not the stored root (the database was altered).
        """
        key = bytes32(batch_id, "batch id", QueueValueError)
        with self._lock:
            cached = self._trees.get(key)
            if cached is not None:
                self._trees.move_to_end(key)
                return cached
            with self._read() as conn:
                batch = self._get_batch(conn, key)
                digests = [
                    digest
                    for (digest,) in conn.exec_driver_sql(
                        "SELECT digest FROM readings WHERE device = ? AND sequence BETWEEN ? AND ?"
                        " ORDER BY sequence",
                        (batch.device, batch.first_sequence, batch.last_sequence),
                    )
                ]
            tree = StandardMerkleTree.of([[d] for d in digests], LEAF_ENCODING)
            if tree.root != _hex(batch.root) or len(digests) != batch.count:
                raise BatchStateError(f"batch {_hex(key)}: its readings no longer give its root")
            self._trees[key] = tree
            if len(self._trees) > _TREE_CACHE:
                self._trees.popitem(last=False)
            return tree

    def proof(self, reading_row_id: int) -> ReadingProof:
        """Inclusion proof of a stored reading in its batch.

        Returns:
            ``(batch_id, root, proof)``; on-chain, ``MerkleProof.verify(proof, root,
            keccak256(bytes.concat(keccak256(abi.encode(digest)))))`` holds.

        Raises:
            ReadingRowNotFoundError: no such row.
            ReadingNotBatchedError: the reading is not cut into a batch yet.
        """
        stored = self.reading(reading_row_id)
        if stored.batch_id is None:
            raise ReadingNotBatchedError(f"reading row {reading_row_id} is not in a batch yet")
        tree = self.tree(stored.batch_id)
        index = tree.leaf_lookup([stored.signed.digest])
        proof = tuple(bytes.fromhex(node[2:]) for node in tree.get_proof(index))
        return ReadingProof(stored.batch_id, bytes.fromhex(tree.root[2:]), proof)

    # stats --------------------------------------------------------------------------------

    def stats(self) -> QueueStats:
        """Counts of readings (UNBATCHED or by batch status) and of batches by status."""
        with self._read() as conn:
            unbatched = conn.exec_driver_sql(
                "SELECT count(*) FROM readings r JOIN devices d ON d.device = r.device"
                " WHERE r.sequence > d.last_batched"
            ).scalar_one()
            rows = conn.exec_driver_sql(
                "SELECT status, count(*), sum(count) FROM batches GROUP BY status"
            ).all()
        readings = {"UNBATCHED": unbatched} | {status.value: 0 for status in BatchStatus}
        batches = {status.value: 0 for status in BatchStatus}
        for status, batch_count, reading_count in rows:
            batches[status] = batch_count
            readings[status] = reading_count
        return QueueStats(readings, batches)
