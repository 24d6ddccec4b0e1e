"""Dashboard routes: page configuration, regulator overview, auction clearing, indexer progress."""

from __future__ import annotations

import logging
from dataclasses import asdict
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.dashboard import queries
from api.db import models as m
from api.deps import Ctx, Db, User
from api.indexer.run import CHECKPOINT
from api.schemas import ERRORS
from chain.accounts import DEMO_ACCOUNT_COUNT, DEMO_ROLES, FIRST_ENTERPRISE_INDEX, dev_account
from chain.config import ChainSettings
from chain.errors import ConfigError

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/dashboard/api", tags=["dashboard"])

#: Demo accounts offered in the sign-in list (the deployer, oracle and treasury are service keys).
DEMO_SIGNERS = ("regulator", "exchange", "auditor", "industry-body")


# ---------------------------------------------------------------------- models


class DemoAccountPublic(BaseModel):
    """A demo account the page may sign with: Anvil's public development keys, demo mode only."""

    name: str = Field(examples=["regulator"])
    address: str
    private_key: str = Field(description="Public Anvil development key (never a real key)")
    roles: list[str] = Field(description="Roles the read model has for it")
    label: str | None = Field(description="Registered enterprise name, if any")


class DashboardConfigPublic(BaseModel):
    """How the page signs in: demo keys (demo mode) or an injected EIP-1193 wallet."""

    demo: bool = Field(description="Demo mode: the page signs with the public demo keys below")
    chain_id: int
    contracts: dict[str, str] = Field(description="Deployed contracts by name (addresses the page approves)")
    accounts: list[DemoAccountPublic] = Field(description="Empty outside demo mode")


class SupplyPublic(BaseModel):
    token_id: int
    kind: str
    pollutant: int
    vintage: int
    cap: int
    issued: int
    held: int
    retired: int


class EnterprisePointPublic(BaseModel):
    address: str
    name: str
    region_code: int | None
    longitude: float | None
    latitude: float | None
    quota: float = Field(description="Notice allocation of the year, else allowances allocated that year (t)")
    used: float = Field(description="Verified emissions if attested, else metered (t)")
    verified: bool
    status: Literal["within", "near", "over", "none"]


class OverviewTrendPointPublic(BaseModel):
    year: int
    emissions: float | None
    allocated: float | None
    cap: int | None


class CapOutlookPublic(BaseModel):
    target_year: int
    projected: float
    proposed_cap: int
    reduction_rate: float
    slope: float
    r_squared: float


class CompliancePublic(BaseModel):
    year: int | None
    notices: int
    acknowledged: int
    applications: int
    pending: int
    approved: int
    rejected: int
    finalized: int
    compliant: int
    rate: float | None


class AlarmPublic(BaseModel):
    kind: Literal["ack_overdue", "quota", "device"]
    severity: Literal["warning", "critical"]
    subject: str = Field(description="Enterprise or device address")
    name: str | None
    detail: str
    time: int | None


class OverviewPublic(BaseModel):
    """The regulator overview of one pollutant and compliance year."""

    pollutant: int
    year: int | None
    years: list[int]
    supply: list[SupplyPublic]
    enterprises: list[EnterprisePointPublic]
    counts: dict[str, int] = Field(description="Enterprises per quota status")
    trend: list[OverviewTrendPointPublic]
    outlook: CapOutlookPublic | None = Field(description="Proposed cap for the next year")
    compliance: CompliancePublic
    alarms: list[AlarmPublic]
    alarm_counts: dict[str, int]
    proposals_open: int
    generated_at: int


class DemandStepPublic(BaseModel):
    price: int = Field(description="fen per allowance")
    quantity: int = Field(description="Total demand at this price and above")


class ClaimPublic(BaseModel):
    """The `submitClearing` claim (the contract's `Clearing` struct)."""

    price: int
    demandAbove: int
    demandAt: int


class ClearingPublic(BaseModel):
    """An auction's aggregate demand and its clearing under the rules (`chain.auction.clear`)."""

    auction_id: int
    supply: int
    reserve_price: int
    status: str
    revealed: int
    bidders: int
    sealed: bool = Field(description="The reveal phase has not ended: schedules stay hidden")
    curve: list[DemandStepPublic]
    claim: ClaimPublic | None
    clearing_price: int | None
    sold: int | None
    allocations: dict[str, int]


# ---------------------------------------------------------------------- helpers


def demo_enabled(request: Request) -> bool:
    """Demo mode of this process (``ETS_DEMO``), read once per app."""
    state = request.app.state
    if not hasattr(state, "dashboard_demo"):
        try:
            state.dashboard_demo = ChainSettings.load().demo
        except ConfigError:
            logger.warning("chain settings invalid: dashboard demo mode off")
            state.dashboard_demo = False
    return bool(state.dashboard_demo)


