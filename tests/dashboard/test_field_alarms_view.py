"""The regulator's field alarms panel in chromium: the alarms the rules raised from real HJ 212 frames
and the scheduler relayed (alarm store and read model) appear in the list, one row per stored
alarm with its kind and message, and as a marker of the device on the map with its highest open
severity; acknowledging one from the list records the regulator in the read model."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from oracle.field import FieldStore
from readmodel.alarms import FieldAlarmRow, ReviewMarkRow
from scheduler.alarms import Alarm, AlarmStore
from scheduler.field import FieldAlarmRelay
from tests.dashboard.conftest import DashWorld, Tab, sign_in
from tests.utils.compliance import ENTERPRISES
from tests.utils.field_alarms import raise_site_alarms

E0 = ENTERPRISES[0]
MN = "MN33100000101"


@pytest.fixture
def stored(dash: DashWorld, tmp_path: Path) -> Iterator[list[Alarm]]:
    """E0's site alarms of every kind, relayed into an alarm store and the dashboard's read model."""
    raise_site_alarms(tmp_path / "field.db", E0.address, MN)
    with AlarmStore(f"sqlite:///{tmp_path / 'alarms.db'}") as store:
        FieldAlarmRelay(store, ["log"], [FieldStore(tmp_path / "field.db")], engine=dash.ctx.engine).run(
            now=1
        )
        alarms = store.alarms()
    try:
        yield alarms
    finally:
        with dash.ctx.engine.begin() as conn:
            conn.execute(delete(ReviewMarkRow))
            conn.execute(delete(FieldAlarmRow))


def test_regulator_sees_stored_field_alarms_in_list_and_map_and_acknowledges(
    dash: DashWorld, stored: list[Alarm], open_tab: Callable[..., Tab]
) -> None:
    tab = open_tab()
    page = sign_in(tab, dash.base, dash.c.regulator, "regulator")
    page.wait_for_selector('#field-alarms-panel[data-ready="1"]')
    rows = page.query_selector_all("#field-alarms tbody tr")
    shown = {row.get_attribute("data-kind"): row.inner_text() for row in rows}
    assert len(rows) == len(stored) == 5
    assert set(shown) == {str(a.kind) for a in stored}
    for alarm in stored:
        assert alarm.message in shown[str(alarm.kind)]
    assert "Over standard" in shown["over_standard"] and "Critical" in shown["parameter_tampering"]
    (marker,) = page.query_selector_all("#field-alarm-markers li")
    assert marker.get_attribute("data-mn") == MN and marker.get_attribute("data-severity") == "3"
    assert "Taizhou Power Plant No. 900" in marker.inner_text()
    assert page.query_selector("#field-alarm-map canvas") is not None
    assert "5 alarms" in page.inner_text("#field-alarm-total")

    page.select_option("#field-alarm-kind", "over_standard")
    page.wait_for_selector('#field-alarms-panel[data-ready="1"]')
    assert [r.get_attribute("data-kind") for r in page.query_selector_all("#field-alarms tbody tr")] == [
        "over_standard"
    ]
    page.click('#field-alarms tr[data-kind="over_standard"] button.ack')
    page.wait_for_selector('#field-alarms tr[data-kind="over_standard"] .acked')
    with Session(dash.ctx.engine) as db:
        row = db.scalars(select(FieldAlarmRow).where(FieldAlarmRow.kind == "over_standard")).one()
        assert row.acknowledged_by == dash.c.regulator.address and row.acknowledged_at is not None
    tab.assert_clean()
