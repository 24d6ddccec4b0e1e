"""Transactions for wallet users: catalogue, build, relay of transactions signed with the users'
own keys, outcomes with decoded custom errors, EIP-712 payloads, and every refusal."""

from __future__ import annotations

import time
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from fastapi.testclient import TestClient
from sqlalchemy import select

from domain.tokens import Kind, encode_id
from oracle.signing.eip712 import ReadingDomain, frame_digest, reading_digest, reading_hash
from oracle.signing.reading import Reading
from readmodel import models as m
from tests.api.conftest import ApiWorld
from tests.utils.compliance import CO2_2023, CO2_2024, CO2_2025, ENTERPRISES, OFF_2024

E0, E1, E2, E3 = ENTERPRISES


_SESSIONS: dict[tuple[int, str], dict[str, str]] = {}


def _headers(world: ApiWorld, account: LocalAccount) -> dict[str, str]:
    """Session headers of ``account``, signed in once per world."""
    key = (id(world), account.address)
    if key not in _SESSIONS:
        _SESSIONS[key] = world.sign_in(account)
    return _SESSIONS[key]


def _transfer(frm: str, to: str, token_id: int, amount: int) -> dict[str, Any]:
    return {
        "contract": "AllowanceToken",
        "function": "safeTransferFrom",
        "args": {"from": frm, "to": to, "id": token_id, "value": amount, "data": "0x"},
    }


def _build(world: ApiWorld, account: LocalAccount, body: dict[str, Any]) -> dict[str, Any]:
    response = world.client.post("/tx/build", json=body, headers=_headers(world, account))
    assert response.status_code == 200, response.text
    built: dict[str, Any] = response.json()
    return built


def _sign(account: LocalAccount, tx: dict[str, Any], **changes: Any) -> str:
    """The wallet's part: sign the unsigned transaction (without ``from``) with its own key."""
    unsigned = {k: v for k, v in tx.items() if k != "from"} | changes
    return "0x" + bytes(account.sign_transaction(unsigned).raw_transaction).hex()


def _relay(world: ApiWorld, account: LocalAccount, intent_id: str, raw: str) -> Any:
    return world.client.post(
        "/tx/relay", json={"intent_id": intent_id, "raw_transaction": raw}, headers=_headers(world, account)
    )


