"""Settlement of market trades on a real chain (issue 21): the demo's trading day settled with the
Market known, so its legs become trade movements per fill (``trade_buy``/``trade_sell``, the
afternoon's ``block_*``, the fee account's ``trade_fee``) and the escrow of the orders open at the
close (``market_escrow``); the fee account reconciles to the fees charged; the report carries the
fills, the daily bulletin and the large holders, anchored with the rest; ``read_bulletin`` reads
them back, refuses a day not settled and an altered report."""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from chain.accounts import demo_account
from chain.settlement import ledger_for
from demo.market import CO2, MarketDayReport, demo_trading_day, market_client
from domain.bulletin import ALL
from domain.market import TradeMode, vwap_close
from domain.settlement import fill_legs
from domain.tokens import CASH_ID as CASH
from ets.cli import main as cli
from readmodel.indexer.run import Indexer
from readmodel.migrate import upgrade
from readmodel.session import make_engine
from settlement.bulletin import bulletin_file, fills, read_bulletin
from settlement.day import DayResult, run_day
from settlement.errors import BulletinNotSettledError, ReportAlteredError
from settlement.reconcile import reconcile
from settlement.report import write_statement
from settlement.run import MarketDay, Settlement, SystemAccounts, journal
from settlement.verify import MANIFEST, read_report
from tests.conftest import Consortium
from tests.settlement.conftest import BACKENDS, CALENDAR, read_model_url, to_time
from tests.utils.demo_market import register_demo_enterprises


@dataclass
class Traded:
    c: Consortium
    day: DayReport
    result: DayResult
    reports: Path
    market: str
    fee_account: str
    engine: Engine


DayReport = MarketDayReport


@pytest.fixture(scope="module", params=BACKENDS)
def traded(
    consortium: Consortium, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Traded]:
    """The demo's trading day settled with the Market known, on SQLite and on PostgreSQL."""
    c = consortium
    snapshot = c.snapshot()
    tmp = Path(tmp_path_factory.mktemp("trades"))
    try:
        register_demo_enterprises(c)
        day = demo_trading_day(c.chain, c.manifest, c.registry, c.members)
        market = market_client(c.chain, c.manifest)
        with read_model_url(request, tmp) as url:
            yield from _settled(c, day, market.address, market.fee_account(), url, tmp)
    finally:
        c.revert(snapshot)


def _settled(
    c: Consortium, day: DayReport, market: str, fee_account: str, url: str, tmp: Path
) -> Iterator[Traded]:
    engine = make_engine(url)
    try:
        upgrade(engine)
        contracts = {name: record.address for name, record in c.manifest.contracts.items()}
        system = SystemAccounts(contracts["SealedBidAuction"], contracts["ComplianceManager"], market)
        to_time(c, CALENDAR.close_at(day.day) + 60)
        Indexer(c.chain, c.manifest, engine).catch_up()
        result = run_day(engine, CALENDAR, day.day, tmp / "reports", chain=ledger_for(c.chain, contracts),
                         system=system, large_holder_bps=1_000)  # fmt: skip
        yield Traded(c, day, result, tmp / "reports", market, fee_account, engine)
    finally:
        engine.dispose()


def test_fill_legs_deliver_versus_payment_for_one_fill() -> None:
    legs = fill_legs(token_id=7, buyer="B", seller="S", fee_account="F", quantity=10, value=1_000,
                     buyer_fee=3, seller_fee=3, block=False)  # fmt: skip
    net: dict[int, int] = defaultdict(int)
    for leg in legs:
        net[leg.token_id] += leg.inflow - leg.outflow
    assert net == {7: 0, CASH: 0}
    assert {(leg.account, leg.token_id, leg.movement) for leg in legs} == {
        ("B", 7, "trade_buy"), ("B", CASH, "trade_buy"), ("S", 7, "trade_sell"), ("S", CASH, "trade_sell"),
        ("F", CASH, "trade_fee"),
    }  # fmt: skip
    assert {leg.movement for leg in fill_legs(token_id=7, buyer="B", seller="S", fee_account="F", quantity=1,
            value=5, buyer_fee=0, seller_fee=0, block=True)} == {"block_buy", "block_sell"}  # fmt: skip


