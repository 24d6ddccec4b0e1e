"""Account applications in the read model: submitted (signature checked against the wallet that
will hold the account), resubmitted after a request for information, reviewed by the exchange or
the regulator, and followed to the executed governance proposal.

Check order on a submission: the fields (:meth:`domain.accounts.ApplicationFields.validate`:
the credit code's check character first), the signature (it must recover to the signed-in
account, which is the application's account), then the account (a change only by the
enterprise's own account; a registration only by an account not yet registered), then the code
(a registration's code neither registered on chain nor held by another open application).
Nothing is stored unless every check passes.

The status an applicant sees after acceptance comes from the chain: the indexed proposal whose
target is the registry and whose calldata is the application's call (``proposals``): proposed,
executed, or expired.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from api.deps import Principal
from api.errors import ConflictError, ForbiddenError, NotFoundError
from api.tx import Built, build_intent
from chain.applications import proposal_call, recover_applicant
from chain.calls import CallCatalog
from chain.registry import RegistryClient
from domain.accounts import (
    ACCEPTED,
    OPEN_STATES,
    SUBMITTED,
    ApplicationFields,
    Contact,
    check_resubmission,
    decide,
    proposal_state,
)
from readmodel import models as m

logger = logging.getLogger(__name__)

#: Roles that review applications.
REVIEWERS = ("EXCHANGE", "REGULATOR")


class ApplicationSignatureError(ForbiddenError):
    """Raised when an application's signature does not recover to the signed-in account (the
    wallet that will hold the account must sign it)."""


class ApplicationDuplicateCodeError(ConflictError):
    """Raised when a registration's credit code is already registered on chain or held by another
    open application."""


class ApplicationAlreadyRegisteredError(ConflictError):
    """Raised when an account that is already a registered enterprise applies to register."""


class ApplicationNotOwnAccountError(ForbiddenError):
    """Raised when a change request comes from an account other than the enterprise's own
    (the registered account of the credit code)."""


class ApplicationReviewerError(ForbiddenError):
    """Raised when someone other than an active exchange or regulator reviews an application."""


@dataclass(frozen=True)
class Reviewed:
    """A review's outcome: the application and, for an acceptance, the propose transaction built
    for the reviewer's wallet."""

    application: m.AccountApplication
    built: Built | None


def fields_of(row: m.AccountApplication) -> ApplicationFields:
    """The signed fields of a stored application."""
    return ApplicationFields(
        kind=row.kind,  # type: ignore[arg-type]
        account=row.account, credit_code=row.credit_code, name=row.name, region_code=row.region_code,
        industry_code=row.industry_code, latitude_e6=row.latitude_e6, longitude_e6=row.longitude_e6,
        contacts=tuple(Contact(**c) for c in row.contacts), documents=tuple(row.documents),
        issued_at=row.issued_at,
    )  # fmt: skip


def _check_signed(
    fields: ApplicationFields, signature: str, *, signer: str, chain_id: int, registry: str
) -> None:
    if fields.account.lower() != signer.lower():
        raise ApplicationSignatureError(
            f"the application is for {fields.account} but {signer} is signed in: the wallet that "
            "holds the account signs its application"
        )
    try:
        raw = bytes.fromhex(signature.removeprefix("0x"))
    except ValueError:
        raw = b""
    recovered = recover_applicant(chain_id, registry, fields, raw)
    if recovered is None or recovered.lower() != signer.lower():
        raise ApplicationSignatureError(
            f"the signature recovers to {recovered or 'nothing'}, not to the applicant {signer}"
        )


def _check_account(
    db: Session, registry: RegistryClient, fields: ApplicationFields, *, exclude: str | None
) -> None:
    holder = registry.enterprise_by_credit_code(fields.credit_code)
    if fields.kind == "change":
        if holder is None:
            raise ApplicationNotOwnAccountError(
                f"credit code {fields.credit_code} is not registered: apply to register it instead"
            )
        if holder.lower() != fields.account.lower():
            raise ApplicationNotOwnAccountError(
                f"a change of {fields.credit_code} may come only from its enterprise's account {holder}, "
                f"not from {fields.account}"
            )
        return
    if holder is not None:
        raise ApplicationDuplicateCodeError(
            f"credit code {fields.credit_code} is already registered to {holder}"
        )
    if registry.status_of(fields.account) != 0:
        raise ApplicationAlreadyRegisteredError(
            f"{fields.account} is already a participant: apply for a change of its profile instead"
        )
    a = m.AccountApplication
    clash = select(a.application_id, a.account).where(
        a.credit_code == fields.credit_code, a.kind == "register", a.status.in_(OPEN_STATES)
    )
    if exclude is not None:
        clash = clash.where(a.application_id != exclude)
    row = db.execute(clash.limit(1)).first()
    if row is not None:
        raise ApplicationDuplicateCodeError(
            f"credit code {fields.credit_code} is already applied for (application {row.application_id} "
            f"by {row.account})"
        )


