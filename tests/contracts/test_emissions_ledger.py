"""EmissionsLedger on a real Anvil: anchoring by the oracle gateway and every refusal, idempotent
re-sends, sequence replay and gaps, and on-chain verification of readings signed a frame at a
time and batched by the oracle's queue (frame witness, signature, device and Merkle inclusion)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace

import pytest
from coincurve import PrivateKey
from eth_account.messages import _hash_eip191_message, encode_typed_data
from eth_account.signers.local import LocalAccount
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chain.accounts import dev_account
from chain.anchoring import (
    BatchAnchor,
    BatchEstimateTotal,
    BatchExcludedTotal,
    BatchTotal,
    batch_anchor_of,
    batch_id_of,
    hash_totals,
    pack_totals,
    unpack_totals,
)
from chain.ledger import LedgerClient
from chain.registry import ROLES
from oracle.queue import Batch, Queue
from oracle.queue import batch_id_of as queue_batch_id_of
from oracle.service import OracleSettings
from oracle.signing.eip712 import ReadingDomain, frame_digest, frame_typed_data, reading_digest, reading_hash
from oracle.signing.hashing import keccak
from oracle.signing.proof import FrameWitness, SignedReading, batch_tree
from oracle.signing.reading import Reading, ReadingFields
from oracle.signing.signer import DeviceSigner
from tests.conftest import Consortium
from tests.utils.chain import register, reverts
from tests.utils.readings import BASE_TIME, FRAME_FACTORS, device_key, readings, signer

ENTERPRISE_A = dev_account(33)
ENTERPRISE_B = dev_account(34)
DEVICE_A, DEVICE_B, DEVICE_C, UNBOUND = 701, 702, 703, 704  # device key seeds
ZERO = "0x" + "00" * 20
#: Gas an anchoring may use, whatever the batch size: one new word for the batch and a device's
#: first sequence word (~44k), one registry call, calldata and the event with 8 packed totals.
ANCHOR_GAS_BUDGET = 120_000


@dataclass
class Ledger:
    c: Consortium
    ledger: LedgerClient
    domain: ReadingDomain

    def device(self, seed: int, *, next_sequence: int = 1) -> DeviceSigner:
        return signer(seed, next_sequence=next_sequence, domain=self.domain)


@pytest.fixture(scope="module")
def deployed(consortium: Consortium) -> Iterator[Ledger]:
    """A ledger; enterprises A (devices A, B) and B (device C) registered and bound, each device
    to the consortium's oracle."""
    c = consortium
    snapshot = c.snapshot()
    ledger = c.ledger
    address = ledger.address
    register(c.registry, c.members, ENTERPRISE_A.address, 701)
    register(c.registry, c.members, ENTERPRISE_B.address, 702)
    domain = ReadingDomain(c.chain.chain_id, address)
    for seed, enterprise, mn in [
        (DEVICE_A, ENTERPRISE_A, "LEDGERTESTA001"),
        (DEVICE_B, ENTERPRISE_A, "LEDGERTESTB001"),
        (DEVICE_C, ENTERPRISE_B, "LEDGERTESTC001"),
    ]:
        device = signer(seed, domain=domain).address
        c.registry.bind_device(c.regulator, device, enterprise.address, mn, oracle=c.oracle.address)
    yield Ledger(c, ledger, domain)
    c.revert(snapshot)


@pytest.fixture
def env(deployed: Ledger) -> Iterator[Ledger]:
    snapshot = deployed.c.snapshot()
    try:
        yield deployed
    finally:
        deployed.c.revert(snapshot)


#: Readings a device signs in one frame in the verification tests (a minute frame of eight
#: factors gives about fourteen).
FRAME_SIZE = 14


def frame_fields(time: int, size: int = 8, *, base: int = 0) -> list[ReadingFields]:
    """One frame's readings before signing: ``size`` readings at ``time``, cycling the factors."""
    factors = [FRAME_FACTORS[i % len(FRAME_FACTORS)] for i in range(size)]
    return [
        ReadingFields(time, pollutant, base + 1000 * i + 345, i % 4, unit)
        for i, (pollutant, unit) in enumerate(factors)
    ]


