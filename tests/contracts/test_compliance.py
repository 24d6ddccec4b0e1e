"""ComplianceManager on a real Anvil: every transition allowed and refused for every role, the
settlement rule, finalization outcomes A/B/C with their penalties, and conservation of tokens
over random apply/reject/resubmit/approve sequences (hypothesis)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from hexbytes import HexBytes
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from web3.logs import DISCARD

from chain.accounts import dev_account
from chain.anchoring import batch_anchor_of
from chain.compliance import ApplicationStatus, ComplianceClient, ObligationStatus
from chain.registry import role_id
from domain.compliance import Outcome, YearConfig, offset_cap, outcome_of, penalty, shortfall_of
from domain.errors import InvalidInputError
from oracle.queue import Queue
from oracle.signing.eip712 import ReadingDomain
from tests.conftest import Consortium
from tests.utils.attestations import attestation, frame_fields, sign_with
from tests.utils.chain import profile, reverts
from tests.utils.compliance import (
    CO2,
    CO2_2023,
    CO2_2024,
    CO2_2025,
    CONFIG,
    DAY,
    ENTERPRISES,
    IDS,
    OFF_2024,
    RULES,
    RULES_URI,
    SO2_2024,
    YEAR,
    Cycle,
    holdings,
    issue,
    setup_cycle,
    surrender,
)
from tests.utils.readings import BASE_TIME, signer

E0, E1, E2, E3 = ENTERPRISES


@pytest.fixture(scope="module")
def cycle_module(consortium: Consortium) -> Iterator[Cycle]:
    snapshot = consortium.snapshot()
    cycle = setup_cycle(consortium)
    yield cycle
    consortium.revert(snapshot)


@pytest.fixture
def cy(cycle_module: Cycle) -> Iterator[Cycle]:
    snapshot = cycle_module.c.snapshot()
    try:
        yield cycle_module
    finally:
        cycle_module.c.revert(snapshot)


def roles(c: Consortium) -> dict[str, LocalAccount]:
    return {"regulator": c.regulator, "exchange": c.exchange, "auditor": c.auditor, "oracle": c.oracle,
            "enterprise": E0, "outsider": c.outsider}  # fmt: skip


def non(*allowed: str) -> list[str]:
    return [
        r
        for r in ("regulator", "exchange", "auditor", "oracle", "enterprise", "outsider")
        if r not in allowed
    ]


def applied(
    cy: Cycle,
    who: LocalAccount = E0,
    verified: int = 500,
    eligible: int = 100,
    allowances: dict[int, int] | None = None,
    offsets: dict[int, int] | None = None,
) -> int:
    """Acknowledge (if needed), attest and apply; returns the application id."""
    c = cy.c
    if c.compliance.notice(who.address, CO2, YEAR).acknowledged_at == 0:
        c.compliance.acknowledge(who, CO2, YEAR)
    att = c.ledger.latest_attestation(who.address, CO2, YEAR) or cy.attest(who.address, verified, eligible)
    if allowances is None and offsets is None:
        allowances, offsets = {CO2_2024: 450}, {OFF_2024: 50}
    return c.compliance.apply(who, CO2, YEAR, surrender(att, allowances, offsets))


# ---------------------------------------------------------------------- deployment and wiring


def test_manager_is_wired_as_the_tokens_compliance_manager_and_system_contract(cy: Cycle) -> None:
    c = cy.c
    token = c.allowance.contract.functions
    assert token.complianceManager().call() == c.compliance.address
    assert token.isSystemContract(c.compliance.address).call()
    assert c.compliance.treasury() == c.treasury.address


def test_set_treasury_is_governance_only(cy: Cycle) -> None:
    with reverts("OnlyGovernance", caller=cy.c.regulator.address):
        cy.c.chain.transact(cy.c.compliance.contract.functions.setTreasury(E0.address), cy.c.regulator)


# ---------------------------------------------------------------------- year rules


def test_configure_year_stores_rules_and_locks_with_the_first_notice(cy: Cycle) -> None:
    c = cy.c
    assert c.compliance.year_config(YEAR) == CONFIG
    new = YearConfig(offset_cap_bps=500, fine_per_tonne=1, make_good_bps=10_000, no_report_fine=2)
    receipt = c.compliance.configure_year(c.regulator, 2025, new)
    event = c.compliance.contract.events.YearConfigured().process_receipt(receipt, errors=DISCARD)[0]["args"]
    assert (event["year"], event["offsetCapBps"], event["finePerTonne"]) == (2025, 500, 1)
    assert c.compliance.year_config(2025) == new
    with reverts("ComplianceYearConfigLocked", year=YEAR):
        c.compliance.configure_year(c.regulator, YEAR, new)


def test_configure_year_refuses_offset_cap_over_100_percent(cy: Cycle) -> None:
    fn = cy.c.compliance.contract.functions.configureYear(2026, (10_001, 0, 0, 0, True))
    with reverts("ComplianceInvalidConfig", offsetCapBps=10_001):
        cy.c.chain.transact(fn, cy.c.regulator)


@pytest.mark.parametrize("who", non("regulator"))
def test_configure_year_refused_for_non_regulators(cy: Cycle, who: str) -> None:
    account = roles(cy.c)[who]
    with reverts("UnauthorizedRole", account=account.address, role=role_id("REGULATOR")):
        cy.c.compliance.configure_year(account, 2026, CONFIG)


# ---------------------------------------------------------------------- notices


def test_issue_notices_records_each_notice_the_rules_and_counts(cy: Cycle) -> None:
    c = cy.c
    n = c.compliance.notice(E0.address, CO2, YEAR)
    assert (n.status, n.pollutant, n.allocated, n.rules_hash) == (ObligationStatus.OPEN, CO2, 1000, RULES)
    assert (n.submission_deadline, n.ack_deadline, n.acknowledged_at) == (
        cy.submission_deadline, cy.ack_deadline, 0)  # fmt: skip
    assert c.compliance.notice(E3.address, CO2, YEAR).status is ObligationStatus.NONE
    assert c.compliance.rules_uri(RULES) == RULES_URI
    assert c.compliance.year_stats(YEAR).notices == 3
    issued = [e for e in c.compliance.events(year=YEAR) if e["event"] == "NoticeIssued"]
    assert [e["args"]["enterprise"] for e in issued] == [E0.address, E1.address, E2.address]


@pytest.mark.parametrize("who", non("regulator"))
def test_issue_notices_refused_for_non_regulators(cy: Cycle, who: str) -> None:
    account = roles(cy.c)[who]
    with reverts("UnauthorizedRole", account=account.address, role=role_id("REGULATOR")):
        issue(cy, [E3], regulator=account)


def test_issue_notices_refuses_duplicates_non_enterprises_and_unconfigured_years(cy: Cycle) -> None:
    c = cy.c
    with reverts("ComplianceNoticeExists", enterprise=E1.address, pollutant=CO2, year=YEAR):
        issue(cy, [E3, E1])
    with reverts("ComplianceNotEnterprise", account=c.auditor.address):
        issue(cy, [c.auditor])
    with reverts("ComplianceYearNotConfigured", year=2030):
        issue(cy, [E3], year=2030)
    assert c.compliance.notice(E3.address, CO2, YEAR).status is ObligationStatus.NONE


def test_issue_notices_refuses_bad_deadlines_pollutant_and_lengths(cy: Cycle) -> None:
    c = cy.c
    now = c.chain.timestamp()
    fn = c.compliance.contract.functions.issueNotices
    base = [YEAR, CO2, RULES, RULES_URI, now + DAY, now + DAY, [E3.address], [10]]

    def send(**changes: object) -> None:
        keys = ["year", "pollutant", "rules", "uri", "sub", "ack", "ents", "alloc"]
        args = [changes.get(k, v) for k, v in zip(keys, base, strict=True)]
        c.chain.transact(fn(tuple(args)), c.regulator)

    with reverts("ComplianceInvalidDeadlines", ackDeadline=now + 2 * DAY, submissionDeadline=now + DAY):
        send(ack=now + 2 * DAY)
    with reverts("ComplianceInvalidDeadlines", submissionDeadline=now - 1):
        send(sub=now - 1, ack=now - 1)
    with reverts("ComplianceUnknownPollutant", pollutant=99):
        send(pollutant=99)
    with reverts("ComplianceLengthMismatch", left=1, right=2):
        send(alloc=[1, 2])
    with reverts("ComplianceLengthMismatch", left=0, right=0):
        send(ents=[], alloc=[])
    send()  # the base batch is fine
    assert c.compliance.notice(E3.address, CO2, YEAR).ack_deadline == now + DAY


# ---------------------------------------------------------------------- acknowledgement


def test_acknowledge_records_time_and_marks_late_ones(cy: Cycle) -> None:
    c = cy.c
    c.compliance.acknowledge(E0, CO2, YEAR)
    c.chain.advance_time(8 * DAY)
    receipt = c.compliance.acknowledge(E1, CO2, YEAR)
    event = c.compliance.contract.events.NoticeAcknowledged().process_receipt(receipt, errors=DISCARD)[0][
        "args"
    ]
    assert event["late"] is True and event["enterprise"] == E1.address
    assert not c.compliance.notice(E0.address, CO2, YEAR).acknowledged_late
    assert c.compliance.notice(E1.address, CO2, YEAR).acknowledged_late
    stats = c.compliance.year_stats(YEAR)
    assert (stats.acknowledged, stats.late_acknowledgements) == (2, 1)


def test_acknowledge_refuses_twice_without_notice_and_other_roles(cy: Cycle) -> None:
    c = cy.c
    c.compliance.acknowledge(E0, CO2, YEAR)
    at = c.compliance.notice(E0.address, CO2, YEAR).acknowledged_at
    with reverts(
        "ComplianceAlreadyAcknowledged", enterprise=E0.address, pollutant=CO2, year=YEAR, acknowledgedAt=at
    ):
        c.compliance.acknowledge(E0, CO2, YEAR)
    with reverts("ComplianceNoNotice", enterprise=E3.address, pollutant=CO2, year=YEAR):
        c.compliance.acknowledge(E3, CO2, YEAR)  # only one's own notice: E3 has none
    for who in non("enterprise"):
        account = roles(c)[who]
        with reverts("UnauthorizedRole", account=account.address, role=role_id("ENTERPRISE")):
            c.compliance.acknowledge(account, CO2, YEAR)


# ---------------------------------------------------------------------- application


def test_apply_escrows_tokens_and_records_the_application(cy: Cycle) -> None:
    c = cy.c
    app_id = applied(cy, allowances={CO2_2024: 400, CO2_2023: 50}, offsets={OFF_2024: 50})
    app = c.compliance.application(app_id)
    assert (app.status, app.enterprise, app.year, app.verified, app.offsets, app.allowances) == (
        ApplicationStatus.UNDER_REVIEW, E0.address, YEAR, 500, 50, 450)  # fmt: skip
    assert (app.ids, app.amounts) == ((CO2_2024, CO2_2023, OFF_2024), (400, 50, 50))
    assert c.allowance.balance(E0.address, CO2_2024) == 600
    assert c.allowance.balance(c.compliance.address, CO2_2024) == c.compliance.escrowed(CO2_2024) == 400
    assert c.compliance.notice(E0.address, CO2, YEAR).pending == app_id
    assert c.compliance.year_stats(YEAR).applications == 1


@pytest.mark.parametrize("who", non("enterprise"))
def test_apply_refused_for_non_enterprises(cy: Cycle, who: str) -> None:
    account = roles(cy.c)[who]
    att = cy.attest(E0.address, 500)
    fn = cy.c.compliance.contract.functions.submitApplication(CO2, YEAR, (att, [CO2_2024], [1], [], []))
    with reverts("UnauthorizedRole", account=account.address, role=role_id("ENTERPRISE")):
        cy.c.chain.transact(fn, account)


def test_apply_refused_without_notice_and_before_acknowledgement(cy: Cycle) -> None:
    c = cy.c
    att = cy.attest(E3.address, 10)
    with reverts("ComplianceNoNotice", enterprise=E3.address, pollutant=CO2, year=YEAR):
        c.compliance.apply(E3, CO2, YEAR, surrender(att, {CO2_2024: 10}))
    att0 = cy.attest(E0.address, 10)
    with reverts("ComplianceNotAcknowledged", enterprise=E0.address, pollutant=CO2, year=YEAR):
        c.compliance.apply(E0, CO2, YEAR, surrender(att0, {CO2_2024: 10}))


def test_apply_after_deadline_refused_with_deadline_and_time(cy: Cycle) -> None:
    c = cy.c
    c.compliance.acknowledge(E0, CO2, YEAR)
    att = cy.attest(E0.address, 500, 100)
    cy.to_deadline_passed()
    fn = c.compliance.contract.functions.submitApplication(
        CO2, YEAR, surrender(att, {CO2_2024: 10}).as_tuple()
    )
    with reverts("ComplianceDeadlinePassed", enterprise=E0.address, pollutant=CO2, year=YEAR,
                 deadline=cy.submission_deadline) as info:  # fmt: skip
        c.chain.transact(fn, E0)
    assert info.value.args_["now"] > cy.submission_deadline


def test_apply_at_the_deadline_second_is_accepted(cy: Cycle) -> None:
    c = cy.c
    c.compliance.acknowledge(E0, CO2, YEAR)
    att = cy.attest(E0.address, 500, 100)
    c.chain.transact(c.allowance.contract.functions.setApprovalForAll(c.compliance.address, True), E0)
    c.chain.w3.provider.make_request("evm_setNextBlockTimestamp", [cy.submission_deadline])  # type: ignore[arg-type]
    fn = c.compliance.contract.functions.submitApplication(
        CO2, YEAR, surrender(att, {CO2_2024: 10}).as_tuple()
    )
    tx = c.chain.build(fn, E0.address, gas=2_000_000)
    c.chain.wait(c.chain.send_raw(c.chain.sign(tx, E0)))
    assert c.compliance.application_count() == 1


def test_apply_refuses_offsets_over_cap(cy: Cycle) -> None:
    # cap = min(floor(505 × 10%), eligible 100) = 50
    c = cy.c
    c.compliance.acknowledge(E0, CO2, YEAR)
    att = cy.attest(E0.address, 505, 100)
    with reverts("ComplianceOffsetsOverCap", requested=51, cap=50):
        c.compliance.apply(E0, CO2, YEAR, surrender(att, {CO2_2024: 100}, {OFF_2024: 51}))
    att = cy.attest(E0.address, 505, 20)  # the auditor's eligible offsets bound the cap too
    with reverts("ComplianceOffsetsOverCap", requested=21, cap=20):
        c.compliance.apply(E0, CO2, YEAR, surrender(att, {}, {OFF_2024: 21}))
    assert offset_cap(505, 100, CONFIG.offset_cap_bps) == 50
    assert c.compliance.contract.functions.offsetCap(E0.address, CO2, YEAR, 505, 100).call() == 50
    c.compliance.apply(E0, CO2, YEAR, surrender(att, {CO2_2024: 485}, {OFF_2024: 20}))


def test_apply_refuses_surplus_over_verified_emissions(cy: Cycle) -> None:
    c = cy.c
    c.compliance.acknowledge(E0, CO2, YEAR)
    att = cy.attest(E0.address, 100, 10)
    with reverts("ComplianceSurplus", offered=101, uncovered=100):
        c.compliance.apply(E0, CO2, YEAR, surrender(att, {CO2_2024: 91}, {OFF_2024: 10}))


def test_apply_refuses_inactive_unknown_and_foreign_attestations(cy: Cycle) -> None:
    c = cy.c
    c.compliance.acknowledge(E0, CO2, YEAR)
    att = cy.attest(E0.address, 100)
    c.ledger.revoke_attestation(c.auditor, att, 1, "error in the report")
    with reverts("ComplianceAttestationNotActive", id=att):
        c.compliance.apply(E0, CO2, YEAR, surrender(att, {CO2_2024: 10}))
    with reverts("ComplianceAttestationNotActive", id=b"\x42" * 32):
        c.compliance.apply(E0, CO2, YEAR, surrender(b"\x42" * 32, {CO2_2024: 10}))
    other = cy.attest(E1.address, 100)
    with reverts("ComplianceAttestationMismatch", id=other, enterprise=E1.address, pollutant=CO2, year=YEAR):
        c.compliance.apply(E0, CO2, YEAR, surrender(other, {CO2_2024: 10}))
    other_year = cy.attest(E0.address, 100, year=2023)
    with reverts("ComplianceAttestationMismatch", id=other_year, enterprise=E0.address, year=2023):
        c.compliance.apply(E0, CO2, YEAR, surrender(other_year, {CO2_2024: 10}))
    so2 = cy.attest(E0.address, 100, pollutant=2)
    with reverts("ComplianceAttestationMismatch", id=so2, pollutant=2):
        c.compliance.apply(E0, CO2, YEAR, surrender(so2, {CO2_2024: 10}))


def test_apply_refuses_future_vintages_wrong_tokens_zero_and_empty(cy: Cycle) -> None:
    c = cy.c
    c.compliance.acknowledge(E0, CO2, YEAR)
    att = cy.attest(E0.address, 500, 100)
    with reverts("ComplianceVintageAfterYear", id=CO2_2025, vintage=2025, year=YEAR):
        c.compliance.apply(E0, CO2, YEAR, surrender(att, {CO2_2023: 5, CO2_2025: 5}))
    with reverts("ComplianceWrongToken", id=SO2_2024, kind=1, pollutant=CO2):
        c.compliance.apply(E0, CO2, YEAR, surrender(att, {SO2_2024: 5}))
    with reverts("ComplianceWrongToken", id=OFF_2024, kind=1):
        c.compliance.apply(E0, CO2, YEAR, surrender(att, {OFF_2024: 5}))
    with reverts("ComplianceWrongToken", id=CO2_2024, kind=2):
        c.compliance.apply(E0, CO2, YEAR, surrender(att, {}, {CO2_2024: 5}))
    fn = c.compliance.contract.functions.submitApplication
    with reverts("ComplianceZeroAmount", index=1):
        c.chain.transact(fn(CO2, YEAR, (att, [CO2_2024], [5], [OFF_2024], [0])), E0)
    with reverts("ComplianceLengthMismatch", left=1, right=2):
        c.chain.transact(fn(CO2, YEAR, (att, [CO2_2024], [5, 6], [], [])), E0)
    with reverts("ComplianceEmptyApplication"):
        c.chain.transact(fn(CO2, YEAR, (att, [], [], [], [])), E0)
    c.compliance.apply(E0, CO2, YEAR, surrender(att, {CO2_2023: 200, CO2_2024: 250}))  # banking is fine


def test_apply_refuses_tokens_not_held_frozen_or_not_approved(cy: Cycle) -> None:
    c = cy.c
    c.compliance.acknowledge(E0, CO2, YEAR)
    att = cy.attest(E0.address, 5000, 100)
    with reverts("ERC1155InsufficientBalance", sender=E0.address, balance=200, needed=201, tokenId=CO2_2023):
        c.compliance.apply(E0, CO2, YEAR, surrender(att, {CO2_2023: 201}))
    fn = c.compliance.contract.functions.submitApplication(
        CO2, YEAR, surrender(att, {CO2_2024: 5}).as_tuple()
    )
    c.chain.transact(c.allowance.contract.functions.setApprovalForAll(c.compliance.address, False), E0)
    with reverts("ERC1155MissingApprovalForAll", operator=c.compliance.address, owner=E0.address):
        c.chain.transact(fn, E0)
    c.allowance.freeze(c.regulator, E0.address, CO2_2024, 7)
    with reverts("AllowanceFrozen", holder=E0.address, id=CO2_2024, reasonCode=7):
        c.compliance.apply(E0, CO2, YEAR, surrender(att, {CO2_2024: 5}))
    assert c.compliance.application_count() == 0


def test_apply_refused_while_an_application_is_under_review(cy: Cycle) -> None:
    first = applied(cy, allowances={CO2_2024: 10}, offsets={})
    with reverts("ComplianceApplicationPending", applicationId=first):
        applied(cy, allowances={CO2_2024: 10}, offsets={})


def test_tokens_sent_directly_to_the_manager_are_refused(cy: Cycle) -> None:
    with reverts("ComplianceUnsolicitedTransfer", operator=E0.address):
        cy.c.allowance.transfer(E0, cy.c.compliance.address, CO2_2024, 1)


# ---------------------------------------------------------------------- review


def test_approve_retires_escrow_and_fulfils_the_obligation_as_outcome_a(cy: Cycle) -> None:
    c = cy.c
    app_id = applied(cy, allowances={CO2_2024: 400, CO2_2023: 50}, offsets={OFF_2024: 50})
    receipt = c.compliance.approve(c.regulator, app_id)
    retired = c.allowance.contract.events.AllowancesRetired().process_receipt(receipt, errors=DISCARD)
    assert [(e["args"]["id"], e["args"]["amount"], e["args"]["complianceYear"]) for e in retired] == [
        (CO2_2024, 400, YEAR), (CO2_2023, 50, YEAR), (OFF_2024, 50, YEAR)]  # fmt: skip
    assert c.allowance.contract.functions.retiredOf(E0.address, CO2_2023, YEAR).call() == 50
    assert c.allowance.balance(c.compliance.address, CO2_2024) == c.compliance.escrowed(CO2_2024) == 0
    n = c.compliance.notice(E0.address, CO2, YEAR)
    assert (n.status, n.outcome, n.verified, n.surrendered, n.offsets_surrendered, n.shortfall, n.fine) == (
        ObligationStatus.FULFILLED, Outcome.COVERED, 500, 500, 50, 0, 0)  # fmt: skip
    assert c.compliance.application(app_id).status is ApplicationStatus.APPROVED
    stats = c.compliance.year_stats(YEAR)
    assert (stats.fulfilled, stats.covered, stats.finalized) == (1, 1, 1)
    assert c.compliance.compliance_rate_bps(YEAR) == 3333
    with reverts("ComplianceAlreadyApproved", applicationId=app_id):
        c.compliance.approve(c.regulator, app_id)
    with reverts("ComplianceAlreadyFulfilled", enterprise=E0.address, pollutant=CO2, year=YEAR):
        applied(cy, allowances={CO2_2024: 1}, offsets={})
    cy.to_deadline_passed()
    with reverts("ComplianceAlreadyFinalized", enterprise=E0.address, pollutant=CO2, year=YEAR):
        c.compliance.finalize(c.outsider, E0.address, CO2, YEAR)


@pytest.mark.parametrize("who", non("regulator"))
def test_approve_and_reject_refused_for_non_regulators(cy: Cycle, who: str) -> None:
    app_id = applied(cy)
    account = roles(cy.c)[who]
    with reverts("UnauthorizedRole", account=account.address, role=role_id("REGULATOR")):
        cy.c.compliance.approve(account, app_id)
    with reverts("UnauthorizedRole", account=account.address, role=role_id("REGULATOR")):
        cy.c.compliance.reject(account, app_id, 1, "no")


def test_approve_refuses_unknown_applications_and_revoked_attestations(cy: Cycle) -> None:
    c = cy.c
    with reverts("ComplianceUnknownApplication", applicationId=9):
        c.compliance.approve(c.regulator, 9)
    app_id = applied(cy)
    att = c.ledger.latest_attestation(E0.address, CO2, YEAR)
    assert att is not None
    c.ledger.reject_attestation(c.regulator, att, 3, "meter data disputed")
    with reverts("ComplianceAttestationNotActive", id=att):
        c.compliance.approve(c.regulator, app_id)
    c.compliance.reject(c.regulator, app_id, 3, "attestation rejected")


def test_reject_returns_escrow_and_the_enterprise_resubmits_under_a_new_id(cy: Cycle) -> None:
    c = cy.c
    before = c.allowance.balance(E0.address, CO2_2024)
    app_id = applied(cy)
    receipt = c.compliance.reject(c.regulator, app_id, 12, "wrong attestation cited")
    event = c.compliance.contract.events.ApplicationRejected().process_receipt(receipt, errors=DISCARD)[0][
        "args"
    ]
    assert (event["applicationId"], event["reasonCode"], event["reason"]) == (
        app_id,
        12,
        "wrong attestation cited",
    )
    # the escrow is credited back (pull), then withdrawn by the enterprise
    assert c.compliance.returned(E0.address, CO2_2024) == 450
    assert c.compliance.escrowed(CO2_2024) == 0
    c.compliance.withdraw_returned(E0, [CO2_2024, OFF_2024])
    assert c.allowance.balance(E0.address, CO2_2024) == before
    assert c.allowance.balance(c.compliance.address, CO2_2024) == 0
    app = c.compliance.application(app_id)
    assert (app.status, app.reason_code) == (ApplicationStatus.REJECTED, 12)
    with reverts("ComplianceNotUnderReview", applicationId=app_id, status=3):
        c.compliance.approve(c.regulator, app_id)
    with reverts("ComplianceNotUnderReview", applicationId=app_id, status=3):
        c.compliance.reject(c.regulator, app_id, 1, "again")
    second = applied(cy)
    assert second == app_id + 1
    c.compliance.approve(c.regulator, second)
    assert c.compliance.notice(E0.address, CO2, YEAR).status is ObligationStatus.FULFILLED


def test_reject_needs_a_reason_code(cy: Cycle) -> None:
    app_id = applied(cy)
    with reverts("ComplianceInvalidReason", reasonCode=0):
        cy.c.compliance.reject(cy.c.regulator, app_id, 0, "")


def test_partial_approval_leaves_the_obligation_open_for_a_top_up(cy: Cycle) -> None:
    c = cy.c
    first = applied(cy, verified=500, eligible=100, allowances={CO2_2024: 100}, offsets={OFF_2024: 30})
    c.compliance.approve(c.regulator, first)
    n = c.compliance.notice(E0.address, CO2, YEAR)
    assert (n.status, n.outcome, n.surrendered, n.offsets_surrendered) == (
        ObligationStatus.OPEN,
        Outcome.NONE,
        130,
        30,
    )
    with reverts("ComplianceOffsetsOverCap", requested=21, cap=20):  # the cap counts offsets already retired
        applied(cy, allowances={}, offsets={OFF_2024: 21})
    with reverts("ComplianceSurplus", offered=371, uncovered=370):
        applied(cy, allowances={CO2_2024: 351}, offsets={OFF_2024: 20})
    second = applied(cy, allowances={CO2_2024: 350}, offsets={OFF_2024: 20})
    c.compliance.approve(c.regulator, second)
    n = c.compliance.notice(E0.address, CO2, YEAR)
    assert (n.status, n.outcome, n.surrendered) == (ObligationStatus.FULFILLED, Outcome.COVERED, 500)


# ---------------------------------------------------------------------- finalization


def test_finalize_refused_before_deadline_while_pending_and_without_notice(cy: Cycle) -> None:
    c = cy.c
    app_id = applied(cy)
    with reverts(
        "ComplianceDeadlineNotPassed", enterprise=E1.address, year=YEAR, deadline=cy.submission_deadline
    ):
        c.compliance.finalize(c.outsider, E1.address, CO2, YEAR)
    cy.to_deadline_passed()
    with reverts("ComplianceApplicationPending", applicationId=app_id):
        c.compliance.finalize(c.outsider, E0.address, CO2, YEAR)
    with reverts("ComplianceNoNotice", enterprise=E3.address, pollutant=CO2, year=YEAR):
        c.compliance.finalize(c.outsider, E3.address, CO2, YEAR)
    c.compliance.approve(c.regulator, app_id)  # review after the deadline is allowed


def test_finalize_outcome_b_records_exact_shortfall_fine_and_make_good(cy: Cycle) -> None:
    c = cy.c
    app_id = applied(cy, verified=507, eligible=100, allowances={CO2_2024: 450}, offsets={OFF_2024: 50})
    c.compliance.approve(c.regulator, app_id)
    cy.attest(E1.address, 300, 0)  # E1 attested, never applied
    cy.to_deadline_passed()
    receipt = c.compliance.finalize(c.outsider, E0.address, CO2, YEAR)  # anyone may finalize
    c.compliance.finalize(c.regulator, E1.address, CO2, YEAR)
    n0, n1 = c.compliance.notice(E0.address, CO2, YEAR), c.compliance.notice(E1.address, CO2, YEAR)
    # E0: 507 − 500 = 7 short; fine 7 × 5,000; make-good floor(7 × 1.2) = 8
    assert (n0.status, n0.outcome, n0.verified, n0.surrendered, n0.shortfall, n0.fine, n0.make_good) == (
        ObligationStatus.NON_COMPLIANT, Outcome.SHORTFALL, 507, 500, 7, 35_000, 8)  # fmt: skip
    assert penalty(CONFIG, Outcome.SHORTFALL, 7) == (35_000, 8)
    # E1: nothing surrendered, 300 short
    assert (n1.outcome, n1.verified, n1.surrendered, n1.shortfall, n1.fine, n1.make_good) == (
        Outcome.SHORTFALL, 300, 0, 300, 1_500_000, 360)  # fmt: skip
    assert c.compliance.make_good_owed(E0.address, CO2, YEAR + 1) == 8
    assert c.compliance.make_good_owed(E0.address, CO2 + 1, YEAR + 1) == 0  # owed in the notice's pollutant
    made = c.compliance.contract.events.MakeGoodRecorded().process_receipt(receipt, errors=DISCARD)[0]["args"]
    assert (made["enterprise"], made["pollutant"], made["deductFromYear"], made["complianceYear"],
            made["units"]) == (E0.address, CO2, YEAR + 1, YEAR, 8)  # fmt: skip
    with reverts("ComplianceAlreadyFinalized", enterprise=E0.address, pollutant=CO2, year=YEAR):
        c.compliance.finalize(c.outsider, E0.address, CO2, YEAR)


def test_finalize_outcome_c_when_no_attestation_by_the_deadline(cy: Cycle) -> None:
    c = cy.c
    cy.to_deadline_passed()
    cy.attest(E1.address, 300)  # too late: attested after the deadline
    for e in (E1, E2):
        c.compliance.finalize(c.outsider, e.address, CO2, YEAR)
        n = c.compliance.notice(e.address, CO2, YEAR)
        assert (n.status, n.outcome, n.shortfall, n.fine, n.make_good) == (
            ObligationStatus.NON_COMPLIANT, Outcome.NO_VERIFIED_EMISSIONS, 0, CONFIG.no_report_fine, 0
        )  # fmt: skip
    assert c.compliance.make_good_owed(E2.address, CO2, YEAR + 1) == 0


def test_finalize_outcome_a_for_zero_verified_emissions_and_the_year_counts(cy: Cycle) -> None:
    c = cy.c
    cy.attest(E0.address, 0)
    cy.attest(E1.address, 50)
    app_id = applied(cy, who=E1, allowances={CO2_2024: 50}, offsets={})
    c.compliance.approve(c.regulator, app_id)  # E1: A at approval
    cy.to_deadline_passed()
    c.compliance.finalize(c.outsider, E0.address, CO2, YEAR)  # E0: A, nothing owed
    c.compliance.finalize(c.outsider, E2.address, CO2, YEAR)  # E2: C
    n0 = c.compliance.notice(E0.address, CO2, YEAR)
    assert (n0.status, n0.outcome, n0.fine) == (ObligationStatus.FULFILLED, Outcome.COVERED, 0)
    s = c.compliance.year_stats(YEAR)
    assert (s.notices, s.applications, s.fulfilled, s.finalized, s.covered, s.shortfall,
            s.no_verified_emissions) == (3, 1, 1, 3, 2, 0, 1)  # fmt: skip
    assert c.compliance.compliance_rate_bps(YEAR) == 6666
    assert s.compliance_rate == pytest.approx(2 / 3)


# ---------------------------------------------------------------------- penalty


def test_pay_penalty_moves_the_fine_to_the_treasury_once(cy: Cycle) -> None:
    c = cy.c
    cy.to_deadline_passed()
    with reverts("CompliancePenaltyNotDue", enterprise=E2.address, pollutant=CO2, year=YEAR):
        c.compliance.pay_penalty(E2, CO2, YEAR)  # not finalized yet
    c.compliance.finalize(c.outsider, E2.address, CO2, YEAR)
    treasury, enterprise = c.cash.balance(c.treasury.address), c.cash.balance(E2.address)
    receipt = c.compliance.pay_penalty(E2, CO2, YEAR)
    paid = c.compliance.contract.events.PenaltyPaid().process_receipt(receipt, errors=DISCARD)[0]["args"]
    assert (paid["enterprise"], paid["treasury"], paid["amount"]) == (E2.address, c.treasury.address, 777_000)
    assert c.cash.balance(c.treasury.address) == treasury + 777_000
    assert c.cash.balance(E2.address) == enterprise - 777_000
    assert c.compliance.notice(E2.address, CO2, YEAR).fine_paid
    with reverts("CompliancePenaltyNotDue", enterprise=E2.address, pollutant=CO2, year=YEAR):
        c.compliance.pay_penalty(E2, CO2, YEAR)
    for who in non("enterprise"):
        account = roles(c)[who]
        with reverts("UnauthorizedRole", account=account.address, role=role_id("ENTERPRISE")):
            c.chain.transact(c.compliance.contract.functions.payPenalty(CO2, YEAR), account)


def test_pay_penalty_refuses_without_cash_allowance(cy: Cycle) -> None:
    c = cy.c
    cy.to_deadline_passed()
    c.compliance.finalize(c.outsider, E2.address, CO2, YEAR)
    with reverts("ERC20InsufficientAllowance", spender=c.compliance.address, allowance=0, needed=777_000):
        c.chain.transact(c.compliance.contract.functions.payPenalty(CO2, YEAR), E2)


@pytest.mark.parametrize("field", ["allowances", "ledger", "cash"])
def test_constructor_refuses_zero_addresses_naming_the_field(cy: Cycle, field: str) -> None:
    c = cy.c
    parts = {"allowances": c.allowance.address, "ledger": c.ledger.address, "cash": c.cash.address}
    parts[field] = "0x" + "00" * 20
    with reverts("ComplianceZeroAddress", field=field):
        c.chain.deploy("ComplianceManager", [c.registry.address, *parts.values()], c.regulator)


def test_set_treasury_through_governance_only_and_never_zero(cy: Cycle) -> None:
    c = cy.c
    fn = c.compliance.contract.functions.setTreasury(c.regulator.address)
    with reverts("OnlyGovernance", caller=c.regulator.address):
        c.chain.transact(fn, c.regulator)
    c.registry.govern_call(c.members, fn, "treasury")
    assert c.compliance.treasury() == c.regulator.address
    zero = c.compliance.contract.functions.setTreasury("0x" + "00" * 20)
    with reverts("RegistryGatedZeroAddress", field="treasury"):
        c.registry.govern_call(c.members, zero, "zero treasury")


def test_pay_penalty_refused_when_treasury_unset(cy: Cycle) -> None:
    c = cy.c
    args = [c.registry.address, c.allowance.address, c.ledger.address, c.cash.address]
    address, _ = c.chain.deploy("ComplianceManager", args, c.regulator)
    bare = ComplianceClient(c.chain, address, c.allowance, c.cash)  # not wired: no treasury
    bare.configure_year(c.regulator, YEAR, CONFIG)
    now = c.chain.timestamp()
    bare.issue_notices(c.regulator, YEAR, CO2, [(E3.address, 1)], rules_hash=RULES, rules_uri=RULES_URI,
                       submission_deadline=now + 100, ack_deadline=now + 100)  # fmt: skip
    c.chain.advance_time(200)
    bare.finalize(c.outsider, E3.address, CO2, YEAR)
    c.cash.approve(E3, address, CONFIG.no_report_fine)
    with reverts("ComplianceTreasuryNotSet"):
        c.chain.transact(bare.contract.functions.payPenalty(CO2, YEAR), E3)


# ---------------------------------------------------------------------- make-good


def _owing(cy: Cycle) -> None:
    """E0 finalized with a shortfall of 7 (make-good 8), E1 of 300 (make-good 360)."""
    c = cy.c
    c.compliance.approve(c.regulator, applied(cy, verified=507, allowances={CO2_2024: 500}, offsets={}))
    cy.attest(E1.address, 300, 0)
    cy.to_deadline_passed()
    c.compliance.finalize(c.outsider, E0.address, CO2, YEAR)
    c.compliance.finalize(c.outsider, E1.address, CO2, YEAR)


def test_allocation_withholds_make_good_owed_and_retires_it_against_the_shortfall_year(cy: Cycle) -> None:
    c = cy.c
    _owing(cy)
    held = {e.address: c.allowance.balance(e.address, CO2_2025) for e in (E0, E1, E2)}
    issued, retired = c.allowance.issued(CO2_2025), c.allowance.retired(CO2_2025)
    receipt = c.allowance.allocate(c.regulator, CO2_2025, [E0.address, E1.address, E2.address],
                                   [100, 100, 100], b"\xa1" * 32)  # fmt: skip
    assert c.allowance.balance(E0.address, CO2_2025) == held[E0.address] + 92
    assert c.allowance.balance(E1.address, CO2_2025) == held[E1.address]  # all 100 withheld
    assert c.allowance.balance(E2.address, CO2_2025) == held[E2.address] + 100
    assert c.allowance.issued(CO2_2025) == issued + 300  # the cap is spent on withheld units too
    assert c.allowance.retired(CO2_2025) == retired + 108
    assert c.allowance.retired_of(E0.address, CO2_2025, YEAR) == 8
    assert c.allowance.retired_of(E1.address, CO2_2025, YEAR) == 100
    assert c.compliance.make_good_owed(E0.address, CO2, YEAR + 1) == 0
    assert c.compliance.make_good_owed(E1.address, CO2, YEAR + 1) == 260
    deducted = c.compliance.contract.events.MakeGoodDeducted().process_receipt(receipt, errors=DISCARD)
    assert [(d["args"]["enterprise"], d["args"]["pollutant"], d["args"]["year"], d["args"]["units"],
             d["args"]["remaining"]) for d in deducted] == [
        (E0.address, CO2, YEAR + 1, 8, 0), (E1.address, CO2, YEAR + 1, 100, 260)]  # fmt: skip
    burnt = c.allowance.contract.events.AllowancesRetired().process_receipt(receipt, errors=DISCARD)
    assert [(r["args"]["account"], r["args"]["complianceYear"], r["args"]["amount"]) for r in burnt] == [
        (E0.address, YEAR, 8), (E1.address, YEAR, 100)]  # fmt: skip
    c.allowance.allocate(c.regulator, CO2_2025, [E1.address], [300], b"\xa2" * 32)  # the rest of the debt
    assert c.allowance.balance(E1.address, CO2_2025) == held[E1.address] + 40
    assert c.compliance.make_good_owed(E1.address, CO2, YEAR + 1) == 0


def test_allocation_deducts_make_good_only_from_that_pollutants_later_vintage_allowances(cy: Cycle) -> None:
    c = cy.c
    _owing(cy)
    off_2025 = OFF_2024 + 1
    so2_2025 = SO2_2024 + 1
    # offsets, another pollutant, and allowances of the shortfall's own vintage owe nothing
    for n, token_id in enumerate((off_2025, so2_2025, CO2_2024)):
        c.allowance.set_cap(c.regulator, token_id, 10**9)
        before = c.allowance.balance(E0.address, token_id)
        retired = c.allowance.retired(token_id)
        c.allowance.allocate(c.regulator, token_id, [E0.address], [50], bytes([0xA3, n]) * 16)
        assert c.allowance.balance(E0.address, token_id) == before + 50
        assert c.allowance.retired(token_id) == retired
    assert c.compliance.make_good_owed(E0.address, CO2, YEAR + 1) == 8
    assert c.compliance.make_good_due(E0.address, CO2, YEAR) == 0
    assert c.compliance.make_good_due(E0.address, CO2, YEAR + 1) == 8
    assert c.compliance.make_good_due(E0.address, CO2, YEAR + 2) == 8


def test_make_good_is_withheld_from_a_later_vintage_when_next_years_was_allocated_before_finalize(
    cy: Cycle,
) -> None:
    """The usual calendar: vintage N+1 (2025) was allocated at set-up, before year N's deadline;
    the debt is not lost but withheld from the next allocation, here of vintage N+2 (2026)."""
    c = cy.c
    assert c.allowance.issued(CO2_2025) > 0  # allocated before the shortfall was known
    _owing(cy)
    co2_2026 = CO2_2025 + 1
    c.allowance.set_cap(c.regulator, co2_2026, 10**6)
    receipt = c.allowance.allocate(c.regulator, co2_2026, [E0.address, E1.address, E2.address],
                                   [100, 100, 100], b"\xa5" * 32)  # fmt: skip
    assert c.allowance.balance(E0.address, co2_2026) == 92
    assert c.allowance.balance(E1.address, co2_2026) == 0
    assert c.allowance.balance(E2.address, co2_2026) == 100
    assert c.allowance.retired(co2_2026) == 108
    assert c.compliance.make_good_owed(E0.address, CO2, YEAR + 1) == 0
    assert c.compliance.make_good_owed(E1.address, CO2, YEAR + 1) == 260
    deducted = c.compliance.contract.events.MakeGoodDeducted().process_receipt(receipt, errors=DISCARD)
    assert [(d["args"]["enterprise"], d["args"]["year"], d["args"]["complianceYear"], d["args"]["units"],
             d["args"]["remaining"]) for d in deducted] == [
        (E0.address, YEAR + 2, YEAR, 8, 0), (E1.address, YEAR + 2, YEAR, 100, 260)]  # fmt: skip
    # the rest of E1's debt from the next allocation of any later vintage
    co2_2027 = co2_2026 + 1
    c.allowance.set_cap(c.regulator, co2_2027, 10**6)
    c.allowance.allocate(c.regulator, co2_2027, [E1.address], [1000], b"\xa6" * 32)
    assert c.allowance.balance(E1.address, co2_2027) == 740
    assert c.compliance.make_good_due(E1.address, CO2, YEAR + 3) == 0


def test_deduct_make_good_refused_for_everyone_but_the_allowance_token(cy: Cycle) -> None:
    c = cy.c
    _owing(cy)
    for account in roles(c).values():
        fn = c.compliance.contract.functions.deductMakeGood(CO2, YEAR + 1, [E0.address], [100])
        with reverts("ComplianceOnlyAllowanceToken", caller=account.address):
            c.chain.transact(fn, account)
    assert c.compliance.make_good_owed(E0.address, CO2, YEAR + 1) == 8


@given(owed_short=st.integers(0, 40), amounts=st.lists(st.integers(1, 30), min_size=1, max_size=4))
@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_make_good_allocations_conserve_every_allocated_unit(
    cy: Cycle, owed_short: int, amounts: list[int]
) -> None:
    """Over successive allocations: minted + withheld = allocated, withheld = the debt paid."""
    c = cy.c
    snapshot = c.snapshot()
    try:
        c.compliance.approve(c.regulator, applied(cy, verified=457 + owed_short,
                                                  allowances={CO2_2024: 457}, offsets={}))  # fmt: skip
        cy.to_deadline_passed()
        if owed_short:  # else the approval covered it: outcome A already
            c.compliance.finalize(c.outsider, E0.address, CO2, YEAR)
        owed = c.compliance.make_good_owed(E0.address, CO2, YEAR + 1)
        assert owed == owed_short * CONFIG.make_good_bps // 10_000
        start = c.allowance.balance(E0.address, CO2_2025)
        for n, amount in enumerate(amounts):
            c.allowance.allocate(c.regulator, CO2_2025, [E0.address], [amount], bytes([0xA4, n]) * 16)
        allocated = sum(amounts)
        minted = c.allowance.balance(E0.address, CO2_2025) - start
        withheld = c.allowance.retired_of(E0.address, CO2_2025, YEAR)
        assert minted + withheld == allocated
        assert withheld == min(owed, allocated)
        assert c.compliance.make_good_owed(E0.address, CO2, YEAR + 1) == owed - withheld
    finally:
        c.revert(snapshot)


# ---------------------------------------------------------------------- conservation (hypothesis)

op_st = st.lists(
    st.tuples(
        st.sampled_from(["apply", "reject", "approve", "withdraw"]),
        st.integers(0, 2),  # enterprise
        st.integers(1, 250),  # allowances of CO2 2024
        st.integers(0, 60),  # allowances of CO2 2023
        st.integers(0, 30),  # offsets
    ),
    min_size=1,
    max_size=8,
)


@given(ops=op_st)
@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_random_review_sequences_never_lose_or_double_tokens(
    cy: Cycle, ops: list[tuple[str, int, int, int, int]]
) -> None:
    c = cy.c
    snapshot = c.snapshot()
    try:
        _run_sequence(cy, ops)
    finally:
        c.revert(snapshot)


def _run_sequence(cy: Cycle, ops: list[tuple[str, int, int, int, int]]) -> None:
    c = cy.c
    accounts = [e.address for e in ENTERPRISES[:3]]
    start = holdings(c, accounts)
    verified = {e.address: 400 + 50 * i for i, e in enumerate(ENTERPRISES[:3])}
    pending: dict[str, int] = {}
    credited: dict[tuple[str, int], int] = {}  # rejected escrow not yet withdrawn
    approved: dict[int, int] = dict.fromkeys(IDS, 0)
    surrendered = dict.fromkeys(accounts, 0)
    offsets_done = dict.fromkeys(accounts, 0)
    for op, who, a24, a23, off in ops:
        e = ENTERPRISES[who]
        if op == "apply" and e.address not in pending:
            if c.compliance.notice(e.address, CO2, YEAR).status is ObligationStatus.FULFILLED:
                continue
            allowances = {CO2_2024: a24} | ({CO2_2023: a23} if a23 else {})
            offsets = {OFF_2024: off} if off else {}
            total = a24 + a23 + off
            cap = offset_cap(verified[e.address], 100, CONFIG.offset_cap_bps, offsets_done[e.address])
            try:
                app_id = applied(
                    cy, who=e, verified=verified[e.address], allowances=allowances, offsets=offsets
                )
            except Exception as exc:  # refusals must be the rule's, and change nothing
                name = getattr(exc, "error", "")
                assert name in ("ComplianceSurplus", "ComplianceOffsetsOverCap"), exc
                assert total > verified[e.address] - surrendered[e.address] or off > cap
                continue
            pending[e.address] = app_id
        elif op == "reject" and e.address in pending:
            app_id = pending.pop(e.address)
            c.compliance.reject(c.regulator, app_id, 5, "resubmit")
            app = c.compliance.application(app_id)
            for token_id, amount in zip(app.ids, app.amounts, strict=True):
                credited[(e.address, token_id)] = credited.get((e.address, token_id), 0) + amount
        elif op == "withdraw" and any(who == e.address for who, _ in credited):
            ids = [token_id for who, token_id in credited if who == e.address]
            c.compliance.withdraw_returned(e, ids)
            for token_id in ids:
                del credited[(e.address, token_id)]
        elif op == "approve" and e.address in pending:
            app = c.compliance.application(pending.pop(e.address))
            c.compliance.approve(c.regulator, app.application_id)
            for token_id, amount in zip(app.ids, app.amounts, strict=True):
                approved[token_id] += amount
            surrendered[e.address] += app.offsets + app.allowances
            offsets_done[e.address] += app.offsets
        now = holdings(c, accounts)
        escrow = dict.fromkeys(IDS, 0)
        for app_id in pending.values():
            app = c.compliance.application(app_id)
            for token_id, amount in zip(app.ids, app.amounts, strict=True):
                escrow[token_id] += amount
        for token_id in IDS:
            held, in_manager, retired = now[token_id]
            assert held + in_manager + retired == start[token_id][0] + start[token_id][2]
            assert escrow[token_id] == c.compliance.escrowed(token_id)
            owed_back = sum(v for (_, t), v in credited.items() if t == token_id)
            assert owed_back == c.compliance.returned_total(token_id)
            assert in_manager == escrow[token_id] + owed_back
            assert retired - start[token_id][2] == approved[token_id]
    for (account, token_id), amount in credited.items():
        assert c.compliance.returned(account, token_id) == amount
    for account in accounts:
        n = c.compliance.notice(account, CO2, YEAR)
        assert n.surrendered == surrendered[account] <= verified[account]
        assert (n.status is ObligationStatus.FULFILLED) == (surrendered[account] == verified[account])


# ---------------------------------------------------------------------- the outcome is fixed at the deadline

AUDITOR_2 = dev_account(36)


def _second_auditor(cy: Cycle) -> LocalAccount:
    """A second auditor, assigned to E1."""
    c = cy.c
    c.registry.grant_roles(c.members, [("AUDITOR", AUDITOR_2.address)])
    c.registry.assign_auditor(c.regulator, AUDITOR_2.address, E1.address)
    return AUDITOR_2


def _finalized_b(cy: Cycle, verified: int) -> None:
    """E1 (nothing surrendered) finalizes as B on ``verified``: shortfall × fine + make-good."""
    c = cy.c
    c.compliance.finalize(c.outsider, E1.address, CO2, YEAR)
    n = c.compliance.notice(E1.address, CO2, YEAR)
    fine, make_good = penalty(CONFIG, Outcome.SHORTFALL, verified)
    assert (n.status, n.outcome, n.verified, n.surrendered) == (
        ObligationStatus.NON_COMPLIANT, Outcome.SHORTFALL, verified, 0)  # fmt: skip
    assert (n.shortfall, n.fine, n.make_good) == (verified, fine, make_good)
    assert c.compliance.make_good_owed(E1.address, CO2, YEAR + 1) == make_good
    assert (fine, make_good) == (verified * 5_000, verified * 12_000 // 10_000)


def test_finalize_outcome_b_unchanged_by_an_attestation_made_after_the_deadline(cy: Cycle) -> None:
    c = cy.c
    auditor_2 = _second_auditor(cy)
    on_time = cy.attest(E1.address, 300)
    cy.to_deadline_passed()
    late = cy.attest(E1.address, 0, auditor=auditor_2)  # would make it A (V = 0) or, before, C
    _finalized_b(cy, 300)
    assert c.ledger.latest_attestation(E1.address, CO2, YEAR) == late
    assert c.ledger.attestation_of_record(E1.address, CO2, YEAR, cy.submission_deadline) == on_time


def test_finalize_outcome_b_unchanged_by_a_later_revocation_of_another_auditors_attestation(
    cy: Cycle,
) -> None:
    c = cy.c
    auditor_2 = _second_auditor(cy)
    cy.attest(E1.address, 300)
    cy.to_deadline_passed()
    late = cy.attest(E1.address, 40, auditor=auditor_2)
    c.ledger.revoke_attestation(auditor_2, late, 1, "withdrawn")  # used to clear the latest: C
    _finalized_b(cy, 300)


def test_finalize_uses_the_attestation_active_at_the_deadline_even_if_revoked_after_it(cy: Cycle) -> None:
    c = cy.c
    auditor_2 = _second_auditor(cy)
    cy.attest(E1.address, 300)
    second = cy.attest(E1.address, 280, auditor=auditor_2)  # the latest by the deadline
    cy.to_deadline_passed()
    c.ledger.revoke_attestation(auditor_2, second, 1, "revoked after the deadline")
    _finalized_b(cy, 280)
    assert c.ledger.attestation(second).closed_at > cy.submission_deadline


def test_finalize_falls_back_when_the_regulator_rejects_the_attestation_of_record(cy: Cycle) -> None:
    c = cy.c
    auditor_2 = _second_auditor(cy)
    first = cy.attest(E1.address, 300)
    second = cy.attest(E1.address, 280, auditor=auditor_2)
    cy.to_deadline_passed()
    c.ledger.reject_attestation(c.regulator, second, 4, "understated")  # the regulator's word counts
    _finalized_b(cy, 300)
    assert c.ledger.attestation_of_record(E1.address, CO2, YEAR, cy.submission_deadline) == first


def test_finalize_outcome_b_unchanged_by_a_supersede_after_the_deadline(cy: Cycle) -> None:
    c = cy.c
    on_time = cy.attest(E1.address, 300)
    cy.to_deadline_passed()
    newer = cy.attest(E1.address, 10, supersedes=on_time)
    _finalized_b(cy, 300)
    assert c.ledger.attestation(on_time).status.name == "SUPERSEDED"
    assert c.ledger.latest_attestation(E1.address, CO2, YEAR) == newer


def test_finalize_falls_back_to_the_older_attestation_when_the_latest_was_revoked_by_the_deadline(
    cy: Cycle,
) -> None:
    c = cy.c
    auditor_2 = _second_auditor(cy)
    cy.attest(E1.address, 300)
    second = cy.attest(E1.address, 280, auditor=auditor_2)
    c.ledger.revoke_attestation(auditor_2, second, 1, "wrong meter")  # before the deadline
    cy.to_deadline_passed()
    _finalized_b(cy, 300)


def test_finalize_outcome_c_when_the_only_attestation_was_revoked_by_the_deadline(cy: Cycle) -> None:
    c = cy.c
    att = cy.attest(E1.address, 300)
    c.ledger.revoke_attestation(c.auditor, att, 1, "wrong meter")
    cy.to_deadline_passed()
    c.compliance.finalize(c.outsider, E1.address, CO2, YEAR)
    assert c.compliance.notice(E1.address, CO2, YEAR).outcome is Outcome.NO_VERIFIED_EMISSIONS


# ---------------------------------------------------------------------- rejection cannot be blocked


def test_reject_credits_escrow_of_a_suspended_enterprise_and_finalize_proceeds(cy: Cycle) -> None:
    c = cy.c
    app_id = applied(cy, allowances={CO2_2024: 300}, offsets={OFF_2024: 20})
    c.registry.govern(c.members, c.registry.encode_suspend(E0.address, 9), "suspend E0")
    receipt = c.compliance.reject(c.regulator, app_id, 2, "enterprise suspended")  # used to revert
    returned = c.compliance.contract.events.EscrowReturned().process_receipt(receipt, errors=DISCARD)[0][
        "args"
    ]
    assert (returned["applicationId"], returned["enterprise"]) == (app_id, E0.address)
    assert (list(returned["ids"]), list(returned["amounts"])) == ([CO2_2024, OFF_2024], [300, 20])
    assert c.compliance.returned(E0.address, CO2_2024) == 300
    assert c.compliance.returned_total(OFF_2024) == 20
    assert c.allowance.balance(c.compliance.address, CO2_2024) == 300
    with reverts("PartyNotAllowed", account=E0.address):  # the token's rule, until reinstated
        c.compliance.withdraw_returned(E0, [CO2_2024])
    cy.to_deadline_passed()
    c.compliance.finalize(c.outsider, E0.address, CO2, YEAR)
    assert c.compliance.notice(E0.address, CO2, YEAR).outcome is Outcome.SHORTFALL
    c.registry.govern(c.members, c.registry.encode_reinstate(E0.address), "reinstate E0")
    before = c.allowance.balance(E0.address, CO2_2024)
    receipt = c.compliance.withdraw_returned(E0, [CO2_2024, OFF_2024])
    out = c.compliance.contract.events.ReturnedWithdrawn().process_receipt(receipt, errors=DISCARD)[0]["args"]
    assert (out["enterprise"], list(out["ids"]), list(out["amounts"])) == (
        E0.address,
        [CO2_2024, OFF_2024],
        [300, 20],
    )
    assert c.allowance.balance(E0.address, CO2_2024) == before + 300
    assert c.allowance.balance(c.compliance.address, CO2_2024) == 0
    assert c.compliance.returned(E0.address, CO2_2024) == c.compliance.returned_total(CO2_2024) == 0


def test_withdraw_returned_refuses_nothing_credited_and_a_repeated_id(cy: Cycle) -> None:
    c = cy.c
    with reverts("ComplianceNothingReturned", enterprise=E0.address, id=CO2_2024):
        c.compliance.withdraw_returned(E0, [CO2_2024])
    app_id = applied(cy, allowances={CO2_2024: 10}, offsets={})
    c.compliance.reject(c.regulator, app_id, 2, "no")
    with reverts("ComplianceNothingReturned", enterprise=E1.address, id=CO2_2024):  # only one's own credit
        c.compliance.withdraw_returned(E1, [CO2_2024])
    fn = c.compliance.contract.functions.withdrawReturned([CO2_2024, CO2_2024])
    with reverts("ComplianceNothingReturned", enterprise=E0.address, id=CO2_2024):
        c.chain.transact(fn, E0)
    c.compliance.withdraw_returned(E0, [CO2_2024])
    with reverts("ComplianceNothingReturned", enterprise=E0.address, id=CO2_2024):
        c.compliance.withdraw_returned(E0, [CO2_2024])
    for ids in ([], [CO2_2024, CO2_2024]):  # the client refuses before sending
        with pytest.raises(InvalidInputError):
            c.compliance.withdraw_returned(E0, ids)


def test_reject_and_finalize_proceed_for_a_contract_enterprise_refusing_erc1155(cy: Cycle) -> None:
    c = cy.c
    owner = c.outsider
    address, _ = c.chain.deploy("RefusingReceiver", [], owner)
    account = c.chain.contract("RefusingReceiver", address)

    def act(fn: Any) -> None:
        c.chain.transact(
            account.functions.execute(fn.address, HexBytes(fn._encode_transaction_data())), owner
        )

    c.registry.govern(c.members, c.registry.encode_register_enterprise(address, profile(950)), "register")
    c.registry.assign_auditor(c.regulator, c.auditor.address, address)
    c.allowance.allocate(c.regulator, CO2_2024, [address], [100], b"\xa7" * 32)
    c.compliance.issue_notices(
        c.regulator, YEAR, CO2, [(address, 100)], rules_hash=RULES, rules_uri=RULES_URI,
        submission_deadline=cy.submission_deadline, ack_deadline=cy.ack_deadline,
    )  # fmt: skip
    att = cy.attest(address, 80)
    act(c.compliance.contract.functions.acknowledge(CO2, YEAR))
    act(c.allowance.contract.functions.setApprovalForAll(c.compliance.address, True))
    act(
        c.compliance.contract.functions.submitApplication(
            CO2, YEAR, surrender(att, {CO2_2024: 60}).as_tuple()
        )
    )
    app_id = c.compliance.application_count()
    c.chain.transact(account.functions.setRefusing(True), owner)
    c.compliance.reject(c.regulator, app_id, 3, "wrong vintage")  # used to revert: ERC1155InvalidReceiver
    assert c.compliance.application(app_id).status is ApplicationStatus.REJECTED
    assert c.compliance.returned(address, CO2_2024) == 60
    cy.to_deadline_passed()
    c.compliance.finalize(c.outsider, address, CO2, YEAR)
    n = c.compliance.notice(address, CO2, YEAR)
    assert (n.outcome, n.verified, n.shortfall) == (Outcome.SHORTFALL, 80, 80)
    with reverts("ERC1155InvalidReceiver", receiver=address):  # its own choice, its own credit only
        act(c.compliance.contract.functions.withdrawReturned([CO2_2024]))
    c.chain.transact(account.functions.setRefusing(False), owner)
    act(c.compliance.contract.functions.withdrawReturned([CO2_2024]))
    assert c.allowance.balance(address, CO2_2024) == 100


# ---------------------------------------------------------------------- a suspended holder has no powers


def _suspend(c: Consortium, account: LocalAccount) -> None:
    c.registry.govern(c.members, c.registry.encode_suspend(account.address, 5), f"suspend {account.address}")


def _ready(cy: Cycle, call: str) -> tuple[LocalAccount, Any]:
    """State in which ``call`` would succeed; returns its sender and the bound contract function."""
    c = cy.c
    ledger, cm = c.ledger.contract.functions, c.compliance.contract.functions
    if call == "configureYear":
        return c.regulator, cm.configureYear(2026, CONFIG.as_tuple())
    if call == "issueNotices":
        now = c.chain.timestamp()
        batch = (YEAR, CO2, RULES, RULES_URI, now + DAY, now + DAY, [E3.address], [10])
        return c.regulator, cm.issueNotices(batch)
    if call == "acknowledge":
        return E0, cm.acknowledge(CO2, YEAR)
    if call in ("submitApplication", "approve", "reject"):
        c.compliance.acknowledge(E0, CO2, YEAR)
        att = cy.attest(E0.address, 100)
        c.chain.transact(c.allowance.contract.functions.setApprovalForAll(c.compliance.address, True), E0)
        if call == "submitApplication":
            return E0, cm.submitApplication(CO2, YEAR, surrender(att, {CO2_2024: 10}).as_tuple())
        app_id = c.compliance.apply(E0, CO2, YEAR, surrender(att, {CO2_2024: 10}))
        return c.regulator, cm.approve(app_id) if call == "approve" else cm.reject(app_id, 1, "no")
    if call == "payPenalty":
        cy.to_deadline_passed()
        c.compliance.finalize(c.outsider, E2.address, CO2, YEAR)
        c.cash.approve(E2, c.compliance.address, CONFIG.no_report_fine)
        return E2, cm.payPenalty(CO2, YEAR)
    if call == "anchorBatch":
        device = signer(733, domain=ReadingDomain(c.chain.chain_id, c.ledger.address))
        c.registry.bind_device(
            c.regulator, device.address, E0.address, "SUSPENDTEST01", oracle=c.oracle.address
        )
        queue = Queue()
        queue.append([device.sign_frame(frame_fields(BASE_TIME, 4, 0))])
        [batch] = queue.cut_batches(4, 0)
        return c.oracle, ledger.anchorBatch(batch_anchor_of(batch).as_tuple())
    if call in ("attest", "attestBySig"):
        a = attestation(c.auditor.address, E0.address, nonce=c.ledger.nonce(c.auditor.address))
        if call == "attest":
            return c.auditor, ledger.attest(a.as_tuple())
        return c.auditor, ledger.attestBySig(a.as_tuple(), sign_with(c.auditor, c.ledger, a))
    if call in ("revokeAttestation", "rejectAttestation"):
        att = cy.attest(E0.address, 100)
        if call == "revokeAttestation":
            return c.auditor, ledger.revokeAttestation(att, 1, "no")
        return c.regulator, ledger.rejectAttestation(att, 1, "no")
    raise AssertionError(call)


#: Every function of ComplianceManager and EmissionsLedger gated by a participant role.
PRIVILEGED = [
    "configureYear", "issueNotices", "approve", "reject", "acknowledge", "submitApplication", "payPenalty",
    "anchorBatch", "attest", "attestBySig", "revokeAttestation", "rejectAttestation",
]  # fmt: skip


@pytest.mark.parametrize("call", PRIVILEGED)
def test_privileged_function_refused_with_caller_not_active_for_a_suspended_holder(
    cy: Cycle, call: str
) -> None:
    c = cy.c
    sender, fn = _ready(cy, call)
    c.chain.w3.eth.estimate_gas(
        {"from": sender.address, "to": fn.address, "data": fn._encode_transaction_data()}
    )
    _suspend(c, sender)
    with reverts("CallerNotActive", account=sender.address):
        c.chain.transact(fn, sender if call != "attestBySig" else c.outsider)


# ---------------------------------------------------------------------- several pollutants a year

SO2 = 2


def _issue_so2(cy: Cycle, enterprises: list[LocalAccount] | None = None) -> Any:
    """Notices of SO2 for :data:`YEAR` (E0 by default), under the cycle's deadlines."""
    return cy.c.compliance.issue_notices(
        cy.c.regulator, YEAR, SO2, [(e.address, 50) for e in enterprises or [E0]], rules_hash=RULES,
        rules_uri=RULES_URI, submission_deadline=cy.submission_deadline, ack_deadline=cy.ack_deadline,
    )  # fmt: skip


