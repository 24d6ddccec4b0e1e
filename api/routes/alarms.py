"""Routes: the monitoring sites' field alarms (``/alarms``): quota (80/90/100 %), over-standard,
facility stopped, instrument maintenance and parameter tampering, as the scheduler's relay stored
them in the read model (``field_alarms``, revision 0012), with the review marks they set.

* ``GET /alarms``: newest first, filtered by kind, enterprise, device, severity, acknowledged
  and time; the regulator reads every enterprise's, an enterprise its own, others get 403;
* ``GET /alarms/markers``: the regulator's map: one marker per enterprise and device, the
  highest severity of its open alarms, counts by kind, the enterprise's registered location;
* ``POST /alarms/{id}/acknowledge``: the regulator acknowledges an alarm once (a second
  acknowledgement is refused with 409, an unknown alarm with 404; nothing changes).
"""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from api.crud import INT64_MAX
from api.deps import Db, Paging, User
from api.errors import ConflictError, NotFoundError, QueryError
from api.schemas import ERRORS, Page
from readmodel.alarms import (
    FieldAlarmRow,
    acknowledge_alarm,
    alarm_markers,
    get_alarm,
    list_alarms,
    review_marks,
)

router = APIRouter(prefix="/alarms", tags=["alarms"])

AlarmKindName = Literal[
    "quota", "over_standard", "facility_stopped", "instrument_maintenance", "parameter_tampering"
]
_ADDRESS = r"^0x[0-9a-fA-F]{40}$"


class ReviewMarkPublic(BaseModel):
    """A window of the device's readings the alarm made doubtful (``pollutant`` empty: all)."""

    pollutant: str
    begin_at: int
    end_at: int | None = Field(description="Empty while the condition lasts")
    reason: str


class FieldAlarmPublic(BaseModel):
    """A field alarm of a monitoring site."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "id": 7, "uid": "over_standard:MN33100000101:w01018:2027010110", "kind": "over_standard",
        "severity": 2, "enterprise": "0x71bE63f3384f5fb98995898A86B02Fb2426c5788", "mn": "MN33100000101",
        "pollutant": "w01018", "at": 1798768800,
        "message": "MN33100000101 w01018 hourly average 61.250 above its limit 50 (2027-01-01 10:00)",
        "data": {"average": "61.250", "limit": "50", "samples": 60, "source": "site"},
        "relayed_at": 1798772400, "acknowledged_by": None, "acknowledged_at": None, "note": None,
        "review": None,
    }]})  # fmt: skip

    id: int
    uid: str = Field(description="Identity across the gateway's outbox, the alarm store and here")
    kind: AlarmKindName
    severity: int = Field(ge=1, le=3, description="1 notice, 2 warning, 3 critical")
    enterprise: str
    mn: str = Field(description="Device (outlet) code")
    pollutant: str = Field(description="HJ 212 factor code; empty: the whole outlet")
    at: int = Field(description="Time of the frame or hour that raised it (unix seconds)")
    message: str
    data: dict[str, Any] = Field(description="Figures: limits, averages, old and new parameters ...")
    relayed_at: int
    acknowledged_by: str | None
    acknowledged_at: int | None
    note: str | None
    review: ReviewMarkPublic | None = Field(description="The readings it marked for review, if any")


class MarkerPublic(BaseModel):
    """One marker of the regulator's map."""

    enterprise: str
    name: str | None
    mn: str
    longitude: float | None
    latitude: float | None
    severity: int = Field(description="Highest severity of the open alarms (0: none open)")
    open: int
    total: int
    kinds: dict[str, int]


class AcknowledgeBody(BaseModel):
    """The regulator's acknowledgement."""

    note: str | None = Field(default=None, max_length=500)


_COLUMNS = (
    "id",
    "uid",
    "kind",
    "severity",
    "enterprise",
    "mn",
    "pollutant",
    "at",
    "message",
    "relayed_at",
    "acknowledged_by",
    "acknowledged_at",
    "note",
)


