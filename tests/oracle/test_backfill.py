"""Back-fill: the gateway finds gaps, asks the controller for its stored frames with HJ 212-2017
history requests, and stores what comes back signed, marked back-filled and never twice; over
real pseudo-terminals and TCP, and the refusals (outside the window, another QN or MN, bad CRC,
replays, floods)."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import datetime

import pytest

from oracle.backfill import Backfiller, Gap
from oracle.errors import HistoryLimitError, HistoryRequestError, HistoryWindowError, UnknownDeviceError
from oracle.gateway import CHINA_STANDARD_TIME
from oracle.hj212 import (
    CN_EXECUTION_RESULT,
    CN_HOUR_DATA,
    CN_MINUTE_DATA,
    CN_REQUEST_ANSWER,
    HISTORY_REQUEST_FLAG,
    ExeRtn,
    Frame,
    FrameScanner,
    QnRtn,
    execution_result,
    history_request,
    history_window,
    is_history_request,
    parse,
    request_answer,
)
from oracle.queue import Queue
from oracle.signing.proof import verify
from oracle.simulator.forward import LinkSettings, StoreAndForward
from oracle.simulator.links import PtyLink
from oracle.simulator.simulation import run_on_pty, run_over_tcp
from oracle.transport import (
    FrameLink,
    SerialFrameReader,
    SerialSettings,
    TcpFrameServer,
    TcpSettings,
    TransportStats,
)
from readmodel.indexer.readings import reading_row
from tests.utils.backfill import MINUTE, PASSWORD, START, controllers, gateway
from tests.utils.readings import BASE_TIME, DOMAIN, frame_fields, signer


def stored_times(queue: Queue, mn: str) -> set[datetime]:
    with queue._read() as conn:  # the frames table is the gateway's record of what it stored
        rows = conn.exec_driver_sql("SELECT datatime FROM frames WHERE mn = ? AND cn = '2051'", (mn,)).all()
    return {datetime.fromtimestamp(t, CHINA_STANDARD_TIME).replace(tzinfo=None) for (t,) in rows}


def wait_until(predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


# --- codec ----------------------------------------------------------------------------------


def test_history_request_carries_window_flag_and_parses_back() -> None:
    wire = history_request(
        st="32", cn=CN_MINUTE_DATA, pw=PASSWORD, mn="MN1", qn="20270301010000000",
        begin=START, end=START + 4 * MINUTE,
    )  # fmt: skip
    frame = parse(wire)
    assert frame.cn == CN_MINUTE_DATA and frame.flag == HISTORY_REQUEST_FLAG == 5 and frame.needs_ack
    assert frame.extras == {"BeginTime": "20270301000000", "EndTime": "20270301000400"}
    assert is_history_request(frame) and history_window(frame) == (START, START + 4 * MINUTE)
    answer = parse(request_answer(frame))
    assert (answer.cn, answer.st, answer.qn, answer.extras) == (
        CN_REQUEST_ANSWER,
        "91",
        frame.qn,
        {"QnRtn": "1"},
    )
    done = parse(execution_result(frame, ExeRtn.NO_DATA))
    assert (done.cn, done.extras) == (CN_EXECUTION_RESULT, {"ExeRtn": "100"})


@pytest.mark.parametrize(
    ("cn", "begin", "end"),
    [("2011", START, START), (CN_MINUTE_DATA, START + MINUTE, START)],
)
def test_history_request_raises_value_error_for_bad_command_or_window(
    cn: str, begin: datetime, end: datetime
) -> None:
    with pytest.raises(ValueError):
        history_request(st="32", cn=cn, pw=PASSWORD, mn="MN1", qn="20270301010000000", begin=begin, end=end)


# --- gap finding ----------------------------------------------------------------------------


def test_backfiller_opens_gap_for_missing_minutes_and_none_for_regular_ones() -> None:
    finder = Backfiller(clock=lambda: 0.0)
    assert finder.observe("A", CN_MINUTE_DATA, START) is None
    assert finder.observe("A", CN_MINUTE_DATA, START + MINUTE) is None
    gap = finder.observe("A", CN_MINUTE_DATA, START + 5 * MINUTE)
    assert gap == Gap("A", CN_MINUTE_DATA, START + 2 * MINUTE, START + 4 * MINUTE)
    assert finder.observe("A", "2011", START + 9 * MINUTE) is None  # real-time data is not asked for
    assert finder.observe("A", CN_HOUR_DATA, START) is None
    assert finder.gaps("A") == [gap] and finder.stats.gaps_found == 1


def test_backfiller_opens_no_gap_when_no_whole_step_is_missing() -> None:
    finder = Backfiller(clock=lambda: 0.0)
    when = START
    for _ in range(4):  # a 3-minute step learned
        when += 3 * MINUTE
        finder.observe("A", CN_MINUTE_DATA, when)
    assert finder.observe("A", CN_MINUTE_DATA, when + 4 * MINUTE) is None  # late, nothing missing
    gap = finder.observe("A", CN_MINUTE_DATA, when + 10 * MINUTE)
    assert gap == Gap("A", CN_MINUTE_DATA, when + 7 * MINUTE, when + 7 * MINUTE)


def test_backfiller_splits_long_gap_and_retries_then_abandons_unanswered_request() -> None:
    now = [0.0]
    finder = Backfiller(clock=lambda: now[0], max_frames=10, request_timeout=30, max_attempts=2)
    finder.open(Gap("A", CN_MINUTE_DATA, START, START + 24 * MINUTE))
    first = finder.due("A", "q1")
    assert first is not None and (first.begin, first.end) == (START, START + 9 * MINUTE)
    assert finder.due("A", "q2") is None  # one request in flight per device
    assert finder.finished(first, ExeRtn.SUCCESS) is False
    second = finder.due("A", "q3")
    assert second is not None and second.begin == START + 10 * MINUTE
    now[0] = 31.0
    retry = finder.due("A", "q4")
    assert retry is not None and retry.attempts == 2 and finder.pending("A", "q3") is None
    now[0] = 62.0
    assert finder.due("A", "q5") is None  # abandoned after two attempts
    assert finder.stats.gaps_abandoned == 1 and finder.stats.requests_retried == 1 and not finder.gaps("A")


def test_backfiller_check_raises_window_error_for_answer_outside_request() -> None:
    finder = Backfiller(clock=lambda: 0.0)
    finder.open(Gap("A", CN_MINUTE_DATA, START, START + MINUTE))
    request = finder.due("A", "q1")
    assert request is not None
    finder.check(request, START + MINUTE)
    for when in (START - MINUTE, START + 2 * MINUTE, None):
        with pytest.raises(HistoryWindowError, match="outside"):
            finder.check(request, when)


def test_backfiller_refuses_gap_beyond_limit_and_bad_window_by_name() -> None:
    finder = Backfiller(clock=lambda: 0.0, max_gaps=2)
    finder.open(Gap("A", CN_MINUTE_DATA, START, START))
    finder.open(Gap("A", CN_MINUTE_DATA, START + MINUTE, START + MINUTE))
    with pytest.raises(HistoryLimitError):
        finder.open(Gap("A", CN_MINUTE_DATA, START + 2 * MINUTE, START + 2 * MINUTE))
    with pytest.raises(HistoryRequestError):
        finder.open(Gap("B", "2011", START, START))
    with pytest.raises(HistoryRequestError):
        finder.open(Gap("B", CN_MINUTE_DATA, START + MINUTE, START))
    assert finder.stats.gaps_refused == 1


# --- the gateway's exchange, frame by frame -------------------------------------------------


@pytest.fixture
def queue() -> Iterator[Queue]:
    with Queue(None) as q:
        yield q


def answer_as(frame: str, qn: str) -> Frame:
    return replace(parse(frame), qn=qn)


def test_gateway_backfills_gap_once_and_refuses_bad_answers_by_name(queue: Queue) -> None:
    gw = gateway(queue, 2)
    (ctl, other) = controllers(2)
    frames = [parse(w) for w in ctl.frames(8)]
    mn = ctl.mn
    for f in frames[:3]:
        assert gw.handle(f) is None
    commands = gw.handle(frames[5])  # minutes 3 and 4 lost in transit
    assert commands is not None and len(commands) == 1
    request = parse(commands[0])
    assert (
        is_history_request(request) and request.mn == mn and request.pw == PASSWORD and request.st == ctl.st
    )
    assert history_window(request) == (START + 3 * MINUTE, START + 4 * MINUTE)
    qn = request.qn
    assert qn is not None
    before = queue.frame_count()
    # outside the window: answered, counted, not stored
    gw.handle(answer_as(frames[1].to_wire(), qn))
    gw.handle(answer_as(frames[6].to_wire(), qn))
    assert gw.stats.rejected["history_outside_window"] == 2 and queue.frame_count() == before
    # another device's frame with this request's QN takes its own device's live path
    others = [parse(w) for w in other.frames(8)]
    gw.handle(others[6])
    gw.handle(answer_as(others[3].to_wire(), qn))
    assert gw.stats.rejected["OutOfOrderFrameError"] == 1
    # the controller's answer: 9011, the two stored frames, 9012
    gw.handle(parse(request_answer(request)))
    signed_before = gw.stats.readings_signed
    for f in frames[3:5]:
        gw.handle(answer_as(f.to_wire(), qn))
    gw.handle(answer_as(frames[3].to_wire(), qn))  # sent twice: stored once
    assert gw.backfill.stats.frames_duplicate == 1
    assert gw.handle(parse(execution_result(request))) is None
    stats = gw.backfill.stats.snapshot()
    assert stats["frames_backfilled"] == 2 and stats["gaps_closed"] == 1 and stats["requests_finished"] == 1
    assert stats["readings_backfilled"] == gw.stats.readings_signed - signed_before > 0
    assert stored_times(queue, mn) == {START + i * MINUTE for i in range(6)}
    assert [gw.is_backfilled(mn, CN_MINUTE_DATA, START + i * MINUTE) for i in range(6)] == [
        False, False, False, True, True, False,
    ]  # fmt: skip
    # a replay of the back-filled data after the request closed: refused as out of order
    gw.handle(answer_as(frames[3].to_wire(), qn))
    assert gw.stats.rejected["OutOfOrderFrameError"] == 2 and not gw.backfill.gaps()
    # every reading signed by the device key, sequences without holes or repeats
    address = gw.devices[mn]
    readings = queue.device_readings(address)
    assert [r.signed.reading.sequence for r in readings] == list(range(1, len(readings) + 1))
    assert {r.signed.reading.device for r in readings} == {address}
    recovered = {int((START + m * MINUTE).replace(tzinfo=CHINA_STANDARD_TIME).timestamp()) for m in (3, 4)}
    assert all(r.backfilled == (r.signed.reading.time in recovered) for r in readings)
    assert sum(r.backfilled for r in readings) == stats["readings_backfilled"]
    # an unsolicited 9012 is counted
    gw.handle(parse(execution_result(request)))
    assert gw.stats.rejected["history_unsolicited_answer"] == 1


def test_gateway_drops_frame_with_bad_crc_in_history_answer(queue: Queue) -> None:
    gw = gateway(queue, 1)
    (ctl,) = controllers(1)
    sent: list[bytes] = []
    link = FrameLink("test", gw.handle, sent.append, stats := TransportStats(), authenticate=gw.authenticate)
    wires = list(ctl.frames(6))
    for w in (wires[0], wires[1], wires[4]):
        link.feed(w.encode())
    request = parse(sent[-1])
    assert is_history_request(request)
    answer = answer_as(wires[2], request.qn or "").to_wire()
    crc = answer[-6:-2]
    corrupt = answer[:-6] + ("0000" if crc != "0000" else "1111") + "\r\n"
    link.feed(corrupt.encode())
    assert stats.snapshot().frames_bad == {"FrameChecksumError": 1}
    assert gw.backfill.stats.frames_backfilled == 0 and START + 2 * MINUTE not in stored_times(queue, ctl.mn)
    link.feed(answer.encode())
    assert gw.backfill.stats.frames_backfilled == 1


def test_gateway_request_history_by_hand_asks_after_next_frame_and_refuses_unknown_device(
    queue: Queue,
) -> None:
    gw = gateway(queue, 1)
    (ctl,) = controllers(1)
    frames = [parse(w) for w in ctl.frames(3)]
    gw.handle(frames[0])
    gw.request_history(ctl.mn, CN_MINUTE_DATA, START - 10 * MINUTE, START)
    with pytest.raises(UnknownDeviceError):
        gw.request_history("nobody", CN_MINUTE_DATA, START, START)
    commands = gw.handle(frames[1])
    assert commands is not None
    assert history_window(parse(commands[0])) == (START - 10 * MINUTE, START)
    assert gw.handle(frames[2]) is None  # one request in flight


def test_gateway_reads_operator_window_from_queue(queue: Queue) -> None:
    gw = gateway(queue, 1, ask_poll=0.0)
    (ctl,) = controllers(1)
    frames = [parse(w) for w in ctl.frames(2)]
    gw.handle(frames[0])
    ask = '[{"id": 1, "cn": "2051", "begin": "2027-03-01T00:00:00", "end": "2027-03-01T00:00:00"}]'
    queue.append((), state={f"backfill:ask:{ctl.mn}": ask})
    commands = gw.handle(frames[1])
    assert commands is not None and history_window(parse(commands[0])) == (START, START)


# --- the controller's side ------------------------------------------------------------------


def test_controller_answers_history_request_with_stored_frames_and_refuses_flood_by_name() -> None:
    (ctl,) = controllers(1)
    link = PtyLink()
    slave = os.open(link.path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
    try:
        settings = LinkSettings(ack_timeout=0.3, max_attempts=1, max_history_requests=2, history_linger=0.3)
        sender = StoreAndForward(ctl, link, settings)
        for n in range(5):
            pw = PASSWORD if n != 4 else "wrong-pw"
            wire = history_request(
                st="32", cn=CN_MINUTE_DATA, pw=pw, mn=ctl.mn, qn=f"2027030101000000{n}",
                begin=START, end=START + MINUTE,
            )  # fmt: skip
            os.write(slave, wire.encode())
        worker = threading.Thread(target=sender.run, args=(2,))
        worker.start()
        worker.join(15)
        assert not worker.is_alive()
        scanner = FrameScanner()
        got: list[Frame] = []
        while True:
            try:
                data = os.read(slave, 65536)
            except BlockingIOError:
                break
            got += [parse(item) for item in scanner.feed(data) if isinstance(item, bytes)]
    finally:
        os.close(slave)
        link.close()
    stats = sender.snapshot()
    assert stats.history_refused == 3 and stats.history_requests == 2
    answers = sorted((f.qn, f.extras.get("QnRtn")) for f in got if f.cn == CN_REQUEST_ANSWER)
    codes = [QnRtn.READY, QnRtn.READY, QnRtn.REJECTED, QnRtn.REJECTED, QnRtn.PW_ERROR]
    assert answers == [(f"2027030101000000{n}", str(int(code))) for n, code in enumerate(codes)]
    history = [f for f in got if f.cn == CN_MINUTE_DATA and f.qn == "20270301010000000"]
    assert [f.datatime for f in history] == [START, START + MINUTE]
    results = [f for f in got if f.cn == CN_EXECUTION_RESULT]
    assert {f.qn for f in results} == {"20270301010000000", "20270301010000001"}


# --- end to end: frames lost in transit, recovered over a real line ------------------------


@pytest.mark.parametrize("transport", ["pty", "tcp"])
def test_lost_frames_are_backfilled_over_real_link_once_each(transport: str, queue: Queue) -> None:
    count, minutes = 2, 60
    gw = gateway(queue, count)
    ctls = controllers(count, seed=70)
    settings = LinkSettings(ack_timeout=3.0, drop_rate=0.1, history_linger=1.0)
    readers: list[SerialFrameReader] = []
    server: TcpFrameServer | None = None
    if transport == "pty":
        sim = run_on_pty(ctls, frames=minutes, settings=settings, start=False)
        for path in sim.ports:
            reader = SerialFrameReader(
                SerialSettings(port=path, timeout=0.05), gw.handle, authenticate=gw.authenticate
            )
            reader.start()
            readers.append(reader)
    else:
        server = TcpFrameServer(
            TcpSettings(host="127.0.0.1", port=0), gw.handle, authenticate=gw.authenticate
        )
        server.start()
        sim = run_over_tcp(ctls, *server.address, frames=minutes, settings=settings, start=False)
    try:
        sim.start()
        assert sim.join(60) and not sim.errors
    finally:
        sim.stop()
        for reader in readers:
            reader.stop()
        if server is not None:
            server.stop()
    stats = sim.stats()
    dropped = sum(s.dropped for s in stats.values())
    assert dropped > 0
    recovered = 0
    for ctl in ctls:
        stored = stored_times(queue, ctl.mn)
        expected = {START + i * MINUTE for i in range(minutes)}
        missing = expected - stored
        assert all(t > max(stored) for t in missing)  # only frames lost after the last delivered one
        recovered += sum(gw.is_backfilled(ctl.mn, CN_MINUTE_DATA, t) for t in stored)
        assert stats[ctl.mn].history_frames >= sum(
            gw.is_backfilled(ctl.mn, CN_MINUTE_DATA, t) for t in stored
        )
    backfill = gw.backfill.stats.snapshot()
    expected = {START + i * MINUTE for i in range(minutes)}
    trailing = sum(len(expected - stored_times(queue, c.mn)) for c in ctls)
    assert backfill["frames_backfilled"] == recovered == dropped - trailing
    assert recovered > 0 and gw.backfill.stats.gaps_closed >= 1
    for ctl in ctls:
        address = gw.devices[ctl.mn]
        readings = queue.device_readings(address)
        assert [r.signed.reading.sequence for r in readings] == list(range(1, len(readings) + 1))
        for r in readings[::50]:
            verify(DOMAIN, r.signed, address)


def test_read_model_row_of_a_backfilled_reading_keeps_the_flag(queue: Queue) -> None:
    device = signer(31)
    queue.append([device.sign_frame(frame_fields(BASE_TIME, size=2))])
    queue.append([device.sign_frame(frame_fields(BASE_TIME + 60, size=2, base=1))], backfilled=True)
    stored = queue.device_readings(device.address)
    rows = [reading_row("0x" + "00" * 32, i, r) for i, r in enumerate(stored)]
    assert [(row["sequence"], row["backfilled"]) for row in rows] == [
        (1, False),
        (2, False),
        (3, True),
        (4, True),
    ]