def _log(db: Session, application_id: str, action: str, actor: str, reason: str | None, now: int) -> None:
    db.add(m.AccountApplicationEvent(application_id=application_id, action=action, actor=actor,
                                     reason=reason, time=now))  # fmt: skip


def submit(
    db: Session,
    *,
    registry: RegistryClient,
    chain_id: int,
    signer: str,
    fields: ApplicationFields,
    signature: str,
    now: int | None = None,
) -> m.AccountApplication:
    """Store a signed application by ``signer`` (checks in the module's order).

    Raises:
        ApplicationCreditCodeError, ApplicationFieldError: a bad field.
        ApplicationSignatureError: not signed by ``signer``, or not ``signer``'s account.
        ApplicationNotOwnAccountError: a change by another account than the enterprise's.
        ApplicationDuplicateCodeError: the code is registered or already applied for.
        ApplicationAlreadyRegisteredError: ``signer`` is already a participant.
    """
    now = int(time.time()) if now is None else now
    fields.validate()
    _check_signed(fields, signature, signer=signer, chain_id=chain_id, registry=registry.address)
    _check_account(db, registry, fields, exclude=None)
    row = m.AccountApplication(application_id=str(uuid.uuid4()), status=SUBMITTED, submissions=1,
                               reason=None, reviewer=None, call_data=None, intent_id=None,
                               submitted_time=now, decided_time=None, signature=signature,
                               **_values(fields))  # fmt: skip
    db.add(row)
    _log(db, row.application_id, "submitted", signer, None, now)
    db.flush()
    logger.info("application submitted", extra={"application": row.application_id, "enterprise": signer})
    return row


def _values(fields: ApplicationFields) -> dict[str, Any]:
    return {
        "kind": fields.kind, "account": fields.account, "credit_code": fields.credit_code,
        "name": fields.name,
        "region_code": fields.region_code, "industry_code": fields.industry_code,
        "latitude_e6": fields.latitude_e6, "longitude_e6": fields.longitude_e6,
        "contacts": [vars(c) for c in fields.contacts], "documents": list(fields.documents),
        "issued_at": fields.issued_at,
    }  # fmt: skip


def resubmit(
    db: Session,
    *,
    registry: RegistryClient,
    chain_id: int,
    signer: str,
    application_id: str,
    fields: ApplicationFields,
    signature: str,
    now: int | None = None,
) -> m.AccountApplication:
    """Answer a request for information: the application signed again (same kind and code).

    Raises:
        NotFoundError: no such application.
        ForbiddenError: it is another account's.
        ApplicationStateError: no information was requested.
        (and every refusal of :func:`submit`)
    """
    now = int(time.time()) if now is None else now
    row = get(db, application_id=application_id)
    if row.account.lower() != signer.lower():
        raise ForbiddenError(f"application {application_id} belongs to another account")
    check_resubmission(row.status)
    fields.validate()
    if fields.kind != row.kind or fields.credit_code != row.credit_code:
        raise ConflictError("a resubmission keeps the application's kind and credit code")
    _check_signed(fields, signature, signer=signer, chain_id=chain_id, registry=registry.address)
    _check_account(db, registry, fields, exclude=application_id)
    for key, value in _values(fields).items():
        setattr(row, key, value)
    row.signature = signature
    row.status = SUBMITTED
    row.submissions += 1
    row.submitted_time = now
    _log(db, application_id, "resubmitted", signer, None, now)
    db.flush()
    return row


