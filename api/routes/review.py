"""Routes: review of doubtful monitoring data. The queue of an enterprise and month (readings
quality control excluded, readings a field alarm marked (with the alarm as the reason), sequence
gaps) with their decisions, the decisions recorded, the
EIP-712 decision a reviewer signs in its wallet, and the unsigned ``recordReview`` transaction
that anchors it. Only the regulator and the auditor assigned to the enterprise may review; the
enterprise reads its own queue."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from api import review
from api.access import account_filter, check_account, readable_accounts
from api.crud import Address
from api.deps import Ctx, Db, User
from api.errors import ForbiddenError
from api.routes.tx import REVERTS, BuiltPublic, CallPublic, UnsignedTx
from api.schemas import ERRORS
from api.tx import Built, build_intent
from chain.attestations import document_hash
from chain.review import ReviewDecision, recover_review_signer, review_digest, review_typed_data
from domain.errors import ReviewInputError
from domain.review import Action

router = APIRouter(tags=["review"])

_E1 = "0x71bE63f3384f5fb98995898A86B02Fb2426c5788"
_BYTES32 = r"^0x[0-9a-fA-F]{64}$"
_SIGNATURE = r"^0x[0-9a-fA-F]{130}$"
#: Decimal places a computed substitution keeps (a previous hour's mean).
_PLACES = 6

ActionName = Literal["accept", "reject", "substitute"]


class DecisionPublic(BaseModel):
    """A recorded review decision."""

    model_config = ConfigDict(from_attributes=True, json_schema_extra={"examples": [{
        "decision_id": "0x" + "d1" * 32, "reviewer": "0x90F79bf6EB2c4f870365E785982E1f101E93b906",
        "reviewer_role": 1, "enterprise": _E1, "subject": "0x" + "5a" * 32, "pollutant": "w01018",
        "month": 202701, "action": "substitute", "method": "prevhour", "value": "1234", "decimals": 2,
        "note_hash": "0x" + "00" * 32, "block_number": 120, "block_time": 1798761600,
        "tx_hash": "0x" + "7e" * 32,
    }]})  # fmt: skip

    decision_id: str = Field(description="Decision id (its EIP-712 digest); attestations cite it as evidence")
    reviewer: str = Field(description="The signing reviewer")
    reviewer_role: int = Field(description="1 regulator, 2 the enterprise's assigned auditor")
    enterprise: str = Field(description="The enterprise whose data was reviewed")
    subject: str = Field(description="The item decided: a reading's leaf, or the batch a gap precedes")
    pollutant: str = Field(description="HJ 212 factor code ('' for a gap)")
    month: int = Field(description="The data's month, YYYYMM")
    action: ActionName = Field(description="accept, reject or substitute")
    method: str = Field(description="Substitution method ('' unless substituted)")
    value: str = Field(description="Substituted value scaled by 10**decimals ('0' unless substituted)")
    decimals: int = Field(description="Decimal places of value")
    note_hash: str = Field(description="Hash of the reviewer's note")
    block_number: int = Field(description="Block of the ReviewDecisionRecorded event")
    block_time: int = Field(description="Its block time (unix s)")
    tx_hash: str = Field(description="The recording transaction")


class QueueItemPublic(BaseModel):
    """A doubtful item of the queue and its decision (null while open)."""

    model_config = ConfigDict(from_attributes=True)

    kind: Literal["reading", "gap"] = Field(
        description="An excluded reading, or a sequence gap before a batch"
    )
    subject: str = Field(
        description="Review subject: the reading's leaf, or the id of the batch after the gap"
    )
    enterprise: str = Field(description="The enterprise")
    device: str = Field(description="The device")
    batch_id: str = Field(description="The anchored batch")
    pollutant: str = Field(description="HJ 212 factor code ('' for a gap)")
    unit: str = Field(description="Unit ('' for a gap)")
    time: int = Field(description="Reading time, or the first time after the gap (unix s)")
    value: str | None = Field(description="The reading's value as decimal text (null for a gap)")
    flag: str | None = Field(description="HJ 212 data flag")
    exclusion: str | None = Field(
        description="invalid, outlier or fault (null for a gap, or a reading only an alarm marked)"
    )
    missing: int = Field(description="Readings missing in the gap (0 for a reading)")
    decision: DecisionPublic | None = Field(description="The recorded decision, null while open")
    reason: str | None = Field(
        default=None,
        description="The field alarm that marked the reading for review (facility_stopped,"
        " instrument_maintenance); null when none did",
    )
    alarm: str | None = Field(default=None, description="That alarm's uid (kind:key), null when none")


class QueuePublic(BaseModel):
    """An enterprise's review queue for one month."""

    enterprise: str = Field(description="The enterprise")
    month: int = Field(description="YYYYMM")
    open: int = Field(description="Items without a decision")
    decided: int = Field(description="Items with a decision")
    items: list[QueueItemPublic] = Field(description="Oldest first")


