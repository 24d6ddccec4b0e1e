"""Fixtures of the dashboard tests: the API on a loopback port over a world, Debian's chromium."""

from __future__ import annotations

import calendar
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pytest
import uvicorn
from eth_account.signers.local import LocalAccount
from fastapi import FastAPI
from playwright.sync_api import Browser, ConsoleMessage, Page, Playwright, sync_playwright
from sqlalchemy import Engine, select

from api.config import ApiSettings
from api.context import AppContext
from api.dashboard import missing_vendor_files
from api.main import create_app
from chain.accounts import dev_account
from chain.auction import AuctionParams
from chain.settlement import ReportAnchor, SettlementReportsClient, ledger_for
from domain.tokens import Kind, encode_id
from oracle.signing.reading import ReadingFields
from readmodel import models as m
from readmodel.indexer.run import Indexer
from readmodel.migrate import upgrade
from readmodel.models import CHECKPOINT
from readmodel.session import make_engine
from settlement.day import DayResult, run_day
from settlement.run import SystemAccounts
from tests.conftest import Consortium
from tests.settlement.conftest import CALENDAR, to_time
from tests.utils.anchoring import Site, bind_site
from tests.utils.chain import profile
from tests.utils.compliance import (
    CO2,
    CO2_2023,
    CO2_2024,
    CO2_2025,
    CONFIG,
    ENTERPRISES,
    HOLDINGS,
    IDS,
    RULES,
    RULES_URI,
    SO2_2024,
    YEAR,
    Cycle,
    issue,
    setup_cycle,
    surrender,
)

ROOT = Path(__file__).resolve().parents[2]
#: Screenshots of every view (a test artifact).
SCREENSHOTS = ROOT / "build" / "screenshots"
#: Flags that keep chromium off the network (it is closed here) and out of first-run work.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
HOUR = 3600
#: Rate limits of the test server, set explicitly out of the tests' reach: every browser and test
#: client is 127.0.0.1, each test signs in afresh and a view loads its data in parallel bursts (the
#: production defaults stay on; tests/api tests the limits themselves).
SIGN_IN_LIMIT, REQUEST_LIMIT = "1000/minute", "100000/minute;10000/second"
#: A compliance year before :data:`YEAR`: only E3 has a notice for it.
EARLIER_YEAR = YEAR - 1
DAY = 24 * HOUR
#: A compliance year of SO2 finalized at set-up: E0 covered (outcome A), E3 short (B), E1 and E2
#: without verified emissions (C).
CLOSED_YEAR = YEAR - 2
SO2 = 2
SO2_CLOSED = encode_id(Kind.ALLOWANCE, "SO2", CLOSED_YEAR)
#: SO2 of :data:`CLOSED_YEAR`: allocated, verified and surrendered per enterprise (E0 and E3).
CLOSED_ALLOCATED = 300
E0_CLOSED_VERIFIED = 200
E3_CLOSED_VERIFIED, E3_CLOSED_SURRENDERED = 250, 100
#: E3's SO2 application of :data:`YEAR` (it has no CO2 notice that year), pending review.
E3_SO2_VERIFIED = 30


