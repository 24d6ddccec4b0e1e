"""Settlement's rules: the movement types in report order, the exchange fee of a movement and the
day's totals per movement type."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from domain.tokens import CASH_ID
from domain.units import BPS, Fen

#: Movement types, in report order. ``freeze`` rows move nothing (a freeze or a release).
MOVEMENT_TYPES = (
    "allocation",
    "transfer",
    "auction_purchase",
    "auction_sale",
    "deposit",
    "withdrawal",
    "surrender",
    "penalty",
    "freeze",
)


class FeeRateLike(Protocol):
    """An exchange fee rate on one movement type (``settlement.config.FeeRate``)."""

    @property
    def per_tonne(self) -> int: ...

    @property
    def bps(self) -> int: ...


def movement_fee(token_id: int, gross: int, rate: FeeRateLike) -> Fen:
    """The fee on ``gross`` moved (inflow plus outflow) in ``token_id``: ``rate.bps`` of cash
    (fen, rounded down), ``rate.per_tonne`` fen per allowance unit."""
    if token_id == CASH_ID:
        return Fen(gross * int(rate.bps) // BPS)
    return Fen(gross * int(rate.per_tonne))


@dataclass(frozen=True)
class MovementTotal:
    """The day's movements of one type.

    Attributes:
        movement: the movement type.
        legs: account legs (a transfer between two accounts has two, a mint or burn one).
        allowances: allowance and offset units moved (tonnes), all ids together.
        cash: settlement cash moved (fen).
    """

    movement: str
    legs: int
    allowances: int
    cash: int


def movement_totals(rows: Iterable[tuple[int, str, int, int, int]]) -> list[MovementTotal]:
    """Totals per movement type in report order (unknown types after, sorted), from
    ``(token_id, movement, legs, inflow, outflow)`` per id: legs summed, and the larger of the
    gross inflow and outflow (so a transfer counts once), allowances and cash apart."""
    legs: dict[str, int] = {}
    units: dict[str, int] = {}
    cash: dict[str, int] = {}
    for token_id, movement, count, inflow, outflow in rows:
        legs[movement] = legs.get(movement, 0) + count
        moved = max(inflow, outflow)
        if token_id == CASH_ID:
            cash[movement] = cash.get(movement, 0) + moved
        else:
            units[movement] = units.get(movement, 0) + moved
    order = [*MOVEMENT_TYPES, *sorted(set(legs) - set(MOVEMENT_TYPES))]
    return [MovementTotal(m, legs[m], units.get(m, 0), cash.get(m, 0)) for m in order if legs.get(m, 0)]
