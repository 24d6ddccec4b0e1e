"""Routes: the audit trail — any account's, token's or device's ordered event history (JSON
pages by cursor, or CSV), and a reading's Merkle proof checked against the chain."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from api.audit import (
    CSV_MAX_ROWS,
    EventFilter,
    EventRedactor,
    Scope,
    count_capped,
    events_page,
    iso_time,
    iter_events,
    prove_reading,
    scope_of,
    scoped_account,
)
from api.deps import Ctx, Db, User
from api.errors import QueryError
from api.exports import csv_line
from api.routes.batches import BatchPublic, ReadingPublic
from api.schemas import ERRORS
from readmodel import models as m

router = APIRouter(prefix="/audit", tags=["audit"])

_TX = "0x5c504ed432cb51138bcf09aa5e8a410dd4a1e204ef84bfed1be16dfba1b22060"
_E0 = "0x976EA74026E726554dB657fA54763abd0C3a0aa9"
_EVENT_EXAMPLE: dict[str, Any] = {
    "block_number": 42,
    "log_index": 1,
    "block_time": 1772352000,
    "time": "2026-03-01T08:00:00Z",
    "tx_hash": _TX,
    "contract": "AllowanceToken",
    "name": "TransferSingle",
    "args": {
        "operator": _E0,
        "from": _E0,
        "to": "0x14dC79964da2C08b23698B3D3cc7Ca32193d9955",
        "id": 6917529027641147368,
        "value": 25,
    },
    "token_id": 6917529027641147368,
    "device": None,
}


class EventPublic(BaseModel):
    """One contract event of the audit trail."""

    model_config = ConfigDict(json_schema_extra={"examples": [_EVENT_EXAMPLE]})

    block_number: int = Field(description="Block that holds the event")
    log_index: int = Field(description="Position of the log in its block")
    block_time: int = Field(description="Block timestamp, unix seconds")
    time: str = Field(description="Block timestamp, ISO 8601 UTC")
    tx_hash: str = Field(description="Transaction that emitted the event")
    contract: str = Field(description="Emitting contract's name in the deployment")
    name: str = Field(description="Event name")
    args: dict[str, Any] = Field(description="Decoded arguments (addresses checksummed, bytes as 0x-hex)")
    token_id: int | None = Field(description="Allowance id the event concerns (0: settlement cash)")
    device: str | None = Field(description="Field device the event concerns")


class EventPagePublic(BaseModel):
    """A page of the audit trail in chain order; ask again with `after=next` for the next one."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"items": [_EVENT_EXAMPLE], "next": "42:1", "limit": 1},
            ]
        }
    )

    items: list[EventPublic]
    next: str | None = Field(description="Cursor of the next page (`block:log`); null after the last row")
    limit: int


class WitnessPublic(BaseModel):
    """The device's signature of the frame the reading was signed in."""

    hashes: list[str] = Field(description="EIP-712 hashStruct of every reading of the frame, in order")
    index: int = Field(description="The reading's position in the frame")
    signature: str = Field(description="The device's 65-byte signature of the frame digest")


class ChecksPublic(BaseModel):
    """What was checked, one by one."""

    root_matches_anchored: bool = Field(
        description="The root rebuilt from the batch's stored leaves equals the root on-chain"
    )
    leaf_matches_reading: bool = Field(description="The reading's EIP-712 digest is its stored leaf")
    on_chain: bool = Field(
        description="EmissionsLedger.verifyReading accepted the reading, its frame signature and proof"
    )


