"""Tests of the serial and TCP transports over real pseudo-terminals and loopback sockets."""

from __future__ import annotations

import contextlib
import logging
import os
import select
import socket
import threading
import time
import tracemalloc
import tty
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta

import pytest
from pydantic import ValidationError

from oracle.errors import FramePasswordError, TransportOpenError, TransportStateError
from oracle.hj212 import Frame, data_ack, encode, parse
from oracle.transport import (
    FrameLink,
    SerialFrameReader,
    SerialSettings,
    TcpFrameServer,
    TcpSettings,
    TransportStats,
)

PASSWORD = "pw-7f3a9c"
T0 = datetime(2024, 3, 1, 8, 0)


def wire(
    n: int = 0,
    *,
    mn: str = "DEV1",
    flag: int | None = 5,
    pnum: int | None = None,
    pno: int | None = None,
    values: dict[str, dict[str, str]] | None = None,
    qn: str | None = None,
    max_data_len: int = 1024,
) -> bytes:
    """A minute-data frame; Flag=5 asks for an answer, Flag=4 does not."""
    return encode(
        qn=qn if qn is not None else f"{T0 + timedelta(minutes=n):%Y%m%d%H%M%S}{n % 1000:03d}",
        st="32",
        cn="2051",
        pw=PASSWORD,
        mn=mn,
        flag=flag,
        pnum=pnum,
        pno=pno,
        datatime=T0 + timedelta(minutes=n),
        values=values or {"w01018": {"Avg": f"{20 + n}.5", "Flag": "N"}, "w00000": {"Avg": "12.0"}},
        max_data_len=max_data_len,
    ).encode()


def ack_for(raw: bytes) -> bytes:
    return data_ack(parse(raw)).encode()


def bad_crc(raw: bytes) -> bytes:
    crc = raw[-6:-2]
    other = b"0000" if crc != b"0000" else b"FFFF"
    return raw[:-6] + other + b"\r\n"


def wait_until(predicate: Callable[[], bool], timeout: float = 1.5) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.005)
    return predicate()


class Collector:
    """A handler recording frames; optionally failing or blocking."""

    def __init__(self, *, fail: Callable[[Frame], bool] | None = None) -> None:
        self.frames: list[Frame] = []
        self.fail = fail
        self.release = threading.Event()
        self.release.set()
        self.entered = threading.Event()
        self._lock = threading.Lock()

    def __call__(self, frame: Frame) -> None:
        self.entered.set()
        self.release.wait(2)
        if self.fail is not None and self.fail(frame):
            raise RuntimeError("store unavailable")
        with self._lock:
            self.frames.append(frame)

    def count(self) -> int:
        with self._lock:
            return len(self.frames)


# --- pseudo-terminal device ----------------------------------------------------------------


class Device:
    """The device end of a pseudo-terminal: the test writes frames and reads answers here."""

    def __init__(self, master: int, path: str) -> None:
        self.master = master
        self.path = path

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self.master, view) :]

    def read(self, size: int, timeout: float = 1.5) -> bytes:
        """Read until ``size`` bytes arrived or ``timeout`` passed."""
        out = b""
        deadline = time.monotonic() + timeout
        while len(out) < size:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.master], [], [], left)[0]:
                break
            out += os.read(self.master, size - len(out))
        return out

    def silent_for(self, seconds: float) -> bool:
        return not select.select([self.master], [], [], seconds)[0]


@pytest.fixture
def device() -> Iterator[Device]:
    master, slave = os.openpty()
    tty.setraw(master)
    tty.setraw(slave)
    path = os.ttyname(slave)
    try:
        yield Device(master, path)
    finally:
        os.close(master)
        os.close(slave)


def serial_reader(device: Device, handler: Callable[[Frame], None], **settings: object) -> SerialFrameReader:
    fields: dict[str, object] = {"port": device.path, "timeout": 0.05, **settings}
    return SerialFrameReader(SerialSettings(**fields), handler)  # type: ignore[arg-type]


# --- serial: receiving ------------------------------------------------------------------------


