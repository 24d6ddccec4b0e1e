"""The demo's settlement step: settle the trading day of the demo's latest on-chain movements on
the demo chain, with that day's bank statement, reconcile, write the reports under the state dir,
anchor the report hash as the exchange and verify it against the chain. A re-run finds the day's
report written and anchored and verifies it instead of settling again (settling reads balances at
the day's past blocks, which a restarted node does not keep)."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, not_, select

from chain.accounts import DEMO_ACCOUNT_COUNT, FIRST_ENTERPRISE_INDEX, Signer, demo_account
from chain.allowance import SettlementClient, bank_reference
from chain.compile import compile_contracts
from chain.deploy import load_for_chain
from chain.settlement import ReportAnchor, SettlementReportsClient, ledger_for
from chain.tx import ChainClient
from demo.reserve import AUCTION_BANK_REF, RESERVE_BANK_REF
from domain.bulletin import ALL, Bulletin
from domain.settlement import MovementTotal, movement_totals
from domain.tokens import token_label
from readmodel.indexer.run import Indexer
from readmodel.migrate import upgrade
from readmodel.models import Participant
from readmodel.session import make_engine
from settlement.bank import BankMovement, bank_ref_hash, generate_statement, parse_statement, write_statement
from settlement.bulletin import read_bulletin
from settlement.calendar import TradingCalendar, day_code
from settlement.config import SettlementSettings
from settlement.day import run_day
from settlement.errors import (
    BulletinNotSettledError,
    ReconciliationError,
    ReportAlteredError,
    ReportNotAnchoredError,
    SettlementError,
)
from settlement.report import ReportBundle
from settlement.run import ChainView, SystemAccounts, day_bounds, settle
from settlement.verify import MANIFEST, verify_day

if TYPE_CHECKING:
    from chain.config import ChainSettings
    from settlement.day import DayResult

logger = logging.getLogger(__name__)

#: Where the demo remembers the trading day it settles (under the state dir's ``settlement/``).
MARKER = "demo.json"
#: Bank lines the settlement step generates (deposits), plus one withdrawal.
GENERATED_DEPOSITS = 3
#: Less time than this before the close: the step adds no bank movements of its own (they could
#: land after the close).
MIN_OPEN_SECONDS = 120
#: Seconds past the close the chain is moved to, so the day is closed on-chain.
PAST_CLOSE = 60


def earlier_bank_references() -> list[str]:
    """The bank references of the cash the rest of the demo issued (``demo.run``: trade cash and
    auction guarantees; ``demo.compliance``: the fine; ``demo.market``: the buyers' cash before
    the open; ``demo.reserve``: the new project's payment and auction guarantee): the demo bank's
    own records, so a day holding them gets a statement line for each."""
    refs = ["ICBC-DEMO-0001"]
    for n in range(1, 7):
        refs += [f"ICBC-DEMO-AUCTION-{n:04d}", f"ICBC-DEMO-SO2-{n:04d}", f"ICBC-DEMO-FINE-{n:04d}"]
        refs.append(f"ICBC-DEMO-MARKET-{n:04d}")
    refs.append(RESERVE_BANK_REF)  # ``demo.reserve``: the new project's cash for its reserve purchase
    refs.append(AUCTION_BANK_REF)  # ``demo.reserve``: its guarantee in the auction restricted to it
    return refs


@dataclass(frozen=True)
class ReportSummary:
    """The settled day as its report states it (this run's settlement, or an earlier run's manifest).

    Attributes:
        bundle: the report's files and hash.
        first_block: the day's first block.
        last_block: the day's last block.
        accounts: accounts settled.
        movements: movements settled.
        balanced: whether reconciliation found no difference.
    """

    bundle: ReportBundle
    first_block: int
    last_block: int
    accounts: int
    movements: int
    balanced: bool

    @classmethod
    def of(cls, result: DayResult) -> ReportSummary:
        """The summary of a settlement run."""
        b = result.settlement.bounds
        accounts = len(result.settlement.accounts)
        return cls(
            result.bundle, b.first_block, b.last_block, accounts, result.settlement.movements, result.balanced
        )


@dataclass
class SettlementDemoReport:
    """What the settlement step did and where its files are.

    Attributes:
        day: the trading day settled.
        result: this run's settlement; None on a re-run, which verifies the earlier run's report.
        summary: the day's report (this run's, or the one verified).
        bank_file: the day's bank statement.
        bank_lines: its lines.
        generated: lines the step generated and applied on-chain (on its first run).
        applied: bank lines this run executed on-chain.
        verified: the report files match their manifest and the hash anchored on-chain.
        signer: the account whose signature the anchored report carries.
        totals: the day's movements per type.
        steps: what happened, for people.
        bulletin: the day's bulletin from the report, a line per token id and mode that traded.
    """

    day: date
    result: DayResult | None
    summary: ReportSummary
    bank_file: Path
    bank_lines: int
    generated: int
    applied: int
    verified: bool
    signer: str | None
    totals: list[MovementTotal] = field(default_factory=list)
    steps: list[str] = field(default_factory=list)
    bulletin: list[str] = field(default_factory=list)

    @property
    def files(self) -> list[Path]:
        """The report's files (the manifest last)."""
        bundle = self.summary.bundle
        return [bundle.directory / name for name in sorted(bundle.files)] + [bundle.manifest]

    @property
    def settled(self) -> bool:
        """Whether this run settled the day (else it verified an earlier run's report)."""
        return self.result is not None

    @property
    def anchored(self) -> str:
        """How the report hash is on-chain: ``published`` by this run, else ``already``."""
        return self.result.anchored if self.result is not None else "already"

    @property
    def tx_hash(self) -> str | None:
        """The publishing transaction, when this run sent one."""
        return self.result.tx_hash if self.result is not None else None


