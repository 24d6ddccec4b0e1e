"""The regulator view's plans panel in chromium: the plans listed with kind and status, the
adopted annual plan's caps and its progress chart shown, another plan shown when clicked; the
progress table's figures (path, annual cap, reserve, metered, verified) equal the read model's."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import delete, insert
from sqlalchemy.orm import Session

from readmodel import models as m
from readmodel.emissions import ProgressFigures, plan_progress
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
#: An enterprise of the fixture (Taizhou) with metered and verified SO2 in 2027.
EMITTER = "0x" + "9e" * 20


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
        conn.execute(insert(m.Participant).values(address=EMITTER, region_code=331000, updated_block=1))
        conn.execute(
            insert(m.StatRollup).values(
                grain="year", metric="emissions_t", pollutant=2, period="2027", enterprise=EMITTER,
                region_code=331000, industry_code="D4411", value=1_234.5, count=3,
            )
        )  # fmt: skip
        conn.execute(
            insert(m.Attestation).values(
                attestation_id="0x" + "9e" * 32, auditor="0x" + "9f" * 20, enterprise=EMITTER, pollutant=2,
                year=2027, verified=1_200, offsets_eligible=0, evidence=[], report_hash="0x" + "00" * 32,
                status="active", submitted_time=1,
            )
        )  # fmt: skip
    try:
        yield
    finally:
        with dash.ctx.engine.begin() as conn:
            conn.execute(delete(m.Plan).where(m.Plan.plan_id.in_([9001, 9002])))
            conn.execute(delete(m.Attestation).where(m.Attestation.enterprise == EMITTER))
            conn.execute(delete(m.StatRollup).where(m.StatRollup.enterprise == EMITTER))
            conn.execute(delete(m.Participant).where(m.Participant.address == EMITTER))


def _num(value: float | None, digits: int = 0) -> str:
    """What the dashboard's num() shows in English (at most ``digits`` decimals, no trailing zeros)."""
    if value is None:
        return "–"
    text = f"{value:,.{digits}f}"
    return text.rstrip("0").rstrip(".") if digits else text


def _cells(f: ProgressFigures) -> list[str]:
    share = f"{100 * f.metered_t / f.annual_cap_t:.1f}%" if f.annual_cap_t else "–"
    return ["SO2", str(f.region), str(f.year), _num(f.path_t), _num(f.annual_cap_t), _num(f.reserve_t),
            _num(f.metered_t, 1), _num(f.verified_t), share]  # fmt: skip


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


def test_plans_progress_table_equals_the_read_model(
    dash: DashWorld, plans: None, open_tab: Callable[..., Tab]
) -> None:
    with Session(dash.ctx.engine) as db:
        annual = plan_progress(db, db.get(m.Plan, 9002))  # type: ignore[arg-type]
        five = plan_progress(db, db.get(m.Plan, 9001))  # type: ignore[arg-type]
    taizhou = next(f for f in annual if f.region == 331000)
    assert (taizhou.reserve_t, taizhou.path_t) == (560, 5_760)
    assert taizhou.metered_t >= 1_234.5 and taizhou.verified_t >= 1_200  # the fixture's emitter at least
    tab = open_tab()
    page = sign_in(tab, dash.base, dash.c.regulator, "regulator")
    page.wait_for_selector("#plan-progress-table")
    for plan_id, figures in (("9002", annual), ("9001", five)):
        if plan_id == "9001":
            page.click('#plans tr[data-plan="9001"]')
            page.wait_for_selector("#plan-paths")
        table = page.locator("#plan-progress-table tbody tr")
        assert table.count() == len(figures)
        for f in figures:
            row = page.locator(f'#plan-progress-table tr[data-row="{f.pollutant}-{f.region}-{f.year}"] td')
            assert row.all_inner_texts() == _cells(f), (plan_id, f)
