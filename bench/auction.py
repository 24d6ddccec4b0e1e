"""Benchmark: gas of commit, reveal, claim; clearing gas per revealed bid at 100, 1,000 and
10,000 bids (linear?); wall time of a 10,000-bid auction end to end on Anvil; and, in the same
run, the commit (`bid`) and `reveal` gas of the Solidity documentation's BlindAuction example.

Bidders submit schedules of 4 bids each (25, 250 and 2,500 bidders), prices on a 50-fen grid so
ties at the clearing price are common; supply is 40 % of the demand, so every auction runs the
paged on-chain verification. Every auction is checked against the Python reference and must end
with the contract holding nothing.

Run: python bench/auction.py   (last line: one JSON object)
"""

from __future__ import annotations

import json
import random
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from eth_account.signers.local import LocalAccount
from eth_utils import keccak
from rich.console import Console
from rich.progress import Progress

from chain.accounts import demo_account, dev_account
from chain.allowance import AllowanceClient, SettlementClient
from chain.auction import AuctionClient, AuctionParams, SealedBid, wire_auction_house
from chain.compile import compile_contracts
from chain.deploy import SuiteConfig, deploy_suite
from chain.node import AnvilNode
from chain.onboarding import register_enterprises
from chain.registry import RegistryClient
from chain.tx import ChainClient
from domain.auction import normalize_schedule
from domain.tokens import Kind, encode_id
from sim.auction import bidder_account
from sim.sample import generate_enterprises, sample_profile

console = Console(stderr=True)
TOKEN = encode_id(Kind.ALLOWANCE, "CO2", 2027)
BIDS_PER_BIDDER = 4
SIZES = (100, 1_000, 10_000)
HOUR = 3600


def pipelined(
    chain: ChainClient,
    calls: Sequence[tuple[object, LocalAccount]],
    gas: int,
    label: str,
    progress: Progress,
) -> list[int]:
    """Send and mine every call, many to a block; returns gas used per call."""
    task = progress.add_task(label, total=len(calls))
    receipts = chain.send_packed(calls, gas=gas, on_progress=lambda n: progress.advance(task, n))  # type: ignore[arg-type]
    progress.remove_task(task)
    return [int(r["gasUsed"]) for r in receipts]


def schedules_for(n_bidders: int, seed: int) -> list[tuple[tuple[int, int], ...]]:
    rng = random.Random(seed)
    grid = list(range(5000, 9001, 50))
    return [
        normalize_schedule((p, rng.randint(1, 50)) for p in rng.sample(grid, BIDS_PER_BIDDER))
        for _ in range(n_bidders)
    ]


