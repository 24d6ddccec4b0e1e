"""Compliance alarms on a real Anvil chain, judged by a controllable clock."""

from __future__ import annotations

from pathlib import Path

from pydantic import SecretStr

from domain.compliance import Outcome
from scheduler.alarms import AlarmKind, AlarmStore
from scheduler.compliance import ComplianceAlarms
from scheduler.notify import SIGNATURE_HEADER, LogNotifier, Notifier, WebhookNotifier, verify_signature
from tests.conftest import Consortium
from tests.scheduler.conftest import Hook, ManualClock, RecordingNotifier
from tests.utils.compliance import (
    CO2,
    CO2_2024,
    DAY,
    ENTERPRISES,
    RULES,
    RULES_URI,
    YEAR,
    Cycle,
    setup_cycle,
    surrender,
)

E0, E1, E2, E3 = ENTERPRISES
WEEK = 7 * DAY


def alarms_of(c: Consortium, url: str, clock: ManualClock, *notifiers: Notifier) -> ComplianceAlarms:
    return ComplianceAlarms(c.compliance, AlarmStore(url), notifiers, reminder_leads=(WEEK, DAY), clock=clock)


def db(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'alarms.db'}"


def kinds(alarms: tuple[object, ...] | list[object]) -> list[tuple[str, str, str]]:
    return sorted((str(a.kind), a.enterprise, a.key) for a in alarms)  # type: ignore[attr-defined]


def fulfil(cy: Cycle, who: object) -> None:
    """Acknowledge, attest 100 t and surrender 100 allowances; the regulator approves (outcome A)."""
    c = cy.c
    att = cy.attest(who.address, 100)  # type: ignore[attr-defined]
    application = c.compliance.apply(who, CO2, YEAR, surrender(att, {CO2_2024: 100}))  # type: ignore[arg-type]
    c.compliance.approve(c.regulator, application)


def test_scan_raises_ack_alarm_after_deadline_only_for_unacknowledged_notices(
    fresh: Consortium, tmp_path: Path, clock: ManualClock, recorder: RecordingNotifier
) -> None:
    cy = setup_cycle(fresh)
    fresh.compliance.acknowledge(E0, CO2, YEAR)
    alarms = alarms_of(fresh, db(tmp_path), clock, recorder)

    clock.now = cy.ack_deadline  # on time until the deadline itself, as the contract judges
    report = alarms.scan()
    assert report.events == 4  # three notices and one acknowledgement
    assert report.raised == () and recorder.delivered == []

    clock.now = cy.ack_deadline + 1
    report = alarms.scan()
    assert kinds(report.raised) == sorted([("ack_overdue", E1.address, ""), ("ack_overdue", E2.address, "")])
    assert report.raised[0].due_at == cy.ack_deadline
    assert sorted(a.enterprise for a in recorder.delivered) == sorted([E1.address, E2.address])
    assert all(d.delivered and d.channel == "recorder" for d in report.deliveries)


def test_scan_raises_no_ack_alarm_when_acknowledged_between_scans(
    fresh: Consortium, tmp_path: Path, clock: ManualClock, recorder: RecordingNotifier
) -> None:
    cy = setup_cycle(fresh)
    alarms = alarms_of(fresh, db(tmp_path), clock, recorder)
    clock.now = fresh.chain.timestamp()
    first = alarms.scan()
    assert first.events == 3 and first.raised == ()

    fresh.compliance.acknowledge(E1, CO2, YEAR)
    clock.now = cy.ack_deadline + 1
    second = alarms.scan()
    assert second.from_block == first.to_block + 1  # incremental: only the new blocks
    assert second.events == 1
    assert kinds(second.raised) == sorted([("ack_overdue", E0.address, ""), ("ack_overdue", E2.address, "")])
    assert alarms.store.notice(E1.address, CO2, YEAR).acknowledged_at is not None  # type: ignore[union-attr]


def test_scan_raises_each_reminder_lead_once_for_open_obligations(
    fresh: Consortium, tmp_path: Path, clock: ManualClock, recorder: RecordingNotifier
) -> None:
    cy = setup_cycle(fresh)
    for e in (E0, E1, E2):
        fresh.compliance.acknowledge(e, CO2, YEAR)
    fulfil(cy, E0)  # covered: its obligation is closed
    alarms = alarms_of(fresh, db(tmp_path), clock, recorder)
    deadline = cy.submission_deadline

    clock.now = deadline - WEEK - 1
    assert alarms.scan().raised == ()
    assert alarms.store.notice(E0.address, CO2, YEAR).outcome == Outcome.COVERED  # type: ignore[union-attr]

    clock.now = deadline - WEEK
    week = alarms.scan()
    expected = sorted([("submission_reminder", e.address, str(WEEK)) for e in (E1, E2)])
    assert kinds(week.raised) == expected
    assert "submission deadline" in week.raised[0].message

    for now in (deadline - WEEK, deadline - 2 * DAY):  # same lead again: nothing new
        clock.now = now
        assert alarms.scan().raised == ()

    clock.now = deadline - DAY + 60
    day = alarms.scan()
    assert kinds(day.raised) == sorted([("submission_reminder", e.address, str(DAY)) for e in (E1, E2)])

    clock.now = deadline + 1  # past the deadline: no more reminders
    assert alarms.scan().raised == ()
    assert len(alarms.store.alarms(kind=AlarmKind.SUBMISSION_REMINDER)) == 4
    assert len(recorder.delivered) == 4


