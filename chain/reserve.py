"""Typed client of GovernmentReserve (the reserve per pollutant and vintage: plan feeds, paid
allocations to new or expanded projects, confiscations) and of a closure (关停) as one governance
proposal (``ConsortiumRegistry.closeEnterprise``); the governance wiring of the reserve."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from eth_account.signers.local import LocalAccount
from hexbytes import HexBytes
from web3.logs import DISCARD
from web3.types import TxParams, TxReceipt

from chain.client import ContractClient
from chain.deploy import Manifest
from chain.registry import RegistryClient, checked_address
from chain.tx import ChainClient
from domain.errors import InvalidInputError
from domain.tokens import Kind, decode_id, pollutant_code

#: Suspension reason code of a closure (关停), recorded with ``ParticipantSuspended``.
CLOSURE_REASON_CODE = 22


class OfferState(enum.IntEnum):
    NONE = 0
    OPEN = 1
    ACCEPTED = 2
    WITHDRAWN = 3


@dataclass(frozen=True)
class Offer:
    """A paid allocation offered to a project (price in fen per tonne)."""

    id: int
    project: str
    token_id: int
    quantity: int
    price: int
    annual_plan_id: int
    deadline: int
    state: OfferState

    @property
    def payment(self) -> int:
        """Fen the project pays on accepting."""
        return self.quantity * self.price


@dataclass(frozen=True)
class Closure:
    """What a closure did (from the registry's ``EnterpriseClosed`` and the reserve's sweep)."""

    closure_id: int
    enterprise: str
    permit_id: int
    devices: int
    token_ids: tuple[int, ...]
    amounts: tuple[int, ...]
    tx_hash: str


class ReserveClient(ContractClient):
    """Client of one deployed GovernmentReserve.

    Attributes:
        token_from_block: the block the AllowanceToken's transfer events are scanned from for
            :meth:`closure_ids` (its deployment block; 0, the whole chain, when not known).
    """

    CONTRACT = "GovernmentReserve"

    def __init__(
        self, chain: ChainClient, address: str, *, from_block: int = 0, token_from_block: int = 0
    ) -> None:
        super().__init__(chain, address, from_block=from_block)
        self.token_from_block = token_from_block

    @classmethod
    def of_manifest(cls, chain: ChainClient, manifest: Manifest) -> ReserveClient:
        """The deployment's reserve, its event queries starting at the blocks the manifest records
        (the reserve's deployment, and the AllowanceToken's for :meth:`closure_ids`).

        Raises:
            DeploymentError: no GovernmentReserve in the manifest.
        """
        token = manifest.contracts.get("AllowanceToken")
        return cls(
            chain,
            manifest.address("GovernmentReserve"),
            from_block=manifest.contracts["GovernmentReserve"].block,
            token_from_block=token.block if token is not None else 0,
        )

    # ------------------------------------------------------------ regulator

    def feed(self, regulator: LocalAccount, annual_plan_id: int, pollutant: int | str) -> int:
        """Mint the annual plan's reserve share of ``pollutant`` (less what was fed); returns the amount."""
        fn = self.contract.functions.feed(annual_plan_id, pollutant_code(pollutant))
        receipt = self.chain.transact(fn, regulator)
        (event,) = self.contract.events.ReserveFed().process_receipt(receipt, errors=DISCARD)
        return int(event["args"]["amount"])

    def offer(
        self, regulator: LocalAccount, project: str, token_id: int, quantity: int, deadline: int
    ) -> int:
        """Offer ``quantity`` of ``token_id`` to ``project`` at the guide price; returns the offer id.

        Raises:
            InvalidInputError: a non-positive quantity, or not an allowance id.
        """
        _check_allowance_id(token_id)
        if quantity <= 0:
            raise InvalidInputError(f"quantity must be positive, got {quantity}")
        fn = self.contract.functions.offer(checked_address(project, "project"), token_id, quantity, deadline)
        receipt = self.chain.transact(fn, regulator)
        (event,) = self.contract.events.ReserveOffered().process_receipt(receipt, errors=DISCARD)
        return int(event["args"]["offerId"])

    def withdraw_offer(self, regulator: LocalAccount, offer_id: int) -> TxReceipt:
        return self.chain.transact(self.contract.functions.withdrawOffer(offer_id), regulator)

    # ------------------------------------------------------------ project

    def accept(self, project: LocalAccount, offer_id: int, *, approve_cash: bool = True) -> TxReceipt:
        """Accept an offer: approve the payment on the SettlementToken (unless ``approve_cash`` is
        false) and pay and receive in one transaction."""
        if approve_cash:
            payment = self.offer_of(offer_id).payment
            cash = self.chain.contract("SettlementToken", self.settlement_token())
            self.chain.transact(cash.functions.approve(self.address, payment), project)
        return self.chain.transact(self.contract.functions.accept(offer_id), project)

    def build_approve_payment(self, project: str, offer_id: int) -> TxParams:
        """The project's unsigned SettlementToken ``approve`` of the offer's payment (wallet-signed)."""
        cash = self.chain.contract("SettlementToken", self.settlement_token())
        fn = cash.functions.approve(self.address, self.offer_of(offer_id).payment)
        return self.chain.build(fn, checked_address(project, "project"))

    def build_accept(self, project: str, offer_id: int) -> TxParams:
        """The project's unsigned ``accept`` (wallet-signed, after the approval is mined)."""
        return self.chain.build(self.contract.functions.accept(offer_id), checked_address(project, "project"))

    # ------------------------------------------------------------ governance

    def encode_confiscate(
        self, holder: str, token_ids: Sequence[int], amounts: Sequence[int], reason: str
    ) -> Any:
        """The reserve's ``confiscate`` call for :meth:`RegistryClient.govern_call`."""
        if len(token_ids) != len(amounts) or not token_ids:
            raise InvalidInputError("confiscation needs ids and amounts of the same, non-zero length")
        for token_id in token_ids:
            _check_allowance_id(token_id)
        return self.contract.functions.confiscate(
            checked_address(holder), list(token_ids), list(amounts), reason
        )

    def closure_ids(self, enterprise: str) -> list[int]:
        """Allowance ids ``enterprise`` holds now of a vintage not before the current year (UTC+8,
        the chain's latest block): what a closure sweeps. The ids come from the token's transfers
        to it since :attr:`token_from_block`, the token's deployment (allocations before the
        reserve was deployed count too), never from the chain's first block."""
        token = self.chain.contract("AllowanceToken", self.allowance_token())
        who = checked_address(enterprise, "enterprise")
        seen: set[int] = set()
        for name in ("TransferSingle", "TransferBatch"):
            event = getattr(token.events, name)()
            for log in event.get_logs(from_block=self.token_from_block, argument_filters={"to": who}):
                args = log["args"]
                seen.update([int(args["id"])] if name == "TransferSingle" else [int(i) for i in args["ids"]])
        year = self.current_year()
        out = []
        for token_id in sorted(seen):
            parts = decode_id(token_id)
            if parts.kind != Kind.ALLOWANCE or parts.vintage < year:
                continue
            if int(token.functions.balanceOf(who, token_id).call()) > 0:
                out.append(token_id)
        return out

    def encode_close(
        self, registry: RegistryClient, enterprise: str, reason: str, token_ids: Sequence[int]
    ) -> bytes:
        """The registry's ``closeEnterprise`` call data (the one proposal of a closure)."""
        for token_id in token_ids:
            _check_allowance_id(token_id)
        if not reason:
            raise InvalidInputError("a closure needs a reason")
        fn = registry.contract.functions.closeEnterprise(
            checked_address(enterprise, "enterprise"),
            CLOSURE_REASON_CODE,
            reason,
            self.address,
            list(token_ids),
        )
        return bytes(HexBytes(fn._encode_transaction_data()))

    def propose_closure(
        self, registry: RegistryClient, member: LocalAccount, enterprise: str, reason: str
    ) -> int:
        """Propose the closure of ``enterprise`` (ids from :meth:`closure_ids`); returns the proposal id."""
        data = self.encode_close(registry, enterprise, reason, self.closure_ids(enterprise))
        return registry.propose(member, data, f"closure (关停) of {enterprise}: {reason}")

    def close(
        self, registry: RegistryClient, members: Sequence[LocalAccount], enterprise: str, reason: str
    ) -> Closure:
        """Propose, approve up to the threshold and execute the closure of ``enterprise``."""
        data = self.encode_close(registry, enterprise, reason, self.closure_ids(enterprise))
        receipt = registry.govern(members, data, f"closure (关停) of {enterprise}: {reason}")
        return self.closure_from_receipt(registry, receipt)

    def closure_from_receipt(self, registry: RegistryClient, receipt: TxReceipt) -> Closure:
        (closed,) = registry.contract.events.EnterpriseClosed().process_receipt(receipt, errors=DISCARD)
        (swept,) = self.contract.events.ReserveConfiscated().process_receipt(receipt, errors=DISCARD)
        a, s = closed["args"], swept["args"]
        return Closure(
            closure_id=int(a["closureId"]), enterprise=str(a["enterprise"]), permit_id=int(a["permitId"]),
            devices=int(a["devices"]), token_ids=tuple(int(i) for i in s["ids"]),
            amounts=tuple(int(x) for x in s["amounts"]), tx_hash=receipt["transactionHash"].hex(),
        )  # fmt: skip

    # ------------------------------------------------------------ views

    def allowance_token(self) -> str:
        return str(self.contract.functions.allowanceToken().call())

    def settlement_token(self) -> str:
        return str(self.contract.functions.settlementToken().call())

    def plans(self) -> str:
        return str(self.contract.functions.plans().call())

    def treasury(self) -> str:
        return str(self.contract.functions.treasury().call())

    def balance(self, token_id: int) -> int:
        token = self.chain.contract("AllowanceToken", self.allowance_token())
        return int(token.functions.balanceOf(self.address, token_id).call())

    def available(self, token_id: int) -> int:
        return int(self.contract.functions.available(token_id).call())

    def committed(self, token_id: int) -> int:
        return int(self.contract.functions.committed(token_id).call())

    def fed(self, token_id: int) -> int:
        return int(self.contract.functions.fed(token_id).call())

    def reserve_share_of(self, annual_plan_id: int, pollutant: int | str) -> int:
        fn = self.contract.functions.reserveShareOf(annual_plan_id, pollutant_code(pollutant))
        return int(self.chain.call(fn))

    def guide_price(self, token_id: int, region: int) -> tuple[int, int]:
        """(fen per tonne, annual plan id) for ``region`` in the vintage's current annual plan."""
        price, plan_id = self.chain.call(self.contract.functions.guidePrice(token_id, region))
        return int(price), int(plan_id)

    def offer_of(self, offer_id: int) -> Offer:
        raw = self.chain.call(self.contract.functions.getOffer(offer_id))
        return Offer(
            id=offer_id, project=str(raw[0]), token_id=int(raw[1]), quantity=int(raw[2]), price=int(raw[3]),
            annual_plan_id=int(raw[4]), deadline=int(raw[5]), state=OfferState(int(raw[6])),
        )  # fmt: skip

    def offer_count(self) -> int:
        return int(self.contract.functions.offerCount().call())

    def offers(self) -> list[Offer]:
        return [self.offer_of(i) for i in range(1, self.offer_count() + 1)]

    def sold(self, token_id: int) -> dict[str, int]:
        """Tonnes of ``token_id`` sold to each project (its accepted offers, from the contract's
        views), by checksummed account."""
        out: dict[str, int] = {}
        for o in self.offers():
            if o.token_id == token_id and o.state is OfferState.ACCEPTED:
                project = checked_address(o.project, "project")
                out[project] = out.get(project, 0) + o.quantity
        return out

    def closure_count(self) -> int:
        return int(self.contract.functions.closureCount().call())

    def year_of(self, timestamp: int) -> int:
        return int(self.contract.functions.yearOf(timestamp).call())

    def current_year(self) -> int:
        """The current year in China (UTC+8) at the chain's latest block."""
        return self.year_of(int(self.chain.w3.eth.get_block("latest")["timestamp"]))


