"""Routes: the exchange's market from the read model: rulebooks and bands, the anonymous book
(price levels, no owners), trades and daily quotes for every signed-in account; an account's own
orders, fills and block trade proposals (:mod:`api.access` says who sees what). Trading is done
with the account's wallet: ``POST /tx/market`` (or ``POST /tx/build`` with contract ``Market``)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import asdict
from typing import Annotated, Literal

import anyio
from fastapi import APIRouter, Depends, Header, Path, Query, Request
from fastapi.responses import StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field
from starlette.types import Receive, Scope, Send

from api import access
from api import market as q
from api.auth import session_address
from api.context import AppContext
from api.crud import INT64_MAX, TOKEN_ID_MAX, Address
from api.deps import Ctx, Db, PageParams, Paging, Principal, User, current_principal
from api.errors import AuthError
from api.schemas import ERRORS, Page
from api.stream import MarketStreams, StreamLease, market_streams
from domain.market import MAX_PRICE, MAX_QUANTITY, band
from domain.market import Side as DomainSide
from readmodel import models as m

router = APIRouter(prefix="/market", tags=["market"])

Side = Literal["buy", "sell"]
Mode = Literal["call", "continuous", "take", "block"]
QuoteMode = Literal["listing", "call", "continuous", "take", "block"]
OrderStatus = Literal["open", "filled", "cancelled", "expired"]
BlockStatus = Literal["pending", "accepted", "declined", "cancelled", "expired"]

_TOKEN = 16844776
_E0 = "0xBcd4042DE499D14e55001CcbB24a551F3b954096"
_E1 = "0x71bE63f3384f5fb98995898A86B02Fb2426c5788"
_HASH = "0x" + "5e" * 32

TokenIdPath = Annotated[
    int, Path(ge=1, le=TOKEN_ID_MAX, description="Allowance or offset id (AllowanceToken)")
]
TokenIdQuery = Annotated[int | None, Query(ge=1, le=TOKEN_ID_MAX, description="Only this token id")]
IdPath = Annotated[int, Path(ge=1, le=INT64_MAX)]
Day = Annotated[
    str | None,
    Query(pattern=r"^\d{4}-\d{2}-\d{2}$", description="Trading day (China Standard Time), YYYY-MM-DD"),
]
AccountQuery = Annotated[
    Address | None, Query(description="Only this account (yours by default; the regulator and exchange: any)")
]


# ---------------------------------------------------------------------- models


class RulebookBase(BaseModel):
    """A token id's trading rules, as the exchange set them."""

    reference_price: int = Field(description="Reference price (the previous close), fen per tonne")
    band_bps: int = Field(description="Listing band around the reference price (bps)")
    block_band_bps: int = Field(description="Block trade band around the reference price (bps)")
    fee_bps: int = Field(description="Fee per side per fill (bps of the value)")
    block_minimum: int = Field(
        description="Smallest block trade, and the bound listing orders stay under (t)"
    )
    call_start: int = Field(description="Opening call phase starts (seconds of the CST day)")
    open1: int = Field(description="Morning session opens: the call auction uncrosses (s of the CST day)")
    close1: int = Field(description="Morning session closes (s of the CST day)")
    open2: int = Field(description="Afternoon session opens (s of the CST day)")
    close2: int = Field(description="Afternoon session closes; unfilled orders expire (s of the CST day)")
    block_from: int = Field(description="Block trades from this time of the day (s of the CST day)")
    position_limit: int = Field(
        0, description="Most tonnes an account may hold plus have open to buy (0 = none)"
    )
    position_limit_bps: int = Field(
        0, description="The same as a share of the id's quantity in circulation (bps; 0 = none)"
    )
    governed: bool = Field(False, description="Changes to this rulebook need registry governance")