def chromium_path() -> str:
    """Debian's chromium: ``ETS_TEST_CHROMIUM`` (set by scripts/test), else ``chromium`` on PATH."""
    path = os.environ.get("ETS_TEST_CHROMIUM") or shutil.which("chromium")
    if not path:
        pytest.fail(
            "ETS_TEST_CHROMIUM is not set and chromium is not on PATH: run the tests through scripts/test, "
            "which installs Debian's chromium (scripts/chromium)",
            pytrace=False,
        )
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class DashWorld:
    """The chain, the API server on loopback and what the set-up created.

    Attributes:
        c: the consortium.
        cycle: the compliance year (notices to E0..E2; E0 attested and applied).
        base: the server's base URL.
        ctx: the API context the server runs with.
        application_id: E0's pending application.
        open_auction: a primary auction in its commit phase (the enterprise bids in it).
        cleared_auction: a primary auction past its reveal phase with one revealed bid (the
            exchange finalizes it).
        proposal: the exchange's proposal to register an enterprise (one approval of two).
        settled_auction: a primary auction cleared at set-up: E0 won it (claims in the page), E3
            bid under the clearing price (takes its guarantee back in the page).
        to_reject: E1's pending application for :data:`EARLIER_YEAR` (the regulator rejects it).
        closed: E0's and E3's applications of :data:`CLOSED_YEAR` (approved).
        so2_application: E3's pending SO2 application of :data:`YEAR`.
        settlement: the settlement run of the set-up's trading day (report written and anchored).
        reports: the reports directory the dashboard reads (``<reports>/<day>/``).
    """

    c: Consortium
    cycle: Cycle
    base: str
    ctx: AppContext
    application_id: int
    open_auction: int
    cleared_auction: int
    proposal: int
    settled_auction: int
    to_reject: int
    settlement: DayResult
    reports: Path
    closed: tuple[int, int]
    so2_application: int
    app: FastAPI = field(repr=False)
    server: uvicorn.Server = field(repr=False)

    def wait_indexed(self, timeout: float = 20.0) -> None:
        """Wait until the embedded indexer has the chain's latest block."""
        target = self.c.chain.w3.eth.block_number
        deadline = time.monotonic() + timeout
        query = select(m.Checkpoint.block_number).where(m.Checkpoint.name == CHECKPOINT)
        while time.monotonic() < deadline:
            with self.ctx.engine.connect() as conn:
                done = conn.execute(query).scalar_one_or_none()
            if done is not None and done >= target:
                return
            time.sleep(0.1)
        raise AssertionError(f"the indexer did not reach block {target} in {timeout} s")

    @property
    def settled_day(self) -> date:
        return self.settlement.settlement.bounds.day

    def latest_attestation(self, enterprise: str, pollutant: int = 1, year: int = YEAR) -> bytes:
        """The id of the enterprise's latest attestation of ``pollutant`` in ``year`` (there is one)."""
        found = self.c.ledger.latest_attestation(enterprise, pollutant, year)
        assert found is not None, f"{enterprise} has no attestation of {pollutant} in {year}"
        return found

    def advance(self, seconds: int) -> None:
        """Move the chain's clock forward and wait for the indexer to see it."""
        self.c.chain.advance_time(seconds)
        self.wait_indexed()


#: E0's metered CO2 per month of the compliance year (kg, from its controller's interval totals).
METERED_KG = {(YEAR, 5): 60_000, (YEAR, 6): 90_000}


def _anchor_metered(c: Consortium, queue_path: Path) -> Site:
    """Bind a device to E0 and anchor one batch per month of :data:`METERED_KG`: each frame holds
    the month's CO2 interval total (kg) and an SO2 concentration."""
    site = bind_site(c, ENTERPRISES[0], queue_path, seed=981, mn="DASHSITE00001")
    for (year, month), kg in METERED_KG.items():
        t = calendar.timegm((year, month, 10, 2, 0, 0))
        fields = [ReadingFields(t, "a05001", kg, 0, "kg"), ReadingFields(t, "a21026", 41_250, 3, "mg/m3")]
        site.queue.append([site.device.sign_frame(fields)])
        [batch] = site.queue.cut_batches(2, 0, enterprises={site.device.address: site.enterprise.address})
        site.anchor(batch)
    return site


@dataclass
class SetUp:
    """What :func:`_set_up_chain` created."""

    cycle: Cycle
    application_id: int
    open_auction: int
    cleared_auction: int
    proposal: int
    settled_auction: int
    to_reject: int
    settlement: DayResult
    site: Site
    closed: tuple[int, int]
    so2_application: int


def _settle_day(c: Consortium, engine: Engine, index: Callable[[], object], reports: Path) -> DayResult:
    """Settle the trading day of the chain's latest block as ``ets settle`` does: move the chain
    past its close (as the settlement tests' market does), index it, run the day against the chain
    and anchor the report as the exchange."""
    day = CALENDAR.trading_day_of(c.chain.timestamp())
    to_time(c, CALENDAR.close_at(day) + 60)
    index()
    contracts = {name: record.address for name, record in c.manifest.contracts.items()}
    result = run_day(
        engine, CALENDAR, day, reports, chain=ledger_for(c.chain, contracts),
        system=SystemAccounts(contracts["SealedBidAuction"], contracts["ComplianceManager"]),
        anchor=ReportAnchor(SettlementReportsClient(c.chain, contracts["SettlementReports"]), c.exchange),
    )  # fmt: skip
    assert result.balanced and result.anchored == "published", result.reconciliation.differences
    return result


