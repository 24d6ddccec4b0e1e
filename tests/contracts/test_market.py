"""Market on a real Anvil: deployment, wiring, the exchange's settings, every role refused for every
state-changing function, and the refusals of a listing order (each named with its arguments,
nothing moved). Matching, takes and the T+1 lock: test_market_trading.py; the opening call and
expiry: test_market_call.py; blocks: test_market_blocks.py; random days: test_market_stateful.py."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import pytest
from eth_account.signers.local import LocalAccount
from web3.logs import DISCARD

from chain.accounts import dev_account
from chain.compile import Artifact
from domain.market import band
from domain.tokens import Kind, encode_id
from tests.conftest import Consortium
from tests.utils.chain import reverts
from tests.utils.market import (
    AFTERNOON,
    BUY,
    CO2_2027,
    EARLY,
    EVENING,
    FEE_ACCOUNT,
    LUNCH,
    MORNING,
    SELL,
    TRADERS,
    Rig,
    build_rig,
    later_today,
    next_weekday_at,
    rulebook,
    trading_day,
    weekend_day,
    wire_market,
)

EIP170_LIMIT = 24_576
#: A second exchange account (suspended in the role tests; the suite's exchange is a governor).
EXCHANGE_2 = dev_account(36)
SO2_2027 = encode_id(Kind.ALLOWANCE, "SO2", 2027)


@pytest.fixture(scope="module")
def base(consortium: Consortium) -> Iterator[Rig]:
    """The wired market, CO2 2027 listed (reference 5,000 fen, fee 0), five funded traders."""
    snapshot = consortium.snapshot()
    rig = build_rig(consortium)
    consortium.registry.grant_roles(consortium.members, [("EXCHANGE", EXCHANGE_2.address)], "exchange 2")
    yield rig
    consortium.revert(snapshot)


@pytest.fixture
def rig(base: Rig) -> Iterator[Rig]:
    c: Consortium = base.suite  # type: ignore[assignment]
    snapshot = c.snapshot()
    try:
        yield replace(base, orders=[])
    finally:
        c.revert(snapshot)


def suite_of(rig: Rig) -> Consortium:
    return rig.suite  # type: ignore[return-value]


def suspend(rig: Rig, account: str) -> None:
    c = suite_of(rig)
    c.registry.govern(c.members, c.registry.encode_suspend(account, 1), "suspend")


# ---------------------------------------------------------------------- deployment


def test_market_halves_stay_under_eip170_and_share_one_storage_layout(artifacts: dict[str, Artifact]) -> None:
    for name in ("Market", "MarketOperations"):
        size = len(bytes.fromhex(artifacts[name].deployed_bytecode[2:]))
        assert size <= EIP170_LIMIT, f"{name} is {size} bytes"

    def layout(name: str) -> list[tuple[str, str, int, str]]:
        return [
            (s["label"], s["slot"], s["offset"], s["type"]) for s in artifacts[name].storage_layout["storage"]
        ]

    assert layout("Market") == layout("MarketOperations")
    labels = [label for label, *_ in layout("Market")]
    assert labels[-4:] == ["_unclaimed", "_levelBits", "_scans", "_settlementAgent"]
    # the market-wide halt shares the word every trading action reads first (the lock's)
    slots = {label: slot for label, slot, *_ in layout("Market")}
    assert slots["_haltedAll"] == slots["_locked"] == slots["_feeAccount"]


def test_market_constructor_refuses_operations_of_another_wiring(rig: Rig) -> None:
    c = suite_of(rig)
    m = c.manifest
    registry, allowance, cash = (
        m.address(n) for n in ("ConsortiumRegistry", "AllowanceToken", "SettlementToken")
    )
    other, _ = c.chain.deploy("MarketOperations", [registry, allowance, allowance], c.regulator)
    with reverts("MarketOperationsMismatch", operations=other):
        c.chain.deploy("Market", [registry, allowance, cash, other], c.regulator)
    with reverts("MarketZeroAddress", what="operations"):
        c.chain.deploy("Market", [registry, allowance, cash, TRADERS[0].address], c.regulator)
    with reverts("MarketZeroAddress", what="cash"):
        c.chain.deploy("MarketOperations", [registry, allowance, "0x" + "00" * 20], c.regulator)


def test_wire_market_does_nothing_twice_and_reads_back(rig: Rig) -> None:
    c = suite_of(rig)
    done = wire_market(
        c.registry, c.members, rig.market, c.allowance.contract, c.cash.contract, FEE_ACCOUNT.address
    )
    assert done == []
    assert c.allowance.contract.functions.market().call() == rig.market.address
    assert rig.market.functions.feeAccount().call() == FEE_ACCOUNT.address
    assert rig.market.functions.settlementAgent().call() == c.exchange.address
    assert rig.market.functions.allowanceToken().call() == c.allowance.address
    assert rig.market.functions.settlementToken().call() == c.cash.address
    assert rig.market.functions.MAX_OPEN_ORDERS().call() == 200


def test_set_market_refuses_zero_and_non_governance(rig: Rig) -> None:
    c = suite_of(rig)
    token = c.allowance.contract
    with reverts("OnlyGovernance", caller=c.regulator.address):
        c.chain.transact(token.functions.setMarket(rig.market.address), c.regulator)
    with reverts("AllowanceZeroAddress", field="market"):
        c.registry.govern_call(c.members, token.functions.setMarket("0x" + "00" * 20), "zero market")
    with reverts("MarketZeroAddress", what="feeAccount"):
        c.registry.govern_call(c.members, rig.market.functions.setFeeAccount("0x" + "00" * 20), "zero fee")
    receipt = c.registry.govern_call(
        c.members, token.functions.setMarket(TRADERS[4].address), "another market"
    )
    events = c.allowance.contract.events.MarketSet().process_receipt(receipt, errors=DISCARD)
    assert events[0]["args"]["market"] == TRADERS[4].address


# ---------------------------------------------------------------------- the exchange's settings


def test_set_rulebook_stores_emits_and_lists_a_token(rig: Rig) -> None:
    rules = rulebook(7_000, feeBps=30, blockMinimum=5_000)
    receipt = rig.set_rules(rules, SO2_2027)
    event = rig.events(receipt, "RulebookSet")[0]
    assert (event["tokenId"], tuple(event["rules"].values())) == (SO2_2027, rules)
    assert tuple(rig.market.functions.rulebook(SO2_2027).call()) == rules
    assert rig.market.functions.band(SO2_2027).call() == [6_300, 7_700]
    assert rig.market.functions.blockBand(SO2_2027).call() == [4_900, 9_100]


def test_band_rounds_lower_up_and_upper_down(rig: Rig) -> None:
    rig.set_rules(rulebook(5_555, bandBps=333, blockBandBps=10_000))
    # 5555 × 9667 / 10000 = 5370.0185 → 5371; 5555 × 10333 / 10000 = 5739.9815 → 5739
    assert rig.market.functions.band(CO2_2027).call() == [5_371, 5_739] == list(band(5_555, 333))
    assert rig.market.functions.blockBand(CO2_2027).call() == [0, 11_110]


@pytest.mark.parametrize(
    "overrides",
    [
        {"referencePrice": 0},
        {"bandBps": 10_001},
        {"blockBandBps": 10_001},
        {"feeBps": 1_001},
        {"blockMinimum": 0},
        {"callStart": 34_201},
        {"open1": 41_400},
        {"close1": 46_801},
        {"open2": 54_000},
        {"close2": 86_401},
        {"blockFrom": 34_199},
        {"blockFrom": 54_000},
        {"positionLimitBps": 10_001},
    ],
)
def test_set_rulebook_refuses_invalid_rules(rig: Rig, overrides: dict[str, int]) -> None:
    with reverts("MarketRulebookInvalid", tokenId=SO2_2027):
        rig.set_rules(rulebook(**overrides), SO2_2027)
    assert rig.market.functions.rulebook(SO2_2027).call()[0] == 0


def test_set_rulebook_refuses_a_token_id_above_32_bits_and_zero(rig: Rig) -> None:
    for token_id in (2**32, 0):
        with reverts("MarketRulebookInvalid", tokenId=token_id):
            rig.set_rules(rulebook(), token_id)


def test_set_rulebook_refuses_while_orders_are_open(rig: Rig) -> None:
    next_weekday_at(rig.chain, MORNING)
    rig.place(TRADERS[0], BUY, 5_000, 10)
    with reverts("MarketBookNotEmpty", tokenId=CO2_2027, items=1):
        rig.set_rules(rulebook(feeBps=10))


def test_set_reference_price_moves_the_band(rig: Rig) -> None:
    receipt = rig.send(rig.market.functions.setReferencePrice(CO2_2027, 6_000), rig.suite.exchange)
    assert rig.events(receipt, "ReferencePriceSet")[0]["price"] == 6_000
    assert rig.market.functions.band(CO2_2027).call() == [5_400, 6_600]
    for price in (0, 2**48):
        with reverts("MarketPriceInvalid", price=price):
            rig.send(rig.market.functions.setReferencePrice(CO2_2027, price), rig.suite.exchange)
    with reverts("MarketNotListed", tokenId=SO2_2027):
        rig.send(rig.market.functions.setReferencePrice(SO2_2027, 6_000), rig.suite.exchange)
    with reverts("MarketNotListed", tokenId=SO2_2027):
        rig.chain.call(rig.market.functions.band(SO2_2027))


def test_halt_refuses_trading_and_resume_restores_it(rig: Rig) -> None:
    exchange = rig.suite.exchange
    next_weekday_at(rig.chain, MORNING)
    resting = rig.place(TRADERS[0], SELL, 5_000, 10)
    receipt = rig.send(rig.market.functions.halt(CO2_2027, "abnormal trading"), exchange)
    assert rig.events(receipt, "TradingHalted")[0]["reason"] == "abnormal trading"
    assert rig.market.functions.isHalted(CO2_2027).call()
    with reverts("MarketHalted", tokenId=CO2_2027):
        rig.send(rig.market.functions.halt(CO2_2027, "again"), exchange)
    before = rig.holdings()
    with reverts("MarketHalted", tokenId=CO2_2027):
        rig.place(TRADERS[1], BUY, 5_000, 10)
    with reverts("MarketHalted", tokenId=CO2_2027):
        rig.take(TRADERS[1], resting, 10)
    assert rig.holdings() == before
    rig.cancel(TRADERS[0], resting)  # cancels stay possible while halted
    receipt = rig.send(rig.market.functions.resume(CO2_2027), exchange)
    assert rig.events(receipt, "TradingResumed")[0]["tokenId"] == CO2_2027
    with reverts("MarketNotHalted", tokenId=CO2_2027):
        rig.send(rig.market.functions.resume(CO2_2027), exchange)
    rig.place(TRADERS[1], BUY, 5_000, 10)
    with reverts("MarketNotListed", tokenId=SO2_2027):
        rig.send(rig.market.functions.halt(SO2_2027, "x"), exchange)


def test_market_wide_halt_refuses_every_trading_action_of_every_token_id(rig: Rig) -> None:
    """halt(0): every action on every token id is refused naming its own token id; cancels stay;
    resume(0) ends it; a token id's own halt is kept apart from the market-wide one."""
    exchange = rig.suite.exchange
    rig.set_rules(rulebook(blockMinimum=1_000), SO2_2027)
    next_weekday_at(rig.chain, AFTERNOON)
    resting = rig.place(TRADERS[0], SELL, 5_000, 10)
    block = rig.propose(TRADERS[0], TRADERS[1].address, 5_000, 100_000)
    receipt = rig.send(rig.market.functions.halt(0, "system failure"), exchange)
    assert rig.events(receipt, "TradingHalted") == [{"tokenId": 0, "reason": "system failure"}]
    assert rig.market.functions.isHalted(0).call()
    assert rig.market.functions.isHalted(CO2_2027).call() and rig.market.functions.isHalted(SO2_2027).call()
    with reverts("MarketHalted", tokenId=0):
        rig.send(rig.market.functions.halt(0, "again"), exchange)
    before = rig.holdings()
    m = rig.market.functions
    refused = [
        (m.placeOrder(CO2_2027, BUY, 5_000, 10), TRADERS[1], CO2_2027),
        (m.placeOrder(SO2_2027, BUY, 5_000, 10), TRADERS[1], SO2_2027),
        (m.take(resting, 10), TRADERS[1], CO2_2027),
        (m.proposeBlock(CO2_2027, TRADERS[2].address, 5_000, 100_000), TRADERS[0], CO2_2027),
        (m.acceptBlock(block), TRADERS[1], CO2_2027),
        (m.uncross(CO2_2027, 0, 0), TRADERS[2], CO2_2027),
    ]
    for fn, account, token_id in refused:
        with reverts("MarketHalted", tokenId=token_id):
            rig.send(fn, account)
    assert rig.holdings() == before
    rig.send(m.halt(CO2_2027, "its own halt"), exchange)  # a token id's halt on top
    rig.cancel(TRADERS[0], resting)  # cancels stay possible
    receipt = rig.send(m.resume(0), exchange)
    assert rig.events(receipt, "TradingResumed") == [{"tokenId": 0}]
    assert not m.isHalted(0).call() and not m.isHalted(SO2_2027).call()
    assert m.isHalted(CO2_2027).call()  # its own halt stays
    with reverts("MarketNotHalted", tokenId=0):
        rig.send(m.resume(0), exchange)
    with reverts("MarketHalted", tokenId=CO2_2027):
        rig.place(TRADERS[1], BUY, 5_000, 10)
    rig.place(TRADERS[1], BUY, 5_000, 10, token_id=SO2_2027)
    rig.send(m.resume(CO2_2027), exchange)
    rig.accept(TRADERS[1], block)


