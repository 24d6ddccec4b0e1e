"""Read-model queries of the ``/market`` routes: keyword-only functions that filter, scope to what the
signed-in account may see (:mod:`api.access`) and page rows; they raise only the API's typed errors.

Public to every signed-in account: rulebooks, the book aggregated by price level (no owners), the
trades and the daily quotes. An account's own: its orders, its fills and the block proposals it
made or is named in (the regulator and the exchange read every account's; an auditor the
enterprises assigned to it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, false, func, or_, select, true
from sqlalchemy.orm import InstrumentedAttribute, Session

from api import access
from api.deps import PageParams, Principal
from api.errors import ForbiddenError, NotFoundError, QueryError
from api.schemas import paginate
from chain.errors import ContractRevertError
from chain.market import MarketClient
from domain.market import Side, fee
from readmodel import models as m


@dataclass(frozen=True)
class Level:
    """One price level of a side of the book: the open orders' remaining tonnes at ``price``."""

    price: int
    quantity: int
    orders: int


def _in(column: InstrumentedAttribute[str], accounts: frozenset[str]) -> ColumnElement[bool]:
    return column == next(iter(accounts)) if len(accounts) == 1 else column.in_(sorted(accounts))


def _days(
    stmt: Select[Any], column: InstrumentedAttribute[str], day_from: str | None, day_to: str | None
) -> Select[Any]:
    if day_from is not None and day_to is not None and day_to < day_from:
        raise QueryError(f"the days end ({day_to}) before they start ({day_from})")
    if day_from is not None:
        stmt = stmt.where(column >= day_from)
    if day_to is not None:
        stmt = stmt.where(column <= day_to)
    return stmt


# ---------------------------------------------------------------------- public market data


def get_rulebook(db: Session, *, token_id: int) -> m.MarketRulebook:
    """The rulebook of ``token_id``.

    Raises:
        NotFoundError: the token id has no rulebook (it is not listed on the market).
    """
    row = db.get(m.MarketRulebook, token_id)
    if row is None:
        raise NotFoundError(f"token id {token_id} is not listed on the market (it has no rulebook)")
    return row


def list_rulebooks(
    db: Session, *, paging: PageParams, halted: bool | None = None
) -> tuple[list[m.MarketRulebook], int]:
    """The listed token ids' rulebooks, by token id; ``halted`` filters on the effective halt
    (the token id's own or the market-wide one).

    Raises:
        QueryError: the page starts past the end.
    """
    stmt = select(m.MarketRulebook).order_by(m.MarketRulebook.token_id)
    if halted is not None:
        if market_state(db).halted:
            stmt = stmt.where(true() if halted else false())
        else:
            stmt = stmt.where(m.MarketRulebook.halted == halted)
    return paginate(db, stmt, paging)


def market_state(db: Session) -> m.MarketState:
    """The market as a whole: the market-wide halt and the settlement agent (a row that is not
    halted and names no agent before any event set them)."""
    row = db.get(m.MarketState, 1)
    if row is None:
        return m.MarketState(id=1, halted=False, halt_reason=None, settlement_agent=None, updated_block=0,
                             updated_time=0)  # fmt: skip
    return row


def book(db: Session, *, token_id: int, levels: int) -> tuple[list[Level], list[Level]]:
    """The best ``levels`` price levels of each side of ``token_id``'s book, best first, from the
    open orders (call-phase orders included): ``(bids, asks)``.

    Raises:
        NotFoundError: the token id is not listed.
    """
    get_rulebook(db, token_id=token_id)
    o = m.MarketOrder
    sides = []
    for side, best in (("buy", o.price.desc()), ("sell", o.price.asc())):
        rows = db.execute(
            select(o.price, func.sum(o.remaining), func.count())
            .where(o.token_id == token_id, o.status == "open", o.side == side)
            .group_by(o.price)
            .order_by(best)
            .limit(levels)
        ).all()
        sides.append([Level(int(p), int(q), int(n)) for p, q, n in rows])
    return sides[0], sides[1]


