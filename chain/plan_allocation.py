"""The allocation planner of any pollutant against an adopted annual plan, chain side: claimants
from the discharge permits (basis ``permits``) or from metered history (basis ``history``: a CSV
of metered emissions, or the read model's statistics handed in as a mapping), what each already
holds within its permit (allocated by the token, and bought from the government reserve: the
reserve's accepted offers, when the token has a reserve), the plan file
(``# ets-pollutant-allocation {json}`` then one row per enterprise) and its execution on-chain.

The rule itself (budgets, targets, rounding and its remainder) is :mod:`domain.plan_allocation`.
"""

from __future__ import annotations

import csv
import json
import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from eth_account.signers.local import LocalAccount

from chain.allowance import AllowanceClient, ExecutionReport, execute_batches, file_digest, plan_batches
from chain.permits import PermitsClient
from chain.plans import PlanKind, PlansClient, PlanStatus
from chain.registry import RegistryClient, checked_address
from chain.reserve import ReserveClient
from domain.errors import AllocationInputError, InvalidInputError
from domain.plan_allocation import (
    DEFAULT_HISTORY_YEARS,
    Basis,
    Claimant,
    Grant,
    PollutantAllocation,
    RegionBudget,
    allocate,
    as_basis,
    history_basis,
)
from domain.plans import AnnualPlan
from domain.tokens import POLLUTANT_SYMBOLS, Kind, encode_id, pollutant_code

logger = logging.getLogger(__name__)

MARKER: Final = "# ets-pollutant-allocation "
#: Format 2 adds ``reserve_t`` (bought from the government reserve); format 1 files are read as 0.
FORMAT: Final = 2
COLUMNS: Final = (
    "account",
    "label",
    "region_code",
    "basis_t",
    "target_bps",
    "demand_t",
    "permitted_t",
    "already_t",
    "allocation",
    "reserve_t",
)
_COLUMNS_BY_FORMAT: Final = {1: COLUMNS[:-1], FORMAT: COLUMNS}
HISTORY_COLUMNS: Final = ("enterprise", "pollutant", "year", "emissions_t")


