"""The demo's API step relays the site gateway's field alarms into the scheduler's alarm store and
the read model, once (a re-run finds them relayed), and says which."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from chain.config import ChainSettings
from demo.api import relay_field_alarms
from readmodel.alarms import FieldAlarmRow
from readmodel.migrate import upgrade
from readmodel.session import make_engine
from scheduler.alarms import AlarmStore
from scheduler.config import SchedulerSettings
from tests.utils.field_alarms import raise_site_alarms


def test_demo_relays_field_alarms_once(tmp_path: Path) -> None:
    settings = ChainSettings(state_dir=tmp_path, demo=True)
    assert relay_field_alarms(settings, None) == []  # no site simulated yet
    raise_site_alarms(tmp_path / "oracle" / "field.db", "0x" + "a1" * 20, "MN33100200000101")
    engine = make_engine(f"sqlite:///{tmp_path / 'readmodel.db'}")
    upgrade(engine)
    (line,) = relay_field_alarms(settings, engine)
    assert line.endswith(
        "facility_stopped 1, instrument_maintenance 1, over_standard 1, parameter_tampering 1, quota 1"
    )
    assert relay_field_alarms(settings, engine)[0].endswith(": none new")
    with Session(engine) as db:
        assert db.scalar(select(func.count()).select_from(FieldAlarmRow)) == 5
    with AlarmStore(SchedulerSettings.load().database(tmp_path)) as store:
        assert len(store.alarms()) == 5 and all(d.delivered for a in store.alarms() for d in a.deliveries)
    engine.dispose()
