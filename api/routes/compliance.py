"""Routes: the compliance cycle — years' rules (public), notices and applications (an enterprise its
own, an auditor those of the enterprises assigned to it, the regulator and the exchange all)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field, computed_field, field_validator

from api import crud
from api.crud import INT64_MAX, Address
from api.deps import Db, Paging, User
from api.schemas import ERRORS, Page
from domain.compliance import OUTCOME_LETTERS

router = APIRouter(prefix="/compliance", tags=["compliance"])

Outcome = Literal["A", "B", "C"]
ApplicationStatus = Literal["submitted", "approved", "rejected"]

_ENTERPRISE = "0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65"
YearQuery = Annotated[int | None, Query(ge=0, le=65535, description="Compliance year")]
PollutantQuery = Annotated[
    int | None,
    Query(ge=1, le=255, description="Pollutant code (1 CO2, 2 SO2, 3 NOx ...): one obligation of each"),
]
EnterpriseQuery = Annotated[
    Address | None,
    Query(description="Enterprise (an enterprise may name only itself; an auditor those assigned to it)"),
]


# ---------------------------------------------------------------------- models


class ComplianceYearBase(BaseModel):
    """A compliance year's rules."""

    offset_cap_bps: int = Field(description="Offsets may cover at most this share of emissions (bps)")
    make_good_bps: int = Field(description="Shortfall owed next year, as a share of it (bps)")
    fine_per_tonne: int = Field(description="Fine per tonne of shortfall (fen)")
    no_report_fine: int = Field(description="Fine without an approved application (fen)")


class ComplianceYearPublic(ComplianceYearBase):
    """A configured compliance year."""

    model_config = ConfigDict(from_attributes=True, json_schema_extra={"examples": [{
        "year": 2024, "offset_cap_bps": 1000, "make_good_bps": 12000, "fine_per_tonne": 5000,
        "no_report_fine": 777000,
    }]})  # fmt: skip

    year: int = Field(description="Compliance year")


class NoticeBase(BaseModel):
    """What a notice obliges."""

    pollutant: int = Field(description="Pollutant code")
    allocated: int = Field(description="Allocation the obligation refers to (tonnes)")
    rules_hash: str = Field(description="Hash of the year's rules document")
    submission_deadline: int = Field(description="Applications refused after this time (unix s)")
    ack_deadline: int = Field(description="Acknowledgement due by this time (unix s)")


class NoticePublic(NoticeBase):
    """An enterprise's compliance notice for a pollutant and a year (one obligation of each):
    acknowledgement and, once final, outcome."""

    model_config = ConfigDict(from_attributes=True, json_schema_extra={"examples": [{
        "enterprise": _ENTERPRISE, "year": 2024, "pollutant": 1, "allocated": 1000,
        "rules_hash": "0x" + "12" * 32, "submission_deadline": 1769817600, "ack_deadline": 1767830400,
        "issued_time": 1767225600, "acknowledged_time": 1767312000, "acknowledged": True, "late": False,
        "outcome": "A", "verified": 900, "surrendered": 900, "shortfall": 0, "fine": 0, "make_good": 0,
        "fine_paid": None,
    }]})  # fmt: skip

    enterprise: str = Field(description="Obliged enterprise")
    year: int = Field(description="Compliance year")
    issued_time: int = Field(description="Block time of the notice (unix s)")
    acknowledged_time: int | None = Field(description="When the enterprise acknowledged (unix s)")
    late: bool | None = Field(description="Acknowledged after the deadline")
    outcome: Outcome | None = Field(
        description="A = covered, B = shortfall, C = no verified emissions; null until finalized"
    )
    verified: int | None = Field(description="Verified emissions at finalization (tonnes)")
    surrendered: int | None = Field(description="Tonnes surrendered")
    shortfall: int | None = Field(description="Tonnes not covered")
    fine: int | None = Field(description="Fine imposed (fen)")
    make_good: int | None = Field(description="Tonnes owed from the next year")
    fine_paid: int | None = Field(description="Fine paid (fen)")

    @field_validator("outcome", mode="before")
    @classmethod
    def _letter(cls, value: Any) -> Any:
        return OUTCOME_LETTERS.get(value, value) if isinstance(value, int) else value

    @computed_field(description="The enterprise has acknowledged")  # type: ignore[prop-decorator]
    @property
    def acknowledged(self) -> bool:
        return self.acknowledged_time is not None