def cut(env: Ledger, seed: int, frames: int = 8, *, first: int = 1, size: int = 8) -> tuple[Batch, Queue]:
    """One batch of ``frames`` frames of ``size`` readings of a device (one signature a frame, a
    minute apart), from sequence ``first``, via the queue."""
    device = env.device(seed, next_sequence=first)
    queue = Queue()
    queue.append(device.sign_frame(frame_fields(BASE_TIME + 60 * i, size, base=i)) for i in range(frames))
    [batch] = queue.cut_batches(frames * size, 0)
    return batch, queue


def signed_readings(queue: Queue, batch: Batch) -> list[tuple[SignedReading, list[bytes]]]:
    """Each reading of the batch with its Merkle proof, from the queue."""
    rows = queue.batch_readings(batch.batch_id)
    return [(row.signed, list(queue.proof(row.row_id).proof)) for row in rows]


def raw_anchor(env: Ledger, anchor: BatchAnchor, sender: LocalAccount | None = None) -> None:
    fn = env.ledger.contract.functions.anchorBatch(anchor.as_tuple())
    env.c.chain.transact(fn, sender or env.c.oracle)


# ---------------------------------------------------------------------- anchoring


def test_anchor_batch_stores_record_and_emits_totals_when_oracle(env: Ledger) -> None:
    batch, _ = cut(env, DEVICE_A)
    anchor = batch_anchor_of(batch)
    result = env.ledger.anchor(env.c.oracle, batch)

    assert result.created and result.tx_hash and result.gas_used
    record = result.record
    assert record.batch_id == batch.batch_id
    assert (record.root, record.device, record.enterprise) == (batch.root, batch.device, ENTERPRISE_A.address)
    assert (record.first_sequence, record.last_sequence, record.count) == (1, 64, 64)
    assert (record.period_start, record.period_end) == (BASE_TIME, BASE_TIME + 7 * 60)
    assert record.anchored_at == env.c.chain.timestamp()
    assert record.totals_hash == hash_totals(anchor.totals) == keccak(env.ledger.pack_totals(anchor.totals))
    assert (record.totals, record.excluded, record.estimates) == (anchor.totals, (), ())
    assert (
        env.ledger.anchored_block(batch.batch_id) == record.anchored_block == env.c.chain.w3.eth.block_number
    )
    assert env.ledger.is_anchored(batch.batch_id)
    assert env.ledger.last_anchored_sequence(batch.device) == 64

    [event] = env.ledger.anchored_events(device=batch.device)
    assert (event.batch_id, event.enterprise, event.previous_sequence, event.gap) == (
        batch.batch_id,
        ENTERPRISE_A.address,
        0,
        0,
    )
    assert event.totals == anchor.totals
    assert env.ledger.totals(batch.batch_id) == anchor.totals
    assert {(t.pollutant, t.unit) for t in anchor.totals} == {(t.pollutant, t.unit) for t in batch.totals}
    assert all(
        t.total == q.value and t.decimals == q.decimals
        for t in anchor.totals
        for q in batch.totals
        if (q.pollutant, q.unit) == (t.pollutant, t.unit)
    )


def test_batch_id_python_equals_queue_and_contract_rule(env: Ledger) -> None:
    batch, _ = cut(env, DEVICE_A, 2)
    expected = queue_batch_id_of(batch.device, batch.first_sequence, batch.last_sequence, batch.root)
    assert batch_id_of(batch.device, batch.first_sequence, batch.last_sequence, batch.root) == expected
    assert expected == batch.batch_id


@pytest.mark.parametrize("who", ["regulator", "exchange", "auditor", "enterprise", "outsider"])
def test_anchor_refuses_accounts_without_oracle_role(env: Ledger, who: str) -> None:
    account = {
        "regulator": env.c.regulator,
        "exchange": env.c.exchange,
        "auditor": env.c.auditor,
        "enterprise": ENTERPRISE_A,
        "outsider": env.c.outsider,
    }[who]
    batch, _ = cut(env, DEVICE_A, 1)
    with reverts("UnauthorizedRole", account=account.address, role=ROLES["ORACLE"]):
        env.ledger.anchor(account, batch)


def test_anchor_refuses_unbound_device(env: Ledger) -> None:
    batch, _ = cut(env, UNBOUND, 1)
    with reverts("LedgerDeviceNotBound", device=batch.device):
        env.ledger.anchor(env.c.oracle, batch)


def test_anchor_refuses_device_after_unbinding(env: Ledger) -> None:
    batch, _ = cut(env, DEVICE_B, 1)
    env.c.registry.unbind_device(env.c.regulator, batch.device)
    with reverts("LedgerDeviceNotBound", device=batch.device):
        env.ledger.anchor(env.c.oracle, batch)


