"""The compliance cycle on-chain: typed client of ComplianceManager and its governance wiring.

An obligation is keyed by (enterprise, pollutant, year): an enterprise owing several pollutants
in a year has one notice, cycle and outcome per pollutant, each settled as it would be alone
(tokens of one pollutant never cover another). The rules (also in ``IComplianceManager``'s
NatSpec):

1. The regulator configures a year (offset cap, fines, make-good ratio), then issues notices in
   batches; a year's rules are fixed once its first notice is out.
2. Each enterprise acknowledges its notice (late acknowledgements are accepted and marked late),
   then applies before the submission deadline, citing an Active attestation of its verified
   emissions V and escrowing the allowances and offsets it surrenders.
3. Offsets count first, up to ``min(floor(V × offsetCapBps / 10,000), offsetsEligible)``;
   allowances (vintage ≤ year) cover the rest; an application surrendering more than what is
   still uncovered is refused as a whole (never taken and returned).
4. The regulator approves (escrow retired) or rejects with a reason (escrow credited back, the
   enterprise withdraws it when it likes: a rejection moves no token, so no enterprise can block
   it; it may apply again until the deadline). An approval covering V fulfils the obligation.
5. After the deadline anyone finalizes: A covered, B shortfall (fine per tonne + make-good units
   withheld from the next allocation of any later vintage), C no verified emissions by the
   deadline (flat fine). V without an approval is that of the attestation of record at the
   deadline: what auditors attest, supersede or revoke after it changes nothing.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address
from hexbytes import HexBytes
from web3.logs import DISCARD
from web3.types import TxReceipt

from chain.abi import bytes32
from chain.allowance import TokenHoldingClient
from chain.registry import RegistryClient, checked_address
from domain.compliance import Outcome, YearConfig
from domain.errors import InvalidInputError
from domain.tokens import check_amount
from domain.units import (
    UINT8_MAX,
    UINT16_MAX,
    UINT64_MAX,
    UINT256_MAX,
    check_uint,
)

logger = logging.getLogger(__name__)


class ObligationStatus(enum.IntEnum):
    """The contract's ``ObligationStatus`` (NONE: no notice)."""

    NONE = 0
    OPEN = 1
    FULFILLED = 2
    NON_COMPLIANT = 3


class ApplicationStatus(enum.IntEnum):
    """The contract's ``ApplicationStatus``."""

    NONE = 0
    UNDER_REVIEW = 1
    APPROVED = 2
    REJECTED = 3


@dataclass(frozen=True)
class YearStats:
    """Counters of a compliance year (the contract's ``YearStats``)."""

    notices: int
    acknowledged: int
    late_acknowledgements: int
    applications: int
    fulfilled: int
    finalized: int
    covered: int
    shortfall: int
    no_verified_emissions: int

    @property
    def compliance_rate(self) -> float:
        """Outcome A over notices (0.0 without notices)."""
        return self.covered / self.notices if self.notices else 0.0


@dataclass(frozen=True)
class NoticeView:
    """An obligation: the notice and where its compliance stands (the contract's ``Notice``)."""

    enterprise: str
    year: int
    pollutant: int
    status: ObligationStatus
    outcome: Outcome
    fine_paid: bool
    issued_at: int
    acknowledged_at: int
    submission_deadline: int
    ack_deadline: int
    finalized_at: int
    rules_hash: bytes
    allocated: int
    pending: int
    verified: int
    surrendered: int
    offsets_surrendered: int
    shortfall: int
    fine: int
    make_good: int

    @property
    def acknowledged_late(self) -> bool:
        return self.acknowledged_at > self.ack_deadline

    @classmethod
    def from_tuple(cls, enterprise: str, year: int, t: Sequence[Any]) -> NoticeView:
        return cls(
            to_checksum_address(enterprise), year, int(t[0]), ObligationStatus(t[1]), Outcome(t[2]),
            bool(t[3]), int(t[4]), int(t[5]), int(t[6]), int(t[7]), int(t[8]), bytes(t[9]), int(t[10]),
            int(t[11]), int(t[12]), int(t[13]), int(t[14]), int(t[15]), int(t[16]), int(t[17]),
        )  # fmt: skip