def test_serial_reader_delivers_frame_split_across_reads(device: Device) -> None:
    handler = Collector()
    raw = wire(1)
    with serial_reader(device, handler) as reader:
        for i in range(0, len(raw), 17):
            device.write(raw[i : i + 17])
            time.sleep(0.01)
        assert wait_until(lambda: handler.count() == 1)
        stats = reader.stats.snapshot()
    assert handler.frames == [parse(raw)]
    assert (stats.frames_ok, stats.frames_bad, stats.bytes_discarded) == (1, {}, 0)
    assert stats.bytes_received == len(raw)


def test_serial_reader_resynchronises_on_garbage_between_frames(device: Device) -> None:
    handler = Collector()
    garbage = [b"\x00\xff noise #", b"AT+RESET\r\n", b"#"]
    frames = [wire(1, flag=4), wire(2, flag=4)]
    with serial_reader(device, handler) as reader:
        device.write(garbage[0] + frames[0] + garbage[1] + frames[1] + garbage[2])
        assert wait_until(lambda: handler.count() == 2)
        assert wait_until(lambda: reader.stats.snapshot().bytes_discarded == len(b"".join(garbage[:2])))
        stats = reader.stats.snapshot()
    assert [f.datatime for f in handler.frames] == [T0 + timedelta(minutes=1), T0 + timedelta(minutes=2)]
    assert stats.frames_ok == 2
    assert set(stats.frames_bad) == {"FrameSyntaxError"}


def test_serial_reader_counts_bad_crc_and_delivers_next_frame(device: Device) -> None:
    handler = Collector()
    corrupted = bad_crc(wire(1))
    with serial_reader(device, handler) as reader:
        device.write(corrupted + wire(2))
        assert wait_until(lambda: handler.count() == 1)
        stats = reader.stats.snapshot()
        assert device.read(len(ack_for(wire(2)))) == ack_for(wire(2))
        assert device.silent_for(0.1)  # nothing answers the corrupted frame
    assert handler.frames[0].datatime == T0 + timedelta(minutes=2)
    assert stats.frames_bad == {"FrameChecksumError": 1}
    assert stats.bytes_discarded == len(corrupted)


def test_serial_reader_skips_oversized_frame_and_delivers_next(device: Device) -> None:
    handler = Collector()
    big_values = {f"w{i:05d}": {"Avg": "1.0"} for i in range(1, 90)}
    oversized = wire(1, values=big_values, max_data_len=2000)
    assert int(oversized[2:6]) > 1024
    with serial_reader(device, handler) as reader:
        device.write(oversized + wire(2))
        assert wait_until(lambda: handler.count() == 1)
        stats = reader.stats.snapshot()
    assert handler.frames[0].datatime == T0 + timedelta(minutes=2)
    assert stats.frames_bad["FrameTooLargeError"] == 1
    assert stats.bytes_discarded == len(oversized)


def test_serial_reader_accepts_large_frame_when_limit_raised(device: Device) -> None:
    handler = Collector()
    big = wire(1, values={f"w{i:05d}": {"Avg": "1.0"} for i in range(1, 90)}, max_data_len=2000)
    with serial_reader(device, handler, max_data_len=2000):
        device.write(big)
        assert wait_until(lambda: handler.count() == 1)


# --- serial: answers ------------------------------------------------------------------------


def test_serial_reader_writes_ack_only_after_handler_returned(device: Device) -> None:
    handler = Collector()
    handler.release.clear()  # the store is slow: the handler blocks until released
    raw = wire(3)
    expected = ack_for(raw)
    with serial_reader(device, handler) as reader:
        device.write(raw)
        assert handler.entered.wait(1)
        assert device.silent_for(0.2)  # no answer while the reading is not yet stored
        handler.release.set()
        assert device.read(len(expected)) == expected
        assert wait_until(lambda: reader.stats.snapshot().acks_sent == 1)
    assert handler.count() == 1
    assert expected.startswith(b"##") and b"CN=9014" in expected
    assert f"QN={parse(raw).qn}".encode() in expected


