"""The review queue's data access: doubtful monitoring data of an enterprise and month (readings
quality control excluded, readings a field alarm marked for review (a treatment facility
stopped, an instrument too long in maintenance: ``readmodel.alarms.marked_readings``), sequence
gaps before anchored batches) with the decision recorded on each, the decisions themselves, who
may review, and the value a substitution method computes from the read model. Keyword-only
functions raising typed errors, never HTTP ones.

A reading's review subject is its Merkle leaf (its EIP-712 digest); a gap's is the id of the
batch it precedes. Months are UTC calendar months."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.access import is_assigned
from api.deps import Principal
from api.errors import ForbiddenError, NotFoundError
from domain.review import Method, month_of, substitute_value
from readmodel import models as m
from readmodel.alarms import marked_readings

__all__ = [
    "QueueItem",
    "decisions",
    "month_bounds",
    "previous_hour_values",
    "review_queue",
    "reviewer_role",
    "substitution",
]


def month_bounds(year_month: int) -> tuple[int, int]:
    """Unix seconds of the first instant of ``YYYYMM`` and of the next month (UTC).

    Raises:
        ReviewInputError: not a month.
    """
    year, month = (int(p) for p in month_of(year_month).split("-"))
    start = datetime(year, month, 1, tzinfo=UTC)
    end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=UTC)
    return int(start.timestamp()), int(end.timestamp())


def reviewer_role(db: Session, *, viewer: Principal, enterprise: str) -> int:
    """1 when ``viewer`` reviews as the regulator, 2 as the auditor assigned to ``enterprise``.

    Raises:
        ForbiddenError: neither (an enterprise, the exchange, an unassigned or suspended auditor).
    """
    viewer.require()
    if viewer.is_regulator:
        return 1
    if viewer.has("AUDITOR") and is_assigned(db, auditor=viewer.address, enterprise=enterprise):
        return 2
    raise ForbiddenError(
        f"{viewer.address} may not review the data of {enterprise}: only the regulator or an auditor "
        "assigned to it"
    )


@dataclass(frozen=True)
class QueueItem:
    """One doubtful item and its decision (None while open)."""

    kind: str
    subject: str
    enterprise: str
    device: str
    batch_id: str
    pollutant: str
    unit: str
    time: int
    value: str | None
    flag: str | None
    exclusion: str | None
    missing: int
    decision: m.ReviewDecision | None
    reason: str | None = None
    alarm: str | None = None


def _decimal_text(value: str, decimals: int) -> str:
    return str(Decimal(value).scaleb(-decimals)) if decimals else value


def _reading_item(row: m.Reading, enterprise: str, decision: m.ReviewDecision | None) -> QueueItem:
    """A doubtful reading's queue item (its reason and alarm added by the caller when marked)."""
    return QueueItem(
        kind="reading",
        subject=row.leaf,
        enterprise=enterprise,
        device=row.device,
        batch_id=row.batch_id,
        pollutant=row.pollutant,
        unit=row.unit,
        time=row.time,
        value=_decimal_text(row.value, row.decimals),
        flag=row.flag,
        exclusion=row.exclusion,
        missing=0,
        decision=decision,
    )


