"""An enterprise's daily and monthly statements read from the settled reports (the account's lines
of each day's settlement CSV, after checking the report's files against its manifest), and their
CSV and PDF downloads. The monthly rule is :func:`domain.statements.monthly_statement`."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from datetime import date
from pathlib import Path
from typing import Any

from reportlab.lib.pagesizes import A4, landscape  # type: ignore[import-untyped]
from reportlab.lib.styles import getSampleStyleSheet  # type: ignore[import-untyped]
from reportlab.lib.units import mm  # type: ignore[import-untyped]
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle  # type: ignore[import-untyped]

from domain.statements import VALUE_TYPES, Statement, StatementLine, monthly_statement, statement_lines
from domain.tokens import CASH_ID, token_label
from settlement.calendar import day_code
from settlement.errors import ReportAlteredError, StatementNotSettledError
from settlement.verify import MANIFEST, read_report

#: Columns of a statement's CSV: one row per id (the settlement CSV's columns for the account).
CSV_HEADER = (
    ["period", "account", "token_id", "token", "opening"]
    + [f"{t}_{d}" for t in VALUE_TYPES for d in ("in", "out")]
    + ["freeze_events", "net", "closing", "fee_fen", "frozen"]
)


def settled_days(reports_dir: Path, month: str | None = None) -> list[date]:
    """The days under ``reports_dir`` with a report (a manifest), oldest first; those of
    ``month`` (``YYYY-MM``) when given. Only names are read: a day listed may still be refused
    as altered."""
    days: list[date] = []
    if not reports_dir.is_dir():
        return days
    for directory in reports_dir.iterdir():
        try:
            day = date.fromisoformat(directory.name)
        except ValueError:
            continue
        in_month = month is None or directory.name.startswith(month + "-")
        if in_month and directory.name == day.isoformat() and (directory / MANIFEST).is_file():
            days.append(day)
    return sorted(days)


def read_daily(reports_dir: Path, day: date, account: str) -> Statement:
    """``account``'s statement of settled ``day``: its lines of the day's settlement CSV.

    Raises:
        StatementNotSettledError: the day has no report.
        ReportAlteredError: a file of the report differs from its manifest.
    """
    directory = reports_dir / day.isoformat()
    if not (directory / MANIFEST).is_file():
        raise StatementNotSettledError(f"trading day {day} is not settled: no report in {directory}")
    report_hash, altered = read_report(directory)
    if altered:
        raise ReportAlteredError(
            f"the report of {day} differs from its manifest: {', '.join(altered)}", altered
        )
    wanted = account.lower()
    lines: list[StatementLine] = []
    with (directory / f"settlement-{day_code(day)}.csv").open(encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            if row["account"].lower() != wanted:
                continue
            inflows = {t: int(row[f"{t}_in"]) for t in VALUE_TYPES if int(row[f"{t}_in"])}
            outflows = {t: int(row[f"{t}_out"]) for t in VALUE_TYPES if int(row[f"{t}_out"])}
            lines.append(
                StatementLine(
                    int(row["token_id"]), int(row["opening"]), int(row["closing"]), inflows, outflows,
                    int(row["freeze_events"]), int(row["fee_fen"]), row["frozen"] == "1",
                )
            )  # fmt: skip
    return Statement(
        account, "daily", day.isoformat(), (day,), ("0x" + report_hash.hex(),), statement_lines(lines)
    )


def read_monthly(reports_dir: Path, month: str, account: str) -> Statement:
    """``account``'s statement of ``month`` (``YYYY-MM``) from the month's settled days.

    Raises:
        StatementNotSettledError: no day of the month is settled.
        ReportAlteredError: a day's report differs from its manifest.
        StatementContinuityError: a day's opening differs from the previous closing.
    """
    days = settled_days(reports_dir, month)
    if not days:
        raise StatementNotSettledError(f"no trading day of {month} is settled")
    return monthly_statement(account, month, [read_daily(reports_dir, d, account) for d in days])


def _rows(statement: Statement) -> Iterable[list[Any]]:
    for line in statement.lines:
        row: list[Any] = [
            statement.label,
            statement.account,
            line.token_id,
            token_label(line.token_id),
            line.opening,
        ]
        for t in VALUE_TYPES:
            row += [line.inflows.get(t, 0), line.outflows.get(t, 0)]
        row += [line.freeze_events, line.net, line.closing, line.fee, int(line.frozen)]
        yield row


def statement_csv(statement: Statement) -> bytes:
    """The statement as CSV (:data:`CSV_HEADER`; for a daily statement the very figures of the
    day's settlement CSV)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    writer.writerows(_rows(statement))
    return out.getvalue().encode("utf-8")


def _amount(token_id: int, value: int) -> str:
    if token_id == CASH_ID:
        sign = "-" if value < 0 else ""
        return f"{sign}{abs(value) // 100:,}.{abs(value) % 100:02d}"
    return f"{value:,}"


def _table(rows: list[list[Any]]) -> Table:
    table = Table(rows, repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, -1), "Helvetica", 8),
                ("FONT", (0, 0), (-1, 0), "Helvetica-Bold", 8),
                ("GRID", (0, 0), (-1, -1), 0.25, (0.5, 0.5, 0.5)),
                ("ALIGN", (1, 1), (-1, -1), "RIGHT"),
            ]
        )
    )
    return table