class RulebookPublic(RulebookBase):
    """A listed token id: its rules, the bands they give and whether trading is halted (by its own
    halt or the market-wide one)."""

    model_config = ConfigDict(from_attributes=True, json_schema_extra={"examples": [{
        "token_id": _TOKEN, "reference_price": 9850, "band_bps": 1000, "block_band_bps": 3000, "fee_bps": 3,
        "block_minimum": 100000, "call_start": 33300, "open1": 34200, "close1": 41400, "open2": 46800,
        "close2": 54000, "block_from": 46800, "band_lower": 8865, "band_upper": 10835,
        "block_band_lower": 6895, "block_band_upper": 12805, "position_limit": 0,
        "position_limit_bps": 500, "governed": True, "halted": True,
        "halt_reason": "settlement system maintenance", "halted_self": False, "halt_reason_self": None,
        "market_halted": True, "market_halt_reason": "settlement system maintenance",
        "listed_time": 1767225600, "updated_time": 1767225600,
    }]})  # fmt: skip

    token_id: int = Field(description="Allowance or offset id")
    band_lower: int = Field(description="Lowest listing price today (fen per tonne)")
    band_upper: int = Field(description="Highest listing price today (fen per tonne)")
    block_band_lower: int = Field(description="Lowest block trade price today")
    block_band_upper: int = Field(description="Highest block trade price today")
    halted: bool = Field(description="Trading halted by the exchange: this token id, or the whole market")
    halt_reason: str | None = Field(description="Why, while halted (the token id's own reason first)")
    halted_self: bool = Field(description="This token id halted by its own halt, whatever the market's")
    halt_reason_self: str | None = Field(description="Its own halt's reason, while it is halted on its own")
    market_halted: bool = Field(description="The whole market halted (token id 0), as GET /market/state")
    market_halt_reason: str | None = Field(description="The whole market's halt's reason, while halted")
    listed_time: int = Field(description="Block time of the first rulebook (unix s)")
    updated_time: int = Field(description="Block time of the last change (unix s)")


class LevelPublic(BaseModel):
    """One price level of a side of the book."""

    price: int = Field(description="Fen per tonne")
    quantity: int = Field(description="Tonnes open at this price")
    orders: int = Field(description="Open orders at this price")


class BookPublic(BaseModel):
    """The best price levels of each side of a token id's book, best first: aggregated, anonymous."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "token_id": _TOKEN, "levels": 5, "reference_price": 9850, "halted": False,
        "bids": [{"price": 9860, "quantity": 300, "orders": 2},
                 {"price": 9850, "quantity": 120, "orders": 1}],
        "asks": [{"price": 9880, "quantity": 200, "orders": 1}],
    }]})  # fmt: skip

    token_id: int
    levels: int = Field(description="Levels asked for per side")
    reference_price: int = Field(description="Reference price (fen per tonne)")
    halted: bool
    bids: list[LevelPublic] = Field(description="Buy levels, highest price first")
    asks: list[LevelPublic] = Field(description="Sell levels, lowest price first")


class TradePublic(BaseModel):
    """A fill. A side's account, order id and fee are shown only to who may read that account
    (both sides to the parties of a block trade, every side to the regulator and the exchange);
    otherwise they are null."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "id": 433061888, "token_id": _TOKEN, "price": 9860, "quantity": 100, "value": 986000,
        "mode": "continuous", "day": "2026-01-05", "block_number": 413, "block_time": 1767577800,
        "buyer": _E0, "buy_id": 12, "buyer_fee": 295, "seller": None, "sell_id": None, "seller_fee": None,
        "tx_hash": _HASH,
    }]})  # fmt: skip

    id: int = Field(description="The fill's position on the chain (block << 20 | log index)")
    token_id: int
    price: int = Field(description="Fen per tonne")
    quantity: int = Field(description="Tonnes")
    value: int = Field(description="price × quantity, fen")
    mode: Mode = Field(description="call (opening auction), continuous, take or block")
    day: str = Field(description="Trading day (CST)")
    block_number: int
    block_time: int
    buyer: str | None = None
    buy_id: int | None = Field(None, description="The buy order (for a take on a sell order: the take id)")
    buyer_fee: int | None = None
    seller: str | None = None
    sell_id: int | None = Field(None, description="The sell order (for a take on a buy order: the take id)")
    seller_fee: int | None = None
    tx_hash: str | None = Field(None, description="Shown with a side the caller may see")


