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


# ---------------------------------------------------------------------- POST /tx/permits


def _signed(account: object, tx: dict[str, object]) -> str:
    """The wallet's part: sign the unsigned transaction (without ``from``) with the account's key."""
    unsigned = {k: v for k, v in tx.items() if k != "from"}
    return "0x" + bytes(account.sign_transaction(unsigned).raw_transaction).hex()  # type: ignore[attr-defined]


_APPLY = {
    "action": "apply",
    "outlets": [{"code": "DA001", "mn": "MNTXPERMITS01"}],
    "terms": [{"pollutant": "SO2", "annual_amount": 700, "concentration_limit": 35_000},
              {"pollutant": 3, "annual_amount": 90}],
    "document_hash": "0x" + "ab" * 32,
}  # fmt: skip


def test_tx_permits_builds_an_application_the_enterprise_signs_and_relays(api: Api) -> None:
    client, c = api
    p, snapshot = permits_of(c), c.snapshot()
    try:
        h = _h(client, E3)  # its permit was revoked: it applies again
        built = client.post("/tx/permits", json=_APPLY, headers=h)
        assert built.status_code == 200, built.text
        body = built.json()
        assert body["tx"]["from"] == E3.address and body["tx"]["to"] == p.address
        assert (body["action"]["contract"], body["action"]["function"]) == (
            "DischargePermits",
            "applyForPermit",
        )
        relayed = client.post(
            "/tx/relay",
            json={"intent_id": body["intent_id"], "raw_transaction": _signed(E3, body["tx"])},
            headers=h,
        )
        assert relayed.status_code == 200 and relayed.json()["status"] == "success", relayed.text
        assert [e["name"] for e in relayed.json()["events"]][:1] == ["PermitApplied"]
        application = p.application(p.application_count())
        assert application.enterprise == E3.address and application.document_hash == b"\xab" * 32
        assert [(o.code, o.mn) for o in application.outlets] == [("DA001", "MNTXPERMITS01")]
        assert [(t.pollutant, t.annual_amount, t.concentration_limit) for t in application.terms] == [
            (SO2, 700, 35_000), (NOX, 90, 0),
        ]  # fmt: skip
        # E2 resubmits its returned application (3) the same way
        h2 = _h(client, E2)
        again = {**_APPLY, "action": "resubmit", "application_id": 3,
                 "outlets": [{"code": "DA002", "mn": "MNTXPERMITS02"}]}  # fmt: skip
        built = client.post("/tx/permits", json=again, headers=h2).json()
        assert built["action"]["function"] == "resubmit"
        raw = _signed(E2, built["tx"])
        relayed = client.post(
            "/tx/relay", json={"intent_id": built["intent_id"], "raw_transaction": raw}, headers=h2
        )
        assert relayed.json()["status"] == "success", relayed.text
        assert (
            p.application(3).state.name == "SUBMITTED" and p.application(3).outlets[0].mn == "MNTXPERMITS02"
        )
    finally:
        c.revert(snapshot)


def test_tx_permits_refuses_bad_input_the_wrong_role_and_the_wrong_signer(api: Api) -> None:
    client, c = api
    p = permits_of(c)
    count = p.application_count()
    h = _h(client, E3)
    for bad, status in (
        ({**_APPLY, "outlets": []}, 422),  # the schema: at least one outlet
        ({**_APPLY, "outlets": [{"code": "DA001", "mn": "MN-1"}]}, 422),  # not an HJ 212 MN
        ({**_APPLY, "terms": [{"pollutant": "XYZ", "annual_amount": 1}]}, 400),  # unknown pollutant
        ({**_APPLY, "terms": [{"pollutant": "SO2", "annual_amount": 0}]}, 422),
        ({**_APPLY, "document_hash": "0x12"}, 422),
        ({**_APPLY, "action": "change"}, 422),
    ):
        response = client.post("/tx/permits", json=bad, headers=h)
        assert response.status_code == status, (bad, response.text)
        assert response.json()["message"]
    # the contract's refusals, named at build: CO2 is not permitted, an outlet on E0's permit,
    # E1 resubmits another enterprise's application
    co2 = client.post(
        "/tx/permits", json={**_APPLY, "terms": [{"pollutant": "CO2", "annual_amount": 5}]}, headers=h
    )
    assert co2.status_code == 422 and "PermitInvalidTerm" in co2.json()["message"], co2.text
    taken = {**_APPLY, "outlets": [{"code": "DA001", "mn": outlets(E0)[0].mn}]}  # on E0's permit
    held = client.post("/tx/permits", json=taken, headers=h)
    assert held.status_code == 422 and "PermitOutletTaken" in held.json()["message"], held.text
    other = client.post("/tx/permits", json={**_APPLY, "action": "resubmit", "application_id": 3},
                        headers=_h(client, E1))  # fmt: skip
    assert other.status_code == 422 and "PermitNotApplicant" in other.json()["message"], other.text
    # not an enterprise: 403; no session: 401
    assert client.post("/tx/permits", json=_APPLY, headers=_h(client, c.regulator)).status_code == 403
    assert client.post("/tx/permits", json=_APPLY).status_code == 401
    # signed by another key than the signed-in enterprise's: the relay refuses it
    built = client.post("/tx/permits", json=_APPLY, headers=h).json()
    wrong = client.post(
        "/tx/relay",
        json={"intent_id": built["intent_id"], "raw_transaction": _signed(E2, built["tx"])},
        headers=h,
    )
    assert wrong.status_code == 400 and "sender" in wrong.json()["message"], wrong.text
    assert p.application_count() == count  # nothing changed
