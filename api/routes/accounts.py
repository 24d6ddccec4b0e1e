"""Routes: enterprise account applications. Any signed-in account (an applicant has no role yet)
gets the EIP-712 message to sign, submits it, answers a request for information and follows its
own applications to the executed governance proposal; the exchange and the regulator read every
application and review it (an acceptance returns the propose transaction for the reviewer's
wallet, to relay through POST /tx/relay)."""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from api import accounts as acc
from api.deps import Ctx, Db, Paging, User
from api.schemas import ERRORS, Page, paginate
from api.tx import Built
from chain.applications import application_digest, application_typed_data
from domain.accounts import (
    CONTACT_FIELD_MAX,
    CONTACT_MAX,
    DOCUMENTS_MAX,
    REASON_MAX,
    STATES,
    ApplicationFields,
    Contact,
)
from readmodel import models as m

router = APIRouter(prefix="/accounts", tags=["accounts"])

_CODE = "91370100MA3C8WWK6T"
IdPath = Annotated[str, Path(max_length=36, description="Application id")]


class ContactBody(BaseModel):
    """A person to reach about the application."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=CONTACT_FIELD_MAX)
    phone: str = Field(min_length=1, max_length=CONTACT_FIELD_MAX)
    email: str = Field(min_length=1, max_length=CONTACT_FIELD_MAX)


class ApplicationBody(BaseModel):
    """What the applicant signs: the account is the signed-in wallet's."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "kind": "register", "credit_code": _CODE, "name": "Jinan Clean Power Co.", "region_code": 370102,
        "industry_code": "D4411", "latitude_e6": 36_651_000, "longitude_e6": 117_120_000,
        "contacts": [{"name": "Li Wei", "phone": "+86 531 0000 0000", "email": "li.wei@example.cn"}],
        "documents": ["0x" + "ab" * 32], "issued_at": 1796083200,
    }]})  # fmt: skip

    kind: Literal["register", "change"] = Field(description="A new enterprise, or a change of its profile")
    credit_code: str = Field(min_length=1, max_length=40, description="Unified social credit code (GB 32100)")
    name: str = Field(min_length=1, max_length=400)
    region_code: int = Field(ge=0, le=999_999, description="GB/T 2260 region code")
    industry_code: str = Field(min_length=1, max_length=8, description="GB/T 4754 industry code")
    latitude_e6: int = Field(ge=-90_000_000, le=90_000_000, description="Micro-degrees (WGS 84)")
    longitude_e6: int = Field(ge=-180_000_000, le=180_000_000, description="Micro-degrees (WGS 84)")
    contacts: list[ContactBody] = Field(min_length=1, max_length=CONTACT_MAX)
    documents: list[str] = Field(max_length=DOCUMENTS_MAX, description="keccak-256 of each document, 0x-hex")
    issued_at: int = Field(ge=0, le=2**63 - 1, description="When signed (unix s)")

    def fields(self, account: str) -> ApplicationFields:
        return ApplicationFields(
            kind=self.kind, account=account, credit_code=self.credit_code, name=self.name,
            region_code=self.region_code, industry_code=self.industry_code, latitude_e6=self.latitude_e6,
            longitude_e6=self.longitude_e6, contacts=tuple(Contact(**vars(c)) for c in self.contacts),
            documents=tuple(self.documents), issued_at=self.issued_at,
        )  # fmt: skip


class SignedApplication(ApplicationBody):
    """The application with the wallet's EIP-712 signature of it."""

    signature: str = Field(pattern=r"^0x[0-9a-fA-F]*$", max_length=200)


class ApplicationTypedDataPublic(BaseModel):
    """The message to sign with ``eth_signTypedData_v4`` and its digest."""

    typed_data: dict[str, Any]
    digest: str


class ContactPublic(BaseModel):
    name: str
    phone: str
    email: str


class HistoryPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    action: str = Field(description="submitted, resubmitted, request_info, refuse or accept")
    actor: str
    reason: str | None
    time: int


class AccountApplicationPublic(BaseModel):
    """An application with its state (after acceptance, its governance proposal's)."""

    application_id: str
    kind: str
    account: str
    credit_code: str
    name: str
    region_code: int
    industry_code: str
    latitude_e6: int
    longitude_e6: int
    contacts: list[ContactPublic]
    documents: list[str]
    issued_at: int
    submissions: int = Field(description="1, plus one per resubmission")
    review_status: str = Field(description="submitted, info_requested, refused or accepted")
    status: str = Field(description=f"One of {', '.join(STATES)}")
    reason: str | None = Field(description="The reviewer's reason (refusal, request for information)")
    reviewer: str | None
    proposal_id: int | None = Field(description="The governance proposal, once indexed")
    approvals: int | None
    deadline: int | None
    submitted_time: int
    decided_time: int | None
    history: list[HistoryPublic] = Field(default_factory=list, description="Steps (detail only)")


class ReviewBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision: Literal["request_info", "refuse", "accept"]
    reason: str = Field("", max_length=REASON_MAX, description="Required to refuse or request information")


class BuiltProposePublic(BaseModel):
    """The propose transaction built for the reviewer's wallet: sign ``tx`` and relay it under
    ``intent_id`` (POST /tx/relay)."""

    intent_id: str
    tx: dict[str, Any]
    expires_at: int


class ReviewedPublic(BaseModel):
    application: AccountApplicationPublic
    propose: BuiltProposePublic | None = Field(description="For an acceptance")


