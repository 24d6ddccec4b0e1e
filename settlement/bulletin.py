"""The daily settlement bulletin and the large-holder report of a settled day: built from the read
model (the day's fills, the year's earlier fills, settlement's closing balances and the sells in
escrow at the close), written with the day's report, and read back from the written report
checked against its manifest (``read_bulletin``)."""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, and_, func, or_, select

from domain.bulletin import (
    ALL,
    COLUMNS,
    Bulletin,
    BulletinRow,
    Fill,
    YearTotals,
    build_bulletin,
    bulletin_mode,
)
from domain.tokens import CASH_ID, token_label
from domain.units import BPS
from readmodel import models as m
from settlement.calendar import day_code
from settlement.errors import BulletinNotSettledError, ReportAlteredError
from settlement.run import DayBounds, Settlement, SystemAccounts
from settlement.verify import MANIFEST, read_report

#: Default large-holder threshold: 5 % of a token id's issued quantity.
LARGE_HOLDER_BPS = 500

BULLETIN_HEADER = ("trading_day", *COLUMNS)
HOLDERS_HEADER = ("trading_day", "token_id", "token", "account", "name", "balance", "issued", "share_bps")
FILLS_HEADER = (
    "block",
    "log_index",
    "block_time",
    "tx_hash",
    "token_id",
    "mode",
    "buyer",
    "seller",
    "price",
    "quantity",
    "value",
    "buyer_fee",
    "seller_fee",
)


def bulletin_file(code: int) -> str:
    """The bulletin's file name in a day's report."""
    return f"bulletin-{code}.csv"


def holders_file(code: int) -> str:
    """The large-holder report's file name in a day's report."""
    return f"large_holders-{code}.csv"


def fills_file(code: int) -> str:
    """The day's fills file name in a day's report."""
    return f"fills-{code}.csv"


@dataclass(frozen=True)
class LargeHolder:
    """An account holding at least the threshold share of a token id at the close.

    Attributes:
        token_id: the allowance id.
        account: the holder.
        name: its registered name ("" when unknown).
        balance: its closing balance plus its sells in escrow with the Market at the close.
        issued: the id's issued quantity at the close (its total supply).
        share_bps: ``balance / issued`` in basis points, rounded down.
    """

    token_id: int
    account: str
    name: str
    balance: int
    issued: int
    share_bps: int


@dataclass(frozen=True)
class SettledBulletin(Bulletin):
    """A bulletin read back from a settled day's report.

    Attributes:
        report_hash: the report's hash (``0x`` + SHA-256 of its manifest: what is anchored).
        threshold_bps: the large-holder threshold the report used.
        large_holders: the day's large holders.
    """

    report_hash: str = ""
    threshold_bps: int = LARGE_HOLDER_BPS
    large_holders: tuple[LargeHolder, ...] = ()


# ---------------------------------------------------------------------- from the read model


def _fills_in(bounds: DayBounds) -> Any:
    t = m.MarketTrade
    return t.block_number.between(bounds.first_block, bounds.last_block)


def day_bulletin(engine: Engine, bounds: DayBounds) -> Bulletin:
    """The bulletin of the settled day ``bounds``: its fills (by block) and the year's fills before
    its first block (the trading days of the same calendar year)."""
    t = m.MarketTrade
    with engine.connect() as conn:
        rows = conn.execute(
            select(t.token_id, t.mode, t.price, t.quantity)
            .where(_fills_in(bounds))
            .order_by(t.block_number, t.log_index)
        )
        fills = [Fill(int(a), str(b), int(c), int(d)) for a, b, c, d in rows]
        prior = _year_before(conn, bounds)
    return build_bulletin(bounds.day, fills, prior)


