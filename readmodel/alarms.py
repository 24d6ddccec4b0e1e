"""Field alarms and review marks in the read model: relayed by the scheduler, acknowledged via the API.

Tables (revision 0012):

``field_alarms``
    one row per alarm of a monitoring site (quota, over-standard, facility stopped, instrument
    maintenance, parameter tampering), unique by ``uid`` (the alarm's identity in the gateway's
    outbox and the scheduler's store): the relay's upsert never duplicates one. The regulator
    acknowledges an alarm once (who, when, a note).
``field_review_marks``
    windows of a device's readings a facility or instrument alarm made doubtful (``pollutant``
    empty: every factor), one per alarm; ``end_at`` is empty while the condition lasts. They
    are the alarm side's record of readings to review; the monitoring review queue reads them.

Data access here is keyword-only and never raises HTTP errors; the API checks a request
against the rows (an unknown alarm, one acknowledged before) and refuses it by name.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import JSON, BigInteger, Index, Integer, String, Text, and_, func, or_, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from readmodel.models import Address, Base, Device, Participant, Reading, RowId

__all__ = [
    "FieldAlarmRow",
    "MarkerPoint",
    "ReviewMarkRow",
    "acknowledge_alarm",
    "alarm_markers",
    "get_alarm",
    "list_alarms",
    "marked_readings",
    "review_marks",
    "store_alarm",
    "store_review_mark",
]


class FieldAlarmRow(Base):
    """An alarm of a monitoring site (see the module docstring)."""

    __tablename__ = "field_alarms"
    __table_args__ = (Index("ix_field_alarms_enterprise_at", "enterprise", "at"),)

    id: Mapped[int] = mapped_column(RowId, primary_key=True, autoincrement=True)
    uid: Mapped[str] = mapped_column(String(160), unique=True)
    kind: Mapped[str] = mapped_column(String(32), index=True)
    severity: Mapped[int] = mapped_column(Integer)
    enterprise: Mapped[str] = mapped_column(Address)
    mn: Mapped[str] = mapped_column(String(32), index=True)
    pollutant: Mapped[str] = mapped_column(String(16))
    at: Mapped[int] = mapped_column(BigInteger, index=True)
    message: Mapped[str] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    relayed_at: Mapped[int] = mapped_column(BigInteger)
    acknowledged_by: Mapped[str | None] = mapped_column(Address, default=None)
    acknowledged_at: Mapped[int | None] = mapped_column(BigInteger, default=None)
    note: Mapped[str | None] = mapped_column(Text, default=None)


class ReviewMarkRow(Base):
    """A window of a device's readings to review because of an alarm."""

    __tablename__ = "field_review_marks"
    __table_args__ = (Index("ix_field_review_marks_mn_begin_at", "mn", "begin_at"),)

    alarm_uid: Mapped[str] = mapped_column(String(160), primary_key=True)
    mn: Mapped[str] = mapped_column(String(32))
    pollutant: Mapped[str] = mapped_column(String(16))
    begin_at: Mapped[int] = mapped_column(BigInteger)
    end_at: Mapped[int | None] = mapped_column(BigInteger, default=None)
    reason: Mapped[str] = mapped_column(String(32))


def store_alarm(db: Session, *, alarm: Mapping[str, Any], now: int) -> bool:
    """Insert an alarm (``oracle.alarm.FieldAlarm.to_dict()`` fields) unless its uid is stored.

    Returns:
        ``True`` when it was new.
    """
    if db.scalar(select(FieldAlarmRow.id).where(FieldAlarmRow.uid == alarm["uid"])) is not None:
        return False
    db.add(
        FieldAlarmRow(
            uid=alarm["uid"],
            kind=alarm["kind"],
            severity=int(alarm["severity"]),
            enterprise=alarm["enterprise"],
            mn=alarm["mn"],
            pollutant=alarm["pollutant"],
            at=int(alarm["at"]),
            message=alarm["message"],
            data=dict(alarm.get("data") or {}),
            relayed_at=now,
        )
    )
    db.flush()
    return True


def store_review_mark(
    db: Session, *, alarm_uid: str, mn: str, pollutant: str, begin: int, end: int | None, reason: str
) -> None:
    """Insert or update (its end) the review mark of an alarm."""
    row = db.get(ReviewMarkRow, alarm_uid)
    if row is None:
        db.add(
            ReviewMarkRow(
                alarm_uid=alarm_uid, mn=mn, pollutant=pollutant, begin_at=begin, end_at=end, reason=reason
            )
        )
    elif row.end_at is None and end is not None:
        row.end_at = end
    db.flush()


