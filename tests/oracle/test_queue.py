"""Tests of the durable store-and-forward queue: append, cut, proofs, witnesses, status changes, restarts."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path

import pytest
from eth_abi import encode as abi_encode
from eth_hash.auto import keccak as eth_hash_keccak
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chain.merkle import StandardMerkleTree, process_proof
from oracle.errors import (
    BatchNotFoundError,
    BatchStateError,
    OracleError,
    QueueError,
    QueueValueError,
    ReadingDuplicateError,
    ReadingNotBatchedError,
    ReadingRowNotFoundError,
)
from oracle.gateway import SequenceTracker
from oracle.queue import (
    SCHEMA_VERSION,
    Batch,
    BatchStatus,
    PollutantTotal,
    Queue,
    ReadingProof,
    StoredReading,
    batch_id_of,
)
from oracle.signing.proof import SignedFrame, SignedReading, batch_tree, leaf_hash, verify
from oracle.signing.reading import ReadingFields
from oracle.signing.signer import DeviceSigner
from tests.utils.readings import BASE_TIME, DOMAIN, frame, signed_frame, signer

ROOT = Path(__file__).resolve().parents[2]
TX1 = b"\x11" * 32
TX2 = b"\x22" * 32


@pytest.fixture
def queue() -> Queue:
    return Queue()


def _frames(device: DeviceSigner, count: int, size: int = 8) -> list[SignedFrame]:
    """``count`` multi-reading frames of ``device``, a minute apart, each signed once."""
    return [signed_frame(device, BASE_TIME + 60 * i, size=size, base=i) for i in range(count)]


def _signed(frames: Iterable[SignedFrame]) -> list[SignedReading]:
    """Every reading of the frames with its digest and frame witness, in frame order."""
    return [r for f in frames for r in f.signed_readings()]


def _keys(frames: Iterable[SignedFrame]) -> tuple[tuple[str, int], ...]:
    """(device, sequence) of every reading of the frames, in frame order."""
    return tuple((r.device, r.sequence) for f in frames for r in f.readings)


def _row_ids(q: Queue) -> list[int]:
    with q._read() as conn:
        return [row_id for (row_id,) in conn.exec_driver_sql("SELECT id FROM readings ORDER BY id")]


def _row_id(q: Queue, device: str, sequence: int) -> int:
    with q._read() as conn:
        return int(
            conn.exec_driver_sql(
                "SELECT id FROM readings WHERE device = ? AND sequence = ?", (device, sequence)
            ).scalar_one()
        )


def _assert_proves(q: Queue, row_id: int) -> ReadingProof:
    stored = q.reading(row_id)
    proof = q.proof(row_id)
    assert proof.batch_id == stored.batch_id
    assert process_proof(leaf_hash(stored.signed.digest), proof.proof) == "0x" + proof.root.hex()
    assert StandardMerkleTree.verify_proof(proof.root, ["bytes32"], [stored.signed.digest], proof.proof)
    return proof


def _assert_witnesses(
    stored: Iterable[StoredReading], expected: dict[tuple[str, int], SignedReading]
) -> None:
    """Each stored reading is the signed reading its device signed, and its witness verifies."""
    for s in stored:
        assert s.signed == expected[s.signed.device, s.signed.sequence]
        verify(DOMAIN, s.signed, s.signed.device)


def _batch_holding(batches: Iterable[Batch], device: str, sequence: int) -> bytes | None:
    """Id of the batch whose sequence range holds the reading, ``None`` when none does."""
    holding = [
        b.batch_id for b in batches if b.device == device and b.first_sequence <= sequence <= b.last_sequence
    ]
    assert len(holding) <= 1
    return holding[0] if holding else None


# --- appending -------------------------------------------------------------------------------


def test_append_stores_readings_and_returns_count(queue: Queue) -> None:
    device = signer(1)
    assert queue.append(_frames(device, 3)) == 24
    assert queue.stats().readings["UNBATCHED"] == 24
    assert queue.last_sequences() == {device.address: 24}
    with queue._read() as conn:
        rows = conn.exec_driver_sql("SELECT device, first_sequence, size FROM signed_frames").all()
    assert sorted(rows) == [(device.address, 1, 8), (device.address, 9, 8), (device.address, 17, 8)]


def test_append_of_nothing_stores_nothing(queue: Queue) -> None:
    assert queue.append([]) == 0
    assert queue.append(iter([])) == 0


def test_append_keeps_every_field_status_and_witness(queue: Queue) -> None:
    device = signer(2)
    frames = [signed_frame(device, size=2), signed_frame(device, BASE_TIME + 60, size=1)]
    queue.append(iter(frames), qc=["OK", "SUSPECT", "INVALID"], now=123.5)
    stored = queue.unbatched(device.address)
    assert [s.signed for s in stored] == _signed(frames)
    assert [s.signed.witness for s in stored] == [
        frames[0].witness(0),
        frames[0].witness(1),
        frames[1].witness(0),
    ]
    assert [s.qc for s in stored] == ["OK", "SUSPECT", "INVALID"]
    assert {s.received_at for s in stored} == {123.5}
    assert all(s.batch_id is None for s in stored)
    for s in stored:
        verify(DOMAIN, s.signed, device.address)


def test_append_stores_one_reading_frames_signed_alone(queue: Queue) -> None:
    device = signer(7)
    alone = frame(device, size=3)
    assert queue.append(alone) == 3
    stored = queue.device_readings(device.address)
    assert [s.signed for s in stored] == _signed(alone)
    assert all(len(s.signed.witness.hashes) == 1 for s in stored)


def test_append_stores_int256_values_exactly(queue: Queue) -> None:
    device = signer(3)
    extremes = device.sign_frame(
        [ReadingFields(BASE_TIME, "w01018", v, 0, "kg") for v in (2**255 - 1, -(2**255), 0)]
    )
    queue.append([extremes])
    assert [s.signed for s in queue.unbatched()] == _signed([extremes])


def test_append_raises_duplicate_error_naming_device_and_sequence_for_a_replay(queue: Queue) -> None:
    device = signer(4)
    signed = signed_frame(device)
    queue.append([signed])
    with pytest.raises(ReadingDuplicateError, match=f"device {device.address} sequence 1") as caught:
        queue.append([signed])
    assert caught.value.duplicates == tuple((device.address, s) for s in range(1, 9))
    assert caught.value.stored == 0
    assert queue.stats().readings["UNBATCHED"] == 8


def test_append_stores_the_other_frames_when_some_frames_are_duplicates(queue: Queue) -> None:
    device = signer(5)
    f0, f1, f2, f3 = _frames(device, 4)
    queue.append([f0, f1])
    with pytest.raises(ReadingDuplicateError) as caught:
        queue.append([f1, f2, f0, f3])
    assert caught.value.duplicates == _keys([f1, f0])
    assert caught.value.stored == 16
    assert [s.signed for s in queue.unbatched()] == _signed([f0, f1, f2, f3])


def test_append_refuses_a_conflicting_frame_with_a_stored_sequence(queue: Queue) -> None:
    original = signed_frame(signer(6), size=3)
    queue.append([original])
    # The same device key restarted without resuming its sequence: same numbers, other readings.
    conflicting = signer(6).sign(time=BASE_TIME + 5, pollutant="a21026", value=9, decimals=0, unit="kg")
    assert (conflicting.device, conflicting.first_sequence) == (original.device, original.first_sequence)
    with pytest.raises(ReadingDuplicateError):
        queue.append([conflicting])
    assert [s.signed for s in queue.unbatched()] == _signed([original])


def test_append_refuses_an_overlapping_frame_whole_and_stores_a_disjoint_one_in_the_same_call(
    queue: Queue,
) -> None:
    device = signer(30)
    first = signed_frame(device)  # 1..8
    queue.append([first])
    overlapping = signed_frame(signer(30, next_sequence=5), BASE_TIME + 60)  # 5..12: 9..12 are new
    disjoint = signed_frame(signer(30, next_sequence=20), BASE_TIME + 120)  # 20..27
    with pytest.raises(ReadingDuplicateError) as caught:
        queue.append([overlapping, disjoint])
    assert caught.value.duplicates == _keys([overlapping])
    assert caught.value.stored == 8
    stored = queue.device_readings(device.address)
    assert [s.signed.sequence for s in stored] == [*range(1, 9), *range(20, 28)]
    assert [s.signed for s in stored] == _signed([first, disjoint])
    assert queue.last_sequences() == {device.address: 27}


def test_append_refuses_duplicates_within_one_call(queue: Queue) -> None:
    device = signer(8)
    a, b = signed_frame(device, size=3), signed_frame(device, BASE_TIME + 60, size=2)
    with pytest.raises(ReadingDuplicateError) as caught:
        queue.append([a, b, a, b])
    assert caught.value.duplicates == _keys([a, b])
    assert caught.value.stored == 5


def test_append_stores_a_frame_in_a_gap_above_the_last_batched_sequence(queue: Queue) -> None:
    device = signer(31)
    queue.append([signed_frame(device), signed_frame(signer(31, next_sequence=17), BASE_TIME + 120)])
    late = signed_frame(signer(31, next_sequence=9), BASE_TIME + 60)  # 9..16, never stored
    assert queue.append([late]) == 8
    assert [s.signed.sequence for s in queue.unbatched()] == list(range(1, 25))
    assert queue.last_sequences() == {device.address: 24}


def test_append_refuses_a_frame_at_or_below_the_last_batched_sequence_even_in_a_gap(queue: Queue) -> None:
    device = signer(32)
    queue.append([signed_frame(device), signed_frame(signer(32, next_sequence=17), BASE_TIME + 120)], now=1.0)
    (batch,) = queue.cut_batches(12, 100, now=2.0)  # 1..8 and 17..20; 21..24 stay unbatched
    assert (batch.first_sequence, batch.last_sequence, batch.count) == (1, 20, 12)
    root = queue.tree(batch.batch_id).root
    in_gap = signed_frame(signer(32, next_sequence=9), BASE_TIME + 60)  # 9..16: never stored
    just_below = signer(32, next_sequence=16).sign(
        time=BASE_TIME, pollutant="w01018", value=1, decimals=0, unit="kg"
    )
    fresh = signed_frame(signer(32, next_sequence=25), BASE_TIME + 180)
    with pytest.raises(ReadingDuplicateError) as caught:
        queue.append([in_gap, just_below, fresh], now=3.0)
    assert caught.value.duplicates == _keys([in_gap, just_below])
    assert caught.value.stored == 8
    sequences = [s.signed.sequence for s in queue.device_readings(device.address)]
    assert sequences == [*range(1, 9), *range(17, 33)]
    members = queue.batch_readings(batch.batch_id)
    assert [m.signed.sequence for m in members] == [*range(1, 9), *range(17, 21)]
    assert batch_tree([m.signed for m in members]).root == root == "0x" + batch.root.hex()
    assert queue.stats().readings == {"UNBATCHED": 12, "CUT": 12, "SUBMITTED": 0, "ANCHORED": 0}


def test_append_raises_queue_value_error_and_stores_nothing_for_int64_overflow(queue: Queue) -> None:
    big = signer(9, next_sequence=2**63)
    with pytest.raises(QueueValueError, match="int64"):
        queue.append([signed_frame(signer(10), size=2), signed_frame(big, size=1)])
    assert queue.stats().readings["UNBATCHED"] == 0
    late = signer(10).sign(time=2**63, pollutant="w01018", value=1, decimals=0, unit="kg")
    with pytest.raises(QueueValueError, match="int64"):
        queue.append([late])
    assert queue.last_sequences() == {}


def test_append_raises_queue_value_error_when_qc_statuses_do_not_match(queue: Queue) -> None:
    with pytest.raises(QueueValueError):
        queue.append([signed_frame(signer(11), size=3)], qc=["OK", "OK"])


def test_append_is_safe_from_many_threads(queue: Queue) -> None:
    devices = [signer(100 + i) for i in range(4)]
    batches = {d.address: [signed_frame(d, BASE_TIME + 60 * k, base=k) for k in range(20)] for d in devices}

    def work(address: str) -> None:
        for f in batches[address]:
            queue.append([f])

    threads = [threading.Thread(target=work, args=(d.address,)) for d in devices]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert queue.last_sequences() == {d.address: 160 for d in devices}
    assert queue.stats().readings["UNBATCHED"] == 640


# --- cutting ---------------------------------------------------------------------------------


def test_cut_batches_cuts_full_batches_and_keeps_a_young_remainder(queue: Queue) -> None:
    device = signer(12)
    queue.append(_frames(device, 5), now=1000.0)  # 40 readings
    batches = queue.cut_batches(16, 60, now=1010.0)
    assert [(b.first_sequence, b.last_sequence, b.count) for b in batches] == [(1, 16, 16), (17, 32, 16)]
    assert all(b.status is BatchStatus.CUT and b.device == device.address for b in batches)
    assert queue.stats().readings == {"UNBATCHED": 8, "CUT": 32, "SUBMITTED": 0, "ANCHORED": 0}
    assert queue.cut_batches(16, 60, now=1059.0) == []
    (rest,) = queue.cut_batches(16, 60, now=1060.0)
    assert (rest.first_sequence, rest.last_sequence, rest.count) == (33, 40, 8)
    assert queue.stats().readings["UNBATCHED"] == 0


def test_cut_batches_never_reaches_beyond_the_span_past_the_previous_batch(queue: Queue) -> None:
    """The ledger refuses a batch whose last sequence is more than MAX_SEQUENCE_SPAN past the
    device's last anchored one: a batch stops there (and is cut at once, whatever its age)."""
    device = signer(34)
    queue.append([signed_frame(device, size=5)], now=1000.0)  # 1..5
    gap = signer(34, next_sequence=40)
    queue.append([signed_frame(gap, BASE_TIME + 60, size=5)], now=1000.0)  # 40..44
    late = signer(34, next_sequence=200)
    queue.append([signed_frame(late, BASE_TIME + 120, size=2)], now=1000.0)  # 200, 201 (a gap > span)
    batches = queue.cut_batches(100, 3600, now=1001.0, max_span=42)
    # 1..5 and 40..42 (within 0 + 42), then 43..44 (within 42 + 42); 200 lies beyond 44 + 42:
    # a gap wider than the span still gives a batch, of one reading (the ledger refuses it and
    # the anchoring loop flags the device); 201 waits for its age
    assert [(b.first_sequence, b.last_sequence, b.count) for b in batches] == [
        (1, 42, 8),
        (43, 44, 2),
        (200, 200, 1),
    ]
    assert [b.last_sequence - previous for b, previous in zip(batches[:2], (0, 42), strict=True)] == [42, 2]
    assert [s.signed.sequence for s in queue.unbatched(device.address)] == [201]


