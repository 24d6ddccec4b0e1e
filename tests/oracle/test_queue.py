"""Tests of the durable store-and-forward queue: append, cut, proofs, status changes, restarts."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import pytest
from eth_abi import encode as abi_encode
from eth_hash.auto import keccak as eth_hash_keccak
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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
from oracle.merkle import StandardMerkleTree, process_proof
from oracle.queue import Batch, BatchStatus, PollutantTotal, Queue, ReadingProof, batch_id_of
from oracle.signing import (
    DeviceSigner,
    SequenceTracker,
    SignedReading,
    batch_tree,
    leaf_hash,
    verify,
)
from tests.utils.readings import BASE_TIME, DOMAIN, frame, signer

ROOT = Path(__file__).resolve().parents[2]
TX1 = b"\x11" * 32
TX2 = b"\x22" * 32


@pytest.fixture
def queue() -> Queue:
    return Queue()


def _frames(device: DeviceSigner, count: int, size: int = 8) -> list[SignedReading]:
    out: list[SignedReading] = []
    for i in range(count):
        out.extend(frame(device, BASE_TIME + 60 * i, size=size, base=i))
    return out


def _row_ids(q: Queue) -> list[int]:
    with q._read() as conn:
        return [row_id for (row_id,) in conn.exec_driver_sql("SELECT id FROM readings ORDER BY id")]


def _assert_proves(q: Queue, row_id: int) -> ReadingProof:
    stored = q.reading(row_id)
    proof = q.proof(row_id)
    assert proof.batch_id == stored.batch_id
    assert process_proof(leaf_hash(stored.signed.digest), proof.proof) == "0x" + proof.root.hex()
    assert StandardMerkleTree.verify_proof(proof.root, ["bytes32"], [stored.signed.digest], proof.proof)
    return proof


# --- appending -------------------------------------------------------------------------------


def test_append_stores_readings_and_returns_count(queue: Queue) -> None:
    device = signer(1)
    assert queue.append(_frames(device, 3)) == 24
    assert queue.stats().readings["UNBATCHED"] == 24
    assert queue.last_sequences() == {device.address: 24}


def test_append_of_nothing_stores_nothing(queue: Queue) -> None:
    assert queue.append([]) == 0
    assert queue.append(iter([])) == 0


def test_append_keeps_every_field_and_status(queue: Queue) -> None:
    device = signer(2)
    signed = frame(device, size=2)
    queue.append(iter(signed), qc=["OK", "SUSPECT"], now=123.5)
    stored = queue.unbatched(device.address)
    assert [s.signed for s in stored] == signed
    assert [s.qc for s in stored] == ["OK", "SUSPECT"]
    assert {s.received_at for s in stored} == {123.5}
    assert all(s.batch_id is None for s in stored)
    for s in stored:
        verify(DOMAIN, s.signed, device.address)


def test_append_stores_int256_values_exactly(queue: Queue) -> None:
    device = signer(3)
    extremes = [
        device.sign(time=BASE_TIME, pollutant="w01018", value=v, decimals=0, unit="kg")
        for v in (2**255 - 1, -(2**255), 0)
    ]
    queue.append(extremes)
    assert [s.signed for s in queue.unbatched()] == extremes


def test_append_raises_duplicate_error_naming_device_and_sequence_for_a_replay(queue: Queue) -> None:
    device = signer(4)
    signed = frame(device)
    queue.append(signed)
    with pytest.raises(ReadingDuplicateError, match=f"device {device.address} sequence 1") as caught:
        queue.append(signed[:2])
    assert caught.value.duplicates == ((device.address, 1), (device.address, 2))
    assert caught.value.stored == 0
    assert queue.stats().readings["UNBATCHED"] == 8


def test_append_stores_the_rest_when_some_readings_are_duplicates(queue: Queue) -> None:
    device = signer(5)
    first = frame(device)
    queue.append(first[:3])
    fresh = frame(device, BASE_TIME + 60)
    with pytest.raises(ReadingDuplicateError) as caught:
        queue.append([first[1], *first[3:], fresh[0], first[2], *fresh[1:]])
    assert caught.value.duplicates == ((device.address, 2), (device.address, 3))
    assert caught.value.stored == 5 + 8
    assert sorted(s.signed.sequence for s in queue.unbatched()) == list(range(1, 17))


def test_append_refuses_a_conflicting_reading_with_a_stored_sequence(queue: Queue) -> None:
    original = frame(signer(6), size=1)[0]
    queue.append([original])
    # The same device key restarted without resuming its sequence: same number, other reading.
    conflicting = signer(6).sign(time=BASE_TIME + 5, pollutant="a21026", value=9, decimals=0, unit="kg")
    assert (conflicting.device, conflicting.sequence) == (original.device, original.sequence)
    with pytest.raises(ReadingDuplicateError):
        queue.append([conflicting])
    assert [s.signed for s in queue.unbatched()] == [original]


def test_append_refuses_duplicates_within_one_call(queue: Queue) -> None:
    device = signer(8)
    signed = frame(device, size=3)
    with pytest.raises(ReadingDuplicateError) as caught:
        queue.append([signed[0], signed[1], signed[0], signed[2], signed[1]])
    assert caught.value.duplicates == ((device.address, 1), (device.address, 2))
    assert caught.value.stored == 3


def test_append_raises_queue_value_error_and_stores_nothing_for_int64_overflow(queue: Queue) -> None:
    big = signer(9, next_sequence=2**63)
    with pytest.raises(QueueValueError, match="int64"):
        queue.append(frame(signer(10), size=2) + frame(big, size=1))
    assert queue.stats().readings["UNBATCHED"] == 0


def test_append_raises_queue_value_error_when_qc_statuses_do_not_match(queue: Queue) -> None:
    with pytest.raises(QueueValueError):
        queue.append(frame(signer(11), size=3), qc=["OK", "OK"])


def test_append_is_safe_from_many_threads(queue: Queue) -> None:
    devices = [signer(100 + i) for i in range(4)]
    batches = {d.address: [frame(d, BASE_TIME + 60 * k, base=k) for k in range(20)] for d in devices}

    def work(address: str) -> None:
        for f in batches[address]:
            queue.append(f)

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


def test_cut_batches_ages_by_the_oldest_unbatched_reading(queue: Queue) -> None:
    device = signer(13)
    queue.append(frame(device), now=1000.0)
    queue.append(frame(device, BASE_TIME + 60), now=1050.0)
    (batch,) = queue.cut_batches(100, 30, now=1031.0)
    assert batch.count == 16


def test_cut_batches_groups_per_device_and_records_enterprise(queue: Queue) -> None:
    a, b = signer(14), signer(15)
    for k in range(3):
        queue.append(frame(a, BASE_TIME + 60 * k, base=k) + frame(b, BASE_TIME + 60 * k, base=k), now=1.0)
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
        device.sign_text(time=BASE_TIME + 20, pollutant="a21026", value_text="3.5", unit="kg"),
        device.sign_text(time=BASE_TIME + 20, pollutant="a21026", value_text="40", unit="mg/m3"),
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
    signed = _frames(device, 6)
    one, two = Queue(), Queue(tmp_path / "other.db")
    one.append(signed, now=5.0)
    for i in range(len(signed) - 8, -1, -8):  # other order, other chunks, other clock
        two.append(signed[i : i + 8], now=9.0)
    cut_one = one.cut_batches(20, 0, now=10.0)
    cut_two = two.cut_batches(20, 0, now=99.0)
    assert [(b.batch_id, b.root, b.totals) for b in cut_one] == [
        (b.batch_id, b.root, b.totals) for b in cut_two
    ]


def test_batch_id_is_keccak_of_abi_encoded_device_sequences_and_root(queue: Queue) -> None:
    device = signer(18)
    queue.append(frame(device))
    (batch,) = queue.cut_batches(8, 0)
    encoded = abi_encode(["address", "uint64", "uint64", "bytes32"], [device.address, 1, 8, batch.root])
    assert batch.batch_id == eth_hash_keccak(encoded)
    assert batch_id_of(device.address, 1, 8, batch.root) == batch.batch_id


def test_cut_batches_root_is_the_standard_tree_root_of_the_digests(queue: Queue) -> None:
    device = signer(19)
    signed = _frames(device, 3)
    queue.append(signed)
    (batch,) = queue.cut_batches(100, 0)
    assert "0x" + batch.root.hex() == batch_tree(signed).root


@pytest.mark.parametrize(("size", "age"), [(0, 1), (-1, 1), (True, 1), (1.5, 1), (1, -1)])
def test_cut_batches_raises_queue_value_error_for_bad_limits(queue: Queue, size: object, age: float) -> None:
    with pytest.raises(QueueValueError):
        queue.cut_batches(size, age)  # type: ignore[arg-type]


# --- proofs ----------------------------------------------------------------------------------


def test_proof_proves_every_reading_of_a_batch(queue: Queue) -> None:
    device = signer(20)
    queue.append(_frames(device, 4))
    assert [b.count for b in queue.cut_batches(13, 0)] == [13, 13, 6]
    for row_id in _row_ids(queue):
        proof = _assert_proves(queue, row_id)
        assert proof.root == queue.batch(proof.batch_id).root


def test_proof_raises_not_batched_error_for_an_unbatched_reading(queue: Queue) -> None:
    queue.append(frame(signer(21)))
    with pytest.raises(ReadingNotBatchedError):
        queue.proof(_row_ids(queue)[0])


def test_proof_raises_row_not_found_error_for_an_unknown_row(queue: Queue) -> None:
    with pytest.raises(ReadingRowNotFoundError):
        queue.proof(12345)


def test_tree_raises_batch_state_error_when_a_digest_was_altered(tmp_path: Path) -> None:
    path = tmp_path / "queue.db"
    with Queue(path) as q:
        q.append(frame(signer(22)))
        (batch,) = q.cut_batches(8, 0)
    with sqlite3.connect(path) as raw:
        raw.execute("UPDATE readings SET digest = ? WHERE sequence = 3", (b"\x00" * 32,))
    with Queue(path) as q, pytest.raises(BatchStateError):
        q.tree(batch.batch_id)


# --- status changes --------------------------------------------------------------------------


def _cut_one(queue: Queue, seed: int = 23) -> Batch:
    queue.append(frame(signer(seed)))
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


def test_marks_raise_batch_not_found_error_for_an_unknown_batch(queue: Queue) -> None:
    with pytest.raises(BatchNotFoundError):
        queue.mark_submitted(b"\x01" * 32, TX1)
    with pytest.raises(BatchNotFoundError):
        queue.mark_anchored(b"\x01" * 32, TX1, 1)
    with pytest.raises(BatchNotFoundError):
        queue.batch(b"\x01" * 32)


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


def test_memory_queues_are_private(queue: Queue) -> None:
    queue.append(frame(signer(27)))
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
        q.append(frame(resumed), now=150.0)
        (batch,) = q.cut_batches(12, 100, now=200.0)
        assert (batch.first_sequence, batch.last_sequence, batch.count) == (25, 36, 12)


def test_second_queue_on_the_same_file_sees_committed_appends(tmp_path: Path) -> None:
    path = tmp_path / "queue.db"
    with Queue(path) as writer, Queue(path) as reader:
        writer.append(frame(signer(29)))
        assert reader.stats().readings["UNBATCHED"] == 8
        (batch,) = reader.cut_batches(8, 0)
        assert writer.pending_batches() == [batch]


_CRASH_SCRIPT = textwrap.dedent(
    """
    import sys
    from oracle.queue import Queue
    from tests.utils.readings import BASE_TIME, frame, signer

    queue = Queue(sys.argv[1])
    device = signer(40)
    for i in range(100_000):
        queue.append(frame(device, BASE_TIME + 60 * i, base=i))
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
            orphans = conn.exec_driver_sql(
                "SELECT count(*) FROM readings r LEFT JOIN batches b ON b.batch_id = r.batch_id"
                " WHERE r.batch_id IS NOT NULL AND b.batch_id IS NULL"
            ).scalar_one()
        assert orphans == 0
        q.append(frame(signer(41)))  # and the file is still writable


