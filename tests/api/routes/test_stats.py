"""GET /stats, /stats/trend and /stats/holdings on the indexed compliance world: figures equal
the allocations and transfers made on-chain, and every caller sees only what it may."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import AUDITOR_ASSIGNED, ApiWorld
from tests.utils.compliance import CASH, CO2_2024, ENTERPRISES, HOLDINGS, IDS

#: Allowances (not offsets) allocated to each enterprise, per pollutant: CO2 = 1, SO2 = 2.
ALLOCATED = {1: HOLDINGS[IDS[0]] + HOLDINGS[IDS[1]] + HOLDINGS[IDS[2]], 2: HOLDINGS[IDS[4]]}


@pytest.fixture(scope="module")
def regulator(world: ApiWorld) -> dict[str, str]:
    return world.sign_in(world.c.regulator)


@pytest.fixture(scope="module")
def e0(world: ApiWorld) -> dict[str, str]:
    return world.sign_in(ENTERPRISES[0])


def _get(world: ApiWorld, path: str, headers: dict[str, str], **params: Any) -> tuple[int, dict[str, Any]]:
    response = world.client.get(path, params=params, headers=headers)
    return response.status_code, response.json()


def test_stats_gives_allocations_per_enterprise_to_the_regulator(
    world: ApiWorld, regulator: dict[str, str]
) -> None:
    status, body = _get(world, "/stats", regulator, metric="allocated", group_by="enterprise", pollutant=1)
    assert status == 200, body
    values = {row["enterprise"]: row["value"] for row in body["rows"]}
    assert values == {e.address: ALLOCATED[1] for e in ENTERPRISES}
    assert body["unit"] == "t" and body["read"] == [{"grain": "year", "from_period": None, "to_period": None}]


def test_stats_sums_by_region_time_and_pollutant_for_the_regulator(
    world: ApiWorld, regulator: dict[str, str]
) -> None:
    _, body = _get(
        world,
        "/stats",
        regulator,
        metric="allocated",
        group_by=["region", "time"],
        grain="month",
        region_level="province",
    )
    (row,) = body["rows"]
    assert row["region"] == 330000 and row["value"] == 4 * (ALLOCATED[1] + ALLOCATED[2])
    _, traded = _get(world, "/stats", regulator, metric="traded", group_by="enterprise")
    assert [(r["enterprise"], r["value"]) for r in traded["rows"]] == [(ENTERPRISES[1].address, 25.0)]


def test_stats_trend_gives_yearly_totals(world: ApiWorld, regulator: dict[str, str]) -> None:
    status, body = _get(world, "/stats/trend", regulator, metric="allocated")
    assert status == 200
    (point,) = body["points"]
    assert point["value"] == 4 * (ALLOCATED[1] + ALLOCATED[2]) and point["change_pct"] is None


def test_stats_holdings_gives_current_balances(world: ApiWorld, regulator: dict[str, str]) -> None:
    status, body = _get(world, "/stats/holdings", regulator, group_by="enterprise", token_id=CO2_2024)
    assert status == 200, body
    balances = {r["enterprise"]: r["balance"] for r in body["rows"]}
    assert balances[ENTERPRISES[0].address] == HOLDINGS[CO2_2024] - 25
    assert balances[ENTERPRISES[1].address] == HOLDINGS[CO2_2024] + 25
    _, cash = _get(world, "/stats/holdings", regulator, token_id=0)
    assert cash["rows"][0]["balance"] == 4 * CASH


def test_stats_limits_an_enterprise_to_its_own_figures(world: ApiWorld, e0: dict[str, str]) -> None:
    _, body = _get(world, "/stats", e0, metric="allocated", group_by="enterprise")
    assert [r["enterprise"] for r in body["rows"]] == [ENTERPRISES[0].address]
    _, total = _get(world, "/stats", e0, metric="allocated", pollutant=1)
    assert total["rows"][0]["value"] == ALLOCATED[1]
    _, trend = _get(world, "/stats/trend", e0, metric="allocated", pollutant=2)
    assert trend["points"][0]["value"] == ALLOCATED[2]
    _, held = _get(world, "/stats/holdings", e0, group_by="enterprise")
    assert [r["enterprise"] for r in held["rows"]] == [ENTERPRISES[0].address]


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/stats", {"metric": "allocated", "group_by": "region"}),
        ("/stats", {"metric": "allocated", "group_by": ["time", "industry"]}),
        ("/stats", {"metric": "allocated", "enterprise": ENTERPRISES[1].address}),
        ("/stats/trend", {"metric": "allocated", "enterprise": ENTERPRISES[2].address}),
        ("/stats/holdings", {"group_by": "region"}),
    ],
)
def test_stats_refuses_an_enterprise_others_figures_with_403(
    world: ApiWorld, e0: dict[str, str], path: str, params: dict[str, Any]
) -> None:
    status, body = _get(world, path, e0, **params)
    assert status == 403 and body["error"] == "ForbiddenError"


def test_stats_limits_an_auditor_to_enterprises_assigned_to_it(world: ApiWorld) -> None:
    auditor = world.sign_in(world.c.auditor)
    _, body = _get(world, "/stats", auditor, metric="allocated", group_by="enterprise")
    assert sorted(r["enterprise"] for r in body["rows"]) == sorted(AUDITOR_ASSIGNED)
    status, _ = _get(world, "/stats", auditor, metric="allocated", enterprise=ENTERPRISES[2].address)
    assert status == 403


def test_stats_refuses_an_account_without_enterprise_data_with_403(world: ApiWorld) -> None:
    status, _ = _get(world, "/stats", world.sign_in(world.c.outsider), metric="allocated")
    assert status == 403


@pytest.mark.parametrize("path", ["/stats?metric=allocated", "/stats/trend?metric=traded", "/stats/holdings"])
def test_stats_refuses_an_unauthenticated_request_with_401(world: ApiWorld, path: str) -> None:
    assert world.client.get(path).status_code == 401


@pytest.mark.parametrize(
    "params",
    [
        {"metric": "allocated", "grain": "week"},
        {"metric": "volume"},
        {"metric": "allocated", "group_by": "country"},
        {"metric": "allocated", "from_period": "March 2024"},
        {"metric": "allocated", "region_code": 12},
    ],
)
def test_stats_refuses_bad_parameters_with_422(
    world: ApiWorld, regulator: dict[str, str], params: dict[str, Any]
) -> None:
    status, body = _get(world, "/stats", regulator, **params)
    assert status == 422 and body["error"] == "RequestValidationError"


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"grain": "day", "group_by": "time", "from_period": "2024-01-01", "to_period": "2025-01-02"}, "366"),
        ({"grain": "day", "group_by": "time"}, "grain=month"),
        ({"from_period": "2025", "to_period": "2024"}, "after"),
        ({"metric": "compliance_rate", "grain": "month", "group_by": "time"}, "year only"),
    ],
)
def test_stats_refuses_windows_it_cannot_serve_with_400(
    world: ApiWorld, regulator: dict[str, str], params: dict[str, Any], message: str
) -> None:
    status, body = _get(world, "/stats", regulator, **({"metric": "traded"} | params))
    assert status == 400 and body["error"] == "QueryError" and message in body["message"]


def test_stats_openapi_documents_every_route_with_examples(world: ApiWorld) -> None:
    schema = world.client.get("/openapi.json").json()
    for path in ("/stats", "/stats/trend", "/stats/holdings"):
        assert {"200", "400", "401", "403"} <= set(schema["paths"][path]["get"]["responses"]), path
    for model in ("StatsPublic", "TrendPublic", "HoldingsPublic"):
        assert schema["components"]["schemas"][model]["examples"], model