@dataclass(frozen=True, slots=True)
class PollutantPlan:
    """A planned allocation of one pollutant under an annual plan, as written to its CSV file."""

    annual_plan_id: int
    allocation: PollutantAllocation

    @property
    def token_id(self) -> int:
        return encode_id(Kind.ALLOWANCE, self.allocation.pollutant, self.allocation.year)

    def metadata(self) -> dict[str, Any]:
        a = self.allocation
        return {
            "format": FORMAT,
            "annual_plan_id": self.annual_plan_id,
            "pollutant": POLLUTANT_SYMBOLS.get(a.pollutant, str(a.pollutant)),
            "year": a.year,
            "basis": a.basis.value,
            "total": a.total,
            "regions": [
                {
                    "region": r.region,
                    "cap": r.cap,
                    "reserve_share_bps": r.reserve_share_bps,
                    "reserve_t": r.reserve_t,
                    "already_t": r.already_t,
                    "budget_t": r.budget_t,
                    "demand_t": r.demand_t,
                    "allocated_t": r.allocated_t,
                    "unallocated_t": r.unallocated_t,
                    "scaled": r.scaled,
                }
                for r in a.regions
            ],
        }

    def write_csv(self, path: str | Path) -> Path:
        """Write the metadata line, the header :data:`COLUMNS` and one row per enterprise."""
        out = Path(path)
        with out.open("w", encoding="utf-8", newline="") as handle:
            handle.write(MARKER + json.dumps(self.metadata(), sort_keys=True) + "\n")
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(COLUMNS)
            for g in self.allocation.grants:
                permitted = "" if g.permitted_t is None else g.permitted_t
                writer.writerow(
                    [
                        g.enterprise,
                        g.label,
                        g.region,
                        repr(g.basis_t),
                        g.target_bps,
                        repr(g.demand_t),
                        permitted,
                        g.already_t,
                        g.allocation,
                        g.reserve_t,
                    ]
                )
        logger.info(
            "pollutant allocation plan written", extra={"path": str(out), "total": self.allocation.total}
        )
        return out

    @classmethod
    def read_csv(cls, path: str | Path) -> PollutantPlan:
        """Read a plan written by :meth:`write_csv`, checking it against its own rules: rows whole
        and non-negative, none above its permit, every region's sum equal to its ``allocated_t``
        and at most its ``budget_t``.

        Raises:
            AllocationInputError: every problem, with line numbers.
        """
        where = Path(path).name
        try:
            lines = Path(path).read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise AllocationInputError([f"{where}: cannot read ({exc})"]) from exc
        if not lines or not lines[0].startswith(MARKER):
            raise AllocationInputError([f"{where} line 1: expected '{MARKER.strip()} {{...}}'"])
        try:
            meta = json.loads(lines[0][len(MARKER) :])
            regions = tuple(
                RegionBudget(
                    int(r["region"]),
                    int(r["cap"]),
                    int(r["reserve_share_bps"]),
                    int(r["reserve_t"]),
                    int(r["already_t"]),
                    int(r["budget_t"]),
                    float(r["demand_t"]),
                    int(r["allocated_t"]),
                    bool(r["scaled"]),
                )
                for r in meta["regions"]
            )
            if meta["format"] not in _COLUMNS_BY_FORMAT:
                raise ValueError(f"unsupported format {meta['format']!r}")
            columns = _COLUMNS_BY_FORMAT[meta["format"]]
            header = (
                int(meta["annual_plan_id"]),
                pollutant_code(meta["pollutant"]),
                int(meta["year"]),
                as_basis(meta["basis"]),
            )
        except (KeyError, TypeError, ValueError, InvalidInputError) as exc:
            raise AllocationInputError([f"{where} line 1: bad metadata ({exc})"]) from exc
        reader = csv.DictReader(lines[1:])
        if tuple(reader.fieldnames or ()) != columns:
            raise AllocationInputError([f"{where} line 2: columns must be {','.join(columns)}"])
        problems: list[str] = []
        grants: list[Grant] = []
        for n, row in enumerate(reader, start=3):
            try:
                permitted = None if row["permitted_t"] == "" else int(row["permitted_t"])
                g = Grant(
                    checked_address(row["account"], "account"),
                    row["label"],
                    int(row["region_code"]),
                    float(row["basis_t"]),
                    int(row["target_bps"]),
                    float(row["demand_t"]),
                    permitted,
                    int(row["already_t"]),
                    int(row["allocation"]),
                    int(row.get("reserve_t") or 0),
                )
            except (TypeError, ValueError) as exc:
                problems.append(f"{where} line {n}: {exc}")
                continue
            if g.allocation < 0 or g.already_t < 0 or g.reserve_t < 0:
                problems.append(f"{where} line {n}: allocation {g.allocation} must be >= 0")
            if g.permitted_t is not None and g.allocation + g.already_t + g.reserve_t > g.permitted_t:
                problems.append(
                    f"{where} line {n}: allocation {g.allocation} is above the permit's "
                    f"{g.permitted_t} less {g.already_t} allocated and {g.reserve_t} bought from the reserve"
                )
            grants.append(g)
        for r in regions:
            total = sum(g.allocation for g in grants if g.region == r.region)
            if total != r.allocated_t or total > r.budget_t:
                problems.append(
                    f"{where}: region {r.region} sums to {total}; allocated {r.allocated_t}, "
                    f"budget {r.budget_t}"
                )
        if any(g.region not in {r.region for r in regions} for g in grants):
            problems.append(f"{where}: a row names a region without a budget line")
        if problems:
            raise AllocationInputError(problems)
        plan_id, pollutant, year, basis = header
        return cls(plan_id, PollutantAllocation(pollutant, year, basis, regions, tuple(grants)))


# --------------------------------------------------------------------------- inputs


def adopted_annual(plans: PlansClient, annual_plan_id: int) -> AnnualPlan:
    """The annual plan ``annual_plan_id``, refused unless it is an adopted annual plan.

    Raises:
        AllocationInputError: unknown, not annual, or not adopted (draft or superseded).
    """
    if not 1 <= annual_plan_id <= plans.plan_count():
        raise AllocationInputError([f"no plan {annual_plan_id}"])
    header = plans.plan(annual_plan_id)
    if header.kind != PlanKind.ANNUAL:
        raise AllocationInputError([f"plan {annual_plan_id} is a five-year plan, not an annual plan"])
    if header.status != PlanStatus.ADOPTED:
        raise AllocationInputError(
            [f"annual plan {annual_plan_id} is {header.status.name.lower()}, not adopted"]
        )
    return plans.annual(annual_plan_id)


