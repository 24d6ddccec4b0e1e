"""Routes: sealed-bid auctions, their phase at the chain's time, who may bid in them (a primary
auction restricted to named bidders lists them), and their bids — sealed until the reveal phase
has ended (see :func:`api.crud.list_bids` for who sees what)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from api import crud
from api.crud import INT64_MAX, TOKEN_ID_MAX, Address
from api.deps import Ctx, Db, Paging, User
from api.schemas import ERRORS, Page
from readmodel import models as m

router = APIRouter(tags=["auctions"])

Status = Literal["open", "cleared", "no_sale", "settled"]
Phase = Literal["scheduled", "commit", "reveal", "clearing", "cleared", "no_sale", "settled"]

_SELLER = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
_BIDDER = "0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65"

AuctionIdPath = Annotated[int, Path(ge=0, le=INT64_MAX, description="Auction id")]


# ---------------------------------------------------------------------- models


class AuctionBase(BaseModel):
    """An auction's lot and rules."""

    token_id: int = Field(description="Allowance id on sale")
    primary: bool = Field(description="Primary (regulator sells new allowances) or secondary")
    supply: int = Field(description="Tonnes on sale")
    reserve_price: int = Field(description="Lowest accepted price (fen per tonne)")
    purchase_limit: int = Field(description="Most tonnes one bidder may win (0 = no limit)")
    commit_start: int = Field(description="Commit phase opens (unix s)")
    commit_end: int = Field(description="Commit phase closes, reveal phase opens (unix s)")
    reveal_end: int = Field(description="Reveal phase closes (unix s); bids are sealed until then")
    forfeit_bps: int = Field(description="Share of the guarantee forfeited without a reveal (bps)")
    price_rule: int = Field(description="Clearing price rule (0 = lowest accepted bid)")


class AuctionPublic(AuctionBase):
    """A sealed-bid auction, its phase at the chain's current time and its outcome."""

    model_config = ConfigDict(from_attributes=True, json_schema_extra={"examples": [{
        "auction_id": 1, "seller": _SELLER, "token_id": 16844776, "primary": True, "supply": 100,
        "reserve_price": 5000, "purchase_limit": 0, "commit_start": 1767225600, "commit_end": 1767229200,
        "reveal_end": 1767232800, "forfeit_bps": 0, "price_rule": 0, "status": "cleared", "phase": "cleared",
        "clearing_price": 6000, "sold": 100, "unsold": 0, "allocation_price": 6000, "bidders": 3,
        "revealed": 3, "created_time": 1767225600, "restricted": True, "named_bidders": [_BIDDER],
        "may_bid": True,
    }]})  # fmt: skip

    auction_id: int = Field(description="Auction id")
    seller: str = Field(description="Regulator (primary) or selling enterprise (secondary)")
    status: Status = Field(description="On-chain outcome: open, cleared, no_sale, settled")
    phase: Phase = Field(description="Phase at the chain's latest block time")
    clearing_price: int | None = Field(description="Uniform clearing price (fen per tonne), once cleared")
    sold: int | None = Field(description="Tonnes sold, once cleared")
    unsold: int | None = Field(description="Tonnes unsold, once cleared")
    allocation_price: int | None = Field(description="Price of the pro-rata tie level, once cleared")
    bidders: int = Field(description="Committed bids")
    revealed: int = Field(description="Revealed bids")
    created_time: int = Field(description="Block time of creation (unix s)")
    restricted: bool = Field(
        description="A primary auction restricted to named bidders (createRestrictedPrimary)"
    )
    named_bidders: list[str] = Field(
        description="Who may bid in a restricted auction, in the regulator's order (empty: any active "
        "enterprise or the exchange; the contract refuses anyone else with AuctionBidderNotAllowed)"
    )
    may_bid: bool = Field(
        description="The signed-in account is not the seller and the auction is open to it (unrestricted, "
        "or it is named); the contract still checks its role, the phase and the guarantee"
    )


class BidBase(BaseModel):
    """A revealed bid's demand schedule: null while sealed or never revealed."""

    prices: list[int] | None = Field(description="Bid prices (fen per tonne), descending")
    quantities: list[int] | None = Field(description="Tonnes demanded at each price")
    demand: int | None = Field(description="Total tonnes demanded")


