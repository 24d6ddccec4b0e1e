"""A recorded trading day for the exchange market: a seeded generator of one day's events (an
opening call, continuous trading, cancels, takes, block trades) from several enterprises, in the
``ets market simulate`` scenario format, every event checked against the reference engine.

The day (all choices drawn from ``random.Random(seed)``, so the same plan gives the same day):

1. ``enterprises`` traders; activity is skewed (a few trade a lot) and so are holdings: each
   holds some 200,000–2,000,000 t from before the day plus twice what its share of the day's
   sells may come to, and cash enough for every buy it places (:data:`CASH_PER_TRADER`).
2. Call phase: ``call_orders`` limit orders around the reference price (a few cancelled), then
   ``{"op": "open"}``.
3. Continuous trading until ``orders`` orders in all: a fair value drifts in a random walk inside
   the band; most orders rest near the touch, some cross it (marketable), traders cancel their own
   orders (the ones furthest from the fair value first, and their oldest when near the cap),
   and now and then take an order from the other side's best five price levels. The second half
   is the afternoon session (:attr:`MarketDay.afternoon_from`), where ``blocks`` block trades
   happen too.
4. The rules are respected by construction: prices in the band, listing quantities under the
   block minimum, a trader sells (or proposes a block of) only what it held at the start of the
   day and has not yet committed, fewer than :data:`OPEN_ORDER_LIMIT` open orders a side (the
   rule's cap is 200), takes within the best five levels and the remaining quantity. Self-trades
   are avoided (the price moved off one's own resting order) except a few sent on purpose
   (:attr:`MarketDay.self_trades`), which the engine and the chain refuse.

Each event is applied to :class:`domain.market.MarketEngine` as it is drawn, and its outcome
(fills, or the refusal) drives the generator's own bookkeeping of who has what open; an event the
engine refuses that was not meant to be refused stops the generator (a bug, never a silent skip).
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from domain.errors import MarketRuleError
from domain.market import Fill, Holding, MarketEngine, Rulebook, Side, band

#: A scenario event (``ets market simulate``): ``op`` plus its fields.
Event = dict[str, Any]

#: Settlement cash each trader starts with (fen): 1 billion yuan, more than it ever escrows.
CASH_PER_TRADER = 100_000_000_000
#: The open-order cap of the rules is 200 a side; the generator stays under this many.
OPEN_ORDER_LIMIT = 190
#: Distinct price levels a take may reach (rule 5).
TAKE_LEVELS = 5

_SIDE_NAMES = {Side.BUY: "buy", Side.SELL: "sell"}
_OTHER = {Side.BUY: Side.SELL, Side.SELL: Side.BUY}
#: Mean size of a listing order (t): exp(6.3 + 1/2), the lognormal of ``_Generator._quantity``.
_MEAN_QUANTITY = 900


@dataclass(frozen=True)
class DayPlan:
    """What day to generate.

    Args:
        orders: order events in all (call phase included); cancels, takes and blocks come on top.
        enterprises: traders (named ``ENT001``, ``ENT002`` ...).
        reference_price: the previous close (fen/t), e.g. CO2 2027 at 9,850.
        call_orders: orders placed in the opening call phase (0: the day starts continuous).
        fee_bps: the exchange fee per side per fill.
        blocks: block trades in the afternoon.
        seed: the random seed.
    """

    orders: int = 20_000
    enterprises: int = 40
    reference_price: int = 9_850
    call_orders: int = 300
    fee_bps: int = 5
    band_bps: int = 1_000
    block_band_bps: int = 3_000
    block_min: int = 100_000
    blocks: int = 2
    seed: int = 2027

    def rulebook(self) -> Rulebook:
        """The day's rulebook (sessions at their defaults)."""
        return Rulebook(
            reference_price=self.reference_price,
            band_bps=self.band_bps,
            block_band_bps=self.block_band_bps,
            fee_bps=self.fee_bps,
            block_minimum=self.block_min,
        )


@dataclass
class MarketDay:
    """A generated day: the scenario (JSON-ready) and what the generator knows about it.

    Attributes:
        scenario: ``{"reference_price", "band_bps", "block_band_bps", "block_min", "fee_bps",
            "accounts", "events"}`` as ``ets market simulate`` reads it.
        afternoon_from: index in ``events`` of the first afternoon event (blocks come after it).
        self_trades: ids of the orders sent on purpose across one's own resting order (refused).
        fills: the engine's fills of the whole day, in execution order.
    """

    scenario: dict[str, Any]
    afternoon_from: int
    self_trades: list[int]
    fills: list[Fill] = field(default_factory=list)

    @property
    def events(self) -> list[Event]:
        return list(self.scenario["events"])

    @property
    def accounts(self) -> dict[str, dict[str, int]]:
        return dict(self.scenario["accounts"])

    def count(self, op: str) -> int:
        """Number of events of kind ``op`` (``order``, ``cancel``, ``take``, ``block``)."""
        return sum(1 for e in self.scenario["events"] if e["op"] == op)

    def save(self, path: Path) -> Path:
        """Write the scenario as JSON (``ets market simulate PATH`` reads it); returns ``path``."""
        path.write_text(json.dumps(self.scenario, indent=None, separators=(",", ":")) + "\n")
        return path


