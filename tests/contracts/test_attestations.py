"""EmissionsLedger attestations on a real Anvil: auditors attest verified emissions (directly or
relayed with an EIP-712 signature), supersede, revoke; the regulator rejects; every refusal by
its named error and arguments; and checks of readings in batches an attestation cites."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace

import pytest
from eth_account.signers.local import LocalAccount

from chain.abi import ZERO_ID
from chain.accounts import dev_account
from chain.attestations import (
    Attestation,
    AttestationStatus,
    attestation_digest,
    evidence_hash,
    sign_attestation,
)
from chain.ledger import LedgerClient
from chain.registry import ROLES
from domain.errors import InvalidInputError
from oracle.signing.eip712 import ReadingDomain
from tests.conftest import Consortium
from tests.utils.attestations import (
    CO2,
    YEAR,
    Proven,
    anchored_batch,
    attestation,
    evidence_of,
    recover,
    report_of,
    sign_with,
)
from tests.utils.chain import register, reverts
from tests.utils.readings import signer

ENTERPRISE_A = dev_account(33)
ENTERPRISE_B = dev_account(34)  # registered, suspended in some tests
UNREGISTERED = dev_account(36)
AUDITOR_2 = dev_account(35)
DEVICE_A = 801  # device key seed, bound to enterprise A
SO2 = 2
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


@dataclass
class Env:
    c: Consortium
    ledger: LedgerClient

    @property
    def auditor(self) -> LocalAccount:
        return self.c.auditor

    def attestation(self, auditor: LocalAccount | None = None, /, **fields: object) -> Attestation:
        """An attestation of enterprise A by ``auditor`` (default: the consortium's) carrying the
        auditor's current nonce unless given."""
        who = auditor or self.c.auditor
        fields.setdefault("nonce", self.ledger.nonce(who.address))
        fields.setdefault("enterprise", ENTERPRISE_A.address)
        return attestation(who.address, **fields)  # type: ignore[arg-type]

    def signed(self, a: Attestation, key: LocalAccount | None = None) -> bytes:
        return sign_with(key or self.c.auditor, self.ledger, a)


@pytest.fixture(scope="module")
def deployed(consortium: Consortium) -> Iterator[Env]:
    """Enterprises A and B registered, a second auditor, both auditors assigned to both
    enterprises, device A bound to enterprise A (anchored by the consortium's oracle)."""
    c = consortium
    snapshot = c.snapshot()
    register(c.registry, c.members, ENTERPRISE_A.address, 801)
    register(c.registry, c.members, ENTERPRISE_B.address, 802)
    c.registry.grant_roles(c.members, [("AUDITOR", AUDITOR_2.address)])
    for auditor in (c.auditor, AUDITOR_2):
        for enterprise in (ENTERPRISE_A, ENTERPRISE_B):
            c.registry.assign_auditor(c.regulator, auditor.address, enterprise.address)
    device = signer(DEVICE_A, domain=_domain(c))
    c.registry.bind_device(
        c.regulator, device.address, ENTERPRISE_A.address, "ATTESTDEVA0001", oracle=c.oracle.address
    )
    yield Env(c, c.ledger)
    c.revert(snapshot)


def _domain(c: Consortium) -> ReadingDomain:
    return ReadingDomain(c.chain.chain_id, c.ledger.address)


@pytest.fixture
def env(deployed: Env) -> Iterator[Env]:
    snapshot = deployed.c.snapshot()
    try:
        yield deployed
    finally:
        deployed.c.revert(snapshot)


# ---------------------------------------------------------------------- submission


def test_attest_stores_record_and_emits_event_when_auditor_submits(env: Env) -> None:
    evidence = (evidence_of("fuel invoices"), evidence_of("CEMS calibration"))
    a = env.attestation(evidence=evidence, verified_emissions=123_456, offsets_eligible=7_890)
    event = env.ledger.attest(env.auditor, a)

    assert event.id == env.ledger.attestation_digest(a)
    assert (event.auditor, event.enterprise, event.pollutant, event.year) == (
        env.auditor.address,
        ENTERPRISE_A.address,
        CO2,
        YEAR,
    )
    assert (event.verified_emissions, event.offsets_eligible) == (123_456, 7_890)
    assert (event.evidence, event.report_hash, event.supersedes) == (evidence, report_of(), ZERO_ID)

    record = env.ledger.attestation(event.id)
    assert (record.auditor, record.enterprise, record.pollutant, record.year) == (
        env.auditor.address,
        ENTERPRISE_A.address,
        CO2,
        YEAR,
    )
    assert (record.verified_emissions, record.offsets_eligible) == (123_456, 7_890)
    assert (record.evidence_hash, record.evidence_count) == (evidence_hash(evidence), 2)
    assert record.report_hash == report_of()
    assert record.status is AttestationStatus.ACTIVE
    assert record.attested_at == env.c.chain.timestamp()
    assert env.ledger.latest_attestation(ENTERPRISE_A.address, CO2, YEAR) == event.id
    assert env.ledger.is_attestation_active(event.id)
    assert env.ledger.nonce(env.auditor.address) == 1


def test_attest_by_sig_records_attestation_when_relayed_by_anyone(env: Env) -> None:
    a = env.attestation()
    signature = sign_attestation(env.auditor, env.c.chain.chain_id, env.ledger.address, a)
    event = env.ledger.attest_by_sig(env.c.outsider, a, signature)  # an unregistered relayer

    assert event.id == env.ledger.attestation_digest(a)
    assert (event.auditor, event.enterprise, event.evidence) == (
        env.auditor.address,
        ENTERPRISE_A.address,
        a.evidence,
    )
    record = env.ledger.attestation(event.id)
    assert (record.auditor, record.status) == (env.auditor.address, AttestationStatus.ACTIVE)
    assert env.ledger.latest_attestation(ENTERPRISE_A.address, CO2, YEAR) == event.id
    assert env.ledger.nonce(env.auditor.address) == 1


def test_attestation_digest_python_equals_contract_and_is_the_id(env: Env) -> None:
    for a in (
        env.attestation(),
        env.attestation(evidence=[evidence_of(str(i)) for i in range(5)], supersedes=b"\x07" * 32, nonce=9),
        env.attestation(pollutant=255, year=65_535, verified_emissions=2**256 - 1, offsets_eligible=0),
    ):
        python = attestation_digest(env.c.chain.chain_id, env.ledger.address, a)
        assert python == env.ledger.attestation_digest(a)
    a = env.attestation()
    assert env.ledger.attest(env.auditor, a).id == attestation_digest(
        env.c.chain.chain_id, env.ledger.address, a
    )


def test_nonce_counts_each_auditors_attestations_across_both_paths(env: Env) -> None:
    first = env.ledger.attest(env.auditor, env.attestation(year=2023))
    a = env.attestation(year=2024)
    env.ledger.attest_by_sig(env.c.outsider, a, env.signed(a))
    assert env.ledger.nonce(env.auditor.address) == 2
    assert env.ledger.nonce(AUDITOR_2.address) == 0
    assert first.id != env.ledger.latest_attestation(ENTERPRISE_A.address, CO2, 2024)


def test_attest_accepts_evidence_by_hash_alone(env: Env) -> None:
    """No evidence entry needs to be an anchored batch: external documents cited by hash."""
    evidence = (evidence_of("invoices 2024"), evidence_of("lab report 17"), evidence_of("site visit"))
    assert not any(env.ledger.is_anchored(e) for e in evidence)
    event = env.ledger.attest(env.auditor, env.attestation(evidence=evidence))
    assert event.evidence == evidence
    assert env.ledger.attestation(event.id).evidence_hash == evidence_hash(evidence)


def test_attest_accepts_another_auditor_for_the_same_key_and_it_becomes_latest(env: Env) -> None:
    first = env.ledger.attest(env.auditor, env.attestation())
    second = env.ledger.attest(AUDITOR_2, env.attestation(AUDITOR_2))
    assert env.ledger.latest_attestation(ENTERPRISE_A.address, CO2, YEAR) == second.id
    assert env.ledger.is_attestation_active(first.id) and env.ledger.is_attestation_active(second.id)


def test_attest_keys_are_per_enterprise_pollutant_and_year(env: Env) -> None:
    ids = [
        env.ledger.attest(env.auditor, env.attestation(**fields)).id
        for fields in ({}, {"pollutant": SO2}, {"year": YEAR + 1}, {"enterprise": ENTERPRISE_B.address})
    ]
    assert env.ledger.latest_attestation(ENTERPRISE_A.address, CO2, YEAR) == ids[0]
    assert env.ledger.latest_attestation(ENTERPRISE_A.address, SO2, YEAR) == ids[1]
    assert env.ledger.latest_attestation(ENTERPRISE_A.address, CO2, YEAR + 1) == ids[2]
    assert env.ledger.latest_attestation(ENTERPRISE_B.address, CO2, YEAR) == ids[3]
    assert env.ledger.latest_attestation(ENTERPRISE_B.address, SO2, YEAR) is None


# ---------------------------------------------------------------------- submission refused


def _non_auditor(env: Env, who: str) -> LocalAccount:
    """An account of another role than AUDITOR."""
    return {
        "outsider": env.c.outsider,
        "enterprise": ENTERPRISE_A,
        "regulator": env.c.regulator,
        "oracle": env.c.oracle,
    }[who]


@pytest.mark.parametrize("who", ["outsider", "enterprise", "regulator", "oracle"])
def test_attest_refuses_non_auditor(env: Env, who: str) -> None:
    account = _non_auditor(env, who)
    with reverts("LedgerNotAuditor", account=account.address):
        env.ledger.attest(account, env.attestation(account))


@pytest.mark.parametrize("who", ["outsider", "enterprise", "regulator", "oracle"])
def test_attest_by_sig_refuses_non_auditor_signer(env: Env, who: str) -> None:
    account = _non_auditor(env, who)
    a = env.attestation(account)
    with reverts("LedgerNotAuditor", account=account.address):
        env.ledger.attest_by_sig(env.c.outsider, a, env.signed(a, account))


def test_attest_by_sig_refuses_signature_of_auditor_whose_role_was_revoked(env: Env) -> None:
    c = env.c
    a = env.attestation(AUDITOR_2)
    signature = env.signed(a, AUDITOR_2)  # signed offline while still an auditor
    c.registry.govern(c.members, c.registry.encode_revoke_role("AUDITOR", AUDITOR_2.address), "revoke")
    with reverts("LedgerNotAuditor", account=AUDITOR_2.address):
        env.ledger.attest_by_sig(c.outsider, a, signature)


@pytest.mark.parametrize("who", ["outsider", "other auditor", "regulator"])
def test_attest_refuses_caller_other_than_the_named_auditor(env: Env, who: str) -> None:
    caller = {"outsider": env.c.outsider, "other auditor": AUDITOR_2, "regulator": env.c.regulator}[who]
    with reverts("LedgerNotAttestationAuditor", caller=caller.address, auditor=env.auditor.address):
        env.ledger.attest(caller, env.attestation())


@pytest.mark.parametrize(
    "change",
    [
        {"verified_emissions": 1},
        {"offsets_eligible": 60_000},
        {"enterprise": ENTERPRISE_B.address},
        {"year": YEAR + 1},
        {"pollutant": SO2},
        {"evidence": (evidence_of("something else"),)},
        {"report_hash": report_of("another report")},
    ],
)
def test_attest_by_sig_refuses_signature_over_different_data(env: Env, change: dict[str, object]) -> None:
    signed = env.attestation()
    sent = replace(signed, **change)  # type: ignore[arg-type]
    signature = env.signed(signed)
    recovered = recover(env.ledger, sent, signature)
    assert recovered != env.auditor.address
    with reverts("LedgerAttestationSignerMismatch", signer=recovered, auditor=env.auditor.address):
        env.ledger.attest_by_sig(env.c.outsider, sent, signature)


@pytest.mark.parametrize("key", ["other auditor", "enterprise"])
def test_attest_by_sig_refuses_signature_by_another_key(env: Env, key: str) -> None:
    signer_key = AUDITOR_2 if key == "other auditor" else ENTERPRISE_A
    a = env.attestation()  # names the consortium's auditor
    with reverts("LedgerAttestationSignerMismatch", signer=signer_key.address, auditor=env.auditor.address):
        env.ledger.attest_by_sig(env.c.outsider, a, env.signed(a, signer_key))


def test_attest_by_sig_refuses_malformed_signature(env: Env) -> None:
    a = env.attestation()
    digest = env.ledger.attestation_digest(a)
    good = env.signed(a)
    s = int.from_bytes(good[32:64], "big")
    high_s = (
        good[:32] + (SECP256K1_N - s).to_bytes(32, "big") + bytes((55 - good[64],))
    )  # same key, malleated
    for bad in (good[:64], good + b"\x00", b"", high_s):
        with reverts("LedgerAttestationInvalidSignature", digest=digest):
            env.ledger.attest_by_sig(env.c.outsider, a, bad)
    assert env.ledger.nonce(env.auditor.address) == 0


def test_attest_by_sig_refuses_replayed_signature(env: Env) -> None:
    a = env.attestation(year=YEAR)
    signature = env.signed(a)
    env.ledger.attest_by_sig(env.c.outsider, a, signature)
    with reverts("LedgerInvalidNonce", auditor=env.auditor.address, nonce=0, expected=1):
        env.ledger.attest_by_sig(env.c.outsider, a, signature)
    with reverts("LedgerInvalidNonce", auditor=env.auditor.address, nonce=0, expected=1):
        env.ledger.attest(env.auditor, a)  # the auditor itself cannot reuse it either


@pytest.mark.parametrize("nonce", [1, 7])
def test_attest_refuses_wrong_nonce_on_both_paths(env: Env, nonce: int) -> None:
    a = env.attestation(nonce=nonce)
    with reverts("LedgerInvalidNonce", auditor=env.auditor.address, nonce=nonce, expected=0):
        env.ledger.attest(env.auditor, a)
    with reverts("LedgerInvalidNonce", auditor=env.auditor.address, nonce=nonce, expected=0):
        env.ledger.attest_by_sig(env.c.outsider, a, env.signed(a))


def test_attest_refuses_unregistered_enterprise_on_both_paths(env: Env) -> None:
    for enterprise in (UNREGISTERED.address, env.c.exchange.address):  # no profile; not an enterprise
        a = env.attestation(enterprise=enterprise)
        with reverts("LedgerAttestedEnterpriseNotActive", enterprise=enterprise):
            env.ledger.attest(env.auditor, a)
        with reverts("LedgerAttestedEnterpriseNotActive", enterprise=enterprise):
            env.ledger.attest_by_sig(env.c.outsider, a, env.signed(a))


def test_attest_refuses_suspended_enterprise_until_reinstated(env: Env) -> None:
    c = env.c
    c.registry.govern(c.members, c.registry.encode_suspend(ENTERPRISE_B.address, 3), "suspend B")
    a = env.attestation(enterprise=ENTERPRISE_B.address)
    with reverts("LedgerAttestedEnterpriseNotActive", enterprise=ENTERPRISE_B.address):
        env.ledger.attest(env.auditor, a)
    with reverts("LedgerAttestedEnterpriseNotActive", enterprise=ENTERPRISE_B.address):
        env.ledger.attest_by_sig(c.outsider, a, env.signed(a))
    c.registry.govern(c.members, c.registry.encode_reinstate(ENTERPRISE_B.address), "reinstate B")
    assert env.ledger.attest(env.auditor, a).enterprise == ENTERPRISE_B.address


AUDITOR_3 = dev_account(38)  # an auditor the regulator assigns in the test itself


def test_attest_refuses_an_auditor_not_assigned_to_the_enterprise_on_both_paths(env: Env) -> None:
    c = env.c
    c.registry.grant_roles(c.members, [("AUDITOR", AUDITOR_3.address)])
    a = env.attestation(AUDITOR_3)
    signature = env.signed(a, AUDITOR_3)
    with reverts("LedgerAuditorNotAssigned", auditor=AUDITOR_3.address, enterprise=ENTERPRISE_A.address):
        env.ledger.attest(AUDITOR_3, a)
    with reverts("LedgerAuditorNotAssigned", auditor=AUDITOR_3.address, enterprise=ENTERPRISE_A.address):
        env.ledger.attest_by_sig(c.outsider, a, signature)
    c.registry.assign_auditor(c.regulator, AUDITOR_3.address, ENTERPRISE_A.address)
    first = env.ledger.attest_by_sig(c.outsider, a, signature)
    assert first.auditor == AUDITOR_3.address
    # the assignment is per enterprise, and ends when the regulator ends it
    b = env.attestation(AUDITOR_3, enterprise=ENTERPRISE_B.address)
    with reverts("LedgerAuditorNotAssigned", auditor=AUDITOR_3.address, enterprise=ENTERPRISE_B.address):
        env.ledger.attest(AUDITOR_3, b)
    c.registry.unassign_auditor(c.regulator, AUDITOR_3.address, ENTERPRISE_A.address)
    with reverts("LedgerAuditorNotAssigned", auditor=AUDITOR_3.address, enterprise=ENTERPRISE_A.address):
        env.ledger.attest(AUDITOR_3, env.attestation(AUDITOR_3, supersedes=first.id))


def test_attest_and_revoke_refused_for_a_suspended_auditor_until_reinstated(env: Env) -> None:
    c = env.c
    first = env.ledger.attest(env.auditor, env.attestation(enterprise=ENTERPRISE_B.address))
    a = env.attestation()
    signature = env.signed(a)  # signed while active
    c.registry.govern(c.members, c.registry.encode_suspend(env.auditor.address, 4), "suspend the auditor")
    with reverts("CallerNotActive", account=env.auditor.address):
        env.ledger.attest(env.auditor, a)
    with reverts("CallerNotActive", account=env.auditor.address):
        env.ledger.attest_by_sig(c.outsider, a, signature)
    with reverts("CallerNotActive", account=env.auditor.address):
        env.ledger.revoke_attestation(env.auditor, first.id, 1, "suspended")
    assert env.ledger.is_attestation_active(first.id)
    c.registry.govern(c.members, c.registry.encode_reinstate(env.auditor.address), "reinstate the auditor")
    assert env.ledger.attest_by_sig(c.outsider, a, signature).id == env.ledger.attestation_digest(a)


def test_latest_attestation_falls_back_to_an_older_active_one_when_the_newest_is_revoked(env: Env) -> None:
    first = env.ledger.attest(env.auditor, env.attestation())
    newer = env.ledger.attest(AUDITOR_2, env.attestation(AUDITOR_2))
    env.ledger.revoke_attestation(AUDITOR_2, newer.id, 2, "withdrawn")
    assert env.ledger.latest_attestation(ENTERPRISE_A.address, CO2, YEAR) == first.id
    assert env.ledger.attestation_count(ENTERPRISE_A.address, CO2, YEAR) == 2
    closed = env.ledger.attestation(newer.id)
    assert closed.closed_at >= closed.attested_at > 0
    assert env.ledger.attestation(first.id).closed_at == 0


def test_attestation_of_record_is_the_latest_active_at_the_cutoff(env: Env) -> None:
    c = env.c
    first = env.ledger.attest(env.auditor, env.attestation())
    cutoff = c.chain.timestamp() + 10
    c.chain.advance_time(60)
    later = env.ledger.attest(AUDITOR_2, env.attestation(AUDITOR_2))
    newest = env.ledger.attest(env.auditor, env.attestation(supersedes=first.id))
    record = env.ledger.attestation_of_record
    assert record(ENTERPRISE_A.address, CO2, YEAR, cutoff) == first.id  # superseded only after the cutoff
    assert record(ENTERPRISE_A.address, CO2, YEAR, cutoff - 20) is None  # before any attestation
    assert record(ENTERPRISE_A.address, CO2, YEAR, c.chain.timestamp()) == newest.id
    env.ledger.reject_attestation(c.regulator, newest.id, 3, "rejected")
    assert record(ENTERPRISE_A.address, CO2, YEAR, c.chain.timestamp()) == later.id
    assert record(ENTERPRISE_A.address, CO2, YEAR, cutoff) == first.id
    assert env.ledger.latest_attestation(ENTERPRISE_A.address, CO2, YEAR) == later.id


def test_attest_refuses_second_active_attestation_without_supersede(env: Env) -> None:
    first = env.ledger.attest(env.auditor, env.attestation())
    with reverts("LedgerAttestationExists", id=first.id):
        env.ledger.attest(env.auditor, env.attestation(verified_emissions=1))
    a = env.attestation(verified_emissions=2)
    with reverts("LedgerAttestationExists", id=first.id):
        env.ledger.attest_by_sig(env.c.outsider, a, env.signed(a))


def test_sign_attestation_refuses_a_key_other_than_the_auditor(env: Env) -> None:
    with pytest.raises(InvalidInputError):
        sign_attestation(AUDITOR_2, env.c.chain.chain_id, env.ledger.address, env.attestation())


# ---------------------------------------------------------------------- superseding


@pytest.mark.parametrize("path", ["attest", "attest_by_sig"])
def test_attest_supersede_marks_old_superseded_and_updates_latest(env: Env, path: str) -> None:
    first = env.ledger.attest(env.auditor, env.attestation(verified_emissions=100))
    a = env.attestation(verified_emissions=110, supersedes=first.id, report=report_of("corrected"))
    if path == "attest":
        second = env.ledger.attest(env.auditor, a)
    else:
        second = env.ledger.attest_by_sig(env.c.outsider, a, env.signed(a))

    assert second.supersedes == first.id
    assert env.ledger.attestation(first.id).status is AttestationStatus.SUPERSEDED
    assert not env.ledger.is_attestation_active(first.id)
    assert env.ledger.attestation(second.id).status is AttestationStatus.ACTIVE
    assert env.ledger.attestation(second.id).verified_emissions == 110
    assert env.ledger.latest_attestation(ENTERPRISE_A.address, CO2, YEAR) == second.id
    # a superseded attestation can be superseded no more, revoked no more
    with reverts("LedgerAttestationNotActive", id=first.id, status=AttestationStatus.SUPERSEDED):
        env.ledger.attest(env.auditor, env.attestation(supersedes=first.id))
    with reverts("LedgerAttestationNotActive", id=first.id, status=AttestationStatus.SUPERSEDED):
        env.ledger.revoke_attestation(env.auditor, first.id, 1, "typo")


def test_attest_supersede_of_an_older_auditors_one_leaves_latest_to_the_newest(env: Env) -> None:
    first = env.ledger.attest(env.auditor, env.attestation())
    other = env.ledger.attest(AUDITOR_2, env.attestation(AUDITOR_2))
    again = env.ledger.attest(env.auditor, env.attestation(supersedes=first.id))
    assert env.ledger.latest_attestation(ENTERPRISE_A.address, CO2, YEAR) == again.id
    assert env.ledger.is_attestation_active(other.id)


def test_attest_refuses_supersede_of_another_auditors_attestation(env: Env) -> None:
    theirs = env.ledger.attest(AUDITOR_2, env.attestation(AUDITOR_2))
    with reverts("LedgerSupersedeMismatch", supersedes=theirs.id):
        env.ledger.attest(env.auditor, env.attestation(supersedes=theirs.id))
    assert env.ledger.is_attestation_active(theirs.id)


@pytest.mark.parametrize(
    "change", [{"year": YEAR + 1}, {"pollutant": SO2}, {"enterprise": ENTERPRISE_B.address}]
)
def test_attest_refuses_supersede_of_another_key(env: Env, change: dict[str, object]) -> None:
    first = env.ledger.attest(env.auditor, env.attestation())
    with reverts("LedgerSupersedeMismatch", supersedes=first.id):
        env.ledger.attest(env.auditor, env.attestation(supersedes=first.id, **change))


def test_attest_refuses_supersede_of_unknown_attestation(env: Env) -> None:
    with reverts("LedgerAttestationUnknown", id=b"\x05" * 32):
        env.ledger.attest(env.auditor, env.attestation(supersedes=b"\x05" * 32))


# ---------------------------------------------------------------------- revocation


def test_revoke_attestation_marks_revoked_clears_latest_and_emits_when_its_auditor(env: Env) -> None:
    first = env.ledger.attest(env.auditor, env.attestation())
    event = env.ledger.revoke_attestation(env.auditor, first.id, 7, "meter calibration expired")
    assert (event.id, event.status, event.by, event.enterprise) == (
        first.id,
        AttestationStatus.REVOKED,
        env.auditor.address,
        ENTERPRISE_A.address,
    )
    assert (event.reason_code, event.reason) == (7, "meter calibration expired")
    assert env.ledger.attestation(first.id).status is AttestationStatus.REVOKED
    assert not env.ledger.is_attestation_active(first.id)
    assert env.ledger.latest_attestation(ENTERPRISE_A.address, CO2, YEAR) is None
    # revoked: not again, not superseded; a fresh attestation needs no supersede now
    with reverts("LedgerAttestationNotActive", id=first.id, status=AttestationStatus.REVOKED):
        env.ledger.revoke_attestation(env.auditor, first.id, 7, "again")
    with reverts("LedgerAttestationNotActive", id=first.id, status=AttestationStatus.REVOKED):
        env.ledger.attest(env.auditor, env.attestation(supersedes=first.id))
    fresh = env.ledger.attest(env.auditor, env.attestation())
    assert env.ledger.latest_attestation(ENTERPRISE_A.address, CO2, YEAR) == fresh.id


@pytest.mark.parametrize("who", ["other auditor", "regulator", "enterprise", "outsider"])
def test_revoke_attestation_refuses_anyone_but_its_auditor(env: Env, who: str) -> None:
    caller = {
        "other auditor": AUDITOR_2,
        "regulator": env.c.regulator,
        "enterprise": ENTERPRISE_A,
        "outsider": env.c.outsider,
    }[who]
    first = env.ledger.attest(env.auditor, env.attestation())
    with reverts("LedgerNotAttestationAuditor", caller=caller.address, auditor=env.auditor.address):
        env.ledger.revoke_attestation(caller, first.id, 1, "not mine")
    assert env.ledger.is_attestation_active(first.id)


def test_revoke_attestation_refuses_unknown_id(env: Env) -> None:
    with reverts("LedgerAttestationUnknown", id=b"\x06" * 32):
        env.ledger.revoke_attestation(env.auditor, b"\x06" * 32, 1, "?")


def test_revoke_attestation_leaves_latest_pointing_at_a_newer_one(env: Env) -> None:
    first = env.ledger.attest(env.auditor, env.attestation())
    newer = env.ledger.attest(AUDITOR_2, env.attestation(AUDITOR_2))
    env.ledger.revoke_attestation(env.auditor, first.id, 2, "withdrawn")
    assert env.ledger.latest_attestation(ENTERPRISE_A.address, CO2, YEAR) == newer.id


# ---------------------------------------------------------------------- rejection


def test_reject_attestation_marks_rejected_clears_latest_and_emits_when_regulator(env: Env) -> None:
    first = env.ledger.attest(env.auditor, env.attestation())
    event = env.ledger.reject_attestation(env.c.regulator, first.id, 12, "evidence insufficient")
    assert (event.id, event.status, event.by, event.enterprise) == (
        first.id,
        AttestationStatus.REJECTED,
        env.c.regulator.address,
        ENTERPRISE_A.address,
    )
    assert (event.reason_code, event.reason) == (12, "evidence insufficient")
    assert env.ledger.attestation(first.id).status is AttestationStatus.REJECTED
    assert env.ledger.latest_attestation(ENTERPRISE_A.address, CO2, YEAR) is None
    with reverts("LedgerAttestationNotActive", id=first.id, status=AttestationStatus.REJECTED):
        env.ledger.reject_attestation(env.c.regulator, first.id, 12, "again")
    with reverts("LedgerAttestationNotActive", id=first.id, status=AttestationStatus.REJECTED):
        env.ledger.revoke_attestation(env.auditor, first.id, 1, "too late")
    with reverts("LedgerAttestationNotActive", id=first.id, status=AttestationStatus.REJECTED):
        env.ledger.attest(env.auditor, env.attestation(supersedes=first.id))


@pytest.mark.parametrize("who", ["auditor", "other auditor", "exchange", "enterprise", "oracle", "outsider"])
def test_reject_attestation_refuses_non_regulator(env: Env, who: str) -> None:
    caller = {
        "auditor": env.auditor,
        "other auditor": AUDITOR_2,
        "exchange": env.c.exchange,
        "enterprise": ENTERPRISE_A,
        "oracle": env.c.oracle,
        "outsider": env.c.outsider,
    }[who]
    first = env.ledger.attest(env.auditor, env.attestation())
    with reverts("UnauthorizedRole", account=caller.address, role=ROLES["REGULATOR"]):
        env.ledger.reject_attestation(caller, first.id, 1, "no")
    assert env.ledger.is_attestation_active(first.id)


def test_reject_attestation_refuses_unknown_or_superseded(env: Env) -> None:
    with reverts("LedgerAttestationUnknown", id=b"\x08" * 32):
        env.ledger.reject_attestation(env.c.regulator, b"\x08" * 32, 1, "?")
    first = env.ledger.attest(env.auditor, env.attestation())
    env.ledger.attest(env.auditor, env.attestation(supersedes=first.id))
    with reverts("LedgerAttestationNotActive", id=first.id, status=AttestationStatus.SUPERSEDED):
        env.ledger.reject_attestation(env.c.regulator, first.id, 1, "stale")


# ---------------------------------------------------------------------- views


def test_attestation_view_refuses_unknown_id(env: Env) -> None:
    assert not env.ledger.is_attestation_active(b"\x09" * 32)
    with reverts("LedgerAttestationUnknown", id=b"\x09" * 32):
        env.ledger.attestation(b"\x09" * 32)


# ---------------------------------------------------------------------- cited readings


Cited = tuple[Env, bytes, tuple[bytes, ...], bytes, Proven, bytes, Proven]


@pytest.fixture
def cited(env: Env) -> Cited:
    """Two anchored batches of device A; an attestation citing an external hash and the first."""
    device = signer(DEVICE_A, domain=_domain(env.c))
    batch, proven = anchored_batch(env.ledger, env.c.oracle, device)
    other, other_proven = anchored_batch(env.ledger, env.c.oracle, device)
    evidence = (evidence_of("fuel invoices"), batch.batch_id)
    event = env.ledger.attest(env.auditor, env.attestation(evidence=evidence))
    return env, event.id, evidence, batch.batch_id, proven, other.batch_id, other_proven


def test_verify_cited_reading_true_for_readings_of_a_cited_anchored_batch(cited: Cited) -> None:
    env, att, evidence, batch_id, proven, _, _ = cited
    assert len(proven) == 8
    for signed, proof in proven:
        assert env.ledger.verify_cited_reading(
            att, evidence, 1, batch_id, signed.reading, signed.witness, proof
        )


def test_verify_cited_reading_false_for_wrong_evidence_list(cited: Cited) -> None:
    env, att, evidence, batch_id, proven, other_id, _ = cited
    signed, proof = proven[0]
    for wrong in (
        evidence[1:],  # an entry dropped
        (evidence[1], evidence[0]),  # reordered
        (*evidence, evidence_of("extra")),  # an entry added
        (evidence[0], other_id),  # another batch in its place
    ):
        index = list(wrong).index(batch_id) if batch_id in wrong else 0
        assert not env.ledger.verify_cited_reading(
            att, wrong, index, batch_id, signed.reading, signed.witness, proof
        )


@pytest.mark.parametrize("index", [0, 2, 2**256 - 1])
def test_verify_cited_reading_false_for_wrong_evidence_index(cited: Cited, index: int) -> None:
    env, att, evidence, batch_id, proven, _, _ = cited
    signed, proof = proven[0]
    assert not env.ledger.verify_cited_reading(
        att, evidence, index, batch_id, signed.reading, signed.witness, proof
    )


def test_verify_cited_reading_false_for_an_uncited_anchored_batch(cited: Cited) -> None:
    env, att, evidence, _, _, other_id, other_proven = cited
    signed, proof = other_proven[0]
    assert env.ledger.verify_reading(other_id, signed.reading, signed.witness, proof)  # anchored, valid
    for index in (0, 1):
        assert not env.ledger.verify_cited_reading(
            att, evidence, index, other_id, signed.reading, signed.witness, proof
        )


def test_verify_cited_reading_false_for_unknown_attestation_or_bad_reading(cited: Cited) -> None:
    env, att, evidence, batch_id, proven, _, _ = cited
    signed, proof = proven[2]
    assert not env.ledger.verify_cited_reading(
        b"\x0a" * 32, evidence, 1, batch_id, signed.reading, signed.witness, proof
    )
    tampered = replace(signed.reading, value=signed.reading.value + 1)
    assert not env.ledger.verify_cited_reading(att, evidence, 1, batch_id, tampered, signed.witness, proof)
    assert not env.ledger.verify_cited_reading(
        att, evidence, 1, batch_id, signed.reading, signed.witness, proof[1:]
    )
    # the cited evidence hash entry is not a batch: nothing verifies against it
    assert not env.ledger.verify_cited_reading(
        att, evidence, 0, evidence[0], signed.reading, signed.witness, proof
    )


def test_verify_cited_reading_refuses_a_forged_batch_header(cited: Cited) -> None:
    """The cited batch's header is the verifier's to supply: another root (under which a forged
    reading would prove) or other totals are refused by name, not answered."""
    env, att, evidence, batch_id, proven, _, _ = cited
    signed, proof = proven[0]
    header = env.ledger.batch(batch_id)
    assert env.ledger.verify_cited_reading(
        att, evidence, 1, batch_id, signed.reading, signed.witness, proof, header=header
    )
    for forged in (replace(header, root=b"\x0b" * 32), replace(header, totals_hash=b"\x0c" * 32)):
        with reverts("LedgerBatchHeaderMismatch", batchId=batch_id):
            env.ledger.verify_cited_reading(
                att, evidence, 1, batch_id, signed.reading, signed.witness, proof, header=forged
            )