def totals_by_type(result: DayResult) -> list[MovementTotal]:
    """The day's totals per movement type (report order): legs, allowance units and cash moved
    (the larger of the gross inflow and outflow, so a transfer counts once)."""
    return movement_totals(
        (token_id, movement, flow.count, flow.inflow, flow.outflow)
        for (token_id, movement), flow in result.settlement.totals.items()
    )


def run_settlement_demo(
    settings: ChainSettings, *, say: Callable[[str], None] = logger.info
) -> SettlementDemoReport:
    """Settle the trading day that holds the demo's latest movements, once.

    The first run picks the trading day of the chain's latest block, generates bank movements
    for it (``settlement.bank.generate_statement``: deposits to demo enterprises, and one of them
    withdrawing a quarter of its deposit) and executes them on-chain as the exchange, moves the
    chain past the day's close (Anvil), indexes the read model (``<state dir>/readmodel.db``, the
    API demo's), writes the bank statement (the generated lines and the day's earlier demo bank
    movements), settles, reconciles, writes the reports under ``<state dir>/settlement/<day>/``,
    anchors the report hash and checks it against the chain. A re-run settles the same day again
    and, when the day's report is written (``manifest.json``), verifies it instead of settling
    again: its files against the manifest and the manifest's hash against the one anchored on
    SettlementReports (the summary is the report's own), nothing sent. A run interrupted before
    writing the report settles the day.

    Raises:
        ReconciliationError: the books do not balance (the report is written, not anchored).
        ReportNotAnchoredError: on a re-run, the day's report is written but not anchored.
        ReportAlteredError: on a re-run, the report's files differ from its manifest, or the
            manifest from the hash anchored.
        SettlementError: the day cannot be settled (see :func:`settlement.day.run_day`).
    """
    state = settings.state_dir
    config = SettlementSettings.load(reports_dir=state / "settlement", bank_dir=state / "bank")
    calendar = config.calendar()
    chain = ChainClient.connect(settings.rpc_url, compile_contracts())
    manifest = load_for_chain(chain, settings.manifest_path)
    contracts = {name: record.address for name, record in manifest.contracts.items()}
    cash = SettlementClient(chain, contracts["SettlementToken"])
    exchange = demo_account("exchange")
    engine = make_engine(f"sqlite:///{state / 'readmodel.db'}")
    try:
        upgrade(engine)
        indexer = Indexer(chain, manifest, engine)
        day, first = _demo_day(config.reports_dir / MARKER, calendar, chain.timestamp())
        code = day_code(day)
        bank_file = config.bank_file(code)
        report_steps: list[str] = []

        if first:
            report_steps.append(f"trading day {day}: the day of the chain's latest block ({MARKER})")
        elif (config.reports_dir / day.isoformat() / MANIFEST).exists():
            say(f"settlement: trading day {day} is settled: verifying its report against the chain")
            reports = SettlementReportsClient(chain, contracts["SettlementReports"])
            return _verify_earlier(config.reports_dir, day, reports, bank_file)
        indexer.catch_up()
        enterprises = _registered_demo_enterprises(engine)
        generated: list[BankMovement] = []
        if not bank_file.exists() and enterprises:  # else: the statement of an earlier run
            generated = _generate(day, sorted(enterprises))
        open_for = calendar.close_at(day) - chain.timestamp()
        kept: list[BankMovement] = []
        applied = 0
        for line in generated:
            if cash.contract.functions.bankRefUsed(bank_reference(line.bank_ref)).call():
                kept.append(line)  # executed by an earlier, interrupted run
                continue
            if open_for < MIN_OPEN_SECONDS:
                continue  # it could land after the close: not sent, not in the statement
            if line.direction == "deposit":
                cash.deposit(exchange, line.account, line.amount, line.bank_ref)
            else:
                cash.approve(enterprises[line.account], exchange.address, line.amount)
                cash.withdraw(exchange, line.account, line.amount, line.bank_ref)
            kept.append(line)
            applied += 1
        generated = kept
        if applied:
            report_steps.append(
                f"bank: {applied} movements generated for {day} (settlement.bank.generate_statement) "
                "and executed on-chain by the exchange"
            )

        remaining = calendar.close_at(day) - chain.timestamp()
        if remaining >= 0:
            chain.advance_time(remaining + PAST_CLOSE)
            report_steps.append(
                f"chain clock moved {remaining + PAST_CLOSE:,} s forward, past the {calendar.close:%H:%M} "
                f"close of {day} ({calendar.timezone})"
            )
        indexer.catch_up()
        system = SystemAccounts(
            contracts.get("SealedBidAuction"), contracts.get("ComplianceManager"), contracts.get("Market")
        )
        ledger: ChainView = ledger_for(chain, contracts)
        if not bank_file.exists():
            lines = _statement(engine, calendar, day, ledger, system, generated)
            write_statement(bank_file, lines)
        bank_lines = len(parse_statement(bank_file, day))

        reports = SettlementReportsClient(chain, contracts["SettlementReports"])
        say(f"settlement: settling trading day {day}")
        result = run_day(
            engine,
            calendar,
            day,
            config.reports_dir,
            chain=ledger,
            bank_file=bank_file,
            system=system,
            fees=dict(config.fees),
            anchor=ReportAnchor(reports, exchange),
        )
        if not result.balanced:
            shown = "; ".join(d.detail for d in result.reconciliation.differences[:5])
            raise ReconciliationError(
                f"the demo's trading day {day} does not balance ({len(result.reconciliation.differences)} "
                f"differences, report {result.bundle.directory}): {shown}",
                list(result.reconciliation.differences),
            )
        check = verify_day(config.reports_dir, day, reports)
        verified = (
            check.verified
            and check.report_hash == result.bundle.report_hash
            and reports.verify(code, check.report_hash)
        )
        signer = check.signer
    finally:
        engine.dispose()
    return SettlementDemoReport(
        day,
        result,
        ReportSummary.of(result),
        bank_file,
        bank_lines,
        len(generated),
        applied,
        verified,
        signer,
        totals_by_type(result),
        report_steps,
        bulletin_lines(config.reports_dir, day),
    )


