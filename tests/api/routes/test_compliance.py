"""GET /compliance/* against the ComplianceManager on a real chain: years, notices and applications,
scoped per viewer (an enterprise its own, an auditor the enterprises it attested, the regulator and
exchange all)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from eth_account.signers.local import LocalAccount

from domain.compliance import OUTCOME_LETTERS
from tests.api.conftest import ApiWorld, Get
from tests.utils.compliance import (
    CO2,
    CO2_2024,
    CONFIG,
    DAY,
    ENTERPRISES,
    OFF_2024,
    RULES,
    RULES_URI,
    SO2_2024,
    YEAR,
    surrender,
)

E0, E1, E2, E3 = ENTERPRISES


@dataclass
class Applications:
    approved: int
    rejected: int


@pytest.fixture(scope="module")
def apps(world: ApiWorld) -> Applications:
    """E0 applies and is approved; E1 (attested too) applies and is rejected; E2 never
    acknowledges; then the deadline passes and every obligation is finalized."""
    c = world.c
    e0_attestation = c.ledger.latest_attestation(E0.address, CO2, YEAR)
    assert e0_attestation is not None
    e1_attestation = world.cycle.attest(E1.address, 700)
    for enterprise in (E0, E1):
        c.compliance.acknowledge(enterprise, CO2, YEAR)
    approved = c.compliance.apply(E0, CO2, YEAR, surrender(e0_attestation, {CO2_2024: 850}, {OFF_2024: 50}))
    c.compliance.approve(c.regulator, approved)
    rejected = c.compliance.apply(E1, CO2, YEAR, surrender(e1_attestation, {CO2_2024: 700}))
    c.compliance.reject(c.regulator, rejected, 4, "meter data incomplete")
    world.cycle.to_deadline_passed()
    for enterprise in (E0, E1, E2):
        if c.compliance.notice(enterprise.address, CO2, YEAR).finalized_at == 0:  # approval finalizes E0's
            c.compliance.finalize(c.regulator, enterprise.address, CO2, YEAR)
    world.index()
    return Applications(approved, rejected)


def _ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _enterprises(response: httpx.Response) -> list[str]:
    return [n["enterprise"] for n in _ok(response)["items"]]


# ---------------------------------------------------------------------- years


def test_years_equal_the_chain_config(world: ApiWorld, get: Get, apps: Applications) -> None:
    body = _ok(get(E3, "/compliance/years"))
    chain = world.c.compliance.year_config(YEAR)
    assert body["total"] == 1
    year = body["items"][0]
    assert (year["year"], year["offset_cap_bps"], year["make_good_bps"], year["fine_per_tonne"],
            year["no_report_fine"]) == (YEAR, chain.offset_cap_bps, chain.make_good_bps, chain.fine_per_tonne,
                                        chain.no_report_fine)  # fmt: skip
    assert chain == CONFIG
    assert get(E3, "/compliance/years", offset=1).status_code == 400


# ---------------------------------------------------------------------- notices


def test_notices_equal_the_chain_for_the_regulator(world: ApiWorld, get: Get, apps: Applications) -> None:
    body = _ok(get(world.c.regulator, "/compliance/notices"))
    assert sorted(n["enterprise"] for n in body["items"]) == sorted(e.address for e in (E0, E1, E2))
    for n in body["items"]:
        chain = world.c.compliance.notice(n["enterprise"], CO2, YEAR)
        assert (n["allocated"], n["submission_deadline"], n["ack_deadline"], n["rules_hash"], n["verified"],
                n["surrendered"], n["shortfall"], n["fine"], n["make_good"]) == (
            chain.allocated, chain.submission_deadline, chain.ack_deadline, "0x" + chain.rules_hash.hex(),
            chain.verified, chain.surrendered, chain.shortfall, chain.fine, chain.make_good,
        )  # fmt: skip
        assert n["outcome"] == OUTCOME_LETTERS[int(chain.outcome)]
        assert n["acknowledged"] is (chain.acknowledged_at != 0)
        if chain.acknowledged_at:
            assert n["acknowledged_time"] == chain.acknowledged_at
    assert _enterprises(get(world.c.exchange, "/compliance/notices")) == [
        n["enterprise"] for n in body["items"]
    ]


def test_notices_show_an_enterprise_only_its_own(get: Get, apps: Applications) -> None:
    assert _enterprises(get(E0, "/compliance/notices")) == [E0.address]
    assert _enterprises(get(E0, "/compliance/notices", enterprise=E0.address.lower())) == [E0.address]
    assert _enterprises(get(E3, "/compliance/notices")) == []


def test_notices_refuse_an_enterprise_reading_another_with_403(get: Get, apps: Applications) -> None:
    response = get(E0, "/compliance/notices", enterprise=E1.address)
    assert response.status_code == 403 and E1.address in response.json()["message"]


def test_notices_show_an_auditor_the_enterprises_it_attested(
    world: ApiWorld, get: Get, apps: Applications
) -> None:
    auditor = world.c.auditor
    assert sorted(_enterprises(get(auditor, "/compliance/notices"))) == sorted([E0.address, E1.address])
    assert _enterprises(get(auditor, "/compliance/notices", enterprise=E1.address)) == [E1.address]
    assert get(auditor, "/compliance/notices", enterprise=E2.address).status_code == 403


def test_notices_filter_by_outcome_acknowledged_and_year(
    world: ApiWorld, get: Get, apps: Applications
) -> None:
    reg = world.c.regulator
    letters = {e.address: OUTCOME_LETTERS[int(world.c.compliance.notice(e.address, CO2, YEAR).outcome)]
               for e in (E0, E1, E2)}  # fmt: skip
    assert letters[E0.address] == "A"
    for letter in "ABC":
        expected = sorted(a for a, got in letters.items() if got == letter)
        assert sorted(_enterprises(get(reg, "/compliance/notices", outcome=letter))) == expected, letter
    assert _enterprises(get(reg, "/compliance/notices", acknowledged=False)) == [E2.address]
    assert sorted(_enterprises(get(reg, "/compliance/notices", acknowledged=True))) == sorted(
        [E0.address, E1.address]
    )
    assert _enterprises(get(reg, "/compliance/notices", year=YEAR - 1)) == []
    assert get(reg, "/compliance/notices", outcome="D").status_code == 422


def test_notices_paginate_and_refuse_an_offset_past_the_end(
    world: ApiWorld, get: Get, apps: Applications
) -> None:
    whole = _ok(get(world.c.regulator, "/compliance/notices"))["items"]
    assert _ok(get(world.c.regulator, "/compliance/notices", limit=1, offset=2))["items"] == whole[2:]
    response = get(world.c.regulator, "/compliance/notices", offset=3)
    assert response.status_code == 400 and "past the end" in response.json()["message"]


# ---------------------------------------------------------------------- applications


def test_applications_equal_the_chain_for_the_regulator(
    world: ApiWorld, get: Get, apps: Applications
) -> None:
    body = _ok(get(world.c.regulator, "/compliance/applications"))
    assert [a["application_id"] for a in body["items"]] == [apps.rejected, apps.approved]
    for a in body["items"]:
        chain = world.c.compliance.application(a["application_id"])
        assert (a["enterprise"], a["year"], a["verified"], a["offsets"], a["allowances"]) == (
            chain.enterprise, chain.year, chain.verified, chain.offsets, chain.allowances,
        )  # fmt: skip
        assert (a["attestation_id"], a["status"]) == (
            "0x" + chain.attestation_id.hex(),
            chain.status.name.lower(),
        )
    rejected = _ok(get(world.c.regulator, f"/compliance/applications/{apps.rejected}"))
    assert (rejected["reason_code"], rejected["reason"]) == (4, "meter data incomplete")
    approved = _ok(get(E0, f"/compliance/applications/{apps.approved}"))
    assert approved["surrendered"] == 900 and approved["surrender"]["allowanceIds"] == [CO2_2024]


def test_applications_scope_and_filters(world: ApiWorld, get: Get, apps: Applications) -> None:
    def ids(who: LocalAccount, **params: Any) -> list[int]:
        return [a["application_id"] for a in _ok(get(who, "/compliance/applications", **params))["items"]]

    assert ids(E0) == [apps.approved]
    assert ids(E1) == [apps.rejected]
    assert ids(E2) == []
    assert ids(world.c.auditor) == [apps.rejected, apps.approved]
    assert ids(world.c.regulator, status="approved") == [apps.approved]
    assert ids(world.c.regulator, enterprise=E1.address) == [apps.rejected]
    assert ids(world.c.regulator, year=YEAR + 1) == []
    assert get(E0, "/compliance/applications", enterprise=E1.address).status_code == 403
    assert get(E0, "/compliance/applications", status="pending").status_code == 422


def test_application_get_refuses_others_with_403_and_unknown_with_404(
    world: ApiWorld, get: Get, apps: Applications
) -> None:
    response = get(E0, f"/compliance/applications/{apps.rejected}")
    assert response.status_code == 403 and str(apps.rejected) in response.json()["message"]
    assert get(E3, f"/compliance/applications/{apps.approved}").status_code == 403
    assert get(world.c.auditor, f"/compliance/applications/{apps.approved}").status_code == 200
    response = get(world.c.regulator, "/compliance/applications/999")
    assert response.status_code == 404 and "999" in response.json()["message"]
    assert get(world.c.regulator, "/compliance/applications/x").status_code == 422
    assert get(world.c.regulator, "/compliance/applications", offset=2).status_code == 400


def test_compliance_refuses_unauthenticated_requests_with_401(world: ApiWorld, apps: Applications) -> None:
    for path in ("/compliance/years", "/compliance/notices", "/compliance/applications",
                 f"/compliance/applications/{apps.approved}"):  # fmt: skip
        assert world.client.get(path).status_code == 401, path


def test_notices_and_applications_of_two_pollutants_of_one_year_by_pollutant(
    world: ApiWorld, get: Get, apps: Applications
) -> None:
    """E0 owes SO2 too in the same year (run last: it adds an obligation to the module's world)."""
    c, so2 = world.c, 2
    now = c.chain.timestamp()
    c.compliance.issue_notices(
        c.regulator, YEAR, so2, [(E0.address, 50)], rules_hash=RULES, rules_uri=RULES_URI,
        submission_deadline=now + 30 * DAY, ack_deadline=now + 7 * DAY,
    )  # fmt: skip
    c.compliance.acknowledge(E0, so2, YEAR)
    attestation = world.cycle.attest(E0.address, 40, pollutant=so2)
    application = c.compliance.apply(E0, so2, YEAR, surrender(attestation, {SO2_2024: 40}))
    c.compliance.approve(c.regulator, application)
    world.index()
    mine = _ok(get(E0, "/compliance/notices"))["items"]
    assert [(n["enterprise"], n["year"], n["pollutant"]) for n in mine] == [
        (E0.address, YEAR, CO2),
        (E0.address, YEAR, so2),
    ]
    only = _ok(get(c.regulator, "/compliance/notices", pollutant=so2))["items"]
    assert [(n["enterprise"], n["acknowledged"], n["outcome"], n["surrendered"]) for n in only] == [
        (E0.address, True, "A", 40)
    ]
    co2 = _ok(get(c.regulator, "/compliance/notices", enterprise=E0.address, pollutant=CO2))["items"]
    assert [n["outcome"] for n in co2] == [
        OUTCOME_LETTERS[int(c.compliance.notice(E0.address, CO2, YEAR).outcome)]
    ]
    by_pollutant = _ok(get(E0, "/compliance/applications", pollutant=so2))["items"]
    assert [(a["application_id"], a["pollutant"], a["status"]) for a in by_pollutant] == [
        (application, so2, "approved")
    ]
    assert [a["pollutant"] for a in _ok(get(E0, "/compliance/applications", pollutant=CO2))["items"]] == [CO2]
    assert get(E0, "/compliance/notices", pollutant=0).status_code == 422
    rate = _ok(get(c.regulator, "/stats", metric="obligations", grain="year", group_by="time", pollutant=so2))
    assert [(r["period"], r["value"]) for r in rate["rows"]] == [(str(YEAR), 1.0)]  # one SO2 obligation
    rate = _ok(
        get(c.regulator, "/stats", metric="compliance_rate", grain="year", group_by="time", pollutant=so2)
    )
    assert [r["value"] for r in rate["rows"]] == [1.0]
    every = _ok(get(c.regulator, "/stats", metric="obligations", grain="year", group_by="time"))
    assert [r["value"] for r in every["rows"]] == [4.0]  # E0..E2's CO2 and E0's SO2
