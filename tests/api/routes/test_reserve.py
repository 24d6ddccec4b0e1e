"""Reserve routes: balances per pollutant and vintage from the indexed movements (feed, sale,
confiscation, closure sweep) equal the contract's; offers read by their project (its own) and by
the regulator and the exchange (all), others refused; the wallet calls to accept an open offer,
which then accept it on-chain; the closures register; unknown offers 404; POST /tx/reserve builds
the project's approve and accept and the regulator's offer, withdraw and feed, each signed and
relayed, and refuses the wrong role, someone else's or a closed offer and bad input by name."""

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
from chain.reserve import OfferState
from chain.tx import ChainClient
from readmodel.indexer.run import Indexer
from readmodel.migrate import upgrade
from readmodel.session import make_engine
from tests.api.conftest import DOMAIN, UNTHROTTLED, sign_in
from tests.conftest import Consortium
from tests.utils.reserve import (
    ENTERPRISES,
    NOX_2027,
    SO2_2027,
    SO2_PRICE,
    deploy_reserve_suite,
    plans_of,
    reserve_of,
)

E0, E1, E2, _ = ENTERPRISES
Api = tuple[TestClient, Consortium]


@pytest.fixture(scope="module")
def api(
    anvil: AnvilNode, artifacts: dict[str, Artifact], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Api]:
    """SO2 and NOx fed; offer 1 (E0, 300 t SO2) accepted; offer 2 (E1, 50 t SO2) left open;
    offer 3 (E2, 5 t NOx) withdrawn; 20 t confiscated from E0; E0 closed; indexed into SQLite."""
    directory = Path(tmp_path_factory.mktemp("api-reserve"))
    c, plan_id = deploy_reserve_suite(anvil, ChainClient.connect(anvil.url, artifacts), directory)
    r = reserve_of(c)
    r.feed(c.regulator, plan_id, "SO2")
    r.feed(c.regulator, plan_id, "NOx")
    deadline = c.chain.timestamp() + 86_400
    c.cash.deposit(c.exchange, E0.address, 10_000_000, "BANK-API-R-1")
    r.accept(E0, r.offer(c.regulator, E0.address, SO2_2027, 300, deadline))
    r.offer(c.regulator, E1.address, SO2_2027, 50, deadline)
    r.withdraw_offer(c.regulator, r.offer(c.regulator, E2.address, NOX_2027, 5, deadline))
    c.registry.govern_call(
        c.members, r.encode_confiscate(E0.address, [SO2_2027], [20], "penalty"), "confiscate"
    )
    r.close(c.registry, c.members, E0.address, "关停 order 9")
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


def test_reserve_balances_equal_the_chain(api: Api) -> None:
    client, c = api
    r = reserve_of(c)
    body = client.get("/reserve/balances", headers=_h(client, E2)).json()
    assert [(b["pollutant"], b["vintage"], b["balance"]) for b in body] == [
        ("SO2", 2027, r.balance(SO2_2027)),
        ("NOx", 2027, r.balance(NOX_2027)),
    ]
    so2 = body[0]
    assert (so2["fed"], so2["sold"], so2["confiscated"], so2["swept"]) == (900, 300, 20, 280)
    only = client.get("/reserve/balances?pollutant=3", headers=_h(client, E2)).json()
    assert [b["pollutant"] for b in only] == ["NOx"]
    assert client.get("/reserve/balances").status_code == 401


def test_reserve_offers_by_role(api: Api) -> None:
    client, c = api
    everything = client.get("/reserve/offers", headers=_h(client, c.regulator)).json()
    assert [(o["offer_id"], o["status"]) for o in everything["items"]] == [
        (3, "withdrawn"),
        (2, "open"),
        (1, "accepted"),
    ]
    assert everything["items"][2]["payment"] == 300 * SO2_PRICE
    own = client.get("/reserve/offers", headers=_h(client, E1)).json()
    assert [o["offer_id"] for o in own["items"]] == [2]
    opened = client.get("/reserve/offers?status=open", headers=_h(client, c.exchange)).json()
    assert opened["total"] == 1
    assert client.get("/reserve/offers", headers=_h(client, c.auditor)).status_code == 403


def test_reserve_offer_calls_accept_the_offer(api: Api) -> None:
    client, c = api
    r = reserve_of(c)
    h = _h(client, E1)
    calls = client.get("/reserve/offers/2/calls", headers=h).json()
    assert [(x["contract"], x["function"]) for x in calls] == [
        ("SettlementToken", "approve"),
        ("GovernmentReserve", "accept"),
    ]
    assert calls[0]["args"] == {"spender": r.address, "value": 50 * SO2_PRICE}
    assert client.get("/reserve/offers/1/calls", headers=_h(client, E0)).status_code in (403, 404)
    assert client.get("/reserve/offers/2/calls", headers=_h(client, E2)).status_code == 404
    assert client.get("/reserve/offers/99/calls", headers=h).status_code == 404
    built = client.post("/tx/build", json=calls[1], headers=h)
    assert built.status_code == 422  # not approved yet: the contract's error, by name
    assert "ERC20InsufficientAllowance" in built.text


