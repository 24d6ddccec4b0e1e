"""Settlement's rules: the movement types in report order, the exchange fee of a movement and the
day's totals per movement type."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import NamedTuple, Protocol

from domain.tokens import CASH_ID
from domain.units import BPS, Fen

#: Movement types, in report order. ``freeze`` rows move nothing (a freeze or a release).
MOVEMENT_TYPES = (
    "allocation",
    "transfer",
    "auction_purchase",
    "auction_sale",
    "trade_buy",
    "trade_sell",
    "block_buy",
    "block_sell",
    "trade_fee",
    "market_escrow",
    "deposit",
    "withdrawal",
    "surrender",
    "penalty",
    "freeze",
)


#: The exchange market's movement types: a fill's legs (:func:`fill_legs`) and the escrow the
#: Market holds for an account's open orders and block proposals (what its legs with the Market
#: leave once the fills are taken out).
MARKET_TYPES = ("trade_buy", "trade_sell", "block_buy", "block_sell", "trade_fee", "market_escrow")


class FillLeg(NamedTuple):
    """One account's side of a fill in one id: ``(account, token_id, movement, inflow, outflow)``."""

    account: str
    token_id: int
    movement: str
    inflow: int
    outflow: int


def fill_legs(
    *,
    token_id: int,
    buyer: str,
    seller: str,
    fee_account: str,
    quantity: int,
    value: int,
    buyer_fee: int,
    seller_fee: int,
    block: bool,
) -> tuple[FillLeg, ...]:
    """The settlement legs of one fill (``TradeExecuted``): the buyer receives ``quantity`` and pays
    ``value`` plus its fee, the seller delivers ``quantity`` and receives ``value`` less its fee
    (``trade_*``, or ``block_*`` for a block trade), and the fee account receives both fees
    (``trade_fee``). The legs of one id sum to zero with the fee account's: delivery versus payment."""
    buy, sell = ("block_buy", "block_sell") if block else ("trade_buy", "trade_sell")
    legs = [
        FillLeg(buyer, token_id, buy, quantity, 0),
        FillLeg(buyer, CASH_ID, buy, 0, value + buyer_fee),
        FillLeg(seller, token_id, sell, 0, quantity),
        FillLeg(seller, CASH_ID, sell, value - seller_fee, 0),
    ]
    if buyer_fee + seller_fee:
        legs.append(FillLeg(fee_account, CASH_ID, "trade_fee", buyer_fee + seller_fee, 0))
    return tuple(legs)


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