def _price(fen: int | None) -> str:
    return "-" if fen is None else f"{fen / 100:,.2f}"


def bulletin_lines(reports_dir: Path, day: date) -> list[str]:
    """The day's bulletin from its written report, one line per token id and mode that traded
    (none when the report predates bulletins)."""
    try:
        bulletin: Bulletin = read_bulletin(reports_dir, day)
    except BulletinNotSettledError:
        return []
    lines = [
        f"bulletin {token_label(r.token_id)} {r.mode}: {r.volume:,} t, CNY {r.turnover / 100:,.2f} in "
        f"{r.trades} trade(s); open {_price(r.open)} high {_price(r.high)} low {_price(r.low)} "
        f"VWAP {_price(r.vwap)} close {_price(r.close)}; year to date {r.ytd_volume:,} t, "
        f"CNY {r.ytd_turnover / 100:,.2f}"
        for r in bulletin.rows
        if r.trades or r.mode == ALL
    ]
    return lines or [f"bulletin: no market trade in {day.year} up to {day}"]


def _verify_earlier(
    reports_dir: Path, day: date, reports: SettlementReportsClient, bank_file: Path
) -> SettlementDemoReport:
    """The re-run of a settled day: its written report verified against its manifest and the hash
    anchored for the day; the summary read from the report (settling again would read balances at
    the day's past blocks, which a restarted node does not keep).

    Raises:
        ReportNotAnchoredError: no report is anchored for the day.
        ReportAlteredError: files differ from the manifest, or the manifest from the anchored hash.
    """
    directory = reports_dir / day.isoformat()
    check = verify_day(reports_dir, day, reports)
    if check.altered:
        raise ReportAlteredError(
            f"the report of trading day {day} in {directory} was altered: {', '.join(check.altered)} "
            "no longer match its manifest; the anchored hash verifies only the files as written",
            check.altered,
        )
    data = (directory / MANIFEST).read_bytes()
    if hashlib.sha256(data).digest() != check.report_hash:
        raise ReportAlteredError(
            f"the report of trading day {day} in {directory} changed while read", [MANIFEST]
        )
    manifest = json.loads(data)  # its files matched it: read_report parsed it
    if check.published is None:
        raise ReportNotAnchoredError(
            f"the report of trading day {day} in {directory} (0x{check.report_hash.hex()}) is written but "
            f"not anchored on SettlementReports (manifest: balanced {manifest.get('balanced')}, "
            f"{manifest.get('differences')} differences): it was not published; remove {directory} to "
            "settle the day again on a node that kept the day's blocks' states"
        )
    code = day_code(day)
    if not check.verified or not reports.verify(code, check.report_hash):
        raise ReportAlteredError(
            f"the report of trading day {day} in {directory} is not the one anchored: its manifest hashes to "
            f"0x{check.report_hash.hex()}, SettlementReports holds 0x{check.published.report_hash.hex()} "
            "for the day",
            [MANIFEST],
        )
    try:
        blocks = manifest["blocks"]
        files = {str(k): str(v) for k, v in manifest["files"].items()}
        bundle = ReportBundle(
            directory, files, directory / MANIFEST, check.report_hash, bool(manifest["balanced"])
        )
        summary = ReportSummary(
            bundle,
            int(blocks["first"]),
            int(blocks["last"]),
            int(manifest["accounts"]),
            int(manifest["movements"]),
            bool(manifest["balanced"]),
        )
        totals_name = f"totals-{code}.csv"
        if totals_name not in files:  # only the files the manifest lists are verified
            raise KeyError(totals_name)
        totals_csv = (directory / totals_name).read_text()
        totals = movement_totals(
            (int(row["token_id"]), row["type"], int(row["legs"]), int(row["inflow"]), int(row["outflow"]))
            for row in csv.DictReader(io.StringIO(totals_csv))
        )
    except (KeyError, TypeError, ValueError, AttributeError, OSError) as exc:
        raise SettlementError(
            f"the anchored report of trading day {day} in {directory} cannot be summarised ({exc!r})"
        ) from None
    steps = [
        f"trading day {day} was settled by an earlier run: its report verified against the chain "
        f"instead of settling again (files match {MANIFEST}, whose hash is the one anchored); nothing sent"
    ]
    logger.info(
        "settlement report verified", extra={"day": day.isoformat(), "report_hash": check.report_hash.hex()}
    )
    bank_lines = len(parse_statement(bank_file, day)) if bank_file.exists() else 0
    return SettlementDemoReport(
        day,
        None,
        summary,
        bank_file,
        bank_lines,
        0,
        0,
        True,
        check.signer,
        totals,
        steps,
        bulletin_lines(reports_dir, day),
    )


