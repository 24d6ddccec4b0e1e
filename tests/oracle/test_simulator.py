"""Tests of the virtual HJ 212 controllers: frame content, daily cycle, faults, card swipes, links."""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import pairwise

import pytest

from oracle.errors import SimulationStateError, SimulatorConfigError
from oracle.hj212 import (
    CN_CARD_SWIPE,
    CN_MINUTE_DATA,
    FLAG_ACK,
    POLLUTANTS,
    VERSION_2017,
    DataFlag,
    Frame,
    needs_ack,
    parse,
)
from oracle.qc import PLAUSIBLE_RANGES, QcStatus, QualityControl
from oracle.quota import discharge_kg
from oracle.simulator.controller import FRAME_FLAG, VirtualController, fleet
from oracle.simulator.forward import LinkSettings, StoreAndForward
from oracle.simulator.links import PtyLink
from oracle.simulator.profiles import PROFILES, SiteKind, card_id, daily_load, device_mn
from oracle.simulator.simulation import Simulation, run_on_pty, run_over_tcp
from oracle.transport import SerialFrameReader, SerialSettings, TcpFrameServer, TcpSettings

START = datetime(2027, 3, 1, 0, 0)  # a Monday
PASSWORD = "pw-5c1e77"
KINDS = list(SiteKind)

#: Units the brief gives each factor: (concentration unit, total unit).
EXPECTED_UNITS = {
    SiteKind.WASTEWATER: {
        "w00000": ("L/s", "m³"),
        "w01018": ("mg/L", "kg"),
        "w21003": ("mg/L", "kg"),
        "w21011": ("mg/L", "kg"),
        "w21001": ("mg/L", "kg"),
        "w01001": ("", None),
        "w01010": ("°C", None),
        "w01012": ("mg/L", "kg"),
    },
    SiteKind.FLUE_GAS: {
        "a00000": ("m³/s", "m³"),
        "a21026": ("mg/m³", "kg"),
        "a21002": ("mg/m³", "kg"),
        "a34013": ("mg/m³", "kg"),
        "a19001": ("%", None),
        "a01012": ("°C", None),
        "a01014": ("%", None),
        "a05001": ("mg/m³", "kg"),
    },
}


def controller(
    kind: SiteKind = SiteKind.WASTEWATER,
    *,
    seed: int = 7,
    start: datetime = START,
    fault_rate: float = 0.0,
    card: str | None = None,
    index: int = 1,
) -> VirtualController:
    return VirtualController(
        device_mn(index),
        kind,
        start=start,
        seed=seed,
        password=PASSWORD,
        card_id=card,
        fault_rate=fault_rate,
    )


def minute_frames(ctl: VirtualController, count: int) -> list[Frame]:
    return [f for f in map(parse, ctl.frames(count)) if f.cn == CN_MINUTE_DATA]