def list_trades(
    db: Session,
    *,
    paging: PageParams,
    token_id: int | None = None,
    mode: str | None = None,
    day_from: str | None = None,
    day_to: str | None = None,
) -> tuple[list[m.MarketTrade], int]:
    """Every trade, newest first.

    Raises:
        NotFoundError: ``token_id`` is not listed.
        QueryError: the days end before they start, or the page starts past the end.
    """
    t = m.MarketTrade
    stmt = select(t).order_by(t.id.desc())
    if token_id is not None:
        get_rulebook(db, token_id=token_id)
        stmt = stmt.where(t.token_id == token_id)
    if mode is not None:
        stmt = stmt.where(t.mode == mode)
    return paginate(db, _days(stmt, t.day, day_from, day_to), paging)


def list_quotes(
    db: Session,
    *,
    paging: PageParams,
    token_id: int | None = None,
    mode: str | None = None,
    day_from: str | None = None,
    day_to: str | None = None,
) -> tuple[list[m.MarketQuote], int]:
    """Daily quotes, newest day first, then by token id and mode.

    Raises:
        NotFoundError: ``token_id`` is not listed.
        QueryError: the days end before they start, or the page starts past the end.
    """
    q = m.MarketQuote
    stmt = select(q).order_by(q.day.desc(), q.token_id, q.mode)
    if token_id is not None:
        get_rulebook(db, token_id=token_id)
        stmt = stmt.where(q.token_id == token_id)
    if mode is not None:
        stmt = stmt.where(q.mode == mode)
    return paginate(db, _days(stmt, q.day, day_from, day_to), paging)


def list_reference_prices(
    db: Session,
    *,
    paging: PageParams,
    token_id: int | None = None,
    day_from: str | None = None,
    day_to: str | None = None,
) -> tuple[list[m.MarketReferencePrice], int]:
    """Reference prices given to token ids (by a rulebook or posted), newest first.

    Raises:
        NotFoundError: ``token_id`` is not listed.
        QueryError: the days end before they start, or the page starts past the end.
    """
    r = m.MarketReferencePrice
    stmt = select(r).order_by(r.block_number.desc(), r.log_index.desc())
    if token_id is not None:
        get_rulebook(db, token_id=token_id)
        stmt = stmt.where(r.token_id == token_id)
    return paginate(db, _days(stmt, r.day, day_from, day_to), paging)


# ---------------------------------------------------------------------- an account's own


def list_orders(
    db: Session,
    *,
    viewer: Principal,
    paging: PageParams,
    account: str | None = None,
    token_id: int | None = None,
    side: str | None = None,
    status: str | None = None,
    day_from: str | None = None,
    day_to: str | None = None,
) -> tuple[list[m.MarketOrder], int]:
    """Orders of the accounts ``viewer`` may read (or of ``account``), newest first.

    Raises:
        ForbiddenError: no role, suspended, or ``account`` is not readable.
        NotFoundError: ``token_id`` is not listed.
        QueryError: the days end before they start, or the page starts past the end.
    """
    accounts = access.account_filter(db, viewer, account, "market orders")
    o = m.MarketOrder
    stmt = select(o).order_by(o.order_id.desc())
    if accounts is not None:
        stmt = stmt.where(_in(o.owner, accounts))
    if token_id is not None:
        get_rulebook(db, token_id=token_id)
        stmt = stmt.where(o.token_id == token_id)
    if side is not None:
        stmt = stmt.where(o.side == side)
    if status is not None:
        stmt = stmt.where(o.status == status)
    return paginate(db, _days(stmt, o.day, day_from, day_to), paging)