def test_cut_batches_starts_the_span_before_a_devices_first_reading(queue: Queue) -> None:
    """A queue rebuilt after the ledger's last anchored sequence: the first batch's span counts
    from the sequence before its first reading (the signer continued right after the ledger)."""
    device = signer(35, next_sequence=5_000_001)
    queue.append([signed_frame(device, size=8)], now=1000.0)
    batches = queue.cut_batches(100, 0, now=1001.0, max_span=5)
    assert [(b.first_sequence, b.last_sequence) for b in batches] == [
        (5_000_001, 5_000_005),
        (5_000_006, 5_000_008),
    ]


@pytest.mark.parametrize("span", [0, -1, True, 1.5])
def test_cut_batches_raises_queue_value_error_for_a_bad_span(queue: Queue, span: object) -> None:
    with pytest.raises(QueueValueError, match="max_span"):
        queue.cut_batches(16, 0, max_span=span)  # type: ignore[arg-type]


def test_cut_batches_ages_by_the_oldest_unbatched_reading(queue: Queue) -> None:
    device = signer(13)
    queue.append([signed_frame(device)], now=1000.0)
    queue.append([signed_frame(device, BASE_TIME + 60)], now=1050.0)
    (batch,) = queue.cut_batches(100, 30, now=1031.0)
    assert batch.count == 16


