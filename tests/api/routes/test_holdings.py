"""GET /holdings, /transfers, /tokens, /allocations against the tokens on a real chain, and who
may read whose balances."""

from __future__ import annotations

from typing import Any

import httpx

from domain.tokens import Kind, encode_id
from tests.api.conftest import ApiWorld, Get
from tests.utils.compliance import CO2_2023, CO2_2024, ENTERPRISES, HOLDINGS, IDS, OFF_2024, SO2_2024

E0, E1, E2 = ENTERPRISES[:3]


def _ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _balances(body: dict[str, Any]) -> dict[tuple[str, int], int]:
    return {(h["account"], h["token_id"]): h["balance"] for h in body["items"]}


# ---------------------------------------------------------------------- holdings


def test_holdings_equal_chain_balances_for_the_signed_in_enterprise(world: ApiWorld, get: Get) -> None:
    body = _ok(get(E0, "/holdings"))
    expected = {(E0.address, t): world.c.allowance.balance(E0.address, t) for t in IDS}
    expected[(E0.address, 0)] = world.c.cash.balance(E0.address)
    assert _balances(body) == expected
    co2 = next(h for h in body["items"] if h["token_id"] == CO2_2024)
    assert (co2["kind"], co2["pollutant_symbol"], co2["vintage"], co2["label"]) == (
        "allowance", "CO2", 2024, "CO2 2024",
    )  # fmt: skip
    cash = next(h for h in body["items"] if h["token_id"] == 0)
    assert (cash["kind"], cash["pollutant"], cash["vintage"]) == ("cash", None, None)


def test_holdings_of_another_account_for_regulator_and_exchange(world: ApiWorld, get: Get) -> None:
    for viewer in (world.c.regulator, world.c.exchange):
        body = _ok(get(viewer, "/holdings", account=E1.address.lower()))
        assert {a for a, _ in _balances(body)} == {E1.address}
        assert _balances(body)[(E1.address, CO2_2024)] == world.c.allowance.balance(E1.address, CO2_2024)
    everyone = _ok(get(world.c.regulator, "/holdings", token_id=CO2_2024, limit=1000))
    assert {a for a, _ in _balances(everyone)} >= {e.address for e in ENTERPRISES}


def test_holdings_refuse_another_enterprises_account_with_403(world: ApiWorld, get: Get) -> None:
    for viewer, other in ((E0, E1), (world.c.auditor, E2)):  # the auditor is assigned to E0 and E1 only
        response = get(viewer, "/holdings", account=other.address)
        assert response.status_code == 403 and other.address in response.json()["message"]
    assert get(E0, "/holdings", account=E0.address).status_code == 200


def test_holdings_filter_by_token_pollutant_vintage_kind_and_balance(get: Get) -> None:
    def ids(**params: Any) -> set[int]:
        return {t for _, t in _balances(_ok(get(E0, "/holdings", **params)))}

    assert ids(token_id=SO2_2024) == {SO2_2024}
    assert ids(pollutant="SO2") == ids(pollutant="2") == {SO2_2024}
    assert ids(pollutant="co2") == {t for t in IDS if t != SO2_2024}
    assert ids(vintage=2023) == {CO2_2023}
    assert ids(kind="offset") == {OFF_2024}
    assert ids(kind="cash") == {0}
    assert ids(kind="allowance", vintage=2024) == {CO2_2024, SO2_2024}
    assert ids(min_balance=HOLDINGS[CO2_2024] - 100) == {0, CO2_2024}


def test_holdings_refuse_bad_filters_with_422(get: Get) -> None:
    wrong_case = next(i for i, ch in enumerate(E0.address) if i > 1 and ch.isalpha())
    bad_checksum = E0.address[:wrong_case] + E0.address[wrong_case].swapcase() + E0.address[wrong_case + 1 :]
    for params in ({"pollutant": "XYZ"}, {"kind": "gold"}, {"account": "0x123"}, {"min_balance": -1},
                   {"token_id": 2**40}, {"account": bad_checksum}):  # fmt: skip
        assert get(E0, "/holdings", **params).status_code == 422, params


def test_holdings_paginate_and_refuse_an_offset_past_the_end(get: Get) -> None:
    whole = _ok(get(E0, "/holdings"))
    page = _ok(get(E0, "/holdings", limit=2, offset=2))
    assert page["items"] == whole["items"][2:4] and page["total"] == whole["total"]
    response = get(E0, "/holdings", offset=whole["total"])
    assert response.status_code == 400 and "past the end" in response.json()["message"]


def test_holdings_refuse_unauthenticated_requests_with_401(world: ApiWorld) -> None:
    for path in ("/holdings", "/transfers", "/tokens", f"/tokens/{CO2_2024}", "/allocations"):
        response = world.client.get(path)
        assert response.status_code == 401 and response.headers["www-authenticate"] == "Bearer", path


