"""Transactions for wallet users: the action catalogue, unsigned transactions built and kept as
intents, signed raw transactions checked against their intent and relayed, outcomes recorded,
and the EIP-712 payloads auditors and devices sign.

Keys never reach the server. An intent is the call the API built for one signed-in account; the
raw transaction relayed for it must be that call (target, calldata, value, chain) signed by that
account, and it is relayed at most once: the intent is claimed (``built`` → ``pending``, with
the raw transaction's hash) in one conditional update before anything is sent, so two relays of
the same intent cannot both go out, and a crash after sending leaves a hash to look up.

Intent states: ``built`` (awaiting a signature; shown ``expired`` after its lifetime),
``pending`` (relayed, not mined yet), ``success`` or ``reverted`` (mined).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import CursorResult, update
from sqlalchemy.orm import Session

from api.errors import ConflictError, ForbiddenError, NotFoundError
from chain.abi import ZERO_ID, hex32
from chain.attestations import Attestation, attestation_digest, attestation_typed_data
from chain.calls import ActionSpec, CallCatalog, EncodedCall, check_same_call, decode_raw_transaction
from chain.errors import CallInputError, ContractRevertError, RawTransactionError, TransactionError
from chain.events import EventSource
from chain.tx import ChainClient
from oracle.errors import ReadingValueError
from oracle.signing.eip712 import (
    ReadingDomain,
    frame_digest,
    frame_typed_data,
    reading_digest,
    reading_hash,
    reading_typed_data,
)
from oracle.signing.reading import Reading
from readmodel import models as m
from readmodel.models import BUILT, EXPIRED, PENDING, REVERTED, SUCCESS

logger = logging.getLogger(__name__)

#: How long a relay waits for its receipt before answering ``pending``.
RELAY_WAIT_SECONDS = 30.0
#: How long a look-up of a pending intent waits for a receipt that is already there.
REFRESH_WAIT_SECONDS = 5.0


class IntentExpiredError(ConflictError):
    """Raised when a raw transaction is relayed for an intent past its lifetime (build again)."""


class IntentUsedError(ConflictError):
    """Raised when a raw transaction is relayed for an intent that was already relayed."""


class RelayNonceError(ConflictError):
    """Raised when a raw transaction's nonce is not its sender's pending nonce (a future nonce
    would wait in the node's queue, and the relay with it, for nothing)."""


class RelayInFlightError(ConflictError):
    """Raised when the account already has a relay waiting for its receipt (one at a time)."""


@dataclass(frozen=True)
class Outcome:
    """What became of a relayed transaction.

    Attributes:
        tx_hash: the transaction's hash.
        status: ``success``, ``reverted`` or ``pending`` (not mined within the wait).
        block_number: block it was mined in (None while pending).
        gas_used: gas it used (None while pending).
        events: the suite's events it emitted, decoded (contract, name, args, log_index, address).
        error: the decoded custom error of a reverted transaction (name, args, message).
    """

    tx_hash: str
    status: str
    block_number: int | None = None
    gas_used: int | None = None
    events: list[dict[str, Any]] = field(default_factory=list)
    error: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "tx_hash": self.tx_hash, "status": self.status, "block_number": self.block_number,
            "gas_used": self.gas_used, "events": self.events, "error": self.error,
        }  # fmt: skip


@dataclass(frozen=True)
class Built:
    """An intent just stored, with the unsigned transaction and the call it encodes."""

    intent: m.TxIntent
    tx: dict[str, Any]
    call: EncodedCall
    action: ActionSpec


@dataclass(frozen=True)
class TypedPayload:
    """An EIP-712 message ready for ``eth_signTypedData_v4`` and its digest (what is signed)."""

    typed_data: dict[str, Any]
    digest: bytes
    hashes: tuple[bytes, ...] = ()


# ---------------------------------------------------------------------- catalogue and build


def list_actions(*, calls: CallCatalog, contract: str | None = None) -> list[ActionSpec]:
    """Every action of the deployed contracts, or those of ``contract``.

    Raises:
        CallInputError: ``contract`` has no actions (not deployed).
    """
    actions = calls.actions()
    if contract is None:
        return actions
    chosen = [a for a in actions if a.contract == contract]
    if not chosen:
        known = ", ".join(sorted({a.contract for a in actions}))
        raise CallInputError(f"unknown contract {contract!r} (known: {known})")
    return chosen


