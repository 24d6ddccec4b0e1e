"""Benchmark: the settlement of a market day with 100,000 trades over 2,162 accounts, and the day's
bulletin.

The day is built honestly, on a real chain: a fresh Anvil (``chain.replay.ReplayNode``) with the
local suite, 2,162 enterprises registered, approved and funded (half of them sellers allocated
CO2 2027 allowances, half buyers with deposited cash), CO2 2027 listed with a 5 bps fee a side.
In the morning session the day is replayed pre-signed, many transactions a block
(``chain.replay``): groups of ``per_taker`` resting sell orders from distinct sellers at one price
(within the band), each group then filled by one taker buy from a buyer, so every taker order
makes ``per_taker`` fills (``TradeExecuted``) and the book is empty between groups. Every replayed
transaction must succeed. The chain's clock then passes the 15:00 close and the indexer reads
the whole day into a fresh SQLite read model.

Timed (``settle_trades_seconds``): ``settlement.day.run_day`` exactly as the settlement job runs
it with the Market known: the day's bounds and the per-block event counts checked against the
chain, the trade movements per fill (``trade_buy`` / ``trade_sell`` / ``trade_fee``,
``market_escrow``), reconciliation three ways (balances and supplies read on-chain at the day's
last block, the read model's holdings, the fee account against the fees charged), the bulletin
and large holders, and the report (CSV files, the journal, the fills, the PDF, the manifest). The
day must balance or the bench stops. ``bulletin_seconds`` is the bulletin stage of that run (the
day's bulletin per token id and mode, with the year's totals, and the large holders at the close);
``read_bulletin_seconds`` reads it back from the written report, checked against its manifest
(what ``GET /market/bulletin/{day}`` does).

Run: python bench/market_settle.py [--trades 100000] [--accounts 2162] [--per-taker 10]
(last line: JSON)
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

# `python bench/market_settle.py` puts bench/ first on the path; keep the project's packages first
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

from rich.console import Console  # noqa: E402

from chain.allowance import bank_reference  # noqa: E402
from chain.compile import compile_contracts  # noqa: E402
from chain.market import cst_time, next_weekday_at, set_chain_time, trading_day  # noqa: E402
from chain.onboarding import register_enterprises  # noqa: E402
from chain.replay import RawCall, Replayer, ReplayNode  # noqa: E402
from chain.settlement import ledger_for  # noqa: E402
from chain.suite import LocalSuite, deploy_local_suite  # noqa: E402
from chain.tx import ChainClient  # noqa: E402
from domain.bulletin import ALL  # noqa: E402
from domain.market import Rulebook, Side, fee  # noqa: E402
from domain.units import UINT256_MAX  # noqa: E402
from readmodel.indexer.run import Indexer  # noqa: E402
from readmodel.migrate import upgrade  # noqa: E402
from readmodel.session import make_engine  # noqa: E402
from settlement.bulletin import read_bulletin  # noqa: E402
from settlement.calendar import TradingCalendar  # noqa: E402
from settlement.day import run_day  # noqa: E402
from settlement.run import SystemAccounts  # noqa: E402
from sim.market import TOKEN_ID, trader_account, trader_profile  # noqa: E402

console = Console(stderr=True)
REFERENCE = 10_000
FEE_BPS = 5
PER_BLOCK = 250
ORDER_GAS = 1_000_000
CASH_PER_BUYER = 10**11  # fen: far more than any buyer spends
TARGET_SECONDS = 60


def _prepare(suite: LocalSuite, names: list[str]) -> dict[str, Any]:
    """``sim.market.prepare_traders`` for many accounts: gas money in one JSON-RPC batch, the
    registrations through governance, the market's token approvals pre-signed and replayed."""
    accounts = {n: trader_account(n) for n in names}
    suite.chain.rpc_batch([("anvil_setBalance", [a.address, hex(10**21)]) for a in accounts.values()])
    register_enterprises(
        suite.registry, suite.members, [(a.address, trader_profile(n)) for n, a in accounts.items()]
    )
    market = suite.market
    approve = suite.cash.contract.functions.approve(market.address, UINT256_MAX)
    operator = suite.allowance.contract.functions.setApprovalForAll(market.address, True)
    calls = [RawCall.of(fn, a, 100_000) for a in accounts.values() for fn in (approve, operator)]
    replayer = Replayer(suite.chain)
    mined = replayer.receipts(replayer.send(replayer.sign(calls), per_block=PER_BLOCK))
    if any(m.status != 1 for m in mined):
        raise SystemExit("an approval reverted")
    return accounts


