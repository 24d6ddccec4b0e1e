"""Bulk replay on a local Anvil: transactions pre-signed with explicit nonces and gas, sent in
JSON-RPC batches without waiting, mined many to a block in the order they were signed (automine
off), receipts fetched and checked at the end. For benchmarks and recorded days only: the keys
are service or seeded keys and the node is a throwaway one.

Order is what makes a replay faithful: a later transaction may depend on an earlier one's effect
(a cancel on the order it names, a fill on the book as it stands). Anvil handles the calls of a
JSON-RPC batch concurrently, so arrival order is lost; instead each signed transaction offers one
wei less than the one before it, and the pool (ordered by fee) hands them to the block in signing
order. Every block has room for a whole batch (:class:`ReplayNode`: a large block gas limit), and
:meth:`Replayer.receipts` checks the mined order is the signed one."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_utils import keccak, to_checksum_address
from web3.contract.contract import ContractFunction

from chain.errors import TransactionError
from chain.node import AnvilNode
from chain.tx import ChainClient

logger = logging.getLogger(__name__)

#: Block gas limit of a replay node: room for hundreds of heavy transactions a block.
REPLAY_BLOCK_GAS_LIMIT = 40_000_000_000


@dataclass
class ReplayNode(AnvilNode):
    """An Anvil with a large block gas limit and its pool ordered by fee (the default, said)."""

    gas_limit: int = REPLAY_BLOCK_GAS_LIMIT

    def command(self) -> list[str]:
        return [*super().command(), "--order", "fees"]


@dataclass(frozen=True)
class RawCall:
    """One transaction to pre-sign: ``data`` to contract ``to`` from ``sender`` with ``gas``."""

    sender: LocalAccount
    to: str
    data: bytes
    gas: int

    @classmethod
    def of(cls, fn: ContractFunction, sender: LocalAccount, gas: int) -> RawCall:
        """The call of a bound contract function (e.g. ``MarketClient.place_call(...)``)."""
        return cls(sender, str(fn.address), bytes.fromhex(fn._encode_transaction_data()[2:]), gas)


@dataclass(frozen=True)
class Mined:
    """What became of one replayed transaction."""

    tx_hash: str
    status: int
    gas_used: int
    block: int
    index: int
    logs: list[dict[str, Any]]


class Replayer:
    """Signs, sends and mines transactions in bulk on one local node.

    Args:
        chain: the client of a local node (Anvil: ``evm_mine``, ``evm_setAutomine`` and
            ``txpool_status`` are used).
        gas_price: price every transaction offers (wei); default twice the latest base fee.
    """

    def __init__(self, chain: ChainClient, *, gas_price: int | None = None) -> None:
        self.chain = chain
        self._gas_price = gas_price
        self._nonces: dict[str, int] = {}

    def sign(
        self, calls: Sequence[RawCall], *, on_progress: Callable[[int], None] | None = None
    ) -> list[bytes]:
        """Sign every call with its sender's next nonce (counted locally from the node's
        pending count), in order."""
        if self._gas_price is None:
            base = self.chain.w3.eth.get_block("latest").get("baseFeePerGas") or self.chain.w3.eth.gas_price
            self._gas_price = 2 * int(base) + 1
        chain_id = self.chain.chain_id
        raws: list[bytes] = []
        for i, call in enumerate(calls):
            key = call.sender.address
            nonce = self._nonces.get(key)
            if nonce is None:
                nonce = self.chain.w3.eth.get_transaction_count(to_checksum_address(key), "pending")
            # a price falling by one wei per call: the pool hands them to the block in this order
            price = self._gas_price + len(calls) - i
            tx: dict[str, Any] = {
                "to": to_checksum_address(call.to),
                "data": call.data,
                "value": 0,
                "gas": call.gas,
                "gasPrice": price,
                "nonce": nonce,
                "chainId": chain_id,
            }
            raws.append(bytes(call.sender.sign_transaction(tx).raw_transaction))
            self._nonces[key] = nonce + 1
            if on_progress is not None and (i + 1) % 500 == 0:
                on_progress(500)
        if on_progress is not None and len(calls) % 500:
            on_progress(len(calls) % 500)
        return raws

    def set_next_timestamp(self, timestamp: int) -> None:
        """The next mined block gets this timestamp (unix seconds; later than the latest)."""
        self.chain.rpc("evm_setNextBlockTimestamp", [int(timestamp)])

    def send(
        self,
        raws: Sequence[bytes],
        *,
        per_block: int = 250,
        on_progress: Callable[[int], None] | None = None,
    ) -> list[str]:
        """Send ``per_block`` raw transactions in one JSON-RPC batch, mine a block, repeat;
        returns the hashes in order without fetching receipts (automine is off meanwhile).

        Raises:
            TransactionError: the node refused a transaction, or some stayed in the pool.
        """
        hashes: list[str] = []
        self.chain.rpc("evm_setAutomine", [False])
        try:
            for start in range(0, len(raws), per_block):
                part = raws[start : start + per_block]
                responses = self._batch([("eth_sendRawTransaction", ["0x" + r.hex()]) for r in part])
                for n, response in enumerate(responses):
                    if "error" in response:
                        raise TransactionError(
                            f"the node refused replayed transaction {start + n}: {response['error']}"
                        )
                    hashes.append("0x" + keccak(part[n]).hex())
                self._mine_until_empty()
                if on_progress is not None:
                    on_progress(len(part))
        finally:
            self.chain.rpc("evm_setAutomine", [True])
        return hashes

    def receipts(self, hashes: Sequence[str], *, size: int = 500) -> list[Mined]:
        """The receipts of ``hashes``, in order (reverted ones included: check ``status``).

        Raises:
            TransactionError: a transaction has no receipt (not mined), or they were mined in
                another order than ``hashes``.
        """
        out: list[Mined] = []
        for start in range(0, len(hashes), size):
            part = hashes[start : start + size]
            results = self.chain.rpc_batch([("eth_getTransactionReceipt", [h]) for h in part], size=size)
            for tx_hash, receipt in zip(part, results, strict=True):
                if receipt is None:
                    raise TransactionError(f"{tx_hash} was not mined")
                mined = Mined(
                    tx_hash=tx_hash,
                    status=int(receipt["status"], 16),
                    gas_used=int(receipt["gasUsed"], 16),
                    block=int(receipt["blockNumber"], 16),
                    index=int(receipt["transactionIndex"], 16),
                    logs=list(receipt["logs"]),
                )
                out.append(mined)
        for before, after in pairwise(out):
            if (before.block, before.index) >= (after.block, after.index):
                raise TransactionError(f"{after.tx_hash} was mined before {before.tx_hash}, sent earlier")
        return out

    def _batch(self, requests: Sequence[tuple[str, Sequence[Any]]]) -> list[dict[str, Any]]:
        provider: Any = self.chain.w3.provider
        responses = provider.make_batch_request([(m, list(p)) for m, p in requests])
        return list(responses)

    def _mine_until_empty(self) -> None:
        for _ in range(100):
            self.chain.rpc("evm_mine", [])
            status = self.chain.rpc("txpool_status", [])
            if not int(status["pending"], 16) and not int(status["queued"], 16):
                return
        raise TransactionError(f"replayed transactions stuck in the pool: {status}")
