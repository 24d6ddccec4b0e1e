"""Routes: auditors' attestations of verified emissions. The regulator and the exchange see all;
an auditor sees those it made; an enterprise those about it."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field, computed_field

from api import crud
from api.crud import Address, Bytes32, Pollutant
from api.deps import Db, Paging, User
from api.schemas import ERRORS, Page

router = APIRouter(tags=["attestations"])

Status = Literal["active", "superseded", "revoked", "rejected"]

_AUDITOR = "0x976EA74026E726554dB657fA54763abd0C3a0aa9"
_ENTERPRISE = "0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65"


class AttestationBase(BaseModel):
    """What an auditor attests: verified emissions and eligible offsets of one enterprise,
    pollutant and year."""

    enterprise: str = Field(description="Attested enterprise")
    pollutant: int = Field(description="Pollutant code")
    year: int = Field(description="Compliance year")
    verified: int = Field(description="Verified emissions (tonnes)")
    offsets_eligible: int = Field(description="Offsets eligible for surrender (tonnes)")
    evidence: list[str] = Field(description="Anchored batch ids the attestation refers to")
    report_hash: str = Field(description="Hash of the verification report")
    supersedes: str | None = Field(description="Attestation this one replaces")


class AttestationPublic(AttestationBase):
    """An attestation and its standing."""

    model_config = ConfigDict(from_attributes=True, json_schema_extra={"examples": [{
        "attestation_id": "0x" + "a7" * 32, "auditor": _AUDITOR, "enterprise": _ENTERPRISE, "pollutant": 1,
        "pollutant_symbol": "CO2", "year": 2024, "verified": 900, "offsets_eligible": 50,
        "evidence": ["0x" + "b1" * 32], "report_hash": "0x" + "4e" * 32, "supersedes": None,
        "status": "active", "reason_code": None, "reason": None, "submitted_time": 1767225600,
        "closed_time": None,
    }]})  # fmt: skip

    attestation_id: str = Field(description="Attestation id (EIP-712 struct hash)")
    auditor: str = Field(description="Attesting auditor")
    status: Status = Field(description="active, superseded, revoked or rejected")
    reason_code: int | None = Field(description="Reason code of a revocation or rejection")
    reason: str | None = Field(description="Reason text of a revocation or rejection")
    submitted_time: int = Field(description="Block time of submission (unix s)")
    closed_time: int | None = Field(description="Block time it stopped being active (unix s)")

    @computed_field(description="Pollutant symbol")  # type: ignore[prop-decorator]
    @property
    def pollutant_symbol(self) -> str | None:
        return crud.pollutant_symbol(self.pollutant)


@router.get("/attestations", response_model=Page[AttestationPublic], responses=ERRORS)
def list_attestations(
    user: User,
    db: Db,
    paging: Paging,
    enterprise: Annotated[
        Address | None, Query(description="Attested enterprise (an enterprise may name only itself)")
    ] = None,
    auditor: Annotated[Address | None, Query(description="Attesting auditor")] = None,
    year: Annotated[int | None, Query(ge=0, le=65535, description="Compliance year")] = None,
    pollutant: Annotated[Pollutant | None, Query(description="Pollutant symbol or code")] = None,
    status: Annotated[Status | None, Query(description="Standing")] = None,
) -> Page[AttestationPublic]:
    """Attestations, newest first: the regulator and the exchange see all, an auditor those it
    made, an enterprise those about it (naming another enterprise is refused, 403)."""
    rows, total = crud.list_attestations(
        db, viewer=user, paging=paging, enterprise=enterprise, auditor=auditor, year=year,
        pollutant=pollutant, status=status,
    )  # fmt: skip
    items = [AttestationPublic.model_validate(r) for r in rows]
    return Page[AttestationPublic](items=items, total=total, limit=paging.limit, offset=paging.offset)


@router.get("/attestations/{attestation_id}", response_model=AttestationPublic, responses=ERRORS)
def get_attestation(
    attestation_id: Annotated[Bytes32, Path(description="Attestation id (0x + 64 hex)")], user: User, db: Db
) -> AttestationPublic:
    """One attestation (403 unless the caller made it, is its enterprise, or sees everything)."""
    return AttestationPublic.model_validate(
        crud.get_attestation(db, viewer=user, attestation_id=attestation_id)
    )
