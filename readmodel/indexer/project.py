"""Projections: a page of decoded contract events applied to the read model in one transaction.

Every event is stored with its parties; the ones with a handler (keyed by (contract, event) in
:data:`readmodel.indexer.projections.HANDLERS`, one module per contract) are projected too. Hot
events (transfers, anchored batches) are gathered per page and written with one ``executemany``
per table; balances and statistics are summed in memory and upserted once per key. Rare events
(auctions, notices, governance) update their row directly.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, select

from chain.events import DecodedEvent
from domain.tokens import CASH_ID
from readmodel import models as m
from readmodel.bulk import bulk_insert, upsert
from readmodel.indexer.projection import Projection, int64
from readmodel.indexer.projections import HANDLERS
from readmodel.totals import TOTAL_KEY, derive_totals

logger = logging.getLogger(__name__)


class Projector(Projection):
    """Applies pages of events to the read model; keeps the enterprise profiles it needs to
    attribute statistics to regions and industries.

    Args:
        system: addresses of the suite's contracts: transfers to or from them are escrow
            (auction guarantees and lots, compliance applications), not trades.
        auction_house: address of the SealedBidAuction: its deliveries to buyers are trades.
    """

    def apply(self, conn: Connection, events: Sequence[DecodedEvent]) -> None:
        """Write ``events`` (in chain order) and their projections on ``conn`` (the caller's
        transaction).

        Raises:
            ReadModelError: a quantity does not fit the read model.
        """
        if not events:
            return
        if self.profiles is None:
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
            handler = HANDLERS.get((event.contract, event.name))
            if handler is not None:
                handler(self, conn, event)
        bulk_insert(conn, m.EventParty, parties)
        self._flush(conn)

    def _token_of(self, event: DecodedEvent) -> int | None:
        if event.contract == "AllowanceToken" and "id" in event.args:
            return int64(event.args["id"], "token id")
        if "tokenId" in event.args:
            return int64(event.args["tokenId"], "token id")
        if event.name == "TransferBatch" and len(set(event.args["ids"])) == 1:
            return int(event.args["ids"][0])
        if event.contract == "SettlementToken" and event.name == "Transfer":
            return CASH_ID
        if event.contract == "SealedBidAuction" and "auctionId" in event.args:
            return self.auction_tokens.get(int(event.args["auctionId"]))
        return None

    def _flush(self, conn: Connection) -> None:
        for state in self.page_states.values():
            state.flush(conn)
        bulk_insert(conn, m.Transfer, self.transfers)
        bulk_insert(conn, m.Batch, self.batches)
        holdings = [{"account": a, "token_id": t, "balance": d} for (a, t), d in self.holdings.items() if d]
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
            for (g, metric, p, period, who), v in self.rollups.items()
        ]
        upsert(
            conn,
            m.StatRollup,
            rollups,
            ("grain", "metric", "pollutant", "period", "enterprise"),
            add=("value", "count"),
        )
        upsert(conn, m.StatTotal, derive_totals(self.rollups), TOTAL_KEY, add=("value", "count"))
        self._reset_page()

    def _load(self, conn: Connection) -> None:
        self.profiles = {
            row.address: (row.region_code, row.industry_code)
            for row in conn.execute(
                select(m.Participant.address, m.Participant.region_code, m.Participant.industry_code)
            )
        }
        self.auction_tokens = {
            int(a): int(t) for a, t in conn.execute(select(m.Auction.auction_id, m.Auction.token_id))
        }
