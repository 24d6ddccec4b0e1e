"""Reserve routes: balances per pollutant and vintage from the indexed movements (feed, sale,
confiscation, closure sweep) equal the contract's; offers read by their project (its own) and by
the regulator and the exchange (all), others refused; the wallet calls to accept an open offer,
which then accept it on-chain; the closures register; unknown offers 404."""

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
from chain.tx import ChainClient
from readmodel.indexer.run import Indexer
from readmodel.migrate import upgrade
from readmodel.session import make_engine
from tests.api.conftest import DOMAIN, UNTHROTTLED, sign_in
from tests.conftest import Consortium
from tests.utils.reserve import ENTERPRISES, NOX_2027, SO2_2027, SO2_PRICE, deploy_reserve_suite, reserve_of

E0, E1, E2, _ = ENTERPRISES
Api = tuple[TestClient, Consortium]


@pytest.fixture(scope="module")
def api(
    anvil: AnvilNode, artifacts: dict[str, Artifact], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Api]:
    """SO2 and NOx fed; offer 1 (E0, 300 t SO2) accepted; offer 2 (E1, 50 t SO2) left open;
    20 t confiscated from E0; E0 closed; indexed into SQLite."""
    directory = Path(tmp_path_factory.mktemp("api-reserve"))
    c, plan_id = deploy_reserve_suite(anvil, ChainClient.connect(anvil.url, artifacts), directory)
    r = reserve_of(c)
    r.feed(c.regulator, plan_id, "SO2")
    r.feed(c.regulator, plan_id, "NOx")
    deadline = c.chain.timestamp() + 86_400
    c.cash.deposit(c.exchange, E0.address, 10_000_000, "BANK-API-R-1")
    r.accept(E0, r.offer(c.regulator, E0.address, SO2_2027, 300, deadline))
    r.offer(c.regulator, E1.address, SO2_2027, 50, deadline)
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
    assert [(o["offer_id"], o["status"]) for o in everything["items"]] == [(2, "open"), (1, "accepted")]
    assert everything["items"][1]["payment"] == 300 * SO2_PRICE
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
