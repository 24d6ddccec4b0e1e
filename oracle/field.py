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
model and marks them relayed. The same file keeps the tamper baseline, the review marks (time
windows of a device's readings a facility or instrument alarm makes doubtful) and each
device's rule state (open hourly averages, facility and instrument status), so a restarted
gateway continues where it stopped: a restart mid-hour averages the whole hour, a facility
stopped before it is still stopped after it.

**In the frame's transaction.** A frame's effects (:class:`FieldEffects`: its alarms, the
quota controller's alarms of the frame, review marks opened and closed, baseline changes and
the device's new rule state) are one JSON document. The gateway
(:class:`oracle.gateway.Gateway` with ``watch=``) asks for it before it commits the frame
(:meth:`FieldWatch.effects`) and writes it into the queue's ``outbox`` in the frame's own
transaction; a frame not stored (re-sent, failed write) is rolled back out of the rules
(:meth:`FieldWatch.rollback`). After the commit the watch drains the queue's outbox into the
field store (:meth:`FieldWatch.deliver`: one field-store transaction, then the drained
documents are removed from the queue), and a starting gateway drains what a crash left
(:meth:`FieldWatch.recover`) before it reads the rule state back. Applying a document twice
changes nothing (alarms by uid, marks by alarm, state and baseline overwritten by the same
values, a closed mark closes once), so a crash between the field store's commit and the
queue's removal duplicates nothing. Why an outbox and not one transaction over both files:
SQLite commits attached WAL databases atomically only per file, and the field store must stay
a file of its own (the scheduler's relay reads it); the queue already holds the frame's
transaction, so the frame's effects ride in it.

:meth:`FieldWatch.observe` applies a frame's effects to the store at once (no queue: tools
and tests).
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import astuple, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Protocol

from oracle.alarm import FieldAlarm, ReviewMark, quota_alarm
from oracle.errors import FieldStoreError
from oracle.facility import FacilityMonitor, FacilityRules
from oracle.hj212 import Frame
from oracle.quota import QuotaAlarm
from oracle.standards import ConcentrationLimit, StandardsMonitor
from oracle.tamper import BaselineChange, ParameterWatch

__all__ = ["FieldEffects", "FieldStore", "FieldWatch", "Outbox"]

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
CREATE TABLE IF NOT EXISTS watch_state (
    mn TEXT PRIMARY KEY,
    body TEXT NOT NULL
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
_UPSERT_BASELINE = (
    "INSERT INTO tamper_baseline (mn, pollutant, item, value, at) VALUES (?, ?, ?, ?, ?)"
    " ON CONFLICT (mn, pollutant, item) DO UPDATE SET value = excluded.value, at = excluded.at"
)
_INSERT_MARK = (
    "INSERT OR IGNORE INTO review_marks (alarm, mn, pollutant, begin_at, end_at, reason)"
    " VALUES (?, ?, ?, ?, ?, ?)"
)
_CLOSE_MARKS = (
    "UPDATE review_marks SET end_at = ? WHERE mn = ? AND pollutant = ? AND reason = ? AND end_at IS NULL"
)
_SELECT_MARKS = (
    "SELECT alarm, mn, pollutant, begin_at, end_at, reason FROM review_marks ORDER BY mn, begin_at"
)


class Outbox(Protocol):
    """Where a frame's effects wait, written in the frame's transaction (:class:`oracle.queue.Queue`)."""

    def outbox(self) -> list[tuple[int, str]]: ...

    def drop_outbox(self, ids: Sequence[int]) -> None: ...


@dataclass(frozen=True)
class FieldEffects:
    """What the field rules made of one frame, written to the field store as one unit.

    Attributes:
        alarms: alarms raised (the rules' and the card-swipe quota's).
        marks: review marks opened.
        closed: review marks closed: (device, factor, reason, end).
        baseline: tamper baseline values changed.
        state: (device, rule state as JSON text) when the device's state changed.
    """

    alarms: tuple[FieldAlarm, ...] = ()
    marks: tuple[ReviewMark, ...] = ()
    closed: tuple[tuple[str, str, str, int], ...] = ()
    baseline: tuple[BaselineChange, ...] = ()
    state: tuple[str, str] | None = None

    @property
    def urgent(self) -> bool:
        """Whether anything but the rule state is in it (what the relay should see soon)."""
        return bool(self.alarms or self.marks or self.closed or self.baseline)

    def __bool__(self) -> bool:
        return self.urgent or self.state is not None

    def to_json(self) -> str:
        """The outbox document."""
        return json.dumps(
            {
                "alarms": [a.to_dict() for a in self.alarms],
                "marks": [list(astuple(m)) for m in self.marks],
                "closed": [list(c) for c in self.closed],
                "baseline": [list(b) for b in self.baseline],
                "state": None if self.state is None else list(self.state),
            },
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str) -> FieldEffects:
        """Inverse of :meth:`to_json`."""
        data = json.loads(text)
        state = data.get("state")
        return cls(
            tuple(FieldAlarm.from_dict(a) for a in data.get("alarms", ())),
            tuple(ReviewMark(*m) for m in data.get("marks", ())),
            tuple((str(m), str(p), str(r), int(e)) for m, p, r, e in data.get("closed", ())),
            tuple(BaselineChange(*b) for b in data.get("baseline", ())),
            None if state is None else (str(state[0]), str(state[1])),
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

    # --- a frame's effects, rule state ---

    def apply(self, effects: Sequence[FieldEffects]) -> list[FieldAlarm]:
        """Write frames' effects in order, in one transaction; the alarms that were new.

        Idempotent: applying the same effects again stores nothing twice (see the module
        docstring).
        """
        new: list[FieldAlarm] = []
        with self._tx() as conn:
            for effect in effects:
                for alarm in effect.alarms:
                    body = json.dumps(alarm.to_dict(), sort_keys=True)
                    if conn.execute(_INSERT_ALARM, (alarm.uid, body)).rowcount == 1:
                        new.append(alarm)
                for change in effect.baseline:
                    conn.execute(_UPSERT_BASELINE, tuple(change))
                for mark in effect.marks:
                    conn.execute(
                        _INSERT_MARK, (mark.alarm, mark.mn, mark.pollutant, mark.begin, mark.end, mark.reason)
                    )
                for mn, pollutant, reason, end in effect.closed:
                    conn.execute(_CLOSE_MARKS, (end, mn, pollutant, reason))
                if effect.state is not None:
                    conn.execute(
                        "INSERT INTO watch_state (mn, body) VALUES (?, ?)"
                        " ON CONFLICT (mn) DO UPDATE SET body = excluded.body",
                        effect.state,
                    )
        return new

    def states(self) -> dict[str, str]:
        """Each device's persisted rule state (JSON text)."""
        with self._tx() as conn:
            rows = conn.execute("SELECT mn, body FROM watch_state").fetchall()
        return {str(mn): str(body) for mn, body in rows}

    # --- tamper baseline ---

    def baseline(self, mn: str) -> dict[tuple[str, str], str]:
        """The device's parameter baseline: (PolId or ``""``, item) → value."""
        with self._tx() as conn:
            rows = conn.execute(_SELECT_BASELINE, (mn,)).fetchall()
        return {(p, i): v for p, i, v in rows}

    def set_baseline(self, mn: str, pollutant: str, item: str, value: str, at: int) -> None:
        """Record a parameter's current value (the baseline later uploads are compared to)."""
        with self._tx() as conn:
            conn.execute(_UPSERT_BASELINE, (mn, pollutant, item, value, at))

    # --- review marks ---

    def mark(self, mark: ReviewMark) -> None:
        """Store a review mark (once per alarm)."""
        with self._tx() as conn:
            conn.execute(
                _INSERT_MARK, (mark.alarm, mark.mn, mark.pollutant, mark.begin, mark.end, mark.reason)
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
        store: the outbox (also the tamper baseline, review marks and rule state).
        enterprises: device code → enterprise account.
        limits: concentration limits per device and factor.
        rules: facility and instrument settings.
        zone: time zone of the devices' DataTime.
        deliver_every: seconds a document holding only rule state may wait in the queue's
            outbox before :meth:`deliver` drains it (documents with alarms or marks go at once).
    """

    def __init__(
        self,
        store: FieldStore,
        enterprises: Mapping[str, str],
        *,
        limits: Sequence[ConcentrationLimit] = (),
        rules: FacilityRules | None = None,
        zone: timezone,
        deliver_every: float = 5.0,
    ) -> None:
        self.store = store
        self.zone = zone
        self._enterprises = dict(enterprises)
        self.standards = StandardsMonitor(limits)
        self.facility = FacilityMonitor(rules or FacilityRules())
        self.tamper = ParameterWatch(store)
        self._saved: dict[str, str] = {}  # device -> its rule state as last written
        self._undo: tuple[str, str | None, dict[tuple[str, str], str] | None] | None = None
        self._deliver_every = deliver_every
        self._urgent = False
        self._delivered_at = time.monotonic()
        self._load()

    def _unix(self, when: datetime) -> int:
        return int(when.replace(tzinfo=self.zone).timestamp())

    def _load(self) -> None:
        """Read every device's rule state back from the store."""
        self._saved = self.store.states()
        for mn, text in self._saved.items():
            self._restore(mn, text)

    def _restore(self, mn: str, text: str | None) -> None:
        state = json.loads(text) if text else {}
        self.standards.restore(mn, state.get("standards", {}))
        self.facility.restore(mn, state.get("facility", {}))

    def _state(self, mn: str) -> str:
        return json.dumps(
            {"standards": self.standards.state(mn), "facility": self.facility.state(mn)}, sort_keys=True
        )

    # --- the gateway's transactional path ---

    def recover(self, outbox: Outbox) -> None:
        """Drain what committed frames left in ``outbox`` (a crash after the queue's commit), then
        read the rule state back: call before the first frame.

        Raises:
            FieldStoreError: the field store cannot be written.
        """
        self.deliver(outbox, force=True)
        self.tamper = ParameterWatch(self.store)
        self._load()

    def effects(self, frame: Frame, quota: Sequence[QuotaAlarm] = ()) -> FieldEffects:
        """Apply every rule to one frame the gateway is about to store; what to write with it.

        The rules' memory moves on; :meth:`rollback` undoes it when the frame is not stored.
        ``quota`` are the card-swipe controller's alarms of the frame (recorded on its device).
        """
        mn = frame.mn
        self._undo = (mn, self._saved.get(mn), self.tamper.snapshot(mn))
        alarms = [quota_alarm(a, mn, self.zone) for a in quota]
        enterprise = self._enterprises.get(mn)
        if enterprise is None or frame.datatime is None:
            return FieldEffects(tuple(alarms))
        at = self._unix(frame.datatime)
        alarms += [
            *self.standards.observe(frame, enterprise, self._unix),
            *self.facility.observe(frame, enterprise, at),
            *self.tamper.observe(frame, enterprise, at),
        ]
        state = self._state(mn)
        changed = state != self._saved.get(mn)
        if changed:
            self._saved[mn] = state
        return FieldEffects(
            tuple(alarms),
            tuple(self.facility.take_marks()),
            tuple(self.facility.take_closed()),
            tuple(self.tamper.take_changes()),
            (mn, state) if changed else None,
        )

    def rollback(self) -> None:
        """Undo the rules' memory of the last :meth:`effects` (its frame was not stored)."""
        if self._undo is None:
            return
        mn, saved, baseline = self._undo
        self._undo = None
        self._restore(mn, saved)
        if saved is None:
            self._saved.pop(mn, None)
        else:
            self._saved[mn] = saved
        self.tamper.restore(mn, baseline)

    def committed(self, effects: FieldEffects) -> None:
        """The frame of the last :meth:`effects` is stored (with ``effects`` in the outbox)."""
        self._undo = None
        self._urgent = self._urgent or effects.urgent

    def deliver(self, outbox: Outbox, *, force: bool = False) -> list[FieldAlarm]:
        """Move the documents waiting in ``outbox`` into the field store, then remove them there.

        Runs when a document with alarms or marks waits, when ``deliver_every`` seconds have
        passed, or with ``force``; returns the alarms that were new.

        Raises:
            FieldStoreError: the field store cannot be written (the documents stay in ``outbox``).
        """
        now = time.monotonic()
        if not (force or self._urgent or now - self._delivered_at >= self._deliver_every):
            return []
        waiting = outbox.outbox()
        new = self.store.apply([FieldEffects.from_json(body) for _, body in waiting]) if waiting else []
        if waiting:
            outbox.drop_outbox([i for i, _ in waiting])
        self._urgent = False
        self._delivered_at = now
        self._log(new)
        return new

    # --- straight into the store ---

    def observe(self, frame: Frame) -> list[FieldAlarm]:
        """Apply every rule to one frame and write its effects to the store at once (no queue);
        the alarms it newly raised."""
        effects = self.effects(frame)
        self._undo = None
        if not effects:
            return []
        new = self.store.apply([effects])
        self._log(new)
        return new

    def record_quota(self, alarm: QuotaAlarm) -> list[FieldAlarm]:
        """Record a card-swipe quota alarm of the device bound to its enterprise."""
        mn = next((m for m, e in self._enterprises.items() if e.lower() == alarm.enterprise.lower()), "")
        new = self.store.apply([FieldEffects((quota_alarm(alarm, mn, self.zone),))])
        self._log(new)
        return new

    def _log(self, alarms: Sequence[FieldAlarm]) -> None:
        for a in alarms:
            logger.warning(
                "field alarm %s: %s",
                a.kind,
                a.message,
                extra={"enterprise": a.enterprise, "device": a.mn, "kind": str(a.kind), "alarm": a.uid},
            )
