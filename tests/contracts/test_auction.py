"""SealedBidAuction on a real Anvil: every phase, every refusal, the clearing verified against the
Python reference, and conservation of allowances and cash (hypothesis)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest
from eth_account.signers.local import LocalAccount
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chain.accounts import dev_account
from chain.auction import AuctionParams, AuctionStatus, SealedBid, commitment, eligibility_tree
from chain.onboarding import register_enterprises
from domain.auction import ClearingClaim, PriceRule, clear
from domain.tokens import Kind, encode_id
from tests.conftest import Consortium
from tests.utils.chain import encode_call, profile, reverts

CO2_2027 = encode_id(Kind.ALLOWANCE, "CO2", 2027)
BIDDERS = [dev_account(20 + i) for i in range(8)]
CASH = 10**12  # fen per bidder
HOUR = 3600


@pytest.fixture(scope="module")
def market(consortium: Consortium) -> Iterator[Consortium]:
    """Eight registered, funded enterprises; CO2 2027 capped at 1,000,000; E0 holds 500."""
    c = consortium
    snapshot = c.snapshot()
    rows = [(b.address, profile(500 + i)) for i, b in enumerate(BIDDERS)]
    register_enterprises(c.registry, c.members, rows, batch_size=8)
    for i, b in enumerate(BIDDERS):
        c.cash.deposit(c.exchange, b.address, CASH, f"auction-test-{i}")
        c.cash.approve(b, c.auction.address, 2**256 - 1)
    c.allowance.set_cap(c.regulator, CO2_2027, 1_000_000)
    c.allowance.allocate(c.regulator, CO2_2027, [BIDDERS[0].address], [500], b"\x0a" * 32)
    yield c
    c.revert(snapshot)


@pytest.fixture
def m(market: Consortium) -> Iterator[Consortium]:
    snapshot = market.snapshot()
    try:
        yield market
    finally:
        market.revert(snapshot)


def params(c: Consortium, **overrides: object) -> AuctionParams:
    now = c.chain.timestamp()
    base = AuctionParams(token_id=CO2_2027, supply=100, reserve_price=5000, commit_end=now + HOUR,
                         reveal_end=now + 2 * HOUR)  # fmt: skip
    return replace(base, **overrides)  # type: ignore[arg-type]


def primary(c: Consortium, **overrides: object) -> int:
    return c.auction.create_primary(c.regulator, params(c, **overrides))


def bid(
    c: Consortium, auction_id: int, bidder: LocalAccount, bids: list[tuple[int, int]], **kw: object
) -> SealedBid:
    sealed = c.auction.seal(auction_id, bidder.address, bids, **kw)  # type: ignore[arg-type]
    c.auction.commit(bidder, sealed)
    return sealed


def to_reveal(c: Consortium) -> None:
    c.chain.advance_time(HOUR)


def to_clearing(c: Consortium) -> None:
    c.chain.advance_time(HOUR)


# ---------------------------------------------------------------------- create


def test_create_primary_issues_supply_into_escrow_within_cap(m: Consortium) -> None:
    issued = m.allowance.issued(CO2_2027)
    auction_id = primary(m)
    view = m.auction.view(auction_id)
    assert (view.status, view.primary, view.seller, view.supply) == (
        AuctionStatus.OPEN,
        True,
        m.regulator.address,
        100,
    )
    assert m.allowance.issued(CO2_2027) == issued + 100
    assert m.auction.holdings(CO2_2027) == (100, 0)


@pytest.mark.parametrize("who", ["exchange", "auditor", "enterprise", "outsider"])
def test_create_primary_refuses_non_regulators(m: Consortium, who: str) -> None:
    account = {
        "exchange": m.exchange,
        "auditor": m.auditor,
        "enterprise": BIDDERS[0],
        "outsider": m.outsider,
    }[who]
    with reverts("UnauthorizedRole", account=account.address):
        m.auction.create_primary(account, params(m))


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"supply": 0}, "AuctionZeroSupply"),
        ({"reserve_price": 0}, "AuctionZeroReserve"),
        ({"forfeit_bps": 10_001}, "AuctionInvalidForfeit"),
        ({"token_id": 1 << 40}, "AuctionInvalidToken"),
        ({"supply": 2_000_000}, "CapExceeded"),
        ({"token_id": encode_id(Kind.ALLOWANCE, "CO2", 2199) + (99 << 16)}, "AllowanceUnknownPollutant"),
    ],
)
def test_create_primary_refuses_bad_parameters(
    m: Consortium, overrides: dict[str, object], error: str
) -> None:
    with reverts(error):
        primary(m, **overrides)


def test_create_refuses_bad_windows(m: Consortium) -> None:
    now = m.chain.timestamp()
    for window in [(0, now + 10, now + 10), (0, now + 10, now + 5), (now - 100, now + 10, now + 20)]:
        with reverts("AuctionInvalidWindow"):
            primary(m, commit_start=window[0], commit_end=window[1], reveal_end=window[2])


def test_create_secondary_escrows_sellers_allowances(m: Consortium) -> None:
    seller = BIDDERS[0]
    auction_id = m.auction.create_secondary(seller, params(m, supply=200))
    assert m.auction.view(auction_id).primary is False
    assert m.allowance.balance(seller.address, CO2_2027) == 300
    assert m.auction.holdings(CO2_2027) == (200, 0)


@pytest.mark.parametrize("who", ["regulator", "auditor", "outsider"])
def test_create_secondary_refuses_non_enterprise_non_exchange(m: Consortium, who: str) -> None:
    account = {"regulator": m.regulator, "auditor": m.auditor, "outsider": m.outsider}[who]
    with reverts("UnauthorizedRole", account=account.address):
        m.auction.create_secondary(account, params(m))


def test_create_secondary_refuses_restriction_frozen_and_unapproved(m: Consortium) -> None:
    seller = BIDDERS[0]
    with reverts("AuctionRestrictionNotAllowed"):
        m.auction.create_secondary(seller, params(m, eligibility_root=b"\x01" * 32))
    m.allowance.freeze(m.regulator, seller.address, CO2_2027, 7)
    with reverts("AllowanceFrozen", holder=seller.address):
        m.auction.create_secondary(seller, params(m))
    m.allowance.release(m.regulator, seller.address, CO2_2027)
    m.chain.transact(m.allowance.contract.functions.setApprovalForAll(m.auction.address, False), seller)
    fn = m.auction.contract.functions.createSecondary(params(m).as_tuple())
    with reverts("ERC1155MissingApprovalForAll"):
        m.chain.transact(fn, seller)


def test_set_treasury_is_governance_only(m: Consortium) -> None:
    data = encode_call(m.auction.contract, "setTreasury", m.regulator.address)
    with reverts("OnlyGovernance"):
        m.chain.transact(m.auction.contract.functions.setTreasury(m.regulator.address), m.regulator)
    m.registry.govern(m.members, data, "treasury", target=m.auction.address)
    assert m.auction.contract.functions.treasury().call() == m.regulator.address
    with reverts("RegistryGatedZeroAddress", field="treasury"):
        m.registry.govern(m.members, encode_call(m.auction.contract, "setTreasury", "0x" + "00" * 20),
                          "zero", target=m.auction.address)  # fmt: skip


@pytest.mark.parametrize("field", ["allowances", "cash"])
def test_constructor_refuses_zero_addresses_naming_the_field(m: Consortium, field: str) -> None:
    parts = {"allowances": m.allowance.address, "cash": m.cash.address, field: "0x" + "00" * 20}
    with reverts("AuctionZeroAddress", field=field):
        m.chain.deploy(
            "SealedBidAuction", [m.registry.address, parts["allowances"], parts["cash"]], m.regulator
        )


def test_create_primary_refuses_without_treasury(m: Consortium) -> None:
    address, _ = m.chain.deploy(
        "SealedBidAuction", [m.registry.address, m.allowance.address, m.cash.address], m.regulator
    )
    bare = m.chain.contract("SealedBidAuction", address)
    with reverts("AuctionTreasuryNotSet"):
        m.chain.transact(bare.functions.createPrimary(params(m).as_tuple()), m.regulator)


def test_allowance_auction_house_functions_refuse_others(m: Consortium) -> None:
    token = m.allowance.contract
    with reverts("AllowanceOnlyAuctionHouse", caller=m.regulator.address):
        m.chain.transact(token.functions.issueToAuction(CO2_2027, 1), m.regulator)
    with reverts("AllowanceOnlyAuctionHouse", caller=BIDDERS[0].address):
        m.chain.transact(token.functions.returnToCap(CO2_2027, 1), BIDDERS[0])
    with reverts("OnlyGovernance", caller=m.regulator.address):
        m.chain.transact(token.functions.setAuctionHouse(m.regulator.address), m.regulator)


# ---------------------------------------------------------------------- commit


def test_commit_escrows_guarantee_and_hides_price(m: Consortium) -> None:
    auction_id = primary(m)
    sealed = bid(m, auction_id, BIDDERS[1], [(6000, 10)])
    assert sealed.guarantee == 60_000
    assert m.auction.holdings(CO2_2027) == (100, 60_000)
    state = m.auction.bidder_state(auction_id, BIDDERS[1].address)
    assert state == {
        "committed": True,
        "sequence": 0,
        "guarantee": 60_000,
        "revealed": False,
        "settled": False,
    }
    events = m.auction.contract.events.BidCommitted().get_logs(
        from_block=0, argument_filters={"auctionId": auction_id}
    )
    # Only the hash and the guarantee are public before the reveal.
    assert set(events[0]["args"]) == {"auctionId", "bidder", "sequence", "commitment", "guarantee"}


def test_commit_refuses_outside_window_seller_ineligible_twice_and_bad_guarantee(m: Consortium) -> None:
    now = m.chain.timestamp()
    later = primary(m, commit_start=now + HOUR, commit_end=now + 2 * HOUR, reveal_end=now + 3 * HOUR)
    with reverts("AuctionNotInCommitPhase", auctionId=later):
        bid(m, later, BIDDERS[1], [(6000, 1)])
    secondary = m.auction.create_secondary(BIDDERS[0], params(m))
    with reverts("AuctionSellerCannotBid", seller=BIDDERS[0].address):
        bid(m, secondary, BIDDERS[0], [(6000, 1)])
    with reverts("AuctionBidderNotEligible", bidder=m.auditor.address):
        bid(m, secondary, m.auditor, [(6000, 1)])
    bid(m, secondary, BIDDERS[1], [(6000, 1)])
    with reverts("AuctionAlreadyCommitted", bidder=BIDDERS[1].address):
        bid(m, secondary, BIDDERS[1], [(6000, 1)])
    with reverts("AuctionInvalidGuarantee", guarantee=0):
        bid(m, secondary, BIDDERS[2], [(6000, 1)], guarantee=0)
    with reverts("AuctionUnknown", auctionId=99):
        m.chain.transact(m.auction.contract.functions.commit(99, b"\x01" * 32, 1, []), BIDDERS[2])
    m.registry.govern(m.members, m.registry.encode_suspend(BIDDERS[3].address, 1), "suspend")
    with reverts("AuctionBidderNotEligible", bidder=BIDDERS[3].address):
        bid(m, secondary, BIDDERS[3], [(6000, 1)])
    to_reveal(m)
    with reverts("AuctionNotInCommitPhase", auctionId=secondary):
        bid(m, secondary, BIDDERS[4], [(6000, 1)])


def test_commit_restricted_primary_admits_only_listed_enterprises(m: Consortium) -> None:
    tree = eligibility_tree([BIDDERS[1].address, BIDDERS[2].address])
    auction_id = primary(m, eligibility_root=bytes.fromhex(tree.root[2:]))
    listed = m.auction.seal(auction_id, BIDDERS[1].address, [(6000, 1)])
    m.auction.commit(BIDDERS[1], listed, proof=tree.get_proof([BIDDERS[1].address]))
    other = m.auction.seal(auction_id, BIDDERS[3].address, [(6000, 1)])
    with reverts("AuctionBidderNotEligible", bidder=BIDDERS[3].address):
        m.auction.commit(BIDDERS[3], other, proof=tree.get_proof([BIDDERS[2].address]))


def test_commit_refuses_without_cash_approval(m: Consortium) -> None:
    auction_id = primary(m)
    m.cash.approve(BIDDERS[1], m.auction.address, 0)
    sealed = m.auction.seal(auction_id, BIDDERS[1].address, [(6000, 1)])
    fn = m.auction.contract.functions.commit(
        auction_id, bytes.fromhex(sealed.commitment[2:]), sealed.guarantee, []
    )
    with reverts("ERC20InsufficientAllowance"):
        m.chain.transact(fn, BIDDERS[1])


# ---------------------------------------------------------------------- reveal


def test_reveal_refuses_wrong_salt_changed_bid_twice_and_outside_window(m: Consortium) -> None:
    auction_id = primary(m)
    sealed = bid(m, auction_id, BIDDERS[1], [(6000, 10)])
    with reverts("AuctionNotInRevealPhase", auctionId=auction_id):
        m.auction.reveal(BIDDERS[1], sealed)
    to_reveal(m)
    with reverts("AuctionCommitmentMismatch", bidder=BIDDERS[1].address):
        m.auction.reveal(BIDDERS[1], replace(sealed, salt="0x" + "ab" * 32))
    with reverts("AuctionCommitmentMismatch"):
        m.auction.reveal(BIDDERS[1], replace(sealed, schedule=((6001, 10),)))
    with reverts("AuctionNoCommitment", bidder=BIDDERS[2].address):
        m.auction.reveal(BIDDERS[2], replace(sealed, bidder=BIDDERS[2].address))
    m.auction.reveal(BIDDERS[1], sealed)
    with reverts("AuctionAlreadyRevealed"):
        m.auction.reveal(BIDDERS[1], sealed)
    to_clearing(m)
    sealed2 = SealedBid(auction_id, BIDDERS[1].address, ((1, 1),), "0x" + "00" * 32, 1, "0x")
    with reverts("AuctionNotInRevealPhase"):
        m.auction.reveal(BIDDERS[1], sealed2)


def test_reveal_refuses_guarantee_below_revealed_value(m: Consortium) -> None:
    auction_id = primary(m)
    sealed = bid(m, auction_id, BIDDERS[1], [(6000, 10)], guarantee=59_999)
    to_reveal(m)
    with reverts("AuctionGuaranteeTooSmall", guarantee=59_999, required=60_000):
        m.auction.reveal(BIDDERS[1], sealed)


def test_reveal_refuses_malformed_schedules(m: Consortium) -> None:
    auction_id = primary(m)
    salt = b"\x07" * 32
    bad = {
        BIDDERS[1]: ((5000, 1), (6000, 1)),
        BIDDERS[2]: tuple((9000 - i, 1) for i in range(17)),
        BIDDERS[3]: (),
    }
    for bidder, schedule in bad.items():
        digest = commitment(auction_id, bidder.address, schedule, salt)
        m.chain.transact(m.auction.contract.functions.commit(auction_id, digest, 10**9, []), bidder)
    to_reveal(m)
    for bidder, schedule in bad.items():
        fn = m.auction.contract.functions.reveal(
            auction_id, [p for p, _ in schedule], [q for _, q in schedule], salt
        )
        with reverts("AuctionInvalidSchedule"):
            m.chain.transact(fn, bidder)
    fn = m.auction.contract.functions.reveal(auction_id, [5000, 4000], [1], salt)
    with reverts("AuctionInvalidSchedule"):
        m.chain.transact(fn, BIDDERS[1])


def test_reveal_voids_bids_below_reserve_and_applies_limit(m: Consortium) -> None:
    auction_id = primary(m, purchase_limit=15)
    sealed = bid(m, auction_id, BIDDERS[1], [(7000, 10), (6000, 0), (5500, 10), (4000, 50)])
    to_reveal(m)
    m.auction.reveal(BIDDERS[1], sealed)
    demand = m.auction.contract.functions.demandOf(auction_id, BIDDERS[1].address).call()
    assert demand == [[7000, 5500], [10, 5]]
    assert m.auction.view(auction_id).total_demand == 15


def test_demand_of_returns_empty_when_address_did_not_bid(m: Consortium) -> None:
    """Issue 17 item 15: an address without a commitment used to panic (0x11, ``plusOne - 1``)."""
    auction_id = primary(m)
    demand_of = m.auction.contract.functions.demandOf
    assert demand_of(auction_id, m.outsider.address).call() == [[], []]
    sealed = bid(m, auction_id, BIDDERS[1], [(7000, 10)])
    assert demand_of(auction_id, BIDDERS[2].address).call() == [[], []]
    assert demand_of(auction_id, BIDDERS[1].address).call() == [[], []]  # committed, not revealed
    to_reveal(m)
    m.auction.reveal(BIDDERS[1], sealed)
    assert demand_of(auction_id, BIDDERS[1].address).call() == [[7000], [10]]
    assert demand_of(auction_id, BIDDERS[2].address).call() == [[], []]
    assert demand_of(auction_id + 1, BIDDERS[1].address).call() == [[], []]  # no such auction


# ---------------------------------------------------------------------- clear, claim, refund, withdraw


def run_bids(c: Consortium, auction_id: int, schedules: dict[int, list[tuple[int, int]]],
             no_show: frozenset[int] = frozenset()) -> dict[int, SealedBid]:  # fmt: skip
    sealed = {i: bid(c, auction_id, BIDDERS[i], s) for i, s in schedules.items()}
    to_reveal(c)
    for i, s in sealed.items():
        if i not in no_show:
            c.auction.reveal(BIDDERS[i], s)
    to_clearing(c)
    return sealed


def test_clearing_refuses_early_wrong_and_repeated_submissions(m: Consortium) -> None:
    auction_id = primary(m)
    with reverts("AuctionNotInClearingPhase", auctionId=auction_id):
        m.auction.submit_clearing(m.auditor, auction_id, ClearingClaim(0, 0, 0), max_bidders=1)
    run_bids(m, auction_id, {1: [(7000, 60)], 2: [(6000, 60)], 3: [(5500, 30)]})
    for wrong in [(6000, 59, 60), (6000, 60, 59), (7000, 0, 60), (5500, 120, 30), (6001, 60, 60), (0, 0, 0)]:
        with reverts("AuctionWrongClearing", price=wrong[0]):
            m.auction.submit_clearing(m.auditor, auction_id, ClearingClaim(*wrong), max_bidders=0)
    right = m.auction.compute_clearing(auction_id)
    assert right.claim == ClearingClaim(6000, 60, 60)
    m.auction.submit_clearing(m.auditor, auction_id)  # anyone may submit: here the auditor
    with reverts("AuctionNotInClearingPhase"):
        m.auction.submit_clearing(m.auditor, auction_id, right.claim, max_bidders=0)


def test_clearing_in_pages_and_a_stalled_wrong_run_does_not_block_the_right_one(m: Consortium) -> None:
    auction_id = primary(m, supply=50)
    run_bids(m, auction_id, {i: [(5000 + 100 * i, 10)] for i in range(1, 8)})
    right = m.auction.compute_clearing(auction_id).claim
    wrong = ClearingClaim(right.price, right.demand_above, right.demand_at + 5)
    page = m.auction.contract.functions.submitClearing
    m.chain.transact(page(auction_id, wrong.as_tuple(), 3), m.auditor)  # the first page passes
    with reverts("AuctionWrongClearing", demandAt=wrong.demand_at):
        m.chain.transact(page(auction_id, wrong.as_tuple(), 10), m.auditor)  # the last page refuses
    assert m.auction.view(auction_id).status is AuctionStatus.OPEN
    receipts = m.auction.submit_clearing(m.auditor, auction_id, right, max_bidders=2)
    assert len(receipts) == 4
    assert m.auction.view(auction_id).status is AuctionStatus.CLEARED


def test_claim_is_delivery_versus_payment_and_refund_returns_losers_guarantee(m: Consortium) -> None:
    auction_id = primary(m, forfeit_bps=2_000)
    sealed = run_bids(m, auction_id, {1: [(7000, 60)], 2: [(6000, 60)], 3: [(5500, 30)], 4: [(9000, 5)]},
                      no_show=frozenset({4}))  # fmt: skip
    with reverts("AuctionNotCleared"):
        m.auction.claim(BIDDERS[1], auction_id)
    m.auction.submit_clearing(m.auditor, auction_id)
    cash_before = m.cash.balance(BIDDERS[1].address)
    m.auction.claim(BIDDERS[1], auction_id)
    assert m.allowance.balance(BIDDERS[1].address, CO2_2027) == 60
    assert m.cash.balance(BIDDERS[1].address) == cash_before + sealed[1].guarantee - 60 * 6000
    with reverts("AuctionAlreadySettled", bidder=BIDDERS[1].address):
        m.auction.claim(BIDDERS[1], auction_id)
    with reverts("AuctionNotAWinner", bidder=BIDDERS[3].address):
        m.auction.claim(BIDDERS[3], auction_id)
    with reverts("AuctionWinnerMustClaim", bidder=BIDDERS[2].address):
        m.auction.refund(BIDDERS[2], auction_id)
    with reverts("AuctionNoCommitment", bidder=BIDDERS[5].address):
        m.auction.refund(BIDDERS[5], auction_id)
    m.auction.claim(BIDDERS[2], auction_id)
    m.auction.refund(BIDDERS[3], auction_id)
    with reverts("AuctionAlreadySettled"):
        m.auction.refund(BIDDERS[3], auction_id)
    with reverts("AuctionNotAWinner"):  # a no-show wins nothing
        m.auction.claim(BIDDERS[4], auction_id)
    before = m.cash.balance(BIDDERS[4].address)
    m.auction.refund(BIDDERS[4], auction_id)
    forfeit = sealed[4].guarantee * 2_000 // 10_000
    assert m.cash.balance(BIDDERS[4].address) == before + sealed[4].guarantee - forfeit
    with reverts("AuctionNotSeller", caller=BIDDERS[1].address):
        m.auction.withdraw_proceeds(BIDDERS[1], auction_id)
    treasury = m.cash.balance(m.treasury.address)
    m.auction.withdraw_proceeds(m.regulator, auction_id)
    assert m.cash.balance(m.treasury.address) == treasury + 100 * 6000 + forfeit
    with reverts("AuctionAlreadyWithdrawn"):
        m.auction.withdraw_proceeds(m.regulator, auction_id)
    assert m.auction.holdings(CO2_2027) == (0, 0)


def test_undersubscribed_primary_returns_unsold_to_cap(m: Consortium) -> None:
    issued = m.allowance.issued(CO2_2027)
    auction_id = primary(m)
    run_bids(m, auction_id, {1: [(7000, 30)], 2: [(4000, 30)]})
    m.auction.submit_clearing(m.auditor, auction_id)
    view = m.auction.view(auction_id)
    assert (view.clearing_price, view.sold) == (5000, 30)
    assert m.allowance.issued(CO2_2027) == issued + 30
    m.auction.claim(BIDDERS[1], auction_id)
    m.auction.refund(BIDDERS[2], auction_id)
    m.auction.withdraw_proceeds(m.regulator, auction_id)
    assert m.auction.holdings(CO2_2027) == (0, 0)


def test_no_sale_secondary_returns_everything_to_the_seller(m: Consortium) -> None:
    seller = BIDDERS[0]
    auction_id = m.auction.create_secondary(seller, params(m, supply=100, forfeit_bps=10_000))
    run_bids(m, auction_id, {1: [(4000, 30)], 2: [(9000, 1)]}, no_show=frozenset({2}))
    m.auction.submit_clearing(m.auditor, auction_id)
    assert m.auction.view(auction_id).status is AuctionStatus.NO_SALE
    with reverts("AuctionNotAWinner"):
        m.auction.claim(BIDDERS[1], auction_id)
    m.auction.refund(BIDDERS[1], auction_id)
    m.auction.refund(BIDDERS[2], auction_id)
    with reverts("AuctionNotSeller"):
        m.auction.withdraw_proceeds(m.regulator, auction_id)
    cash = m.cash.balance(seller.address)
    m.auction.withdraw_proceeds(seller, auction_id)
    assert m.allowance.balance(seller.address, CO2_2027) == 500
    assert m.cash.balance(seller.address) == cash + 9000  # the no-show's whole guarantee
    assert m.auction.holdings(CO2_2027) == (0, 0)


# ---------------------------------------------------------------------- random auctions vs the reference

bid_st = st.tuples(st.sampled_from([4000, 5000, 5500, 6000, 6500, 7000, 9000]), st.integers(0, 40))
scenario_st = st.fixed_dictionaries({
    "supply": st.integers(1, 120),
    "limit": st.one_of(st.just(0), st.integers(1, 60)),
    "rule": st.sampled_from(list(PriceRule)),
    "forfeit": st.sampled_from([0, 1_000, 10_000]),
    "schedules": st.dictionaries(st.integers(1, 7), st.lists(bid_st, min_size=1, max_size=4), max_size=7),
    "no_show": st.frozensets(st.integers(1, 7), max_size=3),
    "page": st.sampled_from([0, 1, 2, 3]),
    "secondary": st.booleans(),
})  # fmt: skip


@given(s=scenario_st)
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_random_auctions_equal_reference_and_conserve_everything(m: Consortium, s: dict) -> None:  # type: ignore[type-arg]
    snapshot = m.snapshot()
    try:
        _run_random_auction(m, s)
    finally:
        m.revert(snapshot)


def _run_random_auction(m: Consortium, s: dict) -> None:  # type: ignore[type-arg]
    accounts = [m.treasury.address, BIDDERS[0].address] + [BIDDERS[i].address for i in s["schedules"]]
    cash_before = sum(m.cash.balance(a) for a in accounts)
    tokens_before = sum(m.allowance.balance(a, CO2_2027) for a in accounts)
    issued_before = m.allowance.issued(CO2_2027)
    p = params(
        m, supply=s["supply"], purchase_limit=s["limit"], price_rule=s["rule"], forfeit_bps=s["forfeit"]
    )
    secondary = s["secondary"] and s["supply"] <= 500
    if secondary:
        auction_id = m.auction.create_secondary(BIDDERS[0], p)
    else:
        auction_id = m.auction.create_primary(m.regulator, p)
    sealed = run_bids(m, auction_id, s["schedules"], no_show=s["no_show"])
    m.auction.submit_clearing(m.auditor, auction_id, max_bidders=s["page"] or None)

    schedules = [(BIDDERS[i].address, sealed[i].schedule) for i in s["schedules"] if i not in s["no_show"]]
    expected = clear(s["supply"], 5000, schedules, purchase_limit=s["limit"], price_rule=s["rule"])
    view = m.auction.view(auction_id)
    assert view.clearing_price == expected.clearing_price
    assert view.sold == expected.sold
    for bidder, quantity in expected.allocations.items():
        assert m.auction.allocation_of(auction_id, bidder) == quantity
    guarantees = sum(b.guarantee for b in sealed.values())
    assert m.auction.holdings(CO2_2027) == (s["supply"] if secondary else expected.sold, guarantees)

    paid = 0
    for i in s["schedules"]:
        before = m.cash.balance(BIDDERS[i].address)
        m.auction.settle(BIDDERS[i], auction_id)
        paid += sealed[i].guarantee - (m.cash.balance(BIDDERS[i].address) - before)
    m.auction.withdraw_proceeds(BIDDERS[0] if secondary else m.regulator, auction_id)
    # Every guarantee paid out or refunded to the unit; the contract holds nothing.
    assert paid == view.proceeds
    assert m.auction.holdings(CO2_2027) == (0, 0)
    assert sum(m.cash.balance(a) for a in accounts) == cash_before
    assert sum(m.allowance.balance(a, CO2_2027) for a in accounts) == tokens_before + (
        0 if secondary else expected.sold
    )
    assert m.allowance.issued(CO2_2027) == issued_before + (0 if secondary else expected.sold)
    for bidder, quantity in expected.allocations.items():
        assert m.auction.allocation_of(auction_id, bidder) == quantity
