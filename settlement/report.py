"""The daily settlement report (CSV files, a PDF with tables and charts, a manifest whose SHA-256
is the hash anchored on-chain) and per-account statements; every byte depends only on the day's
data, so a re-run of the same day writes the same files."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from reportlab.graphics.charts.barcharts import HorizontalBarChart  # type: ignore[import-untyped]
from reportlab.graphics.shapes import Drawing, String  # type: ignore[import-untyped]
from reportlab.lib import colors  # type: ignore[import-untyped]
from reportlab.lib.pagesizes import A4, landscape  # type: ignore[import-untyped]
from reportlab.lib.styles import getSampleStyleSheet  # type: ignore[import-untyped]
from reportlab.lib.units import mm  # type: ignore[import-untyped]
from reportlab.platypus import LongTable, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle  # type: ignore[import-untyped]

from domain.bulletin import Bulletin
from domain.settlement import MOVEMENT_TYPES
from domain.tokens import CASH_ID as CASH
from domain.tokens import token_label
from settlement.bulletin import (
    BULLETIN_HEADER,
    FILLS_HEADER,
    HOLDERS_HEADER,
    LARGE_HOLDER_BPS,
    LargeHolder,
    bulletin_file,
    bulletin_rows,
    fills_file,
    holder_rows,
    holders_file,
)
from settlement.calendar import TradingCalendar
from settlement.reconcile import Reconciliation
from settlement.run import AccountLine, Settlement
from settlement.verify import MANIFEST

logger = logging.getLogger(__name__)

#: 2: the market's movement types, the fills, the daily bulletin and the large holders.
FORMAT_VERSION = 2
#: Movement types that move value (``freeze`` only counts events).
VALUE_TYPES = tuple(t for t in MOVEMENT_TYPES if t != "freeze")
#: Lines shown in the PDF's account table (the most active first); the CSV has them all.
PDF_ACCOUNT_LINES = 300


@dataclass(frozen=True)
class ReportBundle:
    """A written report.

    Attributes:
        directory: where its files are.
        files: file name → SHA-256 (hex).
        manifest: path of ``manifest.json``.
        report_hash: SHA-256 of the manifest's bytes: what is signed and anchored.
        balanced: whether reconciliation found no difference.
    """

    directory: Path
    files: dict[str, str]
    manifest: Path
    report_hash: bytes
    balanced: bool


def _csv_text(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode("utf-8")


def _write(path: Path, data: bytes) -> str:
    """Write ``data`` (atomically) and return its SHA-256."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
    return hashlib.sha256(data).hexdigest()


