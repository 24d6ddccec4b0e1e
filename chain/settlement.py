"""Chain access for end-of-day settlement: the SettlementReports client, report signatures, and
balances, supplies, block bounds and log counts as of one block (JSON-RPC batches)."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount
from eth_utils import function_signature_to_4byte_selector, to_checksum_address
from hexbytes import HexBytes
from web3.types import TxReceipt

from chain.client import ContractClient
from chain.errors import ChainError
from chain.registry import RegistryClient
from chain.tx import ChainClient
from domain.errors import InvalidInputError

logger = logging.getLogger(__name__)

#: Requests per JSON-RPC batch, and (account, id) pairs per ``balanceOfBatch`` call.
RPC_BATCH = 500
PAIRS_PER_CALL = 1_000

_BALANCE_OF_BATCH = function_signature_to_4byte_selector("balanceOfBatch(address[],uint256[])")
_BALANCE_OF = function_signature_to_4byte_selector("balanceOf(address)")
_TOTAL_SUPPLY_ID = function_signature_to_4byte_selector("totalSupply(uint256)")
_TOTAL_SUPPLY = function_signature_to_4byte_selector("totalSupply()")


@dataclass(frozen=True)
class PublishedReport:
    """A settlement report as anchored on-chain.

    Attributes:
        trading_day: YYYYMMDD.
        report_hash: 32 bytes (SHA-256 of the bundle's manifest).
        signer: the exchange account whose signature the contract checked.
        publisher: the account that sent the transaction.
        published_at: block timestamp.
        signature: 65 bytes.
        revision: 0 for the publication, 1, 2 ... for governed corrections (the publisher of a
            correction is the registry).
    """

    trading_day: int
    report_hash: bytes
    signer: str
    publisher: str
    published_at: int
    signature: bytes
    revision: int = 0


@dataclass(frozen=True)
class BlockRef:
    """A block's number, timestamp and hash."""

    number: int
    timestamp: int
    hash: str


class BlockNumbered(Protocol):
    """Any block reference with a number and a timestamp."""

    @property
    def number(self) -> int: ...

    @property
    def timestamp(self) -> int: ...


class SettlementReportsClient(ContractClient):
    """Client of the deployed SettlementReports contract."""

    CONTRACT = "SettlementReports"

    def digest(self, trading_day: int, report_hash: bytes) -> bytes:
        """The digest an exchange key signs for ``trading_day`` (before the EIP-191 prefix)."""
        return bytes(self.chain.call(self.contract.functions.reportDigest(trading_day, report_hash)))

    def sign(self, signer: LocalAccount, trading_day: int, report_hash: bytes) -> bytes:
        """The EIP-191 signature of the report digest by ``signer`` (65 bytes)."""
        message = encode_defunct(primitive=self.digest(trading_day, report_hash))
        return bytes(signer.sign_message(message).signature)

    def publish(
        self,
        exchange: LocalAccount,
        trading_day: int,
        report_hash: bytes,
        *,
        signer: LocalAccount | None = None,
        signature: bytes | None = None,
    ) -> TxReceipt:
        """Anchor a day's report hash, signed by ``signer`` (default: the sending exchange key)
        unless a ready ``signature`` is given.

        Raises:
            InvalidInputError: the hash is not 32 bytes.
            ContractRevertError: refused (``ReportAlreadyPublished``, ``ReportFutureDay``,
                ``UnauthorizedRole``, ``CallerNotActive`` ...).
        """
        if len(report_hash) != 32:
            raise InvalidInputError(f"report hash must be 32 bytes, got {len(report_hash)}")
        if signature is None:
            signature = self.sign(signer or exchange, trading_day, report_hash)
        fn = self.contract.functions.publish(trading_day, report_hash, signature)
        return self.chain.transact(fn, exchange)

    def report(self, trading_day: int) -> PublishedReport | None:
        """The current report of ``trading_day`` (its latest revision), or None."""
        count = self.revision_count(trading_day)
        if count == 0:
            return None
        return self.revision(trading_day, count - 1)

    def revision_count(self, trading_day: int) -> int:
        """Revisions of ``trading_day``'s report: 0 none, 1 published, more when corrected."""
        return int(self.chain.call(self.contract.functions.revisionCount(trading_day)))

    def revision(self, trading_day: int, index: int) -> PublishedReport:
        """Revision ``index`` of ``trading_day``'s report (0 is the publication).

        Raises:
            ContractRevertError: ``ReportRevisionUnknown``.
        """
        raw = self.chain.call(self.contract.functions.reportRevision(trading_day, index))
        report_hash, signer, publisher, published_at, signature = raw
        return PublishedReport(
            trading_day,
            bytes(report_hash),
            str(signer),
            str(publisher),
            int(published_at),
            bytes(signature),
            index,
        )

    def revisions(self, trading_day: int) -> list[PublishedReport]:
        """Every revision of ``trading_day``'s report, oldest first (empty when none)."""
        return [self.revision(trading_day, i) for i in range(self.revision_count(trading_day))]

    def current_trading_day(self) -> int:
        """The latest block's trading day as the contract numbers it (YYYYMMDD at UTC+8): no
        report may be published for a later day."""
        return int(self.chain.call(self.contract.functions.currentTradingDay()))

    def encode_correct(self, trading_day: int, report_hash: bytes, signature: bytes) -> bytes:
        """Calldata of ``correct`` for a governance proposal targeting this contract.

        Raises:
            InvalidInputError: the hash is not 32 bytes.
        """
        if len(report_hash) != 32:
            raise InvalidInputError(f"report hash must be 32 bytes, got {len(report_hash)}")
        return bytes(
            HexBytes(self.contract.encode_abi("correct", args=[trading_day, report_hash, signature]))
        )

    def correct(
        self,
        registry: RegistryClient,
        members: Sequence[LocalAccount],
        trading_day: int,
        report_hash: bytes,
        *,
        signer: LocalAccount,
        description: str | None = None,
    ) -> TxReceipt:
        """Correct a published day through governance: ``signer`` (an exchange key) signs the
        corrected hash, the first ``threshold`` of ``members`` propose, approve and execute
        (:meth:`RegistryClient.govern`; in production each member acts on its own).

        Raises:
            InvalidInputError: the hash is not 32 bytes, or too few members.
            ContractRevertError: ``ReportNotPublished``, ``ReportUnchanged``, ``ReportSignerNotExchange`` ...
        """
        data = self.encode_correct(trading_day, report_hash, self.sign(signer, trading_day, report_hash))
        text = description or f"correct settlement report {trading_day} to 0x{report_hash.hex()}"
        return registry.govern(members, data, text, target=self.address)

    def verify(self, trading_day: int, report_hash: bytes) -> bool:
        """Whether ``report_hash`` is the published report of ``trading_day``."""
        return bool(self.chain.call(self.contract.functions.verify(trading_day, report_hash)))

    def recover_signer(self, report: PublishedReport) -> str:
        """The account that signed ``report`` (recovered off-chain, independent of the contract)."""
        message = encode_defunct(primitive=self.digest(report.trading_day, report.report_hash))
        return str(Account.recover_message(message, signature=report.signature))


class ChainLedger:
    """Balances and supplies of the allowance and cash tokens as of one block, read with
    batched ``eth_call`` s (``balanceOfBatch`` for allowances, a JSON-RPC batch of ``balanceOf``
    for cash), plus the block bounds of a trading day and per-block log counts.

    Args:
        chain: the chain gateway.
        allowance: AllowanceToken address.
        cash: SettlementToken address.
        followed: addresses whose logs the read model indexes (for the gap check).
    """

    def __init__(self, chain: ChainClient, allowance: str, cash: str, followed: Iterable[str] = ()) -> None:
        self.chain = chain
        self.allowance = to_checksum_address(allowance)
        self.cash = to_checksum_address(cash)
        self.followed = [to_checksum_address(a) for a in followed]

    # ------------------------------------------------------------------ raw JSON-RPC

    def _rpc(self, method: str, params: Sequence[Any]) -> Any:
        return self.chain.rpc(method, params)

    def _batch(self, requests: Sequence[tuple[str, list[Any]]]) -> list[Any]:
        return self.chain.rpc_batch(requests, size=RPC_BATCH)

    def _call(self, to: str, data: bytes, block: int) -> tuple[str, list[Any]]:
        return ("eth_call", [{"to": to, "data": "0x" + data.hex()}, hex(block)])

    # ------------------------------------------------------------------ blocks

    def head(self) -> BlockRef:
        """The latest block."""
        return self.block(int(self._rpc("eth_blockNumber", []), 16))

    def block(self, number: int) -> BlockRef:
        """Block ``number``.

        Raises:
            ChainError: the chain has no such block.
        """
        raw = self._rpc("eth_getBlockByNumber", [hex(number), False])
        if raw is None:
            raise ChainError(f"block {number} is not on the chain")
        return BlockRef(int(raw["number"], 16), int(raw["timestamp"], 16), str(raw["hash"]))

    def last_block_before(self, timestamp: int, *, head: BlockNumbered | None = None) -> BlockRef | None:
        """The last block whose timestamp is earlier than ``timestamp`` (binary search from
        ``head``, default the latest; block times never decrease), or None when even block 0 is not."""
        top = head or self.head()
        if top.timestamp < timestamp:
            return top if isinstance(top, BlockRef) else self.block(top.number)
        low, high = 0, top.number  # invariant: answer < high
        if self.block(0).timestamp >= timestamp:
            return None
        while high - low > 1:
            mid = (low + high) // 2
            if self.block(mid).timestamp < timestamp:
                low = mid
            else:
                high = mid
        return self.block(low)

    def log_counts(self, from_block: int, to_block: int) -> dict[int, int]:
        """Logs per block of the followed contracts in ``from_block``..``to_block``."""
        counts: dict[int, int] = {}
        if to_block < from_block or not self.followed:
            return counts
        step = 2_000
        for start in range(from_block, to_block + 1, step):
            end = min(start + step - 1, to_block)
            logs = self._rpc(
                "eth_getLogs", [{"fromBlock": hex(start), "toBlock": hex(end), "address": self.followed}]
            )
            for log in logs:
                number = int(log["blockNumber"], 16)
                counts[number] = counts.get(number, 0) + 1
        return counts

    # ------------------------------------------------------------------ balances

    def allowance_balances(self, pairs: Sequence[tuple[str, int]], block: int) -> dict[tuple[str, int], int]:
        """ERC-1155 balances of (account, id) ``pairs`` at ``block``."""
        requests = []
        for start in range(0, len(pairs), PAIRS_PER_CALL):
            part = pairs[start : start + PAIRS_PER_CALL]
            data = _BALANCE_OF_BATCH + abi_encode(
                ["address[]", "uint256[]"], [[a for a, _ in part], [i for _, i in part]]
            )
            requests.append(self._call(self.allowance, data, block))
        out: dict[tuple[str, int], int] = {}
        results = self._batch(requests)
        for n, result in enumerate(results):
            part = pairs[n * PAIRS_PER_CALL : (n + 1) * PAIRS_PER_CALL]
            (values,) = abi_decode(["uint256[]"], bytes.fromhex(result[2:]))
            out.update(zip(part, (int(v) for v in values), strict=True))
        return out

    def cash_balances(self, accounts: Sequence[str], block: int) -> dict[str, int]:
        """Settlement-cash balances of ``accounts`` at ``block``."""
        requests = [
            self._call(self.cash, _BALANCE_OF + abi_encode(["address"], [a]), block) for a in accounts
        ]
        return {a: int(r, 16) for a, r in zip(accounts, self._batch(requests), strict=True)}

    def supplies(self, ids: Sequence[int], block: int) -> dict[int, int]:
        """Total supply per id at ``block``; id 0 is settlement cash."""
        requests = [
            self._call(self.cash, _TOTAL_SUPPLY, block)
            if i == 0
            else self._call(self.allowance, _TOTAL_SUPPLY_ID + abi_encode(["uint256"], [i]), block)
            for i in ids
        ]
        return {i: int(r, 16) for i, r in zip(ids, self._batch(requests), strict=True)}


def ledger_for(chain: ChainClient, contracts: Mapping[str, str]) -> ChainLedger:
    """A :class:`ChainLedger` over a manifest's contracts (name → address).

    Raises:
        ChainError: the tokens are not deployed.
    """
    try:
        return ChainLedger(
            chain, contracts["AllowanceToken"], contracts["SettlementToken"], contracts.values()
        )
    except KeyError as exc:
        raise ChainError(f"{exc.args[0]} is not in the deployment manifest") from None


class ReportAnchor:
    """Publishes report hashes as ``settlement.day.Anchor`` expects: signed by ``signer``
    (default the sending exchange key) and sent by ``exchange``."""

    def __init__(
        self, client: SettlementReportsClient, exchange: LocalAccount, signer: LocalAccount | None = None
    ) -> None:
        self.client = client
        self.exchange = exchange
        self.signer = signer

    def published_hash(self, day_code: int) -> bytes | None:
        """The hash anchored for ``day_code`` (YYYYMMDD), or None."""
        report = self.client.report(day_code)
        return None if report is None else report.report_hash

    def publish(self, day_code: int, report_hash: bytes) -> str:
        """Sign and anchor; returns the transaction hash."""
        receipt = self.client.publish(self.exchange, day_code, report_hash, signer=self.signer)
        return str(receipt["transactionHash"].to_0x_hex())
