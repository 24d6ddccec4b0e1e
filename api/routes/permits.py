"""Routes: discharge permits (the public register: every signed-in participant reads it), their
statistics by status, region and industry, and the applications (an enterprise reads its own;
the regulator, the exchange and auditors read all)."""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Select, and_, case, func, select
from sqlalchemy.orm import Session

from api.deps import Db, Paging, User
from api.errors import NotFoundError
from api.schemas import ERRORS, Page
from readmodel import models as m

router = APIRouter(tags=["permits"])

PermitStatus = Literal["valid", "expired", "revoked", "cancelled"]
ApplicationStatus = Literal["submitted", "returned", "refused", "issued"]
Address = Annotated[str, Query(pattern=r"^0x[0-9a-fA-F]{40}$", description="Enterprise address")]


class OutletPublic(BaseModel):
    code: str = Field(description="Outlet code (e.g. DA001)")
    mn: str = Field(description="HJ 212 MN code of the outlet's monitoring device")


class TermPublic(BaseModel):
    pollutant: int = Field(description="Pollutant code")
    annual_amount: int = Field(description="Annual amount, t (requested or granted)")
    concentration_limit: int = Field(description="Concentration limit, mg/m3 or mg/L × 1000")


class ReviewPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    year: int = Field(description="Year reviewed")
    passed: bool = Field(description="Outcome of the annual review")
    note: str = Field(description="The regulator's note")
    block_time: int = Field(description="Block time of the record (unix s)")


class PermitPublic(BaseModel):
    """A permit's current revision; ``status`` is expired when valid on chain but past its end."""

    permit_id: int
    enterprise: str
    enterprise_name: str | None
    region_code: int | None
    industry_code: str | None
    application_id: int
    number: str = Field(description="Permit number")
    status: str = Field(description="valid, expired, revoked or cancelled")
    valid_from: int = Field(description="Start of validity (unix s)")
    valid_until: int = Field(description="End of validity (unix s)")
    revision: int = Field(description="0 when issued, one more per change")
    outlets: list[OutletPublic]
    terms: list[TermPublic]
    reason: str | None = Field(description="Reason of a revocation or cancellation")
    issued_time: int
    changed_time: int
    reviews: list[ReviewPublic] = Field(default_factory=list, description="Annual reviews (detail only)")


class PermitApplicationPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    application_id: int
    enterprise: str
    status: str = Field(description="submitted, returned, refused or issued")
    document_hash: str = Field(description="Hash of the application documents")
    submissions: int = Field(description="1, plus one per resubmission")
    outlets: list[OutletPublic]
    terms: list[TermPublic] = Field(description="Requested amounts")
    reason: str | None = Field(description="Reason of a return or refusal")
    permit_id: int | None
    submitted_time: int
    decided_time: int | None


class PermitStats(BaseModel):
    """Permit counts by status, and valid permits by region and by industry."""

    total: int
    by_status: dict[str, int]
    by_region: dict[str, int] = Field(description="Valid permits per GB/T 2260 region code")
    by_industry: dict[str, int] = Field(description="Valid permits per GB/T 4754 industry code")
    applications_by_status: dict[str, int]


def _status_expr(now: int) -> Any:
    p = m.DischargePermit
    return case((and_(p.status == "valid", p.valid_until < now), "expired"), else_=p.status)


def _query(now: int) -> Select[Any]:
    p, e = m.DischargePermit, m.Participant
    return select(p, _status_expr(now).label("effective"), e.name, e.region_code, e.industry_code).outerjoin(
        e, e.address == p.enterprise
    )


def _public(row: Any, reviews: list[ReviewPublic] | None = None) -> PermitPublic:
    p = row[0]
    return PermitPublic(
        permit_id=p.permit_id, enterprise=p.enterprise, enterprise_name=row.name, region_code=row.region_code,
        industry_code=row.industry_code, application_id=p.application_id, number=p.number,
        status=row.effective, valid_from=p.valid_from, valid_until=p.valid_until, revision=p.revision,
        outlets=p.outlets, terms=p.terms, reason=p.reason, issued_time=p.issued_time,
        changed_time=p.changed_time, reviews=reviews or [],
    )  # fmt: skip


