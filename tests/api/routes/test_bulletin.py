"""GET /market/bulletin/{day} and /market/large-holders/{day} on a real chain, a real read model and
a real settlement report: a scripted trading day (tests.utils.market_day) settled with the Market
known; the API answers what the report holds (its rows equal the day's trades), to the roles
allowed; a day not settled is a 404 naming it."""

from __future__ import annotations

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
