"""EmissionsLedger review decisions and quality totals on a real Anvil: the regulator and an
assigned auditor record signed decisions; a non-reviewer, an unassigned auditor, a suspended
auditor, a duplicate, a wrong or malformed signature and decisions breaking the method rules are
refused by name; batches carry valid, excluded and estimated totals apart."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount

from chain.accounts import dev_account
from chain.anchoring import (
    BatchAnchor,
    BatchEstimateTotal,
    BatchExcludedTotal,
    batch_anchor_of,
    hash_totals,
    pack_totals,
)
from chain.review import ReviewDecision, recover_review_signer, review_digest, sign_review
from domain.errors import ReviewInputError
from domain.review import Action, Exclusion
from oracle.queue import Estimate, Queue
from oracle.signing.eip712 import ReadingDomain
from oracle.signing.hashing import keccak
from oracle.signing.reading import ReadingFields
from tests.conftest import Consortium
from tests.utils.chain import register, reverts
from tests.utils.readings import BASE_TIME, signer

ENTERPRISE_A = dev_account(33)
ENTERPRISE_B = dev_account(34)
AUDITOR_UNASSIGNED = dev_account(38)
DEVICE = 731
SUBJECT = bytes.fromhex("11" * 32)


@dataclass
class Env:
    c: Consortium

    def decision(self, reviewer: LocalAccount, **fields: object) -> ReviewDecision:
        base = ReviewDecision(
            reviewer=reviewer.address,
            enterprise=ENTERPRISE_A.address,
            subject=SUBJECT,
            pollutant="w01018",
            month=202701,
            action=Action.SUBSTITUTE,
            method="prevhour",
            value=12345,
            decimals=2,
        )
        return replace(base, **fields)  # type: ignore[arg-type]

    def sign(self, key: LocalAccount, d: ReviewDecision) -> bytes:
        return sign_review(key, self.c.chain.chain_id, self.c.ledger.address, d)


@pytest.fixture(scope="module")
def deployed(consortium: Consortium) -> Iterator[Env]:
    """Enterprises A and B registered; the consortium's auditor assigned to A only; a second
    auditor assigned to none; a device of A anchored by the consortium's oracle."""
    c = consortium
    snapshot = c.snapshot()
    register(c.registry, c.members, ENTERPRISE_A.address, 811)
    register(c.registry, c.members, ENTERPRISE_B.address, 812)
    c.registry.grant_roles(c.members, [("AUDITOR", AUDITOR_UNASSIGNED.address)])
    c.registry.assign_auditor(c.regulator, c.auditor.address, ENTERPRISE_A.address)
    device = signer(DEVICE, domain=ReadingDomain(c.chain.chain_id, c.ledger.address))
    c.registry.bind_device(
        c.regulator, device.address, ENTERPRISE_A.address, "REVIEWDEV00001", oracle=c.oracle.address
    )
    yield Env(c)
    c.revert(snapshot)


@pytest.fixture
def env(deployed: Env) -> Iterator[Env]:
    snapshot = deployed.c.snapshot()
    try:
        yield deployed
    finally:
        deployed.c.revert(snapshot)


# ---------------------------------------------------------------------- allowed


@pytest.mark.parametrize(("who", "role"), [("regulator", 1), ("auditor", 2)])
def test_record_review_stores_and_emits_when_regulator_or_assigned_auditor(
    env: Env, who: str, role: int
) -> None:
    c = env.c
    key = c.regulator if who == "regulator" else c.auditor
    d = env.decision(key)
    signature = env.sign(key, d)
    digest = review_digest(c.chain.chain_id, c.ledger.address, d)
    assert digest == c.ledger.review_digest(d)
    assert recover_review_signer(c.chain.chain_id, c.ledger.address, d, signature) == key.address

    event = c.ledger.record_review(c.outsider, d, signature)  # anyone relays

    assert (event.id, event.reviewer, event.enterprise, event.reviewer_role) == (
        digest,
        key.address,
        ENTERPRISE_A.address,
        role,
    )
    assert event.decision == d
    assert c.ledger.review_decision_of(ENTERPRISE_A.address, SUBJECT) == digest
    assert c.ledger.reviewer_of(digest) == key.address
    assert c.ledger.reviewer_of(SUBJECT) is None