def _close_year(cycle: Cycle) -> tuple[int, int]:
    """Run :data:`CLOSED_YEAR` of SO2 to its outcomes: E0 covers its verified emissions (A), E3
    surrenders less than its verified emissions (B: shortfall and fine), E1 and E2 have no verified
    emissions by the deadline (C). Returns E0's and E3's application ids."""
    c = cycle.c
    e0, e1, e2, e3 = ENTERPRISES
    c.allowance.set_cap(c.regulator, SO2_CLOSED, 10**9)
    c.allowance.allocate(c.regulator, SO2_CLOSED, [e0.address, e3.address], [CLOSED_ALLOCATED] * 2,
                         bytes([0xC1, 0x22]) * 16)  # fmt: skip
    c.compliance.configure_year(c.regulator, CLOSED_YEAR, CONFIG)
    now = c.chain.timestamp()
    c.compliance.issue_notices(
        c.regulator, CLOSED_YEAR, SO2, [(e.address, CLOSED_ALLOCATED) for e in ENTERPRISES], rules_hash=RULES,
        rules_uri=RULES_URI, submission_deadline=now + 2 * HOUR, ack_deadline=now + HOUR,
    )  # fmt: skip
    ids = []
    for enterprise, verified, surrendered in ((e0, E0_CLOSED_VERIFIED, E0_CLOSED_VERIFIED),
                                              (e3, E3_CLOSED_VERIFIED, E3_CLOSED_SURRENDERED)):  # fmt: skip
        c.compliance.acknowledge(enterprise, SO2, CLOSED_YEAR)
        attested = cycle.attest(enterprise.address, verified, year=CLOSED_YEAR, pollutant=SO2)
        application = c.compliance.apply(
            enterprise, SO2, CLOSED_YEAR, surrender(attested, {SO2_CLOSED: surrendered})
        )
        c.compliance.approve(c.regulator, application)
        ids.append(application)
    c.chain.advance_time(2 * HOUR + 5)
    for enterprise in (e1, e2, e3):
        c.compliance.finalize(c.regulator, enterprise.address, SO2, CLOSED_YEAR)
    return ids[0], ids[1]


#: The chain time the set-up spends before it settles its day (auction phases, 2 h 10 s), with room.
SET_UP_SPAN = 4 * HOUR


def _start_with_room_before_the_close(c: Consortium) -> None:
    """Start the set-up at least :data:`SET_UP_SPAN` before its trading day's close, so every movement
    it makes falls in the day it settles. The chain's clock at this point is the wall clock plus
    whatever earlier tests on this worker advanced it: a set-up begun less than 2 h 10 s before a
    close settled the next day, with none of its movements in it."""
    now = c.chain.timestamp()
    close = CALENDAR.close_at(CALENDAR.trading_day_of(now))
    if close - now < SET_UP_SPAN:
        to_time(c, close + 60)


