"""Event handlers, one module per contract, keyed by (contract, event) in :data:`HANDLERS`."""

from __future__ import annotations

from readmodel.indexer.projection import Handlers
from readmodel.indexer.projections import (
    auction,
    cards,
    compliance,
    ledger,
    market,
    permits,
    plans,
    registry,
    reserve,
    tokens,
)

#: Every projected (manifest contract name, event name) → its handler; other events are only logged.
HANDLERS: Handlers = (
    registry.HANDLERS
    | tokens.HANDLERS
    | auction.HANDLERS
    | ledger.HANDLERS
    | compliance.HANDLERS
    | market.HANDLERS
    | plans.HANDLERS
    | permits.HANDLERS
    | reserve.HANDLERS
    | cards.HANDLERS
)