def test_anchor_refuses_device_of_suspended_enterprise(env: Ledger) -> None:
    c = env.c
    c.registry.govern(c.members, c.registry.encode_suspend(ENTERPRISE_B.address, 3), "suspend B")
    batch, _ = cut(env, DEVICE_C, 1)
    with reverts("LedgerEnterpriseNotActive", device=batch.device, enterprise=ENTERPRISE_B.address):
        env.ledger.anchor(c.oracle, batch)
    c.registry.govern(c.members, c.registry.encode_reinstate(ENTERPRISE_B.address), "reinstate B")
    assert env.ledger.anchor(c.oracle, batch).created


def test_anchor_refuses_wrong_batch_id(env: Ledger) -> None:
    batch, _ = cut(env, DEVICE_A, 1)
    anchor = replace(batch_anchor_of(batch), last_sequence=batch.last_sequence + 1)
    with reverts("LedgerBatchIdMismatch", batchId=batch.batch_id):
        env.ledger.anchor(env.c.oracle, anchor)
    forged = replace(batch_anchor_of(batch), batch_id=b"\x01" * 32)
    with reverts("LedgerBatchIdMismatch", batchId=b"\x01" * 32, expected=batch.batch_id):
        env.ledger.anchor(env.c.oracle, forged)


def test_anchor_twice_refused_on_chain_and_a_no_op_through_the_client(env: Ledger) -> None:
    batch, _ = cut(env, DEVICE_A, 1)
    first = env.ledger.anchor(env.c.oracle, batch)
    with reverts("LedgerBatchAlreadyAnchored", batchId=batch.batch_id):
        raw_anchor(env, batch_anchor_of(batch))
    again = env.ledger.anchor(env.c.oracle, batch)
    assert (again.created, again.tx_hash, again.gas_used) == (False, None, None)
    assert again.record == first.record
    assert len(env.ledger.anchored_events(device=batch.device)) == 1


def test_anchor_refuses_replayed_sequences(env: Ledger) -> None:
    batch, _ = cut(env, DEVICE_A, 1)  # sequences 1..8
    env.ledger.anchor(env.c.oracle, batch)
    for first in (1, 5, 8):
        replay, _ = cut(env, DEVICE_A, 2, first=first)  # not the anchored batch: other ids
        with reverts(
            "LedgerSequenceReplayed", device=batch.device, firstSequence=first, lastAnchoredSequence=8
        ):
            env.ledger.anchor(env.c.oracle, replay)


def test_anchor_accepts_a_gap_and_reports_it(env: Ledger) -> None:
    env.ledger.anchor(env.c.oracle, cut(env, DEVICE_A, 1)[0])  # 1..8
    later, _ = cut(env, DEVICE_A, 1, first=20)  # 20..27
    result = env.ledger.anchor(env.c.oracle, later)
    assert result.record.first_sequence == 20
    event = env.ledger.anchored_events(device=later.device)[-1]
    assert (event.previous_sequence, event.gap) == (8, 11)
    assert env.ledger.last_anchored_sequence(later.device) == 27


def test_anchor_sequences_are_per_device(env: Ledger) -> None:
    env.ledger.anchor(env.c.oracle, cut(env, DEVICE_A, 2)[0])
    assert env.ledger.anchor(env.c.oracle, cut(env, DEVICE_B, 1)[0]).created
    assert env.ledger.anchor(env.c.oracle, cut(env, DEVICE_C, 1)[0]).record.enterprise == ENTERPRISE_B.address


def _with_id(anchor: BatchAnchor, **changes: object) -> BatchAnchor:
    changed = replace(anchor, **changes)  # type: ignore[arg-type]
    batch_id = batch_id_of(changed.device, changed.first_sequence, changed.last_sequence, changed.root)
    return replace(changed, batch_id=batch_id)


