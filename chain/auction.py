"""Sealed-bid uniform-price auctions on-chain: sealed bids and their secrets, eligibility lists
and a typed client of SealedBidAuction (the clearing rules are :mod:`domain.auction`)."""

from __future__ import annotations

import enum
import json
import logging
import os
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from eth_abi import encode as abi_encode
from eth_account.signers.local import LocalAccount
from eth_utils import keccak, to_checksum_address
from hexbytes import HexBytes
from web3.logs import DISCARD
from web3.types import TxReceipt

from chain.allowance import TokenHoldingClient
from chain.merkle import StandardMerkleTree
from chain.registry import RegistryClient, checked_address
from domain.auction import (
    ClearingClaim,
    ClearingResult,
    PriceRule,
    Schedule,
    apply_rules,
    clear,
    normalize_schedule,
    schedule_value,
)
from domain.errors import AuctionInputError
from domain.units import UINT16_MAX, UINT64_MAX, UINT88_MAX, check_uint

logger = logging.getLogger(__name__)

ZERO_ROOT = b"\x00" * 32
#: Share of a guarantee forfeited by a bidder that does not reveal, unless configured otherwise
#: (`ets auction create --forfeit-bps`, the dashboard's ETS_AUCTION_FORFEIT_BPS): not revealing costs.
DEFAULT_FORFEIT_BPS = 1_000


class AuctionStatus(enum.IntEnum):
    """The contract's ``Status``."""

    NONE = 0
    OPEN = 1
    CLEARED = 2
    NO_SALE = 3


# --------------------------------------------------------------------------- the rules


# --------------------------------------------------------------------------- sealed bids


def commitment(auction_id: int, bidder: str, schedule: Schedule, salt: bytes) -> bytes:
    """``keccak256(abi.encode(auctionId, bidder, prices, quantities, salt))`` as the contract hashes it."""
    if len(salt) != 32:
        raise AuctionInputError("the salt must be 32 bytes")
    prices = [p for p, _ in schedule]
    quantities = [q for _, q in schedule]
    encoded = abi_encode(
        ["uint256", "address", "uint64[]", "uint64[]", "bytes32"],
        [auction_id, to_checksum_address(bidder), prices, quantities, salt],
    )
    return keccak(encoded)


