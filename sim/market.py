"""``ets market simulate``: one trading day of a token id from a JSON scenario, run on a local
chain's Market contract and through the reference engine (:class:`domain.market.MarketEngine`),
reported in the issue's result format.

The scenario names no sessions: the simulator lists CO2 of vintage 2027 with the rulebook's
default sessions and ``blockFrom`` at the morning open, so block trades are allowed from the
open. Events before ``{"op": "open"}`` run in the call phase (from 9:15 CST on a weekday), the
open at 9:30 submits the uncrossing, later events run in continuous trading; a scenario without
``open`` starts at 9:30 in continuous trading. After the events the book is read, the clock moves
to the afternoon close (15:00) and every open order expires (its escrow returns) before the
balances are read.

A refused event (the contract reverts, or it names a trader not in ``accounts``:
``MarketNotTrader``, refused by the simulator without a transaction) goes in ``rejected`` and
changes nothing; a block event is a proposal by the seller and an acceptance by the buyer, and a
refused acceptance is followed by the seller's cancellation, which returns the escrow.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from chain.accounts import Signer, seeded_account
from chain.compile import compile_contracts
from chain.errors import ChainError, ContractRevertError
from chain.jsonfile import load_model
from chain.market import (
    DEFAULT_PAGE,
    Trade,
    cst_time,
    day_quote,
    next_weekday_at,
    set_chain_time,
    trading_day,
)
from chain.node import AnvilNode
from chain.onboarding import register_enterprises
from chain.registry import EnterpriseProfile
from chain.suite import LocalSuite, deploy_local_suite
from chain.tx import ChainClient
from domain.codes import CREDIT_CODE_CHARSET, credit_code_check_char
from domain.errors import MarketError, MarketInputError
from domain.market import Fill, Holding, MarketEngine, Rulebook, Side
from domain.tokens import Kind, encode_id
from domain.units import UINT64_MAX, UINT256_MAX

logger = logging.getLogger(__name__)

TOKEN_ID = encode_id(Kind.ALLOWANCE, "CO2", 2027)
#: Limits of a scenario (a recorded day of the benchmark fits).
MAX_TRADERS = 500
MAX_EVENTS = 100_000
#: Error name of an event naming a trader that is not in ``accounts`` (refused before any transaction).
NOT_A_TRADER = "MarketNotTrader"
#: Gas limit of every event's transaction (no estimates: a refused one is mined and reverts).
SIM_GAS = 25_000_000
#: Seconds of wall time into the call phase after which each call-phase event first checks the
#: chain's clock is still before the open (the call phase lasts 900 s).
CALL_CHECK_AFTER = 600
#: Keys of the simulation's result, in the order they are printed.
RESULT_KEYS = ("open_price", "close_price", "trades", "rejected", "book", "balances", "fees")

Id = Annotated[int, Field(ge=1, le=UINT256_MAX)]
Uint = Annotated[int, Field(ge=0, le=UINT256_MAX)]
Name = Annotated[str, Field(min_length=1, max_length=64)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class ScenarioAccount(_Strict):
    """A trader's holdings at the start of the day: cash (fen) and allowances held from before."""

    cash: int = Field(ge=0, le=2**128 - 1)
    allowances: int = Field(ge=0, le=UINT64_MAX)


class OrderEvent(_Strict):
    """A limit order."""

    op: Literal["order"]
    id: Id
    trader: Name
    side: Literal["buy", "sell"]
    price: Uint
    quantity: Uint


class CancelEvent(_Strict):
    """A trader cancels one of its orders."""

    op: Literal["cancel"]
    id: Id
    trader: Name
    order: Uint


class OpenEvent(_Strict):
    """The open: the call auction uncrosses and continuous trading starts."""

    op: Literal["open"]


class TakeEvent(_Strict):
    """A listing take of a resting order."""

    op: Literal["take"]
    id: Id
    trader: Name
    order: Uint
    quantity: Uint


class BlockEvent(_Strict):
    """A block trade: the seller proposes, the buyer accepts."""

    op: Literal["block"]
    id: Id
    seller: Name
    buyer: Name
    price: Uint
    quantity: Uint


