"""The read model: tables the indexer fills from contract events and the API reads.

Every on-chain fact enters through ``events`` (one row per log, arguments as JSON) and the
projections kept beside it (participants, holdings, auctions ...), so any view can be rebuilt
from the event log. Time ordering is ``(block_time, block_number, log_index)`` everywhere:
block times never decrease along the chain, so one index answers both "in this window" and
"in chain order". Quantities are whole units in ``BigInteger`` (int64): allowances in tonnes
and cash in fen fit with room to spare; the indexer refuses a value that does not.

API-side state (SIWE nonces, sessions, transaction intents) lives in the same database so that
several stateless API processes can share it.
"""

from __future__ import annotations

from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

#: Integer primary keys: BIGINT on PostgreSQL, INTEGER (the rowid alias) on SQLite.
RowId = BigInteger().with_variant(Integer(), "sqlite")

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base with stable constraint names (Alembic compares them)."""

    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        int: BigInteger(),
        dict[str, Any]: JSON(),
        list[Any]: JSON(),
    }


Address = String(42)
Hash = String(66)


# ---------------------------------------------------------------------- indexer bookkeeping


class Meta(Base):
    """Identity of the deployment this read model belongs to (chain id, registry address)."""

    __tablename__ = "meta"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


#: ``Checkpoint.name`` of the event indexer (settlement and the dashboard read how far it got).
CHECKPOINT = "events"


class Checkpoint(Base):
    """Last block a follower has fully indexed, with its hash (a reset chain is detected)."""

    __tablename__ = "checkpoints"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    block_number: Mapped[int]
    block_hash: Mapped[str] = mapped_column(Hash)
    updated_at: Mapped[int]


# ---------------------------------------------------------------------- the event log


def event_id(block_number: int, log_index: int) -> int:
    """An event's id: its position on the chain, ``block_number << 20 | log_index`` (stable
    across rebuilds, known before the insert, so bulk loads need no ``RETURNING``)."""
    return block_number << 20 | log_index


class Event(Base):
    """One contract event, in chain order; ``id`` is :func:`event_id`."""

    __tablename__ = "events"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    block_number: Mapped[int]
    log_index: Mapped[int] = mapped_column(Integer)
    block_time: Mapped[int]
    tx_hash: Mapped[str] = mapped_column(Hash)
    contract: Mapped[str] = mapped_column(String(40))
    name: Mapped[str] = mapped_column(String(40))
    args: Mapped[dict[str, Any]]
    token_id: Mapped[int | None]
    device: Mapped[str | None] = mapped_column(Address)
    __table_args__ = (
        UniqueConstraint("block_number", "log_index"),
        Index("ix_events_time", "block_time", "block_number", "log_index"),
        Index("ix_events_token", "token_id", "block_time", "block_number", "log_index"),
        Index("ix_events_device", "device", "block_time", "block_number", "log_index"),
        Index("ix_events_kind", "contract", "name", "block_time"),
    )


class EventParty(Base):
    """An account an event concerns (sender, recipient, enterprise, bidder ...): the audit
    trail's index by account."""

    __tablename__ = "event_parties"
    account: Mapped[str] = mapped_column(Address, primary_key=True)
    block_time: Mapped[int] = mapped_column(primary_key=True)
    block_number: Mapped[int] = mapped_column(primary_key=True)
    log_index: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int]


# ---------------------------------------------------------------------- registry


class Participant(Base):
    """An account with a role or an enterprise profile."""

    __tablename__ = "participants"
    address: Mapped[str] = mapped_column(Address, primary_key=True)
    credit_code: Mapped[str | None] = mapped_column(String(32), index=True)
    name: Mapped[str | None] = mapped_column(String(200))
    region_code: Mapped[int | None] = mapped_column(Integer, index=True)
    industry_code: Mapped[str | None] = mapped_column(String(8), index=True)
    latitude_e6: Mapped[int | None]
    longitude_e6: Mapped[int | None]
    suspended: Mapped[bool] = mapped_column(Boolean, default=False)
    suspension_reason: Mapped[int | None] = mapped_column(Integer)
    registered_time: Mapped[int | None]
    updated_block: Mapped[int]


class Role(Base):
    """A role held by an account (AccessControl grants)."""

    __tablename__ = "roles"
    account: Mapped[str] = mapped_column(Address, primary_key=True)
    role: Mapped[str] = mapped_column(String(32), primary_key=True)
    granted_block: Mapped[int]


class Device(Base):
    """A field device (data-acquisition unit) and the enterprise it is bound to."""

    __tablename__ = "devices"
    address: Mapped[str] = mapped_column(Address, primary_key=True)
    enterprise: Mapped[str] = mapped_column(Address, index=True)
    mn: Mapped[str] = mapped_column(String(32))
    bound: Mapped[bool] = mapped_column(Boolean)
    updated_block: Mapped[int]


class Proposal(Base):
    """A governance proposal."""

    __tablename__ = "proposals"
    proposal_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    proposer: Mapped[str] = mapped_column(Address)
    target: Mapped[str] = mapped_column(Address)
    deadline: Mapped[int]
    data: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text)
    approvals: Mapped[int] = mapped_column(Integer)
    executed: Mapped[bool] = mapped_column(Boolean, default=False)
    created_time: Mapped[int]


# ---------------------------------------------------------------------- allowances and cash


