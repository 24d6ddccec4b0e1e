"""Gas snapshots: the gas each contract's state-changing functions use in one representative call,
measured on Anvil from the receipts and compared with ``contracts/snapshots/<Contract>.json``.

A figure that rises by more than :data:`TOLERANCE_BPS` and more than :data:`TOLERANCE_GAS` fails
(so a gas regression shows in review); a function measured but missing from the snapshot, or the
other way round, fails too. After a deliberate change, refresh the files and commit them:

    ETS_UPDATE_GAS_SNAPSHOTS=1 scripts/test tests/contracts/test_gas_snapshots.py

Governance-only functions are measured as the registry's ``execute`` of a proposal calling them
(``execute:<function>``): that is the transaction that runs them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from eth_utils import keccak

from chain.accounts import dev_account
from chain.auction import AuctionParams
from chain.cards import CardsClient, wire_cards
from chain.compile import ROOT
from chain.onboarding import register_enterprises
from chain.review import ReviewDecision, sign_review
from chain.settlement import SettlementReportsClient
from chain.trusted import TrustedClient
from domain.review import Action
from domain.tokens import Kind, encode_id
from oracle.signing.eip712 import ReadingDomain
from tests.conftest import Consortium
from tests.utils.attestations import anchored_batch, attestation, sign_with
from tests.utils.chain import profile
from tests.utils.compliance import CO2, CO2_2024, ENTERPRISES, OFF_2024, YEAR, setup_cycle, surrender
from tests.utils.market import (
    AFTERNOON,
    BUY,
    CALL_PHASE,
    EVENING,
    MORNING,
    OPEN1,
    SELL,
    build_rig,
    later_today,
)
from tests.utils.market import next_weekday_at as market_day
from tests.utils.market import rulebook as market_rules
from tests.utils.permits import deploy_permits
from tests.utils.permits import outlets as permit_outlets
from tests.utils.permits import terms as permit_terms
from tests.utils.plans import annual as plan_annual
from tests.utils.plans import deploy_plans
from tests.utils.plans import five_year as plan_five_year
from tests.utils.readings import signer
from tests.utils.reserve import deploy_reserve
from tests.utils.trusted import deploy_trusted

SNAPSHOTS = ROOT / "contracts" / "snapshots"
UPDATE_ENV = "ETS_UPDATE_GAS_SNAPSHOTS"
#: A figure may rise by at most this many basis points of the snapshot (1 %) ...
TOLERANCE_BPS = 100
#: ... or by this much gas, whichever is smaller, before the test fails.
TOLERANCE_GAS = 500

CO2_2027 = encode_id(Kind.ALLOWANCE, "CO2", 2027)
HOUR = 3600
#: Enterprises of these scenarios (Anvil's funded accounts 32..35, unused by the suite's roles).
PARTIES = [dev_account(32 + i) for i in range(4)]


@dataclass
class GasMeter:
    """Records every transaction the clients send (contract, function, gas used) and keeps the
    figures a scenario picks."""

    names: dict[str, str]
    calls: list[tuple[str, str, int]] = field(default_factory=list)
    kept: dict[str, dict[str, int]] = field(default_factory=dict)

    def record(self, fn: Any, receipt: Any) -> None:
        self.calls.append(
            (self.names.get(str(fn.address).lower(), str(fn.address)), fn.fn_name, receipt["gasUsed"])
        )

    def keep(self, contract: str, function: str, label: str | None = None, *, via: str | None = None) -> None:
        """Keep the gas of the last call of ``contract.function`` under ``label`` (default: the
        function's name) in ``via``'s snapshot (default: ``contract``'s)."""
        for name, fn_name, gas in reversed(self.calls):
            if (name, fn_name) == (contract, function):
                self.kept.setdefault(via or contract, {})[label or function] = gas
                return
        raise AssertionError(f"no call of {contract}.{function} was recorded")

    def keep_execute(self, target: str, function: str) -> None:
        """Keep the last governance ``execute`` as ``execute:<function>`` of ``target``."""
        self.keep("ConsortiumRegistry", "execute", f"execute:{function}", via=target)


@pytest.fixture
def meter(fresh: Consortium, monkeypatch: pytest.MonkeyPatch) -> GasMeter:
    c = fresh
    names = {
        c.manifest.address(name).lower(): name
        for name in (
            "ConsortiumRegistry",
            "AllowanceToken",
            "SettlementToken",
            "SealedBidAuction",
            "EmissionsLedger",
            "ComplianceManager",
            "SettlementReports",
            "NodeAllowlist",
            "Market",
        )
    }
    gas_meter = GasMeter(names)
    transact = c.chain.transact

    def recording(fn: Any, account: LocalAccount, **kwargs: Any) -> Any:
        receipt = transact(fn, account, **kwargs)
        gas_meter.record(fn, receipt)
        return receipt

    monkeypatch.setattr(c.chain, "transact", recording)
    return gas_meter


def _register_parties(c: Consortium) -> None:
    rows = [(p.address, profile(700 + i)) for i, p in enumerate(PARTIES)]
    register_enterprises(c.registry, c.members, rows, batch_size=8)


# ---------------------------------------------------------------------- scenarios


def registry_scenario(c: Consortium, m: GasMeter) -> None:
    e = PARTIES[0]
    c.registry.govern(c.members, c.registry.encode_register_enterprise(e.address, profile(700)), "register")
    m.keep("ConsortiumRegistry", "propose")
    m.keep("ConsortiumRegistry", "approve")
    m.keep_execute("ConsortiumRegistry", "registerEnterprise")
    c.registry.govern(c.members, c.registry.encode_grant_role("AUDITOR", PARTIES[1].address), "grant")
    m.keep_execute("ConsortiumRegistry", "grantRole")
    c.registry.govern(c.members, c.registry.encode_suspend(PARTIES[1].address, 7), "suspend")
    m.keep_execute("ConsortiumRegistry", "suspend")
    c.registry.govern(c.members, c.registry.encode_reinstate(PARTIES[1].address), "reinstate")
    m.keep_execute("ConsortiumRegistry", "reinstate")
    device = dev_account(36).address
    c.registry.bind_device(c.regulator, device, e.address, "GASDEVICE0001", oracle=c.oracle.address)
    m.keep("ConsortiumRegistry", "bindDevice")
    m.keep("ConsortiumRegistry", "setDeviceOracle")
    c.registry.assign_auditor(c.regulator, c.auditor.address, e.address)
    m.keep("ConsortiumRegistry", "assignAuditor")
    c.registry.unassign_auditor(c.regulator, c.auditor.address, e.address)
    m.keep("ConsortiumRegistry", "unassignAuditor")
    c.registry.unbind_device(c.regulator, device)
    m.keep("ConsortiumRegistry", "unbindDevice")


def settlement_token_scenario(c: Consortium, m: GasMeter) -> None:
    _register_parties(c)
    a, b = PARTIES[0], PARTIES[1]
    c.cash.deposit(c.exchange, a.address, 1_000_000, "gas-deposit-1")
    m.keep("SettlementToken", "deposit")
    c.cash.approve(a, c.exchange.address, 500_000)
    m.keep("SettlementToken", "approve")
    c.cash.transfer(a, b.address, 100_000)
    m.keep("SettlementToken", "transfer")
    c.cash.withdraw(c.exchange, a.address, 200_000, "gas-withdraw-1")
    m.keep("SettlementToken", "withdraw")


def allowance_token_scenario(c: Consortium, m: GasMeter) -> None:
    _register_parties(c)
    c.allowance.set_cap(c.regulator, CO2_2027, 1_000_000)
    m.keep("AllowanceToken", "setCap")
    c.allowance.allocate(
        c.regulator, CO2_2027, [p.address for p in PARTIES], [1000, 2000, 3000, 4000], b"\x61" * 32
    )
    m.keep("AllowanceToken", "allocate")
    c.allowance.transfer(PARTIES[0], PARTIES[1].address, CO2_2027, 100)
    m.keep("AllowanceToken", "safeTransferFrom")
    c.allowance.freeze(c.regulator, PARTIES[2].address, CO2_2027, 3)
    m.keep("AllowanceToken", "freeze")
    c.allowance.release(c.regulator, PARTIES[2].address, CO2_2027)
    m.keep("AllowanceToken", "release")
    c.registry.govern_call(c.members, c.allowance.contract.functions.addPollutant(7, "VOC"), "add VOC")
    m.keep_execute("AllowanceToken", "addPollutant")
    c.registry.govern_call(
        c.members, c.allowance.contract.functions.setSystemContract(c.treasury.address, True), "system"
    )
    m.keep_execute("AllowanceToken", "setSystemContract")
    deploy_plans(c)
    m.keep_execute("AllowanceToken", "setPlans")
    deploy_trusted(c, limit=1_000)
    m.keep_execute("AllowanceToken", "setTrustedCounterparties")
    c.allowance.transfer(PARTIES[0], PARTIES[1].address, CO2_2027, 100)
    m.keep(
        "AllowanceToken", "safeTransferFrom", "safeTransferFrom(trusted counterparties wired, within limit)"
    )


def trusted_scenario(c: Consortium, m: GasMeter) -> None:
    _register_parties(c)
    a, b = PARTIES[0], PARTIES[1]
    c.allowance.set_cap(c.regulator, CO2_2027, 10_000)
    c.allowance.allocate(c.regulator, CO2_2027, [a.address, b.address], [5_000, 5_000], b"\x74" * 32)
    trusted: TrustedClient = deploy_trusted(c, limit=100)
    m.names[trusted.address.lower()] = "TrustedCounterparties"
    trusted.add(a, b.address)
    m.keep("TrustedCounterparties", "addCounterparty")
    c.chain.advance_time(trusted.delay())
    c.allowance.transfer(a, b.address, CO2_2027, 1_000)
    label = "AllowanceToken.safeTransferFrom(to a trusted counterparty)"
    m.keep("AllowanceToken", "safeTransferFrom", label, via="TrustedCounterparties")
    trusted.remove(a, b.address)
    m.keep("TrustedCounterparties", "removeCounterparty")
    c.registry.govern_call(c.members, trusted.contract.functions.setDelay(3_600), "delay")
    m.keep_execute("TrustedCounterparties", "setDelay")
    c.registry.govern_call(c.members, trusted.contract.functions.setLimit(500), "limit")
    m.keep_execute("TrustedCounterparties", "setLimit")


def plans_scenario(c: Consortium, m: GasMeter) -> None:
    plans = deploy_plans(c)
    m.names[plans.address.lower()] = "TotalControlPlans"
    five_id = plans.draft_five_year(c.regulator, plan_five_year())
    m.keep("TotalControlPlans", "draftFiveYearPlan", "draftFiveYearPlan(2 pollutants, 2 regions)")
    plans.adopt(c.registry, c.members, five_id)
    m.keep_execute("TotalControlPlans", "adopt")
    annual_id = plans.draft_annual(c.regulator, plan_annual(five_id))
    m.keep("TotalControlPlans", "draftAnnualPlan", "draftAnnualPlan(4 lines, 1 target)")
    plans.adopt(c.registry, c.members, annual_id)
    plans.execute_cap(c.regulator, annual_id, 2)
    m.keep("TotalControlPlans", "executeCap")
    v2 = plans.draft_annual(c.regulator, plan_annual(five_id, so2=(4_000, 4_000), supersedes=annual_id))
    plans.adopt(c.registry, c.members, v2)
    m.keep("ConsortiumRegistry", "execute", "execute:adopt(supersedes)", via="TotalControlPlans")


def auction_scenario(c: Consortium, m: GasMeter) -> None:
    _register_parties(c)
    for i, p in enumerate(PARTIES):
        c.cash.deposit(c.exchange, p.address, 10**12, f"gas-auction-{i}")
        c.cash.approve(p, c.auction.address, 2**256 - 1)
    c.allowance.set_cap(c.regulator, CO2_2027, 1_000_000)
    now = c.chain.timestamp()
    params = AuctionParams(token_id=CO2_2027, supply=100, reserve_price=5000, commit_end=now + HOUR,
                           reveal_end=now + 2 * HOUR)  # fmt: skip
    auction_id = c.auction.create_primary(c.regulator, params)
    m.keep("SealedBidAuction", "createPrimary")
    schedules = [[(6000, 60), (5500, 20)], [(5800, 50), (5200, 30)], [(5100, 40)]]
    bids = []
    for i, schedule in enumerate(schedules):
        sealed = c.auction.seal(auction_id, PARTIES[i].address, schedule, salt=bytes([i + 1]) * 32)
        c.auction.commit(PARTIES[i], sealed)
        bids.append(sealed)
    m.keep("SealedBidAuction", "commit")
    c.chain.advance_time(HOUR)
    c.auction.reveal(PARTIES[0], bids[0])
    m.keep("SealedBidAuction", "reveal", "reveal(2 bids)")
    c.auction.reveal(PARTIES[1], bids[1])
    c.auction.reveal(PARTIES[2], bids[2])
    m.keep("SealedBidAuction", "reveal", "reveal(1 bid)")
    c.chain.advance_time(HOUR)
    c.auction.submit_clearing(c.exchange, auction_id, max_bidders=10)
    m.keep("SealedBidAuction", "submitClearing", "submitClearing(3 bidders, tie)")
    c.auction.claim(PARTIES[1], auction_id)
    m.keep("SealedBidAuction", "claim", "claim(tie share)")
    c.auction.claim(PARTIES[0], auction_id)
    m.keep("SealedBidAuction", "claim")
    c.auction.refund(PARTIES[2], auction_id)
    m.keep("SealedBidAuction", "refund")
    c.auction.withdraw_proceeds(c.regulator, auction_id)
    m.keep("SealedBidAuction", "withdrawProceeds")
    now = c.chain.timestamp()
    secondary = AuctionParams(token_id=CO2_2027, supply=10, reserve_price=5000, commit_end=now + HOUR,
                              reveal_end=now + 2 * HOUR)  # fmt: skip
    c.auction.create_secondary(PARTIES[0], secondary)
    m.keep("SealedBidAuction", "createSecondary")
    c.registry.govern_call(
        c.members, c.auction.contract.functions.setTreasury(c.treasury.address), "treasury"
    )
    m.keep_execute("SealedBidAuction", "setTreasury")
    # a primary auction restricted to one named project (issue 22 point 4)
    now = c.chain.timestamp()
    restricted = AuctionParams(token_id=CO2_2027, supply=10, reserve_price=5000, commit_end=now + HOUR,
                               reveal_end=now + 2 * HOUR)  # fmt: skip
    auction_id = c.auction.create_primary(c.regulator, restricted, bidders=[PARTIES[3].address])
    m.keep("SealedBidAuction", "createRestrictedPrimary", "createRestrictedPrimary(1 bidder)")
    sealed = c.auction.seal(auction_id, PARTIES[3].address, [(5000, 10)], salt=b"\x09" * 32)
    c.auction.commit(PARTIES[3], sealed)
    m.keep("SealedBidAuction", "commit", "commit(restricted)")
    c.chain.advance_time(HOUR)
    c.auction.reveal(PARTIES[3], sealed)
    c.chain.advance_time(HOUR)
    c.auction.submit_clearing(c.exchange, auction_id, max_bidders=10)
    c.auction.claim(PARTIES[3], auction_id)
    m.keep("SealedBidAuction", "claim", "claim(restricted)")


def ledger_scenario(c: Consortium, m: GasMeter) -> None:
    _register_parties(c)
    e = PARTIES[0]
    c.registry.assign_auditor(c.regulator, c.auditor.address, e.address)
    device = signer(975, domain=ReadingDomain(c.chain.chain_id, c.ledger.address))
    c.registry.bind_device(c.regulator, device.address, e.address, "GASLEDGER0001", oracle=c.oracle.address)
    batch, _ = anchored_batch(c.ledger, c.oracle, device)
    m.keep("EmissionsLedger", "anchorBatch", "anchorBatch(2 frames of 4)")
    nonce = c.ledger.nonce(c.auditor.address)
    first = c.ledger.attest(
        c.auditor, attestation(c.auditor.address, e.address, nonce=nonce, evidence=(batch.batch_id,))
    )
    m.keep("EmissionsLedger", "attest")
    second = attestation(c.auditor.address, e.address, nonce=c.ledger.nonce(c.auditor.address), year=2025)
    c.ledger.attest_by_sig(c.exchange, second, sign_with(c.auditor, c.ledger, second))
    m.keep("EmissionsLedger", "attestBySig")
    c.ledger.revoke_attestation(c.auditor, first.id, 2, "restated")
    m.keep("EmissionsLedger", "revokeAttestation")
    nonce = c.ledger.nonce(c.auditor.address)
    third = c.ledger.attest(c.auditor, attestation(c.auditor.address, e.address, nonce=nonce, year=2023))
    c.ledger.reject_attestation(c.regulator, third.id, 3, "evidence missing")
    m.keep("EmissionsLedger", "rejectAttestation")
    decision = ReviewDecision(
        reviewer=c.auditor.address, enterprise=e.address, subject=batch.batch_id, pollutant="w01018",
        month=202401, action=Action.SUBSTITUTE, method="permmax", value=150, decimals=1,
    )  # fmt: skip
    signature = sign_review(c.auditor, c.chain.chain_id, c.ledger.address, decision)
    c.ledger.record_review(c.exchange, decision, signature)
    m.keep("EmissionsLedger", "recordReview")


def compliance_scenario(c: Consortium, m: GasMeter) -> None:
    cycle = setup_cycle(c)
    m.keep("ComplianceManager", "configureYear")
    m.keep("ComplianceManager", "issueNotices", "issueNotices(3 enterprises)")
    e0, e1, e2 = ENTERPRISES[:3]
    for e in (e0, e1, e2):
        c.compliance.acknowledge(e, CO2, YEAR)
    m.keep("ComplianceManager", "acknowledge")
    att0 = cycle.attest(e0.address, 1000, 100)
    c.compliance.apply(e0, CO2, YEAR, surrender(att0, {CO2_2024: 900}, {OFF_2024: 100}))
    m.keep("ComplianceManager", "submitApplication", "submitApplication(1 allowance, 1 offset)")
    c.compliance.approve(c.regulator, 1)
    m.keep("ComplianceManager", "approve", "approve(fulfilled)")
    att1 = cycle.attest(e1.address, 1000, 0)
    c.compliance.apply(e1, CO2, YEAR, surrender(att1, {CO2_2024: 500}))
    c.compliance.reject(c.regulator, 2, 4, "wrong vintage")
    m.keep("ComplianceManager", "reject")
    c.compliance.withdraw_returned(e1, [CO2_2024])
    m.keep("ComplianceManager", "withdrawReturned")
    cycle.attest(e2.address, 1200, 0)
    cycle.to_deadline_passed()
    c.compliance.finalize(c.regulator, e2.address, CO2, YEAR)
    m.keep("ComplianceManager", "finalize", "finalize(shortfall)")
    c.cash.approve(e2, c.compliance.address, 2**256 - 1)
    c.compliance.pay_penalty(e2, CO2, YEAR)
    m.keep("ComplianceManager", "payPenalty")
    c.registry.govern_call(
        c.members, c.compliance.contract.functions.setTreasury(c.treasury.address), "treasury"
    )
    m.keep_execute("ComplianceManager", "setTreasury")


def reports_scenario(c: Consortium, m: GasMeter) -> None:
    reports = SettlementReportsClient(c.chain, c.manifest.address("SettlementReports"))
    day = 20260630
    reports.publish(c.exchange, day, bytes(keccak(text="settlement report")))
    m.keep("SettlementReports", "publish")
    corrected = bytes(keccak(text="settlement report, corrected"))
    c.registry.govern(
        c.members,
        reports.encode_correct(day, corrected, reports.sign(c.exchange, day, corrected)),
        "correct",
        target=reports.address,
    )
    m.keep_execute("SettlementReports", "correct")


def allowlist_scenario(c: Consortium, m: GasMeter) -> None:
    allowlist = c.chain.contract("NodeAllowlist", c.manifest.address("NodeAllowlist"))
    enode = "ab" * 64
    c.registry.govern_call(c.members, allowlist.functions.allowNode(enode, "10.0.0.7", 30303), "allow")
    m.keep_execute("NodeAllowlist", "allowNode")
    c.registry.govern_call(c.members, allowlist.functions.disallowNode(enode, "10.0.0.7", 30303), "disallow")
    m.keep_execute("NodeAllowlist", "disallowNode")


def market_scenario(c: Consortium, m: GasMeter) -> None:
    rig = build_rig(c, rules=market_rules(feeBps=25))
    a, b, d, e, f = rig.traders
    m.keep("Market", "setRulebook")
    rig.send(rig.market.functions.setReferencePrice(rig.token_id, 5_000), c.exchange)
    m.keep("Market", "setReferencePrice")
    market_day(c.chain, MORNING)
    rig.place(a, SELL, 5_000, 100)
    rig.place(a, SELL, 5_000, 100)
    m.keep("Market", "placeOrder", "placeOrder(sell rests)")
    rig.place(b, BUY, 5_000, 100)  # b's first purchase of the day
    rig.place(b, BUY, 5_000, 100)
    m.keep("Market", "placeOrder", "placeOrder(buy fills 1)")
    for _ in range(10):
        rig.place(a, SELL, 5_000, 10)
    rig.place(b, BUY, 5_000, 100)
    m.keep("Market", "placeOrder", "placeOrder(buy fills 10)")
    bid = rig.place(b, BUY, 4_990, 100)
    m.keep("Market", "placeOrder", "placeOrder(buy rests)")
    rig.place(d, SELL, 4_990, 40)
    m.keep("Market", "placeOrder", "placeOrder(sell fills 1 partly)")
    rig.take(d, bid, 10)
    m.keep("Market", "take", "take(of a bid)")
    rig.cancel(b, bid)
    m.keep("Market", "cancelOrder", "cancelOrder(buy)")
    ask = rig.place(a, SELL, 5_010, 50)
    rig.take(e, ask, 10)
    m.keep("Market", "take", "take(of an ask)")
    rig.cancel(a, ask)
    m.keep("Market", "cancelOrder", "cancelOrder(sell)")
    rig.send(rig.market.functions.halt(rig.token_id, "gas"), c.exchange)
    m.keep("Market", "halt")
    rig.send(rig.market.functions.resume(rig.token_id), c.exchange)
    m.keep("Market", "resume")
    later_today(c.chain, AFTERNOON)
    block = rig.propose(a, b.address, 5_000, 100_000)
    m.keep("Market", "proposeBlock")
    rig.accept(b, block)
    m.keep("Market", "acceptBlock")
    block = rig.propose(a, d.address, 5_000, 100_000)
    rig.send(rig.market.functions.declineBlock(block), d)
    m.keep("Market", "declineBlock")
    block = rig.propose(a, d.address, 5_000, 100_000)
    rig.send(rig.market.functions.cancelBlock(block), a)
    m.keep("Market", "cancelBlock")
    stale = rig.place(f, SELL, 5_050, 10)
    c.registry.govern(c.members, c.registry.encode_suspend(f.address, 1), "suspend")
    rig.send(rig.market.functions.forceCancel(stale), c.exchange)
    m.keep("Market", "forceCancel", "forceCancel(credited unclaimed)")
    c.registry.govern(c.members, c.registry.encode_reinstate(f.address), "reinstate")
    rig.send(rig.market.functions.withdrawUnclaimed(rig.token_id), f)
    m.keep("Market", "withdrawUnclaimed")
    for trader, side, price in ((a, SELL, 5_020), (b, BUY, 4_980), (d, BUY, 4_970)):
        rig.place(trader, side, price, 5)
    later_today(c.chain, EVENING)
    rig.expire(e)
    m.keep("Market", "expire", "expire(3 orders)")
    market_day(c.chain, CALL_PHASE)
    for trader, side, price, q in ((a, SELL, 4_990, 30), (d, SELL, 5_000, 20), (b, BUY, 5_010, 25),
                                   (e, BUY, 5_000, 20)):  # fmt: skip
        rig.place(trader, side, price, q)
    m.keep("Market", "placeOrder", "placeOrder(call phase)")
    later_today(c.chain, OPEN1)
    rig.uncross(e, 5_000)
    m.keep("Market", "uncross", "uncross(3 fills)")
    c.registry.govern_call(c.members, rig.market.functions.setFeeAccount(c.exchange.address), "fee account")
    m.keep_execute("Market", "setFeeAccount")
    c.registry.govern_call(
        c.members, rig.market.functions.setSettlementAgent(c.exchange.address), "settlement agent"
    )
    m.keep_execute("Market", "setSettlementAgent")
    rig.send(rig.market.functions.halt(0, "gas"), c.exchange)
    m.keep("Market", "halt", "halt(all)")
    rig.send(rig.market.functions.resume(0), c.exchange)
    m.keep("Market", "resume", "resume(all)")
    # a position limit: the buy is checked against it and its rest is counted
    later_today(c.chain, EVENING)
    rig.expire(e)
    rig.set_rules(market_rules(feeBps=25, positionLimitBps=5_000))
    market_day(c.chain, MORNING)
    rig.place(a, SELL, 5_000, 10)
    rig.place(b, BUY, 5_000, 100)
    m.keep("Market", "placeOrder", "placeOrder(buy fills 1 and rests, position limit)")
    rig.place(d, SELL, 5_000, 10)
    m.keep("Market", "placeOrder", "placeOrder(sell fills 1 partly, position limit)")


def permits_scenario(c: Consortium, m: GasMeter) -> None:
    permits = deploy_permits(c)
    m.names[permits.address.lower()] = "DischargePermits"
    m.keep("ConsortiumRegistry", "execute", "execute:setPermits(registry)", via="DischargePermits")
    _register_parties(c)
    e, f = PARTIES[0], PARTIES[1]
    app = permits.apply(e, permit_outlets(e), permit_terms(), b"\x11" * 32)
    m.keep("DischargePermits", "applyForPermit", "applyForPermit(1 outlet, 2 pollutants)")
    permits.review_return(c.regulator, app, "monitoring plan")
    m.keep("DischargePermits", "reviewReturn")
    permits.resubmit(e, app, permit_outlets(e), permit_terms(), b"\x12" * 32)
    m.keep("DischargePermits", "resubmit")
    permit_id = permits.issue(c.regulator, app, "P-1", [1_000, 500])
    m.keep("DischargePermits", "issue", "issue(1 outlet, 2 pollutants)")
    permits.change(c.regulator, permit_id, permit_outlets(e, 2), permit_terms(so2=900))
    m.keep("DischargePermits", "change", "change(2 outlets, 2 pollutants)")
    permits.renew(c.regulator, permit_id, c.chain.timestamp() + 10 * 365 * 86_400)
    m.keep("DischargePermits", "renew")
    permits.annual_review(c.regulator, permit_id, 2027, True, "in order")
    m.keep("DischargePermits", "annualReview")
    permits.revoke(c.regulator, permit_id, "violations")
    m.keep("DischargePermits", "revoke")
    refused = permits.apply(f, permit_outlets(f), permit_terms(), b"\x13" * 32)
    permits.refuse(c.regulator, refused, "outside the zone plan")
    m.keep("DischargePermits", "refuse")
    other = permits.apply(f, permit_outlets(f), permit_terms(), b"\x14" * 32)
    permits.cancel(c.regulator, permits.issue(c.regulator, other, "P-2", [10, 10]), "closure")
    m.keep("DischargePermits", "cancel")


def reserve_scenario(c: Consortium, m: GasMeter) -> None:
    plans, permits = deploy_plans(c), deploy_permits(c)
    reserve = deploy_reserve(c)
    m.names[reserve.address.lower()] = "GovernmentReserve"
    m.keep_execute("GovernmentReserve", "setPlans")
    five_id = plans.draft_five_year(c.regulator, plan_five_year())
    plans.adopt(c.registry, c.members, five_id)
    annual_id = plans.draft_annual(c.regulator, plan_annual(five_id))
    plans.adopt(c.registry, c.members, annual_id)
    for pollutant in (2, 3):
        plans.execute_cap(c.regulator, annual_id, pollutant)
    reserve.feed(c.regulator, annual_id, 2)
    m.keep("GovernmentReserve", "feed", "feed(2 region lines)")
    _register_parties(c)
    e, f = PARTIES[0], PARTIES[1]
    so2, nox = encode_id(Kind.ALLOWANCE, "SO2", 2027), encode_id(Kind.ALLOWANCE, "NOx", 2027)
    deadline = c.chain.timestamp() + 86_400
    offer_id = reserve.offer(c.regulator, f.address, so2, 100, deadline)
    m.keep("GovernmentReserve", "offer")
    c.cash.deposit(c.exchange, f.address, 10_000_000, "BANK-RESERVE-1")
    reserve.accept(f, offer_id)
    m.keep("GovernmentReserve", "accept", "accept(pays cash, delivers, no permit)")
    reserve.withdraw_offer(c.regulator, reserve.offer(c.regulator, f.address, so2, 10, deadline))
    m.keep("GovernmentReserve", "withdrawOffer")
    app = permits.apply(e, permit_outlets(e), permit_terms(), b"\x11" * 32)
    permits.issue(c.regulator, app, "P-R1", [1_000, 500])
    c.registry.bind_device(c.regulator, dev_account(36).address, e.address, permit_outlets(e)[0].mn)
    c.allowance.allocate(c.regulator, so2, [e.address], [800], b"\x01" * 32)
    c.allowance.allocate(c.regulator, nox, [e.address], [400], b"\x02" * 32)
    confiscation = reserve.encode_confiscate(e.address, [so2], [100], "penalty")
    c.registry.govern_call(c.members, confiscation, "confiscate")
    m.keep_execute("GovernmentReserve", "confiscate")
    reserve.close(c.registry, c.members, e.address, "关停")
    label = "execute:closeEnterprise(2 ids, permit, 1 device)"
    m.keep("ConsortiumRegistry", "execute", label, via="GovernmentReserve")


def cards_scenario(c: Consortium, m: GasMeter) -> None:
    _register_parties(c)
    a = PARTIES[0]
    c.allowance.set_cap(c.regulator, CO2_2027, 10_000)
    c.allowance.allocate(c.regulator, CO2_2027, [a.address], [5_000], b"\x75" * 32)
    device = dev_account(35).address
    c.registry.bind_device(c.regulator, device, a.address, "33100000000001CARD", oracle=c.oracle.address)
    address, _ = c.chain.deploy("EmissionCards", [c.registry.address, c.allowance.address], c.members[0])
    cards = CardsClient(c.chain, address)
    m.names[cards.address.lower()] = "EmissionCards"
    wire_cards(c.registry, c.members, cards)
    cards.issue(c.regulator, 3310000001, device)
    m.keep("EmissionCards", "issueCard")
    cards.load(a, 3310000001, CO2_2027, 3, 1_000)
    m.keep("EmissionCards", "load", "load(first of the month)")
    cards.load(a, 3310000001, CO2_2027, 3, 500)
    m.keep("EmissionCards", "load", "load(recharge)")
    cards.replace(c.regulator, 3310000001, 3310000002)
    m.keep("EmissionCards", "replaceCard")
    cards.settle_month(c.oracle, 3310000002, CO2_2027, 3, 1_200)
    m.keep("EmissionCards", "settleMonth", "settleMonth(used held, rest returned)")
    cards.release_for_surrender(c.regulator, a.address, CO2_2027)
    m.keep("EmissionCards", "releaseForSurrender")
    cards.revoke(c.regulator, 3310000002, 1)
    m.keep("EmissionCards", "revokeCard")


SCENARIOS: dict[str, Callable[[Consortium, GasMeter], None]] = {
    "ConsortiumRegistry": registry_scenario,
    "SettlementToken": settlement_token_scenario,
    "AllowanceToken": allowance_token_scenario,
    "SealedBidAuction": auction_scenario,
    "EmissionsLedger": ledger_scenario,
    "ComplianceManager": compliance_scenario,
    "SettlementReports": reports_scenario,
    "NodeAllowlist": allowlist_scenario,
    "TrustedCounterparties": trusted_scenario,
    "EmissionCards": cards_scenario,
    "Market": market_scenario,
    "TotalControlPlans": plans_scenario,
    "DischargePermits": permits_scenario,
    "GovernmentReserve": reserve_scenario,
}


# ---------------------------------------------------------------------- comparison


def regressions(snapshot: dict[str, int], measured: dict[str, int]) -> list[str]:
    """What is wrong with ``measured`` against ``snapshot``: functions added or gone, and every
    figure that rose by more than the tolerance."""
    problems = [
        f"{name}: measured, not in the snapshot" for name in sorted(measured.keys() - snapshot.keys())
    ]
    problems += [
        f"{name}: in the snapshot, not measured" for name in sorted(snapshot.keys() - measured.keys())
    ]
    for name in sorted(measured.keys() & snapshot.keys()):
        before, now = snapshot[name], measured[name]
        allowed = min(TOLERANCE_GAS, before * TOLERANCE_BPS // 10_000)
        if now - before > allowed:
            problems.append(f"{name}: {before} -> {now} gas (+{now - before}, allowed +{allowed})")
    return problems


def test_regressions_name_rises_beyond_tolerance_and_changed_function_sets() -> None:
    snapshot = {"a": 100_000, "b": 20_000, "gone": 1}
    measured = {"a": 100_500, "b": 20_201, "new": 1}
    assert regressions(snapshot, measured) == [
        "new: measured, not in the snapshot",
        "gone: in the snapshot, not measured",
        "b: 20000 -> 20201 gas (+201, allowed +200)",
    ]
    assert regressions({"a": 100_000}, {"a": 90_000}) == []


@pytest.mark.parametrize("contract", list(SCENARIOS))
def test_gas_stays_within_snapshot(fresh: Consortium, meter: GasMeter, contract: str) -> None:
    SCENARIOS[contract](fresh, meter)
    measured = meter.kept[contract]
    path = SNAPSHOTS / f"{contract}.json"
    if os.environ.get(UPDATE_ENV) == "1":
        SNAPSHOTS.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(dict(sorted(measured.items())), indent=2) + "\n")
        return
    if not path.exists():
        pytest.fail(f"no gas snapshot {path.relative_to(ROOT)}: create it with {_refresh()}", pytrace=False)
    problems = regressions(json.loads(path.read_text()), measured)
    assert not problems, (
        f"gas of {contract} beyond its snapshot ({_refresh()} after a deliberate change):\n"
        + ("\n".join(problems))
    )


def _refresh() -> str:
    return f"{UPDATE_ENV}=1 scripts/test tests/contracts/test_gas_snapshots.py"
