"""Cards routes on SQLite and PostgreSQL over a real chain: an enterprise reads its own cards and
statements, the regulator all, another enterprise is refused; the statement's months and movements
equal the chain; the enterprise's recharge built unsigned, signed in its wallet and relayed, a load
above its holdings refused 422 by name, a non-enterprise refused 403."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from fastapi.testclient import TestClient

from api.config import ApiSettings
from api.context import AppContext
from api.main import create_app
from chain.cards import CardsClient
from readmodel.indexer.run import Indexer
from readmodel.migrate import upgrade
from readmodel.session import make_engine
from tests.api.conftest import DOMAIN, UNTHROTTLED, sign_in
from tests.conftest import Consortium
from tests.utils.cards import CARDS, E1, E2, NEW_CARD, SO2_2027, cards_world


@pytest.fixture(scope="module")
def chain_world(
    consortium: Consortium, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Consortium, CardsClient]]:
    c = replace(consortium)
    snapshot = consortium.snapshot()
    try:
        yield c, cards_world(c, tmp_path_factory.mktemp("api-cards"))
    finally:
        consortium.revert(snapshot)


@pytest.fixture
def api(
    chain_world: tuple[Consortium, CardsClient], database_url: str
) -> Iterator[tuple[TestClient, Consortium]]:
    c, _ = chain_world
    snapshot = c.snapshot()
    engine = make_engine(database_url)
    upgrade(engine)
    Indexer(c.chain, c.manifest, engine).catch_up()
    settings = ApiSettings(database_url=database_url, api_domain=DOMAIN, api_role_cache_seconds=0,
                           **UNTHROTTLED)  # type: ignore[arg-type]  # fmt: skip
    ctx = AppContext(settings, c.chain, c.manifest, engine)
    try:
        with TestClient(create_app(ctx, migrate=False, indexer=False), base_url=f"http://{DOMAIN}") as client:
            yield client, c
    finally:
        engine.dispose()
        c.revert(snapshot)


def _h(client: TestClient, account: LocalAccount) -> dict[str, str]:
    return {"Authorization": f"Bearer {sign_in(client, account)}"}


def test_cards_read_own_all_for_the_regulator_statement_equals_the_chain(
    api: tuple[TestClient, Consortium],
) -> None:
    client, c = api
    h1 = _h(client, E1)
    own = client.get("/cards", headers=h1).json()
    assert [(x["card"], x["status"]) for x in own["items"]] == [(CARDS[0], "replaced"), (NEW_CARD, "active")]
    everything = client.get("/cards", headers=_h(client, c.regulator)).json()
    assert everything["total"] == 3
    assert client.get("/cards", params={"enterprise": E1.address}, headers=_h(client, E2)).status_code == 403
    assert client.get("/cards").status_code == 401
    statement = client.get(f"/cards/{NEW_CARD}/statement", headers=h1).json()
    (march,) = statement["months"]
    assert (march["token_id"], march["month"], march["committed"], march["loads"], march["settled"]) == (
        SO2_2027, 3, 700, 2, False,
    )  # fmt: skip
    assert [(x["kind"], x["amount"]) for x in statement["movements"]] == [("load", 600), ("load", 100)]
    settled = client.get(f"/cards/{CARDS[1]}/statement", headers=_h(client, c.regulator)).json()
    assert [(x["used"], x["returned"]) for x in settled["months"]] == [(150, 50)]
    assert client.get(f"/cards/{CARDS[1]}/statement", headers=h1).status_code == 403
    assert client.get("/cards/999/statement", headers=h1).status_code == 404


def test_cards_recharge_built_signed_and_relayed(api: tuple[TestClient, Consortium]) -> None:
    client, c = api
    h1 = _h(client, E1)
    body = {"card": NEW_CARD, "pollutant": "SO2", "year": 2027, "month": 3, "amount": 50}
    built = client.post("/cards/tx/load", json=body, headers=h1)
    assert built.status_code == 200, built.text
    outcome = _relay(client, E1, built.json(), h1)
    assert [e["name"] for e in outcome["events"]][-1] == "CardLoaded"
    cards = CardsClient(c.chain, c.manifest.address("EmissionCards"))
    assert cards.month(NEW_CARD, SO2_2027, 3).committed == 750
    too_much = client.post("/cards/tx/load", json={**body, "amount": 1_000}, headers=h1)
    assert too_much.status_code == 422 and "CardLoadExceedsHoldings" in too_much.text, too_much.text
    assert client.post("/cards/tx/load", json=body, headers=_h(client, c.regulator)).status_code == 403
    assert client.post("/cards/tx/load", json={**body, "month": 13}, headers=h1).status_code == 422
    approve = client.post("/cards/tx/approve", headers=_h(client, E2))
    assert approve.status_code == 200 and approve.json()["action"]["function"] == "setApprovalForAll"


def _relay(client: TestClient, who: LocalAccount, built: dict[str, Any], headers: dict[str, str]) -> Any:
    unsigned = {k: v for k, v in built["tx"].items() if k != "from"}
    raw = "0x" + bytes(who.sign_transaction(unsigned).raw_transaction).hex()
    response = client.post(
        "/tx/relay", json={"intent_id": built["intent_id"], "raw_transaction": raw}, headers=headers
    )
    assert response.status_code == 200 and response.json()["status"] == "success", response.text
    return response.json()
