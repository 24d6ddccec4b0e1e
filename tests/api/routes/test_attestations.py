"""GET /attestations against the EmissionsLedger on a real chain, scoped per viewer: the regulator
and exchange see all, an auditor what it made, an enterprise what is about it."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
import pytest

from chain.accounts import dev_account
from chain.attestations import AttestationStatus
from tests.api.conftest import ApiWorld, Get
from tests.utils.attestations import attestation
from tests.utils.compliance import CO2, ENTERPRISES, YEAR

E0, E1, E2, E3 = ENTERPRISES
AUDITOR2 = dev_account(33)
SO2 = 2


@dataclass
class Attested:
    e0_first: str
    e0_second: str
    e1_so2: str
    e2_revoked: str

    @property
    def all(self) -> set[str]:
        return {self.e0_first, self.e0_second, self.e1_so2, self.e2_revoked}


@pytest.fixture(scope="module")
def attested(world: ApiWorld) -> Attested:
    """E0's first attestation superseded by a second, E1's SO2 one (auditor 1), E2's revoked one
    (auditor 2)."""
    c = world.c
    first = c.ledger.latest_attestation(E0.address, CO2, YEAR)
    assert first is not None
    second = world.cycle.attest(E0.address, 950, 40)
    so2 = world.cycle.attest(E1.address, 500, 0, pollutant=SO2)
    c.registry.grant_roles(c.members, [("AUDITOR", AUDITOR2.address)], "second auditor")
    c.registry.assign_auditor(c.regulator, AUDITOR2.address, E2.address)
    draft = attestation(AUDITOR2.address, E2.address, nonce=c.ledger.nonce(AUDITOR2.address),
                        verified_emissions=800, offsets_eligible=0)  # fmt: skip
    revoked = c.ledger.attest(AUDITOR2, draft).id
    c.ledger.revoke_attestation(AUDITOR2, revoked, 3, "wrong meter")
    world.index()
    return Attested(*("0x" + i.hex() for i in (first, second, so2, revoked)))


def _ids(response: httpx.Response) -> set[str]:
    assert response.status_code == 200, response.text
    return {a["attestation_id"] for a in response.json()["items"]}


STATUS = {s: s.name.lower() for s in AttestationStatus}


def test_attestations_equal_the_ledger_for_the_regulator(
    world: ApiWorld, get: Get, attested: Attested
) -> None:
    body = get(world.c.regulator, "/attestations").json()
    assert {a["attestation_id"] for a in body["items"]} == attested.all and body["total"] == 4
    for item in body["items"]:
        chain = world.c.ledger.attestation(item["attestation_id"])
        assert (item["auditor"], item["enterprise"], item["pollutant"], item["year"], item["verified"],
                item["offsets_eligible"], item["status"], item["report_hash"]) == (
            chain.auditor, chain.enterprise, chain.pollutant, chain.year, chain.verified_emissions,
            chain.offsets_eligible, STATUS[chain.status], "0x" + chain.report_hash.hex(),
        )  # fmt: skip
    assert _ids(get(world.c.exchange, "/attestations")) == attested.all


def test_attestations_show_an_auditor_only_what_it_made(
    world: ApiWorld, get: Get, attested: Attested
) -> None:
    assert _ids(get(world.c.auditor, "/attestations")) == attested.all - {attested.e2_revoked}
    assert _ids(get(AUDITOR2, "/attestations")) == {attested.e2_revoked}
    assert _ids(get(AUDITOR2, "/attestations", enterprise=E0.address)) == set()


def test_attestations_show_an_enterprise_only_those_about_it(
    world: ApiWorld, get: Get, attested: Attested
) -> None:
    assert _ids(get(E0, "/attestations")) == {attested.e0_first, attested.e0_second}
    assert _ids(get(E0, "/attestations", auditor=world.c.auditor.address)) == {
        attested.e0_first,
        attested.e0_second,
    }
    assert _ids(get(E3, "/attestations")) == set()


def test_attestations_refuse_an_enterprise_naming_another_with_403(get: Get, attested: Attested) -> None:
    response = get(E0, "/attestations", enterprise=E1.address)
    assert response.status_code == 403 and E1.address in response.json()["message"]


def test_attestations_filter_by_status_pollutant_year_and_enterprise(
    world: ApiWorld, get: Get, attested: Attested
) -> None:
    reg = world.c.regulator
    assert _ids(get(reg, "/attestations", status="superseded")) == {attested.e0_first}
    assert _ids(get(reg, "/attestations", status="revoked")) == {attested.e2_revoked}
    assert _ids(get(reg, "/attestations", pollutant="SO2")) == {attested.e1_so2}
    assert _ids(get(reg, "/attestations", year=YEAR - 1)) == set()
    assert _ids(get(reg, "/attestations", enterprise=E0.address, status="active")) == {attested.e0_second}
    revoked = get(reg, f"/attestations/{attested.e2_revoked}").json()
    assert (revoked["reason_code"], revoked["reason"]) == (3, "wrong meter")
    assert get(reg, f"/attestations/{attested.e0_second}").json()["supersedes"] == attested.e0_first


def test_attestation_get_for_its_auditor_and_enterprise_else_403(
    world: ApiWorld, get: Get, attested: Attested
) -> None:
    path = f"/attestations/{attested.e0_second}"
    for viewer in (E0, world.c.auditor, world.c.regulator):
        body = get(viewer, path).json()
        assert body["attestation_id"] == attested.e0_second and body["pollutant_symbol"] == "CO2"
    for viewer in (E1, AUDITOR2):
        response = get(viewer, path)
        assert response.status_code == 403 and attested.e0_second in response.json()["message"]
    assert get(E0, "/attestations/0x" + attested.e0_second[2:].upper()).status_code == 200


def test_attestation_get_refuses_unknown_ids_with_404_and_malformed_with_422(
    get: Get, attested: Attested
) -> None:
    unknown = "0x" + "ab" * 32
    response = get(E0, f"/attestations/{unknown}")
    assert response.status_code == 404 and unknown in response.json()["message"]
    for bad in ("0x1234", "abc", "0x" + "zz" * 32):
        assert get(E0, f"/attestations/{bad}").status_code == 422, bad
    for params in ({"status": "maybe"}, {"pollutant": "H2O"}, {"auditor": "0x00"}, {"year": -1}):
        assert get(E0, "/attestations", **params).status_code == 422, params


def test_attestations_paginate_and_refuse_an_offset_past_the_end(
    world: ApiWorld, get: Get, attested: Attested
) -> None:
    whole = get(world.c.regulator, "/attestations").json()["items"]
    page = get(world.c.regulator, "/attestations", limit=2, offset=1).json()
    assert page["items"] == whole[1:3] and page["total"] == 4
    assert get(world.c.regulator, "/attestations", offset=4).status_code == 400


def test_attestations_refuse_unauthenticated_requests_with_401(world: ApiWorld, attested: Attested) -> None:
    assert world.client.get("/attestations").status_code == 401
    assert world.client.get(f"/attestations/{attested.e0_first}").status_code == 401
