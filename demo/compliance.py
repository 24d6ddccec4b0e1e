"""The demo's compliance year: SO2 2027 for the six demo enterprises, from notice to make-good, and
NOx 2027 too for enterprise-1 (a power plant owes both in one year: two obligations, settled apart)."""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from chain.accounts import Signer, demo_account
from chain.allowance import AllowanceClient, SettlementClient
from chain.attestations import Attestation, document_hash, sign_attestation
from chain.compliance import ComplianceClient, Surrender, wire_compliance_manager
from chain.deploy import Manifest
from chain.ledger import LedgerClient
from chain.production import gather_production
from chain.registry import RegistryClient
from chain.tx import ChainClient
from demo.report import DemoReport
from domain.compliance import Outcome, YearConfig
from domain.production import Grouping
from domain.tokens import Kind, encode_id
from scheduler.alarms import AlarmStore
from scheduler.compliance import ComplianceAlarms
from scheduler.config import SchedulerSettings
from scheduler.notify import LogNotifier

if TYPE_CHECKING:
    from scheduler.alarms import Alarm

logger = logging.getLogger(__name__)

YEAR = 2027
SO2 = 2
NOX = 3
#: enterprise-1's NOx 2027: allocated, verified (t); covered in full (outcome A) from its NOx allowances.
NOX_ALLOCATED, NOX_VERIFIED = 3_000, 2_400
DAY = 86_400
CONFIG = YearConfig(offset_cap_bps=500, fine_per_tonne=20_000, make_good_bps=10_000, no_report_fine=5_000_000)
#: Verified SO2 emissions (t) of enterprise-1..5; enterprise-6 never gets an attestation (C).
VERIFIED = (6_200, 7_000, 8_000, 6_000, 4_800)
#: enterprise-5's first application is rejected (evidence incomplete), then resubmitted.
REJECTED_FIRST = 4


def demo_compliance(
    chain: ChainClient,
    manifest: Manifest,
    registry: RegistryClient,
    members: list[Signer],
    state_dir: Path,
    report: DemoReport,
) -> None:
    """Run the SO2 2027 compliance year once; a re-run reports where it ended.

    Notices to enterprise-1..6 (72 h to acknowledge; enterprise-6 never does, so the scheduler
    raises an alarm), auditor attestations signed offline citing the anchored oracle batches and
    relayed, applications escrowing allowances, one rejection and resubmission, approvals, the
    deadline, finalization (enterprise-3 short: fine paid and make-good withheld from its 2028
    allocation; enterprise-6: no verified emissions), and enterprise-1's production report.
    """
    regulator, exchange, auditor = (
        demo_account("regulator"),
        demo_account("exchange"),
        demo_account("auditor"),
    )
    allowance = AllowanceClient(chain, manifest.address("AllowanceToken"))
    cash = SettlementClient(chain, manifest.address("SettlementToken"))
    record = manifest.contracts["ComplianceManager"]
    compliance = ComplianceClient(chain, record.address, allowance, cash, from_block=record.block)
    ledger_record = manifest.contracts["EmissionsLedger"]
    ledger = LedgerClient(chain, ledger_record.address, from_block=ledger_record.block)
    enterprises = [demo_account(f"enterprise-{i + 1}") for i in range(6)]
    so2 = encode_id(Kind.ALLOWANCE, "SO2", YEAR)

    if wire_compliance_manager(registry, members, compliance, demo_account("treasury").address):
        report.steps.append("compliance manager wired by governance (escrow, retirement, treasury)")
    if not compliance.year_config(YEAR).configured:
        _run_year(chain, compliance, ledger, allowance, cash, enterprises, regulator, exchange, auditor,
                  state_dir)  # fmt: skip
    raised = _scan(compliance, state_dir)
    stored = _stored_alarms(state_dir)
    kinds = "; ".join(f"{a.kind} enterprise-{_index(enterprises, a.enterprise)}" for a in stored) or "none"
    report.steps.append(
        f"scheduler: alarms stored once ({kinds}); this scan raised {raised} new; delivered through the "
        f"log notifier"
    )
    stats = compliance.year_stats(YEAR)
    outcomes = []
    for i, e in enumerate(enterprises):
        nt = compliance.notice(e.address, SO2, YEAR)
        detail = (
            f", short {nt.shortfall:,} t, fine CNY {nt.fine / 100:,.0f}{' paid' if nt.fine_paid else ''}, "
            f"make-good {nt.make_good:,} t"
            if nt.outcome is Outcome.SHORTFALL
            else (f", fine CNY {nt.fine / 100:,.0f}" if nt.outcome is Outcome.NO_VERIFIED_EMISSIONS else "")
        )
        outcomes.append(f"enterprise-{i + 1} {nt.outcome.code}{detail}")
    nox = compliance.notice(enterprises[0].address, NOX, YEAR)
    report.steps.append(
        f"compliance {YEAR} (SO2, and NOx for enterprise-1): {stats.notices} notices, "
        f"{stats.acknowledged} acknowledged, {stats.applications} applications; SO2 outcomes: "
        f"{'; '.join(outcomes)}; enterprise-1 NOx {nox.outcome.code} ({nox.surrendered:,} of "
        f"{nox.verified:,} t surrendered, apart from its SO2); compliance rate {stats.compliance_rate:.0%}"
    )
    so2_next = encode_id(Kind.ALLOWANCE, "SO2", YEAR + 1)
    e3 = enterprises[2].address
    report.steps.append(
        f"make-good: SO2 {YEAR + 1} allocation of 6,000 t to enterprise-3 minted "
        f"{allowance.balance(e3, so2_next):,} t; {allowance.retired_of(e3, so2_next, YEAR):,} t withheld "
        f"and retired against {YEAR}; still owed {compliance.make_good_owed(e3, SO2, YEAR + 1):,} t"
    )
    report.holdings.append(("enterprise-3", f"SO2 {YEAR} after surrender", allowance.balance(e3, so2)))
    _production(ledger, enterprises[0].address, report)


