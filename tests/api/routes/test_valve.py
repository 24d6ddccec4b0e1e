"""The regulator's valve orders through the API on a real chain: the EIP-712 order built for the
signed-in regulator, signed in its wallet and relayed into the gateway's queue file; refusals by
name (not a regulator, a forged signature, expired, no gateway queue), nothing left then."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_account.signers.local import LocalAccount

from chain.valve import ValveOrder, sign_valve_order
from oracle.queue import Queue
from oracle.valve import VALVE_ORDERS_KEY
from tests.api.conftest import ApiWorld
from tests.utils.compliance import ENTERPRISES

E0 = ENTERPRISES[0]
MN = "33100000000001"


def _order(**changes: Any) -> dict[str, Any]:
    return {"mn": MN, "action": "close", "nonce": 5, "expires_at": int(time.time()) + 600,
            "reason": "停产整顿"} | changes  # fmt: skip


def _signed(
    world: ApiWorld, who: LocalAccount, body: dict[str, Any], signer: LocalAccount | None = None
) -> Any:
    response = world.client.post("/valve/typed-data", json=body, headers=world.sign_in(who))
    assert response.status_code == 200, response.text
    answer = response.json()
    signature = Account.sign_message(
        encode_typed_data(full_message=answer["typed_data"]), (signer or who).key
    )
    return {**answer["relay"], "signature": "0x" + bytes(signature.signature).hex()}


def _orders(path: Path) -> list[dict[str, Any]]:
    with Queue(path) as queue:
        text = queue.get_state(VALVE_ORDERS_KEY)
    return json.loads(text) if text else []


def test_a_regulators_signed_order_is_relayed_to_the_gateway_queue_and_bad_ones_refused_by_name(
    world: ApiWorld, tmp_path: Path
) -> None:
    c = world.c
    relay = _signed(world, c.regulator, _order())
    settings = world.ctx.settings
    settings.indexer_oracle_queues = ""
    refused = world.client.post("/valve/orders", json=relay)
    assert refused.status_code == 409 and "no oracle gateway queue" in refused.json()["message"]
    path = tmp_path / "queue.db"
    Queue(path).close()
    settings.indexer_oracle_queues = str(path)
    try:
        forged = _signed(world, c.regulator, _order(nonce=6), signer=E0)
        expired = _signed(world, c.regulator, _order(nonce=7, expires_at=int(time.time()) - 1))
        cases = [
            (forged, "ValveOrderSignatureError"),
            ({**relay, "regulator": E0.address}, "ValveOrderSignatureError"),
            (expired, "ValveOrderExpiredError"),
        ]
        for body, error in cases:
            answer = world.client.post("/valve/orders", json=body)
            assert (answer.status_code, answer.json()["error"]) == (400, error), answer.text
        # an enterprise may not even get the typed data; signed by itself, its order is refused
        denied = world.client.post("/valve/typed-data", json=_order(), headers=world.sign_in(E0))
        assert denied.status_code == 403
        own = ValveOrder(E0.address, MN, "close", 8, int(time.time()) + 600, "停产整顿")
        mine = sign_valve_order(E0, c.chain.chain_id, c.registry.address, own)
        body = {**own.as_json(), "signature": "0x" + mine.hex()}
        answer = world.client.post("/valve/orders", json=body)
        assert (answer.status_code, answer.json()["error"]) == (400, "ValveOrderNotRegulatorError")
        assert _orders(path) == []
        left = world.client.post("/valve/orders", json=relay)
        assert left.status_code == 202, left.text
        assert left.json() | {} == {"regulator": c.regulator.address, "mn": MN, "action": "close", "nonce": 5,
                                    "gateways": 1}  # fmt: skip
        (stored,) = _orders(path)
        assert (stored["regulator"], stored["nonce"], stored["signature"]) == (
            c.regulator.address, 5, relay["signature"],
        )  # fmt: skip
    finally:
        settings.indexer_oracle_queues = ""


@pytest.mark.parametrize("body", [_order(action="shut"), _order(mn="bad mn"), _order(nonce=-1)])
def test_malformed_orders_are_refused_with_422(world: ApiWorld, body: dict[str, Any]) -> None:
    response = world.client.post("/valve/typed-data", json=body, headers=world.sign_in(world.c.regulator))
    assert response.status_code == 422
