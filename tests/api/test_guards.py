"""The API's guards on a real chain and read model: rate limits per client, sign-in and account
(429 with Retry-After, production defaults on), the body cap (413), server-side failures
answered without the node's URL or error (correlation id in body, header and log line), CSV
cells a spreadsheet cannot run, and demo keys served on a local Anvil only."""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import delete, func, select
from web3 import Web3

from api.access import demo_keys_served
from api.config import ApiSettings
from api.context import AppContext, RoleCache
from api.exports import csv_line, safe_cell
from api.main import create_app
from api.problems import CORRELATION_HEADER, error_response
from chain.errors import ChainError
from chain.node import AnvilNode
from chain.tx import ChainClient
from readmodel import models as m
from tests.api.conftest import DOMAIN, UNTHROTTLED, ApiWorld, sign_in
from tests.utils.compliance import ENTERPRISES, OFF_2024

E0, E1 = ENTERPRISES[:2]


def _client(
    world: ApiWorld, ctx: AppContext | None = None, *, client: str = "testclient", **settings: Any
) -> TestClient:
    """A client of a second app over the world's chain and read model, with ``settings`` changed
    (its own rate-limit counters)."""
    ctx = ctx or AppContext(world.ctx.settings.model_copy(update=settings), world.c.chain, world.c.manifest,
                            world.ctx.engine)  # fmt: skip
    return TestClient(create_app(ctx, migrate=False, indexer=False), base_url=f"http://{DOMAIN}",
                      client=(client, 50000))  # fmt: skip


def _nonces(world: ApiWorld) -> int:
    with world.ctx.sessions() as db:
        return int(db.execute(select(func.count()).select_from(m.SiweNonce)).scalar_one())


# ---------------------------------------------------------------------- rate limits


def test_rate_limit_refuses_sign_in_with_429_and_retry_after_when_a_client_asks_too_often(
    world: ApiWorld,
) -> None:
    client = _client(world, api_rate_limit_sign_in="3/minute")
    before = _nonces(world)
    assert [client.post("/auth/nonce").status_code for _ in range(3)] == [200, 200, 200]
    refused = client.post("/auth/nonce")
    assert refused.status_code == 429 and refused.json()["error"] == "RateLimitedError", refused.text
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert _nonces(world) == before + 3  # the refused call wrote nothing
    assert client.get("/health").status_code == 200  # other routes: the client's own limit
    other = _client(world, client.app.state.ctx, client="10.0.0.7")  # same app, another client address
    assert other.post("/auth/nonce").status_code == 200


def test_rate_limit_refuses_a_client_over_its_limit_on_any_route(world: ApiWorld) -> None:
    client = _client(world, api_rate_limit_client="5/minute")
    assert [client.get("/tx/actions").status_code for _ in range(5)] == [200] * 5
    refused = client.get("/openapi.json")
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1


def test_rate_limit_counts_an_account_across_its_sessions(world: ApiWorld) -> None:
    client = _client(world, api_rate_limit_principal="4/minute")
    first, second = ({"Authorization": f"Bearer {sign_in(client, E0)}"} for _ in range(2))
    assert [client.get("/auth/me", headers=h).status_code for h in (first, second, first, second)] == [
        200
    ] * 4
    refused = client.get("/holdings", headers=second)
    assert refused.status_code == 429 and "account" in refused.json()["message"]
    assert (
        client.get("/auth/me", headers={"Authorization": f"Bearer {sign_in(client, E1)}"}).status_code == 200
    )


def test_rate_limit_defaults_throttle_sign_in_when_not_overridden(world: ApiWorld) -> None:
    defaults = ApiSettings(database_url="sqlite://", api_domain=DOMAIN)
    assert all(getattr(defaults, k) != v for k, v in UNTHROTTLED.items())  # the tests' settings are explicit
    client = _client(world, **{k: getattr(defaults, k) for k in UNTHROTTLED})
    statuses = [client.post("/auth/nonce").status_code for _ in range(40)]
    assert statuses[:30] == [200] * 30 and statuses[-1] == 429


# ---------------------------------------------------------------------- body cap


def test_body_cap_refuses_with_413_when_declared_or_streamed_body_is_too_large(world: ApiWorld) -> None:
    client = _client(world, api_max_body_bytes=2048)
    big = {"message": "x" * 4000, "signature": "0x00"}
    declared = client.post("/auth/verify", json=big)
    assert declared.status_code == 413, declared.text

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        yield b'{"message": "'
        for _ in range(8):
            yield b"y" * 1000
        yield b'", "signature": "0x00"}'

    streamed = client.post("/auth/verify", content=chunks(), headers={"Content-Type": "application/json"})
    assert streamed.status_code == 413, streamed.text
    assert client.post("/auth/verify", json={"message": "x" * 100, "signature": "0x00"}).status_code == 400


# ---------------------------------------------------------------------- 5xx bodies


@pytest.fixture
def dead_chain(world: ApiWorld) -> Iterator[tuple[ChainClient, str]]:
    """A chain client whose node has stopped (a node that went down), and its URL."""
    with AnvilNode() as node:
        url = node.url
        chain = ChainClient(
            Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": 5})), world.c.chain.artifacts
        )
    yield chain, url


