"""Gateway frame path without a chain: signing what QC measured, durable queueing with the frame,
re-sent frames, restarts, refusals, card swipes and quota, readings signed elsewhere, the TCP
transport answering only after the readings are stored, and frames refused unanswered before
anything is kept (wrong password, DataTime in the future, a blocked device)."""

from __future__ import annotations

import socket
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from oracle.errors import (
    DeviceBlockedError,
    ForeignDeviceError,
    FrameFromFutureError,
    FramePasswordError,
    GatewayConfigError,
    ReadingDuplicateError,
    ReadingSignatureError,
    UnknownDeviceError,
    UnregisteredDeviceError,
)
from oracle.gateway import CHINA_STANDARD_TIME, Gateway, GatewayDevice
from oracle.hj212 import CN_DATA_ANSWER, FrameScanner, parse
from oracle.qc import QualityControl
from oracle.queue import Queue
from oracle.quota import AnnualQuota, ListNotifier, QuotaController
from oracle.signing.eip712 import reading_hash
from oracle.signing.proof import SignedFrame, SignedReading, verify
from oracle.signing.reading import ReadingFields
from oracle.transport import FrameLink, TcpFrameServer, TcpSettings, TransportStats
from tests.utils.readings import DOMAIN, device_key, device_password, minute_frame, signer, swipe_frame

MN_A, MN_B = "33100000000001", "33100000000002"
ENTERPRISE_A = "0x00000000000000000000000000000000000000a1"
ENTERPRISE_B = "0x00000000000000000000000000000000000000b2"
START = datetime(2027, 3, 1, 8, 0)
#: The gateway's clock in these tests: well after every DataTime they send.
LATE = datetime(2028, 1, 1).replace(tzinfo=CHINA_STANDARD_TIME).timestamp()


def at(when: datetime) -> float:
    """Unix seconds of a local (China Standard Time) DataTime."""
    return when.replace(tzinfo=CHINA_STANDARD_TIME).timestamp()


@dataclass
class Directory:
    """An in-memory device registry (the chain's is tested in tests/e2e)."""

    bound: dict[str, str] = field(default_factory=dict)

    def enterprise_of(self, device: str) -> str | None:
        return self.bound.get(device)


def devices() -> list[GatewayDevice]:
    return [
        GatewayDevice(MN_A, ENTERPRISE_A, device_key(1), device_password(MN_A)),
        GatewayDevice(MN_B, ENTERPRISE_B, device_key(2), device_password(MN_B)),
    ]


def directory() -> Directory:
    return Directory({signer(1).address: ENTERPRISE_A, signer(2).address: ENTERPRISE_B})


def quota(notifier: ListNotifier | None = None) -> dict[str, QuotaController]:
    cod = AnnualQuota.even("w01018", 2027, "1200")  # 100 kg a month
    return {
        MN_A: QuotaController(
            ENTERPRISE_A, [cod], {"CARD-A": ENTERPRISE_A, "CARD-B": ENTERPRISE_B}, notifier=notifier
        )
    }


def gateway(path: Path | None = None, **kwargs: object) -> Gateway:
    queue = Queue(path)
    kwargs.setdefault("clock", lambda: LATE)
    return Gateway(devices(), queue, DOMAIN, directory=directory(), **kwargs)  # type: ignore[arg-type]


def stored(gw: Gateway) -> list[SignedReading]:
    return [s.signed for s in gw.queue.unbatched()]


# --- data frames ------------------------------------------------------------------------------


def test_gateway_signs_concentrations_and_totals_of_a_minute_frame() -> None:
    gw = gateway()
    gw.handle(minute_frame(MN_A, START))
    readings = stored(gw)
    # Avg of 4 factors + Cou of the 3 that have one; Min/Max are QC inputs only.
    assert [(r.reading.pollutant, r.reading.unit) for r in readings] == [
        ("w00000", "L/s"), ("w00000", "m3"), ("w01018", "mg/L"), ("w01018", "kg"),
        ("w21003", "mg/L"), ("w21003", "kg"), ("w01001", ""),
    ]  # fmt: skip
    assert [r.sequence for r in readings] == list(range(1, 8))
    assert {r.reading.time for r in readings} == {int(START.replace(tzinfo=CHINA_STANDARD_TIME).timestamp())}
    assert readings[3].reading.amount == Decimal("26.400")
    for r in readings:
        verify(DOMAIN, r, signer(1).address)
    # one signature for the frame: every reading's witness is the same seven hashes
    assert len({r.signature for r in readings}) == 1
    assert [r.witness.index for r in readings] == list(range(7))
    assert {r.witness.hashes for r in readings} == {tuple(reading_hash(r.reading) for r in readings)}
    assert gw.stats.readings_signed == 7 and gw.stats.frames == 1
    assert gw.queue.frame_count() == 1


