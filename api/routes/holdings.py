"""Routes: holdings and transfers of allowances and settlement cash (one account's own, or every
account's for the regulator and exchange), token caps and allocation batches (public)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field, computed_field

from api import crud
from api.crud import INT64_MAX, TOKEN_ID_MAX, Address, Pollutant
from api.deps import Db, Paging, User
from api.schemas import ERRORS, Page
from domain.tokens import CASH_ID, MAX_VINTAGE, decode_id

router = APIRouter(tags=["holdings"])

TokenKind = Literal["allowance", "offset", "cash"]
AllowanceKind = Literal["allowance", "offset"]

_ACCOUNT = "0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65"
_OTHER = "0x9965507D1a55bcC2695C58ba16FB37d819B0A4dc"
_TX = "0x" + "3f" * 32

TokenIdQuery = Annotated[
    int | None, Query(ge=0, le=TOKEN_ID_MAX, description="Token id (0 = settlement cash)")
]
PollutantQuery = Annotated[
    Pollutant | None, Query(description="Pollutant symbol (CO2, SO2, NOx, COD, NH3-N, PM) or code")
]
VintageQuery = Annotated[int | None, Query(ge=0, le=MAX_VINTAGE, description="Vintage year")]


class _TokenFacts(BaseModel):
    """What a token id says: kind, pollutant and vintage."""

    token_id: int = Field(description="Token id: kind << 24 | pollutant << 16 | vintage; 0 is cash")

    @computed_field(description="allowance, offset or cash")  # type: ignore[prop-decorator]
    @property
    def kind(self) -> str:
        return crud.token_kind(self.token_id)

    @computed_field(description="Pollutant code (null for cash)")  # type: ignore[prop-decorator]
    @property
    def pollutant(self) -> int | None:
        return None if self.token_id == CASH_ID else (self.token_id >> 16) & 0xFF

    @computed_field(description="Pollutant symbol (null for cash)")  # type: ignore[prop-decorator]
    @property
    def pollutant_symbol(self) -> str | None:
        return None if self.pollutant is None else crud.pollutant_symbol(self.pollutant)

    @computed_field(description="Vintage year (null for cash)")  # type: ignore[prop-decorator]
    @property
    def vintage(self) -> int | None:
        return None if self.token_id == CASH_ID else self.token_id & 0xFFFF

    @computed_field(description="Readable name: 'CO2 2024', 'offset CO2 2024', 'cash'")  # type: ignore[prop-decorator]
    @property
    def label(self) -> str:
        if self.token_id == CASH_ID:
            return "cash"
        try:
            return decode_id(self.token_id).label()
        except ValueError:
            return f"token {self.token_id}"


# ---------------------------------------------------------------------- models


class HoldingBase(_TokenFacts):
    """A balance in one token id."""

    balance: int = Field(description="Whole tonnes (allowances) or fen (cash)")
    frozen_reason: int | None = Field(description="Reason code when the regulator froze the balance")


class HoldingPublic(HoldingBase):
    """One account's balance of one token id."""

    model_config = ConfigDict(from_attributes=True, json_schema_extra={"examples": [{
        "account": _ACCOUNT, "token_id": 16844776, "balance": 975, "frozen_reason": None,
        "kind": "allowance", "pollutant": 1, "pollutant_symbol": "CO2", "vintage": 2024, "label": "CO2 2024",
    }]})  # fmt: skip

    account: str = Field(description="Holder")


class TransferBase(_TokenFacts):
    """A movement of allowances or cash."""

    sender: str = Field(description="From (the zero address for mints)")
    recipient: str = Field(description="To (the zero address for burns)")
    amount: int = Field(description="Whole tonnes (allowances) or fen (cash)")


class TransferPublic(TransferBase):
    """A transfer, with where it is on chain."""

    model_config = ConfigDict(from_attributes=True, json_schema_extra={"examples": [{
        "id": 57, "token_id": 16844776, "sender": _ACCOUNT, "recipient": _OTHER, "amount": 25,
        "block_number": 61, "log_index": 0, "block_time": 1767225700, "tx_hash": _TX,
        "kind": "allowance", "pollutant": 1, "pollutant_symbol": "CO2", "vintage": 2024, "label": "CO2 2024",
    }]})  # fmt: skip

    id: int = Field(description="Row id in the read model")
    block_number: int = Field(description="Block of the transfer")
    log_index: int = Field(description="Position of the event in its block")
    block_time: int = Field(description="Block time (unix s)")
    tx_hash: str = Field(description="Transaction hash")


class TokenBase(_TokenFacts):
    """Total-amount control of one allowance or offset id."""

    cap: int = Field(description="Cap set by the regulator (tonnes)")
    issued: int = Field(description="Allocated or issued into auctions, net of returns (tonnes)")
    retired: int = Field(description="Surrendered and retired (tonnes)")


class TokenPublic(TokenBase):
    """An allowance or offset id with its cap, issued, retired and circulating amounts."""

    model_config = ConfigDict(from_attributes=True, json_schema_extra={"examples": [{
        "token_id": 16844776, "cap": 1000000000, "issued": 4000, "retired": 0, "circulating": 4000,
        "kind": "allowance", "pollutant": 1, "pollutant_symbol": "CO2", "vintage": 2024, "label": "CO2 2024",
    }]})  # fmt: skip

    @computed_field(description="Issued minus retired (tonnes)")  # type: ignore[prop-decorator]
    @property
    def circulating(self) -> int:
        return self.issued - self.retired