def test_market_wide_halt_is_refused_to_callers_without_the_exchange_role(rig: Rig) -> None:
    c = suite_of(rig)
    for account in (c.regulator, c.auditor, TRADERS[0]):
        with reverts("UnauthorizedRole", account=account.address):
            rig.send(rig.market.functions.halt(0, "x"), account)
    assert not rig.market.functions.isHalted(0).call()


def test_governed_rulebook_changes_only_through_governance(rig: Rig) -> None:
    c = suite_of(rig)
    governed = rulebook(governed=1)
    rig.set_rules(governed)  # the exchange may tighten: set governed itself
    assert rig.market.functions.rulebook(CO2_2027).call()[-1] is True
    for rules in (rulebook(feeBps=10, governed=1), rulebook()):
        with reverts("MarketRulebookGoverned", tokenId=CO2_2027):
            rig.set_rules(rules)
    with reverts("MarketRulebookGoverned", tokenId=CO2_2027):
        rig.send(rig.market.functions.setRulebook(CO2_2027, rulebook()), EXCHANGE_2)
    for account in (c.regulator, TRADERS[0], c.outsider):  # the role check comes first
        with reverts("UnauthorizedRole", account=account.address):
            rig.send(rig.market.functions.setRulebook(CO2_2027, rulebook()), account)
    assert tuple(rig.market.functions.rulebook(CO2_2027).call()) == governed
    # governance (the registry) may change it: the same checks, then the change
    with reverts("MarketRulebookInvalid", tokenId=CO2_2027):
        c.registry.govern_call(
            c.members, rig.market.functions.setRulebook(CO2_2027, rulebook(bandBps=10_001)), "x"
        )
    changed = rulebook(feeBps=10, positionLimit=2_000_000, governed=1)
    receipt = c.registry.govern_call(c.members, rig.market.functions.setRulebook(CO2_2027, changed), "rules")
    assert tuple(rig.events(receipt, "RulebookSet")[0]["rules"].values()) == changed
    c.registry.govern_call(c.members, rig.market.functions.setRulebook(CO2_2027, rulebook()), "ungoverned")
    rig.set_rules(rulebook(feeBps=20))  # not governed any more: the exchange alone again
    next_weekday_at(rig.chain, MORNING)
    rig.place(TRADERS[0], BUY, 5_000, 10)
    with reverts("MarketBookNotEmpty", tokenId=CO2_2027, items=1):
        c.registry.govern_call(c.members, rig.market.functions.setRulebook(CO2_2027, rulebook()), "busy")


