"""Read-model queries behind the dashboard: the regulator overview, an auction's clearing, and the
daily settlement reports (their files checked against the hash anchored on-chain)."""

from __future__ import annotations

import csv
import json
import logging
import math
import time
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from api.errors import NotFoundError, QueryError
from chain.events import ZERO_ADDRESS
from chain.settlement import SettlementReportsClient
from domain.allocation import DEFAULT_REDUCTION_RATE, trend
from domain.auction import ClearingResult, PriceRule, clear, normalize_schedule
from domain.errors import DomainError
from domain.settlement import MovementTotal, movement_totals
from domain.tokens import POLLUTANT_SYMBOLS, Kind, token_label
from readmodel import models as m
from settlement.calendar import day_code
from settlement.verify import MANIFEST, plain_name, verify_day

logger = logging.getLogger(__name__)
#: Share of the quota from which an enterprise is "near" it (the controllers' first alarm level).
NEAR_SHARE = 0.8
#: HJ 212 data flags that raise a device alarm: D fault, S manual input (a value typed in by
#: hand rather than measured), B communication fault, T over the measuring range.
DEVICE_ALARM_FLAGS = ("D", "S", "B", "T")
#: Most alarm rows of one kind returned (the counts are always complete).
ALARM_ROWS = 50

QuotaStatus = Literal["within", "near", "over", "none"]
#: What an alarm's ``params`` fill in (the page words it in its language): ``ack_overdue``
#: {year}, ``quota`` {used, quota} (t), ``flagged`` {count}, ``unbound`` {}.
AlarmCode = Literal["ack_overdue", "quota", "flagged", "unbound"]
#: Basis points in one (the contract's ``BPS``).
BPS = 10_000
#: ``IComplianceManager.Outcome`` codes as the indexer stores them (``notices.outcome``).
OUTCOME_COVERED, OUTCOME_SHORTFALL, OUTCOME_NO_VERIFIED = 1, 2, 3
#: Most applications the overview lists (newest first; the counts are always complete).
APPLICATION_ROWS = 200


@dataclass(frozen=True)
class SupplyRow:
    """Caps, issued, held and retired units of one token id."""

    token_id: int
    kind: str
    pollutant: int
    vintage: int
    cap: int
    issued: int
    held: int
    retired: int


@dataclass(frozen=True)
class EnterprisePoint:
    """One enterprise on the map: where it is and how its emissions stand against its quota."""

    address: str
    name: str
    region_code: int | None
    longitude: float | None
    latitude: float | None
    quota: float
    used: float
    verified: bool
    status: QuotaStatus


@dataclass(frozen=True)
class TrendPoint:
    """One year of the consortium's totals for a pollutant."""

    year: int
    emissions: float | None
    allocated: float | None
    cap: int | None


@dataclass(frozen=True)
class CapOutlook:
    """The cap proposed for the year after the last one with emissions (as ``ets allocate plan``)."""

    target_year: int
    projected: float
    proposed_cap: int
    reduction_rate: float
    slope: float
    r_squared: float


@dataclass(frozen=True)
class Compliance:
    """Progress of one compliance year of one pollutant.

    ``compliant`` counts outcome A (covered) only, and ``rate`` / ``rate_bps`` are compliant over
    notices issued: ``ComplianceManager.complianceRateBps``'s rule (outcome B, a shortfall, and
    outcome C, no verified emissions by the deadline, are not compliant)."""

    year: int | None
    notices: int
    acknowledged: int
    applications: int
    pending: int
    approved: int
    rejected: int
    finalized: int
    compliant: int
    shortfall: int
    no_verified: int
    rate: float | None
    rate_bps: int | None


@dataclass(frozen=True)
class ApplicationRow:
    """A compliance application of the overview's pollutant and year."""

    application_id: int
    enterprise: str
    year: int
    verified: int
    allowances: int
    offsets: int
    status: str
    submitted_time: int


@dataclass(frozen=True)
class Alarm:
    """Something a regulator should look at."""

    kind: Literal["ack_overdue", "quota", "device"]
    severity: Literal["warning", "critical"]
    subject: str
    name: str | None
    detail: str
    time: int | None
    code: AlarmCode
    params: dict[str, float]


