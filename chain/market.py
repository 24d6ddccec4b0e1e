"""Typed client of the Market contract (order books per token id, the opening call auction,
listing takes and block trades): one method per action, typed views, the trades from the
contract's events, the uncrossing computed off-chain, the governance wiring and the calls a
wallet signs. The trading rules themselves are :mod:`domain.market`'s."""

from __future__ import annotations

import bisect
import enum
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address
from hexbytes import HexBytes
from web3.contract.contract import ContractFunction
from web3.logs import DISCARD
from web3.types import RPCEndpoint, TxParams, TxReceipt

from chain.allowance import TokenHoldingClient
from chain.registry import RegistryClient, checked_address
from chain.tx import ChainClient
from domain.errors import InvalidInputError
from domain.market import (
    CallResult,
    Fill,
    Rulebook,
    Side,
    TradeMode,
    cst_time,
    next_weekday_at,
    trading_day,
    uncross_price,
)
from domain.units import UINT256_MAX, check_uint

logger = logging.getLogger(__name__)

#: Fills per uncrossing transaction and orders per expiry transaction unless told otherwise.
DEFAULT_PAGE = 200
#: Price levels :meth:`MarketClient.book` asks for per side (the whole book of a realistic day).
ALL_LEVELS = 10_000
#: The wallet actions of the Market contract: client name → Solidity function.
WALLET_ACTIONS: dict[str, str] = {
    "place": "placeOrder",
    "cancel": "cancelOrder",
    "take": "take",
    "propose_block": "proposeBlock",
    "accept_block": "acceptBlock",
    "decline_block": "declineBlock",
    "cancel_block": "cancelBlock",
    "uncross": "uncross",
    "expire": "expire",
    "withdraw_unclaimed": "withdrawUnclaimed",
    "set_rulebook": "setRulebook",
    "set_reference_price": "setReferencePrice",
    "halt": "halt",
    "resume": "resume",
    "force_cancel": "forceCancel",
}


# --------------------------------------------------------------------------- trading days


def set_chain_time(chain: ChainClient, timestamp: int) -> int:
    """Development chains only: mine the next block at ``timestamp``; returns the block's time."""
    rpc = chain.w3.provider.make_request
    rpc(RPCEndpoint("evm_setNextBlockTimestamp"), [int(timestamp)])
    rpc(RPCEndpoint("evm_mine"), [])
    return chain.timestamp()


# --------------------------------------------------------------------------- views


@dataclass(frozen=True)
class OrderView:
    """An order as the contract keeps it (``OrderView``); ``escrow`` is the cash a buy still holds."""

    order_id: int
    owner: str
    token_id: int
    side: Side
    price: int
    quantity: int
    remaining: int
    escrow: int
    open: bool
    call_phase: bool

    @classmethod
    def from_tuple(cls, order_id: int, t: Sequence[Any]) -> OrderView:
        return cls(
            order_id,
            to_checksum_address(t[0]),
            int(t[1]),
            Side(t[2]),
            int(t[3]),
            int(t[4]),
            int(t[5]),
            int(t[6]),
            bool(t[7]),
            bool(t[8]),
        )


class BlockStatus(enum.IntEnum):
    """Where a block proposal stands (the contract's ``BlockStatus``)."""

    NONE = 0
    PENDING = 1
    ACCEPTED = 2
    DECLINED = 3
    CANCELLED = 4
    EXPIRED = 5


@dataclass(frozen=True)
class BlockView:
    """A block trade proposal (the contract's ``BlockView``); ``day`` is its trading day."""

    block_id: int
    seller: str
    buyer: str
    token_id: int
    price: int
    quantity: int
    day: int
    status: BlockStatus

    @classmethod
    def from_tuple(cls, block_id: int, t: Sequence[Any]) -> BlockView:
        return cls(
            block_id,
            to_checksum_address(t[0]),
            to_checksum_address(t[1]),
            int(t[2]),
            int(t[3]),
            int(t[4]),
            int(t[5]),
            BlockStatus(t[6]),
        )