class QuotePublic(BaseModel):
    """A token id's figures for one trading day and one mode; `listing` is the day's official
    quote (call, continuous and takes; block trades excluded), opening at the uncrossing price
    or the first listing trade's and closing at the half-up volume-weighted average price."""

    model_config = ConfigDict(from_attributes=True, json_schema_extra={"examples": [{
        "token_id": _TOKEN, "day": "2026-01-05", "mode": "listing", "open": 9860, "high": 9900, "low": 9820,
        "close": 9861, "last": 9880, "volume": 4200, "turnover": 41416200, "trades": 31, "fees": 24848,
        "first_time": 1767577800, "last_time": 1767596400,
    }]})  # fmt: skip

    token_id: int
    day: str = Field(description="Trading day (CST)")
    mode: QuoteMode
    open: int = Field(description="First trade's price")
    high: int
    low: int
    close: int = Field(description="Volume-weighted average price, rounded half up to the fen")
    last: int = Field(description="Last trade's price")
    volume: int = Field(description="Tonnes traded")
    turnover: int = Field(description="Value traded, fen")
    trades: int = Field(description="Fills")
    fees: int = Field(description="Fees of both sides, fen")
    first_time: int
    last_time: int


class OrderPublic(BaseModel):
    """A limit order of an account the caller may read, and what became of it."""

    model_config = ConfigDict(from_attributes=True, json_schema_extra={"examples": [{
        "order_id": 12, "token_id": _TOKEN, "owner": _E0, "side": "buy", "price": 9860, "quantity": 300,
        "remaining": 200, "filled_value": 986000, "fees": 295, "fills": 1, "status": "open",
        "call_phase": False, "day": "2026-01-05", "placed_block": 410, "placed_time": 1767577790,
        "tx_hash": _HASH, "closed_time": None,
    }]})  # fmt: skip

    order_id: int
    token_id: int
    owner: str
    side: Side
    price: int = Field(description="Limit price, fen per tonne")
    quantity: int = Field(description="Tonnes ordered")
    remaining: int = Field(description="Tonnes not filled (when cancelled or expired: those released)")
    filled_value: int = Field(description="Value of the fills, fen")
    fees: int = Field(description="The owner's fees on the fills, fen")
    fills: int
    status: OrderStatus
    call_phase: bool = Field(description="Placed in the opening call phase")
    day: str = Field(description="Trading day placed on (CST)")
    placed_block: int
    placed_time: int
    tx_hash: str
    closed_time: int | None = Field(description="Filled, cancelled or expired at (unix s)")


class OrderDetailPublic(OrderPublic):
    """An order with its fills (the counterparties shown as :class:`TradePublic` says)."""

    trades: list[TradePublic]


class BlockPublic(BaseModel):
    """A block trade proposal made by or addressed to an account the caller may read."""

    model_config = ConfigDict(from_attributes=True, json_schema_extra={"examples": [{
        "block_id": 40, "token_id": _TOKEN, "seller": _E1, "buyer": _E0, "price": 9700, "quantity": 120000,
        "status": "pending", "day": "2026-01-05", "proposed_block": 480, "proposed_time": 1767592800,
        "tx_hash": _HASH, "closed_time": None,
    }]})  # fmt: skip

    block_id: int
    token_id: int
    seller: str = Field(description="Proposing seller (its allowances are escrowed)")
    buyer: str = Field(description="The named buyer, who accepts or declines")
    price: int
    quantity: int
    status: BlockStatus
    day: str
    proposed_block: int
    proposed_time: int
    tx_hash: str
    closed_time: int | None


class ReferencePricePublic(BaseModel):
    """A reference price a token id was given: by its rulebook or posted (the previous close)."""

    model_config = ConfigDict(from_attributes=True, json_schema_extra={"examples": [{
        "token_id": _TOKEN, "price": 9861, "source": "posted", "day": "2026-01-05", "block_number": 530,
        "block_time": 1767597000,
    }]})  # fmt: skip

    token_id: int
    price: int = Field(description="Fen per tonne")
    source: Literal["rulebook", "posted"]
    day: str = Field(description="Trading day (CST) it was set on")
    block_number: int
    block_time: int


class UnclaimedPublic(BaseModel):
    """Escrow the market could not return to a suspended account, kept for it to withdraw."""

    model_config = ConfigDict(from_attributes=True, json_schema_extra={"examples": [{
        "account": _E0, "token_id": 0, "amount": 690345,
    }]})  # fmt: skip

    account: str
    token_id: int = Field(description="0: settlement cash (fen); else an allowance id (t)")
    amount: int


