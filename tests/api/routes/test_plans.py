"""Plan routes: plans indexed from TotalControlPlans (drafted, adopted, superseded, caps executed),
listed and filtered, one plan, its progress per pollutant, region and year; unknown ids 404."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.config import ApiSettings
from api.context import AppContext
from api.main import create_app
from chain.deploy import ContractRecord
from readmodel.indexer.run import Indexer
from readmodel.migrate import upgrade
from readmodel.session import make_engine
from tests.api.conftest import DOMAIN, UNTHROTTLED, sign_in
from tests.conftest import Consortium
from tests.utils.plans import HANGZHOU, NOX, SO2, TAIZHOU, annual, deploy_plans, five_year


@pytest.fixture(scope="module")
def api(
    consortium: Consortium, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[TestClient, dict[str, str]]]:
    """Plans 1 (five-year, adopted), 2 (2027, adopted then superseded), 3 (2027 v2, adopted, SO2
    cap executed), 4 (2028, draft); indexed into SQLite; the regulator's session headers."""
    c = consortium
    snapshot = c.snapshot()
    try:
        plans = deploy_plans(c)
        five_id = plans.draft_five_year(c.regulator, five_year())
        plans.adopt(c.registry, c.members, five_id)
        first = plans.draft_annual(c.regulator, annual(five_id))
        plans.adopt(c.registry, c.members, first)
        second = plans.draft_annual(c.regulator, annual(five_id, so2=(4_500, 4_000), supersedes=first))
        plans.adopt(c.registry, c.members, second)
        plans.execute_cap(c.regulator, second, SO2)
        plans.draft_annual(c.regulator, annual(five_id, year=2028, so2=(4_000, 4_000)))
        record = ContractRecord(plans.address, plans.from_block, "0x", "", [])
        manifest = replace(c.manifest, contracts={**c.manifest.contracts, "TotalControlPlans": record})
        path = Path(tmp_path_factory.mktemp("api-plans")) / f"read-{time.monotonic_ns()}.db"
        url = f"sqlite:///{path}"
        engine = make_engine(url)
        upgrade(engine)
        Indexer(c.chain, manifest, engine).catch_up()
        settings = ApiSettings(database_url=url, api_domain=DOMAIN, api_role_cache_seconds=0,
                               **UNTHROTTLED)  # type: ignore[arg-type]  # fmt: skip
        ctx = AppContext(settings, c.chain, manifest, engine)
        with TestClient(create_app(ctx, migrate=False, indexer=False), base_url=f"http://{DOMAIN}") as client:
            yield client, {"Authorization": f"Bearer {sign_in(client, c.regulator)}"}
        engine.dispose()
    finally:
        c.revert(snapshot)


def test_plans_list_shows_every_plan_newest_first_and_filters(api: tuple[TestClient, dict[str, str]]) -> None:
    client, headers = api
    body = client.get("/plans", headers=headers).json()
    assert body["total"] == 4
    assert [(p["plan_id"], p["kind"], p["status"], p["version"]) for p in body["items"]] == [
        (4, "annual", "draft", 1), (3, "annual", "adopted", 2), (2, "annual", "superseded", 1),
        (1, "five_year", "adopted", 1),
    ]  # fmt: skip
    adopted = client.get("/plans", headers=headers, params={"status": "adopted", "year": 2027}).json()
    assert [p["plan_id"] for p in adopted["items"]] == [3, 1]
    assert client.get("/plans", headers=headers, params={"kind": "five_year"}).json()["total"] == 1
    assert client.get("/plans", headers=headers, params={"kind": "ten_year"}).status_code in (400, 422)


def test_plan_detail_holds_content_and_supersession(api: tuple[TestClient, dict[str, str]]) -> None:
    client, headers = api
    five = client.get("/plans/1", headers=headers).json()
    assert (five["start_year"], five["end_year"], five["base_year"]) == (2026, 2030, 2025)
    assert five["content"]["regions"] == [
        {"region": TAIZHOU, "share_bps": 6_000},
        {"region": HANGZHOU, "share_bps": 4_000},
    ]
    assert five["content"]["pollutants"][0]["path"] == [10_000, 9_600, 9_200, 8_800, 8_400]
    old = client.get("/plans/2", headers=headers).json()
    assert (old["status"], old["superseded_by"], old["five_year_plan_id"]) == ("superseded", 3, 1)
    new = client.get("/plans/3", headers=headers).json()
    assert new["supersedes"] == 2
    assert {(c["pollutant"], c["region"], c["cap"]) for c in new["content"]["caps"]} >= {
        (SO2, TAIZHOU, 4_500)
    }
    assert client.get("/plans/99", headers=headers).status_code == 404
    assert client.get("/plans/99/progress", headers=headers).status_code == 404
    assert client.get("/plans/0", headers=headers).status_code in (400, 422)
    assert client.get("/plans").status_code == 401


def test_plan_progress_per_pollutant_region_and_year(api: tuple[TestClient, dict[str, str]]) -> None:
    client, headers = api
    annual_rows = client.get("/plans/3/progress", headers=headers).json()["rows"]
    so2 = {r["region"]: r for r in annual_rows if r["pollutant"] == SO2}
    assert so2[TAIZHOU]["planned_t"] == 4_500 and so2[HANGZHOU]["planned_t"] == 4_000
    assert so2[TAIZHOU]["executed_cap"] == 8_500 and so2[TAIZHOU]["pollutant_symbol"] == "SO2"
    assert all(r["executed_cap"] is None for r in annual_rows if r["pollutant"] == NOX)
    assert all(r["metered_t"] == 0 and r["verified_t"] == 0 for r in annual_rows)
    five_rows = client.get("/plans/1/progress", headers=headers).json()["rows"]
    assert len(five_rows) == 2 * 5 * 2  # pollutants × years × regions
    taizhou_2027 = next(
        r for r in five_rows if (r["pollutant"], r["region"], r["year"]) == (SO2, TAIZHOU, 2027)
    )
    assert taizhou_2027["planned_t"] == 9_600 * 6_000 // 10_000
    # against the adopted annual plan of the year (plan 3; plan 2 superseded, 2028's a draft)
    assert (taizhou_2027["annual_cap_t"], taizhou_2027["reserve_t"], taizhou_2027["executed_cap"]) == (
        4_500,
        450,
        8_500,
    )
    assert all(r["annual_cap_t"] is None for r in five_rows if r["year"] != 2027)
    assert (so2[TAIZHOU]["path_t"], so2[TAIZHOU]["annual_cap_t"], so2[TAIZHOU]["reserve_t"]) == (
        5_760,
        4_500,
        450,
    )