@pytest.mark.parametrize(
    ("changes", "error", "args"),
    [
        ({"count": 0}, "LedgerInvalidCount", {"count": 0, "firstSequence": 1, "lastSequence": 8}),
        ({"count": 9}, "LedgerInvalidCount", {"count": 9}),
        ({"last_sequence": 0, "first_sequence": 1}, "LedgerInvalidSequenceRange", {"lastSequence": 0}),
        ({"period_start": BASE_TIME + 1, "period_end": BASE_TIME}, "LedgerInvalidPeriod", {}),
        ({"root": bytes(32)}, "LedgerZeroRoot", {}),
    ],
)
def test_anchor_refuses_inconsistent_fields(
    env: Ledger, changes: dict[str, object], error: str, args: dict[str, object]
) -> None:
    batch, _ = cut(env, DEVICE_A, 1)
    with reverts(error, **args):
        env.ledger.anchor(env.c.oracle, _with_id(batch_anchor_of(batch), **changes))


def test_anchor_accepts_missing_readings_within_the_span(env: Ledger) -> None:
    batch, _ = cut(env, DEVICE_A, 1)
    anchor = _with_id(batch_anchor_of(batch), last_sequence=100, count=8)
    assert env.ledger.anchor(env.c.oracle, anchor).record.last_sequence == 100


# ---------------------------------------------------------------------- own oracle, bounded span

ORACLE_2 = dev_account(37)  # another site's gateway key


def _other_site(env: Ledger) -> LocalAccount:
    """Grant ORACLE_ROLE to a second site's gateway key (bound to none of the test devices)."""
    env.c.registry.grant_roles(env.c.members, [("ORACLE", ORACLE_2.address)])
    return ORACLE_2


def test_anchor_refuses_an_oracle_key_anchoring_another_sites_device(env: Ledger) -> None:
    other = _other_site(env)
    batch, _ = cut(env, DEVICE_A, 1)
    with reverts(
        "LedgerOracleNotForDevice",
        device=batch.device,
        caller=other.address,
        boundOracle=env.c.oracle.address,
    ):
        env.ledger.anchor(other, batch)
    assert env.ledger.last_anchored_sequence(batch.device) == 0
    assert env.ledger.anchor(env.c.oracle, batch).created  # its own site's key


def test_anchor_follows_the_oracle_the_regulator_sets_for_the_device(env: Ledger) -> None:
    c = env.c
    other = _other_site(env)
    batch, _ = cut(env, DEVICE_A, 1)
    c.registry.set_device_oracle(c.regulator, batch.device, other.address)  # the device moved site
    with reverts("LedgerOracleNotForDevice", caller=c.oracle.address, boundOracle=other.address):
        env.ledger.anchor(c.oracle, batch)
    assert env.ledger.anchor(other, batch).created


def test_anchor_refuses_a_bound_device_without_an_oracle(env: Ledger) -> None:
    c = env.c
    device = env.device(705)
    c.registry.bind_device(c.regulator, device.address, ENTERPRISE_A.address, "LEDGERTESTD001")  # no oracle
    batch, _ = cut(env, 705, 1)
    with reverts(
        "LedgerOracleNotForDevice", device=device.address, caller=c.oracle.address, boundOracle=ZERO
    ):
        env.ledger.anchor(c.oracle, batch)


def test_anchor_refuses_a_sequence_of_2_64_minus_1_and_the_device_keeps_anchoring(env: Ledger) -> None:
    batch, _ = cut(env, DEVICE_A, 1)
    top = 2**64 - 1
    forged = _with_id(batch_anchor_of(batch), first_sequence=top, last_sequence=top, count=1)
    with reverts(
        "LedgerSequenceSpanTooLarge", device=batch.device, firstSequence=top, lastSequence=top, maxSpan=2**20
    ):
        env.ledger.anchor(env.c.oracle, forged)
    assert env.ledger.last_anchored_sequence(batch.device) == 0
    assert env.ledger.anchor(env.c.oracle, batch).created  # the genuine batch 1..8 still goes in


def test_anchor_span_counts_the_gap_from_the_last_anchored_sequence(env: Ledger) -> None:
    span = env.ledger.max_sequence_span()
    batch, _ = cut(env, DEVICE_A, 1)  # 1..8
    env.ledger.anchor(env.c.oracle, batch)
    too_far = _with_id(batch_anchor_of(batch), first_sequence=9 + span, last_sequence=9 + span)
    with reverts("LedgerSequenceSpanTooLarge", firstSequence=9 + span, lastSequence=9 + span, maxSpan=span):
        env.ledger.anchor(env.c.oracle, too_far)
    at_limit = _with_id(batch_anchor_of(batch), first_sequence=8 + span - 7, last_sequence=8 + span)
    assert env.ledger.anchor(env.c.oracle, at_limit).record.last_sequence == 8 + span