def test_serial_reader_sends_no_ack_when_handler_fails(
    device: Device, caplog: pytest.LogCaptureFixture
) -> None:
    handler = Collector(fail=lambda frame: frame.datatime == T0 + timedelta(minutes=1))
    with caplog.at_level(logging.WARNING), serial_reader(device, handler) as reader:
        device.write(wire(1))
        assert wait_until(lambda: reader.stats.snapshot().handler_errors == 1)
        assert device.silent_for(0.15)
        device.write(wire(2))  # the loop survived: the next frame is stored and answered
        assert device.read(len(ack_for(wire(2)))) == ack_for(wire(2))
        assert wait_until(lambda: reader.stats.snapshot().acks_sent == 1)
        stats = reader.stats.snapshot()
    assert (stats.handled, stats.handler_errors, stats.acks_sent) == (1, 1, 1)
    assert "handler refused frame" in caplog.text
    assert PASSWORD not in caplog.text


def test_serial_reader_sends_no_ack_when_flag_does_not_ask(device: Device) -> None:
    handler = Collector()
    with serial_reader(device, handler) as reader:
        device.write(wire(1, flag=4))
        assert wait_until(lambda: handler.count() == 1)
        assert device.silent_for(0.1)
        assert reader.stats.snapshot().acks_sent == 0


def test_serial_reader_answers_split_message_once_after_join(device: Device) -> None:
    handler = Collector()
    qn = "20240301080000001"
    parts = [
        wire(0, qn=qn, flag=7, pnum=2, pno=1, values={"w01018": {"Avg": "20.5"}}),
        wire(0, qn=qn, flag=7, pnum=2, pno=2, values={"w00000": {"Avg": "12.0"}}),
    ]
    expected = data_ack(parse(parts[0])).encode()
    with serial_reader(device, handler) as reader:
        device.write(parts[0])
        assert device.silent_for(0.15)  # an incomplete message is not answered
        device.write(parts[1])
        assert device.read(len(expected)) == expected
        assert device.silent_for(0.1)
        assert wait_until(lambda: reader.stats.snapshot().acks_sent == 1)
        stats = reader.stats.snapshot()
    assert len(handler.frames) == 1
    assert handler.frames[0].values == {"w01018": {"Avg": "20.5"}, "w00000": {"Avg": "12.0"}}
    assert (stats.frames_ok, stats.handled, stats.acks_sent) == (2, 1, 1)


def test_serial_reader_counts_ack_error_for_frame_without_qn(device: Device) -> None:
    raw = encode(st="32", cn="2051", pw=PASSWORD, mn="DEV1", flag=5, values={"w01018": {"Avg": "1"}}).encode()
    handler = Collector()
    with serial_reader(device, handler) as reader:
        device.write(raw)
        assert wait_until(lambda: reader.stats.snapshot().ack_errors == 1)
    assert handler.count() == 1


# --- serial: lifecycle and URLs ---------------------------------------------------------------


def test_serial_reader_stop_joins_thread_and_is_idempotent(device: Device) -> None:
    reader = serial_reader(device, Collector(), timeout=5.0)
    reader.start()
    assert reader.running
    started = time.monotonic()
    reader.stop()
    assert time.monotonic() - started < 1.0  # a blocked read is cancelled, not waited out
    assert not reader.running
    reader.stop()


def test_serial_reader_raises_state_error_when_started_twice(device: Device) -> None:
    with serial_reader(device, Collector()) as reader, pytest.raises(TransportStateError):
        reader.start()


def test_serial_reader_raises_open_error_for_missing_port() -> None:
    reader = SerialFrameReader(SerialSettings(port="/dev/does-not-exist-ets"), Collector())
    with pytest.raises(TransportOpenError) as caught:
        reader.start()
    assert isinstance(caught.value, OSError)
    assert not reader.running


def test_serial_reader_opens_loop_url() -> None:
    with SerialFrameReader(SerialSettings(port="loop://", timeout=0.05), Collector()) as reader:
        assert reader.running
    assert not reader.running


def send_until_answered(sock: socket.socket, raw: bytes, tries: int = 5) -> bytes:
    """Send like a device does: resend until the answer comes (pyserial's ``socket://``
    handler flushes input that arrives while it is still connecting)."""
    answer = b""
    for _ in range(tries):
        sock.sendall(raw)
        answer = recv_exactly(sock, len(ack_for(raw)), timeout=0.3)
        if answer:
            break
    return answer