@dataclass(frozen=True)
class ApplicationView:
    """An application as stored (the contract's ``Application``)."""

    application_id: int
    enterprise: str
    pollutant: int
    year: int
    status: ApplicationStatus
    submitted_at: int
    reviewed_at: int
    reason_code: int
    attestation_id: bytes
    verified: int
    offsets: int
    allowances: int
    ids: tuple[int, ...]
    amounts: tuple[int, ...]

    @classmethod
    def from_tuple(cls, application_id: int, t: Sequence[Any]) -> ApplicationView:
        return cls(
            application_id, to_checksum_address(t[0]), int(t[1]), int(t[2]), ApplicationStatus(t[3]),
            int(t[4]), int(t[5]), int(t[6]), bytes(t[7]), int(t[8]), int(t[9]), int(t[10]),
            tuple(int(i) for i in t[11]), tuple(int(a) for a in t[12]),
        )  # fmt: skip


@dataclass(frozen=True)
class Surrender:
    """What one application surrenders: ``(token id, amount)`` pairs of allowances and offsets."""

    attestation_id: bytes
    allowances: tuple[tuple[int, int], ...] = ()
    offsets: tuple[tuple[int, int], ...] = ()

    def as_tuple(self) -> tuple[bytes, list[int], list[int], list[int], list[int]]:
        return (
            bytes32(self.attestation_id, "attestation id"),
            [int(i) for i, _ in self.allowances],
            [check_amount(a, "allowance amount") for _, a in self.allowances],
            [int(i) for i, _ in self.offsets],
            [check_amount(a, "offset amount") for _, a in self.offsets],
        )

    @property
    def total(self) -> int:
        return sum(a for _, a in self.allowances) + sum(a for _, a in self.offsets)