def test_market_trades_settle_as_trade_movements_per_fill_balanced(traded: Traded) -> None:
    r = traded.result
    assert r.balanced, r.reconciliation.differences
    lines = {(line.account, line.token_id): line for line in r.settlement.lines}
    trades = traded.day.trades
    expected: dict[tuple[str, int, str], list[int]] = defaultdict(lambda: [0, 0, 0])
    for t in trades:
        for leg in fill_legs(
            token_id=t.token_id,
            buyer=t.buyer,
            seller=t.seller,
            fee_account=traded.fee_account,
            quantity=t.quantity,
            value=t.value,
            buyer_fee=t.buyer_fee,
            seller_fee=t.seller_fee,
            block=t.mode == TradeMode.BLOCK,
        ):
            e = expected[(leg.account, leg.token_id, leg.movement)]
            e[0] += leg.inflow
            e[1] += leg.outflow
            e[2] += 1
    assert any(k[2] == "block_buy" for k in expected) and any(k[2] == "trade_sell" for k in expected)
    for (account, token_id, movement), (inflow, outflow, count) in expected.items():
        flow = lines[(account, token_id)].flows[movement]
        assert (flow.inflow, flow.outflow, flow.count) == (inflow, outflow, count), (account, movement)
    # no line keeps an untyped market leg; the Market's own lines are its escrow at the close
    assert all(("market" not in line.flows and "transfer" not in line.flows) or line.account not in
               {traded.market} for line in r.settlement.lines)  # fmt: skip
    escrow_t, escrow_cash = market_client(traded.c.chain, traded.c.manifest).holdings(CO2)
    market_co2 = lines[(traded.market, CO2)]
    assert market_co2.flows["market_escrow"].net == market_co2.net == escrow_t - market_co2.opening
    assert lines[(traded.market, CASH)].closing == escrow_cash
    fees = sum(t.buyer_fee + t.seller_fee for t in trades)
    assert r.settlement.market == MarketDay(traded.market, traded.fee_account, len(trades), fees, fees)
    assert lines[(traded.fee_account, CASH)].flows["trade_fee"].inflow == fees
    assert r.reconciliation.checked["market_fills"] == len(trades)
    totals = r.settlement.totals
    assert totals[(CO2, "trade_buy")].inflow + totals[(CO2, "block_buy")].inflow == sum(
        t.quantity for t in trades
    )


def test_fee_account_mismatch_named_in_reconciliation_when_fees_differ(traded: Traded) -> None:
    s = traded.result.settlement
    assert s.market is not None
    wrong = MarketDay(s.market.market, s.market.fee_account, s.market.fills, s.market.fees_charged,
                      s.market.fee_transfers - 1)  # fmt: skip
    altered = Settlement(
        s.bounds, s.lines, s.totals, s.movements, s.freezes, s.bank_events, s.fees_total, wrong
    )
    rec = reconcile(traded.engine, altered)
    [diff] = [d for d in rec.differences if d.kind == "trade_fee"]
    assert (diff.account, diff.read_model, diff.other, diff.delta) == (
        traded.fee_account, s.market.fees_charged, s.market.fee_transfers - 1, -1,
    )  # fmt: skip
    assert "fees" in diff.detail


def test_report_carries_fills_bulletin_and_large_holders_anchored_by_manifest(traded: Traded) -> None:
    b = traded.result.bundle
    code = traded.result.settlement.bounds.code
    for name in (f"fills-{code}.csv", bulletin_file(code), f"large_holders-{code}.csv"):
        assert name in b.files
    manifest = json.loads(b.manifest.read_bytes())
    assert manifest["format"] == 2 and manifest["large_holder_bps"] == 1_000
    with (b.directory / f"fills-{code}.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [(int(r["price"]), int(r["quantity"]), int(r["buyer_fee"])) for r in rows] == [
        (t.price, t.quantity, t.buyer_fee) for t in traded.day.trades
    ]
    assert read_report(b.directory) == (b.report_hash, [])


