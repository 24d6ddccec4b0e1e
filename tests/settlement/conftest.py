"""A market with two settled-able trading days on a real Anvil, indexed into a read model: day 0
is the set-up (registrations, allocations, cash), day 1 has transfers, bank movements, a freeze
and a surrender; a block after day 1's close closes it.

The read model is SQLite; tests marked ``postgres`` run on PostgreSQL too (one market per backend
and module, so the mark costs one more market build per module, not one per test)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from chain.settlement import ChainLedger, ReportAnchor, SettlementReportsClient, ledger_for
from readmodel.indexer.run import Indexer
from readmodel.migrate import upgrade
from readmodel.session import make_engine
from settlement.bank import BankMovement, write_statement
from settlement.calendar import TradingCalendar
from settlement.day import DayResult, run_day
from settlement.run import SystemAccounts
from tests.conftest import Consortium
from tests.utils.compliance import CO2, CO2_2023, CO2_2024, ENTERPRISES, YEAR, Cycle, setup_cycle, surrender

E0, E1, E2, E3 = ENTERPRISES
CALENDAR = TradingCalendar()
BACKENDS = ("sqlite", "postgresql")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "postgres: the settlement test also runs on a PostgreSQL read model")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Every test using ``market`` gets the SQLite one; tests marked ``postgres`` also the
    PostgreSQL one (the ``database_url`` backends, at module scope)."""
    if "market" in metafunc.fixturenames:
        backends = BACKENDS if metafunc.definition.get_closest_marker("postgres") else BACKENDS[:1]
        metafunc.parametrize("market", backends, indirect=True, scope="module")


def read_model_url(request: pytest.FixtureRequest, directory: Path) -> AbstractContextManager[str]:
    """A fresh read model database for ``request.param`` (default SQLite): a file in ``directory``,
    or a scratch database on the test PostgreSQL (``ETS_TEST_POSTGRES_URL``), dropped afterwards,
    as the ``database_url`` fixture gives (which is per test; the market is per module)."""
    if getattr(request, "param", "sqlite") == "sqlite":
        return nullcontext(f"sqlite:///{directory}/read.db")
    from readmodel.session import scratch_database

    return scratch_database(request.getfixturevalue("postgres_url"))


@dataclass
class Market:
    """The consortium, its read model and settlement's view of both.

    Attributes:
        day0: the trading day of the set-up.
        day1: the next trading day, with the movements of :func:`_trade`.
        bank1: day 1's bank statement (matching the chain).
        bank_lines: its lines.
    """

    c: Consortium
    cycle: Cycle
    engine: Engine
    indexer: Indexer
    ledger: ChainLedger
    reports: SettlementReportsClient
    system: SystemAccounts
    day0: date
    day1: date
    bank1: Path
    bank_lines: list[BankMovement]
    out: Path

    def index(self) -> None:
        self.indexer.catch_up()

    def anchor(self) -> ReportAnchor:
        return ReportAnchor(self.reports, self.c.exchange)

    def settle_day1(self, out: Path, **overrides: Any) -> DayResult:
        """``run_day`` of day 1 into ``out`` with this market's chain view, bank statement,
        escrow accounts and the exchange's anchor, unless ``overrides`` says otherwise."""
        given: dict[str, Any] = {
            "chain": self.ledger, "bank_file": self.bank1, "system": self.system, "anchor": self.anchor(),
        }  # fmt: skip
        return run_day(self.engine, CALENDAR, self.day1, out, **(given | overrides))


def to_time(c: Consortium, when: int) -> None:
    """Mine a block at ``when`` or just after (the chain's clock never goes back)."""
    c.chain.advance_time(max(when - c.chain.timestamp(), 1))


def _trade(c: Consortium, cycle: Cycle, day: date) -> list[BankMovement]:
    """Day 1's movements: a transfer of allowances and of cash, a deposit and a withdrawal with
    bank references, a freeze, and a surrender (escrowed and retired)."""
    c.allowance.transfer(E0, E1.address, CO2_2024, 25)
    c.cash.transfer(E1, E2.address, 5_000)
    c.cash.deposit(c.exchange, E3.address, 123_456, "ICBC-D1-000001")
    c.cash.approve(E2, c.exchange.address, 1_000)
    c.cash.withdraw(c.exchange, E2.address, 1_000, "ICBC-D1-000002")
    c.allowance.freeze(c.regulator, E3.address, CO2_2023, 7)
    c.compliance.acknowledge(E0, CO2, YEAR)
    attestation = cycle.attest(E0.address, 300)
    application = c.compliance.apply(E0, CO2, YEAR, surrender(attestation, {CO2_2024: 300}))
    c.compliance.approve(c.regulator, application)
    return [
        BankMovement(2, day, "ICBC-D1-000001", E3.address, "deposit", 123_456),
        BankMovement(3, day, "ICBC-D1-000002", E2.address.lower(), "withdrawal", 1_000),
    ]


@pytest.fixture(scope="module")
def market(
    consortium: Consortium, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Market]:
    """One market per module and backend; the chain is rolled back afterwards."""
    snapshot = consortium.snapshot()
    tmp = Path(tmp_path_factory.mktemp("settle"))
    c = consortium
    try:
        cycle = setup_cycle(c)
        day0 = CALENDAR.trading_day_of(c.chain.timestamp())
        to_time(c, CALENDAR.close_at(day0) + 60)
        day1 = CALENDAR.trading_day_of(c.chain.timestamp())
        lines = _trade(c, cycle, day1)
        to_time(c, CALENDAR.close_at(day1) + 60)
        with read_model_url(request, tmp) as url:
            engine = make_engine(url)
            upgrade(engine)
            indexer = Indexer(c.chain, c.manifest, engine)
            indexer.catch_up()
            contracts = {name: record.address for name, record in c.manifest.contracts.items()}
            system = SystemAccounts(contracts["SealedBidAuction"], contracts["ComplianceManager"])
            market = Market(
                c,
                cycle,
                engine,
                indexer,
                ledger_for(c.chain, contracts),
                SettlementReportsClient(c.chain, contracts["SettlementReports"]),
                system,
                day0,
                day1,
                write_statement(tmp / "bank-day1.csv", lines),
                lines,
                tmp / "reports",
            )
            try:
                yield market
            finally:
                engine.dispose()
    finally:
        consortium.revert(snapshot)
