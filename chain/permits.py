"""Typed client of DischargePermits (discharge permits and their applications) and the governance
wiring of its gates (AllowanceToken allocation and transfers, registry device binding)."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from eth_account.signers.local import LocalAccount
from web3.logs import DISCARD
from web3.types import TxReceipt

from chain.client import ContractClient
from chain.registry import RegistryClient, checked_address
from domain.codes import check_mn
from domain.errors import InvalidInputError
from domain.tokens import pollutant_code

#: Default validity of a permit: five years of 365 days (the contract's default when 0 is sent).
DEFAULT_VALIDITY_SECONDS = 5 * 365 * 86_400


class ApplicationState(enum.IntEnum):
    NONE = 0
    SUBMITTED = 1
    RETURNED = 2
    REFUSED = 3
    ISSUED = 4


class PermitState(enum.IntEnum):
    NONE = 0
    VALID = 1
    REVOKED = 2
    CANCELLED = 3
    EXPIRED = 4


@dataclass(frozen=True)
class Outlet:
    """A discharge outlet and its monitoring device's HJ 212 MN code."""

    code: str
    mn: str


@dataclass(frozen=True)
class Term:
    """One pollutant: annual amount (t) and concentration limit (mg/m3 or mg/L × 1000)."""

    pollutant: int
    annual_amount: int
    concentration_limit: int = 0


@dataclass(frozen=True)
class Application:
    id: int
    enterprise: str
    state: ApplicationState
    submitted_at: int
    document_hash: bytes
    permit_id: int
    reason: str
    outlets: tuple[Outlet, ...]
    terms: tuple[Term, ...]


@dataclass(frozen=True)
class Permit:
    id: int
    enterprise: str
    state: PermitState
    valid_from: int
    valid_until: int
    revision: int
    application_id: int
    number: str
    reason: str
    outlets: tuple[Outlet, ...]
    terms: tuple[Term, ...]


def outlets_arg(outlets: Sequence[Outlet]) -> list[tuple[str, str]]:
    """ABI tuples of outlets, checked (non-empty codes, valid MN codes).

    Raises:
        InvalidInputError: no outlet, an empty or long code, or an invalid MN.
    """
    if not outlets:
        raise InvalidInputError("a permit needs at least one outlet")
    out: list[tuple[str, str]] = []
    for o in outlets:
        if not o.code or len(o.code.encode()) > 32:
            raise InvalidInputError(f"outlet code {o.code!r} must be 1..32 bytes")
        out.append((o.code, check_mn(o.mn)))
    return out


def terms_arg(terms: Sequence[Term]) -> list[tuple[int, int, int]]:
    """ABI tuples of terms, checked (amounts positive, limits non-negative).

    Raises:
        InvalidInputError: no term, a non-positive amount or a negative limit.
    """
    if not terms:
        raise InvalidInputError("a permit needs at least one pollutant")
    out: list[tuple[int, int, int]] = []
    for t in terms:
        if t.annual_amount <= 0 or t.concentration_limit < 0 or t.concentration_limit >= 2**32:
            raise InvalidInputError(f"pollutant {t.pollutant}: amount must be > 0 and limit a uint32")
        out.append((pollutant_code(t.pollutant), t.annual_amount, t.concentration_limit))
    return out


def _outlets(raw: Sequence[Any]) -> tuple[Outlet, ...]:
    return tuple(Outlet(code=o[0], mn=o[1]) for o in raw)


def _terms(raw: Sequence[Any]) -> tuple[Term, ...]:
    return tuple(
        Term(pollutant=int(t[0]), annual_amount=int(t[1]), concentration_limit=int(t[2])) for t in raw
    )