@dataclass
class Overview:
    """Everything the regulator overview draws, from one request."""

    pollutant: int
    year: int | None
    years: list[int]
    supply: list[SupplyRow]
    enterprises: list[EnterprisePoint]
    counts: dict[str, int]
    trend: list[TrendPoint]
    outlook: CapOutlook | None
    compliance: Compliance
    applications: list[ApplicationRow]
    alarms: list[Alarm]
    alarm_counts: dict[str, int]
    proposals_open: int
    generated_at: int = field(default_factory=lambda: int(time.time()))


def status_of(quota: float, used: float) -> QuotaStatus:
    """``over`` above the quota, ``near`` from :data:`NEAR_SHARE` of it, ``within`` below, ``none``
    without a quota."""
    if quota <= 0:
        return "over" if used > 0 else "none"
    share = used / quota
    if share > 1.0:
        return "over"
    return "near" if share >= NEAR_SHARE else "within"


def read_model_now(db: Session) -> int:
    """Wall-clock time, or the chain's latest indexed block time when that is later (test and
    demo chains are moved forward in time)."""
    latest = db.execute(select(func.max(m.Event.block_time))).scalar_one_or_none()
    return max(int(time.time()), int(latest or 0))


def _per_enterprise(db: Session, metric: str, pollutant: int, year: int | None) -> dict[str, float]:
    """Year rollup of ``metric`` per enterprise for ``year``."""
    if year is None:
        return {}
    r = m.StatRollup
    rows = db.execute(
        select(r.enterprise, r.value).where(
            r.grain == "year", r.metric == metric, r.pollutant == pollutant, r.period == str(year)
        )
    )
    return {enterprise: float(value) for enterprise, value in rows}


def _totals(db: Session, metric: str, pollutant: int) -> dict[int, float]:
    """Year rollups of ``metric`` summed over enterprises, per year."""
    r = m.StatRollup
    rows = db.execute(
        select(r.period, func.sum(r.value))
        .where(r.grain == "year", r.metric == metric, r.pollutant == pollutant)
        .group_by(r.period)
    )
    return {int(period): float(total or 0.0) for period, total in rows}


def _minted_to_enterprises(pollutant: int) -> Any:
    """Mints of allowances of ``pollutant`` to registered enterprises, with the vintage."""
    t, x, p = m.Token, m.Transfer, m.Participant
    enterprises = select(p.address).where(p.credit_code.is_not(None))
    return (
        select(t.vintage, x.recipient, x.amount)
        .join(t, t.token_id == x.token_id)
        .where(x.sender == ZERO_ADDRESS, t.kind == int(Kind.ALLOWANCE), t.pollutant == pollutant,
               x.recipient.in_(enterprises))
    ).subquery()  # fmt: skip


def allocated_by_vintage(db: Session, *, pollutant: int) -> dict[int, float]:
    """Allowances of ``pollutant`` allocated to registered enterprises, per vintage. Allocation
    goes by the vintage of the allowances, not the calendar year they were minted in: vintage-2027
    allowances minted in 2026 count for 2027."""
    minted = _minted_to_enterprises(pollutant)
    rows = db.execute(select(minted.c.vintage, func.sum(minted.c.amount)).group_by(minted.c.vintage))
    return {int(v): float(total or 0) for v, total in rows}


def allocated_of_vintage(db: Session, *, pollutant: int, vintage: int | None) -> dict[str, float]:
    """Allowances of ``pollutant`` and ``vintage`` allocated to each registered enterprise."""
    if vintage is None:
        return {}
    minted = _minted_to_enterprises(pollutant)
    rows = db.execute(
        select(minted.c.recipient, func.sum(minted.c.amount))
        .where(minted.c.vintage == vintage)
        .group_by(minted.c.recipient)
    )
    return {recipient: float(total or 0) for recipient, total in rows}


def supply(db: Session, *, pollutant: int | None = None) -> list[SupplyRow]:
    """Cap, issued, held and retired per token id (held: balances of every account, escrow included)."""
    t, h = m.Token, m.Holding
    held = (
        select(h.token_id, func.sum(h.balance).label("held"))
        .where(h.token_id != 0)
        .group_by(h.token_id)
        .subquery()
    )
    stmt = select(t, func.coalesce(held.c.held, 0)).outerjoin(held, held.c.token_id == t.token_id)
    if pollutant is not None:
        stmt = stmt.where(t.pollutant == pollutant)
    rows = []
    for token, held_units in db.execute(stmt.order_by(t.kind, t.pollutant, t.vintage)):
        kind = "offset" if token.kind == int(Kind.OFFSET) else "allowance"
        rows.append(SupplyRow(token.token_id, kind, token.pollutant, token.vintage, int(token.cap),
                              int(token.issued), int(held_units), int(token.retired)))  # fmt: skip
    return rows


