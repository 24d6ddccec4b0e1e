"""GET /market/alerts over a real trading day (tests.utils.surveillance) indexed from Anvil and
scanned by the surveillance job: the exchange and the regulator read the alerts with their
trades; an enterprise, an auditor or an account without a role is refused (403), and so is a
suspended exchange or regulator, by name."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from chain.accounts import dev_account
from readmodel import models as m
from scheduler.surveillance import MarketSurveillance, import_records
from tests.api.conftest import ApiWorld, Get
from tests.utils.surveillance import E0, E1, E3, RECORDS_CSV, day_text, surveilled_day


@pytest.fixture(scope="module")
def day(world: ApiWorld) -> str:
    d = surveilled_day(world.c)
    world.index()
    import_records(world.ctx.engine, RECORDS_CSV, now=1)
    text = day_text(d)
    MarketSurveillance(world.ctx.engine, None).run(text, now=1_800_000_000)
    return text


def _ok(response: Any) -> Any:
    assert response.status_code == 200, response.text
    return response.json()


def test_alerts_show_the_exchange_each_finding_with_its_trades(world: ApiWorld, get: Get, day: str) -> None:
    page = _ok(get(world.c.exchange, "/market/alerts", day=day))
    kinds = sorted((a["kind"], tuple(a["accounts"])) for a in page["items"])
    pair = tuple(sorted((E0.address, E1.address), key=str.lower))
    assert kinds == [("closing_ramp", (E3.address,)), ("wash_trade", pair)] and page["total"] == 2
    wash = next(a for a in page["items"] if a["kind"] == "wash_trade")
    trades = _ok(get(world.c.exchange, "/market/trades", day_from=day, day_to=day, limit=1000))["items"]
    between = sorted(t["id"] for t in trades if {t["buyer"], t["seller"]} == set(pair))
    assert wash["trade_ids"] == between and len(between) == 3
    assert wash["figures"]["relation"] == "same_group+same_controller" and wash["raised_at"] == 1_800_000_000
    assert set(wash) >= {"id", "kind", "day", "token_id", "accounts", "detail", "trade_ids", "raised_at"}


def test_alerts_filter_by_kind_token_account_and_page(world: ApiWorld, get: Get, day: str) -> None:
    ramp = _ok(get(world.c.regulator, "/market/alerts", day=day, kind="closing_ramp"))["items"]
    assert [a["accounts"] for a in ramp] == [[E3.address]] and ramp[0]["figures"]["move_bps"] == 392
    mine = _ok(get(world.c.regulator, "/market/alerts", account=E0.address.lower()))["items"]
    assert [a["kind"] for a in mine] == ["wash_trade"]
    assert _ok(get(world.c.regulator, "/market/alerts", day="2001-01-01"))["total"] == 0
    first = _ok(get(world.c.regulator, "/market/alerts", limit=1))
    assert first["total"] == 2 and len(first["items"]) == 1


@pytest.mark.parametrize("who", ["E0", "auditor", "outsider"])
def test_alerts_refused_to_anyone_but_the_exchange_and_the_regulator(
    world: ApiWorld, get: Get, day: str, who: str
) -> None:
    account = {"E0": E0, "auditor": world.c.auditor, "outsider": dev_account(40)}[who]
    response = get(account, "/market/alerts", day=day)
    assert response.status_code == 403, response.text
    assert "EXCHANGE, REGULATOR" in response.json()["message"]


@pytest.mark.parametrize("who", ["exchange", "regulator"])
def test_alerts_refused_by_name_when_exchange_or_regulator_suspended(
    world: ApiWorld, get: Get, day: str, who: str
) -> None:
    c = world.c
    account = {"exchange": c.exchange, "regulator": c.regulator}[who]
    voters = [x for x in (c.regulator, c.exchange, c.industry_body) if x is not account]
    assert _ok(get(account, "/market/alerts", day=day))["total"] == 2
    c.registry.govern(voters, c.registry.encode_suspend(account.address, 7), f"suspend the {who}")
    try:
        refused = get(account, "/market/alerts", day=day)
        assert refused.status_code == 403, refused.text
        assert refused.json()["error"] == "ForbiddenError"
        assert f"{account.address} is suspended" in refused.json()["message"]
    finally:
        c.registry.govern(voters, c.registry.encode_reinstate(account.address), f"reinstate the {who}")
    assert _ok(get(account, "/market/alerts", day=day))["total"] == 2


def test_alerts_refuse_bad_filters(world: ApiWorld, get: Get, day: str) -> None:
    assert get(world.c.exchange, "/market/alerts", day="15/03/2027").status_code in (400, 422)
    assert get(world.c.exchange, "/market/alerts", kind="spoofing").status_code in (400, 422)
    assert get(world.c.exchange, "/market/alerts", account="0x123").status_code in (400, 422)


def test_alerts_rows_are_the_read_models(world: ApiWorld, day: str) -> None:

    with world.ctx.engine.connect() as conn:
        assert (
            conn.scalar(select(func.count()).select_from(m.MarketAlert).where(m.MarketAlert.day == day)) == 2
        )
