"""GET /market/preview and GET /market/sellable on a real chain after a trading day
(tests.utils.market_day): the figures follow domain.market's rules and equal the chain's views;
the refusal is the one the contract gives the same order (out-of-band price, insufficient cash,
T+1 lock, self-trade, halt), the same error POST /tx/market reports when the order is built; bad
input and the wrong roles are refused."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import httpx
import pytest
from eth_account.signers.local import LocalAccount

from api.deps import Principal
from api.market import market_changes
from domain.market import Side, fee, position_limit
from tests.api.conftest import ApiWorld, Get
from tests.utils.compliance import CO2_2025, ENTERPRISES
from tests.utils.market_day import RULES, TOKEN, MarketDay, trade_day

E0, E1, E2, E3 = ENTERPRISES


@pytest.fixture(scope="module")
def day(world: ApiWorld) -> MarketDay:
    d = trade_day(world.c)
    world.index()
    return d


def _ok(response: httpx.Response) -> Any:
    assert response.status_code == 200, response.text
    return response.json()


def _preview(get: Get, who: LocalAccount, side: str, price: int, quantity: int) -> dict[str, Any]:
    body: dict[str, Any] = _ok(
        get(who, "/market/preview", token_id=TOKEN, side=side, price=price, quantity=quantity)
    )
    return body


def _built_error(world: ApiWorld, who: LocalAccount, side: str, price: int, quantity: int) -> str:
    """The error POST /tx/market answers when the same order is built (the contract's, by estimate)."""
    body = {"action": "place", "token_id": TOKEN, "side": side, "price": price, "quantity": quantity}
    response = world.client.post("/tx/market", json=body, headers=world.sign_in(who))
    assert response.status_code == 422, response.text
    error: str = response.json()["error"]
    return error


def _refused(
    world: ApiWorld, get: Get, who: LocalAccount, side: str, price: int, quantity: int
) -> dict[str, Any]:
    refusal: dict[str, Any] = _preview(get, who, side, price, quantity)["refusal"]
    assert refusal is not None
    assert refusal["error"] == _built_error(world, who, side, price, quantity)
    assert refusal["detail"].startswith(refusal["error"] + "(")
    return refusal


def test_market_preview_of_an_acceptable_buy_follows_the_rules_and_the_chain(
    world: ApiWorld, get: Get, day: MarketDay
) -> None:
    m = world.c.market
    body = _preview(get, E2, "buy", 10_100, 7)
    value = 10_100 * 7
    assert body["refusal"] is None
    assert (body["value"], body["fee"]) == (value, fee(value, RULES.fee_bps))
    assert (body["escrow_cash"], body["escrow_allowances"]) == (value + fee(value, RULES.fee_bps), 0)
    assert (body["band_lower"], body["band_upper"]) == m.band(TOKEN) == RULES.band
    assert body["sellable"] == m.sellable(E2.address, TOKEN)
    open_buys = sum(m.order(i).remaining for i in m.open_orders_of(E2.address, TOKEN, Side.BUY))
    assert open_buys == 70 and body["position"] == m.allowance.balance(E2.address, TOKEN) + open_buys
    assert body["position_limit"] is None
    sell = _preview(get, E1, "sell", 10_150, 5)
    assert sell["refusal"] is None and (sell["escrow_cash"], sell["escrow_allowances"]) == (0, 5)


def test_market_preview_names_the_contracts_refusals(world: ApiWorld, get: Get, day: MarketDay) -> None:
    c, m = world.c, world.c.market
    lower, upper = m.band(TOKEN)
    outside = _refused(world, get, E2, "buy", upper + 1, 5)
    assert outside["error"] == "MarketPriceOutsideBand" and str(upper) in outside["detail"]
    assert _refused(world, get, E2, "sell", lower - 1, 5)["error"] == "MarketPriceOutsideBand"
    # self-trade: E0's sell rests at 10,200; its buy at that price would cross it
    assert m.depth(TOKEN, Side.SELL, 1) == [(10_200, 25)]
    crossing = _refused(world, get, E0, "buy", 10_200, 5)
    assert crossing["error"] == "MarketSelfTrade" and str(day.orders["sell_e0"]) in crossing["detail"]
    # T+1: E3 bought 90 t today; it keeps 100 t, of which it may sell 10
    bought, balance = m.bought_today(E3.address, TOKEN), m.allowance.balance(E3.address, TOKEN)
    assert bought == 90
    c.allowance.transfer(E3, E1.address, TOKEN, balance - 100)
    try:
        locked = _refused(world, get, E3, "sell", 10_100, 50)
        assert locked["error"] == "MarketInsufficientAllowances"
        assert _preview(get, E3, "sell", 10_100, 50)["sellable"] == m.sellable(E3.address, TOKEN) == 10
        assert _preview(get, E3, "sell", 10_100, 10)["refusal"] is None
    finally:
        c.allowance.transfer(E1, E3.address, TOKEN, balance - 100)
    # cash: E3 pays all but 1,000 fen of its cash to E1
    cash = c.cash.balance(E3.address)
    c.cash.transfer(E3, E1.address, cash - 1_000)
    try:
        short = _refused(world, get, E3, "buy", 10_000, 5)
        assert short["error"] == "MarketInsufficientCash" and "available=1000" in short["detail"]
    finally:
        c.cash.transfer(E1, E3.address, cash - 1_000)
    # halted by the exchange
    m.halt(c.exchange, TOKEN, "preview test")
    try:
        halted = _refused(world, get, E2, "buy", 10_000, 5)
        assert halted["error"] == "MarketHalted"
    finally:
        m.resume(c.exchange, TOKEN)
    assert _preview(get, E2, "buy", 10_000, 5)["refusal"] is None


def test_market_preview_refuses_bad_input_and_other_roles(world: ApiWorld, get: Get, day: MarketDay) -> None:
    def refused(who: LocalAccount, status: int, **params: Any) -> None:
        query = {"token_id": TOKEN, "side": "buy", "price": 10_000, "quantity": 1, **params}
        response = get(who, "/market/preview", **query)
        assert response.status_code == status, response.text
        assert response.json()["message"]

    refused(world.c.exchange, 403)
    refused(world.c.regulator, 403)
    refused(E0, 404, token_id=CO2_2025)
    refused(E0, 422, side="long")
    refused(E0, 422, price=0)
    refused(E0, 422, quantity=0)
    refused(E0, 422, price=2**48)
    refused(E0, 422, token_id=0)
    assert world.client.get("/market/preview", params={"token_id": TOKEN}).status_code == 401


def test_market_sellable_is_the_callers_own_from_the_chain(world: ApiWorld, get: Get, day: MarketDay) -> None:
    m = world.c.market
    for e in ENTERPRISES:
        (row,) = _ok(get(e, "/market/sellable"))
        assert row == {
            "token_id": TOKEN,
            "balance": m.allowance.balance(e.address, TOKEN),
            "bought_today": m.bought_today(e.address, TOKEN),
            "sellable": m.sellable(e.address, TOKEN),
        }
    (e0,) = _ok(get(E0, "/market/sellable", token_id=TOKEN))
    assert e0["bought_today"] > 0 and e0["sellable"] == max(0, e0["balance"] - e0["bought_today"])
    assert get(E0, "/market/sellable", token_id=CO2_2025).status_code == 404
    assert world.client.get("/market/sellable").status_code == 401


def test_market_changes_split_a_long_range_at_the_trade_cap(world: ApiWorld, day: MarketDay) -> None:
    """A client resuming from far back gets the trades in several events, none lost or repeated."""
    world.index()
    with world.ctx.sessions() as db:
        viewer = world.ctx.roles.of(E0.address)
        principal = Principal(E0.address, viewer.roles, viewer.suspended, "")
        upto = world.indexer.checkpoint()
        assert upto is not None
        whole = market_changes(db, viewer=principal, after=-1, upto=upto[0], max_trades=10_000)
        assert whole is not None and whole.block == upto[0] and len(whole.trades) >= 6
        seen, after = [], -1
        while after < upto[0]:
            part = market_changes(db, viewer=principal, after=after, upto=upto[0], max_trades=2)
            if part is None:
                break
            seen += [t.id for t in part.trades]
            after = part.block
        assert seen == [t.id for t in whole.trades]


def test_market_preview_shows_the_position_limit_and_its_refusal(
    world: ApiWorld, get: Get, day: MarketDay
) -> None:
    """Last: it lists CO2 2025 with a limit of 10 t over E0's balance, and at most half the issue."""
    c, m = world.c, world.c.market
    balance = m.allowance.balance(E0.address, CO2_2025)
    issued = int(c.allowance.contract.functions.totalSupply(CO2_2025).call())  # in circulation
    rules = replace(RULES, position_limit=balance + 10, position_limit_bps=5_000)
    m.set_rulebook(c.exchange, CO2_2025, rules)
    limit = position_limit(rules, issued)
    assert limit == min(balance + 10, issued * 5_000 // 10_000) == m.position_of(E0.address, CO2_2025)[1]

    def preview(quantity: int) -> dict[str, Any]:
        query = {"token_id": CO2_2025, "side": "buy", "price": 10_000, "quantity": quantity}
        return _ok(get(E0, "/market/preview", **query))  # type: ignore[no-any-return]

    room = limit - balance
    fits = preview(room)
    assert (fits["position"], fits["position_limit"], fits["refusal"]) == (balance, limit, None)
    over = preview(room + 1)["refusal"]
    assert over["error"] == "MarketPositionLimit" and f"limit={limit}" in over["detail"]
    assert _preview(get, E0, "buy", 10_000, 1)["position_limit"] is None  # CO2 2024 has none