class ReviewScopePublic(BaseModel):
    """Whose doubtful data the caller may review."""

    all: bool = Field(description="Every enterprise (the regulator, the exchange)")
    enterprises: list[str] = Field(
        description="Otherwise these accounts: an auditor's assigned enterprises (and its own account)"
    )


@router.get("/review/scope", response_model=ReviewScopePublic, responses=ERRORS)
def review_scope(user: User, db: Db) -> ReviewScopePublic:
    """The enterprises whose queues the caller may open: every one for the regulator and the
    exchange, the assigned ones for an auditor (as indexed from ``AuditorAssigned``), its own for
    an enterprise; 403 without a role."""
    accounts = readable_accounts(db, user)
    return ReviewScopePublic(all=accounts is None, enterprises=sorted(accounts or ()))


@router.get("/review/queue", response_model=QueuePublic, responses=ERRORS)
def review_queue(
    user: User,
    db: Db,
    enterprise: Annotated[Address, Query(description="The enterprise")],
    month: Annotated[int, Query(ge=197001, le=999912, description="YYYYMM (UTC)")],
    open_only: Annotated[bool, Query(description="Only items without a decision")] = False,
) -> QueuePublic:
    """Doubtful data of an enterprise in a month: readings quality control excluded (invalid,
    outlier, fault flags) and sequence gaps, each with its recorded decision. The regulator and
    the exchange read every queue, an auditor those of its assigned enterprises, an enterprise
    its own (403 otherwise); 400 for a month that is not YYYYMM."""
    check_account(db, user, enterprise, "review queue")
    items = review.review_queue(db, enterprise=enterprise, month=month, open_only=open_only)
    decided = sum(1 for i in items if i.decision is not None)
    return QueuePublic(
        enterprise=enterprise, month=month, open=len(items) - decided, decided=decided,
        items=[QueueItemPublic.model_validate(i) for i in items],
    )  # fmt: skip


@router.get("/review/decisions", response_model=list[DecisionPublic], responses=ERRORS)
def review_decisions(
    user: User,
    db: Db,
    enterprise: Annotated[Address | None, Query(description="The enterprise")] = None,
    month: Annotated[int | None, Query(ge=197001, le=999912, description="YYYYMM")] = None,
) -> list[DecisionPublic]:
    """Recorded review decisions, newest first, of the enterprises the caller may read."""
    accounts = account_filter(db, user, enterprise, "review decisions")
    return [DecisionPublic.model_validate(d) for d in review.decisions(db, enterprises=accounts, month=month)]


