"""The dashboard's Market view in chromium over the demo's trading day (``demo.market``): the best
five levels of each side (anonymous), the last price and its change against the reference, the
day's bands, the recent trades and the day's quotes per mode, in English and in Chinese."""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import uvicorn

from api.config import ApiSettings
from api.context import AppContext
from api.dashboard import missing_vendor_files
from api.main import create_app
from chain.accounts import demo_account
from demo.market import MarketDayReport, demo_trading_day
from readmodel.indexer.run import Indexer
from readmodel.migrate import upgrade
from readmodel.session import make_engine
from tests.conftest import Consortium
from tests.dashboard.conftest import REQUEST_LIMIT, ROOT, SIGN_IN_LIMIT, Tab, free_port, screenshot, sign_in
from tests.utils.demo_market import register_demo_enterprises


@dataclass
class MarketWorld:
    """The API and dashboard on a loopback port over the demo's trading day."""

    c: Consortium
    day: MarketDayReport
    base: str


@pytest.fixture(scope="module")
def market_world(consortium: Consortium, tmp_path_factory: pytest.TempPathFactory) -> Iterator[MarketWorld]:
    """The demo's trading day on the consortium, indexed and served (rolled back afterwards)."""
    if missing_vendor_files():
        subprocess.run([str(ROOT / "scripts" / "build-dashboard")], check=True)
    snapshot = consortium.snapshot()
    url = f"sqlite:///{Path(tmp_path_factory.mktemp('market-dash')) / 'read.db'}"
    engine = make_engine(url)
    try:
        upgrade(engine)
        register_demo_enterprises(consortium)
        day = demo_trading_day(consortium.chain, consortium.manifest, consortium.registry, consortium.members)
        Indexer(consortium.chain, consortium.manifest, engine).catch_up()
        port = free_port()
        settings = ApiSettings(database_url=url, api_host="127.0.0.1", api_port=port,
                               api_role_cache_seconds=0, indexer_poll_seconds=0.1,
                               api_rate_limit_sign_in=SIGN_IN_LIMIT, api_rate_limit_client=REQUEST_LIMIT,
                               api_rate_limit_principal=REQUEST_LIMIT)  # fmt: skip
        app = create_app(AppContext(settings, consortium.chain, consortium.manifest, engine), migrate=False)
        app.state.dashboard_demo = True  # as with ETS_DEMO=1: the page signs with the demo keys
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                               access_log=False))  # fmt: skip
        thread = threading.Thread(target=server.run, name="market-dashboard", daemon=True)
        thread.start()
        deadline = time.monotonic() + 30
        while not server.started:
            assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
            time.sleep(0.05)
        try:
            yield MarketWorld(consortium, day, f"http://127.0.0.1:{port}")
        finally:
            server.should_exit = True
            thread.join(timeout=15)
    finally:
        engine.dispose()
        consortium.revert(snapshot)


def _open_market(tab: Tab, world: MarketWorld, account_name: str, home: str) -> None:
    page = sign_in(tab, world.base, demo_account(account_name), home)
    page.click('[data-nav="market"]')
    page.wait_for_selector('[data-view="market"][data-ready="1"]')


def _cells(tab: Tab, selector: str) -> list[list[str]]:
    rows: list[list[str]] = tab.page.eval_on_selector_all(
        f"{selector} tbody tr", "rows => rows.map(r => [...r.cells].map(c => c.innerText.trim()))"
    )
    return rows


def test_market_view_shows_levels_last_change_bands_trades_quotes_when_enterprise_opens_it(
    market_world: MarketWorld, open_tab: Callable[..., Tab]
) -> None:
    tab = open_tab()
    _open_market(tab, market_world, "enterprise-2", "enterprise")
    page = tab.page
    assert page.input_value("#market-token") == str(market_world.day.token_id)
    assert _cells(tab, "#market-bids") == [
        ["1", "¥98.20", "1,000 t", "1"], ["2", "¥98.00", "300 t", "1"], ["3", "¥97.80", "600 t", "1"],
    ]  # fmt: skip
    assert _cells(tab, "#market-asks") == [
        ["1", "¥100.00", "600 t", "1"], ["2", "¥100.50", "600 t", "1"], ["3", "¥101.00", "400 t", "1"],
        ["4", "¥101.50", "300 t", "1"],
    ]  # fmt: skip
    assert page.inner_text("#market-last .v") == "¥100.00"  # the 14:05 fill, the day's last listing trade
    assert page.inner_text("#market-change .v") == "+1.52%"  # against the reference ¥98.50
    assert page.inner_text("#market-close .v") == "¥98.93"  # VWAP of the listing trades
    assert page.inner_text("#market-reference .v") == "¥98.50"
    assert page.inner_text("#market-band .v") == "¥88.65 – ¥108.35"
    assert page.inner_text("#market-block-band .v") == "¥68.95 – ¥128.05"
    trades = _cells(tab, "#market-trades")
    assert len(trades) == len(market_world.day.trades) == 12
    assert trades[0][1:] == ["Continuous", "¥100.00", "200 t", "¥20,000.00"]  # newest first
    assert [r[1] for r in trades].count("Block trade") == 1 and trades[-1][1] == "Opening call"
    quotes = {r[0]: r[1:] for r in _cells(tab, "#market-quotes")}
    assert list(quotes) == ["Listing (official)", "Opening call", "Continuous", "Take", "Block trade"]
    assert quotes["Listing (official)"] == ["¥98.80", "¥100.00", "¥98.00", "¥98.93", "8,300 t", "¥821,160.00",
                                            "11", quotes["Listing (official)"][-1]]  # fmt: skip
    assert quotes["Block trade"][3:5] == ["¥97.00", "120,000 t"]
    view = page.inner_text("#view")
    addresses = [demo_account(f"enterprise-{n}").address for n in range(1, 7)]
    assert not any(a in view or a.lower() in view for a in addresses)  # the book and tape are anonymous
    screenshot(page, "market")
    tab.assert_clean()


def test_market_view_labels_in_chinese_and_fits_phone_when_language_switched(
    market_world: MarketWorld, open_tab: Callable[..., Tab]
) -> None:
    tab = open_tab(width=390, height=844)
    _open_market(tab, market_world, "regulator", "regulator")
    page = tab.page
    page.select_option("#lang", "zh")
    page.wait_for_function("document.querySelector('[data-view=\"market\"] h1')?.innerText === '交易所市场'")
    page.wait_for_selector('[data-view="market"][data-ready="1"]')
    view = page.inner_text("#view")
    for label in (
        "五档行情",
        "买盘",
        "卖盘",
        "最新价",
        "较基准价涨跌",
        "最近成交",
        "大宗协议",
        "开盘集合竞价",
    ):
        assert label in view, label
    assert page.inner_text('[data-nav="market"]') == "交易市场"
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # wide tables scroll inside
    screenshot(page, "market-phone-zh")
    tab.assert_clean()
