"""Projections: a page of decoded contract events applied to the read model in one transaction.

Hot events (transfers, anchored batches) are gathered per page and written with one
``executemany`` per table; balances and statistics are summed in memory and upserted once per
key. Rare events (auctions, notices, governance) update their row directly.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from domain.tokens import CASH_ID as CASH_TOKEN
from domain.tokens import POLLUTANTS, Kind, decode_id
from eth_utils import keccak
from sqlalchemy import Connection, delete, insert, select, update

from chain.events import ZERO_ADDRESS, DecodedEvent
from chain.production import HJ212_ALLOWANCE, MASS_UNITS
from readmodel import models as m
from readmodel.bulk import bulk_insert, upsert
from readmodel.errors import ReadModelError
from readmodel.totals import TOTAL_KEY, derive_totals

logger = logging.getLogger(__name__)

INT64_MAX = 2**63 - 1
#: China Standard Time (no daylight saving): statistics periods are local dates.
CST_OFFSET = 8 * 3600
ROLE_NAMES = {
    "0x" + keccak(text=name).hex(): name.removesuffix("_ROLE")
    for name in (
        "GOVERNOR_ROLE",
        "REGULATOR_ROLE",
        "EXCHANGE_ROLE",
        "ENTERPRISE_ROLE",
        "AUDITOR_ROLE",
        "ORACLE_ROLE",
    )
} | {"0x" + "00" * 32: "ADMIN"}
#: ComplianceManager ``Outcome`` values, as the regulator's status letters.
OUTCOMES = {1: "A", 2: "B", 3: "C"}
#: Metrics kept in :class:`readmodel.models.StatRollup`.
METRICS = ("emissions_t", "allocated", "traded", "auction_payment", "retired", "obligations", "compliant")


def _int64(value: Any, what: str) -> int:
    number = int(value)
    if not -INT64_MAX - 1 <= number <= INT64_MAX:
        raise ReadModelError(f"{what} = {number} does not fit the read model's int64 columns")
    return number


def _pollutant_of_hj212(code_hex: str) -> int:
    """AllowanceToken pollutant code of an anchored total's HJ 212 factor (bytes8 hex), or 0."""
    text = bytes.fromhex(code_hex[2:]).rstrip(b"\0").decode("ascii", "replace")
    symbol = HJ212_ALLOWANCE.get(text)
    return POLLUTANTS.get(symbol, 0) if symbol else 0


def _text(raw_hex: str) -> str:
    return bytes.fromhex(raw_hex[2:]).rstrip(b"\0").decode("ascii", "replace")


class _Periods:
    """Local (UTC+8) day, month and year strings of block times, memoised per day."""

    def __init__(self) -> None:
        self._days: dict[int, tuple[str, str, str]] = {}

    def of(self, block_time: int) -> tuple[str, str, str]:
        day = (block_time + CST_OFFSET) // 86_400
        found = self._days.get(day)
        if found is None:
            date = datetime.fromtimestamp(day * 86_400, UTC)
            found = (date.strftime("%Y-%m-%d"), date.strftime("%Y-%m"), date.strftime("%Y"))
            self._days[day] = found
        return found