class DecisionIn(BaseModel):
    """A decision to sign: the reviewer is the signed-in account."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "enterprise": _E1, "subject": "0x" + "5a" * 32, "pollutant": "w01018", "month": 202701,
        "action": "substitute", "method": "prevhour", "value": None, "note": "analyser drift, see log 17",
    }]})  # fmt: skip

    enterprise: str = Field(pattern=r"^0x[0-9a-fA-F]{40}$", description="The enterprise whose data it is")
    subject: str = Field(pattern=_BYTES32, description="The queue item's subject")
    pollutant: str = Field(max_length=8, description="HJ 212 factor code ('' for a gap)")
    month: int = Field(ge=197001, le=999912, description="The data's month, YYYYMM")
    action: ActionName = Field(description="accept, reject or substitute")
    method: str = Field(
        "", max_length=8, description="Substitution method: prevhour, permmax, linear, manual"
    )
    value: str | None = Field(
        None, pattern=r"^-?[0-9]+(\.[0-9]+)?$",
        description="Substituted value as decimal text; computed for prevhour when omitted, needed otherwise",
    )  # fmt: skip
    note: str = Field("", max_length=4000, description="The reviewer's reasons (its hash is signed)")


def _scaled(value: Decimal) -> tuple[int, int]:
    value = value.quantize(Decimal(1).scaleb(-_PLACES)).normalize()
    exponent = int(value.as_tuple().exponent)
    decimals = max(0, -exponent)
    return int(value.scaleb(decimals)), decimals


def decision_of(body: DecisionIn, reviewer: str, db: Db) -> ReviewDecision:
    """The :class:`ReviewDecision` of a request (a substitution's value computed or parsed)."""
    action = Action[body.action.upper()]
    value, decimals = 0, 0
    if action is Action.SUBSTITUTE:
        if not body.method:
            raise ReviewInputError("a substitution must name its method")
        stated = None if body.value is None else Decimal(body.value)
        value, decimals = _scaled(
            review.substitution(db, subject=body.subject, method=body.method, value=stated)
        )
    elif body.method or body.value is not None:
        raise ReviewInputError(f"{body.action} takes no method or value")
    return ReviewDecision(
        reviewer=reviewer, enterprise=body.enterprise, subject=bytes.fromhex(body.subject[2:]),
        pollutant=body.pollutant, month=body.month, action=action, method=body.method, value=value,
        decimals=decimals, note_hash=document_hash(body.note) if body.note else bytes(32),
    )  # fmt: skip


class DecisionTypedDataPublic(BaseModel):
    """The decision to sign with `eth_signTypedData_v4`, its digest (the decision id) and the
    body of POST /tx/review once signed."""

    typed_data: dict[str, Any] = Field(description="`{types, primaryType, domain, message}`")
    digest: str = Field(description="EIP-712 digest: the decision id on the ledger")
    relay: dict[str, Any] = Field(description="POST /tx/review body; fill in `signature`")


@router.post("/review/typed-data", response_model=DecisionTypedDataPublic, responses=ERRORS)
def review_typed_data_route(body: DecisionIn, ctx: Ctx, db: Db, user: User) -> DecisionTypedDataPublic:
    """The EIP-712 review decision the signed-in reviewer signs in its wallet. A `prevhour`
    substitution's value is the mean of the reading's valid values in the hour before it; other
    methods take the stated `value`. 403 unless the caller is the regulator or an auditor assigned
    to the enterprise; 400 for a decision breaking a review rule (a substitution without a
    method, a method that cannot compute a value, a method on an accept or reject)."""
    review.reviewer_role(db, viewer=user, enterprise=body.enterprise)
    decision = decision_of(body, user.address, db)
    ledger = ctx.ledger.address
    typed = review_typed_data(ctx.chain.chain_id, ledger, decision)
    relay = {**body.model_dump(), "value": typed["message"]["value"], "decimals": decision.decimals,
             "signature": "<the reviewer's signature, 0x-hex>"}  # fmt: skip
    return DecisionTypedDataPublic(
        typed_data=typed, digest="0x" + review_digest(ctx.chain.chain_id, ledger, decision).hex(), relay=relay
    )


class SignedDecisionIn(DecisionIn):
    """A decision as signed: the scaled value exactly as in the typed data, and the signature."""

    model_config = ConfigDict(extra="forbid")

    value: str | None = Field(None, pattern=r"^-?[0-9]+$", description="Scaled value as signed")
    decimals: int = Field(0, ge=0, le=77, description="Decimal places of value")
    signature: str = Field(pattern=_SIGNATURE, description="The reviewer's 65-byte signature, 0x-hex")


@router.post(
    "/tx/review",
    response_model=BuiltPublic,
    response_model_exclude_none=True,
    responses={**ERRORS, **REVERTS},
)
def build_review(body: SignedDecisionIn, ctx: Ctx, db: Db, user: User) -> BuiltPublic:
    """Build `EmissionsLedger.recordReview` of a decision the signed-in reviewer signed (the
    `relay` of POST /review/typed-data with `signature`), for its own wallet to send; relay it
    with POST /tx/relay. 403 unless the caller may review the enterprise and signed the decision;
    422 with the contract's error when it would revert (e.g. `LedgerReviewAlreadyDecided`)."""
    review.reviewer_role(db, viewer=user, enterprise=body.enterprise)
    decision = ReviewDecision(
        reviewer=user.address, enterprise=body.enterprise, subject=bytes.fromhex(body.subject[2:]),
        pollutant=body.pollutant, month=body.month, action=Action[body.action.upper()], method=body.method,
        value=int(body.value or 0), decimals=body.decimals,
        note_hash=document_hash(body.note) if body.note else bytes(32),
    )  # fmt: skip
    signature = bytes.fromhex(body.signature[2:])
    signer = recover_review_signer(ctx.chain.chain_id, ctx.ledger.address, decision, signature)
    if signer is None or signer.lower() != user.address.lower():
        raise ForbiddenError(
            f"the decision is signed by {signer}, not by the signed-in reviewer {user.address}"
        )
    message = review_typed_data(ctx.chain.chain_id, ctx.ledger.address, decision)["message"]
    built = build_intent(
        db, calls=ctx.calls, sender=user.address, contract="EmissionsLedger", function="recordReview",
        args=[message, body.signature], lifetime_s=ctx.settings.api_intent_minutes * 60,
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
