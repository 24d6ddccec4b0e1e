"""The regulator view's plans panel in chromium: the plans listed with kind and status, the
adopted annual plan's caps and its progress chart shown, another plan shown when clicked."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import delete, insert

from readmodel import models as m
from tests.dashboard.conftest import DashWorld, Tab, sign_in

FIVE = {
    "pollutants": [
        {
            "pollutant": 2,
            "base_emissions": 10_000,
            "target_bps": 1_600,
            "path": [10_000, 9_600, 9_200, 8_800, 8_400],
        }
    ],
    "regions": [{"region": 331000, "share_bps": 6_000}, {"region": 330100, "share_bps": 4_000}],
}
ANNUAL = {
    "caps": [
        {"pollutant": 2, "region": 331000, "cap": 5_600, "reserve_share_bps": 1_000, "guide_price": 2_500},
        {"pollutant": 2, "region": 330100, "cap": 4_000, "reserve_share_bps": 1_000, "guide_price": 2_500},
    ],
    "targets": [],
}


@pytest.fixture
def plans(dash: DashWorld) -> Iterator[None]:
    """Two plans in the read model as the indexer writes them (removed afterwards)."""
    common = {
        "status": "adopted",
        "version": 1,
        "document_hash": "0x" + "11" * 32,
        "uri": "",
        "drafted_time": 1,
        "adopted_time": 2,
    }
    with dash.ctx.engine.begin() as conn:
        conn.execute(
            insert(m.Plan).values(
                plan_id=9001,
                kind="five_year",
                start_year=2026,
                end_year=2030,
                base_year=2025,
                content=FIVE,
                **common,
            )
        )
        conn.execute(
            insert(m.Plan).values(
                plan_id=9002,
                kind="annual",
                start_year=2027,
                end_year=2027,
                five_year_plan_id=9001,
                content=ANNUAL,
                **common,
            )
        )
    try:
        yield
    finally:
        with dash.ctx.engine.begin() as conn:
            conn.execute(delete(m.Plan).where(m.Plan.plan_id.in_([9001, 9002])))


def test_regulator_plans_panel_lists_plans_and_draws_progress(
    dash: DashWorld, plans: None, open_tab: Callable[..., Tab]
) -> None:
    tab = open_tab()
    page = sign_in(tab, dash.base, dash.c.regulator, "regulator")
    page.wait_for_selector('[data-view="regulator"][data-overview-ready="1"]')
    page.wait_for_selector("#plans")
    listed = page.inner_text("#plans")
    assert "Five-year plan" in listed and "Annual plan" in listed and "2026–2030" in listed
    page.wait_for_selector("#plan-caps")
    assert "5,600" in page.inner_text("#plan-caps") and "331000" in page.inner_text("#plan-caps")
    page.wait_for_function("echarts.getInstanceByDom(document.getElementById('plan-progress')) !== undefined")
    page.click('#plans tr[data-plan="9001"]')
    page.wait_for_selector("#plan-paths")
    assert "10,000 → 9,600" in page.inner_text("#plan-paths")