Event = Annotated[OrderEvent | CancelEvent | OpenEvent | TakeEvent | BlockEvent, Field(discriminator="op")]


class Scenario(_Strict):
    """One trading day to simulate (the issue's format); events in order."""

    reference_price: int = Field(ge=1, le=2**48 - 1)
    band_bps: int = Field(default=1000, ge=0, le=10_000)
    block_band_bps: int = Field(default=3000, ge=0, le=10_000)
    block_min: int = Field(default=100_000, ge=1, le=UINT64_MAX)
    fee_bps: int = Field(default=0, ge=0, le=1000)
    accounts: dict[Name, ScenarioAccount]
    events: list[Event] = Field(max_length=MAX_EVENTS)

    @model_validator(mode="after")
    def _check(self) -> Scenario:
        if len(self.accounts) > MAX_TRADERS:
            raise ValueError(f"at most {MAX_TRADERS} accounts in a simulation, got {len(self.accounts)}")
        ids = [e.id for e in self.events if not isinstance(e, OpenEvent)]
        repeated = sorted({i for i in ids if ids.count(i) > 1}) if len(set(ids)) != len(ids) else []
        if repeated:
            raise ValueError(f"event ids must be unique; repeated: {', '.join(map(str, repeated[:10]))}")
        if sum(isinstance(e, OpenEvent) for e in self.events) > 1:
            raise ValueError("at most one open event")
        return self

    @property
    def has_call(self) -> bool:
        """True if the day starts with a call phase (an ``open`` event)."""
        return any(isinstance(e, OpenEvent) for e in self.events)

    def rulebook(self) -> Rulebook:
        """The token's rulebook for the day: the scenario's figures, default sessions, block
        trades from the morning open."""
        defaults = Rulebook(reference_price=self.reference_price)
        return Rulebook(
            reference_price=self.reference_price,
            band_bps=self.band_bps,
            block_band_bps=self.block_band_bps,
            fee_bps=self.fee_bps,
            block_minimum=self.block_min,
            block_from=defaults.open1,
        )


def load_scenario(path: Path) -> Scenario:
    """Read and check a scenario file.

    Raises:
        MarketInputError: unreadable, not JSON, or not a valid scenario (every problem on one line).
    """
    return load_model(path, Scenario, MarketInputError, "scenario")


def trader_account(name: str) -> Signer:
    """Deterministic key of a simulated trader (public derivation: simulations only)."""
    return seeded_account(f"ets-market-sim:{name}")


def trader_profile(name: str) -> EnterpriseProfile:
    """A valid registry profile for a simulated trader, its credit code derived from the name."""
    digest = hashlib.sha256(name.encode()).digest()
    body = "91331000" + "".join(CREDIT_CODE_CHARSET[b % len(CREDIT_CODE_CHARSET)] for b in digest[:9])
    label = "".join(c for c in name if c.isprintable())[:40] or "trader"
    return EnterpriseProfile(
        body + credit_code_check_char(body), f"Market sim {label}", 331000, "D4411", 28_656_000, 121_420_000
    )


@dataclass
class Day:
    """A simulated day: the issue's result and what the tests compare besides it.

    Attributes:
        result: ``open_price, close_price, trades, rejected, book, balances, fees``.
        errors: event id → the error name that refused it.
        fills: every fill in execution order, with scenario ids and trader names.
    """

    result: dict[str, Any]
    errors: dict[int, str] = field(default_factory=dict)
    fills: list[Fill] = field(default_factory=list)


@dataclass(frozen=True)
class Step:
    """One event just applied on the chain: the event, its error name (None if it went through)."""

    event: OrderEvent | CancelEvent | OpenEvent | TakeEvent | BlockEvent
    error: str | None


def _result(
    open_price: int | None,
    close_price: int,
    fills: list[Fill],
    errors: Mapping[int, str],
    book: tuple[list[tuple[int, int]], list[tuple[int, int]]],
    balances: dict[str, dict[str, int]],
    fees: int,
) -> dict[str, Any]:
    return {
        "open_price": open_price,
        "close_price": close_price,
        "trades": [
            {"buy": f.buy_id, "sell": f.sell_id, "price": f.price, "quantity": f.quantity} for f in fills
        ],
        "rejected": list(errors),
        "book": {"bids": [list(level) for level in book[0]], "asks": [list(level) for level in book[1]]},
        "balances": balances,
        "fees": fees,
    }