def test_reference_price_is_posted_by_the_settlement_agent_alone(rig: Rig) -> None:
    c = suite_of(rig)
    m = rig.market.functions
    for account in (c.regulator, TRADERS[0], c.outsider):
        with reverts("UnauthorizedRole", account=account.address):
            rig.send(m.setReferencePrice(CO2_2027, 5_100), account)
    with reverts("MarketNotSettlementAgent", caller=EXCHANGE_2.address):
        rig.send(m.setReferencePrice(CO2_2027, 5_100), EXCHANGE_2)
    # governance moves the agent; only governance may, and never to zero
    for account in (c.exchange, EXCHANGE_2, TRADERS[0]):
        with reverts("OnlyGovernance", caller=account.address):
            rig.send(m.setSettlementAgent(EXCHANGE_2.address), account)
    with reverts("MarketZeroAddress", what="settlementAgent"):
        c.registry.govern_call(c.members, m.setSettlementAgent("0x" + "00" * 20), "zero agent")
    receipt = c.registry.govern_call(c.members, m.setSettlementAgent(EXCHANGE_2.address), "agent")
    assert rig.events(receipt, "SettlementAgentSet") == [{"agent": EXCHANGE_2.address}]
    assert m.settlementAgent().call() == EXCHANGE_2.address
    with reverts("MarketNotSettlementAgent", caller=c.exchange.address):
        rig.send(m.setReferencePrice(CO2_2027, 5_100), c.exchange)
    assert m.rulebook(CO2_2027).call()[0] == 5_000
    rig.send(m.setReferencePrice(CO2_2027, 5_100), EXCHANGE_2)
    assert m.rulebook(CO2_2027).call()[0] == 5_100
    # the agent needs an active EXCHANGE role too
    suspend(rig, EXCHANGE_2.address)
    with reverts("CallerNotActive", account=EXCHANGE_2.address):
        rig.send(m.setReferencePrice(CO2_2027, 5_200), EXCHANGE_2)
    c.registry.govern_call(c.members, m.setSettlementAgent(TRADERS[0].address), "an enterprise")
    with reverts("UnauthorizedRole", account=TRADERS[0].address):
        rig.send(m.setReferencePrice(CO2_2027, 5_200), TRADERS[0])
    assert m.rulebook(CO2_2027).call()[0] == 5_100


