"""Abnormal-trading scans of one trading day: wash trades, closing ramps, volume concentration.

Pure functions over a day's trades (:class:`SurveilledTrade`, the read model's ``market_trades``
rows) and the exchange's account records (:class:`AccountRecord`: the enterprise group and the
controller each account declared at opening). Each :class:`Finding` names the accounts and
carries the ids of the trades behind it, so an alert can always be checked against the chain.

The three scans (thresholds in :class:`SurveillanceSettings`):

* **Wash trade**: a trade (any mode, block trades included) whose buyer and seller are the same
  account, or two accounts of one enterprise group, or two accounts with one controller. One
  finding per token id and pair of accounts, with every such trade of the day between them.
* **Closing ramp**: in the last ``ramp_minutes`` before the close, the listing trades (call,
  continuous, take: what makes the close) move the price step by step; each step is put down to
  the trade's aggressor (the side whose order or take came last: the larger of the two ids; a
  call trade has none). An account whose steps add up to more than ``ramp_bps`` of the price at
  the window's start (the last listing price before it, else the reference price, else the
  window's first price) is a finding, citing its steps in that direction.
* **Volume concentration**: an account taking part in more than ``concentration_bps`` of a token
  id's listing volume of the day (its buys and sells; a day with fewer than
  ``concentration_min_trades`` listing trades is not judged: with a handful of trades someone
  always has most of them).

A scan changes nothing and reads no clock; the same inputs give the same findings in the same
order (by token id, kind, accounts).
"""

from __future__ import annotations

import csv
import enum
import io
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Final

from domain.errors import SurveillanceInputError
from domain.market import DAY_SECONDS, Rulebook, TradeMode, cst_time
from domain.units import BPS

__all__ = [
    "RECORD_COLUMNS",
    "AccountRecord",
    "Finding",
    "FindingKind",
    "SurveillanceSettings",
    "SurveilledTrade",
    "closing_ramp",
    "day_number",
    "parse_account_records",
    "scan",
    "volume_concentration",
    "wash_trades",
]

#: Columns of an account-records file (``ets market records import``).
RECORD_COLUMNS: Final = ("account", "group", "controller")
#: Longest group or controller name a record may carry.
MAX_NAME = 200
_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
#: Seconds of the CST day of the afternoon close (15:00) when no rulebook says otherwise.
DEFAULT_CLOSE: Final = Rulebook(reference_price=1).close2


class FindingKind(enum.StrEnum):
    """What a finding is about (the scheduler's alarm kinds of the same names)."""

    WASH_TRADE = "wash_trade"
    CLOSING_RAMP = "closing_ramp"
    VOLUME_CONCENTRATION = "volume_concentration"


_KIND_ORDER = {k: i for i, k in enumerate(FindingKind)}


@dataclass(frozen=True, slots=True)
class SurveillanceSettings:
    """Thresholds of the scans.

    Attributes:
        ramp_bps: an account's price steps in the closing window above this share of the window's
            starting price (bps) make a closing-ramp finding (300: 3 %).
        ramp_minutes: the closing window, in minutes before the close.
        concentration_bps: an account's share of a token id's listing volume of the day above
            this (bps) makes a concentration finding (3,000: 30 %).
        concentration_min_trades: days with fewer listing trades of a token id are not judged
            for concentration.

    Raises:
        SurveillanceInputError: a threshold out of range.
    """

    ramp_bps: int = 300
    ramp_minutes: int = 30
    concentration_bps: int = 3_000
    concentration_min_trades: int = 20

    def __post_init__(self) -> None:
        problems = []
        if not 0 < self.ramp_bps <= BPS:
            problems.append(f"ramp_bps {self.ramp_bps} must be 1..{BPS}")
        if not 0 < self.ramp_minutes <= DAY_SECONDS // 60:
            problems.append(f"ramp_minutes {self.ramp_minutes} must be 1..{DAY_SECONDS // 60}")
        if not 0 < self.concentration_bps < BPS:
            problems.append(f"concentration_bps {self.concentration_bps} must be 1..{BPS - 1}")
        if self.concentration_min_trades < 1:
            problems.append(f"concentration_min_trades {self.concentration_min_trades} must be at least 1")
        if problems:
            raise SurveillanceInputError("; ".join(problems))


