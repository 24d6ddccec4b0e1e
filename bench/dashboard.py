"""Benchmark: the web dashboard's regulator overview with 2,162 enterprises, in headless chromium.

A read model is filled through the indexer's projector with synthetic events of 2,162 enterprises
(the sample generator's profiles and locations) over ten years: CO2 caps per vintage, yearly
allocations, anchored emission batches and this year's compliance notices, so the overview's map
holds enterprises within, near and over quota and the trend has ten points. The API with the
dashboard runs under uvicorn on a loopback port over that read model (and a local Anvil for
sign-in and roles). Debian's chromium (headless) opens the regulator overview with a regulator's
session, cold (a fresh browser context each time), and the time from navigation start to the
page's ``overview-ready`` mark is taken: the mark is set once ECharts has reported ``finished``
for the map, the trend chart and the supply chart. Median of the runs.

The trading view (``#/market``, an enterprise's trading floor) over a synthetic market day of
20,000 orders (continuous matching, price-time, with the fills it gives; 60 earlier days of
trades for the daily candles), the token listed on the chain too (the order preview and the T+1
sellable quantities read it): ``trading_view_ready_ms`` from navigation start to the view's
``market-ready`` mark (book, figures, both charts drawn, the account's orders, fills, blocks and
sellable quantities shown). Median of the runs.

Also: bytes of the front-end assets shipped (everything under api/dashboard/static/ after
scripts/build-dashboard), gzip-compressed too, and the bytes the overview page transferred.

Run: python bench/dashboard.py [--runs 5]   (last line: one JSON object)
Chromium: ETS_TEST_CHROMIUM, else scripts/chromium (installs Debian's package when missing).
"""

from __future__ import annotations

import argparse
import calendar
import gzip
import json
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

# `python bench/dashboard.py` puts bench/ first on the path, where bench/api.py would shadow `api`
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

import httpx  # noqa: E402
import uvicorn  # noqa: E402
from playwright.sync_api import ConsoleMessage, Page, sync_playwright  # noqa: E402
from rich.console import Console  # noqa: E402

from api.config import ApiSettings  # noqa: E402
from api.context import AppContext  # noqa: E402
from api.dashboard import STATIC_DIR, missing_vendor_files  # noqa: E402
from api.main import create_app  # noqa: E402
from chain.accounts import demo_account  # noqa: E402
from chain.anchoring import BatchTotal, pack_totals  # noqa: E402
from chain.compile import compile_contracts  # noqa: E402
from chain.events import ZERO_ADDRESS, DecodedEvent  # noqa: E402
from chain.node import AnvilNode  # noqa: E402
from chain.siwe import wallet_sign_in  # noqa: E402
from chain.suite import deploy_local_suite  # noqa: E402
from chain.tx import ChainClient  # noqa: E402
from demo.run import demo_profile  # noqa: E402
from domain.market import Rulebook, cst_time, fee, trading_day  # noqa: E402
from domain.tokens import Kind, encode_id  # noqa: E402
from readmodel.indexer.project import Projector  # noqa: E402
from readmodel.migrate import upgrade  # noqa: E402
from readmodel.session import make_engine  # noqa: E402
from sim.sample import generate_enterprises, sample_account  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
console = Console(stderr=True)
ENTERPRISES = 2_162
#: The overview as the last run drew it.
SCREENSHOT = ROOT / "build" / "screenshots" / "regulator-2162-enterprises.png"
FIRST_YEAR, YEARS = 2017, 10
CO2 = 1
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


def year_start(year: int) -> int:
    """Unix time of 1 March of ``year``, 08:00 Beijing time (well inside the year in UTC+8)."""
    return calendar.timegm((year, 3, 1, 0, 0, 0))


