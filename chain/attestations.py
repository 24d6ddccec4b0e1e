"""The EmissionsLedger's attestations half: auditors' EIP-712 attestations (typed data for
wallets, offline signing, digests, signer recovery), their records and events, and the
attestations client (submission, revocation, rejection, cited-reading checks)."""

from __future__ import annotations

import enum
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from eth_account.signers.local import LocalAccount
from eth_utils import keccak, to_checksum_address
from hexbytes import HexBytes
from pydantic import BaseModel, ConfigDict, Field, field_validator
from web3.logs import DISCARD
from web3.types import TxReceipt

from chain.abi import ZERO_ID, bytes32
from chain.anchoring import (
    DOMAIN_NAME,
    DOMAIN_VERSION,
    AnchoredBatch,
    FrameWitnessLike,
    ReadingLike,
    frame_tuple,
    header_tuple,
    reading_tuple,
)
from chain.client import ContractClient
from chain.jsonfile import load_model
from chain.registry import checked_address
from chain.typed_data import Eip712Domain, recover_typed, sign_typed, typed_data, typed_digest
from domain.errors import ComplianceInputError, InvalidInputError
from domain.units import UINT8_MAX, UINT16_MAX, UINT64_MAX, UINT256_MAX, check_uint

logger = logging.getLogger(__name__)


class AttestationStatus(enum.IntEnum):
    """Life cycle of an attestation, as the contract's ``AttestationStatus`` (NONE: unknown id)."""

    NONE = 0
    ACTIVE = 1
    SUPERSEDED = 2
    REVOKED = 3
    REJECTED = 4


_ATTESTATION_FIELDS: list[dict[str, str]] = [
    {"name": "auditor", "type": "address"},
    {"name": "enterprise", "type": "address"},
    {"name": "pollutant", "type": "uint8"},
    {"name": "year", "type": "uint16"},
    {"name": "verifiedEmissions", "type": "uint256"},
    {"name": "offsetsEligible", "type": "uint256"},
    {"name": "evidence", "type": "bytes32[]"},
    {"name": "reportHash", "type": "bytes32"},
    {"name": "supersedes", "type": "bytes32"},
    {"name": "nonce", "type": "uint256"},
]


@dataclass(frozen=True)
class Attestation:
    """An auditor's attestation: the fields of the EIP-712 ``Attestation`` struct.

    Attributes:
        auditor: the attesting auditor (AUDITOR_ROLE), the signer for relayed submissions.
        enterprise: the attested enterprise.
        pollutant: AllowanceToken pollutant code (1..255, see ``chain.allowance.POLLUTANTS``).
        year: the compliance year (uint16).
        verified_emissions: verified emissions, whole tonnes (allowance units).
        offsets_eligible: offsets eligible, whole tonnes (allowance units).
        evidence: anchored batch ids of the ledger and/or hashes of external evidence (32 bytes each).
        report_hash: hash of the audit report (e.g. keccak256 of the PDF).
        supersedes: id of the auditor's Active attestation this one replaces, or 32 zero bytes.
        nonce: the auditor's next nonce (:meth:`LedgerClient.nonce`).
    """

    auditor: str
    enterprise: str
    pollutant: int
    year: int
    verified_emissions: int
    offsets_eligible: int
    evidence: tuple[bytes, ...]
    report_hash: bytes
    supersedes: bytes = ZERO_ID
    nonce: int = 0

    def as_tuple(self) -> tuple[Any, ...]:
        """The ``Attestation`` struct's ABI tuple.

        Raises:
            InvalidInputError: a field does not fit its Solidity type.
        """
        return (
            checked_address(self.auditor, "auditor"),
            checked_address(self.enterprise, "enterprise"),
            check_uint(self.pollutant, "pollutant", UINT8_MAX),
            check_uint(self.year, "year", UINT16_MAX),
            check_uint(self.verified_emissions, "verified emissions", UINT256_MAX),
            check_uint(self.offsets_eligible, "offsets eligible", UINT256_MAX),
            [bytes32(e, "evidence") for e in self.evidence],
            bytes32(self.report_hash, "report hash"),
            bytes32(self.supersedes, "supersedes"),
            check_uint(self.nonce, "nonce", UINT256_MAX),
        )