def test_issue_notices_of_a_second_pollutant_for_the_same_enterprise_and_year(cy: Cycle) -> None:
    c = cy.c
    receipt = _issue_so2(cy, [E0, E1])
    events = c.compliance.contract.events.NoticeIssued().process_receipt(receipt, errors=DISCARD)
    assert [(e["args"]["enterprise"], e["args"]["pollutant"]) for e in events] == [
        (E0.address, SO2),
        (E1.address, SO2),
    ]
    co2, so2 = c.compliance.notice(E0.address, CO2, YEAR), c.compliance.notice(E0.address, SO2, YEAR)
    assert (co2.pollutant, co2.allocated, co2.status) == (CO2, 1000, ObligationStatus.OPEN)
    assert (so2.pollutant, so2.allocated, so2.status) == (SO2, 50, ObligationStatus.OPEN)
    assert c.compliance.year_stats(YEAR).notices == 5  # the year counts obligations, every pollutant
    with reverts("ComplianceNoticeExists", enterprise=E0.address, pollutant=SO2, year=YEAR):
        _issue_so2(cy, [E2, E0])  # the whole batch is refused: E2 got nothing
    assert c.compliance.notice(E2.address, SO2, YEAR).status is ObligationStatus.NONE
    assert c.compliance.notice(E0.address, 3, YEAR).status is ObligationStatus.NONE  # NOx: none


