"""The state a page of projections shares: the rows gathered for one ``executemany`` per table,
balance and statistic sums, the enterprise profiles statistics are attributed with, and the
signature of an event handler (one per (contract, event), in :mod:`readmodel.indexer.projections`)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar, cast

from sqlalchemy import Connection

from chain.events import DecodedEvent
from domain.market import trading_day
from readmodel.errors import ReadModelError

INT64_MAX = 2**63 - 1


def int64(value: Any, what: str) -> int:
    """``value`` as an int that fits the read model's int64 columns.

    Raises:
        ReadModelError: it does not fit.
    """
    number = int(value)
    if not -INT64_MAX - 1 <= number <= INT64_MAX:
        raise ReadModelError(f"{what} = {number} does not fit the read model's int64 columns")
    return number


class _Periods:
    """Local (UTC+8) day, month and year strings of block times, memoised per day."""

    def __init__(self) -> None:
        self._days: dict[int, tuple[str, str, str]] = {}

    def of(self, block_time: int) -> tuple[str, str, str]:
        day, _ = trading_day(block_time)
        found = self._days.get(day)
        if found is None:
            date = datetime.fromtimestamp(day * 86_400, UTC)
            found = (date.strftime("%Y-%m-%d"), date.strftime("%Y-%m"), date.strftime("%Y"))
            self._days[day] = found
        return found


class PageState(Protocol):
    """A projection's rows for one page, gathered by its handlers and written at the page's end
    (:meth:`Projection.page_state`); built with no arguments."""

    def flush(self, conn: Connection) -> None:
        """Write the page's rows on ``conn`` (the page's transaction)."""


S = TypeVar("S", bound=PageState)


class Projection:
    """What the handlers of one projector share across pages (profiles, auction tokens) and
    within a page (rows and sums written once at its end).

    Args:
        system: addresses of the suite's contracts: transfers to or from them are escrow
            (auction guarantees and lots, compliance applications), not trades.
        auction_house: address of the SealedBidAuction: its deliveries to buyers are trades.
    """

    def __init__(self, system: Sequence[str] = (), auction_house: str | None = None) -> None:
        self.system = frozenset(system)
        self.auction_house = auction_house
        #: enterprise → (region code, industry code); None until loaded from the read model.
        self.profiles: dict[str, tuple[int | None, str | None]] | None = None
        #: auction id → token id it sells.
        self.auction_tokens: dict[int, int] = {}
        self._periods = _Periods()
        self._reset_page()

    def _reset_page(self) -> None:
        self.holdings: dict[tuple[str, int], int] = defaultdict(int)
        self.rollups: dict[tuple[str, str, int, str, str], list[Any]] = {}
        self.transfers: list[dict[str, Any]] = []
        self.batches: list[dict[str, Any]] = []
        #: page states by their class, flushed (in creation order) before the page's other rows.
        self.page_states: dict[type[Any], PageState] = {}

    def page_state(self, kind: type[S]) -> S:
        """The page's state of class ``kind``, created at its first use in the page."""
        found = self.page_states.get(kind)
        if found is None:
            found = self.page_states[kind] = kind()
        return cast(S, found)

    def stat(
        self,
        metric: str,
        pollutant: int,
        who: str,
        block_time: int,
        value: float,
        periods: Sequence[tuple[str, str]] | None = None,
    ) -> None:
        """Add ``value`` to ``metric`` of ``who`` for the day, month and year of ``block_time``
        (or the given (grain, period) pairs)."""
        assert self.profiles is not None
        region, industry = self.profiles.get(who, (None, None))
        if periods is None:
            day, month, year = self._periods.of(block_time)
            periods = (("day", day), ("month", month), ("year", year))
        for grain, period in periods:
            key = (grain, metric, pollutant, period, who)
            found = self.rollups.get(key)
            if found is None:
                self.rollups[key] = [value, 1, region, industry]
            else:
                found[0] += value
                found[1] += 1


#: Projects one decoded event: rows written on the caller's transaction, or gathered in the page.
Handler = Callable[[Projection, Connection, DecodedEvent], None]
#: (manifest contract name, event name) → its handler.
Handlers = dict[tuple[str, str], Handler]