class Token(Base):
    """An allowance or offset id: cap, issued (allocated or sent to auction), retired."""

    __tablename__ = "tokens"
    token_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    kind: Mapped[int] = mapped_column(Integer)
    pollutant: Mapped[int] = mapped_column(Integer)
    vintage: Mapped[int] = mapped_column(Integer)
    cap: Mapped[int] = mapped_column(default=0)
    issued: Mapped[int] = mapped_column(default=0)
    retired: Mapped[int] = mapped_column(default=0)


class Holding(Base):
    """Balance of one account in one token id (``token_id`` 0 is settlement cash)."""

    __tablename__ = "holdings"
    account: Mapped[str] = mapped_column(Address, primary_key=True)
    token_id: Mapped[int] = mapped_column(primary_key=True)
    balance: Mapped[int]
    frozen_reason: Mapped[int | None] = mapped_column(Integer)
    __table_args__ = (Index("ix_holdings_token", "token_id", "account"),)


class Transfer(Base):
    """A movement of allowances or cash (``token_id`` 0); mints come from and burns go to the
    zero address."""

    __tablename__ = "transfers"
    id: Mapped[int] = mapped_column(RowId, primary_key=True, autoincrement=True)
    event_id: Mapped[int]
    block_number: Mapped[int]
    log_index: Mapped[int] = mapped_column(Integer)
    block_time: Mapped[int]
    tx_hash: Mapped[str] = mapped_column(Hash)
    token_id: Mapped[int]
    sender: Mapped[str] = mapped_column(Address)
    recipient: Mapped[str] = mapped_column(Address)
    amount: Mapped[int]
    __table_args__ = (
        Index("ix_transfers_sender", "sender", "block_time"),
        Index("ix_transfers_recipient", "recipient", "block_time"),
        Index("ix_transfers_token", "token_id", "block_time"),
        Index("ix_transfers_block", "block_number"),  # a day's movements (settlement)
    )


class Allocation(Base):
    """One allocation batch (``AllowancesAllocated``)."""

    __tablename__ = "allocations"
    id: Mapped[int] = mapped_column(RowId, primary_key=True, autoincrement=True)
    token_id: Mapped[int] = mapped_column(index=True)
    batch_ref: Mapped[str] = mapped_column(Hash)
    recipients: Mapped[int]
    total: Mapped[int]
    block_number: Mapped[int]
    block_time: Mapped[int]
    tx_hash: Mapped[str] = mapped_column(Hash)


# ---------------------------------------------------------------------- auctions


class Auction(Base):
    """A sealed-bid auction and its outcome."""

    __tablename__ = "auctions"
    auction_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    seller: Mapped[str] = mapped_column(Address, index=True)
    token_id: Mapped[int] = mapped_column(index=True)
    primary: Mapped[bool] = mapped_column(Boolean)
    supply: Mapped[int]
    reserve_price: Mapped[int]
    purchase_limit: Mapped[int]
    commit_start: Mapped[int]
    commit_end: Mapped[int]
    reveal_end: Mapped[int]
    forfeit_bps: Mapped[int] = mapped_column(Integer)
    price_rule: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    clearing_price: Mapped[int | None]
    sold: Mapped[int | None]
    unsold: Mapped[int | None]
    allocation_price: Mapped[int | None]
    bidders: Mapped[int] = mapped_column(default=0)
    revealed: Mapped[int] = mapped_column(default=0)
    created_time: Mapped[int]
    #: A primary auction restricted to named bidders (``AuctionRestricted``; :class:`AuctionBidder`).
    restricted: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class AuctionBidder(Base):
    """An account a restricted primary auction names: only these may commit (the contract
    refuses anyone else with ``AuctionBidderNotAllowed``); ``position`` keeps the list's order."""

    __tablename__ = "auction_bidders"
    auction_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    bidder: Mapped[str] = mapped_column(Address, primary_key=True)
    position: Mapped[int] = mapped_column(Integer)
    __table_args__ = (Index("ix_auction_bidders_bidder", "bidder"),)


class Bid(Base):
    """A bidder's sealed bid; prices and quantities exist only once revealed."""

    __tablename__ = "bids"
    auction_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    bidder: Mapped[str] = mapped_column(Address, primary_key=True)
    sequence: Mapped[int] = mapped_column(Integer)
    commitment: Mapped[str] = mapped_column(Hash)
    guarantee: Mapped[int]
    committed_time: Mapped[int]
    revealed: Mapped[bool] = mapped_column(Boolean, default=False)
    prices: Mapped[list[Any] | None]
    quantities: Mapped[list[Any] | None]
    demand: Mapped[int | None]
    allocated: Mapped[int | None]
    payment: Mapped[int | None]
    refund: Mapped[int | None]
    forfeit: Mapped[int | None]
    __table_args__ = (Index("ix_bids_bidder", "bidder"),)


# ---------------------------------------------------------------------- market

#: ``MarketOrder.side`` values, by the contract's ``Side`` (Buy = 0, Sell = 1).
SIDES = ("buy", "sell")
#: ``MarketTrade.mode`` values, by the contract's ``TradeMode`` (Call = 0 ... Block = 3).
TRADE_MODES = ("call", "continuous", "take", "block")
#: ``MarketQuote.mode`` of a day's official listing quote (call, continuous and takes together).
LISTING = "listing"