def _registered_demo_enterprises(engine: Engine) -> dict[str, Signer]:
    """Demo enterprise accounts (public keys: ``enterprise-1`` ...) registered and not suspended,
    per the read model: the bank moves cash only for participants whose keys the demo holds."""
    with engine.connect() as conn:
        query = select(Participant.address).where(
            Participant.credit_code.is_not(None), not_(Participant.suspended)
        )
        active = {str(a) for (a,) in conn.execute(query)}
    accounts = (
        demo_account(f"enterprise-{n}") for n in range(1, DEMO_ACCOUNT_COUNT - FIRST_ENTERPRISE_INDEX + 1)
    )
    return {str(a.address): a for a in accounts if str(a.address) in active}


def _demo_day(marker: Path, calendar: TradingCalendar, head_time: int) -> tuple[date, bool]:
    """The day an earlier run chose, or the trading day of the chain's latest block (recorded)."""
    if marker.exists():
        try:
            return date.fromisoformat(json.loads(marker.read_text())["day"]), False
        except (ValueError, KeyError, TypeError) as exc:
            raise SettlementError(f"{marker} is malformed ({exc}): remove it to choose a day again") from None
    day = calendar.trading_day_of(head_time)
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(json.dumps({"day": day.isoformat()}) + "\n")
    return day, True


