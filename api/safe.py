"""Safe multisig transactions for enterprise accounts held by a Safe: a representative proposes the
inner call (any action of the catalogue, encoded as POST /tx/build encodes it), the API keeps it
with its EIP-712 ``SafeTx`` hash and the Safe nonce it is bound to, collects the representatives'
signatures (each checked: recovered to one of the Safe's owners), and once the threshold is met
builds the ``execTransaction`` for a representative's wallet and relays the signed transaction.

Keys never reach the server: representatives sign the ``SafeTx`` typed data and the outer
transaction in their wallets. A proposal's nonce is the Safe's on-chain nonce, or one past the
highest proposal still pending, so several can wait in line; each executes only at its turn.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from api.errors import ConflictError, ForbiddenError, NotFoundError
from chain.calls import CallCatalog, decode_raw_transaction
from chain.errors import ChainError, ContractRevertError, RawTransactionError
from chain.safe import SafeClient, SafeTx, safe_tx_typed_data
from chain.tx import ChainClient
from readmodel import models as m

logger = logging.getLogger(__name__)

PENDING, EXECUTED, FAILED = "pending", "executed", "failed"


def safe_of(chain: ChainClient, address: str) -> SafeClient:
    """The Safe at ``address``.

    Raises:
        NotFoundError: no contract there, or not a Safe.
    """
    try:
        safe = SafeClient(chain, address)
        if len(chain.w3.eth.get_code(safe.address)) == 0:
            raise NotFoundError(f"{safe.address} is not a Safe (no contract at that address)")
        safe.threshold()
    except (ContractRevertError, ValueError) as exc:
        raise NotFoundError(f"{address} is not a Safe: {exc}") from None
    return safe


def require_representative(safe: SafeClient, account: str) -> None:
    """Raises ForbiddenError unless ``account`` is one of the Safe's owners."""
    if not safe.is_owner(account):
        raise ForbiddenError(f"{account} is not a representative of Safe {safe.address}")


def safe_tx_of(record: m.SafeTransaction) -> SafeTx:
    """The ``SafeTx`` a stored proposal stands for."""
    return SafeTx(
        to=record.to, data=bytes.fromhex(record.data[2:]), nonce=record.nonce, value=int(record.value)
    )


def typed_data(record: m.SafeTransaction) -> dict[str, Any]:
    """The EIP-712 typed data a representative signs (``eth_signTypedData_v4``)."""
    return safe_tx_typed_data(record.chain_id, record.safe, safe_tx_of(record))


def next_nonce(db: Session, safe: SafeClient) -> int:
    """The Safe's nonce, or one past the highest proposal still pending at or after it."""
    onchain = safe.nonce()
    highest = db.execute(
        select(func.max(m.SafeTransaction.nonce)).where(
            m.SafeTransaction.safe == safe.address,
            m.SafeTransaction.status == PENDING,
            m.SafeTransaction.nonce >= onchain,
        )
    ).scalar_one()
    return onchain if highest is None else max(onchain, int(highest) + 1)


def propose(
    db: Session,
    *,
    calls: CallCatalog,
    safe: SafeClient,
    proposer: str,
    contract: str,
    function: str,
    args: dict[str, Any] | list[Any],
    now: int | None = None,
) -> m.SafeTransaction:
    """Encode the inner call, check the Safe could make it now (gas estimated from the Safe's
    address) and keep it as a pending Safe transaction.

    Raises:
        ForbiddenError: ``proposer`` is not a representative.
        CallInputError: unknown action or an argument that does not fit (named).
        ContractRevertError: the Safe's call would revert now (decoded custom error).
        ConflictError: the same transaction is already proposed.
    """
    require_representative(safe, proposer)
    call = calls.encode(contract, function, args)
    calls.build(call, safe.address)  # the inner call from the Safe: refused now if it would revert
    tx = safe.transaction(call.to, call.data, nonce=next_nonce(db, safe))
    tx_hash = "0x" + safe.tx_hash(tx).hex()
    if db.get(m.SafeTransaction, tx_hash) is not None:
        raise ConflictError(f"Safe transaction {tx_hash} is already proposed")
    record = m.SafeTransaction(
        safe_tx_hash=tx_hash, safe=safe.address, chain_id=safe.chain.chain_id, nonce=tx.nonce, to=call.to,
        value=str(call.value), data="0x" + call.data.hex(), contract=call.contract, function=call.signature,
        args=call.args, proposer=proposer, created_at=int(time.time()) if now is None else now,
        status=PENDING, tx_hash=None, executed_at=None,
    )  # fmt: skip
    db.add(record)
    db.flush()
    logger.info("safe tx proposed", extra={"safe": safe.address, "safe_tx": tx_hash, "nonce": tx.nonce})
    return record


def get_transaction(db: Session, *, safe: str, safe_tx_hash: str) -> m.SafeTransaction:
    """The proposal ``safe_tx_hash`` of ``safe``.

    Raises:
        NotFoundError: no such proposal for this Safe.
    """
    record = db.get(m.SafeTransaction, safe_tx_hash.lower())
    if record is None or record.safe.lower() != safe.lower():
        raise NotFoundError(f"Safe {safe} has no transaction {safe_tx_hash}")
    return record


