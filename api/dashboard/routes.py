"""Dashboard routes: page configuration, regulator overview, auction clearing, indexer progress,
daily settlement reports."""

from __future__ import annotations

import logging
from dataclasses import asdict
from datetime import date
from pathlib import Path as FsPath
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.access import demo_keys_served
from api.dashboard import queries
from api.deps import Ctx, Db, User
from api.schemas import ERRORS
from chain.accounts import DEMO_ACCOUNT_COUNT, DEMO_ROLES, FIRST_ENTERPRISE_INDEX, dev_account
from chain.config import ChainSettings
from chain.errors import ConfigError
from chain.registry import ROLES
from chain.settlement import SettlementReportsClient
from readmodel import models as m
from readmodel.models import CHECKPOINT
from settlement.config import SettlementSettings
from settlement.errors import SettlementError

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/dashboard/api", tags=["dashboard"])

#: Role ids as events carry them (``0x``-hex) → role names, the admin role (zero) included.
ROLE_IDS = {"0x" + role.hex(): name for name, role in ROLES.items()} | {"0x" + "00" * 32: "DEFAULT_ADMIN"}
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
    roles: dict[str, str] = Field(description="Role ids (keccak256 of `X_ROLE`) by name, to show names")
    auction_forfeit_bps: int = Field(
        description="Share of a non-revealer's guarantee forfeited in the auctions the page creates "
        "(ETS_AUCTION_FORFEIT_BPS)"
    )


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
    quota: float = Field(description="Notice allocation, else allocated allowances of that vintage (t)")
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
    """Compliance progress of one pollutant and year (applications: those of its notices)."""

    year: int | None
    notices: int
    acknowledged: int
    applications: int
    pending: int
    approved: int
    rejected: int
    finalized: int = Field(description="Obligations with an outcome")
    compliant: int = Field(description="Outcome A (covered) only")
    shortfall: int = Field(description="Outcome B: verified emissions not covered by the deadline")
    no_verified: int = Field(description="Outcome C: no verified emissions by the deadline")
    rate: float | None = Field(description="Compliant / notices (complianceRateBps / 10,000)")
    rate_bps: int | None = Field(description="Compliant × 10,000 / notices, as complianceRateBps")


class ApplicationRowPublic(BaseModel):
    """A compliance application of the overview's pollutant and year."""

    application_id: int
    enterprise: str
    year: int
    verified: int
    allowances: int
    offsets: int
    status: str = Field(examples=["submitted"])
    submitted_time: int


class AlarmPublic(BaseModel):
    kind: Literal["ack_overdue", "quota", "device"]
    severity: Literal["warning", "critical"]
    subject: str = Field(description="Enterprise or device address")
    name: str | None
    detail: str = Field(description="In English; the page words `code` with `params` in its language")
    time: int | None
    code: Literal["ack_overdue", "quota", "flagged", "unbound"]
    params: dict[str, float] = Field(
        description="ack_overdue: year; quota: used and quota (t); flagged: count of readings"
    )


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
    applications: list[ApplicationRowPublic] = Field(
        description=f"Applications of the pollutant and year, pending first (≤ {queries.APPLICATION_ROWS})"
    )
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
    chain_id = ctx.chain.chain_id
    demo = demo_keys_served(demo=demo_enabled(request), chain_id=chain_id)
    accounts = demo_accounts(db) if demo else []
    contracts = {name: record.address for name, record in ctx.manifest.contracts.items()}
    return DashboardConfigPublic(
        demo=demo, chain_id=chain_id, contracts=contracts, accounts=accounts, roles=ROLE_IDS,
        auction_forfeit_bps=ctx.settings.auction_forfeit_bps,
    )  # fmt: skip


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


# ---------------------------------------------------------------------- settlement reports


class SettledDayPublic(BaseModel):
    """A trading day with a settlement report."""

    day: date = Field(examples=["2027-06-30"])
    balanced: bool | None = Field(description="The books balanced (None: manifest unreadable)")
    differences: int | None = Field(description="Reconciliation differences")
    movements: int | None = Field(description="Movements settled")