class MarketRulebook(Base):
    """A token id's market rulebook (``RulebookSet``: its position limits, 0 for none, and whether
    it is governed), its current reference price (``ReferencePriceSet``) and its own halt
    (``TradingHalted`` / ``TradingResumed``; the market-wide halt is :class:`MarketState`'s)."""

    __tablename__ = "market_rulebooks"
    token_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    reference_price: Mapped[int]
    band_bps: Mapped[int] = mapped_column(Integer)
    block_band_bps: Mapped[int] = mapped_column(Integer)
    fee_bps: Mapped[int] = mapped_column(Integer)
    block_minimum: Mapped[int]
    call_start: Mapped[int] = mapped_column(Integer)
    open1: Mapped[int] = mapped_column(Integer)
    close1: Mapped[int] = mapped_column(Integer)
    open2: Mapped[int] = mapped_column(Integer)
    close2: Mapped[int] = mapped_column(Integer)
    block_from: Mapped[int] = mapped_column(Integer)
    position_limit: Mapped[int] = mapped_column(default=0)
    position_limit_bps: Mapped[int] = mapped_column(Integer, default=0)
    governed: Mapped[bool] = mapped_column(Boolean, default=False)
    halted: Mapped[bool] = mapped_column(Boolean, default=False)
    halt_reason: Mapped[str | None] = mapped_column(Text)
    listed_time: Mapped[int]
    updated_block: Mapped[int]
    updated_time: Mapped[int]


class MarketState(Base):
    """The market as a whole (one row, ``id`` 1, once an event set it): the market-wide halt
    (``TradingHalted`` / ``TradingResumed`` of token id 0) and the settlement agent
    (``SettlementAgentSet``), the one poster of reference prices."""

    __tablename__ = "market_state"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    halted: Mapped[bool] = mapped_column(Boolean, default=False)
    halt_reason: Mapped[str | None] = mapped_column(Text)
    settlement_agent: Mapped[str | None] = mapped_column(String(42))
    updated_block: Mapped[int]
    updated_time: Mapped[int]


class MarketReferencePrice(Base):
    """A reference price a token id was given: by its rulebook (``source`` ``rulebook``) or
    posted by the settlement job (``posted``)."""

    __tablename__ = "market_reference_prices"
    token_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    block_number: Mapped[int] = mapped_column(primary_key=True)
    log_index: Mapped[int] = mapped_column(Integer, primary_key=True)
    block_time: Mapped[int]
    day: Mapped[str] = mapped_column(String(10))
    price: Mapped[int]
    source: Mapped[str] = mapped_column(String(8))


class MarketOrder(Base):
    """A limit order (``OrderPlaced``) and what became of it: ``remaining`` after its fills,
    ``status`` ``open``, ``filled``, ``cancelled`` or ``expired``. ``day`` is the trading day
    (China Standard Time, ``YYYY-MM-DD``) it was placed on."""

    __tablename__ = "market_orders"
    order_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    token_id: Mapped[int]
    owner: Mapped[str] = mapped_column(Address)
    side: Mapped[str] = mapped_column(String(4))
    price: Mapped[int]
    quantity: Mapped[int]
    remaining: Mapped[int]
    filled_value: Mapped[int]
    fees: Mapped[int]
    fills: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(10))
    call_phase: Mapped[bool] = mapped_column(Boolean)
    day: Mapped[str] = mapped_column(String(10))
    placed_block: Mapped[int]
    placed_time: Mapped[int]
    log_index: Mapped[int] = mapped_column(Integer)
    tx_hash: Mapped[str] = mapped_column(Hash)
    closed_block: Mapped[int | None]
    closed_time: Mapped[int | None]
    __table_args__ = (
        Index("ix_market_orders_book", "token_id", "status", "side", "price"),
        Index("ix_market_orders_owner", "owner", "token_id", "order_id"),
    )


class MarketTrade(Base):
    """A fill (``TradeExecuted``), in chain order; ``id`` is its event's :func:`event_id`. For a
    take, the take id stands for the taker's side; for a block trade ``buy_id == sell_id`` is the
    block id. ``day`` is the trading day (China Standard Time, ``YYYY-MM-DD``)."""

    __tablename__ = "market_trades"
    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    token_id: Mapped[int]
    buy_id: Mapped[int]
    sell_id: Mapped[int]
    buyer: Mapped[str] = mapped_column(Address)
    seller: Mapped[str] = mapped_column(Address)
    price: Mapped[int]
    quantity: Mapped[int]
    value: Mapped[int]
    buyer_fee: Mapped[int]
    seller_fee: Mapped[int]
    mode: Mapped[str] = mapped_column(String(10))
    day: Mapped[str] = mapped_column(String(10))
    block_number: Mapped[int]
    log_index: Mapped[int] = mapped_column(Integer)
    block_time: Mapped[int]
    tx_hash: Mapped[str] = mapped_column(Hash)
    __table_args__ = (
        Index("ix_market_trades_token", "token_id", "id"),
        Index("ix_market_trades_day", "token_id", "day", "mode"),
        Index("ix_market_trades_buyer", "buyer", "id"),
        Index("ix_market_trades_seller", "seller", "id"),
        Index("ix_market_trades_buy_id", "buy_id"),
        Index("ix_market_trades_sell_id", "sell_id"),
    )


class MarketQuote(Base):
    """A token id's quote for one trading day and one trade mode (``call``, ``continuous``,
    ``take``, ``block``), plus the day's official listing quote (``mode`` ``listing``: call,
    continuous and takes together, open and close by :mod:`domain.market`'s rules). ``close``
    is the half-up volume-weighted average price of the row's trades."""

    __tablename__ = "market_quotes"
    token_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    day: Mapped[str] = mapped_column(String(10), primary_key=True)
    mode: Mapped[str] = mapped_column(String(10), primary_key=True)
    open: Mapped[int]
    high: Mapped[int]
    low: Mapped[int]
    close: Mapped[int]
    last: Mapped[int]
    volume: Mapped[int]
    turnover: Mapped[int]
    trades: Mapped[int]
    fees: Mapped[int]
    first_time: Mapped[int]
    last_time: Mapped[int]
    __table_args__ = (Index("ix_market_quotes_day", "day", "mode", "token_id"),)


