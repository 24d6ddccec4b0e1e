"""Exchange market trading rules in pure Python: bands, fees, the opening call auction, the close, and
``MarketEngine``, the reference engine the Market contract is tested against (one token id, one day).

The rules (also in ``IMarket``'s NatSpec and the README):

1. Prices are integer fen per tonne (1 .. 2^48 - 1), quantities whole tonnes (1 .. 2^64 - 1);
   value = price × quantity.
2. Band: with reference r and band b bps, lower = ceil(r × (10000 − b) / 10000), upper =
   floor(r × (10000 + b) / 10000); a listing order outside [lower, upper] is refused, and so is a
   listing order of block size (quantity ≥ block minimum) or more.
3. Continuous: an incoming order matches the resting orders of the other side it crosses, best
   price first, earlier first at a price; each fill is at the resting order's price; the remainder
   rests with its time priority.
4. Opening call: orders placed in the call phase are collected, not matched. ``uncross_price``
   chooses, over every limit price P in the call book, the P maximising V = min(B(P), S(P)), then
   the smallest |B − S|, then the smallest |P − reference|, then the higher P; no uncrossing when
   V = 0. ``call_pairs`` pairs buys (price descending, then time) with sells (price ascending, then
   time) at P until V is filled, one fill per pair; remainders rest with their time priority.
5. Take: fill part or all of a resting order at its price if that price is among the best five
   distinct levels of its side; not in the call phase; not more than remains; not one's own order.
6. Block: quantity ≥ block minimum, price within the block band, seller ≠ buyer, executed DvP at
   once; excluded from the open and close prices; not in the call phase.
7. Fee = floor(value × fee_bps / 10000) per side per fill, both to the fee account.
8. Open price = the uncrossing price (V > 0), else the first listing trade's price, else None.
   Close = the volume-weighted average of the day's listing trades (call, continuous, takes),
   rounded half up: (2 × turnover + volume) // (2 × volume); the reference price without trades.
9. Escrow: a resting buy holds price × remaining + fee(price × original) minus the buyer fees its
   fills paid; a call buy filled at P below its limit gets (limit − P) × quantity back at the fill,
   so that formula always holds; the leftover fee reserve returns when the order completes, is
   cancelled or expires. A resting sell holds its remaining allowances. An incoming order pays its
   immediate fills directly and escrows only what rests.
10. Funds: a buy (order, take of a sell, block acceptance) needs cash ≥ price × quantity +
    fee(price × quantity) at its limit (the taken order's price for a take).
11. T+1: sellable = allowances held − allowances bought today (any mode).
12. Self-trade: an order crossing the trader's own resting order of the other side is refused whole,
    naming the lowest such order id; a take of one's own order names it; a block with itself names 0.
13. At most ``MAX_OPEN_ORDERS`` open orders per trader and side, counted before the order matches.
14. Position limit: with ``position_limit`` and/or ``position_limit_bps`` set, the limit is the
    smaller of the set ones (``position_limit(rules, issued)``, the share taken of the id's quantity
    in circulation, floored); a buy (order, take of a sell, block acceptance) is refused whole when
    allowances held + the remaining quantity of the trader's open buy orders + its quantity exceeds
    it (``MarketPositionLimit`` naming that sum and the limit).
15. Discharge permits: while permits are wired, a buy (order, take of a sell, block acceptance) of
    a gated pollutant (every one but CO2) by an enterprise whose permit for it is not valid now is
    refused whole (``MarketPermitNotValid(account, pollutant)``), after the funds check and before
    the position limit; checked at entry only (a resting buy still fills). The engine takes the
    traders without a valid permit as an input (``no_permit``).

Check order of ``MarketEngine.place`` (first failing check wins, as in the contract): trader known
(``MarketNotTrader``, the contract's role check) → day not expired (``MarketOutsideSession``) →
quantity zero → quantity ≥ block minimum (which also refuses quantities above 2^64 − 1) →
price 0 or > 2^48 − 1 (``MarketPriceInvalid``) → band → self-trade → open-order cap → funds →
a buy's permit → a buy's position limit.
``take``: trader → order open → call phase (``MarketOutsideSession``) → quantity zero → own order →
best five levels → remaining (which also refuses quantities above 2^64 − 1) → funds → a buyer's
permit → a buyer's position limit. A negative quantity (impossible on chain) raises
``MarketQuantityInvalid`` right after the zero check.
``block``: seller → call phase → seller == buyer → buyer known → below minimum → quantity invalid →
price invalid → block band → seller's sellable allowances → buyer's cash → buyer's permit → buyer's
position limit.
``cancel``: trader → order open → owner.

What the engine does not model: token ids, roles, sessions and clocks, halts, paged uncrossing,
block proposals as two steps, and holders outside the day's traders (the quantity in circulation
the position limit's share is taken of is an input, ``issued``). Errors that carry a token id or a
time of day get ``token_id`` (0 by default) and ``tod`` 0; differential tests compare error names,
and the arguments the engine has (prices, band, quantities, order ids, needed/available cash,
sellable allowances, positions and limits). Time priority is arrival order, which is id order
whenever ids increase, as the contract's global counter does.
"""

from __future__ import annotations

import enum
from bisect import bisect_left, insort
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import astuple, dataclass
from typing import NamedTuple

from domain.errors import (
    InvalidInputError,
    MarketBlockBelowMinimum,
    MarketInsufficientAllowances,
    MarketInsufficientCash,
    MarketListingTooLarge,
    MarketNotOrderOwner,
    MarketNotTrader,
    MarketOrderNotOpen,
    MarketOutsideSession,
    MarketPermitNotValid,
    MarketPositionLimit,
    MarketPriceInvalid,
    MarketPriceOutsideBand,
    MarketQuantityInvalid,
    MarketQuantityZero,
    MarketRulebookInvalid,
    MarketSelfTrade,
    MarketTakeExceedsRemaining,
    MarketTakeOutsideBestLevels,
    MarketTooManyOrders,
)
from domain.units import BPS, UINT16_MAX, UINT32_MAX, UINT64_MAX

