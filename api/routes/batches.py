"""Routes: anchored batches of device-signed readings, their decoded totals and their readings."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select

from api.audit import (
    BatchFilter,
    batches_query,
    decimal_text,
    decode_totals,
    get_batch,
    iso_time,
    readings_query,
    scope_of,
)
from api.deps import Db, Paging, User
from api.schemas import ERRORS, Page, paginate
from readmodel import models as m

router = APIRouter(prefix="/batches", tags=["batches"])

_ID = "0x" + "ab" * 32
_DEVICE = "0x1CBd3b2770909D4e10f157cABC84C7264073C9Ec"
_E0 = "0x976EA74026E726554dB657fA54763abd0C3a0aa9"
_BATCH_EXAMPLE: dict[str, Any] = {
    "batch_id": _ID,
    "device": _DEVICE,
    "enterprise": _E0,
    "first_sequence": 1,
    "last_sequence": 8,
    "previous_sequence": 0,
    "period_start": 1704067200,
    "period_end": 1704067260,
    "count": 8,
    "root": "0x" + "ef" * 32,
    "block_number": 57,
    "block_time": 1772352000,
    "tx_hash": "0x5c504ed432cb51138bcf09aa5e8a410dd4a1e204ef84bfed1be16dfba1b22060",
}
_READING_EXAMPLE: dict[str, Any] = {
    "batch_id": _ID,
    "position": 3,
    "device": _DEVICE,
    "sequence": 4,
    "time": 1704067260,
    "time_iso": "2024-01-01T00:01:00Z",
    "pollutant": "a21026",
    "value": "4345",
    "decimals": 3,
    "amount": "4.345",
    "unit": "mg/m3",
    "flag": "N",
    "leaf": "0x" + "cd" * 32,
}
BatchId = Annotated[
    str, Path(pattern=r"^0x[0-9a-fA-F]{64}$", description="Anchored batch id", examples=[_ID])
]


class BatchPublic(BaseModel):
    """A batch of one device's signed readings whose Merkle root is anchored on the EmissionsLedger."""

    model_config = ConfigDict(json_schema_extra={"examples": [_BATCH_EXAMPLE]})

    batch_id: str = Field(description="keccak256(device, first sequence, last sequence, root)")
    device: str = Field(description="The device that signed the readings")
    enterprise: str = Field(description="The enterprise the device is bound to")
    first_sequence: int = Field(description="Lowest device sequence number in the batch")
    last_sequence: int = Field(description="Highest device sequence number in the batch")
    previous_sequence: int = Field(description="The device's last anchored sequence before this batch")
    period_start: int = Field(description="Earliest reading time (unix s)")
    period_end: int = Field(description="Latest reading time (unix s)")
    count: int = Field(description="Readings in the batch")
    root: str = Field(description="Anchored Merkle root (OpenZeppelin standard tree of reading digests)")
    block_number: int = Field(description="Block of the anchoring transaction")
    block_time: int = Field(description="Time of that block (unix s)")
    tx_hash: str = Field(description="The anchoring transaction")

    @classmethod
    def of(cls, b: m.Batch) -> BatchPublic:
        return cls(
            batch_id=b.batch_id,
            device=b.device,
            enterprise=b.enterprise,
            first_sequence=b.first_sequence,
            last_sequence=b.last_sequence,
            previous_sequence=b.previous_sequence,
            period_start=b.period_start,
            period_end=b.period_end,
            count=b.count,
            root=b.root,
            block_number=b.block_number,
            block_time=b.block_time,
            tx_hash=b.tx_hash,
        )


class TotalPublic(BaseModel):
    """A batch's anchored sum of one pollutant in one unit."""

    pollutant: str = Field(description="HJ 212 factor code", examples=["a21026"])
    unit: str = Field(examples=["mg/m3"])
    total: str = Field(description="The exact sum as decimal text", examples=["12.345"])
    raw_total: str = Field(description="The sum scaled by 10**decimals, as anchored", examples=["12345"])
    decimals: int = Field(examples=[3])