def test_read_bulletin_equals_the_days_trades(traded: Traded) -> None:
    day = traded.day
    bulletin = read_bulletin(traded.reports, day.day)
    assert bulletin.report_hash == "0x" + traded.result.bundle.report_hash.hex()
    everything = bulletin.row(CO2, ALL)
    assert everything is not None
    assert everything.volume == sum(t.quantity for t in day.trades) == everything.ytd_volume
    assert everything.trades == len(day.trades)
    listing = [(t.price, t.quantity) for t in day.trades if t.mode != TradeMode.BLOCK]
    assert everything.close == vwap_close(listing, 0) == day.quote.close_price
    block = bulletin.row(CO2, "block")
    assert block is not None and block.volume == sum(
        t.quantity for t in day.trades if t.mode == TradeMode.BLOCK
    )
    assert bulletin.threshold_bps == 1_000
    assert bulletin.large_holders, "the demo's enterprises each hold more than 10 % of the id"
    for h in bulletin.large_holders:
        assert h.share_bps >= 1_000 and h.share_bps == h.balance * 10_000 // h.issued
        assert h.account != traded.market
    # a seller with a sell order resting at the close counts its escrow
    e = demo_account("enterprise-1").address
    holder = {(h.account, h.token_id): h for h in bulletin.large_holders}.get((e, CO2))
    lines = {(line.account, line.token_id): line for line in traded.result.settlement.lines}
    if holder is not None:
        assert holder.balance >= lines[(e, CO2)].closing


def test_read_bulletin_refused_when_day_not_settled(traded: Traded) -> None:
    with pytest.raises(BulletinNotSettledError, match="not settled") as info:
        read_bulletin(traded.reports, date(2027, 1, 4))
    assert isinstance(info.value, LookupError)


def test_read_bulletin_refused_when_report_altered(traded: Traded, tmp_path: Path) -> None:
    import shutil

    day = traded.day.day.isoformat()
    copy = tmp_path / day
    shutil.copytree(traded.reports / day, copy)
    code = traded.result.settlement.bounds.code
    path = copy / bulletin_file(code)
    path.write_text(path.read_text().replace(",all,", ",all,1"))
    with pytest.raises(ReportAlteredError) as info:
        read_bulletin(tmp_path, traded.day.day)
    assert info.value.altered == [bulletin_file(code)]
    assert (copy / MANIFEST).exists()


def test_cli_settle_bulletin_prints_table_and_json_when_settled(
    traded: Traded, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ETS_SETTLE_REPORTS_DIR", str(traded.reports))
    day = traded.day.day.isoformat()
    result = CliRunner().invoke(cli.app, ["settle", "bulletin", "--day", day, "--json"])
    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    bulletin = read_bulletin(traded.reports, traded.day.day)
    assert body["report_hash"] == bulletin.report_hash and body["threshold_bps"] == 1_000
    assert [tuple(r.values()) for r in body["rows"]] == [r.values() for r in bulletin.rows]
    monkeypatch.setenv("COLUMNS", "250")  # rich fits the table to the terminal
    table = CliRunner().invoke(cli.app, ["settle", "bulletin", "--day", day])
    assert table.exit_code == 0 and "daily settlement bulletin" in table.output and "block" in table.output
    refused = CliRunner().invoke(cli.app, ["settle", "bulletin", "--day", "2027-01-04"])
    assert refused.exit_code == 1 and "BulletinNotSettledError" in refused.output


def test_statement_lists_the_accounts_fills_with_price_value_and_fee(traded: Traded, tmp_path: Path) -> None:
    s = traded.result.settlement
    buyer = demo_account("enterprise-5").address
    paths = write_statement(
        s, journal(traded.engine, s.bounds), buyer, tmp_path, CALENDAR, fills(traded.engine, s.bounds)
    )
    assert [p.suffix for p in paths] == [".csv", ".pdf", ".csv"]
    with paths[2].open() as f:
        rows = list(csv.DictReader(f))
    mine = [t for t in traded.day.trades if buyer in (t.buyer, t.seller)]
    assert [
        (int(r["price"]), int(r["quantity"]), int(r["value"]), int(r["fee"]), r["type"]) for r in rows
    ] == [
        (
            t.price,
            t.quantity,
            t.value,
            t.buyer_fee if t.buyer == buyer else t.seller_fee,
            ("block_" if t.mode == TradeMode.BLOCK else "trade_") + ("buy" if t.buyer == buyer else "sell"),
        )
        for t in mine
    ]
