"""Gateway → queue → anchoring on a real chain: every reading anchored exactly once, provable
on-chain; crash windows (sent but not recorded, recorded but no receipt), refusals, a chain
that lost blocks, and a site whose one stuck device (not bound to this gateway's oracle key,
or a sequence gap beyond the ledger's span) does not hold up the others."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import pytest

from chain.accounts import dev_account
from chain.anchoring import AnchorReceipt, LedgerAnchorPort
from oracle.anchor import Anchorer, AnchorReport
from oracle.gateway import CHINA_STANDARD_TIME, Gateway, GatewayDevice
from oracle.queue import BatchStatus, Queue
from oracle.signing.eip712 import ReadingDomain
from oracle.signing.reading import ReadingFields
from tests.conftest import Consortium
from tests.utils.chain import register
from tests.utils.readings import device_key, device_password, minute_frame, signer

MN_A, MN_B = "33100000000101", "33100000000102"
START = datetime(2027, 5, 1, 0, 0)
#: The gateway's clock: after every DataTime these tests send.
LATE = datetime(2028, 1, 1).replace(tzinfo=CHINA_STANDARD_TIME).timestamp()


@dataclass
class Site:
    c: Consortium
    gateway: Gateway
    anchorer: Anchorer
    port: LedgerAnchorPort
    domain: ReadingDomain

    @property
    def queue(self) -> Queue:
        return self.gateway.queue

    def feed(self, mn: str, minutes: int, start: int = 0) -> None:
        for m in range(start, start + minutes):
            self.gateway.handle(minute_frame(mn, START + timedelta(minutes=m)))

    def anchored_sequences(self) -> list[tuple[str, int, int]]:
        """(device, first, last) of every BatchAnchored event, in chain order."""
        return [(e.device, e.first_sequence, e.last_sequence) for e in self.c.ledger.anchored_events()]


@pytest.fixture
def site(fresh: Consortium) -> Iterator[Site]:
    c = fresh
    domain = ReadingDomain(c.chain.chain_id, c.ledger.address)
    a, b = dev_account(35).address, dev_account(36).address
    register(c.registry, c.members, a, 901)
    register(c.registry, c.members, b, 902)
    oracle = c.oracle.address
    c.registry.bind_device(c.regulator, signer(11, domain=domain).address, a, MN_A, oracle=oracle)
    c.registry.bind_device(c.regulator, signer(12, domain=domain).address, b, MN_B, oracle=oracle)
    gateway = Gateway(
        [
            GatewayDevice(MN_A, a, device_key(11), device_password(MN_A)),
            GatewayDevice(MN_B, b, device_key(12), device_password(MN_B)),
        ],
        Queue(),
        domain,
        directory=c.registry,
        clock=lambda: LATE,
    )
    port = LedgerAnchorPort(c.ledger, c.oracle)
    anchorer = Anchorer(
        gateway.queue,
        port,
        max_size=16,
        max_age_seconds=3600,
        enterprises=gateway.enterprises,
        max_span=c.ledger.max_sequence_span(),
    )
    yield Site(c, gateway, anchorer, port, domain)
    gateway.queue.close()


def test_anchoring_anchors_every_reading_once_and_proves_inclusion_on_chain(site: Site) -> None:
    site.feed(MN_A, 5)  # 35 readings: batches of 16, 16 and (flushed) 3
    site.feed(MN_B, 2)
    report = site.anchorer.step(flush=True)
    assert (report.cut, report.sent, report.anchored) == (4, 4, 4)
    assert site.queue.stats().readings == {"UNBATCHED": 0, "CUT": 0, "SUBMITTED": 0, "ANCHORED": 49}
    device_a, device_b = signer(11).address, signer(12).address
    assert sorted(site.anchored_sequences()) == sorted(
        [(device_a, 1, 16), (device_a, 17, 32), (device_a, 33, 35), (device_b, 1, 14)]
    )
    again = site.anchorer.step(flush=True)
    assert (again.cut, again.sent, again.anchored) == (0, 0, 0)
    assert site.queue.unbatched() == []
    row = site.queue.batch_readings(site.queue.batches()[0].batch_id)[3]
    proof = site.queue.proof(row.row_id)
    assert site.c.ledger.verify_reading(
        proof.batch_id, row.signed.reading, row.signed.witness, list(proof.proof)
    )


def test_anchoring_finds_batch_sent_before_a_crash_and_does_not_send_it_again(site: Site) -> None:
    site.feed(MN_A, 2)
    (batch,) = site.queue.cut_batches(16, 0)
    tx = site.port.submit(batch)  # sent, then the gateway died before recording it
    site.port.wait(tx, 10)
    report = site.anchorer.step()
    assert (report.sent, report.already_anchored, report.anchored) == (0, 1, 1)
    assert site.queue.batch(batch.batch_id).status is BatchStatus.ANCHORED
    assert len(site.anchored_sequences()) == 1


def test_anchoring_completes_submitted_batch_from_its_receipt(site: Site) -> None:
    site.feed(MN_A, 1)
    (batch,) = site.queue.cut_batches(16, 0)
    tx = site.port.submit(batch)
    site.queue.mark_submitted(batch.batch_id, tx)  # recorded, then died before the receipt
    report = site.anchorer.step()
    assert (report.sent, report.anchored) == (0, 1)
    recorded = site.queue.batch(batch.batch_id)
    assert recorded.status is BatchStatus.ANCHORED and recorded.tx_hash == tx


class _LateNode:
    """A port over a node that answers "not mined" to the first receipt and look-up of a batch
    sent before: the race where the earlier send is mined between the look-up and a new send."""

    def __init__(self, port: LedgerAnchorPort) -> None:
        self.port = port
        self.hidden: set[str] = {"receipt", "find"}

    def receipt(self, tx_hash: bytes) -> AnchorReceipt | None:
        if "receipt" in self.hidden:
            self.hidden.discard("receipt")
            return None
        return self.port.receipt(tx_hash)

    def find(self, batch_id: bytes) -> AnchorReceipt | None:
        if "find" in self.hidden:
            self.hidden.discard("find")
            return None
        return self.port.find(batch_id)

    def submit(self, batch: object) -> bytes:
        return self.port.submit(batch)

    def wait(self, tx_hash: bytes, timeout: float) -> AnchorReceipt | None:
        return self.port.wait(tx_hash, timeout)


def test_anchoring_records_batch_mined_between_its_look_up_and_a_new_send(site: Site) -> None:
    site.feed(MN_A, 1)
    (batch,) = site.queue.cut_batches(16, 0)
    tx = site.port.submit(batch)
    site.queue.mark_submitted(batch.batch_id, tx)
    site.port.wait(tx, 10)
    anchorer = Anchorer(site.queue, _LateNode(site.port), max_size=16, max_age_seconds=3600)
    report = anchorer.step()
    assert (report.sent, report.anchored, report.refused) == (0, 1, 0)
    assert site.queue.batch(batch.batch_id).status is BatchStatus.ANCHORED
    assert len(site.anchored_sequences()) == 1


def test_anchoring_counts_refusal_and_holds_back_that_devices_later_batches(site: Site) -> None:
    site.feed(MN_A, 3)
    site.feed(MN_B, 1)
    site.c.registry.unbind_device(site.c.regulator, signer(11).address)
    report = site.anchorer.step(flush=True)
    assert report.refused == 1
    assert site.anchorer.stats.refused == {"LedgerDeviceNotBound": 1}
    statuses = {(b.device, b.first_sequence): b.status for b in site.queue.batches()}
    assert statuses[signer(12).address, 1] is BatchStatus.ANCHORED
    assert {s for (d, _), s in statuses.items() if d == signer(11).address} == {BatchStatus.CUT}


def test_anchoring_reanchors_batches_a_restarted_chain_lost(site: Site) -> None:
    site.feed(MN_A, 1)
    snapshot = site.c.snapshot()
    assert site.anchorer.step(flush=True).anchored == 1
    site.c.revert(snapshot)  # the chain came back from an older state: the anchoring is gone
    site.anchorer.request_reconcile()
    report = site.anchorer.step()
    assert (report.reopened, report.sent, report.anchored) == (1, 1, 1)
    assert len(site.anchored_sequences()) == 1


def test_anchoring_logs_are_empty_for_a_block_beyond_the_head(site: Site) -> None:
    site.feed(MN_A, 1)
    assert site.anchorer.step(flush=True).anchored == 1
    record = site.c.ledger.batch(site.queue.batches()[0].batch_id)
    assert len(site.c.ledger.anchoring_logs(record)) == 1
    # a node restarted from a state snapshot can hold the record but not its block
    ahead = replace(record, anchored_block=site.c.chain.w3.eth.block_number + 5)
    assert site.c.ledger.anchoring_logs(ahead) == []
    assert site.port.find(record.batch_id) is not None


class _FailsOnce(LedgerAnchorPort):
    """A port whose first ``find`` raises something no one planned for."""

    failed = False

    def find(self, batch_id: bytes) -> AnchorReceipt | None:
        if not self.failed:
            self.failed = True
            raise RuntimeError("unexpected RPC answer")
        return super().find(batch_id)


def test_anchoring_loop_survives_an_unexpected_error_and_anchors_after_it(site: Site) -> None:
    site.feed(MN_A, 1)
    anchorer = Anchorer(site.queue, _FailsOnce(site.c.ledger, site.c.oracle), max_size=16, max_age_seconds=0)
    anchorer.request_reconcile()
    site.queue.cut_batches(16, 0)
    stop = threading.Event()
    reports: list[AnchorReport] = []

    def keep(report: AnchorReport) -> None:
        reports.append(report)
        if report.anchored:
            stop.set()

    worker = threading.Thread(target=anchorer.run, args=(stop,), kwargs={"interval": 0.01, "on_step": keep})
    worker.start()
    worker.join(30)
    assert not worker.is_alive()
    assert reports[0].chain_unavailable and any(r.anchored for r in reports)
    assert site.queue.stats().readings["ANCHORED"] == 7


# --- one device stuck, the others go on (issue 17 item 4) ----------------------------------------


MN_C = "33100000000103"


def test_anchoring_goes_on_for_the_other_devices_while_one_is_not_bound_to_this_oracle(site: Site) -> None:
    c = site.c
    enterprise = dev_account(37).address
    register(c.registry, c.members, enterprise, 903)
    device_c = signer(13, domain=site.domain).address
    c.registry.bind_device(c.regulator, device_c, enterprise, MN_C)  # no oracle set for it
    gateway = Gateway(
        [
            GatewayDevice(
                MN_A,
                c.registry.enterprise_of(signer(11).address) or "",
                device_key(11),
                device_password(MN_A),
            ),
            GatewayDevice(MN_C, enterprise, device_key(13), device_password(MN_C)),
        ],
        Queue(),
        site.domain,
        directory=c.registry,
        clock=lambda: LATE,
    )
    now = [1_000.0]
    stuck: list[tuple[str, str]] = []
    anchorer = Anchorer(
        gateway.queue, site.port, max_size=16, max_age_seconds=3600, enterprises=gateway.enterprises,
        max_span=c.ledger.max_sequence_span(), stuck_retry_seconds=60, clock=lambda: now[0],
        on_stuck=lambda device, reason: stuck.append((device, reason)),
    )  # fmt: skip
    try:
        for minute in range(3):
            gateway.handle(minute_frame(MN_C, START + timedelta(minutes=minute)))
            gateway.handle(minute_frame(MN_A, START + timedelta(minutes=minute)))
        report = anchorer.step(flush=True)
        assert report.refused == 1 and anchorer.stats.refused == {"LedgerOracleNotForDevice": 1}
        assert stuck == [(device_c, "LedgerOracleNotForDevice")]
        assert set(anchorer.stuck) == {device_c}
        anchored = {e.device for e in c.ledger.anchored_events()}
        assert anchored == {signer(11).address}  # A's batches all went through
        # the gateway keeps serving the stuck device; the loop does not hammer the ledger
        gateway.handle(minute_frame(MN_C, START + timedelta(minutes=3)))
        gateway.handle(minute_frame(MN_A, START + timedelta(minutes=3)))
        again = anchorer.step(flush=True)
        assert (again.refused, again.anchored) == (0, 1)
        # the regulator sets this gateway's oracle key; after the retry delay C is anchored too
        c.registry.set_device_oracle(c.regulator, device_c, c.oracle.address)
        now[0] += 61
        fixed = anchorer.step(flush=True)
        assert fixed.refused == 0 and anchorer.stuck == {}
        assert gateway.queue.stats().settled
        covered = sorted(
            (e.first_sequence, e.last_sequence) for e in c.ledger.anchored_events() if e.device == device_c
        )
        assert covered[0][0] == 1 and covered[-1][1] == 4 * 7
        assert anchorer.stats.snapshot()["stuck"] == {}
    finally:
        gateway.queue.close()


def test_anchoring_never_sends_a_batch_beyond_the_ledger_span_and_goes_on_for_the_other_devices(
    site: Site,
) -> None:
    """Device A's readings have a gap wider than the ledger's MAX_SEQUENCE_SPAN (frames it signed
    itself): its readings before the gap are anchored in a batch of their own, the batch after
    the gap is refused (LedgerSequenceSpanTooLarge) and only A is flagged; B is anchored."""
    span = site.c.ledger.max_sequence_span()
    enterprise_a = site.c.registry.enterprise_of(signer(11).address) or ""
    before = signer(11, domain=site.domain).sign_frame(
        [ReadingFields(1_800_000_000, "a21026", 5 + i, 0, "kg") for i in range(3)]
    )
    after = signer(11, next_sequence=span + 10, domain=site.domain).sign_frame(
        [ReadingFields(1_800_000_060, "a21026", 9, 0, "kg")]
    )
    site.gateway.accept_signed([before, after], enterprise=enterprise_a)
    site.feed(MN_B, 1)
    report = site.anchorer.step(flush=True)
    assert report.refused == 1
    assert site.anchorer.stats.refused == {"LedgerSequenceSpanTooLarge": 1}
    assert set(site.anchorer.stuck) == {signer(11).address}
    assert sorted(site.anchored_sequences()) == sorted(
        [(signer(11).address, 1, 3), (signer(12).address, 1, 7)]
    )
    assert all(b.last_sequence - b.first_sequence < span for b in site.queue.batches())