def get_order(db: Session, *, viewer: Principal, order_id: int) -> m.MarketOrder:
    """One order, if ``viewer`` may read its owner's orders.

    Raises:
        NotFoundError: no order has this id.
        ForbiddenError: no role, suspended, or another account's order.
    """
    viewer.require()
    row = db.get(m.MarketOrder, order_id)
    if row is None:
        raise NotFoundError(f"order {order_id} does not exist")
    if not access.may_read(db, viewer, row.owner):
        raise ForbiddenError(f"{viewer.address} may not read order {order_id}: it is another account's")
    return row


def order_fills(db: Session, *, order: m.MarketOrder) -> list[m.MarketTrade]:
    """The fills of ``order`` in execution order (read its access first: :func:`get_order`)."""
    t = m.MarketTrade
    column = t.buy_id if order.side == "buy" else t.sell_id
    return list(db.execute(select(t).where(column == order.order_id).order_by(t.id)).scalars())


def list_fills(
    db: Session,
    *,
    viewer: Principal,
    paging: PageParams,
    account: str | None = None,
    token_id: int | None = None,
    mode: str | None = None,
    side: str | None = None,
    day_from: str | None = None,
    day_to: str | None = None,
) -> tuple[list[m.MarketTrade], int]:
    """Trades in which an account ``viewer`` may read (or ``account``) bought or sold (``side``:
    only its buys or sells), newest first.

    Raises:
        ForbiddenError: no role, suspended, or ``account`` is not readable.
        NotFoundError: ``token_id`` is not listed.
        QueryError: the days end before they start, or the page starts past the end.
    """
    accounts = access.account_filter(db, viewer, account, "market fills")
    t = m.MarketTrade
    stmt = select(t).order_by(t.id.desc())
    if accounts is not None:
        sides: Sequence[InstrumentedAttribute[str]] = {"buy": (t.buyer,), "sell": (t.seller,)}.get(
            side or "", (t.buyer, t.seller)
        )
        stmt = stmt.where(or_(*(_in(column, accounts) for column in sides)))
    elif side is not None:
        raise QueryError("`side` needs `account`: name whose buys or sells to list")
    if token_id is not None:
        get_rulebook(db, token_id=token_id)
        stmt = stmt.where(t.token_id == token_id)
    if mode is not None:
        stmt = stmt.where(t.mode == mode)
    return paginate(db, _days(stmt, t.day, day_from, day_to), paging)


def list_blocks(
    db: Session,
    *,
    viewer: Principal,
    paging: PageParams,
    account: str | None = None,
    role: str | None = None,
    status: str | None = None,
    token_id: int | None = None,
) -> tuple[list[m.MarketBlock], int]:
    """Block trade proposals made by (``role`` ``seller``) or addressed to (``buyer``) the
    accounts ``viewer`` may read (or ``account``), both by default; newest first.

    Raises:
        ForbiddenError: no role, suspended, or ``account`` is not readable.
        NotFoundError: ``token_id`` is not listed.
        QueryError: the page starts past the end.
    """
    accounts = access.account_filter(db, viewer, account, "block trade proposals")
    b = m.MarketBlock
    stmt = select(b).order_by(b.block_id.desc())
    if accounts is not None:
        columns = {"seller": (b.seller,), "buyer": (b.buyer,)}.get(role or "", (b.seller, b.buyer))
        stmt = stmt.where(or_(*(_in(column, accounts) for column in columns)))
    elif role is not None:
        raise QueryError("`role` needs `account`: name whose proposals (made or received) to list")
    if status is not None:
        stmt = stmt.where(b.status == status)
    if token_id is not None:
        get_rulebook(db, token_id=token_id)
        stmt = stmt.where(b.token_id == token_id)
    return paginate(db, stmt, paging)


def get_block(db: Session, *, viewer: Principal, block_id: int) -> m.MarketBlock:
    """One block trade proposal, if ``viewer`` may read its seller's or its buyer's data.

    Raises:
        NotFoundError: no proposal has this id.
        ForbiddenError: no role, suspended, or a proposal between other accounts.
    """
    viewer.require()
    row = db.get(m.MarketBlock, block_id)
    if row is None:
        raise NotFoundError(f"block trade proposal {block_id} does not exist")
    if not (access.may_read(db, viewer, row.seller) or access.may_read(db, viewer, row.buyer)):
        raise ForbiddenError(
            f"{viewer.address} may not read block trade proposal {block_id}: it is between other accounts"
        )
    return row


