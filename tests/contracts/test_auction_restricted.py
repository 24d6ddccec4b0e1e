"""A primary auction restricted to named projects (issue 22 point 4) on a real Anvil with plans,
permits and the reserve wired (SO2 gated): the named project, holding no permit yet, wins and
settles delivery versus payment; an outsider is refused by name with nothing changed; an
unrestricted auction keeps the permits gate on delivery; a suspended project and every wrong
creator are refused."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_account.signers.local import LocalAccount

from chain.auction import MAX_RESTRICTED_BIDDERS, AuctionParams, AuctionStatus
from chain.compile import Artifact
from chain.node import AnvilNode
from chain.tx import ChainClient
from domain.errors import AuctionInputError
from tests.conftest import Consortium
from tests.utils.chain import reverts
from tests.utils.plans import SO2
from tests.utils.reserve import ENTERPRISES, SO2_2027, deploy_reserve_suite

E0, E1, E2, E3 = ENTERPRISES
HOUR = 3600
RESERVE = 2_500  # fen per tonne
CASH = 10**9


@pytest.fixture(scope="module")
def suite_module(
    anvil: AnvilNode, artifacts: dict[str, Artifact], tmp_path_factory: pytest.TempPathFactory
) -> Consortium:
    chain = ChainClient.connect(anvil.url, artifacts)
    c, _ = deploy_reserve_suite(anvil, chain, Path(tmp_path_factory.mktemp("restricted")))
    for i, e in enumerate(ENTERPRISES):
        c.cash.deposit(c.exchange, e.address, CASH, f"restricted-{i}")
        c.cash.approve(e, c.auction.address, 2**256 - 1)
    return c


@pytest.fixture
def c(suite_module: Consortium) -> Iterator[Consortium]:
    snapshot = suite_module.snapshot()
    try:
        yield suite_module
    finally:
        suite_module.revert(snapshot)


def _params(c: Consortium, **overrides: object) -> AuctionParams:
    now = c.chain.timestamp()
    values: dict[str, object] = {"token_id": SO2_2027, "supply": 100, "reserve_price": RESERVE,
                                 "commit_end": now + HOUR, "reveal_end": now + 2 * HOUR}  # fmt: skip
    values.update(overrides)
    return AuctionParams(**values)  # type: ignore[arg-type]


def _bid(c: Consortium, auction_id: int, bidder: LocalAccount, price: int, quantity: int) -> None:
    sealed = c.auction.seal(auction_id, bidder.address, [(price, quantity)])
    c.auction.commit(bidder, sealed)
    c.chain.advance_time(HOUR)
    c.auction.reveal(bidder, sealed)
    c.chain.advance_time(HOUR)
    c.auction.submit_clearing(c.regulator, auction_id)


def _suspend(c: Consortium, account: str) -> None:
    c.registry.govern(c.members[1:], c.registry.encode_suspend(account, 1), "suspend")


def test_named_project_without_permit_wins_and_settles(c: Consortium) -> None:
    assert c.permits is not None and c.permits.permit_of(E0.address) == 0
    issued = c.allowance.issued(SO2_2027)
    auction_id = c.auction.create_primary(c.regulator, _params(c), bidders=[E0.address])
    assert c.auction.restricted_bidders(auction_id) == [E0.address]
    assert c.allowance.issued(SO2_2027) == issued + 100
    logs = c.auction.contract.events.AuctionRestricted().get_logs(from_block=c.auction.from_block)
    restricted = [(int(x["args"]["auctionId"]), list(x["args"]["bidders"])) for x in logs]
    assert restricted == [(auction_id, [E0.address])]
    treasury = c.cash.balance(c.treasury.address)
    _bid(c, auction_id, E0, 3_000, 60)
    view = c.auction.view(auction_id)
    assert (view.status, view.clearing_price, view.sold) == (AuctionStatus.CLEARED, RESERVE, 60)
    c.auction.claim(E0, auction_id)  # delivered before the permit is issued
    assert c.allowance.balance(E0.address, SO2_2027) == 60
    assert c.cash.balance(E0.address) == CASH - 60 * RESERVE
    assert c.auction.contract.functions.projectClaimant().call() == "0x" + "0" * 40
    c.auction.withdraw_proceeds(c.regulator, auction_id)
    assert c.cash.balance(c.treasury.address) == treasury + 60 * RESERVE
    assert c.allowance.issued(SO2_2027) == issued + 60  # the unsold 40 went back to the cap
    # the rights came before the permit; trading them on still needs it
    with reverts("AllowancePermitNotValid", enterprise=E0.address, pollutant=SO2):
        c.allowance.transfer(E0, E1.address, SO2_2027, 1)


def test_outsider_refused_by_name_with_nothing_changed(c: Consortium) -> None:
    auction_id = c.auction.create_primary(c.regulator, _params(c), bidders=[E0.address, E1.address])
    sealed = c.auction.seal(auction_id, E2.address, [(3_000, 10)])
    with reverts("AuctionBidderNotAllowed", auctionId=auction_id, bidder=E2.address):
        c.auction.commit(E2, sealed)
    assert c.auction.view(auction_id).bidders == 0
    assert c.cash.balance(E2.address) == CASH
    assert c.auction.bidder_state(auction_id, E2.address)["committed"] is False
    c.auction.commit(E1, c.auction.seal(auction_id, E1.address, [(3_000, 10)]))  # the second name bids
    assert c.auction.view(auction_id).bidders == 1


def test_unrestricted_primary_unchanged_and_keeps_the_permits_gate(c: Consortium) -> None:
    auction_id = c.auction.create_primary(c.regulator, _params(c))
    assert c.auction.restricted_bidders(auction_id) == []
    c.auction.commit(E2, c.auction.seal(auction_id, E2.address, [(3_000, 5)]))  # anyone active may bid
    _bid(c, auction_id, E0, 3_000, 10)
    with reverts("AllowancePermitNotValid", enterprise=E0.address, pollutant=SO2):
        c.auction.claim(E0, auction_id)
    assert c.allowance.balance(E0.address, SO2_2027) == 0


def test_suspended_project_refused(c: Consortium) -> None:
    auction_id = c.auction.create_primary(c.regulator, _params(c), bidders=[E0.address])
    _suspend(c, E0.address)
    with reverts("AuctionBidderNotEligible", auctionId=auction_id, bidder=E0.address):
        c.auction.commit(E0, c.auction.seal(auction_id, E0.address, [(3_000, 10)]))
    count = c.auction.count()
    with reverts("AuctionBidderNotEligible", auctionId=count + 1, bidder=E0.address):
        c.auction.create_primary(c.regulator, _params(c), bidders=[E1.address, E0.address])
    assert c.auction.count() == count


def test_wrong_creator_and_bad_lists_refused_with_nothing_changed(c: Consortium) -> None:
    count, issued = c.auction.count(), c.allowance.issued(SO2_2027)
    for account in (c.exchange, c.auditor, E0, c.outsider):
        with reverts("UnauthorizedRole", account=account.address):
            c.auction.create_primary(account, _params(c), bidders=[E0.address])
    with reverts("AuctionBidderNotEligible", bidder=c.outsider.address):
        c.auction.create_primary(c.regulator, _params(c), bidders=[c.outsider.address])
    with reverts("AuctionRestrictionNotAllowed"):
        c.auction.create_primary(c.regulator, _params(c, eligibility_root=b"\x01" * 32), bidders=[E0.address])
    fn = c.auction.contract.functions.createRestrictedPrimary
    with reverts("AuctionBidderListInvalid", length=0):
        c.chain.transact(fn(_params(c).as_tuple(), []), c.regulator)
    with reverts("AuctionBidderListInvalid", length=17):
        c.chain.transact(fn(_params(c).as_tuple(), [E0.address] * 17), c.regulator)
    with pytest.raises(AuctionInputError, match="at most 16"):
        c.auction.create_primary(c.regulator, _params(c), bidders=[f"0x{i:040x}" for i in range(1, 18)])
    assert MAX_RESTRICTED_BIDDERS == 16
    _suspend(c, c.regulator.address)
    with reverts("CallerNotActive", account=c.regulator.address):
        c.auction.create_primary(c.regulator, _params(c), bidders=[E0.address])
    assert (c.auction.count(), c.allowance.issued(SO2_2027)) == (count, issued)