#: Highest price in fen per tonne (the contract packs prices in 48 bits).
MAX_PRICE = 2**48 - 1
#: Highest quantity in tonnes.
MAX_QUANTITY = UINT64_MAX
#: Open orders per trader (account), token id and side.
MAX_OPEN_ORDERS = 200
#: A take must hit one of this many best distinct price levels of the taken order's side.
BEST_LEVELS = 5
#: Seconds in a day (the last possible ``close2``).
DAY_SECONDS = 86_400


class Side(enum.IntEnum):
    """Order side (the contract's ``Side``)."""

    BUY = 0
    SELL = 1


class TradeMode(enum.IntEnum):
    """How a trade came about (the contract's ``TradeMode``)."""

    CALL = 0
    CONTINUOUS = 1
    TAKE = 2
    BLOCK = 3


@dataclass(frozen=True, slots=True)
class Rulebook:
    """A token id's trading rules (the contract's ``Rulebook``, same fields and order, snake_case).

    Times are seconds of the day in China Standard Time; the call phase is [call_start, open1).
    ``position_limit`` (tonnes) and ``position_limit_bps`` (share of the id's quantity in
    circulation) are rule 14's limits, 0 for none; ``governed`` rulebooks change only through
    registry governance.
    """

    reference_price: int
    band_bps: int = 1000
    block_band_bps: int = 3000
    fee_bps: int = 0
    block_minimum: int = 100_000
    call_start: int = 33_300
    open1: int = 34_200
    close1: int = 41_400
    open2: int = 46_800
    close2: int = 54_000
    block_from: int = 46_800
    position_limit: int = 0
    position_limit_bps: int = 0
    governed: bool = False

    def validate(self, token_id: int = 0) -> Rulebook:
        """``self`` if it holds the contract's bounds, else raise ``MarketRulebookInvalid(token_id)``.

        Bounds: 0 < reference_price ≤ 2^48 − 1; band_bps, block_band_bps ≤ 10000; fee_bps ≤ 1000;
        1 ≤ block_minimum ≤ 2^64 − 1; call_start ≤ open1 < close1 ≤ open2 < close2 ≤ 86400;
        open1 ≤ block_from < close2; position_limit ≤ 2^64 − 1; position_limit_bps ≤ 10000;
        governed a bool.
        """
        values = astuple(self)[:-1]
        ok = all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in values) and (
            isinstance(self.governed, bool)
            and self.position_limit <= MAX_QUANTITY
            and self.position_limit_bps <= BPS
            and 0 < self.reference_price <= MAX_PRICE
            and self.band_bps <= BPS
            and self.block_band_bps <= BPS
            and self.fee_bps <= 1000
            and 1 <= self.block_minimum <= MAX_QUANTITY
            and self.call_start <= self.open1 < self.close1 <= self.open2 < self.close2 <= DAY_SECONDS
            and self.open1 <= self.block_from < self.close2
        )
        if not ok:
            raise MarketRulebookInvalid(token_id)
        return self

    def as_tuple(self) -> tuple[int, ...]:
        """The fields in the contract struct's order (ABI-encodable as ``Rulebook``)."""
        return astuple(self)

    @property
    def limited(self) -> bool:
        """Whether rule 14 applies: a position limit (tonnes or share) is set."""
        return bool(self.position_limit or self.position_limit_bps)

    @property
    def band(self) -> tuple[int, int]:
        """The listing band (lower, upper) around the reference price."""
        return band(self.reference_price, self.band_bps)

    @property
    def block_band(self) -> tuple[int, int]:
        """The block band (lower, upper) around the reference price."""
        return band(self.reference_price, self.block_band_bps)


assert UINT16_MAX >= BPS and UINT32_MAX >= DAY_SECONDS  # the struct's widths hold every valid value


class Holding(NamedTuple):
    """Cash (fen) and allowances (t) of one trader, or held in escrow by the market."""

    cash: int
    allowances: int


class CallResult(NamedTuple):
    """The opening call's uncrossing: price P and volume V (both 0 when there is no uncrossing)."""

    price: int
    volume: int


class Fill(NamedTuple):
    """One trade (the contract's ``TradeExecuted``): for a take, the take id stands for the taker's
    side; for a block, the block id for both sides."""

    buy_id: int
    sell_id: int
    buyer: str
    seller: str
    price: int
    quantity: int
    buyer_fee: int
    seller_fee: int
    mode: TradeMode


class OrderView(NamedTuple):
    """An order as the contract's ``order(orderId)`` view shows it (without the token id)."""

    owner: str
    side: Side
    price: int
    quantity: int
    remaining: int
    escrow: int
    open: bool
    call_phase: bool


#: China Standard Time's offset from UTC: the contract's trading day is a CST date.
CST_OFFSET = 8 * 3600


def trading_day(timestamp: int) -> tuple[int, int]:
    """``(day, time of day)`` of a unix time in China Standard Time, as the contract counts them:
    ``day = (timestamp + 8 h) // 1 day`` (days since 1970-01-01), time of day in seconds."""
    shifted = timestamp + CST_OFFSET
    return shifted // DAY_SECONDS, shifted % DAY_SECONDS


def cst_time(day: int, time_of_day: int) -> int:
    """The unix time of ``time_of_day`` seconds into trading day ``day`` (CST)."""
    return day * DAY_SECONDS + time_of_day - CST_OFFSET


