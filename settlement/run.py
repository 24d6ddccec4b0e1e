"""A trading day's settlement from the read model: the day's block bounds, every account's opening
and closing balance per id, its movements by type, fees, and the day's journal, computed with
grouped aggregates in the database (no Python object per movement)."""

from __future__ import annotations

import logging
import time as _time
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Protocol

from sqlalchemy import (
    CTE,
    Connection,
    Engine,
    Select,
    and_,
    bindparam,
    case,
    func,
    literal_column,
    or_,
    select,
    union_all,
)
from sqlalchemy.sql.expression import BindParameter, ColumnClause

from domain.settlement import fill_legs, movement_fee
from readmodel import models as m
from settlement.calendar import TradingCalendar, day_code
from settlement.errors import DayNotClosedError, IndexGapError

logger = logging.getLogger(__name__)

ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"
#: Stands for an absent system contract in SQL (matches no address; a NULL bind would not type).
_NONE = "0x-none"
#: The type :func:`_typed` gives every leg of a market transaction before :func:`settle` splits it.
MARKET = "market"


# ---------------------------------------------------------------------- what settlement needs of the chain


class BlockLike(Protocol):
    """A block's number, timestamp and hash (``chain.settlement.BlockRef``)."""

    @property
    def number(self) -> int: ...

    @property
    def timestamp(self) -> int: ...

    @property
    def hash(self) -> str: ...


class ChainView(Protocol):
    """The chain as settlement reads it (``chain.settlement.ChainLedger``)."""

    def head(self) -> BlockLike: ...

    def last_block_before(self, timestamp: int, *, head: BlockLike | None = None) -> BlockLike | None: ...

    def log_counts(self, from_block: int, to_block: int) -> dict[int, int]: ...

    def allowance_balances(
        self, pairs: Sequence[tuple[str, int]], block: int
    ) -> dict[tuple[str, int], int]: ...

    def cash_balances(self, accounts: Sequence[str], block: int) -> dict[str, int]: ...

    def supplies(self, ids: Sequence[int], block: int) -> dict[int, int]: ...


# ---------------------------------------------------------------------- results


@dataclass(frozen=True)
class SystemAccounts:
    """The suite's contracts that hold escrow: their movements are auctions, surrenders and the
    exchange market's trades and escrow."""

    auction_house: str | None = None
    compliance_manager: str | None = None
    market: str | None = None


#: No escrow contracts known (every non-mint, non-burn movement is a transfer).
NO_SYSTEM = SystemAccounts()


@dataclass(frozen=True)
class DayBounds:
    """The blocks of one trading day.

    Attributes:
        day: the trading day.
        start: first block time of the window (previous close), unix seconds.
        end: the close (exclusive), unix seconds.
        first_block: first block of the day (may exceed ``last_block`` on an empty day).
        last_block: last block of the day (−1: the chain had no block before the close).
        last_block_hash: its hash, when read from the chain.
        source: ``"chain"`` (bounds from block headers) or ``"read-model"`` (from indexed events).
    """

    day: date
    start: int
    end: int
    first_block: int
    last_block: int
    last_block_hash: str | None
    source: str

    @property
    def code(self) -> int:
        """The day as ``YYYYMMDD``."""
        return day_code(self.day)


@dataclass
class Flow:
    """Gross amounts in and out of one account (or all accounts) and the number of legs."""

    inflow: int = 0
    outflow: int = 0
    count: int = 0

    @property
    def net(self) -> int:
        return self.inflow - self.outflow


@dataclass
class AccountLine:
    """One account's settlement in one id (0: cash).

    Attributes:
        account: the address.
        token_id: the id.
        opening: balance at the previous trading day's last block.
        closing: balance at this day's last block.
        flows: movements of the day by type.
        fee: exchange fees of the day on this line (fen).
        frozen: the balance is frozen at the close.
    """

    account: str
    token_id: int
    opening: int
    closing: int
    flows: dict[str, Flow] = field(default_factory=dict)
    fee: int = 0
    frozen: bool = False

    @property
    def net(self) -> int:
        return sum(f.net for f in self.flows.values())


@dataclass(frozen=True)
class ChainBankEvent:
    """A ``CashDeposited`` / ``CashWithdrawn`` event of the day."""

    direction: str
    account: str
    amount: int
    bank_ref_hash: str
    tx_hash: str
    block_number: int


@dataclass(frozen=True)
class FreezeEvent:
    """A ``BalanceFrozen`` (``frozen`` True) or ``BalanceReleased`` event of the day."""

    account: str
    token_id: int
    frozen: bool
    reason: int | None
    tx_hash: str
    block_number: int