class MarketStatePublic(BaseModel):
    """The market as a whole: the market-wide halt (every token id) and the settlement agent."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "halted": True, "halt_reason": "settlement system maintenance",
        "settlement_agent": "0x70997970C51812dc3A010C7d01b50e0d17dc79C8", "updated_time": 1767225600,
    }]})  # fmt: skip

    halted: bool = Field(description="Every token id halted by the exchange (halt of token id 0)")
    halt_reason: str | None = Field(description="Why, while halted")
    settlement_agent: str | None = Field(description="The one account that posts reference prices")
    updated_time: int = Field(description="Block time of the last change (unix s; 0: never set)")


def _rulebook(row: m.MarketRulebook, state: m.MarketState) -> RulebookPublic:
    lower, upper = band(row.reference_price, row.band_bps)
    block_lower, block_upper = band(row.reference_price, row.block_band_bps)
    return RulebookPublic.model_validate({
        **{name: getattr(row, name) for name in RulebookPublic.model_fields if hasattr(row, name)},
        "band_lower": lower, "band_upper": upper,
        "block_band_lower": block_lower, "block_band_upper": block_upper,
        "halted": row.halted or state.halted,
        "halt_reason": row.halt_reason if row.halted else state.halt_reason,
        "halted_self": row.halted, "halt_reason_self": row.halt_reason if row.halted else None,
        "market_halted": state.halted, "market_halt_reason": state.halt_reason if state.halted else None,
    })  # fmt: skip


def _trade(readers: frozenset[str] | None, viewer: Principal, row: m.MarketTrade) -> TradePublic:
    buyer, seller = access.shown_trade_parties(readers, viewer, buyer=row.buyer, seller=row.seller,
                                               block=row.mode == "block")  # fmt: skip
    fields: dict[str, object] = {
        "id": row.id, "token_id": row.token_id, "price": row.price, "quantity": row.quantity,
        "value": row.value, "mode": row.mode, "day": row.day, "block_number": row.block_number,
        "block_time": row.block_time,
    }  # fmt: skip
    if buyer:
        fields |= {"buyer": row.buyer, "buy_id": row.buy_id, "buyer_fee": row.buyer_fee}
    if seller:
        fields |= {"seller": row.seller, "sell_id": row.sell_id, "seller_fee": row.seller_fee}
    if buyer or seller:
        fields["tx_hash"] = row.tx_hash
    return TradePublic.model_validate(fields)


def _page(items: Sequence[BaseModel], total: int, paging: PageParams) -> dict[str, object]:
    return {"items": items, "total": total, "limit": paging.limit, "offset": paging.offset}


# ---------------------------------------------------------------------- public market data


@router.get("/rulebooks", response_model=Page[RulebookPublic], responses=ERRORS)
def list_rulebooks(
    _user: User,
    db: Db,
    paging: Paging,
    halted: Annotated[bool | None, Query(description="Only halted (true) or trading (false) ids")] = None,
) -> Page[RulebookPublic]:
    """The token ids listed on the market, with their rules and today's bands."""
    rows, total = q.list_rulebooks(db, paging=paging, halted=halted)
    state = q.market_state(db)
    return Page[RulebookPublic].model_validate(_page([_rulebook(r, state) for r in rows], total, paging))


@router.get("/rulebooks/{token_id}", response_model=RulebookPublic, responses=ERRORS)
def get_rulebook(token_id: TokenIdPath, _user: User, db: Db) -> RulebookPublic:
    """One listed token id's rules and bands (404 when it is not listed)."""
    return _rulebook(q.get_rulebook(db, token_id=token_id), q.market_state(db))


@router.get("/state", response_model=MarketStatePublic, responses=ERRORS)
def get_market_state(_user: User, db: Db) -> MarketStatePublic:
    """The market-wide halt (`halt` of token id 0: nothing trades until `resume` of 0) and the
    settlement agent, the one poster of reference prices."""
    row = q.market_state(db)
    return MarketStatePublic(
        halted=row.halted, halt_reason=row.halt_reason, settlement_agent=row.settlement_agent,
        updated_time=row.updated_time,
    )  # fmt: skip


@router.get("/book/{token_id}", response_model=BookPublic, responses=ERRORS)
def get_book(
    token_id: TokenIdPath,
    _user: User,
    db: Db,
    levels: Annotated[int, Query(ge=1, le=100, description="Price levels per side (1..100)")] = 5,
) -> BookPublic:
    """The best `levels` price levels of each side, best first, aggregated from the open orders
    (the opening call's orders included): prices, tonnes and order counts, never an owner."""
    rules = q.get_rulebook(db, token_id=token_id)
    bids, asks = q.book(db, token_id=token_id, levels=levels)
    return BookPublic(
        token_id=token_id, levels=levels, reference_price=rules.reference_price,
        halted=rules.halted or q.market_state(db).halted,
        bids=[LevelPublic(price=b.price, quantity=b.quantity, orders=b.orders) for b in bids],
        asks=[LevelPublic(price=a.price, quantity=a.quantity, orders=a.orders) for a in asks],
    )  # fmt: skip