@dataclass(frozen=True, slots=True)
class SurveilledTrade:
    """A fill as the scans see it (a ``market_trades`` row).

    Attributes:
        id: the trade's id (its event id: increasing in chain order).
        token_id: the token id traded.
        day: trading day (CST), ``YYYY-MM-DD``.
        time: block time (unix seconds).
        buy_id: the buy order's id (a take's id for a taker's buy; a block's id).
        sell_id: the sell order's id (a take's id for a taker's sell; a block's id).
        buyer: the buyer's address.
        seller: the seller's address.
        price: fen per tonne.
        quantity: tonnes.
        mode: how it came about.
    """

    id: int
    token_id: int
    day: str
    time: int
    buy_id: int
    sell_id: int
    buyer: str
    seller: str
    price: int
    quantity: int
    mode: TradeMode

    @property
    def listing(self) -> bool:
        """Call, continuous or take: the trades open, close and the day's listing volume count."""
        return self.mode is not TradeMode.BLOCK

    @property
    def aggressor(self) -> str | None:
        """The account whose order or take met a resting order (the later id); none for a call
        trade (one price for all) or a block (negotiated)."""
        if self.mode in (TradeMode.CALL, TradeMode.BLOCK):
            return None
        return self.buyer if self.buy_id > self.sell_id else self.seller


@dataclass(frozen=True, slots=True)
class AccountRecord:
    """What the exchange recorded of an account at opening (know-your-customer).

    Attributes:
        account: the account's address.
        group: the enterprise group it belongs to (``None``: none).
        controller: its actual controller (``None``: not recorded).
    """

    account: str
    group: str | None = None
    controller: str | None = None


@dataclass(frozen=True, slots=True)
class Finding:
    """One abnormal pattern of one token id's day.

    Attributes:
        kind: which scan found it.
        day: trading day (CST), ``YYYY-MM-DD``.
        token_id: the token id.
        accounts: the accounts concerned, sorted (by lower-case address).
        trade_ids: the trades behind it, in chain order.
        figures: the numbers it rests on (volumes in tonnes, prices in fen, shares in bps).
        detail: one line for people.
    """

    kind: FindingKind
    day: str
    token_id: int
    accounts: tuple[str, ...]
    trade_ids: tuple[int, ...]
    figures: Mapping[str, int | str] = field(default_factory=dict)
    detail: str = ""

    @property
    def key(self) -> tuple[str, str, int, tuple[str, ...]]:
        """Identity: one finding per (kind, day, token id, accounts)."""
        return (str(self.kind), self.day, self.token_id, tuple(a.lower() for a in self.accounts))


def day_number(day: str) -> int:
    """Days since 1970-01-01 of a ``YYYY-MM-DD`` trading day (the contract's day counter).

    Raises:
        SurveillanceInputError: not a ``YYYY-MM-DD`` date.
    """
    try:
        parsed = date.fromisoformat(day)
    except (TypeError, ValueError):
        raise SurveillanceInputError(f"day {day!r} is not YYYY-MM-DD") from None
    if len(day) != 10:
        raise SurveillanceInputError(f"day {day!r} is not YYYY-MM-DD")
    return parsed.toordinal() - date(1970, 1, 1).toordinal()


def _sorted(accounts: Iterable[str]) -> tuple[str, ...]:
    unique = {a.lower(): a for a in accounts}
    return tuple(unique[k] for k in sorted(unique))


# ---------------------------------------------------------------------- the scans


def _relation(buyer: str, seller: str, records: Mapping[str, AccountRecord]) -> tuple[str, ...]:
    if buyer.lower() == seller.lower():
        return ("same_account",)
    b, s = records.get(buyer.lower()), records.get(seller.lower())
    if b is None or s is None:
        return ()
    found = []
    if b.group and s.group and b.group == s.group:
        found.append("same_group")
    if b.controller and s.controller and b.controller == s.controller:
        found.append("same_controller")
    return tuple(found)


