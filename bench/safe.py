"""Benchmark: gas of a Safe-held enterprise account (2-of-2 Safe{Wallet} 1.4.1, both
representatives' EIP-712 signatures, relayed by one of them) next to a plain single-key account,
measured in the same run on Anvil: an allowance transfer and a resting market order (placeOrder),
each after a warm-up of the same action, so both accounts start from the same storage state.

Run: python bench/safe.py
(last line: one JSON object: safe_transfer_gas, plain_transfer_gas, safe_order_gas, plain_order_gas)
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from eth_account.signers.local import LocalAccount
from rich.console import Console

from chain.accounts import dev_account
from chain.compile import compile_contracts
from chain.deploy import SuiteConfig
from chain.market import cst_time, next_weekday_at, set_chain_time, trading_day
from chain.node import AnvilNode
from chain.onboarding import register_enterprises
from chain.registry import EnterpriseProfile
from chain.safe import SafeClient, SafeFactoryClient, deploy_safe_contracts, sign_safe_tx
from chain.suite import LocalSuite, deploy_local_suite
from chain.tx import ChainClient
from domain.market import Rulebook, Side
from domain.tokens import Kind, encode_id
from sim.sample import generate_enterprises, sample_profile

console = Console(stderr=True)
TOKEN = encode_id(Kind.ALLOWANCE, "CO2", 2027)
REFERENCE = 5_000
MAX_UINT = 2**256 - 1


def _safe_send(suite: LocalSuite, safe: SafeClient, reps: list[LocalAccount], to: str, data: str) -> int:
    tx = safe.transaction(to, bytes.fromhex(data[2:]))
    chain_id = suite.chain.chain_id
    signatures = {r.address: sign_safe_tx(r, chain_id, safe.address, tx) for r in reps}
    return int(safe.execute(reps[0], tx, signatures)["gasUsed"])


def main() -> dict[str, object]:
    results: dict[str, object] = {}
    with AnvilNode(accounts=20) as node, tempfile.TemporaryDirectory() as tmp:
        chain = ChainClient.connect(node.url, compile_contracts())
        manifest_path = Path(tmp) / "deployment.json"
        suite = deploy_local_suite(chain, manifest_path)
        config = SuiteConfig(members=tuple(m.address for m in suite.members), threshold=2)
        _, contracts = deploy_safe_contracts(chain, suite.members[0], config, manifest_path)
        reps = [dev_account(10), dev_account(11)]
        plain, receiver = dev_account(12), dev_account(13)
        safe = SafeFactoryClient(chain, contracts).create(reps[0], [r.address for r in reps], 2)
        profiles: list[EnterpriseProfile] = [
            sample_profile(e) for e in generate_enterprises(3, 3, seed=24).enterprises
        ]
        rows = list(zip([safe.address, plain.address, receiver.address], profiles, strict=True))
        register_enterprises(suite.registry, suite.members, rows)
        suite.allowance.set_cap(suite.regulator, TOKEN, 3_000_000)
        suite.allowance.allocate(suite.regulator, TOKEN, [safe.address, plain.address, receiver.address],
                                 [1_000_000] * 3, b"\x24" * 32)  # fmt: skip
        market, token, cash = suite.market, suite.allowance, suite.cash
        for holder in (safe.address, plain.address):
            cash.deposit(suite.exchange, holder, 10**10, f"bench-safe-{holder}")
        approve_cash = cash.contract.encode_abi("approve", args=[market.address, MAX_UINT])
        approve_all = token.contract.encode_abi("setApprovalForAll", args=[market.address, True])
        _safe_send(suite, safe, reps, cash.address, approve_cash)
        _safe_send(suite, safe, reps, token.address, approve_all)
        market.ensure_approvals(plain)
        market.set_rulebook(suite.exchange, TOKEN, Rulebook(reference_price=REFERENCE))
        day = trading_day(next_weekday_at(chain.timestamp(), Rulebook(REFERENCE).open1))[0]
        set_chain_time(chain, cst_time(day, 36_000))  # 10:00 CST: continuous trading

        transfer = token.contract.encode_abi(
            "safeTransferFrom", args=[safe.address, receiver.address, TOKEN, 100, b""]
        )
        order = market.contract.encode_abi("placeOrder", args=[TOKEN, Side.SELL, REFERENCE + 100, 10])
        safe_transfer, safe_order, plain_transfer, plain_order = [], [], [], []
        for _ in range(2):  # the first round warms the storage up; the second is measured
            safe_transfer.append(_safe_send(suite, safe, reps, token.address, transfer))
            plain_transfer.append(int(token.transfer(plain, receiver.address, TOKEN, 100)["gasUsed"]))
            safe_order.append(_safe_send(suite, safe, reps, market.address, order))
            plain_order.append(
                int(market.place(plain, TOKEN, Side.SELL, REFERENCE + 100, 10).receipt["gasUsed"])
            )
        results["safe_transfer_gas"] = safe_transfer[-1]
        results["plain_transfer_gas"] = plain_transfer[-1]
        results["safe_order_gas"] = safe_order[-1]
        results["plain_order_gas"] = plain_order[-1]
        results["safe_transfer_overhead_gas"] = safe_transfer[-1] - plain_transfer[-1]
        results["safe_order_overhead_gas"] = safe_order[-1] - plain_order[-1]
        results["safe"] = "2-of-2 SafeL2 1.4.1, EIP-712 signatures, relayed by a representative"
        assert token.balance(receiver.address, TOKEN) == 1_000_000 + 400
    return results


if __name__ == "__main__":
    figures = main()
    console.print(figures)
    print(json.dumps(figures))
