"""Factories for Market contract tests: the market wired on a suite (system contract of both
tokens, the allowance token's market, the fee account), a listed token id, registered and funded
traders with their approvals, the chain's clock put on a CST weekday, and the holdings the
conservation checks compare."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from eth_account.signers.local import LocalAccount
from web3.contract.contract import Contract
from web3.logs import DISCARD
from web3.types import RPCEndpoint, TxReceipt

from chain.accounts import dev_account
from chain.onboarding import register_enterprises
from chain.registry import RegistryClient
from chain.suite import LocalSuite
from chain.tx import ChainClient
from domain.tokens import Kind, encode_id
from tests.utils.chain import profile

CO2_2027 = encode_id(Kind.ALLOWANCE, "CO2", 2027)
BUY, SELL = 0, 1
CALL, CONTINUOUS, TAKE, BLOCK = 0, 1, 2, 3
MAX_UINT = 2**256 - 1

DAY = 86_400
CST_OFFSET = 8 * 3600
#: Times of day (CST seconds) of the default rulebook.
CALL_START, OPEN1, CLOSE1, OPEN2, CLOSE2 = 33_300, 34_200, 41_400, 46_800, 54_000
MORNING = 36_000  # 10:00, continuous trading
CALL_PHASE = 33_600  # 9:20
AFTERNOON = 50_400  # 14:00, blocks allowed
LUNCH = 43_200  # 12:00
EVENING = 57_600  # 16:00, after the close
EARLY = 30_000  # 8:20, before the call phase

#: Traders of the market tests (Anvil accounts unused by the suite's roles and other modules).
TRADERS = [dev_account(i) for i in (28, 29, 30, 31, 38)]
#: The exchange's fee account (granted EXCHANGE so it may hold cash).
FEE_ACCOUNT = dev_account(37)
CASH = 10**12  # fen per trader
ALLOWANCES = 1_000_000  # tonnes per trader


def rulebook(reference: int = 5_000, **overrides: int) -> tuple[int, ...]:
    """The Rulebook tuple (defaults of the issue, fee 0) with fields overridable by name."""
    fields: dict[str, int] = {
        "referencePrice": reference,
        "bandBps": 1_000,
        "blockBandBps": 3_000,
        "feeBps": 0,
        "blockMinimum": 100_000,
        "callStart": CALL_START,
        "open1": OPEN1,
        "close1": CLOSE1,
        "open2": OPEN2,
        "close2": CLOSE2,
        "blockFrom": OPEN2,
        "positionLimit": 0,
        "positionLimitBps": 0,
        "governed": 0,
    }
    unknown = overrides.keys() - fields.keys()
    if unknown:
        raise KeyError(f"unknown rulebook fields {sorted(unknown)}")
    fields.update(overrides)
    fields["governed"] = bool(fields["governed"])  # the ABI's bool
    return tuple(fields.values())


def market_contract(suite: LocalSuite) -> Contract:
    """The deployed Market (its ABI includes the functions run in MarketOperations)."""
    return suite.chain.contract("Market", suite.manifest.address("Market"))


def wire_market(
    registry: RegistryClient,
    members: Sequence[LocalAccount],
    market: Contract,
    allowance: Contract,
    cash: Contract,
    fee_account: str,
    settlement_agent: str | None = None,
) -> list[str]:
    """Governance set-up of the market, skipping what is in place: a system contract of both
    tokens, the allowance token's market (T+1 lock), the fee account (granted EXCHANGE when it
    has no role, so it may hold cash), the settlement agent (the poster of reference prices; the
    suite's exchange by default). Returns what was done."""
    done: list[str] = []
    for token in (allowance, cash):
        if not token.functions.isSystemContract(market.address).call():
            registry.govern_call(members, token.functions.setSystemContract(market.address, True), "market")
            done.append(f"{token.address}: market allowed as a system contract")
    if allowance.functions.market().call() != market.address:
        registry.govern_call(members, allowance.functions.setMarket(market.address), "set the market")
        done.append("AllowanceToken: market set")
    if not registry.is_active_participant(fee_account):
        registry.grant_roles(members, [("EXCHANGE", fee_account)], "exchange fee account")
        done.append(f"fee account {fee_account} granted EXCHANGE")
    if market.functions.feeAccount().call() != fee_account:
        registry.govern_call(members, market.functions.setFeeAccount(fee_account), "fee account")
        done.append("Market: fee account set")
    agent = settlement_agent or members[1].address
    if market.functions.settlementAgent().call() != agent:
        registry.govern_call(members, market.functions.setSettlementAgent(agent), "settlement agent")
        done.append("Market: settlement agent set")
    return done


# ---------------------------------------------------------------------- time


def trading_day(timestamp: int) -> tuple[int, int]:
    """(day, time of day) in CST as the contract counts them."""
    shifted = timestamp + CST_OFFSET
    return shifted // DAY, shifted % DAY


def set_time(chain: ChainClient, timestamp: int) -> int:
    """Mine the next block at ``timestamp`` (Anvil); returns it."""
    rpc = chain.w3.provider.make_request
    rpc(RPCEndpoint("evm_setNextBlockTimestamp"), [int(timestamp)])
    rpc(RPCEndpoint("evm_mine"), [])
    return chain.timestamp()


def next_weekday_at(chain: ChainClient, time_of_day: int, *, skip_days: int = 0) -> int:
    """Move the clock to ``time_of_day`` (CST) of the first weekday after the last block (later
    today if still ahead), ``skip_days`` weekdays further on; returns the trading day."""
    now = chain.timestamp()
    day, _ = trading_day(now)
    left = skip_days
    while True:
        target = day * DAY + time_of_day - CST_OFFSET
        if (day + 3) % 7 < 5 and target > now:
            if left == 0:
                break
            left -= 1
        day += 1
    set_time(chain, target)
    return day


def later_today(chain: ChainClient, time_of_day: int) -> None:
    """Move the clock to ``time_of_day`` of the current trading day (must be ahead)."""
    day, tod = trading_day(chain.timestamp())
    assert time_of_day > tod, f"{time_of_day} is not later than {tod}"
    set_time(chain, day * DAY + time_of_day - CST_OFFSET)


def weekend_day(chain: ChainClient, time_of_day: int) -> int:
    """Move the clock to ``time_of_day`` of the next Saturday; returns the day."""
    now = chain.timestamp()
    day, _ = trading_day(now)
    day += 1
    while (day + 3) % 7 != 5:
        day += 1
    set_time(chain, day * DAY + time_of_day - CST_OFFSET)
    return day


# ---------------------------------------------------------------------- the rig


@dataclass
class Rig:
    """A wired market with a listed token id and funded traders."""

    suite: LocalSuite
    market: Contract
    traders: list[LocalAccount]
    fee_account: LocalAccount
    token_id: int = CO2_2027
    orders: list[int] = field(default_factory=list)

    @property
    def chain(self) -> ChainClient:
        return self.suite.chain

    def send(self, fn: Any, account: LocalAccount) -> TxReceipt:
        return self.chain.transact(fn, account)

    def events(self, receipt: TxReceipt, name: str) -> list[dict[str, Any]]:
        event = getattr(self.market.events, name)()
        return [dict(e["args"]) for e in event.process_receipt(receipt, errors=DISCARD)]

    # -- actions ---------------------------------------------------------------

    def place(
        self, trader: LocalAccount, side: int, price: int, quantity: int, token_id: int | None = None
    ) -> int:
        """Place an order; returns its id."""
        receipt = self.send(
            self.market.functions.placeOrder(
                self.token_id if token_id is None else token_id, side, price, quantity
            ),
            trader,
        )
        order_id = int(self.events(receipt, "OrderPlaced")[0]["orderId"])
        self.orders.append(order_id)
        return order_id

    def place_receipt(self, trader: LocalAccount, side: int, price: int, quantity: int) -> TxReceipt:
        """Place an order; returns the receipt (its id is recorded like :meth:`place`'s)."""
        receipt = self.send(self.market.functions.placeOrder(self.token_id, side, price, quantity), trader)
        self.orders.append(int(self.events(receipt, "OrderPlaced")[0]["orderId"]))
        return receipt

    def cancel(self, trader: LocalAccount, order_id: int) -> TxReceipt:
        return self.send(self.market.functions.cancelOrder(order_id), trader)

    def take(self, trader: LocalAccount, order_id: int, quantity: int) -> TxReceipt:
        return self.send(self.market.functions.take(order_id, quantity), trader)

    def propose(self, seller: LocalAccount, buyer: str, price: int, quantity: int) -> int:
        fn = self.market.functions.proposeBlock(self.token_id, buyer, price, quantity)
        receipt = self.send(fn, seller)
        return int(self.events(receipt, "BlockProposed")[0]["blockId"])

    def accept(self, buyer: LocalAccount, block_id: int) -> TxReceipt:
        return self.send(self.market.functions.acceptBlock(block_id), buyer)

    def uncross(self, sender: LocalAccount, price: int, max_fills: int = 0) -> TxReceipt:
        return self.send(self.market.functions.uncross(self.token_id, price, max_fills), sender)

    def expire(self, sender: LocalAccount, max_orders: int = 0) -> TxReceipt:
        return self.send(self.market.functions.expire(self.token_id, max_orders), sender)

    def set_rules(self, rules: tuple[int, ...], token_id: int | None = None) -> TxReceipt:
        fn = self.market.functions.setRulebook(self.token_id if token_id is None else token_id, rules)
        return self.send(fn, self.suite.exchange)

    # -- views -----------------------------------------------------------------

    def order(self, order_id: int) -> dict[str, Any]:
        keys = ("owner", "tokenId", "side", "price", "quantity", "remaining", "escrow", "open", "callPhase")
        return dict(zip(keys, self.market.functions.order(order_id).call(), strict=True))

    def depth(self, side: int, levels: int = 0) -> list[tuple[int, int]]:
        prices, quantities = self.market.functions.depth(self.token_id, side, levels).call()
        return list(zip(prices, quantities, strict=True))

    def cash(self, account: str) -> int:
        return int(self.suite.cash.contract.functions.balanceOf(account).call())

    def allowances(self, account: str, token_id: int | None = None) -> int:
        return int(
            self.suite.allowance.contract.functions.balanceOf(
                account, self.token_id if token_id is None else token_id
            ).call()
        )

    def holdings(self) -> dict[str, tuple[int, int]]:
        """(cash, allowances) of every trader, the fee account and the market."""
        accounts: dict[str, str] = {t.address: t.address for t in self.traders}
        accounts["fee"] = self.fee_account.address
        accounts["market"] = self.market.address
        return {name: (self.cash(a), self.allowances(a)) for name, a in accounts.items()}

    def escrow(self) -> tuple[int, int]:
        """(cash, allowances) the open orders and pending blocks of the token should hold."""
        cash = allowances = 0
        for order_id in self.orders:
            o = self.order(order_id)
            if o["open"]:
                if o["side"] == BUY:
                    cash += o["escrow"]
                else:
                    allowances += o["remaining"]
        return cash, allowances


def build_rig(
    suite: LocalSuite,
    *,
    traders: Sequence[LocalAccount] = TRADERS,
    cash: int = CASH,
    allowances: int = ALLOWANCES,
    rules: tuple[int, ...] | None = None,
    seed: int = 800,
) -> Rig:
    """Wire the market on ``suite``, list CO2 2027 with ``rules``, register the traders, fund each
    with ``cash`` fen and ``allowances`` tonnes, and approve the market for both tokens."""
    market = market_contract(suite)
    c = suite
    wire_market(
        c.registry,
        c.members,
        market,
        c.allowance.contract,
        c.cash.contract,
        FEE_ACCOUNT.address,
        c.exchange.address,
    )
    rows = [(t.address, profile(seed + i)) for i, t in enumerate(traders)]
    register_enterprises(c.registry, c.members, rows, batch_size=8)
    if c.allowance.cap(CO2_2027) < len(traders) * allowances:
        c.allowance.set_cap(c.regulator, CO2_2027, c.allowance.issued(CO2_2027) + len(traders) * allowances)
    c.allowance.allocate(
        c.regulator,
        CO2_2027,
        [t.address for t in traders],
        [allowances] * len(traders),
        bytes([seed % 256]) * 32,
    )
    for i, t in enumerate(traders):
        c.cash.deposit(c.exchange, t.address, cash, f"market-test-{seed}-{i}")
        c.cash.approve(t, market.address, MAX_UINT)
        c.chain.transact(c.allowance.contract.functions.setApprovalForAll(market.address, True), t)
    rig = Rig(suite=suite, market=market, traders=list(traders), fee_account=FEE_ACCOUNT)
    rig.set_rules(rules or rulebook())
    return rig


def module_rig(suite: Any, **kwargs: Any) -> Iterator[Rig]:
    """A module fixture's body: :func:`build_rig` on the session consortium, rolled back after."""
    snapshot = suite.snapshot()
    try:
        yield build_rig(suite, **kwargs)
    finally:
        suite.revert(snapshot)


def fresh_rig(base: Rig) -> Iterator[Rig]:
    """A test fixture's body: ``base`` with every change of the test rolled back after."""
    suite: Any = base.suite
    snapshot = suite.snapshot()
    try:
        yield replace(base, orders=[])
    finally:
        suite.revert(snapshot)