def _write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """Stream ``rows`` into a CSV file (atomically; the journal of a busy day does not fit a
    string comfortably) and return its SHA-256."""
    tmp = path.with_suffix(path.suffix + ".tmp")
    digest = hashlib.sha256()
    with tmp.open("w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
    with tmp.open("rb") as written:
        for chunk in iter(lambda: written.read(1 << 20), b""):
            digest.update(chunk)
    tmp.replace(path)
    return digest.hexdigest()


def settlement_rows(lines: Iterable[AccountLine], day: str) -> Iterable[list[Any]]:
    """Rows of the settlement CSV."""
    for line in lines:
        row: list[Any] = [day, line.account, line.token_id, token_label(line.token_id), line.opening]
        for mtype in VALUE_TYPES:
            flow = line.flows.get(mtype)
            row += [flow.inflow, flow.outflow] if flow else [0, 0]
        freeze = line.flows.get("freeze")
        row += [freeze.count if freeze else 0, line.net, line.closing, line.fee, int(line.frozen)]
        yield row


SETTLEMENT_HEADER = (
    ["trading_day", "account", "token_id", "token", "opening"]
    + [f"{t}_{d}" for t in VALUE_TYPES for d in ("in", "out")]
    + ["freeze_events", "net", "closing", "fee_fen", "frozen"]
)
TOTALS_HEADER = ("trading_day", "token_id", "token", "type", "legs", "inflow", "outflow")
JOURNAL_HEADER = (
    "block",
    "log_index",
    "block_time",
    "tx_hash",
    "token_id",
    "sender",
    "recipient",
    "amount",
    "type",
)
DIFF_HEADER = (
    "kind",
    "account",
    "token_id",
    "token",
    "read_model",
    "other",
    "delta",
    "source",
    "transactions",
    "detail",
)


def _diff_rows(rec: Reconciliation) -> Iterable[list[Any]]:
    for d in rec.differences:
        yield [
            d.kind,
            d.account,
            "" if d.token_id is None else d.token_id,
            "" if d.token_id is None else token_label(d.token_id),
            "" if d.read_model is None else d.read_model,
            "" if d.other is None else d.other,
            "" if d.delta is None else d.delta,
            d.source,
            " ".join(d.transactions),
            d.detail,
        ]


def write_report(
    settlement: Settlement,
    reconciliation: Reconciliation,
    journal: Iterable[Sequence[Any]],
    out_dir: Path,
    calendar: TradingCalendar,
    *,
    bulletin: Bulletin | None = None,
    holders: Sequence[LargeHolder] = (),
    threshold_bps: int = LARGE_HOLDER_BPS,
    fills: Iterable[Sequence[Any]] = (),
) -> ReportBundle:
    """Write the day's report into ``out_dir/<YYYY-MM-DD>/`` and return its bundle.

    Files: ``settlement-<day>.csv`` (every account and id: opening, in/out per movement type,
    closing, fees), ``totals-<day>.csv``, ``movements-<day>.csv`` (the journal: every movement
    with its type; ``market`` for the legs of market transactions), ``fills-<day>.csv`` (every
    fill: price, quantity, value, fees), ``bulletin-<day>.csv`` (the daily bulletin),
    ``large_holders-<day>.csv`` (accounts at or above ``threshold_bps`` of an id),
    ``reconciliation-<day>.csv`` (the differences; header only when balanced),
    ``settlement-<day>.pdf`` (with the bulletin and the large holders), and ``manifest.json``
    (the files' SHA-256, the day's blocks, the outcome), whose own SHA-256 is the report hash:
    anchoring it anchors every file.
    """
    b = settlement.bounds
    day = b.day.isoformat()
    code = b.code
    directory = out_dir / day
    directory.mkdir(parents=True, exist_ok=True)
    files: dict[str, str] = {}
    name = f"settlement-{code}.csv"
    files[name] = _write(
        directory / name, _csv_text(SETTLEMENT_HEADER, settlement_rows(settlement.lines, day))
    )
    totals = [
        [day, t, token_label(t), mtype, f.count, f.inflow, f.outflow]
        for (t, mtype), f in settlement.totals.items()
    ]
    name = f"totals-{code}.csv"
    files[name] = _write(directory / name, _csv_text(TOTALS_HEADER, totals))
    name = f"movements-{code}.csv"
    files[name] = _write_csv(directory / name, JOURNAL_HEADER, journal)
    name = fills_file(code)
    files[name] = _write_csv(directory / name, FILLS_HEADER, fills)
    bulletin = bulletin if bulletin is not None else Bulletin(b.day, ())
    name = bulletin_file(code)
    files[name] = _write(directory / name, _csv_text(BULLETIN_HEADER, bulletin_rows(bulletin)))
    name = holders_file(code)
    files[name] = _write(directory / name, _csv_text(HOLDERS_HEADER, holder_rows(b.day, holders)))
    name = f"reconciliation-{code}.csv"
    files[name] = _write(directory / name, _csv_text(DIFF_HEADER, _diff_rows(reconciliation)))
    name = f"settlement-{code}.pdf"
    files[name] = _write(
        directory / name, _pdf(settlement, reconciliation, calendar, bulletin, holders, threshold_bps)
    )
    manifest = {
        "format": FORMAT_VERSION,
        "trading_day": day,
        "window": {
            "start": b.start,
            "end": b.end,
            "timezone": calendar.timezone,
            "close": calendar.close.strftime("%H:%M"),
        },
        "blocks": {
            "first": b.first_block,
            "last": b.last_block,
            "last_hash": b.last_block_hash,
            "source": b.source,
        },
        "accounts": len(settlement.accounts),
        "lines": len(settlement.lines),
        "movements": settlement.movements,
        "fees_total_fen": settlement.fees_total,
        "market_fills": settlement.market.fills if settlement.market else 0,
        "large_holder_bps": threshold_bps,
        "balanced": reconciliation.balanced,
        "differences": len(reconciliation.differences),
        "checked": dict(sorted(reconciliation.checked.items())),
        "files": dict(sorted(files.items())),
    }
    data = (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode()
    manifest_path = directory / MANIFEST
    _write(manifest_path, data)
    report_hash = hashlib.sha256(data).digest()
    logger.info(
        "report written", extra={"day": day, "directory": str(directory), "report_hash": report_hash.hex()}
    )
    return ReportBundle(directory, files, manifest_path, report_hash, reconciliation.balanced)


# ---------------------------------------------------------------------- PDF


def _amount(token_id: int, value: int) -> str:
    if token_id == CASH:
        sign = "-" if value < 0 else ""
        return f"{sign}{abs(value) // 100:,}.{abs(value) % 100:02d}"
    return f"{value:,}"


def _table(rows: list[list[Any]], widths: Sequence[float] | None = None, long: bool = False) -> Table:
    cls = LongTable if long else Table
    table = cls(rows, colWidths=widths, repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, -1), "Helvetica", 7),
                ("FONT", (0, 0), (-1, 0), "Helvetica-Bold", 7),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#dde4ee")),
                ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
                ("ALIGN", (1, 1), (-1, -1), "RIGHT"),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
            ]
        )
    )
    return table


