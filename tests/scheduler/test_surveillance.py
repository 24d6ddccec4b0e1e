"""The market surveillance job over a real trading day indexed from Anvil: alerts stored once with
their trades, alarms raised once in the alarm store and delivered by the existing channels, the
account records refused whole, the job's schedule."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, insert, or_, select

from domain.errors import SurveillanceInputError
from domain.surveillance import FindingKind, SurveillanceSettings
from readmodel import models as m
from readmodel.indexer.run import Indexer
from readmodel.migrate import upgrade
from readmodel.session import make_engine
from scheduler.alarms import AlarmKind, AlarmStore
from scheduler.compliance import ComplianceAlarms
from scheduler.config import SchedulerSettings
from scheduler.notify import WebhookNotifier
from scheduler.surveillance import (
    MarketSurveillance,
    SurveillanceJob,
    alerts_of_day,
    import_records,
    load_records,
    scan_due,
)
from settlement.calendar import TradingCalendar
from tests.conftest import Consortium
from tests.scheduler.conftest import Hook, ManualClock, RecordingNotifier
from tests.utils.compliance import setup_cycle
from tests.utils.surveillance import E0, E1, E2, E3, RECORDS_CSV, day_text, surveilled_day

#: Concentration judged on this small day (7 listing trades): above half of the volume.
SETTINGS = SurveillanceSettings(concentration_bps=5_000, concentration_min_trades=5)


@dataclass
class Day:
    c: Consortium
    engine: Engine
    day: str


@pytest.fixture(scope="module")
def surveilled(consortium: Consortium, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Day]:
    snapshot = consortium.snapshot()
    path = Path(tmp_path_factory.mktemp("surveil")) / f"read-{time.monotonic_ns()}.db"
    try:
        setup_cycle(consortium)
        d = surveilled_day(consortium)
        engine = make_engine(f"sqlite:///{path}")
        upgrade(engine)
        Indexer(consortium.chain, consortium.manifest, engine).catch_up()
        import_records(engine, RECORDS_CSV, now=1, source="records.csv")
        try:
            yield Day(consortium, engine, day_text(d))
        finally:
            engine.dispose()
    finally:
        consortium.revert(snapshot)


def trades_between(engine: Engine, day: str, a: str, b: str) -> list[int]:
    t = m.MarketTrade
    with engine.connect() as conn:
        return list(conn.scalars(select(t.id).where(
            t.day == day, or_((t.buyer == a) & (t.seller == b), (t.buyer == b) & (t.seller == a))
        ).order_by(t.id)))  # fmt: skip


def test_surveillance_finds_the_groups_trades_the_ramp_and_the_concentration_of_a_real_day(
    surveilled: Day, tmp_path: Path, clock: ManualClock, recorder: RecordingNotifier
) -> None:
    store = AlarmStore(f"sqlite:///{tmp_path / 'alarms.db'}")
    clock.now = 2_000_000_000
    job = MarketSurveillance(surveilled.engine, store, [recorder.name], SETTINGS, clock=clock)
    report = job.run(surveilled.day)
    by_kind = {(f.kind, f.accounts): f for f in report.findings}
    wash = by_kind[(FindingKind.WASH_TRADE, tuple(sorted((E0.address, E1.address), key=str.lower)))]
    # the call fill (E0 buys 60 of E1), the take (E1 buys 15 of E0) and the block (E1 sells 300 to E0)
    assert list(wash.trade_ids) == trades_between(surveilled.engine, surveilled.day, E0.address, E1.address)
    assert len(wash.trade_ids) == 3 and wash.figures["relation"] == "same_group+same_controller"
    assert wash.figures["volume"] == 60 + 15 + 300
    ramp = by_kind[(FindingKind.CLOSING_RAMP, (E3.address,))]
    e2_e3 = trades_between(surveilled.engine, surveilled.day, E2.address, E3.address)
    assert list(ramp.trade_ids) == e2_e3[-1:]  # the step up; E3's buy of E0's rest at 10,200 moved nothing
    assert (ramp.figures["base_price"], ramp.figures["move"], ramp.figures["move_bps"]) == (10_200, 400, 392)
    kind = FindingKind.VOLUME_CONCENTRATION
    concentrated = sorted(f.accounts[0] for f in report.findings if f.kind is kind)
    assert concentrated == sorted([E0.address, E3.address])  # 140 and 135 of 250 t; E1's 125 is half
    assert [(f.kind, f.accounts) for f in report.findings if f.kind is FindingKind.WASH_TRADE] == [
        (FindingKind.WASH_TRADE, wash.accounts)
    ]  # E2 and E3 traded, but are not related

    stored = alerts_of_day(surveilled.engine, surveilled.day)
    assert len(stored) == len(report.findings) == len(report.stored) == len(report.raised) == 4
    alert = next(a for a in stored if a.kind == "wash_trade")
    assert alert.trade_ids == list(wash.trade_ids) and alert.accounts == ",".join(wash.accounts)
    alarm = next(a for a in report.raised if a.kind is AlarmKind.WASH_TRADE)
    assert alarm.data is not None and alarm.data["trade_ids"] == list(wash.trade_ids)
    assert alarm.data["alert_id"] == alert.id and alarm.data["token_id"] == wash.token_id
    assert [d.channel for d in alarm.deliveries] == [recorder.name]

    again = job.run(surveilled.day)  # idempotent: same findings, nothing stored or raised again
    assert again.findings == report.findings and again.stored == () and again.raised == ()
    assert len(store.alarms()) == 4 and len(alerts_of_day(surveilled.engine, surveilled.day)) == 4


def test_surveillance_alarms_go_out_on_the_existing_channels_with_their_data(
    surveilled: Day, tmp_path: Path, clock: ManualClock, recorder: RecordingNotifier, hook: Hook
) -> None:
    from pydantic import SecretStr

    store = AlarmStore(f"sqlite:///{tmp_path / 'alarms.db'}")
    webhook = WebhookNotifier(hook.url, SecretStr("s3cret"))
    alarms = ComplianceAlarms(surveilled.c.compliance, store, [recorder, webhook], clock=clock)
    clock.now = 2_000_000_000
    job = MarketSurveillance(
        surveilled.engine, store, [n.name for n in alarms.notifiers], deliver=alarms.deliver, clock=clock
    )
    report = job.run(surveilled.day)  # default thresholds: the wash trades and the ramp only
    assert sorted(str(f.kind) for f in report.findings) == ["closing_ramp", "wash_trade"]
    assert len(report.deliveries) == 4 and all(d.delivered for d in report.deliveries)
    assert sorted(str(a.kind) for a in recorder.delivered) == ["closing_ramp", "wash_trade"]
    bodies = {b["kind"]: b for b in hook.bodies()}
    assert bodies["wash_trade"]["data"]["trade_ids"] == trades_between(
        surveilled.engine, surveilled.day, E0.address, E1.address
    )
    assert bodies["closing_ramp"]["data"]["figures"]["move_bps"] == 392
    assert job.run(surveilled.day).deliveries == ()  # delivered once


def test_surveillance_records_file_refused_by_name_imports_nothing(surveilled: Day) -> None:
    before = load_records(surveilled.engine)
    bad_address = RECORDS_CSV + "0xnot-an-address,G,C\n"
    duplicate = RECORDS_CSV + f"{E0.address.lower()},Other Group,Someone\n"
    letter = next(i for i, ch in enumerate(E3.address) if i > 1 and ch.isalpha())
    flipped = E3.address[:letter] + E3.address[letter].swapcase() + E3.address[letter + 1 :]
    wrong_checksum = RECORDS_CSV.replace(E3.address, flipped)
    for text, words in (
        (bad_address, ("records.csv line 6", "bad address '0xnot-an-address'")),
        (duplicate, ("records.csv line 6", "duplicate account", "first on line 2")),
        (wrong_checksum, ("records.csv line 5", "EIP-55 checksum is wrong")),
    ):
        with pytest.raises(SurveillanceInputError) as info:
            import_records(surveilled.engine, text, now=2, source="records.csv")
        assert all(w in str(info.value) for w in words), str(info.value)
        assert load_records(surveilled.engine) == before
    with surveilled.engine.connect() as conn:
        assert conn.scalar(select(func.max(m.MarketAccountRecord.recorded_at))) == 1


def test_surveillance_records_import_stores_checksummed_addresses_and_replaces_a_relisted_account(
    surveilled: Day,
) -> None:
    text = f"account,group,controller\n{E2.address.lower()},Ningbo Port Holdings,Ningbo SASAC\n"
    assert import_records(surveilled.engine, text, now=1) == 1
    assert {r.account for r in load_records(surveilled.engine)} == {e.address for e in (E0, E1, E2, E3)}


def test_surveillance_job_runs_after_the_close_of_trading_days_only(surveilled: Day) -> None:
    job = SurveillanceJob(lambda day: day, TradingCalendar())
    assert scan_due(job, datetime(2027, 3, 15, 6, 59, tzinfo=UTC)) is None  # 14:59 CST
    assert scan_due(job, datetime(2027, 3, 13, 7, 5, tzinfo=UTC)) is None  # a Saturday
    assert scan_due(job, datetime(2027, 3, 15, 7, 5, tzinfo=UTC)) == date(2027, 3, 15)

    def failing(day: date) -> None:
        raise SurveillanceInputError("broken")

    assert (
        scan_due(SurveillanceJob(failing, TradingCalendar()), datetime(2027, 3, 15, 7, 5, tzinfo=UTC)) is None
    )


def test_surveillance_thresholds_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ETS_SCHEDULER_SURVEILLANCE_RAMP_BPS", "500")
    settings = SchedulerSettings.load().surveillance_settings()
    assert settings == SurveillanceSettings(ramp_bps=500)
    monkeypatch.setenv("ETS_SCHEDULER_SURVEILLANCE_CONCENTRATION_BPS", "0")
    with pytest.raises(SurveillanceInputError, match="concentration_bps"):
        SchedulerSettings.load().surveillance_settings()


def test_surveillance_stores_and_raises_once_on_either_database(
    surveilled: Day, database_url: str, clock: ManualClock, recorder: RecordingNotifier
) -> None:
    engine = make_engine(database_url)
    upgrade(engine)
    with surveilled.engine.connect() as source, engine.begin() as target:
        for model in (m.MarketTrade, m.MarketRulebook, m.MarketReferencePrice, m.MarketAccountRecord):
            rows = [dict(r._mapping) for r in source.execute(select(model.__table__))]
            target.execute(insert(model), rows)
    store = AlarmStore(database_url)  # the alarm store beside the read model, in one database
    try:
        clock.now = 2_000_000_000
        job = MarketSurveillance(engine, store, [recorder.name], SETTINGS, clock=clock)
        first, again = job.run(surveilled.day), job.run(surveilled.day)
        assert len(first.stored) == len(first.raised) == len(first.findings) == 4
        assert all(a.deliveries and a.data and a.data["alert_id"] in first.stored for a in first.raised)
        assert again.stored == () and again.raised == () and len(store.pending(recorder.name)) == 4
    finally:
        store.close()
        engine.dispose()
