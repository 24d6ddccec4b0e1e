"""Safe multisig accounts through the API on a real chain, on SQLite and PostgreSQL: a 2-of-2 Safe
registered as an enterprise; one representative proposes a transfer and a market order, the
other sees what was proposed and signs, the API builds the execTransaction for a representative's
wallet and relays it. Refused by name, nothing changed: a non-representative's signature, too few
signatures, a proposal or a look by someone who is not a representative, an argument that does
not fit, a call that would revert, a relayed transaction that is not the execution."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_account.signers.local import LocalAccount
from fastapi.testclient import TestClient

from api.config import ApiSettings
from api.context import AppContext
from api.main import create_app
from chain.accounts import dev_account
from chain.deploy import SuiteConfig
from chain.onboarding import register_enterprises
from chain.safe import SafeClient, SafeFactoryClient, deploy_safe_contracts, sign_safe_tx
from readmodel.migrate import upgrade
from readmodel.session import make_engine, scratch_database
from tests.api.conftest import DOMAIN, UNTHROTTLED, sign_in
from tests.conftest import Consortium
from tests.utils.chain import profile
from tests.utils.market import CO2_2027, MAX_UINT, MORNING, SELL, build_rig, next_weekday_at
from tests.utils.trusted import deploy_trusted

ALICE, BOB, MALLORY = dev_account(22), dev_account(23), dev_account(24)
PLAIN = dev_account(26)


@dataclass
class World:
    c: Consortium
    safe: SafeClient
    client: TestClient
    sessions: dict[str, dict[str, str]]

    def as_(self, who: LocalAccount) -> dict[str, str]:
        if who.address not in self.sessions:
            self.sessions[who.address] = {"Authorization": f"Bearer {sign_in(self.client, who)}"}
        return self.sessions[who.address]

    def post(self, who: LocalAccount, path: str, body: dict[str, Any] | None = None) -> httpx.Response:
        response: httpx.Response = self.client.post(f"/safe/{self.safe.address}{path}", json=body or {},
                                                    headers=self.as_(who))  # fmt: skip
        return response

    def get(self, who: LocalAccount, path: str = "") -> httpx.Response:
        response: httpx.Response = self.client.get(f"/safe/{self.safe.address}{path}", headers=self.as_(who))
        return response


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def world(
    request: pytest.FixtureRequest, consortium: Consortium, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    c = consortium
    snapshot = c.snapshot()
    tmp = Path(tmp_path_factory.mktemp("safe-api"))
    try:
        build_rig(c, traders=[PLAIN], seed=880)
        config = SuiteConfig(members=tuple(m.address for m in c.members), threshold=2)
        _, contracts = deploy_safe_contracts(c.chain, c.members[0], config, tmp / "safe.json")
        safe = SafeFactoryClient(c.chain, contracts).create(ALICE, [ALICE.address, BOB.address], 2, salt=2)
        register_enterprises(c.registry, c.members, [(safe.address, profile(881))])
        c.allowance.set_cap(c.regulator, CO2_2027, c.allowance.issued(CO2_2027) + 5_000)
        c.allowance.allocate(c.regulator, CO2_2027, [safe.address], [5_000], b"\x88" * 32)
        c.cash.deposit(c.exchange, safe.address, 10**9, "safe-api-deposit")
        market = c.market.contract
        approve_all = c.allowance.contract.encode_abi("setApprovalForAll", args=[market.address, True])
        for to, data in (
            (c.cash.address, c.cash.contract.encode_abi("approve", args=[market.address, MAX_UINT])),
            (c.allowance.address, approve_all),
        ):
            tx = safe.transaction(to, bytes.fromhex(data[2:]))
            safe.execute(
                ALICE,
                tx,
                {a.address: sign_safe_tx(a, c.chain.chain_id, safe.address, tx) for a in (ALICE, BOB)},
            )
        next_weekday_at(c.chain, MORNING)
        with (
            scratch_database(request.getfixturevalue("postgres_url"))
            if request.param == "postgresql"
            else nullcontext(f"sqlite:///{tmp / f'read-{time.monotonic_ns()}.db'}") as url
        ):
            engine = make_engine(url)
            upgrade(engine)
            settings = ApiSettings(database_url=url, api_domain=DOMAIN, api_role_cache_seconds=0,
                                   **UNTHROTTLED)  # type: ignore[arg-type]  # fmt: skip
            ctx = AppContext(settings, c.chain, c.manifest, engine)
            client = TestClient(create_app(ctx, migrate=False, indexer=False), base_url=f"http://{DOMAIN}")
            try:
                with client:
                    yield World(c, safe, client, {})
            finally:
                engine.dispose()
    finally:
        c.revert(snapshot)


def refused(response: httpx.Response, status: int, error: str, *words: str) -> None:
    assert response.status_code == status, response.text
    answer = response.json()
    assert answer["error"] == error, answer
    for word in words:
        assert word in answer["message"], answer


def signature(who: LocalAccount, proposal: dict[str, Any]) -> str:
    signed = Account.sign_message(encode_typed_data(full_message=proposal["typed_data"]), who.key)
    return "0x" + bytes(signed.signature).hex()


def transfer_args(w: World, amount: int) -> dict[str, Any]:
    args = {"from": w.safe.address, "to": PLAIN.address, "id": CO2_2027, "value": amount, "data": "0x"}
    return {"contract": "AllowanceToken", "function": "safeTransferFrom", "args": args}


def execute(w: World, who: LocalAccount, safe_tx_hash: str) -> dict[str, Any]:
    built = w.post(who, f"/transactions/{safe_tx_hash}/execute")
    assert built.status_code == 200, built.text
    unsigned = {k: v for k, v in built.json()["tx"].items() if k != "from"}
    raw = "0x" + bytes(who.sign_transaction(unsigned).raw_transaction).hex()
    relayed = w.post(who, f"/transactions/{safe_tx_hash}/relay", {"raw_transaction": raw})
    assert relayed.status_code == 200, relayed.text
    body: dict[str, Any] = relayed.json()
    return body


def test_safe_api_four_eyes_transfer(world: World) -> None:
    w, c = world, world.c
    info = w.get(ALICE).json()
    assert set(info["owners"]) == {ALICE.address, BOB.address} and info["threshold"] == 2
    before = c.allowance.balance(PLAIN.address, CO2_2027)
    proposed = w.post(ALICE, "/transactions", transfer_args(w, 40))
    assert proposed.status_code == 200, proposed.text
    p = proposed.json()
    assert p["status"] == "pending" and p["signatures"] == [] and p["typed_data"]["primaryType"] == "SafeTx"
    h = p["safe_tx_hash"]
    assert (
        w.post(ALICE, f"/transactions/{h}/signatures", {"signature": signature(ALICE, p)}).status_code == 200
    )
    # too few signatures: refused by name, nothing relayed
    refused(w.post(ALICE, f"/transactions/{h}/execute"), 400, "SafeThresholdNotMetError", "has 1")
    # a non-representative's signature: refused by name
    refused(w.post(MALLORY, f"/transactions/{h}/signatures", {"signature": signature(MALLORY, p)}), 400,
            "SafeSignerNotOwnerError", MALLORY.address)  # fmt: skip
    # the second representative sees what the first proposed, with the call decoded
    pending = w.get(BOB, "/transactions?status=pending").json()
    seen = next(t for t in pending if t["safe_tx_hash"] == h)
    transfer = "safeTransferFrom(address,address,uint256,uint256,bytes)"
    assert (seen["contract"], seen["function"], seen["proposer"]) == (
        "AllowanceToken",
        transfer,
        ALICE.address,
    )
    assert seen["args"]["value"] == 40 and [s["signer"] for s in seen["signatures"]] == [ALICE.address]
    signed = w.post(BOB, f"/transactions/{h}/signatures", {"signature": signature(BOB, seen)}).json()
    assert signed["ready"] is True and len(signed["signatures"]) == 2
    assert c.allowance.balance(PLAIN.address, CO2_2027) == before
    done = execute(w, BOB, h)
    assert done["status"] == "executed" and done["tx_hash"]
    assert c.allowance.balance(PLAIN.address, CO2_2027) == before + 40
    refused(w.post(ALICE, f"/transactions/{h}/signatures", {"signature": signature(ALICE, p)}), 409,
            "ConflictError", "executed")  # fmt: skip


def test_safe_api_market_order_through_the_safe(world: World) -> None:
    w, c = world, world.c
    body = {"contract": "Market", "function": "placeOrder",
            "args": {"tokenId": CO2_2027, "side": SELL, "price": 5_100, "quantity": 30}}  # fmt: skip
    p = w.post(BOB, "/transactions", body).json()
    for who in (ALICE, BOB):
        p = w.post(
            who, f"/transactions/{p['safe_tx_hash']}/signatures", {"signature": signature(who, p)}
        ).json()
    before = c.allowance.balance(w.safe.address, CO2_2027)
    assert execute(w, ALICE, p["safe_tx_hash"])["status"] == "executed"
    assert c.allowance.balance(w.safe.address, CO2_2027) == before - 30  # in the market's escrow
    orders = c.market.open_orders_of(w.safe.address, CO2_2027, SELL)  # type: ignore[arg-type]
    assert orders


def test_safe_api_refuses_outsiders_bad_calls_and_foreign_relays(world: World) -> None:
    w = world
    refused(
        w.post(MALLORY, "/transactions", transfer_args(w, 1)), 403, "ForbiddenError", "not a representative"
    )
    refused(w.get(MALLORY, "/transactions"), 403, "ForbiddenError")
    bad = transfer_args(w, 1) | {"args": {"from": w.safe.address, "to": "nope", "id": CO2_2027, "value": 1,
                                          "data": "0x"}}  # fmt: skip
    refused(w.post(ALICE, "/transactions", bad), 400, "CallInputError", "args.to")
    response = w.post(ALICE, "/transactions", transfer_args(w, 10**9))
    assert response.status_code == 422 and response.json()["error"] == "ERC1155InsufficientBalance", (
        response.text
    )
    p = w.post(ALICE, "/transactions", transfer_args(w, 2)).json()
    for who in (ALICE, BOB):
        p = w.post(
            who, f"/transactions/{p['safe_tx_hash']}/signatures", {"signature": signature(who, p)}
        ).json()
    # a relayed transaction that is not this execution (a plain transfer signed by Alice)
    unsigned = w.post(ALICE, f"/transactions/{p['safe_tx_hash']}/execute").json()["tx"]
    other = {k: v for k, v in unsigned.items() if k != "from"} | {"data": "0x"}
    raw = "0x" + bytes(ALICE.sign_transaction(other).raw_transaction).hex()
    refused(w.post(ALICE, f"/transactions/{p['safe_tx_hash']}/relay", {"raw_transaction": raw}), 400,
            "RawTransactionError", "not this Safe transaction")  # fmt: skip
    assert w.get(ALICE, f"/transactions/{p['safe_tx_hash']}").json()["status"] == "pending"
    refused(w.get(ALICE, "/transactions/0x" + "00" * 32), 404, "NotFoundError")
    refused(w.client.get(f"/safe/{PLAIN.address}", headers=w.as_(ALICE)), 404, "NotFoundError")


def test_untrusted_transfer_over_the_limit_refused_by_name_through_the_api(world: World) -> None:
    w, c = world, world.c
    snapshot = c.snapshot()
    try:
        deploy_trusted(c, limit=10)
        before = c.allowance.balance(PLAIN.address, CO2_2027)
        response = w.post(ALICE, "/transactions", transfer_args(w, 11))  # simulated from the Safe
        refused(response, 422, "AllowanceUntrustedCounterparty")
        assert response.json()["details"]["args"]["limit"] == 10
        args = {"from": PLAIN.address, "to": w.safe.address, "id": CO2_2027, "value": 11, "data": "0x"}
        body = {"contract": "AllowanceToken", "function": "safeTransferFrom", "args": args}
        built = w.client.post("/tx/build", json=body, headers=w.as_(PLAIN))
        refused(built, 422, "AllowanceUntrustedCounterparty")
        assert w.post(ALICE, "/transactions", transfer_args(w, 10)).status_code == 200  # within the limit
        assert c.allowance.balance(PLAIN.address, CO2_2027) == before
    finally:
        c.revert(snapshot)