def _year_before(conn: Connection, bounds: DayBounds) -> dict[tuple[int, str], YearTotals]:
    t = m.MarketTrade
    rows = conn.execute(
        select(t.token_id, t.mode, func.sum(t.quantity), func.sum(t.value), func.count())
        .where(t.day >= f"{bounds.day.year}-01-01", t.block_number < bounds.first_block)
        .group_by(t.token_id, t.mode)
    )
    prior: dict[tuple[int, str], YearTotals] = defaultdict(YearTotals)
    for token_id, mode, volume, turnover, count in rows:
        totals = YearTotals(int(volume), int(turnover), int(count))
        for key in ((int(token_id), bulletin_mode(str(mode))), (int(token_id), ALL)):
            prior[key] = prior[key] + totals
    return dict(prior)


def escrowed_sells(conn: Connection, bounds: DayBounds) -> dict[tuple[str, int], int]:
    """Allowances each account had in the Market's escrow at the day's last block: what remained
    of its sell orders open then, and its block proposals pending then."""
    last = bounds.last_block
    o, t, b = m.MarketOrder, m.MarketTrade, m.MarketBlock
    open_at = and_(
        o.side == "sell", o.placed_block <= last, or_(o.closed_block.is_(None), o.closed_block > last)
    )
    # filled up to the close: per open order, through the trades' sell_id index
    filled = (
        select(func.coalesce(func.sum(t.quantity), 0))
        .where(t.sell_id == o.order_id, t.block_number <= last, t.mode != "block")
        .scalar_subquery()
    )
    out: dict[tuple[str, int], int] = defaultdict(int)
    orders = conn.execute(
        select(o.owner, o.token_id, func.sum(o.quantity - filled))
        .where(open_at)
        .group_by(o.owner, o.token_id)
    )
    for owner, token_id, quantity in orders:
        out[(str(owner), int(token_id))] += int(quantity)
    pending = and_(b.proposed_block <= last, or_(b.closed_block.is_(None), b.closed_block > last))
    blocks = conn.execute(
        select(b.seller, b.token_id, func.sum(b.quantity)).where(pending).group_by(b.seller, b.token_id)
    )
    for seller, token_id, quantity in blocks:
        out[(str(seller), int(token_id))] += int(quantity)
    return {k: v for k, v in out.items() if v}


