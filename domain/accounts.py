"""Enterprise account applications: what an applicant signs (a registration or a change of its
profile), the field checks made before anything is stored, and the review's state machine.

An application is an off-chain request; acceptance opens the governance proposal that does the
change (``registerEnterprise`` or ``updateEnterprise``), and the application's later states come
from that proposal (:func:`proposal_state`).

States: ``submitted`` → ``info_requested`` (the reviewer asks for more) → ``submitted`` again
(the applicant answers, signing again) ...; ``submitted`` → ``refused`` (final, with a reason) or
``accepted`` (the proposal is built for the reviewer to sign) → ``proposed`` → ``executed``, or
``expired`` when the proposal's deadline passed unexecuted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from domain.codes import check_credit_code, check_industry_code, check_region_code
from domain.errors import DomainError, InvalidInputError

#: A registration of a new enterprise, or a change of a registered enterprise's profile.
Kind = Literal["register", "change"]
KINDS: tuple[Kind, ...] = ("register", "change")
#: What a reviewer decides.
Decision = Literal["request_info", "refuse", "accept"]
DECISIONS: tuple[Decision, ...] = ("request_info", "refuse", "accept")

SUBMITTED = "submitted"
INFO_REQUESTED = "info_requested"
REFUSED = "refused"
ACCEPTED = "accepted"
PROPOSED = "proposed"
EXECUTED = "executed"
EXPIRED = "expired"
#: Every state an application is shown in (the last three derived from its proposal).
STATES = (SUBMITTED, INFO_REQUESTED, REFUSED, ACCEPTED, PROPOSED, EXECUTED, EXPIRED)
#: States in which an application holds its credit code (a second application for it is refused).
OPEN_STATES = frozenset({SUBMITTED, INFO_REQUESTED, ACCEPTED})
#: Decision → the state it leads to.
DECIDED = {"request_info": INFO_REQUESTED, "refuse": REFUSED, "accept": ACCEPTED}

#: Limits of the free-text fields (bytes of UTF-8), the contacts and the documents.
NAME_MAX_BYTES = 200
CONTACT_MAX = 5
CONTACT_FIELD_MAX = 120
DOCUMENTS_MAX = 20
REASON_MAX = 2000
_HASH = re.compile(r"^0x[0-9a-fA-F]{64}$")


class ApplicationError(DomainError):
    """Base class of the refusals of an account application."""


class ApplicationCreditCodeError(ApplicationError, ValueError):
    """Raised when an application's credit code is malformed or its check character is wrong
    (GB 32100-2015; the message names the expected character)."""


class ApplicationFieldError(ApplicationError, ValueError):
    """Raised when another field of an application is invalid (name, region, industry, location,
    contacts, documents)."""


class ApplicationStateError(ApplicationError, ValueError):
    """Raised when a decision or a resubmission does not fit the application's state."""


class ApplicationReasonError(ApplicationError, ValueError):
    """Raised when a refusal or a request for information comes without a reason."""


@dataclass(frozen=True)
class Contact:
    """A person to reach about the application."""

    name: str
    phone: str
    email: str

    def text(self) -> str:
        """The contact as one line of the signed text (``name|phone|email``)."""
        return f"{self.name}|{self.phone}|{self.email}"


