"""Benchmark: a fill shown on another browser's trading floor, in headless chromium.

The demo's trading day (``demo.market``) runs on a local Anvil and the API serves it with its
embedded indexer (as ``ets api`` does). Two browser contexts open the dashboard's trading floor:
the seller (demo enterprise-6, whose 600 t offer at CNY 100.00 rests at the best ask) and a buyer
(demo enterprise-3). Each round the buyer places a 10 t buy order at the best ask in its page
(built by POST /tx/market, signed in the page, relayed); the time runs from the relay request
leaving the buyer's page (the order is mined during it) until the seller's page shows the new
fill at the top of "My fills", repainted from the market's event stream (GET /market/stream)
without reloading. ``screen_update_ms`` is the median over the rounds (target < 1,000 ms).

Run: python bench/market_screen.py [--rounds 12]   (last line: one JSON object)
Chromium: ETS_TEST_CHROMIUM, else scripts/chromium (installs Debian's package when missing).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

# `python bench/market_screen.py` puts bench/ first on the path, where bench/api.py would shadow `api`
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import uvicorn  # noqa: E402
from playwright.sync_api import ConsoleMessage, Page, Request, sync_playwright  # noqa: E402
from rich.console import Console  # noqa: E402

from api.config import ApiSettings  # noqa: E402
from api.context import AppContext  # noqa: E402
from api.dashboard import missing_vendor_files  # noqa: E402
from api.main import create_app  # noqa: E402
from chain.accounts import demo_account  # noqa: E402
from chain.compile import compile_contracts  # noqa: E402
from chain.node import AnvilNode  # noqa: E402
from chain.suite import deploy_local_suite  # noqa: E402
from chain.tx import ChainClient  # noqa: E402
from demo.market import CO2, demo_trading_day, market_client  # noqa: E402
from demo.run import DEMO_ENTERPRISES, demo_profile  # noqa: E402
from readmodel.indexer.run import Indexer  # noqa: E402
from readmodel.migrate import upgrade  # noqa: E402
from readmodel.session import make_engine  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
console = Console(stderr=True)
SELLER, BUYER = "enterprise-6", "enterprise-3"
#: Tonnes bought per round (the seller's resting 600 t offer covers 60 rounds).
ROUND_TONNES = 10
SCREENSHOT = ROOT / "build" / "screenshots" / "market-screen-update.png"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
#: The page records when the first row of "My fills" changes (ms since the epoch, per trade id).
WATCH_FILLS = """() => {
  window.__fillSeen = {};
  const note = () => {
    const row = document.querySelector('#my-fills-table tbody tr');
    if (row && !(row.dataset.trade in window.__fillSeen)) window.__fillSeen[row.dataset.trade] = Date.now();
  };
  note();
  const panel = document.querySelector('#market-panel');
  new MutationObserver(note).observe(panel, { childList: true, subtree: true });
}"""


def chromium() -> str:
    return (
        os.environ.get("ETS_TEST_CHROMIUM")
        or subprocess.run(
            [str(ROOT / "scripts/chromium")], check=True, capture_output=True, text=True
        ).stdout.strip()
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def collect_errors(page: Page) -> list[str]:
    errors: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return errors


def open_floor(page: Page, base: str, name: str) -> None:
    """Sign in with the demo account ``name`` and open the trading floor."""
    page.goto(f"{base}/dashboard/")
    page.wait_for_selector("#demo-banner", state="visible")
    page.select_option("#demo-account", value=demo_account(name).address)
    page.click("#sign-in")
    page.wait_for_selector('[data-view="enterprise"][data-ready="1"]', timeout=60_000)
    page.click('[data-nav="market"]')
    page.wait_for_selector("#market-panel[data-live='1']", timeout=60_000)


def measure(rounds: int = 12) -> dict[str, Any]:
    """Run the rounds; returns ``screen_update_ms`` (median) and the rounds' times."""
    if missing_vendor_files():
        subprocess.run([str(ROOT / "scripts/build-dashboard")], check=True)
    figures: dict[str, Any] = {"screen_rounds": rounds}
    with tempfile.TemporaryDirectory() as tmp, AnvilNode() as node:
        console.log("deploying the suite on a local Anvil and trading the demo's day")
        chain = ChainClient.connect(node.url, compile_contracts())
        suite = deploy_local_suite(chain, Path(tmp) / "deployment.json")
        calls = [
            suite.registry.encode_register_enterprise(
                demo_account(f"enterprise-{i + 1}").address, demo_profile(i)
            )
            for i in range(len(DEMO_ENTERPRISES))
        ]
        suite.registry.govern(
            suite.members, suite.registry.encode_multicall(calls), "bench: demo enterprises"
        )
        demo_trading_day(suite.chain, suite.manifest, suite.registry, suite.members)
        market = market_client(suite.chain, suite.manifest)
        url = f"sqlite:///{tmp}/read.db"
        engine = make_engine(url)
        upgrade(engine)
        Indexer(suite.chain, suite.manifest, engine).catch_up()
        port = free_port()
        limit = "100000/minute"
        settings = ApiSettings(
            database_url=url, api_host="127.0.0.1", api_port=port, api_rate_limit_client=limit,
            api_rate_limit_principal=limit, api_rate_limit_sign_in="1000/minute",
        )  # fmt: skip
        app = create_app(
            AppContext(settings, suite.chain, suite.manifest, engine), migrate=False, indexer=True
        )
        app.state.dashboard_demo = True  # the pages sign with the demo keys
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                               access_log=False))  # fmt: skip
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.05)
        base = f"http://127.0.0.1:{port}"
        times: list[float] = []
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=chromium(), args=CHROMIUM_ARGS)
                seller = browser.new_context(viewport={"width": 1366, "height": 860}).new_page()
                buyer = browser.new_context(viewport={"width": 1366, "height": 860}).new_page()
                errors = collect_errors(seller) + collect_errors(buyer)
                open_floor(seller, base, SELLER)
                open_floor(buyer, base, BUYER)
                seller.evaluate(WATCH_FILLS)
                sent: list[float] = []

                def on_request(request: Request) -> None:
                    if request.url.endswith("/tx/relay"):
                        sent.append(time.time() * 1000)

                buyer.on("request", on_request)
                for n in range(rounds):
                    price, _ = market.book(CO2, 1).asks[0]
                    buyer.select_option("#order-side", "buy")
                    buyer.fill("#order-price", f"{price / 100:.2f}")
                    buyer.fill("#order-quantity", str(ROUND_TONNES))
                    before = len(market.trades(CO2))
                    count = len(sent)
                    buyer.click("#order-place")
                    buyer.wait_for_function("document.querySelector('#order-place').disabled === false")
                    trades = market.trades(CO2)
                    if len(trades) != before + 1 or len(sent) != count + 1:
                        raise RuntimeError(
                            f"round {n}: the buy did not fill once ({len(trades) - before} fills)"
                        )
                    trade_id = trades[-1].block_number << 20 | trades[-1].log_index
                    seller.wait_for_function(f"window.__fillSeen['{trade_id}'] !== undefined", timeout=30_000)
                    seen = float(seller.evaluate(f"window.__fillSeen['{trade_id}']"))
                    times.append(seen - sent[-1])
                    console.log(f"round {n + 1}: fill seen {times[-1]:.0f} ms after the order was sent")
                SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
                seller.screenshot(path=str(SCREENSHOT), full_page=True)
                if errors:
                    raise RuntimeError(f"console errors on the trading floor: {errors}")
                browser.close()
        finally:
            server.should_exit = True
            thread.join(timeout=15)
            engine.dispose()
    figures["screen_update_ms_runs"] = [round(x) for x in times]
    figures["screen_update_ms"] = round(statistics.median(times))
    return figures


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=12, help="orders placed and fills timed (at least 10)")
    options = parser.parse_args()
    print(json.dumps(measure(max(10, options.rounds))))