@dataclass(frozen=True)
class MarketDay:
    """The exchange market's part of a settled day.

    Attributes:
        market: the Market contract.
        fee_account: where the Market pays its fees at the day's last block (``FeeAccountSet``).
        fills: the day's fills (``TradeExecuted``).
        fees_charged: buyer plus seller fees of the day's fills.
        fee_transfers: cash the fee account received in market transactions (``Transfer`` events).
    """

    market: str
    fee_account: str | None
    fills: int
    fees_charged: int
    fee_transfers: int


@dataclass
class Settlement:
    """A trading day settled from the read model.

    Attributes:
        bounds: the day's blocks.
        lines: every (account, id) with any history up to the close, sorted.
        totals: (id, type) → flows summed over all accounts.
        movements: transfers of the day (a batch transfer counts once per id).
        freezes: freeze and release events of the day.
        bank_events: cash deposits and withdrawals of the day.
        fees_total: exchange fees of the day.
        market: the exchange market's fills and fees (None when no Market is known).
    """

    bounds: DayBounds
    lines: list[AccountLine]
    totals: dict[tuple[int, str], Flow]
    movements: int
    freezes: list[FreezeEvent]
    bank_events: list[ChainBankEvent]
    fees_total: int
    market: MarketDay | None = None

    @property
    def token_ids(self) -> list[int]:
        return sorted({line.token_id for line in self.lines})

    @property
    def accounts(self) -> list[str]:
        return sorted({line.account for line in self.lines})


# ---------------------------------------------------------------------- the day's blocks


def checkpoint_block(conn: Connection) -> int | None:
    """The last block the indexer committed, or None before its first page."""
    row = conn.execute(select(m.Checkpoint.block_number).where(m.Checkpoint.name == m.CHECKPOINT)).first()
    return None if row is None else int(row[0])


def day_bounds(
    engine: Engine,
    calendar: TradingCalendar,
    day: date,
    *,
    chain: ChainView | None = None,
    now: float | None = None,
) -> DayBounds:
    """The blocks of trading day ``day``, checked closed and fully indexed.

    With a chain, the bounds come from block headers (binary search on timestamps), the day is
    closed once the chain has a block at or after the close, and the read model must hold as
    many events per block as the chain has logs. Without one (a read model alone, e.g. a
    benchmark), the wall clock must be past the close and the bounds come from indexed events.

    Raises:
        CalendarError: ``day`` is not a trading day.
        DayNotClosedError: the close has not passed.
        IndexGapError: the read model is behind the day's last block or misses events in it.
    """
    start, end = calendar.window(day)
    with engine.connect() as conn:
        indexed = checkpoint_block(conn)
        if chain is None:
            clock = _time.time() if now is None else now
            if clock < end:
                raise DayNotClosedError(
                    f"trading day {day} is still open: it closes at {_local(calendar, end)}"
                )
            first, last = _bounds_from_read_model(conn, start, end)
            if indexed is None or indexed < last:
                raise IndexGapError(
                    f"the read model is indexed to block {indexed}, the day ends at block {last}"
                )
            return DayBounds(day, start, end, first, last, None, "read-model")
        head = chain.head()
        if head.timestamp < end:
            raise DayNotClosedError(
                f"trading day {day} is still open: the chain's latest block {head.number} is at "
                f"{_local(calendar, head.timestamp)}, before the close at {_local(calendar, end)}"
            )
        last_ref = chain.last_block_before(end, head=head)
        before = chain.last_block_before(start, head=head)
        first = 0 if before is None else before.number + 1
        last = -1 if last_ref is None else last_ref.number
        bounds = DayBounds(day, start, end, first, last, None if last_ref is None else last_ref.hash, "chain")
        if indexed is None or indexed < last:
            raise IndexGapError(
                f"the read model is indexed to block {indexed if indexed is not None else 'none'}, "
                f"the day ends at block {last}: let the indexer catch up (`ets index run`)"
            )
        _check_event_counts(conn, chain, bounds)
        return bounds


def _local(calendar: TradingCalendar, timestamp: int) -> str:
    from datetime import datetime

    return datetime.fromtimestamp(timestamp, calendar.zone).strftime("%Y-%m-%d %H:%M:%S %Z")