class BatchDetailPublic(BatchPublic):
    """An anchored batch with its per-pollutant totals and how many of its readings the read
    model holds (imported from the oracle gateway's queue)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                _BATCH_EXAMPLE
                | {
                    "totals": [
                        {
                            "pollutant": "a21026",
                            "unit": "mg/m3",
                            "total": "12.345",
                            "raw_total": "12345",
                            "decimals": 3,
                        }
                    ],
                    "readings_imported": 8,
                }
            ]
        }
    )

    totals: list[TotalPublic]
    readings_imported: int = Field(
        description="Readings of the batch in the read model (0: not imported yet)"
    )


class ReadingPublic(BaseModel):
    """A device-signed reading of an anchored batch."""

    model_config = ConfigDict(json_schema_extra={"examples": [_READING_EXAMPLE]})

    batch_id: str
    position: int = Field(description="Place in the batch (0-based, sequence order)")
    device: str
    sequence: int = Field(description="The device's sequence number of the reading")
    time: int = Field(description="Measurement time (unix s)")
    time_iso: str = Field(description="Measurement time, ISO 8601 UTC")
    pollutant: str = Field(description="HJ 212 factor code")
    value: str = Field(description="The value scaled by 10**decimals, as signed")
    decimals: int
    amount: str = Field(description="The value as decimal text")
    unit: str
    flag: str = Field(description="HJ 212 data flag (N normal, D fault ...)")
    leaf: str = Field(description="The reading's EIP-712 digest: its value in the batch's Merkle tree")

    @classmethod
    def of(cls, r: m.Reading) -> ReadingPublic:
        try:
            amount = decimal_text(int(r.value), r.decimals)
        except ValueError:  # an altered row: show what is stored
            amount = r.value
        return cls(
            batch_id=r.batch_id,
            position=r.position,
            device=r.device,
            sequence=r.sequence,
            time=r.time,
            time_iso=iso_time(r.time),
            pollutant=r.pollutant,
            value=r.value,
            decimals=r.decimals,
            amount=amount,
            unit=r.unit,
            flag=r.flag,
            leaf=r.leaf,
        )


@router.get("", response_model=Page[BatchPublic], responses=ERRORS)
def list_batches(
    db: Db,
    user: User,
    paging: Paging,
    enterprise: Annotated[str | None, Query(max_length=42, examples=[_E0])] = None,
    device: Annotated[str | None, Query(max_length=42, examples=[_DEVICE])] = None,
    from_time: Annotated[
        int | None, Query(ge=0, lt=2**63, description="Reading period ends at or after (unix s)")
    ] = None,
    to_time: Annotated[
        int | None, Query(ge=0, lt=2**63, description="Reading period starts at or before (unix s)")
    ] = None,
) -> Page[BatchPublic]:
    """Anchored batches by reading period, filtered by enterprise, device and a time window
    that their reading period overlaps (both ends inclusive).

    Regulators and the exchange see every batch; an enterprise its own (another's: 403); an
    auditor those of the enterprises assigned to it."""
    scope = scope_of(db, viewer=user)
    stmt = batches_query(
        filters=BatchFilter(enterprise, device, from_time, to_time), scope=scope, caller=user.address
    )
    rows, total = paginate(db, stmt, paging)
    return Page[BatchPublic](
        items=[BatchPublic.of(b) for b in rows], total=total, limit=paging.limit, offset=paging.offset
    )


@router.get("/{batch_id}", response_model=BatchDetailPublic, responses=ERRORS)
def batch(db: Db, user: User, batch_id: BatchId) -> BatchDetailPublic:
    """An anchored batch with its totals decoded (pollutant code and unit as text, the sum as
    decimal text). Unknown batch: 404.

    Regulators and the exchange see every batch; an enterprise its own (another's: 403); an
    auditor those of the enterprises assigned to it."""
    scope = scope_of(db, viewer=user)
    b = get_batch(db, batch_id=batch_id, scope=scope, caller=user.address)
    imported = db.execute(
        select(func.count()).select_from(m.Reading).where(m.Reading.batch_id == b.batch_id)
    ).scalar_one()
    totals = [
        TotalPublic(pollutant=t.pollutant, unit=t.unit, total=t.total, raw_total=t.raw, decimals=t.decimals)
        for t in decode_totals(b.totals)
    ]
    return BatchDetailPublic(**BatchPublic.of(b).model_dump(), totals=totals, readings_imported=int(imported))


@router.get("/{batch_id}/readings", response_model=Page[ReadingPublic], responses=ERRORS)
def batch_readings(db: Db, user: User, paging: Paging, batch_id: BatchId) -> Page[ReadingPublic]:
    """The readings of an anchored batch in tree-value order, as imported from the oracle
    gateway's queue (none until imported). Unknown batch: 404.

    Regulators and the exchange see every batch; an enterprise its own (another's: 403); an
    auditor those of the enterprises assigned to it."""
    scope = scope_of(db, viewer=user)
    b = get_batch(db, batch_id=batch_id, scope=scope, caller=user.address)
    rows, total = paginate(db, readings_query(batch_id=b.batch_id), paging)
    return Page[ReadingPublic](
        items=[ReadingPublic.of(r) for r in rows], total=total, limit=paging.limit, offset=paging.offset
    )
