"""Field alarms relayed from a gateway's field store into the alarm store and the read model (SQLite
and PostgreSQL), stored once however often the relay runs, delivered on the signed webhook to a
loopback server with retries after HTTP 500, the secret never logged; SMS only with its flag."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from oracle.field import FieldStore
from readmodel.alarms import FieldAlarmRow, ReviewMarkRow
from readmodel.migrate import upgrade
from readmodel.session import make_engine
from scheduler.alarms import AlarmKind, AlarmStore
from scheduler.config import SchedulerSettings
from scheduler.delivery import deliver_pending
from scheduler.field import FieldAlarmRelay
from scheduler.notify import (
    ALARM_HEADER,
    SIGNATURE_HEADER,
    SmsNotifier,
    WebhookNotifier,
    build_notifiers,
    verify_signature,
)
from tests.scheduler.conftest import Hook
from tests.utils.field_alarms import raise_site_alarms

ENTERPRISE = "0x00000000000000000000000000000000000000A1"
MN = "MN33100000101"
SECRET = SecretStr("field-webhook-secret-4b1d")
KINDS = {"quota", "over_standard", "facility_stopped", "instrument_maintenance", "parameter_tampering"}


@pytest.fixture
def source(tmp_path: Path) -> FieldStore:
    raise_site_alarms(tmp_path / "field.db", ENTERPRISE, MN)
    return FieldStore(tmp_path / "field.db")


def test_relay_stores_each_field_alarm_once_in_store_and_read_model(
    source: FieldStore, database_url: str, tmp_path: Path
) -> None:
    engine = make_engine(database_url)
    upgrade(engine)
    with AlarmStore(f"sqlite:///{tmp_path / 'alarms.db'}") as store:
        relay = FieldAlarmRelay(store, ["log"], [source], engine=engine)
        report = relay.run(now=1_800_000_000)
        assert report.taken == 5 and {str(a.kind) for a in report.raised} == KINDS
        assert source.alarms(pending_only=True) == []
        # a relay that crashed before marking: the outbox offers them again, nothing is duplicated
        source._conn.execute("UPDATE field_alarms SET relayed_at = NULL")
        source._conn.commit()
        again = relay.run(now=1_800_000_100)
        assert again.taken == 5 and again.raised == ()
        stored = store.alarms(kind=AlarmKind.OVER_STANDARD)
        assert len(store.alarms()) == 5 and len(stored) == 1
        over = stored[0]
        assert (over.enterprise, over.year, over.pollutant) == (ENTERPRISE, 2027, 4)  # COD's token code
        assert over.data is not None and over.data["data"]["average"] == "72.500"
    with Session(engine) as db:
        rows = db.scalars(select(FieldAlarmRow).order_by(FieldAlarmRow.id)).all()
        assert {r.kind for r in rows} == KINDS and len(rows) == 5
        assert {r.relayed_at for r in rows} == {1_800_000_000}
        marks = {m.reason: m for m in db.scalars(select(ReviewMarkRow))}
        assert set(marks) == {"facility_stopped", "instrument_maintenance"}
        assert (
            marks["instrument_maintenance"].pollutant == "w01018" and marks["facility_stopped"].end_at is None
        )
        assert db.scalar(select(func.count()).select_from(FieldAlarmRow)) == 5
    engine.dispose()


def test_relay_delivers_signed_webhook_retrying_after_500_without_logging_secret(
    source: FieldStore, hook: Hook, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    hook.statuses.extend([500])
    notifiers = [WebhookNotifier(hook.url, SECRET, timeout=5)]
    with AlarmStore(f"sqlite:///{tmp_path / 'alarms.db'}") as store:
        relay = FieldAlarmRelay(
            store,
            ["webhook"],
            [source],
            deliver=lambda now: deliver_pending(store, notifiers, now, max_attempts=5),
        )
        first = relay.run(now=100)
        # the first POST got 500: the channel is left for the next run, its other alarms wait
        assert [(d.delivered, d.attempts) for d in first.deliveries] == [(False, 1)]
        assert "HTTP 500" in (first.deliveries[0].error or "")
        second = relay.run(now=200)
        assert (
            second.taken == 0 and len(second.deliveries) == 5 and all(d.delivered for d in second.deliveries)
        )
        assert relay.run(now=300).deliveries == ()  # delivered ones are never sent again
        assert store.pending("webhook") == []
    assert [status for _, _, status in hook.requests] == [500, 200, 200, 200, 200, 200]
    bodies = hook.bodies()
    assert {b["kind"] for b in bodies} == KINDS
    for headers, body, _ in hook.requests:
        assert verify_signature(SECRET, body, headers[SIGNATURE_HEADER])
        assert headers[ALARM_HEADER] == json.loads(body)["uid"]
    first_uid = json.loads(hook.requests[0][1])["uid"]
    assert json.loads(hook.requests[1][1])["uid"] == first_uid  # the failed one is retried first
    tamper = next(b for b in bodies if b["kind"] == "parameter_tampering")
    assert tamper["data"]["data"] == {"item": "i13008", "old": "1.50", "new": "0.90", "cn": "3020"}
    assert SECRET.get_secret_value() not in caplog.text


def test_relay_sms_sent_only_with_its_flag(source: FieldStore, tmp_path: Path) -> None:
    off = build_notifiers(SchedulerSettings.load())
    assert not any(isinstance(n, SmsNotifier) for n in off)
    with AlarmStore(f"sqlite:///{tmp_path / 'alarms.db'}") as store:
        names = [n.name for n in off]
        FieldAlarmRelay(
            store, names, [source], deliver=lambda now: deliver_pending(store, off, now, max_attempts=3)
        ).run(now=1)
        assert all(d.channel != "sms" for a in store.alarms() for d in a.deliveries)
    on = build_notifiers(SchedulerSettings.load(sms_enabled=True, sms_recipients=["+8613800000000"]))
    sms = next(n for n in on if isinstance(n, SmsNotifier))
    with AlarmStore(f"sqlite:///{tmp_path / 'alarms-sms.db'}") as store:
        source._conn.execute("UPDATE field_alarms SET relayed_at = NULL")
        source._conn.commit()
        names = [n.name for n in on]
        FieldAlarmRelay(
            store, names, [source], deliver=lambda now: deliver_pending(store, on, now, max_attempts=3)
        ).run(now=1)
    assert len(sms.transport.sent) == 5  # type: ignore[attr-defined]
    assert any("hourly average 72.500" in text for _, text in sms.transport.sent)  # type: ignore[attr-defined]