class ComplianceClient(TokenHoldingClient):
    """Client of one deployed ComplianceManager (with the token clients it escrows and collects)."""

    CONTRACT = "ComplianceManager"

    # ------------------------------------------------------------------ regulator

    def configure_year(self, regulator: LocalAccount, year: int, config: YearConfig) -> TxReceipt:
        fn = self.contract.functions.configureYear(check_uint(year, "year", UINT16_MAX), config.as_tuple())
        return self.chain.transact(fn, regulator)

    def issue_notices(
        self,
        regulator: LocalAccount,
        year: int,
        pollutant: int,
        notices: Sequence[tuple[str, int]],
        *,
        rules_hash: bytes,
        rules_uri: str,
        submission_deadline: int,
        ack_deadline: int,
    ) -> TxReceipt:
        """Issue one notice per ``(enterprise, allocated)`` row, in one transaction."""
        if not notices:
            raise InvalidInputError("a notice batch needs at least one enterprise")
        batch = (
            check_uint(year, "year", UINT16_MAX),
            check_uint(pollutant, "pollutant", UINT8_MAX),
            bytes32(rules_hash, "rules hash"),
            rules_uri,
            check_uint(submission_deadline, "submission deadline", UINT64_MAX),
            check_uint(ack_deadline, "acknowledgement deadline", UINT64_MAX),
            [checked_address(e, "enterprise") for e, _ in notices],
            [check_uint(a, "allocated", UINT256_MAX) for _, a in notices],
        )
        return self.chain.transact(self.contract.functions.issueNotices(batch), regulator)

    def approve(self, regulator: LocalAccount, application_id: int) -> TxReceipt:
        return self.chain.transact(self.contract.functions.approve(application_id), regulator)

    def reject(
        self, regulator: LocalAccount, application_id: int, reason_code: int, reason: str
    ) -> TxReceipt:
        """Reject an application: its escrow is credited back to the enterprise
        (:meth:`withdraw_returned`)."""
        fn = self.contract.functions.reject(
            application_id, check_uint(reason_code, "reason code", UINT16_MAX), reason
        )
        return self.chain.transact(fn, regulator)

    def finalize(self, sender: LocalAccount, enterprise: str, pollutant: int, year: int) -> TxReceipt:
        """Record the outcome of an obligation after its deadline (anyone may send it)."""
        fn = self.contract.functions.finalize(
            checked_address(enterprise, "enterprise"), check_uint(pollutant, "pollutant", UINT8_MAX), year
        )
        return self.chain.transact(fn, sender)

    # ------------------------------------------------------------------ enterprise

    def acknowledge(self, enterprise: LocalAccount, pollutant: int, year: int) -> TxReceipt:
        """Acknowledge ``enterprise``'s notice of ``pollutant`` and ``year``."""
        fn = self.contract.functions.acknowledge(check_uint(pollutant, "pollutant", UINT8_MAX), year)
        return self.chain.transact(fn, enterprise)

    def apply(self, enterprise: LocalAccount, pollutant: int, year: int, surrender: Surrender) -> int:
        """Apply for compliance with the obligation of ``pollutant`` and ``year`` (approving the
        manager on the token once); returns the application id."""
        token = self.allowance.contract
        if not token.functions.isApprovedForAll(enterprise.address, self.address).call():
            self.chain.transact(token.functions.setApprovalForAll(self.address, True), enterprise)
        fn = self.contract.functions.submitApplication(
            check_uint(pollutant, "pollutant", UINT8_MAX), year, surrender.as_tuple()
        )
        receipt = self.chain.transact(fn, enterprise)
        events = self.contract.events.ApplicationSubmitted().process_receipt(receipt, errors=DISCARD)
        application_id = int(events[0]["args"]["applicationId"])
        logger.info("application submitted", extra={"enterprise": enterprise.address, "pollutant": pollutant,
                                                    "year": year, "application": application_id})  # fmt: skip
        return application_id

    def withdraw_returned(self, enterprise: LocalAccount, token_ids: Sequence[int]) -> TxReceipt:
        """Withdraw the tokens rejections credited back to ``enterprise``, the whole credit of each id.

        Raises:
            InvalidInputError: no id given, or an id listed twice.
            ContractRevertError: ``ComplianceNothingReturned``; the token's own refusals
                (``PartyNotAllowed`` while suspended, ``ERC1155InvalidReceiver``).
        """
        ids = [check_uint(i, "token id", UINT256_MAX) for i in token_ids]
        if not ids or len(set(ids)) != len(ids):
            raise InvalidInputError("withdraw needs distinct token ids")
        return self.chain.transact(self.contract.functions.withdrawReturned(ids), enterprise)

    def pay_penalty(self, enterprise: LocalAccount, pollutant: int, year: int) -> TxReceipt:
        """Pay the fine of an obligation (approving the cash for the amount first if needed)."""
        fine = self.notice(enterprise.address, pollutant, year).fine
        current = int(self.cash.contract.functions.allowance(enterprise.address, self.address).call())
        if current < fine:
            self.cash.approve(enterprise, self.address, fine)
        fn = self.contract.functions.payPenalty(check_uint(pollutant, "pollutant", UINT8_MAX), year)
        return self.chain.transact(fn, enterprise)

    # ------------------------------------------------------------------ views

    def year_config(self, year: int) -> YearConfig:
        return YearConfig.from_tuple(self.chain.call(self.contract.functions.yearConfig(year)))

    def year_stats(self, year: int) -> YearStats:
        return YearStats(*(int(v) for v in self.chain.call(self.contract.functions.yearStats(year))))

    def compliance_rate_bps(self, year: int) -> int:
        return int(self.chain.call(self.contract.functions.complianceRateBps(year)))

    def notice(self, enterprise: str, pollutant: int, year: int) -> NoticeView:
        """The obligation of ``enterprise`` for ``pollutant`` and ``year`` (status NONE: no notice)."""
        fn = self.contract.functions.notice(
            checked_address(enterprise, "enterprise"), check_uint(pollutant, "pollutant", UINT8_MAX), year
        )
        raw = self.chain.call(fn)
        return NoticeView.from_tuple(enterprise, year, raw)

    def application(self, application_id: int) -> ApplicationView:
        raw = self.chain.call(self.contract.functions.application(application_id))
        return ApplicationView.from_tuple(application_id, raw)

    def application_count(self) -> int:
        return int(self.chain.call(self.contract.functions.applicationCount()))

    def make_good_owed(self, enterprise: str, pollutant: int, year: int) -> int:
        """Make-good units still owed from the shortfall of compliance year ``year - 1`` (due from
        the allocation of vintage ``year`` or any later one)."""
        fn = self.contract.functions.makeGoodOwed(
            checked_address(enterprise, "enterprise"), check_uint(pollutant, "pollutant", UINT8_MAX), year
        )
        return int(self.chain.call(fn))

    def make_good_due(self, enterprise: str, pollutant: int, vintage: int) -> int:
        """Make-good units an allocation of ``pollutant`` allowances of ``vintage`` would withhold
        from ``enterprise`` (its debts from every compliance year before ``vintage``)."""
        fn = self.contract.functions.makeGoodDue(
            checked_address(enterprise, "enterprise"),
            check_uint(pollutant, "pollutant", UINT8_MAX),
            check_uint(vintage, "vintage", UINT16_MAX),
        )
        return int(self.chain.call(fn))

    def escrowed(self, token_id: int) -> int:
        """Tokens of ``token_id`` in escrow for applications under review."""
        return int(self.chain.call(self.contract.functions.escrowed(token_id)))

    def returned(self, enterprise: str, token_id: int) -> int:
        """Tokens of ``token_id`` rejections credited back to ``enterprise``, not yet withdrawn."""
        fn = self.contract.functions.returned(checked_address(enterprise, "enterprise"), token_id)
        return int(self.chain.call(fn))

    def returned_total(self, token_id: int) -> int:
        """Tokens of ``token_id`` credited back to all enterprises, not yet withdrawn."""
        return int(self.chain.call(self.contract.functions.returnedTotal(token_id)))

    def rules_uri(self, rules_hash: bytes) -> str:
        return str(self.chain.call(self.contract.functions.rulesUri(bytes32(rules_hash, "rules hash"))))

    def treasury(self) -> str:
        return str(self.chain.call(self.contract.functions.treasury()))

    def events(
        self, enterprise: str | None = None, year: int | None = None, pollutant: int | None = None
    ) -> list[dict[str, Any]]:
        """Every event of the cycle (optionally of one enterprise, year and/or pollutant), in chain
        order; every one of them carries its obligation's ``pollutant``."""
        rows: list[dict[str, Any]] = []
        filters: dict[str, Any] = {}
        if enterprise is not None:
            filters["enterprise"] = checked_address(enterprise, "enterprise")
        if year is not None:
            filters["year"] = year
        for name in ("NoticeIssued", "NoticeAcknowledged", "ApplicationSubmitted", "ApplicationApproved",
                     "ApplicationRejected", "ObligationFinalized", "PenaltyPaid"):  # fmt: skip
            event = getattr(self.contract.events, name)()
            for log in event.get_logs(from_block=self.from_block, argument_filters=filters or None):
                if pollutant is not None and int(log["args"]["pollutant"]) != pollutant:
                    continue
                rows.append({"event": name, "block": int(log["blockNumber"]), "index": int(log["logIndex"]),
                             "tx_hash": HexBytes(log["transactionHash"]).to_0x_hex(),
                             "args": dict(log["args"])})  # fmt: skip
        rows.sort(key=lambda r: (r["block"], r["index"]))
        return rows

    # ------------------------------------------------------------------ incremental scans (scheduler)

    def latest_block(self) -> int:
        """Number of the chain's latest block (the end of an incremental event scan)."""
        return int(self.chain.w3.eth.block_number)

    def events_between(
        self, from_block: int, to_block: int, names: Sequence[str] = ("NoticeIssued", "NoticeAcknowledged")
    ) -> list[dict[str, Any]]:
        """Events ``names`` of blocks ``from_block..to_block`` (inclusive), in chain order.

        Rows are shaped as in :meth:`events`: ``event``, ``block``, ``index``, ``tx_hash``, ``args``.
        """
        rows: list[dict[str, Any]] = []
        for name in names:
            event = getattr(self.contract.events, name)()
            for log in event.get_logs(from_block=from_block, to_block=to_block):
                rows.append({"event": name, "block": int(log["blockNumber"]), "index": int(log["logIndex"]),
                             "tx_hash": HexBytes(log["transactionHash"]).to_0x_hex(),
                             "args": dict(log["args"])})  # fmt: skip
        rows.sort(key=lambda r: (r["block"], r["index"]))
        return rows