@router.get("/trades", response_model=Page[TradePublic], responses=ERRORS)
def list_trades(
    user: User,
    db: Db,
    paging: Paging,
    token_id: TokenIdQuery = None,
    mode: Annotated[Mode | None, Query(description="Only this trade mode")] = None,
    day_from: Day = None,
    day_to: Day = None,
) -> Page[TradePublic]:
    """Every trade, newest first: price, tonnes, value, mode and time. Accounts, order ids and
    fees only of the sides the caller may read (see `TradePublic`)."""
    rows, total = q.list_trades(
        db, paging=paging, token_id=token_id, mode=mode, day_from=day_from, day_to=day_to
    )
    readers = access.trade_readers(db, user)
    return Page[TradePublic].model_validate(_page([_trade(readers, user, r) for r in rows], total, paging))


@router.get("/quotes", response_model=Page[QuotePublic], responses=ERRORS)
def list_quotes(
    _user: User,
    db: Db,
    paging: Paging,
    token_id: TokenIdQuery = None,
    mode: Annotated[QuoteMode | None, Query(description="`listing` for the official quote")] = None,
    day_from: Day = None,
    day_to: Day = None,
) -> Page[QuotePublic]:
    """Daily quotes (open, high, low, close, last, volume, turnover, trades, fees) per token id
    and mode, newest day first."""
    rows, total = q.list_quotes(
        db, paging=paging, token_id=token_id, mode=mode, day_from=day_from, day_to=day_to
    )
    return Page[QuotePublic].model_validate(
        _page([QuotePublic.model_validate(r) for r in rows], total, paging)
    )


@router.get("/reference-prices", response_model=Page[ReferencePricePublic], responses=ERRORS)
def list_reference_prices(
    _user: User,
    db: Db,
    paging: Paging,
    token_id: TokenIdQuery = None,
    day_from: Day = None,
    day_to: Day = None,
) -> Page[ReferencePricePublic]:
    """The reference prices token ids were given (by their rulebook, or posted after a close),
    newest first."""
    rows, total = q.list_reference_prices(db, paging=paging, token_id=token_id, day_from=day_from,
                                          day_to=day_to)  # fmt: skip
    items = [ReferencePricePublic.model_validate(r) for r in rows]
    return Page[ReferencePricePublic].model_validate(_page(items, total, paging))


# ---------------------------------------------------------------------- an account's own


@router.get("/orders", response_model=Page[OrderPublic], responses=ERRORS)
def list_orders(
    user: User,
    db: Db,
    paging: Paging,
    account: AccountQuery = None,
    token_id: TokenIdQuery = None,
    side: Annotated[Side | None, Query(description="buy or sell")] = None,
    status: Annotated[OrderStatus | None, Query(description="Only orders in this state")] = None,
    day_from: Day = None,
    day_to: Day = None,
) -> Page[OrderPublic]:
    """The caller's orders (an auditor: also those of the enterprises assigned to it; the
    regulator and the exchange: every account's), newest first. 403 for another account's."""
    rows, total = q.list_orders(db, viewer=user, paging=paging, account=account, token_id=token_id, side=side,
                                status=status, day_from=day_from, day_to=day_to)  # fmt: skip
    return Page[OrderPublic].model_validate(
        _page([OrderPublic.model_validate(r) for r in rows], total, paging)
    )


@router.get("/orders/{order_id}", response_model=OrderDetailPublic, responses=ERRORS)
def get_order(order_id: IdPath, user: User, db: Db) -> OrderDetailPublic:
    """One of the caller's orders with its fills (403 for another account's, 404 for no such order)."""
    row = q.get_order(db, viewer=user, order_id=order_id)
    readers = access.trade_readers(db, user)
    trades = [_trade(readers, user, t) for t in q.order_fills(db, order=row)]
    return OrderDetailPublic.model_validate(
        {**OrderPublic.model_validate(row).model_dump(), "trades": trades}
    )


