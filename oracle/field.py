"""Field alarms of a site and their durable outbox: over-standard, facility, instrument, tamper, quota.

The gateway's watch (:class:`FieldWatch`) looks at every frame a site's controllers send and
turns what the rules find into :class:`FieldAlarm` records:

* **over-standard** (:mod:`oracle.standards`): an hourly average concentration above the
  outlet's limit (from the discharge permit or the site file);
* **facility stopped** (:mod:`oracle.facility`): a treatment facility's running status
  (``SBn-RS``) says stopped while the outlet discharges;
* **instrument maintenance** (:mod:`oracle.facility`): an instrument's work status
  (``i12001``) has said maintenance for longer than allowed;
* **parameter tampering** (:mod:`oracle.tamper`): an instrument parameter (CN=3020
  ``i13xxx-Info``) differs from the persisted baseline;
* **quota** (:mod:`oracle.quota`): the card-swipe controller's 80/90/100 % alarms, recorded
  through :meth:`FieldWatch.record_quota`.

Every alarm has a stable ``uid`` (kind and key): recording one twice stores it once, so a
re-sent frame or a restart never duplicates one. Alarms wait in the :class:`FieldStore`
outbox (an SQLite file beside the gateway's queue, WAL mode, safe for a second process) until
the scheduler's relay (``scheduler.field``) has put them into the alarm store and the read
model and marks them relayed. The same file keeps the tamper baseline and the review marks
(time windows of a device's readings a facility or instrument alarm makes doubtful).
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import TypeVar

from oracle.alarm import FieldAlarm, ReviewMark, quota_alarm
from oracle.errors import FieldStoreError
from oracle.facility import FacilityMonitor, FacilityRules
from oracle.hj212 import Frame
from oracle.quota import QuotaAlarm
from oracle.standards import ConcentrationLimit, StandardsMonitor
from oracle.tamper import ParameterWatch

__all__ = ["FieldStore", "FieldWatch", "watched"]

R = TypeVar("R")

logger = logging.getLogger(__name__)


_SCHEMA = """
CREATE TABLE IF NOT EXISTS field_alarms (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    uid TEXT NOT NULL UNIQUE,
    body TEXT NOT NULL,
    relayed_at INTEGER
);
CREATE TABLE IF NOT EXISTS tamper_baseline (
    mn TEXT NOT NULL,
    pollutant TEXT NOT NULL,
    item TEXT NOT NULL,
    value TEXT NOT NULL,
    at INTEGER NOT NULL,
    PRIMARY KEY (mn, pollutant, item)
);
CREATE TABLE IF NOT EXISTS review_marks (
    alarm TEXT PRIMARY KEY,
    mn TEXT NOT NULL,
    pollutant TEXT NOT NULL,
    begin_at INTEGER NOT NULL,
    end_at INTEGER,
    reason TEXT NOT NULL
);
"""

_INSERT_ALARM = "INSERT OR IGNORE INTO field_alarms (uid, body) VALUES (?, ?)"
_SELECT_BASELINE = "SELECT pollutant, item, value FROM tamper_baseline WHERE mn = ?"
_CLOSE_MARKS = (
    "UPDATE review_marks SET end_at = ? WHERE mn = ? AND pollutant = ? AND reason = ? AND end_at IS NULL"
)
_SELECT_MARKS = (
    "SELECT alarm, mn, pollutant, begin_at, end_at, reason FROM review_marks ORDER BY mn, begin_at"
)


class FieldStore:
    """The site's field-alarm outbox, tamper baseline and review marks (one SQLite file).

    Thread-safe (one connection under a lock); a second process (the scheduler's relay) may
    open the same file.
    """

    def __init__(self, path: Path | str) -> None:
        """Open or create the store at ``path``.

        Raises:
            FieldStoreError: the file cannot be opened or is not a field store.
        """
        self.path = Path(path)
        try:
            if str(path) != ":memory:":
                self.path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(str(path), check_same_thread=False, timeout=10.0)
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.executescript(_SCHEMA)
        except (sqlite3.Error, OSError) as error:
            raise FieldStoreError(f"cannot open field store {path}: {error}") from None
        self._lock = threading.Lock()

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> FieldStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                with self._conn:
                    yield self._conn
            except sqlite3.Error as error:
                raise FieldStoreError(f"field store {self.path}: {error}") from None

    # --- alarms ---

    def add(self, alarm: FieldAlarm) -> bool:
        """Store ``alarm`` unless its uid is stored already; ``True`` when it is new."""
        body = json.dumps(alarm.to_dict(), sort_keys=True)
        with self._tx() as conn:
            cursor = conn.execute(_INSERT_ALARM, (alarm.uid, body))
            return cursor.rowcount == 1

    def alarms(self, *, pending_only: bool = False) -> list[tuple[int, FieldAlarm]]:
        """Stored alarms with their outbox ids, oldest first; ``pending_only``: not yet relayed."""
        query = "SELECT id, body FROM field_alarms"
        if pending_only:
            query += " WHERE relayed_at IS NULL"
        with self._tx() as conn:
            rows = conn.execute(query + " ORDER BY id").fetchall()
        return [(int(i), FieldAlarm.from_dict(json.loads(body))) for i, body in rows]

    def mark_relayed(self, ids: Sequence[int], now: int) -> None:
        """Record that the alarms ``ids`` reached the scheduler's store."""
        with self._tx() as conn:
            conn.executemany("UPDATE field_alarms SET relayed_at = ? WHERE id = ?", [(now, i) for i in ids])

    # --- tamper baseline ---

    def baseline(self, mn: str) -> dict[tuple[str, str], str]:
        """The device's parameter baseline: (PolId or ``""``, item) → value."""
        with self._tx() as conn:
            rows = conn.execute(_SELECT_BASELINE, (mn,)).fetchall()
        return {(p, i): v for p, i, v in rows}

    def set_baseline(self, mn: str, pollutant: str, item: str, value: str, at: int) -> None:
        """Record a parameter's current value (the baseline later uploads are compared to)."""
        with self._tx() as conn:
            conn.execute(
                "INSERT INTO tamper_baseline (mn, pollutant, item, value, at) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT (mn, pollutant, item) DO UPDATE SET value = excluded.value, at = excluded.at",
                (mn, pollutant, item, value, at),
            )

    # --- review marks ---

    def mark(self, mark: ReviewMark) -> None:
        """Store a review mark (once per alarm)."""
        with self._tx() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO review_marks (alarm, mn, pollutant, begin_at, end_at, reason)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (mark.alarm, mark.mn, mark.pollutant, mark.begin, mark.end, mark.reason),
            )

    def close_marks(self, mn: str, pollutant: str, reason: str, end: int) -> None:
        """Close the device's open marks of ``reason`` (and factor) at ``end``."""
        with self._tx() as conn:
            conn.execute(
                _CLOSE_MARKS,
                (end, mn, pollutant, reason),
            )

    def marks(self) -> list[ReviewMark]:
        """Every review mark, by device and begin."""
        with self._tx() as conn:
            rows = conn.execute(_SELECT_MARKS).fetchall()
        return [ReviewMark(a, m, p, b, e, r) for a, m, p, b, e, r in rows]