def wait_until(predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


class Collector:
    """A gateway handler recording frames; optionally refusing some (no answer is sent then)."""

    def __init__(self, *, refuse: Callable[[Frame], bool] | None = None) -> None:
        self.frames: list[Frame] = []
        self.refused: list[Frame] = []
        self._refuse = refuse
        self._lock = threading.Lock()

    def __call__(self, frame: Frame) -> None:
        with self._lock:
            if self._refuse is not None and self._refuse(frame):
                self.refused.append(frame)
                raise RuntimeError("store unavailable")
            self.frames.append(frame)

    def snapshot(self) -> list[Frame]:
        with self._lock:
            return list(self.frames)


# --- profiles and identities ----------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_site_profile_uses_hj212_codes_and_units_for_each_factor(kind: SiteKind) -> None:
    profile = PROFILES[kind]
    assert [m.code for m in profile.factors] == list(EXPECTED_UNITS[kind])
    for model in profile.factors:
        pollutant = POLLUTANTS[model.code]
        assert (pollutant.unit, pollutant.total_unit) == EXPECTED_UNITS[kind][model.code]
        low, high = PLAUSIBLE_RANGES[model.code]
        assert low <= Decimal(model.idle) <= high and low <= Decimal(model.full) <= high


def test_device_mn_gives_regional_zero_padded_code_for_index() -> None:
    assert device_mn(42) == "33100200000042"
    assert len(device_mn(99_999_999)) <= 24
    assert card_id(42) == "TZIC00000042"


@pytest.mark.parametrize("index", [-1, 10**8])
def test_device_mn_raises_config_error_for_index_out_of_range(index: int) -> None:
    with pytest.raises(SimulatorConfigError):
        device_mn(index)


@pytest.mark.parametrize(
    "bad",
    [
        {"mn": ""},
        {"mn": "X" * 25},
        {"mn": "MN;1"},
        {"scale": 0.0},
        {"fault_rate": 1.5},
        {"start": datetime(2027, 1, 1, tzinfo=UTC)},
        {"password": "a;b"},
        {"card_id": "card 1"},
    ],
)
def test_virtual_controller_raises_config_error_for_bad_setting(bad: dict[str, object]) -> None:
    args: dict[str, object] = {"mn": "DEV1", "start": START, "seed": 1, **bad}
    mn = args.pop("mn")
    with pytest.raises(SimulatorConfigError):
        VirtualController(mn, SiteKind.WASTEWATER, **args)  # type: ignore[arg-type]


# --- frames ---------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_virtual_controller_frames_parse_with_eight_factors_and_ack_flag(kind: SiteKind) -> None:
    ctl = controller(kind, fault_rate=0.05, card=card_id(1))
    frames = [parse(wire) for wire in ctl.frames(300)]
    minutes = [f for f in frames if f.cn == CN_MINUTE_DATA]
    assert len(minutes) == 300 == ctl.minute_frames
    assert ctl.emitted == len(frames)
    for frame in frames:
        assert needs_ack(frame)
        assert frame.flag == FRAME_FLAG == (VERSION_2017 << 2) | FLAG_ACK == 5
        assert frame.standard == "HJ 212-2017"
        assert (frame.mn, frame.pw, frame.st) == (device_mn(1), PASSWORD, PROFILES[kind].st)
        assert frame.qn is not None and len(frame.qn) == 17 and frame.qn.isdigit()
    for frame in minutes:
        assert list(frame.values) == list(EXPECTED_UNITS[kind])
        for code, items in frame.values.items():
            has_total = POLLUTANTS[code].total_unit is not None
            assert set(items) == {"Avg", "Min", "Max", "Flag"} | ({"Cou"} if has_total else set())
            assert frame.value(code, "Min") <= frame.value(code, "Avg") <= frame.value(code, "Max")
            assert frame.flag_of(code) is not None


def test_virtual_controller_gives_unique_increasing_qns_and_minute_datatimes() -> None:
    ctl = controller(fault_rate=0.0, card=card_id(1), start=datetime(2027, 1, 31, 22, 0))
    frames = [parse(wire) for wire in ctl.frames(200)]
    qns = [f.qn or "" for f in frames]
    assert qns == sorted(qns) and len(set(qns)) == len(qns)
    times = [f.datatime for f in frames if f.cn == CN_MINUTE_DATA]
    assert times == [datetime(2027, 1, 31, 22, 0) + timedelta(minutes=i) for i in range(200)]
    assert ctl.clock == datetime(2027, 1, 31, 22, 0) + timedelta(minutes=200)


@pytest.mark.parametrize("kind", KINDS)
def test_virtual_controller_repeats_frames_for_same_seed(kind: SiteKind) -> None:
    first = list(controller(kind, seed=11, fault_rate=0.05, card=card_id(1)).frames(500))
    second = list(controller(kind, seed=11, fault_rate=0.05, card=card_id(1)).frames(500))
    assert first == second


def test_virtual_controller_differs_for_other_seed() -> None:
    first = list(controller(seed=11).frames(50))
    second = list(controller(seed=12).frames(50))
    assert all(a != b for a, b in zip(first, second, strict=True))


def test_virtual_controller_frames_continue_sequence_across_calls() -> None:
    split = controller(seed=3, fault_rate=0.05, card=card_id(1))
    parts = [*split.frames(10), *split.frames(5), split.next_frame()]
    whole = list(controller(seed=3, fault_rate=0.05, card=card_id(1)).frames(16))
    assert parts == whole


# --- totals ---------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_virtual_controller_cou_equals_concentration_times_volume_within_rounding(kind: SiteKind) -> None:
    profile = PROFILES[kind]
    flow = profile.flow.code
    per_second = Decimal("0.001") if kind is SiteKind.WASTEWATER else Decimal(1)
    divisor = Decimal(1_000) if kind is SiteKind.WASTEWATER else Decimal(1_000_000)
    half_unit = Decimal("0.0000005")
    ctl = controller(kind, fault_rate=0.05)
    frames = minute_frames(ctl, 1000)
    for frame in frames:
        volume = frame.value(flow, "Cou")
        assert volume == frame.value(flow, "Avg") * 60 * per_second
        for code in frame.values:
            if POLLUTANTS[code].total_unit == "kg":
                expected = frame.value(code, "Avg") * volume / divisor
                assert abs(frame.value(code, "Cou") - expected) <= half_unit, (frame.datatime, code)
        assert discharge_kg(frame) == {
            code: frame.value(code, "Cou") for code in frame.values if POLLUTANTS[code].total_unit == "kg"
        }


@pytest.mark.parametrize("kind", KINDS)
def test_virtual_controller_totals_equal_sum_of_emitted_cou(kind: SiteKind) -> None:
    ctl = controller(kind, fault_rate=0.05)
    totals: dict[str, Decimal] = {}
    for frame in minute_frames(ctl, 500):
        for code, items in frame.values.items():
            if "Cou" in items:
                totals[code] = totals.get(code, Decimal(0)) + Decimal(items["Cou"])
    assert ctl.totals == totals
    assert all(isinstance(v, Decimal) and v > 0 for v in totals.values())


def test_virtual_controller_scale_multiplies_flow() -> None:
    small = minute_frames(controller(seed=5), 60)
    big = VirtualController("DEV1", SiteKind.WASTEWATER, start=START, seed=5, scale=3.0, fault_rate=0.0)
    large = minute_frames(big, 60)
    ratio = sum(f.value("w00000", "Avg") for f in large) / sum(f.value("w00000", "Avg") for f in small)
    assert Decimal("2.9") < ratio < Decimal("3.1")


# --- daily cycle ----------------------------------------------------------------------------


def test_daily_load_is_low_at_night_and_high_in_working_day() -> None:
    assert daily_load(datetime(2027, 3, 1, 3, 0)) < 0.35
    assert daily_load(datetime(2027, 3, 1, 10, 0)) > 0.9
    assert daily_load(datetime(2027, 3, 6, 10, 0)) < daily_load(datetime(2027, 3, 5, 10, 0))  # Saturday


@pytest.mark.parametrize("kind", KINDS)
def test_virtual_controller_daytime_flow_exceeds_night_flow_over_two_days(kind: SiteKind) -> None:
    flow = PROFILES[kind].flow.code
    frames = minute_frames(controller(kind, fault_rate=0.0), 2 * 24 * 60)
    assert frames[-1].datatime == START + timedelta(days=2) - timedelta(minutes=1)
    day = [f.value(flow, "Avg") for f in frames if f.datatime is not None and 9 <= f.datatime.hour < 17]
    night = [f.value(flow, "Avg") for f in frames if f.datatime is not None and f.datatime.hour < 5]
    assert sum(day) / len(day) > 2 * sum(night) / len(night)


# --- faults and ranges ----------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_virtual_controller_emits_flags_spikes_and_gaps_at_high_fault_rate(kind: SiteKind) -> None:
    ctl = controller(kind, fault_rate=0.05)
    frames = minute_frames(ctl, 2000)
    flags = Counter(f.flag_of(code) for f in frames for code in f.values)
    assert flags[DataFlag.FAULT] and flags[DataFlag.MAINTENANCE] and flags[DataFlag.CALIBRATION]
    assert {flag: n for flag, n in flags.items() if flag is not DataFlag.NORMAL} == dict(ctl.flagged)
    assert set(ctl.events) == {"fault", "maintenance", "calibration", "spike", "gap"}
    times = [f.datatime for f in frames if f.datatime is not None]
    steps = Counter(b - a for a, b in pairwise(times))
    missed = sum((step // timedelta(minutes=1) - 1) * n for step, n in steps.items())
    assert missed == ctl.missed_minutes > 0
    assert min(steps) == timedelta(minutes=1)


@pytest.mark.parametrize("kind", KINDS)
def test_virtual_controller_emits_no_flags_spikes_or_gaps_at_zero_fault_rate(kind: SiteKind) -> None:
    ctl = controller(kind, fault_rate=0.0)
    frames = minute_frames(ctl, 2000)
    assert all(f.flag_of(code) is DataFlag.NORMAL for f in frames for code in f.values)
    assert not ctl.events and not ctl.flagged and ctl.missed_minutes == 0
    assert [f.datatime for f in frames] == [START + timedelta(minutes=i) for i in range(2000)]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("fault_rate", [0.0, 0.05])
def test_virtual_controller_keeps_values_in_plausible_ranges(kind: SiteKind, fault_rate: float) -> None:
    for frame in minute_frames(controller(kind, fault_rate=fault_rate), 2 * 24 * 60):
        for code, items in frame.values.items():
            low, high = PLAUSIBLE_RANGES[code]
            for suffix in ("Min", "Avg", "Max"):
                assert low <= Decimal(items[suffix]) <= high, (frame.datatime, code, suffix)
            if "Cou" in items:
                assert Decimal(items["Cou"]) >= 0


@pytest.mark.parametrize("kind", KINDS)
def test_quality_control_finds_outliers_and_fills_gaps_at_high_fault_rate(kind: SiteKind) -> None:
    qc = QualityControl()
    statuses = Counter(
        r.status for f in minute_frames(controller(kind, fault_rate=0.05), 2000) for r in qc.check(f)
    )
    assert statuses[QcStatus.FILLED] and statuses[QcStatus.OUTLIER]
    assert not statuses[QcStatus.INVALID]


@pytest.mark.parametrize("kind", KINDS)
def test_quality_control_accepts_all_readings_valid_at_zero_fault_rate(kind: SiteKind) -> None:
    qc = QualityControl()
    readings = [r for f in minute_frames(controller(kind, fault_rate=0.0), 1000) for r in qc.check(f)]
    assert not [r for r in readings if r.status in (QcStatus.FILLED, QcStatus.INVALID)]
    assert sum(r.valid_for_compliance for r in readings) / len(readings) > 0.99


# --- card swipes ----------------------------------------------------------------------------


def test_virtual_controller_sends_card_swipe_first_and_at_month_boundary() -> None:
    start = datetime(2027, 1, 31, 23, 50)
    ctl = controller(card=card_id(9), start=start)
    frames = [parse(wire) for wire in ctl.frames(20)]
    swipes = [i for i, f in enumerate(frames) if f.cn == CN_CARD_SWIPE]
    assert swipes == [0, 11] and ctl.card_swipes == 2 and len(frames) == 22
    for i in swipes:
        swipe, minute = frames[i], frames[i + 1]
        assert swipe.extras == {"CardId": card_id(9)} and not swipe.readings
        assert needs_ack(swipe) and swipe.flag == 5
        assert swipe.datatime is not None and minute.datatime is not None
        assert (swipe.datatime.year, swipe.datatime.month) == (minute.datatime.year, minute.datatime.month)
        assert minute.datatime <= swipe.datatime < minute.datatime + timedelta(minutes=1)
    assert frames[1].datatime == start
    assert frames[12].datatime == datetime(2027, 2, 1, 0, 0)
    assert frames[10].datatime == datetime(2027, 1, 31, 23, 59)


def test_virtual_controller_sends_no_card_swipe_without_card() -> None:
    frames = [parse(wire) for wire in controller(start=datetime(2027, 1, 31, 23, 50)).frames(20)]
    assert all(f.cn == CN_MINUTE_DATA for f in frames) and len(frames) == 20


# --- pseudo-terminal links ------------------------------------------------------------------


@pytest.fixture
def readers() -> Iterator[list[SerialFrameReader]]:
    started: list[SerialFrameReader] = []
    yield started
    for reader in started:
        reader.stop()


def open_reader(path: str, handler: Collector, readers: list[SerialFrameReader]) -> SerialFrameReader:
    reader = SerialFrameReader(SerialSettings(port=path, timeout=0.05), handler)
    reader.start()
    readers.append(reader)
    return reader


def test_simulation_on_pty_delivers_every_frame_once_in_order(readers: list[SerialFrameReader]) -> None:
    controllers = fleet(3, start=START, seed=21, fault_rate=0.05)
    expected = {
        c.mn: [parse(w) for w in twin.frames(40)]
        for c, twin in zip(controllers, fleet(3, start=START, seed=21, fault_rate=0.05), strict=True)
    }
    sim = run_on_pty(controllers, frames=40, settings=LinkSettings(ack_timeout=3.0), start=False)
    try:
        assert len(sim.ports) == 3 and len(set(sim.ports)) == 3
        collectors = [Collector() for _ in controllers]
        for path, collector in zip(sim.ports, collectors, strict=True):
            open_reader(path, collector, readers)
        sim.start()
        assert sim.join(15)
        assert sim.done and not sim.errors
        for ctl, collector, reader in zip(controllers, collectors, readers, strict=True):
            got = collector.snapshot()
            assert [(f.cn, f.qn, f.datatime) for f in got] == [
                (f.cn, f.qn, f.datatime) for f in expected[ctl.mn]
            ]
            assert got == expected[ctl.mn]
            stats = sim.stats()[ctl.mn]
            assert stats.minute_frames == 40 and stats.card_swipes == 1
            assert stats.sent == stats.answered == len(got) == 41
            assert stats.resent == stats.timeouts == 0
            # the reader counts an answer after writing it, so the device may see it first
            assert wait_until(lambda r=reader: r.stats.snapshot().acks_sent == 41), reader.stats.snapshot()
    finally:
        sim.stop()
    assert not any(link.connected for link in sim.links)


def test_simulation_on_pty_resends_frame_when_handler_refuses_first_attempt(
    readers: list[SerialFrameReader],
) -> None:
    refused_once: set[str | None] = set()

    def refuse(frame: Frame) -> bool:
        if frame.datatime is not None and frame.datatime.minute in (3, 7) and frame.qn not in refused_once:
            refused_once.add(frame.qn)
            return True
        return False

    collector = Collector(refuse=refuse)
    sim = run_on_pty([controller(seed=4)], frames=10, settings=LinkSettings(ack_timeout=0.8), start=False)
    try:
        open_reader(sim.ports[0], collector, readers)
        sim.start()
        assert sim.join(10)
        got = collector.snapshot()
        assert [f.datatime for f in got] == [START + timedelta(minutes=i) for i in range(10)]
        assert [f.datatime for f in collector.refused] == [
            START + timedelta(minutes=3),
            START + timedelta(minutes=7),
        ]
        assert [f.qn for f in collector.refused] == [got[3].qn, got[7].qn]  # the same frame, resent
        stats = sim.stats()[device_mn(1)]
        assert (stats.sent, stats.resent, stats.answered, stats.timeouts) == (12, 2, 10, 2)
        assert readers[0].stats.snapshot().handler_errors == 2
    finally:
        sim.stop()


def test_store_and_forward_gives_up_frame_after_max_attempts_without_answer() -> None:
    link = PtyLink()
    try:
        sender = StoreAndForward(controller(), link, LinkSettings(ack_timeout=0.05, max_attempts=3))
        sender.run(2)
        stats = sender.snapshot()
        assert (stats.sent, stats.resent, stats.answered, stats.unanswered) == (6, 4, 0, 2)
        assert stats.done and stats.minute_frames == 2
    finally:
        link.close()


def test_store_and_forward_waits_for_answer_until_stopped() -> None:
    link = PtyLink()
    stop = threading.Event()
    sender = StoreAndForward(controller(), link, LinkSettings(ack_timeout=0.05), stop=stop)
    thread = threading.Thread(target=sender.run, args=(5,))
    thread.start()
    try:
        assert wait_until(lambda: sender.snapshot().resent >= 2)
        assert sender.snapshot().minute_frames == 1  # never moves on unanswered
    finally:
        stop.set()
        thread.join(5)
        link.close()
    assert not thread.is_alive() and not sender.snapshot().done


def test_simulation_raises_state_error_when_started_twice() -> None:
    sim = run_on_pty([controller()], frames=0)
    try:
        assert sim.join(5) and sim.done
        with pytest.raises(SimulationStateError):
            sim.start()
    finally:
        sim.stop()
    sim.stop()


def test_simulation_raises_config_error_for_duplicate_mn() -> None:
    links = [PtyLink(), PtyLink()]
    try:
        with pytest.raises(SimulatorConfigError):
            Simulation([controller(), controller()], links, frames=1)
    finally:
        for link in links:
            link.close()


# --- TCP links ------------------------------------------------------------------------------


def test_simulation_over_tcp_reconnects_after_gateway_restart_and_misses_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    first, second = Collector(), Collector()
    server = TcpFrameServer(TcpSettings(port=0), first)
    server.start()
    host, port = server.address
    restarted: TcpFrameServer | None = None
    controllers = fleet(2, start=datetime(2027, 1, 31, 23, 40), seed=8, password=PASSWORD, fault_rate=0.05)
    twins = fleet(2, start=datetime(2027, 1, 31, 23, 40), seed=8, password=PASSWORD, fault_rate=0.05)
    settings = LinkSettings(ack_timeout=0.3, reconnect_delay=0.02, max_reconnect_delay=0.1)
    sim = run_over_tcp(controllers, host, port, frames=60, interval=0.01, settings=settings)
    try:
        assert wait_until(lambda: len(first.snapshot()) >= 40)
        server.stop()
        time.sleep(0.2)  # the controllers see refused connections
        restarted = TcpFrameServer(TcpSettings(port=port), second)
        restarted.start()
        assert sim.join(20) and sim.done and not sim.errors
        received = first.snapshot() + second.snapshot()
        assert second.snapshot()
        for ctl, twin in zip(controllers, twins, strict=True):
            expected = {(f.cn, f.datatime) for f in map(parse, twin.frames(60))}
            got = {(f.cn, f.datatime) for f in received if f.mn == ctl.mn}
            assert got == expected
            stats = sim.stats()[ctl.mn]
            assert stats.answered == stats.minute_frames + stats.card_swipes == 62
            assert stats.reconnects >= 1 and stats.link_errors >= 1
    finally:
        sim.stop()
        if restarted is not None:
            restarted.stop()
        server.stop()
    assert PASSWORD not in caplog.text
