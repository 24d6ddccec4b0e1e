"""The dashboard's trading floor, exchange and regulator market panels in chromium over the demo's
trading day (``demo.market``, 14:30 of the afternoon session, the market open): the numbers on
screen equal to the API's and the chain's (book levels, last price, sellable), each role's trading
actions signed in the page (order with its preview, cancel, click-to-take, block proposal accepted
from the inbox, halt and resume), a fill showing on another browser's screen without reloading,
refusals named before and at signing with nothing changed, in English and in Chinese."""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from eth_account.signers.local import LocalAccount
from sqlalchemy import Engine, select

from api.config import ApiSettings
from api.context import AppContext
from api.dashboard import missing_vendor_files
from api.main import create_app
from chain.accounts import demo_account
from chain.market import MarketClient
from chain.siwe import wallet_sign_in
from demo.market import CO2, MarketDayReport, demo_trading_day, market_client
from readmodel import models as m
from readmodel.indexer.run import Indexer
from readmodel.migrate import upgrade
from readmodel.models import CHECKPOINT
from readmodel.session import make_engine
from scheduler.surveillance import MarketSurveillance, import_records
from settlement.day import run_day
from settlement.run import SystemAccounts
from tests.conftest import Consortium
from tests.dashboard.conftest import REQUEST_LIMIT, ROOT, SIGN_IN_LIMIT, Tab, free_port, screenshot, sign_in
from tests.settlement.conftest import CALENDAR, to_time
from tests.utils.demo_market import register_demo_enterprises

#: Cash the exchange issues to enterprise-3 before the page trades (fen): a block trade's worth.
BLOCK_CASH = 1_500_000_000


@dataclass
class FloorWorld:
    """The API (with its embedded indexer) and the dashboard over the demo's trading day."""

    c: Consortium
    day: MarketDayReport
    market: MarketClient
    base: str
    engine: Engine
    reports: Path

    def headers(self, account: LocalAccount) -> dict[str, str]:
        with httpx.Client(base_url=self.base, timeout=30) as client:
            token = wallet_sign_in(client.post, account)
        return {"Authorization": f"Bearer {token}"}

    def wait_indexed(self, timeout: float = 20.0) -> None:
        """Wait until the embedded indexer has the chain's latest block."""
        target = self.c.chain.w3.eth.block_number
        deadline = time.monotonic() + timeout
        query = select(m.Checkpoint.block_number).where(m.Checkpoint.name == CHECKPOINT)
        while time.monotonic() < deadline:
            with self.engine.connect() as conn:
                done = conn.execute(query).scalar_one_or_none()
            if done is not None and done >= target:
                return
            time.sleep(0.05)
        raise AssertionError(f"the indexer did not reach block {target} in {timeout} s")

    def get(self, account: LocalAccount, path: str, **params: Any) -> Any:
        response = httpx.get(f"{self.base}{path}", params=params, headers=self.headers(account), timeout=30)
        response.raise_for_status()
        return response.json()


@pytest.fixture(scope="module")
def floor(consortium: Consortium, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FloorWorld]:
    """The demo's trading day on the consortium, served with the embedded indexer (rolled back)."""
    if missing_vendor_files():
        subprocess.run([str(ROOT / "scripts" / "build-dashboard")], check=True)
    snapshot = consortium.snapshot()
    directory = Path(tmp_path_factory.mktemp("market-floor"))
    url = f"sqlite:///{directory / 'read.db'}"
    reports = directory / "settlement"
    engine = make_engine(url)
    try:
        upgrade(engine)
        register_demo_enterprises(consortium)
        day = demo_trading_day(consortium.chain, consortium.manifest, consortium.registry, consortium.members)
        market = market_client(consortium.chain, consortium.manifest)
        market.cash.deposit(demo_account("exchange"), demo_account("enterprise-3").address, BLOCK_CASH,
                            "ICBC-TEST-FLOOR-0003")  # fmt: skip
        Indexer(consortium.chain, consortium.manifest, engine).catch_up()
        port = free_port()
        settings = ApiSettings(database_url=url, api_host="127.0.0.1", api_port=port,
                               api_role_cache_seconds=0, indexer_poll_seconds=0.05,
                               api_rate_limit_sign_in=SIGN_IN_LIMIT, api_rate_limit_client=REQUEST_LIMIT,
                               api_rate_limit_principal=REQUEST_LIMIT, reports_dir=reports)  # fmt: skip
        app = create_app(AppContext(settings, consortium.chain, consortium.manifest, engine), migrate=False,
                         indexer=True)  # fmt: skip
        app.state.dashboard_demo = True  # as with ETS_DEMO=1: the page signs with the demo keys
        app.state.dashboard_reports_dir = reports  # as ETS_SETTLE_REPORTS_DIR
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                               access_log=False))  # fmt: skip
        thread = threading.Thread(target=server.run, name="market-floor", daemon=True)
        thread.start()
        deadline = time.monotonic() + 30
        while not server.started:
            assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
            time.sleep(0.05)
        try:
            yield FloorWorld(consortium, day, market, f"http://127.0.0.1:{port}", engine, reports)
        finally:
            server.should_exit = True
            thread.join(timeout=15)
    finally:
        engine.dispose()
        consortium.revert(snapshot)


