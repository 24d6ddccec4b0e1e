"""An enterprise's account statement: per id its opening and closing balance, what moved in and
out by movement type (allocations, transfers, auction purchases, trades and block trades, fees,
deposits, withdrawals, surrenders, penalties ...), freeze events and exchange fees; the daily
statement is the account's lines of a day's settlement report, and the monthly one is the rule
below over the month's daily statements.

Monthly rule (:func:`monthly_statement`), per id: the opening is the opening of the first day
of the month on which the id has a line; the closing is the closing of the last such day; the
inflows, outflows, freeze events and fees are the sums over the days; ``frozen`` is the last
day's. Each day's opening must equal the closing of the id's previous line in the month (the
settlement windows are back to back, so a difference means a day's report is missing or
altered): :class:`StatementContinuityError` otherwise. Every line keeps
``closing == opening + sum(inflows) - sum(outflows)``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Literal

from domain.errors import DomainError
from domain.settlement import MOVEMENT_TYPES
from domain.tokens import CASH_ID

#: Movement types that move value (``freeze`` counts events only), in report order.
VALUE_TYPES = tuple(t for t in MOVEMENT_TYPES if t != "freeze")
#: The movement type of fines (non-compliance penalties).
FINES = "penalty"
#: The movement type of the market's fees (the fee account's side); an enterprise's own fees
#: are inside its trade legs and in ``fee``.
TRADE_FEE = "trade_fee"

Period = Literal["daily", "monthly"]


class StatementError(DomainError):
    """Base class of the refusals of a statement."""


class StatementInputError(StatementError, ValueError):
    """Raised when the daily statements given to the monthly rule do not fit together (another
    account, a day outside the month, a day twice)."""


class StatementContinuityError(StatementError, ValueError):
    """Raised when a day's opening in an id differs from the closing of the id's previous day in
    the month (a report missing or altered)."""


@dataclass(frozen=True)
class StatementLine:
    """One id of a statement (0: settlement cash, in fen).

    Attributes:
        token_id: the id.
        opening, closing: balances at the start and the end of the period.
        inflows, outflows: moved in and out by movement type (only types that moved).
        freeze_events: freezes and releases in the period.
        fee: exchange fees on this line (fen).
        frozen: the balance was frozen at the period's end.
    """

    token_id: int
    opening: int
    closing: int
    inflows: Mapping[str, int] = field(default_factory=dict)
    outflows: Mapping[str, int] = field(default_factory=dict)
    freeze_events: int = 0
    fee: int = 0
    frozen: bool = False

    @property
    def net(self) -> int:
        return sum(self.inflows.values()) - sum(self.outflows.values())

    @property
    def balanced(self) -> bool:
        """Whether ``closing == opening + inflows - outflows``."""
        return self.closing == self.opening + self.net


@dataclass(frozen=True)
class TypeTotal:
    """One movement type over a statement: allowance units (all ids) and cash (fen) in and out."""

    movement: str
    units_in: int
    units_out: int
    cash_in: int
    cash_out: int


@dataclass(frozen=True)
class Statement:
    """An account's statement of a day or a month.

    Attributes:
        account: the account.
        period: ``daily`` or ``monthly``.
        label: ``YYYY-MM-DD`` or ``YYYY-MM``.
        days: the settled days it covers, oldest first.
        report_hashes: each day's report hash (0x hex), in the order of ``days``.
        lines: one per id, by id.
    """

    account: str
    period: Period
    label: str
    days: tuple[date, ...]
    report_hashes: tuple[str, ...]
    lines: tuple[StatementLine, ...]

    def by_type(self) -> list[TypeTotal]:
        """Totals per movement type in report order (types that moved only)."""
        totals: dict[str, list[int]] = {}
        for line in self.lines:
            cash = line.token_id == CASH_ID
            for movement in set(line.inflows) | set(line.outflows):
                acc = totals.setdefault(movement, [0, 0, 0, 0])
                acc[2 if cash else 0] += line.inflows.get(movement, 0)
                acc[3 if cash else 1] += line.outflows.get(movement, 0)
        order = [*VALUE_TYPES, *sorted(set(totals) - set(VALUE_TYPES))]
        return [TypeTotal(t, *totals[t]) for t in order if t in totals]

    @property
    def cash(self) -> StatementLine | None:
        """The settlement cash line, if the account had cash."""
        return next((line for line in self.lines if line.token_id == CASH_ID), None)

    @property
    def fees(self) -> int:
        """Exchange fees charged to the account (fen)."""
        return sum(line.fee for line in self.lines)

    @property
    def fines(self) -> int:
        """Fines paid in cash (fen): the cash line's ``penalty`` outflow."""
        cash = self.cash
        return 0 if cash is None else cash.outflows.get(FINES, 0)


def _add(into: dict[str, int], flows: Mapping[str, int]) -> None:
    for movement, amount in flows.items():
        if amount:
            into[movement] = into.get(movement, 0) + amount


def monthly_statement(account: str, month: str, dailies: Sequence[Statement]) -> Statement:
    """The month's statement from its daily statements (the module's rule).

    Args:
        account: the account.
        month: ``YYYY-MM``.
        dailies: the account's daily statements of settled days of the month, any order.

    Raises:
        StatementInputError: a statement of another account, not daily, outside the month, or a
            day given twice.
        StatementContinuityError: a day's opening differs from the id's previous closing.
    """
    days: set[date] = set()
    for s in dailies:
        if s.account.lower() != account.lower():
            raise StatementInputError(f"the statement of {s.label} is {s.account}'s, not {account}'s")
        if s.period != "daily" or not s.label.startswith(month + "-"):
            raise StatementInputError(f"the {s.period} statement {s.label} is not a day of {month}")
        if s.days[0] in days:
            raise StatementInputError(f"{s.label} is given twice")
        days.add(s.days[0])
    ordered = sorted(dailies, key=lambda s: s.days[0])
    merged: dict[int, _Running] = {}
    for s in ordered:
        for line in s.lines:
            acc = merged.get(line.token_id)
            if acc is None:
                acc = merged[line.token_id] = _Running(line.opening, line.opening)
            if acc.closing != line.opening:
                raise StatementContinuityError(
                    f"{account} id {line.token_id}: the opening of {s.label} is {line.opening} but the "
                    f"previous closing is {acc.closing} (a report is missing or altered)"
                )
            _add(acc.inflows, line.inflows)
            _add(acc.outflows, line.outflows)
            acc.closing = line.closing
            acc.freeze_events += line.freeze_events
            acc.fee += line.fee
            acc.frozen = line.frozen
    lines = tuple(
        StatementLine(token_id, a.opening, a.closing, a.inflows, a.outflows, a.freeze_events, a.fee, a.frozen)
        for token_id, a in sorted(merged.items())
    )
    return Statement(
        account, "monthly", month, tuple(s.days[0] for s in ordered),
        tuple(h for s in ordered for h in s.report_hashes), lines,
    )  # fmt: skip


@dataclass
class _Running:
    """An id's monthly line while the days are added."""

    opening: int
    closing: int
    inflows: dict[str, int] = field(default_factory=dict)
    outflows: dict[str, int] = field(default_factory=dict)
    freeze_events: int = 0
    fee: int = 0
    frozen: bool = False


def statement_lines(rows: Iterable[StatementLine]) -> tuple[StatementLine, ...]:
    """Lines sorted by id (cash first)."""
    return tuple(sorted(rows, key=lambda line: line.token_id))
