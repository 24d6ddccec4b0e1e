"""Permit routes: permits and applications indexed from DischargePermits (applied, returned,
resubmitted, issued, changed, reviewed, revoked), listed and filtered, one permit with its annual
reviews, statistics by status, region and industry; applications read by the enterprise (its own)
and by the regulator, the exchange and auditors (all); others refused; unknown ids 404."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.config import ApiSettings
from api.context import AppContext
from api.main import create_app
from chain.compile import Artifact
from chain.node import AnvilNode
from chain.permits import Term
from chain.tx import ChainClient
from readmodel.indexer.run import Indexer
from readmodel.migrate import upgrade
from readmodel.session import make_engine
from tests.api.conftest import DOMAIN, UNTHROTTLED, sign_in
from tests.conftest import Consortium
from tests.utils.permits import (
    DOC,
    ENTERPRISES,
    NOX,
    SO2,
    applied,
    deploy_permits_suite,
    issued,
    outlets,
    permits_of,
)

E0, E1, E2, E3 = ENTERPRISES
Api = tuple[TestClient, Consortium]


@pytest.fixture(scope="module")
def api(
    anvil: AnvilNode, artifacts: dict[str, Artifact], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Api]:
    """Permit 1 (E0: changed to revision 1, reviewed 2027), application 2 (E1, returned then
    resubmitted), application 3 (E2, returned), permit 2 (E3, revoked); indexed into SQLite."""
    directory = Path(tmp_path_factory.mktemp("api-permits"))
    c = deploy_permits_suite(anvil, ChainClient.connect(anvil.url, artifacts), directory)
    p = permits_of(c)
    pid = issued(c, E0)
    p.change(c.regulator, pid, outlets(E0, 2), [Term(SO2, 800, 30_000)])
    p.annual_review(c.regulator, pid, 2027, True, "in order")
    app1 = applied(c, E1)
    p.review_return(c.regulator, app1, "monitoring plan missing")
    p.resubmit(E1, app1, outlets(E1), [Term(NOX, 50, 0)], DOC)
    app2 = applied(c, E2)
    p.review_return(c.regulator, app2, "map of outlets")
    revoked = issued(c, E3)
    p.revoke(c.regulator, revoked, "falsified monitoring data")
    url = f"sqlite:///{directory / 'read.db'}"
    engine = make_engine(url)
    upgrade(engine)
    Indexer(c.chain, c.manifest, engine).catch_up()
    settings = ApiSettings(database_url=url, api_domain=DOMAIN, api_role_cache_seconds=0,
                           **UNTHROTTLED)  # type: ignore[arg-type]  # fmt: skip
    ctx = AppContext(settings, c.chain, c.manifest, engine)
    with TestClient(create_app(ctx, migrate=False, indexer=False), base_url=f"http://{DOMAIN}") as client:
        yield client, c
    engine.dispose()


def _h(client: TestClient, account: object) -> dict[str, str]:
    return {"Authorization": f"Bearer {sign_in(client, account)}"}  # type: ignore[arg-type]


def test_permits_list_and_filters(api: Api) -> None:
    client, _ = api
    h = _h(client, E2)  # the register is public to every participant
    body = client.get("/permits", headers=h).json()
    assert body["total"] == 2
    assert [(p["permit_id"], p["enterprise"], p["status"]) for p in body["items"]] == [
        (2, E3.address, "revoked"),
        (1, E0.address, "valid"),
    ]
    assert client.get("/permits", headers=h, params={"status": "valid"}).json()["total"] == 1
    assert client.get("/permits", headers=h, params={"status": "expired"}).json()["total"] == 0
    assert client.get("/permits", headers=h, params={"enterprise": E3.address}).json()["items"][0][
        "reason"
    ] == ("falsified monitoring data")
    assert client.get("/permits", headers=h, params={"region": 331000}).json()["total"] == 2
    assert client.get("/permits", headers=h, params={"industry": "C2511"}).json()["total"] == 0
    assert client.get("/permits", headers=h, params={"status": "lost"}).status_code in (400, 422)
    assert client.get("/permits").status_code == 401


def test_permit_detail_holds_the_revision_and_reviews(api: Api) -> None:
    client, c = api
    h = _h(client, c.regulator)
    permit = client.get("/permits/1", headers=h).json()
    assert (permit["revision"], permit["region_code"], permit["industry_code"]) == (1, 331000, "D4411")
    assert permit["enterprise_name"].startswith("Taizhou Power Plant")
    assert permit["outlets"] == [{"code": o.code, "mn": o.mn} for o in outlets(E0, 2)]
    assert permit["terms"] == [{"pollutant": SO2, "annual_amount": 800, "concentration_limit": 30_000}]
    assert permit["valid_until"] - permit["valid_from"] == 5 * 365 * 86_400
    assert [(r["year"], r["passed"], r["note"]) for r in permit["reviews"]] == [(2027, True, "in order")]
    assert client.get("/permits/99", headers=h).status_code == 404
    assert client.get("/permits/0", headers=h).status_code in (400, 422)


def test_permit_stats(api: Api) -> None:
    client, c = api
    stats = client.get("/permits/stats", headers=_h(client, c.exchange)).json()
    assert stats["total"] == 2 and stats["by_status"] == {"valid": 1, "revoked": 1}
    assert stats["by_region"] == {"331000": 1} and stats["by_industry"] == {"D4411": 1}
    assert stats["applications_by_status"] == {"issued": 2, "submitted": 1, "returned": 1}


def test_applications_the_enterprise_reads_its_own(api: Api) -> None:
    client, _ = api
    h = _h(client, E1)
    body = client.get("/permits/applications", headers=h).json()
    assert [(a["application_id"], a["status"], a["submissions"]) for a in body["items"]] == [
        (2, "submitted", 2)
    ]
    app = body["items"][0]
    assert app["terms"] == [{"pollutant": NOX, "annual_amount": 50, "concentration_limit": 0}]
    assert app["outlets"] == [{"code": o.code, "mn": o.mn} for o in outlets(E1)]
    assert app["reason"] is None and app["document_hash"] == "0x" + DOC.hex()
    assert (
        client.get("/permits/applications", headers=h, params={"enterprise": E2.address}).status_code == 403
    )


@pytest.mark.parametrize("who", ["regulator", "exchange", "auditor"])
def test_applications_the_regulator_exchange_and_auditors_read_all(api: Api, who: str) -> None:
    client, c = api
    h = _h(client, getattr(c, who))
    body = client.get("/permits/applications", headers=h).json()
    assert [a["application_id"] for a in body["items"]] == [1, 2, 3, 4]
    queue = client.get("/permits/applications", headers=h, params={"status": "returned"}).json()["items"]
    assert [(a["application_id"], a["reason"]) for a in queue] == [(3, "map of outlets")]
    mine = client.get("/permits/applications", headers=h, params={"enterprise": E0.address}).json()["items"]
    assert [a["permit_id"] for a in mine] == [1]


def test_applications_refused_without_a_role_or_suspended(api: Api) -> None:
    client, c = api
    assert client.get("/permits/applications", headers=_h(client, c.outsider)).status_code == 403
    assert client.get("/permits/applications", headers=_h(client, c.oracle)).status_code == 403
    snapshot = c.snapshot()
    try:
        c.registry.govern(c.members, c.registry.encode_suspend(E1.address, 5), "suspend E1")
        assert client.get("/permits/applications", headers=_h(client, E1)).status_code == 403
    finally:
        c.revert(snapshot)