def evidence_hash(evidence: Iterable[bytes | str]) -> bytes:
    """``keccak256(abi.encodePacked(evidence))``: the evidence hash the ledger stores."""
    return bytes(keccak(b"".join(bytes32(e, "evidence") for e in evidence)))


def attestation_typed_data(chain_id: int, ledger: str, attestation: Attestation) -> dict[str, Any]:
    """The attestation as an EIP-712 ``eth_signTypedData_v4`` message (what a wallet signs).

    Args:
        chain_id: the chain's id.
        ledger: the EmissionsLedger's address (the domain's verifying contract).
        attestation: the attestation.

    Raises:
        InvalidInputError: a field does not fit its Solidity type.
    """
    auditor, enterprise, pollutant, year, verified, offsets, evidence, report, supersedes, nonce = (
        attestation.as_tuple()
    )
    domain = Eip712Domain(chain_id, checked_address(ledger, "ledger"), DOMAIN_NAME, DOMAIN_VERSION)
    return typed_data(
        domain,
        "Attestation",
        {"Attestation": _ATTESTATION_FIELDS},
        {
            "auditor": auditor,
            "enterprise": enterprise,
            "pollutant": pollutant,
            "year": year,
            "verifiedEmissions": verified,
            "offsetsEligible": offsets,
            "evidence": ["0x" + e.hex() for e in evidence],
            "reportHash": "0x" + report.hex(),
            "supersedes": "0x" + supersedes.hex(),
            "nonce": nonce,
        },
    )


def attestation_digest(chain_id: int, ledger: str, attestation: Attestation) -> bytes:
    """EIP-712 digest of an attestation (eth-account's encoder): its id on the ledger."""
    return typed_digest(attestation_typed_data(chain_id, ledger, attestation))


def recover_attestation_signer(
    chain_id: int, ledger: str, attestation: Attestation, signature: bytes
) -> str | None:
    """The address ``signature`` recovers to over the attestation's typed data (None: malformed)."""
    return recover_typed(attestation_typed_data(chain_id, ledger, attestation), signature)


def document_hash(content: bytes | str) -> bytes:
    """keccak-256 of a document (report, rules, evidence file; text as UTF-8): what attestations,
    notices and evidence lists cite."""
    return bytes(keccak(content.encode() if isinstance(content, str) else content))


def sign_attestation(auditor: LocalAccount, chain_id: int, ledger: str, attestation: Attestation) -> bytes:
    """The auditor's 65-byte ``r ‖ s ‖ v`` signature of an attestation, made offline.

    Raises:
        InvalidInputError: the key is not the attestation's auditor, or a field does not fit.
    """
    if auditor.address.lower() != attestation.auditor.lower():
        raise InvalidInputError(
            f"key {auditor.address} is not the attestation's auditor {attestation.auditor}"
        )
    return sign_typed(auditor, attestation_typed_data(chain_id, ledger, attestation))


@dataclass(frozen=True)
class AttestationRecord:
    """An attestation as the ledger stores it (the evidence list: see :class:`AttestationSubmitted`)."""

    id: bytes
    auditor: str
    pollutant: int
    year: int
    status: AttestationStatus
    attested_at: int
    enterprise: str
    evidence_count: int
    verified_emissions: int
    offsets_eligible: int
    evidence_hash: bytes
    report_hash: bytes
    #: when it was superseded, revoked or rejected (0 while Active)
    closed_at: int = 0


@dataclass(frozen=True)
class AttestationSubmitted:
    """An ``AttestationSubmitted`` event."""

    id: bytes
    auditor: str
    enterprise: str
    pollutant: int
    year: int
    verified_emissions: int
    offsets_eligible: int
    evidence: tuple[bytes, ...]
    report_hash: bytes
    supersedes: bytes
    tx_hash: str


@dataclass(frozen=True)
class AttestationClosed:
    """An ``AttestationRevoked`` (``by`` the auditor) or ``AttestationRejected`` (``by`` the
    regulator) event; ``status`` says which."""

    id: bytes
    status: AttestationStatus
    by: str
    enterprise: str
    reason_code: int
    reason: str
    tx_hash: str


# ---------------------------------------------------------------------- signed attestation files

_HEX32 = re.compile(r"^0x[0-9a-fA-F]{64}$")
_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")


