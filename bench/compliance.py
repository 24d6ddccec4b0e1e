"""Benchmark: gas of a compliance notice per enterprise (batched, against one notice alone in the
same run), of an application and an approval; wall time of a full compliance year for 2,162
enterprises on Anvil.

The year: configure → notices in batches of 100 → acknowledgements → auditor attestations →
applications (escrow) → 5 % rejected and resubmitted → approvals (retire) → deadline → finalize
→ fines paid. Enterprises are the synthetic sample's; verified emissions are their latest
reported CO2. About 85 % hold enough (outcome A, some with offsets within the 5 % cap), 12 % are
short (B: fine and make-good), 3 % have no verified emissions (C). Set-up (registration,
allocation, cash) is timed apart. The year's outcome counts are checked against the plan.

Run: python bench/compliance.py [--enterprises N]   (last line: one JSON object)
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from eth_account.signers.local import LocalAccount
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from web3.logs import DISCARD

from chain.accounts import dev_account
from chain.attestations import Attestation, attestation_digest, document_hash
from chain.compile import compile_contracts
from chain.compliance import Surrender
from chain.node import AnvilNode
from chain.onboarding import register_enterprises
from chain.suite import deploy_local_suite
from chain.tx import ChainClient
from domain.compliance import Outcome, YearConfig, penalty, shortfall_of, surrender_plan
from domain.tokens import Kind, encode_id
from sim.sample import generate_enterprises, sample_account, sample_profile

console = Console(stderr=True)
YEAR = 2027
CO2 = 1
ALLOWANCE = encode_id(Kind.ALLOWANCE, "CO2", YEAR)
OFFSET = encode_id(Kind.OFFSET, "CO2", YEAR)
CONFIG = YearConfig(
    offset_cap_bps=500, fine_per_tonne=10_000, make_good_bps=10_000, no_report_fine=50_000_000
)
DAY = 86_400
NOTICE_BATCH = 100


@dataclass
class Plan:
    """One enterprise's year: what it emitted, holds and will surrender."""

    account: LocalAccount
    outcome: Outcome
    verified: int | None
    allowances: int
    offsets: int
    rejected_first: bool

    @property
    def offsets_used(self) -> int:
        return surrender_plan(self.verified, self.allowances, self.offsets, CONFIG.offset_cap_bps)[0]

    @property
    def allowances_used(self) -> int:
        return surrender_plan(self.verified, self.allowances, self.offsets, CONFIG.offset_cap_bps)[1]

    @property
    def shortfall(self) -> int:
        return shortfall_of(self.verified, self.offsets_used + self.allowances_used)

    @property
    def fine(self) -> int:
        return penalty(CONFIG, self.outcome, self.shortfall)[0]


