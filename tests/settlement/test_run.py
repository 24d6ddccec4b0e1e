"""Settlement runs on a real chain and read model: balances, movement types, reconciliation with
the chain and the bank, signed and anchored reports, byte-identical re-runs, and the refusals
(day still open, bank file missing or malformed, gaps in the indexed blocks). The runs that
exercise settlement's SQL (bounds, grouped flows, balances, journal, reconciliation) also run on
PostgreSQL; the tampering tests copy the SQLite file."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from domain.tokens import CASH_ID as CASH
from readmodel.session import make_engine
from settlement.bank import write_statement
from settlement.calendar import day_code
from settlement.day import run_day
from settlement.errors import BankFileError, DayNotClosedError, IndexGapError
from settlement.reconcile import reconcile
from settlement.report import write_statement as write_account_statement
from settlement.run import day_bounds, journal, settle
from settlement.verify import read_report
from tests.conftest import Consortium
from tests.settlement.conftest import CALENDAR, E0, E1, E2, E3, Market
from tests.utils.compliance import CO2_2023, CO2_2024

SURRENDERED = 300


@contextmanager
def rollback(c: Consortium) -> Iterator[None]:
    snapshot = c.snapshot()
    try:
        yield
    finally:
        c.revert(snapshot)


def copy_read_model(market: Market, tmp_path: Path) -> Engine:
    """A private copy of the market's read model (to tamper with)."""
    target = tmp_path / "copy.db"
    with market.engine.connect() as conn:
        conn.exec_driver_sql(f"VACUUM INTO '{target}'")
    return make_engine(f"sqlite:///{target}")


def files_of(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir()) if p.is_file()}


@pytest.mark.postgres
def test_run_day_publishes_signed_report_when_books_balance(market: Market, tmp_path: Path) -> None:
    with rollback(market.c):
        result = market.settle_day1(tmp_path)
        assert result.balanced, result.reconciliation.differences
        assert result.anchored == "published" and result.tx_hash
        code = day_code(market.day1)
        assert market.reports.verify(code, result.bundle.report_hash)
        published = market.reports.report(code)
        assert published is not None
        assert market.reports.recover_signer(published) == market.c.exchange.address
        recomputed, altered = read_report(result.bundle.directory)
        assert (recomputed, altered) == (result.bundle.report_hash, [])
        assert result.reconciliation.checked["bank_lines"] == 2
        assert result.reconciliation.checked["chain_balances"] == len(result.settlement.lines)


def test_run_day_rewrites_identical_bytes_when_day_settled_again(market: Market, tmp_path: Path) -> None:
    with rollback(market.c):
        first = market.settle_day1(tmp_path / "a")
        again = market.settle_day1(tmp_path / "b")
    assert again.anchored == "already" and again.tx_hash is None
    assert again.bundle.report_hash == first.bundle.report_hash
    a, b = files_of(first.bundle.directory), files_of(again.bundle.directory)
    assert a == b
    assert {n.rsplit(".", 1)[-1] for n in a} == {"csv", "pdf", "json"}
    assert a[f"settlement-{day_code(market.day1)}.pdf"].startswith(b"%PDF")


@pytest.mark.postgres
def test_settle_opening_equals_previous_closing_when_days_follow(market: Market) -> None:
    b0 = day_bounds(market.engine, CALENDAR, market.day0, chain=market.ledger)
    b1 = day_bounds(market.engine, CALENDAR, market.day1, chain=market.ledger)
    assert b1.first_block == b0.last_block + 1
    day0 = settle(market.engine, b0, system=market.system)
    day1 = settle(market.engine, b1, system=market.system)
    closing0 = {(x.account, x.token_id): x.closing for x in day0.lines}
    assert {(x.account, x.token_id): x.opening for x in day1.lines} == {
        (x.account, x.token_id): closing0.get((x.account, x.token_id), 0) for x in day1.lines
    }
    assert reconcile(market.engine, day0, chain=market.ledger).balanced


