"""Typed clients of AllowanceToken and SettlementToken, and on-chain allocation."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from web3.types import TxReceipt

from chain.client import ContractClient
from chain.registry import checked_address
from chain.tx import ChainClient
from domain.errors import InvalidInputError
from domain.tokens import check_amount
from domain.units import Fen, Tonnes

logger = logging.getLogger(__name__)


class AllowanceClient(ContractClient):
    """Client of one deployed AllowanceToken."""

    CONTRACT = "AllowanceToken"

    def set_cap(self, regulator: LocalAccount, token_id: int, cap: int) -> TxReceipt:
        if cap < 0:
            raise InvalidInputError(f"cap {cap} must not be negative")
        return self.chain.transact(self.contract.functions.setCap(token_id, cap), regulator)

    def allocate(
        self,
        regulator: LocalAccount,
        token_id: int,
        recipients: Sequence[str],
        amounts: Sequence[int],
        batch_ref: bytes,
    ) -> TxReceipt:
        if len(recipients) != len(amounts):
            raise InvalidInputError(f"{len(recipients)} recipients but {len(amounts)} amounts")
        fn = self.contract.functions.allocate(
            token_id,
            [checked_address(r, "recipient") for r in recipients],
            [check_amount(a) for a in amounts],
            batch_ref,
        )
        return self.chain.transact(fn, regulator)

    def transfer(self, holder: LocalAccount, to: str, token_id: int, amount: int) -> TxReceipt:
        fn = self.contract.functions.safeTransferFrom(
            holder.address, checked_address(to, "recipient"), token_id, check_amount(amount), b""
        )
        return self.chain.transact(fn, holder)

    def freeze(self, regulator: LocalAccount, holder: str, token_id: int, reason: int) -> TxReceipt:
        return self.chain.transact(self.contract.functions.freeze(holder, token_id, reason), regulator)

    def release(self, regulator: LocalAccount, holder: str, token_id: int) -> TxReceipt:
        return self.chain.transact(self.contract.functions.release(holder, token_id), regulator)

    def retire(self, manager: LocalAccount, account: str, token_id: int, amount: int, year: int) -> TxReceipt:
        fn = self.contract.functions.retire(account, token_id, check_amount(amount), year)
        return self.chain.transact(fn, manager)

    def balance(self, holder: str, token_id: int) -> Tonnes:
        return Tonnes(int(self.contract.functions.balanceOf(checked_address(holder), token_id).call()))

    def cap(self, token_id: int) -> int:
        return int(self.contract.functions.cap(token_id).call())

    def issued(self, token_id: int) -> int:
        return int(self.contract.functions.issued(token_id).call())

    def retired(self, token_id: int) -> int:
        return int(self.contract.functions.retired(token_id).call())

    def permit_allocated(self, enterprise: str, token_id: int) -> int:
        """Allowances of ``token_id`` allocated to ``enterprise`` within its permit so far."""
        fn = self.contract.functions.permitAllocated(checked_address(enterprise, "enterprise"), token_id)
        return int(fn.call())

    def retired_of(self, account: str, token_id: int, year: int) -> int:
        """Tokens of ``token_id`` retired against ``account``'s obligation of compliance ``year``."""
        return int(self.contract.functions.retiredOf(checked_address(account), token_id, year).call())

    def batch_executed(self, batch_ref: bytes) -> bool:
        return bool(self.contract.functions.batchExecuted(batch_ref).call())


class SettlementClient(ContractClient):
    """Client of one deployed SettlementToken (amounts in fen)."""

    CONTRACT = "SettlementToken"

    def deposit(self, exchange: LocalAccount, account: str, amount: int, bank_ref: str) -> TxReceipt:
        fn = self.contract.functions.deposit(
            checked_address(account), check_amount(amount), bank_reference(bank_ref)
        )
        return self.chain.transact(fn, exchange)

    def withdraw(self, exchange: LocalAccount, account: str, amount: int, bank_ref: str) -> TxReceipt:
        fn = self.contract.functions.withdraw(
            checked_address(account), check_amount(amount), bank_reference(bank_ref)
        )
        return self.chain.transact(fn, exchange)

    def approve(self, holder: LocalAccount, spender: str, amount: int) -> TxReceipt:
        return self.chain.transact(self.contract.functions.approve(spender, amount), holder)

    def transfer(self, holder: LocalAccount, to: str, amount: int) -> TxReceipt:
        fn = self.contract.functions.transfer(checked_address(to, "recipient"), check_amount(amount))
        return self.chain.transact(fn, holder)

    def balance(self, holder: str) -> Fen:
        return Fen(int(self.contract.functions.balanceOf(checked_address(holder)).call()))


