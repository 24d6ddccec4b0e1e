"""The dashboard's routes and queries without a browser."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import time
from dataclasses import asdict
from pathlib import Path

import httpx
import pytest

from api.dashboard import STATIC_DIR
from api.dashboard.queries import NEAR_SHARE, outlook, report_file, status_of
from api.dashboard.routes import default_reports_dir
from api.errors import NotFoundError
from chain.accounts import demo_account, dev_account
from chain.production import gather_production
from chain.siwe import wallet_sign_in
from demo.settlement import totals_by_type
from domain.auction import clear, normalize_schedule
from tests.dashboard.conftest import CLOSED_YEAR, SO2, DashWorld
from tests.utils.compliance import CO2_2024, ENTERPRISES, YEAR


def session(dash: DashWorld, account: object) -> dict[str, str]:
    with httpx.Client(base_url=dash.base, timeout=30) as client:
        return {"Authorization": f"Bearer {wallet_sign_in(client.post, account)}"}  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("quota", "used", "expected"),
    [
        (1000, 0, "within"),
        (1000, 1000 * NEAR_SHARE - 1, "within"),
        (1000, 1000 * NEAR_SHARE, "near"),
        (1000, 1000, "near"),
        (1000, 1000.5, "over"),
        (0, 0, "none"),
        (0, 5, "over"),
    ],
)
def test_status_of_classifies_share_of_quota_when_given(quota: float, used: float, expected: str) -> None:
    assert status_of(quota, used) == expected


def test_outlook_projects_trend_less_reduction_when_two_years_or_more() -> None:
    found = outlook({2020: 100.0, 2021: 110.0, 2022: 120.0}, reduction_rate=0.1)
    assert found is not None
    assert found.target_year == 2023 and found.projected == pytest.approx(130.0)
    assert found.proposed_cap == 117  # floor(130 × 0.9)
    assert outlook({2022: 120.0}) is None


def test_overview_reports_world_when_regulator(dash: DashWorld) -> None:
    response = httpx.get(f"{dash.base}/dashboard/api/overview", headers=session(dash, dash.c.regulator))
    assert response.status_code == 200
    body = response.json()
    assert body["year"] == 2024 and body["pollutant"] == 1
    by_address = {e["address"]: e for e in body["enterprises"]}
    e0 = by_address[ENTERPRISES[0].address]
    assert (e0["quota"], e0["used"], e0["verified"], e0["status"]) == (1000, 900, True, "near")
    assert body["counts"]["near"] >= 1
    co2_2024 = next(r for r in body["supply"] if r["vintage"] == 2024 and r["kind"] == "allowance")
    assert co2_2024["issued"] == co2_2024["held"] + co2_2024["retired"]
    assert body["compliance"]["notices"] == 3
    assert any(a["kind"] == "quota" and a["subject"] == ENTERPRISES[0].address for a in body["alarms"])


def overview_of(dash: DashWorld, **params: int) -> dict:  # type: ignore[type-arg]
    response = httpx.get(f"{dash.base}/dashboard/api/overview", params=params,
                         headers=session(dash, dash.c.regulator))  # fmt: skip
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def test_overview_compliance_rate_equals_contract_when_outcome_c_present(dash: DashWorld) -> None:
    # CLOSED_YEAR: E0 covered (A), E3 short (B), E1 and E2 without verified emissions (C)
    body = overview_of(dash, pollutant=SO2, year=CLOSED_YEAR)
    stats = dash.c.compliance.year_stats(CLOSED_YEAR)
    bps = dash.c.compliance.compliance_rate_bps(CLOSED_YEAR)
    assert bps == 2_500
    shown = body["compliance"]
    assert shown["rate_bps"] == bps and shown["rate"] == bps / 10_000
    assert (shown["notices"], shown["finalized"]) == (stats.notices, stats.finalized) == (4, 4)
    assert (shown["compliant"], shown["shortfall"], shown["no_verified"]) == (
        stats.covered, stats.shortfall, stats.no_verified_emissions,
    ) == (1, 1, 2)  # fmt: skip
    # the statistics route counts the same compliant obligations
    stats_route = httpx.get(
        f"{dash.base}/stats", headers=session(dash, dash.c.regulator),
        params={"metric": "compliant", "grain": "year", "pollutant": SO2, "from_period": str(CLOSED_YEAR),
                "to_period": str(CLOSED_YEAR)},
    )  # fmt: skip
    assert stats_route.status_code == 200, stats_route.text
    assert sum(r["value"] for r in stats_route.json()["rows"]) == shown["compliant"]


def test_overview_lists_applications_of_pollutant_and_year_only_when_filtered(dash: DashWorld) -> None:
    co2 = overview_of(dash, pollutant=1, year=YEAR)
    so2 = overview_of(dash, pollutant=SO2, year=YEAR)
    closed = overview_of(dash, pollutant=SO2, year=CLOSED_YEAR)
    ids = {name: [a["application_id"] for a in body["applications"]]
           for name, body in (("co2", co2), ("so2", so2), ("closed", closed))}  # fmt: skip
    assert ids["co2"] == [dash.application_id]
    assert ids["so2"] == [dash.so2_application]
    assert sorted(ids["closed"]) == sorted(dash.closed)
    assert {a["status"] for a in closed["applications"]} == {"approved"}
    # the counters follow the same filter: each application once, under its notice's pollutant
    for body, on_chain in ((co2, 1), (so2, 1), (closed, 2)):
        assert body["compliance"]["applications"] == len(body["applications"]) == on_chain
    assert so2["compliance"]["pending"] == 1 and so2["compliance"]["notices"] == 1


def test_overview_quota_and_trend_by_vintage_when_allocated_in_later_year(dash: DashWorld) -> None:
    # every id was allocated at set-up, in the chain's calendar year, not in its vintage's
    allocated_in = time.gmtime(dash.c.chain.timestamp()).tm_year
    assert allocated_in != YEAR
    body = overview_of(dash, pollutant=1, year=YEAR)
    e3 = ENTERPRISES[3]  # no CO2 notice this year: its quota is its vintage-YEAR allocation
    point = next(e for e in body["enterprises"] if e["address"] == e3.address)
    balance = dash.c.allowance.balance(e3.address, CO2_2024)
    assert (point["quota"], point["used"], point["status"]) == (balance, 0, "within") == (1000, 0, "within")
    trend = {p["year"]: p for p in body["trend"]}
    assert trend[YEAR]["allocated"] == dash.c.allowance.issued(CO2_2024)
    assert trend[YEAR]["cap"] == dash.c.allowance.cap(CO2_2024)
    assert trend.get(allocated_in, {}).get("allocated") is None


def test_overview_refused_when_enterprise(dash: DashWorld) -> None:
    response = httpx.get(f"{dash.base}/dashboard/api/overview", headers=session(dash, ENTERPRISES[3]))
    assert response.status_code == 403
    assert response.json()["error"] == "ForbiddenError"


def test_clearing_matches_reference_when_reveal_phase_over(dash: DashWorld) -> None:
    response = httpx.get(
        f"{dash.base}/dashboard/api/auctions/{dash.cleared_auction}/clearing",
        headers=session(dash, dash.c.exchange),
    )
    body = response.json()
    expected = clear(500, 1_000, [(ENTERPRISES[2].address, normalize_schedule([(2_500, 300), (1_800, 400)]))])
    assert body["sealed"] is False
    assert body["claim"] == {"price": expected.claim.price, "demandAbove": expected.claim.demand_above,
                             "demandAt": expected.claim.demand_at}  # fmt: skip
    assert body["curve"] == [{"price": 2_500, "quantity": 300}, {"price": 1_800, "quantity": 700}]
    assert body["allocations"] == {ENTERPRISES[2].address: 500}


def test_config_lists_demo_keys_only_when_demo_mode(dash: DashWorld) -> None:
    app = dash.app
    body = httpx.get(f"{dash.base}/dashboard/api/config").json()
    regulator = next(a for a in body["accounts"] if a["name"] == "regulator")
    assert regulator["address"] == demo_account("regulator").address and "REGULATOR" in regulator["roles"]
    assert body["contracts"]["ComplianceManager"] == dash.c.compliance.address
    app.state.dashboard_demo = False
    try:
        body = httpx.get(f"{dash.base}/dashboard/api/config").json()
        assert body["demo"] is False and body["accounts"] == []
    finally:
        app.state.dashboard_demo = True


def test_static_files_served_gzipped_when_client_accepts(dash: DashWorld) -> None:
    response = httpx.get(f"{dash.base}/dashboard/vendor/echarts.min.js", headers={"Accept-Encoding": "gzip"})
    assert response.status_code == 200 and response.headers["content-encoding"] == "gzip"
    assert httpx.get(f"{dash.base}/", follow_redirects=False).headers["location"] == "/dashboard/"


def test_i18n_files_cover_every_label_when_loaded() -> None:
    en = json.loads((STATIC_DIR / "i18n" / "en.json").read_text(encoding="utf-8"))
    zh = json.loads((STATIC_DIR / "i18n" / "zh.json").read_text(encoding="utf-8"))
    assert set(en) == set(zh)
    used: set[str] = set()
    for path in [*STATIC_DIR.glob("*.js"), *STATIC_DIR.glob("views/*.js")]:
        used |= set(re.findall(r"\bt\('([^']+)'", path.read_text(encoding="utf-8")))
    used |= set(re.findall(r'data-i18n="([^"]+)"', (STATIC_DIR / "index.html").read_text(encoding="utf-8")))
    assert used - set(en) == set()
    # counted labels (`tn`): every language has its "other" form, English its "one" too
    counted: set[str] = set()
    for path in [*STATIC_DIR.glob("*.js"), *STATIC_DIR.glob("views/*.js")]:
        counted |= set(re.findall(r"\btn\('([^']+)'", path.read_text(encoding="utf-8")))
    assert counted and {f"{k}.other" for k in counted} | {f"{k}.one" for k in counted} <= set(en)


# ---------------------------------------------------------------------- settlement reports


def reports_url(dash: DashWorld, *parts: str) -> str:
    return "/".join([f"{dash.base}/dashboard/api/settlement/days", *parts])


def test_settlement_days_list_settled_day_when_exchange_or_regulator(dash: DashWorld) -> None:
    for account in (dash.c.exchange, dash.c.regulator):
        response = httpx.get(reports_url(dash), headers=session(dash, account))
        assert response.status_code == 200
        assert response.json()["items"] == [
            {"day": dash.settled_day.isoformat(), "balanced": True, "differences": 0,
             "movements": dash.settlement.settlement.movements},
        ]  # fmt: skip


def test_settlement_routes_refused_when_enterprise_or_auditor(dash: DashWorld) -> None:
    day = dash.settled_day.isoformat()
    for account in (ENTERPRISES[0], dash.c.auditor):
        headers = session(dash, account)
        urls = (reports_url(dash), reports_url(dash, day), reports_url(dash, day, "files", "manifest.json"))
        for url in urls:
            response = httpx.get(url, headers=headers)
            assert response.status_code == 403, url
            assert response.json()["error"] == "ForbiddenError"
    assert httpx.get(reports_url(dash)).status_code == 401


def test_settlement_report_matches_run_and_anchor_when_day_settled(dash: DashWorld) -> None:
    result = dash.settlement
    day = dash.settled_day.isoformat()
    headers = session(dash, dash.c.regulator)
    body = httpx.get(reports_url(dash, day), headers=headers).json()
    assert body["day"] == day and body["balanced"] is True
    assert (body["first_block"], body["last_block"]) == (result.settlement.bounds.first_block,
                                                         result.settlement.bounds.last_block)  # fmt: skip
    assert body["totals"] == [asdict(t) for t in totals_by_type(result)]
    assert {t["movement"] for t in body["totals"]} >= {"allocation", "transfer", "deposit"}
    assert body["reconciliation"]["checked"] == result.reconciliation.checked
    assert body["reconciliation"]["rows"] == [] and body["reconciliation"]["differences"] == 0
    anchor = body["anchor"]
    report_hash = "0x" + result.bundle.report_hash.hex()
    expected = {"report_hash": report_hash, "anchored_hash": report_hash, "anchored": True,
                "signer": dash.c.exchange.address, "altered_files": [], "verified": True}  # fmt: skip
    assert anchor == anchor | expected
    files = {f["name"]: f for f in body["files"]}
    assert list(files) == [*sorted(result.bundle.files), "manifest.json"]
    assert all(f["matches"] for f in files.values())
    pdf = files[f"settlement-{result.settlement.bounds.code}.pdf"]
    response = httpx.get(f"{dash.base}{pdf['url']}", headers=headers)
    assert response.status_code == 200 and response.headers["content-type"] == "application/pdf"
    assert response.content == (result.bundle.directory / pdf["name"]).read_bytes()
    assert hashlib.sha256(response.content).hexdigest() == pdf["sha256"]
    manifest = httpx.get(f"{dash.base}{files['manifest.json']['url']}", headers=headers)
    assert hashlib.sha256(manifest.content).hexdigest() == result.bundle.report_hash.hex()


def test_settlement_report_not_found_when_day_unknown(dash: DashWorld) -> None:
    headers = session(dash, dash.c.exchange)
    response = httpx.get(reports_url(dash, "2001-01-02"), headers=headers)
    assert response.status_code == 404 and response.json()["error"] == "NotFoundError"
    response = httpx.get(reports_url(dash, "2001-01-02", "files", "manifest.json"), headers=headers)
    assert response.status_code == 404
    assert httpx.get(reports_url(dash, "not-a-day"), headers=headers).status_code == 422


def test_settlement_file_not_found_when_name_unknown_or_outside_day(dash: DashWorld) -> None:
    headers = session(dash, dash.c.exchange)
    day = dash.settled_day.isoformat()
    (dash.reports / "secret.txt").write_text("not a report file")
    (dash.reports / day / "unlisted.csv").write_text("a,b\n")
    try:
        # (a bare ".." segment is resolved by the client, RFC 3986: encoded, it reaches the server)
        names = ("unlisted.csv", "nope.pdf", "%2E", "%2E%2E", "..%2Fsecret.txt", "%2E%2E%2Fsecret.txt",
                 "..%5Csecret.txt", "%2Fetc%2Fpasswd", "manifest.json%00", ".manifest.json")  # fmt: skip
        for name in names:
            url = httpx.URL(reports_url(dash, day, "files", "x")).copy_with(
                raw_path=f"/dashboard/api/settlement/days/{day}/files/{name}".encode()
            )
            response = httpx.get(url, headers=headers)
            assert response.status_code == 404, (name, response.status_code, response.text[:200])
    finally:
        (dash.reports / "secret.txt").unlink()
        (dash.reports / day / "unlisted.csv").unlink()


def test_settlement_report_not_verified_when_file_tampered(dash: DashWorld, tmp_path: Path) -> None:
    day = dash.settled_day.isoformat()
    code = dash.settlement.settlement.bounds.code
    copy = tmp_path / "reports"
    shutil.copytree(dash.reports / day, copy / day)
    headers = session(dash, dash.c.exchange)
    app = dash.app
    app.state.dashboard_reports_dir = copy
    try:
        movements = copy / day / f"movements-{code}.csv"
        movements.write_text(movements.read_text().replace(",transfer", ",allocation", 1))
        body = httpx.get(reports_url(dash, day), headers=headers).json()
        anchor = body["anchor"]
        assert anchor["verified"] is False and anchor["altered_files"] == [movements.name]
        assert anchor["anchored"] is True and anchor["report_hash"] == anchor["anchored_hash"]
        assert [f["name"] for f in body["files"] if not f["matches"]] == [movements.name]
        # a manifest changed to name a file outside the day: its hash no longer is the anchored one,
        # and the name is not served
        (copy / "secret.txt").write_text("outside the day")
        manifest = json.loads((copy / day / "manifest.json").read_text())
        manifest["files"]["../secret.txt"] = hashlib.sha256(b"outside the day").hexdigest()
        (copy / day / "manifest.json").write_text(json.dumps(manifest))
        body = httpx.get(reports_url(dash, day), headers=headers).json()
        anchor = body["anchor"]
        assert anchor["verified"] is False and anchor["report_hash"] != anchor["anchored_hash"]
        assert "../secret.txt" in anchor["altered_files"]
        url = httpx.URL(reports_url(dash, day)).copy_with(
            raw_path=f"/dashboard/api/settlement/days/{day}/files/..%2Fsecret.txt".encode()
        )
        assert httpx.get(url, headers=headers).status_code == 404
        with pytest.raises(NotFoundError):
            report_file(copy, dash.settled_day, "../secret.txt")
    finally:
        app.state.dashboard_reports_dir = dash.reports


def test_reports_dir_follows_settings_else_state_dir_when_unset(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("ETS_SETTLE_REPORTS_DIR", raising=False)
    monkeypatch.setenv("ETS_STATE_DIR", str(tmp_path / "state"))
    assert default_reports_dir() == tmp_path / "state" / "settlement"  # where `ets demo` writes them
    monkeypatch.setenv("ETS_SETTLE_REPORTS_DIR", str(tmp_path / "reports"))
    assert default_reports_dir() == tmp_path / "reports"


# ---------------------------------------------------------------------- production report


def production_of(dash: DashWorld, viewer: object, enterprise: str, **params: str | int) -> httpx.Response:
    return httpx.get(f"{dash.base}/production/{enterprise}", params={"year": YEAR, **params},
                     headers=session(dash, viewer), timeout=30)  # fmt: skip


def test_production_report_equals_chain_report_when_enterprise_reads_its_own(dash: DashWorld) -> None:
    e0 = ENTERPRISES[0].address
    response = production_of(dash, ENTERPRISES[0], e0, by="month")
    assert response.status_code == 200, response.text
    body = response.json()
    # the CLI's report (`ets report production`), read from the EmissionsLedger's events and attestations
    on_chain = gather_production(dash.c.ledger, e0, YEAR, by="month").to_json()
    assert body["periods"] == on_chain["periods"]
    year_row = body["periods"][-1]
    co2 = next(p for p in year_row["pollutants"] if p["pollutant"] == "CO2")
    attestation = dash.c.ledger.attestation(dash.latest_attestation(e0))
    assert (co2["metered_t"], co2["verified_t"]) == (150.0, attestation.verified_emissions) == (150.0, 900)
    months = {p["month"]: p for p in body["periods"] if p["month"] is not None}
    assert [p["metered_t"] for p in months[5]["pollutants"]] == [60.0]
    assert months[1]["pollutants"] == [] and months[1]["energy"] is None


def test_production_report_scoped_when_other_roles_ask(dash: DashWorld) -> None:
    e0, e3 = ENTERPRISES[0].address, ENTERPRISES[3].address
    for viewer in (dash.c.regulator, dash.c.exchange, dash.c.auditor):
        assert production_of(dash, viewer, e0).status_code == 200
    refused = production_of(dash, ENTERPRISES[1], e0)
    assert refused.status_code == 403 and refused.json()["error"] == "ForbiddenError"
    nobody = production_of(dash, dev_account(25), e0)  # a key with no role
    assert nobody.status_code == 403
    # an auditor the regulator has not assigned to the enterprise
    dash.c.registry.unassign_auditor(dash.c.regulator, dash.c.auditor.address, e3)
    try:
        dash.wait_indexed()
        assert production_of(dash, dash.c.auditor, e3).status_code == 403
    finally:
        dash.c.registry.assign_auditor(dash.c.regulator, dash.c.auditor.address, e3)
        dash.wait_indexed()
    assert production_of(dash, dash.c.auditor, e3).status_code == 200
    unknown = production_of(dash, dash.c.regulator, "0x" + "12" * 20)
    assert unknown.status_code == 404