def _set_up_chain(
    c: Consortium, queue_path: Path, engine: Engine, index: Callable[[], object], reports: Path
) -> SetUp:
    _start_with_room_before_the_close(c)
    cycle = setup_cycle(c)
    e0, e1, e2, e3 = ENTERPRISES
    for enterprise in ENTERPRISES:  # the regulator assigns the auditor to the four enterprises
        if not c.registry.is_auditor_assigned(c.auditor.address, enterprise.address):
            c.registry.assign_auditor(c.regulator, c.auditor.address, enterprise.address)
    site = _anchor_metered(c, queue_path)
    c.allowance.transfer(e0, e1.address, IDS[1], 25)
    attestation_id = cycle.attest(e0.address, 900, 50)
    c.compliance.acknowledge(e0, CO2, YEAR)
    application_id = c.compliance.apply(e0, CO2, YEAR, surrender(attestation_id, {CO2_2024: 900}))
    # Two auctions that run their course now. In the first E2 commits and reveals, then its reveal
    # phase ends (the exchange finalizes it in the page); the second is cleared here: E0 wins it,
    # E3's bid is under the clearing price.
    now = c.chain.timestamp()
    cleared = c.auction.create_primary(
        c.regulator,
        AuctionParams(token_id=CO2_2025, supply=500, reserve_price=1_000, commit_end=now + HOUR,
                      reveal_end=now + 2 * HOUR),
    )  # fmt: skip
    settled = c.auction.create_primary(
        c.regulator,
        AuctionParams(token_id=CO2_2025, supply=100, reserve_price=1_000, commit_end=now + HOUR,
                      reveal_end=now + 2 * HOUR),
    )  # fmt: skip
    bids = [
        (e2, c.auction.seal(cleared, e2.address, [(2_500, 300), (1_800, 400)])),
        (e0, c.auction.seal(settled, e0.address, [(3_000, 100)])),
        (e3, c.auction.seal(settled, e3.address, [(1_500, 100)])),
    ]
    for bidder, bid in bids:
        c.auction.commit(bidder, bid)
    c.chain.advance_time(HOUR + 5)
    for bidder, bid in bids:
        c.auction.reveal(bidder, bid)
    c.chain.advance_time(HOUR + 5)
    c.auction.submit_clearing(c.exchange, settled)
    # The day so far is settled: its report is on disk and its hash anchored.
    settlement = _settle_day(c, engine, index, reports)
    closed = _close_year(cycle)
    # E3 (no CO2 notice this year) gets an SO2 notice and applies: pending in the SO2 view only.
    c.compliance.issue_notices(
        c.regulator, YEAR, SO2, [(e3.address, HOLDINGS[SO2_2024])], rules_hash=RULES, rules_uri=RULES_URI,
        submission_deadline=cycle.submission_deadline, ack_deadline=cycle.ack_deadline,
    )  # fmt: skip
    c.compliance.acknowledge(e3, SO2, YEAR)
    so2_attestation = cycle.attest(e3.address, E3_SO2_VERIFIED, pollutant=SO2)
    so2_application = c.compliance.apply(
        e3, SO2, YEAR, surrender(so2_attestation, {SO2_2024: E3_SO2_VERIFIED})
    )
    # The auction the enterprise bids in from the browser: commit phase for a day.
    now = c.chain.timestamp()
    open_auction = c.auction.create_primary(
        c.regulator,
        AuctionParams(token_id=CO2_2025, supply=1_000, reserve_price=1_200, commit_end=now + DAY,
                      reveal_end=now + 2 * DAY),
    )  # fmt: skip
    # E1 and E3 get a notice for an earlier year and acknowledge it; both are attested. E3 applies
    # in the page; E1 applies here and the regulator rejects its application in the page.
    c.compliance.configure_year(c.regulator, EARLIER_YEAR, CONFIG)
    issue(cycle, [e1, e3], year=EARLIER_YEAR)
    c.compliance.acknowledge(e3, CO2, EARLIER_YEAR)
    cycle.attest(e3.address, 120, 0, year=EARLIER_YEAR)
    c.compliance.acknowledge(e1, CO2, EARLIER_YEAR)
    e1_attestation = cycle.attest(e1.address, 150, 0, year=EARLIER_YEAR)
    to_reject = c.compliance.apply(e1, CO2, EARLIER_YEAR, surrender(e1_attestation, {CO2_2023: 150}))
    newcomer = dev_account(21).address
    proposal = c.registry.propose(c.exchange, c.registry.encode_register_enterprise(newcomer, profile(950)),
                                  "register Taizhou Power Plant No. 950")  # fmt: skip
    return SetUp(cycle, application_id, open_auction, cleared, proposal, settled, to_reject, settlement, site,
                 closed, so2_application)  # fmt: skip


