"""Routes: Safe multisig enterprise accounts (four eyes). A representative proposes a Safe
transaction (any catalogued action, as POST /tx/build takes it: a transfer, a market order, an
auction bid, a compliance surrender), the other representatives see it and sign its EIP-712
``SafeTx`` in their wallets, and once the threshold is met one of them signs the
``execTransaction`` the API built and the API relays it. Only the Safe's representatives (its
owners on chain) see and act on its transactions."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from api import safe as data
from api.deps import Ctx, Db, User
from api.schemas import ERRORS, ErrorBody
from chain.safe import SafeClient
from readmodel import models as m

router = APIRouter(prefix="/safe", tags=["safe"])

SafeAddress = Annotated[str, Path(pattern=r"^0x[0-9a-fA-F]{40}$", description="The Safe's address")]
SafeTxHash = Annotated[str, Path(pattern=r"^0x[0-9a-fA-F]{64}$", description="The SafeTx EIP-712 hash")]
Status = Literal["pending", "executed", "failed"]
_E0 = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
_E1 = "0x71bE63f3384f5fb98995898A86B02Fb2426c5788"

REFUSALS: dict[int | str, dict[str, Any]] = {
    **ERRORS,
    409: {
        "model": ErrorBody,
        "description": "The Safe transaction is not pending any more, or already proposed",
    },
    422: {"model": ErrorBody, "description": "The Safe's call would revert (decoded custom error)"},
}


class SafePublic(BaseModel):
    """A Safe account: its representatives (owners), the signatures it needs, its next nonce."""

    address: str
    owners: list[str]
    threshold: int
    nonce: int = Field(description="The Safe's on-chain nonce (the next transaction to execute)")


class SignaturePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    signer: str = Field(description="The representative who signed")
    kind: str = Field(description="eip712 (eth_signTypedData_v4) or eth_sign")
    signed_at: int = Field(description="When the API received it (unix s)")


class SafeTxPublic(BaseModel):
    """A proposed Safe transaction: the inner call decoded for the representatives to read, the
    typed data each signs, the signatures collected and whether the threshold is met."""

    safe_tx_hash: str
    safe: str
    nonce: int
    to: str
    value: str
    data: str = Field(description="The inner call's calldata, 0x-hex")
    contract: str
    function: str
    args: dict[str, Any]
    proposer: str
    created_at: int
    status: str = Field(description="pending, executed or failed")
    tx_hash: str | None = Field(description="The relayed execTransaction (once relayed)")
    threshold: int
    signatures: list[SignaturePublic]
    ready: bool = Field(description="Enough signatures to execute")
    typed_data: dict[str, Any] = Field(description="Sign with eth_signTypedData_v4")


class ProposeRequest(BaseModel):
    """The Safe's inner call by name, with JSON arguments (as POST /tx/build takes them)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "contract": "AllowanceToken", "function": "safeTransferFrom",
        "args": {"from": _E0, "to": _E1, "id": 16842731, "value": 25, "data": "0x"},
    }]})  # fmt: skip

    contract: str = Field(max_length=40, description="Contract name (see GET /tx/actions)")
    function: str = Field(max_length=400, description="Function name, or its full signature when overloaded")
    args: dict[str, Any] | list[Any] = Field(default_factory=dict)


class SignRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    signature: str = Field(pattern=r"^0x[0-9a-fA-F]{130}$", description="65 bytes r, s, v (0x-hex)")


class ExecutionPublic(BaseModel):
    """The unsigned ``execTransaction`` for the signed-in representative's wallet."""

    safe_tx_hash: str
    tx: dict[str, Any] = Field(description="Sign with eth_signTransaction, then POST .../relay")


class SafeRelayRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    raw_transaction: str = Field(max_length=200_000, pattern=r"^0x[0-9a-fA-F]*$")


def _public(safe: SafeClient, record: m.SafeTransaction, signatures: list[m.SafeSignature]) -> SafeTxPublic:
    threshold = safe.threshold()
    ready = record.status == data.PENDING and len(signatures) >= threshold
    return SafeTxPublic(
        safe_tx_hash=record.safe_tx_hash, safe=record.safe, nonce=record.nonce, to=record.to,
        value=record.value, data=record.data, contract=record.contract, function=record.function,
        args=record.args, proposer=record.proposer, created_at=record.created_at, status=record.status,
        tx_hash=record.tx_hash, threshold=threshold,
        signatures=[SignaturePublic.model_validate(s) for s in signatures], ready=ready,
        typed_data=data.typed_data(record),
    )  # fmt: skip


def _one(db: Db, safe: SafeClient, record: m.SafeTransaction) -> SafeTxPublic:
    return _public(safe, record, data.signatures_of(db, [record.safe_tx_hash])[record.safe_tx_hash])


