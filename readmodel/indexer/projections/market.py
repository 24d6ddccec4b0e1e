"""Projections of Market: rulebooks, reference prices and halts (a token id's own, and the
market-wide halt and settlement agent in the one ``market_state`` row); orders and their fills and the
trades (gathered per page in a :class:`MarketPage`, written with one statement per table at the
page's end); block proposals; unclaimed escrow; the daily quotes of every (token id, trading day)
a page traded in, recomputed from the stored trades; and each fill's tonnes in its buyer's
``traded`` statistic (the market delivers out of its own escrow, a system contract's, so the
token projection counts none of its deliveries as trades).

Orders are read from the read model at their first use in a page and written back at its end, so
nothing is kept across pages: a page that fails leaves no trace (its transaction rolls back), and a
restarted indexer resumes from its checkpoint with the same result. A fill names two ids: for a
take, one of them is the take's id (no order), for a block trade both are the block's id.

Quotes follow :mod:`domain.market`: the listing quote (``mode`` ``listing``: call, continuous
and takes) opens at its first trade's price (the uncrossing price when the call auction traded:
no listing trade can precede the uncrossing on its day) and closes at the volume-weighted
average price; each mode's row the same over its own trades.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from chain.events import DecodedEvent
from domain.market import TradeMode, trading_day, vwap_close
from domain.tokens import decode_id
from readmodel import models as m
from readmodel.bulk import bulk_insert, upsert
from readmodel.errors import ReadModelError
from readmodel.indexer.projection import Handlers, Projection, int64

#: Columns of an order its later events change.
_ORDER_CHANGES = ("remaining", "filled_value", "fees", "fills", "status", "closed_block", "closed_time")
#: Columns of a quote (all but its key).
_QUOTE_COLUMNS = ("open", "high", "low", "close", "last", "volume", "turnover", "trades", "fees",
                  "first_time", "last_time")  # fmt: skip
#: Trade modes whose trades make the official listing quote (blocks are excluded, rule 8).
_LISTING_MODES = frozenset(m.TRADE_MODES[: TradeMode.BLOCK])


@functools.lru_cache(maxsize=4_096)
def _date(day: int) -> str:
    return datetime.fromtimestamp(day * 86_400, UTC).strftime("%Y-%m-%d")


def trading_date(block_time: int) -> str:
    """The trading day (China Standard Time, ``YYYY-MM-DD``) of a block time, as the contract
    counts days (:func:`domain.market.trading_day`)."""
    return _date(trading_day(block_time)[0])


def _side(value: Any) -> str:
    try:
        return m.SIDES[int(value)]
    except IndexError:
        raise ReadModelError(f"unknown order side {value}") from None


def _mode(value: Any) -> str:
    try:
        return m.TRADE_MODES[int(value)]
    except IndexError:
        raise ReadModelError(f"unknown trade mode {value}") from None


class MarketPage:
    """The orders a page touches, its trades, and the (token id, day) pairs it traded in."""

    def __init__(self) -> None:
        #: order id → its row (read from the read model, or placed in this page)
        self.orders: dict[int, dict[str, Any]] = {}
        self.placed: set[int] = set()
        #: ids looked up that name no order (take ids), so they are looked up once
        self.absent: set[int] = set()
        #: fills of an order whose ``OrderPlaced`` comes later in the page: (quantity, value, fee, event)
        self.early: dict[int, list[tuple[int, int, int, DecodedEvent]]] = defaultdict(list)
        self.trades: list[dict[str, Any]] = []
        self.days: set[tuple[int, str]] = set()

    def order(self, conn: Connection, order_id: int) -> dict[str, Any] | None:
        """The row of ``order_id`` (None: no such order, e.g. a take's id)."""
        found = self.orders.get(order_id)
        if found is not None or order_id in self.absent:
            return found
        row = conn.execute(select(m.MarketOrder.__table__).where(m.MarketOrder.order_id == order_id)).first()
        if row is None:
            self.absent.add(order_id)
            return None
        found = self.orders[order_id] = dict(row._mapping)
        return found

    def flush(self, conn: Connection) -> None:
        """Write the page's orders and trades, then the quotes of the days it traded in."""
        bulk_insert(conn, m.MarketOrder, [r for i, r in self.orders.items() if i in self.placed])
        touched = [r for i, r in self.orders.items() if i not in self.placed]
        upsert(conn, m.MarketOrder, touched, ("order_id",), replace=_ORDER_CHANGES)
        bulk_insert(conn, m.MarketTrade, self.trades)
        quotes = [q for token_id, day in sorted(self.days) for q in day_quotes(conn, token_id, day)]
        upsert(conn, m.MarketQuote, quotes, ("token_id", "day", "mode"), replace=_QUOTE_COLUMNS)


def day_quotes(conn: Connection, token_id: int, day: str) -> list[dict[str, Any]]:
    """The quotes of ``token_id`` on ``day`` from its stored trades: one row per trade mode that
    traded, and the listing quote when a listing mode did."""
    t = m.MarketTrade
    levels = conn.execute(
        select(
            t.mode, t.price, func.sum(t.quantity), func.sum(t.value), func.count(),
            func.sum(t.buyer_fee + t.seller_fee), func.min(t.id), func.max(t.id),
            func.min(t.block_time), func.max(t.block_time),
        ).where(t.token_id == token_id, t.day == day).group_by(t.mode, t.price)
    ).all()  # fmt: skip
    groups: dict[str, list[Any]] = defaultdict(list)
    for level in levels:
        groups[level[0]].append(level)
        if level[0] in _LISTING_MODES:
            groups[m.LISTING].append(level)
    rows = []
    for mode, group in groups.items():
        first = min(group, key=lambda level: level[6])
        last = max(group, key=lambda level: level[7])
        # (price, tonnes) per price level: the same volume-weighted average as over every trade
        fills = [(int(level[1]), int(level[2])) for level in group]
        volume = sum(quantity for _, quantity in fills)
        rows.append({
            "token_id": token_id, "day": day, "mode": mode,
            "open": int(first[1]), "high": max(int(level[1]) for level in group),
            "low": min(int(level[1]) for level in group), "close": vwap_close(fills, int(first[1])),
            "last": int(last[1]), "volume": volume, "turnover": sum(int(level[3]) for level in group),
            "trades": sum(int(level[4]) for level in group), "fees": sum(int(level[5]) for level in group),
            "first_time": int(first[8]), "last_time": max(int(level[9]) for level in group),
        })  # fmt: skip
    return rows


# ---------------------------------------------------------------------- rulebooks and halts

#: The token id of the market-wide halt (``halt(0, reason)``).
MARKET_WIDE = 0
#: The key of the market's one ``market_state`` row.
STATE_ID = 1


def _rulebook_set(p: Projection, conn: Connection, e: DecodedEvent) -> None:
    rules = e.args["rules"]
    token_id = int64(e.args["tokenId"], "token id")
    row = {
        "token_id": token_id, "reference_price": int64(rules["referencePrice"], "reference price"),
        "band_bps": rules["bandBps"], "block_band_bps": rules["blockBandBps"], "fee_bps": rules["feeBps"],
        "block_minimum": int64(rules["blockMinimum"], "block minimum"), "call_start": rules["callStart"],
        "open1": rules["open1"], "close1": rules["close1"], "open2": rules["open2"],
        "close2": rules["close2"], "block_from": rules["blockFrom"],
        "position_limit": int64(rules["positionLimit"], "position limit"),
        "position_limit_bps": rules["positionLimitBps"], "governed": bool(rules["governed"]),
        "halted": False, "halt_reason": None,
        "listed_time": e.block_time,
        "updated_block": e.block_number, "updated_time": e.block_time,
    }  # fmt: skip
    changes = [k for k in row if k not in ("token_id", "halted", "halt_reason", "listed_time")]
    upsert(conn, m.MarketRulebook, [row], ("token_id",), replace=changes)
    _reference(conn, e, token_id, row["reference_price"], "rulebook")


def _reference(conn: Connection, e: DecodedEvent, token_id: int, price: int, source: str) -> None:
    conn.execute(
        insert(m.MarketReferencePrice).values(
            token_id=token_id, block_number=e.block_number, log_index=e.log_index, block_time=e.block_time,
            day=trading_date(e.block_time), price=price, source=source,
        )
    )  # fmt: skip


def _rulebook(conn: Connection, e: DecodedEvent, **values: Any) -> None:
    conn.execute(
        update(m.MarketRulebook)
        .where(m.MarketRulebook.token_id == int64(e.args["tokenId"], "token id"))
        .values(updated_block=e.block_number, updated_time=e.block_time, **values)
    )


def _reference_price_set(p: Projection, conn: Connection, e: DecodedEvent) -> None:
    price = int64(e.args["price"], "reference price")
    _rulebook(conn, e, reference_price=price)
    _reference(conn, e, int64(e.args["tokenId"], "token id"), price, "posted")


def _halted(p: Projection, conn: Connection, e: DecodedEvent) -> None:
    if int(e.args["tokenId"]) == MARKET_WIDE:
        _state(conn, e, halted=True, halt_reason=str(e.args["reason"]))
    else:
        _rulebook(conn, e, halted=True, halt_reason=str(e.args["reason"]))


def _resumed(p: Projection, conn: Connection, e: DecodedEvent) -> None:
    if int(e.args["tokenId"]) == MARKET_WIDE:
        _state(conn, e, halted=False, halt_reason=None)
    else:
        _rulebook(conn, e, halted=False, halt_reason=None)


def _settlement_agent_set(p: Projection, conn: Connection, e: DecodedEvent) -> None:
    _state(conn, e, settlement_agent=str(e.args["agent"]))


def _state(conn: Connection, e: DecodedEvent, **values: Any) -> None:
    """Change the market's one ``market_state`` row (created by the first change)."""
    row = {"id": STATE_ID, "halted": False, "halt_reason": None, "settlement_agent": None, **values,
           "updated_block": e.block_number, "updated_time": e.block_time}  # fmt: skip
    upsert(conn, m.MarketState, [row], ("id",), replace=[*values, "updated_block", "updated_time"])


# ---------------------------------------------------------------------- orders and trades (hot path)


def _fill(row: dict[str, Any], quantity: int, value: int, fee: int, e: DecodedEvent) -> None:
    remaining = row["remaining"] - quantity
    if remaining < 0:
        raise ReadModelError(f"order {row['order_id']} filled beyond its quantity at block {e.block_number}")
    row["remaining"] = remaining
    row["filled_value"] += value
    row["fees"] += fee
    row["fills"] += 1
    if remaining == 0:
        row.update(status="filled", closed_block=e.block_number, closed_time=e.block_time)


def _order_placed(p: Projection, conn: Connection, e: DecodedEvent) -> None:
    a = e.args
    page = p.page_state(MarketPage)
    order_id = int64(a["orderId"], "order id")
    quantity = int64(a["quantity"], "order quantity")
    row = {
        "order_id": order_id, "token_id": int64(a["tokenId"], "token id"), "owner": a["owner"],
        "side": _side(a["side"]), "price": int64(a["price"], "order price"), "quantity": quantity,
        "remaining": quantity, "filled_value": 0, "fees": 0, "fills": 0, "status": "open",
        "call_phase": bool(a["callPhase"]), "day": trading_date(e.block_time), "placed_block": e.block_number,
        "placed_time": e.block_time, "log_index": e.log_index, "tx_hash": e.tx_hash, "closed_block": None,
        "closed_time": None,
    }  # fmt: skip
    page.absent.discard(order_id)
    page.orders[order_id] = row
    page.placed.add(order_id)
    for quantity_filled, value, fee, fill_event in page.early.pop(order_id, ()):
        _fill(row, quantity_filled, value, fee, fill_event)


def _order_closed(status: str) -> Any:
    def handler(p: Projection, conn: Connection, e: DecodedEvent) -> None:
        order_id = int64(e.args["orderId"], "order id")
        row = p.page_state(MarketPage).order(conn, order_id)
        if row is None:
            raise ReadModelError(f"order {order_id} {status} at block {e.block_number} was never placed")
        row.update(status=status, remaining=int64(e.args["remaining"], "remaining"),
                   closed_block=e.block_number, closed_time=e.block_time)  # fmt: skip

    return handler


def _trade_executed(p: Projection, conn: Connection, e: DecodedEvent) -> None:
    a = e.args
    page = p.page_state(MarketPage)
    token_id = int64(a["tokenId"], "token id")
    price, quantity = int64(a["price"], "trade price"), int64(a["quantity"], "trade quantity")
    value = int64(price * quantity, "trade value")
    buyer_fee, seller_fee = int64(a["buyerFee"], "buyer fee"), int64(a["sellerFee"], "seller fee")
    buy_id, sell_id = int64(a["buyId"], "buy id"), int64(a["sellId"], "sell id")
    mode, day = _mode(a["mode"]), trading_date(e.block_time)
    page.trades.append({
        "id": m.event_id(e.block_number, e.log_index), "token_id": token_id, "buy_id": buy_id,
        "sell_id": sell_id, "buyer": a["buyer"], "seller": a["seller"], "price": price, "quantity": quantity,
        "value": value, "buyer_fee": buyer_fee, "seller_fee": seller_fee, "mode": mode, "day": day,
        "block_number": e.block_number, "log_index": e.log_index, "block_time": e.block_time,
        "tx_hash": e.tx_hash,
    })  # fmt: skip
    page.days.add((token_id, day))
    p.stat("traded", decode_id(token_id).pollutant, a["buyer"], e.block_time, quantity)
    if mode == "block":
        _block(conn, e, buy_id, "accepted")
        return
    for order_id, fee in ((buy_id, buyer_fee), (sell_id, seller_fee)):
        row = page.order(conn, order_id)
        if row is not None:
            _fill(row, quantity, value, fee, e)
        elif mode != "take":  # a take's id is no order; an incoming order's may be placed later in its tx
            page.early[order_id].append((quantity, value, fee, e))


# ---------------------------------------------------------------------- block trades and escrow


def _block_proposed(p: Projection, conn: Connection, e: DecodedEvent) -> None:
    a = e.args
    conn.execute(
        insert(m.MarketBlock).values(
            block_id=int64(a["blockId"], "block id"), token_id=int64(a["tokenId"], "token id"),
            seller=a["seller"], buyer=a["buyer"], price=int64(a["price"], "block price"),
            quantity=int64(a["quantity"], "block quantity"), status="pending", day=trading_date(e.block_time),
            proposed_block=e.block_number, proposed_time=e.block_time, tx_hash=e.tx_hash,
        )
    )  # fmt: skip


def _block(conn: Connection, e: DecodedEvent, block_id: int, status: str) -> None:
    conn.execute(
        update(m.MarketBlock)
        .where(m.MarketBlock.block_id == block_id)
        .values(status=status, closed_block=e.block_number, closed_time=e.block_time)
    )


def _block_closed(status: str) -> Any:
    def handler(p: Projection, conn: Connection, e: DecodedEvent) -> None:
        _block(conn, e, int64(e.args["blockId"], "block id"), status)

    return handler


def _unclaimed(sign: int) -> Any:
    def handler(p: Projection, conn: Connection, e: DecodedEvent) -> None:
        a = e.args
        row = {"account": a["account"], "token_id": int64(a["tokenId"], "token id"),
               "amount": sign * int64(a["amount"], "unclaimed amount")}  # fmt: skip
        upsert(conn, m.MarketUnclaimed, [row], ("account", "token_id"), add=("amount",))

    return handler


HANDLERS: Handlers = {
    ("Market", "RulebookSet"): _rulebook_set,
    ("Market", "ReferencePriceSet"): _reference_price_set,
    ("Market", "TradingHalted"): _halted,
    ("Market", "TradingResumed"): _resumed,
    ("Market", "SettlementAgentSet"): _settlement_agent_set,
    ("Market", "OrderPlaced"): _order_placed,
    ("Market", "OrderCancelled"): _order_closed("cancelled"),
    ("Market", "OrderExpired"): _order_closed("expired"),
    ("Market", "TradeExecuted"): _trade_executed,
    ("Market", "BlockProposed"): _block_proposed,
    ("Market", "BlockDeclined"): _block_closed("declined"),
    ("Market", "BlockCancelled"): _block_closed("cancelled"),
    ("Market", "BlockExpired"): _block_closed("expired"),
    ("Market", "UnclaimedCredited"): _unclaimed(1),
    ("Market", "UnclaimedWithdrawn"): _unclaimed(-1),
}