class MarketBlock(Base):
    """A block trade proposal (``BlockProposed``) and its status: ``pending``, ``accepted``
    (its ``TradeExecuted``), ``declined``, ``cancelled`` or ``expired``."""

    __tablename__ = "market_blocks"
    block_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    token_id: Mapped[int]
    seller: Mapped[str] = mapped_column(Address)
    buyer: Mapped[str] = mapped_column(Address)
    price: Mapped[int]
    quantity: Mapped[int]
    status: Mapped[str] = mapped_column(String(10))
    day: Mapped[str] = mapped_column(String(10))
    proposed_block: Mapped[int]
    proposed_time: Mapped[int]
    tx_hash: Mapped[str] = mapped_column(Hash)
    closed_block: Mapped[int | None]
    closed_time: Mapped[int | None]
    __table_args__ = (
        Index("ix_market_blocks_seller", "seller", "block_id"),
        Index("ix_market_blocks_buyer", "buyer", "block_id"),
    )


class MarketUnclaimed(Base):
    """Escrow the market could not return to a suspended owner (``UnclaimedCredited`` less
    ``UnclaimedWithdrawn``); ``token_id`` 0 is cash."""

    __tablename__ = "market_unclaimed"
    account: Mapped[str] = mapped_column(Address, primary_key=True)
    token_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    amount: Mapped[int]


class MarketAccountRecord(Base):
    """What the exchange recorded of a trading account at opening (know-your-customer): its
    enterprise group and actual controller (``None``: none recorded). Loaded by ``ets market
    records import``; the surveillance scans read it (:mod:`domain.surveillance`)."""

    __tablename__ = "market_account_records"
    account: Mapped[str] = mapped_column(Address, primary_key=True)
    enterprise_group: Mapped[str | None] = mapped_column(String(200))
    controller: Mapped[str | None] = mapped_column(String(200))
    recorded_at: Mapped[int]


class MarketAlert(Base):
    """A surveillance finding of one trading day (:class:`domain.surveillance.Finding`), once per
    (kind, day, token id, accounts): ``accounts`` comma-joined and sorted, ``trade_ids`` the
    ``market_trades`` ids behind it, ``figures`` its numbers, ``detail`` one line for people."""

    __tablename__ = "market_alerts"
    id: Mapped[int] = mapped_column(RowId, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(24))
    day: Mapped[str] = mapped_column(String(10))
    token_id: Mapped[int]
    accounts: Mapped[str] = mapped_column(String(255))
    trade_ids: Mapped[list[Any]]
    figures: Mapped[dict[str, Any]]
    detail: Mapped[str] = mapped_column(Text)
    raised_at: Mapped[int]
    __table_args__ = (
        UniqueConstraint("kind", "day", "token_id", "accounts"),
        Index("ix_market_alerts_day", "day", "kind", "token_id"),
    )


# ---------------------------------------------------------------------- emissions ledger


class Batch(Base):
    """An anchored batch of one device's signed readings."""

    __tablename__ = "batches"
    batch_id: Mapped[str] = mapped_column(Hash, primary_key=True)
    device: Mapped[str] = mapped_column(Address)
    enterprise: Mapped[str] = mapped_column(Address)
    first_sequence: Mapped[int]
    last_sequence: Mapped[int]
    previous_sequence: Mapped[int]
    period_start: Mapped[int]
    period_end: Mapped[int]
    count: Mapped[int] = mapped_column(Integer)
    root: Mapped[str] = mapped_column(Hash)
    #: the valid totals, decoded from the packed totals
    totals: Mapped[list[Any]]
    #: the event's packed totals (0x-hex; valid, excluded, estimates), whose keccak256 is the
    #: header's ``totalsHash``: with the columns above and the block it is the batch's header
    totals_packed: Mapped[str] = mapped_column(Text, default="0x", server_default="0x")
    block_number: Mapped[int]
    block_time: Mapped[int]
    tx_hash: Mapped[str] = mapped_column(Hash)
    __table_args__ = (
        Index("ix_batches_enterprise", "enterprise", "period_start"),
        Index("ix_batches_device", "device", "first_sequence"),
    )