def test_reserve_closures_register(api: Api) -> None:
    client, _ = api
    body = client.get("/reserve/closures", headers=_h(client, E2)).json()
    (closure,) = body["items"]
    assert (closure["closure_id"], closure["enterprise"], closure["reason"]) == (
        1,
        E0.address,
        "关停 order 9",
    )
    assert closure["swept"] == [{"token_id": SO2_2027, "amount": 280}]


# ---------------------------------------------------------------------- POST /tx/reserve


def _relayed(client: TestClient, who: object, body: dict[str, object]) -> dict[str, object]:
    """Build ``body`` with POST /tx/reserve as ``who``, sign it with its key (the wallet's part),
    relay it; the relay's outcome."""
    h = _h(client, who)
    built = client.post("/tx/reserve", json=body, headers=h)
    assert built.status_code == 200, built.text
    tx = {k: v for k, v in built.json()["tx"].items() if k != "from"}
    raw = "0x" + bytes(who.sign_transaction(tx).raw_transaction).hex()  # type: ignore[attr-defined]
    relayed = client.post("/tx/relay", json={"intent_id": built.json()["intent_id"], "raw_transaction": raw},
                          headers=h)  # fmt: skip
    assert relayed.status_code == 200 and relayed.json()["status"] == "success", relayed.text
    return {"built": built.json(), "outcome": relayed.json()}


def test_tx_reserve_builds_what_the_project_and_the_regulator_sign(api: Api) -> None:
    client, c = api
    r, snapshot = reserve_of(c), c.snapshot()
    try:
        c.cash.deposit(c.exchange, E1.address, 10_000_000, "BANK-API-R-2")
        early = client.post("/tx/reserve", json={"action": "accept", "offer_id": 2}, headers=_h(client, E1))
        assert early.status_code == 422 and early.json()["error"] == "ERC20InsufficientAllowance", early.text
        approve = _relayed(client, E1, {"action": "approve", "offer_id": 2})["built"]
        assert approve["action"]["function"] == "approve" and approve["tx"]["to"] == c.cash.address  # type: ignore[index]
        assert approve["action"]["args"] == {"spender": r.address, "value": 50 * SO2_PRICE}  # type: ignore[index]
        balance = c.cash.balance(E1.address)
        _relayed(client, E1, {"action": "accept", "offer_id": 2})
        assert r.offer_of(2).state is OfferState.ACCEPTED
        assert c.allowance.balance(E1.address, SO2_2027) == 50
        assert c.cash.balance(E1.address) == balance - 50 * SO2_PRICE

        now = c.chain.timestamp()
        offer = {"action": "offer", "project": E2.address.lower(), "pollutant": "so2", "vintage": 2027,
                 "quantity": 10, "days": 3}  # fmt: skip
        built = _relayed(client, c.regulator, offer)["built"]
        args = built["action"]["args"]  # type: ignore[index]
        assert (args["project"], args["id"], args["quantity"]) == (E2.address, SO2_2027, 10)
        assert now + 3 * 86_400 <= args["deadline"] <= now + 3 * 86_400 + 60
        offered = r.offer_of(r.offer_count())
        assert (offered.project, offered.token_id, offered.quantity, offered.state) == (
            E2.address, SO2_2027, 10, OfferState.OPEN,
        )  # fmt: skip
        _relayed(client, c.regulator, {"action": "withdraw", "offer_id": offered.id})
        assert r.offer_of(offered.id).state is OfferState.WITHDRAWN
    finally:
        c.revert(snapshot)


def test_tx_reserve_refuses_by_name(api: Api) -> None:
    client, c = api
    project, regulator = _h(client, E1), _h(client, c.regulator)
    annual = plans_of(c).current_annual(2027)
    offer = {"action": "offer", "project": E2.address, "pollutant": "SO2", "vintage": 2027, "quantity": 10}
    for who, body, status, error in (
        (project, {"action": "approve", "offer_id": 99}, 404, "NotFoundError"),
        (_h(client, E2), {"action": "approve", "offer_id": 2}, 404, "NotFoundError"),  # E1's offer
        (_h(client, E2), {"action": "accept", "offer_id": 3}, 409, "ConflictError"),  # withdrawn
        (regulator, {"action": "approve", "offer_id": 2}, 403, "ForbiddenError"),
        (project, offer, 403, "ForbiddenError"),
        (regulator, {**offer, "pollutant": "XYZ"}, 400, "InvalidInputError"),
        (regulator, {**offer, "quantity": 10**6}, 422, "ReserveInsufficient"),
        (regulator, {**offer, "project": c.auditor.address}, 422, "ReserveNotProject"),
        (
            regulator,
            {"action": "feed", "annual_plan_id": annual, "pollutant": "SO2"},
            422,
            "ReserveNothingToFeed",
        ),
        (regulator, {"action": "withdraw", "offer_id": 1}, 422, "ReserveOfferNotOpen"),
    ):
        response = client.post("/tx/reserve", json=body, headers=who)
        assert (response.status_code, response.json()["error"]) == (status, error), (body, response.text)
    for bad in ({**offer, "quantity": 0}, {**offer, "days": 0}, {**offer, "extra": 1}, {"action": "burn"}):
        assert client.post("/tx/reserve", json=bad, headers=regulator).status_code == 422, bad
    assert client.post("/tx/reserve", json=offer).status_code == 401