class Synthetic:
    """Deterministic events: caps, allocations, emissions and notices of 2,162 enterprises."""

    def __init__(self, enterprises: int = ENTERPRISES, seed: int = 17) -> None:
        self.rng = random.Random(seed)
        self.sample = generate_enterprises(enterprises, years=3, seed=seed).enterprises
        self.accounts = [sample_account(e.credit_code).address for e in self.sample]
        self.block = 1
        self.log = 0

    def event(
        self, t: int, contract: str, name: str, args: dict[str, Any], parties: tuple[str, ...]
    ) -> DecodedEvent:
        self.log += 1
        if self.log > 300:
            self.block, self.log = self.block + 1, 0
        tx = "0x" + f"{self.block:016x}{self.log:08x}".rjust(64, "0")
        return DecodedEvent(self.block, self.log, tx, t, contract, "0x" + "00" * 20, name, args, parties)

    def registrations(self) -> list[DecodedEvent]:
        t = year_start(FIRST_YEAR) - 86_400
        return [
            self.event(t, "ConsortiumRegistry", "EnterpriseRegistered", {
                "account": a, "creditCode": e.credit_code, "name": e.name, "regionCode": e.region_code,
                "industryCode": e.industry_code, "latitude": int(e.latitude * 1e6),
                "longitude": int(e.longitude * 1e6),
            }, (a,))
            for a, e in zip(self.accounts, self.sample, strict=True)
        ]  # fmt: skip

    def years(self) -> list[list[DecodedEvent]]:
        """One page of events per year: the cap, allocations, anchored totals; notices in the last year."""
        base = [self.rng.uniform(2_000, 60_000) for _ in self.accounts]
        drift = [self.rng.uniform(-0.04, 0.03) for _ in self.accounts]
        pages = []
        for k in range(YEARS):
            year = FIRST_YEAR + k
            t = year_start(year)
            token = encode_id(Kind.ALLOWANCE, "CO2", year)
            emitted = [b * (1 + d) ** k for b, d in zip(base, drift, strict=True)]
            quota = [round(e * self.rng.uniform(0.9, 1.3)) for e in emitted]
            page = [
                self.event(
                    t,
                    "AllowanceToken",
                    "CapSet",
                    {"id": token, "oldCap": 0, "newCap": round(sum(quota) * 1.05)},
                    (),
                )
            ]
            for a, q in zip(self.accounts, quota, strict=True):
                args = {"operator": ZERO_ADDRESS, "from": ZERO_ADDRESS, "to": a, "id": token, "value": q}
                page.append(self.event(t, "AllowanceToken", "TransferSingle", args, (a,)))
            for i, (a, e) in enumerate(zip(self.accounts, emitted, strict=True)):
                end = t + 200 * 86_400
                page.append(self.event(end, "EmissionsLedger", "BatchAnchored", {
                    "batchId": "0x" + f"{year:08x}{i:056x}", "device": a, "enterprise": a,
                    "firstSequence": k * 10, "lastSequence": k * 10 + 9, "previousSequence": k * 10 - 1,
                    "periodStart": t, "periodEnd": end,
                    "count": 10, "root": "0x" + f"{year:08x}{i + 1:056x}",
                    "totals": "0x" + pack_totals([BatchTotal("a05001", "t", round(e * 100), 2)]).hex(),
                }, (a,)))  # fmt: skip
            if k == YEARS - 1:
                for a, q in zip(self.accounts, quota, strict=True):
                    page.append(self.event(t + 86_400, "ComplianceManager", "NoticeIssued", {
                        "enterprise": a, "year": year, "pollutant": CO2, "allocated": q,
                        "rulesHash": "0x" + "11" * 32,
                        "rulesUri": "ipfs://rules", "submissionDeadline": t + 400 * 86_400,
                        "ackDeadline": t + 30 * 86_400,
                    }, (a,)))  # fmt: skip
            pages.append(page)
        return pages


def fill(url: str) -> int:
    """Fill the read model at ``url``; returns the number of events."""
    engine = make_engine(url)
    upgrade(engine)
    synthetic = Synthetic()
    projector = Projector()
    count = 0
    with engine.begin() as conn:
        registrations = synthetic.registrations()
        projector.apply(conn, registrations)
        count += len(registrations)
    for page in synthetic.years():
        with engine.begin() as conn:
            projector.apply(conn, page)
        count += len(page)
    engine.dispose()
    return count