def test_gateway_answers_resent_frame_without_storing_it_twice() -> None:
    gw = gateway()
    frame = minute_frame(MN_A, START)
    gw.handle(frame)
    gw.handle(frame)  # the device did not get the answer and sent it again
    assert len(stored(gw)) == 7
    assert gw.stats.frames_resent == 1


def test_gateway_resumes_sequences_qc_and_refuses_old_frames_after_restart(tmp_path: Path) -> None:
    path = tmp_path / "queue.db"
    first = gateway(path)
    first.handle(minute_frame(MN_A, START))
    first.handle(minute_frame(MN_A, START + timedelta(minutes=1)))
    first.queue.close()
    second = gateway(path)
    assert second.next_sequence(MN_A) == 15
    second.handle(minute_frame(MN_A, START + timedelta(minutes=1)))  # re-sent after the restart
    assert second.stats.frames_resent == 1
    second.handle(minute_frame(MN_A, START + timedelta(minutes=2)))
    sequences = [r.sequence for r in stored(second)]
    assert sequences == list(range(1, 22))


def test_gateway_refuses_unknown_device_code_and_counts_it() -> None:
    gw = gateway()
    with pytest.raises(UnknownDeviceError, match="33100000009999"):
        gw.handle(minute_frame("33100000009999", START))
    assert gw.stats.rejected["unknown_device"] == 1
    assert stored(gw) == []


def test_gateway_counts_out_of_order_frame_and_keeps_earlier_readings() -> None:
    gw = gateway()
    gw.handle(minute_frame(MN_A, START + timedelta(minutes=5)))
    gw.handle(minute_frame(MN_A, START))  # older than the last accepted
    assert gw.stats.rejected["OutOfOrderFrameError"] == 1
    assert len(stored(gw)) == 7


def test_gateway_never_signs_readings_qc_filled_into_a_gap() -> None:
    qc = QualityControl()
    qc.set_interval(MN_A, "2051", timedelta(minutes=1))
    gw = gateway(qc=qc)
    gw.handle(minute_frame(MN_A, START))
    gw.handle(minute_frame(MN_A, START + timedelta(minutes=3)))  # two minutes missing
    assert gw.stats.readings_filled > 0
    times = sorted({r.reading.time for r in stored(gw)})
    assert len(times) == 2  # only the two measured minutes
    assert len(stored(gw)) == 14
    # the filled values are kept as unsigned estimates: summed apart in the batch, never measured
    [batch] = gw.queue.cut_batches(1_000, 0)
    assert batch.count == 14
    assert batch.estimates and {e.method for e in batch.estimates} == {"linear"}
    assert sum(e.count for e in batch.estimates) == gw.stats.readings_filled
    measured = {t.pollutant + t.unit: t.count for t in batch.totals}
    assert sum(measured.values()) + sum(e.count for e in batch.excluded) == 14


def test_gateway_signs_flagged_and_out_of_range_readings_with_their_flag_and_status() -> None:
    gw = gateway()
    gw.handle(minute_frame(MN_A, START, flag="D"))
    readings = gw.queue.unbatched()
    assert {s.signed.reading.flag for s in readings} == {"D"}
    gw.handle(minute_frame(MN_A, START + timedelta(minutes=1), factors=(("w01018", "99999", "1.0"),)))
    statuses = {s.signed.reading.pollutant + s.signed.reading.unit: s.qc for s in gw.queue.unbatched()[-2:]}
    assert statuses == {"w01018mg/L": "invalid", "w01018kg": "measured"}


# --- devices on-chain -------------------------------------------------------------------------


def test_gateway_refuses_to_start_with_unregistered_device() -> None:
    with pytest.raises(UnregisteredDeviceError, match=signer(1).address):
        Gateway(devices(), Queue(), DOMAIN, directory=Directory({signer(2).address: ENTERPRISE_B}))


