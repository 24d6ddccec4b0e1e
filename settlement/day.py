"""One trading day's settlement end to end: checks, settlement, reconciliation, report, anchoring."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import Engine

from settlement.bank import BankMovement, parse_statement
from settlement.bulletin import LARGE_HOLDER_BPS, day_bulletin, fills, large_holders
from settlement.calendar import TradingCalendar
from settlement.errors import ReportExistsError
from settlement.reconcile import Reconciliation, reconcile
from settlement.report import ReportBundle, write_report
from settlement.run import NO_SYSTEM, ChainView, Settlement, SystemAccounts, day_bounds, journal, settle

logger = logging.getLogger(__name__)


class Anchor(Protocol):
    """Where report hashes are published (``chain.settlement.ReportAnchor``)."""

    def published_hash(self, day_code: int) -> bytes | None: ...

    def publish(self, day_code: int, report_hash: bytes) -> str: ...


@dataclass(frozen=True)
class DayResult:
    """What a run did.

    Attributes:
        settlement: the settled day.
        reconciliation: the differences found.
        bundle: the report written.
        anchored: ``published`` (this run), ``already`` (same hash found on-chain), ``skipped``
            (no anchor configured) or ``withheld`` (the books do not balance).
        tx_hash: the publishing transaction, when this run sent one.
        seconds: wall time of the run.
        timings: seconds per stage (checks, settle, reconcile, bulletin, report).
    """

    settlement: Settlement
    reconciliation: Reconciliation
    bundle: ReportBundle
    anchored: str
    tx_hash: str | None
    seconds: float
    timings: dict[str, float]

    @property
    def balanced(self) -> bool:
        return self.reconciliation.balanced


def run_day(
    engine: Engine,
    calendar: TradingCalendar,
    day: date,
    out_dir: Path,
    *,
    chain: ChainView | None = None,
    bank_file: Path | None = None,
    require_bank: bool = True,
    system: SystemAccounts = NO_SYSTEM,
    fees: dict[str, Any] | None = None,
    anchor: Anchor | None = None,
    now: float | None = None,
    large_holder_bps: int = LARGE_HOLDER_BPS,
) -> DayResult:
    """Settle ``day``: check it is closed and fully indexed and that the bank statement parses
    (before anything is written), settle it from the read model, reconcile it with the chain,
    the read model's projection and the bank, build the daily bulletin and the large holders
    (``large_holder_bps`` of an id), write the report, and anchor its hash when the books balance.

    Raises:
        CalendarError: ``day`` is not a trading day.
        DayNotClosedError: the day is still open.
        IndexGapError: the read model misses blocks of the day.
        BankFileError: the bank statement is missing (when required) or malformed.
        ReportExistsError: another report of this day is already anchored.
    """
    started = time.perf_counter()
    timings: dict[str, float] = {}

    def lap(stage: str, since: float) -> float:
        now_ = time.perf_counter()
        timings[stage] = round(now_ - since, 3)
        return now_

    bounds = day_bounds(engine, calendar, day, chain=chain, now=now)
    bank: list[BankMovement] | None = None
    if bank_file is not None and (require_bank or bank_file.exists()):
        bank = parse_statement(bank_file, day)
    mark = lap("checks", started)
    settled = settle(engine, bounds, system=system, fees=fees)
    mark = lap("settle", mark)
    rec = reconcile(engine, settled, chain=chain, bank=bank)
    mark = lap("reconcile", mark)
    bulletin = day_bulletin(engine, bounds)
    holders = large_holders(engine, settled, large_holder_bps, system)
    mark = lap("bulletin", mark)
    bundle = write_report(
        settled,
        rec,
        journal(engine, bounds, system),
        out_dir,
        calendar,
        bulletin=bulletin,
        holders=holders,
        threshold_bps=large_holder_bps,
        fills=fills(engine, bounds),
    )
    lap("report", mark)
    anchored, tx_hash = "skipped", None
    if anchor is not None:
        existing = anchor.published_hash(bounds.code)
        if existing is not None and existing != bundle.report_hash:
            raise ReportExistsError(
                f"trading day {day} already has report 0x{existing.hex()} on-chain; this run computed "
                f"0x{bundle.report_hash.hex()} (in {bundle.directory}): the data changed after publication; "
                "a published day changes only by a governed correction (ets settle correct)"
            )
        if existing is not None:
            anchored = "already"
        elif not rec.balanced:
            anchored = "withheld"
        else:
            tx_hash = anchor.publish(bounds.code, bundle.report_hash)
            anchored = "published"
    seconds = time.perf_counter() - started
    logger.info(
        "settlement run",
        extra={
            "day": day.isoformat(),
            "balanced": rec.balanced,
            "anchored": anchored,
            "tx_hash": tx_hash,
            "report_hash": bundle.report_hash.hex(),
            "seconds": round(seconds, 3),
        },
    )
    return DayResult(settled, rec, bundle, anchored, tx_hash, seconds, timings)