def plans_for(n: int, seed: int) -> list[Plan]:
    sample = generate_enterprises(n, years=3, seed=seed)
    rng = random.Random(seed)
    plans = []
    for e, history in zip(sample.enterprises, sample.histories, strict=True):
        reported = [r.reported_co2_t for r in history.records if r.reported_co2_t is not None]
        verified = max(1, round(reported[-1])) if reported else 1_000
        draw = rng.random()
        offsets = verified * 3 // 100 if rng.random() < 0.5 else 0
        if draw < 0.03:
            plans.append(
                Plan(
                    sample_account(e.credit_code),
                    Outcome.NO_VERIFIED_EMISSIONS,
                    None,
                    verified,
                    offsets,
                    False,
                )
            )
        elif draw < 0.15:
            held = max(1, verified * rng.randint(70, 95) // 100 - offsets)
            plans.append(
                Plan(
                    sample_account(e.credit_code),
                    Outcome.SHORTFALL,
                    verified,
                    held,
                    offsets,
                    rng.random() < 0.05,
                )
            )
        else:
            held = verified - offsets + verified * rng.randint(0, 10) // 100
            plans.append(
                Plan(
                    sample_account(e.credit_code),
                    Outcome.COVERED,
                    verified,
                    held,
                    offsets,
                    rng.random() < 0.05,
                )
            )
    return plans


def main(n: int = 2_162, seed: int = 2027) -> dict[str, object]:
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with (
        AnvilNode(accounts=10) as node,
        tempfile.TemporaryDirectory() as tmp,
        Progress(*columns, console=console) as progress,
    ):
        suite = deploy_local_suite(
            ChainClient.connect(node.url, compile_contracts()), Path(tmp) / "deployment.json"
        )
        chain, registry, members = suite.chain, suite.registry, suite.members
        regulator, exchange, auditor, treasury = (
            suite.regulator,
            suite.exchange,
            suite.auditor,
            suite.treasury,
        )
        allowance, cash, ledger, compliance = suite.allowance, suite.cash, suite.ledger, suite.compliance
        anyone = dev_account(9)

        year_transactions = [0]

        def packed(label: str, calls: list[tuple[object, LocalAccount]], gas: int) -> list[dict[str, object]]:
            year_transactions[0] += len(calls)
            task = progress.add_task(label, total=len(calls))
            receipts = chain.send_packed(calls, gas=gas, on_progress=lambda k: progress.advance(task, k))  # type: ignore[arg-type]
            return receipts  # type: ignore[return-value]

        # ------------------------------------------------------------ set-up (not the year)
        set_up = time.perf_counter()
        plans = plans_for(n, seed)
        sample = generate_enterprises(n, years=3, seed=seed).enterprises
        for p in plans:
            chain.w3.provider.make_request("anvil_setBalance", [p.account.address, hex(10**20)])  # type: ignore[arg-type]
        task = progress.add_task(f"register {n:,} enterprises", total=n)
        register_enterprises(
            registry,
            members,
            [(p.account.address, sample_profile(e)) for p, e in zip(plans, sample, strict=True)],
            on_batch=lambda k: progress.advance(task, k),
        )
        holdings = ((ALLOWANCE, [p.allowances for p in plans]), (OFFSET, [p.offsets for p in plans]))
        for token_id, amounts in holdings:
            rows = [(p.account.address, a) for p, a in zip(plans, amounts, strict=True) if a > 0]
            allowance.set_cap(regulator, token_id, sum(a for _, a in rows))
            for b, start in enumerate(range(0, len(rows), 200)):
                part = rows[start : start + 200]
                allowance.allocate(
                    regulator,
                    token_id,
                    [a for a, _ in part],
                    [x for _, x in part],
                    bytes([token_id >> 24, b]) * 16,
                )
        deposit = cash.contract.functions.deposit
        fined = [p for p in plans if p.fine > 0]
        packed(
            "cash for fines",
            [
                (deposit(p.account.address, p.fine, document_hash(f"bench-{i}")), exchange)
                for i, p in enumerate(fined)
            ],
            120_000,
        )
        approve_all = allowance.contract.functions.setApprovalForAll(compliance.address, True)
        packed("approve the escrow", [(approve_all, p.account) for p in plans], 80_000)
        assign = registry.contract.functions.assignAuditor  # the auditor may attest only once assigned
        packed(
            "assign the auditor",
            [(assign(auditor.address, p.account.address), regulator) for p in plans],
            200_000,
        )
        set_up_seconds = time.perf_counter() - set_up
        year_transactions[0] = 0

        # ------------------------------------------------------------ the year
        started = time.perf_counter()
        compliance.configure_year(regulator, YEAR, CONFIG)
        now = chain.timestamp()
        deadline, ack_deadline = now + 180 * DAY, now + 3 * DAY
        rules = document_hash("ETS compliance rules 2027")
        year_transactions[0] += 2  # configure, the single notice
        one = compliance.issue_notices(
            regulator,
            YEAR,
            CO2,
            [(plans[0].account.address, plans[0].allowances)],
            rules_hash=rules,
            rules_uri="ipfs://rules-2027",
            submission_deadline=deadline,
            ack_deadline=ack_deadline,
        )
        notice_single_gas = int(one["gasUsed"])
        notice_gas = 0
        task = progress.add_task("notices", total=n - 1)
        for start in range(1, n, NOTICE_BATCH):
            part = plans[start : start + NOTICE_BATCH]
            receipt = compliance.issue_notices(
                regulator,
                YEAR,
                CO2,
                [(p.account.address, p.allowances) for p in part],
                rules_hash=rules,
                rules_uri="ipfs://rules-2027",
                submission_deadline=deadline,
                ack_deadline=ack_deadline,
            )
            notice_gas += int(receipt["gasUsed"])
            year_transactions[0] += 1
            progress.advance(task, len(part))
        notice_gas_per_enterprise = notice_gas / (n - 1)

        ack = compliance.contract.functions.acknowledge(CO2, YEAR)
        ack_gas = [
            int(r["gasUsed"]) for r in packed("acknowledge", [(ack, p.account) for p in plans], 120_000)
        ]

        reported = [p for p in plans if p.verified is not None]
        chain_id, ledger_address = chain.chain_id, ledger.address
        ids: dict[str, bytes] = {}
        calls: list[tuple[object, LocalAccount]] = []
        for nonce, p in enumerate(reported):
            assert p.verified is not None
            a = Attestation(
                auditor.address,
                p.account.address,
                CO2,
                YEAR,
                p.verified,
                p.offsets,
                (document_hash(f"fuel invoices {p.account.address}"),),
                document_hash(f"verification report {p.account.address}"),
                bytes(32),
                nonce,
            )
            ids[p.account.address] = attestation_digest(chain_id, ledger_address, a)
            calls.append((ledger.contract.functions.attest(a.as_tuple()), auditor))
        attest_gas = [int(r["gasUsed"]) for r in packed("attest", calls, 400_000)]

        def application(p: Plan) -> tuple[object, LocalAccount]:
            s = Surrender(
                ids[p.account.address],
                ((ALLOWANCE, p.allowances_used),) if p.allowances_used else (),
                ((OFFSET, p.offsets_used),) if p.offsets_used else (),
            )
            return compliance.contract.functions.submitApplication(CO2, YEAR, s.as_tuple()), p.account

        def submitted(receipts: list[dict[str, object]]) -> list[int]:
            event = compliance.contract.events.ApplicationSubmitted()
            return [
                int(event.process_receipt(r, errors=DISCARD)[0]["args"]["applicationId"]) for r in receipts
            ]  # type: ignore[arg-type]

        applying = [p for p in reported if p.allowances_used + p.offsets_used > 0]
        first = packed("apply", [application(p) for p in applying], 600_000)
        apply_gas = [int(r["gasUsed"]) for r in first]
        app_ids = dict(zip([p.account.address for p in applying], submitted(first), strict=True))
        redo = [p for p in applying if p.rejected_first]
        reject = compliance.contract.functions.reject
        packed(
            "reject 5 %",
            [(reject(app_ids[p.account.address], 3, "evidence incomplete"), regulator) for p in redo],
            400_000,
        )
        withdraw = compliance.contract.functions.withdrawReturned  # the escrow is credited back: pull it
        escrowed = [
            (p, [i for i, used in ((ALLOWANCE, p.allowances_used), (OFFSET, p.offsets_used)) if used])
            for p in redo
        ]
        packed("withdraw the escrow", [(withdraw(ids), p.account) for p, ids in escrowed], 200_000)
        again = packed("resubmit", [application(p) for p in redo], 600_000)
        app_ids |= dict(zip([p.account.address for p in redo], submitted(again), strict=True))
        approve = compliance.contract.functions.approve
        approvals = packed(
            "approve", [(approve(app_ids[p.account.address]), regulator) for p in applying], 600_000
        )
        approve_gas = [int(r["gasUsed"]) for r in approvals]

        chain.advance_time(deadline - chain.timestamp() + 1)
        finalize = compliance.contract.functions.finalize
        open_ = [p for p in plans if p.outcome is not Outcome.COVERED]
        finalize_gas = [
            int(r["gasUsed"])
            for r in packed(
                "finalize", [(finalize(p.account.address, CO2, YEAR), anyone) for p in open_], 300_000
            )
        ]
        fines = cash.contract.functions.approve
        packed("approve fines", [(fines(compliance.address, p.fine), p.account) for p in fined], 80_000)
        pay = compliance.contract.functions.payPenalty(CO2, YEAR)
        packed("pay fines", [(pay, p.account) for p in fined], 200_000)
        year_seconds = time.perf_counter() - started

        # ------------------------------------------------------------ checks
        stats = compliance.year_stats(YEAR)
        expected = Counter(p.outcome for p in plans)
        got = (stats.covered, stats.shortfall, stats.no_verified_emissions)
        want = (
            expected[Outcome.COVERED],
            expected[Outcome.SHORTFALL],
            expected[Outcome.NO_VERIFIED_EMISSIONS],
        )
        assert got == want, f"outcomes {got} != plan {want}"
        assert compliance.escrowed(ALLOWANCE) == compliance.escrowed(OFFSET) == 0, "escrow left behind"
        surrendered = sum(p.allowances_used for p in plans)
        assert allowance.retired(ALLOWANCE) == surrendered, "retired != surrendered"
        fines_total = sum(p.fine for p in fined)
        assert cash.balance(treasury.address) == fines_total, "fines not all in the treasury"
        for p in random.Random(seed).sample(plans, min(50, n)):
            nt = compliance.notice(p.account.address, CO2, YEAR)
            assert (nt.outcome, nt.shortfall, nt.fine) == (p.outcome, p.shortfall, p.fine), p

    transactions = year_transactions[0]
    console.print(
        f"{n:,} enterprises: A {got[0]:,}, B {got[1]:,}, C {got[2]:,}; compliance rate "
        f"{stats.compliance_rate:.1%}; {len(redo)} rejected and resubmitted; retired {surrendered:,} t; "
        f"fines {fines_total / 100:,.0f} CNY"
    )
    console.print(
        f"year: {year_seconds:.1f} s for {transactions:,} transactions"
        f" ({transactions / year_seconds:,.0f} tx/s); "
        f"set-up {set_up_seconds:.1f} s"
    )
    console.print(
        f"notice gas per enterprise {notice_gas_per_enterprise:,.0f} in batches of {NOTICE_BATCH} "
        f"(one notice alone: {notice_single_gas:,}); apply {statistics.median(apply_gas):,.0f}; "
        f"approve {statistics.median(approve_gas):,.0f}"
    )
    return {
        "enterprises": n,
        "notice_gas_per_enterprise": round(notice_gas_per_enterprise),
        "notice_gas_single": notice_single_gas,
        "notice_batch": NOTICE_BATCH,
        "ack_gas": statistics.median(ack_gas),
        "attest_gas": statistics.median(attest_gas),
        "apply_gas": statistics.median(apply_gas),
        "approve_gas": statistics.median(approve_gas),
        "finalize_gas": statistics.median(finalize_gas) if finalize_gas else None,
        f"year_{n}_seconds": round(year_seconds, 2),
        "transactions": transactions,
        "set_up_seconds": round(set_up_seconds, 2),
        "outcomes": {"A": got[0], "B": got[1], "C": got[2]},
        "compliance_rate": round(stats.compliance_rate, 4),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--enterprises", type=int, default=2_162)
    args = parser.parse_args()
    print(json.dumps(main(args.enterprises)))