# ---------------------------------------------------------------------- roles


def _trader_order(rig: Rig) -> int:
    """An open sell of TRADERS[0] (the clock on a weekday afternoon, blocks allowed)."""
    next_weekday_at(rig.chain, AFTERNOON)
    return rig.place(TRADERS[0], SELL, 5_000, 10)


def _block(rig: Rig) -> int:
    _trader_order(rig)
    return rig.propose(TRADERS[0], TRADERS[1].address, 5_000, 100_000)


Send = Callable[[LocalAccount], Any]


def _halted_all(rig: Rig, send: Send) -> Send:
    """``send`` once the market-wide halt is on."""
    rig.send(rig.market.functions.halt(0, "all"), rig.suite.exchange)
    return send


def _fn(rig: Rig, name: str, *args: Any) -> Send:
    return lambda account: rig.send(getattr(rig.market.functions, name)(*args), account)


#: Every state-changing function: (role that may call it, its set-up returning how to call it).
ACTIONS: dict[str, tuple[str, Callable[[Rig], Send]]] = {
    "setRulebook": ("EXCHANGE", lambda r: _fn(r, "setRulebook", SO2_2027, rulebook())),
    "setReferencePrice": ("EXCHANGE", lambda r: _fn(r, "setReferencePrice", CO2_2027, 5_100)),
    "halt": ("EXCHANGE", lambda r: _fn(r, "halt", CO2_2027, "x")),
    "resume": ("EXCHANGE", lambda r: _fn(r, "resume", CO2_2027)),
    "halt(all)": ("EXCHANGE", lambda r: _fn(r, "halt", 0, "x")),
    "resume(all)": ("EXCHANGE", lambda r: _halted_all(r, _fn(r, "resume", 0))),
    "forceCancel": ("EXCHANGE", lambda r: _fn(r, "forceCancel", _trader_order(r))),
    "placeOrder": ("ENTERPRISE", lambda r: _fn(r, "placeOrder", CO2_2027, BUY, 5_000, 1)),
    "cancelOrder": ("ENTERPRISE", lambda r: _fn(r, "cancelOrder", _trader_order(r))),
    "take": ("ENTERPRISE", lambda r: _fn(r, "take", _trader_order(r), 1)),
    "proposeBlock": (
        "ENTERPRISE",
        lambda r: _fn(r, "proposeBlock", CO2_2027, TRADERS[1].address, 5_000, 100_000),
    ),
    "acceptBlock": ("ENTERPRISE", lambda r: _fn(r, "acceptBlock", _block(r))),
    "declineBlock": ("ENTERPRISE", lambda r: _fn(r, "declineBlock", _block(r))),
    "cancelBlock": ("ENTERPRISE", lambda r: _fn(r, "cancelBlock", _block(r))),
    "uncross": ("ANY", lambda r: _fn(r, "uncross", CO2_2027, 0, 0)),
    "expire": ("ANY", lambda r: _fn(r, "expire", CO2_2027, 0)),
    "withdrawUnclaimed": ("ANY", lambda r: _fn(r, "withdrawUnclaimed", 0)),
}
#: Who may call each role group's functions (everyone else is refused).
ALLOWED = {
    "EXCHANGE": ("exchange",),
    "ENTERPRISE": ("enterprise",),
    "ANY": ("regulator", "exchange", "auditor", "enterprise"),
}
WHO = ("regulator", "exchange", "auditor", "enterprise", "outsider")
REFUSED = [(action, who) for action, (role, _) in ACTIONS.items() for who in WHO if who not in ALLOWED[role]]