@dataclass(frozen=True)
class SealedBid:
    """A committed bid and the secret needed to reveal it (keep it: without it, no reveal)."""

    auction_id: int
    bidder: str
    schedule: Schedule
    salt: str  # 0x-hex, 32 bytes
    guarantee: int
    commitment: str

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["schedule"] = [list(b) for b in self.schedule]
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SealedBid:
        try:
            return cls(
                auction_id=int(data["auction_id"]),
                bidder=to_checksum_address(str(data["bidder"])),
                schedule=tuple((int(p), int(q)) for p, q in data["schedule"]),
                salt=str(data["salt"]),
                guarantee=int(data["guarantee"]),
                commitment=str(data["commitment"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise AuctionInputError(f"malformed sealed-bid file: {exc}") from None


class BidStore:
    """The bidder's local file of sealed-bid secrets (one JSON file per auction and bidder, mode 0600)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def path(self, auction_id: int, bidder: str) -> Path:
        return self.directory / f"auction-{auction_id}-{to_checksum_address(bidder)}.json"

    def save(self, bid: SealedBid) -> Path:
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = self.path(bid.auction_id, bid.bidder)
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(bid.to_json(), fh, indent=2)
        tmp.replace(path)
        return path

    def load(self, auction_id: int, bidder: str) -> SealedBid:
        """Raises: AuctionInputError: no file for this auction and bidder, or a malformed one."""
        path = self.path(auction_id, bidder)
        try:
            return SealedBid.from_json(json.loads(path.read_text()))
        except FileNotFoundError:
            raise AuctionInputError(
                f"no sealed bid of {bidder} for auction {auction_id} in {self.directory}"
            ) from None
        except json.JSONDecodeError as exc:
            raise AuctionInputError(f"{path}: not JSON ({exc})") from None


def eligibility_tree(addresses: Iterable[str]) -> Any:
    """OpenZeppelin StandardMerkleTree over ``[address]`` leaves: the list of eligible bidders."""
    values = sorted({checked_address(a, "eligible bidder") for a in addresses})
    if not values:
        raise AuctionInputError("an eligibility list needs at least one address")
    return StandardMerkleTree.of([[a] for a in values], ["address"])


# --------------------------------------------------------------------------- on-chain client


#: Most project accounts a restricted primary auction may name (the contract's limit).
MAX_RESTRICTED_BIDDERS = 16


@dataclass(frozen=True)
class AuctionParams:
    """Parameters of a new auction (the contract's ``AuctionParams``)."""

    token_id: int
    supply: int
    reserve_price: int
    commit_end: int
    reveal_end: int
    purchase_limit: int = 0
    commit_start: int = 0
    forfeit_bps: int = 0
    price_rule: PriceRule = PriceRule.LOWEST_ACCEPTED
    eligibility_root: bytes = ZERO_ROOT

    def as_tuple(self) -> tuple[Any, ...]:
        check_uint(self.supply, "supply", UINT64_MAX, AuctionInputError)
        check_uint(self.reserve_price, "reserve price", UINT64_MAX, AuctionInputError)
        check_uint(self.purchase_limit, "purchase limit", UINT64_MAX, AuctionInputError)
        check_uint(self.forfeit_bps, "forfeit share (bps)", UINT16_MAX, AuctionInputError)
        return (self.token_id, self.supply, self.reserve_price, self.purchase_limit, self.commit_start,
                self.commit_end, self.reveal_end, self.forfeit_bps, int(self.price_rule),
                self.eligibility_root)  # fmt: skip


@dataclass(frozen=True)
class AuctionView:
    """Public state of an auction (the contract's ``AuctionView``)."""

    auction_id: int
    seller: str
    primary: bool
    status: AuctionStatus
    price_rule: PriceRule
    token_id: int
    supply: int
    reserve_price: int
    purchase_limit: int
    commit_start: int
    commit_end: int
    reveal_end: int
    forfeit_bps: int
    eligibility_root: str
    bidders: int
    revealed: int
    total_demand: int
    clearing_price: int | None
    sold: int
    proceeds: int
    proceeds_withdrawn: bool

    @classmethod
    def from_tuple(cls, auction_id: int, t: Sequence[Any]) -> AuctionView:
        status = AuctionStatus(t[2])
        return cls(
            auction_id, to_checksum_address(t[0]), bool(t[1]), status, PriceRule(t[3]), int(t[4]),
            int(t[5]), int(t[6]), int(t[7]), int(t[8]), int(t[9]), int(t[10]), int(t[11]),
            HexBytes(t[12]).to_0x_hex(), int(t[13]), int(t[14]), int(t[15]),
            int(t[16]) if status is AuctionStatus.CLEARED else None, int(t[17]), int(t[18]), bool(t[19]),
        )  # fmt: skip

    def phase(self, now: int) -> str:
        """``commit``, ``reveal``, ``clearing`` (waiting for a submission), ``cleared``, ``no sale``."""
        if self.status is AuctionStatus.CLEARED:
            return "cleared"
        if self.status is AuctionStatus.NO_SALE:
            return "no sale"
        if now < self.commit_start:
            return "scheduled"
        if now < self.commit_end:
            return "commit"
        return "reveal" if now < self.reveal_end else "clearing"


class AuctionClient(TokenHoldingClient):
    """Client of one deployed SealedBidAuction (with the token clients it settles in)."""

    CONTRACT = "SealedBidAuction"

    #: Share of the block gas limit a clearing page may use.
    PAGE_GAS_SHARE = 0.7

    # ------------------------------------------------------------------ create

    def create_primary(
        self, regulator: LocalAccount, params: AuctionParams, *, bidders: Sequence[str] = ()
    ) -> int:
        """Create a primary auction (new allowances issued into escrow); returns its id. With
        ``bidders``, the auction is restricted to those named project accounts (1 to 16), which
        may win and claim before their discharge permits are issued (``createRestrictedPrimary``)."""
        if not bidders:
            fn = self.contract.functions.createPrimary(params.as_tuple())
        else:
            named = list(dict.fromkeys(checked_address(b, "restricted bidder") for b in bidders))
            if len(named) > MAX_RESTRICTED_BIDDERS:
                raise AuctionInputError(
                    f"a restricted auction names at most {MAX_RESTRICTED_BIDDERS} bidders"
                )
            fn = self.contract.functions.createRestrictedPrimary(params.as_tuple(), named)
        receipt = self.chain.transact(fn, regulator)
        return self._created_id(receipt)

    def restricted_bidders(self, auction_id: int) -> list[str]:
        """The named bidders of a restricted primary auction (empty for any other auction)."""
        return [to_checksum_address(a) for a in self.contract.functions.restrictedBidders(auction_id).call()]

    def create_secondary(self, seller: LocalAccount, params: AuctionParams) -> int:
        """Create a secondary auction of the seller's allowances (approves the contract once)."""
        token = self.allowance.contract
        if not token.functions.isApprovedForAll(seller.address, self.address).call():
            self.chain.transact(token.functions.setApprovalForAll(self.address, True), seller)
        receipt = self.chain.transact(self.contract.functions.createSecondary(params.as_tuple()), seller)
        return self._created_id(receipt)

    def _created_id(self, receipt: TxReceipt) -> int:
        events = self.contract.events.AuctionCreated().process_receipt(receipt, errors=DISCARD)
        return int(events[0]["args"]["auctionId"])

    # ------------------------------------------------------------------ bid

    def seal(
        self,
        auction_id: int,
        bidder: str,
        bids: Iterable[tuple[int, int]],
        *,
        guarantee: int | None = None,
        salt: bytes | None = None,
    ) -> SealedBid:
        """Prepare a sealed bid: normalized schedule, fresh salt, commitment, and a guarantee
        covering the schedule's value under the auction's reserve and limit (unless given)."""
        schedule = normalize_schedule(bids)
        if guarantee is None:
            view = self.view(auction_id)
            guarantee = max(1, schedule_value(apply_rules(schedule, view.reserve_price, view.purchase_limit)))
        check_uint(guarantee, "guarantee", UINT88_MAX, AuctionInputError)
        salt = secrets.token_bytes(32) if salt is None else salt
        digest = commitment(auction_id, bidder, schedule, salt)
        return SealedBid(auction_id, to_checksum_address(bidder), schedule, "0x" + salt.hex(), guarantee,
                         "0x" + digest.hex())  # fmt: skip

    def commit(self, bidder: LocalAccount, bid: SealedBid, *, proof: Sequence[str] = ()) -> TxReceipt:
        """Escrow the guarantee (approving the cash first if needed) and commit the hash."""
        self._ensure_cash_allowance(bidder, bid.guarantee)
        fn = self.contract.functions.commit(bid.auction_id, HexBytes(bid.commitment), bid.guarantee,
                                            [HexBytes(p) for p in proof])  # fmt: skip
        return self.chain.transact(fn, bidder)

    def _ensure_cash_allowance(self, bidder: LocalAccount, amount: int) -> None:
        current = int(self.cash.contract.functions.allowance(bidder.address, self.address).call())
        if current < amount:
            self.cash.approve(bidder, self.address, 2**256 - 1)

    def reveal_call(self, bid: SealedBid) -> Any:
        """The ``reveal`` contract call for a sealed bid (for wallets and pipelined senders)."""
        return self.contract.functions.reveal(
            bid.auction_id, [p for p, _ in bid.schedule], [q for _, q in bid.schedule], HexBytes(bid.salt)
        )

    def reveal(self, bidder: LocalAccount, bid: SealedBid) -> TxReceipt:
        if to_checksum_address(bidder.address) != bid.bidder:
            raise AuctionInputError(f"the sealed bid belongs to {bid.bidder}, not {bidder.address}")
        return self.chain.transact(self.reveal_call(bid), bidder)

    # ------------------------------------------------------------------ clear

    def revealed_schedules(self, auction_id: int) -> list[tuple[str, Schedule]]:
        """Every revealed bidder's demand, in commitment order, from the contract's events."""
        filters = {"auctionId": auction_id}
        committed = self.contract.events.BidCommitted().get_logs(
            from_block=self.from_block, argument_filters=filters
        )
        revealed = self.contract.events.BidRevealed().get_logs(
            from_block=self.from_block, argument_filters=filters
        )
        sequence = {e["args"]["bidder"]: int(e["args"]["sequence"]) for e in committed}
        rows = [
            (sequence[e["args"]["bidder"]], e["args"]["bidder"],
             tuple(zip(e["args"]["prices"], e["args"]["quantities"], strict=True)))
            for e in revealed
        ]  # fmt: skip
        return [(bidder, schedule) for _, bidder, schedule in sorted(rows)]

    def compute_clearing(self, auction_id: int) -> ClearingResult:
        """The clearing under the rules, from the revealed bids on-chain."""
        view = self.view(auction_id)
        return clear(view.supply, view.reserve_price, self.revealed_schedules(auction_id),
                     purchase_limit=view.purchase_limit, price_rule=view.price_rule)  # fmt: skip

    def submit_clearing(
        self,
        sender: LocalAccount,
        auction_id: int,
        claim: ClearingClaim | None = None,
        *,
        max_bidders: int | None = None,
    ) -> list[TxReceipt]:
        """Submit the clearing, in as many pages as the block gas limit needs.

        Args:
            sender: any account (anyone may submit).
            claim: the clearing to submit; computed with :meth:`compute_clearing` if omitted.
            max_bidders: committed bidders per page; sized from a gas estimate if omitted.
        """
        if claim is None:
            claim = self.compute_clearing(auction_id).claim
        bidders = self.view(auction_id).bidders
        page = max_bidders or self._page_size(sender, auction_id, claim, bidders)
        receipts = []
        while True:
            fn = self.contract.functions.submitClearing(auction_id, claim.as_tuple(), page)
            receipt = self.chain.transact(fn, sender)
            receipts.append(receipt)
            if self.view(auction_id).status is not AuctionStatus.OPEN:
                return receipts

    def _page_size(self, sender: LocalAccount, auction_id: int, claim: ClearingClaim, bidders: int) -> int:
        """Bidders per page that keep a page under ``PAGE_GAS_SHARE`` of the block gas limit."""
        budget = int(self.chain.w3.eth.get_block("latest")["gasLimit"] * self.PAGE_GAS_SHARE)
        probe = min(bidders, 256) or 1
        fn = self.contract.functions.submitClearing(auction_id, claim.as_tuple(), probe)
        gas = int(self.chain.build(fn, sender.address)["gas"])  # raises the decoded error of a wrong claim
        per_bidder = max(1, gas // probe)
        return max(1, min(bidders, budget // per_bidder)) if bidders else 1

    # ------------------------------------------------------------------ settle

    def claim(self, bidder: LocalAccount, auction_id: int) -> TxReceipt:
        return self.chain.transact(self.contract.functions.claim(auction_id), bidder)

    def refund(self, bidder: LocalAccount, auction_id: int) -> TxReceipt:
        return self.chain.transact(self.contract.functions.refund(auction_id), bidder)

    def settle(self, bidder: LocalAccount, auction_id: int) -> TxReceipt:
        """Claim if the bidder won allowances, otherwise take the guarantee back."""
        if self.allocation_of(auction_id, bidder.address) > 0:
            return self.claim(bidder, auction_id)
        return self.refund(bidder, auction_id)

    def withdraw_proceeds(self, sender: LocalAccount, auction_id: int) -> TxReceipt:
        return self.chain.transact(self.contract.functions.withdrawProceeds(auction_id), sender)

    def claimed_payment(self, receipt: TxReceipt) -> int:
        """The payment of the AllowancesClaimed event in a settle receipt (0 for a refund)."""
        claimed = self.contract.events.AllowancesClaimed().process_receipt(receipt, errors=DISCARD)
        return int(claimed[0]["args"]["payment"]) if claimed else 0

    # ------------------------------------------------------------------ views

    def view(self, auction_id: int) -> AuctionView:
        raw = self.chain.call(self.contract.functions.auction(auction_id))
        return AuctionView.from_tuple(auction_id, raw)

    def count(self) -> int:
        return int(self.contract.functions.auctionCount().call())

    def allocation_of(self, auction_id: int, bidder: str) -> int:
        return int(self.contract.functions.allocationOf(auction_id, checked_address(bidder)).call())

    def bidder_state(self, auction_id: int, bidder: str) -> dict[str, Any]:
        committed, seq, guarantee, revealed, settled = self.contract.functions.bidderState(
            auction_id, checked_address(bidder)
        ).call()
        return {"committed": committed, "sequence": seq, "guarantee": guarantee, "revealed": revealed,
                "settled": settled}  # fmt: skip

    def holdings(self, token_id: int) -> tuple[int, int]:
        """(allowances of ``token_id``, settlement cash) the contract holds."""
        return self.allowance.balance(self.address, token_id), self.cash.balance(self.address)


def render_demand_curve(
    result: ClearingResult, supply: int, reserve_price: int, path: Path, title: str
) -> Path:
    """Chart of an auction: the aggregate demand curve (after the purchase limit), the supply, the
    reserve and the clearing price, written as PNG."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    levels: dict[int, int] = {}
    for demand in result.demand.values():
        for price, quantity in demand:
            levels[price] = levels.get(price, 0) + quantity
    xs, ys, cumulative = [0], [], 0
    for price in sorted(levels, reverse=True):
        ys.append(price / 100)
        cumulative += levels[price]
        xs.append(cumulative)
    fig = Figure(figsize=(7, 4.2), dpi=110)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    if ys:
        ax.stairs(
            ys, xs, baseline=None, color="#1f6feb", linewidth=2, label="demand (bids at or above price)"
        )
    ax.axvline(supply, color="#444", linestyle="--", label=f"supply {supply:,}")
    ax.axhline(
        reserve_price / 100, color="#999", linestyle=":", label=f"reserve CNY {reserve_price / 100:,.2f}"
    )
    if result.clearing_price is not None:
        ax.axhline(
            result.clearing_price / 100,
            color="#d73a49",
            label=f"clearing CNY {result.clearing_price / 100:,.2f}",
        )
    ax.set_xlabel("allowances (t)")
    ax.set_ylabel("price (CNY per t)")
    ax.set_title(title)
    ax.legend(loc="lower left", fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    return path


def wire_auction_house(
    registry: RegistryClient,
    members: Sequence[LocalAccount],
    auction: AuctionClient,
    treasury: str,
) -> list[str]:
    """Governance set-up of the auction house, skipping what is already in place.

    The auction contract may hold allowances and cash (a system contract of both tokens), is the
    allowance token's auction house (issues primary supply within the cap, returns unsold
    allowances to it), and pays primary proceeds to ``treasury`` — the regulator's treasury
    account, granted the REGULATOR role here if it has no role yet so it can hold cash.

    Returns:
        What was done, one line per governance proposal executed.
    """
    done: list[str] = []
    address = auction.address
    treasury = checked_address(treasury, "treasury")
    for token in (auction.allowance.contract, auction.cash.contract):
        if not token.functions.isSystemContract(address).call():
            fn = token.functions.setSystemContract(address, True)
            registry.govern_call(members, fn, "auction house may hold this token")
            done.append(f"{token.address}: SealedBidAuction allowed as a system contract")
    token = auction.allowance.contract
    if token.functions.auctionHouse().call() != address:
        registry.govern_call(members, token.functions.setAuctionHouse(address), "set the auction house")
        done.append("AllowanceToken: auction house set")
    if not registry.is_active_participant(treasury):
        registry.grant_roles(members, [("REGULATOR", treasury)], "regulator's treasury account")
        done.append(f"treasury {treasury} granted REGULATOR")
    if auction.contract.functions.treasury().call() != treasury:
        registry.govern_call(
            members, auction.contract.functions.setTreasury(treasury), "set the auction treasury"
        )
        done.append(f"SealedBidAuction: treasury {treasury}")
    return done


def auction_events(client: AuctionClient, auction_id: int) -> list[dict[str, Any]]:
    """Every event of one auction, in chain order (for ``ets auction show``)."""
    rows: list[dict[str, Any]] = []
    for name in ("AuctionCreated", "AuctionRestricted", "BidCommitted", "BidRevealed", "ClearingProgressed",
                 "AuctionCleared", "AuctionNoSale", "AllowancesClaimed", "GuaranteeRefunded",
                 "ProceedsWithdrawn"):  # fmt: skip
        event = getattr(client.contract.events, name)()
        for log in event.get_logs(from_block=client.from_block, argument_filters={"auctionId": auction_id}):
            tx_hash = HexBytes(log["transactionHash"]).to_0x_hex()
            rows.append({"event": name, "block": int(log["blockNumber"]), "index": int(log["logIndex"]),
                         "tx_hash": tx_hash, "args": dict(log["args"])})  # fmt: skip
    rows.sort(key=lambda r: (r["block"], r["index"]))
    return rows


__all__ = [
    "AuctionClient",
    "AuctionParams",
    "AuctionStatus",
    "AuctionView",
    "BidStore",
    "SealedBid",
    "auction_events",
    "commitment",
    "eligibility_tree",
    "render_demand_curve",
    "wire_auction_house",
]