def _bounds_from_read_model(conn: Connection, start: int, end: int) -> tuple[int, int]:
    # block times never decrease: the last event before a time is the last in time order (index seek)
    e = m.Event
    latest = (
        select(e.block_number)
        .where(e.block_time < bindparam("t"))
        .order_by(e.block_time.desc(), e.block_number.desc(), e.log_index.desc())
        .limit(1)
    )
    before = conn.execute(latest, {"t": start}).scalar()
    last = conn.execute(latest, {"t": end}).scalar()
    first = 0 if before is None else int(before) + 1
    return first, (-1 if last is None else int(last))


def _ranges(blocks: Sequence[int]) -> str:
    """``1-3, 7`` for blocks 1, 2, 3, 7."""
    parts: list[str] = []
    run: list[int] = []
    for b in sorted(blocks):
        if run and b == run[-1] + 1:
            run.append(b)
            continue
        if run:
            parts.append(f"{run[0]}-{run[-1]}" if len(run) > 1 else str(run[0]))
        run = [b]
    if run:
        parts.append(f"{run[0]}-{run[-1]}" if len(run) > 1 else str(run[0]))
    return ", ".join(parts)


def _check_event_counts(conn: Connection, chain: ChainView, bounds: DayBounds) -> None:
    if bounds.last_block < bounds.first_block:
        return
    on_chain = chain.log_counts(bounds.first_block, bounds.last_block)
    e = m.Event
    per_block = (
        select(e.block_number, func.count())
        .where(e.block_number.between(bounds.first_block, bounds.last_block))
        .group_by(e.block_number)
    )
    indexed = {int(b): int(n) for b, n in conn.execute(per_block)}
    wrong = sorted(b for b in set(on_chain) | set(indexed) if on_chain.get(b, 0) != indexed.get(b, 0))
    if wrong:
        missing = sum(max(on_chain.get(b, 0) - indexed.get(b, 0), 0) for b in wrong)
        raise IndexGapError(
            f"the read model misses events of {len(wrong)} block(s) of {bounds.day} "
            f"({missing} logs on-chain not indexed) in blocks {_ranges(wrong)}: "
            "rebuild it (`ets index reset`)"
        )


# ---------------------------------------------------------------------- the day's movements

#: Parameters of the day's queries (:func:`_params`).
_ZERO: BindParameter[Any] = bindparam("zero")
_AH: BindParameter[Any] = bindparam("ah")
_CM: BindParameter[Any] = bindparam("cm")
_MK: BindParameter[Any] = bindparam("mk")
_B0: BindParameter[Any] = bindparam("b0")
_B1: BindParameter[Any] = bindparam("b1")
_T0: BindParameter[Any] = bindparam("t0")
_T1: BindParameter[Any] = bindparam("t1")


def _typed() -> CTE:
    """The day's transfers with their movement type (``mtype``), from the point of view of both
    parties. ``k.kind``: 3 = the transaction executed a market trade, 2 = it paid a penalty, 1 = it
    withdrew auction proceeds. Every leg with the Market and every leg of a trade's transaction
    is typed ``market``: :func:`settle` splits those into the fills' movements and the escrow."""
    e, tr = m.Event, m.Transfer
    k = (
        select(
            e.tx_hash,
            func.max(
                case(
                    {"TradeExecuted": literal_column("3"), "PenaltyPaid": literal_column("2")},
                    value=e.name,
                    else_=literal_column("1"),
                )
            ).label("kind"),
        )
        .where(
            or_(
                and_(e.contract == "ComplianceManager", e.name == "PenaltyPaid"),
                and_(e.contract == "SealedBidAuction", e.name == "ProceedsWithdrawn"),
                and_(e.contract == "Market", e.name == "TradeExecuted"),
            ),
            e.block_time >= _T0,
            e.block_time < _T1,
            e.block_number.between(_B0, _B1),
        )
        .group_by(e.tx_hash)
        .cte("k")
    )
    cash = tr.token_id == 0
    mtype = case(
        (and_(tr.sender == _ZERO, cash), literal_column("'deposit'")),
        (and_(tr.recipient == _ZERO, cash), literal_column("'withdrawal'")),
        (tr.sender == _ZERO, literal_column("'allocation'")),
        (tr.recipient == _ZERO, literal_column("'surrender'")),
        (k.c.kind == 2, literal_column("'penalty'")),
        (or_(tr.sender == _CM, tr.recipient == _CM), literal_column("'surrender'")),
        (and_(tr.recipient == _AH, cash), literal_column("'auction_purchase'")),
        (tr.recipient == _AH, literal_column("'auction_sale'")),
        (and_(tr.sender == _AH, k.c.kind == 1), literal_column("'auction_sale'")),
        (tr.sender == _AH, literal_column("'auction_purchase'")),
        (
            or_(tr.sender == _MK, tr.recipient == _MK, and_(k.c.kind == 3, _MK != _NONE)),
            literal_column(f"'{MARKET}'"),
        ),
        else_=literal_column("'transfer'"),
    )
    return (
        select(
            tr.id,
            tr.block_number,
            tr.log_index,
            tr.block_time,
            tr.tx_hash,
            tr.token_id,
            tr.sender,
            tr.recipient,
            tr.amount,
            mtype.label("mtype"),
        )
        .select_from(tr)
        .outerjoin(k, k.c.tx_hash == tr.tx_hash)
        .where(tr.block_number.between(_B0, _B1))
        .cte("t")
    )