def test_server_error_hides_node_url_and_error_behind_a_correlation_id_when_the_node_is_down(
    world: ApiWorld, dead_chain: tuple[ChainClient, str], caplog: pytest.LogCaptureFixture
) -> None:
    chain, url = dead_chain
    headers = world.sign_in(E0)
    built = world.client.post("/tx/build", headers=headers, json={
        "contract": "AllowanceToken", "function": "safeTransferFrom",
        "args": {"from": E0.address, "to": E1.address, "id": OFF_2024, "value": 1, "data": "0x"},
    }).json()  # fmt: skip
    unsigned = {k: v for k, v in built["tx"].items() if k != "from"}
    raw = "0x" + bytes(E0.sign_transaction(unsigned).raw_transaction).hex()
    ctx = AppContext(world.ctx.settings, chain, world.c.manifest, world.ctx.engine)
    ctx.roles = RoleCache(world.ctx.registry, ttl=600)  # roles still read; the relaying node is down
    client = _client(world, ctx)
    with caplog.at_level(logging.INFO):
        response = client.post("/tx/relay", headers=headers, json={"intent_id": built["intent_id"],
                                                                    "raw_transaction": raw})  # fmt: skip
    assert response.status_code == 503, response.text
    body = response.json()
    port = url.rsplit(":", 1)[1]
    for leak in (url, port, "127.0.0.1", "Connection", "eth_getTransactionCount"):
        assert leak not in response.text, leak
    correlation = body["correlation_id"]
    assert response.headers[CORRELATION_HEADER] == correlation and correlation in body["message"]
    logged = [r for r in caplog.records if getattr(r, "correlation_id", None) == correlation]
    failure = [r for r in logged if r.name == "api.problems"]
    assert len(failure) == 1 and port in failure[0].getMessage()  # the operator finds the real error
    assert [r.getMessage() for r in logged if r.name == "api.main"] == ["request"]  # the request log line too


def test_server_error_answers_502_generically_when_the_node_answers_with_an_error() -> None:
    response = error_response(
        ChainError("eth_call failed: {'message': 'upstream http://10.1.2.3:8545 died'}")
    )
    assert response.status_code == 502
    text = bytes(response.body).decode()
    assert "10.1.2.3" not in text and "eth_call" not in text
    assert response.headers[CORRELATION_HEADER] in text


# ---------------------------------------------------------------------- CSV cells


@pytest.mark.parametrize("first", ["=", "+", "-", "@", "\t", "\r"])
def test_csv_cell_gets_a_quote_when_it_starts_like_a_formula(first: str) -> None:
    assert safe_cell(f"{first}HYPERLINK(1)") == f"'{first}HYPERLINK(1)"


@pytest.mark.parametrize("value", [-12, 3.5, "-12", "+3.5", "0x12ab", '{"a":1}', "AllowanceToken"])
def test_csv_cell_stays_as_it_is_when_it_is_a_number_or_plain_text(value: object) -> None:
    assert safe_cell(value) == value
    assert safe_cell(None) == ""


def test_audit_csv_export_escapes_formula_cells(world: ApiWorld) -> None:
    """An event row whose text fields start like formulas (as a crafted contract name or event
    could): the export shows them as text."""
    block = 10**9
    row = {"id": m.event_id(block, 0), "block_number": block, "log_index": 0, "block_time": 4_000_000_000,
           "tx_hash": "=1+2", "contract": "=HYPERLINK(\"http://x\")", "name": "@SUM(A1)", "args": {},
           "token_id": None, "device": "-2+3"}  # fmt: skip
    with world.ctx.engine.begin() as conn:
        conn.execute(m.Event.__table__.insert(), [row])
    try:
        response = world.client.get("/audit/events.csv", params={"from_block": block},
                                    headers=world.sign_in(world.c.regulator))  # fmt: skip
        assert response.status_code == 200, response.text
        (exported,) = list(csv.DictReader(io.StringIO(response.text)))
        assert (exported["tx_hash"], exported["contract"], exported["name"], exported["device"]) == (
            "'=1+2", "'=HYPERLINK(\"http://x\")", "'@SUM(A1)", "'-2+3",
        )  # fmt: skip
        assert exported["block_number"] == str(block) and exported["args"] == "{}"
    finally:
        with world.ctx.engine.begin() as conn:
            conn.execute(delete(m.Event).where(m.Event.block_number == block))
    assert csv_line(["-1", "=x"]) == "-1,'=x\n"


# ---------------------------------------------------------------------- demo keys


def test_demo_keys_served_only_in_demo_mode_on_chain_31337() -> None:
    assert demo_keys_served(demo=True, chain_id=31337)
    assert not demo_keys_served(demo=False, chain_id=31337)
    assert not demo_keys_served(demo=True, chain_id=1337)


def test_dashboard_config_serves_no_demo_keys_on_another_chain_even_in_demo_mode(world: ApiWorld) -> None:
    local = _client(world)
    local.app.state.dashboard_demo = True  # type: ignore[attr-defined]  # ETS_DEMO=1
    body = local.get("/dashboard/api/config").json()
    assert body["demo"] is True and body["chain_id"] == 31337 and body["accounts"]
    with AnvilNode(chain_id=1337) as node:
        chain = ChainClient.connect(node.url, world.c.chain.artifacts)
        ctx = AppContext(world.ctx.settings, chain, world.c.manifest, world.ctx.engine)
        other = _client(world, ctx)
        other.app.state.dashboard_demo = True  # type: ignore[attr-defined]
        body = other.get("/dashboard/api/config").json()
    assert body["chain_id"] == 1337 and body["demo"] is False and body["accounts"] == []
    assert "private_key" not in str(body)
