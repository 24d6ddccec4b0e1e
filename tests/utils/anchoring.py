"""Factories for read-model tests of anchored readings: a device bound to an enterprise whose
signed frames go through a file-backed oracle queue, are cut into batches and anchored."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from eth_account.signers.local import LocalAccount

from oracle.queue import Batch, Queue
from oracle.signing.eip712 import ReadingDomain
from oracle.signing.signer import DeviceSigner
from tests.conftest import Consortium
from tests.utils.attestations import frame_fields
from tests.utils.readings import BASE_TIME, signer


@dataclass
class Site:
    """One enterprise's device and the oracle gateway's queue file it reports to.

    Attributes:
        c: the consortium.
        device: the device's signer (domain of the deployed EmissionsLedger).
        enterprise: the enterprise it is bound to.
        queue: the gateway's queue (file-backed).
        anchored: the batches anchored so far, oldest first.
    """

    c: Consortium
    device: DeviceSigner
    enterprise: LocalAccount
    queue: Queue
    anchored: list[Batch] = field(default_factory=list)

    def cut(self, *, frames: int = 2, size: int = 4, start: int = BASE_TIME) -> Batch:
        """Sign ``frames`` frames of ``size`` readings (a minute apart from ``start``) and cut
        them into one batch (CUT, not anchored)."""
        self.queue.append(
            self.device.sign_frame(frame_fields(start + 60 * i, size, i)) for i in range(frames)
        )
        [batch] = self.queue.cut_batches(
            frames * size, 0, enterprises={self.device.address: self.enterprise.address}
        )
        return batch

    def anchor(self, batch: Batch) -> Batch:
        """Anchor a cut batch with the oracle's key and mark it ANCHORED in the queue."""
        result = self.c.ledger.anchor(self.c.oracle, batch)
        assert result.tx_hash is not None
        anchored = self.queue.mark_anchored(batch.batch_id, result.tx_hash, result.record.anchored_block)
        self.anchored.append(anchored)
        return anchored


def bind_site(
    c: Consortium, enterprise: LocalAccount, queue_path: Path, *, seed: int = 970, mn: str = "AUDITSITE0001"
) -> Site:
    """Bind a fresh device to ``enterprise`` and open a queue file for it."""
    device = signer(seed, domain=ReadingDomain(c.chain.chain_id, c.ledger.address))
    c.registry.bind_device(c.regulator, device.address, enterprise.address, mn, oracle=c.oracle.address)
    return Site(c, device, enterprise, Queue(queue_path))