def _public(ctx: Ctx, db: Db, row: m.AccountApplication, *, detail: bool = False) -> AccountApplicationPublic:
    tracked = acc.track(
        db, row, registry=ctx.registry.address, now=max(int(time.time()), ctx.chain.timestamp())
    )
    return AccountApplicationPublic(
        application_id=row.application_id, kind=row.kind, account=row.account, credit_code=row.credit_code,
        name=row.name, region_code=row.region_code, industry_code=row.industry_code,
        latitude_e6=row.latitude_e6, longitude_e6=row.longitude_e6,
        contacts=[ContactPublic(**c) for c in row.contacts], documents=list(row.documents),
        issued_at=row.issued_at, submissions=row.submissions, review_status=row.status, status=tracked.status,
        reason=row.reason, reviewer=row.reviewer, proposal_id=tracked.proposal_id,
        approvals=tracked.approvals,
        deadline=tracked.deadline, submitted_time=row.submitted_time, decided_time=row.decided_time,
        history=[HistoryPublic.model_validate(h) for h in acc.history(db, application_id=row.application_id)]
        if detail else [],
    )  # fmt: skip


def _propose(built: Built | None) -> BuiltProposePublic | None:
    if built is None:
        return None
    return BuiltProposePublic(
        intent_id=built.intent.intent_id, tx=dict(built.tx), expires_at=built.intent.expires_at
    )


@router.post("/applications/typed-data", response_model=ApplicationTypedDataPublic, responses=ERRORS)
def typed_data(body: ApplicationBody, ctx: Ctx, user: User) -> ApplicationTypedDataPublic:
    """The EIP-712 message the signed-in wallet signs to apply (no role needed: an applicant has
    none). The fields are checked first (400 `ApplicationCreditCodeError` naming the expected
    check character, `ApplicationFieldError`)."""
    fields = body.fields(user.address).validate()
    registry = ctx.registry.address
    return ApplicationTypedDataPublic(
        typed_data=application_typed_data(ctx.chain.chain_id, registry, fields),
        digest="0x" + application_digest(ctx.chain.chain_id, registry, fields).hex(),
    )


@router.post("/applications", response_model=AccountApplicationPublic, status_code=201, responses=ERRORS)
def submit(body: SignedApplication, ctx: Ctx, db: Db, user: User) -> AccountApplicationPublic:
    """Submit a signed application for the signed-in account: 400 for a bad field, 403
    `ApplicationSignatureError` (not signed by this wallet) or `ApplicationNotOwnAccountError` (a
    change of another enterprise's profile), 409 `ApplicationDuplicateCodeError` (the code is
    registered or applied for) or `ApplicationAlreadyRegisteredError`."""
    row = acc.submit(db, registry=ctx.registry, chain_id=ctx.chain.chain_id, signer=user.address,
                     fields=body.fields(user.address), signature=body.signature)  # fmt: skip
    return _public(ctx, db, row, detail=True)


@router.post(
    "/applications/{application_id}/resubmit", response_model=AccountApplicationPublic, responses=ERRORS
)
def resubmit(
    application_id: IdPath, body: SignedApplication, ctx: Ctx, db: Db, user: User
) -> AccountApplicationPublic:
    """Answer a request for information: the applicant signs the application again (same kind and
    credit code)."""
    row = acc.resubmit(db, registry=ctx.registry, chain_id=ctx.chain.chain_id, signer=user.address,
                       application_id=application_id, fields=body.fields(user.address),
                       signature=body.signature)  # fmt: skip
    return _public(ctx, db, row, detail=True)


@router.get("/applications", response_model=Page[AccountApplicationPublic], responses=ERRORS)
def list_applications(
    ctx: Ctx,
    db: Db,
    user: User,
    paging: Paging,
    status: Annotated[
        Literal["submitted", "info_requested", "refused", "accepted"] | None,
        Query(description="The review's state"),
    ] = None,
    kind: Annotated[Literal["register", "change"] | None, Query()] = None,
) -> Page[AccountApplicationPublic]:
    """The signed-in account's own applications (any account, with or without a role); every
    application for the exchange and the regulator (the review queue: `status=submitted`)."""
    rows, total = paginate(db, acc.listing(user, status=status, kind=kind), paging)
    return Page(
        items=[_public(ctx, db, r) for r in rows], total=total, limit=paging.limit, offset=paging.offset
    )


@router.get("/applications/{application_id}", response_model=AccountApplicationPublic, responses=ERRORS)
def get_application(application_id: IdPath, ctx: Ctx, db: Db, user: User) -> AccountApplicationPublic:
    """One application with its history and, once accepted, its proposal's state (proposed,
    executed, expired) as indexed from the chain."""
    row = acc.get(db, application_id=application_id)
    acc.readable(user, row)
    return _public(ctx, db, row, detail=True)


@router.post("/applications/{application_id}/review", response_model=ReviewedPublic, responses=ERRORS)
def review(application_id: IdPath, body: ReviewBody, ctx: Ctx, db: Db, user: User) -> ReviewedPublic:
    """Review a submitted application (active exchange or regulator only: 403
    `ApplicationReviewerError`): ask for more information or refuse, with a reason, or accept.
    An acceptance builds `ConsortiumRegistry.propose` of `registerEnterprise` (or
    `updateEnterprise`) for the reviewer's wallet (422 with the decoded error when it would
    revert, e.g. a reviewer that is no governance member)."""
    reviewed = acc.review(
        db, registry=ctx.registry, calls=ctx.calls, reviewer=user, application_id=application_id,
        decision=body.decision, reason=body.reason, lifetime_s=ctx.settings.api_intent_minutes * 60,
    )  # fmt: skip
    return ReviewedPublic(application=_public(ctx, db, reviewed.application, detail=True),
                          propose=_propose(reviewed.built))  # fmt: skip