def build_intent(
    db: Session,
    *,
    calls: CallCatalog,
    sender: str,
    contract: str,
    function: str,
    args: Mapping[str, Any] | Sequence[Any],
    value: int = 0,
    lifetime_s: int,
    now: int | None = None,
) -> Built:
    """Encode ``contract.function(args)``, build the unsigned transaction from ``sender`` (gas
    estimated from its address) and store it as an intent.

    Raises:
        CallInputError: unknown action or an argument that does not fit (named in the message).
        ContractRevertError: the call would revert now (decoded custom error).
    """
    call = calls.encode(contract, function, args, value=value)
    tx = calls.build(call, sender)
    now = int(time.time()) if now is None else now
    intent = m.TxIntent(
        intent_id=str(uuid.uuid4()), sender=tx["from"], contract=call.contract, function=call.signature,
        to=call.to, data="0x" + call.data.hex(), value=call.value, chain_id=int(tx["chainId"]),
        created_at=now, expires_at=now + lifetime_s, tx_hash=None, status=BUILT, outcome=None,
    )  # fmt: skip
    db.add(intent)
    db.flush()
    logger.info("intent built", extra={"intent": intent.intent_id, "sender": intent.sender,
                                       "action": f"{call.contract}.{call.signature}"})  # fmt: skip
    return Built(intent, tx, call, calls.action(call.contract, call.signature))


# ---------------------------------------------------------------------- intents


def get_intent(db: Session, *, intent_id: str, owner: str) -> m.TxIntent:
    """The intent ``intent_id`` of ``owner``.

    Raises:
        NotFoundError: no such intent.
        ForbiddenError: it belongs to another account.
    """
    intent = db.get(m.TxIntent, intent_id)
    if intent is None:
        raise NotFoundError(f"transaction intent {intent_id} does not exist")
    if intent.sender.lower() != owner.lower():
        raise ForbiddenError(f"transaction intent {intent_id} belongs to another account")
    return intent


def shown_status(intent: m.TxIntent, *, now: int | None = None) -> str:
    """The intent's state as clients see it (``expired`` for an unsigned one past its lifetime)."""
    now = int(time.time()) if now is None else now
    return EXPIRED if intent.status == BUILT and intent.expires_at <= now else intent.status


def _expected_call(calls: CallCatalog, intent: m.TxIntent) -> EncodedCall:
    """The call an intent was built for, from its stored target and calldata."""
    data = bytes.fromhex(intent.data[2:])
    spec, args = calls.describe(intent.to, data)
    return EncodedCall(spec.contract, spec.function, spec.signature, intent.to, data, intent.value, args)


def relay_intent(
    db: Session,
    *,
    calls: CallCatalog,
    chain: ChainClient,
    events: EventSource,
    intent_id: str,
    owner: str,
    raw_transaction: str,
    wait_s: float = RELAY_WAIT_SECONDS,
    now: int | None = None,
) -> Outcome:
    """Check ``raw_transaction`` is the intent's call signed by ``owner``, relay it once, wait
    for its receipt and record the outcome in the intent.

    A transaction mined and reverted is an outcome (status ``reverted`` with the decoded custom
    error), not an exception: it is on the chain and the intent is used.

    Raises:
        NotFoundError: no such intent.
        ForbiddenError: the intent belongs to another account.
        IntentUsedError: the intent was already relayed.
        IntentExpiredError: the intent is past its lifetime.
        RawTransactionError: malformed, or not the intent's call (the message names the first
            differing field: sender, chain id, to, data, value), or refused by the node (then
            the intent stays usable).
        RelayNonceError: the transaction's nonce is not the sender's pending nonce (the intent
            stays usable: sign again with the nonce the message names).
        ContractRevertError: the node refused it with a revert before mining it (intent stays usable).
    """
    now = int(time.time()) if now is None else now
    intent = get_intent(db, intent_id=intent_id, owner=owner)
    if intent.status != BUILT:
        raise IntentUsedError(
            f"transaction intent {intent_id} was already relayed ({intent.tx_hash}, {intent.status})"
        )
    if intent.expires_at <= now:
        raise IntentExpiredError(
            f"transaction intent {intent_id} expired at {intent.expires_at}: build it again"
        )
    raw = decode_raw_transaction(raw_transaction)
    check_same_call(raw, _expected_call(calls, intent), sender=owner, chain_id=intent.chain_id)
    pending = pending_nonce(chain, owner)
    if raw.nonce != pending:
        raise RelayNonceError(
            f"the transaction's nonce is {raw.nonce} but {owner}'s next nonce is {pending}: "
            f"sign it again with nonce {pending}"
        )

    claim = update(m.TxIntent).where(
        m.TxIntent.intent_id == intent_id, m.TxIntent.status == BUILT, m.TxIntent.expires_at > now
    ).values(status=PENDING, tx_hash=raw.hash)  # fmt: skip
    if cast(CursorResult[Any], db.execute(claim)).rowcount != 1:
        db.rollback()
        raise IntentUsedError(f"transaction intent {intent_id} is being relayed by another request")
    db.commit()
    try:
        tx_hash = chain.send_raw(bytes.fromhex(raw_transaction.strip()[2:]))
    except Exception as exc:  # not sent: the intent stays usable for a corrected signature
        db.execute(update(m.TxIntent).where(m.TxIntent.intent_id == intent_id)
                   .values(status=BUILT, tx_hash=None))  # fmt: skip
        db.commit()
        if type(exc) is TransactionError:
            raise RawTransactionError(f"the node refused the transaction: {exc}") from None
        raise
    logger.info("intent relayed", extra={"intent": intent_id, "sender": owner, "tx_hash": tx_hash})
    outcome = settle(chain=chain, events=events, tx_hash=tx_hash, wait_s=wait_s)
    _record(db, intent_id=intent_id, outcome=outcome)
    return outcome


