"""Account statements through the API from a real settlement report: a scripted trading day on a
real chain settled; an enterprise's daily statement carries its very rows of the day's settlement
CSV, its closings equal its balances on the chain, its trades and fees show by type; the monthly
statement of a month with one settled day equals the daily; CSV and PDF downloads; an enterprise
reads only its own (another's refused), the exchange and the regulator any; a day not settled is
a 404 by name."""

from __future__ import annotations

import csv
import hashlib
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_account.signers.local import LocalAccount

from chain.settlement import ledger_for
from domain.tokens import CASH_ID
from settlement.calendar import day_code
from settlement.day import run_day
from settlement.run import SystemAccounts
from settlement.statements import read_daily, statement_csv
from tests.api.conftest import ApiWorld, make_world
from tests.conftest import Consortium
from tests.settlement.conftest import CALENDAR, to_time
from tests.utils.compliance import ENTERPRISES
from tests.utils.market_day import TOKEN, trade_day

E0, E1 = ENTERPRISES[0], ENTERPRISES[1]


@dataclass
class Settled:
    world: ApiWorld
    day: date
    reports: Path
    sessions: dict[str, dict[str, str]]

    def get(self, who: LocalAccount, path: str, **params: Any) -> httpx.Response:
        if who.address not in self.sessions:
            self.sessions[who.address] = self.world.sign_in(who)
        response: httpx.Response = self.world.client.get(
            path, params=params, headers=self.sessions[who.address]
        )
        return response


@pytest.fixture(scope="module")
def settled(consortium: Consortium, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settled]:
    snapshot = consortium.snapshot()
    tmp = Path(tmp_path_factory.mktemp("statements"))
    reports = tmp / "reports"
    world = make_world(consortium, f"sqlite:///{tmp / f'read-{time.monotonic_ns()}.db'}", reports_dir=reports)
    try:
        with world.client:
            c = consortium
            trade_day(c)
            day = CALENDAR.trading_day_of(c.chain.timestamp())
            to_time(c, CALENDAR.close_at(day) + 60)
            world.index()
            contracts = {name: record.address for name, record in c.manifest.contracts.items()}
            system = SystemAccounts(
                contracts["SealedBidAuction"], contracts["ComplianceManager"], contracts["Market"]
            )
            result = run_day(world.ctx.engine, CALENDAR, day, reports, chain=ledger_for(c.chain, contracts),
                             system=system)  # fmt: skip
            assert result.balanced, result.reconciliation.differences
            yield Settled(world, day, reports, {})
    finally:
        world.ctx.engine.dispose()
        consortium.revert(snapshot)


def _report_rows(s: Settled, account: str) -> list[dict[str, str]]:
    path = s.reports / s.day.isoformat() / f"settlement-{day_code(s.day)}.csv"
    with path.open(encoding="utf-8", newline="") as f:
        return [r for r in csv.DictReader(f) if r["account"] == account]


def test_daily_statement_equals_the_settlement_report_and_the_chain(settled: Settled) -> None:
    c = settled.world.c
    response = settled.get(E0, f"/statements/{E0.address}/daily/{settled.day}")
    assert response.status_code == 200, response.text
    body = response.json()
    rows = _report_rows(settled, E0.address)
    assert rows and [line["token_id"] for line in body["lines"]] == sorted(int(r["token_id"]) for r in rows)
    for line in body["lines"]:
        row = next(r for r in rows if int(r["token_id"]) == line["token_id"])
        assert (line["opening"], line["closing"], line["fee"]) == (
            int(row["opening"]), int(row["closing"]), int(row["fee_fen"])
        )  # fmt: skip
        for movement, amount in line["inflows"].items():
            assert int(row[f"{movement}_in"]) == amount
        for movement, amount in line["outflows"].items():
            assert int(row[f"{movement}_out"]) == amount
        assert line["closing"] == line["opening"] + sum(line["inflows"].values()) - sum(
            line["outflows"].values()
        )
        on_chain = (
            c.cash.balance(E0.address)
            if line["token_id"] == CASH_ID
            else c.allowance.balance(E0.address, line["token_id"])
        )
        assert line["closing"] == on_chain, line
    types = {t["movement"]: t for t in body["by_type"]}
    token = next(line for line in body["lines"] if line["token_id"] == TOKEN)
    assert types["trade_buy"]["units_in"] == token["inflows"]["trade_buy"] > 0
    assert types["trade_buy"]["cash_out"] == body["lines"][0]["outflows"]["trade_buy"] > 0  # cash paid
    assert body["fees"] == sum(int(r["fee_fen"]) for r in rows)
    assert body["cash_closing"] == c.cash.balance(E0.address)
    manifest = settled.reports / settled.day.isoformat() / "manifest.json"
    assert body["report_hashes"][0] == "0x" + hashlib.sha256(manifest.read_bytes()).hexdigest()


