"""Total-amount control plans on-chain: typed client of TotalControlPlans and its governance wiring.

The regulator drafts five-year and annual plans (rules: :mod:`domain.plans`, checked here before
any transaction and again by the contract), governance adopts them through a k-of-n proposal on
the registry, and the regulator executes an adopted annual plan's cap of a pollutant onto the
AllowanceToken. Once :func:`wire_plans` has run, the token takes caps from the plans contract only.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from eth_account.signers.local import LocalAccount
from hexbytes import HexBytes
from web3.logs import DISCARD
from web3.types import TxReceipt

from chain.abi import bytes32
from chain.client import ContractClient
from chain.registry import RegistryClient, checked_address
from domain.plans import (
    AnnualPlan,
    EnterpriseTarget,
    FiveYearPlan,
    PollutantPath,
    RegionCap,
    RegionShare,
    check_annual,
    check_five_year,
)

logger = logging.getLogger(__name__)


class PlanKind(enum.IntEnum):
    """The contract's ``PlanKind``."""

    NONE = 0
    FIVE_YEAR = 1
    ANNUAL = 2


class PlanStatus(enum.IntEnum):
    """The contract's ``PlanStatus``."""

    NONE = 0
    DRAFT = 1
    ADOPTED = 2
    SUPERSEDED = 3


@dataclass(frozen=True)
class PlanHeader:
    """A plan's header as the contract holds it."""

    id: int
    kind: PlanKind
    status: PlanStatus
    version: int
    supersedes: int
    superseded_by: int
    five_year_plan_id: int
    start_year: int
    end_year: int
    base_year: int
    document_hash: bytes
    uri: str
    drafter: str


def _five_year_tuple(plan: FiveYearPlan) -> tuple[Any, ...]:
    return (
        plan.supersedes,
        plan.start_year,
        plan.base_year,
        [(p.pollutant, p.base_emissions, p.target_bps, list(p.path)) for p in plan.pollutants],
        [(r.region, r.share_bps) for r in plan.regions],
        bytes32(plan.document_hash, "document hash"),
        plan.uri,
    )


def _annual_tuple(plan: AnnualPlan) -> tuple[Any, ...]:
    return (
        plan.supersedes,
        plan.five_year_plan_id,
        plan.year,
        [(c.pollutant, c.region, c.cap, c.reserve_share_bps, c.guide_price) for c in plan.caps],
        [(checked_address(t.enterprise, "enterprise"), t.pollutant, t.target_bps) for t in plan.targets],
        bytes32(plan.document_hash, "document hash"),
        plan.uri,
    )