def open_floor(tab: Tab, world: FloorWorld, name: str, home: str) -> None:
    page = sign_in(tab, world.base, demo_account(name), home)
    page.click('[data-nav="market"]')
    page.wait_for_selector('[data-view="market"][data-ready="1"]')
    page.wait_for_selector("#market-panel[data-live='1']")


def cells(tab: Tab, selector: str) -> list[list[str]]:
    rows: list[list[str]] = tab.page.eval_on_selector_all(
        f"{selector} tbody tr", "rows => rows.map(r => [...r.cells].map(c => c.innerText.trim()))"
    )
    return rows


def yuan(fen: int) -> str:
    return f"¥{fen / 100:,.2f}"


def book_rows(levels: list[tuple[int, int]], orders: list[int]) -> list[list[str]]:
    return [
        [str(i + 1), yuan(p), f"{q:,} t", str(n)]
        for i, ((p, q), n) in enumerate(zip(levels, orders, strict=True))
    ]


def wait_updates(tab: Tab, above: int) -> None:
    """Wait until the floor repainted from the event stream more than ``above`` times."""
    tab.page.wait_for_function(f"Number(document.querySelector('#market-panel').dataset.updates) > {above}")


def updates(tab: Tab) -> int:
    return int(tab.page.get_attribute("#market-panel", "data-updates") or 0)


def wait_preview(tab: Tab) -> None:
    tab.page.wait_for_function("document.querySelector('#order-preview')?.dataset.value !== undefined")


def test_floor_numbers_equal_api_and_chain_when_enterprise_opens_it(
    floor: FloorWorld, open_tab: Callable[..., Tab]
) -> None:
    tab = open_tab()
    e2 = demo_account("enterprise-2")
    open_floor(tab, floor, "enterprise-2", "enterprise")
    page = tab.page
    api_book = floor.get(e2, f"/market/book/{CO2}", levels=5)
    chain_book = floor.market.book(CO2, 5)
    # the screen's levels are the API's, and the API's are the chain's
    assert [(x["price"], x["quantity"]) for x in api_book["bids"]] == list(chain_book.bids)
    assert [(x["price"], x["quantity"]) for x in api_book["asks"]] == list(chain_book.asks)
    assert cells(tab, "#market-bids") == book_rows(
        list(chain_book.bids), [x["orders"] for x in api_book["bids"]]
    )
    assert cells(tab, "#market-asks") == book_rows(
        list(chain_book.asks), [x["orders"] for x in api_book["asks"]]
    )
    [listing] = floor.get(e2, "/market/quotes", token_id=CO2, mode="listing", limit=1)["items"]
    listing_trades = [t for t in floor.day.trades if t.mode.name != "BLOCK"]
    assert listing["last"] == listing_trades[-1].price
    assert page.inner_text("#market-last .v") == yuan(listing["last"])
    # the T+1 sellable quantity per token id: the API's, which are the chain's views
    sellable = floor.get(e2, "/market/sellable")
    row = next(s for s in sellable if s["token_id"] == CO2)
    assert row["sellable"] == floor.market.sellable(e2.address, CO2)
    assert row["bought_today"] == floor.market.bought_today(e2.address, CO2)
    shown = {r[0]: r[1:] for r in cells(tab, "#my-sellable-table")}
    assert shown["CO2 2027"] == [
        f"{row['balance']:,} t",
        f"{row['bought_today']:,} t",
        f"{row['sellable']:,} t",
    ]
    # my open orders: the API's open orders of the account
    mine = floor.get(e2, "/market/orders", token_id=CO2, status="open")["items"]
    assert [r[0] for r in cells(tab, "#my-orders-table")] == [str(o["order_id"]) for o in mine]
    # both charts drew on a canvas
    assert page.locator("#market-intraday canvas").count() == 1
    assert page.locator("#market-candles canvas").count() == 1
    # the preview of the default entry (a buy at the reference price) is the API's
    wait_preview(tab)
    preview = floor.get(
        e2, "/market/preview", token_id=CO2, side="buy", price=floor.day.reference, quantity=100
    )
    assert page.inner_text("#preview-value") == yuan(preview["value"])
    assert page.inner_text("#preview-fee") == yuan(preview["fee"])
    screenshot(page, "market-floor")
    tab.assert_clean()