def test_monthly_statement_of_a_month_with_one_settled_day_equals_the_daily(settled: Settled) -> None:
    month = settled.day.isoformat()[:7]
    daily = settled.get(E0, f"/statements/{E0.address}/daily/{settled.day}").json()
    monthly = settled.get(E0, f"/statements/{E0.address}/monthly/{month}").json()
    assert monthly["period"] == "monthly" and monthly["label"] == month
    assert monthly["lines"] == daily["lines"] and monthly["by_type"] == daily["by_type"]
    days = settled.get(E0, f"/statements/{E0.address}/days").json()
    assert days == {"days": [settled.day.isoformat()], "months": [month]}


def test_statement_downloads_as_csv_and_pdf(settled: Settled) -> None:
    path = f"/statements/{E0.address}/daily/{settled.day}/download"
    as_csv = settled.get(E0, path)
    assert as_csv.status_code == 200 and as_csv.headers["content-type"].startswith("text/csv")
    assert as_csv.content == statement_csv(read_daily(settled.reports, settled.day, E0.address))
    rows = list(csv.DictReader(as_csv.text.splitlines()))
    report = _report_rows(settled, E0.address)
    assert [(r["token_id"], r["opening"], r["closing"], r["fee_fen"]) for r in rows] == sorted(
        ((r["token_id"], r["opening"], r["closing"], r["fee_fen"]) for r in report), key=lambda x: int(x[0])
    )
    as_pdf = settled.get(E0, path, format="pdf")
    assert as_pdf.status_code == 200 and as_pdf.content.startswith(b"%PDF")
    assert "attachment" in as_pdf.headers["content-disposition"]
    month = settled.get(
        E0, f"/statements/{E0.address}/monthly/{settled.day.isoformat()[:7]}/download", format="pdf"
    )
    assert month.status_code == 200 and month.content.startswith(b"%PDF")


def test_statement_of_another_enterprise_refused_and_read_by_exchange_and_regulator(settled: Settled) -> None:
    c = settled.world.c
    refused = settled.get(E1, f"/statements/{E0.address}/daily/{settled.day}")
    assert refused.status_code == 403 and refused.json()["error"] == "ForbiddenError", refused.text
    assert settled.get(E1, f"/statements/{E0.address}/daily/{settled.day}/download").status_code == 403
    assert settled.get(c.outsider, f"/statements/{E0.address}/days").status_code == 403
    for who in (c.exchange, c.regulator):
        assert settled.get(who, f"/statements/{E0.address}/daily/{settled.day}").status_code == 200


def test_statement_of_a_day_not_settled_is_a_404_by_name(settled: Settled) -> None:
    response = settled.get(E0, f"/statements/{E0.address}/daily/2027-01-04")
    assert response.status_code == 404 and response.json()["error"] == "StatementNotSettledError", (
        response.text
    )
    response = settled.get(E0, f"/statements/{E0.address}/monthly/2020-01")
    assert response.status_code == 404 and response.json()["error"] == "StatementNotSettledError"
    assert settled.get(E0, f"/statements/{E0.address}/monthly/2020-13").status_code == 422