def _public(row: FieldAlarmRow, marks: dict[str, Any]) -> FieldAlarmPublic:
    mark = marks.get(row.uid)
    review = (
        None
        if mark is None
        else ReviewMarkPublic(
            pollutant=mark.pollutant, begin_at=mark.begin_at, end_at=mark.end_at, reason=mark.reason
        )
    )
    fields = {c: getattr(row, c) for c in _COLUMNS}
    return FieldAlarmPublic.model_validate({**fields, "data": dict(row.data), "review": review})


@router.get("", response_model=Page[FieldAlarmPublic], responses=ERRORS)
def get_alarms(
    user: User,
    db: Db,
    paging: Paging,
    kind: Annotated[list[AlarmKindName] | None, Query(description="Only these kinds")] = None,
    enterprise: Annotated[str | None, Query(pattern=_ADDRESS, description="Only this enterprise's")] = None,
    mn: Annotated[
        str | None, Query(pattern=r"^[A-Za-z0-9]{1,32}$", description="Only this device's (MN)")
    ] = None,
    severity: Annotated[int | None, Query(ge=1, le=3, description="At least this severity")] = None,
    acknowledged: Annotated[
        bool | None, Query(description="Only acknowledged (true) or open (false)")
    ] = None,
    since: Annotated[
        int | None, Query(ge=0, le=INT64_MAX, description="From this time (unix seconds)")
    ] = None,
    until: Annotated[
        int | None, Query(ge=0, le=INT64_MAX, description="Before this time (unix seconds)")
    ] = None,
) -> Page[FieldAlarmPublic]:
    """Field alarms, newest first (the regulator: all; an enterprise: its own)."""
    if not user.is_regulator:
        user.require("REGULATOR", "ENTERPRISE")
        if enterprise is not None:
            user.own_or_privileged(enterprise)
        enterprise = user.address
    if since is not None and until is not None and until <= since:
        raise QueryError("until must be after since")
    rows, total = list_alarms(
        db,
        kinds=kind or (),
        enterprise=enterprise,
        mn=mn,
        min_severity=severity,
        acknowledged=acknowledged,
        since=since,
        until=until,
        limit=paging.limit,
        offset=paging.offset,
    )
    if paging.offset and paging.offset >= total:
        raise QueryError(f"offset {paging.offset} is past the end: {total} rows match")
    marks: dict[str, Any] = dict(review_marks(db, alarm_uids=[r.uid for r in rows]))
    items = [_public(r, marks) for r in rows]
    return Page[FieldAlarmPublic](items=items, total=total, limit=paging.limit, offset=paging.offset)


@router.get("/markers", response_model=list[MarkerPublic], responses=ERRORS)
def get_markers(
    user: User,
    db: Db,
    since: Annotated[
        int | None, Query(ge=0, le=INT64_MAX, description="Alarms from this time (unix seconds)")
    ] = None,
) -> list[MarkerPublic]:
    """The regulator's map markers: per enterprise and device, the highest open severity."""
    user.require("REGULATOR")
    return [MarkerPublic.model_validate(vars(p)) for p in alarm_markers(db, since=since)]


@router.post("/{alarm_id}/acknowledge", response_model=FieldAlarmPublic, responses=ERRORS)
def post_acknowledge(
    user: User,
    db: Db,
    alarm_id: Annotated[int, Path(ge=1, le=INT64_MAX)],
    body: AcknowledgeBody | None = None,
) -> FieldAlarmPublic:
    """Acknowledge a field alarm (the regulator, once)."""
    user.require("REGULATOR")
    row = get_alarm(db, alarm_id=alarm_id)
    if row is None:
        raise NotFoundError(f"no alarm {alarm_id}")
    if row.acknowledged_at is not None:
        raise ConflictError(
            f"alarm {alarm_id} was acknowledged by {row.acknowledged_by} at {row.acknowledged_at}"
        )
    acknowledge_alarm(db, row=row, by=user.address, now=int(time.time()), note=body.note if body else None)
    marks: dict[str, Any] = dict(review_marks(db, alarm_uids=[row.uid]))
    return _public(row, marks)