@router.get("/fills", response_model=Page[TradePublic], responses=ERRORS)
def list_fills(
    user: User,
    db: Db,
    paging: Paging,
    account: AccountQuery = None,
    token_id: TokenIdQuery = None,
    mode: Annotated[Mode | None, Query(description="Only this trade mode")] = None,
    side: Annotated[
        Side | None, Query(description="Only the account's buys or sells (needs `account`)")
    ] = None,
    day_from: Day = None,
    day_to: Day = None,
) -> Page[TradePublic]:
    """The trades the caller bought or sold in (an auditor: also the assigned enterprises'; the
    regulator and the exchange: every trade), newest first; the counterparty only for block
    trades (or to whoever may read it)."""
    rows, total = q.list_fills(db, viewer=user, paging=paging, account=account, token_id=token_id, mode=mode,
                               side=side, day_from=day_from, day_to=day_to)  # fmt: skip
    readers = access.trade_readers(db, user)
    return Page[TradePublic].model_validate(_page([_trade(readers, user, r) for r in rows], total, paging))


@router.get("/blocks", response_model=Page[BlockPublic], responses=ERRORS)
def list_blocks(
    user: User,
    db: Db,
    paging: Paging,
    account: AccountQuery = None,
    role: Annotated[
        Literal["seller", "buyer"] | None, Query(description="Made (seller) or received (buyer)")
    ] = None,
    status: Annotated[BlockStatus | None, Query(description="Only proposals in this state")] = None,
    token_id: TokenIdQuery = None,
) -> Page[BlockPublic]:
    """Block trade proposals the caller made or is named in as the buyer, newest first."""
    rows, total = q.list_blocks(db, viewer=user, paging=paging, account=account, role=role, status=status,
                                token_id=token_id)  # fmt: skip
    return Page[BlockPublic].model_validate(
        _page([BlockPublic.model_validate(r) for r in rows], total, paging)
    )


@router.get("/blocks/{block_id}", response_model=BlockPublic, responses=ERRORS)
def get_block(block_id: IdPath, user: User, db: Db) -> BlockPublic:
    """One block trade proposal the caller made or is named in (403 otherwise, 404 for no such proposal)."""
    return BlockPublic.model_validate(q.get_block(db, viewer=user, block_id=block_id))


@router.get("/unclaimed", response_model=Page[UnclaimedPublic], responses=ERRORS)
def list_unclaimed(user: User, db: Db, paging: Paging, account: AccountQuery = None) -> Page[UnclaimedPublic]:
    """Escrow the market keeps for the caller because it was suspended when its order was
    cancelled or expired (withdraw it with `POST /tx/market` `withdraw_unclaimed`)."""
    rows, total = q.list_unclaimed(db, viewer=user, paging=paging, account=account)
    return Page[UnclaimedPublic].model_validate(
        _page([UnclaimedPublic.model_validate(r) for r in rows], total, paging)
    )


# ---------------------------------------------------------------------- the trading screen's data


class RefusalPublic(BaseModel):
    """The contract's refusal of an action: its custom error and what it means."""

    error: str = Field(description="The Market's custom error, e.g. MarketPriceOutsideBand")
    detail: str = Field(description="The error with its arguments and its meaning")


class PreviewPublic(BaseModel):
    """A limit order before it is signed: what it costs and escrows, the band it must meet, the
    account's sellable allowances and position, and what the contract would answer now."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "value": 986000, "fee": 493, "escrow_cash": 986493, "escrow_allowances": 0, "band_lower": 9000,
        "band_upper": 11000, "sellable": 640, "position": 800, "position_limit": None,
        "refusal": {"error": "MarketPriceOutsideBand",
                    "detail": "MarketPriceOutsideBand(tokenId=16844776, price=12000, lower=9000, "
                              "upper=11000)"},
    }]})  # fmt: skip

    value: int = Field(description="price × quantity, fen")
    fee: int = Field(description="The account's fee on the whole quantity at this price, fen")
    escrow_cash: int = Field(description="Most cash the order takes: a buy's value + fee (0 for a sell)")
    escrow_allowances: int = Field(description="Allowances a sell escrows (0 for a buy), t")
    band_lower: int = Field(description="Lowest listing price today, fen per tonne")
    band_upper: int = Field(description="Highest listing price today, fen per tonne")
    sellable: int = Field(description="Allowances the account may sell today (T+1: held − bought today)")
    position: int = Field(description="Allowances held + open buy orders' remaining, t")
    position_limit: int | None = Field(description="The account's limit on this token id (null: none), t")
    refusal: RefusalPublic | None = Field(description="The contract's refusal of it now (null: accepted)")


class SellablePublic(BaseModel):
    """The caller's allowances of a listed token id and what it may sell today (T+1)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "token_id": _TOKEN, "balance": 800, "bought_today": 160, "sellable": 640,
    }]})  # fmt: skip

    token_id: int
    balance: int = Field(description="Allowances held (escrowed sell orders excluded), t")
    bought_today: int = Field(description="Allowances bought on the market today (any mode), t")
    sellable: int = Field(description="balance − bought today, never below 0, t")