def _account(rig: Rig, who: str) -> LocalAccount:
    c = suite_of(rig)
    return {
        "regulator": c.regulator,
        "exchange": c.exchange,
        "auditor": c.auditor,
        "enterprise": TRADERS[3],
        "outsider": c.outsider,
    }[who]


@pytest.mark.parametrize(("action", "who"), REFUSED)
def test_market_actions_refuse_callers_without_the_role(rig: Rig, action: str, who: str) -> None:
    role, prepare = ACTIONS[action]
    account = _account(rig, who)
    send = prepare(rig)
    before = rig.holdings()
    error = "CallerNotActive" if role == "ANY" else "UnauthorizedRole"
    with reverts(error, account=account.address):
        send(account)
    assert rig.holdings() == before


@pytest.mark.parametrize("action", list(ACTIONS))
def test_market_actions_refuse_a_suspended_holder_of_the_role(rig: Rig, action: str) -> None:
    role, prepare = ACTIONS[action]
    account = EXCHANGE_2 if role == "EXCHANGE" else TRADERS[3]
    send = prepare(rig)
    suspend(rig, account.address)
    before = rig.holdings()
    with reverts("CallerNotActive", account=account.address):
        send(account)
    assert rig.holdings() == before


def test_role_status_reads_role_and_activity_as_has_role_and_is_active_participant(rig: Rig) -> None:
    """The registry's one-call caller check the market uses: the role bit follows grants and
    revocations, activity follows suspension, a non-participant role falls back to hasRole."""
    c = suite_of(rig)
    registry = c.registry.contract
    role = {
        name: registry.functions[f"{name}_ROLE"]().call() for name in ("ENTERPRISE", "EXCHANGE", "GOVERNOR")
    }

    def status(account: str) -> dict[str, tuple[bool, bool]]:
        return {name: tuple(registry.functions.roleStatus(account, r).call()) for name, r in role.items()}

    trader = TRADERS[3].address
    assert status(trader) == {
        "ENTERPRISE": (True, True),
        "EXCHANGE": (False, True),
        "GOVERNOR": (False, True),
    }
    assert status(c.outsider.address) == {name: (False, False) for name in role}
    member = c.members[0].address
    assert status(member)["GOVERNOR"] == (True, c.registry.is_active_participant(member))
    c.registry.grant_roles(c.members, [("EXCHANGE", trader)], "a second role")
    assert status(trader)["EXCHANGE"] == (True, True)
    suspend(rig, trader)
    assert status(trader) == {
        "ENTERPRISE": (True, False),
        "EXCHANGE": (True, False),
        "GOVERNOR": (False, False),
    }
    c.registry.govern(c.members, c.registry.encode_revoke_role("EXCHANGE", trader), "revoke")
    assert status(trader)["EXCHANGE"] == (False, False) and status(trader)["ENTERPRISE"] == (True, False)
    for name, r in role.items():
        assert status(trader)[name][0] == registry.functions.hasRole(r, trader).call()