class TokenHoldingClient(ContractClient):
    """Client of a contract that holds and pays out allowances and cash (an auction house, the
    compliance manager), with the clients of the two tokens it moves.

    Attributes:
        allowance: the AllowanceToken client.
        cash: the SettlementToken client.
    """

    def __init__(
        self,
        chain: ChainClient,
        address: str,
        allowance: AllowanceClient,
        cash: SettlementClient,
        *,
        from_block: int = 0,
    ) -> None:
        super().__init__(chain, address, from_block=from_block)
        self.allowance = allowance
        self.cash = cash


def bank_reference_digest(text: str) -> bytes:
    """keccak256 of a bank reference's text, surrounding blanks stripped (what SettlementToken stores)."""
    return bytes(keccak(text=text.strip()))


def bank_reference(text: str) -> bytes:
    """32-byte on-chain form of a bank transaction reference (keccak of its text); refuses an empty one."""
    if not text.strip():
        raise InvalidInputError("bank reference must not be empty")
    return bank_reference_digest(text)


# ---------------------------------------------------------------------- allocation on-chain


@dataclass(frozen=True)
class AllocationBatch:
    """One transaction's worth of an allocation plan."""

    index: int
    ref: bytes
    recipients: tuple[str, ...]
    amounts: tuple[int, ...]


def plan_batches(
    plan_digest: bytes, token_id: int, rows: Sequence[tuple[str, int]], batch_size: int
) -> list[AllocationBatch]:
    """Cut (account, amount) rows into batches with deterministic references.

    The reference of batch i is keccak(plan digest, token id, i): re-running the same plan
    finds the batches already minted on-chain and skips them. Zero allocations are dropped.
    """
    if batch_size < 1:
        raise InvalidInputError("batch size must be at least 1")
    nonzero = [(a, n) for a, n in rows if n > 0]
    batches = []
    for index, start in enumerate(range(0, len(nonzero), batch_size)):
        chunk = nonzero[start : start + batch_size]
        ref = keccak(plan_digest + token_id.to_bytes(32, "big") + index.to_bytes(32, "big"))
        batches.append(
            AllocationBatch(index, bytes(ref), tuple(a for a, _ in chunk), tuple(n for _, n in chunk))
        )
    return batches


def file_digest(path: Path) -> bytes:
    """SHA-256 of a file's bytes (identifies an allocation plan)."""
    return hashlib.sha256(path.read_bytes()).digest()


@dataclass
class ExecutionReport:
    """What an allocation run did."""

    batches: int
    skipped: int
    minted: int
    gas_used: int


def execute_batches(
    client: AllowanceClient,
    regulator: LocalAccount,
    token_id: int,
    batches: Sequence[AllocationBatch],
    *,
    on_batch: Callable[[AllocationBatch, bool], None] | None = None,
) -> ExecutionReport:
    """Mint every batch not yet minted; safe to re-run after an interruption.

    Raises:
        ContractRevertError: a batch is refused (cap exceeded, recipient not an enterprise);
            batches before it stay minted and are skipped on the next run.
    """
    report = ExecutionReport(len(batches), 0, 0, 0)
    for batch in batches:
        done = client.batch_executed(batch.ref)
        if not done:
            receipt = client.allocate(regulator, token_id, batch.recipients, batch.amounts, batch.ref)
            report.minted += sum(batch.amounts)
            report.gas_used += int(receipt["gasUsed"])
        else:
            report.skipped += 1
        if on_batch is not None:
            on_batch(batch, done)
    return report