def _refused(response: Any, status: int, *words: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    for word in words:
        assert word in body["message"] or word == body["error"], body
    return body


# ---------------------------------------------------------------------- catalogue


def test_actions_lists_every_contract_action_from_the_abis(world: ApiWorld) -> None:
    response = world.client.get("/tx/actions")
    assert response.status_code == 200, response.text
    actions = {(a["contract"], a["function"]): a for a in response.json()}
    assert {c for c, _ in actions} == set(world.c.manifest.contracts)
    transfer = actions[("AllowanceToken", "safeTransferFrom")]
    assert transfer["selector"] == "0xf242432a"
    assert [(p["name"], p["type"]) for p in transfer["inputs"]] == [
        ("from", "address"), ("to", "address"), ("id", "uint256"), ("value", "uint256"), ("data", "bytes"),
    ]  # fmt: skip
    attest = actions[("EmissionsLedger", "attestBySig")]
    assert attest["notice"] and [c["name"] for c in attest["inputs"][0]["components"]][:2] == [
        "auditor",
        "enterprise",
    ]
    only = world.client.get("/tx/actions", params={"contract": "EmissionsLedger"}).json()
    assert only and {a["contract"] for a in only} == {"EmissionsLedger"}


def test_actions_refused_for_unknown_contract(world: ApiWorld) -> None:
    _refused(world.client.get("/tx/actions", params={"contract": "Nope"}), 400, "unknown contract")


# ---------------------------------------------------------------------- the happy paths


def test_relay_moves_allowances_when_enterprise_signs_with_own_key(world: ApiWorld) -> None:
    allowance = world.c.allowance
    before = allowance.balance(E0.address, CO2_2024), allowance.balance(E3.address, CO2_2024)
    built = _build(world, E0, _transfer(E0.address, E3.address, CO2_2024, 7))
    tx = built["tx"]
    assert tx["from"] == E0.address and tx["to"] == allowance.contract.address
    assert tx["chainId"] == world.c.chain.chain_id and tx["gas"] > 21_000 and "maxFeePerGas" in tx
    assert built["action"]["args"]["value"] == 7 and built["sign_with"].startswith("eth_sendTransaction")

    response = _relay(world, E0, built["intent_id"], _sign(E0, tx))
    assert response.status_code == 200, response.text
    outcome = response.json()
    assert outcome["status"] == "success" and outcome["error"] is None and outcome["gas_used"] > 0
    [event] = [e for e in outcome["events"] if e["name"] == "TransferSingle"]
    assert event["args"] | {"operator": E0.address} == {
        "operator": E0.address, "from": E0.address, "to": E3.address, "id": CO2_2024, "value": 7,
    }  # fmt: skip
    assert (allowance.balance(E0.address, CO2_2024), allowance.balance(E3.address, CO2_2024)) == (
        before[0] - 7,
        before[1] + 7,
    )

    state = world.client.get(f"/tx/intents/{built['intent_id']}", headers=_headers(world, E0)).json()
    assert state["status"] == "success" and state["tx_hash"] == outcome["tx_hash"]
    assert state["outcome"]["block_number"] == outcome["block_number"]

    world.index()
    with world.ctx.sessions() as db:
        rows = db.execute(select(m.Transfer).where(m.Transfer.tx_hash == outcome["tx_hash"])).scalars().all()
        assert [(r.sender, r.recipient, r.token_id, r.amount) for r in rows] == [
            (E0.address, E3.address, CO2_2024, 7)
        ]
        held = db.get(m.Holding, (E3.address, CO2_2024))
        assert held is not None and held.balance == before[1] + 7

    _refused(_relay(world, E0, built["intent_id"], _sign(E0, tx)), 409, "IntentUsedError")


def test_relay_submits_attestation_signed_by_auditor_and_relayed_by_regulator(world: ApiWorld) -> None:
    auditor, ledger = world.c.auditor, world.c.ledger
    body = {
        "enterprise": E1.address, "pollutant": 1, "year": 2024, "verified_emissions": 880,
        "offsets_eligible": 40, "evidence": ["0x" + "ab" * 32], "report_hash": "0x" + "cd" * 32,
    }  # fmt: skip
    response = world.client.post("/tx/typed-data/attestation", json=body, headers=_headers(world, auditor))
    assert response.status_code == 200, response.text
    payload = response.json()
    typed = payload["typed_data"]
    assert typed["primaryType"] == "Attestation"
    assert typed["domain"]["verifyingContract"] == ledger.address
    assert typed["message"]["auditor"] == auditor.address
    assert typed["message"]["nonce"] == ledger.nonce(auditor.address)

    signed = Account.sign_typed_data(auditor.key, full_message=typed)
    assert "0x" + bytes(signed.message_hash).hex() == payload["digest"]
    relay_body = payload["relay"]
    relay_body["args"]["signature"] = "0x" + bytes(signed.signature).hex()

    regulator = world.c.regulator
    built = _build(world, regulator, relay_body)
    assert built["tx"]["from"] == regulator.address
    outcome = _relay(world, regulator, built["intent_id"], _sign(regulator, built["tx"])).json()
    assert outcome["status"] == "success", outcome
    [event] = [e for e in outcome["events"] if e["name"] == "AttestationSubmitted"]
    assert event["args"]["id"] == payload["digest"]
    assert ledger.latest_attestation(E1.address, 1, 2024) == bytes.fromhex(payload["digest"][2:])


def test_typed_data_attestation_forbidden_for_non_auditor(world: ApiWorld) -> None:
    body = {
        "enterprise": E1.address, "pollutant": 1, "year": 2024, "verified_emissions": 1,
        "offsets_eligible": 0, "evidence": [], "report_hash": "0x" + "cd" * 32,
    }  # fmt: skip
    response = world.client.post("/tx/typed-data/attestation", json=body, headers=_headers(world, E1))
    _refused(response, 403, "AUDITOR")


def test_typed_data_reading_matches_device_digests(world: ApiWorld) -> None:
    device = Account.from_key(b"\x07" * 32).address
    readings = [
        {"device": device, "sequence": 5 + i, "time": 1_735_689_600, "pollutant": "w01018",
         "value": 12_345 + i, "decimals": 3, "unit": "mg/L", "flag": "N"}
        for i in range(2)
    ]  # fmt: skip
    domain = ReadingDomain(world.c.chain.chain_id, world.c.ledger.address)
    parsed = [Reading.from_json(r) for r in readings]
    headers = _headers(world, E0)

    one = world.client.post("/tx/typed-data/reading", json={"readings": readings[:1]}, headers=headers).json()
    assert one["typed_data"]["primaryType"] == "Reading"
    assert one["digest"] == "0x" + reading_digest(domain, parsed[0]).hex()
    signed = Account.sign_typed_data(b"\x07" * 32, full_message=one["typed_data"])
    assert "0x" + bytes(signed.message_hash).hex() == one["digest"]

    frame = world.client.post(
        "/tx/typed-data/reading", json={"readings": readings, "frame": True}, headers=headers
    ).json()
    assert frame["typed_data"]["primaryType"] == "Frame"
    assert frame["digest"] == "0x" + frame_digest(domain, [reading_hash(r) for r in parsed]).hex()
    assert frame["reading_hashes"] == ["0x" + reading_hash(r).hex() for r in parsed]

    _refused(world.client.post("/tx/typed-data/reading", json={"readings": readings}, headers=headers), 400,
             "one reading")  # fmt: skip


# ---------------------------------------------------------------------- build refusals


def test_build_refused_for_unknown_contract_or_function(world: ApiWorld) -> None:
    headers = _headers(world, E0)
    response = world.client.post("/tx/build", json={"contract": "Nope", "function": "x"}, headers=headers)
    _refused(response, 400, "CallInputError", "unknown contract")
    response = world.client.post(
        "/tx/build", json={"contract": "AllowanceToken", "function": "mintForFree"}, headers=headers
    )
    _refused(response, 400, "mintForFree")


def test_build_refused_naming_the_argument_that_does_not_fit(world: ApiWorld) -> None:
    body = _transfer(E0.address, E3.address, CO2_2024, 1)
    body["args"]["id"] = "lots"
    _refused(world.client.post("/tx/build", json=body, headers=_headers(world, E0)), 400, "args.id")
    body = _transfer(E0.address, "0x1234", CO2_2024, 1)
    _refused(world.client.post("/tx/build", json=body, headers=_headers(world, E0)), 400, "args.to")


def test_build_reports_custom_error_when_the_call_would_revert(world: ApiWorld) -> None:
    held = world.c.allowance.balance(E3.address, CO2_2023)
    body = _transfer(E3.address, E0.address, CO2_2023, held + 1)
    response = world.client.post("/tx/build", json=body, headers=_headers(world, E3))
    error = _refused(response, 422, "ERC1155InsufficientBalance")
    assert error["details"]["args"]["needed"] == held + 1

    body = {"contract": "AllowanceToken", "function": "setCap", "args": {"id": CO2_2024, "newCap": 1}}
    response = world.client.post("/tx/build", json=body, headers=_headers(world, E3))
    error = _refused(response, 422, "UnauthorizedRole")
    assert error["details"]["args"]["account"] == E3.address


def test_build_refuses_gas_estimation_with_403_when_the_account_has_no_role(world: ApiWorld) -> None:
    body = {"contract": "AllowanceToken", "function": "setCap", "args": {"id": CO2_2024, "newCap": 1}}
    response = world.client.post("/tx/build", json=body, headers=_headers(world, world.c.outsider))
    _refused(response, 403, "ForbiddenError", world.c.outsider.address)
    intents = world.ctx.sessions().execute(
        select(m.TxIntent).where(m.TxIntent.sender == world.c.outsider.address)
    )
    assert intents.first() is None  # nothing estimated, nothing stored


# ---------------------------------------------------------------------- relay refusals


def test_relay_refused_when_signed_by_another_key(world: ApiWorld) -> None:
    built = _build(world, E1, _transfer(E1.address, E3.address, CO2_2024, 1))
    _refused(_relay(world, E1, built["intent_id"], _sign(E2, built["tx"])), 400, "sender")


def test_relay_refused_when_data_differs(world: ApiWorld) -> None:
    built = _build(world, E1, _transfer(E1.address, E3.address, CO2_2024, 1))
    other = _build(world, E1, _transfer(E1.address, E3.address, CO2_2024, 2))
    raw = _sign(E1, built["tx"], data=other["tx"]["data"])
    body = _refused(_relay(world, E1, built["intent_id"], raw), 400, "data")
    assert "value=2 instead of 1" in body["message"]
    raw = _sign(E1, built["tx"], to=world.c.cash.contract.address)
    _refused(_relay(world, E1, built["intent_id"], raw), 400, "to:")


def test_relay_refused_for_another_chain_id(world: ApiWorld) -> None:
    built = _build(world, E1, _transfer(E1.address, E3.address, CO2_2024, 1))
    raw = _sign(E1, built["tx"], chainId=built["tx"]["chainId"] + 1)
    _refused(_relay(world, E1, built["intent_id"], raw), 400, "chain id")


def test_relay_refused_for_malformed_raw_transaction(world: ApiWorld) -> None:
    built = _build(world, E1, _transfer(E1.address, E3.address, CO2_2024, 1))
    for raw in ("0xzz", "deadbeef", "0x", "0x02c0"):
        _refused(_relay(world, E1, built["intent_id"], raw), 400, "RawTransactionError")
    state = world.client.get(f"/tx/intents/{built['intent_id']}", headers=_headers(world, E1)).json()
    assert state["status"] == "built" and state["tx_hash"] is None


def test_intent_forbidden_to_another_account(world: ApiWorld) -> None:
    built = _build(world, E1, _transfer(E1.address, E3.address, CO2_2024, 1))
    _refused(_relay(world, E2, built["intent_id"], _sign(E2, built["tx"])), 403, "another account")
    response = world.client.get(f"/tx/intents/{built['intent_id']}", headers=_headers(world, E2))
    _refused(response, 403)


def test_intent_not_found_when_unknown(world: ApiWorld) -> None:
    unknown = "00000000-0000-4000-8000-000000000000"
    _refused(_relay(world, E1, unknown, "0x00"), 404, "does not exist")
    _refused(world.client.get(f"/tx/intents/{unknown}", headers=_headers(world, E1)), 404)


def test_relay_conflict_when_intent_expired(world: ApiWorld) -> None:
    built = _build(world, E1, _transfer(E1.address, E3.address, CO2_2024, 1))
    assert built["expires_at"] >= int(time.time()) + world.ctx.settings.api_intent_minutes * 60 - 5
    with world.ctx.sessions() as db:
        row = db.get(m.TxIntent, built["intent_id"])
        assert row is not None
        row.expires_at = int(time.time()) - 1
        db.commit()
    _refused(_relay(world, E1, built["intent_id"], _sign(E1, built["tx"])), 409, "IntentExpiredError")
    state = world.client.get(f"/tx/intents/{built['intent_id']}", headers=_headers(world, E1)).json()
    assert state["status"] == "expired"


def test_relay_keeps_intent_usable_when_the_nonce_is_stale(world: ApiWorld) -> None:
    built = _build(world, E0, _transfer(E0.address, E2.address, OFF_2024, 3))
    assert built["tx"]["nonce"] > 0
    stale = _sign(E0, built["tx"], nonce=built["tx"]["nonce"] - 1)
    _refused(_relay(world, E0, built["intent_id"], stale), 409, f"next nonce is {built['tx']['nonce']}")
    outcome = _relay(world, E0, built["intent_id"], _sign(E0, built["tx"])).json()
    assert outcome["status"] == "success", outcome


def test_relay_reports_decoded_custom_error_when_mined_transaction_reverts(world: ApiWorld) -> None:
    allowance = world.c.allowance
    held = allowance.balance(E2.address, CO2_2025)
    built = _build(world, E2, _transfer(E2.address, E3.address, CO2_2025, held))
    allowance.transfer(E2, E1.address, CO2_2025, held)  # the balance goes before the signature arrives
    raw = _sign(E2, built["tx"], nonce=world.c.chain.next_nonce(E2.address))
    response = _relay(world, E2, built["intent_id"], raw)
    assert response.status_code == 200, response.text
    outcome = response.json()
    assert outcome["status"] == "reverted" and outcome["events"] == [] and outcome["block_number"]
    assert outcome["error"]["name"] == "ERC1155InsufficientBalance"
    assert outcome["error"]["args"] == {
        "sender": E2.address,
        "balance": 0,
        "needed": held,
        "tokenId": CO2_2025,
    }
    state = world.client.get(f"/tx/intents/{built['intent_id']}", headers=_headers(world, E2)).json()
    assert state["status"] == "reverted" and state["outcome"]["error"]["name"] == "ERC1155InsufficientBalance"
    _refused(_relay(world, E2, built["intent_id"], raw), 409, "already relayed")


# ---------------------------------------------------------------------- sessions


def test_tx_routes_unauthorized_without_session(world: ApiWorld) -> None:
    client: TestClient = world.client
    body = _transfer(E0.address, E3.address, encode_id(Kind.ALLOWANCE, "CO2", 2024), 1)
    assert client.post("/tx/build", json=body).status_code == 401
    assert client.post("/tx/relay", json={"intent_id": "x", "raw_transaction": "0x"}).status_code == 401
    assert client.get("/tx/intents/x").status_code == 401
    assert client.post("/tx/typed-data/reading", json={"readings": []}).status_code in (401, 422)
    bad = {"Authorization": "Bearer nope"}
    assert client.post("/tx/build", json=body, headers=bad).status_code == 401


# ---------------------------------------------------------------------- relay: nonces and one at a time


def test_relay_refuses_a_future_nonce_at_once_without_holding_a_thread(world: ApiWorld) -> None:
    from api.routes.tx import _RELAY_THREADS

    assert world.ctx.settings.api_relay_wait_seconds >= 30  # what a queued transaction would hold
    built = _build(world, E3, _transfer(E3.address, E0.address, OFF_2024, 1))
    future = built["tx"]["nonce"] + 5
    started = time.monotonic()
    response = _relay(world, E3, built["intent_id"], _sign(E3, built["tx"], nonce=future))
    elapsed = time.monotonic() - started
    body = _refused(response, 409, f"nonce is {future}", f"next nonce is {built['tx']['nonce']}")
    assert body["error"] == "RelayNonceError" and elapsed < 5, elapsed
    assert _RELAY_THREADS.borrowed_tokens == 0  # no relay thread waits for it
    assert world.c.chain.rpc("eth_getTransactionCount", [E3.address, "pending"]) == hex(built["tx"]["nonce"])
    outcome = _relay(world, E3, built["intent_id"], _sign(E3, built["tx"])).json()  # the intent stays usable
    assert outcome["status"] == "success", outcome


def test_relay_refuses_a_second_relay_of_the_account_while_one_waits(world: ApiWorld) -> None:
    import threading

    chain = world.c.chain
    first = _build(world, E1, _transfer(E1.address, E0.address, OFF_2024, 1))
    second = _build(world, E1, _transfer(E1.address, E0.address, OFF_2024, 2))
    nonce = first["tx"]["nonce"]
    answers: dict[str, Any] = {}
    chain.rpc("evm_setAutomine", [False])  # the first relay waits for a block that does not come yet
    try:
        waiting = threading.Thread(
            target=lambda: answers.update(first=_relay(world, E1, first["intent_id"], _sign(E1, first["tx"])))
        )
        waiting.start()
        deadline = time.monotonic() + 10
        while int(chain.rpc("eth_getTransactionCount", [E1.address, "pending"]), 16) == nonce:
            assert time.monotonic() < deadline, "the first transaction never reached the node"
            time.sleep(0.05)
        raw = _sign(E1, second["tx"], nonce=nonce + 1)  # the right next nonce, but one relay already waits
        _refused(
            _relay(world, E1, second["intent_id"], raw), 409, "RelayInFlightError", "already has a relay"
        )
        assert waiting.is_alive()
    finally:
        chain.rpc("evm_setAutomine", [True])
        chain.rpc("evm_mine", [])
    waiting.join(timeout=30)
    assert answers["first"].json()["status"] == "success", answers["first"].text
    outcome = _relay(world, E1, second["intent_id"], _sign(E1, second["tx"], nonce=nonce + 1)).json()
    assert outcome["status"] == "success", outcome
