"""Notifiers and settings: log fields, signed webhook, SMS only behind the explicit setting."""

from __future__ import annotations

import json
import logging
import socket

import pytest
from pydantic import SecretStr

from scheduler.alarms import Alarm, AlarmKind
from scheduler.config import SchedulerSettings
from scheduler.errors import NotifierError, SchedulerConfigError, SmsDisabledError
from scheduler.notify import (
    ALARM_HEADER,
    SIGNATURE_HEADER,
    LogNotifier,
    SmsNotifier,
    StubSmsTransport,
    WebhookNotifier,
    build_notifiers,
    sign_body,
    verify_signature,
)
from tests.scheduler.conftest import Hook

ENTERPRISE = "0x71bE63f3384f5fb98995898A86B02Fb2426c5788"
SECRET = SecretStr("s3cr3t-hmac-key")


def an_alarm(kind: AlarmKind = AlarmKind.ACK_OVERDUE, key: str = "") -> Alarm:
    return Alarm(1, kind, ENTERPRISE, 2024, 1, key, 1_800_000_000, 1_800_000_100, "notice not acknowledged")


def test_log_notifier_logs_stable_fields_of_the_alarm(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        LogNotifier().deliver(an_alarm())
    (record,) = caplog.records
    assert (record.enterprise, record.year, record.kind) == (ENTERPRISE, 2024, "ack_overdue")  # type: ignore[attr-defined]
    assert "notice not acknowledged" in record.getMessage()


def test_webhook_posts_payload_with_verifiable_hmac_signature(hook: Hook) -> None:
    alarm = an_alarm()
    WebhookNotifier(hook.url, SECRET, timeout=5).deliver(alarm)
    ((headers, body, status),) = hook.requests
    assert status == 200
    assert json.loads(body) == alarm.payload()
    assert headers[ALARM_HEADER] == alarm.uid
    assert headers["Content-Type"] == "application/json"
    assert headers[SIGNATURE_HEADER] == sign_body(SECRET, body)
    assert verify_signature(SECRET, body, headers[SIGNATURE_HEADER])
    assert not verify_signature(SecretStr("another key"), body, headers[SIGNATURE_HEADER])
    assert not verify_signature(SECRET, body + b" ", headers[SIGNATURE_HEADER])
    assert not verify_signature(SECRET, body, None)


def test_webhook_raises_notifier_error_on_non_2xx_answer(hook: Hook) -> None:
    hook.statuses.extend([404, 503])
    notifier = WebhookNotifier(hook.url, SECRET, timeout=5)
    for code in (404, 503):
        with pytest.raises(NotifierError, match=f"HTTP {code}") as info:
            notifier.deliver(an_alarm())
        assert isinstance(info.value, ConnectionError)
        assert "t0k3n" not in str(info.value)


def test_webhook_raises_notifier_error_when_unreachable() -> None:
    with socket.socket() as s:  # a loopback port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(NotifierError, match="unreachable"):
        WebhookNotifier(f"http://127.0.0.1:{port}/hook", SECRET, timeout=2).deliver(an_alarm())


def test_webhook_refuses_non_http_url() -> None:
    with pytest.raises(SchedulerConfigError):
        WebhookNotifier("file:///etc/passwd", SECRET)


def test_build_notifiers_refuses_sms_without_explicit_setting() -> None:
    with pytest.raises(SmsDisabledError, match="ETS_SCHEDULER_SMS_ENABLED"):
        SchedulerSettings.load(sms_recipients=["+8613800000000"])
    with pytest.raises(SmsDisabledError):
        build_notifiers(SchedulerSettings.load(), sms=True)
    assert [n.name for n in build_notifiers(SchedulerSettings.load())] == ["log"]


def test_sms_stub_transport_records_messages_when_enabled() -> None:
    settings = SchedulerSettings.load(sms_enabled=True, sms_recipients=["+8613800000000", "+8613900000001"])
    notifiers = build_notifiers(settings)
    assert [n.name for n in notifiers] == ["log", "sms"]
    sms = notifiers[1]
    assert isinstance(sms, SmsNotifier) and isinstance(sms.transport, StubSmsTransport)
    sms.deliver(an_alarm())
    assert [to for to, _ in sms.transport.sent] == ["+8613800000000", "+8613900000001"]
    assert all("notice not acknowledged" in text for _, text in sms.transport.sent)
    assert [n.name for n in build_notifiers(settings, sms=False)] == ["log"]


def test_settings_read_defaults_and_comma_separated_env(monkeypatch: pytest.MonkeyPatch) -> None:
    defaults = SchedulerSettings.load()
    assert (defaults.ack_hours, defaults.ack_seconds) == (72.0, 72 * 3600)
    assert defaults.reminder_leads == (7 * 24 * 3600, 24 * 3600)
    monkeypatch.setenv("ETS_SCHEDULER_REMINDER_LEADS_HOURS", "24, 72,168")
    monkeypatch.setenv("ETS_SCHEDULER_ACK_HOURS", "48")
    monkeypatch.setenv("ETS_SCHEDULER_WEBHOOK_URL", "https://hooks.example/ets")
    monkeypatch.setenv("ETS_SCHEDULER_WEBHOOK_SECRET", "env-secret")
    settings = SchedulerSettings.load()
    assert settings.reminder_leads == (168 * 3600, 72 * 3600, 24 * 3600)
    assert settings.ack_seconds == 48 * 3600
    assert [n.name for n in build_notifiers(settings)] == ["log", "webhook"]
    assert "env-secret" not in repr(settings)


def test_settings_refuse_webhook_without_secret_and_bad_values(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(SchedulerConfigError, match="WEBHOOK_SECRET"):
        SchedulerSettings.load(webhook_url="https://hooks.example/ets")
    monkeypatch.setenv("ETS_SCHEDULER_REMINDER_LEADS_HOURS", "24,-1")
    with pytest.raises(SchedulerConfigError, match="ETS_SCHEDULER_REMINDER_LEADS_HOURS"):
        SchedulerSettings.load()


def test_webhook_raises_notifier_error_on_redirect_instead_of_following_it(hook: Hook) -> None:
    hook.statuses.append(302)
    with pytest.raises(NotifierError, match="HTTP 302"):
        WebhookNotifier(hook.url, SECRET, timeout=5).deliver(an_alarm())
    assert len(hook.requests) == 1