def test_set_fee_account_is_governance_only(rig: Rig) -> None:
    c = suite_of(rig)
    for account in (c.regulator, c.exchange, TRADERS[0], c.outsider):
        with reverts("OnlyGovernance", caller=account.address):
            rig.send(rig.market.functions.setFeeAccount(account.address), account)
    receipt = c.registry.govern_call(c.members, rig.market.functions.setFeeAccount(c.exchange.address), "fee")
    assert rig.events(receipt, "FeeAccountSet")[0]["account"] == c.exchange.address


def test_allowed_callers_pass_the_role_check(rig: Rig) -> None:
    """The allowed caller of each role group gets past check 1 (a later, named refusal)."""
    next_weekday_at(rig.chain, EARLY)
    with reverts("MarketOutsideSession", tokenId=CO2_2027):
        rig.place(TRADERS[3], BUY, 5_000, 1)
    with reverts("MarketNotSettlementAgent", caller=EXCHANGE_2.address):
        rig.send(rig.market.functions.setReferencePrice(SO2_2027, 1), EXCHANGE_2)
    with reverts("MarketNotListed", tokenId=SO2_2027):  # the agent: past the role and agent checks
        rig.send(rig.market.functions.setReferencePrice(SO2_2027, 1), rig.suite.exchange)
    for account in (rig.suite.regulator, rig.suite.auditor, TRADERS[3], rig.suite.exchange):
        with reverts("MarketNothingUnclaimed", account=account.address, tokenId=0):
            rig.send(rig.market.functions.withdrawUnclaimed(0), account)


# ---------------------------------------------------------------------- listing orders: bad input


def _placed_nothing(rig: Rig, before: dict[str, tuple[int, int]]) -> None:
    assert rig.holdings() == before
    assert rig.depth(BUY) == [] and rig.depth(SELL) == []


@pytest.mark.parametrize(
    ("side", "price", "quantity", "error", "args"),
    [
        (BUY, 4_499, 10, "MarketPriceOutsideBand", {"price": 4_499, "lower": 4_500, "upper": 5_500}),
        (SELL, 5_501, 10, "MarketPriceOutsideBand", {"price": 5_501, "lower": 4_500, "upper": 5_500}),
        (BUY, 5_000, 0, "MarketQuantityZero", {}),
        (SELL, 5_000, 100_000, "MarketListingTooLarge", {"quantity": 100_000, "blockMinimum": 100_000}),
        (BUY, 5_000, 2**64, "MarketListingTooLarge", {"quantity": 2**64, "blockMinimum": 100_000}),
        (BUY, 0, 10, "MarketPriceInvalid", {"price": 0}),
        (SELL, 2**48, 10, "MarketPriceInvalid", {"price": 2**48}),
    ],
)
def test_place_refuses_bad_price_and_quantity(
    rig: Rig, side: int, price: int, quantity: int, error: str, args: dict[str, int]
) -> None:
    next_weekday_at(rig.chain, MORNING)
    before = rig.holdings()
    with reverts(error, **args):
        rig.place(TRADERS[0], side, price, quantity)
    _placed_nothing(rig, before)