# --- properties ------------------------------------------------------------------------------

_reading_specs = st.tuples(
    st.integers(0, 2),  # device
    st.sampled_from([("w01018", "mg/L"), ("a21026", "kg"), ("a21026", "mg/m3"), ("w00000", "L/s")]),
    st.integers(-(10**9), 10**9),
    st.integers(0, 6),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    specs=st.lists(_reading_specs, min_size=1, max_size=60),
    chunk=st.integers(1, 17),
    max_size=st.integers(1, 25),
    cuts=st.lists(st.tuples(st.integers(1, 30), st.floats(0, 100)), max_size=3),
)
def test_every_reading_ends_in_exactly_one_batch_that_proves_it_and_totals_it(
    specs: list[tuple[int, tuple[str, str], int, int]],
    chunk: int,
    max_size: int,
    cuts: list[tuple[int, float]],
) -> None:
    devices = [DeviceSigner(signer_key, DOMAIN) for signer_key in (b"\x01" * 32, b"\x02" * 32, b"\x03" * 32)]
    signed = [
        devices[d].sign(time=BASE_TIME + i, pollutant=p, value=v, decimals=dec, unit=u)
        for i, (d, (p, u), v, dec) in enumerate(specs)
    ]
    q = Queue()
    clock = 0.0
    for i in range(0, len(signed), chunk):
        clock += 10
        q.append(signed[i : i + chunk], now=clock)
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