class SettledDaysPublic(BaseModel):
    """The settled days, newest first."""

    items: list[SettledDayPublic]


class MovementTotalPublic(BaseModel):
    """A movement type's totals of the day (a transfer counts once)."""

    movement: str = Field(examples=["transfer"])
    legs: int = Field(description="Account legs (a transfer has two, a mint or burn one)")
    allowances: int = Field(description="Allowance and offset units moved, all ids (t)")
    cash: int = Field(description="Settlement cash moved (fen)")


class TokenTotalPublic(BaseModel):
    """One row of the totals CSV."""

    token_id: int = Field(description="0: settlement cash")
    token: str = Field(examples=["allowance:CO2:2024"])
    movement: str
    legs: int
    inflow: int
    outflow: int


class ReportDifferencePublic(BaseModel):
    """A reconciliation difference (a row of the reconciliation CSV)."""

    kind: str
    account: str
    token_id: int | None
    token: str | None
    read_model: int | None
    other: int | None
    delta: int | None
    source: str = Field(description="chain, read-model or bank")
    transactions: list[str]
    detail: str


class ReconciliationPublic(BaseModel):
    """What the day was reconciled against and what did not agree."""

    balanced: bool | None
    differences: int | None = Field(description="Differences found (all of them)")
    checked: dict[str, int] = Field(description="Items compared per source")
    rows: list[ReportDifferencePublic] = Field(description=f"The first {queries.DIFFERENCE_ROWS} differences")


class ReportFilePublic(BaseModel):
    """A file of the report and where to download it."""

    name: str = Field(examples=["settlement-20270630.pdf"])
    media_type: str
    size: int | None = Field(description="Bytes (None: missing)")
    sha256: str | None = Field(description="SHA-256 the manifest lists (None for the manifest itself)")
    matches: bool = Field(description="The file is there and matches the manifest")
    url: str


class AnchorPublic(BaseModel):
    """The report hash against the one anchored on SettlementReports (``ets settle verify``)."""

    report_hash: str = Field(description="SHA-256 of the manifest as it is now")
    anchored_hash: str | None = Field(description="Hash anchored for the day (None: not anchored)")
    anchored: bool
    signer: str | None = Field(description="Exchange account that signed the anchored hash")
    publisher: str | None
    published_at: int | None = Field(description="Block time of the anchoring (unix s)")
    altered_files: list[str] = Field(description="Files missing or no longer matching the manifest")
    verified: bool = Field(description="Files match the manifest and its hash is the anchored one")


class SettlementReportPublic(BaseModel):
    """A trading day's settlement report."""

    day: date
    window_start: int | None = Field(description="Previous close (unix s)")
    window_end: int | None = Field(description="The day's close (unix s)")
    timezone: str | None
    close: str | None = Field(examples=["15:00"])
    first_block: int | None
    last_block: int | None
    accounts: int | None
    lines: int | None = Field(description="Account lines (account × id)")
    movements: int | None
    fees_total: int | None = Field(description="Exchange fees (fen)")
    balanced: bool | None
    totals: list[MovementTotalPublic]
    token_totals: list[TokenTotalPublic]
    reconciliation: ReconciliationPublic
    anchor: AnchorPublic
    files: list[ReportFilePublic]


def reports_dir(request: Request) -> FsPath:
    """Where settlement writes its reports, read once per app: ``ETS_SETTLE_REPORTS_DIR`` when
    set, else ``<state dir>/settlement`` (where ``ets demo`` writes them, beside the read model
    ``ets api`` serves)."""
    state = request.app.state
    if not hasattr(state, "dashboard_reports_dir"):
        state.dashboard_reports_dir = default_reports_dir()
    return FsPath(state.dashboard_reports_dir)