def trader_names(count: int) -> list[str]:
    """Names of the day's traders: ``ENT001`` ..."""
    return [f"ENT{i:03d}" for i in range(1, count + 1)]


def rulebook_of(scenario: Mapping[str, Any]) -> Rulebook:
    """A scenario's rulebook: its figures (the issue's defaults where absent), default sessions
    (block trades from 13:00, as the recorded day places them)."""
    return Rulebook(
        reference_price=int(scenario["reference_price"]),
        band_bps=int(scenario.get("band_bps", 1_000)),
        block_band_bps=int(scenario.get("block_band_bps", 3_000)),
        fee_bps=int(scenario.get("fee_bps", 0)),
        block_minimum=int(scenario.get("block_min", 100_000)),
    )


def engine_for(scenario: Mapping[str, Any], *, call_phase: bool | None = None) -> MarketEngine:
    """A fresh reference engine for a scenario (in the call phase if its events hold an open)."""
    rules = rulebook_of(scenario)
    accounts = {
        name: Holding(cash=int(a["cash"]), allowances=int(a["allowances"]))
        for name, a in scenario["accounts"].items()
    }
    if call_phase is None:
        call_phase = any(e["op"] == "open" for e in scenario["events"])
    return MarketEngine(rules, accounts, call_phase=call_phase)


def apply_event(engine: MarketEngine, event: Mapping[str, Any]) -> list[Fill]:
    """Apply one scenario event to the engine; returns its fills.

    Raises:
        MarketRuleError: the engine refuses it (nothing changed).
    """
    op = event["op"]
    if op == "order":
        side = Side.BUY if event["side"] == "buy" else Side.SELL
        return engine.place(event["id"], event["trader"], side, event["price"], event["quantity"])
    if op == "cancel":
        engine.cancel(event["order"], event["trader"])
        return []
    if op == "open":
        return engine.open()
    if op == "take":
        return [engine.take(event["id"], event["trader"], event["order"], event["quantity"])]
    if op == "block":
        return [engine.block(event["id"], event["seller"], event["buyer"], event["price"], event["quantity"])]
    raise ValueError(f"unknown event op {op!r}")


def replay(engine: MarketEngine, events: Iterable[Mapping[str, Any]]) -> tuple[list[Fill], list[int]]:
    """Apply every event in order; returns the fills and the ids of the refused events."""
    fills: list[Fill] = []
    refused: list[int] = []
    for event in events:
        try:
            fills += apply_event(engine, event)
        except MarketRuleError:
            refused.append(int(event["id"]))
    return fills, refused


@dataclass
class _Order:
    trader: str
    side: Side
    price: int
    remaining: int