def test_gateway_refuses_to_start_with_device_of_another_enterprise() -> None:
    with pytest.raises(ForeignDeviceError, match="bound to"):
        foreign = Directory({signer(1).address: ENTERPRISE_B, signer(2).address: ENTERPRISE_B})
        Gateway(devices(), Queue(), DOMAIN, directory=foreign)


def _self_signed(seed: int, count: int = 3, first: int = 100) -> list[SignedFrame]:
    """``count`` frames of one reading each, as a controller that signs on its own sends them."""
    device = signer(seed, next_sequence=first)
    return [device.sign(time=1_800_000_000 + i, pollutant="a21026", value=1234 + i, decimals=1, unit="mg/m3")
            for i in range(count)]  # fmt: skip


def test_accept_signed_stores_readings_of_a_bound_device() -> None:
    gw = gateway()
    assert gw.accept_signed(_self_signed(1), enterprise=ENTERPRISE_A) == 3
    assert len(stored(gw)) == 3


def test_accept_signed_refuses_unregistered_device() -> None:
    gw = gateway()
    with pytest.raises(UnregisteredDeviceError):
        gw.accept_signed(_self_signed(77), enterprise=ENTERPRISE_A)
    assert gw.stats.rejected["unregistered_device"] == 1
    assert stored(gw) == []


def test_accept_signed_refuses_device_of_another_enterprise() -> None:
    gw = gateway()
    with pytest.raises(ForeignDeviceError):
        gw.accept_signed(_self_signed(2), enterprise=ENTERPRISE_A)
    assert gw.stats.rejected["foreign_device"] == 1


def test_accept_signed_refuses_reading_whose_signature_names_another_device() -> None:
    gw = gateway()
    good = _self_signed(1, 1)[0]
    forged = replace(good, signature=_self_signed(2, 1)[0].signature)
    with pytest.raises(ReadingSignatureError):
        gw.accept_signed([forged], enterprise=ENTERPRISE_A)
    assert gw.stats.rejected["bad_signature"] == 1


def test_accept_signed_stores_a_multi_reading_frame_under_one_signature() -> None:
    gw = gateway()
    device = signer(1, next_sequence=50)
    fields = [
        ReadingFields(1_800_000_000, "a21026", 100, 1, "mg/m3"),
        ReadingFields(1_800_000_000, "a21002", 7, 0, "kg"),
    ]
    signed = device.sign_frame(fields)
    assert gw.accept_signed([signed], enterprise=ENTERPRISE_A) == 2
    assert stored(gw) == signed.signed_readings()


def test_accept_signed_refuses_a_frame_with_one_altered_reading() -> None:
    gw = gateway()
    good = signer(1).sign_frame([ReadingFields(1_800_000_000, "a21026", v, 0, "kg") for v in (5, 6)])
    altered = SignedFrame.of(DOMAIN, (good.readings[0], replace(good.readings[1], value=7)), good.signature)
    with pytest.raises(ReadingSignatureError):
        gw.accept_signed([altered], enterprise=ENTERPRISE_A)
    assert stored(gw) == []


def test_accept_signed_refuses_replayed_sequence_and_keeps_the_new_readings() -> None:
    gw = gateway()
    gw.accept_signed(_self_signed(1, 3, first=100), enterprise=ENTERPRISE_A)
    replay = _self_signed(1, 3, first=102)  # 102 again, then 103 and 104
    with pytest.raises(ReadingDuplicateError) as info:
        gw.accept_signed(replay, enterprise=ENTERPRISE_A)
    assert info.value.duplicates == ((signer(1).address, 102),)
    assert [r.sequence for r in stored(gw)] == [100, 101, 102, 103, 104]
    assert gw.stats.rejected["replayed_sequence"] == 1


# --- card swipe and quota ---------------------------------------------------------------------


def test_gateway_card_swipe_loads_quota_and_survives_restart(tmp_path: Path) -> None:
    path = tmp_path / "queue.db"
    notifier = ListNotifier()
    gw = gateway(path, quotas=quota(notifier))
    gw.handle(swipe_frame(MN_A, START - timedelta(minutes=1), "CARD-A"))
    # 26.4 kg of COD a minute against 100 kg: 80 % at the 4th minute, valve closed at the 4th too.
    for minute in range(4):
        gw.handle(minute_frame(MN_A, START + timedelta(minutes=minute)))
    controller = gw.quota(MN_A)
    assert controller is not None and controller.swiped
    assert controller.balance("w01018").used_kg == Decimal("105.600")
    assert [a.threshold for a in notifier.alarms] == [Decimal("0.8"), Decimal("0.9"), Decimal("1")]
    assert not controller.valve_open
    gw.queue.close()
    again = gateway(path, quotas=quota())
    restored = again.quota(MN_A)
    assert restored is not None and restored.balance("w01018").used_kg == Decimal("105.600")
    assert not restored.valve_open