def test_anchor_accepts_a_span_of_max_sequence_span_and_refuses_one_more(env: Ledger) -> None:
    span = env.ledger.max_sequence_span()
    batch, _ = cut(env, DEVICE_A, 1)
    with reverts("LedgerSequenceSpanTooLarge", firstSequence=1, lastSequence=span + 1, maxSpan=span):
        env.ledger.anchor(env.c.oracle, _with_id(batch_anchor_of(batch), last_sequence=span + 1))
    assert env.ledger.anchor(env.c.oracle, _with_id(batch_anchor_of(batch), last_sequence=span)).created


def test_max_sequence_span_holds_the_gateways_largest_batch_with_headroom(env: Ledger) -> None:
    [largest] = [m.le for m in OracleSettings.model_fields["batch_size"].metadata if hasattr(m, "le")]
    assert env.ledger.max_sequence_span() == 2**20 >= 16 * largest


@pytest.mark.parametrize(
    "totals",
    [
        (BatchTotal("w01018", "mg/L", 1, 0), BatchTotal("a21026", "kg", 1, 0)),  # pollutants descending
        (BatchTotal("a21026", "mg/m3", 1, 0), BatchTotal("a21026", "kg", 1, 0)),  # units descending
        (BatchTotal("a21026", "kg", 1, 0), BatchTotal("a21026", "kg", 2, 1)),  # duplicate pair
    ],
)
def test_anchor_refuses_unsorted_or_duplicate_totals(env: Ledger, totals: tuple[BatchTotal, ...]) -> None:
    batch, _ = cut(env, DEVICE_A, 1)
    with reverts("LedgerTotalsNotSorted", index=1):
        env.ledger.anchor(env.c.oracle, replace(batch_anchor_of(batch), totals=totals))


def test_batch_view_refuses_unknown_batch(env: Ledger) -> None:
    assert not env.ledger.is_anchored(b"\x07" * 32)
    assert env.ledger.anchored_block(b"\x07" * 32) == 0
    with reverts("LedgerBatchUnknown", batchId=b"\x07" * 32):
        env.ledger.batch(b"\x07" * 32)


@pytest.mark.parametrize("cut_bytes", [1, 6])
def test_anchor_refuses_malformed_packed_totals(env: Ledger, cut_bytes: int) -> None:
    batch, _ = cut(env, DEVICE_A, 1)
    args = list(batch_anchor_of(batch).as_tuple())
    packed = args[-1]
    args[-1] = packed[:-cut_bytes]
    fn = env.ledger.contract.functions.anchorBatch(tuple(args))
    expected = len(packed) if len(packed) - cut_bytes >= 6 else 0
    with reverts("LedgerTotalsMalformed", length=len(packed) - cut_bytes, expected=expected):
        env.c.chain.transact(fn, env.c.oracle)


def test_check_batch_refuses_a_forged_header_or_forged_totals(anchored: Anchored) -> None:
    """The ledger stores one word per batch: a verifier supplies the header and totals, and a
    header or totals other than the anchored ones are refused by name (here: more valid emissions
    moved out of the totals, and a header rewritten to commit to them)."""
    env, batch, proven = anchored
    record = env.ledger.batch(batch.batch_id)
    env.ledger.check_batch(batch.batch_id, record, record.packed_totals())
    first = record.totals[0]
    forged_totals = (replace(first, total=first.total - 1), *record.totals[1:])
    forged = pack_totals(forged_totals)
    with reverts("LedgerTotalsMismatch", batchId=batch.batch_id, totalsHash=keccak(forged)):
        env.ledger.check_batch(batch.batch_id, record, forged)
    rehashed = replace(record, totals_hash=keccak(forged))
    with reverts("LedgerBatchHeaderMismatch", batchId=batch.batch_id):
        env.ledger.check_batch(batch.batch_id, rehashed, forged)
    signed, proof = proven[0]
    for header in (
        rehashed,
        replace(record, enterprise=ENTERPRISE_B.address),
        replace(record, count=record.count + 1),
        replace(record, anchored_block=record.anchored_block + 1),
    ):
        with reverts("LedgerBatchHeaderMismatch", batchId=batch.batch_id):
            env.ledger.verify_reading(batch.batch_id, signed.reading, signed.witness, proof, header=header)
    assert env.ledger.verify_reading(batch.batch_id, signed.reading, signed.witness, proof, header=record)