def test_record_review_accepts_accept_and_reject_without_method(env: Env) -> None:
    c = env.c
    for n, action in enumerate((Action.ACCEPT, Action.REJECT)):
        d = env.decision(c.regulator, action=action, method="", value=0, subject=bytes([n + 1]) * 32)
        assert c.ledger.record_review(c.regulator, d, env.sign(c.regulator, d)).decision.action is action


# ---------------------------------------------------------------------- refused


def test_record_review_refuses_non_reviewer(env: Env) -> None:
    c = env.c
    d = env.decision(ENTERPRISE_A)
    with reverts("LedgerNotReviewer", account=ENTERPRISE_A.address):
        c.ledger.record_review(c.outsider, d, env.sign(ENTERPRISE_A, d))
    assert c.ledger.review_decision_of(ENTERPRISE_A.address, SUBJECT) is None


def test_record_review_refuses_auditor_not_assigned_to_enterprise(env: Env) -> None:
    c = env.c
    for key, enterprise in ((AUDITOR_UNASSIGNED, ENTERPRISE_A), (c.auditor, ENTERPRISE_B)):
        d = env.decision(key, enterprise=enterprise.address)
        with reverts("LedgerAuditorNotAssigned", auditor=key.address, enterprise=enterprise.address):
            c.ledger.record_review(c.outsider, d, env.sign(key, d))


def test_record_review_refuses_suspended_auditor(env: Env) -> None:
    c = env.c
    c.registry.govern(c.members, c.registry.encode_suspend(c.auditor.address, 9), "suspend auditor")
    d = env.decision(c.auditor)
    with reverts("CallerNotActive", account=c.auditor.address):
        c.ledger.record_review(c.outsider, d, env.sign(c.auditor, d))


def test_record_review_refuses_duplicate_decision_on_subject(env: Env) -> None:
    c = env.c
    first = env.decision(c.auditor)
    recorded = c.ledger.record_review(c.auditor, first, env.sign(c.auditor, first))
    second = env.decision(c.regulator, action=Action.REJECT, method="", value=0)
    with reverts(
        "LedgerReviewAlreadyDecided", enterprise=ENTERPRISE_A.address, subject=SUBJECT,
        decision=recorded.id,
    ):  # fmt: skip
        c.ledger.record_review(c.regulator, second, env.sign(c.regulator, second))
    with reverts("LedgerReviewAlreadyDecided"):  # the same signature again
        c.ledger.record_review(c.outsider, first, env.sign(c.auditor, first))


def test_record_review_refuses_bad_signature(env: Env) -> None:
    c = env.c
    d = env.decision(c.auditor)
    forged = env.sign(c.regulator, replace(d, reviewer=c.regulator.address))
    with reverts("LedgerReviewSignerMismatch", reviewer=c.auditor.address):
        c.ledger.record_review(c.outsider, d, forged)
    with reverts("LedgerReviewInvalidSignature", digest=c.ledger.review_digest(d)):
        c.ledger.record_review(c.outsider, d, b"\x01" * 65)
    assert c.ledger.review_decision_of(ENTERPRISE_A.address, SUBJECT) is None


def test_record_review_refuses_substitution_without_method_on_chain_and_in_python(env: Env) -> None:
    c = env.c
    bad = env.decision(c.regulator, method="")
    with pytest.raises(ReviewInputError, match="must name its method"):
        bad.as_tuple()
    # the contract checks it too: send the raw struct past the Python check
    raw = (*env.decision(c.regulator).as_tuple()[:6], bytes(8), *env.decision(c.regulator).as_tuple()[7:])
    digest = c.chain.call(c.ledger.contract.functions.reviewDigest(raw))
    signature = bytes(Account._sign_hash(digest, c.regulator.key).signature)
    with reverts("LedgerReviewMethodMissing", subject=SUBJECT):
        c.chain.transact(c.ledger.contract.functions.recordReview(raw, signature), c.regulator)
    accept_with_method = (*raw[:5], int(Action.ACCEPT), b"prevhour", *raw[7:])
    digest = c.chain.call(c.ledger.contract.functions.reviewDigest(accept_with_method))
    signature = bytes(Account._sign_hash(digest, c.regulator.key).signature)
    with reverts("LedgerReviewMethodUnexpected", subject=SUBJECT):
        c.chain.transact(c.ledger.contract.functions.recordReview(accept_with_method, signature), c.regulator)