def test_each_pollutants_obligation_is_acknowledged_applied_and_finalized_on_its_own(cy: Cycle) -> None:
    c = cy.c
    _issue_so2(cy)
    receipt = c.compliance.acknowledge(E0, SO2, YEAR)
    ack = c.compliance.contract.events.NoticeAcknowledged().process_receipt(receipt, errors=DISCARD)[0][
        "args"
    ]
    assert (ack["enterprise"], ack["pollutant"], ack["year"]) == (E0.address, SO2, YEAR)
    assert c.compliance.notice(E0.address, CO2, YEAR).acknowledged_at == 0  # CO2 still to acknowledge
    with reverts("ComplianceAlreadyAcknowledged", enterprise=E0.address, pollutant=SO2, year=YEAR):
        c.compliance.acknowledge(E0, SO2, YEAR)
    att_co2 = cy.attest(E0.address, 500)
    with reverts("ComplianceNotAcknowledged", enterprise=E0.address, pollutant=CO2, year=YEAR):
        c.compliance.apply(E0, CO2, YEAR, surrender(att_co2, {CO2_2024: 10}))
    att_so2 = cy.attest(E0.address, 40, pollutant=SO2)
    with reverts("ComplianceAttestationMismatch", pollutant=CO2):  # a CO2 attestation for SO2
        c.compliance.apply(E0, SO2, YEAR, surrender(att_co2, {SO2_2024: 10}))
    app_id = c.compliance.apply(E0, SO2, YEAR, surrender(att_so2, {SO2_2024: 40}))
    app = c.compliance.application(app_id)
    assert (app.enterprise, app.pollutant, app.year) == (E0.address, SO2, YEAR)
    assert c.compliance.notice(E0.address, SO2, YEAR).pending == app_id
    assert c.compliance.notice(E0.address, CO2, YEAR).pending == 0
    receipt = c.compliance.approve(c.regulator, app_id)
    approved = c.compliance.contract.events.ApplicationApproved().process_receipt(receipt, errors=DISCARD)
    final = c.compliance.contract.events.ObligationFinalized().process_receipt(receipt, errors=DISCARD)
    assert approved[0]["args"]["pollutant"] == SO2
    assert (final[0]["args"]["pollutant"], final[0]["args"]["outcome"]) == (SO2, Outcome.COVERED)
    assert c.compliance.notice(E0.address, SO2, YEAR).status is ObligationStatus.FULFILLED
    assert c.compliance.notice(E0.address, CO2, YEAR).status is ObligationStatus.OPEN
    with reverts("ComplianceAlreadyFulfilled", enterprise=E0.address, pollutant=SO2, year=YEAR):
        c.compliance.apply(E0, SO2, YEAR, surrender(att_so2, {SO2_2024: 1}))
    cy.to_deadline_passed()
    with reverts("ComplianceAlreadyFinalized", enterprise=E0.address, pollutant=SO2, year=YEAR):
        c.compliance.finalize(c.outsider, E0.address, SO2, YEAR)
    receipt = c.compliance.finalize(c.outsider, E0.address, CO2, YEAR)  # CO2: B on its attestation
    final = c.compliance.contract.events.ObligationFinalized().process_receipt(receipt, errors=DISCARD)[0][
        "args"
    ]
    assert (final["pollutant"], final["outcome"], final["shortfall"]) == (CO2, Outcome.SHORTFALL, 500)
    with reverts("CompliancePenaltyNotDue", enterprise=E0.address, pollutant=SO2, year=YEAR):
        c.compliance.pay_penalty(E0, SO2, YEAR)  # SO2 owes nothing
    receipt = c.compliance.pay_penalty(E0, CO2, YEAR)
    paid = c.compliance.contract.events.PenaltyPaid().process_receipt(receipt, errors=DISCARD)[0]["args"]
    assert (paid["pollutant"], paid["amount"]) == (CO2, 500 * CONFIG.fine_per_tonne)
    assert c.compliance.make_good_owed(E0.address, CO2, YEAR + 1) == 500 * CONFIG.make_good_bps // 10_000
    assert c.compliance.make_good_owed(E0.address, SO2, YEAR + 1) == 0


