"""The demo's review step: after the simulated site's readings are anchored, the regulator
decides one item of doubtful data in its wallet (an excluded reading: rejected; else the gap
before a batch: substituted by the permitted maximum), signs the EIP-712 decision with its demo key
and records it on the EmissionsLedger; the decision id is what an attestation cites. Once: a re-run
finds the decision on chain and sends nothing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from chain.accounts import demo_account
from chain.deploy import Manifest
from chain.ledger import LedgerClient
from chain.review import ReviewDecision, sign_review
from chain.tx import ChainClient
from domain.review import Action, Method, exclusion_of
from oracle.queue import BatchStatus, Queue

#: The permitted maximum the demo substitutes for a gap (kg per frame of the site file's COD).
PERMITTED_MAX_KG = 25


@dataclass(frozen=True)
class ReviewDemoReport:
    """What the review step did (``lines`` for the demo report; ``decision`` its id or None)."""

    lines: tuple[str, ...]
    decision: bytes | None


def _month(unix: int) -> int:
    when = datetime.fromtimestamp(unix, UTC)
    return when.year * 100 + when.month


def demo_review(chain: ChainClient, manifest: Manifest, queue_path: Path) -> ReviewDemoReport:
    """Record the regulator's decision on the first doubtful item of the demo site's queue."""
    if not queue_path.exists():
        return ReviewDemoReport(("review: no oracle queue, skipped",), None)
    ledger = LedgerClient(chain, manifest.address("EmissionsLedger"))
    regulator = demo_account("regulator")
    decision: ReviewDecision | None = None
    with Queue(queue_path) as queue:
        anchored = queue.batches(BatchStatus.ANCHORED)
        for batch in anchored:
            if batch.enterprise is None:
                continue
            for stored in queue.batch_readings(batch.batch_id):
                r = stored.signed.reading
                if exclusion_of(stored.qc, r.flag) is not None:
                    decision = ReviewDecision(
                        reviewer=regulator.address, enterprise=batch.enterprise, subject=stored.signed.digest,
                        pollutant=r.pollutant, month=_month(r.time), action=Action.REJECT,
                    )  # fmt: skip
                    break
            if decision is not None:
                break
        if decision is None:
            last: dict[str, int] = {}
            gapped = []
            for b in sorted(anchored, key=lambda b: (b.device, b.first_sequence)):
                if b.enterprise is not None and b.device in last and b.first_sequence > last[b.device] + 1:
                    gapped.append(b)
                last[b.device] = b.last_sequence
            if gapped:
                b = gapped[0]
                assert b.enterprise is not None
                decision = ReviewDecision(
                    reviewer=regulator.address, enterprise=b.enterprise, subject=b.batch_id,
                    pollutant="w01018", month=_month(b.period_start), action=Action.SUBSTITUTE,
                    method=Method.PERMITTED_MAX.value,
                    value=PERMITTED_MAX_KG, decimals=0,
                )  # fmt: skip
    if decision is None:
        return ReviewDemoReport(("review: no doubtful data in the demo site's anchored batches",), None)
    existing = ledger.review_decision_of(decision.enterprise, decision.subject)
    if existing is not None:
        return ReviewDemoReport((f"review: decision 0x{existing.hex()[:10]}… recorded already",), existing)
    signature = sign_review(regulator, chain.chain_id, ledger.address, decision)
    event = ledger.record_review(regulator, decision, signature)
    what = decision.action.name.lower() + (f" by {decision.method}" if decision.method else "")
    return ReviewDemoReport(
        (
            f"review: the regulator's signed decision ({what}) on {decision.subject.hex()[:10]}… of "
            f"{decision.enterprise[:10]}… recorded as 0x{event.id.hex()[:10]}… (tx {event.tx_hash[:10]}…); "
            "attestations cite it in their evidence",
        ),
        event.id,
    )