def test_cut_batches_moves_the_device_cursor_to_the_last_batched_sequence(queue: Queue) -> None:
    device = signer(33)
    queue.append(_frames(device, 3, size=5), now=1.0)  # 15 readings
    queue.cut_batches(6, 100, now=2.0)  # 1..6, 7..12; 13..15 stay
    with queue._read() as conn:
        last_batched = conn.exec_driver_sql(
            "SELECT last_batched FROM devices WHERE device = ?", (device.address,)
        ).scalar_one()
    assert last_batched == 12
    assert queue.last_sequences() == {device.address: 15}
    assert [s.signed.sequence for s in queue.unbatched(device.address)] == [13, 14, 15]


def test_cut_batches_groups_per_device_and_records_enterprise(queue: Queue) -> None:
    a, b = signer(14), signer(15)
    for k in range(3):
        queue.append(
            [signed_frame(a, BASE_TIME + 60 * k, base=k), signed_frame(b, BASE_TIME + 60 * k, base=k)],
            now=1.0,
        )
    batches = queue.cut_batches(10, 0, now=2.0, enterprises={a.address: "91331000MA2AXXXX1X"})
    assert sorted((x.device, x.count) for x in batches) == sorted(
        [(a.address, 10), (a.address, 10), (a.address, 4), (b.address, 10), (b.address, 10), (b.address, 4)]
    )
    assert {x.enterprise for x in batches if x.device == a.address} == {"91331000MA2AXXXX1X"}
    assert {x.enterprise for x in batches if x.device == b.address} == {None}
    for x in batches:
        assert {s.signed.device for s in queue.batch_readings(x.batch_id)} == {x.device}