def test_allowances_of_one_pollutant_never_cover_another(cy: Cycle) -> None:
    c = cy.c
    _issue_so2(cy)
    c.compliance.acknowledge(E0, SO2, YEAR)
    att = cy.attest(E0.address, 40, pollutant=SO2)
    before = holdings(c, [E0.address])
    with reverts("ComplianceWrongToken", id=CO2_2024, kind=1, pollutant=SO2):
        c.compliance.apply(E0, SO2, YEAR, surrender(att, {CO2_2024: 40}))
    with reverts("ComplianceWrongToken", id=OFF_2024, kind=2, pollutant=SO2):  # a CO2 offset
        c.compliance.apply(E0, SO2, YEAR, surrender(att, {SO2_2024: 30}, {OFF_2024: 4}))
    with reverts("ComplianceWrongToken", id=CO2_2024, kind=1, pollutant=SO2):  # mixed: refused whole
        c.compliance.apply(E0, SO2, YEAR, surrender(att, {SO2_2024: 20, CO2_2024: 20}))
    assert holdings(c, [E0.address]) == before  # nothing changed
    assert c.compliance.notice(E0.address, SO2, YEAR).pending == 0


def test_reject_of_one_pollutants_application_leaves_the_other_obligation_alone(cy: Cycle) -> None:
    c = cy.c
    _issue_so2(cy)
    for pollutant in (CO2, SO2):
        c.compliance.acknowledge(E0, pollutant, YEAR)
    co2_app = c.compliance.apply(E0, CO2, YEAR, surrender(cy.attest(E0.address, 300), {CO2_2024: 300}))
    so2_app = c.compliance.apply(E0, SO2, YEAR, surrender(cy.attest(E0.address, 30, pollutant=SO2),
                                                          {SO2_2024: 30}))  # fmt: skip
    receipt = c.compliance.reject(c.regulator, so2_app, 2, "wrong device")
    rejected = c.compliance.contract.events.ApplicationRejected().process_receipt(receipt, errors=DISCARD)
    assert (rejected[0]["args"]["pollutant"], rejected[0]["args"]["applicationId"]) == (SO2, so2_app)
    assert c.compliance.notice(E0.address, SO2, YEAR).pending == 0
    assert c.compliance.notice(E0.address, CO2, YEAR).pending == co2_app
    assert c.compliance.returned(E0.address, SO2_2024) == 30
    c.compliance.approve(c.regulator, co2_app)
    assert c.compliance.notice(E0.address, CO2, YEAR).status is ObligationStatus.FULFILLED
    assert c.compliance.notice(E0.address, SO2, YEAR).status is ObligationStatus.OPEN