class Reading(Base):
    """A signed reading of an anchored batch, imported from the oracle gateway's queue, with
    the device's frame signature that covers it."""

    __tablename__ = "readings"
    batch_id: Mapped[str] = mapped_column(Hash, primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    device: Mapped[str] = mapped_column(Address)
    sequence: Mapped[int]
    time: Mapped[int]
    pollutant: Mapped[str] = mapped_column(String(16))
    value: Mapped[str] = mapped_column(String(80))
    decimals: Mapped[int] = mapped_column(Integer)
    unit: Mapped[str] = mapped_column(String(16))
    flag: Mapped[str] = mapped_column(String(8))
    leaf: Mapped[str] = mapped_column(Hash)
    frame_hashes: Mapped[list[Any]]
    frame_index: Mapped[int] = mapped_column(Integer)
    signature: Mapped[str] = mapped_column(String(140))
    #: Quality control's status as queued (``measured``, ``outlier``, ``invalid``; revision 0011).
    qc: Mapped[str] = mapped_column(String(16), default="measured", server_default="measured")
    #: ``domain.review.Exclusion`` label (``invalid``, ``outlier``, ``fault``), None when valid.
    exclusion: Mapped[str | None] = mapped_column(String(8))
    #: Recovered from the controller's history after a transmission gap (HJ 212 back-fill).
    backfilled: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    __table_args__ = (UniqueConstraint("device", "sequence"),)


class ReviewDecision(Base):
    """A reviewer's signed decision on doubtful monitoring data, recorded on the EmissionsLedger
    (revision 0011)."""

    __tablename__ = "review_decisions"
    decision_id: Mapped[str] = mapped_column(Hash, primary_key=True)
    reviewer: Mapped[str] = mapped_column(Address)
    reviewer_role: Mapped[int] = mapped_column(Integer)
    enterprise: Mapped[str] = mapped_column(Address)
    subject: Mapped[str] = mapped_column(Hash)
    pollutant: Mapped[str] = mapped_column(String(16))
    month: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(12))
    method: Mapped[str] = mapped_column(String(16))
    value: Mapped[str] = mapped_column(String(80))
    decimals: Mapped[int] = mapped_column(Integer)
    note_hash: Mapped[str] = mapped_column(Hash)
    block_number: Mapped[int]
    block_time: Mapped[int]
    tx_hash: Mapped[str] = mapped_column(Hash)
    __table_args__ = (
        UniqueConstraint("enterprise", "subject"),
        Index("ix_review_decisions_enterprise_month", "enterprise", "month"),
    )


class Attestation(Base):
    """An auditor's attestation of verified emissions."""

    __tablename__ = "attestations"
    attestation_id: Mapped[str] = mapped_column(Hash, primary_key=True)
    auditor: Mapped[str] = mapped_column(Address, index=True)
    enterprise: Mapped[str] = mapped_column(Address, index=True)
    pollutant: Mapped[int] = mapped_column(Integer)
    year: Mapped[int] = mapped_column(Integer)
    verified: Mapped[int]
    offsets_eligible: Mapped[int]
    evidence: Mapped[list[Any]]
    report_hash: Mapped[str] = mapped_column(Hash)
    supersedes: Mapped[str | None] = mapped_column(Hash)
    status: Mapped[str] = mapped_column(String(16))
    reason_code: Mapped[int | None] = mapped_column(Integer)
    reason: Mapped[str | None] = mapped_column(Text)
    submitted_time: Mapped[int]
    closed_time: Mapped[int | None]


# ---------------------------------------------------------------------- compliance


class ComplianceYear(Base):
    """A compliance year's rules."""

    __tablename__ = "compliance_years"
    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    offset_cap_bps: Mapped[int] = mapped_column(Integer)
    make_good_bps: Mapped[int] = mapped_column(Integer)
    fine_per_tonne: Mapped[int]
    no_report_fine: Mapped[int]


class Notice(Base):
    """An enterprise's compliance obligation for a pollutant and a year: notice,
    acknowledgement, outcome (one row per (enterprise, pollutant, year))."""

    __tablename__ = "notices"
    enterprise: Mapped[str] = mapped_column(Address, primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    pollutant: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    allocated: Mapped[int]
    rules_hash: Mapped[str] = mapped_column(Hash)
    submission_deadline: Mapped[int]
    ack_deadline: Mapped[int]
    issued_time: Mapped[int]
    acknowledged_time: Mapped[int | None]
    late: Mapped[bool | None] = mapped_column(Boolean)
    outcome: Mapped[int | None] = mapped_column(Integer)
    verified: Mapped[int | None]
    surrendered: Mapped[int | None]
    shortfall: Mapped[int | None]
    fine: Mapped[int | None]
    make_good: Mapped[int | None]
    fine_paid: Mapped[int | None]
    __table_args__ = (Index("ix_notices_year", "year", "outcome"),)


class Application(Base):
    """A compliance application and its review."""

    __tablename__ = "applications"
    application_id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    enterprise: Mapped[str] = mapped_column(Address, index=True)
    year: Mapped[int] = mapped_column(Integer)
    pollutant: Mapped[int] = mapped_column(Integer)
    attestation_id: Mapped[str] = mapped_column(Hash)
    verified: Mapped[int]
    offsets: Mapped[int]
    allowances: Mapped[int]
    surrender: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(16))
    surrendered: Mapped[int | None]
    uncovered: Mapped[int | None]
    reason_code: Mapped[int | None] = mapped_column(Integer)
    reason: Mapped[str | None] = mapped_column(Text)
    submitted_time: Mapped[int]
    decided_time: Mapped[int | None]
    __table_args__ = (Index("ix_applications_year", "year", "status"),)


# ---------------------------------------------------------------------- statistics


class StatRollup(Base):
    """Sums of one metric per period (day ``YYYY-MM-DD``, month ``YYYY-MM``, year ``YYYY``),
    pollutant (0 when none) and enterprise, with the enterprise's region and industry at the
    time. Kept by the indexer as events arrive (a summary table, not a cache: it is part of the
    read model and rebuilt with it), so a statistics query reads thousands of rows, not the
    millions of events behind them."""

    __tablename__ = "stat_rollups"
    grain: Mapped[str] = mapped_column(String(5), primary_key=True)
    metric: Mapped[str] = mapped_column(String(24), primary_key=True)
    pollutant: Mapped[int] = mapped_column(Integer, primary_key=True)
    period: Mapped[str] = mapped_column(String(10), primary_key=True)
    enterprise: Mapped[str] = mapped_column(Address, primary_key=True)
    region_code: Mapped[int | None] = mapped_column(Integer)
    industry_code: Mapped[str | None] = mapped_column(String(8))
    value: Mapped[float] = mapped_column(Float)
    count: Mapped[int]
    __table_args__ = (
        Index("ix_stat_rollups_region", "grain", "metric", "pollutant", "region_code", "period"),
        Index("ix_stat_rollups_industry", "grain", "metric", "pollutant", "industry_code", "period"),
        Index("ix_stat_rollups_enterprise", "enterprise", "grain", "metric", "period"),
    )


