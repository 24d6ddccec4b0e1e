"""Field rules across gateway restarts and crashes: the rules' state (open hourly averages,
facility and instrument status) lives in the field store, and a frame's alarms, marks and state
are committed with the frame (the queue's outbox) and moved to the field store after it."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from oracle.errors import FieldStoreError
from oracle.facility import CN_FACILITY_STATUS, CN_FIELD_INFO, FacilityRules
from oracle.field import FieldEffects, FieldStore, FieldWatch
from oracle.gateway import CHINA_STANDARD_TIME, Gateway
from oracle.hj212 import Frame
from oracle.queue import Queue
from tests.oracle.test_field_alarms import COD_LIMIT, START, cod_minute, params, wire
from tests.oracle.test_gateway import ENTERPRISE_A, LATE, MN_A, devices
from tests.utils.readings import DOMAIN

RULES = FacilityRules(max_maintenance=timedelta(minutes=30))


@contextmanager
def site(directory: Path) -> Iterator[tuple[Gateway, Queue, FieldWatch]]:
    """A gateway with its field rules over the queue and field store in ``directory``."""
    queue = Queue(directory / "queue.db")
    store = FieldStore(directory / "field.db")
    watch = FieldWatch(store, {MN_A: ENTERPRISE_A}, limits=[COD_LIMIT], rules=RULES, zone=CHINA_STANDARD_TIME)
    try:
        yield Gateway(devices(), queue, DOMAIN, clock=lambda: LATE, watch=watch), queue, watch
    finally:
        queue.close()
        store.close()


def recorded(directory: Path) -> tuple[list[dict[str, Any]], list[Any]]:
    """The field store's alarms (without outbox ids) and review marks."""
    with FieldStore(directory / "field.db") as store:
        return [a.to_dict() for _, a in store.alarms()], store.marks()


# A frame of the stream: minutes after the previous one, and what it carries.
step = st.tuples(
    st.integers(1, 12),
    st.one_of(
        st.tuples(
            st.just("minute"), st.sampled_from(["20", "45", "60", "130"]), st.sampled_from(["N", "N", "M"])
        ),
        st.tuples(st.just("minute"), st.sampled_from(["30", "70"]), st.just("N")),
        st.tuples(st.just("flow"), st.sampled_from(["0", "12.5"]), st.just("N")),
        st.tuples(st.just("facility"), st.sampled_from(["0", "1"]), st.just("")),
        st.tuples(st.just("instrument"), st.sampled_from(["0", "1"]), st.just("")),
        st.tuples(st.just("parameter"), st.sampled_from(["1.50", "1.5", "1.80"]), st.just("")),
    ),
)


def frames_of(steps: Sequence[tuple[int, tuple[str, str, str]]]) -> list[Frame]:
    out = []
    when = START
    for minutes, (kind, value, flag) in steps:
        when += timedelta(minutes=minutes)
        if kind == "minute":
            out.append(cod_minute(when, value, flag=flag))
        elif kind == "flow":
            out.append(cod_minute(when, "40", flow=value))
        elif kind == "facility":
            out.append(wire(CN_FACILITY_STATUS, when, {"SB1": {"RS": value}}))
        elif kind == "instrument":
            out.append(wire(CN_FIELD_INFO, when, {"i12001": {"Info": value}}, {"PolId": "w01018"}))
        else:
            out.append(params(when, value))
    return out


@settings(max_examples=12, deadline=None)
@given(
    steps=st.lists(step, min_size=1, max_size=40),
    cut=st.floats(0, 1),
    crash=st.sampled_from(["stop", "before_field_store", "before_queue_removal"]),
)
def test_field_rules_after_restart_raise_what_an_uninterrupted_gateway_raises(
    steps: list[tuple[int, tuple[str, str, str]]], cut: float, crash: str
) -> None:
    """Restart at any frame (cleanly, or crashed right after the queue's commit of the frame
    before, or after the field store took its effects but before the queue let them go)."""
    frames = frames_of(steps)
    k = round(cut * len(frames))
    with tempfile.TemporaryDirectory() as whole, tempfile.TemporaryDirectory() as parts:
        with site(Path(whole)) as (gateway, _, _):
            for frame in frames:
                gateway.handle(frame)
        with site(Path(parts)) as (gateway, queue, watch), pytest.MonkeyPatch.context() as patch:
            for i, frame in enumerate(frames[:k]):
                if i == k - 1 and crash == "before_field_store":
                    patch.setattr(watch, "deliver", lambda *_a, **_k: [])  # the process dies after the commit
                if i == k - 1 and crash == "before_queue_removal":
                    patch.setattr(queue, "drop_outbox", lambda _ids: None)  # dies before the removal
                gateway.handle(frame)
        with site(Path(parts)) as (gateway, _, _):
            for frame in frames[k:]:
                gateway.handle(frame)
        assert recorded(Path(parts)) == recorded(Path(whole))


