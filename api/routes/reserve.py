"""Routes: the government reserve (balances per pollutant and vintage from its movements: plan
feeds, sales to projects, confiscations, closure sweeps), its offers to projects (an enterprise
reads its own; the regulator and the exchange all), the closures (关停) register, and the
POST /tx/build bodies a project signs to accept an offer (approve the payment, accept)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import case, func, select

from api.deps import Ctx, Db, Paging, User
from api.errors import NotFoundError
from api.schemas import ERRORS, Page
from domain.tokens import POLLUTANT_SYMBOLS
from readmodel import models as m

router = APIRouter(tags=["reserve"])

OfferStatus = Literal["open", "accepted", "withdrawn"]


class ReserveBalancePublic(BaseModel):
    """The reserve's allowances of one token id, and how they came and went (t)."""

    token_id: int
    pollutant: str = Field(description="Pollutant symbol")
    vintage: int
    balance: int = Field(description="Held by the reserve now: fed + confiscated + swept − sold")
    fed: int = Field(description="From annual plans' reserve shares")
    sold: int = Field(description="Sold to projects at the guide price")
    confiscated: int = Field(description="Confiscated by governance")
    swept: int = Field(description="Swept from closed enterprises")


class ReserveOfferPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    offer_id: int
    project: str
    token_id: int
    quantity: int = Field(description="t")
    price: int = Field(description="Guide price, fen per t")
    payment: int = Field(description="quantity × price, fen")
    annual_plan_id: int
    deadline: int = Field(description="Last moment to accept (unix s)")
    status: str = Field(description="open, accepted or withdrawn")
    offered_time: int
    decided_time: int | None
    tx_hash: str | None = Field(description="The accepting transaction")


class SweptPublic(BaseModel):
    token_id: int
    amount: int


class ClosurePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    closure_id: int
    enterprise: str
    enterprise_name: str | None = None
    permit_id: int = Field(description="The permit cancelled (0: none)")
    devices: int = Field(description="Devices unbound")
    reason_code: int
    reason: str
    swept: list[SweptPublic] = Field(description="Allowances swept into the reserve")
    block_time: int
    tx_hash: str


class BuildBodyPublic(BaseModel):
    """A POST /tx/build body."""

    contract: str
    function: str
    args: dict[str, Any]


@router.get("/reserve/balances", response_model=list[ReserveBalancePublic], responses=ERRORS)
def reserve_balances(
    user: User,
    db: Db,
    pollutant: Annotated[int | None, Query(ge=1, le=255, description="Pollutant code")] = None,
    vintage: Annotated[int | None, Query(ge=2000, le=2200)] = None,
) -> list[ReserveBalancePublic]:
    """The reserve's balances per pollutant and vintage (every signed-in participant)."""
    user.require()
    mv = m.ReserveMovement

    def total(kind: str) -> Any:
        return func.sum(case((mv.kind == kind, mv.amount), else_=0))

    q = select(
        mv.token_id, mv.pollutant, mv.vintage, func.sum(mv.amount), total("fed"), total("sold"),
        total("confiscated"), total("closure"),
    ).group_by(mv.token_id, mv.pollutant, mv.vintage)  # fmt: skip
    if pollutant is not None:
        q = q.where(mv.pollutant == pollutant)
    if vintage is not None:
        q = q.where(mv.vintage == vintage)
    return [
        ReserveBalancePublic(
            token_id=int(t),
            pollutant=POLLUTANT_SYMBOLS.get(int(p), str(p)),
            vintage=int(v),
            balance=int(b),
            fed=int(f),
            sold=-int(s),
            confiscated=int(c),
            swept=int(w),
        )
        for t, p, v, b, f, s, c, w in db.execute(q.order_by(mv.pollutant, mv.vintage))
    ]


@router.get("/reserve/offers", response_model=Page[ReserveOfferPublic], responses=ERRORS)
def reserve_offers(
    user: User,
    db: Db,
    paging: Paging,
    status: Annotated[OfferStatus | None, Query(description="open, accepted or withdrawn")] = None,
) -> Page[ReserveOfferPublic]:
    """Offers (sales) from the reserve, newest first: a project reads its own; the regulator and
    the exchange all."""
    user.require("ENTERPRISE", "REGULATOR", "EXCHANGE")
    o = m.ReserveOffer
    q = select(o)
    if not user.sees_everything:
        q = q.where(func.lower(o.project) == user.address.lower())
    if status is not None:
        q = q.where(o.status == status)
    total = int(db.execute(select(func.count()).select_from(q.subquery())).scalar_one())
    rows = db.execute(q.order_by(o.offer_id.desc()).limit(paging.limit).offset(paging.offset)).scalars()
    items = [ReserveOfferPublic.model_validate(r) for r in rows]
    return Page[ReserveOfferPublic](items=items, total=total, limit=paging.limit, offset=paging.offset)


@router.get("/reserve/offers/{offer_id}/calls", response_model=list[BuildBodyPublic], responses=ERRORS)
def reserve_offer_calls(
    user: User, db: Db, ctx: Ctx, offer_id: Annotated[int, Path(ge=1, le=2**63 - 1)]
) -> list[BuildBodyPublic]:
    """The POST /tx/build bodies the project signs in its wallet, in order, to accept an open
    offer: SettlementToken.approve of the payment to the reserve, then GovernmentReserve.accept
    (pays the treasury and receives the allowances in one transaction). The offer's project only."""
    user.require("ENTERPRISE")
    offer = db.get(m.ReserveOffer, offer_id)
    if offer is None or offer.project.lower() != user.address.lower():
        raise NotFoundError(f"no offer {offer_id} to {user.address}")
    if offer.status != "open":
        raise NotFoundError(f"offer {offer_id} is {offer.status}, not open")
    record = ctx.manifest.contracts.get("GovernmentReserve")
    if record is None:
        raise NotFoundError("no GovernmentReserve in the deployment")
    reserve = record.address
    return [
        BuildBodyPublic(contract="SettlementToken", function="approve",
                        args={"spender": reserve, "value": offer.payment}),
        BuildBodyPublic(contract="GovernmentReserve", function="accept", args={"offerId": offer_id}),
    ]  # fmt: skip


@router.get("/reserve/closures", response_model=Page[ClosurePublic], responses=ERRORS)
def reserve_closures(user: User, db: Db, paging: Paging) -> Page[ClosurePublic]:
    """Closures (关停) executed by governance, newest first (every signed-in participant)."""
    user.require()
    c, e = m.Closure, m.Participant
    q = select(c, e.name).outerjoin(e, e.address == c.enterprise)
    total = int(db.execute(select(func.count()).select_from(c)).scalar_one())
    rows = db.execute(q.order_by(c.closure_id.desc()).limit(paging.limit).offset(paging.offset))
    items = []
    for row, name in rows:
        public = ClosurePublic.model_validate(row)
        public.enterprise_name = name
        items.append(public)
    return Page[ClosurePublic](items=items, total=total, limit=paging.limit, offset=paging.offset)