# ---------------------------------------------------------------------- the reference


class ReferenceDay:
    """The day under the rules alone, event by event: :class:`~domain.market.MarketEngine` driven
    by the scenario's events (tests compare it with the chain after every step).

    Attributes:
        engine: the engine (its escrow, holdings and book are the reference's after each event).
        fills: every fill so far, in execution order.
        errors: event id → the error name that refused it.
    """

    def __init__(self, scenario: Scenario) -> None:
        self.scenario = scenario
        accounts = {n: Holding(a.cash, a.allowances) for n, a in scenario.accounts.items()}
        self.engine = MarketEngine(scenario.rulebook(), accounts, call_phase=scenario.has_call)
        self.fills: list[Fill] = []
        self.errors: dict[int, str] = {}

    def apply(self, event: OrderEvent | CancelEvent | OpenEvent | TakeEvent | BlockEvent) -> str | None:
        """Apply one event; returns the name of the error that refused it, or None."""
        engine = self.engine
        if isinstance(event, OpenEvent):
            self.fills += engine.open()
            return None
        try:
            if isinstance(event, OrderEvent):
                side = Side.BUY if event.side == "buy" else Side.SELL
                self.fills += engine.place(event.id, event.trader, side, event.price, event.quantity)
            elif isinstance(event, CancelEvent):
                engine.cancel(event.order, event.trader)
            elif isinstance(event, TakeEvent):
                self.fills.append(engine.take(event.id, event.trader, event.order, event.quantity))
            else:
                self.fills.append(
                    engine.block(event.id, event.seller, event.buyer, event.price, event.quantity)
                )
        except MarketError as exc:
            self.errors[event.id] = exc.contract_error
            return exc.contract_error
        return None

    def finish(self) -> Day:
        """Read the book, expire the day and report it (no event after this)."""
        engine = self.engine
        book = (engine.depth(Side.BUY), engine.depth(Side.SELL))
        engine.expire()
        holdings = engine.holdings
        balances = {
            n: {"cash": holdings[n].cash, "allowances": holdings[n].allowances}
            for n in self.scenario.accounts
        }
        result = _result(
            engine.open_price, engine.close_price, self.fills, self.errors, book, balances, engine.fees
        )
        return Day(result, dict(self.errors), list(self.fills))


def reference_day(scenario: Scenario) -> Day:
    """The whole day under the rules alone (:class:`ReferenceDay` over every event)."""
    day = ReferenceDay(scenario)
    for event in scenario.events:
        day.apply(event)
    return day.finish()


# ---------------------------------------------------------------------- on a chain


def prepare_traders(suite: LocalSuite, names: list[str]) -> dict[str, Signer]:
    """Accounts of ``names``, registered as enterprises, given gas money and the market's token
    approvals, skipping what is in place (a shared test chain prepares them once)."""
    accounts = {n: trader_account(n) for n in names}
    rpc = suite.chain.w3.provider.make_request
    for account in accounts.values():
        rpc("anvil_setBalance", [account.address, hex(10**21)])  # type: ignore[arg-type]
    register_enterprises(
        suite.registry, suite.members, [(a.address, trader_profile(n)) for n, a in accounts.items()]
    )
    for account in accounts.values():
        suite.market.ensure_approvals(account)
    return accounts


