"""Read-model queries of the resource routes: keyword-only functions that filter, scope to what the
signed-in account may see, and page ORM rows; they raise only the API's typed errors.

Scoping follows :mod:`api.access` (the rules live there):

* public to every signed-in account, with or without a role: enterprise names and regions,
  tokens (caps), allocation batches, auctions (without bids);
* any active role: participants, proposals, compliance years;
* devices: the regulator and exchange all, others those of the accounts they may read, MNs
  only to the regulator, the exchange and the device's enterprise;
* holdings, transfers, compliance notices and applications: the accounts of
  :func:`api.access.readable_accounts` (regulator and exchange: all; enterprise: its own;
  auditor: the enterprises assigned to it);
* attestations: the regulator and exchange see all, an auditor those it made, an enterprise
  those about it;
* bids: see :func:`list_bids`.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, WithJsonSchema
from sqlalchemy import ColumnElement, Row, and_, bindparam, func, or_, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from api import access
from api.access import SEALED_PHASES
from api.deps import PageParams, Principal
from api.errors import ForbiddenError, NotFoundError, QueryError
from api.schemas import paginate
from chain.events import ZERO_ADDRESS
from chain.registry import checked_address
from domain.compliance import OUTCOME_LETTERS
from domain.errors import InvalidInputError
from domain.tokens import CASH_ID as CASH_TOKEN
from domain.tokens import POLLUTANTS, Kind, pollutant_code
from readmodel import models as m

# ---------------------------------------------------------------------- validated identifiers

_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
_BYTES32 = re.compile(r"^0x[0-9a-fA-F]{64}$")

#: Largest value of the read model's ``Integer`` / ``BigInteger`` columns (bounds for parameters,
#: so that no query ever sends PostgreSQL an out-of-range literal).
INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1
#: Token ids are ``kind << 24 | pollutant << 16 | vintage`` (32 bits); 0 is settlement cash.
TOKEN_ID_MAX = 2**32 - 1
#: ComplianceManager ``Outcome`` codes and the regulator's status letters.
OUTCOME_CODES = {letter: code for code, letter in OUTCOME_LETTERS.items()}


@functools.lru_cache(maxsize=65_536)
def normalize_address(value: str) -> str:
    """The checksummed form of a ``0x`` + 40 hex address (the zero address is allowed: mints
    come from it and burns go to it).

    Raises:
        ValueError: not ``0x`` + 40 hex digits, or mixed case with a wrong EIP-55 checksum.
    """
    if not _ADDRESS.match(value):
        raise ValueError(f"{value!r} is not an address (0x followed by 40 hex digits)")
    if int(value, 16) == 0:
        return ZERO_ADDRESS
    try:
        address = checked_address(value)
    except InvalidInputError as exc:
        raise ValueError(f"{value!r} is not a valid address") from exc
    digits = value[2:]
    if digits != digits.lower() and digits != digits.upper() and address != value:
        raise ValueError(f"{value!r} has a wrong EIP-55 checksum (did you mean {address}?)")
    return address


def normalize_bytes32(value: str) -> str:
    """Lower-case ``0x`` + 64 hex (the read model's form of ids and hashes).

    Raises:
        ValueError: not ``0x`` + 64 hex digits.
    """
    if not _BYTES32.match(value):
        raise ValueError(f"{value!r} is not a 32-byte id (0x followed by 64 hex digits)")
    return value.lower()


def normalize_pollutant(value: object) -> int:
    """Pollutant code of a symbol (``CO2``, case-insensitive) or a decimal code (``1``).

    Raises:
        ValueError: unknown symbol, code outside 1..255.
    """
    text = str(value)
    try:
        return pollutant_code(int(text) if text.isdigit() else text)
    except InvalidInputError as exc:
        raise ValueError(str(exc)) from exc


#: An account address, checksummed on the way in (422 when malformed).
Address = Annotated[str, AfterValidator(normalize_address)]
#: A 32-byte id (attestation id), lower-cased on the way in.
Bytes32 = Annotated[str, AfterValidator(normalize_bytes32)]
#: A pollutant symbol or code (a string in the request), as its code.
Pollutant = Annotated[
    int,
    BeforeValidator(normalize_pollutant),
    WithJsonSchema({"type": "string", "examples": ["CO2", "SO2", "1"]}),
]


def pollutant_symbol(code: int) -> str | None:
    """Symbol of a pollutant code (``1`` → ``CO2``), ``None`` when unknown."""
    return next((s for s, c in POLLUTANTS.items() if c == code), None)


def token_kind(token_id: int) -> str:
    """``cash`` (id 0), ``allowance``, ``offset`` or ``unknown``."""
    if token_id == CASH_TOKEN:
        return "cash"
    try:
        return Kind((token_id >> 24) & 0xFF).name.lower()
    except ValueError:
        return "unknown"


# ---------------------------------------------------------------------- helpers


def _get(db: Session, model: type[m.Base], key: Any, what: str) -> Any:
    row = db.get(model, key)
    if row is None:
        raise NotFoundError(f"{what} {key} does not exist")
    return row


def _token_filters(
    column: InstrumentedAttribute[int], *, pollutant: int | None, vintage: int | None, kind: str | None
) -> list[ColumnElement[bool]]:
    """Conditions on a token id column, from the id's bit fields (no join)."""
    where: list[ColumnElement[bool]] = []
    if kind == "cash":
        where.append(column == CASH_TOKEN)
    elif kind is not None:
        where.append(column.op("&")(0xFF000000) == int(Kind[kind.upper()]) << 24)
    if pollutant is not None:
        where.append(and_(column != CASH_TOKEN, column.op("&")(0x00FF0000) == pollutant << 16))
    if vintage is not None:
        where.append(and_(column != CASH_TOKEN, column.op("&")(0x0000FFFF) == vintage))
    return where


def _account_scope(
    db: Session, viewer: Principal, column: InstrumentedAttribute[str], account: str | None, what: str
) -> list[ColumnElement[bool]]:
    """Conditions limiting rows to the accounts ``viewer`` may read (:mod:`api.access`), or to
    ``account`` when it names one of them.

    Raises:
        ForbiddenError: no role, suspended, or ``account`` is not readable.
    """
    accounts = access.account_filter(db, viewer, account, what)
    if accounts is None:
        return []
    if len(accounts) == 1:
        return [column == next(iter(accounts))]
    return [column.in_(sorted(accounts))]


# ---------------------------------------------------------------------- registry


def list_participants(
    db: Session,
    *,
    paging: PageParams,
    role: str | None = None,
    region_code: int | None = None,
    industry_code: str | None = None,
    suspended: bool | None = None,
    q: str | None = None,
) -> tuple[list[m.Participant], int]:
    """Participants (role holders and enterprises) by address.

    Args:
        role: only holders of this role (``ENTERPRISE``, ``AUDITOR`` ...).
        q: case-insensitive substring of the name or the credit code.

    Raises:
        QueryError: the page starts past the end.
    """
    stmt = select(m.Participant).order_by(m.Participant.address)
    if role is not None:
        stmt = stmt.where(m.Participant.address.in_(select(m.Role.account).where(m.Role.role == role)))
    if region_code is not None:
        stmt = stmt.where(m.Participant.region_code == region_code)
    if industry_code is not None:
        stmt = stmt.where(m.Participant.industry_code == industry_code)
    if suspended is not None:
        stmt = stmt.where(m.Participant.suspended == suspended)
    if q:
        needle = q.lower()
        stmt = stmt.where(
            or_(
                func.lower(m.Participant.name).contains(needle, autoescape=True),
                func.lower(m.Participant.credit_code).contains(needle, autoescape=True),
            )
        )
    return paginate(db, stmt, paging)


def list_enterprise_names(
    db: Session, *, paging: PageParams, region_code: int | None = None
) -> tuple[list[m.Participant], int]:
    """Registered enterprises' addresses, names and region codes (the public subset of the
    registry), by address.

    Raises:
        QueryError: the page starts past the end.
    """
    p = m.Participant
    enterprises = select(m.Role.account).where(m.Role.role == "ENTERPRISE")
    stmt = select(p).where(p.address.in_(enterprises), p.name.is_not(None)).order_by(p.address)
    if region_code is not None:
        stmt = stmt.where(p.region_code == region_code)
    return paginate(db, stmt, paging)


def get_participant(db: Session, *, address: str) -> tuple[Row[Any], list[str]]:
    """One participant (a row with the ``participants`` columns as attributes) and its roles
    (sorted), in one statement.

    Raises:
        NotFoundError: no participant has this address.
    """
    rows = db.connection().execute(_PARTICIPANT_WITH_ROLES, {"address": address}).all()
    if not rows:
        raise NotFoundError(f"participant {address} does not exist")
    return rows[0], [r.role for r in rows if r.role is not None]


_participants = m.Participant.__table__
_roles = m.Role.__table__
#: Built once: this runs on every ``GET /participants/{address}``.
_PARTICIPANT_WITH_ROLES = (
    select(_participants, _roles.c.role)
    .outerjoin(_roles, _roles.c.account == _participants.c.address)
    .where(_participants.c.address == bindparam("address"))
    .order_by(_roles.c.role)
)


def roles_of(db: Session, *, accounts: Sequence[str]) -> dict[str, list[str]]:
    """Roles held by each of ``accounts`` (sorted; accounts without roles map to ``[]``)."""
    held: dict[str, list[str]] = {a: [] for a in accounts}
    if accounts:
        t = m.Role.__table__.c
        stmt = select(t.account, t.role).where(t.account.in_(accounts)).order_by(t.role)
        for account, role in db.connection().execute(stmt):
            held[account].append(role)
    return held


def list_devices(
    db: Session,
    *,
    viewer: Principal,
    paging: PageParams,
    enterprise: str | None = None,
    bound: bool | None = None,
) -> tuple[list[m.Device], int]:
    """Field devices by address: every device for the regulator and exchange, otherwise those
    of the accounts the viewer may read (its own; an auditor's assigned enterprises).

    Raises:
        ForbiddenError: no role, suspended, or ``enterprise`` is not readable.
        QueryError: the page starts past the end.
    """
    where = _account_scope(db, viewer, m.Device.enterprise, enterprise, "devices")
    stmt = select(m.Device).where(*where).order_by(m.Device.address)
    if bound is not None:
        stmt = stmt.where(m.Device.bound == bound)
    return paginate(db, stmt, paging)


def get_device(db: Session, *, viewer: Principal, address: str) -> m.Device:
    """One device.

    Raises:
        NotFoundError: no device has this address.
        ForbiddenError: no role, suspended, or a device of an account the viewer may not read.
    """
    viewer.require()
    row: m.Device = _get(db, m.Device, address, "device")
    access.check_account(db, viewer, row.enterprise, "devices")
    return row


def list_proposals(
    db: Session, *, paging: PageParams, executed: bool | None = None
) -> tuple[list[m.Proposal], int]:
    """Governance proposals, newest first.

    Raises:
        QueryError: the page starts past the end.
    """
    stmt = select(m.Proposal).order_by(m.Proposal.proposal_id.desc())
    if executed is not None:
        stmt = stmt.where(m.Proposal.executed == executed)
    return paginate(db, stmt, paging)


# ---------------------------------------------------------------------- allowances and cash


def list_holdings(
    db: Session,
    *,
    viewer: Principal,
    paging: PageParams,
    account: str | None = None,
    token_id: int | None = None,
    pollutant: int | None = None,
    vintage: int | None = None,
    kind: str | None = None,
    min_balance: int | None = None,
) -> tuple[list[m.Holding], int]:
    """Balances by (account, token id) of the accounts the viewer may read
    (:func:`api.access.readable_accounts`), or of ``account``.

    Args:
        kind: ``allowance``, ``offset`` or ``cash`` (token id 0).

    Raises:
        ForbiddenError: no role, suspended, or an account the viewer may not read.
        QueryError: the page starts past the end.
    """
    where = _account_scope(db, viewer, m.Holding.account, account, "holdings")
    stmt = select(m.Holding).where(*where).order_by(m.Holding.account, m.Holding.token_id)
    if token_id is not None:
        stmt = stmt.where(m.Holding.token_id == token_id)
    stmt = stmt.where(*_token_filters(m.Holding.token_id, pollutant=pollutant, vintage=vintage, kind=kind))
    if min_balance is not None:
        stmt = stmt.where(m.Holding.balance >= min_balance)
    return paginate(db, stmt, paging)


def list_transfers(
    db: Session,
    *,
    viewer: Principal,
    paging: PageParams,
    account: str | None = None,
    token_id: int | None = None,
    from_time: int | None = None,
    to_time: int | None = None,
) -> tuple[list[m.Transfer], int]:
    """Movements of allowances and cash in chain order; ``account`` on either side.

    Raises:
        ForbiddenError: no role, suspended, or an account the viewer may not read.
        QueryError: ``to_time`` before ``from_time``; the page starts past the end.
    """
    if from_time is not None and to_time is not None and to_time < from_time:
        raise QueryError(f"to_time {to_time} is before from_time {from_time}")
    accounts = access.account_filter(db, viewer, account, "transfers")
    stmt = select(m.Transfer).order_by(m.Transfer.block_time, m.Transfer.block_number, m.Transfer.log_index)
    if accounts is not None:
        listed = sorted(accounts)
        stmt = stmt.where(or_(m.Transfer.sender.in_(listed), m.Transfer.recipient.in_(listed)))
    if token_id is not None:
        stmt = stmt.where(m.Transfer.token_id == token_id)
    if from_time is not None:
        stmt = stmt.where(m.Transfer.block_time >= from_time)
    if to_time is not None:
        stmt = stmt.where(m.Transfer.block_time <= to_time)
    return paginate(db, stmt, paging)


def list_tokens(
    db: Session,
    *,
    paging: PageParams,
    pollutant: int | None = None,
    vintage: int | None = None,
    kind: str | None = None,
) -> tuple[list[m.Token], int]:
    """Allowance and offset ids with cap, issued and retired amounts.

    Raises:
        QueryError: the page starts past the end.
    """
    stmt = select(m.Token).order_by(m.Token.token_id)
    if kind is not None:
        stmt = stmt.where(m.Token.kind == int(Kind[kind.upper()]))
    if pollutant is not None:
        stmt = stmt.where(m.Token.pollutant == pollutant)
    if vintage is not None:
        stmt = stmt.where(m.Token.vintage == vintage)
    return paginate(db, stmt, paging)


def get_token(db: Session, *, token_id: int) -> m.Token:
    """One allowance or offset id.

    Raises:
        NotFoundError: no cap, allocation or issue has named this id.
    """
    row: m.Token = _get(db, m.Token, token_id, "token")
    return row


def list_allocations(
    db: Session, *, paging: PageParams, token_id: int | None = None
) -> tuple[list[m.Allocation], int]:
    """Allocation batches in chain order.

    Raises:
        QueryError: the page starts past the end.
    """
    stmt = select(m.Allocation).order_by(m.Allocation.block_number, m.Allocation.id)
    if token_id is not None:
        stmt = stmt.where(m.Allocation.token_id == token_id)
    return paginate(db, stmt, paging)


# ---------------------------------------------------------------------- auctions


def auction_phase(auction: m.Auction, now: int) -> str:
    """``scheduled``, ``commit``, ``reveal``, ``clearing`` (reveals over, waiting for the
    clearing), ``cleared``, ``no_sale`` or ``settled``, at chain time ``now`` (the contract's
    windows: commit ``[commit_start, commit_end)``, reveal ``[commit_end, reveal_end)``)."""
    if auction.status != "open":
        return auction.status
    if now < auction.commit_start:
        return "scheduled"
    if now < auction.commit_end:
        return "commit"
    return "reveal" if now < auction.reveal_end else "clearing"


def list_auctions(
    db: Session,
    *,
    paging: PageParams,
    status: str | None = None,
    token_id: int | None = None,
    seller: str | None = None,
    primary: bool | None = None,
) -> tuple[list[m.Auction], int]:
    """Auctions, newest first.

    Raises:
        QueryError: the page starts past the end.
    """
    stmt = select(m.Auction).order_by(m.Auction.auction_id.desc())
    if status is not None:
        stmt = stmt.where(m.Auction.status == status)
    if token_id is not None:
        stmt = stmt.where(m.Auction.token_id == token_id)
    if seller is not None:
        stmt = stmt.where(m.Auction.seller == seller)
    if primary is not None:
        stmt = stmt.where(m.Auction.primary == primary)
    return paginate(db, stmt, paging)


def get_auction(db: Session, *, auction_id: int) -> m.Auction:
    """One auction.

    Raises:
        NotFoundError: no auction has this id.
    """
    row: m.Auction = _get(db, m.Auction, auction_id, "auction")
    return row


def named_bidders(db: Session, *, auction_ids: Sequence[int]) -> dict[int, list[str]]:
    """The named bidders of each restricted auction among ``auction_ids``, in the regulator's
    order (auctions without a list are absent: anyone may bid in them)."""
    out: dict[int, list[str]] = {}
    if not auction_ids:
        return out
    b = m.AuctionBidder
    rows = db.execute(
        select(b.auction_id, b.bidder).where(b.auction_id.in_(auction_ids)).order_by(b.auction_id, b.position)
    )
    for auction_id, bidder in rows:
        out.setdefault(int(auction_id), []).append(str(bidder))
    return out


@dataclass(frozen=True)
class BidRows:
    """A page of an auction's bids as one viewer may see them.

    Attributes:
        rows: the bid rows (read-only: never modify them, the session is committed).
        total: rows the viewer may see.
        sealed: the reveal phase has not ended.
        viewer: the viewer.
    """

    rows: list[m.Bid]
    total: int
    sealed: bool
    viewer: Principal

    def shows_schedule(self, bid: m.Bid) -> bool:
        """Whether ``bid``'s revealed prices, quantities and demand may be shown
        (:func:`api.access.sees_schedule`)."""
        return access.sees_schedule(self.viewer, bidder=bid.bidder, sealed=self.sealed)


def list_bids(db: Session, *, viewer: Principal, auction: m.Auction, now: int, paging: PageParams) -> BidRows:
    """Bids of ``auction`` in commitment order, sealed until the reveal phase ends.

    While the auction is ``scheduled``, in ``commit`` or in ``reveal`` (chain time ``now``
    before ``reveal_end``):

    * an enterprise (any account but the regulator and exchange) sees only its own bid, with
      its own schedule once revealed;
    * the regulator and exchange see every bid's bidder, commitment, guarantee and whether it
      is revealed, but no one's prices, quantities or demand.

    After the reveal phase (``clearing``, ``cleared``, ``no_sale``, ``settled``) every account
    with a role sees every bid; the schedules only the regulator, the exchange and each bidder
    its own (:func:`api.access.sees_schedule`).

    Raises:
        ForbiddenError: no role, or suspended.
        QueryError: the page starts past the end.
    """
    viewer.require()
    sealed = auction_phase(auction, now) in SEALED_PHASES
    stmt = select(m.Bid).where(m.Bid.auction_id == auction.auction_id).order_by(m.Bid.sequence)
    if sealed and not viewer.sees_everything:
        stmt = stmt.where(m.Bid.bidder == viewer.address)
    rows, total = paginate(db, stmt, paging)
    return BidRows(rows, total, sealed, viewer)


# ---------------------------------------------------------------------- attestations


def _attestation_scope(viewer: Principal) -> list[ColumnElement[bool]]:
    if viewer.sees_everything:
        return []
    return [or_(m.Attestation.auditor == viewer.address, m.Attestation.enterprise == viewer.address)]


def list_attestations(
    db: Session,
    *,
    viewer: Principal,
    paging: PageParams,
    enterprise: str | None = None,
    auditor: str | None = None,
    year: int | None = None,
    pollutant: int | None = None,
    status: str | None = None,
) -> tuple[list[m.Attestation], int]:
    """Attestations, newest first: all for the regulator and exchange, otherwise those the
    viewer made (auditor) or that are about it (enterprise).

    Raises:
        ForbiddenError: no role, suspended, or an ``enterprise`` filter naming another
            enterprise for a viewer that is not an auditor (an auditor gets only its own
            attestations of that enterprise).
        QueryError: the page starts past the end.
    """
    viewer.require()
    if (
        enterprise is not None
        and not viewer.sees_everything
        and not viewer.has("AUDITOR")
        and enterprise != viewer.address
    ):
        raise ForbiddenError(f"{viewer.address} may not read the attestations of {enterprise}")
    stmt = (
        select(m.Attestation)
        .where(*_attestation_scope(viewer))
        .order_by(m.Attestation.submitted_time.desc(), m.Attestation.attestation_id)
    )
    if enterprise is not None:
        stmt = stmt.where(m.Attestation.enterprise == enterprise)
    if auditor is not None:
        stmt = stmt.where(m.Attestation.auditor == auditor)
    if year is not None:
        stmt = stmt.where(m.Attestation.year == year)
    if pollutant is not None:
        stmt = stmt.where(m.Attestation.pollutant == pollutant)
    if status is not None:
        stmt = stmt.where(m.Attestation.status == status)
    return paginate(db, stmt, paging)


def get_attestation(db: Session, *, viewer: Principal, attestation_id: str) -> m.Attestation:
    """One attestation.

    Raises:
        NotFoundError: no attestation has this id.
        ForbiddenError: no role, suspended, or the viewer neither made it, nor is it about the
            viewer, nor does the viewer see everything.
    """
    viewer.require()
    row: m.Attestation = _get(db, m.Attestation, attestation_id, "attestation")
    if not viewer.sees_everything and viewer.address not in (row.auditor, row.enterprise):
        raise ForbiddenError(f"{viewer.address} may not read attestation {attestation_id}")
    return row


# ---------------------------------------------------------------------- compliance


def list_years(db: Session, *, paging: PageParams) -> tuple[list[m.ComplianceYear], int]:
    """Configured compliance years, newest first.

    Raises:
        QueryError: the page starts past the end.
    """
    return paginate(db, select(m.ComplianceYear).order_by(m.ComplianceYear.year.desc()), paging)


def list_notices(
    db: Session,
    *,
    viewer: Principal,
    paging: PageParams,
    year: int | None = None,
    enterprise: str | None = None,
    pollutant: int | None = None,
    outcome: str | None = None,
    acknowledged: bool | None = None,
) -> tuple[list[m.Notice], int]:
    """Compliance notices (one per obligation: enterprise, pollutant, year) by year (newest
    first), enterprise and pollutant.

    Args:
        outcome: ``A``, ``B`` or ``C`` (finalized obligations only).

    Raises:
        ForbiddenError: ``enterprise`` names one the viewer may not see.
        QueryError: the page starts past the end.
    """
    where = _account_scope(db, viewer, m.Notice.enterprise, enterprise, "compliance data")
    stmt = (
        select(m.Notice).where(*where).order_by(m.Notice.year.desc(), m.Notice.enterprise, m.Notice.pollutant)
    )
    if year is not None:
        stmt = stmt.where(m.Notice.year == year)
    if pollutant is not None:
        stmt = stmt.where(m.Notice.pollutant == pollutant)
    if outcome is not None:
        stmt = stmt.where(m.Notice.outcome == OUTCOME_CODES[outcome])
    if acknowledged is not None:
        column = m.Notice.acknowledged_time
        stmt = stmt.where(column.is_not(None) if acknowledged else column.is_(None))
    return paginate(db, stmt, paging)


def list_applications(
    db: Session,
    *,
    viewer: Principal,
    paging: PageParams,
    year: int | None = None,
    enterprise: str | None = None,
    pollutant: int | None = None,
    status: str | None = None,
) -> tuple[list[m.Application], int]:
    """Compliance applications, newest first.

    Raises:
        ForbiddenError: ``enterprise`` names one the viewer may not see.
        QueryError: the page starts past the end.
    """
    where = _account_scope(db, viewer, m.Application.enterprise, enterprise, "compliance data")
    stmt = select(m.Application).where(*where).order_by(m.Application.application_id.desc())
    if year is not None:
        stmt = stmt.where(m.Application.year == year)
    if pollutant is not None:
        stmt = stmt.where(m.Application.pollutant == pollutant)
    if status is not None:
        stmt = stmt.where(m.Application.status == status)
    return paginate(db, stmt, paging)


def get_application(db: Session, *, viewer: Principal, application_id: int) -> m.Application:
    """One compliance application.

    Raises:
        NotFoundError: no application has this id.
        ForbiddenError: the viewer may not see the applicant's compliance data.
    """
    viewer.require()
    row: m.Application = _get(db, m.Application, application_id, "application")
    if not access.may_read(db, viewer, row.enterprise):
        raise ForbiddenError(f"{viewer.address} may not read application {application_id}")
    return row