class PlansClient(ContractClient):
    """Typed calls of TotalControlPlans."""

    CONTRACT = "TotalControlPlans"

    # ------------------------------------------------------------------ regulator

    def draft_five_year(self, regulator: LocalAccount, plan: FiveYearPlan, *, check: bool = True) -> int:
        """Draft a five-year plan; returns its id.

        Args:
            check: apply :func:`domain.plans.check_five_year` first (tests pass False to reach the
                contract's own checks).

        Raises:
            PlanRuleError: a rule is broken (before any transaction).
            ContractRevertError: the contract refuses it (role, supersedes).
        """
        if check:
            check_five_year(plan)
        receipt = self.chain.transact(
            self.contract.functions.draftFiveYearPlan(_five_year_tuple(plan)), regulator
        )
        return self._drafted(receipt)

    def draft_annual(self, regulator: LocalAccount, plan: AnnualPlan, *, check: bool = True) -> int:
        """Draft an annual plan of an adopted five-year plan; returns its id.

        Raises:
            PlanRuleError: a rule is broken (before any transaction).
            ContractRevertError: the contract refuses it (role, five-year plan state, supersedes).
        """
        if check:
            check_annual(plan, self.five_year(plan.five_year_plan_id), plan_id=self.plan_count() + 1)
        receipt = self.chain.transact(self.contract.functions.draftAnnualPlan(_annual_tuple(plan)), regulator)
        return self._drafted(receipt)

    def execute_cap(self, regulator: LocalAccount, plan_id: int, pollutant: int) -> TxReceipt:
        """Set the vintage cap of ``pollutant`` from the current annual plan ``plan_id``."""
        return self.chain.transact(self.contract.functions.executeCap(plan_id, pollutant), regulator)

    def _drafted(self, receipt: TxReceipt) -> int:
        events = self.contract.events.PlanDrafted().process_receipt(receipt, errors=DISCARD)
        plan_id = int(events[0]["args"]["planId"])
        logger.info(
            "plan drafted", extra={"plan": plan_id, "tx_hash": HexBytes(receipt["transactionHash"]).hex()}
        )
        return plan_id

    # ------------------------------------------------------------------ governance

    def encode_adopt(self, plan_id: int) -> bytes:
        """Calldata of ``adopt(planId)``, for a governance proposal targeting this contract."""
        return bytes(HexBytes(self.contract.functions.adopt(plan_id)._encode_transaction_data()))

    def propose_adoption(self, registry: RegistryClient, member: LocalAccount, plan_id: int) -> int:
        """Propose the adoption of ``plan_id`` (one member); returns the proposal id."""
        return registry.propose(
            member, self.encode_adopt(plan_id), f"adopt plan {plan_id}", target=self.address
        )

    def adopt(self, registry: RegistryClient, members: Sequence[LocalAccount], plan_id: int) -> TxReceipt:
        """Adopt ``plan_id`` through a k-of-n proposal (propose, approve, execute)."""
        return registry.govern(
            members, self.encode_adopt(plan_id), f"adopt plan {plan_id}", target=self.address
        )

    # ------------------------------------------------------------------ views

    def plan_count(self) -> int:
        return int(self.contract.functions.planCount().call())

    def plan(self, plan_id: int) -> PlanHeader:
        h = self.contract.functions.plan(plan_id).call()
        return PlanHeader(
            id=plan_id, kind=PlanKind(h[0]), status=PlanStatus(h[1]), version=h[2], supersedes=h[3],
            superseded_by=h[4], five_year_plan_id=h[5], start_year=h[6], end_year=h[7], base_year=h[8],
            document_hash=bytes(h[9]), uri=h[10], drafter=h[11],
        )  # fmt: skip

    def plans(self) -> list[PlanHeader]:
        return [self.plan(i) for i in range(1, self.plan_count() + 1)]

    def five_year(self, plan_id: int) -> FiveYearPlan:
        """A five-year plan's content (as drafted)."""
        h = self.plan(plan_id)
        paths = self.contract.functions.pollutantPaths(plan_id).call()
        regions = self.contract.functions.regionShares(plan_id).call()
        return FiveYearPlan(
            start_year=h.start_year, base_year=h.base_year,
            pollutants=tuple(PollutantPath(p[0], p[1], p[2], tuple(p[3])) for p in paths),
            regions=tuple(RegionShare(r[0], r[1]) for r in regions),
            supersedes=h.supersedes, document_hash=h.document_hash, uri=h.uri,
        )  # fmt: skip

    def annual(self, plan_id: int) -> AnnualPlan:
        """An annual plan's content (as drafted)."""
        h = self.plan(plan_id)
        caps = self.contract.functions.regionCaps(plan_id).call()
        targets = self.contract.functions.enterpriseTargets(plan_id).call()
        return AnnualPlan(
            five_year_plan_id=h.five_year_plan_id, year=h.start_year,
            caps=tuple(RegionCap(*c) for c in caps),
            targets=tuple(EnterpriseTarget(t[0], t[1], t[2]) for t in targets),
            supersedes=h.supersedes, document_hash=h.document_hash, uri=h.uri,
        )  # fmt: skip

    def total_of(self, plan_id: int, pollutant: int) -> int:
        return int(self.contract.functions.totalOf(plan_id, pollutant).call())

    def path_of(self, plan_id: int, pollutant: int, year: int) -> int:
        return int(self.contract.functions.pathOf(plan_id, pollutant, year).call())

    def current_annual(self, year: int) -> int:
        return int(self.contract.functions.currentAnnualPlan(year).call())

    def current_five_year(self, start_year: int) -> int:
        return int(self.contract.functions.currentFiveYearPlan(start_year).call())

    def cap_plan_of(self, token_id: int) -> int:
        return int(self.contract.functions.capPlanOf(token_id).call())


def wire_plans(registry: RegistryClient, members: Sequence[LocalAccount], plans: PlansClient) -> list[str]:
    """Governance set-up: the AllowanceToken takes caps from ``plans`` only (skipped if in place).

    Returns:
        What was done, one line per governance proposal executed.
    """
    token = plans.chain.contract("AllowanceToken", plans.contract.functions.allowanceToken().call())
    if token.functions.plans().call() == plans.address:
        return []
    registry.govern_call(members, token.functions.setPlans(plans.address), "caps from adopted plans only")
    return ["AllowanceToken: caps set from TotalControlPlans only"]
