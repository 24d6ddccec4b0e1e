"""Field alarms on real HJ 212 frames: over-standard hourly averages (minute and hourly data, the
permit's limit over the site file's), facility stopped while discharging, instrument maintenance
too long, parameter tampering against a baseline that survives a gateway restart, the outbox."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from chain.permits import Term
from domain.tokens import pollutant_code
from oracle.alarm import FieldAlarmKind, Severity
from oracle.errors import FieldConfigError
from oracle.facility import CN_FACILITY_STATUS, CN_FIELD_INFO, FacilityRules
from oracle.field import FieldStore, FieldWatch
from oracle.gateway import CHINA_STANDARD_TIME, Gateway
from oracle.hj212 import CN_HOUR_DATA, Frame, encode, parse
from oracle.queue import Queue
from oracle.quota import QuotaAlarm
from oracle.simulator.controller import VirtualController
from oracle.simulator.field import FieldScript
from oracle.simulator.profiles import SiteKind
from oracle.standards import ConcentrationLimit, StandardsMonitor, limits_from_permit
from tests.oracle.test_gateway import ENTERPRISE_A, LATE, MN_A, MN_B, devices
from tests.utils.readings import DOMAIN, device_password, minute_frame

START = datetime(2027, 3, 1, 8, 0)
COD_LIMIT = ConcentrationLimit(MN_A, "w01018", Decimal("50"))


def wire(
    cn: str, when: datetime, values: dict[str, dict[str, str]], extras: dict[str, str] | None = None
) -> Frame:
    """A frame as a controller sends it, parsed back from its bytes (CRC checked)."""
    text = encode(
        st="32", cn=cn, pw=device_password(MN_A), mn=MN_A, flag=5, datatime=when, values=values, extras=extras
    )
    return parse(text.encode())


def cod_minute(when: datetime, cod: str, *, flow: str = "12.5", flag: str = "N") -> Frame:
    return minute_frame(MN_A, when, factors=(("w00000", flow, "750.0"), ("w01018", cod, "1.0")), flag=flag)


def watch(tmp_path: Path, **kwargs: object) -> FieldWatch:
    return FieldWatch(
        FieldStore(tmp_path / "field.db"),
        {MN_A: ENTERPRISE_A},
        zone=CHINA_STANDARD_TIME,
        **kwargs,  # type: ignore[arg-type]
    )


def test_standards_alarm_raised_once_when_hourly_average_of_minutes_above_limit(tmp_path: Path) -> None:
    w = watch(tmp_path, limits=[COD_LIMIT])
    raised = []
    for minute, cod in enumerate(["40", "70", "60"]):  # mean 56.667 > 50
        raised += w.observe(cod_minute(START + timedelta(minutes=minute * 20), cod))
    assert raised == []  # the hour is still open
    raised += w.observe(cod_minute(START + timedelta(hours=1), "10"))
    assert [a.kind for a in raised] == [FieldAlarmKind.OVER_STANDARD]
    alarm = raised[0]
    assert alarm.data["average"] == "56.667" and alarm.data["limit"] == "50" and alarm.data["samples"] == 3
    assert (
        alarm.enterprise == ENTERPRISE_A
        and alarm.pollutant == "w01018"
        and alarm.severity == Severity.WARNING
    )
    # the hourly frame of the same hour is the same alarm: stored once
    hourly = wire(CN_HOUR_DATA, START, {"w01018": {"Avg": "56.7", "Flag": "N"}})
    assert w.observe(hourly) == []
    assert [a.uid for _, a in w.store.alarms()] == [alarm.uid]


def test_standards_no_alarm_when_flagged_values_alone_exceed(tmp_path: Path) -> None:
    w = watch(tmp_path, limits=[COD_LIMIT])
    w.observe(cod_minute(START, "40"))
    w.observe(cod_minute(START + timedelta(minutes=10), "500", flag="M"))  # maintenance value: no measurement
    assert w.observe(cod_minute(START + timedelta(hours=1), "10")) == []


def test_standards_hourly_frame_alarm_critical_at_twice_the_limit(tmp_path: Path) -> None:
    w = watch(tmp_path, limits=[COD_LIMIT])
    (alarm,) = w.observe(wire(CN_HOUR_DATA, START, {"w01018": {"Avg": "120", "Flag": "N"}}))
    assert alarm.severity == Severity.CRITICAL and alarm.data["basis"] == "hourly data"
    assert (
        w.observe(wire(CN_HOUR_DATA, START + timedelta(hours=1), {"w01018": {"Avg": "50", "Flag": "N"}}))
        == []
    )


def test_standards_permit_limit_wins_over_site_file() -> None:
    limits = limits_from_permit(
        7, [MN_A], [Term(pollutant_code("COD"), 100, 30_000), Term(pollutant_code("SO2"), 100, 0)]
    )
    assert limits == [ConcentrationLimit(MN_A, "w01018", Decimal(30), "permit", 7)]
    monitor = StandardsMonitor([COD_LIMIT, *limits])
    assert monitor.limits == limits


def test_standards_limit_refused_when_not_positive() -> None:
    with pytest.raises(FieldConfigError):
        ConcentrationLimit(MN_A, "w01018", Decimal(0))


def test_facility_stopped_while_discharging_raises_and_marks_for_review(tmp_path: Path) -> None:
    w = watch(tmp_path)
    assert w.observe(wire(CN_FACILITY_STATUS, START, {"SB1": {"RS": "1"}})) == []
    assert w.observe(cod_minute(START + timedelta(minutes=1), "40")) == []
    (alarm,) = w.observe(wire(CN_FACILITY_STATUS, START + timedelta(minutes=2), {"SB1": {"RS": "0"}}))
    assert alarm.kind == FieldAlarmKind.FACILITY_STOPPED and alarm.severity == Severity.CRITICAL
    assert w.observe(cod_minute(START + timedelta(minutes=3), "40")) == []  # the same stop: once
    (mark,) = w.store.marks()
    assert (mark.alarm, mark.mn, mark.pollutant, mark.end) == (alarm.uid, MN_A, "", None)
    w.observe(wire(CN_FACILITY_STATUS, START + timedelta(minutes=30), {"SB1": {"RS": "1"}}))
    (mark,) = w.store.marks()
    assert mark.end is not None and mark.end - mark.begin == 28 * 60


def test_facility_stopped_without_discharge_no_alarm(tmp_path: Path) -> None:
    w = watch(tmp_path)
    w.observe(cod_minute(START, "40", flow="0"))
    assert w.observe(wire(CN_FACILITY_STATUS, START + timedelta(minutes=1), {"SB1": {"RS": "0"}})) == []


def test_facility_instrument_maintenance_alarm_only_after_allowance(tmp_path: Path) -> None:
    w = watch(tmp_path, rules=FacilityRules(max_maintenance=timedelta(hours=2)))
    info = {"PolId": "w01018"}
    assert w.observe(wire(CN_FIELD_INFO, START, {"i12001": {"Info": "1"}}, info)) == []
    assert w.observe(cod_minute(START + timedelta(hours=2), "40")) == []  # exactly the allowance
    (alarm,) = w.observe(cod_minute(START + timedelta(hours=2, minutes=1), "40"))
    assert alarm.kind == FieldAlarmKind.INSTRUMENT_MAINTENANCE and alarm.pollutant == "w01018"
    assert alarm.data["seconds"] == 2 * 3600 + 60
    (mark,) = w.store.marks()
    assert (mark.pollutant, mark.begin) == (
        "w01018",
        int(START.replace(tzinfo=CHINA_STANDARD_TIME).timestamp()),
    )
    assert w.observe(wire(CN_FIELD_INFO, START + timedelta(hours=3), {"i12001": {"Info": "0"}}, info)) == []
    assert w.store.marks()[0].end is not None


def test_facility_rules_refuse_non_positive_allowance() -> None:
    with pytest.raises(FieldConfigError):
        FacilityRules(max_maintenance=timedelta(0))


def params(when: datetime, slope: str, range_: str = "500") -> Frame:
    return wire(
        CN_FIELD_INFO, when, {"i13004": {"Info": range_}, "i13008": {"Info": slope}}, {"PolId": "w01018"}
    )


def test_tamper_first_upload_is_baseline_change_alarmed_once(tmp_path: Path) -> None:
    w = watch(tmp_path)
    assert w.observe(params(START, "1.50")) == []
    assert w.observe(params(START + timedelta(minutes=1), "1.5")) == []  # the same number
    (alarm,) = w.observe(params(START + timedelta(minutes=2), "1.80"))
    assert alarm.kind == FieldAlarmKind.PARAMETER_TAMPERING
    assert (alarm.data["item"], alarm.data["old"], alarm.data["new"]) == ("i13008", "1.50", "1.80")
    assert w.observe(params(START + timedelta(minutes=3), "1.80")) == []


def test_tamper_ignores_state_and_log_information_changes(tmp_path: Path) -> None:
    w = watch(tmp_path)
    status = {"i12001": {"Info": "0"}, "i11001": {"Info": "started"}}
    assert w.observe(wire(CN_FIELD_INFO, START, status, {"PolId": "w01018"})) == []
    status = {"i12001": {"Info": "2"}, "i11001": {"Info": "measuring"}}
    assert w.observe(wire(CN_FIELD_INFO, START + timedelta(minutes=1), status, {"PolId": "w01018"})) == []


def test_tamper_keeps_parameters_per_pollutant_and_device(tmp_path: Path) -> None:
    w = FieldWatch(
        FieldStore(tmp_path / "field.db"), {MN_A: ENTERPRISE_A, MN_B: ENTERPRISE_A}, zone=CHINA_STANDARD_TIME
    )
    assert w.observe(params(START, "1.0")) == []
    other = wire(CN_FIELD_INFO, START, {"i13008": {"Info": "2.0"}}, {"PolId": "w21003"})
    assert w.observe(other) == []
    text = encode(
        st="32",
        cn=CN_FIELD_INFO,
        pw=device_password(MN_B),
        mn=MN_B,
        flag=5,
        datatime=START,
        values={"i13008": {"Info": "3.0"}},
        extras={"PolId": "w01018"},
    )
    assert w.observe(parse(text.encode())) == []
    assert w.tamper.baseline(MN_A) == {
        ("w01018", "i13004"): "500",
        ("w01018", "i13008"): "1.0",
        ("w21003", "i13008"): "2.0",
    }


def test_tamper_baseline_survives_gateway_restart(tmp_path: Path) -> None:
    def gateway() -> tuple[Gateway, Queue, FieldWatch]:
        queue = Queue(tmp_path / "queue.db")
        w = watch(tmp_path)
        return Gateway(devices(), queue, DOMAIN, clock=lambda: LATE, watch=w), queue, w

    g, queue, w = gateway()
    g.handle(params(START, "1.50"))
    queue.close()
    w.store.close()

    g, queue, w = gateway()  # restarted: nothing in memory
    g.handle(params(START + timedelta(hours=1), "1.50"))
    assert w.store.alarms() == []
    g.handle(params(START + timedelta(hours=2), "2.00"))
    ((_, alarm),) = w.store.alarms()
    assert (alarm.data["old"], alarm.data["new"]) == ("1.50", "2.00")
    queue.close()
    w.store.close()


def test_field_quota_alarm_recorded_with_grade(tmp_path: Path) -> None:
    w = watch(tmp_path)
    alarm = QuotaAlarm(ENTERPRISE_A, "w01018", 2027, 3, Decimal("0.9"), Decimal("90"), Decimal("100"), START)
    (recorded,) = w.record_quota(alarm)
    assert recorded.severity == Severity.WARNING and recorded.mn == MN_A
    assert recorded.key == f"{MN_A}:w01018:202703:90"
    assert w.record_quota(alarm) == []  # once
    ((outbox_id, _),) = w.store.alarms(pending_only=True)
    w.store.mark_relayed([outbox_id], 1)
    assert w.store.alarms(pending_only=True) == []


def test_simulated_controller_plays_field_script_one_alarm_of_each_kind(tmp_path: Path) -> None:
    controller = VirtualController(
        MN_A, SiteKind.WASTEWATER, start=datetime(2027, 1, 1), seed=7, fault_rate=0.0
    )
    controller.field = FieldScript(
        "w01018", parameters_at=(0, 30), facility_stop=(40, 50), maintenance=(60, 100), over_standard=180
    )
    w = watch(
        tmp_path,
        limits=[ConcentrationLimit(MN_A, "w01018", Decimal(100))],
        rules=FacilityRules(max_maintenance=timedelta(minutes=30)),
    )
    raised = [alarm for wire in controller.frames(250) for alarm in w.observe(parse(wire.encode()))]
    assert [a.kind for a in raised] == [
        FieldAlarmKind.PARAMETER_TAMPERING,
        FieldAlarmKind.FACILITY_STOPPED,
        FieldAlarmKind.INSTRUMENT_MAINTENANCE,
        FieldAlarmKind.OVER_STANDARD,
    ]
    assert raised[0].data["new"] == "1.20" and raised[3].data["hour"] == "2027-01-01 03:00"


def test_standards_late_frame_of_a_closed_hour_not_counted(tmp_path: Path) -> None:
    w = watch(tmp_path, limits=[COD_LIMIT])
    w.observe(cod_minute(START, "40"))
    # 08:00 closed at 40 by a maintenance-flagged 09:00 value, which opens no hour
    assert w.observe(cod_minute(START + timedelta(hours=1), "40", flag="M")) == []
    late = cod_minute(START + timedelta(minutes=30), "900")  # back-filled 08:30, far above
    assert w.observe(late) == []
    assert w.observe(cod_minute(START + timedelta(hours=1, minutes=5), "40")) == []
    assert w.observe(cod_minute(START + timedelta(hours=2), "40")) == []
    assert w.store.alarms() == []
