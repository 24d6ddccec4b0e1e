"""Routes: the government reserve (balances per pollutant and vintage from its movements: plan
feeds, sales to projects, confiscations, closure sweeps), its offers to projects (an enterprise
reads its own; the regulator and the exchange all), the closures (关停) register, the
POST /tx/build bodies a project signs to accept an offer (approve the payment, accept), and
POST /tx/reserve, the reserve's typed builder (the project's approve and accept, the regulator's
feed, offer and withdraw)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field, RootModel
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from api.crud import Address
from api.deps import Ctx, Db, Paging, Principal, User
from api.errors import ConflictError, NotFoundError
from api.routes.tx import REVERTS, BuiltPublic, built_public
from api.schemas import ERRORS, Page
from api.tx import build_intent
from domain.tokens import POLLUTANT_SYMBOLS, Kind, encode_id, pollutant_code
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
    reserve = _reserve_address(ctx)
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


def _reserve_address(ctx: Ctx) -> str:
    record = ctx.manifest.contracts.get("GovernmentReserve")
    if record is None:
        raise NotFoundError("no GovernmentReserve in the deployment")
    return record.address


def _open_offer_of(db: Session, user: Principal, offer_id: int) -> m.ReserveOffer:
    """The signed-in project's open offer ``offer_id`` (404 when it is not offered to it, 409 when
    it is no longer open)."""
    offer = db.get(m.ReserveOffer, offer_id)
    if offer is None or offer.project.lower() != user.address.lower():
        raise NotFoundError(f"no offer {offer_id} to {user.address}")
    if offer.status != "open":
        raise ConflictError(f"offer {offer_id} is {offer.status}, not open")
    return offer


# ---------------------------------------------------------------------- POST /tx/reserve

_ID = Field(ge=1, le=2**63 - 1)
_PROJECT = "0x15d34AAf54267DB7D7c367839AAf71A00a2C6A65"


class _ReserveAction(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ApproveReservePayment(_ReserveAction):
    """The project approves the reserve to take its open offer's payment (settlement cash)."""

    action: Literal["approve"]
    offer_id: int = _ID


class AcceptReserveOffer(_ReserveAction):
    """The project accepts its open offer: pays the treasury and receives the allowances."""

    action: Literal["accept"]
    offer_id: int = _ID


class FeedReserve(_ReserveAction):
    """The regulator mints an annual plan's reserve share of a pollutant into the reserve."""

    action: Literal["feed"]
    annual_plan_id: int = _ID
    pollutant: str | int = Field(description="Symbol (`SO2`, `NOx` ...) or code")


class OfferFromReserve(_ReserveAction):
    """The regulator offers allowances of one pollutant and vintage to a project at the guide price."""

    action: Literal["offer"]
    project: Address = Field(description="The project's (enterprise's) account")
    pollutant: str | int = Field(description="Symbol (`SO2`, `NOx` ...) or code")
    vintage: int = Field(ge=2000, le=2200)
    quantity: int = Field(ge=1, le=2**64 - 1, description="Tonnes")
    days: int = Field(7, ge=1, le=366, description="Days the project has to accept, from the chain's time")


class WithdrawReserveOffer(_ReserveAction):
    """The regulator withdraws an open (or expired) offer."""

    action: Literal["withdraw"]
    offer_id: int = _ID


ReserveActionRequest = Annotated[
    ApproveReservePayment | AcceptReserveOffer | FeedReserve | OfferFromReserve | WithdrawReserveOffer,
    Field(discriminator="action"),
]


class ReserveBuildRequest(RootModel[ReserveActionRequest]):
    """A government reserve action with typed fields (`action` picks the shape)."""

    model_config = ConfigDict(json_schema_extra={"examples": [
        {"action": "approve", "offer_id": 1},
        {"action": "accept", "offer_id": 1},
        {"action": "feed", "annual_plan_id": 2, "pollutant": "SO2"},
        {"action": "offer", "project": _PROJECT, "pollutant": "SO2", "vintage": 2027, "quantity": 500,
         "days": 7},
        {"action": "withdraw", "offer_id": 1},
    ]})  # fmt: skip


def _reserve_call(
    action: ReserveActionRequest, ctx: Ctx, db: Session, user: Principal
) -> tuple[str, str, list[Any]]:
    """(contract, function, arguments) of ``action`` for the signed-in account."""
    reserve = _reserve_address(ctx)
    if isinstance(action, ApproveReservePayment | AcceptReserveOffer):
        user.require("ENTERPRISE")
        offer = _open_offer_of(db, user, action.offer_id)
        if isinstance(action, ApproveReservePayment):
            return "SettlementToken", "approve", [reserve, offer.payment]
        return "GovernmentReserve", "accept", [action.offer_id]
    user.require("REGULATOR")
    if isinstance(action, FeedReserve):
        return "GovernmentReserve", "feed", [action.annual_plan_id, pollutant_code(action.pollutant)]
    if isinstance(action, OfferFromReserve):
        token_id = int(encode_id(Kind.ALLOWANCE, pollutant_code(action.pollutant), action.vintage))
        deadline = ctx.chain.timestamp() + action.days * 86_400
        return "GovernmentReserve", "offer", [action.project, token_id, action.quantity, deadline]
    return "GovernmentReserve", "withdrawOffer", [action.offer_id]


@router.post("/tx/reserve", response_model=BuiltPublic, response_model_exclude_none=True,
             responses={**ERRORS, **REVERTS})  # fmt: skip
def build_reserve(body: ReserveBuildRequest, ctx: Ctx, db: Db, user: User) -> BuiltPublic:
    """Build a government reserve transaction for the signed-in account's wallet from typed fields
    (the same intent as POST /tx/build; sign it and relay it through POST /tx/relay).

    The project (ENTERPRISE role) accepts its open offer in two transactions, each mined before the
    next is built: `approve` (SettlementToken.approve of the offer's payment to the reserve), then
    `accept` (pays the treasury and receives the allowances). The regulator (REGULATOR role)
    `feed`s the reserve from an annual plan, `offer`s a quantity to a project at the guide price
    (deadline `days` from the chain's time) and `withdraw`s an offer. 403 without the role; 404
    for an offer that is not the caller's or no reserve deployed; 409 for an offer no longer open;
    400 for an unknown pollutant; 422 with the contract's custom error when the call would revert
    now (e.g. `ERC20InsufficientAllowance` before the approval, `ReserveInsufficient`,
    `ReserveNotProject`, `ReserveNothingToFeed`, `ReserveOfferNotOpen`)."""
    user.require()
    contract, function, args = _reserve_call(body.root, ctx, db, user)
    built = build_intent(
        db, calls=ctx.calls, sender=user.address, contract=contract, function=function, args=args,
        lifetime_s=ctx.settings.api_intent_minutes * 60,
    )  # fmt: skip
    return built_public(built)