def test_scan_raises_only_the_shortest_open_lead_when_several_opened_since_last_scan(
    fresh: Consortium, tmp_path: Path, clock: ManualClock, recorder: RecordingNotifier
) -> None:
    cy = setup_cycle(fresh)
    alarms = alarms_of(fresh, db(tmp_path), clock, recorder)
    clock.now = cy.submission_deadline - DAY
    raised = alarms.scan().raised
    reminders = [a for a in raised if a.kind is AlarmKind.SUBMISSION_REMINDER]
    assert {a.key for a in reminders} == {str(DAY)} and len(reminders) == 3
    assert len([a for a in raised if a.kind is AlarmKind.ACK_OVERDUE]) == 3


def test_scan_after_restart_raises_and_delivers_nothing_again(
    fresh: Consortium, tmp_path: Path, clock: ManualClock, recorder: RecordingNotifier
) -> None:
    cy = setup_cycle(fresh)
    clock.now = cy.ack_deadline + 1
    first = alarms_of(fresh, db(tmp_path), clock, recorder)
    assert len(first.scan().raised) == 3
    first.store.close()

    again = RecordingNotifier()
    restarted = alarms_of(fresh, db(tmp_path), clock, again)
    for now in (cy.ack_deadline + 1, cy.ack_deadline + DAY):
        clock.now = now
        report = restarted.scan()
        assert (report.raised, report.deliveries, report.events) == ((), (), 0)
    assert again.delivered == []
    assert len(restarted.store.alarms()) == 3


def test_scan_retries_failed_webhook_next_scan_and_delivers_each_alarm_once(
    fresh: Consortium, tmp_path: Path, clock: ManualClock, hook: Hook
) -> None:
    cy = setup_cycle(fresh)
    secret = SecretStr("webhook-secret")
    webhook = WebhookNotifier(hook.url, secret, timeout=5)
    alarms = alarms_of(fresh, db(tmp_path), clock, LogNotifier(), webhook)
    hook.statuses.append(500)
    clock.now = cy.ack_deadline + 1

    first = alarms.scan()
    assert len(first.raised) == 3
    assert [(d.channel, d.delivered) for d in first.deliveries] == [("log", True)] * 3 + [("webhook", False)]
    assert "HTTP 500" in (first.failed[0].error or "")
    assert "t0k3n" not in (first.failed[0].error or "")  # the URL's query (a token) stays out

    second = alarms.scan()
    assert [(d.channel, d.delivered) for d in second.deliveries] == [("webhook", True)] * 3
    assert alarms.scan().deliveries == ()

    delivered = hook.bodies(200)
    assert sorted(b["uid"] for b in delivered) == sorted(a.uid for a in first.raised)
    for headers, body, _ in hook.requests:
        assert verify_signature(secret, body, headers[SIGNATURE_HEADER])
    states = {a.id: {d.channel: d for d in a.deliveries} for a in alarms.store.alarms()}
    assert sorted(s["webhook"].attempts for s in states.values()) == [1, 1, 2]
    assert all(s["webhook"].delivered and s["log"].attempts == 1 for s in states.values())


def test_scan_keys_notices_and_alarms_by_pollutant_for_two_obligations_of_one_year(
    fresh: Consortium, tmp_path: Path, clock: ManualClock, recorder: RecordingNotifier
) -> None:
    """E0 owes CO2 and SO2 in one year: two notices, each with its own alarms; acknowledging
    or covering one leaves the other's alone."""
    so2 = 2
    cy = setup_cycle(fresh)
    fresh.compliance.issue_notices(
        fresh.regulator, YEAR, so2, [(E0.address, 50)], rules_hash=RULES, rules_uri=RULES_URI,
        submission_deadline=cy.submission_deadline, ack_deadline=cy.ack_deadline,
    )  # fmt: skip
    fresh.compliance.acknowledge(E0, CO2, YEAR)
    fresh.compliance.acknowledge(E1, CO2, YEAR)
    fresh.compliance.acknowledge(E2, CO2, YEAR)
    fulfil(cy, E0)  # E0's CO2 obligation covered; its SO2 one stays open
    alarms = alarms_of(fresh, db(tmp_path), clock, recorder)
    clock.now = cy.ack_deadline + 1
    raised = alarms.scan().raised
    assert [(a.kind, a.enterprise, a.pollutant) for a in raised] == [(AlarmKind.ACK_OVERDUE, E0.address, so2)]
    assert "SO2" in raised[0].message
    assert alarms.store.notice(E0.address, CO2, YEAR).outcome == Outcome.COVERED  # type: ignore[union-attr]
    assert alarms.store.notice(E0.address, so2, YEAR).outcome is None  # type: ignore[union-attr]
    clock.now = cy.submission_deadline - DAY
    reminders = alarms.scan().raised
    assert sorted((a.enterprise, a.pollutant) for a in reminders) == sorted(
        [(E0.address, so2), (E1.address, CO2), (E2.address, CO2)]
    )
