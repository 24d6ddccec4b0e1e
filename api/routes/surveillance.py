"""Routes: the market surveillance's alerts (``GET /market/alerts``) for the exchange and the
regulator: each finding of the scans after the close (wash trades, closing ramps, volume
concentration; :mod:`domain.surveillance`) with the accounts and the trades behind it, as the
surveillance job stored them in the read model (``market_alerts``). Other accounts get 403."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from api.crud import TOKEN_ID_MAX
from api.deps import Db, PageParams, Paging, User
from api.schemas import ERRORS, Page, paginate
from readmodel import models as m

router = APIRouter(prefix="/market", tags=["market"])

AlertKind = Literal["wash_trade", "closing_ramp", "volume_concentration"]
#: Roles that read the alerts.
READERS = ("EXCHANGE", "REGULATOR")


class AlertPublic(BaseModel):
    """A surveillance alert: what was found on which day and token id, the accounts concerned and
    the trades behind it (``GET /market/trades`` ids)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "id": 1, "kind": "wash_trade", "day": "2027-03-15", "token_id": 16844776,
        "accounts": ["0x71bE63f3384f5fb98995898A86B02Fb2426c5788",
                     "0xBcd4042DE499D14e55001CcbB24a551F3b954096"],
        "detail": "0x71bE… and 0xBcd4… share group Zhejiang Provincial Energy Group: 3 trades, 375 t",
        "trade_ids": [95420419, 101711873, 104857603],
        "figures": {"relation": "same_group", "trades": 3, "volume": 375, "value": 3606000},
        "raised_at": 1796713800,
    }]})  # fmt: skip

    id: int
    kind: AlertKind = Field(description="wash_trade, closing_ramp or volume_concentration")
    day: str = Field(description="Trading day (China Standard Time), YYYY-MM-DD")
    token_id: int
    accounts: list[str] = Field(description="The accounts concerned (checksummed)")
    detail: str = Field(description="One line for people")
    trade_ids: list[int] = Field(description="The trades behind it, in chain order")
    figures: dict[str, Any] = Field(
        description="The numbers it rests on: volumes in tonnes, prices in fen per tonne, shares in bps"
    )
    raised_at: int = Field(description="When the surveillance stored it (unix seconds)")


def list_alerts(
    db: Session,
    *,
    paging: PageParams,
    day: str | None = None,
    kind: str | None = None,
    token_id: int | None = None,
    account: str | None = None,
) -> tuple[list[m.MarketAlert], int]:
    """Stored alerts, newest day first, then by token id and id; filtered as given.

    Raises:
        QueryError: the offset is past the last row.
    """
    a = m.MarketAlert
    stmt: Select[Any] = select(a)
    if day is not None:
        stmt = stmt.where(a.day == day)
    if kind is not None:
        stmt = stmt.where(a.kind == kind)
    if token_id is not None:
        stmt = stmt.where(a.token_id == token_id)
    if account is not None:
        stmt = stmt.where(a.accounts.ilike(f"%{account.lower()}%"))
    return paginate(db, stmt.order_by(a.day.desc(), a.token_id, a.id), paging)


def _public(r: m.MarketAlert) -> dict[str, Any]:
    return {"id": r.id, "kind": r.kind, "day": r.day, "token_id": r.token_id,
            "accounts": r.accounts.split(","), "detail": r.detail, "trade_ids": list(r.trade_ids),
            "figures": dict(r.figures), "raised_at": r.raised_at}  # fmt: skip


@router.get("/alerts", response_model=Page[AlertPublic], responses=ERRORS)
def get_alerts(
    user: User,
    db: Db,
    paging: Paging,
    day: Annotated[
        str | None, Query(pattern=r"^\d{4}-\d{2}-\d{2}$", description="Trading day (CST), YYYY-MM-DD")
    ] = None,
    kind: Annotated[AlertKind | None, Query(description="Only this kind")] = None,
    token_id: Annotated[int | None, Query(ge=1, le=TOKEN_ID_MAX, description="Only this token id")] = None,
    account: Annotated[
        str | None, Query(pattern=r"^0x[0-9a-fA-F]{40}$", description="Only alerts naming this account")
    ] = None,
) -> Page[AlertPublic]:
    """The market surveillance's alerts (exchange and regulator only): each with its accounts and
    the trades behind it."""
    user.require(*READERS)
    rows, total = list_alerts(db, paging=paging, day=day, kind=kind, token_id=token_id, account=account)
    items = [AlertPublic.model_validate(_public(r)) for r in rows]
    return Page[AlertPublic](items=items, total=total, limit=paging.limit, offset=paging.offset)
