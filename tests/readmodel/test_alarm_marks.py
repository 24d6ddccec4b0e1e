"""The readings a facility or instrument alarm marked for review, on SQLite and PostgreSQL: a reading
is marked when its device (by MN code) has a mark whose window holds its time and whose factor is
its own or every factor; an open window runs on; other enterprises' and devices' readings are not."""

from __future__ import annotations

from sqlalchemy import insert
from sqlalchemy.orm import Session

from readmodel.alarms import marked_readings, store_review_mark
from readmodel.migrate import upgrade
from readmodel.models import Device, Reading
from readmodel.session import make_engine

E0 = "0x00000000000000000000000000000000000000A1"
E1 = "0x00000000000000000000000000000000000000B2"
D0, D1 = "0x" + "d0" * 20, "0x" + "d1" * 20


def _reading(device: str, sequence: int, time: int, pollutant: str) -> dict[str, object]:
    return {
        "batch_id": "0x" + "ba" * 32,
        "position": sequence + (1000 if device == D1 else 0),
        "device": device,
        "sequence": sequence,
        "time": time,
        "pollutant": pollutant,
        "value": "40",
        "decimals": 0,
        "unit": "mg/L",
        "flag": "N",
        "leaf": "0x" + f"{sequence:064x}",
        "frame_hashes": [],
        "frame_index": 0,
        "signature": "0x",
        "exclusion": None,
    }


def test_marked_readings_in_window_of_device_and_factor(database_url: str) -> None:
    engine = make_engine(database_url)
    upgrade(engine)
    with Session(engine) as db, db.begin():
        db.execute(
            insert(Device),
            [
                {"address": D0, "enterprise": E0, "mn": "MN0", "bound": True, "updated_block": 1},
                {"address": D1, "enterprise": E1, "mn": "MN1", "bound": True, "updated_block": 1},
            ],
        )
        rows = [_reading(D0, i, 1000 + 60 * i, p) for i, p in enumerate(["w01018", "w00000"] * 5)]
        rows += [_reading(D1, i, 1000 + 60 * i, "w01018") for i in range(10)]
        db.execute(insert(Reading), rows)
        # facility stopped 1060..1180 (every factor); COD analyser in maintenance from 1300, still open
        store_review_mark(
            db,
            alarm_uid="facility_stopped:MN0:SB1:1060",
            mn="MN0",
            pollutant="",
            begin=1060,
            end=1180,
            reason="facility_stopped",
        )
        store_review_mark(
            db,
            alarm_uid="instrument_maintenance:MN0:w01018:1300",
            mn="MN0",
            pollutant="w01018",
            begin=1300,
            end=None,
            reason="instrument_maintenance",
        )
        store_review_mark(
            db,
            alarm_uid="facility_stopped:MN1:SB1:5000",
            mn="MN1",
            pollutant="",
            begin=5000,
            end=None,
            reason="facility_stopped",
        )
    with Session(engine) as db:
        marked = marked_readings(db, enterprise=E0.lower(), start=0, end=10_000)
        assert [(r.sequence, r.pollutant, m.reason) for r, m in marked] == [
            (1, "w00000", "facility_stopped"),
            (2, "w01018", "facility_stopped"),
            (3, "w00000", "facility_stopped"),
            (6, "w01018", "instrument_maintenance"),
            (8, "w01018", "instrument_maintenance"),
        ]
        assert [r.sequence for r, _ in marked_readings(db, enterprise=E0, start=1100, end=1400)] == [2, 3, 6]
        assert marked_readings(db, enterprise=E1, start=0, end=10_000) == []
    engine.dispose()
