"""Benchmark: gas of restricted allowance transfers vs plain OpenZeppelin ERC-1155, gas of
allocation per enterprise, and wall time to allocate to 2,162 enterprises on Anvil.

Run: python bench/allowances.py   (last line: one JSON object)
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.progress import Progress

from chain.accounts import demo_account, dev_account
from chain.allocation import load_history, plan
from chain.allowance import AllowanceClient
from chain.compile import compile_contracts
from chain.deploy import SuiteConfig, deploy_suite
from chain.node import AnvilNode
from chain.onboarding import execute_plan, register_enterprises
from chain.registry import RegistryClient
from chain.tx import ChainClient
from domain.tokens import Kind, encode_id
from sim.sample import generate_enterprises, sample_account, sample_profile, write_sample

console = Console(stderr=True)


def main() -> dict[str, object]:
    results: dict[str, object] = {}
    with AnvilNode(accounts=30) as node, tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        chain = ChainClient.connect(node.url, compile_contracts())
        members = [demo_account(n) for n in ("regulator", "exchange", "industry-body")]
        config = SuiteConfig(tuple(m.address for m in members), 2)
        manifest = deploy_suite(chain, demo_account("deployer"), config, work / "deployment.json")
        registry = RegistryClient(chain, manifest.address("ConsortiumRegistry"))
        allowance = AllowanceClient(chain, manifest.address("AllowanceToken"))
        regulator = members[0]
        registry.grant_roles(members, [("REGULATOR", regulator.address)])

        # --- transfer gas: restricted vs plain OpenZeppelin, same scenario, same run
        a, b = dev_account(20), dev_account(21)
        traders = generate_enterprises(2, 3, seed=900).enterprises
        calls = [
            registry.encode_register_enterprise(x.address, sample_profile(e))
            for x, e in zip((a, b), traders, strict=True)
        ]
        registry.govern(members, registry.encode_multicall(calls), "bench traders")
        token = encode_id(Kind.ALLOWANCE, "CO2", 2026)
        allowance.set_cap(regulator, token, 10**9)
        allowance.allocate(regulator, token, [a.address], [1000], b"\xbb" * 32)
        plain_address, _ = chain.deploy("PlainERC1155", [], demo_account("deployer"))
        plain = chain.contract("PlainERC1155", plain_address)
        chain.transact(plain.functions.mint(a.address, token, 1000), demo_account("deployer"))

        def gas_of(contract: object, first: bool) -> int:
            fn = contract.functions.safeTransferFrom(a.address, b.address, token, 10, b"")  # type: ignore[attr-defined]
            return int(chain.transact(fn, a)["gasUsed"])

        ours_new, plain_new = gas_of(allowance.contract, True), gas_of(plain, True)
        ours_again, plain_again = gas_of(allowance.contract, False), gas_of(plain, False)
        results["transfer_gas"] = ours_new
        results["oz_transfer_gas"] = plain_new
        results["transfer_gas_ratio"] = round(ours_new / plain_new, 3)
        results["transfer_gas_existing_recipient"] = ours_again
        results["oz_transfer_gas_existing_recipient"] = plain_again
        results["transfer_gas_ratio_existing_recipient"] = round(ours_again / plain_again, 3)

        # --- a realistic consortium: 2,162 enterprises registered through governance
        sample = generate_enterprises(2162, 10, seed=2027)
        enterprises_csv, history_csv = write_sample(sample, work)
        rows = [(sample_account(e.credit_code).address, sample_profile(e)) for e in sample.enterprises]
        started = time.perf_counter()
        with Progress(console=console) as progress:
            task = progress.add_task("registering 2,162 enterprises", total=len(rows))
            register_enterprises(registry, members, rows, batch_size=40,
                                 on_batch=lambda n: progress.advance(task, n))  # fmt: skip
        results["register_2162_seconds"] = round(time.perf_counter() - started, 2)

        # --- gas per enterprise of allocate, by batch size (fresh recipients each time)
        per_enterprise: dict[str, float] = {}
        so2 = encode_id(Kind.ALLOWANCE, "SO2", 2027)
        allowance.set_cap(regulator, so2, 10**12)
        offset = 0
        for size in (10, 50, 200):
            recipients = [address for address, _ in rows[offset : offset + size]]
            offset += size
            receipt = allowance.allocate(regulator, so2, recipients, [1000] * size, size.to_bytes(32, "big"))
            per_enterprise[str(size)] = round(int(receipt["gasUsed"]) / size, 1)
        results["allocate_gas_per_enterprise"] = per_enterprise

        # --- plan (benchmark rule) and allocate to all 2,162 on-chain
        history = load_history(history_csv, rule="benchmark")
        allocation = plan(history, 2027, "benchmark", reduction_rate=0.02)
        plan_csv = allocation.write_csv(work / "plan.csv")
        started = time.perf_counter()
        with Progress(console=console) as progress:
            task = progress.add_task("allocating CO2 2027 to 2,162 enterprises", total=len(rows))
            report = execute_plan(allowance, registry, regulator, plan_csv, enterprises_csv, batch_size=200,
                                  on_batch=lambda n, done: progress.advance(task, n))  # fmt: skip
        results["allocate_2162_seconds"] = round(time.perf_counter() - started, 2)
        co2 = encode_id(Kind.ALLOWANCE, "CO2", 2027)
        results["allocate_2162_gas_per_enterprise"] = round(report.gas_used / len(rows), 1)
        results["allocated_total"] = allowance.issued(co2)
        results["cap"] = allocation.cap
        again = execute_plan(allowance, registry, regulator, plan_csv, enterprises_csv, batch_size=200)
        results["rerun_minted"] = again.minted
    return results


if __name__ == "__main__":
    figures = main()
    console.print(figures)
    print(json.dumps(figures))
