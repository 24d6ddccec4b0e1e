"""Projections of SealedBidAuction: auctions (and the named bidders of a restricted primary
auction), bids, clearing, claims, refunds and proceeds."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, insert, update

from chain.events import DecodedEvent
from domain.tokens import decode_id
from readmodel import models as m
from readmodel.bulk import upsert
from readmodel.indexer.projection import Handlers, Projection, int64


def _auction(conn: Connection, e: DecodedEvent, **values: Any) -> None:
    conn.execute(update(m.Auction).where(m.Auction.auction_id == e.args["auctionId"]).values(**values))


def _bid(conn: Connection, e: DecodedEvent, **values: Any) -> None:
    conn.execute(
        update(m.Bid)
        .where(m.Bid.auction_id == e.args["auctionId"], m.Bid.bidder == e.args["bidder"])
        .values(**values)
    )


def _auction_created(p: Projection, conn: Connection, e: DecodedEvent) -> None:
    a, params = e.args, e.args["params"]
    p.auction_tokens[int(a["auctionId"])] = int(a["tokenId"])
    conn.execute(
        insert(m.Auction).values(
            auction_id=a["auctionId"],
            seller=a["seller"],
            token_id=int(a["tokenId"]),
            primary=a["primary"],
            supply=params["supply"],
            reserve_price=params["reservePrice"],
            purchase_limit=params["purchaseLimit"],
            commit_start=params["commitStart"],
            commit_end=params["commitEnd"],
            reveal_end=params["revealEnd"],
            forfeit_bps=params["forfeitBps"],
            price_rule=params["priceRule"],
            status="open",
            bidders=0,
            revealed=0,
            created_time=e.block_time,
        )
    )


def _auction_restricted(p: Projection, conn: Connection, e: DecodedEvent) -> None:
    bidders = [
        {"auction_id": e.args["auctionId"], "bidder": b, "position": i}
        for i, b in enumerate(e.args["bidders"])
    ]
    conn.execute(insert(m.AuctionBidder), bidders)
    _auction(conn, e, restricted=True)


def _bid_committed(p: Projection, conn: Connection, e: DecodedEvent) -> None:
    a = e.args
    row = {
        "auction_id": a["auctionId"],
        "bidder": a["bidder"],
        "sequence": a["sequence"],
        "commitment": a["commitment"],
        "guarantee": int64(a["guarantee"], "guarantee"),
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
    _auction(conn, e, bidders=m.Auction.bidders + 1)


def _bid_revealed(p: Projection, conn: Connection, e: DecodedEvent) -> None:
    a = e.args
    _bid(
        conn,
        e,
        revealed=True,
        prices=a["prices"],
        quantities=a["quantities"],
        demand=int64(a["demand"], "demand"),
    )
    _auction(conn, e, revealed=m.Auction.revealed + 1)


def _auction_cleared(p: Projection, conn: Connection, e: DecodedEvent) -> None:
    a = e.args
    _auction(
        conn,
        e,
        status="cleared",
        clearing_price=a["price"],
        sold=a["sold"],
        unsold=a["unsold"],
        allocation_price=a["allocationPrice"],
    )


def _auction_no_sale(p: Projection, conn: Connection, e: DecodedEvent) -> None:
    _auction(conn, e, status="no_sale", sold=0, unsold=e.args["unsold"])


def _claimed(p: Projection, conn: Connection, e: DecodedEvent) -> None:
    a = e.args
    payment = int64(a["payment"], "payment")
    _bid(conn, e, allocated=a["quantity"], payment=payment, refund=int64(a["refund"], "refund"))
    token_id = p.auction_tokens.get(int(a["auctionId"]))
    if token_id is not None and payment:
        p.stat("auction_payment", decode_id(token_id).pollutant, a["bidder"], e.block_time, payment)


def _refunded(p: Projection, conn: Connection, e: DecodedEvent) -> None:
    _bid(conn, e, refund=int64(e.args["refund"], "refund"), forfeit=int64(e.args["forfeit"], "forfeit"))


def _proceeds_withdrawn(p: Projection, conn: Connection, e: DecodedEvent) -> None:
    _auction(conn, e, status="settled")


HANDLERS: Handlers = {
    ("SealedBidAuction", "AuctionCreated"): _auction_created,
    ("SealedBidAuction", "AuctionRestricted"): _auction_restricted,
    ("SealedBidAuction", "BidCommitted"): _bid_committed,
    ("SealedBidAuction", "BidRevealed"): _bid_revealed,
    ("SealedBidAuction", "AuctionCleared"): _auction_cleared,
    ("SealedBidAuction", "AuctionNoSale"): _auction_no_sale,
    ("SealedBidAuction", "AllowancesClaimed"): _claimed,
    ("SealedBidAuction", "GuaranteeRefunded"): _refunded,
    ("SealedBidAuction", "ProceedsWithdrawn"): _proceeds_withdrawn,
}
