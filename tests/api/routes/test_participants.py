"""GET /participants, /devices, /proposals against the registry on a real chain."""

from __future__ import annotations

import httpx
import pytest

from chain.accounts import dev_account
from tests.api.conftest import ApiWorld, Get
from tests.utils.compliance import ENTERPRISES

DEVICE = dev_account(35)
SUSPENDED = ENTERPRISES[3]


@pytest.fixture(scope="module", autouse=True)
def registry_changes(world: ApiWorld) -> None:
    """A device bound to E0, a second one bound then unbound, and E3 suspended (reason 7)."""
    c = world.c
    c.registry.bind_device(c.regulator, DEVICE.address, ENTERPRISES[0].address, "33100000000001")
    c.registry.bind_device(c.regulator, dev_account(36).address, ENTERPRISES[1].address, "33100000000002")
    c.registry.unbind_device(c.regulator, dev_account(36).address)
    c.registry.govern(c.members, c.registry.encode_suspend(SUSPENDED.address, 7), "suspend E3")
    world.index()


def _addresses(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [item["address"] for item in response.json()["items"]]


# ---------------------------------------------------------------------- participants


def test_participants_equal_registry_profiles_for_enterprises(world: ApiWorld, get: Get) -> None:
    body = get(ENTERPRISES[0], "/participants", role="ENTERPRISE").json()
    assert body["total"] == len(world.c.registry.role_members("ENTERPRISE"))
    items = {item["address"]: item for item in body["items"]}
    for account in ENTERPRISES:
        chain = world.c.registry.enterprise(account.address).profile
        item = items[account.address]
        assert (item["name"], item["credit_code"], item["region_code"], item["industry_code"]) == (
            chain.name, chain.credit_code, chain.region_code, chain.industry_code,
        )  # fmt: skip
        assert item["latitude"] == pytest.approx(chain.latitude / 1e6)
        assert item["longitude"] == pytest.approx(chain.longitude / 1e6)
        assert "ENTERPRISE" in item["roles"]


def test_participants_role_filter_matches_chain_members_for_each_service_role(
    world: ApiWorld, get: Get
) -> None:
    for role in ("REGULATOR", "EXCHANGE", "AUDITOR", "ORACLE"):
        found = _addresses(get(ENTERPRISES[0], "/participants", role=role))
        assert sorted(found) == sorted(world.c.registry.role_members(role)), role


def test_participants_q_matches_name_or_credit_code_case_insensitively(world: ApiWorld, get: Get) -> None:
    profile = world.c.registry.enterprise(ENTERPRISES[1].address).profile
    assert _addresses(get(ENTERPRISES[0], "/participants", q=profile.name.upper())) == [
        ENTERPRISES[1].address
    ]
    by_code = _addresses(get(ENTERPRISES[0], "/participants", q=profile.credit_code.lower()))
    assert by_code == [ENTERPRISES[1].address]
    assert _addresses(get(ENTERPRISES[0], "/participants", q="%")) == []


def test_participants_region_and_industry_filters_select_enterprises(get: Get) -> None:
    enterprises = set(_addresses(get(ENTERPRISES[0], "/participants", role="ENTERPRISE")))
    assert set(_addresses(get(ENTERPRISES[0], "/participants", region_code=331000))) == enterprises
    assert set(_addresses(get(ENTERPRISES[0], "/participants", industry_code="D4411"))) == enterprises
    assert _addresses(get(ENTERPRISES[0], "/participants", region_code=110000)) == []


def test_participants_suspended_filter_lists_the_suspended_enterprise(get: Get) -> None:
    assert _addresses(get(ENTERPRISES[0], "/participants", suspended=True)) == [SUSPENDED.address]
    assert SUSPENDED.address not in _addresses(get(ENTERPRISES[0], "/participants", suspended=False))
    one = get(ENTERPRISES[0], f"/participants/{SUSPENDED.address}").json()
    assert one["suspended"] is True and one["suspension_reason"] == 7


def test_participant_get_normalizes_a_lowercase_address(world: ApiWorld, get: Get) -> None:
    response = get(ENTERPRISES[0], f"/participants/{world.c.regulator.address.lower()}")
    assert response.status_code == 200
    body = response.json()
    assert body["address"] == world.c.regulator.address and "REGULATOR" in body["roles"]
    assert body["latitude"] is None and body["name"] is None


def test_participant_get_returns_404_naming_an_unknown_address(world: ApiWorld, get: Get) -> None:
    response = get(ENTERPRISES[0], f"/participants/{world.c.outsider.address}")
    assert response.status_code == 404 and world.c.outsider.address in response.json()["message"]


def test_participants_refuse_bad_addresses_and_bad_filters_with_422(get: Get) -> None:
    for path in ("/participants/0x1234", "/participants/not-an-address", "/devices/0x" + "g" * 40):
        assert get(ENTERPRISES[0], path).status_code == 422, path
    assert get(ENTERPRISES[0], "/participants", role="KING").status_code == 422
    assert get(ENTERPRISES[0], "/participants", region_code="x").status_code == 422
    assert get(ENTERPRISES[0], "/devices", enterprise="0xabc").status_code == 422


def test_participants_paginate_and_refuse_an_offset_past_the_end(get: Get) -> None:
    whole = get(ENTERPRISES[0], "/participants").json()
    first = get(ENTERPRISES[0], "/participants", limit=2).json()
    second = get(ENTERPRISES[0], "/participants", limit=2, offset=2).json()
    assert first["total"] == whole["total"] and len(first["items"]) == 2
    assert first["items"] + second["items"] == whole["items"][:4]
    response = get(ENTERPRISES[0], "/participants", offset=whole["total"])
    assert response.status_code == 400 and "past the end" in response.json()["message"]
    assert get(ENTERPRISES[0], "/participants", limit=0).status_code == 422


def test_participants_refuse_unauthenticated_requests_with_401(world: ApiWorld) -> None:
    for path in ("/participants", f"/participants/{ENTERPRISES[0].address}", "/devices", "/proposals"):
        assert world.client.get(path).status_code == 401, path


# ---------------------------------------------------------------------- devices


def test_devices_equal_registry_bindings(world: ApiWorld, get: Get) -> None:
    body = get(world.c.regulator, "/devices", bound=True).json()
    chain = {d.address: (d.enterprise, d.mn) for d in world.c.registry.devices()}
    assert {item["address"]: (item["enterprise"], item["mn"]) for item in body["items"]} == chain
    assert get(world.c.regulator, "/devices").json()["total"] == len(chain) + 1  # and the unbound one


def test_devices_filter_by_enterprise_and_bound(world: ApiWorld, get: Get) -> None:
    regulator = world.c.regulator
    assert _addresses(get(regulator, "/devices", enterprise=ENTERPRISES[0].address)) == [DEVICE.address]
    assert _addresses(get(regulator, "/devices", bound=True)) == [DEVICE.address]
    assert _addresses(get(regulator, "/devices", bound=False)) == [dev_account(36).address]
    assert _addresses(get(regulator, "/devices", enterprise=ENTERPRISES[3].address)) == []


def test_device_get_returns_the_binding_or_404(world: ApiWorld, get: Get) -> None:
    body = get(world.c.regulator, f"/devices/{DEVICE.address}").json()
    assert body == {"address": DEVICE.address, "enterprise": ENTERPRISES[0].address, "mn": "33100000000001",
                    "bound": True, "updated_block": body["updated_block"]}  # fmt: skip
    response = get(world.c.regulator, f"/devices/{dev_account(37).address}")
    assert response.status_code == 404 and dev_account(37).address in response.json()["message"]


# ---------------------------------------------------------------------- proposals


def test_proposals_equal_registry_proposals_newest_first(world: ApiWorld, get: Get) -> None:
    chain = world.c.registry.proposals()
    body = get(ENTERPRISES[0], "/proposals", limit=1000).json()
    assert body["total"] == len(chain)
    assert [p["proposal_id"] for p in body["items"]] == [p.id for p in reversed(chain)]
    newest = body["items"][0]
    assert newest["description"] == "suspend E3" and newest["executed"] is True


def test_proposals_executed_filter(world: ApiWorld, get: Get) -> None:
    executed = get(ENTERPRISES[0], "/proposals", executed=True).json()
    pending = get(ENTERPRISES[0], "/proposals", executed=False).json()
    assert executed["total"] + pending["total"] == len(world.c.registry.proposals())
    assert all(p["executed"] for p in executed["items"]) and not any(p["executed"] for p in pending["items"])


# ---------------------------------------------------------------------- OpenAPI


def test_openapi_gives_examples_for_every_public_model_of_the_read_routes(world: ApiWorld) -> None:
    schema = world.client.get("/openapi.json").json()
    models = schema["components"]["schemas"]
    public = ("ParticipantPublic", "DevicePublic", "ProposalPublic", "HoldingPublic", "TransferPublic",
              "TokenPublic", "AllocationPublic", "AuctionPublic", "BidPublic", "AttestationPublic",
              "ComplianceYearPublic", "NoticePublic", "ApplicationPublic")  # fmt: skip
    for name in public:
        model = models[name]
        assert model.get("examples"), name
        example = model["examples"][0]  # (FastAPI leaves null values out of examples)
        assert set(example) <= set(model["properties"]), name
        missing = set(model["properties"]) - set(example)
        assert all({"type": "null"} in model["properties"][p].get("anyOf", ()) for p in missing), name
        assert all(p.get("description") for p in model["properties"].values()), name
    paths = ("/participants", "/devices", "/proposals", "/holdings", "/transfers", "/tokens", "/allocations",
             "/auctions", "/auctions/{auction_id}/bids", "/attestations", "/compliance/notices")  # fmt: skip
    for path in paths:
        responses = schema["paths"][path]["get"]["responses"]
        assert {"200", "400", "401", "403", "422"} <= set(responses), path


def test_openapi_model_names_are_unique_across_the_routers(world: ApiWorld) -> None:
    # two routers' models of one name get module-qualified names (``api__routes__x__Name``)
    models = world.client.get("/openapi.json").json()["components"]["schemas"]
    assert [name for name in models if "__" in name] == []


def test_large_answers_are_gzipped_for_clients_that_accept_it_and_small_ones_are_not(
    world: ApiWorld, get: Get
) -> None:
    headers = {**world.sign_in(world.c.regulator), "Accept-Encoding": "gzip"}
    page = world.client.get("/participants", params={"limit": 50}, headers=headers)
    assert page.status_code == 200 and page.headers["content-encoding"] == "gzip"
    assert page.json()["total"] >= len(ENTERPRISES)  # the client decodes it
    one = world.client.get(f"/participants/{ENTERPRISES[0].address}", headers=headers)
    assert one.status_code == 200 and "content-encoding" not in one.headers  # under 1 kB
    plain = world.client.get(
        "/participants", params={"limit": 50}, headers={**headers, "Accept-Encoding": "identity"}
    )
    assert "content-encoding" not in plain.headers and plain.json() == page.json()
