"""Who sees what (api.access) on a real chain and read model: suspended participants' roles grant
nothing, an auditor's scope is the regulator's on-chain assignment and nothing else (the
throwaway-attestation attack), a key without a role reads only the public subset, and the one
holdings rule is the same on every route that shows holdings."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from eth_account.signers.local import LocalAccount

from chain.accounts import dev_account
from tests.api.conftest import AUDITOR_ASSIGNED, ApiWorld, Get
from tests.utils.attestations import attestation
from tests.utils.compliance import CO2_2024, ENTERPRISES

E0, E1, E2, E3 = ENTERPRISES
REGULATOR2, EXCHANGE2, AUDITOR2, THROWAWAY = (dev_account(i) for i in (24, 25, 26, 27))
DEVICE = dev_account(28)
MN = "33100000000028"


@pytest.fixture(scope="module", autouse=True)
def participants(world: ApiWorld) -> None:
    """A second regulator, exchange and auditor (AUDITOR2 assigned to E0), THROWAWAY an auditor
    assigned to nothing yet, and a device of E0."""
    c = world.c
    grants = [("REGULATOR", REGULATOR2.address), ("EXCHANGE", EXCHANGE2.address),
              ("AUDITOR", AUDITOR2.address), ("AUDITOR", THROWAWAY.address)]  # fmt: skip
    c.registry.grant_roles(c.members, grants, "second regulator, exchange and auditors")
    c.registry.assign_auditor(c.regulator, AUDITOR2.address, E0.address)
    c.registry.bind_device(c.regulator, DEVICE.address, E0.address, MN)
    world.index()


def _status(response: httpx.Response) -> int:
    return response.status_code


# ---------------------------------------------------------------------- item 3: suspension


def _scoped_routes(who: LocalAccount) -> list[tuple[str, dict[str, Any]]]:
    """Routes a role holder reads (200) and a suspended one may not (403), with parameters that
    fit ``who``'s scope."""
    own = E0.address if who is AUDITOR2 else who.address
    return [
        ("/participants", {}),
        (f"/participants/{E0.address}", {}),
        ("/proposals", {}),
        ("/devices", {}),
        ("/holdings", {"account": own}),
        ("/transfers", {"account": own}),
        ("/attestations", {}),
        ("/compliance/years", {}),
        ("/compliance/notices", {"enterprise": own} if who in (AUDITOR2, E2) else {}),
        ("/compliance/applications", {}),
        ("/batches", {}),
        ("/audit/events", {"account": own}),
        ("/audit/events.csv", {"account": own}),
        ("/stats", {"metric": "allocated", "enterprise": E0.address if who is AUDITOR2 else None}),
        ("/stats/trend", {"metric": "allocated"}),
        ("/stats/holdings", {}),
    ]


def _suspend(world: ApiWorld, accounts: list[str], suspended: bool) -> None:
    r = world.c.registry
    calls = [r.encode_suspend(a, 7) if suspended else r.encode_reinstate(a) for a in accounts]
    r.govern(world.c.members, r.encode_multicall(calls), "suspend" if suspended else "reinstate")
    world.index()


def test_access_refuses_every_scoped_route_with_403_when_the_participant_is_suspended(
    world: ApiWorld, get: Get
) -> None:
    viewers = [REGULATOR2, EXCHANGE2, AUDITOR2, E2]
    for who in viewers:
        for path, params in _scoped_routes(who):
            params = {k: v for k, v in params.items() if v is not None}
            assert _status(get(who, path, **params)) == 200, (who.address, path)
    _suspend(world, [w.address for w in viewers], True)
    try:
        for who in viewers:
            me = get(who, "/auth/me").json()
            assert me["suspended"] is True and me["roles"], me  # still holds its roles
            for path, params in _scoped_routes(who):
                params = {k: v for k, v in params.items() if v is not None}
                response = get(who, path, **params)
                assert _status(response) == 403, (who.address, path, response.text)
                assert "suspended" in response.json()["message"]
            call = {"contract": "ComplianceManager", "function": "acknowledge", "args": [1, 2024]}
            built = world.client.post("/tx/build", json=call, headers=world.sign_in(who))
            assert built.status_code == 403, built.text
    finally:
        _suspend(world, [w.address for w in viewers], False)
    assert _status(get(REGULATOR2, "/holdings", account=E1.address)) == 200  # reinstated: powers back