def test_verify_reading_refuses_a_header_with_another_root(anchored: Anchored) -> None:
    """A forged root under which the attacker's own reading would prove: refused by name."""
    env, batch, proven = anchored
    record = env.ledger.batch(batch.batch_id)
    signed, proof = proven[0]
    with reverts("LedgerBatchHeaderMismatch", batchId=batch.batch_id):
        env.ledger.verify_reading(
            batch.batch_id, signed.reading, signed.witness, proof, header=replace(record, root=b"\x05" * 32)
        )


totals_items = st.tuples(
    st.text("abcw0123", min_size=1, max_size=8), st.sampled_from(["kg", "mg/L", "t", "m3"])
)
amounts = st.integers(-(2**127), 2**127 - 1)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    valid=st.lists(st.tuples(totals_items, amounts, st.integers(0, 255)), max_size=3),
    excluded=st.lists(
        st.tuples(totals_items, st.integers(1, 3), amounts, st.integers(0, 2**32 - 1)), max_size=3
    ),
    estimates=st.lists(st.tuples(totals_items, st.text("lin", min_size=1, max_size=8), amounts), max_size=2),
)
def test_pack_totals_python_equals_contract_and_unpacks(
    deployed: Ledger,
    valid: list[tuple[tuple[str, str], int, int]],
    excluded: list[tuple[tuple[str, str], int, int, int]],
    estimates: list[tuple[tuple[str, str], str, int]],
) -> None:
    t = tuple(BatchTotal(p, u, total, d) for (p, u), total, d in valid)
    x = tuple(BatchExcludedTotal(p, u, r, total, 3, n) for (p, u), r, total, n in excluded)
    e = tuple(BatchEstimateTotal(p, u, m, total, 1, 7) for (p, u), m, total in estimates)
    packed = pack_totals(t, x, e)
    assert packed == deployed.ledger.pack_totals(t, x, e)
    assert unpack_totals(packed) == (t, x, e)


def test_anchor_gas_is_flat_in_batch_size(env: Ledger) -> None:
    """64 and 1024 readings cost the same: the chain sees a root and the totals, not the readings."""
    small, _ = cut(env, DEVICE_A, 8)  # 64 readings
    large, _ = cut(env, DEVICE_B, 128)  # 1024 readings; both a device's first batch, 8 totals
    estimate = env.ledger.anchor_gas(env.c.oracle.address, small)
    used_small = env.ledger.anchor(env.c.oracle, small).gas_used
    used_large = env.ledger.anchor(env.c.oracle, large).gas_used
    assert used_small is not None and used_large is not None
    assert used_small <= estimate
    assert abs(used_small - used_large) < 1_000
    assert max(used_small, used_large) < ANCHOR_GAS_BUDGET
    nxt, _ = cut(env, DEVICE_A, 8, first=65)  # the device's word is warm now: cheaper
    used_next = env.ledger.anchor(env.c.oracle, nxt).gas_used
    assert used_next is not None and used_next < used_small


# ---------------------------------------------------------------------- verification


@dataclass(frozen=True)
class Witness:
    """A frame witness as the contract takes it, unchecked (``FrameWitness`` refuses bad ones)."""

    hashes: Sequence[bytes]
    index: int
    signature: bytes


def test_verify_reading_true_for_every_reading_of_an_anchored_batch(env: Ledger) -> None:
    batch, queue = cut(env, DEVICE_A, size=FRAME_SIZE)
    env.ledger.anchor(env.c.oracle, batch)
    proven = signed_readings(queue, batch)
    assert len(proven) == 8 * FRAME_SIZE
    assert len({s.signature for s, _ in proven}) == 8  # one signature a frame
    assert all(len(s.witness.hashes) == FRAME_SIZE for s, _ in proven)
    tree_root = bytes.fromhex(batch_tree(s for s, _ in proven).root[2:])
    assert tree_root == batch.root
    header = env.ledger.batch(batch.batch_id)  # the verifier's preimage, read once
    for signed, proof in proven:
        assert env.ledger.verify_reading(batch.batch_id, signed.reading, signed.witness, proof, header=header)