def test_serial_reader_reads_socket_url_and_reconnects_after_drop() -> None:
    handler = Collector()
    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.settimeout(2)
        port = listener.getsockname()[1]
        settings = SerialSettings(port=f"socket://127.0.0.1:{port}", timeout=0.05, reconnect_delay=0.05)
        with SerialFrameReader(settings, handler):
            first, _ = listener.accept()
            with first:
                assert send_until_answered(first, wire(1)) == ack_for(wire(1))
            second, _ = listener.accept()  # the reader reopened the URL after the drop
            with second:
                assert send_until_answered(second, wire(2)) == ack_for(wire(2))
    assert {f.datatime for f in handler.frames} == {T0 + timedelta(minutes=1), T0 + timedelta(minutes=2)}


@pytest.mark.parametrize(
    "bad",
    [{"parity": "X"}, {"stopbits": 3}, {"bytesize": 9}, {"baudrate": 0}, {"port": ""}, {"timeout": 0}],
    ids=["parity", "stopbits", "bytesize", "baudrate", "port", "timeout"],
)
def test_serial_settings_refuses_invalid_value(bad: dict[str, object]) -> None:
    fields: dict[str, object] = {"port": "/dev/ttyS0", **bad}
    with pytest.raises(ValidationError):
        SerialSettings(**fields)  # type: ignore[arg-type]


def test_serial_settings_accepts_one_and_a_half_stopbits() -> None:
    assert SerialSettings(port="/dev/ttyS0", stopbits=1.5, parity="E", bytesize=7).stopbits == 1.5


# --- TCP ----------------------------------------------------------------------------------


def tcp_server(handler: Callable[[Frame], None], **settings: object) -> TcpFrameServer:
    return TcpFrameServer(TcpSettings(host="127.0.0.1", port=0, **settings), handler)  # type: ignore[arg-type]


def recv_exactly(sock: socket.socket, size: int, timeout: float = 1.5) -> bytes:
    sock.settimeout(timeout)
    out = b""
    try:
        while len(out) < size:
            chunk = sock.recv(size - len(out))
            if not chunk:
                break
            out += chunk
    except TimeoutError:
        pass
    return out