def test_fill_shows_on_sellers_screen_without_reload_when_buyer_takes_from_level(
    floor: FloorWorld, open_tab: Callable[..., Tab]
) -> None:
    seller_tab, buyer_tab = open_tab(), open_tab()
    best_ask_price, best_ask_quantity = floor.market.book(CO2, 1).asks[0]
    open_floor(seller_tab, floor, "enterprise-6", "enterprise")
    fills_before = len(seller_tab.page.locator("#my-fills-table tbody tr").all())
    seen = updates(seller_tab)
    open_floor(buyer_tab, floor, "enterprise-3", "enterprise")
    page = buyer_tab.page
    page.click("#market-asks tbody tr[data-level='1']")  # click-to-take the best ask
    page.wait_for_selector("#take-note:not([hidden])")
    order_id = int(page.get_attribute("#take-note", "data-order") or 0)
    assert floor.market.order(order_id).price == best_ask_price
    assert page.input_value("#order-side") == "buy"
    page.fill("#order-quantity", "100")
    page.wait_for_function(
        "document.querySelector('#preview-value')?.innerText === '" + yuan(best_ask_price * 100) + "'"
    )
    fee = int(page.get_attribute("#order-preview", "data-fee") or -1)
    assert fee == best_ask_price * 100 * 3 // 10_000  # 3 bps, domain.market.fee
    page.click("#order-take")
    page.wait_for_selector(".toast.ok")
    # the seller's screen shows the fill without reloading
    wait_updates(seller_tab, seen)
    seller_tab.page.wait_for_function(
        f"document.querySelectorAll('#my-fills-table tbody tr').length > {fills_before}"
    )
    first = cells(seller_tab, "#my-fills-table")[0]
    assert first[1:5] == ["Sell", "Take", yuan(best_ask_price), "100 t"]
    assert floor.market.book(CO2, 1).asks[0] == (best_ask_price, best_ask_quantity - 100)
    best = "document.querySelector('#market-asks tbody tr[data-level=\"1\"]').innerText"
    seller_tab.page.wait_for_function(f"{best}.includes('{best_ask_quantity - 100:,} t')")
    screenshot(seller_tab.page, "market-floor-fill-seen")
    seller_tab.assert_clean()
    buyer_tab.assert_clean()