@pytest.fixture(scope="module")
def dash(consortium: Consortium, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DashWorld]:
    """The API with the dashboard on a loopback port, over a fresh world (rolled back afterwards)."""
    if missing_vendor_files():
        subprocess.run([str(ROOT / "scripts" / "build-dashboard")], check=True)
    snapshot = consortium.snapshot()
    path = Path(tmp_path_factory.mktemp("dash")) / "read.db"
    url = f"sqlite:///{path}"
    engine = make_engine(url)
    try:
        queue_path = path.parent / "oracle-queue.db"
        reports = path.parent / "settlement"
        upgrade(engine)
        indexer = Indexer(consortium.chain, consortium.manifest, engine, oracle_queues=[queue_path])
        made = _set_up_chain(consortium, queue_path, engine, indexer.catch_up, reports)
        site = made.site
        port = free_port()
        settings = ApiSettings(database_url=url, api_host="127.0.0.1", api_port=port,
                               api_role_cache_seconds=0, indexer_poll_seconds=0.1,
                               indexer_oracle_queues=str(queue_path), api_rate_limit_sign_in=SIGN_IN_LIMIT,
                               api_rate_limit_client=REQUEST_LIMIT,
                               api_rate_limit_principal=REQUEST_LIMIT, reports_dir=reports)  # fmt: skip
        indexer.catch_up()
        ctx = AppContext(settings, consortium.chain, consortium.manifest, engine)
        app = create_app(ctx, migrate=False, indexer=True)
        app.state.dashboard_demo = True  # as with ETS_DEMO=1: the page signs with the demo keys
        app.state.dashboard_reports_dir = reports  # as ETS_SETTLE_REPORTS_DIR
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                               access_log=False))  # fmt: skip
        thread = threading.Thread(target=server.run, name="dashboard-server", daemon=True)
        thread.start()
        deadline = time.monotonic() + 30
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.05)
        world = DashWorld(consortium, made.cycle, f"http://127.0.0.1:{port}", ctx, made.application_id,
                          made.open_auction, made.cleared_auction, made.proposal, made.settled_auction,
                          made.to_reject, made.settlement, reports, made.closed, made.so2_application, app,
                          server)  # fmt: skip
        try:
            yield world
        finally:
            server.should_exit = True
            thread.join(timeout=15)
            site.queue.close()
    finally:
        engine.dispose()
        consortium.revert(snapshot)


@pytest.fixture(scope="module")
def playwright_session() -> Iterator[Playwright]:
    """Playwright's sync API for one module (its event loop does not outlive the module)."""
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def browser(playwright_session: Playwright) -> Iterator[Browser]:
    launched = playwright_session.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
    try:
        yield launched
    finally:
        launched.close()


@dataclass
class Tab:
    """A browser page with every console error and page error it produced."""

    page: Page
    errors: list[str]
    log: list[str] = field(default_factory=list)

    def assert_clean(self) -> None:
        assert self.errors == [], "console errors:\n" + "\n".join(self.errors)


@pytest.fixture
def open_tab(browser: Browser) -> Iterator[Callable[..., Tab]]:
    """``open_tab(width=1366, height=860)``: a fresh browser context and page that collects console
    errors; closed after the test."""
    contexts = []

    def make(width: int = 1366, height: int = 860) -> Tab:
        context = browser.new_context(viewport={"width": width, "height": height}, locale="en-US")
        contexts.append(context)
        page = context.new_page()
        errors: list[str] = []

        log: list[str] = []

        def on_console(message: ConsoleMessage) -> None:
            log.append(f"{message.type}: {message.text}")
            if message.type == "error":
                errors.append(f"console: {message.text} ({message.location.get('url')})")

        page.on("console", on_console)
        page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
        page.set_default_timeout(20_000)
        return Tab(page, errors, log)

    yield make
    for context in contexts:
        context.close()


def sign_in(tab: Tab, base: str, account: LocalAccount, view: str) -> Page:
    """Open the dashboard, pick ``account`` in the demo sign-in and wait for ``view`` to load."""
    page = tab.page
    page.goto(f"{base}/dashboard/")
    page.wait_for_selector("#demo-banner", state="visible")
    page.select_option("#demo-account", value=account.address)
    page.click("#sign-in")
    page.wait_for_selector(f'[data-view="{view}"][data-ready="1"]')
    return page


def screenshot(page: Page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    target = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(target), full_page=True)
    return target