@dataclass(frozen=True)
class Trade:
    """One ``TradeExecuted`` event: a fill, where it happened and what it cost.

    For a take the take's id stands for the taker's side; for a block trade the block's id is
    both ``buy_id`` and ``sell_id``.
    """

    token_id: int
    buy_id: int
    sell_id: int
    buyer: str
    seller: str
    price: int
    quantity: int
    buyer_fee: int
    seller_fee: int
    mode: TradeMode
    block_number: int
    log_index: int
    tx_hash: str

    @property
    def value(self) -> int:
        return self.price * self.quantity

    def fill(self, names: Mapping[str, str] | None = None) -> Fill:
        """The trade as the reference engine's :class:`~domain.market.Fill`, its buyer and seller
        addresses renamed through ``names`` (address → trader name) when given."""
        names = names or {}
        return Fill(
            self.buy_id,
            self.sell_id,
            names.get(self.buyer, self.buyer),
            names.get(self.seller, self.seller),
            self.price,
            self.quantity,
            self.buyer_fee,
            self.seller_fee,
            self.mode,
        )


@dataclass(frozen=True)
class Executed:
    """What one transaction did: the id it created (order, take or block; 0 if none) and its fills."""

    id: int
    trades: tuple[Trade, ...]
    receipt: TxReceipt


@dataclass(frozen=True)
class Book:
    """A token id's book aggregated by price level, best first: ``[(price, quantity)]`` per side."""

    bids: list[tuple[int, int]]
    asks: list[tuple[int, int]]


@dataclass(frozen=True)
class DayQuote:
    """A trading day's figures from its listing trades (blocks are excluded from open and close)."""

    open_price: int | None
    close_price: int
    volume: int
    turnover: int
    trades: int
    block_volume: int
    fees: int


@dataclass(frozen=True)
class WalletCall:
    """A Market (or token) call for a wallet to sign through ``/tx/build``: the contract's name in
    the deployment manifest, the function and its arguments by the ABI's parameter names."""

    contract: str
    function: str
    args: dict[str, Any]


def rulebook_from_tuple(t: Sequence[Any]) -> Rulebook:
    """A :class:`~domain.market.Rulebook` from the contract's struct (same fields, same order)."""
    values: dict[str, Any] = {f.name: int(v) for f, v in zip(fields(Rulebook), t, strict=True)}
    values["governed"] = bool(values["governed"])
    return Rulebook(**values)


def _uint(value: int, what: str) -> int:
    """An argument that fits a ``uint256`` (the contract checks everything else, in its order)."""
    return check_uint(value, what, UINT256_MAX, InvalidInputError)


def day_quote(trades: Iterable[Trade], reference: int) -> DayQuote:
    """The day's open, close, volume and turnover of ``trades`` (one token id, one day, in
    execution order) under rule 8: :mod:`domain.market`'s open and close."""
    from domain.market import vwap_close

    listed = [t for t in trades if t.mode is not TradeMode.BLOCK]
    blocks = [t for t in trades if t.mode is TradeMode.BLOCK]
    return DayQuote(
        open_price=listed[0].price if listed else None,
        close_price=vwap_close(((t.price, t.quantity) for t in listed), reference),
        volume=sum(t.quantity for t in listed),
        turnover=sum(t.value for t in listed),
        trades=len(listed),
        block_volume=sum(t.quantity for t in blocks),
        fees=sum(t.buyer_fee + t.seller_fee for t in [*listed, *blocks]),
    )


# --------------------------------------------------------------------------- the client