def overview(db: Session, *, pollutant: int = 1, year: int | None = None) -> Overview:
    """The regulator overview of ``pollutant`` for ``year`` (default: the latest year with
    notices, allocations or emissions of that pollutant).

    An enterprise's quota is its compliance notice's allocation for the year, else the allowances
    of that vintage it was allocated; its use is the verified emissions of its active
    attestation, else its metered emissions (anchored batch totals). The trend's "allocated" is
    per vintage too, beside the vintage's cap.
    """
    emission_totals = _totals(db, "emissions_t", pollutant)
    allocated_totals = allocated_by_vintage(db, pollutant=pollutant)
    n = m.Notice
    notice_years = set(db.execute(select(n.year).where(n.pollutant == pollutant).distinct()).scalars())
    years = sorted(set(emission_totals) | set(allocated_totals) | notice_years)
    if year is None and years:
        # the latest compliance year, else the latest year with emissions, else the latest vintage
        year = max(notice_years or emission_totals or years)
    now = read_model_now(db)

    quota = allocated_of_vintage(db, pollutant=pollutant, vintage=year)
    for enterprise, allocation in db.execute(
        select(n.enterprise, n.allocated).where(n.year == year, n.pollutant == pollutant)
    ):
        quota[enterprise] = float(allocation)
    used = _per_enterprise(db, "emissions_t", pollutant, year)
    a = m.Attestation
    verified_of = {
        enterprise: float(value)
        for enterprise, value in db.execute(
            select(a.enterprise, a.verified).where(
                a.year == year, a.pollutant == pollutant, a.status == "active"
            )
        )
    }
    used |= verified_of

    p = m.Participant
    points: list[EnterprisePoint] = []
    counts = {"within": 0, "near": 0, "over": 0, "none": 0}
    names: dict[str, str] = {}
    profiles = select(p.address, p.name, p.region_code, p.longitude_e6, p.latitude_e6).where(
        p.credit_code.is_not(None)
    )
    for address, name, region, lon, lat in db.execute(profiles.order_by(p.address)):
        q, u = quota.get(address, 0.0), used.get(address, 0.0)
        status = status_of(q, u)
        counts[status] += 1
        names[address] = name or address
        points.append(EnterprisePoint(
            address, name or "", region,
            None if lon is None else lon / 1e6, None if lat is None else lat / 1e6,
            round(q, 3), round(u, 3), address in verified_of, status,
        ))  # fmt: skip

    caps = {
        int(v): int(c)
        for v, c in db.execute(
            select(m.Token.vintage, m.Token.cap).where(
                m.Token.pollutant == pollutant, m.Token.kind == int(Kind.ALLOWANCE)
            )
        )
    }
    trend_years = sorted(set(emission_totals) | set(allocated_totals) | {y for y, c in caps.items() if c})
    points_trend = [TrendPoint(y, emission_totals.get(y), allocated_totals.get(y), caps.get(y) or None)
                    for y in trend_years]  # fmt: skip

    alarms, alarm_counts = _alarms(db, now=now, points=points, names=names)
    pr = m.Proposal
    open_proposals = db.execute(
        select(func.count()).where(pr.executed.is_(False), pr.deadline > now)
    ).scalar_one()
    return Overview(
        pollutant=pollutant, year=year, years=years, supply=supply(db, pollutant=pollutant),
        enterprises=points, counts=counts, trend=points_trend, outlook=outlook(emission_totals),
        compliance=compliance(db, year=year, pollutant=pollutant),
        applications=applications(db, year=year, pollutant=pollutant),
        alarms=alarms, alarm_counts=alarm_counts,
        proposals_open=int(open_proposals),
    )  # fmt: skip