def list_unclaimed(
    db: Session, *, viewer: Principal, paging: PageParams, account: str | None = None
) -> tuple[list[m.MarketUnclaimed], int]:
    """Escrow the market holds for the accounts ``viewer`` may read (or ``account``) because it
    could not be returned while they were suspended; rows with nothing left are skipped.

    Raises:
        ForbiddenError: no role, suspended, or ``account`` is not readable.
        QueryError: the page starts past the end.
    """
    accounts = access.account_filter(db, viewer, account, "unclaimed escrow")
    u = m.MarketUnclaimed
    stmt = select(u).where(u.amount != 0).order_by(u.account, u.token_id)
    if accounts is not None:
        stmt = stmt.where(_in(u.account, accounts))
    return paginate(db, stmt, paging)


# ---------------------------------------------------------------------- the market stream


@dataclass(frozen=True)
class MarketChanges:
    """What blocks ``after`` + 1 .. ``block`` changed in the market, for one viewer.

    Attributes:
        block: the last block covered (the stream's event id).
        tokens: token ids touched (orders, trades, blocks, rulebooks, halts), ascending.
        trades: the trades of those blocks, in chain order (show them through
            :func:`api.access.shown_trade_parties`).
        orders: the viewer's own order ids placed, filled, cancelled or expired, ascending (none
            while it has no active role, as ``/market/orders`` answers 403 then).
        halts: halts and resumptions in chain order: ``(token_id, halted, reason)``.
    """

    block: int
    tokens: list[int]
    trades: list[m.MarketTrade]
    orders: list[int]
    halts: list[tuple[int, bool, str | None]]


_ORDER_ARGS = ("orderId", "buyId", "sellId")


def committed_block(db: Session) -> int:
    """The last block the indexer committed to the read model (−1 before its first page)."""
    block = db.execute(
        select(m.Checkpoint.block_number).where(m.Checkpoint.name == m.CHECKPOINT)
    ).scalar_one_or_none()
    return -1 if block is None else int(block)


def market_changes(
    db: Session, *, viewer: Principal, after: int, upto: int, max_trades: int
) -> MarketChanges | None:
    """The market's changes in blocks ``after`` + 1 .. ``upto`` seen by ``viewer``; None when no
    Market event falls in them. When the range holds more than ``max_trades`` trades, the changes
    end with the block of the ``max_trades``-th trade (all of that block's trades included) and
    :attr:`MarketChanges.block` says where: ask again from there."""
    t, e = m.MarketTrade, m.Event
    last = db.execute(
        select(t.block_number)
        .where(t.block_number > after, t.block_number <= upto)
        .order_by(t.id)
        .offset(max_trades - 1)
        .limit(1)
    ).scalar_one_or_none()
    block = upto if last is None else int(last)
    events = db.execute(
        select(e.name, e.args, e.token_id)
        .where(e.block_number > after, e.block_number <= block, e.contract == "Market")
        .order_by(e.block_number, e.log_index)
    ).all()
    if not events:
        return None
    trades = list(
        db.execute(select(t).where(t.block_number > after, t.block_number <= block).order_by(t.id)).scalars()
    )
    tokens = {int(token) for _, _, token in events if token is not None} | {r.token_id for r in trades}
    candidates = {int(args[k]) for _, args, _ in events for k in _ORDER_ARGS if args.get(k) is not None}
    orders: list[int] = []
    if candidates and viewer.powers:  # without a role (or suspended) no orders are its to read
        o = m.MarketOrder
        mine = o.order_id.in_(sorted(candidates)), o.owner == viewer.address
        changed = db.execute(select(o.order_id, o.token_id).where(*mine)).all()
        orders = sorted(int(i) for i, _ in changed)
        tokens |= {int(token) for _, token in changed}
    halts = [
        (int(args["tokenId"]), name == "TradingHalted", args.get("reason"))
        for name, args, _ in events
        if name in ("TradingHalted", "TradingResumed")
    ]
    return MarketChanges(block, sorted(tokens), trades, orders, halts)


