"""EmissionCards on a real Anvil, wired as a system contract of the AllowanceToken: cards issued,
replaced (commitments carried) and revoked by the regulator; a month's load moves the enterprise's
allowances into custody so a transfer or a market sell of them fails and the market's sellable
excludes them; a recharge adds to the month; the device's oracle settles the month (used capped at
committed held for surrender, the rest returned); every refused caller by name with its arguments
(someone else, another enterprise, a suspended enterprise, a revoked card, more than held, a
second settlement, another oracle); conservation as a hypothesis property."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from web3.logs import DISCARD

from chain.accounts import dev_account
from chain.cards import CardMonth, CardsClient, CardStatus, ChainCardQuotas, wire_cards
from domain.tokens import Kind, encode_id
from oracle.errors import QuotaConfigError
from oracle.quota import AnnualQuota, PollutantBalance, QuotaController, QuotaState
from tests.conftest import Consortium
from tests.utils.chain import reverts
from tests.utils.market import CO2_2027, MORNING, SELL, Rig, build_rig, next_weekday_at

A, B = dev_account(28), dev_account(29)
DEV_A, DEV_B = dev_account(32).address, dev_account(33).address
MN_A, MN_B = "33100000000001CARD", "33100000000002CARD"
CARD_A, CARD_B = 3310000001, 3310000002
MARCH = 3


@dataclass
class Wired:
    c: Consortium
    rig: Rig
    cards: CardsClient


@pytest.fixture(scope="module")
def wired(consortium: Consortium) -> Iterator[Wired]:
    """Market rig with enterprises A and B (1,000,000 t CO2 2027 each), a device of each bound
    (A's oracle set to the consortium's oracle), EmissionCards deployed and wired; rolled back."""
    c = consortium
    snapshot = c.snapshot()
    try:
        rig = build_rig(c, traders=[A, B], seed=880)
        c.registry.bind_device(c.regulator, DEV_A, A.address, MN_A, oracle=c.oracle.address)
        c.registry.bind_device(c.regulator, DEV_B, B.address, MN_B)
        address, receipt = c.chain.deploy(
            "EmissionCards", [c.registry.address, c.allowance.address], c.members[0]
        )
        cards = CardsClient(c.chain, address, from_block=int(receipt["blockNumber"]))
        assert wire_cards(c.registry, c.members, cards)
        assert wire_cards(c.registry, c.members, cards) == []  # in place
        yield Wired(c, rig, cards)
    finally:
        c.revert(snapshot)


@pytest.fixture
def w(wired: Wired) -> Iterator[Wired]:
    snapshot = wired.c.snapshot()
    try:
        yield wired
    finally:
        wired.c.revert(snapshot)


def _issued(w: Wired) -> Wired:
    w.cards.issue(w.c.regulator, CARD_A, DEV_A)
    w.cards.issue(w.c.regulator, CARD_B, DEV_B)
    return w


def test_cards_issue_records_the_device_enterprise_and_mn(w: Wired) -> None:
    receipt = w.cards.issue(w.c.regulator, CARD_A, DEV_A)
    event = w.cards.contract.events.CardIssued().process_receipt(receipt, errors=DISCARD)[0]["args"]
    assert (event["card"], event["enterprise"], event["device"], event["mn"]) == (
        CARD_A,
        A.address,
        DEV_A,
        MN_A,
    )
    card = w.cards.card(CARD_A)
    assert (card.enterprise, card.device, card.account, card.status) == (
        A.address,
        DEV_A,
        CARD_A,
        CardStatus.ACTIVE,
    )
    assert w.cards.card_of_device(DEV_A) == CARD_A and [x.number for x in w.cards.cards_of(A.address)] == [
        CARD_A
    ]


def test_cards_issue_replace_revoke_refuse_non_regulators_and_bad_cards(w: Wired) -> None:
    c, cards = w.c, w.cards
    for caller in (A, c.exchange, c.outsider):
        with reverts("UnauthorizedRole", account=caller.address):
            cards.issue(caller, CARD_A, DEV_A)
    with reverts("RegistryDeviceUnknown", device=c.outsider.address):
        cards.issue(c.regulator, CARD_A, c.outsider.address)
    with reverts("CardNumberTaken", card=0):
        cards.issue(c.regulator, 0, DEV_A)
    cards.issue(c.regulator, CARD_A, DEV_A)
    with reverts("CardNumberTaken", card=CARD_A):
        cards.issue(c.regulator, CARD_A, DEV_B)
    with reverts("CardDeviceHasCard", device=DEV_A, card=CARD_A):
        cards.issue(c.regulator, 99, DEV_A)
    with reverts("UnauthorizedRole", account=A.address):
        cards.replace(A, CARD_A, 99)
    with reverts("UnauthorizedRole", account=A.address):
        cards.revoke(A, CARD_A)
    with reverts("CardNumberTaken", card=CARD_A):
        cards.replace(c.regulator, CARD_A, CARD_A)
    with reverts("CardNotActive", card=77, status=0):
        cards.revoke(c.regulator, 77)
    c.registry.govern(c.members, c.registry.encode_suspend(B.address, 7), "suspend B")
    with reverts("CardEnterpriseNotActive", enterprise=B.address):
        cards.issue(c.regulator, CARD_B, DEV_B)
    c.registry.govern(c.members, c.registry.encode_suspend(c.regulator.address, 7), "suspend regulator")
    with reverts("CallerNotActive", account=c.regulator.address):
        cards.revoke(c.regulator, CARD_A)


def test_cards_load_commits_allowances_that_cannot_be_sold_or_transferred(w: Wired) -> None:
    c, cards = _issued(w).c, w.cards
    held = c.allowance.balance(A.address, CO2_2027)
    receipt = cards.load(A, CARD_A, CO2_2027, MARCH, held - 10)
    event = cards.contract.events.CardLoaded().process_receipt(receipt, errors=DISCARD)[0]["args"]
    assert (event["amount"], event["committed"], event["month"]) == (held - 10, held - 10, MARCH)
    assert c.allowance.balance(A.address, CO2_2027) == 10 and cards.custody(CO2_2027) == held - 10
    assert c.allowance.balance(cards.address, CO2_2027) == held - 10
    with reverts("ERC1155InsufficientBalance", sender=A.address, balance=10, needed=11):
        c.allowance.transfer(A, B.address, CO2_2027, 11)
    next_weekday_at(c.chain, MORNING)
    assert w.rig.market.functions.sellable(A.address, CO2_2027).call() == 10
    with reverts("MarketInsufficientAllowances", account=A.address, needed=11, sellable=10):
        w.rig.place(A, SELL, 5_000, 11)
    # recharge: committing more in the same month
    receipt = cards.load(A, CARD_A, CO2_2027, MARCH, 10)
    assert cards.month(CARD_A, CO2_2027, MARCH).committed == held
    quotas = ChainCardQuotas(cards, c.registry)
    assert quotas.committed_kg(MN_A, "a05001", 2027, MARCH) == held * 1000
    assert quotas.committed_kg(MN_A, "a05001", 2027, MARCH + 1) == 0
    assert quotas.committed_kg(MN_A, "w00000", 2027, MARCH) is None  # not an allowance
    assert quotas.committed_kg("UNBOUND01", "a05001", 2027, MARCH) is None


def test_cards_load_refuses_another_enterprise_revoked_card_more_than_held_and_suspended(w: Wired) -> None:
    c, cards = _issued(w).c, w.cards
    held = c.allowance.balance(A.address, CO2_2027)
    with reverts("CardNotHolder", card=CARD_B, enterprise=B.address, caller=A.address):
        cards.load(A, CARD_B, CO2_2027, MARCH, 1)
    with reverts("UnauthorizedRole", account=c.regulator.address):
        cards.load(c.regulator, CARD_A, CO2_2027, MARCH, 1)
    with reverts(
        "CardLoadExceedsHoldings", enterprise=A.address, id=CO2_2027, amount=held + 1, available=held
    ):
        cards.load(A, CARD_A, CO2_2027, MARCH, held + 1)
    with reverts("CardInvalidMonth", month=13):
        cards.load(A, CARD_A, CO2_2027, 13, 1)
    offset = encode_id(Kind.OFFSET, "CO2", 2027)
    with reverts("CardInvalidId", id=offset):
        cards.load(A, CARD_A, offset, MARCH, 1)
    with reverts("CardZeroAmount"):
        cards.load(A, CARD_A, CO2_2027, MARCH, 0)
    cards.revoke(c.regulator, CARD_B, 3)
    assert cards.card(CARD_B).status == CardStatus.REVOKED and cards.card_of_device(DEV_B) == 0
    with reverts("CardNotActive", card=CARD_B, status=int(CardStatus.REVOKED)):
        cards.load(B, CARD_B, CO2_2027, MARCH, 1)
    c.registry.govern(c.members, c.registry.encode_suspend(A.address, 7), "suspend A")
    with reverts("CallerNotActive", account=A.address):
        cards.load(A, CARD_A, CO2_2027, MARCH, 1)
    assert c.allowance.balance(A.address, CO2_2027) == held and cards.custody(CO2_2027) == 0


def test_cards_replace_carries_commitments_to_the_new_card(w: Wired) -> None:
    c, cards = _issued(w).c, w.cards
    cards.load(A, CARD_A, CO2_2027, MARCH, 500)
    cards.replace(c.regulator, CARD_A, 4_410_000_001)
    assert cards.card(CARD_A).status == CardStatus.REPLACED
    assert cards.card_of_device(DEV_A) == 4_410_000_001
    assert cards.month(4_410_000_001, CO2_2027, MARCH).committed == 500
    with reverts("CardNotActive", card=CARD_A, status=int(CardStatus.REPLACED)):
        cards.load(A, CARD_A, CO2_2027, MARCH, 1)
    cards.load(A, 4_410_000_001, CO2_2027, MARCH, 1)
    assert cards.month(CARD_A, CO2_2027, MARCH).committed == 501


def test_cards_settle_holds_used_for_surrender_and_returns_the_rest(w: Wired) -> None:
    c, cards = _issued(w).c, w.cards
    before = c.allowance.balance(A.address, CO2_2027)
    cards.load(A, CARD_A, CO2_2027, MARCH, 1_000)
    with reverts("UnauthorizedRole", account=A.address):
        cards.settle_month(A, CARD_A, CO2_2027, MARCH, 700)
    other = dev_account(34)
    c.registry.grant_roles(c.members, [("ORACLE", other.address)])
    with reverts("CardNotDeviceOracle", card=CARD_A, device=DEV_A, caller=other.address):
        cards.settle_month(other, CARD_A, CO2_2027, MARCH, 700)
    with reverts("CardUnknown", card=5):
        cards.settle_month(c.oracle, 5, CO2_2027, MARCH, 700)
    receipt = cards.settle_month(c.oracle, CARD_A, CO2_2027, MARCH, 700)
    event = cards.contract.events.CardMonthSettled().process_receipt(receipt, errors=DISCARD)[0]["args"]
    assert (event["metered"], event["used"], event["returned"]) == (700, 700, 300)
    assert cards.month(CARD_A, CO2_2027, MARCH) == CardMonth(1_000, 700, True)
    assert c.allowance.balance(A.address, CO2_2027) == before - 700
    assert cards.held_for_surrender(A.address, CO2_2027) == 700 == cards.custody(CO2_2027)
    with reverts("CardMonthAlreadySettled", card=CARD_A, id=CO2_2027, month=MARCH):
        cards.settle_month(c.oracle, CARD_A, CO2_2027, MARCH, 1)
    with reverts("CardMonthAlreadySettled", card=CARD_A, id=CO2_2027, month=MARCH):
        cards.load(A, CARD_A, CO2_2027, MARCH, 1)
    # over-use is capped at what was committed; any oracle may settle a device without one set
    cards.load(B, CARD_B, CO2_2027, MARCH, 50)
    cards.settle_month(other, CARD_B, CO2_2027, MARCH, 80)
    assert cards.month(CARD_B, CO2_2027, MARCH).used == 50
    with reverts("UnauthorizedRole", account=A.address):
        cards.release_for_surrender(A, A.address, CO2_2027)
    cards.release_for_surrender(c.regulator, A.address, CO2_2027)
    assert c.allowance.balance(A.address, CO2_2027) == before
    with reverts("CardNothingHeld", enterprise=A.address, id=CO2_2027):
        cards.release_for_surrender(c.regulator, A.address, CO2_2027)


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    steps=st.lists(
        st.tuples(
            st.sampled_from(["load", "settle", "release"]),
            st.booleans(),
            st.integers(1, 12),
            st.integers(0, 400_000),
        ),
        min_size=1,
        max_size=5,
    )
)
def test_cards_conserve_allowances_holders_custody_retired_equal_issued(
    wired: Wired, steps: list[tuple[str, bool, int, int]]
) -> None:
    c, cards = wired.c, wired.cards
    snapshot = c.snapshot()
    try:
        _issued(wired)
        for action, first, month, amount in steps:
            who, card = (A, CARD_A) if first else (B, CARD_B)
            m = cards.month(card, CO2_2027, month)
            if (
                action == "load"
                and not m.settled
                and 0 < amount <= c.allowance.balance(who.address, CO2_2027)
            ):
                cards.load(who, card, CO2_2027, month, amount)
            elif action == "settle" and not m.settled:
                cards.settle_month(c.oracle, card, CO2_2027, month, amount)
            elif action == "release" and cards.held_for_surrender(who.address, CO2_2027):
                cards.release_for_surrender(c.regulator, who.address, CO2_2027)
        holders = sum(
            c.allowance.balance(x, CO2_2027) for x in (A.address, B.address, wired.rig.market.address)
        )
        custody = c.allowance.balance(cards.address, CO2_2027)
        assert custody == cards.custody(CO2_2027)
        assert holders + custody + c.allowance.retired(CO2_2027) == c.allowance.issued(CO2_2027)
        open_months = sum(
            cards.month(card, CO2_2027, m).committed
            for card in (CARD_A, CARD_B)
            for m in range(1, 13)
            if not cards.month(card, CO2_2027, m).settled
        )
        held = sum(cards.held_for_surrender(x, CO2_2027) for x in (A.address, B.address))
        assert open_months + held == custody
    finally:
        c.revert(snapshot)


def test_cards_swipe_loads_the_committed_amount_and_falls_back_to_the_site_file(w: Wired) -> None:
    c, cards = w.c, w.cards
    cards.issue(c.regulator, CARD_A, DEV_A)
    cards.load(A, CARD_A, CO2_2027, MARCH, 7)
    quotas = ChainCardQuotas(cards, c.registry)
    site = [AnnualQuota.even("a05001", 2027, 12_000)]  # 1,000 kg a month from the site file
    on_card = QuotaController(A.address, site, {"IC-A": A.address}, mn=MN_A, card_quotas=quotas)
    assert on_card.swipe("IC-A", at=datetime(2027, MARCH, 2, 8, 0))
    assert on_card.balance("a05001").loaded_kg == Decimal(7_000)
    no_card = QuotaController(B.address, site, {"IC-B": B.address}, mn=MN_B, card_quotas=quotas)
    assert no_card.swipe("IC-B", at=datetime(2027, MARCH, 2, 8, 0))
    assert no_card.balance("a05001").loaded_kg == Decimal(1_000)
    with pytest.raises(QuotaConfigError):
        QuotaController(A.address, site, {}, card_quotas=quotas)


def test_cards_month_end_of_the_controller_settles_the_card_with_the_metered_use(w: Wired) -> None:
    c, cards = w.c, w.cards
    cards.issue(c.regulator, CARD_A, DEV_A)
    before = c.allowance.balance(A.address, CO2_2027)
    cards.load(A, CARD_A, CO2_2027, MARCH, 7)
    march = QuotaState(A.address, year=2027, month=MARCH, swiped=True,
                       balances={"a05001": PollutantBalance(Decimal(7_000), Decimal("2400.5"))})  # fmt: skip
    quotas = ChainCardQuotas(cards, c.registry, c.oracle)
    site = [AnnualQuota.even("a05001", 2027, 12_000)]
    controller = QuotaController(
        A.address, site, {"IC-A": A.address}, mn=MN_A, card_quotas=quotas, state=march
    )
    controller.swipe("IC-A", at=datetime(2027, MARCH + 1, 1, 0, 5))  # April: March closes
    assert cards.month(CARD_A, CO2_2027, MARCH) == CardMonth(7, 3, True)  # 2,400.5 kg: 3 t, rounded up
    assert c.allowance.balance(A.address, CO2_2027) == before - 3
    assert cards.held_for_surrender(A.address, CO2_2027) == 3
    # a refused settlement is logged, never stops the controller: the oracle key is not the device's
    other = ChainCardQuotas(cards, c.registry, c.regulator)
    cards.load(A, CARD_A, CO2_2027, MARCH + 1, 1)
    april = QuotaController(A.address, site, {"IC-A": A.address}, mn=MN_A, card_quotas=other,
                            state=controller.snapshot())  # fmt: skip
    april.swipe("IC-A", at=datetime(2027, MARCH + 2, 1, 0, 5))
    assert not cards.month(CARD_A, CO2_2027, MARCH + 1).settled
