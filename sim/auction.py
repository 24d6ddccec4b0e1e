"""``ets auction simulate``: one whole auction from a JSON scenario on a fresh local chain."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from chain.accounts import Signer, demo_account, seeded_account
from chain.auction import AuctionParams, AuctionStatus, SealedBid
from chain.compile import compile_contracts
from chain.errors import ChainError
from chain.jsonfile import load_model
from chain.node import AnvilNode
from chain.onboarding import register_enterprises
from chain.suite import deploy_local_suite
from chain.tx import ChainClient
from domain.auction import PriceRule, apply_rules, clear, normalize_schedule, schedule_value
from domain.errors import AuctionInputError
from domain.tokens import Kind, encode_id
from domain.units import UINT64_MAX
from sim.sample import generate_enterprises, sample_profile

logger = logging.getLogger(__name__)

MAX_SIM_BIDDERS = 500
TOKEN_ID = encode_id(Kind.ALLOWANCE, "CO2", 2027)
HOUR = 3600


class ScenarioBid(BaseModel):
    """One bid: bids of the same bidder form its schedule."""

    model_config = ConfigDict(extra="forbid", strict=True)

    bidder: str = Field(min_length=1, max_length=64)
    price: int = Field(ge=0, le=UINT64_MAX)
    quantity: int = Field(ge=0, le=UINT64_MAX)


class Scenario(BaseModel):
    """An auction to simulate; bids listed in commitment order."""

    model_config = ConfigDict(extra="forbid", strict=True)

    supply: int = Field(ge=1, le=UINT64_MAX)
    reserve_price: int = Field(ge=1, le=UINT64_MAX)
    purchase_limit: int | None = Field(default=None, ge=1, le=UINT64_MAX)
    price_rule: Literal["lowest_accepted", "highest_rejected"] = "lowest_accepted"
    bids: list[ScenarioBid]
    #: Bidders that commit but never reveal (they forfeit ``forfeit_bps`` of their guarantee).
    no_show: list[str] = Field(default_factory=list)
    forfeit_bps: int = Field(default=0, ge=0, le=10_000)
    #: ``primary``: the regulator sells new allowances; ``secondary``: an enterprise sells its own.
    seller: Literal["primary", "secondary"] = "primary"

    @model_validator(mode="after")
    def _check(self) -> Scenario:
        names = self.bidders()
        if len(names) > MAX_SIM_BIDDERS:
            raise ValueError(f"at most {MAX_SIM_BIDDERS} bidders in a simulation, got {len(names)}")
        unknown = sorted(set(self.no_show) - set(names))
        if unknown:
            raise ValueError(f"no_show names bidders without bids: {', '.join(unknown)}")
        for name in names:
            try:
                normalize_schedule(self.schedule_bids(name))
            except AuctionInputError as exc:
                raise ValueError(f"bidder {name!r}: {exc}") from None
        return self

    def bidders(self) -> list[str]:
        """Bidders in commitment order (first appearance)."""
        return list(dict.fromkeys(b.bidder for b in self.bids))

    def schedule_bids(self, name: str) -> list[tuple[int, int]]:
        return [(b.price, b.quantity) for b in self.bids if b.bidder == name]


def load_scenario(path: Path) -> Scenario:
    """Read and check a scenario file.

    Raises:
        AuctionInputError: unreadable, not JSON, or not a valid scenario (every problem listed).
    """
    return load_model(path, Scenario, AuctionInputError, "scenario")


def bidder_account(name: str) -> Signer:
    """Deterministic key of a simulated bidder (public derivation: simulations only)."""
    return seeded_account(f"ets-auction-sim:{name}")


def simulate(scenario: Scenario, *, say: Callable[[str], None] = logger.info) -> dict[str, Any]:
    """Run the scenario's auction end to end on a fresh Anvil and report what the contract did.

    Creates the auction (primary: supply issued within a cap; secondary: escrowed from a seller
    enterprise), registers and funds one enterprise per bidder (guarantee = the value of its
    valid bids), commits in order, reveals (except no-shows), submits the clearing, settles every
    bidder and withdraws the proceeds; checks the contract ends holding nothing and that its
    result equals the Python reference.

    Returns:
        ``{"clearing_price", "allocations", "unsold", "payments"}`` keyed by bidder name.

    Raises:
        ChainError: the contract's result differs from the reference, or it kept a balance.
    """
    names = scenario.bidders()
    rule = PriceRule.parse(scenario.price_rule)
    limit = scenario.purchase_limit or 0
    schedules = {n: normalize_schedule(scenario.schedule_bids(n)) for n in names}
    accounts = {n: bidder_account(n) for n in names}

    with AnvilNode(accounts=10) as node, TemporaryDirectory() as tmp:
        suite = deploy_local_suite(
            ChainClient.connect(node.url, compile_contracts()), Path(tmp) / "deployment.json"
        )
        chain, registry, members = suite.chain, suite.registry, suite.members
        regulator, exchange = suite.regulator, suite.exchange
        allowance, cash, auction = suite.allowance, suite.cash, suite.auction
        say(f"suite deployed on a fresh chain at {node.url}")

        seller = bidder_account("\x00seller")
        participants = [*accounts.values(), seller]
        profiles = generate_enterprises(len(participants), years=3, seed=7).enterprises
        for account in participants:
            chain.w3.provider.make_request("anvil_setBalance", [account.address, hex(10**21)])  # type: ignore[arg-type]
        register_enterprises(registry, members, [(a.address, sample_profile(p)) for a, p in
                                                  zip(participants, profiles, strict=True)])  # fmt: skip
        say(f"{len(names)} bidders registered")

        now = chain.timestamp()
        params = AuctionParams(
            token_id=TOKEN_ID, supply=scenario.supply, reserve_price=scenario.reserve_price,
            purchase_limit=limit, commit_end=now + HOUR, reveal_end=now + 2 * HOUR,
            forfeit_bps=scenario.forfeit_bps, price_rule=rule,
        )  # fmt: skip
        allowance.set_cap(regulator, TOKEN_ID, scenario.supply)
        if scenario.seller == "primary":
            auction_id = auction.create_primary(regulator, params)
        else:
            allowance.allocate(regulator, TOKEN_ID, [seller.address], [scenario.supply], b"\x01" * 32)
            auction_id = auction.create_secondary(seller, params)

        sealed: dict[str, SealedBid] = {}
        for i, name in enumerate(names):
            value = schedule_value(apply_rules(schedules[name], scenario.reserve_price, limit))
            guarantee = max(1, value)
            cash.deposit(exchange, accounts[name].address, guarantee, f"sim-{i}")
            sealed[name] = auction.seal(
                auction_id, accounts[name].address, schedules[name], guarantee=guarantee
            )
            auction.commit(accounts[name], sealed[name])
        chain.advance_time(HOUR)
        for name in names:
            if name not in scenario.no_show:
                auction.reveal(accounts[name], sealed[name])
        chain.advance_time(HOUR)
        auction.submit_clearing(demo_account("auditor"), auction_id)
        view = auction.view(auction_id)
        say(
            f"auction {auction_id}: {view.status.name.lower()}, price {view.clearing_price}, sold {view.sold}"
        )

        allocations: dict[str, int] = {}
        payments: dict[str, int] = {}
        for name in names:
            account = accounts[name]
            allocations[name] = auction.allocation_of(auction_id, account.address)
            receipt = auction.settle(account, auction_id)
            payments[name] = auction.claimed_payment(receipt)
        auction.withdraw_proceeds(seller if scenario.seller == "secondary" else regulator, auction_id)
        held = auction.holdings(TOKEN_ID)
        if held != (0, 0):
            raise ChainError(f"the auction contract still holds {held[0]} allowances and {held[1]} cash")

    result = {
        "clearing_price": view.clearing_price if view.status is AuctionStatus.CLEARED else None,
        "allocations": allocations,
        "unsold": scenario.supply - view.sold,
        "payments": payments,
    }
    revealed = [(n, schedules[n]) for n in names if n not in scenario.no_show]
    reference = clear(
        scenario.supply, scenario.reserve_price, revealed, purchase_limit=limit, price_rule=rule
    )
    expected = {
        "clearing_price": reference.clearing_price,
        "allocations": {n: reference.allocations.get(n, 0) for n in names},
        "unsold": reference.unsold,
        "payments": {n: reference.payments.get(n, 0) for n in names},
    }
    if result != expected:
        raise ChainError(f"contract and reference disagree: chain {result}, reference {expected}")
    return result