def test_gateway_refuses_foreign_card_and_answers_the_frame() -> None:
    gw = gateway(quotas=quota())
    gw.handle(swipe_frame(MN_A, START, "CARD-B"))
    assert gw.stats.rejected["ForeignCardError"] == 1
    controller = gw.quota(MN_A)
    assert controller is not None and not controller.swiped


def test_gateway_counts_resent_swipe_once() -> None:
    gw = gateway(quotas=quota())
    frame = swipe_frame(MN_A, START, "CARD-A")
    gw.handle(frame)
    gw.handle(frame)
    assert gw.stats.swipes == 1 and gw.stats.frames_resent == 1


# --- with the real transport ------------------------------------------------------------------


def test_tcp_transport_answers_only_after_gateway_stored_the_frame() -> None:
    gw = gateway()
    seen_at_answer: list[int] = []
    server = TcpFrameServer(TcpSettings(host="127.0.0.1", port=0), gw.handle)
    with server, socket.create_connection(server.address, timeout=5) as conn:
        frame = minute_frame(MN_A, START)
        conn.sendall(frame.to_wire().encode())
        scanner = FrameScanner()
        answers: list[bytes] = []
        while not answers:
            answers = [a for a in scanner.feed(conn.recv(4096)) if isinstance(a, bytes)]
        seen_at_answer.append(len(stored(gw)))
        answer = parse(answers[0])
    assert answer.cn == CN_DATA_ANSWER and answer.qn == frame.qn
    assert seen_at_answer == [7]


def test_gateway_continues_after_sequences_the_ledger_has_seen_when_queue_was_lost() -> None:
    gw = Gateway(
        devices(), Queue(), DOMAIN, anchored_sequences={signer(1).address: 4_000}, clock=lambda: LATE
    )
    gw.handle(minute_frame(MN_A, START))
    assert [r.sequence for r in stored(gw)] == list(range(4_001, 4_008))
    assert gw.next_sequence(MN_B) == 1


# --- frames refused unanswered before anything is kept (issue 17 items 1 and 4) --------------


def test_gateway_refuses_frame_with_a_wrong_password_and_stores_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    gw = gateway(quotas=quota())
    forged = [
        minute_frame(MN_A, START, pw="123456"),  # the factory default
        minute_frame(MN_A, START, pw=device_password(MN_B)),  # another device's password
        minute_frame(MN_A, START, pw=device_password(MN_A) + "0"),
    ]
    for frame in forged:
        with pytest.raises(FramePasswordError, match=MN_A):
            gw.handle(frame)
    with pytest.raises(FramePasswordError):
        gw.handle(replace(swipe_frame(MN_A, START, "CARD-A"), pw="x"))  # no quota loaded by a forger
    assert stored(gw) == [] and gw.queue.frame_count() == 0
    assert gw.stats.rejected["wrong_password"] == 4 and gw.stats.frames == 0
    controller = gw.quota(MN_A)
    assert controller is not None and not controller.swiped
    gw.handle(minute_frame(MN_A, START))  # the genuine frame of the same minute is stored
    assert len(stored(gw)) == 7
    assert device_password(MN_A) not in caplog.text and "123456" not in caplog.text


def test_gateway_refuses_a_future_dated_frame_and_stores_the_devices_next_genuine_frame() -> None:
    now = START + timedelta(minutes=1)
    gw = gateway(clock=lambda: at(now))
    with pytest.raises(FrameFromFutureError, match="ahead of the clock"):
        gw.handle(minute_frame(MN_A, datetime(2099, 1, 1)))  # right password, forged date
    with pytest.raises(FrameFromFutureError):
        gw.handle(minute_frame(MN_A, now + timedelta(minutes=6)))  # beyond the 5-minute tolerance
    assert stored(gw) == [] and gw.queue.frame_count() == 0
    assert gw.stats.rejected["future_datatime"] == 2
    gw.handle(minute_frame(MN_A, START))  # not "out of order": the forged frames left no trace
    gw.handle(minute_frame(MN_A, now + timedelta(minutes=4)))  # a controller clock a little fast
    assert len(stored(gw)) == 14
    assert "OutOfOrderFrameError" not in gw.stats.rejected