class PermitsClient(ContractClient):
    """Client of one deployed DischargePermits."""

    CONTRACT = "DischargePermits"

    # ------------------------------------------------------------ enterprise

    def apply(
        self, enterprise: LocalAccount, outlets: Sequence[Outlet], terms: Sequence[Term], document_hash: bytes
    ) -> int:
        """Apply for a permit for ``enterprise``; returns the application id."""
        fn = self.contract.functions.applyForPermit(
            outlets_arg(outlets), terms_arg(terms), _hash(document_hash)
        )
        receipt = self.chain.transact(fn, enterprise)
        (event,) = self.contract.events.PermitApplied().process_receipt(receipt, errors=DISCARD)
        return int(event["args"]["applicationId"])

    def resubmit(
        self,
        enterprise: LocalAccount,
        application_id: int,
        outlets: Sequence[Outlet],
        terms: Sequence[Term],
        document_hash: bytes,
    ) -> TxReceipt:
        fn = self.contract.functions.resubmit(
            application_id, outlets_arg(outlets), terms_arg(terms), _hash(document_hash)
        )
        return self.chain.transact(fn, enterprise)

    # ------------------------------------------------------------ regulator

    def review_return(self, regulator: LocalAccount, application_id: int, reason: str) -> TxReceipt:
        return self.chain.transact(self.contract.functions.reviewReturn(application_id, reason), regulator)

    def refuse(self, regulator: LocalAccount, application_id: int, reason: str) -> TxReceipt:
        return self.chain.transact(self.contract.functions.refuse(application_id, reason), regulator)

    def issue(
        self,
        regulator: LocalAccount,
        application_id: int,
        number: str,
        granted: Sequence[int],
        *,
        valid_from: int = 0,
        valid_until: int = 0,
    ) -> int:
        """Issue a permit (validity from now and five years unless given); returns its id."""
        if any(g <= 0 for g in granted):
            raise InvalidInputError("granted amounts must be positive")
        fn = self.contract.functions.issue(application_id, number, valid_from, valid_until, list(granted))
        receipt = self.chain.transact(fn, regulator)
        (event,) = self.contract.events.PermitIssued().process_receipt(receipt, errors=DISCARD)
        return int(event["args"]["permitId"])

    def change(
        self, regulator: LocalAccount, permit_id: int, outlets: Sequence[Outlet], terms: Sequence[Term]
    ) -> TxReceipt:
        fn = self.contract.functions.change(permit_id, outlets_arg(outlets), terms_arg(terms))
        return self.chain.transact(fn, regulator)

    def renew(self, regulator: LocalAccount, permit_id: int, valid_until: int) -> TxReceipt:
        return self.chain.transact(self.contract.functions.renew(permit_id, valid_until), regulator)

    def revoke(self, regulator: LocalAccount, permit_id: int, reason: str) -> TxReceipt:
        return self.chain.transact(self.contract.functions.revoke(permit_id, reason), regulator)

    def cancel(self, regulator: LocalAccount, permit_id: int, reason: str) -> TxReceipt:
        return self.chain.transact(self.contract.functions.cancel(permit_id, reason), regulator)

    def annual_review(
        self, regulator: LocalAccount, permit_id: int, year: int, passed: bool, note: str
    ) -> TxReceipt:
        fn = self.contract.functions.annualReview(permit_id, year, passed, note)
        return self.chain.transact(fn, regulator)

    # ------------------------------------------------------------ views

    def application(self, application_id: int) -> Application:
        raw = self.chain.call(self.contract.functions.getApplication(application_id))
        return Application(
            id=application_id, enterprise=raw[0], state=ApplicationState(raw[1]), submitted_at=int(raw[2]),
            document_hash=bytes(raw[3]), permit_id=int(raw[4]), reason=raw[5],
            outlets=_outlets(raw[6]), terms=_terms(raw[7]),
        )  # fmt: skip

    def permit(self, permit_id: int) -> Permit:
        raw = self.chain.call(self.contract.functions.getPermit(permit_id))
        state = PermitState(int(self.contract.functions.permitStatus(permit_id).call()))
        return Permit(
            id=permit_id, enterprise=raw[0], state=state, valid_from=int(raw[2]), valid_until=int(raw[3]),
            revision=int(raw[4]), application_id=int(raw[5]), number=raw[6], reason=raw[7],
            outlets=_outlets(raw[8]), terms=_terms(raw[9]),
        )  # fmt: skip

    def permit_of(self, enterprise: str) -> int:
        return int(self.contract.functions.permitOf(checked_address(enterprise, "enterprise")).call())

    def is_valid(self, enterprise: str, pollutant: int | str, timestamp: int) -> bool:
        fn = self.contract.functions.isValid(
            checked_address(enterprise), pollutant_code(pollutant), timestamp
        )
        return bool(fn.call())

    def permitted_amount(self, enterprise: str, pollutant: int | str, year: int) -> int:
        fn = self.contract.functions.permittedAmount(
            checked_address(enterprise), pollutant_code(pollutant), year
        )
        return int(fn.call())

    def outlet_enterprise(self, mn: str) -> str | None:
        address = str(self.contract.functions.outletEnterprise(mn).call())
        return None if int(address, 16) == 0 else address

    def gates(self, pollutant: int | str) -> bool:
        return bool(self.contract.functions.gates(pollutant_code(pollutant)).call())

    def annual_review_of(self, permit_id: int, year: int) -> tuple[bool, bool]:
        recorded, passed = self.contract.functions.annualReviewOf(permit_id, year).call()
        return bool(recorded), bool(passed)

    def application_count(self) -> int:
        return int(self.contract.functions.applicationCount().call())

    def permit_count(self) -> int:
        return int(self.contract.functions.permitCount().call())


