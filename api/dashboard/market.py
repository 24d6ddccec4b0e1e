"""Dashboard routes of the trading floor: the open orders a take from a level of the book fills
(ids only, never owners) and a day's listing trades per minute for the intraday chart."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api import market as q
from api.crud import INT64_MAX, TOKEN_ID_MAX
from api.deps import Db, User
from api.schemas import ERRORS
from readmodel import models as m

router = APIRouter(prefix="/dashboard/api/market", tags=["dashboard"])

TokenIdPath = Annotated[int, Path(ge=1, le=TOKEN_ID_MAX, description="Allowance or offset id")]
#: Trade modes of the official listing quote (block trades are excluded from it).
LISTING_MODES = ("call", "continuous", "take")
#: Most orders a level lists (a take fills one order; the page takes the first it may).
LEVEL_ORDERS = 20
MINUTE = 60


class LevelOrderPublic(BaseModel):
    """An open order at a price level: what a take from that level fills (no owner)."""

    order_id: int
    remaining: int = Field(description="Tonnes open")


class LevelOrdersPublic(BaseModel):
    """The open orders of one price level of a side, in time priority, the caller's own left out
    (a take of one's own order is refused as a self-trade)."""

    token_id: int
    side: Literal["buy", "sell"]
    price: int
    orders: list[LevelOrderPublic]


class MinutePublic(BaseModel):
    """One minute of a day's listing trades."""

    time: int = Field(description="Start of the minute (unix s)")
    open: int
    high: int
    low: int
    close: int = Field(description="Last trade's price in the minute")
    volume: int = Field(description="Tonnes")
    trades: int


class IntradayPublic(BaseModel):
    """A token id's listing trades of one day (call, continuous, take) per minute."""

    token_id: int
    day: str | None = Field(description="Trading day (CST); None when the token id has no listing trade")
    minutes: list[MinutePublic]


@router.get("/{token_id}/level", response_model=LevelOrdersPublic, responses=ERRORS)
def level_orders(
    token_id: TokenIdPath,
    user: User,
    db: Db,
    side: Annotated[Literal["buy", "sell"], Query(description="The side of the level")],
    price: Annotated[int, Query(ge=1, le=INT64_MAX, description="Fen per tonne")],
) -> LevelOrdersPublic:
    """The open orders at ``price`` on ``side`` (oldest first), not the caller's: the order a
    click-to-take from the best five levels fills. 404 when the token id is not listed."""
    q.get_rulebook(db, token_id=token_id)
    o = m.MarketOrder
    rows = db.execute(
        select(o.order_id, o.remaining)
        .where(o.token_id == token_id, o.status == "open", o.side == side, o.price == price,
               o.owner != user.address)
        .order_by(o.order_id)
        .limit(LEVEL_ORDERS)
    ).all()  # fmt: skip
    orders = [LevelOrderPublic(order_id=int(i), remaining=int(r)) for i, r in rows]
    return LevelOrdersPublic(token_id=token_id, side=side, price=price, orders=orders)


def _latest_listing_day(db: Session, token_id: int) -> str | None:
    t = m.MarketTrade
    found = db.execute(
        select(t.day).where(t.token_id == token_id, t.mode.in_(LISTING_MODES)).order_by(t.id.desc()).limit(1)
    ).scalar()
    return None if found is None else str(found)


@router.get("/{token_id}/intraday", response_model=IntradayPublic, responses=ERRORS)
def intraday(
    token_id: TokenIdPath,
    _user: User,
    db: Db,
    day: Annotated[
        str | None, Query(pattern=r"^\d{4}-\d{2}-\d{2}$", description="Trading day (CST); default the latest")
    ] = None,
) -> IntradayPublic:
    """The listing trades of ``day`` (default: the latest day with one) per minute: open, high,
    low, close, tonnes and trades, for the intraday price and volume chart."""
    q.get_rulebook(db, token_id=token_id)
    chosen = day or _latest_listing_day(db, token_id)
    if chosen is None:
        return IntradayPublic(token_id=token_id, day=None, minutes=[])
    t = m.MarketTrade
    minute = (t.block_time // MINUTE).label("minute")
    # per minute in SQL (a busy day has tens of thousands of trades): the range, the tonnes, the
    # count, and the first and last trade's id, whose prices open and close the minute
    rows = db.execute(
        select(minute, func.min(t.price), func.max(t.price), func.sum(t.quantity), func.count(),
               func.min(t.id), func.max(t.id))
        .where(t.token_id == token_id, t.day == chosen, t.mode.in_(LISTING_MODES))
        .group_by(minute)
        .order_by(minute)
    ).all()  # fmt: skip
    ends = {i for row in rows for i in (row[5], row[6])}
    found = db.execute(select(t.id, t.price).where(t.id.in_(ends))).all() if ends else []
    prices = {int(i): int(p) for i, p in found}
    minutes = [
        MinutePublic(time=int(start) * MINUTE, open=prices[first], high=int(high), low=int(low),
                     close=prices[last], volume=int(volume), trades=int(count))
        for start, low, high, volume, count, first, last in rows
    ]  # fmt: skip
    return IntradayPublic(token_id=token_id, day=chosen, minutes=minutes)