@pytest.mark.postgres
def test_settle_types_every_movement_when_day_has_trades(market: Market) -> None:
    bounds = day_bounds(market.engine, CALENDAR, market.day1, chain=market.ledger)
    s = settle(market.engine, bounds, system=market.system)
    lines = {(x.account, x.token_id): x for x in s.lines}
    manager = market.system.compliance_manager
    assert manager is not None
    e0 = lines[(E0.address, CO2_2024)].flows
    assert (e0["transfer"].outflow, e0["surrender"].outflow) == (25, SURRENDERED)
    assert lines[(E1.address, CO2_2024)].flows["transfer"].inflow == 25
    escrow = lines[(manager, CO2_2024)].flows["surrender"]
    assert (escrow.inflow, escrow.outflow, escrow.count) == (SURRENDERED, SURRENDERED, 2)
    assert lines[(E3.address, CASH)].flows["deposit"].inflow == 123_456
    assert lines[(E2.address, CASH)].flows["withdrawal"].outflow == 1_000
    assert lines[(E2.address, CASH)].flows["transfer"].inflow == 5_000
    frozen = lines[(E3.address, CO2_2023)]
    assert frozen.frozen and frozen.flows["freeze"].count == 1 and frozen.net == 0
    assert [(e.account, e.token_id, e.frozen, e.reason) for e in s.freezes] == [
        (E3.address, CO2_2023, True, 7)
    ]
    for line in s.lines:
        assert line.closing == line.opening + line.net
    supply_after = market.ledger.supplies(s.token_ids, bounds.last_block)
    supply_before = market.ledger.supplies(s.token_ids, bounds.first_block - 1)
    for token_id in s.token_ids:
        issued = sum(x.net for x in s.lines if x.token_id == token_id)
        assert issued == supply_after[token_id] - supply_before[token_id]
    assert supply_after[CO2_2024] - supply_before[CO2_2024] == -SURRENDERED
    assert supply_after[CASH] - supply_before[CASH] == 123_456 - 1_000


@pytest.mark.postgres
def test_run_day_reports_bank_differences_and_withholds_when_statement_disagrees(
    market: Market, tmp_path: Path
) -> None:
    deposit, withdrawal = market.bank_lines
    extra = replace(deposit, line=3, bank_ref="ICBC-D1-000099", amount=77)
    wrong = replace(withdrawal, line=4, amount=999)
    bank = write_statement(tmp_path / "bank.csv", [extra, wrong])
    with rollback(market.c):
        result = market.settle_day1(tmp_path / "out", bank_file=bank)
        assert market.reports.report(day_code(market.day1)) is None
    assert not result.balanced and result.anchored == "withheld"
    kinds = {d.kind: d for d in result.reconciliation.differences}
    assert set(kinds) == {"bank_not_on_chain", "chain_not_in_bank", "bank_mismatch"}
    assert "line 2" in kinds["bank_not_on_chain"].detail and kinds["bank_not_on_chain"].other == 77
    mismatch = kinds["bank_mismatch"]
    assert (mismatch.account, mismatch.read_model, mismatch.other) == (E2.address, 1_000, 999)
    assert "line 3" in mismatch.detail and len(mismatch.transactions) == 1
    assert (
        kinds["chain_not_in_bank"].account == E3.address and kinds["chain_not_in_bank"].read_model == 123_456
    )
    csv_text = (result.bundle.directory / f"reconciliation-{day_code(market.day1)}.csv").read_text()
    assert csv_text.count("\n") == 4


