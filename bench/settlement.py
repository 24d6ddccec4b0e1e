"""Benchmark: one end-of-day settlement run for 2,162 accounts and 100,000 movements in the day,
and with 10× the movements (1,000,000).

For each size a child process builds a synthetic read model (SQLite, through the indexer's own
Projector): the previous day's allocations of three ids and cash deposits to every account,
then the day's movements — allowance transfers, cash transfers, deposits and withdrawals with
bank references, auction guarantees and deliveries, surrenders to the compliance manager — and
the matching bank statement. A second, fresh child process then runs the settlement exactly as
``ets settle`` does without a chain (``settlement.day.run_day``): day bounds and the indexed-block
check, balances and movements by type (grouped SQL), reconciliation of the read model's holdings
projection and of the bank statement, and the report (CSV files, the day's journal, the PDF,
the manifest and its hash). Its wall time and peak RSS (``ru_maxrss`` of that process alone,
interpreter and imports included) are the figures.

The on-chain side of reconciliation (balances at the day's last block) is timed separately on
Anvil: ``balanceOfBatch`` for 2,162 accounts × 3 ids and a JSON-RPC batch of 2,162 cash
``balanceOf`` calls plus the supplies, at one block (``chain_balances_seconds``).

Run: python bench/settlement.py [--accounts 2162] [--movements 100000] [--no-10x] [--no-chain]
(last line: JSON)
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

# `python bench/settlement.py` puts bench/ first on the path, where this file would shadow the package
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from rich.console import Console  # noqa: E402
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
console = Console(stderr=True)
DAY = date(2027, 6, 30)
PREVIOUS = date(2027, 6, 29)
IDS = [1 << 24 | 1 << 16 | 2027, 1 << 24 | 2 << 16 | 2027, 1 << 24 | 1 << 16 | 2026]
ZERO = "0x0000000000000000000000000000000000000000"
AUCTION = "0x" + "a1" * 20
COMPLIANCE = "0x" + "c0" * 20
EXCHANGE = "0x" + "e0" * 20
PER_BLOCK = 200


def _accounts(n: int) -> list[str]:
    from chain.events import checksum

    return [
        checksum("0x" + hashlib.sha256(f"bench-settlement-{i}".encode()).hexdigest()[:40]) for i in range(n)
    ]


class Builder:
    """Deterministic synthetic events of a trading day and the day before it."""

    def __init__(self, accounts: int, seed: int = 5) -> None:
        from settlement.calendar import TradingCalendar

        self.rng = random.Random(seed)
        self.accounts = _accounts(accounts)
        self.calendar = TradingCalendar()
        self.block = 1
        self.log = 0
        self.time = 0
        self.bank: list[Any] = []

    def _event(self, t: int, contract: str, name: str, args: dict[str, Any], tx: str | None = None) -> Any:
        from chain.events import DecodedEvent

        self.log += 1
        if self.log >= PER_BLOCK or t != self.time:  # a block has one timestamp
            self.block, self.log, self.time = self.block + 1, 0, t
        tx_hash = tx or "0x" + f"{self.block:032x}{self.log:032x}"
        return DecodedEvent(self.block, self.log, tx_hash, t, contract, ZERO, name, args, ())

    def opening(self) -> Iterator[list[Any]]:
        """The day before: every account allocated each id and funded with cash."""
        t = self.calendar.close_at(PREVIOUS) - 3 * 3600
        page: list[Any] = []
        for token in IDS:
            for a in self.accounts:
                args = {"operator": EXCHANGE, "from": ZERO, "to": a, "id": token, "value": 100_000}
                page.append(self._event(t, "AllowanceToken", "TransferSingle", args))
        for a in self.accounts:
            page.append(
                self._event(t, "SettlementToken", "Transfer", {"from": ZERO, "to": a, "value": 10**10})
            )
        yield page

    def day(self, movements: int, page_size: int = 20_000) -> Iterator[list[Any]]:
        """``movements`` transfers during the day (bank movements also emit their cash event)."""
        from settlement.bank import BankMovement, bank_ref_hash

        start = self.calendar.close_at(PREVIOUS) + 60
        span = self.calendar.close_at(DAY) - 120 - start
        rng, accounts = self.rng, self.accounts
        page: list[Any] = []
        blocks = -(-movements // PER_BLOCK)
        for n in range(movements):
            t = start + (n // PER_BLOCK) * span // blocks
            kind = rng.random()
            a, b = rng.sample(accounts, 2)
            token = rng.choice(IDS)
            if kind < 0.55:
                args = {"operator": a, "from": a, "to": b, "id": token, "value": rng.randint(1, 50)}
                page.append(self._event(t, "AllowanceToken", "TransferSingle", args))
            elif kind < 0.80:
                args = {"from": a, "to": b, "value": rng.randint(100, 10**6)}
                page.append(self._event(t, "SettlementToken", "Transfer", args))
            elif kind < 0.88:
                deposit = kind < 0.85
                ref = f"ICBC-{DAY:%Y%m%d}-{n:07d}"
                amount = rng.randint(10_000, 10**7)
                tx = "0x" + hashlib.sha256(ref.encode()).hexdigest()
                transfer = {"from": ZERO if deposit else a, "to": a if deposit else ZERO, "value": amount}
                page.append(self._event(t, "SettlementToken", "Transfer", transfer, tx))
                name = "CashDeposited" if deposit else "CashWithdrawn"
                args = {"account": a, "amount": amount, "bankRef": bank_ref_hash(ref)}
                page.append(self._event(t, "SettlementToken", name, args, tx))
                self.bank.append(BankMovement(0, DAY, ref, a, "deposit" if deposit else "withdrawal", amount))
            elif kind < 0.95:
                if rng.random() < 0.5:
                    args = {"from": a, "to": AUCTION, "value": rng.randint(10_000, 10**6)}
                    page.append(self._event(t, "SettlementToken", "Transfer", args))
                else:
                    args = {
                        "operator": AUCTION,
                        "from": AUCTION,
                        "to": a,
                        "id": token,
                        "value": rng.randint(1, 50),
                    }
                    page.append(self._event(t, "AllowanceToken", "TransferSingle", args))
            else:
                args = {
                    "operator": COMPLIANCE,
                    "from": a,
                    "to": COMPLIANCE,
                    "id": token,
                    "value": rng.randint(1, 50),
                }
                page.append(self._event(t, "AllowanceToken", "TransferSingle", args))
            if len(page) >= page_size:
                yield page
                page = []
        # a block after the close, so the read model is indexed beyond the day
        page.append(self._event(self.calendar.close_at(DAY) + 60, "SettlementToken", "Transfer",
                                {"from": ZERO, "to": accounts[0], "value": 1}))  # fmt: skip
        yield page


def build(directory: Path, accounts: int, movements: int) -> None:
    """Child process 1: the read model and the bank statement."""
    from sqlalchemy import insert

    from readmodel import models as m
    from readmodel.indexer.project import Projector
    from readmodel.migrate import upgrade
    from readmodel.session import make_engine
    from settlement.bank import write_statement

    engine = make_engine(f"sqlite:///{directory}/read.db")
    upgrade(engine)
    builder = Builder(accounts)
    projector = Projector(system=[AUCTION, COMPLIANCE], auction_house=AUCTION)
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console) as progress:  # fmt: skip
        task = progress.add_task(f"read model: {movements:,} movements", total=movements + accounts * 4)
        for pages in (builder.opening(), builder.day(movements)):
            for page in pages:
                with engine.begin() as conn:
                    projector.apply(conn, page)
                progress.advance(task, len(page))
    with engine.begin() as conn:
        conn.execute(insert(m.Checkpoint).values(name="events", block_number=builder.block, block_hash="0x",
                                                 updated_at=0))  # fmt: skip
    engine.dispose()
    bank = [m_.__class__(n + 2, m_.value_date, m_.bank_ref, m_.account, m_.direction, m_.amount)
            for n, m_ in enumerate(builder.bank)]  # fmt: skip
    write_statement(directory / "bank.csv", bank)


def settle_child(directory: Path) -> None:
    """Child process 2: one settlement run; prints its figures as JSON."""
    from readmodel.session import make_engine
    from settlement.calendar import TradingCalendar
    from settlement.day import run_day
    from settlement.run import SystemAccounts

    calendar = TradingCalendar()
    engine = make_engine(f"sqlite:///{directory}/read.db")
    start = time.perf_counter()
    result = run_day(
        engine, calendar, DAY, directory / "reports", bank_file=directory / "bank.csv",
        system=SystemAccounts(AUCTION, COMPLIANCE), now=calendar.close_at(DAY) + 3600,
    )  # fmt: skip
    seconds = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out = {
        "seconds": round(seconds, 3),
        "peak_mb": round(peak_mb, 1),
        "accounts": len(result.settlement.accounts),
        "lines": len(result.settlement.lines),
        "movements": result.settlement.movements,
        "balanced": result.balanced,
        "differences": len(result.reconciliation.differences),
        "bank_lines": result.reconciliation.checked.get("bank_lines", 0),
        "report_hash": result.bundle.report_hash.hex(),
        "stages": result.timings,
        "report_bytes": sum((result.bundle.directory / n).stat().st_size for n in result.bundle.files),
    }
    if result.reconciliation.differences:
        console.print(f"  first differences: {result.reconciliation.differences[:3]}")
    sys.stdout.write(json.dumps(out) + "\n")


def measure(accounts: int, movements: int) -> dict[str, Any]:
    """Build in one child, settle in a fresh one; returns the settle child's figures."""
    with tempfile.TemporaryDirectory(prefix="ets-bench-settle-") as tmp:
        here = str(Path(__file__).resolve())
        command = [sys.executable, here, "--child-build", tmp, "--accounts", str(accounts)]
        subprocess.run([*command, "--movements", str(movements)], check=True, cwd=ROOT)
        console.print(f"settling {movements:,} movements ...")
        done = subprocess.run([sys.executable, here, "--child-settle", tmp], check=True, cwd=ROOT,
                              capture_output=True, text=True)  # fmt: skip
        figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
        console.print(f"  {figures}")
        return figures