def outlook(totals: dict[int, float], reduction_rate: float = DEFAULT_REDUCTION_RATE) -> CapOutlook | None:
    """The cap for the year after the last with emissions: least-squares trend projected one
    year on, less ``reduction_rate`` (the allocation planner's rule); None with under two years."""
    years = [y for y in sorted(totals) if totals[y] > 0]
    if len(years) < 2:
        return None
    target = years[-1] + 1
    try:
        fitted = trend(years, [totals[y] for y in years], target)
    except DomainError:
        return None
    projected = fitted.projected or 0.0
    base = projected if projected > 0 else totals[years[-1]]
    return CapOutlook(target, round(projected, 3), max(0, math.floor(base * (1.0 - reduction_rate))),
                      reduction_rate, round(fitted.slope, 3), round(fitted.r_squared, 4))  # fmt: skip


def compliance(db: Session, *, year: int | None, pollutant: int) -> Compliance:
    """Notices, acknowledgements, applications by status, outcomes and the compliance rate of
    ``pollutant`` in ``year`` (one obligation per enterprise, pollutant and year; an application
    belongs to its obligation's pollutant)."""
    if year is None:
        return Compliance(None, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, None, None)
    ap, n = m.Application, m.Notice
    by_status: dict[str, int] = {
        status: int(count)
        for status, count in db.execute(
            select(ap.status, func.count())
            .where(ap.year == year, ap.pollutant == pollutant)
            .group_by(ap.status)
        ).all()
    }

    def outcome(code: int) -> Any:
        return func.coalesce(func.sum(case((n.outcome == code, 1), else_=0)), 0)

    notices, acknowledged, closed, covered, short, none = db.execute(
        select(
            func.count(),
            func.count(n.acknowledged_time),
            func.count(n.outcome),
            outcome(OUTCOME_COVERED),
            outcome(OUTCOME_SHORTFALL),
            outcome(OUTCOME_NO_VERIFIED),
        ).where(n.year == year, n.pollutant == pollutant)
    ).one()
    notices, covered = int(notices), int(covered)
    return Compliance(
        year=year, notices=notices, acknowledged=int(acknowledged),
        applications=sum(by_status.values()), pending=by_status.get("submitted", 0),
        approved=by_status.get("approved", 0), rejected=by_status.get("rejected", 0),
        finalized=int(closed), compliant=covered, shortfall=int(short), no_verified=int(none),
        rate=round(covered / notices, 4) if notices else None,
        rate_bps=covered * BPS // notices if notices else None,
    )  # fmt: skip


def applications(db: Session, *, year: int | None, pollutant: int) -> list[ApplicationRow]:
    """The applications of ``pollutant`` in ``year`` (their obligation's pollutant), pending
    first, then newest first; at most :data:`APPLICATION_ROWS`."""
    if year is None:
        return []
    ap = m.Application
    pending_first = case((ap.status == "submitted", 0), else_=1)
    rows = db.execute(
        select(ap.application_id, ap.enterprise, ap.year, ap.verified, ap.allowances, ap.offsets, ap.status,
               ap.submitted_time)
        .where(ap.year == year, ap.pollutant == pollutant)
        .order_by(pending_first, ap.application_id.desc())
        .limit(APPLICATION_ROWS)
    ).all()  # fmt: skip
    return [ApplicationRow(*(row)) for row in rows]