def _flows() -> Select[Any]:
    """Per (account, id, type): gross in, gross out and the number of legs of the day."""
    t = _typed()
    zero: ColumnClause[Any] = literal_column("0")
    legs = union_all(
        select(t.c.recipient.label("account"), t.c.token_id, t.c.mtype,
               t.c.amount.label("inflow"), zero.label("outflow")).where(t.c.recipient != _ZERO),
        select(t.c.sender.label("account"), t.c.token_id, t.c.mtype,
               zero.label("inflow"), t.c.amount.label("outflow")).where(t.c.sender != _ZERO),
    ).subquery("legs")  # fmt: skip
    return select(
        legs.c.account, legs.c.token_id, legs.c.mtype,
        func.sum(legs.c.inflow), func.sum(legs.c.outflow), func.count(),
    ).group_by(legs.c.account, legs.c.token_id, legs.c.mtype)  # fmt: skip


def _balances(after: bool) -> Select[Any]:
    """Per (account, id): the net of every transfer up to block ``:block`` (``after``: after it)."""
    tr = m.Transfer
    block: BindParameter[Any] = bindparam("block")
    within = tr.block_number > block if after else tr.block_number <= block
    legs = union_all(
        select(tr.recipient.label("account"), tr.token_id, tr.amount.label("delta"))
        .where(within, tr.recipient != _ZERO),
        select(tr.sender.label("account"), tr.token_id, (-tr.amount).label("delta"))
        .where(within, tr.sender != _ZERO),
    ).subquery("legs")  # fmt: skip
    return select(legs.c.account, legs.c.token_id, func.sum(legs.c.delta)).group_by(
        legs.c.account, legs.c.token_id
    )


_FLOWS = _flows()
_BALANCES = {False: _balances(False), True: _balances(True)}


def _params(bounds: DayBounds, system: SystemAccounts) -> dict[str, Any]:
    return {
        "b0": bounds.first_block,
        "b1": bounds.last_block,
        "t0": bounds.start,
        "t1": bounds.end,
        "zero": ZERO_ADDRESS,
        "ah": system.auction_house or _NONE,
        "cm": system.compliance_manager or _NONE,
        "mk": system.market or _NONE,
    }


def balances(conn: Connection, block: int, *, after: bool = False) -> dict[tuple[str, int], int]:
    """Net of every transfer up to ``block`` inclusive (``after``: of those after it), per
    (account, id), summed in the database."""
    rows = conn.execute(_BALANCES[after], {"block": block, "zero": ZERO_ADDRESS})
    return {(str(a), int(t)): int(v) for a, t, v in rows}


def holdings(conn: Connection) -> dict[tuple[str, int], int]:
    """The indexer's current balances (its ``holdings`` projection)."""
    return {
        (str(a), int(t)): int(v)
        for a, t, v in conn.execute(select(m.Holding.account, m.Holding.token_id, m.Holding.balance))
    }