# ---------------------------------------------------------------------- item 5: auditor scope


def _enterprise_routes(enterprise: str) -> list[tuple[str, dict[str, Any]]]:
    """Every route that shows an enterprise's data, asked for ``enterprise``."""
    return [
        ("/compliance/notices", {"enterprise": enterprise}),
        ("/compliance/applications", {"enterprise": enterprise}),
        ("/audit/events", {"account": enterprise}),
        ("/audit/events.csv", {"account": enterprise}),
        ("/batches", {"enterprise": enterprise}),
        ("/stats", {"metric": "allocated", "enterprise": enterprise}),
        ("/stats/holdings", {"enterprise": enterprise}),
        ("/holdings", {"account": enterprise}),
        ("/transfers", {"account": enterprise}),
        ("/devices", {"enterprise": enterprise}),
    ]


def test_access_grants_an_auditor_nothing_from_a_throwaway_attestation_without_assignment(
    world: ApiWorld, get: Get
) -> None:
    """The attack: get assigned (or not), attest once, revoke in the next block, keep reading the
    enterprise forever. Only the regulator's assignment opens an enterprise, and only while it
    lasts: an active or a revoked attestation opens nothing."""
    c = world.c
    for target in (E2, E3):
        c.registry.assign_auditor(c.regulator, THROWAWAY.address, target.address)
    world.index()
    for target in (E2, E3):
        for path, params in _enterprise_routes(target.address):
            assert _status(get(THROWAWAY, path, **params)) == 200, (path, target.address)

    def attest(enterprise: str) -> Any:
        nonce = c.ledger.nonce(THROWAWAY.address)
        draft = attestation(
            THROWAWAY.address, enterprise, nonce=nonce, verified_emissions=1, offsets_eligible=0
        )
        return c.ledger.attest(THROWAWAY, draft)

    active, revoked = attest(E2.address), attest(E3.address)
    c.ledger.revoke_attestation(THROWAWAY, revoked.id, 3, "throwaway")
    for target in (E2, E3):
        c.registry.unassign_auditor(c.regulator, THROWAWAY.address, target.address)
    world.index()
    assert active.id and revoked.id
    for target in (E2, E3):
        for path, params in _enterprise_routes(target.address):
            response = get(THROWAWAY, path, **params)
            assert _status(response) == 403, (path, target.address, response.text)
    # and the unfiltered lists show nothing of them
    notices = get(THROWAWAY, "/compliance/notices").json()["items"]
    assert {n["enterprise"] for n in notices} <= {THROWAWAY.address}
    stats = get(THROWAWAY, "/stats", metric="allocated", group_by="enterprise").json()["rows"]
    assert {r["enterprise"] for r in stats} <= {THROWAWAY.address}


def test_access_follows_the_assignment_when_the_regulator_assigns_an_auditor(
    world: ApiWorld, get: Get
) -> None:
    assert _status(get(AUDITOR2, "/compliance/notices", enterprise=E0.address)) == 200
    assert _status(get(AUDITOR2, "/compliance/notices", enterprise=E1.address)) == 403
    holders = {h["account"] for h in get(AUDITOR2, "/holdings", limit=1000).json()["items"]}
    assert holders == {E0.address}  # its assigned enterprise (it holds nothing itself)


# ---------------------------------------------------------------------- item 6: no role


PUBLIC = [
    ("/auth/me", {}),
    ("/enterprises", {}),
    ("/tokens", {}),
    (f"/tokens/{CO2_2024}", {}),
    ("/allocations", {}),
    ("/auctions", {}),
]
REFUSED = [
    ("/participants", {}),
    (f"/participants/{E0.address}", {}),
    ("/devices", {}),
    (f"/devices/{DEVICE.address}", {}),
    ("/proposals", {}),
    ("/holdings", {}),
    ("/transfers", {}),
    ("/attestations", {}),
    ("/compliance/years", {}),
    ("/compliance/notices", {}),
    ("/compliance/applications", {}),
    ("/batches", {}),
    ("/audit/events", {}),
    ("/audit/events.csv", {}),
    ("/stats", {"metric": "allocated"}),
    ("/stats/trend", {"metric": "allocated"}),
    ("/stats/holdings", {}),
]