#: ``StatTotal.dim`` values and ``StatTotal.pollutant`` for "every pollutant".
TOTAL_DIMS = ("all", "region", "industry", "enterprise")
ALL_POLLUTANTS = -1


class StatTotal(Base):
    """The rollups summed once more, for the statistics queries that would otherwise add up
    every enterprise's rows: per period over all enterprises (``dim`` ``all``), per region code
    (``region``), per industry code (``industry``) and per enterprise over all pollutants
    (``enterprise``, pollutant -1). Each dimension also has pollutant -1 rows (all pollutants).
    The indexer keeps it with the rollups in the same transaction; like them it is part of the
    read model, not a cache.

    ``key`` is the group (``''``, the six-digit region code, the industry code or the address);
    ``region_code`` / ``industry_code`` / ``enterprise`` repeat it, typed, for the dimension's
    rows and are NULL otherwise, so queries read either table through the same column names.
    On SQLite the table is clustered on its primary key (``WITHOUT ROWID``): a range of it is
    read without a lookup per row.
    """

    __tablename__ = "stat_totals"
    grain: Mapped[str] = mapped_column(String(5), primary_key=True)
    metric: Mapped[str] = mapped_column(String(24), primary_key=True)
    dim: Mapped[str] = mapped_column(String(10), primary_key=True)
    pollutant: Mapped[int] = mapped_column(Integer, primary_key=True)
    period: Mapped[str] = mapped_column(String(10), primary_key=True)
    key: Mapped[str] = mapped_column(String(42), primary_key=True)
    region_code: Mapped[int | None] = mapped_column(Integer)
    industry_code: Mapped[str | None] = mapped_column(String(8))
    enterprise: Mapped[str | None] = mapped_column(Address)
    value: Mapped[float] = mapped_column(Float)
    count: Mapped[int]
    __table_args__ = ({"sqlite_with_rowid": False},)


class AuditorAssignment(Base):
    """An auditor the regulator assigned to an enterprise (ConsortiumRegistry ``AuditorAssigned``;
    the row goes at ``AuditorUnassigned``): the only source of an auditor's read scope."""

    __tablename__ = "auditor_assignments"
    auditor: Mapped[str] = mapped_column(Address, primary_key=True)
    enterprise: Mapped[str] = mapped_column(Address, primary_key=True, index=True)
    assigned_block: Mapped[int]


# ---------------------------------------------------------------------- API state


class SiweNonce(Base):
    """A nonce handed out for a Sign-In with Ethereum message; used at most once."""

    __tablename__ = "siwe_nonces"
    nonce: Mapped[str] = mapped_column(String(64), primary_key=True)
    issued_at: Mapped[int]
    expires_at: Mapped[int] = mapped_column(index=True)
    used: Mapped[bool] = mapped_column(Boolean, default=False)


class ApiSession(Base):
    """A signed-in session; the token is stored hashed."""

    __tablename__ = "api_sessions"
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    address: Mapped[str] = mapped_column(Address, index=True)
    issued_at: Mapped[int]
    expires_at: Mapped[int] = mapped_column(index=True)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)


#: States of a transaction intent (``TxIntent.status``); ``expired``: a built intent past its lifetime.
BUILT, PENDING, SUCCESS, REVERTED, EXPIRED = "built", "pending", "success", "reverted", "expired"


class TxIntent(Base):
    """An unsigned transaction the API built for a signed-in account, awaiting its signature."""

    __tablename__ = "tx_intents"
    intent_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    sender: Mapped[str] = mapped_column(Address, index=True)
    contract: Mapped[str] = mapped_column(String(40))
    function: Mapped[str] = mapped_column(String(200))
    to: Mapped[str] = mapped_column(Address)
    data: Mapped[str] = mapped_column(Text)
    value: Mapped[int]
    chain_id: Mapped[int]
    created_at: Mapped[int]
    expires_at: Mapped[int] = mapped_column(index=True)
    tx_hash: Mapped[str | None] = mapped_column(Hash)
    status: Mapped[str] = mapped_column(String(16), default=BUILT)
    outcome: Mapped[dict[str, Any] | None]


# ---------------------------------------------------------------------- total-control plans


class Plan(Base):
    """A five-year or annual total-control plan (TotalControlPlans) with its content as drafted:
    ``content`` holds a five-year plan's ``pollutants`` (pollutant, base_emissions, target_bps,
    path) and ``regions`` (region, share_bps), an annual plan's ``caps`` (pollutant, region, cap,
    reserve_share_bps, guide_price) and ``targets`` (enterprise, pollutant, target_bps)."""

    __tablename__ = "plans"
    plan_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    kind: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(12))
    version: Mapped[int]
    supersedes: Mapped[int | None]
    superseded_by: Mapped[int | None]
    five_year_plan_id: Mapped[int | None]
    start_year: Mapped[int] = mapped_column(Integer)
    end_year: Mapped[int] = mapped_column(Integer)
    base_year: Mapped[int | None] = mapped_column(Integer)
    document_hash: Mapped[str | None] = mapped_column(Hash)
    uri: Mapped[str | None] = mapped_column(Text)
    content: Mapped[dict[str, Any]]
    drafted_time: Mapped[int]
    adopted_time: Mapped[int | None]
    __table_args__ = (Index("ix_plans_kind", "kind", "start_year"),)


