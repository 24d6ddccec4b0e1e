"""Routes: participants (role holders and enterprise profiles), field devices and governance
proposals, as the ConsortiumRegistry has them. Enterprise names and regions are public to every
signed-in account; the rest needs an active role, and device MNs are shown only to the
regulator, the exchange and the device's enterprise (:mod:`api.access`)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Row

from api import access, crud
from api.crud import INT32_MAX, Address
from api.deps import Db, Paging, Principal, User
from api.schemas import ERRORS, Page
from readmodel import models as m

router = APIRouter(tags=["participants"])

RoleName = Literal["GOVERNOR", "REGULATOR", "EXCHANGE", "ENTERPRISE", "AUDITOR", "ORACLE", "ADMIN"]

_ADDRESS_EXAMPLE = "0x90F79bf6EB2c4f870365E785982E1f101E93b906"
_ENTERPRISE = "0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65"


# ---------------------------------------------------------------------- models


class ParticipantBase(BaseModel):
    """An enterprise's registered profile (empty for service accounts)."""

    credit_code: str | None = Field(description="Unified social credit code (GB 32100)")
    name: str | None = Field(description="Registered name")
    region_code: int | None = Field(description="Administrative division code (GB/T 2260)")
    industry_code: str | None = Field(description="Industry classification code (GB/T 4754)")
    latitude_e6: int | None = Field(description="Latitude in micro-degrees, as on chain")
    longitude_e6: int | None = Field(description="Longitude in micro-degrees, as on chain")


class ParticipantPublic(ParticipantBase):
    """A participant: an account holding a role or an enterprise profile."""

    model_config = ConfigDict(from_attributes=True, json_schema_extra={"examples": [{
        "address": _ENTERPRISE, "roles": ["ENTERPRISE"], "credit_code": "91331000MA2AXXXX0X",
        "name": "Taizhou Power Plant No. 900", "region_code": 331000, "industry_code": "D4411",
        "latitude_e6": 28656900, "longitude_e6": 121420900, "latitude": 28.6569, "longitude": 121.4209,
        "suspended": False, "suspension_reason": None, "registered_time": 1767225600,
    }]})  # fmt: skip

    address: str = Field(description="Checksummed account address")
    roles: list[str] = Field(description="Roles held (REGULATOR, EXCHANGE, ENTERPRISE, AUDITOR ...)")
    latitude: float | None = Field(description="Latitude in decimal degrees (enterprises)")
    longitude: float | None = Field(description="Longitude in decimal degrees (enterprises)")
    suspended: bool = Field(description="Suspended by the regulator (cannot act on chain)")
    suspension_reason: int | None = Field(description="Reason code of the suspension")
    registered_time: int | None = Field(description="Enterprise registration time (unix s)")


class EnterpriseNamePublic(BaseModel):
    """A registered enterprise's name and region: the registry's public subset."""

    model_config = ConfigDict(from_attributes=True, json_schema_extra={"examples": [{
        "address": _ENTERPRISE, "name": "Taizhou Power Plant No. 900", "region_code": 331000,
    }]})  # fmt: skip

    address: str = Field(description="Checksummed account address")
    name: str | None = Field(description="Registered name")
    region_code: int | None = Field(description="Administrative division code (GB/T 2260)")


class DeviceBase(BaseModel):
    """A field device's binding."""

    enterprise: str = Field(description="Enterprise the device is (or was last) bound to")
    mn: str | None = Field(
        description="HJ 212 MN code of the data-acquisition unit; null unless the caller is the "
        "regulator, the exchange or the device's enterprise"
    )
    bound: bool = Field(description="Currently bound (readings accepted)")


class DevicePublic(DeviceBase):
    """A field device (data-acquisition unit) and its enterprise."""

    model_config = ConfigDict(from_attributes=True, json_schema_extra={"examples": [{
        "address": _ADDRESS_EXAMPLE, "enterprise": _ENTERPRISE, "mn": "33100000000001", "bound": True,
        "updated_block": 42,
    }]})  # fmt: skip

    address: str = Field(description="Device signing address")
    updated_block: int = Field(description="Block of the last binding change")


class ProposalBase(BaseModel):
    """What a governance proposal would call."""

    target: str = Field(description="Contract the proposal calls")
    data: str = Field(description="Calldata (0x-hex)")
    description: str = Field(description="Proposer's description")


class ProposalPublic(ProposalBase):
    """A k-of-n governance proposal of the consortium members."""

    model_config = ConfigDict(from_attributes=True, json_schema_extra={"examples": [{
        "proposal_id": 3, "proposer": _ADDRESS_EXAMPLE, "target": _ENTERPRISE, "data": "0xac9650d8",
        "description": "register 4 enterprises", "deadline": 1767830400, "approvals": 2, "executed": True,
        "created_time": 1767225600,
    }]})  # fmt: skip

    proposal_id: int = Field(description="Proposal id (from 1)")
    proposer: str = Field(description="Member who proposed it")
    deadline: int = Field(description="Approvals and execution refused after this time (unix s)")
    approvals: int = Field(description="Member approvals so far")
    executed: bool = Field(description="Executed on chain")
    created_time: int = Field(description="Block time of the proposal (unix s)")