def run_day(
    suite: LocalSuite,
    scenario: Scenario,
    *,
    on_step: Callable[[Step], None] | None = None,
    page: int = DEFAULT_PAGE,
    say: Callable[[str], None] = logger.info,
) -> Day:
    """Run the scenario's day on ``suite``'s chain (Anvil: the clock is moved) and report it.

    The traders must hold nothing of the day's token and no cash yet (a fresh chain, or a
    snapshot taken before); they are prepared (:func:`prepare_traders`) and funded as the
    scenario says (cash by deposit, allowances by allocation under a raised cap).

    Args:
        on_step: called after every event (tests check the invariants there).
        page: fills per uncrossing transaction and orders per expiry transaction.
    """
    market, chain, exchange = suite.market, suite.chain, suite.exchange
    names = list(scenario.accounts)
    accounts = prepare_traders(suite, names)
    addresses = {str(a.address): n for n, a in accounts.items()}
    _fund(suite, scenario, accounts)
    rules = scenario.rulebook()
    market.set_rulebook(exchange, TOKEN_ID, rules)
    say(f"{len(names)} traders funded; CO2 2027 listed at reference {scenario.reference_price:,} fen/t")

    fee_account = market.fee_account()
    fees_before = suite.cash.balance(fee_account)
    start = rules.call_start if scenario.has_call else rules.open1
    set_chain_time(chain, next_weekday_at(chain.timestamp(), start))
    ids = _Ids()
    trades: list[Trade] = []
    errors: dict[int, str] = {}
    in_call = scenario.has_call
    started = time.monotonic()  # the chain's clock runs with the wall clock from here
    market.fixed_gas = SIM_GAS
    try:
        for event in scenario.events:
            in_call = in_call and not isinstance(event, OpenEvent)
            late = in_call and time.monotonic() - started > CALL_CHECK_AFTER
            if late and trading_day(chain.timestamp())[1] >= rules.open1:
                raise ChainError("the call phase's events took longer than the call phase (15 minutes)")
            error = _apply(suite, scenario, event, accounts, ids, trades, page)
            if error is not None and not isinstance(event, OpenEvent):
                errors[event.id] = error
            if on_step is not None:
                on_step(Step(event, error))
    finally:
        market.fixed_gas = None
    say(f"{len(scenario.events)} events: {len(trades)} fills, {len(errors)} refused")

    book = market.book(TOKEN_ID)
    now = chain.timestamp()
    set_chain_time(chain, max(now + 1, cst_time(trading_day(now)[0], rules.close2)))
    market.expire_all(exchange, TOKEN_ID, page)
    if market.holdings(TOKEN_ID) != (0, 0):
        raise ChainError(
            f"the market still holds {market.holdings(TOKEN_ID)} (allowances, cash) after expiry"
        )
    balances = {
        n: {
            "cash": int(suite.cash.balance(a.address)),
            "allowances": int(suite.allowance.balance(a.address, TOKEN_ID)),
        }
        for n, a in accounts.items()
    }
    fees = int(suite.cash.balance(fee_account)) - int(fees_before)
    quote = day_quote(trades, scenario.reference_price)
    if quote.fees != fees:
        raise ChainError(f"the fee account received {fees} fen, the trades' fees add up to {quote.fees}")
    fills = [_renamed(t.fill(addresses), ids.to_event) for t in trades]
    result = _result(
        quote.open_price, quote.close_price, fills, errors, (book.bids, book.asks), balances, fees
    )
    return Day(result, errors, fills)


def _renamed(fill: Fill, ids: Mapping[int, int]) -> Fill:
    return Fill(
        ids.get(fill.buy_id, fill.buy_id),
        ids.get(fill.sell_id, fill.sell_id),
        fill.buyer,
        fill.seller,
        fill.price,
        fill.quantity,
        fill.buyer_fee,
        fill.seller_fee,
        fill.mode,
    )


@dataclass
class _Ids:
    """Scenario ids and the chain's ids of the same orders, takes and blocks, both ways."""

    to_chain: dict[int, int] = field(default_factory=dict)
    to_event: dict[int, int] = field(default_factory=dict)

    def add(self, event_id: int, chain_id: int) -> None:
        self.to_chain[event_id] = chain_id
        self.to_event[chain_id] = event_id