def chain_balances(accounts: int) -> float:
    """Seconds to read every account's balances of 3 ids and cash, and the supplies, at one block."""
    from chain.compile import compile_contracts
    from chain.node import AnvilNode
    from chain.settlement import ledger_for
    from chain.suite import deploy_local_suite
    from chain.tx import ChainClient

    addresses = _accounts(accounts)
    with tempfile.TemporaryDirectory(prefix="ets-bench-chain-") as tmp, AnvilNode() as node:
        chain = ChainClient.connect(node.url, compile_contracts())
        suite = deploy_local_suite(chain, Path(tmp) / "deployment.json")
        ledger = ledger_for(chain, {n: r.address for n, r in suite.manifest.contracts.items()})
        block = int(chain.w3.eth.block_number)
        pairs = [(a, t) for a in addresses for t in IDS]
        start = time.perf_counter()
        ledger.allowance_balances(pairs, block)
        ledger.cash_balances(addresses, block)
        ledger.supplies([0, *IDS], block)
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--accounts", type=int, default=2_162)
    parser.add_argument("--movements", type=int, default=100_000)
    parser.add_argument("--no-10x", dest="tenx", action="store_false")
    parser.add_argument("--no-chain", dest="chain", action="store_false")
    parser.add_argument("--child-build", type=Path)
    parser.add_argument("--child-settle", type=Path)
    args = parser.parse_args()
    if args.child_build is not None:
        build(args.child_build, args.accounts, args.movements)
        return
    if args.child_settle is not None:
        settle_child(args.child_settle)
        return
    base = measure(args.accounts, args.movements)
    tenx = measure(args.accounts, args.movements * 10) if args.tenx else None
    chain_seconds = None
    if args.chain:
        console.print("on-chain balances at one block (Anvil) ...")
        chain_seconds = chain_balances(args.accounts)
    result = {
        "accounts": base["accounts"],
        "movements": base["movements"],
        "seconds": base["seconds"],
        "peak_mb": base["peak_mb"],
        "balanced": base["balanced"],
        "movements_10x": tenx["movements"] if tenx else None,
        "seconds_10x": tenx["seconds"] if tenx else None,
        "peak_mb_10x": tenx["peak_mb"] if tenx else None,
        "stages": base["stages"],
        "stages_10x": tenx["stages"] if tenx else None,
        "growth_10x": round(tenx["seconds"] / base["seconds"], 2) if tenx else None,
        "chain_balances_seconds": None if chain_seconds is None else round(chain_seconds, 3),
        "chain_balance_reads": args.accounts * (len(IDS) + 1) if args.chain else None,
        "covers": (
            "seconds/peak_mb: one settlement run in a fresh process (ru_maxrss, interpreter included) on a "
            "SQLite read model: day bounds and indexed-block check, balances and movements by type (SQL "
            "aggregates), reconciliation of the holdings projection and of the bank statement, CSV + journal "
            "+ PDF report and manifest hash; not included: on-chain balances (chain_balances_seconds, Anvil, "
            "timed apart), the per-block log count check and the anchoring transaction"
        ),
    }
    console.print(result)
    sys.stdout.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
