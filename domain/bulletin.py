"""The daily settlement bulletin's arithmetic: per token id and trading mode (listing, call, block,
and all of them) the day's volume, turnover, open, high, low, VWAP, close and number of trades,
with the running totals of the year; pure, from the day's fills and the totals before the day."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date

from domain.errors import InvalidInputError
from domain.market import vwap_close

#: The bulletin's trading modes, in row order: listing trades (continuous matching and takes),
#: the opening call auction, block trades; ``all`` is every trade of the token id.
MODES = ("listing", "call", "block")
ALL = "all"
ROW_MODES = (*MODES, ALL)
#: The Market's trade modes (``TradeExecuted.mode``, ``market_trades.mode``) by bulletin mode.
MODE_OF = {"continuous": "listing", "take": "listing", "call": "call", "block": "block"}
#: Columns of a bulletin row, in CSV and API order.
COLUMNS = (
    "token_id",
    "mode",
    "volume",
    "turnover",
    "open",
    "high",
    "low",
    "vwap",
    "close",
    "trades",
    "ytd_volume",
    "ytd_turnover",
    "ytd_trades",
)


@dataclass(frozen=True)
class Fill:
    """One fill of the day, in chain order.

    Attributes:
        token_id: the allowance id traded.
        mode: the Market's trade mode (``call``, ``continuous``, ``take``, ``block``).
        price: fen per tonne.
        quantity: tonnes.
    """

    token_id: int
    mode: str
    price: int
    quantity: int


@dataclass(frozen=True)
class YearTotals:
    """Running totals of one (token id, bulletin mode) in a calendar year."""

    volume: int = 0
    turnover: int = 0
    trades: int = 0

    def __add__(self, other: YearTotals) -> YearTotals:
        return YearTotals(
            self.volume + other.volume, self.turnover + other.turnover, self.trades + other.trades
        )


@dataclass(frozen=True)
class BulletinRow:
    """One (token id, mode) of the day.

    Attributes:
        token_id: the allowance id.
        mode: one of :data:`ROW_MODES`.
        volume: tonnes traded that day.
        turnover: fen traded that day (price × quantity summed).
        open: the first trade's price (None without trades that day); high and low likewise.
        vwap: turnover / volume rounded half up to the fen (None without trades).
        close: the token id's official close of the day (rule 8, :func:`domain.market.vwap_close`
            over its listing and call trades, blocks excluded: the next day's reference price),
            the same on each of its rows; None when it had no listing or call trade.
        trades: number of fills that day.
        ytd_volume: tonnes traded in the year up to and including the day; ``ytd_turnover`` and
            ``ytd_trades`` likewise.
    """

    token_id: int
    mode: str
    volume: int
    turnover: int
    open: int | None
    high: int | None
    low: int | None
    vwap: int | None
    close: int | None
    trades: int
    ytd_volume: int
    ytd_turnover: int
    ytd_trades: int

    @property
    def ytd(self) -> YearTotals:
        return YearTotals(self.ytd_volume, self.ytd_turnover, self.ytd_trades)

    def values(self) -> tuple[int | str | None, ...]:
        """The row's values in :data:`COLUMNS` order."""
        return tuple(getattr(self, c) for c in COLUMNS)


@dataclass(frozen=True)
class Bulletin:
    """The day's bulletin: rows by token id, then mode in :data:`ROW_MODES` order."""

    day: date
    rows: tuple[BulletinRow, ...]

    def row(self, token_id: int, mode: str) -> BulletinRow | None:
        """The row of (``token_id``, ``mode``), None when the bulletin has none."""
        return next((r for r in self.rows if r.token_id == token_id and r.mode == mode), None)

    def year_to_date(self) -> dict[tuple[int, str], YearTotals]:
        """Every row's running totals: the ``prior`` of the next trading day in the same year."""
        return {(r.token_id, r.mode): r.ytd for r in self.rows}


def bulletin_mode(trade_mode: str) -> str:
    """The bulletin mode of a Market trade mode.

    Raises:
        InvalidInputError: not a Market trade mode.
    """
    try:
        return MODE_OF[trade_mode]
    except KeyError:
        raise InvalidInputError(f"unknown trade mode {trade_mode!r}; known: {', '.join(MODE_OF)}") from None


def _half_up(turnover: int, volume: int) -> int:
    return (2 * turnover + volume) // (2 * volume)


def build_bulletin(
    day: date, fills: Iterable[Fill], prior: Mapping[tuple[int, str], YearTotals] | None = None
) -> Bulletin:
    """The bulletin of ``day`` from its fills (chain order) and the year's totals before it.

    A token id has rows when it traded that day or earlier in the year (``prior``): its ``all``
    row always, a mode's row when that mode traded in the year. ``prior`` holds the totals of the
    year up to the previous trading day, per (token id, mode), ``all`` included (a previous
    bulletin's :meth:`Bulletin.year_to_date`; empty on the year's first trading day).

    Raises:
        InvalidInputError: a fill with an unknown mode, a price or quantity below 1.
    """
    prior = prior or {}
    per: dict[tuple[int, str], list[Fill]] = {}
    for fill in fills:
        if fill.price < 1 or fill.quantity < 1:
            raise InvalidInputError(f"a fill needs a price and quantity of at least 1: {fill}")
        mode = bulletin_mode(fill.mode)
        per.setdefault((fill.token_id, mode), []).append(fill)
        per.setdefault((fill.token_id, ALL), []).append(fill)
    tokens = sorted({t for t, _ in per} | {t for t, _ in prior})
    rows: list[BulletinRow] = []
    for token_id in tokens:
        listing = [
            (f.price, f.quantity) for mode in ("listing", "call") for f in per.get((token_id, mode), [])
        ]
        close = vwap_close(listing, 0) if listing else None
        for mode in ROW_MODES:
            key = (token_id, mode)
            day_fills = per.get(key, [])
            before = prior.get(key, YearTotals())
            if not day_fills and before == YearTotals() and mode != ALL:
                continue
            volume = sum(f.quantity for f in day_fills)
            turnover = sum(f.price * f.quantity for f in day_fills)
            today = YearTotals(volume, turnover, len(day_fills))
            ytd = before + today
            prices = [f.price for f in day_fills]
            rows.append(
                BulletinRow(
                    token_id,
                    mode,
                    volume,
                    turnover,
                    prices[0] if prices else None,
                    max(prices) if prices else None,
                    min(prices) if prices else None,
                    _half_up(turnover, volume) if volume else None,
                    close,
                    len(day_fills),
                    ytd.volume,
                    ytd.turnover,
                    ytd.trades,
                )
            )
    return Bulletin(day, tuple(rows))