def settle(
    engine: Engine,
    bounds: DayBounds,
    *,
    system: SystemAccounts = NO_SYSTEM,
    fees: Mapping[str, Any] | None = None,
) -> Settlement:
    """Settle the day: balances, flows by type, totals, fees, freezes and bank events.

    Args:
        engine: the read model.
        bounds: the day's blocks (:func:`day_bounds`).
        system: the escrow contracts (auction house, compliance manager).
        fees: movement type → :class:`settlement.config.FeeRate` (anything with ``per_tonne``
            and ``bps``).
    """
    with engine.connect() as conn:
        closing = balances(conn, bounds.last_block)
        flows: dict[tuple[str, int], dict[str, Flow]] = defaultdict(dict)
        params = _params(bounds, system)
        for account, token_id, mtype, inflow, outflow, count in conn.execute(_FLOWS, params):
            flows[(str(account), int(token_id))][str(mtype)] = Flow(int(inflow), int(outflow), int(count))
        count_day = (
            select(func.count()).select_from(m.Transfer).where(m.Transfer.block_number.between(_B0, _B1))
        )
        movements = int(conn.execute(count_day, params).scalar_one())
        freezes, frozen = _freezes(conn, bounds)
        bank_events = _bank_events(conn, bounds)
        market = _split_market(conn, bounds, system.market, flows) if system.market else None
    for event in freezes:
        flow = flows[(event.account, event.token_id)].setdefault("freeze", Flow())
        flow.count += 1
    totals: dict[tuple[int, str], Flow] = defaultdict(Flow)
    for (_, token_id), line_flows in flows.items():
        for mtype, flow in line_flows.items():
            total = totals[(token_id, mtype)]
            total.inflow += flow.inflow
            total.outflow += flow.outflow
            total.count += flow.count
    lines: list[AccountLine] = []
    fees_total = 0
    for key in sorted(set(closing) | set(flows)):
        account, token_id = key
        line_flows = flows.get(key, {})
        close = closing.get(key, 0)
        line = AccountLine(
            account,
            token_id,
            close - sum(f.net for f in line_flows.values()),
            close,
            dict(sorted(line_flows.items())),
            frozen=key in frozen,
        )
        line.fee = _fee(line, fees or {})
        fees_total += line.fee
        lines.append(line)
    logger.info(
        "settled",
        extra={
            "day": bounds.day.isoformat(),
            "block": bounds.last_block,
            "lines": len(lines),
            "movements": movements,
        },
    )
    return Settlement(
        bounds, lines, dict(sorted(totals.items())), movements, freezes, bank_events, fees_total, market
    )