#: The synthetic market day: orders of the day, earlier days of trades (candles), the token id.
MARKET_ORDERS, MARKET_HISTORY_DAYS = 20_000, 60
MARKET_TOKEN = encode_id(Kind.ALLOWANCE, "CO2", FIRST_YEAR + YEARS - 1)
MARKET_RULES = Rulebook(reference_price=9_850, fee_bps=3)
#: The enterprise whose trading floor is timed (registered on the chain; one of the day's traders).
TRADER = demo_account("enterprise-1")
TRADING_SCREENSHOT = ROOT / "build" / "screenshots" / "market-20000-orders.png"


class SyntheticMarket:
    """A market day of :data:`MARKET_ORDERS` orders matched price-time (continuous trading), as
    Market events, after :data:`MARKET_HISTORY_DAYS` days with a few trades each."""

    def __init__(self, synthetic: Synthetic, seed: int = 29) -> None:
        self.s = synthetic
        self.rng = random.Random(seed)
        self.next_id = 1
        # the day: the last weekday of June of the newest vintage
        self.day, _ = trading_day(calendar.timegm((FIRST_YEAR + YEARS - 1, 6, 30, 4, 0, 0)))

    def _order(self, t: int, owner: str, side: int, price: int, quantity: int) -> tuple[int, DecodedEvent]:
        order_id, self.next_id = self.next_id, self.next_id + 1
        args = {"orderId": order_id, "tokenId": MARKET_TOKEN, "owner": owner, "side": side, "price": price,
                "quantity": quantity, "callPhase": False}  # fmt: skip
        return order_id, self.s.event(t, "Market", "OrderPlaced", args, (owner,))

    def _trade(
        self, t: int, buy: tuple[int, str], sell: tuple[int, str], price: int, quantity: int
    ) -> DecodedEvent:
        charged = fee(price * quantity, MARKET_RULES.fee_bps)
        args = {
            "tokenId": MARKET_TOKEN,
            "buyId": buy[0],
            "sellId": sell[0],
            "buyer": buy[1],
            "seller": sell[1],
            "price": price,
            "quantity": quantity,
            "buyerFee": charged,
            "sellerFee": charged,
            "mode": 1,
        }
        return self.s.event(t, "Market", "TradeExecuted", args, (buy[1], sell[1]))

    def pages(self) -> list[list[DecodedEvent]]:
        rules = MARKET_RULES
        listed = cst_time(self.day - 100, 9 * 3600)
        rule_args = {
            "tokenId": MARKET_TOKEN,
            "rules": {
                "referencePrice": rules.reference_price,
                "bandBps": rules.band_bps,
                "blockBandBps": rules.block_band_bps,
                "feeBps": rules.fee_bps,
                "blockMinimum": rules.block_minimum,
                "callStart": rules.call_start,
                "open1": rules.open1,
                "close1": rules.close1,
                "open2": rules.open2,
                "close2": rules.close2,
                "blockFrom": rules.block_from,
                "positionLimit": rules.position_limit,
                "positionLimitBps": rules.position_limit_bps,
                "governed": rules.governed,
            },
        }
        pages = [[self.s.event(listed, "Market", "RulebookSet", rule_args, ())]]
        accounts = [*self.s.accounts[:500], TRADER.address]
        price = rules.reference_price
        history: list[DecodedEvent] = []
        day = self.day - MARKET_HISTORY_DAYS * 7 // 5
        while day < self.day:
            if (day + 3) % 7 < 5:  # a weekday (1970-01-01 was a Thursday)
                for k in range(20):
                    price = max(1, price + self.rng.randint(-15, 15))
                    t = cst_time(day, rules.open1 + k * 600)
                    seller, buyer = self.rng.sample(accounts, 2)
                    quantity = self.rng.randint(10, 400)
                    sell_id, placed = self._order(t, seller, 1, price, quantity)
                    buy_id, taker = self._order(t, buyer, 0, price, quantity)
                    history += [
                        placed,
                        taker,
                        self._trade(t, (buy_id, buyer), (sell_id, seller), price, quantity),
                    ]
            day += 1
        pages.append(history)
        # the day: orders around the reference, matched against the resting opposite side
        lower, upper = rules.band
        bids: list[list[int | str]] = []  # [price, id, owner, remaining], best first
        asks: list[list[int | str]] = []
        session = (rules.close2 - rules.open1) - (rules.open2 - rules.close1)
        events: list[DecodedEvent] = []
        for n in range(MARKET_ORDERS):
            offset = n * session // MARKET_ORDERS
            at = (
                rules.open1 + offset
                if rules.open1 + offset < rules.close1
                else rules.open2 + offset - (rules.close1 - rules.open1)
            )
            t = cst_time(self.day, at)
            owner = TRADER.address if n % 40 == 0 else self.rng.choice(accounts[:-1])
            side = self.rng.randint(0, 1)
            price = min(
                upper, max(lower, round(rules.reference_price * (1 + self.rng.gauss(0, 0.006))) // 5 * 5)
            )
            quantity = self.rng.randint(10, 500)
            order_id, placed = self._order(t, owner, side, price, quantity)
            events.append(placed)
            book, opposite = (bids, asks) if side == 0 else (asks, bids)
            while quantity and opposite:
                best = opposite[0]
                if (
                    (side == 0 and int(best[0]) > price)
                    or (side == 1 and int(best[0]) < price)
                    or best[2] == owner
                ):
                    break
                filled = min(quantity, int(best[3]))
                me, other = (order_id, owner), (int(best[1]), str(best[2]))
                events.append(
                    self._trade(
                        t, me if side == 0 else other, other if side == 0 else me, int(best[0]), filled
                    )
                )
                quantity -= filled
                best[3] = int(best[3]) - filled
                if best[3] == 0:
                    opposite.pop(0)
            if quantity:
                book.append([price, order_id, owner, quantity])
                book.sort(key=lambda o: (-int(o[0]) if side == 0 else int(o[0]), int(o[1])))
        for k in range(0, len(events), 5_000):
            pages.append(events[k : k + 5_000])
        return pages


def fill_market(url: str) -> int:
    """Add the synthetic market day to the read model at ``url``; returns the number of events."""
    engine = make_engine(url)
    market = SyntheticMarket(Synthetic(seed=31))
    market.s.block = 10_000_000  # after the compliance years' blocks
    projector = Projector()
    count = 0
    for page in market.pages():
        with engine.begin() as conn:
            projector.apply(conn, page)
        count += len(page)
    engine.dispose()
    return count


def list_on_chain(suite: Any) -> None:
    """Register :data:`TRADER` and list :data:`MARKET_TOKEN` on the chain's market (the preview and
    the sellable quantities are read there)."""
    registry = suite.registry
    if not registry.is_active_participant(TRADER.address):
        call = registry.encode_register_enterprise(TRADER.address, demo_profile(0))
        registry.govern(suite.members, registry.encode_multicall([call]), "bench: the timed trader")
    if suite.market.rulebook(MARKET_TOKEN) is None:
        suite.market.set_rulebook(suite.exchange, MARKET_TOKEN, MARKET_RULES)


def chromium() -> str:
    import os

    return (
        os.environ.get("ETS_TEST_CHROMIUM")
        or subprocess.run(
            [str(ROOT / "scripts/chromium")], check=True, capture_output=True, text=True
        ).stdout.strip()
    )


def asset_sizes() -> dict[str, int]:
    """Bytes of every file the dashboard serves, raw and gzip-compressed (level 6)."""
    files = [p for p in STATIC_DIR.rglob("*") if p.is_file()]
    raw = sum(p.stat().st_size for p in files)
    packed = sum(len(gzip.compress(p.read_bytes(), 6)) for p in files)
    return {"assets_bytes": raw, "assets_gzip_bytes": packed, "assets_files": len(files)}


def collect_errors(page: Page) -> list[str]:
    """Console errors and uncaught exceptions of ``page``, as they happen."""
    errors: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return errors


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def measure(runs: int) -> dict[str, Any]:
    if missing_vendor_files():
        subprocess.run([str(ROOT / "scripts/build-dashboard")], check=True)
    figures: dict[str, Any] = {"enterprises": ENTERPRISES}
    with tempfile.TemporaryDirectory() as tmp, AnvilNode() as node:
        console.log("deploying the suite on a local Anvil")
        chain = ChainClient.connect(node.url, compile_contracts())
        suite = deploy_local_suite(chain, Path(tmp) / "deployment.json")
        url = f"sqlite:///{tmp}/dashboard.db"
        started = time.perf_counter()
        figures["events"] = fill(url)
        elapsed = time.perf_counter() - started
        console.log(f"read model filled with {figures['events']:,} events in {elapsed:.1f} s")
        started = time.perf_counter()
        figures["market_events"] = fill_market(url)
        figures["market_orders"] = MARKET_ORDERS
        list_on_chain(suite)
        console.log(f"market day of {MARKET_ORDERS:,} orders ({figures['market_events']:,} events) in "
                    f"{time.perf_counter() - started:.1f} s")  # fmt: skip
        port = free_port()
        settings = ApiSettings(database_url=url, api_host="127.0.0.1", api_port=port)
        ctx = AppContext(settings, suite.chain, suite.manifest, make_engine(url))
        app = create_app(ctx, migrate=False, indexer=False)
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.05)
        base = f"http://127.0.0.1:{port}"
        try:
            with httpx.Client(base_url=base, timeout=60) as client:
                token = wallet_sign_in(client.post, suite.regulator)
                headers = {"Authorization": f"Bearer {token}"}
                api_ms = []
                for _ in range(3):
                    t0 = time.perf_counter()
                    response = client.get("/dashboard/api/overview", headers=headers)
                    api_ms.append((time.perf_counter() - t0) * 1000)
                    response.raise_for_status()
                overview = response.json()
                figures["overview_api_ms"] = round(statistics.median(api_ms), 1)
                figures["overview_json_bytes"] = len(response.content)
                figures["status_counts"] = overview["counts"]
                trader_token = wallet_sign_in(client.post, TRADER)
            session = json.dumps({"token": token, "address": suite.regulator.address, "demo": None})
            trader_session = json.dumps({"token": trader_token, "address": TRADER.address, "demo": None})
            ready: list[float] = []
            trading: list[float] = []
            transferred = 0
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=chromium(), args=CHROMIUM_ARGS)
                for _ in range(runs):
                    context = browser.new_context(viewport={"width": 1366, "height": 860})
                    context.add_init_script(f"sessionStorage.setItem('ets.session', {json.dumps(session)})")
                    page = context.new_page()
                    errors = collect_errors(page)
                    page.goto(f"{base}/dashboard/#/regulator")
                    page.wait_for_selector('[data-overview-ready="1"]', timeout=60_000)
                    mark = page.evaluate("performance.getEntriesByName('overview-ready')[0].startTime")
                    ready.append(float(mark))
                    transferred = int(page.evaluate(
                        "performance.getEntriesByType('resource').reduce((s, r) => s + r.transferSize, 0)"
                        " + performance.getEntriesByType('navigation')[0].transferSize"
                    ))  # fmt: skip
                    if errors:
                        raise RuntimeError(f"console errors on the overview: {errors}")
                    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
                    page.screenshot(path=str(SCREENSHOT), full_page=True)
                    context.close()
                for _ in range(runs):
                    context = browser.new_context(viewport={"width": 1366, "height": 860})
                    context.add_init_script(
                        f"sessionStorage.setItem('ets.session', {json.dumps(trader_session)})"
                    )
                    page = context.new_page()
                    errors = collect_errors(page)
                    page.goto(f"{base}/dashboard/#/market")
                    page.wait_for_selector('[data-market-ready="1"]', timeout=60_000)
                    mark = page.evaluate("performance.getEntriesByName('market-ready')[0].startTime")
                    trading.append(float(mark))
                    if errors:
                        raise RuntimeError(f"console errors on the trading view: {errors}")
                    page.screenshot(path=str(TRADING_SCREENSHOT), full_page=True)
                    context.close()
                browser.close()
        finally:
            server.should_exit = True
            thread.join(timeout=15)
    figures["overview_ready_ms_runs"] = [round(x) for x in ready]
    figures["overview_ready_ms"] = round(statistics.median(ready))
    figures["overview_transfer_bytes"] = transferred
    figures["trading_view_ready_ms_runs"] = [round(x) for x in trading]
    figures["trading_view_ready_ms"] = round(statistics.median(trading))
    figures.update(asset_sizes())
    return figures


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5, help="cold page loads timed")
    options = parser.parse_args()
    print(json.dumps(measure(options.runs)))
