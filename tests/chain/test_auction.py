"""Sealed-bid commitments (chain.auction.commitment)."""

from __future__ import annotations

import pytest

from chain.auction import commitment
from domain.errors import AuctionInputError


def test_commitment_refuses_short_salt() -> None:
    with pytest.raises(AuctionInputError, match="32 bytes"):
        commitment(1, "0x" + "11" * 20, ((5, 1),), b"short")