def test_verify_reading_true_for_one_reading_frames(env: Ledger) -> None:
    device = env.device(DEVICE_A)
    queue = Queue()
    queue.append(
        device.sign(time=BASE_TIME + i, pollutant="w01018", value=345 + i, decimals=1, unit="mg/L")
        for i in range(3)
    )
    [batch] = queue.cut_batches(3, 0)
    env.ledger.anchor(env.c.oracle, batch)
    for signed, proof in signed_readings(queue, batch):
        assert signed.witness.index == 0 and len(signed.witness.hashes) == 1
        assert env.ledger.verify_reading(batch.batch_id, signed.reading, signed.witness, proof)


def test_verify_reading_false_before_anchoring(env: Ledger) -> None:
    batch, queue = cut(env, DEVICE_A, 1, size=FRAME_SIZE)
    signed, proof = signed_readings(queue, batch)[0]
    assert not env.ledger.verify_reading(batch.batch_id, signed.reading, signed.witness, proof)


Proven = list[tuple[SignedReading, list[bytes]]]
Anchored = tuple[Ledger, Batch, Proven]


@pytest.fixture
def anchored(env: Ledger) -> Anchored:
    """Device A's batch of two frames of ``FRAME_SIZE`` readings, anchored."""
    batch, queue = cut(env, DEVICE_A, 2, size=FRAME_SIZE)
    env.ledger.anchor(env.c.oracle, batch)
    proven = signed_readings(queue, batch)
    assert all(env.ledger.verify_reading(batch.batch_id, s.reading, s.witness, p) for s, p in proven[:4])
    return env, batch, proven


def test_verify_reading_false_for_tampered_value_or_time(anchored: Anchored) -> None:
    env, batch, proven = anchored
    signed, proof = proven[3]
    tampered = replace(signed.reading, value=signed.reading.value + 1)
    assert not env.ledger.verify_reading(batch.batch_id, tampered, signed.witness, proof)
    later = replace(signed.reading, time=signed.reading.time + 1)
    assert not env.ledger.verify_reading(batch.batch_id, later, signed.witness, proof)


def test_verify_reading_false_for_altered_frame_hashes(anchored: Anchored) -> None:
    env, batch, proven = anchored
    signed, proof = proven[3]
    hashes, index, signature = list(signed.witness.hashes), signed.witness.index, signed.signature
    assert index == 3
    # another reading's hash changed: the frame digest is not the one the device signed
    altered = [*hashes[:5], b"\x05" * 32, *hashes[6:]]
    assert not env.ledger.verify_reading(
        batch.batch_id, signed.reading, Witness(altered, index, signature), proof
    )
    # a reading dropped from the frame, or one added
    dropped = hashes[:-1]
    assert not env.ledger.verify_reading(
        batch.batch_id, signed.reading, Witness(dropped, index, signature), proof
    )
    added = [*hashes, b"\x06" * 32]
    assert not env.ledger.verify_reading(
        batch.batch_id, signed.reading, Witness(added, index, signature), proof
    )
    # the readings reordered, the reading's hash moved along with its index
    swapped = [hashes[1], hashes[0], *hashes[2:]]
    assert not env.ledger.verify_reading(
        batch.batch_id, proven[0][0].reading, Witness(swapped, 1, signature), proven[0][1]
    )
    # the other frame's hashes and signature
    other = proven[FRAME_SIZE + 3][0].witness
    assert not env.ledger.verify_reading(
        batch.batch_id, signed.reading, Witness(other.hashes, index, other.signature), proof
    )


def test_verify_reading_false_for_index_of_another_reading(anchored: Anchored) -> None:
    env, batch, proven = anchored
    signed, proof = proven[3]
    for index in (0, 2, 4, FRAME_SIZE - 1):
        witness = FrameWitness(signed.witness.hashes, index, signed.signature)
        assert not env.ledger.verify_reading(batch.batch_id, signed.reading, witness, proof)


@pytest.mark.parametrize("index", [FRAME_SIZE, FRAME_SIZE + 1, 2**256 - 1])
def test_verify_reading_false_for_index_out_of_range(anchored: Anchored, index: int) -> None:
    env, batch, proven = anchored
    signed, proof = proven[FRAME_SIZE - 1]
    witness = Witness(signed.witness.hashes, index, signed.signature)
    assert not env.ledger.verify_reading(batch.batch_id, signed.reading, witness, proof)


def test_verify_reading_false_for_empty_frame_hashes(anchored: Anchored) -> None:
    env, batch, proven = anchored
    signed, proof = proven[0]
    assert not env.ledger.verify_reading(
        batch.batch_id, signed.reading, Witness([], 0, signed.signature), proof
    )