def large_holders(
    engine: Engine, settlement: Settlement, threshold_bps: int, system: SystemAccounts
) -> list[LargeHolder]:
    """Accounts holding at least ``threshold_bps`` of an allowance id's issued quantity at the
    close: settlement's closing balance plus the sells in the Market's escrow (the escrow
    contracts themselves are not holders). Sorted by id, then share (largest first), account."""
    issued: dict[int, int] = defaultdict(int)
    held: dict[tuple[str, int], int] = defaultdict(int)
    contracts = {a for a in (system.auction_house, system.compliance_manager, system.market) if a}
    for line in settlement.lines:
        if line.token_id == CASH_ID:
            continue
        issued[line.token_id] += line.closing
        if line.account not in contracts and line.closing:
            held[(line.account, line.token_id)] += line.closing
    with engine.connect() as conn:
        for key, quantity in escrowed_sells(conn, settlement.bounds).items():
            held[key] += quantity
        found = [
            (account, token_id, balance)
            for (account, token_id), balance in held.items()
            if issued.get(token_id, 0) > 0 and balance * BPS >= threshold_bps * issued[token_id]
        ]
        names = _names(conn, sorted({a for a, _, _ in found}))
    holders = [LargeHolder(t, a, names.get(a, ""), q, issued[t], q * BPS // issued[t]) for a, t, q in found]
    holders.sort(key=lambda h: (h.token_id, -h.share_bps, h.account))
    return holders


def _names(conn: Connection, accounts: Sequence[str]) -> dict[str, str]:
    if not accounts:
        return {}
    p = m.Participant
    rows = conn.execute(select(p.address, p.name).where(p.address.in_(accounts)))
    return {str(a): str(n) for a, n in rows if n}


def fills(engine: Engine, bounds: DayBounds) -> Iterator[tuple[Any, ...]]:
    """The day's fills in chain order, streamed (:data:`FILLS_HEADER`)."""
    t = m.MarketTrade
    sql = select(
        t.block_number, t.log_index, t.block_time, t.tx_hash, t.token_id, t.mode, t.buyer, t.seller,
        t.price, t.quantity, t.value, t.buyer_fee, t.seller_fee,
    ).where(_fills_in(bounds)).order_by(t.block_number, t.log_index)  # fmt: skip
    with engine.connect() as conn:
        yield from conn.execution_options(stream_results=True, yield_per=10_000).execute(sql)


# ---------------------------------------------------------------------- CSV


def _cell(value: int | str | None) -> int | str:
    return "" if value is None else value


def bulletin_rows(bulletin: Bulletin) -> Iterable[list[int | str]]:
    """Rows of the bulletin CSV (:data:`BULLETIN_HEADER`; an empty cell is no trade that day)."""
    day = bulletin.day.isoformat()
    for row in bulletin.rows:
        yield [day, *(_cell(v) for v in row.values())]


def holder_rows(day: date, holders: Iterable[LargeHolder]) -> Iterable[list[int | str]]:
    """Rows of the large-holder CSV (:data:`HOLDERS_HEADER`)."""
    for h in holders:
        yield [
            day.isoformat(),
            h.token_id,
            token_label(h.token_id),
            h.account,
            h.name,
            h.balance,
            h.issued,
            h.share_bps,
        ]


# ---------------------------------------------------------------------- read back


def _int_or_none(text: str) -> int | None:
    return None if text == "" else int(text)


def _csv(path: Path, header: Sequence[str]) -> list[dict[str, str]]:
    reader = csv.DictReader(io.StringIO(path.read_text(encoding="utf-8")))
    if tuple(reader.fieldnames or ()) != tuple(header):
        raise ReportAlteredError(f"{path.name} does not have the bulletin's columns", [path.name])
    return list(reader)


def read_bulletin(reports_dir: Path, day: date) -> SettledBulletin:
    """The bulletin and large holders of settled ``day``, from its written report under
    ``reports_dir``, after checking every file of the report against its manifest.

    Raises:
        BulletinNotSettledError: the day has no report (not settled), or its report predates
            the bulletin.
        ReportAlteredError: a file of the report differs from its manifest.
    """
    directory = reports_dir / day.isoformat()
    if not (directory / MANIFEST).is_file():
        raise BulletinNotSettledError(f"trading day {day} is not settled: no report in {directory}")
    report_hash, altered = read_report(directory)
    if altered:
        raise ReportAlteredError(
            f"the report of {day} differs from its manifest: {', '.join(altered)}", altered
        )
    manifest = json.loads((directory / MANIFEST).read_bytes())
    code = day_code(day)
    listed = manifest.get("files", {})
    if bulletin_file(code) not in listed or holders_file(code) not in listed:
        raise BulletinNotSettledError(f"the report of {day} has no bulletin (written before bulletins)")
    rows = tuple(
        BulletinRow(
            int(r["token_id"]),
            r["mode"],
            int(r["volume"]),
            int(r["turnover"]),
            _int_or_none(r["open"]),
            _int_or_none(r["high"]),
            _int_or_none(r["low"]),
            _int_or_none(r["vwap"]),
            _int_or_none(r["close"]),
            int(r["trades"]),
            int(r["ytd_volume"]),
            int(r["ytd_turnover"]),
            int(r["ytd_trades"]),
        )
        for r in _csv(directory / bulletin_file(code), BULLETIN_HEADER)
    )
    holders = tuple(
        LargeHolder(
            int(r["token_id"]),
            r["account"],
            r["name"],
            int(r["balance"]),
            int(r["issued"]),
            int(r["share_bps"]),
        )
        for r in _csv(directory / holders_file(code), HOLDERS_HEADER)
    )
    threshold = int(manifest.get("large_holder_bps", LARGE_HOLDER_BPS))
    return SettledBulletin(day, rows, "0x" + report_hash.hex(), threshold, holders)