# ---------------------------------------------------------------------- quality totals


def test_anchor_carries_valid_excluded_and_estimated_totals_apart(env: Env) -> None:
    c = env.c
    device = signer(DEVICE, domain=ReadingDomain(c.chain.chain_id, c.ledger.address))
    queue = Queue()
    frame = device.sign_frame(
        [
            ReadingFields(BASE_TIME, "w01018", 1000, 1, "mg/L", "N"),
            ReadingFields(BASE_TIME, "w01018", 250, 2, "mg/L", "D"),  # fault flag
            ReadingFields(BASE_TIME, "w01018", 99999, 0, "mg/L", "N"),  # outlier
            ReadingFields(BASE_TIME, "w21003", 5, 0, "mg/L", "N"),  # invalid
        ]
    )
    estimate = Estimate(device.address, BASE_TIME - 60, "w01018", "mg/L", 1234, 2, "linear")
    queue.append([frame], qc=["measured", "measured", "outlier", "invalid"], estimates=[estimate])
    [batch] = queue.cut_batches(10, 0)
    anchor = batch_anchor_of(batch)
    assert [(t.pollutant, t.total, t.decimals) for t in anchor.totals] == [
        ("w01018", 10000, 2),
        ("w21003", 0, 0),
    ]
    assert [(t.pollutant, t.reason, t.total, t.count) for t in anchor.excluded] == [
        ("w01018", Exclusion.OUTLIER, 9999900, 1),
        ("w01018", Exclusion.FAULT, 250, 1),
        ("w21003", Exclusion.INVALID, 5, 1),
    ]
    assert anchor.estimates == (BatchEstimateTotal("w01018", "mg/L", "linear", 1234, 2, 1),)

    result = c.ledger.anchor(c.oracle, batch)

    assert result.record.totals_hash == hash_totals(anchor.totals, anchor.excluded, anchor.estimates)
    packed = c.ledger.pack_totals(anchor.totals, anchor.excluded, anchor.estimates)
    assert packed == pack_totals(anchor.totals, anchor.excluded, anchor.estimates) == anchor.packed_totals()
    assert keccak(packed) == result.record.totals_hash
    assert c.ledger.quality_totals(batch.batch_id) == (anchor.totals, anchor.excluded, anchor.estimates)


def _anchor(env: Env, **fields: object) -> BatchAnchor:
    c = env.c
    device = signer(DEVICE, domain=ReadingDomain(c.chain.chain_id, c.ledger.address))
    queue = Queue()
    queue.append([device.sign_frame([ReadingFields(BASE_TIME, "w01018", 1, 0, "mg/L", "N")])])
    [batch] = queue.cut_batches(10, 0)
    return replace(batch_anchor_of(batch), **fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("fields", "error", "args"),
    [
        (
            {
                "excluded": (
                    BatchExcludedTotal("w01018", "mg/L", 3, 1, 0, 1),
                    BatchExcludedTotal("w01018", "mg/L", 2, 1, 0, 1),
                )
            },
            "LedgerQualityTotalsNotSorted",
            {"list": 1, "index": 1},
        ),
        (
            {"excluded": (BatchExcludedTotal("w01018", "mg/L", 4, 1, 0, 1),)},
            "LedgerExclusionReasonUnknown",
            {"reason": 4},
        ),
        (
            {"estimates": (BatchEstimateTotal("w01018", "mg/L", "", 1, 0, 1),)},
            "LedgerEstimateWithoutMethod",
            {"index": 0},
        ),
        (
            {
                "estimates": (
                    BatchEstimateTotal("w01018", "mg/L", "z", 1, 0, 1),
                    BatchEstimateTotal("w01018", "mg/L", "a", 1, 0, 1),
                )
            },
            "LedgerQualityTotalsNotSorted",
            {"list": 2, "index": 1},
        ),
    ],
)
def test_anchor_refuses_malformed_quality_totals(
    env: Env, fields: dict[str, object], error: str, args: dict[str, object]
) -> None:
    anchor = _anchor(env, **fields)
    with reverts(error, **args):
        env.c.chain.transact(env.c.ledger.contract.functions.anchorBatch(anchor.as_tuple()), env.c.oracle)