def _obligation(c: Consortium, pollutant: int) -> tuple[int, ...]:
    n = c.compliance.notice(E0.address, pollutant, YEAR)
    return (n.status, n.outcome, n.verified, n.surrendered, n.shortfall, n.fine, n.make_good)


def _settle(
    cy: Cycle, plans: dict[int, tuple[int | None, int]], order: list[int]
) -> dict[int, tuple[int, ...]]:
    """Run E0's obligations of ``plans`` (pollutant → (verified or None, allowances surrendered))
    with their steps interleaved in ``order`` (pollutants, each step of one obligation in turn),
    pass the deadline, finalize; returns each obligation's final state."""
    c = cy.c
    ids = {CO2: CO2_2024, SO2: SO2_2024}
    steps = {p: ["ack", "attest", "apply", "approve"] for p in plans}
    atts: dict[int, bytes] = {}
    apps: dict[int, int] = {}
    for p in order:
        if p not in steps or not steps[p]:
            continue
        step = steps[p].pop(0)
        verified, give = plans[p]
        if step == "ack":
            c.compliance.acknowledge(E0, p, YEAR)
        elif step == "attest" and verified is not None:
            atts[p] = cy.attest(E0.address, verified, pollutant=p)
        elif step == "apply" and p in atts and give:
            apps[p] = c.compliance.apply(E0, p, YEAR, surrender(atts[p], {ids[p]: give}))
        elif step == "approve" and p in apps:
            c.compliance.approve(c.regulator, apps[p])
    cy.to_deadline_passed()
    for p in plans:
        if c.compliance.notice(E0.address, p, YEAR).finalized_at == 0:
            c.compliance.finalize(c.outsider, E0.address, p, YEAR)
    return {p: _obligation(c, p) for p in plans}


