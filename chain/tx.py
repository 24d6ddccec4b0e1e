"""Transactions: build unsigned, sign with service keys, relay wallets' raw transactions,
wait for receipts, and turn reverts carrying custom errors into typed Python exceptions."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, cast

from eth_abi import decode as abi_decode
from eth_account.signers.local import LocalAccount
from eth_typing import ChecksumAddress, HexStr
from eth_utils import function_signature_to_4byte_selector, to_checksum_address
from hexbytes import HexBytes
from web3 import Web3
from web3.contract.contract import Contract, ContractFunction
from web3.exceptions import ContractLogicError, TimeExhausted, Web3RPCError
from web3.middleware import ExtraDataToPOAMiddleware
from web3.types import Nonce, RPCEndpoint, TxParams, TxReceipt, Wei

from chain.compile import Artifact, all_abis, error_notices
from chain.errors import ChainError, ChainUnavailableError, ContractRevertError, TransactionError

logger = logging.getLogger(__name__)

_ERROR_SELECTOR = bytes.fromhex("08c379a0")  # Error(string)
_PANIC_SELECTOR = bytes.fromhex("4e487b71")  # Panic(uint256)
_PANIC_CODES = {
    0x01: "assertion failed",
    0x11: "arithmetic overflow or underflow",
    0x12: "division or modulo by zero",
    0x21: "invalid enum value",
    0x31: "pop on empty array",
    0x32: "array index out of bounds",
    0x41: "out of memory",
}


def _abi_type(param: dict[str, Any]) -> str:
    kind = str(param["type"])
    if kind.startswith("tuple"):
        inner = ",".join(_abi_type(c) for c in param["components"])
        return f"({inner}){kind[len('tuple') :]}"
    return kind


@dataclass(frozen=True)
class _ErrorSpec:
    name: str
    types: tuple[str, ...]
    names: tuple[str, ...]
    notice: str


class ErrorDecoder:
    """Maps revert data to the custom error (name + named arguments) declared in any ABI.

    Args:
        abi_entries: ABI entries of every contract whose errors may surface.
        notices: NatSpec notice per error signature, used as the readable message.
    """

    def __init__(self, abi_entries: Iterable[dict[str, Any]], notices: dict[str, str] | None = None) -> None:
        self._by_selector: dict[bytes, _ErrorSpec] = {}
        notices = notices or {}
        for entry in abi_entries:
            if entry.get("type") != "error":
                continue
            types = tuple(_abi_type(p) for p in entry["inputs"])
            signature = f"{entry['name']}({','.join(types)})"
            selector = function_signature_to_4byte_selector(signature)
            names = tuple(p["name"] or f"arg{i}" for i, p in enumerate(entry["inputs"]))
            notice = notices.get(signature, "")
            self._by_selector[selector] = _ErrorSpec(entry["name"], types, names, notice)

    def decode(self, data: bytes, *, tx_hash: str | None = None) -> ContractRevertError:
        """The exception that ``data`` (revert data) stands for."""
        selector, body = data[:4], data[4:]
        if not data:
            return ContractRevertError("Unknown", {}, data, message="reverted without data", tx_hash=tx_hash)
        if selector == _ERROR_SELECTOR:
            (reason,) = abi_decode(["string"], body)
            return ContractRevertError("Error", {"reason": reason}, data, tx_hash=tx_hash)
        if selector == _PANIC_SELECTOR:
            (code,) = abi_decode(["uint256"], body)
            meaning = _PANIC_CODES.get(code, "panic")
            return ContractRevertError(
                "Panic", {"code": code}, data, message=f"Panic(0x{code:02x}): {meaning}",
                tx_hash=tx_hash,
            )  # fmt: skip
        spec = self._by_selector.get(selector)
        if spec is None:
            return ContractRevertError(
                "Unknown", {}, data, message=f"unknown revert 0x{data.hex()}", tx_hash=tx_hash
            )
        values = abi_decode(list(spec.types), body)
        args = {
            n: (to_checksum_address(v) if t == "address" else v)
            for n, t, v in zip(spec.names, spec.types, values, strict=True)
        }
        error = ContractRevertError(spec.name, args, data, tx_hash=tx_hash)
        error.notice = spec.notice
        return error


def _revert_data(exc: Exception) -> bytes | None:
    """Revert data carried by a web3 exception, if any."""
    data: Any = getattr(exc, "data", None)
    if isinstance(data, dict):
        data = data.get("data")
    if data is None and isinstance(exc, Web3RPCError):
        rpc: dict[str, Any] = dict(exc.rpc_response or {})
        data = (rpc.get("error") or {}).get("data")
    if isinstance(data, str) and data.startswith("0x"):
        try:
            return bytes.fromhex(data[2:])
        except ValueError:
            return None
    if isinstance(data, (bytes, bytearray)):
        return bytes(data)
    return None


#: Header extraData longer than this (bytes) needs web3.py's POA middleware (QBFT's is RLP, ~100+).
MAX_PLAIN_EXTRA_DATA = 32


def needs_poa_middleware(w3: Web3) -> bool:
    """True if the chain's latest header carries more extraData than web3.py accepts unaided
    (QBFT, IBFT 2.0, Clique); read raw so web3's own validation cannot refuse it first."""
    response = w3.provider.make_request(RPCEndpoint("eth_getBlockByNumber"), ["latest", False])
    block = response.get("result") or {}
    extra = str(block.get("extraData") or "0x")
    return len(extra.removeprefix("0x")) > 2 * MAX_PLAIN_EXTRA_DATA


