"""The demo's review step on a real Anvil: the regulator's signed decision on the first excluded
reading of an anchored queue is recorded once; a re-run finds it and sends nothing."""

from __future__ import annotations

from pathlib import Path

from demo.review import demo_review
from oracle.signing.reading import ReadingFields
from tests.conftest import Consortium
from tests.utils.anchoring import bind_site
from tests.utils.chain import register
from tests.utils.compliance import ENTERPRISES
from tests.utils.readings import BASE_TIME


def test_demo_review_records_the_regulators_decision_once(fresh: Consortium, tmp_path: Path) -> None:
    c = fresh
    enterprise = ENTERPRISES[0]
    register(c.registry, c.members, enterprise.address, 993)
    site = bind_site(c, enterprise, tmp_path / "queue.db", seed=994, mn="DEMOREVIEW001")
    fields = [
        ReadingFields(BASE_TIME, "w01018", 15, 1, "kg", "N"),
        ReadingFields(BASE_TIME, "w01018", 9, 0, "kg", "D"),
    ]
    site.queue.append([site.device.sign_frame(fields)], qc=["measured", "measured"])
    [batch] = site.queue.cut_batches(2, 0, enterprises={site.device.address: enterprise.address})
    site.anchor(batch)
    leaf = site.queue.batch_readings(batch.batch_id)[1].signed.digest
    site.queue.close()

    first = demo_review(c.chain, c.manifest, tmp_path / "queue.db")
    assert first.decision is not None and "reject" in first.lines[0]
    assert c.ledger.review_decision_of(enterprise.address, leaf) == first.decision
    assert c.ledger.reviewer_of(first.decision) == c.regulator.address
    again = demo_review(c.chain, c.manifest, tmp_path / "queue.db")
    assert again.decision == first.decision and "already" in again.lines[0]
