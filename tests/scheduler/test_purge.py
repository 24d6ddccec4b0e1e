"""The scheduler's purge of the API's expired state, run by APScheduler against a real read model
(SQLite and PostgreSQL): expired nonces and sessions, signed-out sessions, intents never signed,
and relayed intents past their retention go; everything still valid stays."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from apscheduler.schedulers.background import BackgroundScheduler  # type: ignore[import-untyped]
from sqlalchemy import Engine, select

from readmodel import models as m
from readmodel.migrate import upgrade
from readmodel.purge import PurgeReport, purge_expired
from readmodel.session import make_engine
from scheduler.service import PURGE_JOB_ID, PurgeJob, add_purge_job, run_purge, stop

NOW = 1_800_000_000
DAY = 86_400
ADDRESS = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    built = make_engine(database_url)
    upgrade(built)
    yield built
    built.dispose()


def _intent(intent_id: str, status: str, expires_at: int) -> m.TxIntent:
    return m.TxIntent(intent_id=intent_id, sender=ADDRESS, contract="AllowanceToken", function="f()",
                      to=ADDRESS, data="0x", value=0, chain_id=31337, created_at=expires_at - 1800,
                      expires_at=expires_at, tx_hash=None, status=status, outcome=None)  # fmt: skip


def _session(mark: str, *, expires_at: int, revoked: bool) -> m.ApiSession:
    return m.ApiSession(token_hash=mark * 64, address=ADDRESS, issued_at=NOW - 60, expires_at=expires_at,
                        revoked=revoked)  # fmt: skip


def _fill(engine: Engine) -> None:
    from sqlalchemy.orm import Session

    with Session(engine) as db:
        db.add_all([
            m.SiweNonce(nonce="expiredUnused1", issued_at=NOW - 700, expires_at=NOW - 100, used=False),
            m.SiweNonce(nonce="expiredUsed123", issued_at=NOW - 700, expires_at=NOW - 100, used=True),
            m.SiweNonce(nonce="validUsed12345", issued_at=NOW - 60, expires_at=NOW + 540, used=True),
            m.SiweNonce(nonce="validUnused123", issued_at=NOW - 60, expires_at=NOW + 540, used=False),
            _session("a", expires_at=NOW - 1, revoked=False),
            _session("b", expires_at=NOW + 600, revoked=True),
            _session("c", expires_at=NOW + 600, revoked=False),
            _intent("built-expired", "built", NOW - 1),
            _intent("built-valid", "built", NOW + 600),
            _intent("relayed-recent", "success", NOW - DAY),
            _intent("relayed-old", "reverted", NOW - 31 * DAY),
            _intent("pending-old", "pending", NOW - 31 * DAY),
        ])  # fmt: skip
        db.commit()


def _left(engine: Engine) -> dict[str, set[Any]]:
    with engine.connect() as conn:
        return {
            "nonces": set(conn.execute(select(m.SiweNonce.nonce)).scalars()),
            "sessions": {h[0] for h in conn.execute(select(m.ApiSession.token_hash)).scalars()},
            "intents": set(conn.execute(select(m.TxIntent.intent_id)).scalars()),
        }


def test_purge_job_deletes_expired_state_when_the_scheduler_runs_it(engine: Engine) -> None:
    _fill(engine)
    reports: list[PurgeReport] = []
    ran = threading.Event()

    def run() -> PurgeReport:
        reports.append(purge_expired(engine, now=NOW, intent_retention_s=30 * DAY))
        ran.set()
        return reports[-1]

    scheduler = BackgroundScheduler(daemon=True)
    add_purge_job(scheduler, PurgeJob(run, interval_seconds=3600))
    scheduler.start()
    try:
        assert scheduler.get_job(PURGE_JOB_ID) is not None
        assert ran.wait(timeout=30), "the purge job did not run"
    finally:
        stop(scheduler)
    assert reports == [PurgeReport(nonces=2, sessions=2, intents=3)]
    assert _left(engine) == {
        "nonces": {"validUsed12345", "validUnused123"},  # a used nonce stays refused as used until it expires
        "sessions": {"c"},
        "intents": {"built-valid", "relayed-recent"},
    }
    assert purge_expired(engine, now=NOW, intent_retention_s=30 * DAY) == PurgeReport(0, 0, 0)


def test_purge_job_logs_and_survives_when_the_database_is_gone(tmp_path: Any) -> None:
    broken = make_engine(f"sqlite:///{tmp_path}/missing/dir/read.db")
    assert run_purge(PurgeJob(lambda: purge_expired(broken, now=int(time.time())))) is None
