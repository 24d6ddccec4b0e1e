"""Typed client of the EmissionsLedger: its anchoring functions (:mod:`chain.anchoring`) and its
attestation functions (:mod:`chain.attestations`) on one contract handle."""

from __future__ import annotations

from chain.anchoring import AnchoringClient
from chain.attestations import AttestationsClient
from chain.tx import ChainClient


class LedgerClient(AnchoringClient, AttestationsClient):
    """Client of one deployed EmissionsLedger."""

    def __init__(self, chain: ChainClient, address: str, *, from_block: int = 0) -> None:
        super().__init__(chain, address, from_block=from_block)


__all__ = ["LedgerClient"]