def _chart(title: str, labels: list[str], inflow: list[int], outflow: list[int]) -> Drawing:
    drawing = Drawing(360, 40 + 22 * max(len(labels), 1))
    drawing.add(String(0, drawing.height - 12, title, fontName="Helvetica-Bold", fontSize=9))
    if not labels:
        drawing.add(String(0, 10, "no movements", fontName="Helvetica", fontSize=8))
        return drawing
    chart = HorizontalBarChart()
    chart.x, chart.y = 110, 10
    chart.width, chart.height = 230, drawing.height - 35
    chart.data = [inflow, outflow]
    chart.categoryAxis.categoryNames = labels
    chart.categoryAxis.labels.fontName = "Helvetica"
    chart.categoryAxis.labels.fontSize = 7
    chart.valueAxis.labels.fontName = "Helvetica"
    chart.valueAxis.labels.fontSize = 6
    chart.valueAxis.valueMin = 0
    chart.bars[0].fillColor = colors.HexColor("#3b7dd8")
    chart.bars[1].fillColor = colors.HexColor("#e39b2d")
    drawing.add(chart)
    return drawing


def _price(value: int | None) -> str:
    return "" if value is None else _amount(CASH, value)


def _bulletin_story(bulletin: Bulletin, holders: Sequence[LargeHolder], threshold_bps: int) -> list[Any]:
    """The PDF's bulletin and large-holder sections."""
    styles = getSampleStyleSheet()
    story: list[Any] = [Paragraph("Daily settlement bulletin", styles["Heading2"])]
    if not bulletin.rows:
        story.append(Paragraph("No market trade this year up to this day.", styles["Normal"]))
    else:
        rows: list[list[Any]] = [
            ["id", "mode", "volume (t)", "turnover (CNY)", "open", "high", "low", "VWAP", "close",
             "trades", "year volume", "year turnover", "year trades"]
        ]  # fmt: skip
        for r in bulletin.rows:
            rows.append(
                [
                    token_label(r.token_id), r.mode, f"{r.volume:,}", _amount(CASH, r.turnover),
                    _price(r.open), _price(r.high), _price(r.low), _price(r.vwap), _price(r.close),
                    f"{r.trades:,}", f"{r.ytd_volume:,}", _amount(CASH, r.ytd_turnover), f"{r.ytd_trades:,}",
                ]
            )  # fmt: skip
        story.append(_table(rows, long=True))
    story += [
        Spacer(1, 4 * mm),
        Paragraph(
            f"Large holders at the close (at least {threshold_bps / 100:g} % of an id's issued quantity; "
            "balance plus sells in escrow)",
            styles["Heading2"],
        ),
    ]
    if not holders:
        story.append(Paragraph("None.", styles["Normal"]))
    else:
        rows = [["id", "account", "name", "balance (t)", "issued (t)", "share"]]
        for h in holders:
            rows.append(
                [token_label(h.token_id), h.account, h.name, f"{h.balance:,}", f"{h.issued:,}",
                 f"{h.share_bps / 100:.2f} %"]
            )  # fmt: skip
        story.append(_table(rows, long=True))
    story.append(Spacer(1, 4 * mm))
    return story