def _run_year(
    chain: ChainClient,
    compliance: ComplianceClient,
    ledger: LedgerClient,
    allowance: AllowanceClient,
    cash: SettlementClient,
    enterprises: list[Signer],
    regulator: Signer,
    exchange: Signer,
    auditor: Signer,
    state_dir: Path,
) -> None:
    so2 = encode_id(Kind.ALLOWANCE, "SO2", YEAR)
    compliance.configure_year(regulator, YEAR, CONFIG)
    now = chain.timestamp()
    rules = "SO2 total-amount control: surrender allowances for verified 2027 emissions by the deadline."
    compliance.issue_notices(
        regulator, YEAR, SO2, [(e.address, allowance.balance(e.address, so2)) for e in enterprises],
        rules_hash=document_hash(rules), rules_uri="https://ets.example.gov.cn/rules/so2-2027",
        submission_deadline=now + 30 * DAY, ack_deadline=now + 3 * DAY,
    )  # fmt: skip
    for e in enterprises[:5]:  # enterprise-6 never acknowledges: an alarm after 72 h
        compliance.acknowledge(e, SO2, YEAR)
    # enterprise-1 owes NOx too in 2027: a second obligation of the same enterprise and year
    e1, nox = enterprises[0], encode_id(Kind.ALLOWANCE, "NOx", YEAR)
    allowance.set_cap(regulator, nox, NOX_ALLOCATED)
    allowance.allocate(regulator, nox, [e1.address], [NOX_ALLOCATED], b"demo-nox-2027".ljust(32, b"\0"))
    nox_rules = "NOx total-amount control: surrender allowances for verified 2027 emissions by the deadline."
    compliance.issue_notices(
        regulator, YEAR, NOX, [(e1.address, NOX_ALLOCATED)], rules_hash=document_hash(nox_rules),
        rules_uri="https://ets.example.gov.cn/rules/nox-2027", submission_deadline=now + 30 * DAY,
        ack_deadline=now + 3 * DAY,
    )  # fmt: skip
    compliance.acknowledge(e1, NOX, YEAR)
    chain.advance_time(3 * DAY + 3600)
    _scan(compliance, state_dir)  # the scheduler's run on day 3

    chain_id = chain.chain_id
    nonce = ledger.nonce(auditor.address)
    for i, (e, verified) in enumerate(zip(enterprises, VERIFIED, strict=False)):
        batches = [a.batch_id for a in ledger.anchored_events(enterprise=e.address)][:8]
        evidence = tuple(batches) or (document_hash(f"CEMS data {e.address} {YEAR}"),)
        attestation = Attestation(
            auditor=auditor.address, enterprise=e.address, pollutant=SO2, year=YEAR,
            verified_emissions=verified, offsets_eligible=0, evidence=evidence,
            report_hash=document_hash(f"verification report SO2 {YEAR} enterprise-{i + 1}"),
            supersedes=bytes(32), nonce=nonce + i,
        )  # fmt: skip
        signature = sign_attestation(auditor, chain_id, ledger.address, attestation)  # offline
        attested = ledger.attest_by_sig(exchange, attestation, signature)  # relayed by anyone
        held = allowance.balance(e.address, so2)
        surrender = Surrender(attested.id, ((so2, min(held, verified)),))
        application = compliance.apply(e, SO2, YEAR, surrender)
        if i == REJECTED_FIRST:
            compliance.reject(regulator, application, 3, "evidence incomplete: CEMS calibration log missing")
            compliance.withdraw_returned(e, [so2])  # the escrow is credited back, the enterprise pulls it
            application = compliance.apply(e, SO2, YEAR, surrender)
        compliance.approve(regulator, application)
    nox_attestation = Attestation(
        auditor=auditor.address, enterprise=e1.address, pollutant=NOX, year=YEAR,
        verified_emissions=NOX_VERIFIED, offsets_eligible=0,
        evidence=(document_hash(f"CEMS data NOx {e1.address} {YEAR}"),),
        report_hash=document_hash(f"verification report NOx {YEAR} enterprise-1"), supersedes=bytes(32),
        nonce=ledger.nonce(auditor.address),
    )  # fmt: skip
    signature = sign_attestation(auditor, chain_id, ledger.address, nox_attestation)
    attested = ledger.attest_by_sig(exchange, nox_attestation, signature)
    # only NOx allowances cover the NOx obligation (SO2 ones would be refused: ComplianceWrongToken)
    application = compliance.apply(e1, NOX, YEAR, Surrender(attested.id, ((nox, NOX_VERIFIED),)))
    compliance.approve(regulator, application)

    chain.advance_time(23 * DAY)
    _scan(compliance, state_dir)  # a week before the deadline: reminders to the open obligations
    chain.advance_time(4 * DAY)
    for i in (2, 5):  # enterprise-3 (short) and enterprise-6 (no verified emissions)
        compliance.finalize(regulator, enterprises[i].address, SO2, YEAR)
    e3 = enterprises[2]
    cash.deposit(exchange, e3.address, compliance.notice(e3.address, SO2, YEAR).fine, "ICBC-DEMO-FINE-0003")
    compliance.pay_penalty(e3, SO2, YEAR)

    so2_next = encode_id(Kind.ALLOWANCE, "SO2", YEAR + 1)
    allowance.set_cap(regulator, so2_next, 45_000)
    allowance.allocate(regulator, so2_next, [e.address for e in enterprises], [6_000] * 6,
                       b"demo-so2-2028".ljust(32, b"\0"))  # fmt: skip