def test_reconcile_names_account_and_transactions_when_read_model_disagrees_with_chain(
    market: Market, tmp_path: Path
) -> None:
    engine = copy_read_model(market, tmp_path)
    bounds = day_bounds(engine, CALENDAR, market.day1, chain=market.ledger)
    with engine.begin() as conn:
        tx_hash = conn.execute(
            text("SELECT tx_hash FROM transfers WHERE sender = :s AND recipient = :r AND token_id = :t"),
            {"s": E0.address, "r": E1.address, "t": CO2_2024},
        ).scalar_one()
        conn.execute(text("UPDATE transfers SET amount = 26 WHERE tx_hash = :h"), {"h": tx_hash})
    rec = reconcile(engine, settle(engine, bounds, system=market.system), chain=market.ledger)
    balance = {(d.account, d.token_id): d for d in rec.differences if d.kind == "balance"}
    assert set(balance) == {(E0.address, CO2_2024), (E1.address, CO2_2024)}
    assert (balance[(E1.address, CO2_2024)].read_model or 0) - (
        balance[(E1.address, CO2_2024)].other or 0
    ) == 1
    assert tx_hash in balance[(E0.address, CO2_2024)].transactions
    assert {d.kind for d in rec.differences} == {"balance", "holdings"}
    engine.dispose()


def test_run_day_refused_when_day_still_open(market: Market, tmp_path: Path) -> None:
    day2 = CALENDAR.next_trading_day(market.day1)
    with pytest.raises(DayNotClosedError, match="still open"):
        run_day(market.engine, CALENDAR, day2, tmp_path, chain=market.ledger, bank_file=market.bank1)
    assert not any(tmp_path.iterdir())


def test_run_day_refused_with_line_numbers_when_bank_file_malformed(market: Market, tmp_path: Path) -> None:
    bad = tmp_path / "bank.csv"
    good = market.bank1.read_text().splitlines()
    bad.write_text(
        "\n".join([*good, "2027-13-01,REF,0x12,X,-5,USD", good[1].replace("123456", "12.5")]) + "\n"
    )
    with rollback(market.c), pytest.raises(BankFileError) as info:
        run_day(
            market.engine,
            CALENDAR,
            market.day1,
            tmp_path / "out",
            chain=market.ledger,
            bank_file=bad,
            anchor=market.anchor(),
        )
    lines = sorted({p.line for p in info.value.problems})
    assert lines == [4, 5]
    assert "line 4: value_date '2027-13-01'" in str(info.value) and "line 5: amount_fen '12.5'" in str(
        info.value
    )
    assert not (tmp_path / "out").exists()


def test_run_day_refused_when_bank_file_missing(market: Market, tmp_path: Path) -> None:
    with pytest.raises(BankFileError, match="file not found"):
        run_day(
            market.engine,
            CALENDAR,
            market.day1,
            tmp_path / "out",
            chain=market.ledger,
            bank_file=tmp_path / "none.csv",
        )
    assert not (tmp_path / "out").exists()


def test_run_day_refused_when_indexed_blocks_have_a_gap(market: Market, tmp_path: Path) -> None:
    engine = copy_read_model(market, tmp_path)
    bounds = day_bounds(engine, CALENDAR, market.day1, chain=market.ledger)
    with engine.begin() as conn:
        block = conn.execute(
            text(
                "SELECT MIN(block_number) FROM events "
                "WHERE block_number BETWEEN :a AND :b AND name = 'TransferSingle'"
            ),
            {"a": bounds.first_block, "b": bounds.last_block},
        ).scalar_one()
        conn.execute(text("DELETE FROM events WHERE block_number = :b"), {"b": block})
    with pytest.raises(IndexGapError, match=f"in blocks {block}:"):
        run_day(engine, CALENDAR, market.day1, tmp_path / "out", chain=market.ledger, bank_file=market.bank1)
    assert not (tmp_path / "out").exists()
    engine.dispose()