def _pdf(
    settlement: Settlement,
    rec: Reconciliation,
    calendar: TradingCalendar,
    bulletin: Bulletin,
    holders: Sequence[LargeHolder],
    threshold_bps: int,
) -> bytes:
    b = settlement.bounds
    styles = getSampleStyleSheet()
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=landscape(A4),
        leftMargin=12 * mm,
        rightMargin=12 * mm,
        topMargin=12 * mm,
        bottomMargin=12 * mm,
        title=f"ETS Chain daily settlement report {b.day}",
        author="ETS Chain exchange",
        creator="ETS Chain settlement",
        subject="End-of-day clearing and settlement",
        invariant=1,
    )
    local = datetime.fromtimestamp(b.end, calendar.zone).strftime("%Y-%m-%d %H:%M %Z")
    story: list[Any] = [
        Paragraph(f"Daily settlement report — trading day {b.day}", styles["Title"]),
        Paragraph(
            f"Window: block times from the previous close to the close at {local}; blocks {b.first_block}–"
            f"{b.last_block} (from the {b.source}). Accounts: {len(settlement.accounts):,}; account lines: "
            f"{len(settlement.lines):,}; movements: {settlement.movements:,}; fees: "
            f"{_amount(CASH, settlement.fees_total)} CNY.",
            styles["Normal"],
        ),
        Paragraph(
            "Books balanced: every closing balance, total supply and bank movement agrees across the chain, "
            "the read model and the bank statement."
            if rec.balanced
            else f"<b>Books do not balance: {len(rec.differences)} difference(s), listed below.</b>",
            styles["Normal"],
        ),
        Spacer(1, 4 * mm),
    ]
    rows: list[list[Any]] = [["id", "type", "legs", "in", "out"]]
    for (token_id, mtype), f in settlement.totals.items():
        rows.append(
            [
                token_label(token_id),
                mtype,
                f"{f.count:,}",
                _amount(token_id, f.inflow),
                _amount(token_id, f.outflow),
            ]
        )
    story += [
        Paragraph("Totals per id and movement type", styles["Heading2"]),
        _table(rows),
        Spacer(1, 4 * mm),
    ]
    for title, is_cash in (
        ("Allowances moved by type (all ids, units)", False),
        ("Cash moved by type (fen)", True),
    ):
        per_type: dict[str, list[int]] = {}
        for (token_id, mtype), f in settlement.totals.items():
            if (token_id == CASH) == is_cash and mtype != "freeze":
                acc = per_type.setdefault(mtype, [0, 0])
                acc[0] += f.inflow
                acc[1] += f.outflow
        labels = [t for t in VALUE_TYPES if t in per_type]
        story.append(
            _chart(
                title + " — in (blue), out (orange)",
                labels,
                [per_type[t][0] for t in labels],
                [per_type[t][1] for t in labels],
            )
        )
    story += _bulletin_story(bulletin, holders, threshold_bps)
    if rec.differences:
        rows = [["kind", "account", "id", "read model", "other", "source", "detail"]]
        for d in rec.differences[:500]:
            rows.append(
                [
                    d.kind,
                    d.account,
                    "" if d.token_id is None else token_label(d.token_id),
                    "" if d.read_model is None else str(d.read_model),
                    "" if d.other is None else str(d.other),
                    d.source,
                    Paragraph(d.detail, styles["BodyText"]),
                ]
            )
        story += [
            Paragraph("Reconciliation differences", styles["Heading2"]),
            _table(rows, [30 * mm, 62 * mm, 30 * mm, 22 * mm, 22 * mm, 18 * mm, 90 * mm], long=True),
        ]
    active = sorted(
        settlement.lines,
        key=lambda x: (-sum(f.inflow + f.outflow for f in x.flows.values()), x.account, x.token_id),
    )[:PDF_ACCOUNT_LINES]
    active.sort(key=lambda x: (x.account, x.token_id))
    rows = [["account", "id", "opening", "in", "out", "closing", "fee (CNY)", "frozen"]]
    for line in active:
        inflow = sum(f.inflow for f in line.flows.values())
        outflow = sum(f.outflow for f in line.flows.values())
        rows.append(
            [
                line.account,
                token_label(line.token_id),
                _amount(line.token_id, line.opening),
                _amount(line.token_id, inflow),
                _amount(line.token_id, outflow),
                _amount(line.token_id, line.closing),
                _amount(CASH, line.fee),
                "yes" if line.frozen else "",
            ]
        )
    shown = (
        f"the {len(active)} most active of {len(settlement.lines):,} lines; the settlement CSV has every line"
        if len(settlement.lines) > len(active)
        else "every line"
    )
    story += [Paragraph(f"Accounts ({shown})", styles["Heading2"]), _table(rows, long=True)]
    doc.build(story)
    return buffer.getvalue()


# ---------------------------------------------------------------------- statements