class PlanCapExecution(Base):
    """The vintage cap last set from an annual plan (CapExecuted), per token id."""

    __tablename__ = "plan_cap_executions"
    token_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    plan_id: Mapped[int]
    pollutant: Mapped[int] = mapped_column(Integer)
    year: Mapped[int] = mapped_column(Integer)
    cap: Mapped[int]
    block_time: Mapped[int]


# ---------------------------------------------------------------------- discharge permits


class PermitApplication(Base):
    """A discharge permit application (DischargePermits) as last submitted: ``outlets`` holds
    (code, mn) objects, ``terms`` (pollutant, annual_amount, concentration_limit) objects;
    ``status`` is submitted, returned, refused or issued."""

    __tablename__ = "permit_applications"
    application_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    enterprise: Mapped[str] = mapped_column(Address, index=True)
    status: Mapped[str] = mapped_column(String(10), index=True)
    document_hash: Mapped[str] = mapped_column(Hash)
    submissions: Mapped[int] = mapped_column(Integer)
    outlets: Mapped[list[Any]] = mapped_column(JSON)
    terms: Mapped[list[Any]] = mapped_column(JSON)
    reason: Mapped[str | None] = mapped_column(Text)
    permit_id: Mapped[int | None]
    submitted_time: Mapped[int]
    decided_time: Mapped[int | None]


class DischargePermit(Base):
    """A discharge permit's current revision: ``status`` as stored on chain (valid, revoked,
    cancelled; a valid permit past ``valid_until`` reads as expired), ``outlets`` and ``terms``
    as in :class:`PermitApplication` with the granted amounts."""

    __tablename__ = "discharge_permits"
    permit_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    enterprise: Mapped[str] = mapped_column(Address, index=True)
    application_id: Mapped[int]
    number: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(10), index=True)
    valid_from: Mapped[int]
    valid_until: Mapped[int]
    revision: Mapped[int] = mapped_column(Integer)
    outlets: Mapped[list[Any]] = mapped_column(JSON)
    terms: Mapped[list[Any]] = mapped_column(JSON)
    reason: Mapped[str | None] = mapped_column(Text)
    issued_time: Mapped[int]
    changed_time: Mapped[int]


class PermitReview(Base):
    """The annual review (年审) of a permit for one year."""

    __tablename__ = "permit_reviews"
    permit_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    year: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    passed: Mapped[bool] = mapped_column(Boolean)
    note: Mapped[str] = mapped_column(Text)
    block_time: Mapped[int]


# ---------------------------------------------------------------------- government reserve


class ReserveMovement(Base):
    """One movement of the government reserve's allowances: ``kind`` fed (an annual plan's reserve
    share, ``ref`` the plan), sold (to a project, ``ref`` the offer), confiscated (``ref`` 0) or
    closure (``ref`` the closure); ``amount`` signed (into the reserve positive), ``party`` the
    project or the holder taken from."""

    __tablename__ = "reserve_movements"
    block_number: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    log_index: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    position: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    kind: Mapped[str] = mapped_column(String(12), index=True)
    token_id: Mapped[int] = mapped_column(BigInteger, index=True)
    pollutant: Mapped[int] = mapped_column(Integer)
    vintage: Mapped[int] = mapped_column(Integer)
    amount: Mapped[int]
    party: Mapped[str | None] = mapped_column(Address)
    ref: Mapped[int]
    block_time: Mapped[int]
    tx_hash: Mapped[str] = mapped_column(Hash)


class ReserveOffer(Base):
    """A paid allocation offered from the reserve to a project at the guide price (fen per
    tonne); ``status`` open, accepted or withdrawn."""

    __tablename__ = "reserve_offers"
    offer_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    project: Mapped[str] = mapped_column(Address, index=True)
    token_id: Mapped[int] = mapped_column(BigInteger)
    quantity: Mapped[int]
    price: Mapped[int]
    payment: Mapped[int]
    annual_plan_id: Mapped[int]
    deadline: Mapped[int]
    status: Mapped[str] = mapped_column(String(10), index=True)
    offered_time: Mapped[int]
    decided_time: Mapped[int | None]
    tx_hash: Mapped[str | None] = mapped_column(Hash)


class Closure(Base):
    """A closure (关停) executed by governance: the allowances swept into the reserve
    (``swept``: token id and amount), the permit cancelled (0: none), devices unbound."""

    __tablename__ = "closures"
    closure_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    enterprise: Mapped[str] = mapped_column(Address, index=True)
    permit_id: Mapped[int]
    devices: Mapped[int] = mapped_column(Integer)
    reason_code: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text)
    swept: Mapped[list[Any]] = mapped_column(JSON)
    block_time: Mapped[int]
    tx_hash: Mapped[str] = mapped_column(Hash)


# ---------------------------------------------------------------------- account applications


