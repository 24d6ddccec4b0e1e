"""The monthly statement rule: openings from the first day, closings from the last, flows, freeze
events and fees summed; every line balanced; refused by name: a broken chain of days, another
account's statement, a day outside the month or given twice."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.statements import (
    Statement,
    StatementContinuityError,
    StatementInputError,
    StatementLine,
    monthly_statement,
)
from domain.tokens import CASH_ID

ACCOUNT = "0x90F79bf6EB2c4f870365E785982E1f101E93b906"
TOKEN = 16844776
MOVES = ("allocation", "trade_buy", "trade_sell", "penalty", "deposit")


def daily(day: int, lines: list[StatementLine], account: str = ACCOUNT) -> Statement:
    d = date(2027, 3, day)
    return Statement(account, "daily", d.isoformat(), (d,), ("0x" + f"{day:064x}",), tuple(lines))


@st.composite
def months(draw: st.DrawFn) -> list[Statement]:
    """Back-to-back daily statements of March 2027 in cash and one allowance id."""
    days = draw(st.lists(st.integers(1, 31), min_size=1, max_size=8, unique=True))
    balances = {CASH_ID: draw(st.integers(0, 10**9)), TOKEN: draw(st.integers(0, 10**6))}
    out = []
    for day in sorted(days):
        lines = []
        for token_id in (CASH_ID, TOKEN):
            inflows = {
                m: draw(st.integers(0, 10**6)) for m in draw(st.sets(st.sampled_from(MOVES), max_size=3))
            }
            outflows = {
                m: draw(st.integers(0, 10**6)) for m in draw(st.sets(st.sampled_from(MOVES), max_size=3))
            }
            opening = balances[token_id]
            closing = opening + sum(inflows.values()) - sum(outflows.values())
            balances[token_id] = closing
            freezes, fee, frozen = draw(st.integers(0, 3)), draw(st.integers(0, 10**4)), draw(st.booleans())
            lines.append(StatementLine(token_id, opening, closing, inflows, outflows, freezes, fee, frozen))
        out.append(daily(day, lines))
    return out


@given(months(), st.randoms())
def test_monthly_statement_sums_the_days_and_stays_balanced(dailies: list[Statement], rnd: object) -> None:
    shuffled = list(dailies)
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    month = monthly_statement(ACCOUNT, "2027-03", shuffled)
    assert month.days == tuple(d.days[0] for d in dailies) and month.period == "monthly"
    for line in month.lines:
        per_day = [x for d in dailies for x in d.lines if x.token_id == line.token_id]
        assert line.opening == per_day[0].opening and line.closing == per_day[-1].closing
        assert line.balanced
        for movement in MOVES:
            assert line.inflows.get(movement, 0) == sum(x.inflows.get(movement, 0) for x in per_day)
            assert line.outflows.get(movement, 0) == sum(x.outflows.get(movement, 0) for x in per_day)
        assert line.fee == sum(x.fee for x in per_day) and line.frozen == per_day[-1].frozen
    assert month.fees == sum(d.fees for d in dailies)
    assert month.fines == sum(d.fines for d in dailies)


def test_monthly_statement_refused_when_a_day_breaks_the_chain() -> None:
    first = daily(1, [StatementLine(CASH_ID, 100, 150, {"deposit": 50})])
    gap = daily(2, [StatementLine(CASH_ID, 140, 140)])
    with pytest.raises(StatementContinuityError, match="previous closing is 150"):
        monthly_statement(ACCOUNT, "2027-03", [first, gap])


def test_monthly_statement_refused_for_foreign_misplaced_or_repeated_days() -> None:
    day = daily(1, [StatementLine(CASH_ID, 0, 0)])
    with pytest.raises(StatementInputError, match="not 0x"):
        monthly_statement("0x" + "11" * 20, "2027-03", [day])
    with pytest.raises(StatementInputError, match="not a day of 2027-04"):
        monthly_statement(ACCOUNT, "2027-04", [day])
    with pytest.raises(StatementInputError, match="given twice"):
        monthly_statement(ACCOUNT, "2027-03", [day, day])