class MarketClient(TokenHoldingClient):
    """Client of one deployed Market (with the token clients it escrows and settles in).

    Actions are signed by a service key (``LocalAccount``); every action also has a ``*_call``
    form (the bound contract function, for wallets and pipelined senders) and :meth:`wallet_call`
    names it for ``/tx/build``.

    Attributes:
        fixed_gas: when set (bulk work on a local chain: simulations), actions are sent with this
            gas limit and no estimate; a refused one is mined, reverts, and its error is replayed
            from the block before (exact when each transaction has its own block: Anvil's automine).
    """

    CONTRACT = "Market"
    fixed_gas: int | None = None

    # ------------------------------------------------------------------ calls (unsent)

    def set_rulebook_call(self, token_id: int, rules: Rulebook) -> ContractFunction:
        return self.contract.functions.setRulebook(_uint(token_id, "token id"), rules.as_tuple())

    def set_reference_price_call(self, token_id: int, price: int) -> ContractFunction:
        return self.contract.functions.setReferencePrice(_uint(token_id, "token id"), _uint(price, "price"))

    def halt_call(self, token_id: int, reason: str) -> ContractFunction:
        return self.contract.functions.halt(_uint(token_id, "token id"), reason)

    def resume_call(self, token_id: int) -> ContractFunction:
        return self.contract.functions.resume(_uint(token_id, "token id"))

    def place_call(self, token_id: int, side: Side, price: int, quantity: int) -> ContractFunction:
        return self.contract.functions.placeOrder(
            _uint(token_id, "token id"), int(Side(side)), _uint(price, "price"), _uint(quantity, "quantity")
        )

    def cancel_call(self, order_id: int) -> ContractFunction:
        return self.contract.functions.cancelOrder(_uint(order_id, "order id"))

    def take_call(self, order_id: int, quantity: int) -> ContractFunction:
        return self.contract.functions.take(_uint(order_id, "order id"), _uint(quantity, "quantity"))

    def propose_block_call(self, token_id: int, buyer: str, price: int, quantity: int) -> ContractFunction:
        return self.contract.functions.proposeBlock(
            _uint(token_id, "token id"),
            checked_address(buyer, "buyer"),
            _uint(price, "price"),
            _uint(quantity, "quantity"),
        )

    def accept_block_call(self, block_id: int) -> ContractFunction:
        return self.contract.functions.acceptBlock(_uint(block_id, "block id"))

    def decline_block_call(self, block_id: int) -> ContractFunction:
        return self.contract.functions.declineBlock(_uint(block_id, "block id"))

    def cancel_block_call(self, block_id: int) -> ContractFunction:
        return self.contract.functions.cancelBlock(_uint(block_id, "block id"))

    def uncross_call(self, token_id: int, price: int, max_fills: int) -> ContractFunction:
        return self.contract.functions.uncross(
            _uint(token_id, "token id"), _uint(price, "price"), _uint(max_fills, "fills per page")
        )

    def expire_call(self, token_id: int, max_orders: int) -> ContractFunction:
        return self.contract.functions.expire(
            _uint(token_id, "token id"), _uint(max_orders, "orders per page")
        )

    def force_cancel_call(self, order_id: int) -> ContractFunction:
        return self.contract.functions.forceCancel(_uint(order_id, "order id"))

    def withdraw_unclaimed_call(self, token_id: int) -> ContractFunction:
        return self.contract.functions.withdrawUnclaimed(_uint(token_id, "token id"))

    def build(self, call: ContractFunction, sender: str) -> TxParams:
        """The unsigned transaction of ``call`` from ``sender`` (gas estimated from its address).

        Raises:
            ContractRevertError: the call would revert now (decoded custom error).
        """
        return self.chain.build(call, checked_address(sender, "sender"))

    def wallet_call(self, action: str, *args: Any) -> WalletCall:
        """The ``/tx/build`` request of a market action (a key of :data:`WALLET_ACTIONS`) with
        the client method's arguments, checked the same way, named by the ABI's parameters.

        Raises:
            InvalidInputError: unknown action or an argument that does not fit.
        """
        if action not in WALLET_ACTIONS:
            raise InvalidInputError(f"unknown market action {action!r}; known: {', '.join(WALLET_ACTIONS)}")
        fn: ContractFunction = getattr(self, f"{action}_call")(*args)
        values = [_jsonable(v) for v in fn.args]
        return WalletCall(
            self.CONTRACT, WALLET_ACTIONS[action], dict(zip(self._names(fn), values, strict=True))
        )

    def _names(self, fn: ContractFunction) -> list[str]:
        """The parameter names of ``fn``: the implementation's ABI, or the interface's (``IMarket``)
        where the implementation leaves them unnamed."""
        names = [str(p["name"]) for p in fn.abi["inputs"]]
        interface = self.chain.artifacts.get("IMarket")
        if all(names) or interface is None:
            return names
        types = [p["type"] for p in fn.abi["inputs"]]
        for entry in interface.abi:
            if entry.get("name") == fn.fn_name and [p["type"] for p in entry["inputs"]] == types:
                return [str(p["name"]) or n for p, n in zip(entry["inputs"], names, strict=True)]
        return names

    def approval_calls(self, account: str) -> list[WalletCall]:
        """The token approvals ``account`` still lacks to trade (cash allowance and operator
        approval of the allowance token), as ``/tx/build`` requests; empty when it has both."""
        account = checked_address(account, "account")
        calls = []
        if self.cash.contract.functions.allowance(account, self.address).call() < UINT256_MAX // 2:
            calls.append(
                WalletCall("SettlementToken", "approve", {"spender": self.address, "value": UINT256_MAX})
            )
        if not self.allowance.contract.functions.isApprovedForAll(account, self.address).call():
            calls.append(
                WalletCall(
                    "AllowanceToken", "setApprovalForAll", {"operator": self.address, "approved": True}
                )
            )
        return calls

    # ------------------------------------------------------------------ actions

    def _send(self, fn: ContractFunction, account: LocalAccount) -> TxReceipt:
        if self.fixed_gas is None:
            return self.chain.transact(fn, account)
        [tx_hash] = self.chain.send_many([(fn, account)], gas=self.fixed_gas)
        return self.chain.wait(tx_hash)

    def set_rulebook(self, exchange: LocalAccount, token_id: int, rules: Rulebook) -> TxReceipt:
        """List ``token_id`` (or change its rulebook); EXCHANGE role."""
        return self._send(self.set_rulebook_call(token_id, rules), exchange)

    def set_reference_price(self, agent: LocalAccount, token_id: int, price: int) -> TxReceipt:
        """Post ``token_id``'s reference price; only the settlement agent (with EXCHANGE role) may."""
        return self._send(self.set_reference_price_call(token_id, price), agent)

    def halt(self, exchange: LocalAccount, token_id: int, reason: str) -> TxReceipt:
        """Halt ``token_id``, or every token id with ``token_id`` 0 (the market-wide halt)."""
        return self._send(self.halt_call(token_id, reason), exchange)

    def resume(self, exchange: LocalAccount, token_id: int) -> TxReceipt:
        """Resume ``token_id``, or end the market-wide halt with ``token_id`` 0."""
        return self._send(self.resume_call(token_id), exchange)

    def place(self, trader: LocalAccount, token_id: int, side: Side, price: int, quantity: int) -> Executed:
        """Place a limit order; returns its id and the fills it made at once."""
        receipt = self._send(self.place_call(token_id, side, price, quantity), trader)
        placed = self.contract.events.OrderPlaced().process_receipt(receipt, errors=DISCARD)
        return Executed(int(placed[0]["args"]["orderId"]), tuple(self.trades_in(receipt)), receipt)

    def cancel(self, trader: LocalAccount, order_id: int) -> TxReceipt:
        return self._send(self.cancel_call(order_id), trader)

    def take(self, trader: LocalAccount, order_id: int, quantity: int) -> Executed:
        """Fill ``quantity`` of a resting order at its price; returns the take's id and its fill."""
        receipt = self._send(self.take_call(order_id, quantity), trader)
        trades = tuple(self.trades_in(receipt))
        take_id = trades[0].buy_id if trades[0].sell_id == order_id else trades[0].sell_id
        return Executed(take_id, trades, receipt)

    def propose_block(
        self, seller: LocalAccount, token_id: int, buyer: str, price: int, quantity: int
    ) -> int:
        """Propose a block trade to ``buyer`` (escrows the seller's allowances); returns its id."""
        receipt = self._send(self.propose_block_call(token_id, buyer, price, quantity), seller)
        proposed = self.contract.events.BlockProposed().process_receipt(receipt, errors=DISCARD)
        return int(proposed[0]["args"]["blockId"])

    def accept_block(self, buyer: LocalAccount, block_id: int) -> Executed:
        """Accept a block trade addressed to ``buyer``: it executes at once (DvP)."""
        receipt = self._send(self.accept_block_call(block_id), buyer)
        return Executed(block_id, tuple(self.trades_in(receipt)), receipt)

    def decline_block(self, buyer: LocalAccount, block_id: int) -> TxReceipt:
        return self._send(self.decline_block_call(block_id), buyer)

    def cancel_block(self, seller: LocalAccount, block_id: int) -> TxReceipt:
        return self._send(self.cancel_block_call(block_id), seller)

    def uncross(self, sender: LocalAccount, token_id: int, price: int, max_fills: int) -> Executed:
        """One page of the opening uncrossing at ``price`` (0 when nothing crosses)."""
        receipt = self._send(self.uncross_call(token_id, price, max_fills), sender)
        return Executed(0, tuple(self.trades_in(receipt)), receipt)

    def expire(self, sender: LocalAccount, token_id: int, max_orders: int) -> int:
        """Expire up to ``max_orders`` of the day's open orders (and pending blocks); returns how
        many remain."""
        fn = self.expire_call(token_id, max_orders)
        remaining = int(self.chain.call(fn, sender=sender.address))
        self._send(fn, sender)
        return remaining

    def force_cancel(self, exchange: LocalAccount, order_id: int) -> TxReceipt:
        return self._send(self.force_cancel_call(order_id), exchange)

    def withdraw_unclaimed(self, account: LocalAccount, token_id: int) -> TxReceipt:
        """Pull escrow credited while ``account`` was suspended (token id 0: cash)."""
        return self._send(self.withdraw_unclaimed_call(token_id), account)

    def ensure_approvals(self, account: LocalAccount) -> list[str]:
        """Approve the market for ``account``'s cash (max) and allowances (operator), skipping what
        is in place; returns what was done."""
        done = []
        for call in self.approval_calls(account.address):
            token = self.cash if call.contract == "SettlementToken" else self.allowance
            fn = getattr(token.contract.functions, call.function)(*call.args.values())
            self.chain.transact(fn, account)
            done.append(f"{call.contract}.{call.function}")
        return done

    # ------------------------------------------------------------------ the opening auction

    def call_book(self, token_id: int) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        """The current call book of ``token_id`` from the events: orders placed in the call phase
        since the token's last uncrossing, less those cancelled or expired, with their original
        quantities (what the uncrossing price is computed on); ``(bids, asks)`` as (price, quantity)."""
        events = self.contract.events
        uncrossed = events.CallUncrossed().get_logs(
            from_block=self.from_block, argument_filters={"tokenId": token_id}
        )
        start = max([int(e["blockNumber"]) + 1 for e in uncrossed], default=self.from_block)
        placed = events.OrderPlaced().get_logs(from_block=start, argument_filters={"tokenId": token_id})
        gone = {
            int(e["args"]["orderId"])
            for name in ("OrderCancelled", "OrderExpired")
            for e in getattr(events, name)().get_logs(from_block=start)
        }
        bids: list[tuple[int, int]] = []
        asks: list[tuple[int, int]] = []
        for e in placed:
            args = e["args"]
            if args["callPhase"] and int(args["orderId"]) not in gone:
                side = bids if Side(args["side"]) is Side.BUY else asks
                side.append((int(args["price"]), int(args["quantity"])))
        return bids, asks

    def compute_uncross(self, token_id: int) -> CallResult:
        """The uncrossing the contract expects (:func:`domain.market.uncross_price` over the call
        book and the token's reference price); price 0 when nothing crosses."""
        bids, asks = self.call_book(token_id)
        rules = self.rulebook(token_id)
        return uncross_price(bids, asks, rules.reference_price) if rules else CallResult(0, 0)

    def uncross_all(
        self, sender: LocalAccount, token_id: int, page: int = DEFAULT_PAGE, *, price: int | None = None
    ) -> list[Executed]:
        """Submit the uncrossing (computed unless ``price`` is given) in pages of ``page`` fills
        until the book opens; nothing when no call is pending."""
        if not self.call_pending(token_id):
            return []
        if price is None:
            price = self.compute_uncross(token_id).price
        pages = []
        while True:
            pages.append(self.uncross(sender, token_id, price, page))
            if not self.call_pending(token_id):
                logger.info(
                    "call uncrossed", extra={"token_id": token_id, "price": price, "pages": len(pages)}
                )
                return pages

    def expire_all(self, sender: LocalAccount, token_id: int, page: int = DEFAULT_PAGE) -> int:
        """Expire the day's open orders and pending blocks in pages; returns the transactions sent."""
        sent = 0
        while True:
            remaining = self.expire(sender, token_id, page)
            sent += 1
            if remaining == 0:
                return sent

    # ------------------------------------------------------------------ views

    def rulebook(self, token_id: int) -> Rulebook | None:
        """The rulebook of ``token_id``; None when it is not listed."""
        rules = rulebook_from_tuple(self.chain.call(self.contract.functions.rulebook(token_id)))
        return rules if rules.reference_price else None

    def is_halted(self, token_id: int) -> bool:
        """Whether ``token_id`` is halted, by its own halt or the market-wide one (0: the latter)."""
        return bool(self.contract.functions.isHalted(token_id).call())

    def band(self, token_id: int) -> tuple[int, int]:
        lower, upper = self.contract.functions.band(token_id).call()
        return int(lower), int(upper)

    def block_band(self, token_id: int) -> tuple[int, int]:
        lower, upper = self.contract.functions.blockBand(token_id).call()
        return int(lower), int(upper)

    def order(self, order_id: int) -> OrderView:
        return OrderView.from_tuple(order_id, self.chain.call(self.contract.functions.order(order_id)))

    def depth(self, token_id: int, side: Side, levels: int = 5) -> list[tuple[int, int]]:
        """``[(price, quantity)]`` of the best ``levels`` price levels of one side, best first."""
        prices, quantities = self.chain.call(self.contract.functions.depth(token_id, int(Side(side)), levels))
        return [(int(p), int(q)) for p, q in zip(prices, quantities, strict=True)]

    def book(self, token_id: int, levels: int = ALL_LEVELS) -> Book:
        return Book(self.depth(token_id, Side.BUY, levels), self.depth(token_id, Side.SELL, levels))

    def sellable(self, account: str, token_id: int) -> int:
        return int(self.contract.functions.sellable(checked_address(account), token_id).call())

    def bought_today(self, account: str, token_id: int) -> int:
        return int(self.contract.functions.boughtToday(checked_address(account), token_id).call())

    def open_orders_of(self, account: str, token_id: int, side: Side) -> list[int]:
        ids = self.contract.functions.openOrdersOf(checked_address(account), token_id, int(Side(side))).call()
        return [int(i) for i in ids]

    def block_proposal(self, block_id: int) -> BlockView:
        return BlockView.from_tuple(
            block_id, self.chain.call(self.contract.functions.blockProposal(block_id))
        )

    def book_state(self, token_id: int) -> tuple[int, int]:
        """``(open orders + pending blocks, the trading day they belong to)`` of ``token_id``."""
        items, day = self.contract.functions.bookState(token_id).call()
        return int(items), int(day)

    def next_id(self) -> int:
        """The id the next order, take or block proposal gets."""
        return int(self.contract.functions.nextId().call())

    def call_pending(self, token_id: int) -> bool:
        return bool(self.contract.functions.callPending(token_id).call())

    def trading_day(self) -> tuple[int, int]:
        """The contract's ``(day, time of day)`` at the latest block."""
        day, tod = self.contract.functions.tradingDay().call()
        return int(day), int(tod)

    def fee_account(self) -> str:
        return to_checksum_address(self.contract.functions.feeAccount().call())

    def settlement_agent(self) -> str:
        """The one account the market takes reference prices from (zero address until set)."""
        return to_checksum_address(self.contract.functions.settlementAgent().call())

    def market_halted(self) -> bool:
        """Whether the market-wide halt (``halt(0, reason)``) is on."""
        return self.is_halted(0)

    def position_of(self, account: str, token_id: int) -> tuple[int, int]:
        """``(position, limit)`` of ``account`` in ``token_id`` under the position-limit rule:
        balance plus open buy orders' remaining (counted while a limit is set); limit 0 = none."""
        position, limit = self.contract.functions.positionOf(checked_address(account), token_id).call()
        return int(position), int(limit)

    def unclaimed(self, account: str, token_id: int) -> int:
        return int(self.contract.functions.unclaimed(checked_address(account), token_id).call())

    def holdings(self, token_id: int) -> tuple[int, int]:
        """(allowances of ``token_id``, settlement cash) the market holds in escrow."""
        return self.allowance.balance(self.address, token_id), self.cash.balance(self.address)

    # ------------------------------------------------------------------ events

    def trades_in(self, receipt: TxReceipt) -> list[Trade]:
        """The fills of one transaction, in execution order."""
        return [
            _trade(e) for e in self.contract.events.TradeExecuted().process_receipt(receipt, errors=DISCARD)
        ]

    def trades(
        self, token_id: int, from_block: int | None = None, to_block: int | str = "latest"
    ) -> list[Trade]:
        """Every fill of ``token_id`` in the block range, in execution order."""
        logs = self.contract.events.TradeExecuted().get_logs(
            from_block=self.from_block if from_block is None else from_block,
            to_block=to_block,
            argument_filters={"tokenId": token_id},
        )
        return sorted((_trade(e) for e in logs), key=lambda t: (t.block_number, t.log_index))

    def trades_of_day(self, token_id: int, day: int | None = None) -> list[Trade]:
        """The fills of ``token_id`` on trading day ``day`` (CST; today by default)."""
        day = self.trading_day()[0] if day is None else day
        trades = self.trades(token_id)
        blocks = sorted({t.block_number for t in trades})
        days: dict[int, int] = {}

        def day_of(index: int) -> int:  # block times never decrease: bisect, reading few blocks
            number = blocks[index]
            if number not in days:
                days[number] = trading_day(int(self.chain.w3.eth.get_block(number)["timestamp"]))[0]
            return days[number]

        first = bisect.bisect_left(range(len(blocks)), day, key=day_of)
        last = bisect.bisect_right(range(len(blocks)), day, key=day_of)
        chosen = set(blocks[first:last])
        return [t for t in trades if t.block_number in chosen]

    def events(self, name: str, from_block: int | None = None, **filters: Any) -> list[dict[str, Any]]:
        """Every ``name`` event (e.g. ``OrderPlaced``), optionally filtered by indexed arguments:
        ``{"block", "index", "tx_hash", "args"}`` in chain order."""
        logs = getattr(self.contract.events, name)().get_logs(
            from_block=self.from_block if from_block is None else from_block, argument_filters=filters or None
        )
        rows = [
            {
                "block": int(e["blockNumber"]),
                "index": int(e["logIndex"]),
                "tx_hash": HexBytes(e["transactionHash"]).to_0x_hex(),
                "args": {k: _jsonable(v) for k, v in e["args"].items()},
            }
            for e in logs
        ]
        return sorted(rows, key=lambda r: (r["block"], r["index"]))