class ReadingProofPublic(BaseModel):
    """A reading, its batch, its Merkle proof and the verification against the on-chain root."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "reading": {
                        "batch_id": "0x" + "ab" * 32,
                        "position": 3,
                        "device": "0x1CBd3b2770909D4e10f157cABC84C7264073C9Ec",
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
                    },
                    "batch": {
                        "batch_id": "0x" + "ab" * 32,
                        "device": "0x1CBd3b2770909D4e10f157cABC84C7264073C9Ec",
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
                        "tx_hash": _TX,
                    },
                    "witness": {
                        "hashes": ["0x" + "11" * 32, "0x" + "22" * 32],
                        "index": 1,
                        "signature": "0x" + "33" * 65,
                    },
                    "proof": ["0x" + "44" * 32, "0x" + "55" * 32, "0x" + "66" * 32],
                    "computed_root": "0x" + "ef" * 32,
                    "anchored_root": "0x" + "ef" * 32,
                    "checks": {"root_matches_anchored": True, "leaf_matches_reading": True, "on_chain": True},
                    "verified": True,
                    "error": None,
                }
            ]
        }
    )

    reading: ReadingPublic
    batch: BatchPublic
    witness: WitnessPublic
    proof: list[str] = Field(description="Sibling hashes from the leaf up (OpenZeppelin standard tree)")
    computed_root: str = Field(description="Root rebuilt from the batch's stored leaves")
    anchored_root: str | None = Field(description="Root the EmissionsLedger holds (null: unknown to it)")
    checks: ChecksPublic
    verified: bool = Field(description="Every check passed")
    error: str | None = Field(description="Why a check could not run (a malformed or altered reading ...)")


def event_filter(
    account: Annotated[
        str | None,
        Query(description="A party to the event (enterprise or any account)", max_length=42, examples=[_E0]),
    ] = None,
    token_id: Annotated[int | None, Query(ge=0, lt=2**63, description="Allowance id (0: cash)")] = None,
    device: Annotated[str | None, Query(max_length=42, description="Field device address")] = None,
    contract: Annotated[str | None, Query(max_length=40, examples=["AllowanceToken"])] = None,
    name: Annotated[
        str | None, Query(max_length=40, description="Event name", examples=["TransferSingle"])
    ] = None,
    from_time: Annotated[
        int | None, Query(ge=0, lt=2**63, description="Earliest block time (unix s)")
    ] = None,
    to_time: Annotated[int | None, Query(ge=0, lt=2**63, description="Latest block time (unix s)")] = None,
    from_block: Annotated[int | None, Query(ge=0, lt=2**62, description="First block")] = None,
    to_block: Annotated[int | None, Query(ge=0, lt=2**62, description="Last block")] = None,
) -> EventFilter:
    return EventFilter(account, token_id, device, contract, name, from_time, to_time, from_block, to_block)


Filters = Annotated[EventFilter, Depends(event_filter)]


def _scoped(db: Db, user: User, filters: EventFilter) -> EventFilter:
    scope: Scope = scope_of(db, viewer=user)
    account = scoped_account(scope, account=filters.account, caller=user.address)
    return EventFilter(
        account,
        filters.token_id,
        filters.device,
        filters.contract,
        filters.name,
        filters.from_time,
        filters.to_time,
        filters.from_block,
        filters.to_block,
    )


def event_public(e: m.Event, redactor: EventRedactor) -> EventPublic:
    return EventPublic(
        block_number=e.block_number,
        log_index=e.log_index,
        block_time=e.block_time,
        time=iso_time(e.block_time),
        tx_hash=e.tx_hash,
        contract=e.contract,
        name=e.name,
        args=redactor.args(e),
        token_id=e.token_id,
        device=e.device,
    )


@router.get("/events", response_model=EventPagePublic, responses=ERRORS)
def events(
    ctx: Ctx,
    db: Db,
    user: User,
    filters: Filters,
    after: Annotated[
        str | None, Query(max_length=40, description="`next` of the previous page", examples=["42:1"])
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="Rows per page (1..1000)")] = 100,
) -> EventPagePublic:
    """The full ordered history of on-chain events (block time, block, log index), filtered by
    account, token id, device, contract, event name and a time or block window (both ends
    inclusive).

    Paging is by cursor: `next` is the last row's `block:log`; pass it as `after`. There is no
    total: counting (or skipping) a million matching rows is a million index steps, while a
    cursor page costs the same anywhere in the history.

    Who sees what:

    * **regulator, exchange**: every event; `account` is optional.
    * **enterprise** (and any other account): only events it is a party to; `account`
      defaults to itself, another account is refused (403); token, device and other filters
      narrow its own trail.
    * **auditor**: the trails of the enterprises the regulator assigned to it (and its own);
      `account` is required and must be one of them (403 otherwise).
    * **no role, or suspended**: 403.

    Revealed bid schedules (`BidRevealed` prices, quantities, demand) are null while the
    auction's reveal phase lasts, for everyone but the bidder, and after it for anyone but the
    regulator, the exchange and the bidder, as in `GET /auctions/{id}/bids`; a device's MN is
    null for anyone but the regulator, the exchange and the device's enterprise.
    """
    scoped = _scoped(db, user, filters)
    rows, cursor = events_page(db, filters=scoped, after=after, limit=limit)
    redactor = EventRedactor(db, user, ctx.chain.timestamp)
    return EventPagePublic(items=[event_public(e, redactor) for e in rows], next=cursor, limit=limit)


CSV_COLUMNS = (
    "block_number",
    "log_index",
    "block_time",
    "time",
    "tx_hash",
    "contract",
    "name",
    "token_id",
    "device",
    "args",
)


@router.get(
    "/events.csv",
    response_class=StreamingResponse,
    responses={
        **ERRORS,
        200: {
            "description": "The matching events as CSV, one row per event, `args` as compact JSON",
            "content": {
                "text/csv": {
                    "example": ",".join(CSV_COLUMNS) + "\n"
                    f"42,1,1772352000,2026-03-01T08:00:00Z,{_TX},AllowanceToken,"
                    f'TransferSingle,6917529027641147368,,"{{""value"":25}}"\n'
                }
            },
        },
    },
)
def events_csv(ctx: Ctx, db: Db, user: User, filters: Filters) -> StreamingResponse:
    """The audit trail as a CSV download, with the filters and scoping of `GET /audit/events`.

    At most 100,000 rows: a larger export is refused (400); narrow the filters (a time or
    block window, a token or device) or page through `GET /audit/events`. Cells starting with
    `=`, `+`, `-`, `@`, a tab or a carriage return get a leading `'` (a spreadsheet shows them as
    text, never as a formula); plain numbers are left as they are.
    """
    scoped = _scoped(db, user, filters)
    matching = count_capped(db, filters=scoped, cap=CSV_MAX_ROWS)
    if matching > CSV_MAX_ROWS:
        raise QueryError(
            f"more than {CSV_MAX_ROWS} events match: narrow the filters (from_time/to_time, "
            "from_block/to_block, token_id, device) or page through GET /audit/events"
        )

    def rows() -> Iterator[str]:
        chunk = [csv_line(CSV_COLUMNS)]
        with ctx.sessions() as session:
            redactor = EventRedactor(session, user, ctx.chain.timestamp)
            for n, e in enumerate(iter_events(session, filters=scoped), 1):
                args = json.dumps(redactor.args(e), separators=(",", ":"))
                chunk.append(
                    csv_line(
                        (
                            e.block_number,
                            e.log_index,
                            e.block_time,
                            iso_time(e.block_time),
                            e.tx_hash,
                            e.contract,
                            e.name,
                            e.token_id,
                            e.device,
                            args,
                        )
                    )
                )
                if n % 500 == 0:
                    yield "".join(chunk)
                    chunk = []
        yield "".join(chunk)

    return StreamingResponse(
        rows(),
        media_type="text/csv",
        headers={"Content-Disposition": 'attachment; filename="audit-events.csv"'},
    )


@router.get("/readings/{batch_id}/{position}", response_model=ReadingProofPublic, responses=ERRORS)
def reading_proof(
    ctx: Ctx,
    db: Db,
    user: User,
    batch_id: Annotated[str, Path(pattern=r"^0x[0-9a-fA-F]{64}$", description="Anchored batch id")],
    position: Annotated[int, Path(ge=0, lt=2**31, description="The reading's place in its batch (0-based)")],
) -> ReadingProofPublic:
    """A reading of an anchored batch with its batch, its Merkle proof (rebuilt from the batch's
    readings in the read model), its frame signature, and the verification: the rebuilt root
    against the root on-chain, the reading against its leaf, and the ledger's `verifyReading`
    of reading, signature and proof. A failed check is reported (`verified: false`), not an
    error.

    Regulators and the exchange read every batch; an enterprise its own; an auditor those of
    the enterprises assigned to it (403 otherwise). Unknown batch or position: 404.
    """
    scope = scope_of(db, viewer=user)
    found = prove_reading(
        db, ledger=ctx.ledger, batch_id=batch_id, position=position, scope=scope, caller=user.address
    )
    r = found.reading
    return ReadingProofPublic(
        reading=ReadingPublic.of(r),
        batch=BatchPublic.of(found.batch),
        witness=WitnessPublic(hashes=list(r.frame_hashes), index=r.frame_index, signature=r.signature),
        proof=found.proof,
        computed_root=found.computed_root,
        anchored_root=found.anchored_root,
        checks=ChecksPublic(
            root_matches_anchored=found.root_matches,
            leaf_matches_reading=found.leaf_matches,
            on_chain=found.on_chain,
        ),
        verified=found.verified,
        error=found.error,
    )
