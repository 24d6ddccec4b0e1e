"""``chain.market.MarketClient`` on the session chain: approvals once, wallet calls named by the ABI,
unsigned builds with decoded refusals, typed views, the opening uncrossing computed from the call
book and submitted in pages exactly as ``domain.market`` pairs it, paged expiry returning every
escrow, take and block ids, the day's trades and quote, idempotent wiring; and the CST calendar."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from eth_account.signers.local import LocalAccount

from chain.accounts import seeded_account
from chain.market import (
    BlockStatus,
    MarketClient,
    WalletCall,
    day_quote,
    set_chain_time,
    wire_market,
)
from domain.errors import InvalidInputError
from domain.market import (
    Rulebook,
    Side,
    TradeMode,
    call_pairs,
    cst_time,
    is_weekday,
    next_weekday_at,
    trading_day,
    uncross_price,
)
from domain.tokens import Kind, encode_id
from tests.conftest import Consortium
from tests.utils.chain import register, reverts

CO2_2027 = encode_id(Kind.ALLOWANCE, "CO2", 2027)
RULES = Rulebook(reference_price=10_000, fee_bps=10, block_minimum=1_000)
CALL_PHASE, OPEN1, AFTERNOON, CLOSE2, EVENING = 33_600, 34_200, 50_400, 54_000, 57_600


@dataclass
class Desk:
    """The session chain with CO2 2027 listed and three funded, approved traders."""

    c: Consortium
    market: MarketClient
    a: LocalAccount
    b: LocalAccount
    t: LocalAccount
    day: int

    def at(self, time_of_day: int) -> None:
        set_chain_time(self.c.chain, cst_time(self.day, time_of_day))


def trader(c: Consortium, name: str, seed: int) -> LocalAccount:
    account = seeded_account(f"chain-market-test:{name}")
    c.chain.w3.provider.make_request("anvil_setBalance", [account.address, hex(10**21)])  # type: ignore[arg-type]
    register(c.registry, c.members, account.address, seed=seed)
    return account


@pytest.fixture
def desk(fresh: Consortium) -> Iterator[Desk]:
    a, b, t = (trader(fresh, n, 900 + i) for i, n in enumerate("abt"))
    fresh.allowance.set_cap(fresh.regulator, CO2_2027, 30_000)
    fresh.allowance.allocate(
        fresh.regulator, CO2_2027, [a.address, b.address, t.address], [10_000] * 3, b"\x09" * 32
    )
    for i, account in enumerate((a, b, t)):
        fresh.cash.deposit(fresh.exchange, account.address, 10**9, f"market-client-{i}")
        fresh.market.ensure_approvals(account)
    fresh.market.set_rulebook(fresh.exchange, CO2_2027, RULES)
    day, _ = trading_day(next_weekday_at(fresh.chain.timestamp(), CALL_PHASE))
    yield Desk(fresh, fresh.market, a, b, t, day)


def test_ensure_approvals_approves_once_and_then_nothing_is_missing(fresh: Consortium) -> None:
    market = fresh.market
    account = trader(fresh, "approver", 950)
    assert market.approval_calls(account.address) == [
        WalletCall("SettlementToken", "approve", {"spender": market.address, "value": 2**256 - 1}),
        WalletCall("AllowanceToken", "setApprovalForAll", {"operator": market.address, "approved": True}),
    ]
    assert market.ensure_approvals(account) == ["SettlementToken.approve", "AllowanceToken.setApprovalForAll"]
    assert market.ensure_approvals(account) == []
    assert market.approval_calls(account.address) == []


def test_wallet_call_names_arguments_by_abi_and_refuses_what_cannot_be_encoded(fresh: Consortium) -> None:
    market = fresh.market
    buyer = seeded_account("chain-market-test:b").address
    assert market.wallet_call("place", CO2_2027, Side.SELL, 9_900, 5) == WalletCall(
        "Market", "placeOrder", {"tokenId": CO2_2027, "side": 1, "price": 9_900, "quantity": 5}
    )
    assert market.wallet_call("propose_block", CO2_2027, buyer, 9_000, 1_000).args["buyer"] == buyer
    assert market.wallet_call("set_rulebook", CO2_2027, RULES).args["rules"] == list(RULES.as_tuple())
    with pytest.raises(InvalidInputError, match="unknown market action"):
        market.wallet_call("sweep", CO2_2027)
    with pytest.raises(InvalidInputError, match="price"):
        market.wallet_call("place", CO2_2027, Side.BUY, -1, 5)
    with pytest.raises(InvalidInputError, match="buyer"):
        market.wallet_call("propose_block", CO2_2027, "0x1234", 9_000, 1_000)


def test_build_returns_unsigned_call_or_the_decoded_refusal(desk: Desk) -> None:
    market = desk.market
    desk.at(OPEN1 + 600)
    before = market.next_id()
    tx = market.build(market.place_call(CO2_2027, Side.BUY, 10_000, 5), desk.a.address)
    assert (tx["from"], tx["to"], tx["value"]) == (desk.a.address, market.address, 0) and int(
        tx["gas"]
    ) > 21_000
    assert market.next_id() == before  # built, not sent
    desk.at(EVENING)
    with reverts("MarketOutsideSession", tokenId=CO2_2027):
        market.build(market.place_call(CO2_2027, Side.BUY, 10_000, 5), desk.a.address)


def test_rulebook_reads_back_and_unlisted_token_has_none(desk: Desk) -> None:
    market = desk.market
    assert market.rulebook(CO2_2027) == RULES
    assert market.rulebook(encode_id(Kind.ALLOWANCE, "SO2", 2027)) is None
    assert market.band(CO2_2027) == RULES.band == (9_000, 11_000)
    assert market.block_band(CO2_2027) == RULES.block_band == (7_000, 13_000)
    assert market.fee_account() == desk.c.exchange.address


def test_uncross_all_pages_the_call_as_domain_pairs_it(desk: Desk) -> None:
    market, a, b = desk.market, desk.a, desk.b
    desk.at(CALL_PHASE)
    bids = [(10_100, 30), (10_000, 20), (10_100, 15)]
    asks = [(9_900, 25), (10_000, 25), (10_050, 40)]
    ids = {}
    for price, quantity in bids:
        ids[market.place(a, CO2_2027, Side.BUY, price, quantity).id] = (Side.BUY, price, quantity)
    for price, quantity in asks:
        ids[market.place(b, CO2_2027, Side.SELL, price, quantity).id] = (Side.SELL, price, quantity)
    assert market.call_book(CO2_2027) == (bids, asks)
    result = market.compute_uncross(CO2_2027)
    # B/S at 9,900: 65/25; 10,000: 65/50; 10,050 and 10,100: 45/90 → the most volume, 50 at 10,000
    assert result == uncross_price(bids, asks, RULES.reference_price) == (10_000, 50)
    assert market.call_pending(CO2_2027)

    desk.at(OPEN1)
    with reverts("MarketWrongUncross", tokenId=CO2_2027, submitted=10_050, expected=10_000):
        market.uncross(desk.c.auditor, CO2_2027, 10_050, 1)
    pages = market.uncross_all(desk.c.auditor, CO2_2027, page=1)
    pairs = call_pairs(
        [(i, p, q) for i, (s, p, q) in ids.items() if s is Side.BUY],
        [(i, p, q) for i, (s, p, q) in ids.items() if s is Side.SELL],
        result,
    )
    assert len(pages) == len(pairs) == 4
    trades = [t for page in pages for t in page.trades]
    assert [(t.buy_id, t.sell_id, t.quantity) for t in trades] == pairs
    assert {(t.price, t.mode) for t in trades} == {(10_000, TradeMode.CALL)}
    assert not market.call_pending(CO2_2027) and market.uncross_all(desk.c.auditor, CO2_2027) == []
    assert [e["args"]["volume"] for e in market.events("CallUncrossed", tokenId=CO2_2027)] == [50]
    # pairs 1/4 25, 1/5 5, 3/5 15, 2/5 5: what rests is the unfilled remainder of #2 and all of #6
    assert market.book(CO2_2027).bids == [(10_000, 15)] and market.book(CO2_2027).asks == [(10_050, 40)]
    paid = 50 * 10_000 + sum(q * 10_000 * 10 // 10_000 for q in (25, 5, 15, 5))  # the 10,100 buys paid 10,000
    assert desk.c.cash.balance(a.address) == 10**9 - paid - market.order(2).escrow


def test_take_and_block_return_their_ids_and_fills(desk: Desk) -> None:
    market, a, b, t = desk.market, desk.a, desk.b, desk.t
    desk.at(AFTERNOON)
    resting = market.place(b, CO2_2027, Side.SELL, 10_200, 50)
    assert resting.trades == ()
    view = market.order(resting.id)
    assert (view.owner, view.side, view.price, view.remaining, view.open) == (
        b.address,
        Side.SELL,
        10_200,
        50,
        True,
    )
    take = market.take(a, resting.id, 20)
    assert take.id == resting.id + 1
    [fill] = take.trades
    assert (fill.buy_id, fill.sell_id, fill.buyer, fill.seller, fill.quantity, fill.mode) == (
        take.id, resting.id, a.address, b.address, 20, TradeMode.TAKE)  # fmt: skip
    assert fill.buyer_fee == fill.seller_fee == 10_200 * 20 * 10 // 10_000

    block_id = market.propose_block(b, CO2_2027, t.address, 9_000, 1_000)
    assert market.block_proposal(block_id).status is BlockStatus.PENDING
    done = market.accept_block(t, block_id)
    assert [(x.buy_id, x.sell_id, x.mode) for x in done.trades] == [(block_id, block_id, TradeMode.BLOCK)]
    proposal = market.block_proposal(block_id)
    assert (proposal.seller, proposal.buyer, proposal.quantity, proposal.status) == (
        b.address, t.address, 1_000, BlockStatus.ACCEPTED)  # fmt: skip
    declined = market.propose_block(b, CO2_2027, t.address, 9_000, 1_000)
    market.decline_block(t, declined)
    assert market.block_proposal(declined).status is BlockStatus.DECLINED
    assert market.bought_today(t.address, CO2_2027) == 1_000
    assert market.sellable(t.address, CO2_2027) == 10_000

    quote = day_quote(market.trades_of_day(CO2_2027), RULES.reference_price)
    assert (quote.open_price, quote.close_price, quote.volume, quote.block_volume, quote.trades) == (
        10_200, 10_200, 20, 1_000, 1)  # fmt: skip
    assert quote.fees == 2 * fill.buyer_fee + 2 * (9_000 * 1_000 * 10 // 10_000)
    assert market.trades_of_day(CO2_2027, desk.day + 1) == []


def test_expire_all_pages_until_every_escrow_is_back(desk: Desk) -> None:
    market, a, b = desk.market, desk.a, desk.b
    desk.at(OPEN1 + 60)
    for price in (9_500, 9_600, 9_700):
        market.place(a, CO2_2027, Side.BUY, price, 10)
    market.place(b, CO2_2027, Side.SELL, 10_500, 10)
    assert market.holdings(CO2_2027) == (
        10,
        3 * 10 * 9_600 + sum(p * 10 * 10 // 10_000 for p in (9_500, 9_600, 9_700)),
    )
    assert market.book_state(CO2_2027) == (4, desk.day)
    with reverts("MarketDayNotOver", tokenId=CO2_2027):
        market.expire(desk.c.auditor, CO2_2027, 1)
    desk.at(CLOSE2)
    assert market.expire_all(desk.c.auditor, CO2_2027, page=1) == 4
    assert market.holdings(CO2_2027) == (0, 0)
    assert len(market.events("OrderExpired")) == 4
    assert market.open_orders_of(a.address, CO2_2027, Side.BUY) == []


def test_wire_market_skips_what_is_in_place(fresh: Consortium) -> None:
    exchange = fresh.exchange.address
    assert wire_market(fresh.registry, fresh.members, fresh.market, exchange, settlement_agent=exchange) == []
    assert fresh.allowance.contract.functions.market().call() == fresh.market.address
    assert fresh.market.settlement_agent() == exchange
    assert wire_market(
        fresh.registry,
        fresh.members,
        fresh.market,
        fresh.auditor.address,
        settlement_agent=fresh.regulator.address,
    ) == [
        f"Market: fee account {fresh.auditor.address}",
        f"Market: settlement agent {fresh.regulator.address}",
    ]
    assert fresh.market.fee_account() == fresh.auditor.address
    assert fresh.market.settlement_agent() == fresh.regulator.address
    with pytest.raises(InvalidInputError):
        wire_market(fresh.registry, fresh.members, fresh.market, exchange, settlement_agent="0x12")


def test_client_reads_position_limits_halts_and_governed_rulebooks(fresh: Consortium) -> None:
    """The risk controls through the client: a rulebook with a position limit and governance reads
    back equal, positionOf as (position, limit), the market-wide halt on and off."""
    market, exchange = fresh.market, fresh.exchange
    rules = Rulebook(reference_price=10_000, position_limit=500, position_limit_bps=100, governed=True)
    market.set_rulebook(exchange, CO2_2027, rules)
    assert market.rulebook(CO2_2027) == rules
    supply = fresh.allowance.contract.functions.totalSupply(CO2_2027).call()
    limit = min(500, supply * 100 // 10_000) if supply else 0
    assert market.position_of(fresh.auditor.address, CO2_2027) == (0, limit)
    with reverts("MarketRulebookGoverned", tokenId=CO2_2027):
        market.set_rulebook(exchange, CO2_2027, Rulebook(reference_price=10_000))
    assert not market.market_halted()
    market.halt(exchange, 0, "drill")
    assert market.market_halted() and market.is_halted(CO2_2027)
    market.resume(exchange, 0)
    assert not market.market_halted() and not market.is_halted(CO2_2027)
    assert market.wallet_call("halt", 0, "all").args == {"tokenId": 0, "reason": "all"}


@pytest.mark.parametrize(
    ("after", "time_of_day", "expected"),
    [
        (cst_time(20_426, 30_000), 33_300, cst_time(20_426, 33_300)),  # Thursday 8:20 → 9:15 the same day
        (cst_time(20_426, 33_300), 33_300, cst_time(20_427, 33_300)),  # strictly after: Friday
        (cst_time(20_427, 57_600), 33_300, cst_time(20_430, 33_300)),  # Friday evening → Monday
    ],
)
def test_next_weekday_at_skips_weekends_in_cst(after: int, time_of_day: int, expected: int) -> None:
    assert next_weekday_at(after, time_of_day) == expected
    assert is_weekday(trading_day(expected)[0])


def test_trading_day_is_utc_plus_eight() -> None:
    assert trading_day(0) == (0, 8 * 3600)  # 1970-01-01 08:00 CST, a Thursday
    assert trading_day(16 * 3600) == (1, 0)
    assert cst_time(*trading_day(1_765_000_000)) == 1_765_000_000
    assert [is_weekday(d) for d in range(7)] == [True, True, False, False, True, True, True]