def _trade(event: Any) -> Trade:
    a = event["args"]
    return Trade(
        token_id=int(a["tokenId"]),
        buy_id=int(a["buyId"]),
        sell_id=int(a["sellId"]),
        buyer=to_checksum_address(a["buyer"]),
        seller=to_checksum_address(a["seller"]),
        price=int(a["price"]),
        quantity=int(a["quantity"]),
        buyer_fee=int(a["buyerFee"]),
        seller_fee=int(a["sellerFee"]),
        mode=TradeMode(a["mode"]),
        block_number=int(event["blockNumber"]),
        log_index=int(event["logIndex"]),
        tx_hash=HexBytes(event["transactionHash"]).to_0x_hex(),
    )


def _jsonable(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray)):
        return "0x" + bytes(value).hex()
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, str) and value.startswith("0x") and len(value) == 42:
        return to_checksum_address(value)
    return int(value) if isinstance(value, int) and not isinstance(value, bool) else value


def wire_market(
    registry: RegistryClient,
    members: Sequence[LocalAccount],
    market: MarketClient,
    fee_account: str,
    *,
    settlement_agent: str,
) -> list[str]:
    """Governance set-up of the market, skipping what is already in place.

    The market may hold allowances and cash (a system contract of both tokens), is the allowance
    token's market (so the token can ask it what each holder bought today: the T+1 lock), pays
    fees to ``fee_account`` (the exchange's account: it must be an active participant) and takes
    reference prices from ``settlement_agent`` alone (the key the settlement service signs with;
    it must hold an active EXCHANGE role to post).

    Returns:
        What was done, one line per governance proposal executed.
    """
    done: list[str] = []
    address = market.address
    fee_account = checked_address(fee_account, "fee account")
    for token in (market.allowance.contract, market.cash.contract):
        if not token.functions.isSystemContract(address).call():
            registry.govern_call(
                members, token.functions.setSystemContract(address, True), "market may hold this token"
            )
            done.append(f"{token.address}: Market allowed as a system contract")
    token = market.allowance.contract
    if token.functions.market().call() != address:
        registry.govern_call(members, token.functions.setMarket(address), "set the allowance token's market")
        done.append("AllowanceToken: market set")
    if market.fee_account() != fee_account:
        registry.govern_call(
            members, market.contract.functions.setFeeAccount(fee_account), "set the market's fee account"
        )
        done.append(f"Market: fee account {fee_account}")
    agent = checked_address(settlement_agent, "settlement agent")
    if market.settlement_agent() != agent:
        registry.govern_call(
            members, market.contract.functions.setSettlementAgent(agent), "set the market's settlement agent"
        )
        done.append(f"Market: settlement agent {agent}")
    return done


__all__ = [
    "WALLET_ACTIONS",
    "BlockStatus",
    "BlockView",
    "Book",
    "DayQuote",
    "Executed",
    "MarketClient",
    "OrderView",
    "Trade",
    "WalletCall",
    "cst_time",
    "day_quote",
    "next_weekday_at",
    "rulebook_from_tuple",
    "set_chain_time",
    "trading_day",
    "wire_market",
]