def is_weekday(day: int) -> bool:
    """True if trading day ``day`` is Monday to Friday (day 0, 1970-01-01, was a Thursday)."""
    return (day + 3) % 7 < 5


def next_weekday_at(after: int, time_of_day: int) -> int:
    """The first unix time strictly after ``after`` that is ``time_of_day`` on a CST weekday."""
    day, _ = trading_day(after)
    while not is_weekday(day) or cst_time(day, time_of_day) <= after:
        day += 1
    return cst_time(day, time_of_day)


def band(reference: int, bps: int) -> tuple[int, int]:
    """Rule 2: (ceil(r × (10000 − b) / 10000), floor(r × (10000 + b) / 10000))."""
    return -(-reference * (BPS - bps) // BPS), reference * (BPS + bps) // BPS


def position_limit(rules: Rulebook, issued: int) -> int:
    """Rule 14: the smaller of the rulebook's set limits, ``position_limit`` and
    floor(``issued`` × ``position_limit_bps`` / 10000) (``issued``: the token id's quantity in
    circulation, ``AllowanceToken.totalSupply``); 0 when neither is set."""
    limit = rules.position_limit
    if rules.position_limit_bps:
        share = issued * rules.position_limit_bps // BPS
        if not limit or share < limit:
            limit = share
    return limit


def check_position(
    rules: Rulebook, issued: int, account: str, token_id: int, held: int, open_buys: int, quantity: int
) -> None:
    """Rule 14: refuse a buy of ``quantity`` by ``account`` holding ``held`` with ``open_buys``
    remaining on its open buy orders when the sum passes the limit (nothing to check without one).

    Raises:
        MarketPositionLimit: ``(account, token_id, held + open_buys + quantity, limit)``.
    """
    if not rules.limited:
        return
    limit = position_limit(rules, issued)
    position = held + open_buys + quantity
    if position > limit:
        raise MarketPositionLimit(account, token_id, position, limit)


def fee(value: int, bps: int) -> int:
    """Rule 7: floor(value × bps / 10000), charged per side per fill."""
    return value * bps // BPS


def vwap_close(trades: Iterable[tuple[int, int]], reference: int) -> int:
    """Rule 8: the half-up volume-weighted average of ``(price, quantity)`` trades; ``reference``
    without any (pass listing trades only: blocks are excluded from the close)."""
    turnover = volume = 0
    for price, quantity in trades:
        turnover += price * quantity
        volume += quantity
    return _half_up_average(turnover, volume, reference)


def _half_up_average(turnover: int, volume: int, reference: int) -> int:
    """turnover / volume rounded half up to the fen, ``reference`` when volume is 0."""
    return (2 * turnover + volume) // (2 * volume) if volume else reference


def uncross_price(
    bids: Iterable[tuple[int, int]], asks: Iterable[tuple[int, int]], reference: int
) -> CallResult:
    """Rule 4: the call auction's uncrossing over ``(price, quantity)`` bids and asks (any order).

    Candidates are every limit price (of an entry with quantity > 0); P maximises V = min(B(P),
    S(P)) with B(P) = bid quantity at prices ≥ P and S(P) = ask quantity at prices ≤ P; ties go to
    the smallest |B − S|, then the smallest |P − reference|, then the higher P. O(n log n).

    Returns:
        ``CallResult(P, V)``, or ``CallResult(0, 0)`` when V = 0 (or the book is empty).
    """
    bid_at: dict[int, int] = {}
    ask_at: dict[int, int] = {}
    for price, quantity in bids:
        if quantity > 0:
            bid_at[price] = bid_at.get(price, 0) + quantity
    for price, quantity in asks:
        if quantity > 0:
            ask_at[price] = ask_at.get(price, 0) + quantity
    if not bid_at or not ask_at:
        return CallResult(0, 0)
    prices = sorted(bid_at.keys() | ask_at.keys())
    # S(P) ascending; B(P) = total bids − bids strictly below P.
    total_bids = sum(bid_at.values())
    below = sells = 0
    best: tuple[int, int, int, int] | None = None
    for price in prices:
        sells += ask_at.get(price, 0)
        buys = total_bids - below
        below += bid_at.get(price, 0)
        volume = min(buys, sells)
        key = (volume, -abs(buys - sells), -abs(price - reference), price)
        if best is None or key > best:
            best = key
    assert best is not None
    return CallResult(best[3], best[0]) if best[0] > 0 else CallResult(0, 0)


def call_pairs(
    bids: Iterable[tuple[int, int, int]], asks: Iterable[tuple[int, int, int]], result: CallResult
) -> list[tuple[int, int, int]]:
    """Rule 4's pairing: the fills ``(buy_id, sell_id, quantity)`` of the uncrossing ``result``, in
    execution order, from ``(order_id, price, quantity)`` bids and asks (any order; ids give time
    priority). Empty when there is no uncrossing."""
    price, volume = result
    if volume <= 0:
        return []
    buys = sorted((-p, i, q) for i, p, q in bids if p >= price and q > 0)
    sells = sorted((p, i, q) for i, p, q in asks if p <= price and q > 0)
    pairs: list[tuple[int, int, int]] = []
    b = s = 0
    buy_left = buys[0][2] if buys else 0
    sell_left = sells[0][2] if sells else 0
    done = 0
    while done < volume:
        quantity = min(buy_left, sell_left, volume - done)
        pairs.append((buys[b][1], sells[s][1], quantity))
        done += quantity
        buy_left -= quantity
        sell_left -= quantity
        if buy_left == 0 and done < volume:
            b += 1
            buy_left = buys[b][2]
        if sell_left == 0 and done < volume:
            s += 1
            sell_left = sells[s][2]
    return pairs


class _Account:
    """A trader's balances and open orders (mutable, engine-internal)."""

    __slots__ = ("allowances", "bought", "buy_prices", "buys", "cash", "name", "sell_prices", "sells")

    def __init__(self, name: str, cash: int, allowances: int) -> None:
        self.name = name
        self.cash = cash
        self.allowances = allowances
        self.bought = 0
        self.buys: dict[int, _Order] = {}
        self.sells: dict[int, _Order] = {}
        self.buy_prices: list[int] = []  # sorted, one entry per open order (self-trade scan)
        self.sell_prices: list[int] = []


class _Order:
    """A resting or closed order (mutable, engine-internal)."""

    __slots__ = ("account", "call", "escrow", "id", "open", "price", "quantity", "remaining", "side")

    def __init__(
        self, order_id: int, account: _Account, side: int, price: int, quantity: int, remaining: int,
        escrow: int, call: bool,
    ) -> None:  # fmt: skip
        self.id = order_id
        self.account = account
        self.side = side
        self.price = price
        self.quantity = quantity
        self.remaining = remaining
        self.escrow = escrow
        self.call = call
        self.open = True


class MarketEngine:
    """The market of one token id for one trading day, in pure Python (the rules above).

    Args:
        rules: the token id's rulebook (validated: ``MarketRulebookInvalid``).
        accounts: trader name → start-of-day ``Holding`` (allowances held from before the day).
        call_phase: True to start in the opening call (orders collected until ``open()``), False to
            start in continuous trading.
        token_id: only reported in errors' arguments (the engine models a single token id).
        issued: the token id's quantity in circulation (``AllowanceToken.totalSupply``) the
            position limit's share is taken of (rule 14); default: the traders' allowances.
        no_permit: traders whose discharge permit for the token id's gated pollutant is not valid
            (rule 15: their buys are refused); the caller decides (``IDischargePermits.mayTrade``).

    Ids (orders, takes, blocks) are the caller's, unique across the day; a reused id raises
    ``InvalidInputError`` (the contract's global counter never repeats one). Actions raise
    ``MarketRuleError`` subclasses and change nothing when refused.
    """

    def __init__(
        self, rules: Rulebook, accounts: Mapping[str, Holding | tuple[int, int]], *, call_phase: bool,
        token_id: int = 0, issued: int | None = None, no_permit: Iterable[str] = (),
    ) -> None:  # fmt: skip
        self.rules = rules.validate(token_id)
        self.token_id = token_id
        self._no_permit = frozenset(no_permit)
        self._accounts: dict[str, _Account] = {}
        for name, (cash, allowances) in accounts.items():
            for what, value in (("cash", cash), ("allowances", allowances)):
                if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                    raise InvalidInputError(f"{name}'s {what} must be a non-negative integer, got {value!r}")
            self._accounts[name] = _Account(name, cash, allowances)
        total = sum(a.allowances for a in self._accounts.values())
        if issued is not None and (isinstance(issued, bool) or not isinstance(issued, int) or issued < total):
            raise InvalidInputError(
                f"issued must be an integer of at least the traders' {total} t, got {issued!r}"
            )
        self._issued = total if issued is None else issued
        self._call_phase = call_phase
        self._over = False
        self._lower, self._upper = rules.band
        self._fee_bps = rules.fee_bps
        self._orders: dict[int, _Order] = {}
        self._ids: set[int] = set()
        # Book: price → orders in time order (closed ones dropped lazily), price → open quantity,
        # and the sorted prices with open quantity (best bid last, best ask first).
        self._bids: dict[int, deque[_Order]] = {}
        self._asks: dict[int, deque[_Order]] = {}
        self._bid_qty: dict[int, int] = {}
        self._ask_qty: dict[int, int] = {}
        self._bid_prices: list[int] = []
        self._ask_prices: list[int] = []
        self._escrow_cash = 0
        self._escrow_allowances = 0
        self._fees = 0
        self._fills: list[Fill] = []
        self._call_result: CallResult | None = None
        self._first_listing_price: int | None = None
        self._turnover = 0
        self._volume = 0

    # ------------------------------------------------------------------ views

    @property
    def call_phase(self) -> bool:
        """True until ``open()`` when the day started with a call."""
        return self._call_phase

    @property
    def call_result(self) -> CallResult | None:
        """The uncrossing ``open()`` executed (``CallResult(0, 0)`` without one); None before."""
        return self._call_result

    @property
    def fills(self) -> list[Fill]:
        """Every trade of the day in execution order (a copy)."""
        return list(self._fills)

    @property
    def open_price(self) -> int | None:
        """Rule 8: the uncrossing price, else the first listing trade's price, else None."""
        if self._call_result is not None and self._call_result.volume > 0:
            return self._call_result.price
        return self._first_listing_price

    @property
    def close_price(self) -> int:
        """Rule 8: the half-up VWAP of the day's listing trades, the reference price without any."""
        return _half_up_average(self._turnover, self._volume, self.rules.reference_price)

    @property
    def holdings(self) -> dict[str, Holding]:
        """Each trader's cash and allowances (what it holds itself, escrow excluded)."""
        return {name: Holding(a.cash, a.allowances) for name, a in self._accounts.items()}

    @property
    def escrow(self) -> Holding:
        """What the market holds for open orders: buy orders' cash, sell orders' allowances."""
        return Holding(self._escrow_cash, self._escrow_allowances)

    @property
    def fees(self) -> int:
        """Fees paid to the fee account so far."""
        return self._fees

    def bought_today(self, trader: str) -> int:
        """Allowances the trader received from the market today (any mode)."""
        return self._account(trader).bought

    def position(self, trader: str) -> tuple[int, int]:
        """Rule 14's ``(position, limit)`` as the contract's ``positionOf``: allowances held plus
        open buy orders' remaining (counted while a limit is set), the limit (0 = none)."""
        account = self._account(trader)
        if not self.rules.limited:
            return account.allowances, 0
        return account.allowances + self._open_buys(account), position_limit(self.rules, self._issued)

    def _open_buys(self, account: _Account) -> int:
        return sum(o.remaining for o in account.buys.values())

    def _check_position(self, account: _Account, quantity: int) -> None:
        """A buyer's entry: rule 15's permit, then rule 14's position limit."""
        if account.name in self._no_permit:
            raise MarketPermitNotValid(account.name, (self.token_id >> 16) & 0xFF)  # the id's pollutant
        if self.rules.limited:
            check_position(
                self.rules, self._issued, account.name, self.token_id, account.allowances,
                self._open_buys(account), quantity,
            )  # fmt: skip

    def sellable(self, trader: str) -> int:
        """Rule 11: allowances held less today's purchases (never below 0)."""
        account = self._account(trader)
        return max(0, account.allowances - account.bought)

    def order(self, order_id: int) -> OrderView:
        """An order's state (``MarketOrderNotOpen`` for an unknown id)."""
        o = self._orders.get(order_id)
        if o is None:
            raise MarketOrderNotOpen(order_id)
        return OrderView(
            o.account.name, Side(o.side), o.price, o.quantity, o.remaining, o.escrow, o.open, o.call
        )

    def open_orders_of(self, trader: str, side: Side | int) -> list[int]:
        """The trader's open order ids on ``side``, in time order."""
        account = self._account(trader)
        return list(account.buys if side == Side.BUY else account.sells)

    def depth(self, side: Side | int, levels: int | None = None) -> list[tuple[int, int]]:
        """The book of ``side`` aggregated by price level, best first: ``[(price, quantity)]``."""
        if side == Side.BUY:
            prices = self._bid_prices[::-1]
            quantities = self._bid_qty
        else:
            prices = self._ask_prices[:]
            quantities = self._ask_qty
        if levels is not None:
            prices = prices[:levels]
        return [(p, quantities[p]) for p in prices]

    def _account(self, trader: str) -> _Account:
        account = self._accounts.get(trader)
        if account is None:
            raise MarketNotTrader(trader)
        return account

    # ---------------------------------------------------------------- actions

    def place(self, order_id: int, trader: str, side: Side | int, price: int, quantity: int) -> list[Fill]:
        """Place a limit order (rules 2, 3, 9–13; collected without matching in the call phase).

        Returns:
            The fills it made at once, in execution order (none in the call phase).

        Raises:
            MarketRuleError: in the check order of the module docstring.
            InvalidInputError: a reused id or a side that is neither BUY nor SELL.
        """
        account = self._accounts.get(trader)
        if account is None:
            raise MarketNotTrader(trader)
        if self._over:
            raise MarketOutsideSession(self.token_id, 0)
        if order_id in self._ids:
            raise InvalidInputError(f"id {order_id} is already used today")
        if side != 0 and side != 1:
            raise InvalidInputError(f"side must be BUY (0) or SELL (1), got {side!r}")
        rules = self.rules
        if quantity == 0:
            raise MarketQuantityZero()
        if quantity < 0:
            raise MarketQuantityInvalid(quantity)
        if quantity >= rules.block_minimum:  # block_minimum ≤ 2^64 − 1: also refuses larger quantities
            raise MarketListingTooLarge(quantity, rules.block_minimum)
        if not 0 < price <= MAX_PRICE:
            raise MarketPriceInvalid(price)
        if not self._lower <= price <= self._upper:
            raise MarketPriceOutsideBand(self.token_id, price, self._lower, self._upper)
        fee_bps = self._fee_bps
        if side == 0:
            own = account.sell_prices
            if own and own[0] <= price:
                raise MarketSelfTrade(trader, min(i for i, o in account.sells.items() if o.price <= price))
            if len(account.buys) >= MAX_OPEN_ORDERS:
                raise MarketTooManyOrders(trader, self.token_id, MAX_OPEN_ORDERS)
            value = price * quantity
            reserve = value * fee_bps // BPS
            if account.cash < value + reserve:
                raise MarketInsufficientCash(trader, value + reserve, account.cash)
            self._check_position(account, quantity)
            self._ids.add(order_id)
            if self._call_phase:
                return self._rest_buy(order_id, account, price, quantity, quantity, reserve)
            return self._buy(order_id, account, price, quantity, reserve)
        own = account.buy_prices
        if own and own[-1] >= price:
            raise MarketSelfTrade(trader, min(i for i, o in account.buys.items() if o.price >= price))
        if len(account.sells) >= MAX_OPEN_ORDERS:
            raise MarketTooManyOrders(trader, self.token_id, MAX_OPEN_ORDERS)
        sellable = account.allowances - account.bought
        if quantity > sellable:
            raise MarketInsufficientAllowances(trader, self.token_id, quantity, max(0, sellable))
        self._ids.add(order_id)
        if self._call_phase:
            return self._rest_sell(order_id, account, price, quantity, quantity)
        return self._sell(order_id, account, price, quantity)

    def cancel(self, order_id: int, trader: str) -> None:
        """Cancel the trader's open order; its escrow (cash or allowances) returns at once.

        Raises:
            MarketNotTrader, MarketOrderNotOpen, MarketNotOrderOwner: in that order.
        """
        account = self._accounts.get(trader)
        if account is None:
            raise MarketNotTrader(trader)
        o = self._orders.get(order_id)
        if o is None or not o.open:
            raise MarketOrderNotOpen(order_id)
        if o.account is not account:
            raise MarketNotOrderOwner(order_id, trader)
        self._unbook(o)
        self._release(o)

    def open(self) -> list[Fill]:
        """End the call phase: execute the uncrossing (rule 4) and start continuous trading.

        Returns:
            The call fills in execution order (none when V = 0 or the call book is empty).

        Raises:
            MarketOutsideSession: not in the call phase (the day started continuous or is open).
        """
        if not self._call_phase or self._over:
            raise MarketOutsideSession(self.token_id, 0)
        bids = [(o.price, o.remaining) for p in self._bid_prices for o in self._bids[p] if o.open]
        asks = [(o.price, o.remaining) for p in self._ask_prices for o in self._asks[p] if o.open]
        result = uncross_price(bids, asks, self.rules.reference_price)
        self._call_phase = False
        self._call_result = result
        call_price, volume = result
        if not volume:
            return []
        fee_bps = self._fee_bps
        fills: list[Fill] = []
        buys = (o for p in reversed(self._bid_prices) if p >= call_price for o in self._bids[p] if o.open)
        sells = (o for p in self._ask_prices if p <= call_price for o in self._asks[p] if o.open)
        buy, sell = next(buys), next(sells)
        done = 0
        emptied: list[_Order] = []
        while True:
            quantity = min(buy.remaining, sell.remaining)
            value = call_price * quantity
            buyer_fee = value * fee_bps // BPS
            seller_fee = buyer_fee
            buyer, seller = buy.account, sell.account
            # The buy's escrow pays value + fee and refunds the price improvement at once (rule 9).
            held = buy.price * quantity + buyer_fee
            buy.escrow -= held
            self._escrow_cash -= held
            buyer.cash += (buy.price - call_price) * quantity
            buyer.allowances += quantity
            buyer.bought += quantity
            self._escrow_allowances -= quantity
            seller.cash += value - seller_fee
            self._fees += buyer_fee + seller_fee
            buy.remaining -= quantity
            sell.remaining -= quantity
            self._bid_qty[buy.price] -= quantity
            self._ask_qty[sell.price] -= quantity
            fills.append(
                Fill(buy.id, sell.id, buyer.name, seller.name, call_price, quantity, buyer_fee, seller_fee,
                     TradeMode.CALL)
            )  # fmt: skip
            done += quantity
            if not buy.remaining:
                emptied.append(buy)
            if not sell.remaining:
                emptied.append(sell)
            if done >= volume:
                break
            if not buy.remaining:
                buy = next(buys)
            if not sell.remaining:
                sell = next(sells)
        for o in emptied:
            self._close(o)
        for prices, quantities, book in (
            (self._bid_prices, self._bid_qty, self._bids), (self._ask_prices, self._ask_qty, self._asks)
        ):  # fmt: skip
            for p in [p for p in prices if not quantities[p]]:
                del prices[bisect_left(prices, p)]
                del quantities[p]
                del book[p]
        self._turnover += call_price * volume
        self._volume += volume
        self._fills.extend(fills)
        return fills

    def take(self, take_id: int, trader: str, order_id: int, quantity: int) -> Fill:
        """Rule 5: fill ``quantity`` of the resting order ``order_id`` at its price.

        Raises:
            MarketRuleError: in the check order of the module docstring.
            InvalidInputError: a reused id.
        """
        account = self._accounts.get(trader)
        if account is None:
            raise MarketNotTrader(trader)
        o = self._orders.get(order_id)
        if o is None or not o.open:
            raise MarketOrderNotOpen(order_id)
        if self._call_phase or self._over:
            raise MarketOutsideSession(self.token_id, 0)
        if take_id in self._ids:
            raise InvalidInputError(f"id {take_id} is already used today")
        if quantity == 0:
            raise MarketQuantityZero()
        if quantity < 0:
            raise MarketQuantityInvalid(quantity)
        if o.account is account:
            raise MarketSelfTrade(trader, order_id)
        price = o.price
        if o.side == 0:
            rank = len(self._bid_prices) - 1 - bisect_left(self._bid_prices, price)
        else:
            rank = bisect_left(self._ask_prices, price)
        if rank >= BEST_LEVELS:
            raise MarketTakeOutsideBestLevels(order_id, price)
        if quantity > o.remaining:
            raise MarketTakeExceedsRemaining(order_id, quantity, o.remaining)
        value = price * quantity
        fee_bps = self._fee_bps
        buyer_fee = seller_fee = value * fee_bps // BPS
        if o.side == 1:  # the taker buys from a resting sell
            if account.cash < value + buyer_fee:
                raise MarketInsufficientCash(trader, value + buyer_fee, account.cash)
            self._check_position(account, quantity)
            self._ids.add(take_id)
            seller = o.account
            account.cash -= value + buyer_fee
            account.allowances += quantity
            account.bought += quantity
            self._escrow_allowances -= quantity
            seller.cash += value - seller_fee
            self._ask_qty[price] -= quantity
            fill = Fill(
                take_id, order_id, trader, seller.name, price, quantity, buyer_fee, seller_fee, TradeMode.TAKE
            )
        else:  # the taker sells to a resting buy
            sellable = account.allowances - account.bought
            if quantity > sellable:
                raise MarketInsufficientAllowances(trader, self.token_id, quantity, max(0, sellable))
            self._ids.add(take_id)
            buyer = o.account
            o.escrow -= value + buyer_fee
            self._escrow_cash -= value + buyer_fee
            account.cash += value - seller_fee
            account.allowances -= quantity
            buyer.allowances += quantity
            buyer.bought += quantity
            self._bid_qty[price] -= quantity
            fill = Fill(
                order_id, take_id, buyer.name, trader, price, quantity, buyer_fee, seller_fee, TradeMode.TAKE
            )
        self._fees += buyer_fee + seller_fee
        o.remaining -= quantity
        if not o.remaining:
            self._close(o)
            self._drop_level_if_empty(o)
        self._listing_trade(price, quantity)
        self._fills.append(fill)
        return fill

    def block(self, block_id: int, seller: str, buyer: str, price: int, quantity: int) -> Fill:
        """Rule 6: a block trade proposed by ``seller`` and accepted by ``buyer``, executed at once.

        Raises:
            MarketRuleError: in the check order of the module docstring (the seller's checks, then
                the buyer's cash at acceptance).
            InvalidInputError: a reused id.
        """
        sell_account = self._accounts.get(seller)
        if sell_account is None:
            raise MarketNotTrader(seller)
        if self._call_phase or self._over:
            raise MarketOutsideSession(self.token_id, 0)
        if block_id in self._ids:
            raise InvalidInputError(f"id {block_id} is already used today")
        if buyer == seller:
            raise MarketSelfTrade(seller, 0)
        buy_account = self._accounts.get(buyer)
        if buy_account is None:
            raise MarketNotTrader(buyer)
        rules = self.rules
        if quantity < rules.block_minimum:
            raise MarketBlockBelowMinimum(quantity, rules.block_minimum)
        if quantity > MAX_QUANTITY:
            raise MarketQuantityInvalid(quantity)
        if not 0 < price <= MAX_PRICE:
            raise MarketPriceInvalid(price)
        lower, upper = rules.block_band
        if not lower <= price <= upper:
            raise MarketPriceOutsideBand(self.token_id, price, lower, upper)
        sellable = sell_account.allowances - sell_account.bought
        if quantity > sellable:
            raise MarketInsufficientAllowances(seller, self.token_id, quantity, max(0, sellable))
        value = price * quantity
        buyer_fee = seller_fee = value * self._fee_bps // BPS
        if buy_account.cash < value + buyer_fee:
            raise MarketInsufficientCash(buyer, value + buyer_fee, buy_account.cash)
        self._check_position(buy_account, quantity)
        self._ids.add(block_id)
        buy_account.cash -= value + buyer_fee
        buy_account.allowances += quantity
        buy_account.bought += quantity
        sell_account.allowances -= quantity
        sell_account.cash += value - seller_fee
        self._fees += buyer_fee + seller_fee
        fill = Fill(
            block_id, block_id, buyer, seller, price, quantity, buyer_fee, seller_fee, TradeMode.BLOCK
        )
        self._fills.append(fill)
        return fill

    def expire(self) -> None:
        """End the day: every open order expires and its escrow returns; no action is accepted after."""
        for o in list(self._orders.values()):
            if o.open:
                self._release(o)
        for book in (self._bids, self._asks, self._bid_qty, self._ask_qty):
            book.clear()
        self._bid_prices.clear()
        self._ask_prices.clear()
        self._call_phase = False
        self._over = True

    # --------------------------------------------------------------- matching

    def _buy(self, order_id: int, account: _Account, price: int, quantity: int, reserve: int) -> list[Fill]:
        """Match an incoming buy against the asks it crosses, then rest the remainder."""
        fills: list[Fill] = []
        ask_prices = self._ask_prices
        if not ask_prices or ask_prices[0] > price:
            return self._rest_buy(order_id, account, price, quantity, quantity, reserve)
        asks, ask_qty = self._asks, self._ask_qty
        fee_bps = self._fee_bps
        name = account.name
        remaining = quantity
        paid_fees = spent = received = 0
        fees = 0
        while remaining and ask_prices and ask_prices[0] <= price:
            level_price = ask_prices[0]
            level = asks[level_price]
            level_qty = ask_qty[level_price]
            while remaining and level_qty:
                o = level[0]
                if not o.open:
                    level.popleft()
                    continue
                fill_qty = o.remaining if o.remaining < remaining else remaining
                value = level_price * fill_qty
                trade_fee = value * fee_bps // BPS
                seller = o.account
                seller.cash += value - trade_fee
                spent += value
                paid_fees += trade_fee
                fees += trade_fee + trade_fee
                received += fill_qty
                o.remaining -= fill_qty
                level_qty -= fill_qty
                remaining -= fill_qty
                fills.append(
                    Fill(order_id, o.id, name, seller.name, level_price, fill_qty, trade_fee, trade_fee,
                         TradeMode.CONTINUOUS)
                )  # fmt: skip
                if not o.remaining:
                    level.popleft()
                    self._close(o)
            if level_qty:
                ask_qty[level_price] = level_qty
            else:
                del ask_prices[0], asks[level_price], ask_qty[level_price]
        account.cash -= spent + paid_fees
        account.allowances += received
        account.bought += received
        self._escrow_allowances -= received
        self._fees += fees
        self._record(fills)
        if remaining:
            self._rest_buy(order_id, account, price, quantity, remaining, reserve - paid_fees)
        else:
            self._orders[order_id] = done = _Order(order_id, account, 0, price, quantity, 0, 0, False)
            done.open = False
        return fills

    def _sell(self, order_id: int, account: _Account, price: int, quantity: int) -> list[Fill]:
        """Match an incoming sell against the bids it crosses, then rest the remainder."""
        fills: list[Fill] = []
        bid_prices = self._bid_prices
        if not bid_prices or bid_prices[-1] < price:
            return self._rest_sell(order_id, account, price, quantity, quantity)
        bids, bid_qty = self._bids, self._bid_qty
        fee_bps = self._fee_bps
        name = account.name
        remaining = quantity
        earned = escrow_paid = fees = 0
        while remaining and bid_prices and bid_prices[-1] >= price:
            level_price = bid_prices[-1]
            level = bids[level_price]
            level_qty = bid_qty[level_price]
            while remaining and level_qty:
                o = level[0]
                if not o.open:
                    level.popleft()
                    continue
                fill_qty = o.remaining if o.remaining < remaining else remaining
                value = level_price * fill_qty
                trade_fee = value * fee_bps // BPS
                buyer = o.account
                o.escrow -= value + trade_fee
                escrow_paid += value + trade_fee
                earned += value - trade_fee
                fees += trade_fee + trade_fee
                buyer.allowances += fill_qty
                buyer.bought += fill_qty
                o.remaining -= fill_qty
                level_qty -= fill_qty
                remaining -= fill_qty
                fills.append(
                    Fill(o.id, order_id, buyer.name, name, level_price, fill_qty, trade_fee, trade_fee,
                         TradeMode.CONTINUOUS)
                )  # fmt: skip
                if not o.remaining:
                    level.popleft()
                    self._close(o)
            if level_qty:
                bid_qty[level_price] = level_qty
            else:
                bid_prices.pop()
                del bids[level_price], bid_qty[level_price]
        account.cash += earned
        account.allowances -= quantity - remaining
        self._escrow_cash -= escrow_paid
        self._fees += fees
        self._record(fills)
        if remaining:
            self._rest_sell(order_id, account, price, quantity, remaining)
        else:
            self._orders[order_id] = done = _Order(order_id, account, 1, price, quantity, 0, 0, False)
            done.open = False
        return fills

    def _rest_buy(
        self, order_id: int, account: _Account, price: int, quantity: int, remaining: int, reserve: int
    ) -> list[Fill]:
        """Book a buy's remainder, escrowing price × remaining + its fee reserve left (rule 9)."""
        escrow = price * remaining + reserve
        account.cash -= escrow
        self._escrow_cash += escrow
        o = _Order(order_id, account, 0, price, quantity, remaining, escrow, self._call_phase)
        self._orders[order_id] = o
        account.buys[order_id] = o
        insort(account.buy_prices, price)
        level = self._bids.get(price)
        if level is None:
            self._bids[price] = deque((o,))
            self._bid_qty[price] = remaining
            insort(self._bid_prices, price)
        else:
            level.append(o)
            self._bid_qty[price] += remaining
        return []

    def _rest_sell(
        self, order_id: int, account: _Account, price: int, quantity: int, remaining: int
    ) -> list[Fill]:
        """Book a sell's remainder, escrowing its allowances."""
        account.allowances -= remaining
        self._escrow_allowances += remaining
        o = _Order(order_id, account, 1, price, quantity, remaining, 0, self._call_phase)
        self._orders[order_id] = o
        account.sells[order_id] = o
        insort(account.sell_prices, price)
        level = self._asks.get(price)
        if level is None:
            self._asks[price] = deque((o,))
            self._ask_qty[price] = remaining
            insort(self._ask_prices, price)
        else:
            level.append(o)
            self._ask_qty[price] += remaining
        return []

    def _close(self, o: _Order) -> None:
        """Mark a filled order closed: return a buy's leftover escrow, drop it from its owner's lists."""
        o.open = False
        account = o.account
        if o.side == 0:
            if o.escrow:
                account.cash += o.escrow
                self._escrow_cash -= o.escrow
                o.escrow = 0
            del account.buys[o.id]
            prices = account.buy_prices
        else:
            del account.sells[o.id]
            prices = account.sell_prices
        del prices[bisect_left(prices, o.price)]

    def _release(self, o: _Order) -> None:
        """Close an open order before it is filled (cancel, expiry): its escrow returns to its owner."""
        if o.side == 1:
            o.account.allowances += o.remaining
            self._escrow_allowances -= o.remaining
        self._close(o)

    def _unbook(self, o: _Order) -> None:
        """Take an open order's remaining quantity off its price level (the order object stays in the
        level's deque until matching drops it)."""
        if o.side == 0:
            prices, quantities, book = self._bid_prices, self._bid_qty, self._bids
        else:
            prices, quantities, book = self._ask_prices, self._ask_qty, self._asks
        left = quantities[o.price] - o.remaining
        if left:
            quantities[o.price] = left
        else:
            del prices[bisect_left(prices, o.price)], quantities[o.price], book[o.price]

    def _drop_level_if_empty(self, o: _Order) -> None:
        """After a take filled ``o`` completely: remove its level if nothing open is left there."""
        if o.side == 0:
            prices, quantities, book = self._bid_prices, self._bid_qty, self._bids
        else:
            prices, quantities, book = self._ask_prices, self._ask_qty, self._asks
        if not quantities[o.price]:
            del prices[bisect_left(prices, o.price)], quantities[o.price], book[o.price]

    def _record(self, fills: list[Fill]) -> None:
        """Add continuous fills to the day's trades and the open/close statistics."""
        if not fills:
            return
        if self._first_listing_price is None:
            self._first_listing_price = fills[0].price
        for f in fills:
            self._turnover += f.price * f.quantity
            self._volume += f.quantity
        self._fills.extend(fills)

    def _listing_trade(self, price: int, quantity: int) -> None:
        """Add a take to the open/close statistics."""
        if self._first_listing_price is None:
            self._first_listing_price = price
        self._turnover += price * quantity
        self._volume += quantity


__all__ = [
    "BEST_LEVELS",
    "MAX_OPEN_ORDERS",
    "MAX_PRICE",
    "MAX_QUANTITY",
    "CallResult",
    "Fill",
    "Holding",
    "MarketEngine",
    "OrderView",
    "Rulebook",
    "Side",
    "TradeMode",
    "band",
    "call_pairs",
    "check_position",
    "fee",
    "position_limit",
    "uncross_price",
    "vwap_close",
]
