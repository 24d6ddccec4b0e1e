"""Import of anchored readings: the signed readings of ANCHORED batches, read from oracle
gateway queue files into the read model's ``readings`` table, so the audit trail can prove any
reading against its on-chain root without the gateway.

Only batches the indexer has already seen anchored on-chain (a row in ``batches``) are taken,
and only when the queue's readings rebuild the root the chain holds; a batch whose readings are
in the read model already is skipped, so importing again (or from several API processes at
once) adds nothing twice.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Engine, Table, select
from sqlalchemy.dialects import postgresql, sqlite

from domain.review import exclusion_of
from oracle.queue import BatchStatus, Queue, StoredReading
from oracle.signing.proof import batch_root
from readmodel import models as m
from readmodel.errors import ReadModelError

logger = logging.getLogger(__name__)

#: Batch ids looked up in the read model per query.
_CHUNK = 500


@dataclass(frozen=True)
class ImportResult:
    """What one import did.

    Attributes:
        batches: batches whose readings were imported.
        readings: readings imported.
        present: anchored batches whose readings were in the read model already.
        skipped: anchored batches left out (not indexed yet, or their readings do not give
            the anchored root).
    """

    batches: int = 0
    readings: int = 0
    present: int = 0
    skipped: int = 0

    def __add__(self, other: ImportResult) -> ImportResult:
        return ImportResult(
            self.batches + other.batches,
            self.readings + other.readings,
            self.present + other.present,
            self.skipped + other.skipped,
        )


def reading_row(batch_id: str, position: int, stored: StoredReading) -> dict[str, Any]:
    """The ``readings`` row of a queue's stored reading at ``position`` of its batch."""
    signed = stored.signed
    reading, witness = signed.reading, signed.witness
    return {
        "batch_id": batch_id,
        "position": position,
        "device": reading.device,
        "sequence": reading.sequence,
        "time": reading.time,
        "pollutant": reading.pollutant,
        "value": str(reading.value),
        "decimals": reading.decimals,
        "unit": reading.unit,
        "flag": reading.flag,
        "leaf": "0x" + signed.digest.hex(),
        "frame_hashes": ["0x" + h.hex() for h in witness.hashes],
        "frame_index": witness.index,
        "signature": "0x" + witness.signature.hex(),
        "qc": stored.qc,
        "exclusion": None if (why := exclusion_of(stored.qc, reading.flag)) is None else why.label,
        "backfilled": stored.backfilled,
    }


def _insert_ignoring_duplicates(engine: Engine, rows: Sequence[dict[str, Any]]) -> None:
    table = cast(Table, m.Reading.__table__)
    dialect = engine.dialect.name
    stmt: Any
    if dialect == "postgresql":
        stmt = postgresql.insert(table).on_conflict_do_nothing()
    elif dialect == "sqlite":
        stmt = sqlite.insert(table).on_conflict_do_nothing()
    else:  # pragma: no cover - other databases are not supported
        raise ReadModelError(f"unsupported database {dialect}")
    with engine.begin() as conn:
        conn.execute(stmt, list(rows))


def _pending(engine: Engine, ids: Sequence[str]) -> tuple[dict[str, tuple[str, int]], int]:
    """Of ``ids``, those indexed from the chain with no reading imported (id → (root, count)),
    and how many have their readings imported already."""
    found: dict[str, tuple[str, int]] = {}
    present = 0
    with engine.connect() as conn:
        for start in range(0, len(ids), _CHUNK):
            part = ids[start : start + _CHUNK]
            anchored = conn.execute(
                select(m.Batch.batch_id, m.Batch.root, m.Batch.count).where(m.Batch.batch_id.in_(part))
            ).all()
            done = set(
                conn.execute(
                    select(m.Reading.batch_id).where(m.Reading.batch_id.in_(part)).distinct()
                ).scalars()
            )
            found.update({str(b): (str(r), int(c)) for b, r, c in anchored if b not in done})
            present += len(done)
    return found, present


def import_queue(engine: Engine, *, queue: Queue) -> ImportResult:
    """Import the readings of ``queue``'s ANCHORED batches that the read model has indexed and
    holds no readings of.

    A batch whose readings do not rebuild the root anchored on-chain (or not its count) is
    skipped and logged, never imported.
    """
    anchored = queue.batches(BatchStatus.ANCHORED)
    ids = ["0x" + b.batch_id.hex() for b in anchored]
    pending, present = _pending(engine, ids)
    result = ImportResult(present=present, skipped=len(anchored) - len(pending) - present)
    for batch in anchored:
        batch_id = "0x" + batch.batch_id.hex()
        if batch_id not in pending:
            continue
        root, count = pending[batch_id]
        stored = queue.batch_readings(batch.batch_id)
        digests = [s.signed.digest for s in stored]
        if len(stored) != count or not stored or "0x" + batch_root(digests).hex() != root.lower():
            logger.error(
                "queue readings do not give the anchored root; batch not imported",
                extra={"batch_id": batch_id, "device": batch.device, "queue": str(queue.path)},
            )
            result += ImportResult(skipped=1)
            continue
        _insert_ignoring_duplicates(engine, [reading_row(batch_id, i, s) for i, s in enumerate(stored)])
        result += ImportResult(batches=1, readings=len(stored))
        logger.info(
            "readings imported",
            extra={"batch_id": batch_id, "device": batch.device, "readings": len(stored)},
        )
    return result


def import_readings(engine: Engine, queue_paths: Iterable[Path | str]) -> ImportResult:
    """Import the anchored readings of every queue file in ``queue_paths`` (see
    :func:`import_queue`); a file that does not exist is skipped with a warning (a queue is
    never created here).

    Args:
        engine: the read model (migrated).
        queue_paths: oracle gateway queue files (``ApiSettings.oracle_queues``).

    Returns:
        The totals over all files.
    """
    total = ImportResult()
    for path in queue_paths:
        path = Path(path)
        if not path.is_file():
            logger.warning("oracle queue not found; skipped", extra={"queue": str(path)})
            continue
        with Queue(path) as queue:
            total += import_queue(engine, queue=queue)
    return total
