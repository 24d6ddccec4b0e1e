"""A brute-force oracle of the market's rules (lists scanned and sorted on every event, exact
fractions), written from /tmp/h/market-spec.md independently of domain.market's book structures; the
random-day properties in test_market.py compare the engine with it. Also its own sanity tests."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from math import ceil, floor

from domain.errors import (
    MarketBlockBelowMinimum,
    MarketInsufficientAllowances,
    MarketInsufficientCash,
    MarketListingTooLarge,
    MarketNotOrderOwner,
    MarketNotTrader,
    MarketOrderNotOpen,
    MarketOutsideSession,
    MarketPriceInvalid,
    MarketPriceOutsideBand,
    MarketQuantityZero,
    MarketSelfTrade,
    MarketTakeExceedsRemaining,
    MarketTakeOutsideBestLevels,
    MarketTooManyOrders,
)
from domain.market import CallResult, Fill, Holding, Rulebook, TradeMode


def brute_force_uncross(
    bids: Iterable[tuple[int, int]], asks: Iterable[tuple[int, int]], reference: int
) -> CallResult:
    """Rule 4 by definition: every candidate price, B and S summed afresh, the four tie-breaks in turn."""
    bids = [(p, q) for p, q in bids if q > 0]
    asks = [(p, q) for p, q in asks if q > 0]
    rows = []
    for price in {p for p, _ in bids} | {p for p, _ in asks}:
        b = sum(q for p, q in bids if p >= price)
        s = sum(q for p, q in asks if p <= price)
        rows.append((price, min(b, s), abs(b - s)))
    if not rows or max(v for _, v, _ in rows) == 0:
        return CallResult(0, 0)
    top = max(v for _, v, _ in rows)
    rows = [r for r in rows if r[1] == top]
    least = min(r[2] for r in rows)
    rows = [r for r in rows if r[2] == least]
    closest = min(abs(r[0] - reference) for r in rows)
    rows = [r for r in rows if abs(r[0] - reference) == closest]
    return CallResult(max(r[0] for r in rows), top)


@dataclass
class _Order:
    id: int
    seq: int
    trader: str
    side: int
    price: int
    quantity: int
    remaining: int
    escrow: int
    open: bool = True


class OracleMarket:
    """The same surface as MarketEngine (place, cancel, open, take, block, expire, depth ...)."""

    def __init__(self, rules: Rulebook, accounts: Mapping[str, Holding], *, call_phase: bool) -> None:
        self.rules = rules
        self.cash = {t: h.cash for t, h in accounts.items()}
        self.allowances = {t: h.allowances for t, h in accounts.items()}
        self.bought = dict.fromkeys(accounts, 0)
        self.orders: list[_Order] = []
        self.fills: list[Fill] = []
        self.fees = 0
        self.call = call_phase
        self.over = False
        self.call_result: CallResult | None = None

    # helpers
    def _fee(self, value: int) -> int:
        return floor(Fraction(value * self.rules.fee_bps, 10_000))

    def _band(self, bps: int) -> tuple[int, int]:
        r = self.rules.reference_price
        return ceil(Fraction(r * (10_000 - bps), 10_000)), floor(Fraction(r * (10_000 + bps), 10_000))

    def _open_orders(self, side: int) -> list[_Order]:
        return [o for o in self.orders if o.open and o.side == side]

    def _trader(self, trader: str) -> None:
        if trader not in self.cash:
            raise MarketNotTrader(trader)

    def _find(self, order_id: int) -> _Order:
        for o in self.orders:
            if o.id == order_id and o.open:
                return o
        raise MarketOrderNotOpen(order_id)

    def _finish(self, o: _Order) -> None:
        o.open = False
        if o.side == 0:
            self.cash[o.trader] += o.escrow
        else:
            self.allowances[o.trader] += o.remaining
        o.escrow = 0

    def _deliver(self, buyer: str, seller: str, quantity: int) -> None:
        self.allowances[buyer] += quantity
        self.bought[buyer] += quantity

    def holdings(self) -> dict[str, Holding]:
        return {t: Holding(self.cash[t], self.allowances[t]) for t in self.cash}

    def depth(self, side: int) -> list[tuple[int, int]]:
        levels: dict[int, int] = {}
        for o in self._open_orders(side):
            levels[o.price] = levels.get(o.price, 0) + o.remaining
        return sorted(levels.items(), reverse=side == 0)

    def open_price(self) -> int | None:
        if self.call_result is not None and self.call_result.volume:
            return self.call_result.price
        listing = [f for f in self.fills if f.mode in (TradeMode.CONTINUOUS, TradeMode.TAKE)]
        return listing[0].price if listing else None

    def close_price(self) -> int:
        listing = [f for f in self.fills if f.mode != TradeMode.BLOCK]
        volume = sum(f.quantity for f in listing)
        if not volume:
            return self.rules.reference_price
        return floor(Fraction(sum(f.price * f.quantity for f in listing), volume) + Fraction(1, 2))

    # actions
    def place(self, order_id: int, trader: str, side: int, price: int, quantity: int) -> list[Fill]:
        self._trader(trader)
        if self.over:
            raise MarketOutsideSession(0, 0)
        rules = self.rules
        if quantity == 0:
            raise MarketQuantityZero()
        if quantity >= rules.block_minimum:
            raise MarketListingTooLarge(quantity, rules.block_minimum)
        if price <= 0:
            raise MarketPriceInvalid(price)
        lower, upper = self._band(rules.band_bps)
        if not lower <= price <= upper:
            raise MarketPriceOutsideBand(0, price, lower, upper)
        other = 1 - side
        mine = [o for o in self._open_orders(other) if o.trader == trader]
        crossing = [o.id for o in mine if (o.price <= price if side == 0 else o.price >= price)]
        if crossing:
            raise MarketSelfTrade(trader, min(crossing))
        if len([o for o in self._open_orders(side) if o.trader == trader]) >= 200:
            raise MarketTooManyOrders(trader, 0, 200)
        if side == 0:
            needed = price * quantity + self._fee(price * quantity)
            if self.cash[trader] < needed:
                raise MarketInsufficientCash(trader, needed, self.cash[trader])
        elif quantity > self.allowances[trader] - self.bought[trader]:
            raise MarketInsufficientAllowances(
                trader, 0, quantity, self.allowances[trader] - self.bought[trader]
            )
        remaining, paid_fees, fills = quantity, 0, []
        if not self.call:
            if side == 0:
                book = sorted(
                    (o for o in self._open_orders(1) if o.price <= price), key=lambda o: (o.price, o.seq)
                )
            else:
                book = sorted(
                    (o for o in self._open_orders(0) if o.price >= price), key=lambda o: (-o.price, o.seq)
                )
            for o in book:
                if not remaining:
                    break
                q = min(remaining, o.remaining)
                value = o.price * q
                f = self._fee(value)
                if side == 0:
                    self.cash[trader] -= value + f
                    self.cash[o.trader] += value - f
                    self._deliver(trader, o.trader, q)
                    paid_fees += f
                    fills.append(
                        Fill(order_id, o.id, trader, o.trader, o.price, q, f, f, TradeMode.CONTINUOUS)
                    )
                else:
                    o.escrow -= value + f
                    self.cash[trader] += value - f
                    self.allowances[trader] -= q
                    self._deliver(o.trader, trader, q)
                    fills.append(
                        Fill(o.id, order_id, o.trader, trader, o.price, q, f, f, TradeMode.CONTINUOUS)
                    )
                self.fees += 2 * f
                o.remaining -= q
                remaining -= q
                if not o.remaining:
                    self._finish(o)
        escrow = 0
        if side == 0:
            escrow = price * remaining + self._fee(price * quantity) - paid_fees if remaining else 0
            self.cash[trader] -= escrow
        else:
            self.allowances[trader] -= remaining
        order = _Order(
            order_id, len(self.orders), trader, side, price, quantity, remaining, escrow, remaining > 0
        )
        self.orders.append(order)
        self.fills += fills
        return fills

    def cancel(self, order_id: int, trader: str) -> None:
        self._trader(trader)
        o = self._find(order_id)
        if o.trader != trader:
            raise MarketNotOrderOwner(order_id, trader)
        self._finish(o)

    def open(self) -> list[Fill]:
        if not self.call or self.over:
            raise MarketOutsideSession(0, 0)
        self.call = False
        bids, asks = self._open_orders(0), self._open_orders(1)
        call_bids = [(o.price, o.remaining) for o in bids]
        result = brute_force_uncross(
            call_bids, [(o.price, o.remaining) for o in asks], self.rules.reference_price
        )
        self.call_result = result
        price, volume = result
        if not volume:
            return []
        buys = sorted((o for o in bids if o.price >= price), key=lambda o: (-o.price, o.seq))
        sells = sorted((o for o in asks if o.price <= price), key=lambda o: (o.price, o.seq))
        fills = []
        done = 0
        while done < volume:
            b = next(o for o in buys if o.remaining)
            s = next(o for o in sells if o.remaining)
            q = min(b.remaining, s.remaining)
            value = price * q
            f = self._fee(value)
            b.escrow -= b.price * q + f
            self.cash[b.trader] += (b.price - price) * q
            self.cash[s.trader] += value - f
            self._deliver(b.trader, s.trader, q)
            self.fees += 2 * f
            b.remaining -= q
            s.remaining -= q
            done += q
            fills.append(Fill(b.id, s.id, b.trader, s.trader, price, q, f, f, TradeMode.CALL))
        for o in buys + sells:
            if not o.remaining:
                self._finish(o)
        self.fills += fills
        return fills

    def take(self, take_id: int, trader: str, order_id: int, quantity: int) -> Fill:
        self._trader(trader)
        o = self._find(order_id)
        if self.call or self.over:
            raise MarketOutsideSession(0, 0)
        if quantity == 0:
            raise MarketQuantityZero()
        if o.trader == trader:
            raise MarketSelfTrade(trader, order_id)
        best = sorted({x.price for x in self._open_orders(o.side)}, reverse=o.side == 0)[:5]
        if o.price not in best:
            raise MarketTakeOutsideBestLevels(order_id, o.price)
        if quantity > o.remaining:
            raise MarketTakeExceedsRemaining(order_id, quantity, o.remaining)
        value = o.price * quantity
        f = self._fee(value)
        if o.side == 1:
            if self.cash[trader] < value + f:
                raise MarketInsufficientCash(trader, value + f, self.cash[trader])
            self.cash[trader] -= value + f
            self.cash[o.trader] += value - f
            self._deliver(trader, o.trader, quantity)
            fill = Fill(take_id, order_id, trader, o.trader, o.price, quantity, f, f, TradeMode.TAKE)
        else:
            sellable = self.allowances[trader] - self.bought[trader]
            if quantity > sellable:
                raise MarketInsufficientAllowances(trader, 0, quantity, sellable)
            o.escrow -= value + f
            self.cash[trader] += value - f
            self.allowances[trader] -= quantity
            self._deliver(o.trader, trader, quantity)
            fill = Fill(order_id, take_id, o.trader, trader, o.price, quantity, f, f, TradeMode.TAKE)
        self.fees += 2 * f
        o.remaining -= quantity
        if not o.remaining:
            self._finish(o)
        self.fills.append(fill)
        return fill

    def block(self, block_id: int, seller: str, buyer: str, price: int, quantity: int) -> Fill:
        self._trader(seller)
        if self.call or self.over:
            raise MarketOutsideSession(0, 0)
        if buyer == seller:
            raise MarketSelfTrade(seller, 0)
        self._trader(buyer)
        if quantity < self.rules.block_minimum:
            raise MarketBlockBelowMinimum(quantity, self.rules.block_minimum)
        if price <= 0:
            raise MarketPriceInvalid(price)
        lower, upper = self._band(self.rules.block_band_bps)
        if not lower <= price <= upper:
            raise MarketPriceOutsideBand(0, price, lower, upper)
        sellable = self.allowances[seller] - self.bought[seller]
        if quantity > sellable:
            raise MarketInsufficientAllowances(seller, 0, quantity, sellable)
        value = price * quantity
        f = self._fee(value)
        if self.cash[buyer] < value + f:
            raise MarketInsufficientCash(buyer, value + f, self.cash[buyer])
        self.cash[buyer] -= value + f
        self.cash[seller] += value - f
        self.allowances[seller] -= quantity
        self._deliver(buyer, seller, quantity)
        self.fees += 2 * f
        fill = Fill(block_id, block_id, buyer, seller, price, quantity, f, f, TradeMode.BLOCK)
        self.fills.append(fill)
        return fill

    def expire(self) -> None:
        for o in self.orders:
            if o.open:
                self._finish(o)
        self.over = True
        self.call = False


def test_oracle_fills_by_price_then_time_on_a_worked_book() -> None:
    rules = Rulebook(reference_price=100, block_minimum=50)
    m = OracleMarket(
        rules, {"a": Holding(0, 30), "b": Holding(0, 30), "c": Holding(10_000, 0)}, call_phase=False
    )
    m.place(1, "a", 1, 101, 5)
    m.place(2, "b", 1, 100, 5)
    m.place(3, "a", 1, 100, 5)
    fills = m.place(4, "c", 0, 101, 12)
    assert [(f.sell_id, f.price, f.quantity) for f in fills] == [(2, 100, 5), (3, 100, 5), (1, 101, 2)]
    assert m.holdings()["c"] == Holding(10_000 - 1000 - 202, 12)


def test_brute_force_uncross_applies_tie_breaks_in_order() -> None:
    assert brute_force_uncross([(100, 10)], [(90, 10)], 95) == CallResult(100, 10)
    assert brute_force_uncross([(100, 10)], [(90, 10)], 92) == CallResult(90, 10)
    assert brute_force_uncross([(100, 10), (90, 2)], [(90, 10)], 90) == CallResult(100, 10)
    assert brute_force_uncross([(80, 10)], [(90, 10)], 85) == CallResult(0, 0)