def test_cut_batches_records_period_and_exact_totals_per_pollutant_and_unit(queue: Queue) -> None:
    device = signer(16)
    readings = [
        device.sign_text(time=BASE_TIME + 10, pollutant="w01018", value_text="12.5", unit="mg/L"),
        device.sign_text(time=BASE_TIME, pollutant="w01018", value_text="0.125", unit="mg/L"),
        device.sign_text(time=BASE_TIME + 30, pollutant="w01018", value_text="-1", unit="mg/L"),
        device.sign_frame(
            [
                ReadingFields(BASE_TIME + 20, "a21026", 35, 1, "kg"),
                ReadingFields(BASE_TIME + 20, "a21026", 40, 0, "mg/m3"),
            ]
        ),
    ]
    queue.append(readings)
    (batch,) = queue.cut_batches(10, 0)
    assert (batch.period_start, batch.period_end) == (BASE_TIME, BASE_TIME + 30)
    assert batch.totals == (
        PollutantTotal("a21026", "kg", 35, 1, 1),
        PollutantTotal("a21026", "mg/m3", 40, 0, 1),
        PollutantTotal("w01018", "mg/L", 11625, 3, 3),
    )
    assert batch.totals[2].amount == Decimal("11.625")
    assert PollutantTotal("x", "kg", 10**40 + 7, 2, 1).amount == Decimal("1" + "0" * 38 + ".07")
    assert queue.batch(batch.batch_id) == batch


def test_cut_batches_gives_the_same_ids_and_roots_for_the_same_readings(tmp_path: Path) -> None:
    device = signer(17)
    frames = _frames(device, 6)
    one, two = Queue(), Queue(tmp_path / "other.db")
    one.append(frames, now=5.0)
    for f in reversed(frames):  # other order, other chunks, other clock
        two.append([f], now=9.0)
    cut_one = one.cut_batches(20, 0, now=10.0)
    cut_two = two.cut_batches(20, 0, now=99.0)
    assert [(b.batch_id, b.root, b.totals) for b in cut_one] == [
        (b.batch_id, b.root, b.totals) for b in cut_two
    ]
    one.close()
    two.close()


def test_batch_id_is_keccak_of_abi_encoded_device_sequences_and_root(queue: Queue) -> None:
    device = signer(18)
    queue.append([signed_frame(device)])
    (batch,) = queue.cut_batches(8, 0)
    encoded = abi_encode(["address", "uint64", "uint64", "bytes32"], [device.address, 1, 8, batch.root])
    assert batch.batch_id == eth_hash_keccak(encoded)
    assert batch_id_of(device.address, 1, 8, batch.root) == batch.batch_id


def test_cut_batches_root_is_the_standard_tree_root_of_the_digests(queue: Queue) -> None:
    device = signer(19)
    frames = _frames(device, 3)
    queue.append(frames)
    (batch,) = queue.cut_batches(100, 0)
    assert "0x" + batch.root.hex() == batch_tree(_signed(frames)).root


@pytest.mark.parametrize(("size", "age"), [(0, 1), (-1, 1), (True, 1), (1.5, 1), (1, -1)])
def test_cut_batches_raises_queue_value_error_for_bad_limits(queue: Queue, size: object, age: float) -> None:
    with pytest.raises(QueueValueError):
        queue.cut_batches(size, age)  # type: ignore[arg-type]


# --- batch membership and witnesses ----------------------------------------------------------


def test_stored_reading_batch_id_is_the_batch_whose_range_holds_it_and_none_when_unbatched(
    queue: Queue,
) -> None:
    a, b = signer(34), signer(35)
    for k in range(3):
        queue.append(
            [signed_frame(a, BASE_TIME + 60 * k, size=5), signed_frame(b, BASE_TIME + 60 * k, size=3)],
            now=1.0,
        )
    cut = queue.cut_batches(4, 100, now=2.0)  # a: 1..4 .. 9..12, 13..15 young; b: 1..4, 5..8, 9 young
    assert sorted((x.device, x.count) for x in cut) == sorted([(a.address, 4)] * 3 + [(b.address, 4)] * 2)
    batches = queue.batches()
    unbatched = 0
    for device in (a, b):
        for s in queue.device_readings(device.address):
            assert s.batch_id == _batch_holding(batches, device.address, s.signed.sequence)
            assert queue.reading(s.row_id).batch_id == s.batch_id
            unbatched += s.batch_id is None
    assert unbatched == 4
    assert all(s.batch_id is None for s in queue.unbatched())
    for x in batches:
        assert {s.batch_id for s in queue.batch_readings(x.batch_id)} == {x.batch_id}


