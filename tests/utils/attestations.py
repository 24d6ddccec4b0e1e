"""Factories for attestation tests: attestations, offline signatures (also deliberately wrong
ones), and anchored batches of signed readings with their Merkle proofs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_account.signers.local import LocalAccount
from eth_utils import keccak

from chain.abi import ZERO_ID
from chain.attestations import Attestation, attestation_typed_data
from chain.ledger import LedgerClient
from oracle.queue import Batch, Queue
from oracle.signing.proof import SignedReading
from oracle.signing.reading import ReadingFields
from oracle.signing.signer import DeviceSigner
from tests.utils.readings import BASE_TIME, FRAME_FACTORS

#: AllowanceToken pollutant code of CO2 and the year most tests attest.
CO2, YEAR = 1, 2024

Proven = list[tuple[SignedReading, list[bytes]]]


def evidence_of(text: str) -> bytes:
    """A 32-byte hash of an external evidence document (a stand-in for a file's hash)."""
    return bytes(keccak(text=f"evidence: {text}"))


def report_of(text: str = "annual report") -> bytes:
    """A 32-byte report hash (a stand-in for the keccak of a PDF)."""
    return bytes(keccak(text=f"report: {text}"))


def attestation(
    auditor: str,
    enterprise: str,
    *,
    nonce: int = 0,
    evidence: Sequence[bytes] = (),
    supersedes: bytes = ZERO_ID,
    pollutant: int = CO2,
    year: int = YEAR,
    verified_emissions: int = 120_000,
    offsets_eligible: int = 6_000,
    report: bytes | None = None,
) -> Attestation:
    """An attestation with plausible defaults (evidence: one external hash unless given)."""
    return Attestation(
        auditor=auditor,
        enterprise=enterprise,
        pollutant=pollutant,
        year=year,
        verified_emissions=verified_emissions,
        offsets_eligible=offsets_eligible,
        evidence=tuple(evidence) if evidence else (evidence_of("fuel invoices"),),
        report_hash=report_of() if report is None else report,
        supersedes=supersedes,
        nonce=nonce,
    )


def typed_data(ledger: LedgerClient, a: Attestation) -> dict[str, Any]:
    return attestation_typed_data(ledger.chain.chain_id, ledger.address, a)


def sign_with(key: LocalAccount, ledger: LedgerClient, a: Attestation) -> bytes:
    """``key``'s signature over ``a`` whoever ``a`` names as auditor (for forgery tests)."""
    return bytes(
        Account.sign_message(encode_typed_data(full_message=typed_data(ledger, a)), key.key).signature
    )


def recover(ledger: LedgerClient, a: Attestation, signature: bytes) -> str:
    """The address ``signature`` recovers to over ``a``'s typed data."""
    return str(
        Account.recover_message(encode_typed_data(full_message=typed_data(ledger, a)), signature=signature)
    )


def frame_fields(time: int, size: int, base: int) -> list[ReadingFields]:
    """One frame's readings before signing: ``size`` readings at ``time``, cycling the factors."""
    factors = [FRAME_FACTORS[i % len(FRAME_FACTORS)] for i in range(size)]
    return [
        ReadingFields(time, pollutant, base + 1000 * i + 345, i % 4, unit)
        for i, (pollutant, unit) in enumerate(factors)
    ]


def anchored_batch(
    ledger: LedgerClient, oracle: LocalAccount, device: DeviceSigner, *, frames: int = 2, size: int = 4
) -> tuple[Batch, Proven]:
    """Anchor one batch of ``frames`` frames of ``size`` readings of ``device`` (one signature a
    frame, via the oracle's queue); returns it with each reading and its Merkle proof."""
    queue = Queue()
    queue.append(device.sign_frame(frame_fields(BASE_TIME + 60 * i, size, i)) for i in range(frames))
    [batch] = queue.cut_batches(frames * size, 0)
    ledger.anchor(oracle, batch)
    rows = queue.batch_readings(batch.batch_id)
    return batch, [(row.signed, list(queue.proof(row.row_id).proof)) for row in rows]