def default_reports_dir() -> FsPath:
    """Where the settlement settings put reports: ``ETS_SETTLE_REPORTS_DIR``, else
    ``<ETS_STATE_DIR>/settlement`` (where ``ets settle`` and ``ets demo`` write them)."""
    try:
        return SettlementSettings.load().reports_dir
    except SettlementError:
        logger.warning("settlement settings invalid: reports read from the state dir")
        return SettlementSettings.model_construct().reports_dir


def reports_client(ctx: Ctx) -> SettlementReportsClient | None:
    """The deployment's SettlementReports contract, or None when it is not deployed."""
    record = ctx.manifest.contracts.get("SettlementReports")
    return None if record is None else SettlementReportsClient(ctx.chain, record.address)


DayPath = Annotated[date, Path(description="Trading day, YYYY-MM-DD", examples=["2027-06-30"])]


@router.get("/settlement/days", response_model=SettledDaysPublic, responses=ERRORS)
def settlement_days(request: Request, user: User) -> SettledDaysPublic:
    """The trading days with a settlement report, newest first. Exchange and regulators only."""
    user.require("EXCHANGE", "REGULATOR")
    days = queries.settlement_days(reports_dir(request))
    return SettledDaysPublic(items=[SettledDayPublic.model_validate(asdict(d)) for d in days])


@router.get("/settlement/days/{day}", response_model=SettlementReportPublic, responses=ERRORS)
def settlement_report(request: Request, user: User, ctx: Ctx, day: DayPath) -> SettlementReportPublic:
    """A day's settlement report: totals per movement type (allowances and cash), whether the
    books balanced, the reconciliation, the hash anchored on SettlementReports and whether the
    files still match it (``ets settle verify``), and the files to download. Exchange and
    regulators only."""
    user.require("EXCHANGE", "REGULATOR")
    found = queries.settlement_report(reports_dir(request), day, anchor=reports_client(ctx))
    base = f"/dashboard/api/settlement/days/{day.isoformat()}/files"
    return SettlementReportPublic(
        day=found.day, window_start=found.window_start, window_end=found.window_end,
        timezone=found.timezone, close=found.close, first_block=found.first_block,
        last_block=found.last_block, accounts=found.accounts, lines=found.lines,
        movements=found.movements, fees_total=found.fees_total, balanced=found.balanced,
        totals=[MovementTotalPublic.model_validate(asdict(t)) for t in found.totals],
        token_totals=[TokenTotalPublic.model_validate(asdict(t)) for t in found.token_totals],
        reconciliation=ReconciliationPublic(
            balanced=found.balanced, differences=found.differences, checked=found.checked,
            rows=[ReportDifferencePublic.model_validate(asdict(d)) for d in found.difference_rows],
        ),
        anchor=AnchorPublic(
            report_hash=found.report_hash, anchored_hash=found.anchored_hash,
            anchored=found.anchored_hash is not None, signer=found.signer, publisher=found.publisher,
            published_at=found.published_at, altered_files=found.altered_files, verified=found.verified,
        ),
        files=[ReportFilePublic(name=f.name, media_type=f.media_type, size=f.size, sha256=f.sha256,
                                matches=f.matches, url=f"{base}/{f.name}") for f in found.files],
    )  # fmt: skip


@router.get(
    "/settlement/days/{day}/files/{name}",
    response_class=FileResponse,
    responses={
        **ERRORS,
        200: {
            "description": "The file (CSV, PDF or the manifest)",
            "content": {"text/csv": {}, "application/pdf": {}, "application/json": {}},
        },
    },
)
def settlement_file(
    request: Request,
    user: User,
    day: DayPath,
    name: Annotated[str, Path(description="File name as the report lists it", examples=["manifest.json"])],
) -> FileResponse:
    """A file of a day's report, by the name the report lists (its CSV files, its PDF, the
    manifest); any other name, or a path, is not found. Exchange and regulators only."""
    user.require("EXCHANGE", "REGULATOR")
    path, media_type = queries.report_file(reports_dir(request), day, name)
    return FileResponse(path, media_type=media_type, filename=path.name)