def test_field_rules_mid_hour_restart_averages_the_whole_hour_and_keeps_the_stop(tmp_path: Path) -> None:
    with site(tmp_path) as (gateway, _, _):
        for minute in range(2):
            gateway.handle(cod_minute(START + timedelta(minutes=minute), "90", flow="0"))
        gateway.handle(wire(CN_FACILITY_STATUS, START + timedelta(minutes=2), {"SB1": {"RS": "0"}}))
    assert recorded(tmp_path) == ([], [])  # nothing discharged while stopped yet
    with site(tmp_path) as (gateway, _, _):  # restarted mid-hour, the facility stopped before
        for minute in range(3, 7):
            gateway.handle(cod_minute(START + timedelta(minutes=minute), "40"))
        gateway.handle(cod_minute(START + timedelta(hours=1), "20"))
    alarms, marks = recorded(tmp_path)
    # the outlet discharges with the facility stopped before the restart; the hour's six
    # values average (2 x 90 + 4 x 40) / 6 = 56.7 > 50 (the four after the restart alone: 40)
    assert [(a["kind"], a["data"].get("samples")) for a in alarms] == [
        ("facility_stopped", None),
        ("over_standard", 6),
    ]
    assert alarms[0]["data"]["stopped_since"] == int(
        (START + timedelta(minutes=2)).replace(tzinfo=CHINA_STANDARD_TIME).timestamp()
    )
    assert [(m.reason, m.end) for m in marks] == [("facility_stopped", None)]


def test_field_alarms_kept_in_the_queue_when_the_field_store_fails_then_moved_once(tmp_path: Path) -> None:
    frames = [
        params(START, "1.50"),
        params(START + timedelta(minutes=1), "1.80"),
        wire(CN_FACILITY_STATUS, START + timedelta(minutes=2), {"SB1": {"RS": "0"}}),
        *(cod_minute(START + timedelta(minutes=m), "90") for m in range(3, 10)),
        cod_minute(START + timedelta(hours=1), "20"),
    ]
    (tmp_path / "whole").mkdir()
    with site(tmp_path / "whole") as (gateway, _, _):
        for frame in frames:
            gateway.handle(frame)
    expected = recorded(tmp_path / "whole")
    assert [a["kind"] for a in expected[0]] == ["parameter_tampering", "facility_stopped", "over_standard"]

    def failing(_effects: Sequence[FieldEffects]) -> list[Any]:
        raise FieldStoreError("disk I/O error")

    with site(tmp_path) as (gateway, queue, watch), pytest.MonkeyPatch.context() as patch:
        patch.setattr(watch.store, "apply", failing)
        for frame in frames:
            gateway.handle(frame)  # every frame stored and answered
        assert queue.frame_count() == len(frames) and len(queue.outbox()) > 0
    assert recorded(tmp_path) == ([], [])
    for _ in range(2):  # restarted (twice): moved once, nothing lost, nothing twice
        with site(tmp_path) as (_, queue, _):
            assert queue.outbox() == []
        assert recorded(tmp_path) == expected


def test_field_rules_forget_a_frame_the_queue_refused(tmp_path: Path) -> None:
    with site(tmp_path) as (gateway, _, watch):
        stop = wire(CN_FACILITY_STATUS, START, {"SB1": {"RS": "0"}})
        gateway.handle(stop)
        gateway.handle(wire(CN_FACILITY_STATUS, START + timedelta(minutes=1), {"SB1": {"RS": "1"}}))
        gateway.handle(stop)  # re-sent (its answer was lost): refused by its key
        assert watch.facility.state(MN_A)["stopped_since"] == {}
        gateway.handle(cod_minute(START + timedelta(minutes=2), "40"))
    assert recorded(tmp_path) == ([], [])


def test_field_effects_round_trip_through_their_outbox_document() -> None:
    frame_time = int(START.replace(tzinfo=CHINA_STANDARD_TIME).timestamp())
    with tempfile.TemporaryDirectory() as directory:
        store = FieldStore(Path(directory) / "field.db")
        watch = FieldWatch(store, {MN_A: ENTERPRISE_A}, zone=CHINA_STANDARD_TIME, rules=RULES)
        watch.observe(params(START, "1.50"))
        effects = watch.effects(params(START + timedelta(minutes=1), "1.80"))
        watch.effects(wire(CN_FACILITY_STATUS, START + timedelta(minutes=2), {"SB1": {"RS": "0"}}))
        stopped = watch.effects(cod_minute(START + timedelta(minutes=3), "40"))
        store.close()
    for one in (effects, stopped):
        assert FieldEffects.from_json(one.to_json()) == one
    assert stopped.marks[0].begin == frame_time + 120 and stopped.state is not None
    assert [c.value for c in effects.baseline] == ["1.80"] and effects.urgent


def test_field_watch_loads_state_written_by_observe(tmp_path: Path) -> None:
    def watch() -> FieldWatch:
        return FieldWatch(
            FieldStore(tmp_path / "field.db"),
            {MN_A: ENTERPRISE_A},
            limits=[COD_LIMIT],
            zone=CHINA_STANDARD_TIME,
        )

    first = watch()
    first.observe(cod_minute(START, "80"))
    first.store.close()
    second = watch()
    assert second.standards.state(MN_A)["hours"] == {"w01018": [datetime(2027, 3, 1, 8).isoformat(), "80", 1]}
    (alarm,) = second.observe(cod_minute(START + timedelta(hours=1), "10"))
    assert alarm.data["average"] == "80.000"
    second.store.close()