def wire_compliance_manager(
    registry: RegistryClient,
    members: Sequence[LocalAccount],
    compliance: ComplianceClient,
    treasury: str,
) -> list[str]:
    """Governance set-up of the compliance manager, skipping what is already in place.

    The manager may hold allowances (a system contract of the AllowanceToken, for the escrow),
    is the token's compliance manager (the only retirer) and sends fines to ``treasury``, which
    must be an active participant (it receives settlement cash).

    Returns:
        What was done, one line per governance proposal executed.
    """
    done: list[str] = []
    address = compliance.address
    token = compliance.allowance.contract
    if not token.functions.isSystemContract(address).call():
        registry.govern_call(
            members, token.functions.setSystemContract(address, True), "compliance escrow may hold allowances"
        )
        done.append("AllowanceToken: ComplianceManager allowed as a system contract")
    if token.functions.complianceManager().call() != address:
        registry.govern_call(
            members, token.functions.setComplianceManager(address), "set the compliance manager"
        )
        done.append("AllowanceToken: compliance manager set")
    treasury = checked_address(treasury, "treasury")
    if compliance.contract.functions.treasury().call() != treasury:
        fn = compliance.contract.functions.setTreasury(treasury)
        registry.govern_call(members, fn, "set the compliance treasury")
        done.append(f"ComplianceManager: treasury {treasury}")
    return done


__all__ = [
    "ApplicationStatus",
    "ApplicationView",
    "ComplianceClient",
    "NoticeView",
    "ObligationStatus",
    "Surrender",
    "YearStats",
    "wire_compliance_manager",
]