class _Generator:
    """The day's state as the generator sees it: open orders by trader and by price level,
    what each trader still may sell, the fair value, the engine."""

    def __init__(self, plan: DayPlan) -> None:
        self.plan = plan
        self.rng = random.Random(plan.seed)
        self.names = trader_names(plan.enterprises)
        # a few traders are much more active than the rest (weights ~ 1/rank^0.8)
        self.weights = [1.0 / (rank + 1) ** 0.8 for rank in range(len(self.names))]
        # holdings follow activity (the busy traders are the big emitters): some 200,000 t to
        # 2,000,000 t each, plus twice what the trader's share of the day's sells may come to
        share = [w / sum(self.weights) for w in self.weights]
        self.holdings = {
            n: self.rng.randint(20, 200) * 10_000 + int(s * plan.orders * _MEAN_QUANTITY) // 10_000 * 10_000
            for n, s in zip(self.names, share, strict=True)
        }
        self.committed = dict.fromkeys(self.names, 0)  # sells placed, taken or proposed today
        self.lower, self.upper = band(plan.reference_price, plan.band_bps)
        self.block_lower, self.block_upper = band(plan.reference_price, plan.block_band_bps)
        self.fair = float(plan.reference_price)
        self.orders: dict[int, _Order] = {}
        self.by_trader: dict[tuple[str, Side], dict[int, None]] = {
            (n, s): {} for n in self.names for s in Side
        }
        self.levels: dict[Side, dict[int, dict[int, None]]] = {Side.BUY: {}, Side.SELL: {}}
        self.events: list[Event] = []
        self.fills: list[Fill] = []
        self.self_trades: list[int] = []
        self.next_id = 1
        self.order_count = 0
        self.engine = MarketEngine(
            plan.rulebook(),
            {n: Holding(cash=CASH_PER_TRADER, allowances=self.holdings[n]) for n in self.names},
            call_phase=plan.call_orders > 0,
        )

    # ------------------------------------------------------------------ bookkeeping

    def _emit(self, event: Event, *, refusal_expected: bool = False) -> list[Fill]:
        try:
            fills = apply_event(self.engine, event)
        except MarketRuleError as exc:
            if not refusal_expected or exc.contract_error != "MarketSelfTrade":
                raise RuntimeError(f"the engine refused {event}: {exc}") from None
            self.events.append(event)
            self.self_trades.append(int(event["id"]))
            return []
        if refusal_expected:
            raise RuntimeError(f"the engine accepted an event meant to be refused: {event}")
        self.events.append(event)
        self.fills += fills
        for fill in fills:
            for order_id in (fill.buy_id, fill.sell_id):
                order = self.orders.get(order_id)
                if order is not None:
                    order.remaining -= fill.quantity
                    if order.remaining == 0:
                        self._close(order_id)
        return fills

    def _new_id(self) -> int:
        self.next_id += 1
        return self.next_id - 1

    def _rest(self, order_id: int, order: _Order) -> None:
        self.orders[order_id] = order
        self.by_trader[order.trader, order.side][order_id] = None
        self.levels[order.side].setdefault(order.price, {})[order_id] = None

    def _close(self, order_id: int) -> None:
        order = self.orders.pop(order_id)
        del self.by_trader[order.trader, order.side][order_id]
        level = self.levels[order.side][order.price]
        del level[order_id]
        if not level:
            del self.levels[order.side][order.price]

    def _sellable(self, trader: str) -> int:
        return self.holdings[trader] - self.committed[trader]

    def _trader(self) -> str:
        return self.rng.choices(self.names, self.weights)[0]

    def _touch(self, side: Side) -> int | None:
        depth = self.engine.depth(side, 1)
        return int(depth[0][0]) if depth else None

    def _quantity(self) -> int:
        q = int(self.rng.lognormvariate(6.3, 1.0))
        q = max(1, min(q, 40_000, self.plan.block_min - 1))
        return q if q < 100 else q // 10 * 10

    # ------------------------------------------------------------------ events

    def order(self, trader: str, side: Side, price: int, quantity: int) -> None:
        """Place an order (first cancelling the trader's oldest when near the cap), keeping off
        the trader's own resting orders on the other side except now and then on purpose."""
        price = min(max(price, self.lower), self.upper)
        if side is Side.SELL:
            quantity = min(quantity, self._sellable(trader))
            if quantity <= 0:
                side, quantity = Side.BUY, self._quantity()
        own = self.by_trader[trader, side]
        if len(own) >= OPEN_ORDER_LIMIT:
            self.cancel(trader, next(iter(own)))
        opposite = [self.orders[i].price for i in self.by_trader[trader, _OTHER[side]]]
        crossing = opposite and (price >= min(opposite) if side is Side.BUY else price <= max(opposite))
        on_purpose = bool(crossing) and self.rng.random() < 0.03
        if crossing and not on_purpose:
            price = min(opposite) - 1 if side is Side.BUY else max(opposite) + 1
            if not self.lower <= price <= self.upper:
                return
        order_id = self._new_id()
        event: Event = {
            "op": "order",
            "id": order_id,
            "trader": trader,
            "side": _SIDE_NAMES[side],
            "price": price,
            "quantity": quantity,
        }
        self.order_count += 1
        fills = self._emit(event, refusal_expected=on_purpose)
        if on_purpose:
            return
        if side is Side.SELL:
            self.committed[trader] += quantity
        filled = sum(f.quantity for f in fills if order_id in (f.buy_id, f.sell_id))
        if filled < quantity:
            self._rest(order_id, _Order(trader, side, price, quantity - filled))

    def cancel(self, trader: str, order_id: int) -> None:
        order = self.orders[order_id]
        self._emit({"op": "cancel", "id": self._new_id(), "trader": trader, "order": order_id})
        if order.side is Side.SELL:
            self.committed[trader] -= order.remaining
        self._close(order_id)

    def take(self) -> bool:
        """Take (part of) a resting order from one side's best five levels; False if none fits."""
        side = self.rng.choice((Side.BUY, Side.SELL))
        prices = [p for p, _ in self.engine.depth(side, TAKE_LEVELS)]
        if not prices:
            return False
        price = self.rng.choice(prices)
        candidates = list(self.levels[side].get(price, {}))
        if not candidates:
            raise RuntimeError(f"the engine shows a level at {price} the generator does not know")
        order_id = self.rng.choice(candidates)
        order = self.orders[order_id]
        trader = self._trader()
        if trader == order.trader:
            return False
        quantity = order.remaining if self.rng.random() < 0.6 else self.rng.randint(1, order.remaining)
        if side is Side.BUY:  # the taker sells into a resting buy
            quantity = min(quantity, self._sellable(trader))
            if quantity <= 0:
                return False
            self.committed[trader] += quantity
        take = {"op": "take", "id": self._new_id(), "trader": trader, "order": order_id, "quantity": quantity}
        self._emit(take)
        return True

    def block(self) -> None:
        seller = max(self.names, key=self._sellable)
        buyer = self.rng.choice([n for n in self.names if n != seller])
        quantity = min(self.plan.block_min + self.rng.randint(0, 5) * 10_000, self._sellable(seller))
        if quantity < self.plan.block_min:
            return
        price = round(self.fair * (1 + self.rng.uniform(-0.03, 0.01)))
        price = min(max(price, self.block_lower), self.block_upper)
        self.committed[seller] += quantity
        block = {
            "op": "block",
            "id": self._new_id(),
            "seller": seller,
            "buyer": buyer,
            "price": price,
            "quantity": quantity,
        }
        self._emit(block)

    # ------------------------------------------------------------------ phases

    def call_phase(self) -> None:
        r = self.plan.reference_price
        while self.order_count < self.plan.call_orders:
            trader = self._trader()
            own = [i for s in Side for i in self.by_trader[trader, s]]
            if own and self.rng.random() < 0.03:
                self.cancel(trader, self.rng.choice(own))
                continue
            side = self.rng.choice((Side.BUY, Side.SELL))
            skew = 1 if side is Side.BUY else -1  # buyers a little keen, sellers a little keen
            price = round(r + skew * 15 + self.rng.gauss(0, 0.006 * r))
            self.order(trader, side, price, self._quantity())
        self._emit({"op": "open"})

    def continuous(self, until: int) -> None:
        r = self.plan.reference_price
        inner_low, inner_high = r * 0.94, r * 1.06
        while self.order_count < until:
            self.fair += self.rng.gauss(0, 0.0003 * r)
            if not inner_low <= self.fair <= inner_high:  # reflect inside the band
                self.fair = min(max(self.fair, inner_low), inner_high)
            trader = self._trader()
            roll = self.rng.random()
            if roll < 0.015 and self.take():
                continue
            own = [i for s in Side for i in self.by_trader[trader, s]]
            if own and roll < 0.25:  # cancel: the order furthest from the fair value, often
                victim = max(own, key=lambda i: abs(self.orders[i].price - self.fair))
                self.cancel(trader, victim if self.rng.random() < 0.7 else self.rng.choice(own))
                continue
            side = self.rng.choice((Side.BUY, Side.SELL))
            quantity = self._quantity()
            if roll < 0.37:  # marketable: at or through the other side's touch
                touch = self._touch(_OTHER[side])
                if touch is not None:
                    slip = self.rng.randint(0, 8)
                    self.order(trader, side, touch + slip if side is Side.BUY else touch - slip, quantity)
                    continue
            offset = int(self.rng.expovariate(1 / 6))
            fair = round(self.fair)
            self.order(trader, side, fair - 1 - offset if side is Side.BUY else fair + 1 + offset, quantity)


