"""GET /market/bulletin/{day} and /market/large-holders/{day} on a real chain, a real read model and
a real settlement report: a scripted trading day (tests.utils.market_day) settled with the Market
known; the API answers what the report holds (its rows equal the day's trades), to the roles
allowed (a suspended exchange or regulator refused by name); a day not settled is a 404 naming it;
GET /market/bulletin-days lists the days whose report has the bulletin and large holders, not a
day settled before them (format 1)."""

from __future__ import annotations

import json
import shutil
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
from domain.market import TradeMode
from readmodel import models as m
from settlement.bulletin import read_bulletin
from settlement.calendar import day_code
from settlement.day import run_day
from settlement.run import SystemAccounts
from tests.api.conftest import ApiWorld, Get, make_world
from tests.conftest import Consortium
from tests.settlement.conftest import CALENDAR, to_time
from tests.utils.compliance import ENTERPRISES
from tests.utils.market_day import TOKEN, trade_day

E0 = ENTERPRISES[0]


@dataclass
class Settled:
    world: ApiWorld
    day: date
    reports: Path


@pytest.fixture(scope="module")
def settled(consortium: Consortium, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Settled]:
    snapshot = consortium.snapshot()
    tmp = Path(tmp_path_factory.mktemp("bulletin"))
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
            yield Settled(world, day, reports)
    finally:
        world.ctx.engine.dispose()
        consortium.revert(snapshot)


@pytest.fixture(scope="module")
def get(settled: Settled) -> Get:
    """``get(who, path)`` signed in as ``who`` (sessions reused)."""
    sessions: dict[str, dict[str, str]] = {}

    def call(who: LocalAccount, path: str, /, **params: Any) -> httpx.Response:
        if who.address not in sessions:
            sessions[who.address] = settled.world.sign_in(who)
        response: httpx.Response = settled.world.client.get(
            path, params=params, headers=sessions[who.address]
        )
        return response

    return call


def test_bulletin_route_answers_the_settled_report_to_any_signed_in_user(settled: Settled, get: Get) -> None:
    response = get(E0, f"/market/bulletin/{settled.day}")
    assert response.status_code == 200, response.text
    body = response.json()
    bulletin = read_bulletin(settled.reports, settled.day)
    assert body["day"] == settled.day.isoformat() and body["report_hash"] == bulletin.report_hash
    assert [tuple(r.values()) for r in body["rows"]] == [r.values() for r in bulletin.rows]
    with settled.world.ctx.sessions() as db:
        trades = db.query(m.MarketTrade).filter(m.MarketTrade.token_id == TOKEN).all()
    everything = next(r for r in body["rows"] if r["token_id"] == TOKEN and r["mode"] == "all")
    assert everything["volume"] == sum(t.quantity for t in trades) and everything["trades"] == len(trades)
    block = next(r for r in body["rows"] if r["token_id"] == TOKEN and r["mode"] == "block")
    assert block["volume"] == sum(t.quantity for t in trades if t.mode == TradeMode.BLOCK.name.lower())


def test_bulletin_route_refused_with_404_when_day_not_settled(settled: Settled, get: Get) -> None:
    response = get(E0, "/market/bulletin/2027-01-04")
    assert response.status_code == 404, response.text
    assert response.json()["error"] == "BulletinNotSettledError"
    assert "not settled" in response.json()["message"]
    assert get(E0, "/market/bulletin/2027-13-01").status_code == 422
    assert settled.world.client.get(f"/market/bulletin/{settled.day}").status_code == 401


def test_large_holders_route_for_exchange_regulator_auditor_refused_for_enterprise(
    settled: Settled, get: Get
) -> None:
    c = settled.world.c
    expected = read_bulletin(settled.reports, settled.day)
    for who in (c.exchange, c.regulator, c.auditor):
        response = get(who, f"/market/large-holders/{settled.day}")
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["threshold_bps"] == 500
        assert [(r["token_id"], r["account"], r["share_bps"]) for r in body["rows"]] == [
            (h.token_id, h.account, h.share_bps) for h in expected.large_holders
        ]
        assert body["rows"] and all(r["share_bps"] >= 500 for r in body["rows"])
    refused = get(E0, f"/market/large-holders/{settled.day}")
    assert refused.status_code == 403, refused.text
    assert get(c.regulator, "/market/large-holders/2027-01-04").status_code == 404


def _copy_report(reports: Path, source: date, day: date, *, keep_bulletin: bool) -> None:
    """The settled report of ``source`` written again as ``day``'s (files named by its code);
    without ``keep_bulletin``, as a report written before the bulletin (format 1): no fills, no
    bulletin, no large holders in its files or its manifest."""
    old, new = str(day_code(source)), str(day_code(day))
    directory = reports / day.isoformat()
    directory.mkdir()
    manifest = json.loads((reports / source.isoformat() / "manifest.json").read_bytes())
    files = {}
    for name, digest in manifest["files"].items():
        if not keep_bulletin and name.startswith(("fills-", "bulletin-", "large_holders-")):
            continue
        shutil.copyfile(reports / source.isoformat() / name, directory / name.replace(old, new))
        files[name.replace(old, new)] = digest
    manifest |= {"files": files, "format": 2 if keep_bulletin else 1}
    (directory / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")


def test_bulletin_days_list_only_reports_with_large_holders_and_format_one_day_is_404(
    settled: Settled, get: Get
) -> None:
    older, oldest = date(2001, 3, 2), date(2001, 3, 1)
    _copy_report(settled.reports, settled.day, older, keep_bulletin=True)
    _copy_report(settled.reports, settled.day, oldest, keep_bulletin=False)
    (settled.reports / "not-a-day").mkdir()
    (settled.reports / "2001-02-28").mkdir()  # no manifest: not settled
    try:
        for who in (E0, settled.world.c.regulator):
            listed = get(who, "/market/bulletin-days")
            assert listed.status_code == 200, listed.text
            assert listed.json() == {"days": [settled.day.isoformat(), older.isoformat()]}
        assert get(settled.world.c.regulator, f"/market/large-holders/{older}").status_code == 200
        for path in (f"/market/large-holders/{oldest}", f"/market/bulletin/{oldest}"):
            refused = get(settled.world.c.regulator, path)
            assert refused.status_code == 404, refused.text
            assert refused.json()["error"] == "BulletinNotSettledError"
            assert "written before bulletins" in refused.json()["message"]
        assert settled.world.client.get("/market/bulletin-days").status_code == 401
    finally:
        for name in (older.isoformat(), oldest.isoformat(), "not-a-day", "2001-02-28"):
            shutil.rmtree(settled.reports / name)


@pytest.mark.parametrize("who", ["exchange", "regulator"])
def test_large_holders_refused_by_name_when_exchange_or_regulator_suspended(
    settled: Settled, get: Get, who: str
) -> None:
    c = settled.world.c
    account = {"exchange": c.exchange, "regulator": c.regulator}[who]
    voters = [x for x in (c.regulator, c.exchange, c.industry_body) if x is not account]
    assert get(account, f"/market/large-holders/{settled.day}").status_code == 200
    c.registry.govern(voters, c.registry.encode_suspend(account.address, 7), f"suspend the {who}")
    try:
        refused = get(account, f"/market/large-holders/{settled.day}")
        assert refused.status_code == 403, refused.text
        assert refused.json()["error"] == "ForbiddenError"
        assert f"{account.address} is suspended" in refused.json()["message"]
    finally:
        c.registry.govern(voters, c.registry.encode_reinstate(account.address), f"reinstate the {who}")
    assert get(account, f"/market/large-holders/{settled.day}").status_code == 200