@dataclass(frozen=True)
class ApplicationFields:
    """What an applicant signs.

    Attributes:
        kind: ``register`` (a new enterprise) or ``change`` (its registered profile).
        account: the wallet that holds (or will hold) the enterprise's account: the signer.
        credit_code: unified social credit code (GB 32100-2015).
        name: registered name (1..200 bytes).
        region_code: GB/T 2260 region code.
        industry_code: GB/T 4754 industry code.
        latitude_e6, longitude_e6: location in micro-degrees (WGS 84).
        contacts: 1..5 contacts.
        documents: keccak-256 hashes (0x hex) of the supporting documents (licence, permit ...).
        issued_at: when the applicant signed (unix s).
    """

    kind: Kind
    account: str
    credit_code: str
    name: str
    region_code: int
    industry_code: str
    latitude_e6: int
    longitude_e6: int
    contacts: tuple[Contact, ...]
    documents: tuple[str, ...]
    issued_at: int

    def validate(self) -> ApplicationFields:
        """Check every field (the registry's own checks for the profile).

        Raises:
            ApplicationCreditCodeError: a bad credit code (its check character named).
            ApplicationFieldError: any other bad field (named).
        """
        if self.kind not in KINDS:
            raise ApplicationFieldError(f"kind {self.kind!r} is not one of {', '.join(KINDS)}")
        try:
            check_credit_code(self.credit_code)
        except InvalidInputError as exc:
            raise ApplicationCreditCodeError(str(exc)) from None
        if not 0 < len(self.name.encode()) <= NAME_MAX_BYTES:
            raise ApplicationFieldError(f"name must be 1-{NAME_MAX_BYTES} bytes")
        try:
            check_region_code(self.region_code)
            check_industry_code(self.industry_code)
        except InvalidInputError as exc:
            raise ApplicationFieldError(str(exc)) from None
        if not -90_000_000 <= self.latitude_e6 <= 90_000_000:
            raise ApplicationFieldError(f"latitude {self.latitude_e6} micro-degrees is off the globe")
        if not -180_000_000 <= self.longitude_e6 <= 180_000_000:
            raise ApplicationFieldError(f"longitude {self.longitude_e6} micro-degrees is off the globe")
        if not 1 <= len(self.contacts) <= CONTACT_MAX:
            raise ApplicationFieldError(f"give 1-{CONTACT_MAX} contacts, got {len(self.contacts)}")
        for c in self.contacts:
            for what, value in (("name", c.name), ("phone", c.phone), ("email", c.email)):
                if not 0 < len(value) <= CONTACT_FIELD_MAX or "|" in value or "\n" in value:
                    raise ApplicationFieldError(
                        f"contact {what} {value!r} must be 1-{CONTACT_FIELD_MAX} characters "
                        "without '|' or newlines"
                    )
        if len(self.documents) > DOCUMENTS_MAX:
            raise ApplicationFieldError(f"at most {DOCUMENTS_MAX} documents, got {len(self.documents)}")
        for d in self.documents:
            if not _HASH.match(d):
                raise ApplicationFieldError(f"document hash {d!r} is not 32 bytes of 0x hex")
        return self

    def contacts_text(self) -> str:
        """The contacts as the signed text: one ``name|phone|email`` line each."""
        return "\n".join(c.text() for c in self.contacts)


def decide(state: str, decision: str, reason: str) -> str:
    """The state a reviewer's ``decision`` leads an application in ``state`` to.

    Raises:
        ApplicationStateError: the application is not awaiting a review (only ``submitted`` is),
            or the decision is unknown.
        ApplicationReasonError: a refusal or a request for information without a reason.
    """
    if decision not in DECIDED:
        raise ApplicationStateError(f"decision {decision!r} is not one of {', '.join(DECISIONS)}")
    if state != SUBMITTED:
        raise ApplicationStateError(f"the application is {state}: only a submitted application is reviewed")
    if decision != "accept" and not reason.strip():
        raise ApplicationReasonError(f"a {decision.replace('_', ' ')} needs a reason")
    if len(reason) > REASON_MAX:
        raise ApplicationReasonError(f"the reason is longer than {REASON_MAX} characters")
    return DECIDED[decision]


def check_resubmission(state: str) -> None:
    """Raises ApplicationStateError unless an application in ``state`` may be signed again
    (only after the reviewer asked for more information)."""
    if state != INFO_REQUESTED:
        raise ApplicationStateError(
            f"the application is {state}: it is resubmitted only after a request for information"
        )


def proposal_state(*, executed: bool, deadline: int, now: int) -> str:
    """An accepted application's state from its governance proposal: ``executed``, ``expired``
    (deadline passed, not executed), else ``proposed``."""
    if executed:
        return EXECUTED
    return EXPIRED if deadline < now else PROPOSED
