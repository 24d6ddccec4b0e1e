"""APScheduler wiring: the interval job really runs the scan; failures are logged, not raised."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import pytest

from scheduler.alarms import AlarmStore
from scheduler.compliance import ComplianceAlarms, ScanReport
from scheduler.errors import AlarmStoreError
from scheduler.service import JOB_ID, run_scan, start, stop
from tests.conftest import Consortium
from tests.scheduler.conftest import ManualClock, RecordingNotifier
from tests.utils.compliance import setup_cycle


class Watched(ComplianceAlarms):
    """Counts scans and signals each one."""

    reports: list[ScanReport]
    ran: threading.Event

    def scan(self, now: int | None = None) -> ScanReport:
        report = super().scan(now)
        self.reports.append(report)
        if len(self.reports) >= 2:
            self.ran.set()
        return report


def test_background_scheduler_runs_scan_job_at_interval(
    fresh: Consortium, tmp_path: Path, clock: ManualClock, recorder: RecordingNotifier
) -> None:
    cy = setup_cycle(fresh)
    clock.now = cy.ack_deadline + 1
    alarms = Watched(fresh.compliance, AlarmStore(f"sqlite:///{tmp_path / 'a.db'}"), [recorder], clock=clock)
    alarms.reports, alarms.ran = [], threading.Event()
    scheduler = start(alarms, interval_seconds=0.2)
    try:
        job = scheduler.get_job(JOB_ID)
        assert (job.max_instances, job.coalesce) == (1, True)
        assert alarms.ran.wait(timeout=15), "the scan job did not run twice"
    finally:
        stop(scheduler)
    assert not scheduler.running
    first, second = alarms.reports[:2]
    assert len(first.raised) == 3 and second.raised == ()  # the second run finds nothing new
    assert len(recorder.delivered) == 3


def test_run_scan_logs_ets_errors_instead_of_raising(caplog: pytest.LogCaptureFixture) -> None:
    class Broken:
        def scan(self) -> None:
            raise AlarmStoreError("database is locked")

    with caplog.at_level(logging.ERROR, logger="scheduler.service"):
        assert run_scan(Broken()) is None
    assert "AlarmStoreError: database is locked" in caplog.text