def wash_trades(trades: Sequence[SurveilledTrade], records: Mapping[str, AccountRecord]) -> list[Finding]:
    """Trades between one account and itself, or two accounts of one group or one controller.

    Args:
        trades: one token id's trades of one day, in chain order.
        records: account records by lower-case address.
    """
    pairs: dict[tuple[str, ...], list[SurveilledTrade]] = defaultdict(list)
    relations: dict[tuple[str, ...], tuple[str, ...]] = {}
    for t in trades:
        relation = _relation(t.buyer, t.seller, records)
        if relation:
            accounts = _sorted((t.buyer, t.seller))
            pairs[accounts].append(t)
            relations[accounts] = relation
    findings = []
    for accounts, behind in pairs.items():
        first = behind[0]
        relation = relations[accounts]
        volume = sum(t.quantity for t in behind)
        value = sum(t.price * t.quantity for t in behind)
        names = " and ".join(accounts)
        records_of = [records.get(a.lower()) for a in accounts]
        ties = []
        if "same_group" in relation and records_of[0] is not None:
            ties.append(f"group {records_of[0].group}")
        if "same_controller" in relation and records_of[0] is not None:
            ties.append(f"controller {records_of[0].controller}")
        why = "trades with itself" if relation == ("same_account",) else f"share {' and '.join(ties)}"
        findings.append(
            Finding(
                FindingKind.WASH_TRADE, first.day, first.token_id, accounts, tuple(t.id for t in behind),
                {"relation": "+".join(relation), "trades": len(behind), "volume": volume, "value": value},
                f"{names} {why}: {len(behind)} trades, {volume:,} t",
            )
        )  # fmt: skip
    return findings


def closing_ramp(
    trades: Sequence[SurveilledTrade],
    close_time: int,
    settings: SurveillanceSettings,
    reference_price: int | None = None,
) -> list[Finding]:
    """Accounts whose aggressive trades moved the price more than ``ramp_bps`` in the window of
    ``ramp_minutes`` before ``close_time``.

    Args:
        trades: one token id's trades of one day, in chain order.
        close_time: the close (unix seconds).
        settings: the thresholds.
        reference_price: the day's reference price (the base when nothing traded before the window).
    """
    start = close_time - settings.ramp_minutes * 60
    listing = [t for t in trades if t.listing and t.time < close_time]
    before = [t for t in listing if t.time < start]
    window = [t for t in listing if t.time >= start]
    if not window:
        return []
    base = before[-1].price if before else reference_price or window[0].price
    previous = base
    steps: dict[str, list[tuple[SurveilledTrade, int]]] = defaultdict(list)
    for t in window:
        move = t.price - previous
        previous = t.price
        who = t.aggressor
        if who is not None and move:
            steps[who.lower()].append((t, move))
    findings = []
    for moves in steps.values():
        net = sum(m for _, m in moves)
        if abs(net) * BPS <= settings.ramp_bps * base:
            continue
        behind = [t for t, m in moves if (m > 0) == (net > 0)]
        account = behind[0].aggressor or ""
        direction = "up" if net > 0 else "down"
        move_bps = net * BPS // base if net > 0 else -((-net) * BPS // base)
        findings.append(
            Finding(
                FindingKind.CLOSING_RAMP, behind[0].day, behind[0].token_id, (account,),
                tuple(t.id for t in behind),
                {"direction": direction, "base_price": base, "last_price": window[-1].price, "move": net,
                 "move_bps": move_bps, "window_minutes": settings.ramp_minutes, "trades": len(behind)},
                f"{account} moved the price {direction} {abs(move_bps) / 100:.2f} % in the last "
                f"{settings.ramp_minutes} minutes before the close ({len(behind)} trades from {base} fen/t)",
            )
        )  # fmt: skip
    return findings


def volume_concentration(trades: Sequence[SurveilledTrade], settings: SurveillanceSettings) -> list[Finding]:
    """Accounts in more than ``concentration_bps`` of a token id's listing volume of the day.

    Args:
        trades: one token id's trades of one day, in chain order.
        settings: the thresholds.
    """
    listing = [t for t in trades if t.listing]
    if len(listing) < settings.concentration_min_trades:
        return []
    volume = sum(t.quantity for t in listing)
    by_account: dict[str, list[SurveilledTrade]] = defaultdict(list)
    names: dict[str, str] = {}
    for t in listing:
        for who in {t.buyer.lower(): t.buyer, t.seller.lower(): t.seller}.items():
            by_account[who[0]].append(t)
            names[who[0]] = who[1]
    findings = []
    for key, behind in by_account.items():
        part = sum(t.quantity for t in behind)
        if part * BPS <= settings.concentration_bps * volume:
            continue
        bought = sum(t.quantity for t in behind if t.buyer.lower() == key)
        sold = sum(t.quantity for t in behind if t.seller.lower() == key)
        share = part * BPS // volume
        findings.append(
            Finding(
                FindingKind.VOLUME_CONCENTRATION, behind[0].day, behind[0].token_id, (names[key],),
                tuple(t.id for t in behind),
                {"volume": volume, "account_volume": part, "bought": bought, "sold": sold, "share_bps": share,
                 "trades": len(behind)},
                f"{names[key]} took part in {share / 100:.2f} % of the day's listing volume ({part:,} of "
                f"{volume:,} t: bought {bought:,}, sold {sold:,})",
            )
        )  # fmt: skip
    return findings