def _alarms(
    db: Session, *, now: int, points: Sequence[EnterprisePoint], names: dict[str, str]
) -> tuple[list[Alarm], dict[str, int]]:
    n = m.Notice
    late = (n.acknowledged_time.is_(None), n.ack_deadline < now)
    overdue_count = db.execute(select(func.count()).where(*late)).scalar_one()
    overdue = db.execute(
        select(n.enterprise, n.year, n.pollutant, n.ack_deadline)
        .where(*late)
        .order_by(n.ack_deadline, n.enterprise, n.pollutant)
        .limit(ALARM_ROWS)
    ).all()
    symbol = POLLUTANT_SYMBOLS.get
    alarms = [
        Alarm("ack_overdue", "warning", enterprise, names.get(enterprise),
              f"notice {symbol(pollutant, pollutant)} {year} not acknowledged (deadline passed)", deadline,
              "ack_overdue", {"year": year, "pollutant": pollutant})
        for enterprise, year, pollutant, deadline in overdue
    ]  # fmt: skip
    quota = sorted(
        (p for p in points if p.status in ("near", "over")), key=lambda p: -(p.used / (p.quota or 1))
    )
    alarms += [
        Alarm("quota", "critical" if p.status == "over" else "warning", p.address, p.name,
              f"{p.used:,.0f} t of {p.quota:,.0f} t"
              + (f" ({p.used / p.quota:.0%})" if p.quota else ""), None, "quota",
              {"used": p.used, "quota": p.quota})
        for p in quota[:ALARM_ROWS]
    ]  # fmt: skip
    r, d = m.Reading, m.Device
    flagged = list(db.execute(
        select(r.device, func.count(), func.max(r.time), d.enterprise)
        .outerjoin(d, d.address == r.device)
        .where(r.flag.in_(DEVICE_ALARM_FLAGS))
        .group_by(r.device, d.enterprise)
        .order_by(func.count().desc())
        .limit(ALARM_ROWS)
    ).all())  # fmt: skip
    unbound = list(db.execute(select(d).where(d.bound.is_(False)).limit(ALARM_ROWS)).scalars())
    alarms += [
        Alarm("device", "critical", device, names.get(enterprise or ""),
              f"{count} readings flagged fault / manual input / out of range", int(last), "flagged",
              {"count": int(count)})
        for device, count, last, enterprise in flagged
    ]  # fmt: skip
    alarms += [
        Alarm("device", "warning", x.address, names.get(x.enterprise), "device unbound", None, "unbound", {})
        for x in unbound
    ]
    counts = {
        "ack_overdue": int(overdue_count),
        "quota": len(quota),
        "device": len(flagged) + len(unbound),
    }
    return alarms, counts


# ---------------------------------------------------------------------- auctions


@dataclass(frozen=True)
class DemandStep:
    """Total demand at and above one price (the aggregate demand curve)."""

    price: int
    quantity: int


@dataclass(frozen=True)
class AuctionClearing:
    """An auction's aggregate demand curve and, once its bids are revealed, its clearing."""

    auction_id: int
    supply: int
    reserve_price: int
    status: str
    revealed: int
    bidders: int
    curve: list[DemandStep]
    result: ClearingResult | None


def auction_clearing(db: Session, *, auction_id: int) -> AuctionClearing:
    """The demand curve of the revealed bids and the clearing under the auction's rules
    (:func:`chain.auction.clear`, the reference the contract verifies).

    Raises:
        NotFoundError: no such auction.
        QueryError: the bids cannot be cleared (e.g. malformed schedules).
    """
    auction = db.get(m.Auction, auction_id)
    if auction is None:
        raise NotFoundError(f"auction {auction_id} does not exist")
    b = m.Bid
    bids = list(db.execute(
        select(b).where(b.auction_id == auction_id, b.revealed.is_(True)).order_by(b.sequence)
    ).scalars())  # fmt: skip
    schedules = []
    for bid in bids:
        pairs = zip(map(int, bid.prices or []), map(int, bid.quantities or []), strict=True)
        schedules.append((bid.bidder, normalize_schedule(pairs)))
    levels: dict[int, int] = defaultdict(int)
    for _, schedule in schedules:
        for price, quantity in schedule:
            levels[price] += quantity
    curve, running = [], 0
    for price in sorted(levels, reverse=True):
        running += levels[price]
        curve.append(DemandStep(price, running))
    result = None
    if schedules:
        try:
            result = clear(auction.supply, auction.reserve_price, schedules,
                           purchase_limit=auction.purchase_limit,
                           price_rule=PriceRule(auction.price_rule))  # fmt: skip
        except DomainError as exc:
            raise QueryError(f"auction {auction_id} cannot be cleared: {exc}") from None
    return AuctionClearing(auction_id, auction.supply, auction.reserve_price, auction.status, len(bids),
                           auction.bidders, curve, result)  # fmt: skip


# ---------------------------------------------------------------------- settlement reports

#: Reconciliation differences returned with a report (the CSV holds them all).
DIFFERENCE_ROWS = 50
#: Settled days listed at most (newest first).
SETTLED_DAYS_MAX = 2_000
#: Columns of the totals CSV the dashboard reads (``settlement.report.TOTALS_HEADER``).
TOTALS_COLUMNS = ("token_id", "type", "legs", "inflow", "outflow")
#: Media types of a report's files, by suffix.
MEDIA_TYPES = {".csv": "text/csv", ".pdf": "application/pdf", ".json": "application/json"}