def test_run_day_refused_when_read_model_behind_the_close(market: Market, tmp_path: Path) -> None:
    engine = copy_read_model(market, tmp_path)
    bounds = day_bounds(engine, CALENDAR, market.day1, chain=market.ledger)
    with engine.begin() as conn:
        conn.execute(text("UPDATE checkpoints SET block_number = :b"), {"b": bounds.last_block - 1})
    with pytest.raises(IndexGapError, match=f"ends at block {bounds.last_block}"):
        run_day(engine, CALENDAR, market.day1, tmp_path / "out", chain=market.ledger, bank_file=market.bank1)
    assert not (tmp_path / "out").exists()
    engine.dispose()


@pytest.mark.postgres
def test_statement_ends_at_closing_balance_when_account_moved(market: Market, tmp_path: Path) -> None:
    bounds = day_bounds(market.engine, CALENDAR, market.day1, chain=market.ledger)
    s = settle(market.engine, bounds, system=market.system)
    csv_path, pdf_path = write_account_statement(
        s, journal(market.engine, bounds, market.system), E0.address, tmp_path, CALENDAR
    )
    rows = [r.split(",") for r in csv_path.read_text().splitlines()[1:]]
    assert [(r[6], int(r[7])) for r in rows if int(r[4]) == CO2_2024] == [
        ("transfer", -25),
        ("surrender", -SURRENDERED),
    ]
    closing = {x.token_id: x.closing for x in s.lines if x.account == E0.address}
    assert int([r for r in rows if int(r[4]) == CO2_2024][-1][9]) == closing[CO2_2024]
    assert pdf_path.read_bytes().startswith(b"%PDF")


@pytest.mark.postgres
def test_settle_charges_configured_fees_to_each_party_when_fee_schedule_set(market: Market) -> None:
    from settlement.config import FeeRate

    bounds = day_bounds(market.engine, CALENDAR, market.day1, chain=market.ledger)
    fees = {"transfer": FeeRate(per_tonne=2, bps=10), "deposit": FeeRate(bps=100)}
    s = settle(market.engine, bounds, system=market.system, fees=fees)
    lines = {(x.account, x.token_id): x for x in s.lines}
    assert lines[(E0.address, CO2_2024)].fee == lines[(E1.address, CO2_2024)].fee == 25 * 2
    assert lines[(E2.address, CASH)].fee == 5_000 * 10 // 10_000
    assert lines[(E3.address, CASH)].fee == 123_456 * 100 // 10_000
    assert s.fees_total == sum(x.fee for x in s.lines) == 50 + 50 + 5 + 5 + 1_234


@pytest.mark.postgres
def test_run_day_writes_same_report_bytes_when_same_chain_indexed_into_fresh_sqlite(
    market: Market, tmp_path: Path
) -> None:
    from readmodel.indexer.run import Indexer
    from readmodel.migrate import upgrade

    reference = make_engine(f"sqlite:///{tmp_path}/reference.db")
    upgrade(reference)
    Indexer(market.c.chain, market.c.manifest, reference).catch_up()
    reports = []
    for engine, out in ((market.engine, tmp_path / "market"), (reference, tmp_path / "reference")):
        reports.append(
            run_day(
                engine,
                CALENDAR,
                market.day1,
                out,
                chain=market.ledger,
                bank_file=market.bank1,
                system=market.system,
            )
        )
    reference.dispose()
    assert all(r.balanced for r in reports), [r.reconciliation.differences for r in reports]
    assert files_of(reports[0].bundle.directory) == files_of(reports[1].bundle.directory)


@pytest.mark.postgres
def test_settle_same_lines_when_bounds_come_from_read_model_alone(market: Market) -> None:
    from_chain = day_bounds(market.engine, CALENDAR, market.day1, chain=market.ledger)
    alone = day_bounds(market.engine, CALENDAR, market.day1, now=CALENDAR.close_at(market.day1) + 1)
    assert alone.source == "read-model" and alone.last_block <= from_chain.last_block
    a = settle(market.engine, from_chain, system=market.system)
    b = settle(market.engine, alone, system=market.system)
    assert (a.lines, a.totals, a.movements) == (b.lines, b.totals, b.movements)