def test_stored_reading_witness_verifies_for_frames_straddling_batches_and_after_reopening(
    tmp_path: Path,
) -> None:
    path = tmp_path / "queue.db"
    device = signer(36)
    frames = _frames(device, 5)  # 40 readings, frames 1..8, 9..16, ...
    expected = {(s.device, s.sequence): s for s in _signed(frames)}
    with Queue(path) as q:
        q.append(frames, now=1.0)
        batches = q.cut_batches(12, 100, now=2.0)  # 1..12, 13..24, 25..36: frames 9..16 and 25..32 straddle
        assert [(b.first_sequence, b.last_sequence) for b in batches] == [(1, 12), (13, 24), (25, 36)]
        for batch in batches:
            _assert_witnesses(q.batch_readings(batch.batch_id), expected)
        _assert_witnesses(q.unbatched(), expected)
        straddler = q.reading(_row_id(q, device.address, 13))
        assert straddler.signed.witness == frames[1].witness(4)
        assert straddler.batch_id == batches[1].batch_id
        assert q.reading(_row_id(q, device.address, 12)).signed.witness == frames[1].witness(3)
    with Queue(path) as q:
        stored = q.device_readings(device.address)
        assert len(stored) == 40
        _assert_witnesses(stored, expected)
        for batch in batches:
            _assert_witnesses(q.batch_readings(batch.batch_id), expected)
        for s in stored:
            _assert_witnesses([q.reading(s.row_id)], expected)
            if s.batch_id is not None:
                _assert_proves(q, s.row_id)


def test_reading_and_batch_readings_raise_batch_state_error_when_a_frame_row_was_deleted(
    tmp_path: Path,
) -> None:
    path = tmp_path / "queue.db"
    device = signer(37)
    with Queue(path) as q:
        q.append(_frames(device, 3), now=1.0)
        first, _second = q.cut_batches(12, 100, now=2.0)  # 1..12, 13..24
        same_frame = _row_id(q, device.address, 3)
        other_frame = _row_id(q, device.address, 20)
    with sqlite3.connect(path) as raw:
        raw.execute("DELETE FROM readings WHERE device = ? AND sequence = 5", (device.address,))
    with Queue(path) as q:
        with pytest.raises(BatchStateError, match="readings missing"):
            q.reading(same_frame)
        with pytest.raises(BatchStateError):
            q.batch_readings(first.batch_id)
        with pytest.raises(BatchStateError):
            q.device_readings(device.address)
        verify(DOMAIN, q.reading(other_frame).signed, device.address)  # a whole frame still reads


def test_reading_raises_batch_state_error_when_its_signed_frame_row_was_deleted(tmp_path: Path) -> None:
    path = tmp_path / "queue.db"
    device = signer(38)
    with Queue(path) as q:
        q.append(_frames(device, 2))
        row_id = _row_id(q, device.address, 10)
    with sqlite3.connect(path) as raw:
        raw.execute("DELETE FROM signed_frames WHERE device = ? AND first_sequence = 9", (device.address,))
    with Queue(path) as q, pytest.raises(BatchStateError, match="no signed frame holds it"):
        q.reading(row_id)


def test_stored_reading_witness_fails_verification_when_a_frame_reading_was_altered(tmp_path: Path) -> None:
    path = tmp_path / "queue.db"
    device = signer(39)
    with Queue(path) as q:
        q.append([signed_frame(device, size=3)])
    with sqlite3.connect(path) as raw:
        raw.execute("UPDATE readings SET value = '999' WHERE device = ? AND sequence = 2", (device.address,))
    with Queue(path) as q:
        for s in q.device_readings(device.address):  # the frame's hashes no longer give the signed digest
            with pytest.raises(OracleError):
                verify(DOMAIN, s.signed, device.address)


# --- proofs ----------------------------------------------------------------------------------


def test_proof_proves_every_reading_of_a_batch(queue: Queue) -> None:
    device = signer(20)
    queue.append(_frames(device, 4))
    assert [b.count for b in queue.cut_batches(13, 0)] == [13, 13, 6]
    for row_id in _row_ids(queue):
        proof = _assert_proves(queue, row_id)
        assert proof.root == queue.batch(proof.batch_id).root


def test_proof_raises_not_batched_error_for_an_unbatched_reading(queue: Queue) -> None:
    queue.append([signed_frame(signer(21))])
    with pytest.raises(ReadingNotBatchedError):
        queue.proof(_row_ids(queue)[0])


def test_proof_raises_row_not_found_error_for_an_unknown_row(queue: Queue) -> None:
    with pytest.raises(ReadingRowNotFoundError):
        queue.proof(12345)


def test_tree_raises_batch_state_error_when_a_digest_was_altered(tmp_path: Path) -> None:
    path = tmp_path / "queue.db"
    with Queue(path) as q:
        q.append([signed_frame(signer(22))])
        (batch,) = q.cut_batches(8, 0)
    with sqlite3.connect(path) as raw:
        raw.execute("UPDATE readings SET digest = ? WHERE sequence = 3", (b"\x00" * 32,))
    with Queue(path) as q, pytest.raises(BatchStateError):
        q.tree(batch.batch_id)


# --- status changes --------------------------------------------------------------------------


def _cut_one(queue: Queue, seed: int = 23) -> Batch:
    queue.append([signed_frame(signer(seed))])
    (batch,) = queue.cut_batches(8, 0)
    return batch


def test_mark_submitted_then_anchored_moves_a_batch_along(queue: Queue) -> None:
    batch = _cut_one(queue)
    submitted = queue.mark_submitted(batch.batch_id, TX1)
    assert (submitted.status, submitted.tx_hash, submitted.block) == (BatchStatus.SUBMITTED, TX1, None)
    assert queue.pending_batches() == [submitted]
    anchored = queue.mark_anchored(batch.batch_id, TX1, 42)
    assert (anchored.status, anchored.tx_hash, anchored.block) == (BatchStatus.ANCHORED, TX1, 42)
    assert queue.pending_batches() == []
    assert queue.stats().batches == {"CUT": 0, "SUBMITTED": 0, "ANCHORED": 1}
    assert queue.stats().readings == {"UNBATCHED": 0, "CUT": 0, "SUBMITTED": 0, "ANCHORED": 8}