@pytest.mark.parametrize(("path", "params"), PUBLIC, ids=[p for p, _ in PUBLIC])
def test_access_serves_the_public_subset_when_the_key_has_no_role(
    world: ApiWorld, get: Get, path: str, params: dict[str, Any]
) -> None:
    assert _status(get(world.c.outsider, path, **params)) == 200


@pytest.mark.parametrize(("path", "params"), REFUSED, ids=[p for p, _ in REFUSED])
def test_access_refuses_with_403_when_the_key_has_no_role(
    world: ApiWorld, get: Get, path: str, params: dict[str, Any]
) -> None:
    response = get(world.c.outsider, path, **params)
    assert _status(response) == 403, response.text


def test_access_lists_enterprise_names_and_regions_only_when_public(world: ApiWorld, get: Get) -> None:
    body = get(world.c.outsider, "/enterprises", limit=1000).json()
    rows = {item["address"]: item for item in body["items"]}
    assert set(rows) >= {e.address for e in ENTERPRISES}
    for e in ENTERPRISES:
        profile = world.c.registry.enterprise(e.address).profile
        assert rows[e.address] == {
            "address": e.address,
            "name": profile.name,
            "region_code": profile.region_code,
        }


def test_access_shows_device_mns_to_regulator_exchange_and_owner_only(world: ApiWorld, get: Get) -> None:
    for viewer in (world.c.regulator, world.c.exchange, E0):
        assert get(viewer, f"/devices/{DEVICE.address}").json()["mn"] == MN
        assert MN in {d["mn"] for d in get(viewer, "/devices", enterprise=E0.address).json()["items"]}
    seen = get(world.c.auditor, f"/devices/{DEVICE.address}").json()  # assigned to E0: the device, no MN
    assert seen["enterprise"] == E0.address and seen["mn"] is None
    assert _status(get(E1, f"/devices/{DEVICE.address}")) == 403
    assert all(d["enterprise"] == E1.address for d in get(E1, "/devices").json()["items"])
    for viewer, shown in ((world.c.regulator, MN), (world.c.auditor, None)):
        bound = get(viewer, "/audit/events", account=E0.address, name="DeviceBound").json()["items"]
        assert [i["args"]["mn"] for i in bound if i["args"]["device"] == DEVICE.address] == [shown]


# ---------------------------------------------------------------------- issue 18 item 5: one holdings rule


def _holdings(get: Get, who: LocalAccount, enterprise: str) -> tuple[int, dict[int, int] | None]:
    response = get(who, "/holdings", account=enterprise, kind="allowance", limit=1000)
    if response.status_code != 200:
        return response.status_code, None
    return 200, {h["token_id"]: h["balance"] for h in response.json()["items"] if h["balance"]}


def _stats_holdings(get: Get, who: LocalAccount, enterprise: str) -> tuple[int, dict[int, int] | None]:
    response = get(
        who, "/stats/holdings", group_by="token", enterprise=enterprise, kind="allowance", limit=1000
    )
    if response.status_code != 200:
        return response.status_code, None
    return 200, {r["token_id"]: r["balance"] for r in response.json()["rows"] if r["balance"]}


@pytest.fixture
def viewers(world: ApiWorld) -> Iterator[list[LocalAccount]]:
    yield [world.c.regulator, world.c.exchange, world.c.auditor, E0, E1, world.c.outsider]


def test_access_holdings_and_stats_holdings_agree_for_every_viewer_and_enterprise(
    world: ApiWorld, get: Get, viewers: list[LocalAccount]
) -> None:
    for viewer in viewers:
        for enterprise in ENTERPRISES:
            plain, stats = (
                _holdings(get, viewer, enterprise.address),
                _stats_holdings(get, viewer, enterprise.address),
            )
            assert plain == stats, (viewer.address, enterprise.address)
            privileged = viewer in (world.c.regulator, world.c.exchange)
            assigned = viewer is world.c.auditor and enterprise.address in AUDITOR_ASSIGNED
            expected = 200 if privileged or assigned or viewer is enterprise else 403
            assert plain[0] == expected, (viewer.address, enterprise.address, plain)
            if expected == 200:
                chain = {t: world.c.allowance.balance(enterprise.address, t) for t in (plain[1] or {})}
                assert plain[1] == chain and plain[1]