@router.get("/preview", response_model=PreviewPublic, responses=ERRORS)
def preview_order(
    ctx: Ctx,
    user: User,
    token_id: Annotated[int, Query(ge=1, le=TOKEN_ID_MAX, description="Allowance or offset id")],
    side: Annotated[Side, Query(description="buy or sell")],
    price: Annotated[int, Query(ge=1, le=MAX_PRICE, description="Limit price, fen per tonne")],
    quantity: Annotated[int, Query(ge=1, le=MAX_QUANTITY, description="Tonnes")],
) -> PreviewPublic:
    """What a limit order of the caller would cost, escrow and meet before it signs it: value,
    fee, escrow, today's band, sellable allowances, position and limit, and the refusal the
    Market contract gives this very order now, by name (`MarketPriceOutsideBand`,
    `MarketInsufficientCash`, `MarketInsufficientAllowances` (T+1), `MarketSelfTrade`,
    `MarketHalted`, `MarketOutsideSession` ...). Enterprises only; 404 for an unlisted token id."""
    user.require("ENTERPRISE")
    preview = q.preview_order(
        ctx.market,
        account=user.address,
        token_id=token_id,
        side=DomainSide[side.upper()],
        price=price,
        quantity=quantity,
    )
    return PreviewPublic.model_validate(asdict(preview))


@router.get("/sellable", response_model=list[SellablePublic], responses=ERRORS)
def list_sellable(ctx: Ctx, user: User, db: Db, token_id: TokenIdQuery = None) -> list[SellablePublic]:
    """The caller's balance, today's purchases and sellable quantity (T+1) of each listed token id
    (or of `token_id`), read from the chain."""
    user.require()
    token_ids = [q.get_rulebook(db, token_id=token_id).token_id] if token_id else q.listed_token_ids(db)
    rows = q.sellable(ctx.market, account=user.address, token_ids=token_ids)
    return [SellablePublic.model_validate(asdict(r)) for r in rows]


#: Session token for ``/market/stream`` from the ``Authorization`` header (or ``?access_token=``).
_stream_bearer = HTTPBearer(auto_error=False, description="Session token from POST /auth/verify")
#: The client's reconnection delay the stream announces (``retry:``), milliseconds.
STREAM_RETRY_MS = 1000

_STREAM_DOC = """Server-Sent Events (`text/event-stream`):

* `event: market`, `id: <block>`, `data: {"block", "tokens", "trades", "orders", "halts"}`: what the
  blocks since the previous event changed in the market, once the indexer has them: the token ids
  touched, the trades (anonymised as in `GET /market/trades`), the caller's own order ids that
  were placed, filled, cancelled or expired, and halts (`{"token_id", "halted", "reason"}`; token
  id 0: the whole market).
* `event: ping`, `id: <block>`, `data: {"block"}`: on connecting and after
  `ETS_API_STREAM_PING_SECONDS` (15 s) without an event.
* `event: signed_out`, `id: <block>`, `data: {"block", "message"}`: the session was signed out
  (`POST /auth/logout`, from any API process) or expired; the stream ends with it. The session is
  read again every ping interval, so this comes within one interval of the sign-out or expiry.
"""


class _EventStream(StreamingResponse):
    """A market stream's response: gives its place back when it ends, however it ends."""

    def __init__(self, content: AsyncIterator[str], streams: MarketStreams, lease: StreamLease) -> None:
        headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        super().__init__(content, media_type="text/event-stream", headers=headers)
        self.streams, self.lease = streams, lease

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.streams.release(self.lease)


def _streams(request: Request) -> MarketStreams:
    streams: MarketStreams | None = getattr(request.app.state, "market_streams", None)
    if streams is None:  # an app run without its lifespan (a TestClient outside `with`)
        streams = request.app.state.market_streams = market_streams(request.app.state.ctx)
    return streams