def review_queue(db: Session, *, enterprise: str, month: int, open_only: bool = False) -> list[QueueItem]:
    """Doubtful data of ``enterprise`` in ``month`` (``YYYYMM``), oldest first: excluded readings
    (invalid, outlier, fault), readings a field alarm marked (``reason``: the alarm's kind,
    ``alarm``: its uid; a reading excluded and marked is one item) and sequence gaps, each with
    its recorded decision."""
    start, end = month_bounds(month)
    b, r = m.Batch, m.Reading
    readings = db.execute(
        select(r, b.enterprise)
        .join(b, b.batch_id == r.batch_id)
        .where(b.enterprise == enterprise, r.exclusion.is_not(None), r.time >= start, r.time < end)
        .order_by(r.time, r.device, r.sequence)
    ).all()
    gaps = (
        db.execute(
            select(b)
            .where(
                b.enterprise == enterprise,
                b.previous_sequence > 0,
                b.first_sequence > b.previous_sequence + 1,
                b.period_start >= start,
                b.period_start < end,
            )
            .order_by(b.period_start)
        )
        .scalars()
        .all()
    )
    decided = {
        d.subject.lower(): d
        for d in db.execute(
            select(m.ReviewDecision).where(m.ReviewDecision.enterprise == enterprise)
        ).scalars()
    }
    items = [_reading_item(row, owner, decided.get(row.leaf.lower())) for row, owner in readings]
    by_leaf = {i.subject.lower(): n for n, i in enumerate(items)}
    for row, mark in marked_readings(db, enterprise=enterprise, start=start, end=end):
        at = by_leaf.get(row.leaf.lower())
        if at is not None:
            if items[at].reason is None:
                items[at] = replace(items[at], reason=mark.reason, alarm=mark.alarm_uid)
            continue
        by_leaf[row.leaf.lower()] = len(items)
        item = _reading_item(row, enterprise, decided.get(row.leaf.lower()))
        items.append(replace(item, reason=mark.reason, alarm=mark.alarm_uid))
    items += [
        QueueItem(
            kind="gap",
            subject=g.batch_id,
            enterprise=g.enterprise,
            device=g.device,
            batch_id=g.batch_id,
            pollutant="",
            unit="",
            time=g.period_start,
            value=None,
            flag=None,
            exclusion=None,
            missing=g.first_sequence - g.previous_sequence - 1,
            decision=decided.get(g.batch_id.lower()),
        )
        for g in gaps
    ]
    items.sort(key=lambda i: (i.time, i.kind, i.subject))
    return [i for i in items if i.decision is None] if open_only else items


def decisions(
    db: Session, *, enterprises: frozenset[str] | None, month: int | None
) -> list[m.ReviewDecision]:
    """Recorded decisions of ``enterprises`` (None: all), optionally of one month, newest first."""
    d = m.ReviewDecision
    stmt = select(d).order_by(d.block_number.desc(), d.decision_id)
    if enterprises is not None:
        stmt = stmt.where(d.enterprise.in_(enterprises))
    if month is not None:
        stmt = stmt.where(d.month == month)
    return list(db.execute(stmt).scalars())


def previous_hour_values(db: Session, *, subject: str) -> list[Decimal]:
    """The valid values of the hour before the reading ``subject`` (same device, factor, unit).

    Raises:
        NotFoundError: no imported reading has this leaf.
    """
    r = m.Reading
    row = db.execute(select(r).where(r.leaf == subject)).scalars().first()
    if row is None:
        raise NotFoundError(f"no imported reading {subject}")
    values = db.execute(
        select(r.value, r.decimals).where(
            r.device == row.device,
            r.pollutant == row.pollutant,
            r.unit == row.unit,
            r.exclusion.is_(None),
            r.time >= row.time - 3600,
            r.time < row.time,
        )
    ).all()
    return [Decimal(v).scaleb(-d) for v, d in values]


def substitution(db: Session, *, subject: str, method: str, value: Decimal | None) -> Decimal:
    """The value ``method`` substitutes for ``subject``: the previous hour's valid mean computed
    here; the permitted maximum, a recorded estimate or a manual value as stated in ``value``.

    Raises:
        ReviewInputError: the method cannot compute a value (no valid reading in the previous
            hour, no value stated where one is needed).
        NotFoundError: ``prevhour`` for a subject that is not an imported reading.
    """
    if value is not None and method != Method.PREVIOUS_HOUR:
        return substitute_value(method, permitted_max=value, estimate=value, stated=value)
    previous = previous_hour_values(db, subject=subject) if method == Method.PREVIOUS_HOUR else []
    return substitute_value(method, previous_hour=previous)