def test_verify_reading_false_for_another_devices_signature(anchored: Anchored) -> None:
    env, batch, proven = anchored
    signed, proof = proven[0]
    # the same frame (readings naming device A) signed with device B's key
    digest = frame_digest(env.domain, signed.witness.hashes)
    raw = PrivateKey(device_key(DEVICE_B)).sign_recoverable(digest, hasher=None)
    forged = FrameWitness(signed.witness.hashes, 0, raw[:64] + bytes((raw[64] + 27,)))
    assert not env.ledger.verify_reading(batch.batch_id, signed.reading, forged, proof)
    # device B's own frame and reading with A's proof, against A's batch
    other = env.device(DEVICE_B).sign_frame(frame_fields(BASE_TIME, FRAME_SIZE)).signed_readings()[0]
    assert not env.ledger.verify_reading(batch.batch_id, other.reading, other.witness, proof)
    # malformed signatures are false, not reverts
    witness = signed.witness
    for signature in (witness.signature[:64], bytes(65), b"", witness.signature + b"\x00"):
        bad = Witness(witness.hashes, witness.index, signature)
        assert not env.ledger.verify_reading(batch.batch_id, signed.reading, bad, proof)


def test_verify_reading_false_for_wrong_proof_or_unknown_batch(anchored: Anchored) -> None:
    env, batch, proven = anchored
    signed, proof = proven[0]
    _, other_proof = proven[1]
    witness = signed.witness
    assert not env.ledger.verify_reading(batch.batch_id, signed.reading, witness, other_proof)
    assert not env.ledger.verify_reading(batch.batch_id, signed.reading, witness, proof[:-1])
    assert not env.ledger.verify_reading(batch.batch_id, signed.reading, witness, [])
    assert not env.ledger.verify_reading(b"\x09" * 32, signed.reading, witness, proof)


def test_verify_reading_false_for_a_reading_of_another_batch(anchored: Anchored) -> None:
    env, batch, _ = anchored
    later, queue = cut(env, DEVICE_A, 1, first=2 * FRAME_SIZE + 1, size=FRAME_SIZE)
    env.ledger.anchor(env.c.oracle, later)
    signed, proof = signed_readings(queue, later)[0]
    assert env.ledger.verify_reading(later.batch_id, signed.reading, signed.witness, proof)
    assert not env.ledger.verify_reading(batch.batch_id, signed.reading, signed.witness, proof)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(reading=readings)
def test_reading_digest_and_hash_python_equal_contract(deployed: Ledger, reading: Reading) -> None:
    assert deployed.ledger.reading_digest(reading) == reading_digest(deployed.domain, reading)
    assert deployed.ledger.reading_hash(reading) == reading_hash(reading)


def _eth_account_digest(typed: dict[str, object]) -> bytes:
    return bytes(_hash_eip191_message(encode_typed_data(full_message=typed)))


def test_frame_digest_contract_equals_python_eth_account_and_signed(deployed: Ledger) -> None:
    device = deployed.device(DEVICE_A)
    signed = device.sign_frame(frame_fields(BASE_TIME, FRAME_SIZE))
    on_chain = deployed.ledger.frame_digest(signed.hashes)
    assert on_chain == frame_digest(deployed.domain, signed.hashes) == signed.digest
    assert on_chain == _eth_account_digest(frame_typed_data(deployed.domain, signed.readings))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(frame=st.lists(readings, max_size=6))
def test_frame_digest_python_equals_contract_and_eth_account(deployed: Ledger, frame: list[Reading]) -> None:
    hashes = [reading_hash(r) for r in frame]
    on_chain = deployed.ledger.frame_digest(hashes)
    assert on_chain == frame_digest(deployed.domain, hashes)
    assert on_chain == _eth_account_digest(frame_typed_data(deployed.domain, frame))


def test_anchor_client_treats_an_already_anchored_revert_as_done(
    env: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A copy sent before a crash may be mined between the client's check and its send."""
    batch, _ = cut(env, DEVICE_A, 1)
    first = env.ledger.anchor(env.c.oracle, batch)
    monkeypatch.setattr(env.ledger, "is_anchored", lambda batch_id: False)
    again = env.ledger.anchor(env.c.oracle, batch)
    assert (again.created, again.record) == (False, first.record)