def _scan(compliance: ComplianceClient, state_dir: Path) -> int:
    """One scheduler scan at chain time; returns the alarms it raised."""
    settings = SchedulerSettings.load()
    alarms = ComplianceAlarms.from_settings(compliance, settings, state_dir, notifiers=[LogNotifier()])
    try:
        return len(alarms.scan().raised)
    finally:
        alarms.store.close()


def _stored_alarms(state_dir: Path) -> list[Alarm]:
    with AlarmStore(SchedulerSettings.load().database(state_dir)) as store:
        return store.alarms(year=YEAR)


def _index(enterprises: list[Signer], address: str) -> int:
    return next((i + 1 for i, e in enumerate(enterprises) if e.address.lower() == address.lower()), 0)


def _production(ledger: LedgerClient, enterprise: str, report: DemoReport) -> None:
    events = ledger.anchored_events(enterprise=enterprise)
    if not events:
        return
    year = _year_of(events[0].period_start)
    production = gather_production(ledger, enterprise, year, by=Grouping.MONTH)
    rows = [
        f"{r.pollutant} {r.metered_t:.4f} t ({r.batches} batches)"
        for p in production.periods
        if p.month is None
        for r in p.pollutants
        if r.metered_t is not None
    ]
    report.steps.append(f"enterprise-1 production report {year} (metered, anchored): {', '.join(rows[:4])}")


def _year_of(timestamp: int) -> int:
    return datetime.fromtimestamp(timestamp, ZoneInfo("Asia/Shanghai")).year