def list_transactions(db: Session, *, safe: str, status: str | None = None) -> list[m.SafeTransaction]:
    """The Safe's proposals, newest nonce first."""
    stmt = select(m.SafeTransaction).where(m.SafeTransaction.safe == safe)
    if status is not None:
        stmt = stmt.where(m.SafeTransaction.status == status)
    return list(
        db.execute(
            stmt.order_by(m.SafeTransaction.nonce.desc(), m.SafeTransaction.created_at.desc())
        ).scalars()
    )


def signatures_of(db: Session, safe_tx_hashes: Sequence[str]) -> dict[str, list[m.SafeSignature]]:
    """Signatures by proposal, in signing order."""
    found: dict[str, list[m.SafeSignature]] = {h: [] for h in safe_tx_hashes}
    if not safe_tx_hashes:
        return found
    rows = db.execute(
        select(m.SafeSignature)
        .where(m.SafeSignature.safe_tx_hash.in_(list(safe_tx_hashes)))
        .order_by(m.SafeSignature.signed_at, m.SafeSignature.signer)
    ).scalars()
    for row in rows:
        found[row.safe_tx_hash].append(row)
    return found


def _require_pending(record: m.SafeTransaction) -> None:
    if record.status != PENDING:
        raise ConflictError(f"Safe transaction {record.safe_tx_hash} is {record.status}, not pending")


def add_signature(
    db: Session, *, safe: SafeClient, record: m.SafeTransaction, signature: str, now: int | None = None
) -> m.SafeSignature:
    """Check a representative's signature of the proposal and keep it (a second one by the same
    representative replaces the first).

    Raises:
        ConflictError: the proposal is no longer pending.
        SafeSignatureError: malformed signature.
        SafeSignerNotOwnerError: made by an account that is not a representative.
    """
    _require_pending(record)
    signer, kind = safe.check_signature(safe_tx_of(record), signature)
    row = db.get(m.SafeSignature, (record.safe_tx_hash, signer))
    signed_at = int(time.time()) if now is None else now
    if row is None:
        row = m.SafeSignature(safe_tx_hash=record.safe_tx_hash, signer=signer, signature=signature.lower(),
                              kind=kind, signed_at=signed_at)  # fmt: skip
        db.add(row)
    else:
        row.signature, row.kind, row.signed_at = signature.lower(), kind, signed_at
    db.flush()
    logger.info(
        "safe tx signed", extra={"safe": safe.address, "safe_tx": record.safe_tx_hash, "signer": signer}
    )
    return row


def _signatures(db: Session, record: m.SafeTransaction) -> dict[str, bytes]:
    rows = signatures_of(db, [record.safe_tx_hash])[record.safe_tx_hash]
    return {row.signer: bytes.fromhex(row.signature[2:]) for row in rows}


def build_execution(
    db: Session, *, safe: SafeClient, record: m.SafeTransaction, sender: str
) -> dict[str, Any]:
    """The unsigned ``execTransaction`` for ``sender``'s wallet (a representative relays it).

    Raises:
        ForbiddenError: ``sender`` is not a representative.
        ConflictError: the proposal is no longer pending.
        SafeThresholdNotMetError: fewer signatures than the threshold.
        SafeNonceError: not this proposal's turn (another nonce first, or already used).
        ContractRevertError: the execution would revert now (decoded).
    """
    require_representative(safe, sender)
    _require_pending(record)
    tx = safe.chain.build(safe.exec_call(safe_tx_of(record), _signatures(db, record)), sender)
    return {key: (int(value) if isinstance(value, int) else str(value)) for key, value in tx.items()}


def relay_execution(
    db: Session, *, safe: SafeClient, record: m.SafeTransaction, sender: str, raw: str, now: int | None = None
) -> m.SafeTransaction:
    """Relay the representative's signed ``execTransaction`` and record what became of it.

    Raises:
        RawTransactionError: not ``sender``'s signed ``execTransaction`` of this proposal.
        (and as :func:`build_execution`)
    """
    require_representative(safe, sender)
    _require_pending(record)
    expected = safe.exec_data(safe_tx_of(record), _signatures(db, record))
    decoded = decode_raw_transaction(raw)
    if decoded.sender.lower() != sender.lower():
        raise RawTransactionError(f"the transaction is signed by {decoded.sender}, not by {sender}")
    if (decoded.to or "").lower() != safe.address.lower() or decoded.data != expected:
        raise RawTransactionError("the transaction is not this Safe transaction's execTransaction")
    tx_hash = safe.chain.send_raw(bytes.fromhex(raw[2:] if raw.startswith("0x") else raw))
    try:
        receipt = safe.chain.wait(tx_hash)
        succeeded = safe.succeeded(receipt)
    except ChainError:
        succeeded = False
    record.status = EXECUTED if succeeded else FAILED
    record.tx_hash, record.executed_at = tx_hash, int(time.time()) if now is None else now
    db.flush()
    logger.info(
        "safe tx relayed", extra={"safe": safe.address, "safe_tx": record.safe_tx_hash, "tx_hash": tx_hash}
    )
    return record