@dataclass(frozen=True)
class SettledDay:
    """A trading day with a report directory (figures from its manifest; None if unreadable)."""

    day: date
    balanced: bool | None
    differences: int | None
    movements: int | None


@dataclass(frozen=True)
class TokenTotal:
    """One row of the totals CSV: an id's legs, inflow and outflow of one movement type."""

    token_id: int
    token: str
    movement: str
    legs: int
    inflow: int
    outflow: int


@dataclass(frozen=True)
class ReportDifference:
    """One row of the reconciliation CSV."""

    kind: str
    account: str
    token_id: int | None
    token: str | None
    read_model: int | None
    other: int | None
    delta: int | None
    source: str
    transactions: list[str]
    detail: str


@dataclass(frozen=True)
class ReportFile:
    """A file of the report as the manifest lists it, and whether it still matches."""

    name: str
    sha256: str | None
    size: int | None
    media_type: str
    matches: bool


@dataclass
class SettlementReport:
    """A settled day's report: its manifest, totals and reconciliation, checked against the hash
    anchored on ``SettlementReports`` (the checks of ``ets settle verify``)."""

    day: date
    window_start: int | None
    window_end: int | None
    timezone: str | None
    close: str | None
    first_block: int | None
    last_block: int | None
    accounts: int | None
    lines: int | None
    movements: int | None
    fees_total: int | None
    balanced: bool | None
    differences: int | None
    checked: dict[str, int]
    totals: list[MovementTotal]
    token_totals: list[TokenTotal]
    difference_rows: list[ReportDifference]
    report_hash: str
    altered_files: list[str]
    anchored_hash: str | None
    signer: str | None
    publisher: str | None
    published_at: int | None
    verified: bool
    files: list[ReportFile]


def settlement_days(reports_dir: Path) -> list[SettledDay]:
    """The days with a report under ``reports_dir`` (``<YYYY-MM-DD>/manifest.json``), newest first."""
    try:
        children = list(reports_dir.iterdir()) if reports_dir.is_dir() else []
    except OSError:
        logger.warning("settlement reports unreadable", extra={"directory": str(reports_dir)})
        return []
    days: list[SettledDay] = []
    for child in children:
        try:
            day = date.fromisoformat(child.name)
        except ValueError:
            continue
        if child.name != day.isoformat() or not (child / MANIFEST).is_file():
            continue
        manifest = _manifest(child)
        days.append(SettledDay(day, _bool(manifest.get("balanced")), _int(manifest.get("differences")),
                               _int(manifest.get("movements"))))  # fmt: skip
    days.sort(key=lambda d: d.day, reverse=True)
    return days[:SETTLED_DAYS_MAX]


def report_directory(reports_dir: Path, day: date) -> Path:
    """The report directory of ``day``.

    Raises:
        NotFoundError: no report of that day.
    """
    directory = reports_dir / day.isoformat()
    if not (directory / MANIFEST).is_file():
        raise NotFoundError(f"no settlement report of trading day {day.isoformat()}")
    return directory


def report_file(reports_dir: Path, day: date, name: str) -> tuple[Path, str]:
    """A file of ``day``'s report by name, with its media type: the manifest or a file it lists,
    never a path outside the day's directory.

    Raises:
        NotFoundError: no report of that day, or no such file in it.
    """
    directory = report_directory(reports_dir, day)
    known = {MANIFEST, *_listed(_manifest(directory))}
    path = directory / name
    inside = plain_name(name) and path.is_file() and path.resolve().parent == directory.resolve()
    if name not in known or not inside:
        raise NotFoundError(f"the report of {day.isoformat()} has no file {name!r}")
    return path, MEDIA_TYPES.get(path.suffix, "application/octet-stream")


