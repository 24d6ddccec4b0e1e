"""Benchmark: compile time (cold, cached), and gas of enterprise registration, device binding,
setting a device's oracle, assigning an auditor and a governance execute on the ConsortiumRegistry.

Run: python bench/registry.py   (last line: one JSON object)
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from pathlib import Path

from rich.console import Console

from chain.accounts import demo_account, dev_account
from chain.compile import ROOT, compile_contracts
from chain.deploy import SuiteConfig, deploy_suite
from chain.node import AnvilNode
from chain.registry import RegistryClient
from chain.tx import ChainClient
from sim.sample import generate_enterprises, sample_profile

console = Console(stderr=True)


def _compile_times() -> tuple[float, float]:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        shutil.copytree(ROOT / "contracts", root / "contracts")
        (root / "node_modules").symlink_to(ROOT / "node_modules")
        shutil.copy(ROOT / "package-lock.json", root / "package-lock.json")
        started = time.perf_counter()
        compile_contracts(root)
        cold = time.perf_counter() - started
        started = time.perf_counter()
        compile_contracts(root)
        return cold, time.perf_counter() - started


def main() -> dict[str, object]:
    cold, cached = _compile_times()
    results: dict[str, object] = {
        "compile_seconds": round(cold, 2),
        "compile_cached_seconds": round(cached, 3),
    }
    with AnvilNode() as node, tempfile.TemporaryDirectory() as tmp:
        chain = ChainClient.connect(node.url, compile_contracts())
        members = [demo_account(n) for n in ("regulator", "exchange", "industry-body")]
        manifest = deploy_suite(
            chain, demo_account("deployer"), SuiteConfig(tuple(m.address for m in members), 2),
            Path(tmp) / "deployment.json",
        )  # fmt: skip
        r = RegistryClient(chain, manifest.address("ConsortiumRegistry"))
        r.grant_roles(members, [("REGULATOR", members[0].address)])
        profiles = [sample_profile(e) for e in generate_enterprises(9, 3, seed=1).enterprises]

        # one registration through governance: propose + approve + execute
        data = r.encode_register_enterprise(dev_account(10).address, profiles[0])
        pid = r.propose(members[0], data, "register one")
        propose_gas = int(chain.w3.eth.get_transaction_receipt(
            chain.w3.eth.get_block("latest")["transactions"][0])["gasUsed"])  # fmt: skip
        approve_gas = int(r.approve(members[1], pid)["gasUsed"])
        execute_gas = int(r.execute(members[0], pid)["gasUsed"])
        results["governance_propose_gas"] = propose_gas
        results["governance_approve_gas"] = approve_gas
        results["governance_execute_register_gas"] = execute_gas
        # a governance execute of a minimal call (role grant): the execute overhead itself
        pid = r.propose(members[0], r.encode_grant_role("AUDITOR", dev_account(11).address), "grant")
        r.approve(members[1], pid)
        results["governance_execute_grant_role_gas"] = int(r.execute(members[0], pid)["gasUsed"])
        # batched registration: 8 enterprises in one multicall proposal
        calls = [r.encode_register_enterprise(dev_account(12 + i).address, profiles[1 + i]) for i in range(8)]
        pid = r.propose(members[0], r.encode_multicall(calls), "batch")
        r.approve(members[1], pid)
        results["registration_gas_per_enterprise_batched_8"] = int(r.execute(members[0], pid)["gasUsed"]) // 8
        results["device_binding_gas"] = int(
            r.bind_device(members[0], dev_account(5).address, dev_account(10).address, "33100000000001")[
                "gasUsed"
            ]
        )
        # the device's oracle and an auditor's assignment (issue 17 items 4 and 5)
        r.grant_roles(members, [("ORACLE", dev_account(6).address)])
        oracle_receipt = r.set_device_oracle(members[0], dev_account(5).address, dev_account(6).address)
        results["device_oracle_gas"] = int(oracle_receipt["gasUsed"])
        assign_receipt = r.assign_auditor(members[0], dev_account(11).address, dev_account(10).address)
        results["auditor_assignment_gas"] = int(assign_receipt["gasUsed"])
    return results


if __name__ == "__main__":
    figures = main()
    console.print(figures)
    print(json.dumps(figures))