def _generate(day: date, accounts: list[str]) -> list[BankMovement]:
    """The step's own bank movements: generated deposits, then the first depositor withdrawing a
    quarter of its deposit (so the withdrawal is always covered)."""
    deposits = generate_statement(day, accounts, GENERATED_DEPOSITS, seed=2027, max_fen=5_000_000)
    first = deposits[0]
    withdrawal = replace(
        first,
        line=first.line + GENERATED_DEPOSITS,
        bank_ref=f"ICBC-{day:%Y%m%d}-{GENERATED_DEPOSITS + 1:06d}",
        direction="withdrawal",
        amount=first.amount // 4,
    )
    return [*deposits, withdrawal]


def _statement(
    engine: Engine,
    calendar: TradingCalendar,
    day: date,
    ledger: ChainView,
    system: SystemAccounts,
    generated: list[BankMovement],
) -> list[BankMovement]:
    """The day's bank statement: the generated lines as generated, then each earlier demo bank
    movement of the day with its reference (a cash movement whose reference the demo bank does
    not know gets no line: reconciliation then reports it)."""
    known = {bank_ref_hash(ref): ref for ref in earlier_bank_references()}
    mine = {line.ref_hash for line in generated}
    lines = list(generated)
    settled = settle(engine, day_bounds(engine, calendar, day, chain=ledger), system=system)
    for event in settled.bank_events:
        ref = known.get(event.bank_ref_hash)
        if event.bank_ref_hash in mine or ref is None:
            continue
        lines.append(BankMovement(len(lines) + 2, day, ref, event.account, event.direction, event.amount))
    return lines