def test_mark_submitted_is_idempotent_and_takes_a_replacement_hash(queue: Queue) -> None:
    batch = _cut_one(queue)
    first = queue.mark_submitted(batch.batch_id, TX1)
    assert queue.mark_submitted(batch.batch_id, TX1) == first
    assert queue.mark_submitted("0x" + batch.batch_id.hex(), "0x" + TX2.hex()).tx_hash == TX2


def test_mark_submitted_leaves_an_anchored_batch_anchored(queue: Queue) -> None:
    batch = _cut_one(queue)
    anchored = queue.mark_anchored(batch.batch_id, TX1, 7)  # a receipt found without a submit
    assert queue.mark_submitted(batch.batch_id, TX2) == anchored


def test_mark_anchored_is_idempotent_for_the_same_transaction(queue: Queue) -> None:
    batch = _cut_one(queue)
    queue.mark_submitted(batch.batch_id, TX1)
    first = queue.mark_anchored(batch.batch_id, TX1, 42)
    assert queue.mark_anchored(batch.batch_id, TX1, 42) == first
    assert queue.mark_anchored(batch.batch_id, TX1, 43).block == 43  # re-included after a re-org


def test_mark_anchored_raises_batch_state_error_for_another_transaction(queue: Queue) -> None:
    batch = _cut_one(queue)
    queue.mark_anchored(batch.batch_id, TX1, 42)
    with pytest.raises(BatchStateError):
        queue.mark_anchored(batch.batch_id, TX2, 42)


def test_reopen_puts_an_anchored_batch_back_to_cut_keeping_its_readings(queue: Queue) -> None:
    batch = _cut_one(queue)
    queue.mark_anchored(batch.batch_id, TX1, 42)
    reopened = queue.reopen(batch.batch_id)
    assert (reopened.status, reopened.tx_hash, reopened.block) == (BatchStatus.CUT, None, None)
    assert (reopened.batch_id, reopened.root) == (batch.batch_id, batch.root)
    assert {s.batch_id for s in queue.batch_readings(batch.batch_id)} == {batch.batch_id}
    assert queue.stats().readings == {"UNBATCHED": 0, "CUT": 8, "SUBMITTED": 0, "ANCHORED": 0}


def test_marks_raise_batch_not_found_error_for_an_unknown_batch(queue: Queue) -> None:
    with pytest.raises(BatchNotFoundError):
        queue.mark_submitted(b"\x01" * 32, TX1)
    with pytest.raises(BatchNotFoundError):
        queue.mark_anchored(b"\x01" * 32, TX1, 1)
    with pytest.raises(BatchNotFoundError):
        queue.batch(b"\x01" * 32)
    with pytest.raises(BatchNotFoundError):
        queue.reopen(b"\x01" * 32)


@pytest.mark.parametrize(("tx", "block"), [(b"\x01" * 31, 1), ("0xzz", 1), (TX1, -1), (TX1, True)])
def test_mark_anchored_raises_queue_value_error_for_bad_hash_or_block(
    queue: Queue, tx: object, block: int
) -> None:
    batch = _cut_one(queue)
    with pytest.raises(QueueValueError):
        queue.mark_anchored(batch.batch_id, tx, block)  # type: ignore[arg-type]


def test_pending_batches_lists_cut_and_submitted_oldest_first(queue: Queue) -> None:
    a, b, c = (_cut_one(queue, seed) for seed in (24, 25, 26))
    queue.mark_submitted(b.batch_id, TX1)
    queue.mark_anchored(c.batch_id, TX2, 3)
    assert [x.batch_id for x in queue.pending_batches()] == [a.batch_id, b.batch_id]
    assert [x.batch_id for x in queue.batches()] == [a.batch_id, b.batch_id, c.batch_id]
    assert [x.batch_id for x in queue.batches(BatchStatus.ANCHORED)] == [c.batch_id]


# --- durability ------------------------------------------------------------------------------


def test_file_queue_uses_wal_and_synchronous_normal(tmp_path: Path) -> None:
    path = tmp_path / "queue.db"
    with Queue(path) as q:
        assert q._conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    with Queue(path, synchronous="FULL") as q:
        assert q._conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2


def test_queue_raises_queue_value_error_for_bad_synchronous_or_schema(tmp_path: Path) -> None:
    with pytest.raises(QueueValueError):
        Queue(synchronous="OFF")  # type: ignore[arg-type]
    path = tmp_path / "queue.db"
    Queue(path).close()
    with sqlite3.connect(path) as raw:
        raw.execute("PRAGMA user_version = 99")
    with pytest.raises(QueueValueError, match="schema version 99"):
        Queue(path)


