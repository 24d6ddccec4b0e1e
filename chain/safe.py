"""Safe{Wallet} multisig accounts for enterprises: the Safe contracts (npm
``@safe-global/safe-contracts`` 1.4.1, compiled by the project's solc) deployed with the suite's
own deploy code, a Safe created per enterprise with its representatives and threshold, the
EIP-712 ``SafeTx`` hash its representatives sign in their wallets, signatures checked and
packed, and the execution relayed once the threshold is met.

The check order of a signature: 65 bytes and a known ``v`` (27/28: EIP-712 ``eth_signTypedData``
of the ``SafeTx``; 31/32: ``eth_sign``/``personal_sign`` of the 32-byte hash, ``v`` + 4 as the
Safe expects), then the recovered signer is one of the Safe's owners. Execution packs one
signature per owner, sorted by owner address ascending (the Safe's ``checkNSignatures`` order),
and refuses fewer than the threshold before anything is sent.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount
from eth_keys.datatypes import Signature
from eth_keys.exceptions import BadSignature
from eth_typing import ChecksumAddress
from eth_utils import to_checksum_address
from hexbytes import HexBytes
from web3.contract.contract import ContractFunction
from web3.logs import DISCARD
from web3.types import TxReceipt

from chain.client import ContractClient
from chain.deploy import ContractSpec, Manifest, SuiteConfig, deploy_suite
from chain.errors import (
    DeploymentError,
    SafeNonceError,
    SafeSignatureError,
    SafeSignerNotOwnerError,
    SafeThresholdNotMetError,
    TransactionError,
)
from chain.tx import ChainClient
from chain.typed_data import Eip712Domain, sign_typed, typed_data, typed_digest

logger = logging.getLogger(__name__)

ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"
#: Representatives' signatures of one Safe transaction, by signer address.
Signatures = Mapping[str, bytes] | Mapping[ChecksumAddress, bytes]
#: Safe version of the deployed singleton (``VERSION`` of SafeL2 1.4.1).
SAFE_VERSION = "1.4.1"
#: ``operation`` of a Safe transaction: a plain call (a delegatecall, 1, is never built here).
CALL = 0

#: The Safe contracts, deployed after the suite (no constructor arguments): the singleton every
#: enterprise's proxy runs (the L2 variant, whose events the indexer can follow), the proxy
#: factory, and the fallback handler that answers ERC-1155 receipts and EIP-1271.
SAFE_SUITE = (
    ContractSpec("SafeL2", lambda _, __: []),
    ContractSpec("SafeProxyFactory", lambda _, __: []),
    ContractSpec("CompatibilityFallbackHandler", lambda _, __: []),
)

#: The ``SafeTx`` struct's members (the Safe's domain has only ``chainId`` and ``verifyingContract``).
SAFE_TX_FIELDS: list[dict[str, str]] = [
    {"name": "to", "type": "address"},
    {"name": "value", "type": "uint256"},
    {"name": "data", "type": "bytes"},
    {"name": "operation", "type": "uint8"},
    {"name": "safeTxGas", "type": "uint256"},
    {"name": "baseGas", "type": "uint256"},
    {"name": "gasPrice", "type": "uint256"},
    {"name": "gasToken", "type": "address"},
    {"name": "refundReceiver", "type": "address"},
    {"name": "nonce", "type": "uint256"},
]


@dataclass(frozen=True)
class SafeContracts:
    """Where the Safe contracts of a deployment live."""

    singleton: ChecksumAddress
    factory: ChecksumAddress
    fallback_handler: ChecksumAddress

    @classmethod
    def of(cls, manifest: Manifest) -> SafeContracts:
        """The Safe contracts recorded in ``manifest``.

        Raises:
            DeploymentError: they are not deployed (``ets safe deploy``).
        """
        return cls(
            singleton=to_checksum_address(manifest.address("SafeL2")),
            factory=to_checksum_address(manifest.address("SafeProxyFactory")),
            fallback_handler=to_checksum_address(manifest.address("CompatibilityFallbackHandler")),
        )


def deploy_safe_contracts(
    chain: ChainClient, deployer: LocalAccount, config: SuiteConfig, manifest_path: Path
) -> tuple[Manifest, SafeContracts]:
    """Deploy the Safe singleton, proxy factory and fallback handler into the suite's manifest
    (nothing twice: a re-run finds them there)."""
    manifest = deploy_suite(chain, deployer, config, manifest_path, suite=SAFE_SUITE)
    return manifest, SafeContracts.of(manifest)


@dataclass(frozen=True)
class SafeTx:
    """One Safe transaction: the inner call and the Safe's nonce it is bound to (no gas refund:
    the relayer pays its own gas, so ``safeTxGas``, ``baseGas`` and ``gasPrice`` are 0)."""

    to: str
    data: bytes
    nonce: int
    value: int = 0
    operation: int = CALL
    safe_tx_gas: int = 0
    base_gas: int = 0
    gas_price: int = 0
    gas_token: str = ZERO_ADDRESS
    refund_receiver: str = ZERO_ADDRESS

    def message(self) -> dict[str, Any]:
        """The ``SafeTx`` struct as EIP-712 typed data takes it."""
        return {
            "to": to_checksum_address(self.to),
            "value": self.value,
            "data": self.data,
            "operation": self.operation,
            "safeTxGas": self.safe_tx_gas,
            "baseGas": self.base_gas,
            "gasPrice": self.gas_price,
            "gasToken": to_checksum_address(self.gas_token),
            "refundReceiver": to_checksum_address(self.refund_receiver),
            "nonce": self.nonce,
        }


def _typed_data(chain_id: int, safe: str, message: dict[str, Any]) -> dict[str, Any]:
    domain = Eip712Domain(chain_id=chain_id, verifying_contract=to_checksum_address(safe))
    return typed_data(domain, "SafeTx", {"SafeTx": SAFE_TX_FIELDS}, message)


def safe_tx_typed_data(chain_id: int, safe: str, tx: SafeTx) -> dict[str, Any]:
    """The EIP-712 typed data a representative signs (``eth_signTypedData_v4``); ``data`` as 0x-hex
    so the payload is JSON."""
    message = tx.message()
    message["data"] = "0x" + tx.data.hex()
    return _typed_data(chain_id, safe, message)


def safe_tx_hash(chain_id: int, safe: str, tx: SafeTx) -> bytes:
    """The 32-byte EIP-712 hash of ``tx`` for ``safe`` (equal to the Safe's ``getTransactionHash``)."""
    return typed_digest(_typed_data(chain_id, safe, tx.message()))


def recover_signer(tx_hash: bytes, signature: bytes | str) -> tuple[ChecksumAddress, str]:
    """The account that made ``signature`` over the Safe transaction hash, and how it signed
    (``eip712`` or ``eth_sign``).

    Raises:
        SafeSignatureError: not 65 bytes, a ``v`` other than 27, 28, 31, 32, or not recoverable.
    """
    raw = _signature_bytes(signature)
    v = raw[64]
    try:
        if v in (27, 28):
            vrs = (v - 27, int.from_bytes(raw[:32]), int.from_bytes(raw[32:64]))
            public_key = Signature(vrs=vrs).recover_public_key_from_msg_hash(tx_hash)
            return to_checksum_address(public_key.to_address()), "eip712"
        if v in (31, 32):
            signable = encode_defunct(primitive=tx_hash)
            signer = Account.recover_message(signable, signature=raw[:64] + bytes([v - 4]))
            return to_checksum_address(signer), "eth_sign"
    except (ValueError, TypeError, BadSignature) as exc:
        raise SafeSignatureError(f"signature does not recover: {exc}") from None
    raise SafeSignatureError(f"signature v={v} is neither EIP-712 (27/28) nor eth_sign (31/32)")


def sign_safe_tx(account: LocalAccount, chain_id: int, safe: str, tx: SafeTx) -> bytes:
    """What a wallet's ``eth_signTypedData_v4`` returns for ``tx`` (tests, demo and bench keys only:
    representatives sign in their own wallets)."""
    return sign_typed(account, _typed_data(chain_id, safe, tx.message()))


def pack_signatures(signatures: Signatures) -> bytes:
    """One 65-byte signature per owner, sorted by owner address ascending (the Safe's order)."""
    ordered = sorted(signatures.items(), key=lambda item: int(item[0], 16))
    return b"".join(_signature_bytes(sig) for _, sig in ordered)


def _call_args(tx: SafeTx) -> list[Any]:
    """The ``SafeTx`` fields but the nonce, in the order ``execTransaction`` takes them."""
    gas = [tx.safe_tx_gas, tx.base_gas, tx.gas_price]
    refund = [to_checksum_address(tx.gas_token), to_checksum_address(tx.refund_receiver)]
    return [to_checksum_address(tx.to), tx.value, tx.data, tx.operation, *gas, *refund]


def _signature_bytes(signature: bytes | str) -> bytes:
    if isinstance(signature, str):
        text = signature.strip()
        try:
            raw = bytes.fromhex(text[2:] if text.startswith("0x") else text)
        except ValueError:
            raise SafeSignatureError("signature is not hex") from None
    else:
        raw = bytes(signature)
    if len(raw) != 65:
        raise SafeSignatureError(f"signature is {len(raw)} bytes, not 65 (r, s, v)")
    return raw


class SafeClient(ContractClient):
    """Client of one enterprise's Safe (a proxy running the SafeL2 singleton)."""

    CONTRACT = "SafeL2"

    def owners(self) -> list[ChecksumAddress]:
        return [to_checksum_address(a) for a in self.chain.call(self.contract.functions.getOwners())]

    def threshold(self) -> int:
        return int(self.chain.call(self.contract.functions.getThreshold()))

    def nonce(self) -> int:
        return int(self.chain.call(self.contract.functions.nonce()))

    def is_owner(self, account: str) -> bool:
        return bool(self.chain.call(self.contract.functions.isOwner(to_checksum_address(account))))

    def transaction(self, to: str, data: bytes, *, value: int = 0, nonce: int | None = None) -> SafeTx:
        """A Safe transaction calling ``to`` with ``data``, at the Safe's current nonce by default."""
        return SafeTx(to=to_checksum_address(to), data=bytes(data), value=value,
                      nonce=self.nonce() if nonce is None else nonce)  # fmt: skip

    def tx_hash(self, tx: SafeTx) -> bytes:
        """The hash the representatives sign (computed locally; equal to ``getTransactionHash``)."""
        return safe_tx_hash(self.chain.chain_id, self.address, tx)

    def onchain_tx_hash(self, tx: SafeTx) -> bytes:
        """The Safe's own ``getTransactionHash`` of ``tx`` (to check the local one against)."""
        fn = self.contract.functions.getTransactionHash(*_call_args(tx), tx.nonce)
        return bytes(self.chain.call(fn))

    def check_signature(self, tx: SafeTx, signature: bytes | str) -> tuple[ChecksumAddress, str]:
        """The representative who signed ``tx`` and how.

        Raises:
            SafeSignatureError: malformed signature.
            SafeSignerNotOwnerError: the signer is not one of the Safe's owners.
        """
        signer, kind = recover_signer(self.tx_hash(tx), signature)
        if not self.is_owner(signer):
            raise SafeSignerNotOwnerError(f"{signer} is not a representative of Safe {self.address}")
        return signer, kind

    def succeeded(self, receipt: TxReceipt) -> bool:
        """Whether ``receipt`` holds this Safe's ``ExecutionSuccess`` (the other contracts' logs of
        the inner call are skipped, not warned about)."""
        events = self.contract.events.ExecutionSuccess().process_receipt(receipt, errors=DISCARD)
        return any(e["address"] == self.address for e in events)

    def exec_call(self, tx: SafeTx, signatures: Signatures) -> ContractFunction:
        """``execTransaction`` of ``tx`` with the representatives' signatures, checked first.

        Raises:
            SafeSignatureError: a malformed signature, or one keyed under another signer.
            SafeSignerNotOwnerError: a signer is not a representative.
            SafeThresholdNotMetError: fewer signatures than the threshold.
            SafeNonceError: ``tx`` is not at the Safe's current nonce.
        """
        checked: dict[str, bytes] = {}
        for claimed, sig in signatures.items():
            signer, _ = self.check_signature(tx, sig)
            if signer.lower() != claimed.lower():
                raise SafeSignatureError(f"signature under {claimed} was made by {signer}")
            checked[signer] = _signature_bytes(sig)
        threshold = self.threshold()
        if len(checked) < threshold:
            raise SafeThresholdNotMetError(
                f"Safe {self.address} needs {threshold} representatives' signatures, has {len(checked)}"
            )
        current = self.nonce()
        if tx.nonce != current:
            raise SafeNonceError(f"Safe transaction nonce {tx.nonce} is not the Safe's nonce {current}")
        return self.contract.functions.execTransaction(*_call_args(tx), pack_signatures(checked))

    def exec_data(self, tx: SafeTx, signatures: Signatures) -> bytes:
        """Calldata of :meth:`exec_call` (what a relayed ``execTransaction`` must carry)."""
        return bytes(HexBytes(self.exec_call(tx, signatures)._encode_transaction_data()))

    def executed(self) -> list[dict[str, Any]]:
        """The Safe's executed transactions (``SafeMultiSigTransaction`` events of SafeL2): nonce,
        inner call's target and calldata, block and transaction hash."""
        logs = self.contract.events.SafeMultiSigTransaction().get_logs(from_block=self.from_block)
        return [_executed_row(event) for event in logs]

    def execute(self, relayer: LocalAccount, tx: SafeTx, signatures: Signatures) -> TxReceipt:
        """Send ``execTransaction`` from ``relayer`` (any account: a representative's wallet in
        practice) and check the Safe reports success (an inner revert makes the Safe emit
        ``ExecutionFailure``; with ``safeTxGas`` 0 it reverts the whole transaction instead).

        Raises:
            ContractRevertError: the inner call or the Safe reverted (decoded).
        """
        receipt = self.chain.transact(self.exec_call(tx, signatures), relayer)
        if not self.succeeded(receipt):
            raise TransactionError(f"Safe {self.address} did not execute nonce {tx.nonce}")
        return receipt


def _executed_row(event: Any) -> dict[str, Any]:
    args = event["args"]
    info = bytes(args["additionalInfo"])  # abi.encode(nonce, msg.sender, threshold)
    return {
        "nonce": int.from_bytes(info[:32]) if len(info) >= 32 else None,
        "to": args["to"],
        "data": "0x" + bytes(args["data"]).hex(),
        "block": int(event["blockNumber"]),
        "tx_hash": "0x" + bytes(event["transactionHash"]).hex(),
    }


class SafeFactoryClient(ContractClient):
    """Client of the SafeProxyFactory: one Safe proxy per enterprise."""

    CONTRACT = "SafeProxyFactory"

    def __init__(self, chain: ChainClient, contracts: SafeContracts) -> None:
        super().__init__(chain, contracts.factory)
        self.contracts = contracts

    def setup_data(self, owners: Sequence[str], threshold: int) -> bytes:
        """The Safe's ``setup`` call: owners, threshold and the fallback handler (ERC-1155 receipts).

        Raises:
            ValueError: no owners, a repeated owner, or a threshold outside 1..len(owners).
        """
        checked = [to_checksum_address(o) for o in owners]
        if not checked or len({o.lower() for o in checked}) != len(checked):
            raise SafeSignatureError("a Safe needs at least one representative, each once")
        if not 1 <= threshold <= len(checked):
            raise SafeThresholdNotMetError(f"threshold {threshold} is outside 1..{len(checked)}")
        singleton = self.chain.contract("SafeL2", self.contracts.singleton)
        args = [checked, threshold, ZERO_ADDRESS, b"", self.contracts.fallback_handler, ZERO_ADDRESS, 0,
                ZERO_ADDRESS]  # fmt: skip
        return bytes(HexBytes(singleton.encode_abi("setup", args=args)))

    def create(
        self, sender: LocalAccount, owners: Sequence[str], threshold: int, *, salt: int = 0
    ) -> SafeClient:
        """Create a Safe with ``owners`` and ``threshold``; anyone may send it (the address
        depends on the setup and the salt only).

        Raises:
            DeploymentError: the factory reported no proxy.
        """
        fn = self.contract.functions.createProxyWithNonce(
            self.contracts.singleton, self.setup_data(owners, threshold), salt
        )
        receipt = self.chain.transact(fn, sender)
        created = self.contract.events.ProxyCreation().process_receipt(receipt, errors=DISCARD)
        if not created:
            raise DeploymentError("SafeProxyFactory created no proxy")
        address = to_checksum_address(created[0]["args"]["proxy"])
        logger.info("safe created", extra={"safe": address, "threshold": threshold})
        return SafeClient(self.chain, address, from_block=int(receipt["blockNumber"]))


@dataclass
class SafeProposal:
    """A Safe transaction passed between representatives as a file (the CLI's offline path; the
    API keeps the same in its read model): the Safe, the chain, the ``SafeTx`` and the
    signatures collected so far, each checked when added."""

    safe: str
    chain_id: int
    tx: SafeTx
    description: str = ""
    signatures: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "safe": self.safe, "chain_id": self.chain_id, "description": self.description,
            "to": self.tx.to, "value": str(self.tx.value), "data": "0x" + self.tx.data.hex(),
            "nonce": self.tx.nonce,
            "safe_tx_hash": "0x" + safe_tx_hash(self.chain_id, self.safe, self.tx).hex(),
            "signatures": dict(sorted(self.signatures.items())),
        }  # fmt: skip

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SafeProposal:
        """Read a proposal file's JSON.

        Raises:
            SafeSignatureError: a field is missing or malformed.
        """
        try:
            tx = SafeTx(to=to_checksum_address(str(data["to"])), data=bytes.fromhex(str(data["data"])[2:]),
                        nonce=int(data["nonce"]), value=int(data.get("value", 0)))  # fmt: skip
            signatures = {str(k): str(v) for k, v in dict(data.get("signatures") or {}).items()}
            return cls(safe=to_checksum_address(str(data["safe"])), chain_id=int(data["chain_id"]), tx=tx,
                       description=str(data.get("description", "")), signatures=signatures)  # fmt: skip
        except (KeyError, ValueError, TypeError) as exc:
            raise SafeSignatureError(f"not a Safe proposal: {exc}") from None

    def signature_bytes(self) -> dict[str, bytes]:
        return {signer: _signature_bytes(sig) for signer, sig in self.signatures.items()}