class BidPublic(BidBase):
    """A bid as the caller may see it."""

    model_config = ConfigDict(from_attributes=True, json_schema_extra={"examples": [{
        "auction_id": 1, "bidder": _BIDDER, "sequence": 0, "commitment": "0x" + "5e" * 32,
        "guarantee": 600000, "committed_time": 1767226000, "revealed": True, "prices": [7000, 6000],
        "quantities": [40, 60], "demand": 100, "allocated": 60, "payment": 360000, "refund": 240000,
        "forfeit": None,
    }]})  # fmt: skip

    auction_id: int = Field(description="Auction id")
    bidder: str = Field(description="Bidding account")
    sequence: int = Field(description="Commitment order")
    commitment: str = Field(description="Hash of the sealed schedule and salt")
    guarantee: int = Field(description="Cash escrowed at commit (fen)")
    committed_time: int = Field(description="Block time of the commitment (unix s)")
    revealed: bool = Field(description="The bidder has revealed")
    allocated: int | None = Field(description="Tonnes won (after the claim)")
    payment: int | None = Field(description="Paid for the tonnes won (fen)")
    refund: int | None = Field(description="Guarantee returned (fen)")
    forfeit: int | None = Field(description="Guarantee forfeited for not revealing (fen)")


class BidPage(Page[BidPublic]):
    """An auction's bids as the caller may see them."""

    sealed: bool = Field(
        description="The reveal phase has not ended: enterprises see only their own bid; the "
        "regulator and exchange see every bid without prices, quantities or demand"
    )
    phase: Phase = Field(description="Phase at the chain's latest block time")


def _columns(row: m.Base, names: dict[str, Any]) -> dict[str, Any]:
    return {name: getattr(row, name) for name in names if hasattr(row, name)}


def _auction(row: m.Auction, now: int, named: list[str], viewer: str) -> AuctionPublic:
    open_to_viewer = not row.restricted or viewer.lower() in {b.lower() for b in named}
    fields = _columns(row, AuctionPublic.model_fields) | {
        "phase": crud.auction_phase(row, now),
        "named_bidders": named,
        "may_bid": open_to_viewer and row.seller.lower() != viewer.lower(),
    }
    return AuctionPublic.model_validate(fields)


def _bid(row: m.Bid, shown: bool) -> BidPublic:
    fields = _columns(row, BidPublic.model_fields)
    if not shown:
        fields |= {"prices": None, "quantities": None, "demand": None}
    return BidPublic.model_validate(fields)


# ---------------------------------------------------------------------- routes


@router.get("/auctions", response_model=Page[AuctionPublic], responses=ERRORS)
def list_auctions(
    user: User,
    ctx: Ctx,
    db: Db,
    paging: Paging,
    status: Annotated[Status | None, Query(description="On-chain outcome")] = None,
    token_id: Annotated[int | None, Query(ge=0, le=TOKEN_ID_MAX, description="Id on sale")] = None,
    seller: Annotated[Address | None, Query(description="Seller")] = None,
    primary: Annotated[bool | None, Query(description="Primary (true) or secondary (false)")] = None,
) -> Page[AuctionPublic]:
    """Auctions, newest first, each with its phase at the chain's latest block time and who may
    bid in it (`named_bidders` of a restricted auction; `may_bid` for the signed-in account)."""
    rows, total = crud.list_auctions(
        db, paging=paging, status=status, token_id=token_id, seller=seller, primary=primary
    )
    now = ctx.chain.timestamp() if rows else 0
    named = crud.named_bidders(db, auction_ids=[r.auction_id for r in rows if r.restricted])
    items = [_auction(r, now, named.get(r.auction_id, []), user.address) for r in rows]
    return Page[AuctionPublic](items=items, total=total, limit=paging.limit, offset=paging.offset)


@router.get("/auctions/{auction_id}", response_model=AuctionPublic, responses=ERRORS)
def get_auction(auction_id: AuctionIdPath, user: User, ctx: Ctx, db: Db) -> AuctionPublic:
    """One auction with its phase at the chain's latest block time and who may bid in it."""
    row = crud.get_auction(db, auction_id=auction_id)
    named = crud.named_bidders(db, auction_ids=[auction_id]) if row.restricted else {}
    return _auction(row, ctx.chain.timestamp(), named.get(auction_id, []), user.address)


@router.get("/auctions/{auction_id}/bids", response_model=BidPage, responses=ERRORS)
def list_bids(auction_id: AuctionIdPath, user: User, ctx: Ctx, db: Db, paging: Paging) -> BidPage:
    """An auction's bids in commitment order; sealed bids are never shown before the reveal
    phase has ended.

    * Until `reveal_end` (phases `scheduled`, `commit`, `reveal`): an enterprise (any account but
      the regulator and the exchange) sees only its own bid, with its own schedule once it has
      revealed; the regulator and the exchange see every bidder, commitment and guarantee, but
      no prices, quantities or demand.
    * From `reveal_end` on: every signed-in account sees every bid and its revealed schedule.
    """
    auction = crud.get_auction(db, auction_id=auction_id)
    now = ctx.chain.timestamp()
    found = crud.list_bids(db, viewer=user, auction=auction, now=now, paging=paging)
    items = [_bid(r, found.shows_schedule(r)) for r in found.rows]
    return BidPage.model_validate({
        "items": items, "total": found.total, "limit": paging.limit, "offset": paging.offset,
        "sealed": found.sealed, "phase": crud.auction_phase(auction, now),
    })  # fmt: skip