class AccountApplication(Base):
    """An enterprise's signed application (API-side, not on chain): a registration (``kind``
    register) or a change of its profile (change), as last signed; ``status`` is the review's
    (submitted, info_requested, refused, accepted); an accepted one's later states come from the
    governance proposal whose calldata is ``call_data`` (``proposals``)."""

    __tablename__ = "account_applications"
    application_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    kind: Mapped[str] = mapped_column(String(10))
    account: Mapped[str] = mapped_column(Address, index=True)
    credit_code: Mapped[str] = mapped_column(String(18), index=True)
    name: Mapped[str] = mapped_column(Text)
    region_code: Mapped[int] = mapped_column(Integer)
    industry_code: Mapped[str] = mapped_column(String(8))
    latitude_e6: Mapped[int] = mapped_column(Integer)
    longitude_e6: Mapped[int] = mapped_column(Integer)
    contacts: Mapped[list[Any]] = mapped_column(JSON)
    documents: Mapped[list[Any]] = mapped_column(JSON)
    issued_at: Mapped[int]
    signature: Mapped[str] = mapped_column(String(132))
    status: Mapped[str] = mapped_column(String(16), index=True)
    submissions: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str | None] = mapped_column(Text)
    reviewer: Mapped[str | None] = mapped_column(Address)
    call_data: Mapped[str | None] = mapped_column(Text)
    intent_id: Mapped[str | None] = mapped_column(String(36))
    submitted_time: Mapped[int]
    decided_time: Mapped[int | None]


class AccountApplicationEvent(Base):
    """One step of an application's history: submitted, resubmitted, or a reviewer's decision."""

    __tablename__ = "account_application_events"
    id: Mapped[int] = mapped_column(RowId, primary_key=True, autoincrement=True)
    application_id: Mapped[str] = mapped_column(String(36), index=True)
    action: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(Address)
    reason: Mapped[str | None] = mapped_column(Text)
    time: Mapped[int]


# ---------------------------------------------------------------------- Safe multisig accounts


class SafeTransaction(Base):
    """A Safe transaction proposed through the API (API-side until relayed): the inner call (its
    action and normalized arguments for the representatives to read), the EIP-712 ``SafeTx`` hash
    they sign and the Safe nonce it is bound to; ``status`` pending (collecting signatures),
    executed, or failed (relayed and reverted)."""

    __tablename__ = "safe_transactions"
    safe_tx_hash: Mapped[str] = mapped_column(Hash, primary_key=True)
    safe: Mapped[str] = mapped_column(Address, index=True)
    chain_id: Mapped[int]
    nonce: Mapped[int]
    to: Mapped[str] = mapped_column(Address)
    value: Mapped[str] = mapped_column(String(78))
    data: Mapped[str] = mapped_column(Text)
    contract: Mapped[str] = mapped_column(String(40))
    function: Mapped[str] = mapped_column(String(200))
    args: Mapped[dict[str, Any]]
    proposer: Mapped[str] = mapped_column(Address)
    created_at: Mapped[int]
    status: Mapped[str] = mapped_column(String(16), index=True)
    tx_hash: Mapped[str | None] = mapped_column(Hash)
    executed_at: Mapped[int | None]


class SafeSignature(Base):
    """A representative's signature of a Safe transaction (checked: recovered to one of the
    Safe's owners); ``kind`` eip712 or eth_sign."""

    __tablename__ = "safe_signatures"
    safe_tx_hash: Mapped[str] = mapped_column(Hash, primary_key=True)
    signer: Mapped[str] = mapped_column(Address, primary_key=True)
    signature: Mapped[str] = mapped_column(String(132))
    kind: Mapped[str] = mapped_column(String(10))
    signed_at: Mapped[int]


class Card(Base):
    """An IC card registered beside a device (EmissionCards): ``status`` active, replaced or
    revoked; ``account`` the first card's number (kept by replacements, so months carry over);
    ``replaced_by`` the new card when replaced."""

    __tablename__ = "cards"
    card: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    enterprise: Mapped[str] = mapped_column(Address, index=True)
    device: Mapped[str] = mapped_column(Address, index=True)
    mn: Mapped[str] = mapped_column(String(24))
    account: Mapped[int] = mapped_column(BigInteger, index=True)
    status: Mapped[str] = mapped_column(String(10))
    replaced_by: Mapped[int | None] = mapped_column(BigInteger)
    issued_time: Mapped[int]
    updated_time: Mapped[int]


class CardMonth(Base):
    """One card account's month for one allowance id: committed (loads and recharges), and at
    settlement metered, used (held for surrender) and returned."""

    __tablename__ = "card_months"
    account: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    token_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    month: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    enterprise: Mapped[str] = mapped_column(Address, index=True)
    pollutant: Mapped[int] = mapped_column(Integer)
    vintage: Mapped[int] = mapped_column(Integer)
    committed: Mapped[int] = mapped_column(BigInteger)
    loads: Mapped[int] = mapped_column(Integer)
    settled: Mapped[bool] = mapped_column(Boolean)
    metered: Mapped[int | None] = mapped_column(BigInteger)
    used: Mapped[int | None] = mapped_column(BigInteger)
    returned: Mapped[int | None] = mapped_column(BigInteger)
    updated_time: Mapped[int]


class CardMovement(Base):
    """One card event moving allowances: ``kind`` load (into custody), settle (the returned
    part back), release (held allowances back for the surrender); the card statement's lines."""

    __tablename__ = "card_movements"
    block_number: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    log_index: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    kind: Mapped[str] = mapped_column(String(8))
    card: Mapped[int | None] = mapped_column(BigInteger, index=True)
    account: Mapped[int | None] = mapped_column(BigInteger)
    enterprise: Mapped[str] = mapped_column(Address, index=True)
    token_id: Mapped[int] = mapped_column(BigInteger)
    month: Mapped[int | None] = mapped_column(Integer)
    amount: Mapped[int] = mapped_column(BigInteger)
    block_time: Mapped[int]
    tx_hash: Mapped[str] = mapped_column(Hash)