class ChainClient:
    """Typed gateway to one chain: contracts from artifacts, transactions, calls, reverts.

    Args:
        w3: a connected Web3.
        artifacts: compiled contracts (custom errors of all of them are decoded).
        confirmations: blocks to wait after inclusion before a receipt is returned.
    """

    def __init__(self, w3: Web3, artifacts: dict[str, Artifact], *, confirmations: int = 0) -> None:
        self.w3 = w3
        self.artifacts = artifacts
        self.confirmations = confirmations
        self.errors = ErrorDecoder(all_abis(artifacts), error_notices(artifacts))
        self._chain_id: int | None = None
        self._eip1559: bool | None = None
        self._nonces: dict[str, int] = {}

    @classmethod
    def connect(cls, rpc_url: str, artifacts: dict[str, Artifact], **kwargs: Any) -> ChainClient:
        """Connect over HTTP.

        Raises:
            ChainError: the node does not answer.
        """
        w3 = Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": 120}))
        if not w3.is_connected():
            raise ChainError(f"no chain answers at {rpc_url}")
        if needs_poa_middleware(w3):  # QBFT/IBFT/Clique headers carry more than 32 bytes of extraData
            w3.middleware_onion.inject(ExtraDataToPOAMiddleware, layer=0)
        return cls(w3, artifacts, **kwargs)

    def rpc(self, method: str, params: Sequence[Any]) -> Any:
        """The result of one raw JSON-RPC call (no web3 formatting: the indexer's and the
        settlement's hot paths).

        Raises:
            ChainUnavailableError: the node does not answer.
            ChainError: the node answers with an error.
        """
        try:
            response = self.w3.provider.make_request(RPCEndpoint(method), list(params))
        except (OSError, ConnectionError) as exc:
            raise ChainUnavailableError(f"{method}: {exc}") from None
        if "error" in response:
            raise ChainError(f"{method} failed: {response['error']}")
        return response["result"]

    def rpc_batch(self, requests: Sequence[tuple[str, Sequence[Any]]], *, size: int = 500) -> list[Any]:
        """Results of raw JSON-RPC calls, sent in batches of ``size``, in order (a missing
        result is None).

        Raises:
            ChainUnavailableError: the node does not answer.
            ChainError: the node answers one of the calls with an error.
        """
        provider: Any = self.w3.provider
        out: list[Any] = []
        for start in range(0, len(requests), size):
            part = [(RPCEndpoint(m), list(p)) for m, p in requests[start : start + size]]
            try:
                responses = provider.make_batch_request(part)
            except (OSError, ConnectionError) as exc:
                raise ChainUnavailableError(f"JSON-RPC batch ({part[0][0]} ...): {exc}") from None
            for response in responses:
                if "error" in response:
                    raise ChainError(f"batched call failed: {response['error']}")
                out.append(response.get("result"))
        return out

    @property
    def chain_id(self) -> int:
        if self._chain_id is None:
            self._chain_id = int(self.w3.eth.chain_id)
        return self._chain_id

    def contract(self, name: str, address: str) -> Contract:
        """A web3 contract object for artifact ``name`` at ``address``."""
        return self.w3.eth.contract(address=to_checksum_address(address), abi=self.artifacts[name].abi)

    # ------------------------------------------------------------------ calls

    def call(self, fn: ContractFunction, *, sender: str | None = None, block: Any = "latest") -> Any:
        """Call a view (or simulate a state change) and return its decoded result.

        Raises:
            ContractRevertError: the call reverted.
        """
        params: TxParams = {}
        if sender is not None:
            params["from"] = to_checksum_address(sender)
        try:
            return fn.call(params, block_identifier=block)
        except (ContractLogicError, Web3RPCError) as exc:
            raise self._as_revert(exc) from None

    def _as_revert(self, exc: Exception, tx_hash: str | None = None) -> ChainError:
        data = _revert_data(exc)
        if data is None:
            return TransactionError(str(exc))
        return self.errors.decode(data, tx_hash=tx_hash)

    # ------------------------------------------------------------------ building

    def fee_fields(self) -> TxParams:
        """EIP-1559 fee fields where the chain has a base fee, else a legacy gas price."""
        latest = self.w3.eth.get_block("latest")
        base_fee = latest.get("baseFeePerGas")
        if base_fee is None:
            return {"gasPrice": self.w3.eth.gas_price}
        if base_fee == 0:  # zero-base-fee chain (Besu `zeroBaseFee`): pay the node's minimum gas price
            price = Wei(int(self.w3.eth.gas_price))
            return {"maxFeePerGas": price, "maxPriorityFeePerGas": price}
        tip = 0 if base_fee == 0 else min(self.w3.to_wei(1, "gwei"), max(int(base_fee) // 10, 1))
        return {"maxFeePerGas": Wei(int(base_fee) * 2 + tip), "maxPriorityFeePerGas": Wei(tip)}

    def reset_nonces(self) -> None:
        """Forget locally tracked nonces (after a chain revert or reorg)."""
        self._nonces.clear()

    def next_nonce(self, address: str) -> int:
        """Next nonce for ``address`` (tracked locally so transactions can be pipelined)."""
        key = address.lower()
        on_chain = self.w3.eth.get_transaction_count(to_checksum_address(address), "pending")
        nonce = max(on_chain, self._nonces.get(key, 0))
        return nonce

    def estimate_gas(self, sender: str, to: str | None, data: bytes | str, *, value: int = 0) -> int:
        """Gas limit to send ``data`` to ``to`` (``None``: a contract creation) with: the node's
        estimate plus 20 % and 10,000.

        Raises:
            ContractRevertError: the call would revert (decoded custom error).
        """
        params: TxParams = {"from": to_checksum_address(sender), "data": HexBytes(data), "value": Wei(value)}
        if to is not None:
            params["to"] = to_checksum_address(to)
        try:
            estimate = self.w3.eth.estimate_gas(params)
        except (ContractLogicError, Web3RPCError) as exc:
            raise self._as_revert(exc) from None
        return int(estimate * 1.2) + 10_000

    def build(
        self,
        fn: ContractFunction,
        sender: str,
        *,
        value: int = 0,
        gas: int | None = None,
        nonce: int | None = None,
        fees: TxParams | None = None,
    ) -> TxParams:
        """An unsigned transaction for ``fn`` from ``sender``, gas estimated.

        Raises:
            ContractRevertError: the call would revert (decoded custom error).
        """
        sender = to_checksum_address(sender)
        base: TxParams = {"from": sender, "value": Wei(value), "chainId": self.chain_id}
        tx = fn.build_transaction({**base, **(fees or self.fee_fields()), "gas": 1})
        tx.pop("gas", None)
        if gas is None:
            gas = self.estimate_gas(sender, to_checksum_address(tx["to"]), tx["data"], value=value)
        tx["gas"] = gas
        tx["nonce"] = Nonce(self.next_nonce(sender) if nonce is None else nonce)
        return tx

    def build_deploy(self, artifact: Artifact, args: Sequence[Any], sender: str) -> TxParams:
        """An unsigned contract-creation transaction."""
        factory = self.w3.eth.contract(abi=artifact.abi, bytecode=HexStr(artifact.bytecode))
        sender = to_checksum_address(sender)
        tx = factory.constructor(*args).build_transaction(
            {"from": sender, "chainId": self.chain_id, **self.fee_fields(), "gas": 1}
        )
        tx.pop("gas", None)
        tx["gas"] = self.estimate_gas(sender, None, tx["data"])
        tx["nonce"] = Nonce(self.next_nonce(sender))
        return cast(TxParams, tx)

    # ------------------------------------------------------------------ signing and sending

    def sign(self, tx: TxParams, account: LocalAccount) -> bytes:
        """Sign with a local service key (never an enterprise's: those sign in their wallets)."""
        sender = str(tx.get("from", account.address))
        if sender.lower() != account.address.lower():
            raise TransactionError(f"transaction is from {sender}, key is {account.address}")
        unsigned = {k: v for k, v in tx.items() if k != "from"}
        signed = account.sign_transaction(unsigned)  # type: ignore[arg-type]
        return bytes(signed.raw_transaction)

    def send_raw(self, raw: bytes) -> str:
        """Relay a signed raw transaction; returns its hash without waiting."""
        try:
            tx_hash = self.w3.eth.send_raw_transaction(raw)
        except (ContractLogicError, Web3RPCError) as exc:
            raise self._as_revert(exc) from None
        decoded = self.w3.eth.account.recover_transaction(raw)
        key = decoded.lower()
        self._nonces[key] = max(self._nonces.get(key, 0), self._nonce_of_raw(raw) + 1)
        return HexBytes(tx_hash).to_0x_hex()

    @staticmethod
    def _nonce_of_raw(raw: bytes) -> int:
        from eth_account.typed_transactions import TypedTransaction

        if raw and raw[0] < 0x7F:
            return int(TypedTransaction.from_bytes(HexBytes(raw)).as_dict()["nonce"])
        import rlp

        return int.from_bytes(rlp.decode(raw)[0], "big")

    def wait(self, tx_hash: str, timeout: float = 120.0) -> TxReceipt:
        """Wait for the receipt (and the configured confirmations).

        Raises:
            ContractRevertError: the transaction was mined and reverted (reason replayed).
            TransactionError: not mined within ``timeout``.
        """
        try:
            receipt = self.w3.eth.wait_for_transaction_receipt(
                cast(HexStr, tx_hash), timeout=timeout, poll_latency=0.05
            )
        except TimeExhausted:
            raise TransactionError(f"{tx_hash} not mined within {timeout:.0f}s") from None
        if receipt["status"] != 1:
            raise self._replay_failure(tx_hash, receipt)
        if self.confirmations:
            target = receipt["blockNumber"] + self.confirmations
            while self.w3.eth.block_number < target:
                self.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
        return receipt

    def receipt(self, tx_hash: str) -> dict[str, Any] | None:
        """The receipt in JSON-RPC shape (hex quantities), or None while not mined."""
        response = self.w3.provider.make_request(RPCEndpoint("eth_getTransactionReceipt"), [tx_hash])
        result = response.get("result")
        return dict(result) if result else None

    def _replay_failure(self, tx_hash: str, receipt: TxReceipt) -> ChainError:
        tx = self.w3.eth.get_transaction(cast(HexStr, tx_hash))
        call: TxParams = {"from": tx["from"], "data": tx["input"], "value": tx["value"]}
        if tx.get("to"):
            call["to"] = tx["to"]
        try:
            self.w3.eth.call(call, block_identifier=receipt["blockNumber"] - 1)
        except (ContractLogicError, Web3RPCError) as exc:
            return self._as_revert(exc, tx_hash)
        return TransactionError(f"{tx_hash} failed (status 0, gas used {receipt['gasUsed']})")

    def transact(
        self,
        fn: ContractFunction,
        account: LocalAccount,
        *,
        value: int = 0,
        gas: int | None = None,
        wait: bool = True,
    ) -> TxReceipt:
        """Build, sign with a service key, send and wait for a transaction.

        Raises:
            ContractRevertError: it reverts (at estimation or once mined).
        """
        tx = self.build(fn, account.address, value=value, gas=gas)
        tx_hash = self.send_raw(self.sign(tx, account))
        logger.debug("sent", extra={"tx_hash": tx_hash, "sender": account.address})
        return self.wait(tx_hash)

    def send_many(self, calls: Sequence[tuple[ContractFunction, LocalAccount]], *, gas: int) -> list[str]:
        """Send many service-key transactions without waiting: fees read once, nonces counted
        locally per sender, fixed ``gas`` (no estimates). For bulk work: benchmarks, simulations."""
        fees = self.fee_fields()
        hashes = []
        for fn, account in calls:
            key = account.address.lower()
            nonce = self._nonces.get(key)
            if nonce is None:
                nonce = self.next_nonce(account.address)
            tx: dict[str, Any] = {"to": fn.address, "data": fn._encode_transaction_data(), "value": 0,
                                  "gas": gas, "nonce": nonce, "chainId": self.chain_id, **fees}  # fmt: skip
            raw = self.sign(tx, account)  # type: ignore[arg-type]
            try:
                hashes.append(HexBytes(self.w3.eth.send_raw_transaction(raw)).to_0x_hex())
            except (ContractLogicError, Web3RPCError) as exc:
                raise self._as_revert(exc) from None
            self._nonces[key] = nonce + 1
        return hashes

    def send_packed(
        self,
        calls: Sequence[tuple[ContractFunction, LocalAccount]],
        *,
        gas: int,
        chunk: int = 200,
        on_progress: Callable[[int], None] | None = None,
    ) -> list[TxReceipt]:
        """Send many transactions and mine them many to a block, as a consortium chain packs
        them (Anvil's automine would seal one block per transaction); for bulk work on a local
        node: benchmarks, simulations, demos.

        Sends ``chunk`` calls at a time (:meth:`send_many`), mines until the pool is empty, and
        returns every receipt in call order.

        Raises:
            ContractRevertError: a call reverted (its error replayed).
            TransactionError: transactions stayed in the pool.
        """
        rpc = self.w3.provider.make_request
        hashes: list[str] = []
        rpc(RPCEndpoint("evm_setAutomine"), [False])
        try:
            for start in range(0, len(calls), chunk):
                part = calls[start : start + chunk]
                hashes += self.send_many(part, gas=gas)
                for _ in range(1_000):  # mine until nothing is pending or queued
                    status = rpc(RPCEndpoint("txpool_status"), [])["result"]
                    if not int(status["pending"], 16) and not int(status["queued"], 16):
                        break
                    rpc(RPCEndpoint("evm_mine"), [])
                else:
                    raise TransactionError(f"transactions stuck in the pool: {status}")
                if on_progress is not None:
                    on_progress(len(part))
        finally:
            rpc(RPCEndpoint("evm_setAutomine"), [True])
        return [self.wait(h) for h in hashes]

    def timestamp(self) -> int:
        """Timestamp of the latest block (unix seconds)."""
        return int(self.w3.eth.get_block("latest")["timestamp"])

    def advance_time(self, seconds: int) -> int:
        """Development chains only: move the clock forward and mine a block; returns its time."""
        self.w3.provider.make_request("evm_increaseTime", [int(seconds)])  # type: ignore[arg-type]
        self.w3.provider.make_request("evm_mine", [])  # type: ignore[arg-type]
        return self.timestamp()

    def deploy(
        self, name: str, args: Sequence[Any], account: LocalAccount
    ) -> tuple[ChecksumAddress, TxReceipt]:
        """Deploy artifact ``name``; returns its address and the receipt."""
        tx = self.build_deploy(self.artifacts[name], args, account.address)
        receipt = self.wait(self.send_raw(self.sign(tx, account)))
        address = receipt["contractAddress"]
        if address is None:
            raise TransactionError(f"deployment of {name} returned no contract address")
        return to_checksum_address(address), receipt