@router.get("/permits", response_model=Page[PermitPublic], responses=ERRORS)
def list_permits(
    user: User,
    db: Db,
    paging: Paging,
    status: Annotated[PermitStatus | None, Query(description="valid, expired, revoked or cancelled")] = None,
    region: Annotated[int | None, Query(ge=0, le=999_999, description="GB/T 2260 region code")] = None,
    industry: Annotated[str | None, Query(max_length=8, description="GB/T 4754 industry code")] = None,
    enterprise: Address | None = None,
) -> Page[PermitPublic]:
    """Permits, newest first (the public register: every signed-in participant)."""
    user.require()
    now = int(time.time())
    q = _query(now)
    if status is not None:
        q = q.where(_status_expr(now) == status)
    if region is not None:
        q = q.where(m.Participant.region_code == region)
    if industry is not None:
        q = q.where(m.Participant.industry_code == industry)
    if enterprise is not None:
        q = q.where(func.lower(m.DischargePermit.enterprise) == enterprise.lower())
    total = int(db.execute(select(func.count()).select_from(q.subquery())).scalar_one())
    q = q.order_by(m.DischargePermit.permit_id.desc()).limit(paging.limit).offset(paging.offset)
    items = [_public(r) for r in db.execute(q)]
    return Page[PermitPublic](items=items, total=total, limit=paging.limit, offset=paging.offset)


@router.get("/permits/stats", response_model=PermitStats, responses=ERRORS)
def permit_stats(user: User, db: Db) -> PermitStats:
    """Permits by status; valid ones by region and industry; applications by status."""
    user.require()
    now = int(time.time())
    sub = _query(now).subquery()
    by_status = {
        str(s): int(n) for s, n in db.execute(select(sub.c.effective, func.count()).group_by(sub.c.effective))
    }
    valid = select(sub).where(sub.c.effective == "valid").subquery()
    by_region = {
        str(r): int(n)
        for r, n in db.execute(select(valid.c.region_code, func.count()).group_by(valid.c.region_code))
    }
    by_industry = {
        str(i): int(n)
        for i, n in db.execute(select(valid.c.industry_code, func.count()).group_by(valid.c.industry_code))
    }
    a = m.PermitApplication
    apps = {str(s): int(n) for s, n in db.execute(select(a.status, func.count()).group_by(a.status))}
    return PermitStats(
        total=sum(by_status.values()), by_status=by_status, by_region=by_region, by_industry=by_industry,
        applications_by_status=apps,
    )  # fmt: skip


@router.get("/permits/applications", response_model=Page[PermitApplicationPublic], responses=ERRORS)
def list_applications(
    user: User,
    db: Db,
    paging: Paging,
    status: Annotated[
        ApplicationStatus | None, Query(description="submitted, returned, refused, issued")
    ] = None,
    enterprise: Address | None = None,
) -> Page[PermitApplicationPublic]:
    """Applications, oldest first (the review queue with ``status=submitted``): an enterprise reads
    its own; the regulator, the exchange and auditors read all."""
    user.require("ENTERPRISE", "REGULATOR", "EXCHANGE", "AUDITOR")
    a = m.PermitApplication
    q = select(a)
    if not (user.sees_everything or user.has("AUDITOR")):
        if enterprise is not None:
            user.own_or_privileged(enterprise)
        enterprise = user.address
    if enterprise is not None:
        q = q.where(func.lower(a.enterprise) == enterprise.lower())
    if status is not None:
        q = q.where(a.status == status)
    total = int(db.execute(select(func.count()).select_from(q.subquery())).scalar_one())
    rows = db.execute(q.order_by(a.application_id).limit(paging.limit).offset(paging.offset)).scalars()
    items = [PermitApplicationPublic.model_validate(r) for r in rows]
    return Page[PermitApplicationPublic](items=items, total=total, limit=paging.limit, offset=paging.offset)


@router.get("/permits/{permit_id}", response_model=PermitPublic, responses=ERRORS)
def get_permit(
    permit_id: Annotated[int, Path(ge=1, le=2**63 - 1, description="Permit id")], user: User, db: Db
) -> PermitPublic:
    """One permit with its annual reviews (404 when unknown)."""
    user.require()
    return permit_detail(db, permit_id)


def permit_detail(db: Session, permit_id: int) -> PermitPublic:
    row = db.execute(_query(int(time.time())).where(m.DischargePermit.permit_id == permit_id)).first()
    if row is None:
        raise NotFoundError(f"no permit {permit_id}")
    r = m.PermitReview
    reviews = [
        ReviewPublic.model_validate(x)
        for x in db.execute(select(r).where(r.permit_id == permit_id).order_by(r.year)).scalars()
    ]
    return _public(row, reviews)