def pending_nonce(chain: ChainClient, account: str) -> int:
    """``account``'s next nonce as the node counts it (its pending transactions included)."""
    return int(chain.rpc("eth_getTransactionCount", [account, "pending"]), 16)


def refresh_intent(db: Session, *, chain: ChainClient, events: EventSource, intent: m.TxIntent) -> m.TxIntent:
    """A pending intent brought up to date if its transaction has been mined since."""
    if intent.status != PENDING or intent.tx_hash is None:
        return intent
    if chain.receipt(intent.tx_hash) is None:
        return intent
    outcome = settle(chain=chain, events=events, tx_hash=intent.tx_hash, wait_s=REFRESH_WAIT_SECONDS)
    _record(db, intent_id=intent.intent_id, outcome=outcome)
    db.refresh(intent)
    return intent


def _record(db: Session, *, intent_id: str, outcome: Outcome) -> None:
    values: dict[str, Any] = {"tx_hash": outcome.tx_hash, "status": outcome.status}
    if outcome.status != PENDING:
        values["outcome"] = outcome.to_json()
    db.execute(update(m.TxIntent).where(m.TxIntent.intent_id == intent_id).values(**values))
    db.commit()


def settle(*, chain: ChainClient, events: EventSource, tx_hash: str, wait_s: float) -> Outcome:
    """Wait up to ``wait_s`` for ``tx_hash`` and describe what it did."""
    error: dict[str, Any] | None = None
    try:
        chain.wait(tx_hash, timeout=wait_s)
    except ContractRevertError as exc:
        error = {"name": exc.error, "args": exc.json_args(), "message": exc.explain()}
    except TransactionError as exc:
        error = {"name": "Unknown", "args": {}, "message": str(exc)}
    receipt = chain.receipt(tx_hash)
    if receipt is None:
        return Outcome(tx_hash, PENDING)
    block = int(receipt["blockNumber"], 16)
    gas_used = int(receipt["gasUsed"], 16)
    if int(receipt["status"], 16) != 1:
        error = error or {"name": "Unknown", "args": {}, "message": "reverted"}
        return Outcome(tx_hash, REVERTED, block, gas_used, [], error)
    page = events.fetch(block, block)
    decoded = [
        {
            "contract": e.contract,
            "name": e.name,
            "address": e.address,
            "log_index": e.log_index,
            "args": e.args,
        }
        for e in page.events
        if e.tx_hash.lower() == tx_hash.lower()
    ]
    return Outcome(tx_hash, SUCCESS, block, gas_used, decoded)


# ---------------------------------------------------------------------- EIP-712 payloads


def attestation_payload(
    *,
    chain_id: int,
    ledger: str,
    auditor: str,
    nonce: int,
    enterprise: str,
    pollutant: int,
    year: int,
    verified_emissions: int,
    offsets_eligible: int,
    evidence: Sequence[str],
    report_hash: str,
    supersedes: str | None = None,
) -> TypedPayload:
    """The attestation ``auditor`` signs (EIP-712, domain of the EmissionsLedger at ``ledger``).

    Raises:
        InvalidInputError: a field does not fit its Solidity type.
    """
    attestation = Attestation(
        auditor=auditor, enterprise=enterprise, pollutant=pollutant, year=year,
        verified_emissions=verified_emissions, offsets_eligible=offsets_eligible,
        evidence=tuple(hex32(e, "evidence", CallInputError) for e in evidence),
        report_hash=hex32(report_hash, "report_hash", CallInputError),
        supersedes=ZERO_ID if supersedes is None else hex32(supersedes, "supersedes", CallInputError),
        nonce=nonce,
    )  # fmt: skip
    return TypedPayload(
        attestation_typed_data(chain_id, ledger, attestation),
        attestation_digest(chain_id, ledger, attestation),
    )


def reading_payload(
    *, chain_id: int, ledger: str, readings: Sequence[Mapping[str, Any]], frame: bool
) -> TypedPayload:
    """A reading's (or a frame's) EIP-712 message, as a device signs it, with its digest and
    each reading's ``hashStruct``.

    Raises:
        ReadingValueError: a field does not fit, or a lone reading was asked for with several.
    """
    parsed = [Reading.from_json(r) for r in readings]
    if not parsed:
        raise ReadingValueError("give at least one reading")
    domain = ReadingDomain(chain_id, ledger)
    hashes = tuple(reading_hash(r) for r in parsed)
    if frame:
        if len({r.device for r in parsed}) != 1:
            raise ReadingValueError("a frame's readings are one device's")
        return TypedPayload(frame_typed_data(domain, parsed), frame_digest(domain, hashes), hashes)
    if len(parsed) != 1:
        raise ReadingValueError(
            f"a Reading payload takes one reading, got {len(parsed)} (or ask for a frame)"
        )
    return TypedPayload(reading_typed_data(domain, parsed[0]), reading_digest(domain, parsed[0]), hashes)
