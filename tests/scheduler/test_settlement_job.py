"""The service's settlement job: registered beside the compliance scan only when settlement is
configured, on a cron of Mondays to Fridays at the close + margin in Asia/Shanghai, and, fired
after a close, it settles that trading day on a real chain and anchors the report."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from apscheduler.schedulers.background import BackgroundScheduler  # type: ignore[import-untyped]

from chain.accounts import write_keystore
from scheduler.service import JOB_ID as SCAN_JOB_ID
from scheduler.service import SettlementJob, blocking, schedule
from scheduler.wiring import settlement_job
from settlement.calendar import TradingCalendar, day_code
from settlement.day import DayResult
from settlement.schedule import JOB_ID
from tests.settlement.conftest import CALENDAR, Market

SHANGHAI = ZoneInfo("Asia/Shanghai")


class Idle:
    """A compliance scan that finds nothing."""

    def scan(self) -> None:
        return None


def test_schedule_adds_settlement_cron_weekdays_after_close_shanghai_when_job_given() -> None:
    scheduler = BackgroundScheduler(timezone=UTC)
    scheduler.start(paused=True)
    try:
        schedule(scheduler, Idle(), 60, SettlementJob(lambda day: None, TradingCalendar(), 20))
        jobs = {job.id: job for job in scheduler.get_jobs()}
    finally:
        scheduler.shutdown(wait=False)
    assert set(jobs) == {SCAN_JOB_ID, JOB_ID}
    job = jobs[JOB_ID]
    assert str(job.trigger) == "cron[day_of_week='mon-fri', hour='15', minute='20']"
    assert job.trigger.timezone == SHANGHAI
    assert (job.max_instances, job.coalesce, job.misfire_grace_time) == (1, True, 6 * 3600)
    friday_evening = datetime(2027, 7, 2, 18, 0, tzinfo=SHANGHAI)
    assert job.trigger.get_next_fire_time(None, friday_evening) == datetime(
        2027, 7, 5, 15, 20, tzinfo=SHANGHAI
    )
    monday_morning = datetime(2027, 7, 5, 9, 0, tzinfo=SHANGHAI)
    assert job.trigger.get_next_fire_time(None, monday_morning).astimezone(UTC) == datetime(
        2027, 7, 5, 7, 20, tzinfo=UTC
    )


def test_blocking_has_scan_job_only_when_settlement_not_configured(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ETS_SETTLE_SCHEDULE", "ETS_SETTLE_KEYSTORE"):
        monkeypatch.delenv(name, raising=False)
    assert settlement_job() is None
    scheduler = blocking(Idle(), 60, settlement_job())
    assert [job.id for job in scheduler.get_jobs()] == [SCAN_JOB_ID]


@pytest.fixture
def service_env(market: Market, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The service's environment over the market: read model, chain, bank directory, and the
    exchange's keystore as the settlement signer; the chain is rolled back afterwards."""
    bank_dir = tmp_path / "bank"
    bank_dir.mkdir()
    (bank_dir / f"bank-{day_code(market.day1)}.csv").write_bytes(market.bank1.read_bytes())
    keystore = write_keystore(market.c.exchange, tmp_path / "exchange.json", "s3cret")
    env = {
        "ETS_RPC_URL": market.c.chain.w3.provider.endpoint_uri,  # type: ignore[attr-defined]
        "ETS_STATE_DIR": str(tmp_path),
        "ETS_MANIFEST": str(market.c.manifest_path),
        "ETS_DATABASE_URL": market.engine.url.render_as_string(hide_password=False),
        "ETS_KEYSTORE_PASSWORD": "s3cret",
        "ETS_SETTLE_KEYSTORE": str(keystore),
        "ETS_SETTLE_MARGIN_MINUTES": "25",
        "ETS_SETTLE_REPORTS_DIR": str(tmp_path / "reports"),
        "ETS_SETTLE_BANK_DIR": str(bank_dir),
    }
    monkeypatch.delenv("ETS_DEMO", raising=False)
    monkeypatch.delenv("ETS_SETTLE_SCHEDULE", raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    snapshot = market.c.snapshot()
    try:
        yield tmp_path / "reports"
    finally:
        market.c.revert(snapshot)


def test_service_settlement_job_settles_and_anchors_closed_day_when_fired_after_close(
    service_env: Path, market: Market
) -> None:
    scheduler = blocking(Idle(), 60, settlement_job())
    job = scheduler.get_job(JOB_ID)
    assert job is not None and str(job.trigger) == "cron[day_of_week='mon-fri', hour='15', minute='25']"
    fired_at = datetime.fromtimestamp(CALENDAR.close_at(market.day1), SHANGHAI) + timedelta(minutes=25)
    before = datetime.fromtimestamp(CALENDAR.close_at(market.day1), SHANGHAI) - timedelta(minutes=1)
    assert job.func(*job.args, now=before) is None  # still open by the wall clock: nothing due
    result: Any = job.func(*job.args, now=fired_at)
    assert isinstance(result, DayResult)
    assert result.balanced, result.reconciliation.differences
    assert (result.settlement.bounds.day, result.anchored) == (market.day1, "published")
    assert result.bundle.directory == service_env / market.day1.isoformat()
    code = day_code(market.day1)
    assert market.reports.verify(code, result.bundle.report_hash)
    published = market.reports.report(code)
    assert published is not None and market.reports.recover_signer(published) == market.c.exchange.address
    again = job.func(*job.args, now=fired_at + timedelta(hours=1))  # a misfired rerun: nothing new
    assert again.anchored == "already" and again.bundle.report_hash == result.bundle.report_hash
