"""Routes: total-amount control plans (five-year and annual) as drafted and adopted on chain, and
their progress: per pollutant, region and year, the five-year path and the adopted annual cap (with
its reserve) against the emissions metered from anchored batches and verified by auditors' active
attestations (figures: :mod:`readmodel.emissions`)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.crud import pollutant_symbol
from api.deps import Db, Paging, User
from api.errors import NotFoundError
from api.schemas import ERRORS, Page
from readmodel import emissions
from readmodel import models as m

router = APIRouter(tags=["plans"])

Kind = Literal["five_year", "annual"]
Status = Literal["draft", "adopted", "superseded"]


class PlanPublic(BaseModel):
    """A plan's header and content (``content``: a five-year plan's pollutants with their paths and
    its regional shares; an annual plan's (pollutant, region) caps and enterprise targets)."""

    model_config = ConfigDict(from_attributes=True)

    plan_id: int = Field(description="Plan id (shared by both kinds)")
    kind: str = Field(description="five_year or annual")
    status: str = Field(description="draft, adopted or superseded")
    version: int = Field(description="1, or one more than the plan it supersedes")
    supersedes: int | None = Field(description="Plan this version replaces")
    superseded_by: int | None = Field(description="Plan that replaced this one")
    five_year_plan_id: int | None = Field(description="An annual plan's five-year plan")
    start_year: int = Field(description="First year (an annual plan's year)")
    end_year: int = Field(description="Last year")
    base_year: int | None = Field(description="A five-year plan's base year")
    document_hash: str | None = Field(description="Hash of the plan document")
    uri: str | None = Field(description="Where the plan document is published")
    content: dict[str, Any] = Field(description="Paths and regions, or caps and targets")
    drafted_time: int = Field(description="Block time of the draft (unix s)")
    adopted_time: int | None = Field(description="Block time of the adoption (unix s)")


class ProgressRow(BaseModel):
    """One pollutant, region and year of a plan: what it allows against what was emitted."""

    pollutant: int = Field(description="Pollutant code")
    pollutant_symbol: str | None = Field(description="Pollutant symbol")
    region: int = Field(description="GB/T 2260 region code")
    year: int = Field(description="Year")
    planned_t: int = Field(description="Path × regional share (five-year) or the region's cap (annual), t")
    path_t: int | None = Field(description="The five-year path × the region's share, t")
    annual_cap_t: int | None = Field(description="The region's cap in the adopted annual plan of the year, t")
    reserve_t: int | None = Field(
        description="Part of that cap kept for the reserve (cap × reserve share), t"
    )
    metered_t: float = Field(description="Emissions metered from anchored batches in the region, t")
    verified_t: int = Field(description="Emissions verified by active attestations in the region, t")
    executed_cap: int | None = Field(
        description="Vintage cap executed on chain from the annual plan, all regions"
    )


class PlanProgress(BaseModel):
    """A plan's progress per pollutant, region and year."""

    plan_id: int
    kind: str
    rows: list[ProgressRow]


def _plan(db: Session, plan_id: int) -> m.Plan:
    plan = db.get(m.Plan, plan_id)
    if plan is None:
        raise NotFoundError(f"no plan {plan_id}")
    return plan


def plan_progress(db: Session, *, plan_id: int) -> PlanProgress:
    """Progress rows of ``plan_id`` (five-year: every year of its period; annual: its year), from
    :func:`readmodel.emissions.plan_progress`.

    Raises:
        NotFoundError: no such plan.
    """
    plan = _plan(db, plan_id)
    rows = [
        ProgressRow(pollutant_symbol=pollutant_symbol(f.pollutant), **asdict(f))
        for f in emissions.plan_progress(db, plan)
    ]
    return PlanProgress(plan_id=plan_id, kind=plan.kind, rows=rows)


@router.get("/plans", response_model=Page[PlanPublic], responses=ERRORS)
def list_plans(
    user: User,
    db: Db,
    paging: Paging,
    kind: Annotated[Kind | None, Query(description="five_year or annual")] = None,
    status: Annotated[Status | None, Query(description="draft, adopted or superseded")] = None,
    year: Annotated[int | None, Query(ge=0, le=65535, description="A year the plan covers")] = None,
) -> Page[PlanPublic]:
    """Plans, newest first (every signed-in participant: plans are public documents)."""
    q = select(m.Plan)
    if kind is not None:
        q = q.where(m.Plan.kind == kind)
    if status is not None:
        q = q.where(m.Plan.status == status)
    if year is not None:
        q = q.where(m.Plan.start_year <= year, m.Plan.end_year >= year)
    total = int(db.execute(select(func.count()).select_from(q.subquery())).scalar_one())
    rows = db.execute(q.order_by(m.Plan.plan_id.desc()).limit(paging.limit).offset(paging.offset)).scalars()
    items = [PlanPublic.model_validate(r) for r in rows]
    return Page[PlanPublic](items=items, total=total, limit=paging.limit, offset=paging.offset)


@router.get("/plans/{plan_id}", response_model=PlanPublic, responses=ERRORS)
def get_plan(
    plan_id: Annotated[int, Path(ge=1, le=2**63 - 1, description="Plan id")], user: User, db: Db
) -> PlanPublic:
    """One plan (404 when unknown)."""
    return PlanPublic.model_validate(_plan(db, plan_id))


@router.get("/plans/{plan_id}/progress", response_model=PlanProgress, responses=ERRORS)
def get_plan_progress(
    plan_id: Annotated[int, Path(ge=1, le=2**63 - 1, description="Plan id")], user: User, db: Db
) -> PlanProgress:
    """Per pollutant, region and year: the plan's amount against metered and verified emissions."""
    return plan_progress(db, plan_id=plan_id)
