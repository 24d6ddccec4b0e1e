"""The review queue takes in the readings a field alarm marked for review, on SQLite and PostgreSQL:
a valid reading in a facility-stopped window becomes an item with the alarm as its reason, an
excluded reading in an instrument-maintenance window stays one item with both its exclusion and
the alarm, readings outside the windows and other devices' are not added, and a decision on a
marked reading closes it like any other item."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import insert
from sqlalchemy.orm import Session

from api.review import review_queue
from readmodel import models as m
from readmodel.alarms import store_review_mark
from readmodel.migrate import upgrade
from readmodel.session import make_engine

E0 = "0x00000000000000000000000000000000000000A1"
D0, D1 = "0x" + "d0" * 20, "0x" + "d1" * 20
BATCH = "0x" + "ba" * 32
START = int(datetime(2027, 1, 10, 8, tzinfo=UTC).timestamp())
MONTH = 202701


def _leaf(device: str, sequence: int) -> str:
    return "0x" + f"{int(device[2:4], 16):02x}{sequence:062x}"


def _reading(device: str, sequence: int, pollutant: str, exclusion: str | None = None) -> dict[str, object]:
    return {
        "batch_id": BATCH,
        "position": sequence + (100 if device == D1 else 0),
        "device": device,
        "sequence": sequence,
        "time": START + 60 * sequence,
        "pollutant": pollutant,
        "value": "405",
        "decimals": 1,
        "unit": "mg/L",
        "flag": "N",
        "leaf": _leaf(device, sequence),
        "frame_hashes": [],
        "frame_index": 0,
        "signature": "0x",
        "qc": "outlier" if exclusion else "measured",
        "exclusion": exclusion,
    }


def test_review_queue_lists_marked_readings_with_their_alarm(database_url: str) -> None:
    engine = make_engine(database_url)
    upgrade(engine)
    with Session(engine) as db, db.begin():
        db.execute(
            insert(m.Device),
            [
                {"address": D0, "enterprise": E0, "mn": "MN0", "bound": True, "updated_block": 1},
                {"address": D1, "enterprise": E0, "mn": "MN1", "bound": True, "updated_block": 1},
            ],
        )
        db.execute(
            insert(m.Batch).values(
                batch_id=BATCH, device=D0, enterprise=E0, first_sequence=0, last_sequence=9,
                previous_sequence=0, period_start=START, period_end=START + 600, count=10,
                root="0x" + "aa" * 32, totals=[], block_number=1, block_time=START, tx_hash="0x" + "cc" * 32,
            )
        )  # fmt: skip
        rows = [_reading(D0, i, p) for i, p in enumerate(["w01018", "w00000"] * 3)]
        rows[4] = _reading(D0, 4, "w01018", "outlier")
        rows += [_reading(D1, i, "w01018") for i in range(3)]
        db.execute(insert(m.Reading), rows)
        # MN0: facility stopped over sequences 1..2 (every factor); COD in maintenance from 4 on
        for uid, pollutant, begin, end, reason in (
            ("facility_stopped:MN0:SB1:1", "", START + 60, START + 120, "facility_stopped"),
            ("instrument_maintenance:MN0:w01018:4", "w01018", START + 240, None, "instrument_maintenance"),
        ):
            store_review_mark(
                db, alarm_uid=uid, mn="MN0", pollutant=pollutant, begin=begin, end=end, reason=reason
            )
        db.add(
            m.ReviewDecision(
                decision_id="0x" + "de" * 32, reviewer="0x" + "0e" * 20, reviewer_role=1, enterprise=E0,
                subject=_leaf(D0, 1), pollutant="w00000", month=MONTH, action="accept", method="",
                value="0", decimals=0, note_hash="0x" + "00" * 32, block_number=2, block_time=START,
                tx_hash="0x" + "dd" * 32,
            )
        )  # fmt: skip
    with Session(engine) as db:
        items = review_queue(db, enterprise=E0, month=MONTH)
        shown = [(i.subject, i.pollutant, i.exclusion, i.reason, i.alarm) for i in items]
        assert shown == [
            (_leaf(D0, 1), "w00000", None, "facility_stopped", "facility_stopped:MN0:SB1:1"),
            (_leaf(D0, 2), "w01018", None, "facility_stopped", "facility_stopped:MN0:SB1:1"),
            (
                _leaf(D0, 4),
                "w01018",
                "outlier",
                "instrument_maintenance",
                "instrument_maintenance:MN0:w01018:4",
            ),
        ]
        assert items[0].decision is not None and items[0].decision.action == "accept"
        assert [i.subject for i in review_queue(db, enterprise=E0, month=MONTH, open_only=True)] == [
            _leaf(D0, 2),
            _leaf(D0, 4),
        ]
        assert review_queue(db, enterprise=E0, month=202702) == []
    engine.dispose()