def _sse(event: str, block: int, data: dict[str, object]) -> str:
    return f"id: {block}\nevent: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


def _market_event(ctx: AppContext, viewer: Principal, after: int, upto: int) -> tuple[int, str | None]:
    """(the last block covered, the `market` event of blocks after..upto or None when they did not
    touch the market), read in a worker thread."""
    with ctx.sessions() as db:
        most = ctx.settings.api_stream_max_trades
        changes = q.market_changes(db, viewer=viewer, after=after, upto=upto, max_trades=most)
        if changes is None:
            return upto, None
        readers = access.trade_readers(db, viewer)
        data: dict[str, object] = {
            "block": changes.block,
            "tokens": changes.tokens,
            "trades": [_trade(readers, viewer, t).model_dump(mode="json") for t in changes.trades],
            "orders": changes.orders,
            "halts": [{"token_id": t, "halted": h, "reason": r} for t, h, r in changes.halts],
        }
    return changes.block, _sse("market", changes.block, data)


def _session_ended(ctx: AppContext, token: str) -> str | None:
    """Why the stream's session no longer holds (signed out or expired), or None while it does;
    read from the session table itself (not this process's cache), in a worker thread."""
    with ctx.sessions() as db:
        try:
            session_address(db, token=token)
        except AuthError as exc:
            return str(exc)
    return None


async def _events(
    ctx: AppContext, streams: MarketStreams, viewer: Principal, start: int
) -> AsyncIterator[str]:
    """The events of one stream from block ``start`` until it is closed, times out, its session
    is signed out or expires (checked every ping interval), or the client goes."""
    settings = ctx.settings
    ping = settings.api_stream_ping_seconds
    deadline = anyio.current_time() + settings.api_stream_max_seconds
    last = start
    yield f"retry: {STREAM_RETRY_MS}\n" + _sse("ping", last, {"block": last})
    sent = checked = anyio.current_time()
    while not streams.closed:
        now = anyio.current_time()
        if now >= deadline:
            return
        if now - checked >= ping:
            ended = await anyio.to_thread.run_sync(_session_ended, ctx, viewer.token)
            if ended is not None:
                yield _sse("signed_out", last, {"block": last, "message": ended})
                return
            checked = anyio.current_time()
            continue
        block = await streams.wait(last, max(min(sent + ping, checked + ping, deadline) - now, 0))
        if block <= last and not streams.closed:  # woken by the clock: read the checkpoint itself
            block = await streams.refresh()
        while block > last and not streams.closed:
            last, event = await anyio.to_thread.run_sync(_market_event, ctx, viewer, last, block)
            if event is not None:
                yield event
                sent = anyio.current_time()
        if anyio.current_time() - sent >= ping:
            yield _sse("ping", last, {"block": last})
            sent = anyio.current_time()


@router.get(
    "/stream",
    response_class=StreamingResponse,
    responses={**ERRORS, 200: {"content": {"text/event-stream": {}}, "description": _STREAM_DOC}},
)
async def market_stream(
    request: Request,
    ctx: Ctx,
    db: Db,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_stream_bearer)],
    access_token: Annotated[
        str | None, Query(max_length=200, description="The session token, for EventSource (no headers)")
    ] = None,
    last_event_id: Annotated[
        int | None, Header(alias="Last-Event-ID", ge=-1, le=INT64_MAX, description="Resume after this block")
    ] = None,
) -> StreamingResponse:
    """The market as it changes, driven by the indexer: an event after every indexed range of
    blocks that touches the market (it follows within about a tenth of a second of the indexer's
    commit), pings to keep the connection alive, and resumption from `Last-Event-ID` (the last
    block received) without a gap. Sign in as for every route, or pass `?access_token=`. At most
    `ETS_API_STREAM_PER_USER` open streams per account (429 beyond); a stream ends after
    `ETS_API_STREAM_MAX_SECONDS` and the client reconnects."""
    if credentials is None and access_token:
        credentials = HTTPAuthorizationCredentials(scheme="Bearer", credentials=access_token)
    user = await current_principal(ctx, db, credentials)
    streams = _streams(request)
    lease = streams.open(user.address)
    try:
        current = await streams.refresh()
    except BaseException:
        streams.release(lease)
        raise
    start = current if last_event_id is None else last_event_id
    return _EventStream(_events(ctx, streams, user, start), streams, lease)