def _hash(value: bytes) -> bytes:
    if len(value) != 32:
        raise InvalidInputError(f"document hash must be 32 bytes, got {len(value)}")
    return value


def wire_permits(
    registry: RegistryClient, members: Sequence[LocalAccount], permits: PermitsClient, allowance_token: str
) -> list[str]:
    """Governance wiring of the permits gates, skipping what is already in place: the
    AllowanceToken's ``setPermits`` (allocation and transfers of gated pollutants) and the
    registry's ``setPermits`` (device binding only to permitted outlets).

    Returns:
        What was done, one line per governance proposal executed.
    """
    done: list[str] = []
    token = registry.chain.contract("AllowanceToken", allowance_token)
    if token.functions.permits().call() != permits.address:
        registry.govern_call(members, token.functions.setPermits(permits.address), "wire discharge permits")
        done.append("AllowanceToken: discharge permits wired")
    if registry.contract.functions.permits().call() != permits.address:
        registry.govern_call(
            members,
            registry.contract.functions.setPermits(permits.address),
            "devices only on permitted outlets",
        )
        done.append("ConsortiumRegistry: discharge permits wired")
    return done


def application_from_json(data: object) -> tuple[list[Outlet], list[Term], bytes]:
    """Outlets, terms and document hash of an application file::

        {"outlets": [{"code": "DA001", "mn": "MN33100000001"}],
         "terms": [{"pollutant": "SO2", "annual_amount": 1000, "concentration_limit": 35000}],
         "document_hash": "0x…32 bytes…"}

    (``document_hash`` optional in a change; zero then.)

    Raises:
        InvalidInputError: not that shape, or a field of the wrong type.
    """
    if not isinstance(data, dict):
        raise InvalidInputError("an application file holds one JSON object")
    try:
        outlets = [Outlet(code=str(o["code"]), mn=str(o["mn"])) for o in data["outlets"]]
        terms = [
            Term(
                pollutant=pollutant_code(t["pollutant"]),
                annual_amount=int(t["annual_amount"]),
                concentration_limit=int(t.get("concentration_limit", 0)),
            )
            for t in data["terms"]
        ]
        raw = str(data.get("document_hash", "0x" + "00" * 32))
        document_hash = bytes.fromhex(raw.removeprefix("0x"))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise InvalidInputError(f"application file: {type(exc).__name__}: {exc}") from None
    outlets_arg(outlets)
    terms_arg(terms)
    return outlets, terms, _hash(document_hash)