def load_metered_history(path: str | Path, pollutant: int | str) -> dict[str, dict[int, float]]:
    """``enterprise -> {year: t}`` of ``pollutant`` from a CSV of metered emissions
    (columns ``enterprise,pollutant,year,emissions_t``; enterprise an account or a credit code;
    rows of other pollutants are skipped; lines starting with ``#`` are comments).

    Raises:
        AllocationInputError: missing file or columns, bad cells or a repeated (enterprise, year).
    """
    code = pollutant_code(pollutant)
    where = Path(path).name
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise AllocationInputError([f"{where}: cannot read ({exc})"]) from exc
    reader = csv.DictReader(line for line in text.splitlines() if not line.startswith("#"))
    if not set(HISTORY_COLUMNS) <= set(reader.fieldnames or ()):
        raise AllocationInputError([f"{where}: needs columns {','.join(HISTORY_COLUMNS)}"])
    out: dict[str, dict[int, float]] = {}
    problems: list[str] = []
    for n, row in enumerate(reader, start=2):
        try:
            if pollutant_code(row["pollutant"]) != code:
                continue
            key, year, amount = row["enterprise"].strip(), int(row["year"]), float(row["emissions_t"])
        except (TypeError, ValueError, InvalidInputError) as exc:
            problems.append(f"{where} row {n}: {exc}")
            continue
        if not key or not math.isfinite(amount) or amount < 0:
            problems.append(f"{where} row {n}: needs an enterprise and emissions_t >= 0")
        elif year in out.setdefault(key, {}):
            problems.append(f"{where} row {n}: {key} {year} repeated")
        else:
            out[key][year] = amount
    if problems:
        raise AllocationInputError(problems)
    return out


def token_reserve(allowance: AllowanceClient) -> ReserveClient | None:
    """The government reserve the AllowanceToken is wired to (``reserve()``), or None."""
    address = str(allowance.contract.functions.reserve().call())
    return None if int(address, 16) == 0 else ReserveClient(allowance.chain, address)


def reserve_sales(reserve: ReserveClient | None, token_id: int) -> dict[str, int]:
    """Tonnes of ``token_id`` each project bought from ``reserve`` (its accepted offers), by account;
    empty without a reserve."""
    return reserve.sold(token_id) if reserve is not None else {}


def _ceiling(
    permits: PermitsClient | None,
    allowance: AllowanceClient,
    account: str,
    pollutant: int,
    year: int,
    sold: Mapping[str, int],
) -> tuple[int | None, int, int]:
    """(permitted amount or None when ungated, already allocated within the permit, bought from
    the reserve)."""
    if permits is None or not permits.gates(pollutant):
        return None, 0, 0
    token_id = encode_id(Kind.ALLOWANCE, pollutant, year)
    permitted = permits.permitted_amount(account, pollutant, year)
    return permitted, allowance.permit_allocated(account, token_id), sold.get(account, 0)


def claimants_from_permits(
    registry: RegistryClient,
    permits: PermitsClient,
    allowance: AllowanceClient,
    pollutant: int | str,
    year: int,
    *,
    reserve: ReserveClient | None = None,
) -> list[Claimant]:
    """Every active enterprise whose permit allows ``pollutant`` in ``year``; basis = the permitted
    amount, ceiling the same less what was already allocated within the permit and what it bought
    from the government reserve (``reserve``; the token's reserve when omitted)."""
    code = pollutant_code(pollutant)
    token_id = encode_id(Kind.ALLOWANCE, code, year)
    sold = reserve_sales(reserve or token_reserve(allowance), token_id)
    out: dict[str, Claimant] = {}
    for permit_id in range(1, permits.permit_count() + 1):
        account = permits.permit(permit_id).enterprise
        if account in out or not registry.is_active_participant(account):
            continue
        amount = permits.permitted_amount(account, code, year)
        if amount == 0:
            continue
        e = registry.enterprise(account)
        already = allowance.permit_allocated(account, token_id)
        out[account] = Claimant(
            account, e.profile.region_code, float(amount), amount, already, e.profile.credit_code,
            sold.get(account, 0),
        )  # fmt: skip
    return list(out.values())


