"""The dashboard's routes and queries without a browser."""

from __future__ import annotations

import json
import re

import httpx
import pytest

from api.dashboard import STATIC_DIR
from api.dashboard.queries import NEAR_SHARE, outlook, status_of
from chain.accounts import demo_account
from chain.auction import clear, normalize_schedule
from chain.siwe import wallet_sign_in
from tests.dashboard.conftest import DashWorld
from tests.utils.compliance import ENTERPRISES


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