def _device(row: m.Device, viewer: Principal) -> DevicePublic:
    device = DevicePublic.model_validate(row)
    return device if access.sees_mn(viewer, row.enterprise) else device.model_copy(update={"mn": None})


def _participant(row: m.Participant | Row[Any], roles: list[str]) -> ParticipantPublic:
    fields: dict[str, Any] = {c: getattr(row, c) for c in ParticipantPublic.model_fields if hasattr(row, c)}
    lat, lon = row.latitude_e6, row.longitude_e6
    fields |= {
        "roles": roles,
        "latitude": None if lat is None else lat / 1e6,
        "longitude": None if lon is None else lon / 1e6,
    }
    return ParticipantPublic.model_validate(fields)


# ---------------------------------------------------------------------- routes


@router.get("/enterprises", response_model=Page[EnterpriseNamePublic], responses=ERRORS)
def list_enterprise_names(
    _user: User,
    db: Db,
    paging: Paging,
    region_code: Annotated[int | None, Query(ge=0, le=INT32_MAX, description="GB/T 2260 code")] = None,
) -> Page[EnterpriseNamePublic]:
    """Registered enterprises' names and regions, by address: the registry's public subset,
    readable by every signed-in account, with or without a role."""
    rows, total = crud.list_enterprise_names(db, paging=paging, region_code=region_code)
    items = [EnterpriseNamePublic.model_validate(r) for r in rows]
    return Page[EnterpriseNamePublic](items=items, total=total, limit=paging.limit, offset=paging.offset)


@router.get("/participants", response_model=Page[ParticipantPublic], responses=ERRORS)
def list_participants(
    user: User,
    db: Db,
    paging: Paging,
    role: Annotated[RoleName | None, Query(description="Only holders of this role")] = None,
    region_code: Annotated[int | None, Query(ge=0, le=INT32_MAX, description="GB/T 2260 code")] = None,
    industry_code: Annotated[str | None, Query(max_length=8, description="GB/T 4754 code")] = None,
    suspended: Annotated[bool | None, Query(description="Only (not) suspended participants")] = None,
    q: Annotated[
        str | None, Query(min_length=1, max_length=200, description="Substring of the name or credit code")
    ] = None,
) -> Page[ParticipantPublic]:
    """Participants by address, with their roles and enterprise profiles (any active role;
    without one, see `GET /enterprises`)."""
    user.require()
    rows, total = crud.list_participants(
        db, paging=paging, role=role, region_code=region_code, industry_code=industry_code,
        suspended=suspended, q=q,
    )  # fmt: skip
    roles = crud.roles_of(db, accounts=[r.address for r in rows])
    items = [_participant(r, roles[r.address]) for r in rows]
    return Page[ParticipantPublic](items=items, total=total, limit=paging.limit, offset=paging.offset)


@router.get("/participants/{address}", response_model=ParticipantPublic, responses=ERRORS)
def get_participant(
    address: Annotated[Address, Path(description="Account address (0x + 40 hex)")], user: User, db: Db
) -> ParticipantPublic:
    """One participant (any active role)."""
    user.require()
    row, roles = crud.get_participant(db, address=address)
    return _participant(row, roles)


@router.get("/devices", response_model=Page[DevicePublic], responses=ERRORS)
def list_devices(
    user: User,
    db: Db,
    paging: Paging,
    enterprise: Annotated[Address | None, Query(description="Only devices of this enterprise")] = None,
    bound: Annotated[bool | None, Query(description="Only (un)bound devices")] = None,
) -> Page[DevicePublic]:
    """Field devices by address: every device for the regulator and the exchange, otherwise
    those of the accounts the caller may read (its own; an auditor's assigned enterprises).
    MNs only to the regulator, the exchange and the device's enterprise."""
    rows, total = crud.list_devices(db, viewer=user, paging=paging, enterprise=enterprise, bound=bound)
    items = [_device(r, user) for r in rows]
    return Page[DevicePublic](items=items, total=total, limit=paging.limit, offset=paging.offset)


@router.get("/devices/{address}", response_model=DevicePublic, responses=ERRORS)
def get_device(
    address: Annotated[Address, Path(description="Device address (0x + 40 hex)")], user: User, db: Db
) -> DevicePublic:
    """One field device (scoped as `GET /devices`)."""
    return _device(crud.get_device(db, viewer=user, address=address), user)


@router.get("/proposals", response_model=Page[ProposalPublic], responses=ERRORS)
def list_proposals(
    user: User,
    db: Db,
    paging: Paging,
    executed: Annotated[bool | None, Query(description="Only (not yet) executed proposals")] = None,
) -> Page[ProposalPublic]:
    """Governance proposals, newest first (any active role)."""
    user.require()
    rows, total = crud.list_proposals(db, paging=paging, executed=executed)
    items = [ProposalPublic.model_validate(r) for r in rows]
    return Page[ProposalPublic](items=items, total=total, limit=paging.limit, offset=paging.offset)