def test_gateway_refuses_a_future_dated_frame_after_a_restart_too(tmp_path: Path) -> None:
    path = tmp_path / "queue.db"
    first = gateway(path, clock=lambda: at(START))
    with pytest.raises(FrameFromFutureError):
        first.handle(minute_frame(MN_A, datetime(2099, 1, 1)))
    first.queue.close()
    second = gateway(path, clock=lambda: at(START))
    second.handle(minute_frame(MN_A, START))
    assert len(stored(second)) == 7


def test_gateway_authenticator_keeps_nothing_of_split_packets_with_a_wrong_password() -> None:
    gw = gateway()
    stats = TransportStats()
    link = FrameLink("test", gw.handle, lambda data: None, stats, authenticate=gw.authenticate)
    for i in range(20):
        packet = replace(
            minute_frame(MN_A, START, pw="guess", qn=f"20270301080000{i:03d}"), pnum=2, pno=1, flag=7
        )
        link.feed(packet.to_wire().encode())
    assert link.pending_bytes == 0 and link.valid_frames == 0
    assert stats.snapshot().frames_bad == {"FramePasswordError": 20}
    assert stored(gw) == []


def test_tcp_transport_answers_no_forged_frame_and_stores_the_next_genuine_one() -> None:
    """Over the real TCP transport: a frame with a wrong password and one dated in the future
    (with the right password) get no answer and store nothing; the genuine frame that follows
    is answered and stored."""
    now = START + timedelta(minutes=1)
    gw = gateway(clock=lambda: at(now))
    server = TcpFrameServer(TcpSettings(host="127.0.0.1", port=0), gw.handle, authenticate=gw.authenticate)
    wrong_password = minute_frame(MN_A, START, pw="123456")
    future = minute_frame(MN_A, datetime(2099, 1, 1))
    genuine = minute_frame(MN_A, START)
    with server, socket.create_connection(server.address, timeout=5) as conn:
        conn.sendall(wrong_password.to_wire().encode() + future.to_wire().encode())
        conn.settimeout(0.5)
        with pytest.raises(TimeoutError):
            conn.recv(4096)  # no answer: the controller keeps both and sends them again
        assert stored(gw) == []
        conn.settimeout(5)
        conn.sendall(genuine.to_wire().encode())
        scanner = FrameScanner()
        answers: list[bytes] = []
        while not answers:
            answers = [a for a in scanner.feed(conn.recv(4096)) if isinstance(a, bytes)]
        stats = server.stats.snapshot()
    assert [parse(a).qn for a in answers] == [genuine.qn]
    assert len(stored(gw)) == 7
    assert stats.frames_bad == {"FramePasswordError": 1} and stats.handler_errors == 1
    assert gw.stats.rejected["future_datatime"] == 1


def test_gateway_serves_the_other_devices_when_one_devices_sequences_are_used_up() -> None:
    blocked: list[tuple[str, str]] = []
    gw = gateway(
        anchored_sequences={signer(1).address: 2**64 - 1},  # anchored by a rogue oracle key
        on_blocked=lambda mn, reason: blocked.append((mn, reason)),
    )
    assert list(gw.blocked) == [MN_A] and [mn for mn, _ in blocked] == [MN_A]
    assert "used up" in gw.blocked[MN_A]
    with pytest.raises(DeviceBlockedError, match=MN_A):
        gw.handle(minute_frame(MN_A, START))  # unanswered: the controller keeps its data
    gw.handle(minute_frame(MN_B, START))
    assert {r.reading.device for r in stored(gw)} == {signer(2).address}
    assert gw.stats.snapshot()["blocked"] == {MN_A: gw.blocked[MN_A]}


def test_gateway_device_without_a_password_is_refused() -> None:
    with pytest.raises(GatewayConfigError, match=MN_A):
        GatewayDevice(MN_A, ENTERPRISE_A, device_key(1), "")
    assert "pw" not in repr(GatewayDevice(MN_A, ENTERPRISE_A, device_key(1), device_password(MN_A)))