def statement_pdf(statement: Statement) -> bytes:
    """The statement as a PDF: balances per id, totals per movement type (trades, fees, cash,
    fines ...), fees and fines, and the report hashes it was read from (same bytes for the same
    statement)."""
    styles = getSampleStyleSheet()
    buffer = io.BytesIO()
    what = "Daily" if statement.period == "daily" else "Monthly"
    doc = SimpleDocTemplate(
        buffer, pagesize=landscape(A4), leftMargin=12 * mm, rightMargin=12 * mm, topMargin=12 * mm,
        bottomMargin=12 * mm, title=f"{what} statement {statement.account} {statement.label}",
        author="ETS Chain exchange", creator="ETS Chain settlement", invariant=1,
    )  # fmt: skip
    balances: list[list[Any]] = [["id", "opening", "in", "out", "closing", "fee (CNY)", "frozen"]]
    for line in statement.lines:
        t = line.token_id
        balances.append(
            [token_label(t), _amount(t, line.opening), _amount(t, sum(line.inflows.values())),
             _amount(t, sum(line.outflows.values())), _amount(t, line.closing), _amount(CASH_ID, line.fee),
             "yes" if line.frozen else ""]
        )  # fmt: skip
    types: list[list[Any]] = [["movement", "units in", "units out", "cash in (CNY)", "cash out (CNY)"]]
    for total in statement.by_type():
        types.append(
            [total.movement, f"{total.units_in:,}", f"{total.units_out:,}", _amount(CASH_ID, total.cash_in),
             _amount(CASH_ID, total.cash_out)]
        )  # fmt: skip
    days = ", ".join(d.isoformat() for d in statement.days)
    story: list[Any] = [
        Paragraph(f"{what} account statement — {statement.account}", styles["Title"]),
        Paragraph(f"Period {statement.label}; settled days: {days}.", styles["Normal"]),
        Paragraph(
            f"Exchange fees: {_amount(CASH_ID, statement.fees)} CNY. Fines (penalties): "
            f"{_amount(CASH_ID, statement.fines)} CNY.",
            styles["Normal"],
        ),
        Spacer(1, 3 * mm),
        Paragraph("Balances", styles["Heading2"]),
        _table(balances),
        Spacer(1, 3 * mm),
        Paragraph("Movements by type", styles["Heading2"]),
        _table(types),
        Spacer(1, 3 * mm),
        Paragraph(
            "Read from the settlement reports with hashes: " + ", ".join(statement.report_hashes),
            styles["Normal"],
        ),
    ]
    doc.build(story)
    return buffer.getvalue()