def fee_account_at(conn: Connection, block: int) -> str | None:
    """The Market's fee account at ``block`` (its last ``FeeAccountSet`` up to it), None if unset."""
    e = m.Event
    row = conn.execute(
        select(e.args)
        .where(e.contract == "Market", e.name == "FeeAccountSet", e.block_number <= block)
        .order_by(e.block_number.desc(), e.log_index.desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    values = row[0] if isinstance(row[0], dict) else _json(row[0])
    return str(values["account"])


def _split_market(
    conn: Connection, bounds: DayBounds, market: str, flows: dict[tuple[str, int], dict[str, Flow]]
) -> MarketDay:
    """Replace every line's ``market`` legs by the day's fills (:func:`domain.settlement.fill_legs`:
    ``trade_*``, ``block_*``, ``trade_fee``) and what they leave, the escrow placed with the Market
    and not consumed by a fill that day (``market_escrow``, one net leg). Lines keep their net."""
    t = m.MarketTrade
    fee_account = fee_account_at(conn, bounds.last_block)
    is_block = case((t.mode == "block", literal_column("1")), else_=literal_column("0"))
    grouped = conn.execute(
        select(
            t.token_id, t.buyer, t.seller, is_block, func.count(),
            func.sum(t.quantity), func.sum(t.value), func.sum(t.buyer_fee), func.sum(t.seller_fee),
        )
        .where(t.block_number.between(bounds.first_block, bounds.last_block))
        .group_by(t.token_id, t.buyer, t.seller, is_block)
    )  # fmt: skip
    trade: dict[tuple[str, int], dict[str, Flow]] = defaultdict(dict)
    fills = fees_charged = 0
    for token_id, buyer, seller, block, count, quantity, value, buyer_fee, seller_fee in grouped:
        fills += int(count)
        fees_charged += int(buyer_fee) + int(seller_fee)
        for leg in fill_legs(
            token_id=int(token_id), buyer=str(buyer), seller=str(seller), fee_account=fee_account or "",
            quantity=int(quantity), value=int(value), buyer_fee=int(buyer_fee), seller_fee=int(seller_fee),
            block=bool(block),
        ):  # fmt: skip
            if not leg.account:
                continue
            flow = trade[(leg.account, leg.token_id)].setdefault(leg.movement, Flow())
            flow.inflow += leg.inflow
            flow.outflow += leg.outflow
            flow.count += int(count)
    fee_transfers = 0
    if fee_account is not None:
        fee_flow = flows.get((fee_account, 0), {}).get(MARKET)
        fee_transfers = fee_flow.net if fee_flow else 0
    for key in set(trade) | {k for k, v in flows.items() if MARKET in v}:
        line = flows[key]
        legs = line.pop(MARKET, Flow())
        made = trade.get(key, {})
        line.update(made)
        residual = legs.net - sum(f.net for f in made.values())
        if residual:
            line["market_escrow"] = Flow(max(residual, 0), max(-residual, 0), 1)
    return MarketDay(market, fee_account, fills, fees_charged, fee_transfers)


def _fee(line: AccountLine, fees: Mapping[str, Any]) -> int:
    total = 0
    for mtype, flow in line.flows.items():
        rate = fees.get(mtype)
        if rate is None:
            continue
        total += movement_fee(line.token_id, flow.inflow + flow.outflow, rate)
    return total


def _freezes(conn: Connection, bounds: DayBounds) -> tuple[list[FreezeEvent], set[tuple[str, int]]]:
    """Freeze/release events of the day, and the (holder, id) pairs frozen at the close."""
    e = m.Event
    rows = conn.execute(
        select(e.block_number, e.name, e.args, e.tx_hash)
        .where(
            e.contract == "AllowanceToken",
            e.name.in_(("BalanceFrozen", "BalanceReleased")),
            e.block_time < bounds.end,
            e.block_number <= bounds.last_block,
        )
        .order_by(e.block_number, e.log_index)
    )
    day: list[FreezeEvent] = []
    state: dict[tuple[str, int], bool] = {}
    for block_number, name, args, tx_hash in rows:
        values = args if isinstance(args, dict) else _json(args)
        key = (str(values["holder"]), int(values["id"]))
        frozen = name == "BalanceFrozen"
        state[key] = frozen
        if int(block_number) >= bounds.first_block:
            reason = int(values["reasonCode"]) if frozen else None
            day.append(FreezeEvent(key[0], key[1], frozen, reason, str(tx_hash), int(block_number)))
    return day, {k for k, v in state.items() if v}


def _bank_events(conn: Connection, bounds: DayBounds) -> list[ChainBankEvent]:
    e = m.Event
    rows = conn.execute(
        select(e.block_number, e.name, e.args, e.tx_hash)
        .where(
            e.contract == "SettlementToken",
            e.name.in_(("CashDeposited", "CashWithdrawn")),
            e.block_time >= bounds.start,
            e.block_time < bounds.end,
            e.block_number.between(bounds.first_block, bounds.last_block),
        )
        .order_by(e.block_number, e.log_index)
    )
    out = []
    for block_number, name, args, tx_hash in rows:
        values = args if isinstance(args, dict) else _json(args)
        direction = "deposit" if name == "CashDeposited" else "withdrawal"
        out.append(
            ChainBankEvent(
                direction,
                str(values["account"]),
                int(values["amount"]),
                str(values["bankRef"]).lower(),
                str(tx_hash),
                int(block_number),
            )
        )
    return out


def _json(raw: Any) -> dict[str, Any]:
    import json

    value = json.loads(raw)
    if not isinstance(value, dict):
        raise ValueError(f"event arguments are not an object: {raw!r}")
    return value


def journal(
    engine: Engine, bounds: DayBounds, system: SystemAccounts = NO_SYSTEM
) -> Iterator[tuple[Any, ...]]:
    """The day's movements in chain order, streamed: (block, log index, block time, tx hash, id,
    sender, recipient, amount, type)."""
    t = _typed()
    sql = select(
        t.c.block_number, t.c.log_index, t.c.block_time, t.c.tx_hash, t.c.token_id,
        t.c.sender, t.c.recipient, t.c.amount, t.c.mtype,
    ).order_by(t.c.block_number, t.c.log_index, t.c.id)  # fmt: skip
    with engine.connect() as conn:
        result = conn.execution_options(stream_results=True, yield_per=10_000).execute(
            sql, _params(bounds, system)
        )
        yield from result


def movements_of(
    engine: Engine, bounds: DayBounds, account: str, token_id: int, limit: int = 10
) -> list[str]:
    """Transaction hashes of the day that moved ``account``'s ``token_id`` (at most ``limit``)."""
    with engine.connect() as conn:
        tr = m.Transfer
        rows = conn.execute(
            select(tr.tx_hash, tr.block_number)
            .distinct()
            .where(
                tr.block_number.between(bounds.first_block, bounds.last_block),
                tr.token_id == token_id,
                or_(tr.sender == account, tr.recipient == account),
            )
            .order_by(tr.block_number, tr.tx_hash)
            .limit(limit)
        )
        return [str(r[0]) for r in rows]
