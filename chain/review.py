"""The EmissionsLedger's review half: reviewers' EIP-712 decisions on doubtful monitoring data
(typed data for wallets, digests, offline signing, signer recovery), their recording and events.

The rules (actions, methods, what a substitution needs) are in :mod:`domain.review`; the
contract checks the same ones and who may review (the regulator, or the auditor assigned to the
enterprise)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address
from hexbytes import HexBytes
from web3.logs import DISCARD
from web3.types import TxReceipt

from chain.abi import bytes32
from chain.anchoring import DOMAIN_NAME, DOMAIN_VERSION, bytes8_of, text_of
from chain.client import ContractClient
from chain.registry import checked_address
from chain.typed_data import Eip712Domain, recover_typed, sign_typed, typed_data, typed_digest
from domain.errors import InvalidInputError
from domain.review import Action, check_decision
from domain.units import UINT8_MAX, UINT32_MAX, check_uint

logger = logging.getLogger(__name__)

_INT256_MIN = -(1 << 255)
_INT256_MAX = (1 << 255) - 1

REVIEW_FIELDS: list[dict[str, str]] = [
    {"name": "reviewer", "type": "address"},
    {"name": "enterprise", "type": "address"},
    {"name": "subject", "type": "bytes32"},
    {"name": "pollutant", "type": "bytes8"},
    {"name": "month", "type": "uint32"},
    {"name": "action", "type": "uint8"},
    {"name": "method", "type": "bytes8"},
    {"name": "value", "type": "int256"},
    {"name": "decimals", "type": "uint8"},
    {"name": "noteHash", "type": "bytes32"},
]


@dataclass(frozen=True)
class ReviewDecision:
    """A reviewer's decision (the ledger's ``ReviewDecision``).

    Attributes:
        reviewer: the regulator or an assigned auditor (the signer).
        enterprise: the enterprise whose data is reviewed.
        subject: the review item's id (32 bytes).
        pollutant: HJ 212 factor code.
        month: ``YYYYMM``.
        action: accept, reject or substitute.
        method: substitution method (``""`` unless substituting).
        value: the substituted value scaled by ``10**decimals`` (0 unless substituting).
        decimals: decimal places of ``value``.
        note_hash: hash of the written reasons (32 zero bytes for none).
    """

    reviewer: str
    enterprise: str
    subject: bytes
    pollutant: str
    month: int
    action: Action
    method: str = ""
    value: int = 0
    decimals: int = 0
    note_hash: bytes = bytes(32)

    def as_tuple(self) -> tuple[Any, ...]:
        """The struct's ABI tuple.

        Raises:
            InvalidInputError: a field does not fit its Solidity type.
            ReviewInputError: the decision breaks a review rule (``domain.review.check_decision``).
        """
        action = check_decision(self.action, self.method, self.value)
        if not _INT256_MIN <= self.value <= _INT256_MAX:
            raise InvalidInputError(f"value {self.value} does not fit int256")
        return (
            checked_address(self.reviewer, "reviewer"),
            checked_address(self.enterprise, "enterprise"),
            bytes32(self.subject, "subject"),
            bytes8_of(self.pollutant, "pollutant"),
            check_uint(self.month, "month", UINT32_MAX),
            int(action),
            bytes8_of(self.method, "method"),
            int(self.value),
            check_uint(self.decimals, "decimals", UINT8_MAX),
            bytes32(self.note_hash, "note hash"),
        )


def review_typed_data(chain_id: int, ledger: str, decision: ReviewDecision) -> dict[str, Any]:
    """The decision as an EIP-712 ``eth_signTypedData_v4`` message (what the reviewer's wallet
    signs; JSON-safe: bytes as 0x-hex, the value as a decimal string).

    Raises:
        InvalidInputError: a field does not fit its Solidity type.
        ReviewInputError: the decision breaks a review rule.
    """
    reviewer, enterprise, subject, pollutant, month, action, method, value, decimals, note = (
        decision.as_tuple()
    )
    domain = Eip712Domain(chain_id, checked_address(ledger, "ledger"), DOMAIN_NAME, DOMAIN_VERSION)
    return typed_data(
        domain,
        "ReviewDecision",
        {"ReviewDecision": REVIEW_FIELDS},
        {
            "reviewer": reviewer,
            "enterprise": enterprise,
            "subject": "0x" + subject.hex(),
            "pollutant": "0x" + pollutant.hex(),
            "month": month,
            "action": action,
            "method": "0x" + method.hex(),
            "value": str(value),
            "decimals": decimals,
            "noteHash": "0x" + note.hex(),
        },
    )


def _data(chain_id: int, ledger: str, decision: ReviewDecision) -> dict[str, Any]:
    """The typed data with the value as an integer (eth-account's encoder wants int256 as int)."""
    data = review_typed_data(chain_id, ledger, decision)
    data["message"]["value"] = int(data["message"]["value"])
    return data


def review_digest(chain_id: int, ledger: str, decision: ReviewDecision) -> bytes:
    """EIP-712 digest of a decision (eth-account's encoder): its id on the ledger."""
    return typed_digest(_data(chain_id, ledger, decision))


def sign_review(reviewer: LocalAccount, chain_id: int, ledger: str, decision: ReviewDecision) -> bytes:
    """The reviewer's 65-byte signature of a decision, made offline (the CLI, tests, the demo).

    Raises:
        InvalidInputError: the key is not the decision's reviewer, or a field does not fit.
    """
    if reviewer.address.lower() != decision.reviewer.lower():
        raise InvalidInputError(f"key {reviewer.address} is not the decision's reviewer {decision.reviewer}")
    return sign_typed(reviewer, _data(chain_id, ledger, decision))


def recover_review_signer(
    chain_id: int, ledger: str, decision: ReviewDecision, signature: bytes
) -> str | None:
    """The address ``signature`` recovers to over the decision's typed data (None: malformed)."""
    try:
        return recover_typed(_data(chain_id, ledger, decision), signature)
    except Exception:  # a field that does not fit its type recovers no signer
        return None


@dataclass(frozen=True)
class ReviewRecorded:
    """A ``ReviewDecisionRecorded`` event."""

    id: bytes
    reviewer: str
    enterprise: str
    reviewer_role: int
    decision: ReviewDecision
    tx_hash: str


def decision_of(raw: Any) -> ReviewDecision:
    """A :class:`ReviewDecision` from the event's decoded ``decision`` tuple (dict or tuple)."""
    fields = [raw[f["name"]] for f in REVIEW_FIELDS] if isinstance(raw, Mapping) else list(raw)
    reviewer, enterprise, subject, pollutant, month, action, method, value, decimals, note = fields
    return ReviewDecision(
        reviewer=to_checksum_address(reviewer),
        enterprise=to_checksum_address(enterprise),
        subject=bytes(HexBytes(subject)),
        pollutant=text_of(bytes(HexBytes(pollutant))),
        month=int(month),
        action=Action(int(action)),
        method=text_of(bytes(HexBytes(method))),
        value=int(value),
        decimals=int(decimals),
        note_hash=bytes(HexBytes(note)),
    )


class ReviewClient(ContractClient):
    """The review functions of one deployed EmissionsLedger."""

    CONTRACT = "EmissionsLedger"

    def record_review(
        self, relayer: LocalAccount, decision: ReviewDecision, signature: bytes
    ) -> ReviewRecorded:
        """Record a decision signed by its reviewer (any account may relay it).

        Raises:
            ContractRevertError: refused (``LedgerNotReviewer``, ``LedgerAuditorNotAssigned``,
                ``CallerNotActive``, ``LedgerReviewAlreadyDecided``, ``LedgerReviewSignerMismatch`` ...).
            InvalidInputError: a field does not fit its Solidity type.
            ReviewInputError: the decision breaks a review rule.
        """
        fn = self.contract.functions.recordReview(decision.as_tuple(), bytes(signature))
        receipt = self.chain.transact(fn, relayer)
        event = self._recorded(receipt)
        logger.info(
            "review decision recorded",
            extra={
                "enterprise": event.enterprise,
                "decision": "0x" + event.id.hex(),
                "tx_hash": event.tx_hash,
            },
        )
        return event

    def review_digest(self, decision: ReviewDecision) -> bytes:
        """The contract's EIP-712 digest of a decision (its id)."""
        return bytes(self.chain.call(self.contract.functions.reviewDigest(decision.as_tuple())))

    def review_decision_of(self, enterprise: str, subject: bytes | str) -> bytes | None:
        """The decision recorded on ``subject`` of ``enterprise``, or None."""
        fn = self.contract.functions.reviewDecisionOf(
            checked_address(enterprise, "enterprise"), bytes32(subject, "subject")
        )
        found = bytes(self.chain.call(fn))
        return None if found == bytes(32) else found

    def reviewer_of(self, decision_id: bytes | str) -> str | None:
        """The reviewer of a recorded decision, or None when ``decision_id`` names none."""
        found = str(self.chain.call(self.contract.functions.reviewerOf(bytes32(decision_id, "decision id"))))
        return None if int(found, 16) == 0 else to_checksum_address(found)

    def _recorded(self, receipt: TxReceipt) -> ReviewRecorded:
        [log] = self.contract.events.ReviewDecisionRecorded().process_receipt(receipt, errors=DISCARD)
        a = log["args"]
        return ReviewRecorded(
            id=bytes(a["id"]),
            reviewer=to_checksum_address(a["reviewer"]),
            enterprise=to_checksum_address(a["enterprise"]),
            reviewer_role=int(a["reviewerRole"]),
            decision=decision_of(a["decision"]),
            tx_hash=HexBytes(receipt["transactionHash"]).to_0x_hex(),
        )


__all__ = [
    "REVIEW_FIELDS",
    "ReviewClient",
    "ReviewDecision",
    "ReviewRecorded",
    "decision_of",
    "recover_review_signer",
    "review_digest",
    "review_typed_data",
    "sign_review",
]
