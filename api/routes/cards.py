"""Routes: IC cards tied to rights. The cards (an enterprise reads its own; the regulator all),
a card's balance and month-end statement from the read model, and the unsigned transactions of
the enterprise's load or recharge (and the one-time approval of the cards contract on the
AllowanceToken) to sign in its wallet and relay through POST /tx/relay."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select

from api.access import account_filter, check_account
from api.deps import Ctx, Db, Paging, User
from api.errors import NotFoundError
from api.routes.tx import REVERTS, BuiltPublic, CallPublic, UnsignedTx
from api.schemas import ERRORS, Page
from api.tx import Built, build_intent
from domain.tokens import Kind, encode_id
from readmodel import models as m

router = APIRouter(prefix="/cards", tags=["cards"])

Account = Annotated[str | None, Query(pattern=r"^0x[0-9a-fA-F]{40}$", description="Enterprise address")]
CardNumber = Annotated[int, Path(ge=1, le=2**63 - 1, description="The card number")]


class CardPublic(BaseModel):
    """A card: ``status`` active, replaced or revoked; ``account`` the first card's number (kept
    by replacements, so committed months carry over)."""

    model_config = ConfigDict(from_attributes=True)

    card: int = Field(examples=[3310020001])
    enterprise: str
    device: str
    mn: str = Field(description="HJ 212 MN code of the device")
    account: int
    status: str = Field(description="active, replaced or revoked")
    replaced_by: int | None
    issued_time: int
    updated_time: int


class CardMonthPublic(BaseModel):
    """A card's month for one allowance id: committed by loads and recharges; at settlement the
    metered use, used (held for surrender, capped at committed) and returned."""

    model_config = ConfigDict(from_attributes=True)

    token_id: int
    pollutant: int
    vintage: int
    month: int = Field(ge=1, le=12)
    committed: int = Field(description="t committed")
    loads: int = Field(description="Loads and recharges")
    settled: bool
    metered: int | None
    used: int | None
    returned: int | None


class CardMovementPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    kind: str = Field(description="load, settle (the returned part) or release")
    card: int | None
    token_id: int
    month: int | None
    amount: int
    block_time: int
    tx_hash: str


class CardStatementPublic(BaseModel):
    """A card's statement: the card, its account's months (balance: the open months' committed
    amounts) and the movements."""

    card: CardPublic
    months: list[CardMonthPublic]
    movements: list[CardMovementPublic]


class LoadBody(BaseModel):
    """A month's load or a recharge: allowances of ``pollutant`` vintage ``year`` committed."""

    card: int = Field(ge=1, le=2**64 - 1, examples=[3310020001])
    pollutant: str = Field(examples=["SO2"], description="SO2, NOx, COD, NH3-N, PM or CO2")
    year: int = Field(ge=2000, le=2200, examples=[2027], description="The month's year: the vintage")
    month: int = Field(ge=1, le=12, examples=[3])
    amount: int = Field(ge=1, le=2**128 - 1, examples=[300], description="t to commit")


@router.get("", response_model=Page[CardPublic], responses=ERRORS)
def list_cards(db: Db, user: User, paging: Paging, enterprise: Account = None) -> Page[CardPublic]:
    """Cards: an enterprise's own, the regulator's (and the exchange's) all."""
    accounts = account_filter(db, user, enterprise, "cards")
    query = select(m.Card)
    if accounts is not None:
        query = query.where(m.Card.enterprise.in_(accounts))
    total = db.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = db.scalars(query.order_by(m.Card.card).limit(paging.limit).offset(paging.offset))
    items = [CardPublic.model_validate(r) for r in rows]
    return Page(items=items, total=total, limit=paging.limit, offset=paging.offset)


@router.get("/{card}/statement", response_model=CardStatementPublic, responses=ERRORS)
def card_statement(card: CardNumber, db: Db, user: User) -> CardStatementPublic:
    """A card's balance and month-end statement (its enterprise, or the regulator)."""
    row = db.get(m.Card, card)
    if row is None:
        raise NotFoundError(f"no card {card}")
    check_account(db, user, row.enterprise, "card statement")
    months = db.scalars(
        select(m.CardMonth)
        .where(m.CardMonth.account == row.account)
        .order_by(m.CardMonth.token_id, m.CardMonth.month)
    )
    cards = select(m.Card.card).where(m.Card.account == row.account)
    moves = db.scalars(
        select(m.CardMovement)
        .where(m.CardMovement.card.in_(cards))
        .order_by(m.CardMovement.block_number, m.CardMovement.log_index)
    )
    return CardStatementPublic(
        card=CardPublic.model_validate(row),
        months=[CardMonthPublic.model_validate(x) for x in months],
        movements=[CardMovementPublic.model_validate(x) for x in moves],
    )


@router.post("/tx/load", response_model=BuiltPublic, response_model_exclude_none=True,
             responses={**ERRORS, **REVERTS})  # fmt: skip
def build_load(body: LoadBody, ctx: Ctx, db: Db, user: User) -> BuiltPublic:
    """The unsigned ``EmissionCards.load`` for the signed-in enterprise's wallet (a load, or a
    recharge when the month has a load): 422 with the decoded error when the contract would
    refuse it (e.g. `CardLoadExceedsHoldings`, `CardNotHolder`, `CardNotActive`, or the token's
    `ERC1155MissingApprovalForAll` before POST /cards/tx/approve)."""
    user.require("ENTERPRISE")
    token_id = int(encode_id(Kind.ALLOWANCE, body.pollutant, body.year))
    built = build_intent(
        db, calls=ctx.calls, sender=user.address, contract="EmissionCards", function="load",
        args=[body.card, token_id, body.month, body.amount], lifetime_s=ctx.settings.api_intent_minutes * 60,
    )  # fmt: skip
    return _public(built)


@router.post("/tx/approve", response_model=BuiltPublic, response_model_exclude_none=True,
             responses={**ERRORS, **REVERTS})  # fmt: skip
def build_approve(ctx: Ctx, db: Db, user: User) -> BuiltPublic:
    """The unsigned ``AllowanceToken.setApprovalForAll(EmissionCards, true)``: once, before the
    first load (the cards contract takes the committed allowances into custody)."""
    user.require("ENTERPRISE")
    ctx.calls.action("EmissionCards", "load")  # 400 when the cards are not deployed
    cards = ctx.manifest.address("EmissionCards")
    built = build_intent(
        db, calls=ctx.calls, sender=user.address, contract="AllowanceToken", function="setApprovalForAll",
        args=[cards, True], lifetime_s=ctx.settings.api_intent_minutes * 60,
    )  # fmt: skip
    return _public(built)


def _public(built: Built) -> BuiltPublic:
    spec = built.action
    return BuiltPublic(
        intent_id=built.intent.intent_id,
        tx=UnsignedTx.model_validate(built.tx),
        action=CallPublic(
            contract=spec.contract, function=spec.function, signature=spec.signature, selector=spec.selector,
            notice=spec.notice, args=built.call.args,
        ),
        expires_at=built.intent.expires_at,
        sign_with="eth_sendTransaction or eth_signTransaction in the wallet",
    )  # fmt: skip
