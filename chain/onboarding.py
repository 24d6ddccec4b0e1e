"""Putting a consortium on-chain: register enterprises in governance batches, allocate a plan."""

from __future__ import annotations

import csv
import logging
from collections.abc import Callable, Sequence
from pathlib import Path

from eth_account.signers.local import LocalAccount

from chain.allocation import AllocationPlan
from chain.allowance import AllowanceClient, ExecutionReport, execute_batches, file_digest, plan_batches
from chain.registry import EnterpriseProfile, RegistryClient
from domain.errors import AllocationInputError, InvalidInputError
from domain.tokens import encode_id

logger = logging.getLogger(__name__)


def register_enterprises(
    registry: RegistryClient,
    members: Sequence[LocalAccount],
    rows: Sequence[tuple[str, EnterpriseProfile]],
    *,
    batch_size: int = 40,
    on_batch: Callable[[int], None] | None = None,
) -> int:
    """Register (account, profile) rows through governance, one multicall proposal per batch.

    Rows whose credit code is already registered are skipped, so a run can be resumed.
    Returns the number registered now.
    """
    pending = [(a, p) for a, p in rows if registry.enterprise_by_credit_code(p.credit_code) is None]
    for start in range(0, len(pending), batch_size):
        chunk = pending[start : start + batch_size]
        calls = [registry.encode_register_enterprise(a, p) for a, p in chunk]
        registry.govern(members, registry.encode_multicall(calls), f"register {len(chunk)} enterprises")
        if on_batch is not None:
            on_batch(len(chunk))
    return len(pending)


def read_credit_codes(enterprises_csv: Path) -> dict[str, str]:
    """``enterprise_id -> credit_code`` from an enterprises.csv.

    Raises:
        AllocationInputError: missing file or columns, with line numbers.
    """
    try:
        with enterprises_csv.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(line for line in fh if not line.startswith("#"))
            if not reader.fieldnames or not {"enterprise_id", "credit_code"} <= set(reader.fieldnames):
                raise AllocationInputError([f"{enterprises_csv}: needs columns enterprise_id, credit_code"])
            return {row["enterprise_id"]: row["credit_code"] for row in reader}
    except FileNotFoundError:
        raise AllocationInputError([f"{enterprises_csv}: file not found"]) from None


def resolve_accounts(
    registry: RegistryClient, plan: AllocationPlan, codes: dict[str, str]
) -> list[tuple[str, int]]:
    """(account, amount) per plan entry, the account looked up on-chain by credit code.

    Raises:
        AllocationInputError: every entry whose enterprise is unknown or not registered.
    """
    rows: list[tuple[str, int]] = []
    problems: list[str] = []
    for entry in plan.entries:
        code = codes.get(entry.enterprise_id)
        if code is None:
            problems.append(f"{entry.enterprise_id}: not in the enterprises file")
            continue
        account = registry.enterprise_by_credit_code(code)
        if account is None:
            problems.append(f"{entry.enterprise_id}: credit code {code} is not registered on-chain")
            continue
        rows.append((account, entry.allocation))
    if problems:
        raise AllocationInputError(problems)
    return rows


def execute_plan(
    allowance: AllowanceClient,
    registry: RegistryClient,
    regulator: LocalAccount,
    plan_path: Path,
    enterprises_csv: Path,
    *,
    pollutant: str = "CO2",
    batch_size: int = 200,
    set_cap: bool = True,
    on_batch: Callable[[int, bool], None] | None = None,
) -> ExecutionReport:
    """Mint an allocation plan on-chain in batches; re-running resumes without minting twice.

    The cap of (pollutant, target year) is raised to the plan's cap first when it is lower and
    nothing was issued yet. Everything is checked before the first transaction.

    Raises:
        AllocationInputError: the plan or the enterprises file is malformed, or an enterprise is
            not registered (nothing is minted).
        ContractRevertError: the chain refuses a batch (e.g. CapExceeded).
    """
    plan = AllocationPlan.read_csv(plan_path)
    if any(e.allocation < 0 for e in plan.entries):
        raise InvalidInputError("plan has negative allocations")
    token_id = encode_id(1, pollutant, plan.target_year)
    rows = resolve_accounts(registry, plan, read_credit_codes(enterprises_csv))
    batches = plan_batches(file_digest(plan_path), token_id, rows, batch_size)
    if set_cap and allowance.cap(token_id) < plan.cap and allowance.issued(token_id) == 0:
        allowance.set_cap(regulator, token_id, plan.cap)
    return execute_batches(
        allowance, regulator, token_id, batches,
        on_batch=(lambda b, done: on_batch(len(b.recipients), done)) if on_batch else None,
    )  # fmt: skip
