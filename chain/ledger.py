"""Typed client of the EmissionsLedger: its anchoring functions (:mod:`chain.anchoring`), its
attestation functions (:mod:`chain.attestations`) and its review functions (:mod:`chain.review`)
on one contract handle."""

from __future__ import annotations

from chain.anchoring import AnchoringClient
from chain.attestations import AttestationsClient
from chain.review import ReviewClient


class LedgerClient(AnchoringClient, AttestationsClient, ReviewClient):
    """Client of one deployed EmissionsLedger."""


__all__ = ["LedgerClient"]