def test_tcp_server_serves_many_clients_concurrently() -> None:
    handler = Collector()
    clients, per_client = 24, 5
    errors: list[BaseException] = []

    def controller(index: int, address: tuple[str, int]) -> None:
        try:
            frames = [wire(i, mn=f"DEV{index:03d}") for i in range(per_client)]
            expected = b"".join(ack_for(f) for f in frames)
            with socket.create_connection(address, timeout=15) as sock:  # liveness only: CI runs loaded
                stream = b"".join(frames)
                for i in range(0, len(stream), 97 + index):  # odd chunk sizes split frames
                    sock.sendall(stream[i : i + 97 + index])
                assert recv_exactly(sock, len(expected)) == expected
        except BaseException as error:  # reported by the main thread
            errors.append(error)

    # all 24 come from 127.0.0.1: the per-address cap (16 by default) would refuse those that overlap
    with tcp_server(handler, max_connections_per_address=clients) as server:
        threads = [threading.Thread(target=controller, args=(i, server.address)) for i in range(clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(20)
        assert wait_until(lambda: server.stats.snapshot().acks_sent == clients * per_client, timeout=10)
        stats = server.stats.snapshot()
    assert errors == []
    assert handler.count() == clients * per_client
    assert {f.mn for f in handler.frames} == {f"DEV{i:03d}" for i in range(clients)}
    assert (stats.frames_ok, stats.acks_sent, stats.connections) == (120, 120, clients)
    assert stats.bytes_discarded == 0 and stats.frames_bad == {}


def test_tcp_server_delivers_frame_sent_byte_by_byte() -> None:
    handler = Collector()
    raw = wire(1)
    with tcp_server(handler) as server, socket.create_connection(server.address) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for i in range(len(raw)):
            sock.send(raw[i : i + 1])
        assert recv_exactly(sock, len(ack_for(raw))) == ack_for(raw)
    assert handler.frames == [parse(raw)]


def test_tcp_server_resynchronises_on_garbage_and_counts_bad_crc() -> None:
    handler = Collector()
    corrupted = bad_crc(wire(1))
    garbage = b"GET / HTTP/1.0\r\n\r\n"
    with tcp_server(handler) as server, socket.create_connection(server.address) as sock:
        sock.sendall(garbage + corrupted + wire(2))
        assert recv_exactly(sock, len(ack_for(wire(2)))) == ack_for(wire(2))
        stats = server.stats.snapshot()
    assert [f.datatime for f in handler.frames] == [T0 + timedelta(minutes=2)]
    assert stats.frames_bad["FrameChecksumError"] == 1
    assert stats.frames_bad["FrameSyntaxError"] >= 1
    assert stats.bytes_discarded == len(garbage) + len(corrupted)


def test_tcp_server_sends_no_ack_when_handler_fails() -> None:
    handler = Collector(fail=lambda frame: frame.mn == "BAD")
    with tcp_server(handler) as server, socket.create_connection(server.address) as sock:
        sock.sendall(wire(1, mn="BAD"))
        assert wait_until(lambda: server.stats.snapshot().handler_errors == 1)
        sock.sendall(wire(2))
        received = recv_exactly(sock, len(ack_for(wire(2))) + 1, timeout=0.3)
    assert received == ack_for(wire(2))  # only the stored frame is answered
    assert [f.mn for f in handler.frames] == ["DEV1"]


def test_tcp_server_stop_joins_thread_and_closes_connections() -> None:
    server = tcp_server(Collector())
    server.start()
    with socket.create_connection(server.address) as sock:
        assert wait_until(lambda: server.connections == 1)
        started = time.monotonic()
        server.stop()
        assert time.monotonic() - started < 1.0
        assert not server.running
        assert recv_exactly(sock, 1) == b""  # the server closed its end
    server.stop()
    with pytest.raises(TransportStateError):
        server.start()


def test_tcp_server_closes_idle_connection() -> None:
    with (
        tcp_server(Collector(), idle_timeout=0.2) as server,
        socket.create_connection(server.address) as sock,
    ):
        assert wait_until(lambda: server.connections == 1)
        assert recv_exactly(sock, 1, timeout=1.5) == b""
        assert wait_until(lambda: server.connections == 0)


def test_tcp_server_refuses_connections_beyond_limit() -> None:
    handler = Collector()
    with tcp_server(handler, max_connections=1) as server:
        with socket.create_connection(server.address) as first:
            assert wait_until(lambda: server.connections == 1)
            with socket.create_connection(server.address) as second:
                assert recv_exactly(second, 1) == b""
            first.sendall(wire(1))
            assert recv_exactly(first, len(ack_for(wire(1)))) == ack_for(wire(1))
        assert server.stats.snapshot().connections == 2


def test_tcp_server_raises_open_error_when_port_taken() -> None:
    with tcp_server(Collector()) as server:
        host, port = server.address
        clash = TcpFrameServer(TcpSettings(host=host, port=port), Collector())
        with pytest.raises(TransportOpenError):
            clash.start()
        clash.stop()


def test_tcp_server_address_raises_state_error_before_start() -> None:
    with pytest.raises(TransportStateError):
        _ = tcp_server(Collector()).address


def test_tcp_server_counts_partial_frame_as_discarded_on_disconnect() -> None:
    with tcp_server(Collector()) as server:
        with socket.create_connection(server.address) as sock:
            sock.sendall(wire(1)[:40])
            assert wait_until(lambda: server.stats.snapshot().bytes_received == 40)
        assert wait_until(lambda: server.stats.snapshot().bytes_discarded == 40)


# --- the shared pipeline, without I/O ----------------------------------------------------------


def test_frame_link_logs_defects_without_password(caplog: pytest.LogCaptureFixture) -> None:
    sent: list[bytes] = []
    stats = TransportStats()
    link = FrameLink("test", Collector(), sent.append, stats)
    truncated = wire(1)[:60] + b"\r\n"
    with caplog.at_level(logging.DEBUG):
        link.feed(b"PW=" + PASSWORD.encode() + truncated + bad_crc(wire(2)) + wire(3))
    snapshot = stats.snapshot()
    assert sent == [ack_for(wire(3))]
    assert snapshot.frames_bad.keys() == {"FrameSyntaxError", "FrameTruncatedError", "FrameChecksumError"}
    assert PASSWORD not in caplog.text


def test_frame_link_counts_ack_error_when_send_fails() -> None:
    def broken(data: bytes) -> None:
        raise BrokenPipeError("peer gone")

    stats = TransportStats()
    link = FrameLink("test", Collector(), broken, stats)
    link.feed(wire(1))
    snapshot = stats.snapshot()
    assert (snapshot.handled, snapshot.acks_sent, snapshot.ack_errors) == (1, 0, 1)


def test_frame_link_counts_reassembly_conflict_as_bad_frame() -> None:
    qn = "20240301080000001"
    stats = TransportStats()
    handler = Collector()
    link = FrameLink("test", handler, lambda data: None, stats)
    link.feed(wire(0, qn=qn, flag=7, pnum=2, pno=1, values={"w01018": {"Avg": "1"}}))
    link.feed(wire(0, qn=qn, flag=7, pnum=3, pno=2, values={"w00000": {"Avg": "2"}}))
    assert stats.snapshot().frames_bad == {"ReassemblyError": 1}
    assert handler.count() == 0


# --- idle timer, per-address limit, bounded reassembly (issue 17 items 7 and 8) ---------------


def refuse_password(frame: Frame) -> None:
    """An authenticator: only frames carrying :data:`PASSWORD` pass."""
    if frame.pw != PASSWORD:
        raise FramePasswordError(f"wrong password for device {frame.mn}")


def closed_by_server(sock: socket.socket, timeout: float) -> bool:
    """Whether the server closed its end within ``timeout`` seconds (reads until EOF or reset)."""
    sock.settimeout(timeout)
    try:
        while sock.recv(4096):
            pass
    except TimeoutError:
        return False
    except ConnectionError:
        pass
    return True


def test_tcp_server_closes_idle_connection_that_sends_only_garbage() -> None:
    with (
        tcp_server(Collector(), idle_timeout=0.3) as server,
        socket.create_connection(server.address) as sock,
    ):
        assert wait_until(lambda: server.connections == 1)
        started = time.monotonic()
        with contextlib.suppress(OSError):  # the server may close while we still write
            while time.monotonic() - started < 1.5 and server.connections:
                sock.sendall(b"GARBAGE\r\n")  # bytes, never a frame
                time.sleep(0.03)
        assert closed_by_server(sock, 1.0)
        assert time.monotonic() - started < 1.5
        assert server.connections == 0


def test_tcp_server_closes_idle_connection_that_sends_only_refused_frames() -> None:
    impostor = encode(
        qn="20240301080000001", st="32", cn="2051", pw="guess-000", mn="DEV1", flag=5,
        datatime=T0, values={"w01018": {"Avg": "1.0"}},
    ).encode()  # fmt: skip
    with (
        TcpFrameServer(
            TcpSettings(host="127.0.0.1", port=0, idle_timeout=0.3), Collector(), authenticate=refuse_password
        ) as server,
        socket.create_connection(server.address) as sock,
    ):
        assert wait_until(lambda: server.connections == 1)
        started = time.monotonic()
        with contextlib.suppress(OSError):
            while time.monotonic() - started < 1.5 and server.connections:
                sock.sendall(impostor)
                time.sleep(0.03)
        assert closed_by_server(sock, 1.0)
        assert time.monotonic() - started < 1.5
        stats = server.stats.snapshot()
    assert stats.frames_bad["FramePasswordError"] >= 1
    assert stats.handled == 0 and stats.acks_sent == 0


def test_tcp_server_keeps_connection_open_while_valid_frames_arrive() -> None:
    handler = Collector()
    with (
        tcp_server(handler, idle_timeout=0.3) as server,
        socket.create_connection(server.address) as sock,
    ):
        for n in range(8):  # 0.8 s, well beyond the idle timeout
            sock.sendall(wire(n))
            assert recv_exactly(sock, len(ack_for(wire(n)))) == ack_for(wire(n))
            time.sleep(0.1)
        assert server.connections == 1
    assert handler.count() == 8


def test_tcp_server_refuses_connections_beyond_per_address_limit() -> None:
    handler = Collector()
    with tcp_server(handler, max_connections_per_address=2) as server:
        first = socket.create_connection(server.address)
        second = socket.create_connection(server.address)
        assert wait_until(lambda: server.connections == 2)
        with socket.create_connection(server.address) as third:
            assert closed_by_server(third, 1.0)
        assert server.connections == 2
        first.close()
        assert wait_until(lambda: server.connections == 1)
        with socket.create_connection(server.address) as fourth:  # a slot of this address freed
            fourth.sendall(wire(1))
            assert recv_exactly(fourth, len(ack_for(wire(1)))) == ack_for(wire(1))
        second.close()
        stats = server.stats.snapshot()
    assert (stats.connections, stats.connections_refused) == (4, 1)


def split_packet(qn: str, *, pnum: int = 64, pno: int = 1, pw: str = PASSWORD, factors: int = 40) -> bytes:
    """A packet of a split message that never completes (~1.4 kB)."""
    return encode(
        qn=qn, st="32", cn="2051", pw=pw, mn="DEV1", flag=7, pnum=pnum, pno=pno, datatime=T0,
        values={f"w{pno:02d}{i:03d}": {"Avg": "123.456", "Flag": "N"} for i in range(factors)},
        max_data_len=4096,
    ).encode()  # fmt: skip


def test_frame_link_refuses_split_message_with_too_many_packets() -> None:
    stats = TransportStats()
    link = FrameLink("test", Collector(), lambda data: None, stats, max_data_len=4096)
    link.feed(split_packet("20240301080000001", pnum=9999))
    assert stats.snapshot().frames_bad == {"ReassemblyLimitError": 1}
    assert link.pending_bytes == 0


def test_frame_link_keeps_nothing_of_split_packets_with_a_wrong_password() -> None:
    stats = TransportStats()
    handler = Collector()
    link = FrameLink(
        "test", handler, lambda data: None, stats, max_data_len=4096, authenticate=refuse_password
    )
    for i in range(50):
        link.feed(split_packet(f"20240301080000{i:03d}", pw="guess-000"))
    assert link.pending_bytes == 0
    assert stats.snapshot().frames_bad == {"FramePasswordError": 50}
    assert link.valid_frames == 0 and handler.count() == 0


def oracle_heap() -> int:
    """Bytes allocated by the oracle package's code and still held (tracemalloc must be on)."""
    snapshot = tracemalloc.take_snapshot().filter_traces([tracemalloc.Filter(True, "*/oracle/*")])
    return sum(stat.size for stat in snapshot.statistics("filename"))


def test_tcp_server_holds_bounded_bytes_for_adversarial_split_packets() -> None:
    """A peer floods a link with packets of messages that never complete (63 of 64 packets of
    ten messages, 860 kB on the wire, as in the issue): what the gateway holds stays under the
    link's byte limit, the excess is refused, and the link still joins a genuine split message
    afterwards. Without the limits the link held every packet (5.6 MB of heap)."""
    limit = 64 * 1024
    handler = Collector()
    flood = b"".join(split_packet(f"20240301{m:06d}001", pno=pno) for m in range(10) for pno in range(1, 64))
    tracemalloc.start()
    try:
        with (
            tcp_server(handler, max_pending_bytes=limit, max_data_len=4096) as server,
            socket.create_connection(server.address) as sock,
        ):
            base = oracle_heap()
            held: list[int] = []
            for i in range(0, len(flood), 8192):
                sock.sendall(flood[i : i + 8192])
                held.append(server.pending_bytes)
            assert wait_until(lambda: server.stats.snapshot().bytes_received == len(flood), timeout=5)
            grown = oracle_heap() - base
            held.append(server.pending_bytes)
            stats = server.stats.snapshot()
            qn = "20240301999999001"
            sock.sendall(wire(0, qn=qn, flag=7, pnum=2, pno=1, values={"w01018": {"Avg": "1"}}))
            sock.sendall(wire(0, qn=qn, flag=7, pnum=2, pno=2, values={"w00000": {"Avg": "2"}}))
            answer = recv_exactly(sock, len(ack_for(wire(0, qn=qn))))
    finally:
        tracemalloc.stop()
    assert len(flood) > 800_000
    assert max(held) <= limit + 8192 + 4096  # the byte limit, plus one read and one partial frame
    assert stats.frames_bad["ReassemblyLimitError"] >= 1
    assert grown < 2 * limit + 128 * 1024, f"the oracle's heap grew by {grown} bytes"
    assert answer.startswith(b"##") and handler.count() == 1
    assert handler.frames[0].readings.keys() == {"w01018-Avg", "w00000-Avg"}