def test_place_refuses_a_buy_beyond_its_cash_at_the_limit(rig: Rig) -> None:
    rig.set_rules(rulebook(feeBps=100, blockMinimum=10**9))
    next_weekday_at(rig.chain, MORNING)
    cash = rig.cash(TRADERS[0].address)
    quantity = cash // 5_050 + 1  # value + 1 % fee passes the balance by a little
    needed = 5_000 * quantity + 5_000 * quantity // 100
    before = rig.holdings()
    with reverts("MarketInsufficientCash", account=TRADERS[0].address, needed=needed, available=cash):
        rig.place(TRADERS[0], BUY, 5_000, quantity)
    _placed_nothing(rig, before)
    rig.place(TRADERS[0], BUY, 5_000, quantity - 1)  # within the cash


def test_place_refuses_a_sell_beyond_the_sellable_allowances(rig: Rig) -> None:
    rig.set_rules(rulebook(blockMinimum=10**9))
    next_weekday_at(rig.chain, MORNING)
    held = rig.allowances(TRADERS[0].address)
    rig.place(TRADERS[0], SELL, 5_400, held - 10)  # escrowed: 10 left
    before = rig.holdings()
    with reverts(
        "MarketInsufficientAllowances", account=TRADERS[0].address, tokenId=CO2_2027, needed=11, sellable=10
    ):
        rig.place(TRADERS[0], SELL, 5_400, 11)
    assert rig.holdings() == before


@pytest.mark.parametrize(
    ("moment", "tod"),
    [("early", EARLY), ("lunch", LUNCH), ("evening", EVENING), ("close2", 54_000), ("weekend", MORNING)],
)
def test_place_refuses_outside_the_sessions(rig: Rig, moment: str, tod: int) -> None:
    if moment == "weekend":
        weekend_day(rig.chain, tod)
    else:
        next_weekday_at(rig.chain, tod)
    before = rig.holdings()
    with reverts("MarketOutsideSession", tokenId=CO2_2027) as info:
        rig.place(TRADERS[0], BUY, 5_000, 10)
    assert tod <= info.value.args_["timeOfDay"] < tod + 60
    _placed_nothing(rig, before)


def test_place_accepts_at_the_session_edges(rig: Rig) -> None:
    """Orders at callStart and open2 (each block is a second or so after the clock is set) and a
    few seconds before close1 and close2 (margin for the blocks the test mines)."""
    next_weekday_at(rig.chain, 33_300)  # callStart: the call phase
    rig.place(TRADERS[0], BUY, 4_900, 1)
    later_today(rig.chain, 41_390)
    # the call book was not uncrossed: continuous actions wait for it
    with reverts("MarketCallPending", tokenId=CO2_2027):
        rig.place(TRADERS[0], BUY, 4_900, 1)
    rig.uncross(TRADERS[1], 0)
    rig.place(TRADERS[0], BUY, 4_900, 1)
    later_today(rig.chain, 46_800)  # open2
    rig.place(TRADERS[0], BUY, 4_900, 1)
    later_today(rig.chain, 53_990)
    rig.place(TRADERS[0], BUY, 4_900, 1)


def test_place_refuses_an_unlisted_token(rig: Rig) -> None:
    next_weekday_at(rig.chain, MORNING)
    with reverts("MarketNotListed", tokenId=SO2_2027):
        rig.place(TRADERS[0], BUY, 5_000, 10, token_id=SO2_2027)


def test_place_refuses_the_201st_open_order_of_a_side(rig: Rig) -> None:
    next_weekday_at(rig.chain, MORNING)
    trader = TRADERS[0]
    fns = [(rig.market.functions.placeOrder(CO2_2027, BUY, 4_500 + i, 1), trader) for i in range(200)]
    rig.chain.send_packed(fns, gas=1_500_000)
    assert len(rig.market.functions.openOrdersOf(trader.address, CO2_2027, BUY).call()) == 200
    with reverts("MarketTooManyOrders", account=trader.address, tokenId=CO2_2027, limit=200):
        rig.place(trader, BUY, 4_600, 1)
    rig.place(trader, SELL, 5_500, 1)  # the other side has its own limit
    # a filled order frees a place: the list is compacted when the next order rests
    rig.place(TRADERS[1], SELL, 4_699, 1)  # fills the best bid (4699)
    order_id = rig.place(trader, BUY, 4_600, 1)
    ids = rig.market.functions.openOrdersOf(trader.address, CO2_2027, BUY).call()
    assert len(ids) == 200 and ids[-1] == order_id and ids == sorted(ids)