def test_queue_raises_queue_value_error_for_a_schema_version_2_file(tmp_path: Path) -> None:
    assert SCHEMA_VERSION == 4
    path = tmp_path / "queue.db"
    with sqlite3.connect(path) as raw:  # a version 2 queue: a signature and a batch id per reading
        raw.execute(
            "CREATE TABLE readings (id INTEGER PRIMARY KEY, device TEXT, sequence INTEGER, signature BLOB,"
            " batch_id BLOB, UNIQUE (device, sequence))"
        )
        raw.execute("PRAGMA user_version = 2")
    with pytest.raises(QueueValueError, match="schema version 2, expected 4"):
        Queue(path)
    with sqlite3.connect(path) as raw:  # left as it was
        tables = {name for (name,) in raw.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert tables == {"readings"}
        assert raw.execute("PRAGMA user_version").fetchone()[0] == 2


def test_memory_queues_are_private(queue: Queue) -> None:
    queue.append([signed_frame(signer(27))])
    assert Queue(":memory:").stats().readings["UNBATCHED"] == 0


def test_reopened_queue_sees_everything_and_keeps_submitted_batches_pending(tmp_path: Path) -> None:
    path = tmp_path / "queue.db"
    device = signer(28)
    with Queue(path) as q:
        q.append(_frames(device, 4), now=1.0)
        first, second = q.cut_batches(12, 100, now=2.0)
        q.mark_submitted(first.batch_id, TX1)
        q.mark_anchored(second.batch_id, TX2, 9)
        proofs = {row_id: q.proof(row_id) for row_id in _row_ids(q)[:24]}
        stats = q.stats()
    with Queue(path) as q:
        assert q.stats() == stats
        assert [b.batch_id for b in q.pending_batches()] == [first.batch_id]
        assert q.pending_batches()[0].tx_hash == TX1
        assert {row_id: q.proof(row_id) for row_id in proofs} == proofs
        tracker = SequenceTracker(q.last_sequences())
        assert tracker.last_seen(device.address) == 32
        resumed = signer(28, next_sequence=q.last_sequences()[device.address] + 1)
        q.append([signed_frame(resumed)], now=150.0)
        (batch,) = q.cut_batches(12, 100, now=200.0)
        assert (batch.first_sequence, batch.last_sequence, batch.count) == (25, 36, 12)


def test_second_queue_on_the_same_file_sees_committed_appends(tmp_path: Path) -> None:
    path = tmp_path / "queue.db"
    with Queue(path) as writer, Queue(path) as reader:
        writer.append([signed_frame(signer(29))])
        assert reader.stats().readings["UNBATCHED"] == 8
        (batch,) = reader.cut_batches(8, 0)
        assert writer.pending_batches() == [batch]


_CRASH_SCRIPT = textwrap.dedent(
    """
    import sys
    from oracle.queue import Queue
    from tests.utils.readings import BASE_TIME, signed_frame, signer

    queue = Queue(sys.argv[1])
    device = signer(40)
    for i in range(100_000):
        queue.append([signed_frame(device, BASE_TIME + 60 * i, base=i)])
        if i % 5 == 4:
            queue.cut_batches(12, 10**9)
        print(8 * (i + 1), flush=True)
    """
)


@pytest.mark.parametrize("frames_before_kill", [3, 40])
def test_queue_keeps_committed_rows_and_whole_batches_when_killed_mid_way(
    tmp_path: Path, frames_before_kill: int
) -> None:
    path = tmp_path / "queue.db"
    script = tmp_path / "crash.py"
    script.write_text(_CRASH_SCRIPT)
    env = os.environ | {"PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [sys.executable, str(script), str(path)], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    committed = 0
    try:
        for _ in range(frames_before_kill):
            line = process.stdout.readline()
            assert line, "the writer died on its own"
            committed = int(line)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        process.stdout.close()
    assert process.returncode == -signal.SIGKILL
    with Queue(path) as q:
        stats = q.stats()
        total = sum(stats.readings.values())
        assert total >= committed
        assert total % 8 == 0  # an append is all or nothing
        assert sorted(q.last_sequences().values()) == [total]
        batched = 0
        for batch in q.batches():
            members = q.batch_readings(batch.batch_id)
            assert len(members) == batch.count == 12  # a cut is all or nothing
            assert [m.signed.sequence for m in members] == list(
                range(batch.first_sequence, batch.last_sequence + 1)
            )
            assert "0x" + batch.root.hex() == q.tree(batch.batch_id).root
            batched += batch.count
        assert stats.readings["CUT"] == batched
        assert stats.readings["UNBATCHED"] == total - batched
        with q._read() as conn:
            torn_frames = conn.exec_driver_sql(
                "SELECT count(*) FROM signed_frames f WHERE f.size != (SELECT count(*) FROM readings r"
                " WHERE r.device = f.device AND r.sequence BETWEEN f.first_sequence"
                " AND f.first_sequence + f.size - 1)"
            ).scalar_one()
            cursors = conn.exec_driver_sql(
                "SELECT d.last_batched, coalesce(max(b.last_sequence), 0) FROM devices d"
                " LEFT JOIN batches b ON b.device = d.device GROUP BY d.device"
            ).all()
        assert torn_frames == 0
        assert all(last_batched == last_cut for last_batched, last_cut in cursors)
        for s in q.device_readings(signer(40).address):
            verify(DOMAIN, s.signed, s.signed.device)
        q.append([signed_frame(signer(41))])  # and the file is still writable


# --- properties ------------------------------------------------------------------------------

_KEYS = (b"\x01" * 32, b"\x02" * 32, b"\x03" * 32)
_reading_specs = st.tuples(
    st.sampled_from([("w01018", "mg/L"), ("a21026", "kg"), ("a21026", "mg/m3"), ("w00000", "L/s")]),
    st.integers(-(10**9), 10**9),
    st.integers(0, 6),
)
_frame_specs = st.tuples(
    st.integers(0, 2), st.lists(_reading_specs, min_size=1, max_size=4)
)  # device, readings


def _sign_specs(
    devices: list[DeviceSigner], specs: list[tuple[int, list[tuple[tuple[str, str], int, int]]]]
) -> list[SignedFrame]:
    return [
        devices[d].sign_frame([ReadingFields(BASE_TIME + i, p, v, dec, u) for (p, u), v, dec in readings])
        for i, (d, readings) in enumerate(specs)
    ]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    specs=st.lists(_frame_specs, min_size=1, max_size=20),
    chunk=st.integers(1, 6),
    max_size=st.integers(1, 25),
    cuts=st.lists(st.tuples(st.integers(1, 30), st.floats(0, 100)), max_size=3),
)
def test_every_reading_ends_in_exactly_one_batch_that_proves_it_and_totals_it(
    specs: list[tuple[int, list[tuple[tuple[str, str], int, int]]]],
    chunk: int,
    max_size: int,
    cuts: list[tuple[int, float]],
) -> None:
    devices = [DeviceSigner(key, DOMAIN) for key in _KEYS]
    frames = _sign_specs(devices, specs)
    signed = _signed(frames)
    q = Queue()
    clock = 0.0
    for i in range(0, len(frames), chunk):
        clock += 10
        q.append(frames[i : i + chunk], now=clock)
        if cuts:
            size, age = cuts[(i // chunk) % len(cuts)]
            q.cut_batches(size, age, now=clock)
    q.cut_batches(max_size, 0, now=clock + 1)

    assert q.stats().readings["UNBATCHED"] == 0
    batches = q.batches()
    assert sum(b.count for b in batches) == len(signed)
    seen: dict[bytes, bytes] = {}
    for batch in batches:
        members = q.batch_readings(batch.batch_id)
        assert len(members) == batch.count
        assert {m.signed.device for m in members} == {batch.device}
        expected: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
        for m in members:
            assert m.signed.digest not in seen  # exactly one batch
            seen[m.signed.digest] = batch.batch_id
            assert _assert_proves(q, m.row_id).batch_id == batch.batch_id
            expected[m.signed.reading.pollutant, m.signed.reading.unit] += m.signed.reading.amount
        assert {(t.pollutant, t.unit): t.amount for t in batch.totals} == dict(expected)
        assert sum(t.count for t in batch.totals) == batch.count
    assert set(seen) == {s.digest for s in signed}
    q.close()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    devices_in_play=st.integers(2, 3),
    frames_spec=st.lists(st.tuples(st.integers(0, 2), st.integers(1, 5)), min_size=1, max_size=20),
    chunk=st.integers(1, 5),
    cuts=st.lists(
        st.tuples(st.integers(1, 13), st.sampled_from([0.0, 15.0, 1000.0])), min_size=1, max_size=4
    ),
    late=st.sets(st.integers(0, 19), max_size=4),
    replays=st.lists(st.integers(0, 19), max_size=3),
)
def test_queue_partitions_interleaved_frames_into_batches_and_unbatched_with_verifying_witnesses(
    devices_in_play: int,
    frames_spec: list[tuple[int, int]],
    chunk: int,
    cuts: list[tuple[int, float]],
    late: set[int],
    replays: list[int],
) -> None:
    devices = [DeviceSigner(key, DOMAIN) for key in _KEYS[:devices_in_play]]
    frames = [
        signed_frame(devices[d % devices_in_play], BASE_TIME + 60 * i, size=size, base=i)
        for i, (d, size) in enumerate(frames_spec)
    ]
    late = {i % len(frames) for i in late}
    on_time = [f for i, f in enumerate(frames) if i not in late]  # the others arrive after some cuts
    q = Queue()
    clock = 0.0
    for i in range(0, len(on_time), chunk):
        clock += 10
        assert q.append(on_time[i : i + chunk], now=clock) == sum(len(f) for f in on_time[i : i + chunk])
        size, age = cuts[(i // chunk) % len(cuts)]
        for batch in q.cut_batches(size, age, now=clock):
            assert 1 <= batch.count <= size
    stored_frames = list(on_time)
    for f in (frames[i] for i in sorted(late)):
        last_cut = max((b.last_sequence for b in q.batches() if b.device == f.device), default=0)
        if f.first_sequence <= last_cut:  # its gap was cut over: the ledger would call it a replay
            with pytest.raises(ReadingDuplicateError) as refused:
                q.append([f], now=clock + 1)
            assert (refused.value.duplicates, refused.value.stored) == (_keys([f]), 0)
        else:
            assert q.append([f], now=clock + 1) == len(f)
            stored_frames.append(f)
    replayed = [stored_frames[r % len(stored_frames)] for r in replays] if stored_frames else []
    if replayed:  # replays refused whole, beside a fresh frame that is stored
        fresh = signed_frame(devices[0], BASE_TIME + 60 * len(frames), size=2)
        with pytest.raises(ReadingDuplicateError) as caught:
            q.append([*replayed, fresh], now=clock + 2)
        assert caught.value.duplicates == _keys(replayed)
        assert caught.value.stored == 2
        stored_frames.append(fresh)
    expected = {(s.device, s.sequence): s for s in _signed(stored_frames)}

    stats = q.stats()
    batches = q.batches()
    batched = sum(stats.readings[status.value] for status in BatchStatus)
    assert stats.readings["UNBATCHED"] + batched == len(expected)
    assert batched == sum(b.count for b in batches)
    places: dict[tuple[str, int], bytes | None] = {}
    for batch in batches:
        members = q.batch_readings(batch.batch_id)
        assert len(members) == batch.count
        for m in members:
            key = (m.signed.device, m.signed.sequence)
            assert key not in places  # in one batch only
            places[key] = batch.batch_id
            assert m.batch_id == batch.batch_id
    for s in q.unbatched():
        key = (s.signed.device, s.signed.sequence)
        assert key not in places  # batched or unbatched, not both
        places[key] = None
        assert s.batch_id is None
    assert set(places) == set(expected)
    assert len(q.unbatched()) == stats.readings["UNBATCHED"]
    for device in devices:
        stored = q.device_readings(device.address)
        _assert_witnesses(stored, expected)
        assert all(s.batch_id == places[s.signed.device, s.signed.sequence] for s in stored)
    q.close()


# --- errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "builtin"),
    [
        (QueueValueError, ValueError),
        (ReadingDuplicateError, ValueError),
        (BatchNotFoundError, KeyError),
        (BatchStateError, ValueError),
        (ReadingRowNotFoundError, KeyError),
        (ReadingNotBatchedError, LookupError),
    ],
)
def test_queue_errors_are_oracle_errors_refining_a_builtin(
    error: type[Exception], builtin: type[Exception]
) -> None:
    assert issubclass(error, QueueError)
    assert issubclass(error, OracleError)
    assert issubclass(error, builtin)
    assert error.__doc__ and error.__doc__.strip()
