"""A site's field alarms of every kind, raised by the real rules from real HJ 212 frames: a quota
alarm at 90 %, an over-standard hour, a treatment facility stopped while discharging, an
instrument in maintenance too long and a parameter change (tests of the relay, the API and the
dashboard)."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

from oracle.alarm import FieldAlarm
from oracle.facility import CN_FACILITY_STATUS, CN_FIELD_INFO, FacilityRules
from oracle.field import FieldStore, FieldWatch
from oracle.gateway import CHINA_STANDARD_TIME
from oracle.hj212 import CN_MINUTE_DATA, Frame, encode, parse
from oracle.quota import QuotaAlarm
from oracle.standards import ConcentrationLimit

#: The simulated hour the alarms are raised in (local time).
START = datetime(2027, 3, 1, 8, 0)


def _frame(mn: str, cn: str, when: datetime, values: dict[str, dict[str, str]], **extras: str) -> Frame:
    text = encode(
        st="32", cn=cn, pw="123456", mn=mn, flag=5, datatime=when, values=values, extras=extras or None
    )
    return parse(text.encode())


def _minute(mn: str, when: datetime, cod: str) -> Frame:
    values = {"w00000": {"Avg": "12.5", "Cou": "750", "Flag": "N"}, "w01018": {"Avg": cod, "Flag": "N"}}
    return _frame(mn, CN_MINUTE_DATA, when, values)


def raise_site_alarms(path: Path, enterprise: str, mn: str) -> list[FieldAlarm]:
    """Run the rules over a site's frames into the field store at ``path``; the alarms raised
    (one of each kind: parameter tampering, facility stopped, over-standard, instrument
    maintenance, quota), in the order raised."""
    store = FieldStore(path)
    watch = FieldWatch(
        store,
        {mn: enterprise},
        limits=[ConcentrationLimit(mn, "w01018", Decimal(50))],
        rules=FacilityRules(max_maintenance=timedelta(minutes=30)),
        zone=CHINA_STANDARD_TIME,
    )
    raised: list[FieldAlarm] = []
    params = {"i13004": {"Info": "500"}, "i13008": {"Info": "1.50"}}
    raised += watch.observe(_frame(mn, CN_FIELD_INFO, START, params, PolId="w01018"))
    params["i13008"] = {"Info": "0.90"}
    raised += watch.observe(_frame(mn, CN_FIELD_INFO, START + timedelta(minutes=1), params, PolId="w01018"))
    raised += watch.observe(
        _frame(mn, CN_FACILITY_STATUS, START + timedelta(minutes=2), {"SB1": {"RS": "0"}})
    )
    raised += watch.observe(
        _frame(mn, CN_FIELD_INFO, START + timedelta(minutes=3), {"i12001": {"Info": "1"}}, PolId="w01018")
    )
    for minute in range(4, 60, 5):
        raised += watch.observe(_minute(mn, START + timedelta(minutes=minute), "72.5"))
    raised += watch.observe(_minute(mn, START + timedelta(hours=1), "20"))
    raised += watch.record_quota(
        QuotaAlarm(enterprise, "w01018", 2027, 3, Decimal("0.9"), Decimal("90"), Decimal("100"), START)
    )
    store.close()
    return raised