@router.get("/{safe}", response_model=SafePublic, responses=ERRORS)
def get_safe(safe: SafeAddress, ctx: Ctx, user: User) -> SafePublic:
    """A Safe account's representatives, threshold and nonce (signed-in accounts)."""
    del user
    client = data.safe_of(ctx.chain, safe)
    owners = [str(owner) for owner in client.owners()]
    return SafePublic(
        address=client.address, owners=owners, threshold=client.threshold(), nonce=client.nonce()
    )


@router.get("/{safe}/transactions", response_model=list[SafeTxPublic], responses=ERRORS)
def list_transactions(
    safe: SafeAddress, ctx: Ctx, db: Db, user: User, status: Annotated[Status | None, Query()] = None
) -> list[SafeTxPublic]:
    """The Safe's proposed transactions, newest nonce first, with their signatures: what the other
    representatives proposed, to read and sign (the Safe's representatives only)."""
    client = data.safe_of(ctx.chain, safe)
    data.require_representative(client, user.address)
    records = data.list_transactions(db, safe=client.address, status=status)
    signatures = data.signatures_of(db, [r.safe_tx_hash for r in records])
    return [_public(client, r, signatures[r.safe_tx_hash]) for r in records]


@router.post("/{safe}/transactions", response_model=SafeTxPublic, responses=REFUSALS)
def propose(safe: SafeAddress, body: ProposeRequest, ctx: Ctx, db: Db, user: User) -> SafeTxPublic:
    """Propose a Safe transaction: the inner call is encoded and checked against the ABI (400
    naming the argument), simulated from the Safe's address (422 with the decoded custom error if
    it would revert now) and kept at the Safe's next free nonce. Sign its `typed_data` and POST it
    to .../signatures (the proposer signs too). Representatives only (403)."""
    client = data.safe_of(ctx.chain, safe)
    record = data.propose(db, calls=ctx.calls, safe=client, proposer=user.address, contract=body.contract,
                          function=body.function, args=body.args)  # fmt: skip
    return _one(db, client, record)


@router.get("/{safe}/transactions/{safe_tx_hash}", response_model=SafeTxPublic, responses=ERRORS)
def get_transaction(
    safe: SafeAddress, safe_tx_hash: SafeTxHash, ctx: Ctx, db: Db, user: User
) -> SafeTxPublic:
    """One proposed Safe transaction (the Safe's representatives only)."""
    client = data.safe_of(ctx.chain, safe)
    data.require_representative(client, user.address)
    return _one(db, client, data.get_transaction(db, safe=client.address, safe_tx_hash=safe_tx_hash))


@router.post(
    "/{safe}/transactions/{safe_tx_hash}/signatures", response_model=SafeTxPublic, responses=REFUSALS
)
def sign(
    safe: SafeAddress, safe_tx_hash: SafeTxHash, body: SignRequest, ctx: Ctx, db: Db, user: User
) -> SafeTxPublic:
    """Add a representative's signature of the Safe transaction (EIP-712, or eth_sign with v + 4).
    A signature recovering to an account that is not a representative is refused by name
    (`SafeSignerNotOwnerError`, 400); a malformed one too (`SafeSignatureError`)."""
    del user  # whoever submits it, the signature names its representative
    client = data.safe_of(ctx.chain, safe)
    record = data.get_transaction(db, safe=client.address, safe_tx_hash=safe_tx_hash)
    data.add_signature(db, safe=client, record=record, signature=body.signature)
    return _one(db, client, record)


@router.post(
    "/{safe}/transactions/{safe_tx_hash}/execute", response_model=ExecutionPublic, responses=REFUSALS
)
def execute(safe: SafeAddress, safe_tx_hash: SafeTxHash, ctx: Ctx, db: Db, user: User) -> ExecutionPublic:
    """Build the `execTransaction` for the signed-in representative's wallet once the threshold is
    met: too few signatures are refused by name (`SafeThresholdNotMetError`, 400), a transaction
    whose nonce is not the Safe's (`SafeNonceError`, 400), one that would revert (422)."""
    client = data.safe_of(ctx.chain, safe)
    record = data.get_transaction(db, safe=client.address, safe_tx_hash=safe_tx_hash)
    tx = data.build_execution(db, safe=client, record=record, sender=user.address)
    return ExecutionPublic(safe_tx_hash=record.safe_tx_hash, tx=tx)


@router.post("/{safe}/transactions/{safe_tx_hash}/relay", response_model=SafeTxPublic, responses=REFUSALS)
def relay(
    safe: SafeAddress, safe_tx_hash: SafeTxHash, body: SafeRelayRequest, ctx: Ctx, db: Db, user: User
) -> SafeTxPublic:
    """Relay the signed `execTransaction` (it must be the signed-in representative's, carrying this
    Safe transaction and its signatures: `RawTransactionError` otherwise) and record the outcome."""
    client = data.safe_of(ctx.chain, safe)
    record = data.get_transaction(db, safe=client.address, safe_tx_hash=safe_tx_hash)
    data.relay_execution(db, safe=client, record=record, sender=user.address, raw=body.raw_transaction)
    return _one(db, client, record)