def write_statement(
    settlement: Settlement,
    journal: Iterable[Sequence[Any]],
    account: str,
    out_dir: Path,
    calendar: TradingCalendar,
    fills: Iterable[Sequence[Any]] = (),
) -> list[Path]:
    """One account's statement of the day: a CSV of its movements (with the balance after each),
    a CSV of its market fills when it had any (side, movement type, price, quantity, value, its
    fee; from the day's fills, :data:`settlement.bulletin.FILLS_HEADER` rows) and a PDF with its opening and
    closing balances per id, the movements and the fills.

    Returns:
        The files written: ``statement-<account>-<day>.csv`` and ``.pdf``, then
        ``statement-fills-<account>-<day>.csv`` when the account had fills.
    """
    b = settlement.bounds
    wanted = account.lower()
    lines = [line for line in settlement.lines if line.account.lower() == wanted]
    running = {line.token_id: line.opening for line in lines}
    rows: list[list[Any]] = []
    for block, log_index, block_time, tx_hash, token_id, sender, recipient, amount, mtype in journal:
        side = 1 if str(recipient).lower() == wanted else -1 if str(sender).lower() == wanted else 0
        if side == 0:
            continue
        running[int(token_id)] = running.get(int(token_id), 0) + side * int(amount)
        counterparty = sender if side > 0 else recipient
        rows.append(
            [
                block,
                log_index,
                block_time,
                tx_hash,
                token_id,
                token_label(int(token_id)),
                mtype,
                side * int(amount),
                counterparty,
                running[int(token_id)],
            ]
        )
    directory = out_dir / b.day.isoformat() / "statements"
    directory.mkdir(parents=True, exist_ok=True)
    stem = f"statement-{account}-{b.code}"
    header = (
        "block",
        "log_index",
        "block_time",
        "tx_hash",
        "token_id",
        "token",
        "type",
        "amount",
        "counterparty",
        "balance_after",
    )
    csv_path = directory / f"{stem}.csv"
    _write(csv_path, _csv_text(header, rows))
    own: list[list[Any]] = []
    for (
        block,
        log_index,
        _time,
        tx_hash,
        token_id,
        mode,
        buyer,
        seller,
        price,
        qty,
        value,
        bfee,
        sfee,
    ) in fills:
        buys = str(buyer).lower() == wanted
        if not buys and str(seller).lower() != wanted:
            continue
        kind = ("block_" if mode == "block" else "trade_") + ("buy" if buys else "sell")
        own.append(
            [block, log_index, tx_hash, token_id, token_label(int(token_id)), mode, kind,
             seller if buys else buyer, price, qty, value, bfee if buys else sfee]
        )  # fmt: skip
    fills_header = (
        "block", "log_index", "tx_hash", "token_id", "token", "mode", "type", "counterparty",
        "price", "quantity", "value", "fee",
    )  # fmt: skip
    fills_path = directory / f"statement-fills-{account}-{b.code}.csv"
    if own:
        _write(fills_path, _csv_text(fills_header, own))
    styles = getSampleStyleSheet()
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(
        buffer,
        pagesize=landscape(A4),
        title=f"Statement {account} {b.day}",
        author="ETS Chain exchange",
        creator="ETS Chain settlement",
        invariant=1,
    )
    table: list[list[Any]] = [["id", "opening", "in", "out", "closing", "fee (CNY)", "frozen"]]
    for line in lines:
        table.append(
            [
                token_label(line.token_id),
                _amount(line.token_id, line.opening),
                _amount(line.token_id, sum(f.inflow for f in line.flows.values())),
                _amount(line.token_id, sum(f.outflow for f in line.flows.values())),
                _amount(line.token_id, line.closing),
                _amount(CASH, line.fee),
                "yes" if line.frozen else "",
            ]
        )
    moves: list[list[Any]] = [["block", "tx", "id", "type", "amount", "counterparty", "balance after"]]
    for r in rows:
        moves.append(
            [r[0], r[3][:18] + "…", r[5], r[6], _amount(int(r[4]), r[7]), r[8], _amount(int(r[4]), r[9])]
        )
    story: list[Any] = [
        Paragraph(f"Account statement — {account}", styles["Title"]),
        Paragraph(f"Trading day {b.day}, blocks {b.first_block}–{b.last_block}.", styles["Normal"]),
        Spacer(1, 3 * mm),
        _table(table),
        Spacer(1, 4 * mm),
        Paragraph(f"Movements ({len(rows):,})", styles["Heading2"]),
        _table(moves, long=True),
    ]
    if own:
        table_fills: list[list[Any]] = [
            ["block", "id", "type", "price", "quantity", "value", "fee", "counterparty"]
        ]
        for f in own:
            table_fills.append(
                [f[0], f[4], f[6], _amount(CASH, int(f[8])), f"{int(f[9]):,}", _amount(CASH, int(f[10])),
                 _amount(CASH, int(f[11])), f[7]]
            )  # fmt: skip
        story += [
            Paragraph(f"Market fills ({len(own):,})", styles["Heading2"]),
            _table(table_fills, long=True),
        ]
    doc.build(story)
    pdf_path = directory / f"{stem}.pdf"
    _write(pdf_path, buffer.getvalue())
    return [csv_path, pdf_path, *([fills_path] if own else [])]