class Projector:
    """Applies pages of events to the read model; keeps the enterprise profiles it needs to
    attribute statistics to regions and industries.

    Args:
        system: addresses of the suite's contracts: transfers to or from them are escrow
            (auction guarantees and lots, compliance applications), not trades.
        auction_house: address of the SealedBidAuction: its deliveries to buyers are trades.
    """

    def __init__(self, system: Sequence[str] = (), auction_house: str | None = None) -> None:
        self.system = frozenset(system)
        self.auction_house = auction_house
        self._profiles: dict[str, tuple[int | None, str | None]] | None = None
        self._auction_tokens: dict[int, int] = {}
        self._periods = _Periods()
        self._handlers: dict[str, Callable[[Connection, DecodedEvent], None]] = {
            "RoleGranted": self._role_granted,
            "RoleRevoked": self._role_revoked,
            "EnterpriseRegistered": self._enterprise_registered,
            "EnterpriseProfileUpdated": self._enterprise_updated,
            "ParticipantSuspended": self._suspended,
            "ParticipantReinstated": self._reinstated,
            "DeviceBound": self._device_bound,
            "DeviceUnbound": self._device_unbound,
            "AuditorAssigned": self._auditor_assigned,
            "AuditorUnassigned": self._auditor_unassigned,
            "ProposalCreated": self._proposal_created,
            "ProposalApproved": self._proposal_approved,
            "ProposalExecuted": self._proposal_executed,
            "CapSet": self._cap_set,
            "AllowancesAllocated": self._allocated,
            "AllowancesIssuedToAuction": self._issued_to_auction,
            "AllowancesReturnedToCap": self._returned_to_cap,
            "AllowancesRetired": self._retired,
            "BalanceFrozen": self._frozen,
            "BalanceReleased": self._released,
            "AuctionCreated": self._auction_created,
            "BidCommitted": self._bid_committed,
            "BidRevealed": self._bid_revealed,
            "AuctionCleared": self._auction_cleared,
            "AuctionNoSale": self._auction_no_sale,
            "AllowancesClaimed": self._claimed,
            "GuaranteeRefunded": self._refunded,
            "ProceedsWithdrawn": self._proceeds_withdrawn,
            "AttestationSubmitted": self._attestation_submitted,
            "AttestationRevoked": self._attestation_revoked,
            "AttestationRejected": self._attestation_rejected,
            "YearConfigured": self._year_configured,
            "NoticeIssued": self._notice_issued,
            "NoticeAcknowledged": self._notice_acknowledged,
            "ApplicationSubmitted": self._application_submitted,
            "ApplicationApproved": self._application_approved,
            "ApplicationRejected": self._application_rejected,
            "ObligationFinalized": self._obligation_finalized,
            "PenaltyPaid": self._penalty_paid,
        }
        self._reset_page()

    def _reset_page(self) -> None:
        self._holdings: dict[tuple[str, int], int] = defaultdict(int)
        self._rollups: dict[tuple[str, str, int, str, str], list[Any]] = {}
        self._transfers: list[dict[str, Any]] = []
        self._batches: list[dict[str, Any]] = []

    # ------------------------------------------------------------------ the page

    def apply(self, conn: Connection, events: Sequence[DecodedEvent]) -> None:
        """Write ``events`` (in chain order) and their projections on ``conn`` (the caller's
        transaction).

        Raises:
            ReadModelError: a quantity does not fit the read model.
        """
        if not events:
            return
        if self._profiles is None:
            self._load(conn)
        self._reset_page()
        rows = [
            {
                "id": m.event_id(e.block_number, e.log_index),
                "block_number": e.block_number,
                "log_index": e.log_index,
                "block_time": e.block_time,
                "tx_hash": e.tx_hash,
                "contract": e.contract,
                "name": e.name,
                "args": e.args,
                "token_id": self._token_of(e),
                "device": e.args.get("device"),
            }
            for e in events
        ]
        bulk_insert(conn, m.Event, rows)
        parties: list[dict[str, Any]] = []
        for event in events:
            event_id = m.event_id(event.block_number, event.log_index)
            for account in event.parties:
                parties.append(
                    {
                        "account": account,
                        "block_time": event.block_time,
                        "block_number": event.block_number,
                        "log_index": event.log_index,
                        "event_id": event_id,
                    }
                )
            self._project(conn, event, event_id)
        bulk_insert(conn, m.EventParty, parties)
        self._flush(conn)

    def _token_of(self, event: DecodedEvent) -> int | None:
        if event.contract == "AllowanceToken" and "id" in event.args:
            return _int64(event.args["id"], "token id")
        if "tokenId" in event.args:
            return _int64(event.args["tokenId"], "token id")
        if event.name == "TransferBatch" and len(set(event.args["ids"])) == 1:
            return int(event.args["ids"][0])
        if event.contract == "SettlementToken" and event.name == "Transfer":
            return CASH_TOKEN
        if event.contract == "SealedBidAuction" and "auctionId" in event.args:
            return self._auction_tokens.get(int(event.args["auctionId"]))
        return None

    def _project(self, conn: Connection, event: DecodedEvent, event_id: int) -> None:
        name = event.name
        if name == "TransferSingle":
            self._transfer(
                event,
                event_id,
                int(event.args["id"]),
                event.args["from"],
                event.args["to"],
                event.args["value"],
            )
        elif name == "TransferBatch":
            for token_id, value in zip(event.args["ids"], event.args["values"], strict=True):
                self._transfer(event, event_id, int(token_id), event.args["from"], event.args["to"], value)
        elif name == "Transfer" and event.contract == "SettlementToken":
            self._transfer(
                event, event_id, CASH_TOKEN, event.args["from"], event.args["to"], event.args["value"]
            )
        elif name == "BatchAnchored":
            self._batch_anchored(event)
        else:
            handler = self._handlers.get(name)
            if handler is not None:
                handler(conn, event)

    def _flush(self, conn: Connection) -> None:
        bulk_insert(conn, m.Transfer, self._transfers)
        bulk_insert(conn, m.Batch, self._batches)
        holdings = [{"account": a, "token_id": t, "balance": d} for (a, t), d in self._holdings.items() if d]
        upsert(conn, m.Holding, holdings, ("account", "token_id"), add=("balance",))
        rollups = [
            {
                "grain": g,
                "metric": metric,
                "pollutant": p,
                "period": period,
                "enterprise": who,
                "value": v[0],
                "count": v[1],
                "region_code": v[2],
                "industry_code": v[3],
            }
            for (g, metric, p, period, who), v in self._rollups.items()
        ]
        upsert(
            conn,
            m.StatRollup,
            rollups,
            ("grain", "metric", "pollutant", "period", "enterprise"),
            add=("value", "count"),
        )
        upsert(conn, m.StatTotal, derive_totals(self._rollups), TOTAL_KEY, add=("value", "count"))
        self._reset_page()

    def _load(self, conn: Connection) -> None:
        self._profiles = {
            row.address: (row.region_code, row.industry_code)
            for row in conn.execute(
                select(m.Participant.address, m.Participant.region_code, m.Participant.industry_code)
            )
        }
        self._auction_tokens = {
            int(a): int(t) for a, t in conn.execute(select(m.Auction.auction_id, m.Auction.token_id))
        }

    # ------------------------------------------------------------------ statistics

    def _stat(
        self,
        metric: str,
        pollutant: int,
        who: str,
        block_time: int,
        value: float,
        periods: Sequence[tuple[str, str]] | None = None,
    ) -> None:
        """Add ``value`` to ``metric`` of ``who`` for the day, month and year of ``block_time``
        (or the given (grain, period) pairs)."""
        assert self._profiles is not None
        region, industry = self._profiles.get(who, (None, None))
        if periods is None:
            day, month, year = self._periods.of(block_time)
            periods = (("day", day), ("month", month), ("year", year))
        for grain, period in periods:
            key = (grain, metric, pollutant, period, who)
            found = self._rollups.get(key)
            if found is None:
                self._rollups[key] = [value, 1, region, industry]
            else:
                found[0] += value
                found[1] += 1

    # ------------------------------------------------------------------ hot paths

    def _transfer(
        self, event: DecodedEvent, event_id: int, token_id: int, sender: str, recipient: str, value: int
    ) -> None:
        amount = _int64(value, f"{event.name} amount")
        self._transfers.append(
            {
                "event_id": event_id,
                "block_number": event.block_number,
                "log_index": event.log_index,
                "block_time": event.block_time,
                "tx_hash": event.tx_hash,
                "token_id": token_id,
                "sender": sender,
                "recipient": recipient,
                "amount": amount,
            }
        )
        if sender != ZERO_ADDRESS:
            self._holdings[(sender, token_id)] -= amount
        if recipient != ZERO_ADDRESS:
            self._holdings[(recipient, token_id)] += amount
        if token_id == CASH_TOKEN or recipient == ZERO_ADDRESS:
            return
        token = decode_id(token_id)
        if sender == ZERO_ADDRESS:
            if token.kind is Kind.ALLOWANCE and recipient not in self.system:
                self._stat("allocated", token.pollutant, recipient, event.block_time, amount)
        elif sender == self.auction_house or (sender not in self.system and recipient not in self.system):
            # a trade: account to account, or an auction delivering to its buyer
            self._stat("traded", token.pollutant, recipient, event.block_time, amount)

    def _batch_anchored(self, event: DecodedEvent) -> None:
        a = event.args
        self._batches.append(
            {
                "batch_id": a["batchId"],
                "device": a["device"],
                "enterprise": a["enterprise"],
                "first_sequence": a["firstSequence"],
                "last_sequence": a["lastSequence"],
                "previous_sequence": a["previousSequence"],
                "period_start": a["periodStart"],
                "period_end": a["periodEnd"],
                "count": a["count"],
                "root": a["root"],
                "totals": a["totals"],
                "block_number": event.block_number,
                "block_time": event.block_time,
                "tx_hash": event.tx_hash,
            }
        )
        for total in a["totals"]:
            per_unit = MASS_UNITS.get(_text(total["unit"]))
            if per_unit is None:
                continue
            tonnes = float(Decimal(total["total"]).scaleb(-int(total["decimals"])) * per_unit)
            pollutant = _pollutant_of_hj212(total["pollutant"])
            self._stat("emissions_t", pollutant, a["enterprise"], int(a["periodEnd"]), tonnes)

    # ------------------------------------------------------------------ registry

    def _role_granted(self, conn: Connection, e: DecodedEvent) -> None:
        role = ROLE_NAMES.get(e.args["role"], e.args["role"][:32])
        upsert(
            conn,
            m.Role,
            [{"account": e.args["account"], "role": role, "granted_block": e.block_number}],
            ("account", "role"),
        )
        upsert(
            conn,
            m.Participant,
            [{"address": e.args["account"], "suspended": False, "updated_block": e.block_number}],
            ("address",),
        )

    def _role_revoked(self, conn: Connection, e: DecodedEvent) -> None:
        role = ROLE_NAMES.get(e.args["role"], e.args["role"][:32])
        conn.execute(delete(m.Role).where(m.Role.account == e.args["account"], m.Role.role == role))

    def _profile_values(self, e: DecodedEvent) -> dict[str, Any]:
        a = e.args
        assert self._profiles is not None
        self._profiles[a["account"]] = (int(a["regionCode"]), a["industryCode"])
        return {
            "name": a["name"],
            "region_code": a["regionCode"],
            "industry_code": a["industryCode"],
            "latitude_e6": a["latitude"],
            "longitude_e6": a["longitude"],
            "updated_block": e.block_number,
        }

    def _enterprise_registered(self, conn: Connection, e: DecodedEvent) -> None:
        values = self._profile_values(e) | {
            "credit_code": e.args["creditCode"],
            "registered_time": e.block_time,
        }
        row = {"address": e.args["account"], "suspended": False, **values}
        upsert(conn, m.Participant, [row], ("address",), replace=tuple(values))

    def _enterprise_updated(self, conn: Connection, e: DecodedEvent) -> None:
        conn.execute(
            update(m.Participant)
            .where(m.Participant.address == e.args["account"])
            .values(**self._profile_values(e))
        )

    def _suspended(self, conn: Connection, e: DecodedEvent) -> None:
        conn.execute(
            update(m.Participant)
            .where(m.Participant.address == e.args["account"])
            .values(suspended=True, suspension_reason=e.args["reasonCode"], updated_block=e.block_number)
        )

    def _reinstated(self, conn: Connection, e: DecodedEvent) -> None:
        conn.execute(
            update(m.Participant)
            .where(m.Participant.address == e.args["account"])
            .values(suspended=False, suspension_reason=None, updated_block=e.block_number)
        )

    def _auditor_assigned(self, conn: Connection, e: DecodedEvent) -> None:
        row = {
            "auditor": e.args["auditor"],
            "enterprise": e.args["enterprise"],
            "assigned_block": e.block_number,
        }
        upsert(conn, m.AuditorAssignment, [row], ("auditor", "enterprise"), replace=("assigned_block",))

    def _auditor_unassigned(self, conn: Connection, e: DecodedEvent) -> None:
        a = m.AuditorAssignment
        conn.execute(delete(a).where(a.auditor == e.args["auditor"], a.enterprise == e.args["enterprise"]))

    def _device_bound(self, conn: Connection, e: DecodedEvent) -> None:
        row = {
            "address": e.args["device"],
            "enterprise": e.args["enterprise"],
            "mn": e.args["mn"],
            "bound": True,
            "updated_block": e.block_number,
        }
        upsert(
            conn,
            m.Device,
            [row],
            ("address",),
            replace=("enterprise", "mn", "bound", "updated_block"),
        )

    def _device_unbound(self, conn: Connection, e: DecodedEvent) -> None:
        conn.execute(
            update(m.Device)
            .where(m.Device.address == e.args["device"])
            .values(bound=False, updated_block=e.block_number)
        )

    def _proposal_created(self, conn: Connection, e: DecodedEvent) -> None:
        a = e.args
        conn.execute(
            insert(m.Proposal).values(
                proposal_id=a["proposalId"],
                proposer=a["proposer"],
                target=a["target"],
                deadline=a["deadline"],
                data=a["data"],
                description=a["description"],
                approvals=0,
                executed=False,
                created_time=e.block_time,
            )
        )

    def _proposal_approved(self, conn: Connection, e: DecodedEvent) -> None:
        conn.execute(
            update(m.Proposal)
            .where(m.Proposal.proposal_id == e.args["proposalId"])
            .values(approvals=e.args["approvals"])
        )

    def _proposal_executed(self, conn: Connection, e: DecodedEvent) -> None:
        conn.execute(
            update(m.Proposal).where(m.Proposal.proposal_id == e.args["proposalId"]).values(executed=True)
        )

    # ------------------------------------------------------------------ allowances

    def _token_row(self, conn: Connection, token_id: int) -> None:
        token = decode_id(token_id)
        row = {
            "token_id": token_id,
            "kind": int(token.kind),
            "pollutant": token.pollutant,
            "vintage": token.vintage,
            "cap": 0,
            "issued": 0,
            "retired": 0,
        }
        upsert(conn, m.Token, [row], ("token_id",))

    def _token_add(self, conn: Connection, token_id: int, column: str, amount: int) -> None:
        self._token_row(conn, token_id)
        col = m.Token.__table__.c[column]
        conn.execute(update(m.Token).where(m.Token.token_id == token_id).values({col: col + amount}))

    def _cap_set(self, conn: Connection, e: DecodedEvent) -> None:
        token_id = int(e.args["id"])
        self._token_row(conn, token_id)
        conn.execute(
            update(m.Token).where(m.Token.token_id == token_id).values(cap=_int64(e.args["newCap"], "cap"))
        )

    def _allocated(self, conn: Connection, e: DecodedEvent) -> None:
        a = e.args
        total = _int64(a["total"], "allocation total")
        conn.execute(
            insert(m.Allocation).values(
                token_id=int(a["id"]),
                batch_ref=a["batchRef"],
                recipients=a["recipients"],
                total=total,
                block_number=e.block_number,
                block_time=e.block_time,
                tx_hash=e.tx_hash,
            )
        )
        self._token_add(conn, int(a["id"]), "issued", total)

    def _issued_to_auction(self, conn: Connection, e: DecodedEvent) -> None:
        self._token_add(conn, int(e.args["id"]), "issued", _int64(e.args["amount"], "amount"))

    def _returned_to_cap(self, conn: Connection, e: DecodedEvent) -> None:
        self._token_add(conn, int(e.args["id"]), "issued", -_int64(e.args["amount"], "amount"))

    def _retired(self, conn: Connection, e: DecodedEvent) -> None:
        amount = _int64(e.args["amount"], "amount")
        self._token_add(conn, int(e.args["id"]), "retired", amount)
        token = decode_id(int(e.args["id"]))
        self._stat("retired", token.pollutant, e.args["account"], e.block_time, amount)

    def _frozen(self, conn: Connection, e: DecodedEvent) -> None:
        row = {
            "account": e.args["holder"],
            "token_id": int(e.args["id"]),
            "balance": 0,
            "frozen_reason": e.args["reasonCode"],
        }
        upsert(conn, m.Holding, [row], ("account", "token_id"), replace=("frozen_reason",))

    def _released(self, conn: Connection, e: DecodedEvent) -> None:
        conn.execute(
            update(m.Holding)
            .where(m.Holding.account == e.args["holder"], m.Holding.token_id == int(e.args["id"]))
            .values(frozen_reason=None)
        )

    # ------------------------------------------------------------------ auctions

    def _auction(self, conn: Connection, e: DecodedEvent, **values: Any) -> None:
        conn.execute(update(m.Auction).where(m.Auction.auction_id == e.args["auctionId"]).values(**values))

    def _bid(self, conn: Connection, e: DecodedEvent, **values: Any) -> None:
        conn.execute(
            update(m.Bid)
            .where(m.Bid.auction_id == e.args["auctionId"], m.Bid.bidder == e.args["bidder"])
            .values(**values)
        )

    def _auction_created(self, conn: Connection, e: DecodedEvent) -> None:
        a, p = e.args, e.args["params"]
        self._auction_tokens[int(a["auctionId"])] = int(a["tokenId"])
        conn.execute(
            insert(m.Auction).values(
                auction_id=a["auctionId"],
                seller=a["seller"],
                token_id=int(a["tokenId"]),
                primary=a["primary"],
                supply=p["supply"],
                reserve_price=p["reservePrice"],
                purchase_limit=p["purchaseLimit"],
                commit_start=p["commitStart"],
                commit_end=p["commitEnd"],
                reveal_end=p["revealEnd"],
                forfeit_bps=p["forfeitBps"],
                price_rule=p["priceRule"],
                status="open",
                bidders=0,
                revealed=0,
                created_time=e.block_time,
            )
        )

    def _bid_committed(self, conn: Connection, e: DecodedEvent) -> None:
        a = e.args
        row = {
            "auction_id": a["auctionId"],
            "bidder": a["bidder"],
            "sequence": a["sequence"],
            "commitment": a["commitment"],
            "guarantee": _int64(a["guarantee"], "guarantee"),
            "committed_time": e.block_time,
            "revealed": False,
        }
        upsert(
            conn,
            m.Bid,
            [row],
            ("auction_id", "bidder"),
            replace=("sequence", "commitment", "guarantee", "committed_time"),
        )
        self._auction(conn, e, bidders=m.Auction.bidders + 1)

    def _bid_revealed(self, conn: Connection, e: DecodedEvent) -> None:
        a = e.args
        self._bid(
            conn,
            e,
            revealed=True,
            prices=a["prices"],
            quantities=a["quantities"],
            demand=_int64(a["demand"], "demand"),
        )
        self._auction(conn, e, revealed=m.Auction.revealed + 1)

    def _auction_cleared(self, conn: Connection, e: DecodedEvent) -> None:
        a = e.args
        self._auction(
            conn,
            e,
            status="cleared",
            clearing_price=a["price"],
            sold=a["sold"],
            unsold=a["unsold"],
            allocation_price=a["allocationPrice"],
        )

    def _auction_no_sale(self, conn: Connection, e: DecodedEvent) -> None:
        self._auction(conn, e, status="no_sale", sold=0, unsold=e.args["unsold"])

    def _claimed(self, conn: Connection, e: DecodedEvent) -> None:
        a = e.args
        payment = _int64(a["payment"], "payment")
        self._bid(conn, e, allocated=a["quantity"], payment=payment, refund=_int64(a["refund"], "refund"))
        token_id = self._auction_tokens.get(int(a["auctionId"]))
        if token_id is not None and payment:
            self._stat("auction_payment", decode_id(token_id).pollutant, a["bidder"], e.block_time, payment)

    def _refunded(self, conn: Connection, e: DecodedEvent) -> None:
        self._bid(
            conn, e, refund=_int64(e.args["refund"], "refund"), forfeit=_int64(e.args["forfeit"], "forfeit")
        )

    def _proceeds_withdrawn(self, conn: Connection, e: DecodedEvent) -> None:
        self._auction(conn, e, status="settled")

    # ------------------------------------------------------------------ attestations

    def _attestation_submitted(self, conn: Connection, e: DecodedEvent) -> None:
        a = e.args
        supersedes = None if int(a["supersedes"], 16) == 0 else a["supersedes"]
        conn.execute(
            insert(m.Attestation).values(
                attestation_id=a["id"],
                auditor=a["auditor"],
                enterprise=a["enterprise"],
                pollutant=a["pollutant"],
                year=a["year"],
                verified=_int64(a["verifiedEmissions"], "verified emissions"),
                offsets_eligible=_int64(a["offsetsEligible"], "offsets"),
                evidence=a["evidence"],
                report_hash=a["reportHash"],
                supersedes=supersedes,
                status="active",
                submitted_time=e.block_time,
            )
        )
        if supersedes is not None:
            conn.execute(
                update(m.Attestation)
                .where(m.Attestation.attestation_id == supersedes)
                .values(status="superseded", closed_time=e.block_time)
            )

    def _attestation_closed(self, conn: Connection, e: DecodedEvent, status: str) -> None:
        conn.execute(
            update(m.Attestation)
            .where(m.Attestation.attestation_id == e.args["id"])
            .values(
                status=status,
                reason_code=e.args["reasonCode"],
                reason=e.args["reason"],
                closed_time=e.block_time,
            )
        )

    def _attestation_revoked(self, conn: Connection, e: DecodedEvent) -> None:
        self._attestation_closed(conn, e, "revoked")

    def _attestation_rejected(self, conn: Connection, e: DecodedEvent) -> None:
        self._attestation_closed(conn, e, "rejected")

    # ------------------------------------------------------------------ compliance

    def _year_configured(self, conn: Connection, e: DecodedEvent) -> None:
        a = e.args
        row = {
            "year": a["year"],
            "offset_cap_bps": a["offsetCapBps"],
            "make_good_bps": a["makeGoodBps"],
            "fine_per_tonne": _int64(a["finePerTonne"], "fine"),
            "no_report_fine": _int64(a["noReportFine"], "fine"),
        }
        upsert(
            conn,
            m.ComplianceYear,
            [row],
            ("year",),
            replace=("offset_cap_bps", "make_good_bps", "fine_per_tonne", "no_report_fine"),
        )

    def _notice(self, conn: Connection, e: DecodedEvent, **values: Any) -> None:
        conn.execute(
            update(m.Notice)
            .where(m.Notice.enterprise == e.args["enterprise"], m.Notice.year == e.args["year"])
            .values(**values)
        )

    def _notice_issued(self, conn: Connection, e: DecodedEvent) -> None:
        a = e.args
        row = {
            "enterprise": a["enterprise"],
            "year": a["year"],
            "pollutant": a["pollutant"],
            "allocated": _int64(a["allocated"], "allocated"),
            "rules_hash": a["rulesHash"],
            "submission_deadline": a["submissionDeadline"],
            "ack_deadline": a["ackDeadline"],
            "issued_time": e.block_time,
        }
        upsert(
            conn,
            m.Notice,
            [row],
            ("enterprise", "year"),
            replace=(
                "pollutant",
                "allocated",
                "rules_hash",
                "submission_deadline",
                "ack_deadline",
                "issued_time",
            ),
        )

    def _notice_acknowledged(self, conn: Connection, e: DecodedEvent) -> None:
        self._notice(conn, e, acknowledged_time=e.args["acknowledgedAt"], late=e.args["late"])

    def _application_submitted(self, conn: Connection, e: DecodedEvent) -> None:
        a = e.args
        conn.execute(
            insert(m.Application).values(
                application_id=a["applicationId"],
                enterprise=a["enterprise"],
                year=a["year"],
                attestation_id=a["input"]["attestationId"],
                verified=_int64(a["verified"], "verified"),
                offsets=_int64(a["offsets"], "offsets"),
                allowances=_int64(a["allowances"], "allowances"),
                surrender=a["input"],
                status="submitted",
                submitted_time=e.block_time,
            )
        )

    def _application(self, conn: Connection, e: DecodedEvent, **values: Any) -> None:
        conn.execute(
            update(m.Application)
            .where(m.Application.application_id == e.args["applicationId"])
            .values(decided_time=e.block_time, **values)
        )

    def _application_approved(self, conn: Connection, e: DecodedEvent) -> None:
        self._application(
            conn,
            e,
            status="approved",
            surrendered=_int64(e.args["surrendered"], "surrendered"),
            uncovered=_int64(e.args["uncovered"], "uncovered"),
        )

    def _application_rejected(self, conn: Connection, e: DecodedEvent) -> None:
        self._application(
            conn, e, status="rejected", reason_code=e.args["reasonCode"], reason=e.args["reason"]
        )

    def _obligation_finalized(self, conn: Connection, e: DecodedEvent) -> None:
        a = e.args
        values = {k: _int64(a[k], k) for k in ("verified", "surrendered", "shortfall", "fine")}
        self._notice(conn, e, outcome=a["outcome"], make_good=_int64(a["makeGood"], "make-good"), **values)
        pollutant = (
            conn.execute(
                select(m.Notice.pollutant).where(
                    m.Notice.enterprise == a["enterprise"], m.Notice.year == a["year"]
                )
            ).scalar()
            or 0
        )
        periods = (("year", str(a["year"])),)
        self._stat("obligations", pollutant, a["enterprise"], e.block_time, 1, periods)
        self._stat("compliant", pollutant, a["enterprise"], e.block_time, int(a["outcome"] == 1), periods)

    def _penalty_paid(self, conn: Connection, e: DecodedEvent) -> None:
        self._notice(conn, e, fine_paid=_int64(e.args["amount"], "fine"))


def pollutant_symbols() -> Mapping[int, str]:
    """AllowanceToken pollutant code → symbol (``{1: "CO2", ...}``)."""
    return {code: symbol for symbol, code in POLLUTANTS.items()}