def claimants_from_history(
    registry: RegistryClient,
    allowance: AllowanceClient,
    history: Mapping[str, Mapping[int, float]],
    pollutant: int | str,
    year: int,
    *,
    permits: PermitsClient | None = None,
    years: int = DEFAULT_HISTORY_YEARS,
    reserve: ReserveClient | None = None,
) -> list[Claimant]:
    """One claimant per enterprise of ``history`` (keyed by account or credit code): basis = mean of
    its last ``years`` metered years before ``year``; with ``permits`` wired and gating the
    pollutant, the permit is the ceiling (an enterprise without one gets 0), less what was
    allocated within it and bought from the government reserve (``reserve``; the token's when
    omitted).

    Raises:
        AllocationInputError: an enterprise not registered, or a credit code listed twice.
    """
    code = pollutant_code(pollutant)
    gated = permits is not None and permits.gates(code)
    token_id = encode_id(Kind.ALLOWANCE, code, year)
    sold = reserve_sales(reserve or token_reserve(allowance), token_id) if gated else {}
    problems: list[str] = []
    out: list[Claimant] = []
    seen: set[str] = set()
    for key in sorted(history):
        account = key if key.lower().startswith("0x") else registry.enterprise_by_credit_code(key)
        if account is None or not registry.has_role("ENTERPRISE", account):
            problems.append(f"{key}: not a registered enterprise")
            continue
        account = checked_address(account, "enterprise")
        if account in seen:
            problems.append(f"{key}: enterprise listed twice")
            continue
        seen.add(account)
        if not registry.is_active_participant(account):
            continue
        e = registry.enterprise(account)
        permitted, already, bought = _ceiling(permits, allowance, account, code, year, sold)
        basis = history_basis(history[key], year, years)
        out.append(
            Claimant(account, e.profile.region_code, basis, permitted, already, e.profile.credit_code, bought)
        )
    if problems:
        raise AllocationInputError(problems)
    return out


def plan_pollutant(
    plans: PlansClient,
    annual_plan_id: int,
    pollutant: int | str,
    claimants: Sequence[Claimant],
    basis: Basis | str,
) -> PollutantPlan:
    """Plan ``pollutant`` under the adopted annual plan ``annual_plan_id`` (see the domain rule).

    Raises:
        AllocationInputError: the plan is not an adopted annual plan, or the claimants do not fit it.
    """
    annual = adopted_annual(plans, annual_plan_id)
    result = allocate(annual, pollutant_code(pollutant), claimants, basis)
    logger.info(
        "pollutant allocation planned",
        extra={
            "annual_plan": annual_plan_id,
            "pollutant": result.pollutant,
            "enterprises": len(result.grants),
            "total": result.total,
        },
    )
    return PollutantPlan(annual_plan_id, result)


# --------------------------------------------------------------------------- execution


def execute_pollutant_plan(
    allowance: AllowanceClient,
    regulator: LocalAccount,
    plan_path: Path,
    *,
    batch_size: int = 200,
    on_batch: Callable[[int, bool], None] | None = None,
    reserve: ReserveClient | None = None,
) -> ExecutionReport:
    """Mint a pollutant plan file in batches (re-running resumes, never mints twice).

    The vintage's cap comes from the annual plan (``ets plans execute-cap``), never from here;
    before the first transaction the cap's headroom must hold what is still to be minted, and no
    row may pass what its permit still allows on chain (what was allocated within it and bought
    from the government reserve, ``reserve`` or the token's, must be what the plan counted).

    Raises:
        AllocationInputError: the file is malformed, the cap's headroom is too small, or a row is
            above its permit now (nothing is minted).
        ContractRevertError: the chain refuses a batch.
    """
    plan = PollutantPlan.read_csv(plan_path)
    token_id = plan.token_id
    rows = [(g.enterprise, g.allocation) for g in plan.allocation.grants]
    batches = plan_batches(file_digest(plan_path), token_id, rows, batch_size)
    pending = [b for b in batches if not allowance.batch_executed(b.ref)]
    owed = sum(sum(b.amounts) for b in pending)
    problems: list[str] = []
    headroom = allowance.cap(token_id) - allowance.issued(token_id)
    if owed > headroom:
        problems.append(
            f"token {token_id}: {owed} t to mint but the cap leaves {headroom} t (execute the "
            f"annual plan {plan.annual_plan_id}'s cap first)"
        )
    gated = [g for g in plan.allocation.grants if g.permitted_t is not None and g.allocation > 0]
    sold = reserve_sales(reserve or token_reserve(allowance), token_id) if gated and pending else {}
    for g in gated:
        if pending and any(g.enterprise in b.recipients for b in pending):
            now = allowance.permit_allocated(g.enterprise, token_id)
            if now != g.already_t:
                problems.append(
                    f"{g.label}: allocated within its permit {now} t now, {g.already_t} t when planned"
                )
            bought = sold.get(g.enterprise, 0)
            if bought != g.reserve_t:
                problems.append(
                    f"{g.label}: bought {bought} t from the reserve now, {g.reserve_t} t when planned"
                )
    if problems:
        raise AllocationInputError(problems)
    return execute_batches(
        allowance,
        regulator,
        token_id,
        batches,
        on_batch=(lambda b, done: on_batch(len(b.recipients), done)) if on_batch else None,
    )