# ---------------------------------------------------------------------- from the chain


@dataclass(frozen=True)
class Sellable:
    """An account's allowances of one token id and what T+1 lets it sell today."""

    token_id: int
    balance: int
    bought_today: int
    sellable: int


@dataclass(frozen=True)
class Refusal:
    """What the contract answers an action with instead of doing it: the custom error's name and
    a readable account (``Name(args): meaning``)."""

    error: str
    detail: str


@dataclass(frozen=True)
class Preview:
    """A limit order before it is signed: what it costs and holds, the rules it meets, and the
    contract's refusal (None: it would be accepted now)."""

    value: int
    fee: int
    escrow_cash: int
    escrow_allowances: int
    band_lower: int
    band_upper: int
    sellable: int
    position: int
    position_limit: int | None
    refusal: Refusal | None


def listed_token_ids(db: Session) -> list[int]:
    """The token ids with a rulebook (listed on the market), ascending."""
    r = m.MarketRulebook
    return [int(i) for i in db.execute(select(r.token_id).order_by(r.token_id)).scalars()]


def sellable(market: MarketClient, *, account: str, token_ids: Sequence[int]) -> list[Sellable]:
    """``account``'s balance, today's purchases and sellable allowances (rule 11) of each of
    ``token_ids``, from the Market's and the AllowanceToken's views."""
    rows = []
    for token_id in token_ids:
        balance = market.allowance.balance(account, token_id)
        bought = market.bought_today(account, token_id)
        rows.append(Sellable(token_id, balance, bought, market.sellable(account, token_id)))
    return rows


def preview_order(
    market: MarketClient, *, account: str, token_id: int, side: Side, price: int, quantity: int
) -> Preview:
    """What placing a limit order would do now: the value and the fee (``domain.market.fee``), the
    most cash or allowances it escrows (rule 9: a buy holds price × quantity + its fee until it
    fills; an immediate fill pays no more), the listing band of the token id's rulebook
    (``Rulebook.band``), the account's sellable allowances, its position (balance + open buy
    remaining) and position limit (the Market's ``positionOf``: the smaller of the rulebook's
    limits, None when neither is set), and the refusal the contract gives the same call
    simulated from ``account`` at the latest block (band, funds, T+1, self-trade, halt, session,
    position limit ... by name).

    Raises:
        NotFoundError: the token id has no rulebook on the chain.
    """
    rules = market.rulebook(token_id)
    if rules is None:
        raise NotFoundError(f"token id {token_id} is not listed on the market (it has no rulebook)")
    value = price * quantity
    order_fee = fee(value, rules.fee_bps)
    lower, upper = rules.band
    balance = market.allowance.balance(account, token_id)
    open_buys = sum(market.order(i).remaining for i in market.open_orders_of(account, token_id, Side.BUY))
    _, limit = market.position_of(account, token_id)  # rule 14's effective limit; 0: none set
    refusal = None
    try:
        market.chain.call(market.place_call(token_id, side, price, quantity), sender=account)
    except ContractRevertError as exc:
        refusal = Refusal(exc.error, exc.explain())
    return Preview(
        value=value,
        fee=order_fee,
        escrow_cash=value + order_fee if side is Side.BUY else 0,
        escrow_allowances=quantity if side is Side.SELL else 0,
        band_lower=lower,
        band_upper=upper,
        sellable=market.sellable(account, token_id),
        position=balance + open_buys,
        position_limit=limit or None,
        refusal=refusal,
    )