def test_order_placed_then_cancelled_when_enterprise_signs_both(
    floor: FloorWorld, open_tab: Callable[..., Tab]
) -> None:
    tab = open_tab()
    e2 = demo_account("enterprise-2")
    open_floor(tab, floor, "enterprise-2", "enterprise")
    page = tab.page
    before = {o["order_id"] for o in floor.get(e2, "/market/orders", token_id=CO2, status="open")["items"]}
    page.select_option("#order-side", "buy")
    page.fill("#order-price", "97.50")
    page.fill("#order-quantity", "50")
    page.wait_for_function("document.querySelector('#preview-value')?.innerText === '¥4,875.00'")
    assert page.inner_text("#preview-escrow") == yuan(487_500 + 487_500 * 3 // 10_000)
    page.click("#order-place")
    page.wait_for_selector(".toast.ok")
    after = {o["order_id"]: o for o in floor.get(e2, "/market/orders", token_id=CO2, status="open")["items"]}
    [placed] = set(after) - before
    assert floor.market.order(placed).remaining == 50
    page.wait_for_selector(f"#my-orders-table tr[data-order='{placed}']")
    page.click(f"#cancel-{placed}")
    page.wait_for_function(f"!document.querySelector(\"#my-orders-table tr[data-order='{placed}']\")")
    assert placed not in {
        o["order_id"] for o in floor.get(e2, "/market/orders", token_id=CO2, status="open")["items"]
    }
    assert not floor.market.order(placed).open
    tab.assert_clean()


def test_refusal_named_before_signing_and_nothing_changes_when_price_outside_band(
    floor: FloorWorld, open_tab: Callable[..., Tab]
) -> None:
    tab = open_tab()
    open_floor(tab, floor, "enterprise-2", "enterprise")
    page = tab.page
    book = floor.market.book(CO2)
    page.fill("#order-price", "150.00")  # the band is ¥88.65 – ¥108.35
    page.wait_for_selector("#preview-refusal:not([hidden])")
    assert page.get_attribute("#preview-refusal", "data-error") == "MarketPriceOutsideBand"
    page.click("#order-place")
    page.wait_for_selector(".toast.bad")
    assert "MarketPriceOutsideBand" in page.inner_text(".toast.bad")
    assert floor.market.book(CO2) == book
    tab.errors[:] = [e for e in tab.errors if "422" not in e]  # the API's refusal, logged by chromium
    tab.assert_clean()


def test_block_proposed_by_seller_accepted_from_buyers_inbox(
    floor: FloorWorld, open_tab: Callable[..., Tab]
) -> None:
    seller_tab, buyer_tab = open_tab(), open_tab()
    e3 = demo_account("enterprise-3")
    open_floor(seller_tab, floor, "enterprise-1", "enterprise")
    open_floor(buyer_tab, floor, "enterprise-3", "enterprise")
    seen = updates(buyer_tab)
    bought_before = floor.market.bought_today(e3.address, CO2)
    page = seller_tab.page
    page.fill("#block-buyer", e3.address)
    page.fill("#block-price", "97.00")
    page.fill("#block-quantity", "100000")
    page.click("#block-propose")
    page.wait_for_selector(".toast.ok")
    [pending] = floor.get(e3, "/market/blocks", role="buyer", status="pending", token_id=CO2)["items"]
    page.wait_for_selector(f"#block-proposals-table tr[data-block='{pending['block_id']}']")
    # the buyer's inbox shows it without reloading; accept there
    wait_updates(buyer_tab, seen)
    buyer_tab.page.wait_for_selector(f"#block-inbox-table tr[data-block='{pending['block_id']}']")
    screenshot(buyer_tab.page, "market-floor-block-inbox")
    buyer_tab.page.click(f"#accept-{pending['block_id']}")
    buyer_tab.page.wait_for_selector(".toast.ok")
    assert floor.market.bought_today(e3.address, CO2) == bought_before + 100_000
    buyer_tab.page.wait_for_function(
        "[...document.querySelectorAll('#my-sellable-table tbody tr')].some(r => r.innerText.includes('"
        + f"{bought_before + 100_000:,} t"
        + "'))"
    )
    row = next(s for s in floor.get(e3, "/market/sellable") if s["token_id"] == CO2)
    assert row["sellable"] == floor.market.sellable(e3.address, CO2) == row["balance"] - row["bought_today"]
    seller_tab.assert_clean()
    buyer_tab.assert_clean()


def test_exchange_halts_and_resumes_token_with_reason_when_switch_used(
    floor: FloorWorld, open_tab: Callable[..., Tab]
) -> None:
    tab, trader = open_tab(), open_tab()
    sign_in(tab, floor.base, demo_account("exchange"), "exchange")
    page = tab.page
    rules = floor.get(demo_account("exchange"), f"/market/rulebooks/{CO2}")
    page.wait_for_selector("#rulebooks")
    [row] = cells(tab, "#rulebooks")
    assert row[0] == "CO2 2027" and row[1] == yuan(rules["reference_price"])
    assert row[4] == f"{rules['block_minimum']:,} t" and row[5] == f"{rules['fee_bps']} bps"
    open_floor(trader, floor, "enterprise-2", "enterprise")
    seen = updates(trader)
    page.fill(f"#halt-reason-{CO2}", "abnormal trading under review")
    page.click(f"#halt-{CO2}")
    page.wait_for_selector(f"#resume-{CO2}")
    assert floor.market.is_halted(CO2)
    # the trader's floor shows the halt and its reason without reloading
    wait_updates(trader, seen)
    trader.page.wait_for_selector("#market-halted")
    assert "abnormal trading under review" in trader.page.inner_text("#market-halted")
    # while halted the preview names the contract's refusal before anything is signed
    trader.page.wait_for_selector("#preview-refusal[data-error='MarketHalted']")
    screenshot(page, "exchange-market-ops")
    page.click(f"#resume-{CO2}")
    page.wait_for_selector(f"#halt-{CO2}")
    assert not floor.market.is_halted(CO2)
    # the whole market (token id 0): halted with a reason, shown on the trader's floor, resumed
    seen = updates(trader)
    page.fill("#halt-reason-all", "settlement system maintenance")
    page.click("#halt-all")
    page.wait_for_selector("#resume-all")
    assert floor.market.is_halted(0) and floor.market.is_halted(CO2)
    state = floor.get(demo_account("exchange"), "/market/state")
    assert state["halted"] and state["halt_reason"] == "settlement system maintenance"
    assert page.get_attribute("#market-wide", "data-halted") == "true"
    assert page.locator(f"#halt-{CO2}").count() == 1  # CO2 itself is not halted: its switch offers Halt
    co2_row = f"#rulebooks tr[data-token='{CO2}']"
    assert (
        page.get_attribute(co2_row, "data-halted") == "true"
        and page.get_attribute(co2_row, "data-halted-self") == "false"
    )
    wait_updates(trader, seen)
    trader.page.wait_for_selector("#market-halted")
    assert "settlement system maintenance" in trader.page.inner_text("#market-halted")
    # CO2 halted on its own with the very same reason while the market is: its switch offers Resume
    # (the rulebook names its own halt apart from the market's, not by comparing reasons)
    page.fill(f"#halt-reason-{CO2}", "settlement system maintenance")
    page.click(f"#halt-{CO2}")
    page.wait_for_selector(f"#resume-{CO2}")
    rules = floor.get(demo_account("exchange"), f"/market/rulebooks/{CO2}")
    assert (rules["halted_self"], rules["halt_reason_self"], rules["market_halted"]) == (
        True, "settlement system maintenance", True,
    )  # fmt: skip
    assert (
        page.get_attribute(co2_row, "data-halted-self") == "true"
        and page.get_attribute(co2_row, "data-market-halted") == "true"
    )
    page.click(f"#resume-{CO2}")
    page.wait_for_selector(f"#halt-{CO2}")
    assert (
        floor.market.is_halted(0)
        and floor.get(demo_account("exchange"), f"/market/rulebooks/{CO2}")["halted_self"] is False
    )
    page.click("#resume-all")
    page.wait_for_selector("#halt-all")
    assert not floor.market.is_halted(0) and not floor.market.is_halted(CO2)
    tab.assert_clean()
    trader.assert_clean()


def test_floor_labels_in_chinese_when_language_switched(
    floor: FloorWorld, open_tab: Callable[..., Tab]
) -> None:
    tab = open_tab()
    open_floor(tab, floor, "enterprise-2", "enterprise")
    page = tab.page
    page.select_option("#lang", "zh")
    page.wait_for_function("document.querySelector('[data-view=\"market\"] h1')?.innerText === '交易所市场'")
    page.wait_for_selector('[data-view="market"][data-ready="1"]')
    view = page.inner_text("#view")
    for label in (
        "委托下单",
        "签名前确认",
        "我的未成交委托",
        "我的成交",
        "待我确认的申报",
        "各品种可卖数量",
        "日K线（挂牌行情）",
    ):
        assert label in view, label
    screenshot(page, "market-floor-zh")
    tab.assert_clean()


def test_level_lists_orders_of_others_and_intraday_buckets_trades_when_asked_over_http(
    floor: FloorWorld,
) -> None:
    e2, e6 = demo_account("enterprise-2"), demo_account("enterprise-6")
    price, _ = floor.market.book(CO2, 1).asks[0]
    level = floor.get(e2, f"/dashboard/api/market/{CO2}/level", side="sell", price=price)
    assert level["orders"] and all(
        floor.market.order(o["order_id"]).owner == e6.address for o in level["orders"]
    )
    assert [o["remaining"] for o in level["orders"]] == [floor.market.order(o["order_id"]).remaining
                                                         for o in level["orders"]]  # fmt: skip
    assert (
        floor.get(e6, f"/dashboard/api/market/{CO2}/level", side="sell", price=price)["orders"] == []
    )  # its own
    intraday = floor.get(e2, f"/dashboard/api/market/{CO2}/intraday")
    listing = [t for t in floor.market.trades(CO2) if t.mode.name != "BLOCK"]
    assert intraday["day"] == floor.day.day.isoformat()
    assert sum(x["volume"] for x in intraday["minutes"]) == sum(t.quantity for t in listing)
    assert sum(x["trades"] for x in intraday["minutes"]) == len(listing)
    assert intraday["minutes"][-1]["close"] == listing[-1].price
    unlisted = f"{floor.base}/dashboard/api/market/{CO2 + 1}/level"
    response = httpx.get(unlisted, params={"side": "buy", "price": 1}, headers=floor.headers(e2))
    assert response.status_code == 404


def test_regulator_sees_large_holders_and_alerts_with_trades_when_day_settled_and_scanned(
    floor: FloorWorld, open_tab: Callable[..., Tab]
) -> None:
    """Last of the module: it moves the chain past the close to settle the day."""
    c = floor.c
    day = CALENDAR.trading_day_of(c.chain.timestamp())
    to_time(c, CALENDAR.close_at(day) + 60)
    floor.wait_indexed()
    contracts = {name: record.address for name, record in c.manifest.contracts.items()}
    system = SystemAccounts(contracts["SealedBidAuction"], contracts["ComplianceManager"])
    settled = run_day(floor.engine, CALENDAR, day, floor.reports, system=system, now=c.chain.timestamp())
    assert settled.balanced, settled.reconciliation.differences
    # the exchange's account records: the block trade's two sides share a controller (a wash trade)
    e1, e3 = demo_account("enterprise-1").address, demo_account("enterprise-3").address
    records = (
        f"account,group,controller\n{e1},Zhejiang Energy Group,Ms Wang\n{e3},Zhejiang Energy Group,Ms Wang\n"
    )
    import_records(floor.engine, records, now=c.chain.timestamp())
    MarketSurveillance(floor.engine, None).run(day)
    regulator = demo_account("regulator")
    holders = floor.get(regulator, f"/market/large-holders/{day.isoformat()}")
    alerts = floor.get(regulator, "/market/alerts", limit=100)["items"]
    assert holders["rows"] and alerts
    tab = open_tab()
    page = sign_in(tab, floor.base, regulator, "regulator")
    page.wait_for_selector("#large-holders-table")
    shown = cells(tab, "#large-holders-table")
    assert [r[2:] for r in shown] == [
        [f"{h['balance']:,} t", f"{h['issued']:,} t", f"{h['share_bps'] / 100:.2f}%"] for h in holders["rows"]
    ]
    assert [
        r["data-alert"]
        for r in page.eval_on_selector_all(
            "#alerts tbody tr", "rows => rows.map(r => ({'data-alert': r.dataset.alert}))"
        )
    ] == [str(a["id"]) for a in alerts]
    first = alerts[0]
    page.click(f"[data-alert-trades='{first['id']}']")
    page.wait_for_selector(f"#alert-trades-{first['id']}")
    assert sorted(int(r[0]) for r in cells(tab, f"#alert-trades-{first['id']}")) == sorted(first["trade_ids"])
    screenshot(page, "regulator-market")
    tab.assert_clean()
