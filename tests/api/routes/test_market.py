"""GET /market and POST /tx/market on a real chain and a real read model: after a scripted trading
day (tests.utils.market_day) the API's book, trades, quotes, orders, fills and block proposals
equal the contract's views; the book and the trades name no one the caller may not read; an
enterprise cannot read another's orders; bad input is refused with a message; market wallet
transactions are built for the right roles, signed by the user, relayed and indexed. The last
tests place orders, so they compare with the chain as it stands then."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from eth_account.signers.local import LocalAccount
from fastapi.testclient import TestClient

from api.config import ApiSettings
from api.context import AppContext
from api.main import create_app
from chain.market import day_quote, next_weekday_at, trading_day
from domain.market import Side, TradeMode, band
from readmodel.indexer.projections.market import trading_date as trading_day_of
from readmodel.indexer.run import Indexer
from readmodel.migrate import upgrade
from readmodel.session import make_engine
from tests.api.conftest import DOMAIN, UNTHROTTLED, ApiWorld, Get, sign_in
from tests.utils.compliance import CO2_2025, ENTERPRISES
from tests.utils.market_day import RULES, TOKEN, MarketDay, at, trade_day

E0, E1, E2, E3 = ENTERPRISES


def trading_day_text(day: int) -> str:
    """``YYYY-MM-DD`` of trading day number ``day`` (CST), as the API names days."""
    return trading_day_of(day * 86_400 - 8 * 3600)


ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}(?![0-9a-fA-F])")  # not the start of a hash


@pytest.fixture(scope="module")
def day(world: ApiWorld) -> MarketDay:
    d = trade_day(world.c)
    world.index()
    return d


def _ok(response: httpx.Response) -> Any:
    assert response.status_code == 200, response.text
    return response.json()


def _refused(response: httpx.Response, status: int, *words: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["message"], body
    for word in words:
        assert word in body["message"] or word == body["error"], body
    return body


def _all(get: Get, who: LocalAccount, path: str, **params: Any) -> list[dict[str, Any]]:
    page = _ok(get(who, path, limit=1000, **params))
    assert page["total"] == len(page["items"])
    items: list[dict[str, Any]] = page["items"]
    return items


def _chain_trades(world: ApiWorld) -> list[Any]:
    return list(reversed(world.c.market.trades(TOKEN)))  # newest first, as the API lists them


def _trade_key(t: Any) -> tuple[Any, ...]:
    return (t.price, t.quantity, t.value, t.mode.name.lower())


# ---------------------------------------------------------------------- public market data


def test_market_book_equals_chain_depth_and_names_no_account(
    world: ApiWorld, get: Get, day: MarketDay
) -> None:
    for levels in (1, 5, 100):
        body = _ok(get(E3, f"/market/book/{TOKEN}", levels=levels))
        for side, chain_side in (("bids", Side.BUY), ("asks", Side.SELL)):
            assert [(lv["price"], lv["quantity"]) for lv in body[side]] == world.c.market.depth(
                TOKEN, chain_side, levels
            )
        assert body["reference_price"] == RULES.reference_price and body["halted"] is False
    text = get(E3, f"/market/book/{TOKEN}").text
    assert body["bids"] and body["asks"] and not ADDRESS.search(text)
    views = [world.c.market.order(o) for o in day.orders.values()]
    assert sum(lv["orders"] for lv in body["bids"]) == len(
        [v for v in views if v.open and v.side is Side.BUY]
    )


def test_market_rulebook_shows_rules_and_bands_of_the_chain(
    world: ApiWorld, get: Get, day: MarketDay
) -> None:
    body = _ok(get(E3, f"/market/rulebooks/{TOKEN}"))
    rules = world.c.market.rulebook(TOKEN)
    assert rules is not None
    assert body["reference_price"] == rules.reference_price and body["fee_bps"] == rules.fee_bps
    assert (body["band_lower"], body["band_upper"]) == world.c.market.band(TOKEN) == band(10_000, 1000)
    assert (body["block_band_lower"], body["block_band_upper"]) == world.c.market.block_band(TOKEN)
    assert [r["token_id"] for r in _all(get, E3, "/market/rulebooks")] == [TOKEN]
    assert _ok(get(E3, "/market/rulebooks", halted=True))["items"] == []


def test_market_wide_halt_shows_on_every_rulebook_the_book_and_the_market_state(
    world: ApiWorld, get: Get, day: MarketDay
) -> None:
    c = world.c
    state = _ok(get(E3, "/market/state"))
    assert (state["halted"], state["halt_reason"], state["settlement_agent"]) == (
        False, None, c.market.settlement_agent()
    )  # fmt: skip
    body = _ok(get(E3, f"/market/rulebooks/{TOKEN}"))
    rules = c.market.rulebook(TOKEN)
    assert rules is not None
    assert (body["position_limit"], body["position_limit_bps"], body["governed"]) == (
        rules.position_limit, rules.position_limit_bps, rules.governed
    )  # fmt: skip
    c.market.halt(c.exchange, 0, "settlement system down")
    world.index()
    try:
        state = _ok(get(E3, "/market/state"))
        assert (state["halted"], state["halt_reason"]) == (True, "settlement system down")
        body = _ok(get(E3, f"/market/rulebooks/{TOKEN}"))
        assert (body["halted"], body["halt_reason"]) == (True, "settlement system down")
        assert (body["halted_self"], body["halt_reason_self"]) == (False, None)
        assert (body["market_halted"], body["market_halt_reason"]) == (True, "settlement system down")
        assert [r["token_id"] for r in _all(get, E3, "/market/rulebooks", halted=True)] == [TOKEN]
        assert _ok(get(E3, "/market/rulebooks", halted=False))["items"] == []
        assert _ok(get(E3, f"/market/book/{TOKEN}"))["halted"] is True
        # the token id halted on its own too, with the same reason: each halt is named apart
        c.market.halt(c.exchange, TOKEN, "settlement system down")
        world.index()
        try:
            body = _ok(get(E3, f"/market/rulebooks/{TOKEN}"))
            assert (body["halted_self"], body["halt_reason_self"]) == (True, "settlement system down")
            assert (body["market_halted"], body["halted"]) == (True, True)
        finally:
            c.market.resume(c.exchange, TOKEN)
            world.index()
    finally:
        c.market.resume(c.exchange, 0)
        world.index()
    assert _ok(get(E3, "/market/state"))["halted"] is False
    body = _ok(get(E3, f"/market/rulebooks/{TOKEN}"))
    assert (body["halted"], body["halted_self"], body["market_halted"], body["market_halt_reason"]) == (
        False, False, False, None,
    )  # fmt: skip


def test_market_trades_equal_chain_and_show_only_the_callers_sides(
    world: ApiWorld, get: Get, day: MarketDay
) -> None:
    chain = _chain_trades(world)
    assert len(chain) >= 6
    for viewer in (E0, E1, E2, E3):
        items = _all(get, viewer, "/market/trades", token_id=TOKEN)
        assert [(t["price"], t["quantity"], t["value"], t["mode"]) for t in items] == [
            _trade_key(t) for t in chain
        ]
        for item, trade in zip(items, chain, strict=True):
            block = trade.mode is TradeMode.BLOCK and viewer.address in (trade.buyer, trade.seller)
            buyer_shown = trade.buyer == viewer.address or block
            seller_shown = trade.seller == viewer.address or block
            assert item["buyer"] == (trade.buyer if buyer_shown else None)
            assert item["buy_id"] == (trade.buy_id if buyer_shown else None)
            assert item["buyer_fee"] == (trade.buyer_fee if buyer_shown else None)
            assert item["seller"] == (trade.seller if seller_shown else None)
            assert item["sell_id"] == (trade.sell_id if seller_shown else None)
        text = get(viewer, "/market/trades", limit=1000).text
        assert set(ADDRESS.findall(text)) <= {viewer.address, *(
            a for t in chain if t.mode is TradeMode.BLOCK and viewer.address in (t.buyer, t.seller)
            for a in (t.buyer, t.seller))}  # fmt: skip
    everything = _all(get, world.c.exchange, "/market/trades", token_id=TOKEN)
    sides = ("buyer", "seller", "buy_id", "sell_id", "buyer_fee", "seller_fee")
    assert [tuple(t[k] for k in sides) for t in everything] == [
        tuple(getattr(t, k) for k in sides) for t in chain
    ]
    calls = _all(get, E3, "/market/trades", mode="call")
    assert calls and {t["mode"] for t in calls} == {"call"}


def test_market_quotes_equal_the_days_open_and_close_by_the_rules(
    world: ApiWorld, get: Get, day: MarketDay
) -> None:
    quotes = {q["mode"]: q for q in _all(get, E3, "/market/quotes", token_id=TOKEN)}
    assert set(quotes) == {"listing", "call", "continuous", "take", "block"}
    official = day_quote(world.c.market.trades(TOKEN), RULES.reference_price)
    listing = quotes["listing"]
    assert (listing["open"], listing["close"], listing["volume"], listing["turnover"], listing["trades"]) == (
        official.open_price, official.close_price, official.volume, official.turnover, official.trades,
    )  # fmt: skip
    assert quotes["block"]["volume"] == official.block_volume
    (uncrossed,) = world.c.market.events("CallUncrossed")
    assert listing["open"] == uncrossed["args"]["price"] == 10_050  # rule 8: the uncrossing price (by hand)
    only = _all(get, E3, "/market/quotes", mode="listing", day_from=listing["day"], day_to=listing["day"])
    assert only == [listing]
    assert _all(get, E3, "/market/quotes", day_to="2000-01-01") == []


def test_market_reference_prices_and_unclaimed_escrow(world: ApiWorld, get: Get, day: MarketDay) -> None:
    prices = _all(get, E3, "/market/reference-prices", token_id=TOKEN)
    assert [(p["price"], p["source"]) for p in prices] == [(RULES.reference_price, "rulebook")]
    (listed,) = world.c.market.events("RulebookSet")
    assert prices[0]["block_number"] == listed["block"]
    assert _all(get, E0, "/market/unclaimed") == []
    _refused(get(E0, "/market/unclaimed", account=E1.address), 403, "unclaimed escrow")
    _refused(get(E0, "/market/reference-prices", token_id=CO2_2025), 404, "not listed")


# ---------------------------------------------------------------------- an account's own


def test_market_orders_list_only_the_callers_own(world: ApiWorld, get: Get, day: MarketDay) -> None:
    c = world.c
    for e in ENTERPRISES:
        items = _all(get, e, "/market/orders", token_id=TOKEN)
        assert items and {o["owner"] for o in items} == {e.address}
        for o in items:
            view = c.market.order(o["order_id"])  # the contract forgets closed orders
            assert (o["status"] == "open") == view.open
            if view.open:
                assert (o["remaining"], o["price"], o["quantity"]) == (
                    view.remaining,
                    view.price,
                    view.quantity,
                )
    placed = {e["args"]["orderId"]: e["args"]["owner"] for e in c.market.events("OrderPlaced")}
    mine = {o["order_id"] for o in _all(get, E0, "/market/orders")}
    assert mine == {i for i, owner in placed.items() if owner == E0.address}
    every = _all(get, c.regulator, "/market/orders")
    assert {o["order_id"] for o in every} == set(day.orders.values())
    assert _all(get, E0, "/market/orders", status="filled", side="buy") == [
        o for o in _all(get, E0, "/market/orders") if o["status"] == "filled" and o["side"] == "buy"
    ]
    other = day.orders["call_sell_e1"]
    _refused(get(E0, "/market/orders", account=E1.address), 403, "market orders")
    _refused(get(E0, f"/market/orders/{other}"), 403, "another account's")
    _refused(get(E0, "/market/fills", account=E2.address), 403)
    assert _ok(get(E1, f"/market/orders/{other}"))["owner"] == E1.address
    assert _ok(get(c.exchange, f"/market/orders/{other}"))["owner"] == E1.address


def test_market_auditor_reads_orders_of_assigned_enterprises_only(
    world: ApiWorld, get: Get, day: MarketDay
) -> None:
    auditor = world.c.auditor
    items = _all(get, auditor, "/market/orders")
    assert items and {o["owner"] for o in items} <= {E0.address, E1.address}
    _refused(get(auditor, "/market/orders", account=E2.address), 403)
    _refused(get(auditor, f"/market/orders/{day.orders['call_sell_e2']}"), 403)
    assigned = {E0.address, E1.address}
    trades = _all(get, auditor, "/market/trades")
    for item, trade in zip(trades, _chain_trades(world), strict=True):
        assert item["buyer"] == (trade.buyer if trade.buyer in assigned else None)
        assert item["seller"] == (trade.seller if trade.seller in assigned else None)
    assert {t["buyer"] for t in trades} >= {E0.address} and None in {t["seller"] for t in trades}


def test_market_order_detail_lists_its_fills_without_the_counterparty(
    world: ApiWorld, get: Get, day: MarketDay
) -> None:
    order_id = day.orders["call_buy_e0"]
    body = _ok(get(E0, f"/market/orders/{order_id}"))
    fills = [t for t in world.c.market.trades(TOKEN) if t.buy_id == order_id]
    assert len(fills) == 2 and body["status"] == "filled" and body["remaining"] == 0
    assert [(t["price"], t["quantity"], t["buyer"], t["seller"], t["sell_id"]) for t in body["trades"]] == [
        (t.price, t.quantity, E0.address, None, None) for t in fills
    ]
    assert body["filled_value"] == sum(t.value for t in fills)
    assert body["fees"] == sum(t.buyer_fee for t in fills)


def test_market_fills_are_the_callers_trades_with_block_counterparties(
    world: ApiWorld, get: Get, day: MarketDay
) -> None:
    chain = _chain_trades(world)
    for e in ENTERPRISES:
        mine = [t for t in chain if e.address in (t.buyer, t.seller)]
        items = _all(get, e, "/market/fills")
        assert [(t["price"], t["quantity"], t["mode"]) for t in items] == [
            (t.price, t.quantity, t.mode.name.lower()) for t in mine
        ]
    block = next(t for t in _all(get, E1, "/market/fills", mode="block"))
    assert (block["buyer"], block["seller"]) == (E0.address, E1.address)
    buys = _all(get, E1, "/market/fills", account=E1.address, side="buy")
    assert buys and {t["buyer"] for t in buys} == {E1.address} and {t["mode"] for t in buys} == {"take"}


def test_market_blocks_made_by_or_addressed_to_the_caller(world: ApiWorld, get: Get, day: MarketDay) -> None:
    assert [b["block_id"] for b in _all(get, E3, "/market/blocks")] == [day.pending_block]
    assert [b["block_id"] for b in _all(get, E3, "/market/blocks", role="buyer", status="pending")] == [
        day.pending_block
    ]
    assert _all(get, E3, "/market/blocks", role="seller") == []
    accepted = _ok(get(E1, f"/market/blocks/{day.accepted_block}"))
    view = world.c.market.block_proposal(day.accepted_block)
    fields = ("seller", "buyer", "price", "quantity")
    assert accepted["status"] == "accepted"
    assert [accepted[k] for k in fields] == [getattr(view, k) for k in fields]
    _refused(get(E3, f"/market/blocks/{day.accepted_block}"), 403, "between other accounts")
    assert len(_all(get, world.c.exchange, "/market/blocks")) == 2


def test_market_audit_trail_hides_a_listing_trades_counterparty(
    world: ApiWorld, get: Get, day: MarketDay
) -> None:
    events = _ok(get(E0, "/audit/events", contract="Market", name="TradeExecuted", limit=1000))["items"]
    assert events
    for event in events:
        a = event["args"]
        if a["mode"] == TradeMode.BLOCK:
            assert {a["buyer"], a["seller"]} == {E0.address, E1.address}
            continue
        mine = "buyer" if a["buyer"] == E0.address else "seller"
        other = "seller" if mine == "buyer" else "buyer"
        assert a[mine] == E0.address and a[other] is None
        assert a["sellId" if other == "seller" else "buyId"] is None


def test_market_refuses_bad_input_with_a_message(world: ApiWorld, get: Get, day: MarketDay) -> None:
    _refused(get(E0, f"/market/book/{CO2_2025}"), 404, "not listed")
    _refused(get(E0, f"/market/rulebooks/{CO2_2025}"), 404, "not listed")
    _refused(get(E0, "/market/trades", token_id=CO2_2025), 404, "not listed")
    _refused(get(E0, "/market/orders", token_id=CO2_2025), 404, "not listed")
    _refused(get(E0, "/market/book/0"), 422, "token_id")
    _refused(get(E0, f"/market/book/{TOKEN}", levels=0), 422, "levels")
    _refused(get(E0, f"/market/book/{TOKEN}", levels=101), 422, "levels")
    _refused(get(E0, "/market/orders", side="short"), 422, "side")
    _refused(get(E0, "/market/trades", mode="auction"), 422, "mode")
    _refused(get(E0, "/market/orders", status="gone"), 422, "status")
    _refused(get(E0, "/market/trades", limit=0), 422, "limit")
    _refused(get(E0, "/market/trades", offset=10_000), 400, "past the end")
    _refused(get(E0, "/market/quotes", day_from="2026-13"), 422, "day_from")
    _refused(get(E0, "/market/quotes", day_from="2026-02-01", day_to="2026-01-01"), 400, "before they start")
    _refused(get(E0, "/market/orders", account="0x123"), 422, "account")
    _refused(get(E0, "/market/orders/0"), 422, "order_id")
    _refused(get(E0, "/market/orders/999999"), 404, "does not exist")
    _refused(get(E0, "/market/blocks/999999"), 404, "does not exist")
    _refused(get(E0, "/market/blocks", role="broker"), 422, "role")
    _refused(get(world.c.exchange, "/market/fills", side="buy"), 400, "needs `account`")
    _refused(get(world.c.exchange, "/market/blocks", role="buyer"), 400, "needs `account`")


# ---------------------------------------------------------------------- the PostgreSQL variant


@pytest.fixture
def twin(world: ApiWorld, day: MarketDay, database_url: str) -> Iterator[TestClient]:
    """The same chain indexed into another read model (SQLite or PostgreSQL), served by its own app."""
    settings = ApiSettings(database_url=database_url, api_domain=DOMAIN, api_role_cache_seconds=0,
                           **UNTHROTTLED)  # type: ignore[arg-type]  # fmt: skip
    engine = make_engine(database_url)
    upgrade(engine)
    ctx = AppContext(settings, world.c.chain, world.c.manifest, engine)
    Indexer(world.c.chain, world.c.manifest, engine, page_blocks=5).catch_up()
    with TestClient(create_app(ctx, migrate=False, indexer=False), base_url=f"http://{DOMAIN}") as client:
        yield client
    engine.dispose()


def test_market_answers_equal_on_either_database(world: ApiWorld, get: Get, twin: TestClient) -> None:
    headers = {"Authorization": f"Bearer {sign_in(twin, E1)}"}
    world.index()
    for path, params in (
        (f"/market/book/{TOKEN}", {"levels": 100}),
        ("/market/trades", {"limit": 1000}),
        ("/market/quotes", {}),
        ("/market/orders", {"limit": 1000}),
        ("/market/fills", {"limit": 1000}),
        ("/market/blocks", {}),
        (f"/market/rulebooks/{TOKEN}", {}),
    ):
        answer = _ok(twin.get(path, params=params, headers=headers))
        assert answer == _ok(get(E1, path, **params)), path
    book = _ok(twin.get(f"/market/book/{TOKEN}", params={"levels": 100}, headers=headers))
    assert [(lv["price"], lv["quantity"]) for lv in book["asks"]] == world.c.market.depth(
        TOKEN, Side.SELL, 100
    )


# ---------------------------------------------------------------------- wallet transactions


_SESSIONS: dict[str, dict[str, str]] = {}


def _post(world: ApiWorld, who: LocalAccount, path: str, body: dict[str, Any]) -> httpx.Response:
    if who.address not in _SESSIONS:
        _SESSIONS[who.address] = world.sign_in(who)
    response: httpx.Response = world.client.post(path, json=body, headers=_SESSIONS[who.address])
    return response


def _sign_and_relay(world: ApiWorld, who: LocalAccount, built: dict[str, Any]) -> dict[str, Any]:
    unsigned = {k: v for k, v in built["tx"].items() if k != "from"}
    raw = "0x" + bytes(who.sign_transaction(unsigned).raw_transaction).hex()
    outcome: dict[str, Any] = _ok(
        _post(world, who, "/tx/relay", {"intent_id": built["intent_id"], "raw_transaction": raw})
    )
    assert outcome["status"] == "success", outcome
    return outcome


def test_tx_market_builds_an_order_the_enterprise_signs_relayed_and_indexed(
    world: ApiWorld, get: Get, day: MarketDay
) -> None:
    lower, upper = world.c.market.band(TOKEN)
    body = {"action": "place", "token_id": TOKEN, "side": "sell", "price": upper, "quantity": 7}
    built = _ok(_post(world, E2, "/tx/market", body))
    assert built["action"]["contract"] == "Market" and built["action"]["function"] == "placeOrder"
    assert built["action"]["args"] == {"tokenId": TOKEN, "side": 1, "price": upper, "quantity": 7}
    outcome = _sign_and_relay(world, E2, built)
    placed = next(e for e in outcome["events"] if e["name"] == "OrderPlaced")
    order_id = placed["args"]["orderId"]
    world.index()
    order = _ok(get(E2, f"/market/orders/{order_id}"))
    assert (order["owner"], order["side"], order["price"], order["quantity"], order["status"]) == (
        E2.address, "sell", upper, 7, "open",
    )  # fmt: skip
    book = _ok(get(E3, f"/market/book/{TOKEN}", levels=100))
    assert [(lv["price"], lv["quantity"]) for lv in book["asks"]] == world.c.market.depth(
        TOKEN, Side.SELL, 100
    )
    cancel = _ok(_post(world, E2, "/tx/market", {"action": "cancel", "order_id": order_id}))
    _sign_and_relay(world, E2, cancel)
    world.index()
    assert _ok(get(E2, f"/market/orders/{order_id}"))["status"] == "cancelled"
    assert lower < upper


def test_tx_market_builds_actions_only_for_their_roles(world: ApiWorld, day: MarketDay) -> None:
    c = world.c
    halt = {"action": "halt", "token_id": TOKEN, "reason": "abnormal trading"}
    _refused(_post(world, E0, "/tx/market", halt), 403, "EXCHANGE")
    _refused(_post(world, E0, "/tx/build", {"contract": "Market", "function": "halt",
                                             "args": [TOKEN, "x"]}), 403, "EXCHANGE")  # fmt: skip
    signature = "setReferencePrice(uint256,uint256)"
    _refused(_post(world, E0, "/tx/build", {"contract": "Market", "function": signature,
                                             "args": [TOKEN, 1]}), 403, "EXCHANGE")  # fmt: skip
    built = _ok(_post(world, c.exchange, "/tx/market", halt))
    assert built["action"]["function"] == "halt"
    assert list(built["action"]["args"].values()) == [TOKEN, "abnormal trading"]
    place = {"action": "place", "token_id": TOKEN, "side": "buy", "price": 10_000, "quantity": 1}
    _refused(_post(world, c.exchange, "/tx/market", place), 403, "ENTERPRISE")
    raw_place = {"contract": "Market", "function": "placeOrder", "args": [TOKEN, 0, 10_000, 1]}
    _refused(_post(world, c.regulator, "/tx/build", raw_place), 403, "ENTERPRISE")
    rules = {"action": "set_rulebook", "token_id": CO2_2025, "reference_price": 9_000}
    listed = _ok(_post(world, c.exchange, "/tx/market", rules))
    token_id, rules_struct = built_args = list(listed["action"]["args"].values())
    assert token_id == CO2_2025 and rules_struct["referencePrice"] == 9_000, built_args
    assert (rules_struct["positionLimit"], rules_struct["positionLimitBps"], rules_struct["governed"]) == (
        0, 0, False
    )  # fmt: skip
    limited = {**rules, "position_limit": 50_000, "position_limit_bps": 500, "governed": True}
    built = _ok(_post(world, c.exchange, "/tx/market", limited))
    _, rules_struct = list(built["action"]["args"].values())
    assert (rules_struct["positionLimit"], rules_struct["positionLimitBps"], rules_struct["governed"]) == (
        50_000, 500, True
    )  # fmt: skip
    _refused(_post(world, c.exchange, "/tx/market", {**rules, "position_limit_bps": 10_001}), 422, "position")
    for action in ({"action": "halt", "token_id": 0, "reason": "all"}, {"action": "resume", "token_id": 0}):
        _refused(_post(world, E0, "/tx/market", action), 403, "EXCHANGE")
    built = _ok(_post(world, c.exchange, "/tx/market", {"action": "halt", "token_id": 0, "reason": "all"}))
    assert list(built["action"]["args"].values()) == [0, "all"]
    # resume(0) while the market is not halted: refused by the contract's name
    _refused(
        _post(world, c.exchange, "/tx/market", {"action": "resume", "token_id": 0}), 422, "MarketNotHalted"
    )


def test_tx_market_refuses_bad_orders_with_the_contracts_error(world: ApiWorld, day: MarketDay) -> None:
    lower, upper = world.c.market.band(TOKEN)
    outside = {"action": "place", "token_id": TOKEN, "side": "buy", "price": upper + 1, "quantity": 1}
    body = _refused(_post(world, E0, "/tx/market", outside), 422, "MarketPriceOutsideBand")
    assert body["details"]["args"] == {"tokenId": TOKEN, "price": upper + 1, "lower": lower, "upper": upper}
    _refused(_post(world, E0, "/tx/market", {**outside, "side": "long"}), 422, "side")
    _refused(_post(world, E0, "/tx/market", {**outside, "quantity": 0}), 422, "quantity")
    _refused(_post(world, E0, "/tx/market", {**outside, "price": 2**48}), 422, "price")
    _refused(_post(world, E0, "/tx/market", {"action": "steal", "order_id": 1}), 422, "action")
    bad_rules = {"action": "set_rulebook", "token_id": TOKEN, "reference_price": 9_000, "open1": 50_000}
    _refused(_post(world, world.c.exchange, "/tx/market", bad_rules), 400, "MarketRulebookInvalid")
    big = {"action": "take", "order_id": day.orders["sell_e0"], "quantity": 10**6}
    _refused(_post(world, E3, "/tx/market", big), 422, "MarketTakeExceedsRemaining")


def test_tx_market_approvals_lists_what_the_account_still_lacks(
    world: ApiWorld, get: Get, day: MarketDay
) -> None:
    assert _ok(get(E0, "/tx/market/approvals")) == []
    lacking = _ok(get(world.c.regulator, "/tx/market/approvals"))
    assert {(a["contract"], a["function"]) for a in lacking} == {
        ("SettlementToken", "approve"), ("AllowanceToken", "setApprovalForAll"),
    }  # fmt: skip
    assert all(world.c.market.address in a["args"].values() for a in lacking)


def test_tx_market_expires_the_day_and_uncrosses_the_next_call_at_the_computed_price(
    world: ApiWorld, get: Get, day: MarketDay
) -> None:
    """Last: it moves the chain to the next trading day."""
    c, exchange = world.c, world.c.exchange
    early = _post(world, exchange, "/tx/market", {"action": "expire", "token_id": TOKEN})
    _refused(early, 422, "MarketDayNotOver")
    at(c, day.day, RULES.close2 + 60)
    _sign_and_relay(
        world, exchange, _ok(_post(world, exchange, "/tx/market", {"action": "expire", "token_id": TOKEN}))
    )
    assert c.market.depth(TOKEN, Side.BUY, 5) == c.market.depth(TOKEN, Side.SELL, 5) == []
    next_day, _ = trading_day(next_weekday_at(c.chain.timestamp(), RULES.call_start + 60))
    at(c, next_day, RULES.call_start + 60)
    c.market.place(E0, TOKEN, Side.BUY, 10_020, 40)
    c.market.place(E1, TOKEN, Side.SELL, 9_990, 25)
    at(c, next_day, RULES.open1 + 5)
    expected = c.market.compute_uncross(TOKEN)
    built = _ok(_post(world, E3, "/tx/market", {"action": "uncross", "token_id": TOKEN}))
    assert list(built["action"]["args"].values()) == [TOKEN, expected.price, 200] and expected.volume == 25
    _sign_and_relay(world, E3, built)
    world.index()
    orders = _all(get, c.regulator, "/market/orders", day_to=trading_day_text(day.day))
    assert orders and {o["status"] for o in orders} <= {"filled", "cancelled", "expired"}
    assert "expired" in {o["status"] for o in orders}
    (quote,) = _all(get, E3, "/market/quotes", mode="listing", day_from=trading_day_text(next_day))
    assert (quote["open"], quote["close"], quote["volume"]) == (expected.price, expected.price, 25)
    assert [b["status"] for b in _all(get, exchange, "/market/blocks", status="expired")] == ["expired"]