def generate_day(plan: DayPlan | None = None) -> MarketDay:
    """Generate one trading day (see the module docstring); deterministic for a plan.

    Raises:
        RuntimeError: the engine refused an event the generator meant to pass (a bug).
    """
    plan = plan or DayPlan()
    if plan.call_orders >= plan.orders:
        raise ValueError(f"call_orders ({plan.call_orders}) must be fewer than orders ({plan.orders})")
    gen = _Generator(plan)
    if plan.call_orders:
        gen.call_phase()
    midday = plan.call_orders + math.ceil((plan.orders - plan.call_orders) / 2)
    gen.continuous(midday)
    afternoon_from = len(gen.events)
    blocks_at = sorted(gen.rng.randint(midday, plan.orders - 1) for _ in range(plan.blocks))
    for at in blocks_at:
        gen.continuous(at)
        gen.block()
    gen.continuous(plan.orders)
    scenario: dict[str, Any] = {
        "reference_price": plan.reference_price,
        "band_bps": plan.band_bps,
        "block_band_bps": plan.block_band_bps,
        "block_min": plan.block_min,
        "fee_bps": plan.fee_bps,
        "accounts": {n: {"cash": CASH_PER_TRADER, "allowances": gen.holdings[n]} for n in gen.names},
        "events": gen.events,
    }
    return MarketDay(scenario, afternoon_from, gen.self_trades, gen.fills)