def test_place_costs_the_open_orders_not_the_closed_ones_of_the_other_side(rig: Rig) -> None:
    """A trader with 150 filled or cancelled sells places buys for about the gas of a trader with
    no orders: its first buy removes the closed entries once (a bounded one-off), later buys never
    meet them again; the self-trade refusal still names the lowest open id (the sweep reorders the
    list) and openOrdersOf keeps placement order."""
    next_weekday_at(rig.chain, MORNING)
    busy, idle, buyer = TRADERS[0], TRADERS[1], TRADERS[2]
    fns = [(rig.market.functions.placeOrder(CO2_2027, SELL, 5_400, 1), busy) for _ in range(152)]
    ids = [int(rig.events(r, "OrderPlaced")[0]["orderId"]) for r in rig.chain.send_packed(fns, gas=1_000_000)]
    rig.place(buyer, BUY, 5_400, 40)  # fills the 75 oldest sells, time priority
    rig.place(buyer, BUY, 5_400, 35)
    rig.chain.send_packed([(rig.market.functions.cancelOrder(i), busy) for i in ids[75:150]], gas=500_000)
    assert rig.market.functions.openOrdersOf(busy.address, CO2_2027, SELL).call() == ids[150:]

    first = rig.place_receipt(busy, BUY, 4_900, 1)["gasUsed"]
    baseline = rig.place_receipt(idle, BUY, 4_900, 1)["gasUsed"]
    second = rig.place_receipt(busy, BUY, 4_900, 1)["gasUsed"]
    third = rig.place_receipt(busy, BUY, 4_900, 1)["gasUsed"]
    assert second <= baseline + 15_000 and third <= baseline + 15_000, (baseline, second, third)
    assert first - second <= 150 * 8_000, (first, second)  # each closed entry once (~6.2k)

    # the sweep moved the last entries forward (the list is [ids[151], ids[150]] now)
    with reverts("MarketSelfTrade", account=busy.address, restingOrderId=ids[150]):
        rig.place(busy, BUY, 5_400, 1)
    assert rig.market.functions.openOrdersOf(busy.address, CO2_2027, SELL).call() == ids[150:]
    rig.cancel(busy, ids[150])
    with reverts("MarketSelfTrade", account=busy.address, restingOrderId=ids[151]):
        rig.place(busy, BUY, 5_400, 1)
    rig.cancel(busy, ids[151])
    # the emptied list is swept by the next buy, which now fills another trader's sell
    rig.place(idle, SELL, 5_400, 1)
    rig.place(busy, BUY, 5_400, 1)
    assert rig.market.functions.openOrdersOf(busy.address, CO2_2027, SELL).call() == []
    order_id = rig.place(busy, SELL, 5_500, 1)
    assert rig.market.functions.openOrdersOf(busy.address, CO2_2027, SELL).call() == [order_id]
    # a sell filled whole (it never rests) stores the swept buy list's length: no entry twice
    low = rig.place(busy, BUY, 4_700, 1)
    buys = rig.market.functions.openOrdersOf(busy.address, CO2_2027, BUY).call()
    assert len(buys) == 4 and buys[-1] == low
    for i in buys[:3]:
        rig.cancel(busy, i)
    rig.place(busy, SELL, 4_900, 1)  # fills idle's bid whole
    assert rig.market.functions.openOrdersOf(busy.address, CO2_2027, BUY).call() == [low]


def test_place_refuses_before_the_previous_day_is_expired(rig: Rig) -> None:
    day = next_weekday_at(rig.chain, MORNING)
    rig.place(TRADERS[0], BUY, 5_000, 10)
    next_weekday_at(rig.chain, MORNING)
    with reverts("MarketBookNotExpired", tokenId=CO2_2027, bookDay=day):
        rig.place(TRADERS[1], BUY, 5_000, 10)
    assert rig.market.functions.bookState(CO2_2027).call() == [1, day]
    rig.expire(TRADERS[2])
    rig.place(TRADERS[1], BUY, 5_000, 10)


def test_trading_day_is_cst(rig: Rig) -> None:
    day = next_weekday_at(rig.chain, MORNING)
    assert rig.market.functions.tradingDay().call() == [day, MORNING]
    assert trading_day(rig.chain.timestamp()) == (day, MORNING)