def list_alarms(
    db: Session,
    *,
    kinds: Sequence[str] = (),
    enterprise: str | None = None,
    mn: str | None = None,
    min_severity: int | None = None,
    acknowledged: bool | None = None,
    since: int | None = None,
    until: int | None = None,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[FieldAlarmRow], int]:
    """Alarms newest first with the filters given, and how many match in all."""
    a = FieldAlarmRow
    query = select(a)
    if kinds:
        query = query.where(a.kind.in_(list(kinds)))
    if enterprise is not None:
        query = query.where(func.lower(a.enterprise) == enterprise.lower())
    if mn is not None:
        query = query.where(a.mn == mn)
    if min_severity is not None:
        query = query.where(a.severity >= min_severity)
    if acknowledged is not None:
        query = query.where(a.acknowledged_at.is_not(None) if acknowledged else a.acknowledged_at.is_(None))
    if since is not None:
        query = query.where(a.at >= since)
    if until is not None:
        query = query.where(a.at < until)
    total = db.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = db.scalars(query.order_by(a.at.desc(), a.id.desc()).limit(limit).offset(offset)).all()
    return list(rows), int(total)


def review_marks(db: Session, *, alarm_uids: Sequence[str]) -> dict[str, ReviewMarkRow]:
    """The review marks of the given alarms, by alarm uid."""
    if not alarm_uids:
        return {}
    rows = db.scalars(select(ReviewMarkRow).where(ReviewMarkRow.alarm_uid.in_(list(alarm_uids))))
    return {r.alarm_uid: r for r in rows}


def marked_readings(
    db: Session, *, enterprise: str, start: int, end: int
) -> list[tuple[Reading, ReviewMarkRow]]:
    """The enterprise's readings dated in ``[start, end)`` that lie in a review mark's window (the
    device by its MN code; the mark's factor, or every factor when it names none; an open window
    runs to now), oldest first, each with its mark: the readings a facility or instrument alarm
    made doubtful, for the monitoring review queue."""
    r, d, k = Reading, Device, ReviewMarkRow
    rows = db.execute(
        select(r, k)
        .join(d, d.address == r.device)
        .join(k, k.mn == d.mn)
        .where(
            func.lower(d.enterprise) == enterprise.lower(),
            r.time >= start,
            r.time < end,
            r.time >= k.begin_at,
            or_(k.end_at.is_(None), r.time <= k.end_at),
            or_(k.pollutant == "", and_(k.pollutant == r.pollutant)),
        )
        .order_by(r.time, r.device, r.sequence)
    ).all()
    return [(reading, mark) for reading, mark in rows]


def get_alarm(db: Session, *, alarm_id: int) -> FieldAlarmRow | None:
    """One alarm by its row id."""
    return db.get(FieldAlarmRow, alarm_id)


def acknowledge_alarm(db: Session, *, row: FieldAlarmRow, by: str, now: int, note: str | None = None) -> None:
    """Record the regulator's acknowledgement of an alarm not acknowledged before."""
    row.acknowledged_by = by
    row.acknowledged_at = now
    row.note = note
    db.flush()


@dataclass(frozen=True)
class MarkerPoint:
    """One marker of the regulator's map: an enterprise's device and its alarms."""

    enterprise: str
    name: str | None
    mn: str
    longitude: float | None
    latitude: float | None
    severity: int
    open: int
    total: int
    kinds: dict[str, int]


def alarm_markers(db: Session, *, since: int | None = None) -> list[MarkerPoint]:
    """Per enterprise and device: the highest severity of its open (unacknowledged) alarms, counts
    by kind, and the enterprise's location from its registry profile."""
    a = FieldAlarmRow
    query = select(a.enterprise, a.mn, a.kind, a.severity, a.acknowledged_at)
    if since is not None:
        query = query.where(a.at >= since)
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    for enterprise, mn, kind, severity, acked in db.execute(query):
        g = groups.setdefault((enterprise, mn), {"severity": 0, "open": 0, "total": 0, "kinds": {}})
        g["total"] += 1
        g["kinds"][kind] = g["kinds"].get(kind, 0) + 1
        if acked is None:
            g["open"] += 1
            g["severity"] = max(g["severity"], severity)
    if not groups:
        return []
    p = Participant
    where = {e.lower() for e, _ in groups}
    profiles = {
        address.lower(): (name, lon, lat)
        for address, name, lon, lat in db.execute(
            select(p.address, p.name, p.longitude_e6, p.latitude_e6).where(func.lower(p.address).in_(where))
        )
    }
    out = []
    for (enterprise, mn), g in sorted(groups.items()):
        name, lon, lat = profiles.get(enterprise.lower(), (None, None, None))
        out.append(
            MarkerPoint(
                enterprise,
                name,
                mn,
                None if lon is None else lon / 1e6,
                None if lat is None else lat / 1e6,
                g["severity"],
                g["open"],
                g["total"],
                dict(sorted(g["kinds"].items())),
            )
        )
    return out