def review(
    db: Session,
    *,
    registry: RegistryClient,
    calls: CallCatalog,
    reviewer: Principal,
    application_id: str,
    decision: str,
    reason: str,
    lifetime_s: int,
    now: int | None = None,
) -> Reviewed:
    """A reviewer's decision; an acceptance builds the propose transaction (``registerEnterprise``
    or ``updateEnterprise`` on the registry) for the reviewer's wallet and keeps its calldata.

    Raises:
        ApplicationReviewerError: the reviewer is not an active exchange or regulator.
        NotFoundError: no such application.
        ApplicationStateError, ApplicationReasonError: see :func:`domain.accounts.decide`.
        ContractRevertError: the proposed call, or the proposal, would revert now (e.g. the
            reviewer is not a governance member: ``GovernanceNotMember``); nothing is stored.
    """
    now = int(time.time()) if now is None else now
    if not any(reviewer.has(role) for role in REVIEWERS):
        raise ApplicationReviewerError(
            f"{reviewer.address} may not review applications: only an active exchange or regulator does"
        )
    row = get(db, application_id=application_id)
    state = decide(row.status, decision, reason)
    built = None
    if state == ACCEPTED:
        fields = fields_of(row)
        data = proposal_call(registry, fields)
        registry.preflight(data)
        call = "registerEnterprise" if fields.kind == "register" else "updateEnterprise"
        description = f"{call} {fields.credit_code} {fields.name} (application {application_id})"
        built = build_intent(
            db, calls=calls, sender=reviewer.address, contract="ConsortiumRegistry",
            function="propose(address,bytes,string)", args=[registry.address, "0x" + data.hex(), description],
            lifetime_s=lifetime_s, now=now,
        )  # fmt: skip
        row.call_data = "0x" + data.hex()
        row.intent_id = built.intent.intent_id
    row.status = state
    row.reason = reason or None
    row.reviewer = reviewer.address
    row.decided_time = now
    _log(db, application_id, decision, reviewer.address, reason or None, now)
    db.flush()
    logger.info("application reviewed", extra={"application": application_id, "decision": decision})
    return Reviewed(row, built)


def get(db: Session, *, application_id: str) -> m.AccountApplication:
    """The application ``application_id``.

    Raises:
        NotFoundError: no such application.
    """
    row = db.get(m.AccountApplication, application_id)
    if row is None:
        raise NotFoundError(f"account application {application_id} does not exist")
    return row


def readable(viewer: Principal, row: m.AccountApplication) -> None:
    """Raises ForbiddenError unless ``viewer`` may read ``row``: its own account (whatever its
    roles: an applicant has none yet), or an active exchange or regulator."""
    if row.account.lower() != viewer.address.lower() and not viewer.sees_everything:
        raise ForbiddenError(f"{viewer.address} may not read application {row.application_id}")


def listing(viewer: Principal, *, status: str | None, kind: str | None) -> Select[Any]:
    """The applications ``viewer`` reads (its own; all for the exchange and the regulator), newest
    first. ``status`` filters on the review's state."""
    a = m.AccountApplication
    stmt = select(a).order_by(a.submitted_time.desc(), a.application_id)
    if not viewer.sees_everything:
        stmt = stmt.where(a.account == viewer.address)
    if status is not None:
        stmt = stmt.where(a.status == status)
    if kind is not None:
        stmt = stmt.where(a.kind == kind)
    return stmt


@dataclass(frozen=True)
class Tracked:
    """An application's state with its proposal (for an accepted one, once indexed)."""

    status: str
    proposal_id: int | None
    approvals: int | None
    deadline: int | None


def track(db: Session, row: m.AccountApplication, *, registry: str, now: int | None = None) -> Tracked:
    """The application's state: the review's, or after acceptance the proposal's (the newest
    indexed proposal on ``registry`` with the application's calldata)."""
    if row.status != ACCEPTED or row.call_data is None:
        return Tracked(row.status, None, None, None)
    now = int(time.time()) if now is None else now
    p = m.Proposal
    proposal = db.execute(
        select(p).where(p.target == registry, p.data == row.call_data)
        .order_by(p.proposal_id.desc()).limit(1)
    ).scalar_one_or_none()  # fmt: skip
    if proposal is None:
        return Tracked(ACCEPTED, None, None, None)
    state = proposal_state(executed=proposal.executed, deadline=proposal.deadline, now=now)
    return Tracked(state, proposal.proposal_id, proposal.approvals, proposal.deadline)


def history(db: Session, *, application_id: str) -> list[m.AccountApplicationEvent]:
    """The application's steps, oldest first."""
    e = m.AccountApplicationEvent
    return list(db.execute(select(e).where(e.application_id == application_id).order_by(e.id)).scalars())