def _hex32_text(value: str) -> str:
    if not _HEX32.match(value):
        raise ValueError(f"{value!r} is not 32 bytes of 0x-hex")
    return value.lower()


def _address_text(value: str) -> str:
    if not _ADDRESS.match(value):
        raise ValueError(f"{value!r} is not a 0x address")
    return value


class SignedAttestation(BaseModel):
    """A signed attestation file (JSON): the EIP-712 ``Attestation``, its domain, id and signature.

    The auditor writes it offline (``ets attest sign``); anyone relays it (``ets attest submit``).
    """

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    version: Literal[1] = 1
    chain_id: int = Field(ge=1)
    ledger: str
    id: str
    auditor: str
    enterprise: str
    pollutant: int = Field(ge=1, le=255)
    year: int = Field(ge=0, le=2**16 - 1)
    verified_emissions: int = Field(ge=0)
    offsets_eligible: int = Field(ge=0)
    evidence: list[str]
    report_hash: str
    supersedes: str
    nonce: int = Field(ge=0)
    signature: str = Field(pattern=r"^0x[0-9a-fA-F]{130}$")

    _hex32 = field_validator("id", "report_hash", "supersedes")(_hex32_text)
    _addresses = field_validator("ledger", "auditor", "enterprise")(_address_text)

    @field_validator("evidence")
    @classmethod
    def _evidence(cls, values: list[str]) -> list[str]:
        return [_hex32_text(v) for v in values]

    def attestation(self) -> Attestation:
        """The attestation's fields as :class:`Attestation`."""
        return Attestation(
            auditor=self.auditor, enterprise=self.enterprise, pollutant=self.pollutant, year=self.year,
            verified_emissions=self.verified_emissions, offsets_eligible=self.offsets_eligible,
            evidence=tuple(bytes.fromhex(e[2:]) for e in self.evidence),
            report_hash=bytes.fromhex(self.report_hash[2:]), supersedes=bytes.fromhex(self.supersedes[2:]),
            nonce=self.nonce,
        )  # fmt: skip

    @property
    def signature_bytes(self) -> bytes:
        return bytes.fromhex(self.signature[2:])

    def signer(self) -> str | None:
        """The address the file's signature recovers to over its typed data (None: malformed)."""
        return recover_attestation_signer(
            self.chain_id, self.ledger, self.attestation(), self.signature_bytes
        )

    @classmethod
    def load(cls, path: Path) -> SignedAttestation:
        """Read a signed attestation file.

        Raises:
            ComplianceInputError: unreadable or not a valid signed attestation (problems listed).
        """
        return load_model(path, cls, ComplianceInputError, "signed attestation")