def _fund(suite: LocalSuite, scenario: Scenario, accounts: Mapping[str, Signer]) -> None:
    """Deposit each trader's cash and allocate its allowances (the cap raised as needed)."""
    tag = f"market-sim {suite.chain.w3.eth.block_number}"
    for name, account in accounts.items():
        held = scenario.accounts[name]
        if suite.cash.balance(account.address) or suite.allowance.balance(account.address, TOKEN_ID):
            raise ChainError(f"trader {name!r} ({account.address}) already holds cash or allowances")
        if held.cash:
            suite.cash.deposit(suite.exchange, account.address, held.cash, f"{tag} {account.address}")
    rows = [
        (a.address, scenario.accounts[n].allowances)
        for n, a in accounts.items()
        if scenario.accounts[n].allowances
    ]
    if rows:
        allowance, regulator = suite.allowance, suite.regulator
        needed = allowance.issued(TOKEN_ID) + sum(q for _, q in rows)
        if allowance.cap(TOKEN_ID) < needed:
            allowance.set_cap(regulator, TOKEN_ID, needed)
        ref = hashlib.sha256(tag.encode()).digest()
        allowance.allocate(regulator, TOKEN_ID, [a for a, _ in rows], [q for _, q in rows], ref)


def _apply(
    suite: LocalSuite,
    scenario: Scenario,
    event: OrderEvent | CancelEvent | OpenEvent | TakeEvent | BlockEvent,
    accounts: Mapping[str, Signer],
    ids: _Ids,
    trades: list[Trade],
    page: int,
) -> str | None:
    """Send one event's transactions; returns the name of the error that refused it, or None.

    An order, take or block that an unknown id refers to is sent as id 0 (never assigned)."""
    market = suite.market
    if isinstance(event, OpenEvent):
        now = suite.chain.timestamp()
        set_chain_time(suite.chain, max(now + 1, cst_time(trading_day(now)[0], scenario.rulebook().open1)))
        for executed in market.uncross_all(suite.exchange, TOKEN_ID, page):
            trades.extend(executed.trades)
        return None
    traders = [event.seller, event.buyer] if isinstance(event, BlockEvent) else [event.trader]
    if any(t not in accounts for t in traders):
        return NOT_A_TRADER
    try:
        if isinstance(event, OrderEvent):
            side = Side.BUY if event.side == "buy" else Side.SELL
            done = market.place(accounts[event.trader], TOKEN_ID, side, event.price, event.quantity)
        elif isinstance(event, CancelEvent):
            market.cancel(accounts[event.trader], ids.to_chain.get(event.order, 0))
            return None
        elif isinstance(event, TakeEvent):
            done = market.take(accounts[event.trader], ids.to_chain.get(event.order, 0), event.quantity)
        else:
            seller = accounts[event.seller]
            block_id = market.propose_block(
                seller, TOKEN_ID, accounts[event.buyer].address, event.price, event.quantity
            )
            try:
                done = market.accept_block(accounts[event.buyer], block_id)
            except ContractRevertError:
                market.cancel_block(seller, block_id)  # the escrow goes back: the event changed nothing
                raise
    except ContractRevertError as exc:
        return exc.error
    ids.add(event.id, done.id)
    trades.extend(done.trades)
    return None


def simulate(scenario: Scenario, *, say: Callable[[str], None] = logger.info) -> dict[str, Any]:
    """Run the scenario's day on a fresh Anvil and check it against the reference engine.

    Returns:
        The issue's result object (keys :data:`RESULT_KEYS`).

    Raises:
        ChainError: the contract's day differs from the reference engine's (the first difference
            named), or the market kept escrow after expiry.
    """
    with AnvilNode(accounts=10) as node, TemporaryDirectory() as tmp:
        suite = deploy_local_suite(
            ChainClient.connect(node.url, compile_contracts()), Path(tmp) / "deployment.json"
        )
        say(f"suite deployed on a fresh chain at {node.url}")
        day = run_day(suite, scenario, say=say)
    expected = reference_day(scenario)
    for key in RESULT_KEYS:
        if day.result[key] != expected.result[key]:
            raise ChainError(
                f"contract and reference disagree on {key}: "
                f"chain {day.result[key]}, reference {expected.result[key]}"
            )
    if day.errors != expected.errors:
        raise ChainError(
            f"contract and reference refuse differently: chain {day.errors}, reference {expected.errors}"
        )
    return day.result


__all__ = [
    "TOKEN_ID",
    "Day",
    "ReferenceDay",
    "Scenario",
    "Step",
    "load_scenario",
    "prepare_traders",
    "reference_day",
    "run_day",
    "simulate",
    "trader_account",
]