class AllocationBase(BaseModel):
    """One allocation batch."""

    token_id: int = Field(description="Allocated id")
    batch_ref: str = Field(description="Batch reference (0x-hex, unique per batch)")
    recipients: int = Field(description="Accounts allocated to")
    total: int = Field(description="Tonnes allocated")


class AllocationPublic(AllocationBase):
    """An allocation batch (``AllowancesAllocated``)."""

    model_config = ConfigDict(from_attributes=True, json_schema_extra={"examples": [{
        "id": 2, "token_id": 16844776, "batch_ref": "0x" + "c001" * 16, "recipients": 4, "total": 4000,
        "block_number": 30, "block_time": 1767225600, "tx_hash": _TX,
    }]})  # fmt: skip

    id: int = Field(description="Row id in the read model")
    block_number: int = Field(description="Block of the allocation")
    block_time: int = Field(description="Block time (unix s)")
    tx_hash: str = Field(description="Transaction hash")


# ---------------------------------------------------------------------- routes


@router.get("/holdings", response_model=Page[HoldingPublic], responses=ERRORS)
def list_holdings(
    user: User,
    db: Db,
    paging: Paging,
    account: Annotated[
        Address | None,
        Query(description="Holder; default: every account the caller may read"),
    ] = None,
    token_id: TokenIdQuery = None,
    pollutant: PollutantQuery = None,
    vintage: VintageQuery = None,
    kind: Annotated[TokenKind | None, Query(description="allowance, offset or cash")] = None,
    min_balance: Annotated[int | None, Query(ge=0, le=INT64_MAX, description="Smallest balance")] = None,
) -> Page[HoldingPublic]:
    """Balances by account and token id, under the one holdings rule (also that of
    `GET /stats/holdings`): the regulator and the exchange see every account's, an enterprise its
    own, an auditor its own and those of the enterprises the regulator assigned it; naming any
    other account is refused (403), as is a caller with no role or a suspended one."""
    rows, total = crud.list_holdings(
        db, viewer=user, paging=paging, account=account, token_id=token_id,
        pollutant=pollutant, vintage=vintage, kind=kind,
        min_balance=min_balance,
    )  # fmt: skip
    items = [HoldingPublic.model_validate(r) for r in rows]
    return Page[HoldingPublic](items=items, total=total, limit=paging.limit, offset=paging.offset)


@router.get("/transfers", response_model=Page[TransferPublic], responses=ERRORS)
def list_transfers(
    user: User,
    db: Db,
    paging: Paging,
    account: Annotated[
        Address | None,
        Query(description="Sender or recipient; default: every account the caller may read"),
    ] = None,
    token_id: TokenIdQuery = None,
    from_time: Annotated[int | None, Query(ge=0, le=INT64_MAX, description="From block time, unix s")] = None,
    to_time: Annotated[int | None, Query(ge=0, le=INT64_MAX, description="To block time, unix s")] = None,
) -> Page[TransferPublic]:
    """Transfers of allowances and cash in chain order, mints and burns included, scoped as
    `GET /holdings` (403 for an account the caller may not read)."""
    rows, total = crud.list_transfers(
        db, viewer=user, paging=paging, account=account, token_id=token_id, from_time=from_time,
        to_time=to_time,
    )  # fmt: skip
    items = [TransferPublic.model_validate(r) for r in rows]
    return Page[TransferPublic](items=items, total=total, limit=paging.limit, offset=paging.offset)


@router.get("/tokens", response_model=Page[TokenPublic], responses=ERRORS)
def list_tokens(
    _user: User,
    db: Db,
    paging: Paging,
    pollutant: PollutantQuery = None,
    vintage: VintageQuery = None,
    kind: Annotated[AllowanceKind | None, Query(description="allowance or offset")] = None,
) -> Page[TokenPublic]:
    """Allowance and offset ids with their caps (total-amount control), issued, retired and
    circulating amounts."""
    rows, total = crud.list_tokens(db, paging=paging, pollutant=pollutant, vintage=vintage, kind=kind)
    items = [TokenPublic.model_validate(r) for r in rows]
    return Page[TokenPublic](items=items, total=total, limit=paging.limit, offset=paging.offset)


@router.get("/tokens/{token_id}", response_model=TokenPublic, responses=ERRORS)
def get_token(
    token_id: Annotated[int, Path(ge=0, le=TOKEN_ID_MAX, description="Token id")], _user: User, db: Db
) -> TokenPublic:
    """One allowance or offset id."""
    return TokenPublic.model_validate(crud.get_token(db, token_id=token_id))


@router.get("/allocations", response_model=Page[AllocationPublic], responses=ERRORS)
def list_allocations(
    _user: User,
    db: Db,
    paging: Paging,
    token_id: Annotated[int | None, Query(ge=0, le=TOKEN_ID_MAX, description="Allocated id")] = None,
) -> Page[AllocationPublic]:
    """Allocation batches in chain order (totals per batch; per-account amounts are transfers)."""
    rows, total = crud.list_allocations(db, paging=paging, token_id=token_id)
    items = [AllocationPublic.model_validate(r) for r in rows]
    return Page[AllocationPublic](items=items, total=total, limit=paging.limit, offset=paging.offset)