class ApplicationBase(BaseModel):
    """What an enterprise applies with."""

    year: int = Field(description="Compliance year")
    pollutant: int = Field(description="Pollutant code of the obligation it applies to")
    attestation_id: str = Field(description="Attestation the application relies on")
    verified: int = Field(description="Verified emissions (tonnes)")
    offsets: int = Field(description="Offset tonnes offered")
    allowances: int = Field(description="Allowance tonnes offered")
    surrender: dict[str, Any] = Field(description="The submitted surrender: attestation, ids and amounts")


class ApplicationPublic(ApplicationBase):
    """A compliance application and its review."""

    model_config = ConfigDict(from_attributes=True, json_schema_extra={"examples": [{
        "application_id": 1, "enterprise": _ENTERPRISE, "year": 2024, "pollutant": 1,
        "attestation_id": "0x" + "a7" * 32,
        "verified": 900, "offsets": 50, "allowances": 850,
        "surrender": {"attestationId": "0x" + "a7" * 32, "allowanceIds": [16844776],
                      "allowanceAmounts": [850], "offsetIds": [33621992], "offsetAmounts": [50]},
        "status": "approved", "surrendered": 900, "uncovered": 0, "reason_code": None, "reason": None,
        "submitted_time": 1767400000, "decided_time": 1767500000,
    }]})  # fmt: skip

    application_id: int = Field(description="Application id")
    enterprise: str = Field(description="Applicant")
    status: ApplicationStatus = Field(description="submitted, approved or rejected")
    surrendered: int | None = Field(description="Tonnes surrendered on approval")
    uncovered: int | None = Field(description="Tonnes left uncovered on approval")
    reason_code: int | None = Field(description="Rejection reason code")
    reason: str | None = Field(description="Rejection reason")
    submitted_time: int = Field(description="Block time of submission (unix s)")
    decided_time: int | None = Field(description="Block time of the decision (unix s)")


# ---------------------------------------------------------------------- routes


@router.get("/years", response_model=Page[ComplianceYearPublic], responses=ERRORS)
def list_years(user: User, db: Db, paging: Paging) -> Page[ComplianceYearPublic]:
    """Configured compliance years and their rules, newest first (any active role)."""
    user.require()
    rows, total = crud.list_years(db, paging=paging)
    items = [ComplianceYearPublic.model_validate(r) for r in rows]
    return Page[ComplianceYearPublic](items=items, total=total, limit=paging.limit, offset=paging.offset)


@router.get("/notices", response_model=Page[NoticePublic], responses=ERRORS)
def list_notices(
    user: User,
    db: Db,
    paging: Paging,
    year: YearQuery = None,
    enterprise: EnterpriseQuery = None,
    pollutant: PollutantQuery = None,
    outcome: Annotated[Outcome | None, Query(description="Final outcome letter")] = None,
    acknowledged: Annotated[bool | None, Query(description="Only (un)acknowledged notices")] = None,
) -> Page[NoticePublic]:
    """Compliance notices: an enterprise sees its own, an auditor those of the enterprises
    assigned to it, the regulator and the exchange all (403 for a named enterprise out of reach)."""
    rows, total = crud.list_notices(
        db, viewer=user, paging=paging, year=year, enterprise=enterprise, pollutant=pollutant,
        outcome=outcome, acknowledged=acknowledged,
    )  # fmt: skip
    items = [NoticePublic.model_validate(r) for r in rows]
    return Page[NoticePublic](items=items, total=total, limit=paging.limit, offset=paging.offset)


@router.get("/applications", response_model=Page[ApplicationPublic], responses=ERRORS)
def list_applications(
    user: User,
    db: Db,
    paging: Paging,
    year: YearQuery = None,
    enterprise: EnterpriseQuery = None,
    pollutant: PollutantQuery = None,
    status: Annotated[ApplicationStatus | None, Query(description="Review status")] = None,
) -> Page[ApplicationPublic]:
    """Compliance applications, newest first, scoped like the notices."""
    rows, total = crud.list_applications(
        db, viewer=user, paging=paging, year=year, enterprise=enterprise, pollutant=pollutant, status=status
    )
    items = [ApplicationPublic.model_validate(r) for r in rows]
    return Page[ApplicationPublic](items=items, total=total, limit=paging.limit, offset=paging.offset)


@router.get("/applications/{application_id}", response_model=ApplicationPublic, responses=ERRORS)
def get_application(
    application_id: Annotated[int, Path(ge=0, le=INT64_MAX, description="Application id")],
    user: User,
    db: Db,
) -> ApplicationPublic:
    """One compliance application (403 when the applicant is out of the caller's reach)."""
    return ApplicationPublic.model_validate(
        crud.get_application(db, viewer=user, application_id=application_id)
    )