class FieldWatch:
    """Runs the site's field rules over each frame and records what they raise.

    Args:
        store: the outbox (also the tamper baseline and review marks).
        enterprises: device code → enterprise account.
        limits: concentration limits per device and factor.
        rules: facility and instrument settings.
        zone: time zone of the devices' DataTime.
    """

    def __init__(
        self,
        store: FieldStore,
        enterprises: Mapping[str, str],
        *,
        limits: Sequence[ConcentrationLimit] = (),
        rules: FacilityRules | None = None,
        zone: timezone,
    ) -> None:
        self.store = store
        self.zone = zone
        self._enterprises = dict(enterprises)
        self.standards = StandardsMonitor(limits)
        self.facility = FacilityMonitor(rules or FacilityRules())
        self.tamper = ParameterWatch(store)

    def _unix(self, when: datetime) -> int:
        return int(when.replace(tzinfo=self.zone).timestamp())

    def observe(self, frame: Frame) -> list[FieldAlarm]:
        """Apply every rule to one accepted frame; store and return the alarms it newly raised."""
        enterprise = self._enterprises.get(frame.mn)
        if enterprise is None or frame.datatime is None:
            return []
        at = self._unix(frame.datatime)
        found = [
            *self.standards.observe(frame, enterprise, self._unix),
            *self.facility.observe(frame, enterprise, at),
            *self.tamper.observe(frame, enterprise, at),
        ]
        for mark in self.facility.take_marks():
            self.store.mark(mark)
        for mn, pollutant, reason, end in self.facility.take_closed():
            self.store.close_marks(mn, pollutant, reason, end)
        return self._record(found)

    def record_quota(self, alarm: QuotaAlarm) -> list[FieldAlarm]:
        """Record a card-swipe quota alarm of the device bound to its enterprise."""
        mn = next((m for m, e in self._enterprises.items() if e.lower() == alarm.enterprise.lower()), "")
        return self._record([quota_alarm(alarm, mn, self.zone)])

    def _record(self, alarms: Sequence[FieldAlarm]) -> list[FieldAlarm]:
        new = [a for a in alarms if self.store.add(a)]
        for a in new:
            logger.warning(
                "field alarm %s: %s",
                a.kind,
                a.message,
                extra={"enterprise": a.enterprise, "device": a.mn, "kind": str(a.kind), "alarm": a.uid},
            )
        return new


def watched(handle: Callable[[Frame], R], watch: FieldWatch) -> Callable[[Frame], R]:
    """A frame handler that runs ``watch`` over each frame ``handle`` took without raising.

    ``handle`` is the gateway's (:meth:`oracle.gateway.Gateway.handle`): a frame it refused
    unanswered (wrong password, from the future) raises and is never watched. A frame it
    answered without storing (re-sent, older than the last) is watched again: the rules are
    idempotent on a repeated frame (the same alarm key, the same baseline value).
    """

    def handler(frame: Frame) -> R:
        result = handle(frame)
        try:
            watch.observe(frame)
        except FieldStoreError:
            logger.exception("field alarms of a frame not recorded", extra={"device": frame.mn})
        return result

    return handler