def settlement_report(
    reports_dir: Path, day: date, *, anchor: SettlementReportsClient | None
) -> SettlementReport:
    """``day``'s report: the manifest's figures, the totals per movement type, the first
    reconciliation differences, and the verification of ``ets settle verify`` (the files against
    the manifest, the manifest's hash against the one anchored for the day, its signer).

    Args:
        reports_dir: where the settlement run writes its reports.
        day: the trading day.
        anchor: the SettlementReports contract (None: not deployed, nothing anchored).

    Raises:
        NotFoundError: no report of that day.
    """
    directory = report_directory(reports_dir, day)
    manifest = _manifest(directory)
    listed = _listed(manifest)
    check = verify_day(reports_dir, day, anchor)
    if MANIFEST in check.altered:
        logger.warning("settlement manifest unreadable", extra={"day": day.isoformat()})
    recomputed, altered, published = check.report_hash, check.altered, check.published
    code = day_code(day)
    parsed = (_token_total(r) for r in _csv_rows(directory / f"totals-{code}.csv", TOTALS_COLUMNS))
    token_totals = [r for r in parsed if r is not None]
    rows = _csv_rows(directory / f"reconciliation-{code}.csv", ("kind", "account", "source"))
    differences = [
        ReportDifference(r["kind"], r["account"], _int(r.get("token_id")), r.get("token") or None,
                         _int(r.get("read_model")), _int(r.get("other")), _int(r.get("delta")), r["source"],
                         (r.get("transactions") or "").split(), r.get("detail") or "")
        for _, r in zip(range(DIFFERENCE_ROWS), rows, strict=False)
    ]  # fmt: skip
    window, blocks, checked = (_object(manifest.get(key)) for key in ("window", "blocks", "checked"))
    files = []
    for name in [*sorted(listed), MANIFEST]:
        path = directory / name
        exists = plain_name(name) and path.is_file()
        files.append(ReportFile(name, listed.get(name), path.stat().st_size if exists else None,
                                MEDIA_TYPES.get(Path(name).suffix, "application/octet-stream"),
                                exists and name not in altered))  # fmt: skip
    return SettlementReport(
        day=day, window_start=_int(window.get("start")), window_end=_int(window.get("end")),
        timezone=_str(window.get("timezone")), close=_str(window.get("close")),
        first_block=_int(blocks.get("first")), last_block=_int(blocks.get("last")),
        accounts=_int(manifest.get("accounts")), lines=_int(manifest.get("lines")),
        movements=_int(manifest.get("movements")), fees_total=_int(manifest.get("fees_total_fen")),
        balanced=_bool(manifest.get("balanced")), differences=_int(manifest.get("differences")),
        checked={str(k): v for k, v in checked.items() if isinstance(v, int)},
        totals=movement_totals((r.token_id, r.movement, r.legs, r.inflow, r.outflow) for r in token_totals),
        token_totals=token_totals, difference_rows=differences,
        report_hash="0x" + recomputed.hex(), altered_files=altered,
        anchored_hash=None if published is None else "0x" + published.report_hash.hex(),
        signer=check.signer, publisher=None if published is None else published.publisher,
        published_at=None if published is None else published.published_at,
        verified=check.verified, files=files,
    )  # fmt: skip


def _manifest(directory: Path) -> dict[str, Any]:
    """The manifest as a dict ({} when missing or not a JSON object)."""
    try:
        data = json.loads((directory / MANIFEST).read_bytes())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _object(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _listed(manifest: dict[str, Any]) -> dict[str, str]:
    """File name → SHA-256 as the manifest lists them."""
    files = manifest.get("files")
    if not isinstance(files, dict):
        return {}
    return {str(k): str(v) for k, v in files.items()}


def _csv_rows(path: Path, required: Sequence[str]) -> Iterator[dict[str, str]]:
    """Rows of a report CSV that have the ``required`` columns filled; nothing when the file is
    missing or malformed (the verification reports it as altered)."""
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            reader = csv.DictReader(handle)
            if not set(required) <= set(reader.fieldnames or ()):
                return
            for row in reader:
                if all(row.get(k) not in (None, "") for k in required):
                    yield row
    except (OSError, UnicodeDecodeError, csv.Error):
        return


def _token_total(row: dict[str, str]) -> TokenTotal | None:
    """A totals CSV row, or None when its numbers do not parse."""
    try:
        token_id = int(row["token_id"])
        return TokenTotal(token_id, token_label(token_id), row["type"], int(row["legs"]), int(row["inflow"]),
                          int(row["outflow"]))  # fmt: skip
    except ValueError:
        return None


def _int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip():
        try:
            return int(value)
        except ValueError:
            return None
    return None


def _bool(value: object) -> bool | None:
    return value if isinstance(value, bool) else None


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None