def run_auction(
    auction: AuctionClient,
    regulator: LocalAccount,
    submitter: LocalAccount,
    bidders: Sequence[LocalAccount],
    seed: int,
    progress: Progress,
) -> dict[str, object]:
    chain = auction.chain
    schedules = schedules_for(len(bidders), seed)
    demand = sum(q for s in schedules for _, q in s)
    supply = max(1, demand * 2 // 5)
    started = time.perf_counter()
    now = chain.timestamp()
    auction_id = auction.create_primary(
        regulator, AuctionParams(TOKEN, supply, 5000, commit_end=now + HOUR, reveal_end=now + 2 * HOUR)
    )
    sealed: list[SealedBid] = []
    for bidder, schedule in zip(bidders, schedules, strict=True):
        guarantee = sum(p * q for p, q in schedule)
        salt = keccak(text=f"bench-salt:{seed}:{bidder.address}")
        sealed.append(auction.seal(auction_id, bidder.address, schedule, guarantee=guarantee, salt=salt))
    commit = auction.contract.functions.commit
    calls = [
        (commit(s.auction_id, bytes.fromhex(s.commitment[2:]), s.guarantee, []), b)
        for s, b in zip(sealed, bidders, strict=True)
    ]
    commit_gas = pipelined(
        chain, calls, 260_000, f"{len(bidders) * BIDS_PER_BIDDER:,} bids: commit", progress
    )
    chain.advance_time(HOUR)
    reveal_gas = pipelined(
        chain, [(auction.reveal_call(s), b) for s, b in zip(sealed, bidders, strict=True)],
        400_000, "reveal", progress,
    )  # fmt: skip
    chain.advance_time(HOUR)
    expected = auction.compute_clearing(auction_id)
    receipts = auction.submit_clearing(submitter, auction_id, expected.claim)
    clear_gas = sum(int(r["gasUsed"]) for r in receipts)
    view = auction.view(auction_id)
    assert (view.clearing_price, view.sold) == (expected.clearing_price, expected.sold), "reference mismatch"
    winners = [b for b in bidders if expected.allocations[b.address] > 0]
    losers = [b for b in bidders if expected.allocations[b.address] == 0]
    claim_gas = pipelined(chain, [(auction.contract.functions.claim(auction_id), b) for b in winners],
                          300_000, "claim", progress)  # fmt: skip
    pipelined(chain, [(auction.contract.functions.refund(auction_id), b) for b in losers],
              150_000, "refund", progress)  # fmt: skip
    auction.withdraw_proceeds(regulator, auction_id)
    seconds = time.perf_counter() - started
    for b in bidders[:50]:  # spot-check allocations on-chain against the reference
        assert auction.allocation_of(auction_id, b.address) == expected.allocations[b.address]
    assert auction.holdings(TOKEN) == (0, 0), "the auction contract kept a balance"
    bids = len(bidders) * BIDS_PER_BIDDER
    console.print(
        f"{bids:>6,} bids: price {view.clearing_price}, supply {supply:,}, {len(winners):,} winners, "
        f"clearing {clear_gas:,} gas in {len(receipts)} tx ({clear_gas / bids:,.0f}/bid), {seconds:.1f} s"
    )
    return {
        "bids": bids,
        "commit_gas": statistics.median(commit_gas),
        "reveal_gas": statistics.median(reveal_gas),
        "claim_gas": statistics.median(claim_gas) if claim_gas else None,
        "clear_gas": clear_gas,
        "clear_pages": len(receipts),
        "seconds": seconds,
    }


def blind_auction_baseline(chain: ChainClient) -> tuple[float, float]:
    """Median gas of `bid` and `reveal` (one bid each) of the docs' BlindAuction, 20 bidders."""
    deployer = demo_account("deployer")
    address, _ = chain.deploy("BlindAuction", [HOUR, HOUR, deployer.address], deployer)
    blind = chain.contract("BlindAuction", address)
    bidders = [dev_account(10 + i) for i in range(20)]
    secrets = [keccak(text=f"blind-{i}") for i in range(20)]
    values = [10**15 * (i + 1) for i in range(20)]
    bid_gas = []
    for b, v, s in zip(bidders, values, secrets, strict=True):
        blinded = keccak(v.to_bytes(32, "big") + b"\x00" + s)
        bid_gas.append(int(chain.transact(blind.functions.bid(blinded), b, value=v)["gasUsed"]))
    chain.advance_time(HOUR + 1)
    reveal_gas = [
        int(chain.transact(blind.functions.reveal([v], [False], [s]), b)["gasUsed"])
        for b, v, s in zip(bidders, values, secrets, strict=True)
    ]
    return statistics.median(bid_gas), statistics.median(reveal_gas)


def main(sizes: Sequence[int] = SIZES, say: Callable[[str], None] = console.print) -> dict[str, object]:
    n_bidders = max(sizes) // BIDS_PER_BIDDER
    with AnvilNode(accounts=30) as node, tempfile.TemporaryDirectory() as tmp:
        chain = ChainClient.connect(node.url, compile_contracts())
        members = [demo_account(n) for n in ("regulator", "exchange", "industry-body")]
        regulator, exchange = members[0], members[1]
        config = SuiteConfig(tuple(m.address for m in members), 2)
        manifest = deploy_suite(chain, demo_account("deployer"), config, Path(tmp) / "deployment.json")
        registry = RegistryClient(chain, manifest.address("ConsortiumRegistry"))
        allowance = AllowanceClient(chain, manifest.address("AllowanceToken"))
        cash = SettlementClient(chain, manifest.address("SettlementToken"))
        auction = AuctionClient(chain, manifest.address("SealedBidAuction"), allowance, cash)
        registry.grant_roles(members, [("REGULATOR", regulator.address), ("EXCHANGE", exchange.address)])
        wire_auction_house(registry, members, auction, demo_account("treasury").address)
        allowance.set_cap(regulator, TOKEN, 10**12)

        bidders = [bidder_account(f"bench-{i}") for i in range(n_bidders)]
        profiles = generate_enterprises(n_bidders, 3, seed=404).enterprises
        setup_started = time.perf_counter()
        with Progress(console=console, transient=True) as progress:
            task = progress.add_task(f"registering {n_bidders:,} bidders", total=n_bidders)
            register_enterprises(registry, members, [(b.address, sample_profile(p)) for b, p in
                                                     zip(bidders, profiles, strict=True)],
                                 batch_size=40, on_batch=lambda n: progress.advance(task, n))  # fmt: skip
            for b in bidders:
                chain.w3.provider.make_request("anvil_setBalance", [b.address, hex(10**21)])  # type: ignore[arg-type]
            deposit = cash.contract.functions.deposit
            pipelined(chain, [(deposit(b.address, 10**13, keccak(text=f"bench-dep-{i}")), exchange)
                              for i, b in enumerate(bidders)], 150_000, "deposits", progress)  # fmt: skip
            approve = cash.contract.functions.approve
            pipelined(chain, [(approve(auction.address, 2**256 - 1), b) for b in bidders], 80_000,
                      "approvals", progress)  # fmt: skip
            setup_seconds = time.perf_counter() - setup_started
            say(f"set-up: {n_bidders:,} enterprises registered and funded in {setup_seconds:.1f} s")
            runs = {}
            for size in sizes:
                runs[size] = run_auction(auction, regulator, demo_account("auditor"),
                                         bidders[: size // BIDS_PER_BIDDER], size, progress)  # fmt: skip
        blind_bid, blind_reveal = blind_auction_baseline(chain)

    mid = runs[sorted(sizes)[len(sizes) // 2]]
    largest = runs[max(sizes)]
    per_bid = {str(size): round(float(r["clear_gas"]) / size, 1) for size, r in runs.items()}  # type: ignore[arg-type]
    return {
        "commit_gas": mid["commit_gas"],
        "reveal_gas": mid["reveal_gas"],
        "reveal_gas_per_bid": round(float(mid["reveal_gas"]) / BIDS_PER_BIDDER, 1),  # type: ignore[arg-type]
        "claim_gas": mid["claim_gas"],
        "clear_gas_per_bid": per_bid,
        "clear_pages": {str(size): r["clear_pages"] for size, r in runs.items()},
        "auction_10000_seconds": round(float(largest["seconds"]), 2),  # type: ignore[arg-type]
        "auction_seconds": {str(size): round(float(r["seconds"]), 2) for size, r in runs.items()},  # type: ignore[arg-type]
        "setup_seconds": round(setup_seconds, 2),
        "bids_per_bidder": BIDS_PER_BIDDER,
        "blindauction_commit_gas": blind_bid,
        "blindauction_reveal_gas": blind_reveal,
    }


if __name__ == "__main__":
    print(json.dumps(main()))