def demo_accounts(db: Session) -> list[DemoAccountPublic]:
    """The demo signers and enterprises with their public keys and read-model roles."""
    named = [(name, dev_account(DEMO_ROLES[name])) for name in DEMO_SIGNERS]
    named += [
        (f"enterprise-{i - FIRST_ENTERPRISE_INDEX + 1}", dev_account(i))
        for i in range(FIRST_ENTERPRISE_INDEX, DEMO_ACCOUNT_COUNT)
    ]
    addresses = [a.address for _, a in named]
    roles: dict[str, list[str]] = {}
    for account, role in db.execute(select(m.Role.account, m.Role.role).where(m.Role.account.in_(addresses))):
        roles.setdefault(account, []).append(role)
    labels: dict[str, str | None] = {
        address: name
        for address, name in db.execute(
            select(m.Participant.address, m.Participant.name).where(m.Participant.address.in_(addresses))
        ).all()
    }
    return [
        DemoAccountPublic(name=name, address=a.address, private_key="0x" + bytes(a.key).hex(),
                          roles=sorted(roles.get(a.address, [])), label=labels.get(a.address))
        for name, a in named
    ]  # fmt: skip


# ---------------------------------------------------------------------- routes


@router.get("/config", response_model=DashboardConfigPublic, responses=ERRORS)
def config(request: Request, ctx: Ctx, db: Db) -> DashboardConfigPublic:
    """How the dashboard signs in. In demo mode (``ETS_DEMO=1``) the public Anvil demo keys are
    listed so the page can sign without a wallet extension; otherwise none, and the page uses
    the browser's EIP-1193 wallet. No real key is ever held or served."""
    demo = demo_enabled(request)
    accounts = demo_accounts(db) if demo else []
    contracts = {name: record.address for name, record in ctx.manifest.contracts.items()}
    chain_id = ctx.chain.chain_id
    return DashboardConfigPublic(demo=demo, chain_id=chain_id, contracts=contracts, accounts=accounts)


@router.get("/overview", response_model=OverviewPublic, responses=ERRORS)
def overview(
    user: User,
    db: Db,
    pollutant: Annotated[int, Query(ge=1, le=255, description="Pollutant code (1 CO2, 2 SO2 ...)")] = 1,
    year: Annotated[
        int | None, Query(ge=1900, le=2200, description="Compliance year (default: latest)")
    ] = None,
) -> OverviewPublic:
    """Caps, issued, held and retired per vintage; every enterprise with its location and quota
    status (within / near ≥ 80 % / over); the annual trend with the proposed cap; compliance
    progress; alarms; open proposals. Regulators and the exchange only."""
    user.require("REGULATOR", "EXCHANGE")
    return OverviewPublic.model_validate(asdict(queries.overview(db, pollutant=pollutant, year=year)))


@router.get("/auctions/{auction_id}/clearing", response_model=ClearingPublic, responses=ERRORS)
def auction_clearing(user: User, db: Db, auction_id: Annotated[int, Path(ge=1, lt=2**63)]) -> ClearingPublic:
    """The aggregate demand curve of an auction's revealed bids and the clearing to submit
    (`SealedBidAuction.submitClearing`), once the reveal phase has ended. Regulators and the
    exchange only."""
    user.require("REGULATOR", "EXCHANGE")
    auction = db.get(m.Auction, auction_id)
    now = queries.read_model_now(db)
    if auction is not None and now < auction.reveal_end:
        return ClearingPublic(
            auction_id=auction_id, supply=auction.supply, reserve_price=auction.reserve_price,
            status=auction.status, revealed=auction.revealed, bidders=auction.bidders, sealed=True, curve=[],
            claim=None, clearing_price=None, sold=None, allocations={},
        )  # fmt: skip
    found = queries.auction_clearing(db, auction_id=auction_id)
    result = found.result
    return ClearingPublic(
        auction_id=found.auction_id, supply=found.supply, reserve_price=found.reserve_price,
        status=found.status,
        revealed=found.revealed, bidders=found.bidders, sealed=False,
        curve=[DemandStepPublic(price=s.price, quantity=s.quantity) for s in found.curve],
        claim=None if result is None else ClaimPublic(price=result.claim.price,
                                                      demandAbove=result.claim.demand_above,
                                                      demandAt=result.claim.demand_at),
        clearing_price=None if result is None else result.clearing_price,
        sold=None if result is None else result.sold,
        allocations={} if result is None else result.allocations,
    )  # fmt: skip


class IndexedPublic(BaseModel):
    """How far the read model has caught up (always 200, unlike GET /health when lagging)."""

    indexed_block: int | None
    caught_up: bool = Field(description="The read model holds `block` (when given)")
    now: int = Field(description="Wall-clock time, or the last indexed block's time when later (unix s)")


@router.get("/indexed", response_model=IndexedPublic, responses=ERRORS)
def indexed(
    db: Db, block: Annotated[int | None, Query(ge=0, lt=2**62, description="Block to wait for")] = None
) -> IndexedPublic:
    """The last block the indexer has written, so the page can wait for its own transaction
    before reloading a view."""
    point = db.execute(select(m.Checkpoint.block_number).where(m.Checkpoint.name == CHECKPOINT)).scalar()
    done = point is not None and (block is None or int(point) >= block)
    return IndexedPublic(indexed_block=None if point is None else int(point), caught_up=done,
                         now=queries.read_model_now(db))  # fmt: skip