# ---------------------------------------------------------------------- transfers


def test_transfers_show_the_enterprises_trade_on_either_side(world: ApiWorld, get: Get) -> None:
    sent = _ok(get(E0, "/transfers", token_id=CO2_2024))
    trade = [t for t in sent["items"] if t["recipient"] == E1.address]
    assert [(t["sender"], t["amount"], t["label"]) for t in trade] == [(E0.address, 25, "CO2 2024")]
    received = _ok(get(E1, "/transfers", token_id=CO2_2024))
    assert trade[0] in received["items"]
    assert all(E0.address in (t["sender"], t["recipient"]) for t in _ok(get(E0, "/transfers"))["items"])
    seen = _ok(get(world.c.regulator, "/transfers", account=E1.address, token_id=CO2_2024))
    assert trade[0] in seen["items"]


def test_transfers_sum_to_chain_balances(world: ApiWorld, get: Get) -> None:
    body = _ok(get(E2, "/transfers", limit=1000))
    net: dict[int, int] = {}
    for t in body["items"]:
        sign = 1 if t["recipient"] == E2.address else -1
        net[t["token_id"]] = net.get(t["token_id"], 0) + sign * t["amount"]
    assert net == {
        **{t: world.c.allowance.balance(E2.address, t) for t in IDS},
        0: world.c.cash.balance(E2.address),
    }


def test_transfers_refuse_another_enterprises_account_with_403(get: Get) -> None:
    response = get(E0, "/transfers", account=E1.address)
    assert response.status_code == 403 and E1.address in response.json()["message"]


def test_transfers_filter_by_time_window(get: Get) -> None:
    items = _ok(get(E0, "/transfers", limit=1000))["items"]
    times = [t["block_time"] for t in items]
    assert times == sorted(times)
    last = times[-1]
    assert _ok(get(E0, "/transfers", from_time=last))["items"] == [
        t for t in items if t["block_time"] >= last
    ]
    assert _ok(get(E0, "/transfers", to_time=times[0]))["items"] == [
        t for t in items if t["block_time"] <= times[0]
    ]
    assert _ok(get(E0, "/transfers", from_time=last + 10**6))["total"] == 0
    response = get(E0, "/transfers", from_time=last, to_time=last - 1)
    assert response.status_code == 400 and "before" in response.json()["message"]


def test_transfers_paginate_and_refuse_an_offset_past_the_end(get: Get) -> None:
    whole = _ok(get(E0, "/transfers"))
    assert _ok(get(E0, "/transfers", limit=1, offset=1))["items"] == whole["items"][1:2]
    assert get(E0, "/transfers", offset=whole["total"] + 5).status_code == 400


# ---------------------------------------------------------------------- tokens and allocations


def test_tokens_equal_chain_caps_issued_and_retired(world: ApiWorld, get: Get) -> None:
    body = _ok(get(E3 := ENTERPRISES[3], "/tokens"))
    assert [t["token_id"] for t in body["items"]] == sorted(IDS)
    a = world.c.allowance
    for token in body["items"]:
        tid = token["token_id"]
        assert (token["cap"], token["issued"], token["retired"]) == (
            a.cap(tid),
            a.issued(tid),
            a.retired(tid),
        )
        assert token["circulating"] == a.issued(tid) - a.retired(tid)
    assert _ok(get(E3, f"/tokens/{OFF_2024}"))["label"] == "offset CO2 2024"


def test_tokens_filter_by_pollutant_vintage_and_kind(get: Get) -> None:
    def ids(**params: Any) -> list[int]:
        return [t["token_id"] for t in _ok(get(E0, "/tokens", **params))["items"]]

    assert ids(pollutant="SO2") == [SO2_2024]
    assert ids(kind="offset") == [OFF_2024]
    assert ids(vintage=2024) == sorted([CO2_2024, OFF_2024, SO2_2024])
    assert get(E0, "/tokens", kind="cash").status_code == 422


def test_token_get_returns_404_naming_an_unknown_id(get: Get) -> None:
    unknown = encode_id(Kind.ALLOWANCE, "PM", 2030)
    response = get(E0, f"/tokens/{unknown}")
    assert response.status_code == 404 and str(unknown) in response.json()["message"]
    assert get(E0, "/tokens/-1").status_code == 422
    assert get(E0, "/tokens/abc").status_code == 422


def test_allocations_list_one_batch_per_id_with_totals(get: Get) -> None:
    body = _ok(get(E0, "/allocations"))
    assert body["total"] == len(IDS)
    for batch in body["items"]:
        assert (batch["recipients"], batch["total"]) == (len(ENTERPRISES), HOLDINGS[batch["token_id"]] * 4)
    only = _ok(get(E0, "/allocations", token_id=SO2_2024))
    assert [b["token_id"] for b in only["items"]] == [SO2_2024]
    assert get(E0, "/allocations", offset=len(IDS)).status_code == 400
