"""The alarm store: one alarm per identity, delivery state per channel, checkpoint per contract."""

from __future__ import annotations

from pathlib import Path

import pytest

from scheduler.alarms import AlarmDraft, AlarmKind, AlarmStore, NoticeRecord
from scheduler.errors import AlarmStoreError

ENTERPRISE = "0x71bE63f3384f5fb98995898A86B02Fb2426c5788"
ADDRESS = "0x5FbDB2315678afecb367f032d93F642f64180aa3"


def draft(key: str = "") -> AlarmDraft:
    return AlarmDraft(AlarmKind.ACK_OVERDUE, ENTERPRISE, 2024, 1, key, 1_000, "not acknowledged")


def test_store_raise_alarm_is_noop_when_alarm_exists(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'deep' / 'alarms.db'}"  # parent directories are created
    with AlarmStore(url) as store:
        alarm = store.raise_alarm(draft(), ["log", "webhook"], now=2_000)
        assert alarm is not None
        assert [(d.channel, d.attempts, d.delivered) for d in alarm.deliveries] == [
            ("log", 0, False), ("webhook", 0, False),
        ]  # fmt: skip
        assert store.raise_alarm(draft(), ["log"], now=3_000) is None
        assert store.raise_alarm(draft("other"), ["log"], now=3_000) is not None
    with AlarmStore(url) as reopened:
        assert reopened.raise_alarm(draft(), ["log"], now=4_000) is None
        assert [(a.key, a.raised_at) for a in reopened.alarms()] == [("", 2_000), ("other", 3_000)]


def test_store_pending_until_delivered_and_gives_up_after_max_attempts() -> None:
    with AlarmStore("sqlite://") as store:
        alarm = store.raise_alarm(draft(), ["log", "webhook"], now=1)
        assert alarm is not None
        store.record_delivery(alarm.id, "log", now=2)
        failed = store.record_delivery(alarm.id, "webhook", now=2, error="HTTP 500")
        assert (failed.attempts, failed.last_error, failed.delivered) == (1, "HTTP 500", False)
        assert store.pending("log") == []
        assert [a.id for a in store.pending("webhook")] == [alarm.id]
        assert store.pending("webhook", max_attempts=1) == []
        with pytest.raises(AlarmStoreError):
            store.record_delivery(alarm.id, "sms", now=3)


def test_store_filters_alarms_by_enterprise_in_any_case_and_year() -> None:
    with AlarmStore("sqlite://") as store:
        store.raise_alarm(draft(), ["log"], now=1)
        store.raise_alarm(AlarmDraft(AlarmKind.ACK_OVERDUE, ENTERPRISE, 2025, 1, "", 5, "x"), ["log"], now=1)
        assert len(store.alarms(enterprise=ENTERPRISE.lower())) == 2
        assert [
            a.year for a in store.alarms(enterprise=ENTERPRISE.upper().replace("0X", "0x"), year=2025)
        ] == [2025]
        assert store.alarms(enterprise="0x" + "00" * 20) == []


def test_store_record_keeps_known_state_and_moves_checkpoint() -> None:
    with AlarmStore("sqlite://") as store:
        assert store.checkpoint("ComplianceManager", ADDRESS) is None
        notice = NoticeRecord(ENTERPRISE, 2024, 1, 100, 200)
        store.record(
            "ComplianceManager", ADDRESS, 10, notices=[notice], acknowledged=[(ENTERPRISE, 1, 2024, 50)]
        )
        store.record("ComplianceManager", ADDRESS, 20, notices=[notice], closed=[(ENTERPRISE, 1, 2024, 1)])
        assert store.notice(ENTERPRISE, 1, 2024) == NoticeRecord(ENTERPRISE, 2024, 1, 100, 200, 50, 1)
        assert store.notices(open_only=True) == []
        assert store.checkpoint("ComplianceManager", ADDRESS.lower()) == 20


def test_store_refuses_checkpoint_of_another_contract_address() -> None:
    with AlarmStore("sqlite://") as store:
        store.record("ComplianceManager", ADDRESS, 10)
        with pytest.raises(AlarmStoreError, match="follows ComplianceManager"):
            store.checkpoint("ComplianceManager", "0x" + "11" * 20)


def test_store_refuses_invalid_url_without_echoing_password() -> None:
    with pytest.raises(AlarmStoreError) as info:
        AlarmStore("not a url")
    assert isinstance(info.value, RuntimeError)
    with pytest.raises(AlarmStoreError) as info:
        AlarmStore("postgresql+nodriver://user:hunter2@127.0.0.1:1/ets")
    assert "hunter2" not in str(info.value)