class AttestationsClient(ContractClient):
    """The attestation functions of one deployed EmissionsLedger (:class:`chain.ledger.LedgerClient`
    has them with the anchoring functions)."""

    CONTRACT = "EmissionsLedger"

    def attest(self, auditor: LocalAccount, attestation: Attestation) -> AttestationSubmitted:
        """Submit an attestation as its auditor.

        Returns:
            The ``AttestationSubmitted`` event (its ``id`` is the attestation id).

        Raises:
            ContractRevertError: refused (``LedgerNotAttestationAuditor``, ``LedgerNotAuditor``,
                ``LedgerInvalidNonce``, ``LedgerAttestationExists`` ...).
            InvalidInputError: a field does not fit its Solidity type.
        """
        fn = self.contract.functions.attest(attestation.as_tuple())
        return self._submitted(self.chain.transact(fn, auditor))

    def attest_by_sig(
        self, relayer: LocalAccount, attestation: Attestation, signature: bytes
    ) -> AttestationSubmitted:
        """Relay an attestation signed offline by its auditor (:func:`sign_attestation`).

        Raises:
            ContractRevertError: refused (``LedgerAttestationSignerMismatch``,
                ``LedgerAttestationInvalidSignature``, ``LedgerNotAuditor``, ``LedgerInvalidNonce`` ...).
            InvalidInputError: a field does not fit its Solidity type.
        """
        fn = self.contract.functions.attestBySig(attestation.as_tuple(), bytes(signature))
        return self._submitted(self.chain.transact(fn, relayer))

    def revoke_attestation(
        self, auditor: LocalAccount, attestation_id: bytes | str, reason_code: int, reason: str
    ) -> AttestationClosed:
        """Revoke one's own Active attestation.

        Raises:
            ContractRevertError: ``LedgerAttestationUnknown``, ``LedgerNotAttestationAuditor``,
                ``LedgerAttestationNotActive``.
        """
        return self._close("revokeAttestation", auditor, attestation_id, reason_code, reason)

    def reject_attestation(
        self, regulator: LocalAccount, attestation_id: bytes | str, reason_code: int, reason: str
    ) -> AttestationClosed:
        """Reject an Active attestation as the regulator.

        Raises:
            ContractRevertError: ``UnauthorizedRole``, ``LedgerAttestationUnknown``,
                ``LedgerAttestationNotActive``.
        """
        return self._close("rejectAttestation", regulator, attestation_id, reason_code, reason)

    def _close(
        self, function: str, sender: LocalAccount, attestation_id: bytes | str, reason_code: int, reason: str
    ) -> AttestationClosed:
        """Send ``revokeAttestation`` or ``rejectAttestation`` and read the event it emits."""
        event, status = {
            "revokeAttestation": ("AttestationRevoked", AttestationStatus.REVOKED),
            "rejectAttestation": ("AttestationRejected", AttestationStatus.REJECTED),
        }[function]
        key = bytes32(attestation_id, "attestation id")
        code = check_uint(reason_code, "reason code", UINT16_MAX)
        fn = self.contract.functions[function](key, code, reason)
        return self._closed(self.chain.transact(fn, sender), event, status)

    def attestation(self, attestation_id: bytes | str) -> AttestationRecord:
        """The stored attestation.

        Raises:
            ContractRevertError: ``LedgerAttestationUnknown``.
        """
        key = bytes32(attestation_id, "attestation id")
        r = self.chain.call(self.contract.functions.attestation(key))
        return AttestationRecord(
            id=key,
            auditor=to_checksum_address(r[0]),
            pollutant=int(r[1]),
            year=int(r[2]),
            status=AttestationStatus(r[3]),
            attested_at=int(r[4]),
            enterprise=to_checksum_address(r[5]),
            evidence_count=int(r[6]),
            closed_at=int(r[7]),
            verified_emissions=int(r[8]),
            offsets_eligible=int(r[9]),
            evidence_hash=bytes(r[10]),
            report_hash=bytes(r[11]),
        )

    def latest_attestation(self, enterprise: str, pollutant: int, year: int) -> bytes | None:
        """Id of the most recent Active attestation of (enterprise, pollutant, year), None if none."""
        fn = self.contract.functions.latestAttestation(
            checked_address(enterprise, "enterprise"),
            check_uint(pollutant, "pollutant", UINT8_MAX),
            check_uint(year, "year", UINT16_MAX),
        )
        found = bytes(self.chain.call(fn))
        return None if found == ZERO_ID else found

    def attestation_of_record(self, enterprise: str, pollutant: int, year: int, cutoff: int) -> bytes | None:
        """Id of the attestation of record at ``cutoff`` (the compliance deadline): the latest one
        Active at ``cutoff`` and never rejected by the regulator; None if none."""
        fn = self.contract.functions.attestationOfRecord(
            checked_address(enterprise, "enterprise"),
            check_uint(pollutant, "pollutant", UINT8_MAX),
            check_uint(year, "year", UINT16_MAX),
            check_uint(cutoff, "cutoff", UINT64_MAX),
        )
        found = bytes(self.chain.call(fn))
        return None if found == ZERO_ID else found

    def attestation_count(self, enterprise: str, pollutant: int, year: int) -> int:
        """Attestations ever submitted for (enterprise, pollutant, year), whatever their status."""
        fn = self.contract.functions.attestationCount(
            checked_address(enterprise, "enterprise"),
            check_uint(pollutant, "pollutant", UINT8_MAX),
            check_uint(year, "year", UINT16_MAX),
        )
        return int(self.chain.call(fn))

    def is_attestation_active(self, attestation_id: bytes | str) -> bool:
        fn = self.contract.functions.isAttestationActive(bytes32(attestation_id, "attestation id"))
        return bool(self.chain.call(fn))

    def attestation_digest(self, attestation: Attestation) -> bytes:
        """The contract's EIP-712 digest of an attestation (its id, what the auditor signs)."""
        return bytes(self.chain.call(self.contract.functions.attestationDigest(attestation.as_tuple())))

    def nonce(self, auditor: str) -> int:
        """The auditor's next attestation nonce."""
        return int(self.chain.call(self.contract.functions.nonces(checked_address(auditor, "auditor"))))

    def verify_cited_reading(
        self,
        attestation_id: bytes | str,
        evidence: Sequence[bytes | str],
        evidence_index: int,
        batch_id: bytes | str,
        reading: ReadingLike,
        witness: FrameWitnessLike,
        proof: Iterable[bytes | str],
        header: AnchoredBatch | None = None,
    ) -> bool:
        """Ask the contract whether the reading is in batch ``batch_id``, cited by the attestation
        at ``evidence[evidence_index]`` (``evidence``: the attestation's list, from its event).

        ``header`` is the batch's header (the preimage of its stored word); when None it is read
        from the batch's ``BatchAnchored`` event.

        Raises:
            InvalidInputError: a field does not fit its Solidity type.
            ContractRevertError: ``LedgerBatchHeaderMismatch``: the header is not the batch's.
        """
        fn = self.contract.functions.verifyCitedReading(
            bytes32(attestation_id, "attestation id"),
            [bytes32(e, "evidence") for e in evidence],
            check_uint(evidence_index, "evidence index", UINT256_MAX),
            bytes32(batch_id, "batch id"),
            header_tuple(self, batch_id) if header is None else header.as_tuple(),
            reading_tuple(reading),
            frame_tuple(witness),
            [bytes32(node, "proof node") for node in proof],
        )
        return bool(self.chain.call(fn))

    def _submitted(self, receipt: TxReceipt) -> AttestationSubmitted:
        [log] = self.contract.events.AttestationSubmitted().process_receipt(receipt, errors=DISCARD)
        a = log["args"]
        event = AttestationSubmitted(
            id=bytes(a["id"]),
            auditor=to_checksum_address(a["auditor"]),
            enterprise=to_checksum_address(a["enterprise"]),
            pollutant=int(a["pollutant"]),
            year=int(a["year"]),
            verified_emissions=int(a["verifiedEmissions"]),
            offsets_eligible=int(a["offsetsEligible"]),
            evidence=tuple(bytes(e) for e in a["evidence"]),
            report_hash=bytes(a["reportHash"]),
            supersedes=bytes(a["supersedes"]),
            tx_hash=HexBytes(receipt["transactionHash"]).to_0x_hex(),
        )
        logger.info(
            "attestation submitted",
            extra={
                "attestation": "0x" + event.id.hex(),
                "enterprise": event.enterprise,
                "tx_hash": event.tx_hash,
            },
        )
        return event

    def _closed(self, receipt: TxReceipt, name: str, status: AttestationStatus) -> AttestationClosed:
        [log] = getattr(self.contract.events, name)().process_receipt(receipt, errors=DISCARD)
        a = log["args"]
        by = a["auditor"] if status is AttestationStatus.REVOKED else a["regulator"]
        event = AttestationClosed(
            id=bytes(a["id"]),
            status=status,
            by=to_checksum_address(by),
            enterprise=to_checksum_address(a["enterprise"]),
            reason_code=int(a["reasonCode"]),
            reason=str(a["reason"]),
            tx_hash=HexBytes(receipt["transactionHash"]).to_0x_hex(),
        )
        logger.info(
            "attestation closed",
            extra={"attestation": "0x" + event.id.hex(), "status": status.name, "tx_hash": event.tx_hash},
        )
        return event

    def attestation_evidence(self, attestation_id: bytes) -> list[bytes]:
        """The evidence list an attestation cites (the chain stores its hash; the list is in the
        ``AttestationSubmitted`` event). Empty when the attestation is unknown."""
        logs = self.contract.events.AttestationSubmitted().get_logs(
            from_block=self.from_block, argument_filters={"id": bytes32(attestation_id, "attestation id")}
        )
        return [bytes(e) for e in logs[0]["args"]["evidence"]] if logs else []


__all__ = [
    "Attestation",
    "AttestationClosed",
    "AttestationRecord",
    "AttestationStatus",
    "AttestationSubmitted",
    "AttestationsClient",
    "SignedAttestation",
    "attestation_digest",
    "attestation_typed_data",
    "evidence_hash",
    "sign_attestation",
]
