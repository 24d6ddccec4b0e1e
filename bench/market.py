"""Benchmark: the exchange market's figures for issue 20's closing note.

- ``trade_gas``: a taker order that fills one resting order (the mean of the medians of 5 taker
  buys and 5 taker sells, in a mid-day state: both traders have traded the token today, every
  balance involved is non-zero);
  ``trade_gas_10``: one taker order filling 10 resting orders queued at one price, per fill;
  ``place_gas``: a resting order that does not cross (median: mostly joining an existing level);
  ``cancel_gas``: cancelling one (median).
- ``dvp_floor_gas``: a plain OpenZeppelin ERC-1155 ``safeTransferFrom`` plus a plain ERC-20
  ``transfer`` (contracts/test/PlainERC1155.sol, PlainERC20.sol) measured in the same run.
- ``uncross_gas_per_order``: the whole paged uncrossing of a call book of 100, 1,000 and 10,000
  call orders (40 traders, overlapping buy and sell ladders), total gas / call orders.
- ``replay_orders`` / ``replay_orders_per_s``: a recorded trading day (sim/market_day.py: 40
  enterprises, a call phase, continuous trading, cancels, takes, a lunch break, block trades in
  the afternoon) replayed end to end on Anvil, pre-signed, many transactions a block
  (chain/replay.py): wall time from the first send to the last receipt, the uncrossing included.
  The chain's trades, book, refusals and (after expiry) balances must equal the reference engine's.
- ``engine_orders_per_s``: domain.market.MarketEngine on the same day.
- Issue 21's figures, from the modules beside this one (each also runs alone):
  ``settle_trades_seconds`` and ``bulletin_seconds`` (bench/market_settle.py: a settlement day of
  100,000 trades over 2,162 accounts replayed on Anvil, indexed, settled, reconciled, reported)
  and ``screen_update_ms`` (bench/market_screen.py: an order placed in one browser, the fill
  seen on another browser's trading floor, median).

The fee is the recorded day's (5 bps per side) everywhere, so a measured trade pays both fees.

Run: python bench/market.py [--orders 20000] [--quick] [--no-operations] [--save-day day.json]
[--gas-only] (last line: JSON; ``--gas-only``: the single actions' and the floor's gas alone, on a
fresh chain, for working on the contracts)
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import random
import statistics
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from eth_account.signers.local import LocalAccount
from rich.console import Console
from rich.progress import Progress
from web3.types import TxReceipt

from chain.accounts import dev_account
from chain.allowance import bank_reference
from chain.compile import compile_contracts
from chain.errors import ChainError
from chain.market import MarketClient, Trade, cst_time, next_weekday_at, set_chain_time, trading_day
from chain.replay import Mined, RawCall, Replayer, ReplayNode
from chain.suite import LocalSuite, deploy_local_suite
from chain.tx import ChainClient
from domain.errors import MarketRuleError
from domain.market import Fill, Holding, MarketEngine, Rulebook, Side
from domain.tokens import Kind, encode_id
from sim.market import TOKEN_ID as REPLAY_TOKEN
from sim.market import prepare_traders
from sim.market_day import (
    CASH_PER_TRADER,
    DayPlan,
    MarketDay,
    apply_event,
    engine_for,
    generate_day,
    rulebook_of,
)

console = Console(stderr=True)
GAS_TOKEN = encode_id(Kind.ALLOWANCE, "CO2", 2026)
FEE_FREE_TOKEN = encode_id(Kind.ALLOWANCE, "CO2", 2025)
UNCROSS_SIZES = (100, 1_000, 10_000)
UNCROSS_TOKENS = {size: encode_id(Kind.ALLOWANCE, "CO2", 2028 + i) for i, size in enumerate(UNCROSS_SIZES)}
REFERENCE = 9_850
FEE_BPS = DayPlan().fee_bps
PER_BLOCK = 250
ROUNDS = 10
#: Gas limits of the pre-signed transactions (generous: a reverted one still mines).
ORDER_GAS, FILL_GAS, CANCEL_GAS, TAKE_GAS, BLOCK_GAS = 20_000_000, 300_000, 5_000_000, 5_000_000, 5_000_000


def gas(receipt: TxReceipt) -> int:
    return int(receipt["gasUsed"])


def fund(
    suite: LocalSuite,
    accounts: Mapping[str, LocalAccount],
    token_id: int,
    allowances: Mapping[str, int],
    cash: Mapping[str, int] | None = None,
) -> None:
    """Deposit ``cash`` and allocate ``allowances`` of ``token_id`` (the cap raised to fit)."""
    tag = f"bench-market {token_id} {suite.chain.w3.eth.block_number}"
    if cash:
        deposit = suite.cash.contract.functions.deposit
        calls = [
            (deposit(accounts[n].address, amount, bank_reference(f"{tag} {n}")), suite.exchange)
            for n, amount in cash.items()
        ]
        suite.chain.send_packed(calls, gas=200_000)
    rows = [(accounts[n].address, q) for n, q in allowances.items() if q]
    allowance = suite.allowance
    needed = allowance.issued(token_id) + sum(q for _, q in rows)
    if allowance.cap(token_id) < needed:
        allowance.set_cap(suite.regulator, token_id, needed)
    for start in range(0, len(rows), 100):
        part = rows[start : start + 100]
        ref = bank_reference(f"{tag} allocation {start}")
        allowance.allocate(suite.regulator, token_id, [a for a, _ in part], [q for _, q in part], ref)


# --------------------------------------------------------------------------- the recorded day


def replay_day(
    suite: LocalSuite, accounts: Mapping[str, LocalAccount], day: MarketDay, progress: Progress
) -> dict[str, float]:
    """Replay ``day`` on the chain (pre-signed, many a block) and run it through the engine;
    check they agree; returns the figures."""
    market, chain = suite.market, suite.chain
    events = day.events
    orders = day.count("order")

    # the engine on the same day (timed); each event's fills, None if refused
    engine = engine_for(day.scenario)
    outcome: list[list[Fill] | None] = []
    started = time.perf_counter()
    for event in events:
        try:
            outcome.append(apply_event(engine, event))
        except MarketRuleError:
            outcome.append(None)
    engine_seconds = time.perf_counter() - started
    engine_book = (engine.depth(Side.BUY), engine.depth(Side.SELL))
    engine_fills = [f for fills in outcome if fills for f in fills]
    console.print(
        f"engine: {orders:,} orders ({len(events):,} events, {len(engine_fills):,} fills) in "
        f"{engine_seconds:.2f} s: {orders / engine_seconds:,.0f} orders/s"
    )

    # scenario ids → the contract's ids: one counter, bumped by every order, take and block
    # proposal that goes through (a refused one reverts and takes none)
    next_id = market.next_id()
    to_chain: dict[int, int] = {}
    for event, fills in zip(events, outcome, strict=True):
        if event["op"] in ("order", "take", "block") and fills is not None:
            to_chain[int(event["id"])] = next_id
            next_id += 1
    to_event = {c: e for e, c in to_chain.items()}

    segments: list[list[RawCall]] = [[], [], []]  # call phase, morning, afternoon
    kinds: list[list[str]] = [[], [], []]  # what each call is, for the gas spread
    refused: set[int] = set()  # positions (over all segments) expected to revert
    segment = 0 if any(e["op"] == "open" for e in events) else 1
    for position, (event, fills) in enumerate(zip(events, outcome, strict=True)):
        if event["op"] == "open":
            segment = 1
            continue
        if position >= day.afternoon_from:
            segment = 2
        calls = _calls_for(market, accounts, event, fills, to_chain)
        if fills is None:
            refused.add(sum(len(s) for s in segments))
        segments[segment] += calls
        kinds[segment] += [_kind(event, fills)] if len(calls) == 1 else ["block proposal", "block acceptance"]
    total = sum(len(s) for s in segments)

    replayer = Replayer(chain)
    task = progress.add_task(f"signing {total:,} transactions", total=total)
    signed = replayer.sign([c for s in segments for c in s], on_progress=lambda n: progress.advance(task, n))
    progress.remove_task(task)
    raws = [
        signed[: len(segments[0])],
        signed[len(segments[0]) : total - len(segments[2])],
        signed[total - len(segments[2]) :],
    ]

    rules = rulebook_of(day.scenario)
    day_number = trading_day(next_weekday_at(chain.timestamp(), rules.call_start))[0]
    task = progress.add_task(f"replaying {total:,} transactions", total=total)
    advance: Callable[[int], None] = lambda n: progress.advance(task, n)  # noqa: E731
    fee_account = market.fee_account()
    fees_before = suite.cash.balance(fee_account)
    first_block = chain.w3.eth.block_number + 1
    started = time.perf_counter()
    hashes: list[str] = []
    if raws[0]:
        replayer.set_next_timestamp(cst_time(day_number, rules.call_start))
        hashes += replayer.send(raws[0], per_block=PER_BLOCK, on_progress=advance)
    set_chain_time(chain, cst_time(day_number, rules.open1))
    pages = market.uncross_all(suite.exchange, REPLAY_TOKEN)
    hashes += replayer.send(raws[1], per_block=PER_BLOCK, on_progress=advance)
    replayer.set_next_timestamp(max(chain.timestamp() + 1, cst_time(day_number, rules.open2)))
    hashes += replayer.send(raws[2], per_block=PER_BLOCK, on_progress=advance)
    mined = replayer.receipts(hashes)
    seconds = time.perf_counter() - started
    progress.remove_task(task)
    blocks = len({m.block for m in mined})
    console.print(
        f"replay: {orders:,} orders in {total:,} transactions + {len(pages)} uncrossing page(s), "
        f"{blocks} blocks ({total / blocks:,.0f} tx a block), {seconds:.1f} s: "
        f"{orders / seconds:,.0f} orders/s, {total / seconds:,.0f} tx/s"
    )

    limits = [c.gas for segment in segments for c in segment]
    by_kind: dict[str, list[int]] = {}
    for kind, m in zip([k for ks in kinds for k in ks], mined, strict=True):
        by_kind.setdefault(kind, []).append(m.gas_used)
    spread = ", ".join(
        f"{kind} {statistics.median(used):,.0f} (×{len(used):,}, highest {max(used):,})"
        for kind, used in sorted(by_kind.items())
    )
    console.print(f"replay gas by kind, median: {spread}; limits {min(limits):,}..{max(limits):,}")
    _check_replay(
        suite, accounts, day, mined, limits, refused, to_event, engine_fills, engine_book, first_block
    )
    now = chain.timestamp()
    set_chain_time(chain, max(now + 1, cst_time(trading_day(now)[0], rules.close2)))
    market.expire_all(suite.exchange, REPLAY_TOKEN)
    engine.expire()
    _check_balances(suite, accounts, engine.holdings, REPLAY_TOKEN)
    if market.holdings(REPLAY_TOKEN) != (0, 0):
        raise RuntimeError(f"the market holds {market.holdings(REPLAY_TOKEN)} after the day's expiry")
    fees = suite.cash.balance(fee_account) - fees_before
    if fees != engine.fees:
        raise RuntimeError(f"the fee account received {fees} fen, the engine's fees are {engine.fees}")
    console.print("replay: trades, refusals, book and balances after expiry equal the engine's")
    return {"seconds": seconds, "engine_seconds": engine_seconds, "orders": orders, "transactions": total}


def _kind(event: Mapping[str, Any], fills: list[Fill] | None) -> str:
    if event["op"] != "order":
        return str(event["op"])
    if fills is None:
        return "order refused"
    return "order filling" if fills else "order resting"


def _calls_for(
    market: MarketClient,
    accounts: Mapping[str, LocalAccount],
    event: Mapping[str, Any],
    fills: list[Fill] | None,
    to_chain: Mapping[int, int],
) -> list[RawCall]:
    op = event["op"]
    if op == "order":
        side = Side.BUY if event["side"] == "buy" else Side.SELL
        fn = market.place_call(REPLAY_TOKEN, side, event["price"], event["quantity"])
        return [RawCall.of(fn, accounts[event["trader"]], ORDER_GAS + FILL_GAS * len(fills or []))]
    if op == "cancel":
        return [
            RawCall.of(market.cancel_call(to_chain[event["order"]]), accounts[event["trader"]], CANCEL_GAS)
        ]
    if op == "take":
        fn = market.take_call(to_chain[event["order"]], event["quantity"])
        return [RawCall.of(fn, accounts[event["trader"]], TAKE_GAS)]
    if op == "block":
        seller, buyer = accounts[event["seller"]], accounts[event["buyer"]]
        propose = market.propose_block_call(REPLAY_TOKEN, buyer.address, event["price"], event["quantity"])
        accept = market.accept_block_call(to_chain[event["id"]])
        return [RawCall.of(propose, seller, BLOCK_GAS), RawCall.of(accept, buyer, BLOCK_GAS)]
    raise ValueError(f"no transaction for event {event}")


def _check_replay(
    suite: LocalSuite,
    accounts: Mapping[str, LocalAccount],
    day: MarketDay,
    mined: Sequence[Mined],
    limits: Sequence[int],
    refused: set[int],
    to_event: Mapping[int, int],
    engine_fills: Sequence[Fill],
    engine_book: tuple[list[tuple[int, int]], list[tuple[int, int]]],
    first_block: int,
) -> None:
    failed = {i for i, m in enumerate(mined) if m.status != 1}
    if failed != refused:
        why = []
        for i in sorted(failed - refused)[:3]:
            if mined[i].gas_used >= limits[i]:
                why.append(f"#{i}: out of gas ({limits[i]:,})")
                continue
            try:
                suite.chain.wait(mined[i].tx_hash)
            except ChainError as exc:
                why.append(f"#{i}: {exc} ({mined[i].gas_used:,} gas used)")
        raise RuntimeError(
            f"the chain refused transactions {sorted(failed - refused)[:10]} the engine took, and took "
            f"{sorted(refused - failed)[:10]} it refused; {'; '.join(why)}"
        )
    names = {str(a.address): n for n, a in accounts.items()}
    chain_fills = [_as_fill(t, names, to_event) for t in suite.market.trades(REPLAY_TOKEN, first_block)]
    if chain_fills != list(engine_fills):
        first = next(
            (i for i, (a, b) in enumerate(zip(chain_fills, engine_fills, strict=False)) if a != b),
            min(len(chain_fills), len(engine_fills)),
        )
        raise RuntimeError(
            f"{len(chain_fills)} fills on chain, {len(engine_fills)} in the engine; first difference at "
            f"{first}: chain {chain_fills[first : first + 1]}, engine {list(engine_fills[first : first + 1])}"
        )
    book = suite.market.book(REPLAY_TOKEN)
    if (book.bids, book.asks) != engine_book:
        raise RuntimeError(f"the chain's book differs from the engine's: {book} vs {engine_book}")


def _as_fill(trade: Trade, names: Mapping[str, str], to_event: Mapping[int, int]) -> Fill:
    fill = trade.fill(names)
    return fill._replace(
        buy_id=to_event.get(fill.buy_id, fill.buy_id), sell_id=to_event.get(fill.sell_id, fill.sell_id)
    )


def _check_balances(
    suite: LocalSuite, accounts: Mapping[str, LocalAccount], expected: Mapping[str, Holding], token_id: int
) -> None:
    for name, account in accounts.items():
        held = Holding(
            suite.cash.balance(account.address), suite.allowance.balance(account.address, token_id)
        )
        if held != expected[name]:
            raise RuntimeError(f"{name}: the chain holds {held}, the engine {expected[name]}")


# --------------------------------------------------------------------------- the opening uncrossing


def call_book(size: int, names: Sequence[str], seed: int) -> list[tuple[str, Side, int, int]]:
    """``size`` call orders: each trader has a split price near the reference, buys at or below
    it and sells above it (never crossing itself), so traders' ladders overlap."""
    rng = random.Random(seed)
    split = {n: REFERENCE + rng.randint(-40, 40) for n in names}
    orders = []
    for i in range(size):
        name = names[i % len(names)]
        side = Side.BUY if (i // len(names)) % 2 == 0 else Side.SELL
        offset = rng.randint(0, 60)
        price = split[name] - offset if side is Side.BUY else split[name] + 1 + offset
        orders.append((name, side, price, rng.randint(1, 500)))
    return orders


def uncross_runs(
    suite: LocalSuite,
    accounts: Mapping[str, LocalAccount],
    sizes: Sequence[int],
    day_number: int,
    progress: Progress,
) -> dict[int, dict[str, int]]:
    """Place each size's call book (pre-signed, many a block) in the call phase, then uncross
    each at the open; the price and the fills are checked against the engine."""
    market, chain = suite.market, suite.chain
    names = list(accounts)
    rules = Rulebook(reference_price=REFERENCE, fee_bps=FEE_BPS)
    books = {size: call_book(size, names, seed=size) for size in sizes}
    calls = []
    for size in sizes:
        token = UNCROSS_TOKENS[size]
        market.set_rulebook(suite.exchange, token, rules)
        sells = {n: sum(q for m, s, _, q in books[size] if m == n and s is Side.SELL) for n in names}
        fund(suite, accounts, token, sells)
        calls += [
            RawCall.of(market.place_call(token, side, price, quantity), accounts[name], ORDER_GAS)
            for name, side, price, quantity in books[size]
        ]
    replayer = Replayer(chain)
    signed = replayer.sign(calls)
    task = progress.add_task(f"placing {len(calls):,} call orders", total=len(calls))
    replayer.set_next_timestamp(cst_time(day_number, rules.call_start))
    mined = replayer.receipts(
        replayer.send(signed, per_block=PER_BLOCK, on_progress=lambda n: progress.advance(task, n))
    )
    progress.remove_task(task)
    if any(m.status != 1 for m in mined):
        raise RuntimeError(f"{sum(m.status != 1 for m in mined)} call orders were refused")
    set_chain_time(chain, cst_time(day_number, rules.open1))
    results = {}
    for size in sizes:
        token = UNCROSS_TOKENS[size]
        engine = MarketEngine(rules, {n: Holding(10**15, 10**12) for n in names}, call_phase=True)
        for i, (name, side, price, quantity) in enumerate(books[size]):
            engine.place(i + 1, name, side, price, quantity)
        fills = engine.open()
        expected = market.compute_uncross(token)
        if (expected.price, expected.volume) != (engine.open_price, sum(f.quantity for f in fills)):
            raise RuntimeError(
                f"{size} call orders: the client computes {expected}, the engine {engine.open_price}"
            )
        pages = market.uncross_all(suite.auditor, token)
        trades = [t for p in pages for t in p.trades]
        if len(trades) != len(fills) or any(t.price != expected.price for t in trades):
            raise RuntimeError(
                f"{size} call orders: {len(trades)} fills on chain, {len(fills)} in the engine"
            )
        total = sum(gas(p.receipt) for p in pages)
        results[size] = {"gas": total, "pages": len(pages), "fills": len(fills)}
        console.print(
            f"uncross {size:>6,} call orders: price {expected.price}, volume {expected.volume:,}, "
            f"{len(fills):,} fills, {len(pages)} page(s), {total:,} gas ({total / size:,.0f} per order)"
        )
    return results


# --------------------------------------------------------------------------- single actions


def single_actions(suite: LocalSuite, accounts: Mapping[str, LocalAccount]) -> dict[str, float]:
    """Gas of a one-fill trade, a ten-fill trade, a resting placement and a cancel on a token
    in continuous trading, in a mid-day state (every trader has bought and sold it today)."""
    market = suite.market
    names = list(accounts)
    traders = [accounts[n] for n in names]
    market.set_rulebook(suite.exchange, GAS_TOKEN, Rulebook(reference_price=REFERENCE, fee_bps=FEE_BPS))
    fund(suite, accounts, GAS_TOKEN, dict.fromkeys(names, 1_000_000))
    r = REFERENCE

    def trade(
        maker: LocalAccount, taker: LocalAccount, maker_side: Side, quantity: int, token: int = GAS_TOKEN
    ) -> tuple[int, int]:
        placed = market.place(maker, token, maker_side, r, quantity)
        taker_side = Side.SELL if maker_side is Side.BUY else Side.BUY
        taken = market.place(taker, token, taker_side, r, quantity)
        if len(taken.trades) != 1:
            raise RuntimeError(f"the taker order made {len(taken.trades)} fills, not 1")
        return gas(placed.receipt), gas(taken.receipt)

    for i, maker in enumerate(traders):  # warm-up: everyone buys and sells the token once
        taker = traders[(i + 1) % len(traders)]
        trade(maker, taker, Side.SELL, 50)
        trade(maker, taker, Side.BUY, 50)
    one: dict[Side, list[int]] = {Side.SELL: [], Side.BUY: []}  # taker gas by the maker's side
    new_level = []
    for k in range(ROUNDS):
        maker, taker = traders[(2 * k) % len(traders)], traders[(2 * k + 1) % len(traders)]
        side = Side.SELL if k % 2 == 0 else Side.BUY
        placed, taken = trade(maker, taker, side, 100)
        one[side].append(taken)
        new_level.append(placed)
    ten: list[float] = []
    sweep: list[float] = []
    for k in range(ROUNDS // 2):
        makers = [traders[(k + j) % len(traders)] for j in range(10)]
        taker = traders[(k + 10) % len(traders)]
        for m in makers:
            market.place(m, GAS_TOKEN, Side.SELL, r, 10)
        swept = market.place(taker, GAS_TOKEN, Side.BUY, r, 100)
        if len(swept.trades) != 10:
            raise RuntimeError(f"the taker order made {len(swept.trades)} fills, not 10")
        ten.append(gas(swept.receipt) / 10)
        for j, m in enumerate(makers):  # ten levels, one order each
            market.place(m, GAS_TOKEN, Side.SELL, r + j, 10)
        swept = market.place(taker, GAS_TOKEN, Side.BUY, r + 9, 100)
        if len(swept.trades) != 10:
            raise RuntimeError(f"the sweeping order made {len(swept.trades)} fills, not 10")
        sweep.append(gas(swept.receipt) / 10)
    placed_ids, place = [], []
    for j in range(80):  # 8 levels a side, 5 orders each: mostly joining a level
        trader = traders[j % len(traders)]
        side = Side.BUY if j % 2 == 0 else Side.SELL
        price = r - 100 - (j // 2) % 8 if side is Side.BUY else r + 100 + (j // 2) % 8
        done = market.place(trader, GAS_TOKEN, side, price, 10)
        placed_ids.append((trader, done.id))
        place.append(gas(done.receipt))
    cancel = [gas(market.cancel(trader, order_id)) for trader, order_id in placed_ids]
    # the same one-fill trade without fees (one transfer fewer), for comparison only
    market.set_rulebook(suite.exchange, FEE_FREE_TOKEN, Rulebook(reference_price=REFERENCE, fee_bps=0))
    fund(suite, accounts, FEE_FREE_TOKEN, dict.fromkeys(names[:4], 1_000_000))
    for i in range(4):
        trade(traders[i], traders[(i + 1) % 4], Side.SELL, 50, FEE_FREE_TOKEN)
        trade(traders[i], traders[(i + 1) % 4], Side.BUY, 50, FEE_FREE_TOKEN)
    fee_free = [
        trade(traders[k % 4], traders[(k + 1) % 4], Side.SELL if k % 2 else Side.BUY, 100, FEE_FREE_TOKEN)[1]
        for k in range(4)
    ]
    figures = {
        # a taker buying and a taker selling weigh alike: the mean of the two medians
        "trade_gas": (statistics.median(one[Side.SELL]) + statistics.median(one[Side.BUY])) / 2,
        "trade_gas_10": statistics.median(ten),
        "place_gas": statistics.median(place),
        "cancel_gas": statistics.median(cancel),
    }
    console.print(
        f"trade (1 fill): taker buys {statistics.median(one[Side.SELL]):,.0f} gas, taker sells "
        f"{statistics.median(one[Side.BUY]):,.0f}; 10 fills at one price {figures['trade_gas_10']:,.0f} "
        f"a fill, sweeping 10 levels {statistics.median(sweep):,.0f} a fill; place at a new level "
        f"{statistics.median(new_level):,.0f}, joining a level {figures['place_gas']:,.0f}; cancel "
        f"{figures['cancel_gas']:,.0f}; a one-fill trade without fees {statistics.median(fee_free):,.0f}"
    )
    return figures


def dvp_floor(chain: ChainClient) -> float:
    """Median gas of a plain OpenZeppelin ERC-1155 ``safeTransferFrom`` plus that of a plain
    ERC-20 ``transfer``, each its own transaction.

    State, as in the measured trade: the recipients already hold a balance (the buyer holds
    allowances of the token id before it buys, the seller holds cash before it sells) and the
    senders keep one, so every balance written goes from non-zero to non-zero."""
    deployer, sender, receiver = dev_account(5), dev_account(6), dev_account(7)
    erc1155_address, _ = chain.deploy("PlainERC1155", [], deployer)
    erc20_address, _ = chain.deploy("PlainERC20", [], deployer)
    erc1155 = chain.contract("PlainERC1155", erc1155_address)
    erc20 = chain.contract("PlainERC20", erc20_address)
    token = int(GAS_TOKEN)
    for holder, amount in ((sender, 10**9), (receiver, 1)):
        chain.transact(erc1155.functions.mint(holder.address, token, amount), deployer)
        chain.transact(erc20.functions.mint(holder.address, amount), deployer)
    transfers_1155 = [
        gas(
            chain.transact(
                erc1155.functions.safeTransferFrom(sender.address, receiver.address, token, 100, b""), sender
            )
        )
        for _ in range(ROUNDS)
    ]
    transfers_20 = [
        gas(chain.transact(erc20.functions.transfer(receiver.address, 985_000), sender))
        for _ in range(ROUNDS)
    ]
    floor = statistics.median(transfers_1155) + statistics.median(transfers_20)
    console.print(
        f"DvP floor: ERC-1155 safeTransferFrom {statistics.median(transfers_1155):,.0f} + ERC-20 transfer "
        f"{statistics.median(transfers_20):,.0f} = {floor:,.0f} gas"
    )
    return floor


# --------------------------------------------------------------------------- main


def operations(quick: bool) -> dict[str, object]:
    """Issue 21's figures from bench/market_settle.py and bench/market_screen.py (loaded by path:
    bench/ is not a package, and its api.py would shadow the project's ``api``)."""
    figures: dict[str, object] = {}
    for name, kwargs in (
        ("market_settle", {"trades": 10_000, "accounts": 300} if quick else {}),
        ("market_screen", {"rounds": 10} if quick else {}),
    ):
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name(f"{name}.py"))
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        figures.update(module.measure(**kwargs))
    return {
        "settle_trades_seconds": figures["settle_trades_seconds"],
        "bulletin_seconds": figures["bulletin_seconds"],
        "screen_update_ms": figures["screen_update_ms"],
        "settle_trades_within_60_s": figures["settle_trades_within_60_s"],
        "screen_update_within_1000_ms": int(str(figures["screen_update_ms"])) < 1000,
    }


def main(
    orders: int = 20_000, sizes: Sequence[int] = UNCROSS_SIZES, save_day: Path | None = None
) -> dict[str, object]:
    started = time.perf_counter()
    day = generate_day(DayPlan(orders=orders))
    if save_day is not None:
        console.print(f"recorded day written to {day.save(save_day)} (ets market simulate reads it)")
    console.print(
        f"recorded day: {day.count('order'):,} orders, {day.count('cancel'):,} cancels, "
        f"{day.count('take'):,} takes, {day.count('block')} blocks, "
        f"{len(day.self_trades)} self-trades sent on purpose, "
        f"{len(day.accounts)} enterprises (generated in {time.perf_counter() - started:.1f} s)"
    )
    with ReplayNode(accounts=10) as node, tempfile.TemporaryDirectory() as tmp:
        chain = ChainClient.connect(node.url, compile_contracts())
        suite = deploy_local_suite(chain, Path(tmp) / "deployment.json")
        names = list(day.accounts)
        with Progress(console=console, transient=True) as progress:
            accounts = prepare_traders(suite, names)
            fund(
                suite, accounts, REPLAY_TOKEN,
                {n: a["allowances"] for n, a in day.accounts.items()},
                {n: a["cash"] for n, a in day.accounts.items()},
            )  # fmt: skip
            suite.market.set_rulebook(suite.exchange, REPLAY_TOKEN, rulebook_of(day.scenario))
            console.print(f"set-up: {len(names)} enterprises registered, approved and funded")
            replay = replay_day(suite, accounts, day, progress)

            # the next trading day: call books for the uncrossing, then single actions
            fund(suite, accounts, GAS_TOKEN, {}, dict.fromkeys(names, CASH_PER_TRADER))
            day_number = trading_day(next_weekday_at(chain.timestamp(), Rulebook(1).call_start))[0]
            uncross = uncross_runs(suite, accounts, sizes, day_number, progress)
            singles = single_actions(suite, accounts)
        floor = dvp_floor(chain)

    per_order: dict[str, float | None] = {
        str(size): (round(uncross[size]["gas"] / size, 1) if size in uncross else None)
        for size in UNCROSS_SIZES
    }
    replay_rate = replay["orders"] / replay["seconds"]
    engine_rate = replay["orders"] / replay["engine_seconds"]
    small, large = per_order["100"], per_order["10000"]
    return {
        "trade_gas": singles["trade_gas"],
        "trade_gas_10": round(singles["trade_gas_10"], 1),
        "place_gas": singles["place_gas"],
        "cancel_gas": singles["cancel_gas"],
        "dvp_floor_gas": floor,
        "uncross_gas_per_order": per_order,
        "replay_orders": int(replay["orders"]),
        "replay_orders_per_s": round(replay_rate, 1),
        "engine_orders_per_s": round(engine_rate),
        "trade_gas_within_1_25_floor": singles["trade_gas"] <= 1.25 * floor,
        "uncross_10000_within_1_5_of_100": (large <= 1.5 * small) if small and large else None,
        "replay_at_least_150_per_s": replay_rate >= 150,
        "engine_at_least_50000_per_s": engine_rate >= 50_000,
    }


def gas_only() -> dict[str, object]:
    """The single actions' gas and the DvP floor alone (12 traders on a fresh chain, the clock
    set to a weekday's continuous session)."""
    names = [f"gas-{i}" for i in range(12)]
    with ReplayNode(accounts=10) as node, tempfile.TemporaryDirectory() as tmp:
        chain = ChainClient.connect(node.url, compile_contracts())
        suite = deploy_local_suite(chain, Path(tmp) / "deployment.json")
        accounts = prepare_traders(suite, names)
        fund(suite, accounts, GAS_TOKEN, {}, dict.fromkeys(names, CASH_PER_TRADER))
        set_chain_time(chain, next_weekday_at(chain.timestamp(), Rulebook(1).open1 + 600))
        singles = single_actions(suite, accounts)
        floor = dvp_floor(chain)
    return {
        **singles,
        "dvp_floor_gas": floor,
        "trade_gas_ratio": round(singles["trade_gas"] / floor, 3),
        "trade_gas_within_1_25_floor": singles["trade_gas"] <= 1.25 * floor,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--orders", type=int, default=None, help="orders in the recorded day (default 20,000)"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="a smoke run: a 2,000-order day, call books of 100 and 1,000 only",
    )
    parser.add_argument("--save-day", type=Path, default=None, help="also write the recorded day (JSON)")
    parser.add_argument(
        "--no-operations", action="store_true", help="skip issue 21's settlement and screen figures"
    )
    parser.add_argument(
        "--gas-only", action="store_true", help="only the single actions' gas and the DvP floor"
    )
    options = parser.parse_args()
    if options.gas_only:
        print(json.dumps(gas_only()))
        raise SystemExit(0)
    figures = main(
        orders=options.orders or (2_000 if options.quick else 20_000),
        sizes=UNCROSS_SIZES[:2] if options.quick else UNCROSS_SIZES,
        save_day=options.save_day,
    )
    if not options.no_operations:
        figures.update(operations(options.quick))
    for key, value in figures.items():
        if key.endswith(("_floor", "_of_100", "_per_s", "_60_s", "_1000_ms")) and value is False:
            console.print(f"[bold red]target missed: {key}[/]")
    print(json.dumps(figures))