def _check_allowance_id(token_id: int) -> None:
    parts = decode_id(token_id)  # InvalidInputError when out of range or of an unknown kind
    if parts.kind != Kind.ALLOWANCE:
        raise InvalidInputError(f"token id {token_id} is not an allowance id")


def wire_reserve(
    registry: RegistryClient, members: Sequence[LocalAccount], reserve: ReserveClient, treasury: str
) -> list[str]:
    """Governance wiring, skipping what is in place: the reserve is the AllowanceToken's reserve
    and one of its system contracts (a holder like the market and the auction house), pays the
    ``treasury`` account (the one primary auctions pay), and reads guide prices and reserve
    shares from the token's plans contract (when one is wired).

    Returns:
        What was done, one line per governance proposal executed.
    """
    done: list[str] = []
    token = registry.chain.contract("AllowanceToken", reserve.allowance_token())
    if token.functions.reserve().call() != reserve.address:
        registry.govern_call(members, token.functions.setReserve(reserve.address), "government reserve")
        done.append("AllowanceToken: government reserve set")
    if not token.functions.isSystemContract(reserve.address).call():
        fn = token.functions.setSystemContract(reserve.address, True)
        registry.govern_call(members, fn, "government reserve holds allowances")
        done.append("AllowanceToken: government reserve admitted as a system contract")
    if reserve.treasury() != checked_address(treasury, "treasury"):
        fn = reserve.contract.functions.setTreasury(checked_address(treasury, "treasury"))
        registry.govern_call(members, fn, "reserve sales pay the treasury")
        done.append("GovernmentReserve: treasury set")
    plans = str(token.functions.plans().call())
    if int(plans, 16) != 0 and reserve.plans() != plans:
        registry.govern_call(members, reserve.contract.functions.setPlans(plans), "reserve reads the plans")
        done.append("GovernmentReserve: plans wired")
    return done
