"""Typed client of the EmissionsLedger: its anchoring functions (:mod:`chain.anchoring`) and its
attestation functions (:mod:`chain.attestations`) on one contract handle."""

from __future__ import annotations

from chain.anchoring import AnchoringClient
from chain.attestations import AttestationsClient


class LedgerClient(AnchoringClient, AttestationsClient):
    """Client of one deployed EmissionsLedger."""


__all__ = ["LedgerClient"]