plan_st = st.tuples(st.one_of(st.none(), st.integers(0, 50)), st.integers(0, 50)).map(
    lambda t: (t[0], 0 if t[0] is None else min(t[1], t[0]))
)


@given(co2=plan_st, so2=plan_st, order=st.permutations([CO2] * 4 + [SO2] * 4))
@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_every_obligation_settles_exactly_as_it_would_alone(
    cy: Cycle, co2: tuple[int | None, int], so2: tuple[int | None, int], order: list[int]
) -> None:
    """Two pollutants of one enterprise and year, their steps interleaved in any order: each
    obligation ends as the single-obligation rule (domain.compliance) says and exactly as the
    same obligation run alone on the same chain; each pollutant's tokens move only for it."""
    c = cy.c
    plans = {CO2: co2, SO2: so2}
    snapshot = c.snapshot()
    try:
        _issue_so2(cy)
        fork = c.snapshot()
        start = holdings(c, [E0.address])
        together = _settle(cy, plans, order)
        end = holdings(c, [E0.address])
        for p, (verified, give) in plans.items():
            token_id = CO2_2024 if p == CO2 else SO2_2024
            assert end[token_id][2] - start[token_id][2] == give  # retired: only its own surrender
            shortfall = shortfall_of(verified, give)
            outcome = outcome_of(verified, shortfall)
            fine, make_good = penalty(CONFIG, outcome, shortfall)
            status = (
                ObligationStatus.FULFILLED if outcome is Outcome.COVERED else ObligationStatus.NON_COMPLIANT
            )
            recorded = shortfall if outcome is Outcome.SHORTFALL else 0
            expected = (status, outcome, verified or 0, give, recorded, fine, make_good)
            assert together[p] == expected, (p, together[p], expected)
            c.revert(fork)
            fork = c.snapshot()
            assert _settle(cy, {p: plans[p]}, order) == {p: together[p]}
    finally:
        c.revert(snapshot)