def scan(
    trades: Iterable[SurveilledTrade],
    records: Iterable[AccountRecord],
    settings: SurveillanceSettings | None = None,
    *,
    day: str,
    closes: Mapping[int, int] | None = None,
    references: Mapping[int, int] | None = None,
) -> list[Finding]:
    """Every finding of ``day``: the three scans per token id over that day's trades.

    Args:
        trades: trades (others than ``day``'s are left out), any order.
        records: the exchange's account records.
        settings: thresholds (default: :class:`SurveillanceSettings`'s).
        day: the trading day (CST), ``YYYY-MM-DD``.
        closes: close time (unix seconds) per token id (default: 15:00 CST of ``day``).
        references: the day's reference price per token id, when known.

    Returns:
        Findings by token id, kind (wash, ramp, concentration) and accounts.

    Raises:
        SurveillanceInputError: ``day`` is not a date.
    """
    settings = settings or SurveillanceSettings()
    default_close = cst_time(day_number(day), DEFAULT_CLOSE)
    by_record = {r.account.lower(): r for r in records}
    by_token: dict[int, list[SurveilledTrade]] = defaultdict(list)
    for t in trades:
        if t.day == day:
            by_token[t.token_id].append(t)
    findings: list[Finding] = []
    for token_id in sorted(by_token):
        day_trades = sorted(by_token[token_id], key=lambda t: t.id)
        close = (closes or {}).get(token_id, default_close)
        findings += wash_trades(day_trades, by_record)
        findings += closing_ramp(day_trades, close, settings, (references or {}).get(token_id))
        findings += volume_concentration(day_trades, settings)
    findings.sort(key=lambda f: (f.token_id, _KIND_ORDER[f.kind], f.key[3]))
    return findings


# ---------------------------------------------------------------------- account records


def parse_account_records(
    text: str, *, source: str = "records", checksum: Callable[[str], str] | None = None
) -> list[AccountRecord]:
    """Account records from CSV text with the header ``account,group,controller``.

    Empty ``group`` or ``controller`` cells mean none. Every problem is listed (with its line)
    before anything is returned, so a file is taken whole or not at all.

    Args:
        text: the file's text.
        source: the file's name in messages.
        checksum: the EIP-55 form of an address (given by the caller: the domain computes no
            hash); when given, addresses are returned in that form and a mixed-case address that
            differs from it is a bad address.

    Raises:
        SurveillanceInputError: a missing or wrong header, a line without three cells, an account
            that is not a 0x address of 40 hex digits, an account listed twice, a name over
            :data:`MAX_NAME` characters, or no record at all.
    """
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if header is None or tuple(h.strip().lower() for h in header) != RECORD_COLUMNS:
        raise SurveillanceInputError(f"{source}: the header must be {','.join(RECORD_COLUMNS)}, got {header}")
    problems: list[str] = []
    seen: dict[str, int] = {}
    records: list[AccountRecord] = []
    for number, row in enumerate(reader, start=2):
        if not row or all(not cell.strip() for cell in row):
            continue
        where = f"{source} line {number}"
        if len(row) != len(RECORD_COLUMNS):
            problems.append(f"{where}: {len(row)} cells, expected {len(RECORD_COLUMNS)}")
            continue
        account, group, controller = (cell.strip() for cell in row)
        if not _ADDRESS.match(account):
            problems.append(f"{where}: bad address {account!r} (0x and 40 hex digits)")
            continue
        if checksum is not None:
            normal = checksum(account)
            if account[2:] not in (account[2:].lower(), account[2:].upper()) and normal != account:
                problems.append(f"{where}: bad address {account!r} (its EIP-55 checksum is wrong)")
                continue
            account = normal
        if account.lower() in seen:
            problems.append(f"{where}: duplicate account {account} (first on line {seen[account.lower()]})")
            continue
        seen[account.lower()] = number
        for label, value in (("group", group), ("controller", controller)):
            if len(value) > MAX_NAME:
                problems.append(f"{where}: {label} is longer than {MAX_NAME} characters")
        records.append(AccountRecord(account, group or None, controller or None))
    if problems:
        raise SurveillanceInputError(f"{source}: {len(problems)} problem(s): " + "; ".join(problems))
    if not records:
        raise SurveillanceInputError(f"{source}: no account record")
    return records