def _fund(suite: LocalSuite, sellers: dict[str, Any], buyers: dict[str, Any], allowances: int) -> None:
    """Cash to every buyer (deposits), ``allowances`` of the token to every seller (allocation)."""
    tag = f"bench-market-settle {suite.chain.w3.eth.block_number}"
    deposit = suite.cash.contract.functions.deposit
    calls = [
        (deposit(a.address, CASH_PER_BUYER, bank_reference(f"{tag} {n}")), suite.exchange)
        for n, a in buyers.items()
    ]
    suite.chain.send_packed(calls, gas=200_000)
    rows = [a.address for a in sellers.values()]
    allowance = suite.allowance
    needed = allowance.issued(TOKEN_ID) + allowances * len(rows)
    if allowance.cap(TOKEN_ID) < needed:
        allowance.set_cap(suite.regulator, TOKEN_ID, needed)
    for start in range(0, len(rows), 100):
        part = rows[start : start + 100]
        ref = bank_reference(f"{tag} allocation {start}")
        allowance.allocate(suite.regulator, TOKEN_ID, part, [allowances] * len(part), ref)


def _day_calls(
    suite: LocalSuite, sellers: list[Any], buyers: list[Any], trades: int, per_taker: int, seed: int
) -> tuple[list[RawCall], int, int]:
    """The day's transactions: groups of resting sells, each taken by one buy; returns the calls,
    the fills they make and the fees they charge."""
    rng = random.Random(seed)
    market = suite.market
    calls: list[RawCall] = []
    fills = fees = 0
    s = 0
    for g in range(-(-trades // per_taker)):
        size = min(per_taker, trades - fills)
        price = rng.randint(REFERENCE - 500, REFERENCE + 500)
        total = 0
        for _ in range(size):
            seller = sellers[s % len(sellers)]
            s += 1
            quantity = rng.randint(1, 5)
            total += quantity
            fees += 2 * fee(price * quantity, FEE_BPS)
            calls.append(
                RawCall.of(market.place_call(TOKEN_ID, Side.SELL, price, quantity), seller, ORDER_GAS)
            )
        buyer = buyers[g % len(buyers)]
        calls.append(RawCall.of(market.place_call(TOKEN_ID, Side.BUY, price, total), buyer, 40 * ORDER_GAS))
        fills += size
    return calls, fills, fees


def measure(
    trades: int = 100_000, accounts: int = 2_162, per_taker: int = 10, seed: int = 21
) -> dict[str, Any]:
    """Build the day on Anvil, index it, settle it; the figures (see the module's docstring)."""
    calendar = TradingCalendar()
    with ReplayNode(accounts=10) as node, tempfile.TemporaryDirectory() as tmp:
        chain = ChainClient.connect(node.url, compile_contracts())
        suite = deploy_local_suite(chain, Path(tmp) / "deployment.json")
        started = time.perf_counter()
        names = [f"settle-{i}" for i in range(accounts)]
        traders = _prepare(suite, names)
        half = accounts // 2
        sellers = {n: traders[n] for n in names[:half]}
        buyers = {n: traders[n] for n in names[half:]}
        per_seller = -(-trades // len(sellers))
        _fund(suite, sellers, buyers, 5 * per_seller)
        rules = Rulebook(reference_price=REFERENCE, fee_bps=FEE_BPS)
        suite.market.set_rulebook(suite.exchange, TOKEN_ID, rules)
        console.print(
            f"set-up: {accounts:,} enterprises registered, approved and funded in "
            f"{time.perf_counter() - started:.0f} s"
        )

        day_number = trading_day(next_weekday_at(chain.timestamp(), rules.open1 + 60))[0]
        calls, fills, fees = _day_calls(
            suite, list(sellers.values()), list(buyers.values()), trades, per_taker, seed
        )
        replayer = Replayer(chain)
        mark = time.perf_counter()
        signed = replayer.sign(calls)
        signing = time.perf_counter() - mark
        replayer.set_next_timestamp(cst_time(day_number, rules.open1 + 60))
        mark = time.perf_counter()
        mined = replayer.receipts(replayer.send(signed, per_block=PER_BLOCK))
        replay = time.perf_counter() - mark
        failed = [m.tx_hash for m in mined if m.status != 1]
        if failed:
            raise SystemExit(f"{len(failed)} replayed transactions reverted, e.g. {failed[:3]}")
        last_time = chain.timestamp()
        day = calendar.trading_day_of(last_time)
        if last_time >= cst_time(day_number, rules.close1):
            raise SystemExit("the replay ran past the morning session's close")
        console.print(
            f"day {day}: {len(calls):,} transactions ({fills:,} fills) signed in {signing:.0f} s, "
            f"replayed in {replay:.0f} s ({len(calls) / replay:,.0f} tx/s)"
        )
        set_chain_time(chain, calendar.close_at(day) + 60)

        engine = make_engine(f"sqlite:///{Path(tmp) / 'read.db'}")
        upgrade(engine)
        mark = time.perf_counter()
        events = Indexer(chain, suite.manifest, engine).catch_up()
        indexing = time.perf_counter() - mark
        console.print(f"indexed {events:,} events in {indexing:.0f} s ({events / indexing:,.0f} events/s)")

        contracts = {name: record.address for name, record in suite.manifest.contracts.items()}
        system = SystemAccounts(
            contracts.get("SealedBidAuction"), contracts.get("ComplianceManager"), contracts["Market"]
        )
        reports = Path(tmp) / "reports"
        result = run_day(
            engine,
            calendar,
            day,
            reports,
            chain=ledger_for(chain, contracts),
            system=system,
            require_bank=False,
        )
        if not result.balanced:
            raise SystemExit(f"the day does not balance: {result.reconciliation.differences[:5]}")
        market = result.settlement.market
        if market is None or (market.fills, market.fees_charged, market.fee_transfers) != (fills, fees, fees):
            raise SystemExit(f"settlement saw {market}, the day made {fills} fills charging {fees} fen")
        mark = time.perf_counter()
        bulletin = read_bulletin(reports, day)
        read_seconds = time.perf_counter() - mark
        everything = bulletin.row(TOKEN_ID, ALL)
        if everything is None or everything.trades != fills:
            raise SystemExit(f"the bulletin counts {everything} for {fills} fills")
        lines = len(result.settlement.lines)
        engine.dispose()
    seconds = result.seconds
    console.print(
        f"settled {fills:,} trades over {len(result.settlement.accounts):,} accounts ({lines:,} lines) in "
        f"{seconds:.1f} s: {result.timings}"
    )
    return {
        "trades": fills,
        "accounts": accounts,
        "transactions": len(calls),
        "replay_tx_per_s": round(len(calls) / replay, 1),
        "index_events_per_s": round(events / indexing, 1),
        "settle_trades_seconds": round(seconds, 2),
        "settle_stages_seconds": result.timings,
        "bulletin_seconds": result.timings["bulletin"],
        "read_bulletin_seconds": round(read_seconds, 3),
        "settle_trades_within_60_s": seconds < TARGET_SECONDS,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--trades", type=int, default=100_000, help="fills in the day (default 100,000)")
    parser.add_argument("--accounts", type=int, default=2_162, help="enterprises (default 2,162)")
    parser.add_argument("--per-taker", type=int, default=10, help="fills per taker order (default 10)")
    args = parser.parse_args()
    print(json.dumps(measure(args.trades, args.accounts, args.per_taker)))
