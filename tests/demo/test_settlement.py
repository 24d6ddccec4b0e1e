"""The settlement step of ``ets demo`` on a real chain: it moves cash through the bank for the
trading day of the latest block, closes the day, settles, reconciles (balanced), anchors and
verifies the report, and a re-run sends nothing and verifies the same report (not settling
again); a cash movement the demo bank does not know makes it fail loudly."""

from __future__ import annotations

from pathlib import Path

import pytest

from chain.accounts import demo_account
from chain.config import ChainSettings
from chain.settlement import SettlementReportsClient
from demo.settlement import GENERATED_DEPOSITS, run_settlement_demo
from settlement.calendar import day_code
from settlement.errors import ReconciliationError
from tests.conftest import Consortium
from tests.settlement.conftest import CALENDAR, E1, to_time
from tests.utils.compliance import setup_cycle


def _settings(c: Consortium, state: Path) -> ChainSettings:
    url = c.chain.w3.provider.endpoint_uri  # type: ignore[attr-defined]
    return ChainSettings(rpc_url=url, state_dir=state, manifest=c.manifest_path, demo=True)


def _new_day(c: Consortium) -> None:
    """Register and fund the test enterprises (demo accounts enterprise-4..7), then move past the
    trading day's close: the next day starts with no movement."""
    setup_cycle(c)
    to_time(c, CALENDAR.close_at(CALENDAR.trading_day_of(c.chain.timestamp())) + 60)


def test_settlement_demo_settles_anchors_and_verifies_then_reruns_without_sending(
    fresh: Consortium, tmp_path: Path
) -> None:
    _new_day(fresh)
    settings = _settings(fresh, tmp_path)
    first = run_settlement_demo(settings)
    day = CALENDAR.trading_day_of(first.result.settlement.bounds.end - 1)
    assert first.day == day and fresh.chain.timestamp() >= CALENDAR.close_at(day)
    assert first.result.balanced and first.result.anchored == "published" and first.verified
    assert first.signer == demo_account("exchange").address
    assert (first.generated, first.applied, first.bank_lines) == (GENERATED_DEPOSITS + 1,) * 3
    totals = {t.movement: t for t in first.totals}
    assert set(totals) == {"deposit", "withdrawal"}
    assert (totals["deposit"].legs, totals["withdrawal"].legs) == (GENERATED_DEPOSITS, 1)
    assert first.result.bundle.directory == tmp_path / "settlement" / day.isoformat()
    assert all(p.is_file() for p in first.files) and first.bank_file.parent == tmp_path / "bank"
    reports = SettlementReportsClient(fresh.chain, fresh.manifest.address("SettlementReports"))
    assert reports.verify(day_code(day), first.result.bundle.report_hash)

    head = fresh.chain.w3.eth.block_number
    before = {p.name: p.read_bytes() for p in first.files}
    again = run_settlement_demo(settings)
    assert fresh.chain.w3.eth.block_number == head  # no transaction, no clock move
    assert (again.day, again.applied, again.anchored, again.result) == (day, 0, "already", None)
    assert again.verified and again.summary.bundle.report_hash == first.result.bundle.report_hash
    assert {p.name: p.read_bytes() for p in again.files} == before
    assert again.totals == first.totals


def test_settlement_demo_raises_and_withholds_when_day_has_cash_movement_unknown_to_demo_bank(
    fresh: Consortium, tmp_path: Path
) -> None:
    _new_day(fresh)
    fresh.cash.deposit(fresh.exchange, E1.address, 4_242, "OTHER-BANK-000001")
    with pytest.raises(ReconciliationError, match="does not balance") as info:
        run_settlement_demo(_settings(fresh, tmp_path))
    assert [d.kind for d in info.value.differences] == ["chain_not_in_bank"]  # type: ignore[attr-defined]
    day = CALENDAR.trading_day_of(fresh.chain.timestamp() - 61)
    reports = SettlementReportsClient(fresh.chain, fresh.manifest.address("SettlementReports"))
    assert reports.report(day_code(day)) is None


def test_settlement_demo_keeps_lines_of_interrupted_run_when_day_closed_since(
    fresh: Consortium, tmp_path: Path
) -> None:
    from demo.settlement import MARKER, _generate
    from tests.utils.compliance import ENTERPRISES

    _new_day(fresh)
    day = CALENDAR.trading_day_of(fresh.chain.timestamp())
    (tmp_path / "settlement").mkdir()
    (tmp_path / "settlement" / MARKER).write_text(f'{{"day": "{day}"}}\n')  # chosen, then interrupted
    holders = {e.address: e for e in ENTERPRISES}
    for line in _generate(day, sorted(holders)):  # executed on-chain before the interruption
        if line.direction == "deposit":
            fresh.cash.deposit(fresh.exchange, line.account, line.amount, line.bank_ref)
        else:
            fresh.cash.approve(holders[line.account], fresh.exchange.address, line.amount)
            fresh.cash.withdraw(fresh.exchange, line.account, line.amount, line.bank_ref)
    to_time(fresh, CALENDAR.close_at(day) + 3600)
    done = run_settlement_demo(_settings(fresh, tmp_path))
    lines = GENERATED_DEPOSITS + 1
    assert (done.day, done.applied, done.generated, done.bank_lines) == (day, 0, lines, lines)
    assert done.result.balanced and done.result.anchored == "published" and done.verified
