"""The Safe transactions view in chromium: a 2-of-2 Safe registered as an enterprise; the first
representative proposes an allowance transfer and signs it in the page's wallet, the second opens
the same Safe in another browser, sees what the first proposed (call, proposer, 1 of 2
signatures), signs, and executes: the API builds the execTransaction, the page's wallet signs it,
the API relays it and the allowances move on chain."""

from __future__ import annotations

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
from chain.deploy import SuiteConfig
from chain.onboarding import register_enterprises
from chain.safe import SafeFactoryClient, deploy_safe_contracts
from readmodel.indexer.run import Indexer
from readmodel.migrate import upgrade
from readmodel.session import make_engine
from tests.conftest import Consortium
from tests.dashboard.conftest import REQUEST_LIMIT, ROOT, SIGN_IN_LIMIT, Tab, free_port, sign_in
from tests.utils.chain import profile
from tests.utils.market import CO2_2027

ALICE, BOB = demo_account("enterprise-12"), demo_account("enterprise-13")
RECEIVER = demo_account("enterprise-11")


@dataclass
class SafeDash:
    c: Consortium
    safe: str
    base: str


@pytest.fixture(scope="module")
def safe_dash(consortium: Consortium, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SafeDash]:
    if missing_vendor_files():
        import subprocess

        subprocess.run([str(ROOT / "scripts" / "build-dashboard")], check=True)
    c = consortium
    snapshot = c.snapshot()
    tmp = Path(tmp_path_factory.mktemp("safe-dash"))
    engine = make_engine(f"sqlite:///{tmp / 'read.db'}")
    try:
        config = SuiteConfig(members=tuple(m.address for m in c.members), threshold=2)
        _, contracts = deploy_safe_contracts(c.chain, c.members[0], config, tmp / "safe.json")
        safe = SafeFactoryClient(c.chain, contracts).create(ALICE, [ALICE.address, BOB.address], 2, salt=3)
        rows = [(safe.address, profile(891)), (RECEIVER.address, profile(892))]
        register_enterprises(
            c.registry, c.members, [r for r in rows if not c.registry.is_active_participant(r[0])]
        )
        c.allowance.set_cap(c.regulator, CO2_2027, c.allowance.issued(CO2_2027) + 1_000)
        c.allowance.allocate(c.regulator, CO2_2027, [safe.address], [1_000], b"\x89" * 32)
        upgrade(engine)
        Indexer(c.chain, c.manifest, engine).catch_up()
        port = free_port()
        settings = ApiSettings(database_url=str(engine.url), api_host="127.0.0.1", api_port=port,
                               api_role_cache_seconds=0, indexer_poll_seconds=0.1,
                               api_rate_limit_sign_in=SIGN_IN_LIMIT, api_rate_limit_client=REQUEST_LIMIT,
                               api_rate_limit_principal=REQUEST_LIMIT)  # fmt: skip
        app = create_app(AppContext(settings, c.chain, c.manifest, engine), migrate=False, indexer=True)
        app.state.dashboard_demo = True  # as with ETS_DEMO=1: the page signs with the demo keys
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                               access_log=False))  # fmt: skip
        thread = threading.Thread(target=server.run, name="safe-dashboard", daemon=True)
        thread.start()
        deadline = time.monotonic() + 30
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.05)
        try:
            yield SafeDash(c, safe.address, f"http://127.0.0.1:{port}")
        finally:
            server.should_exit = True
            thread.join(timeout=15)
    finally:
        engine.dispose()
        c.revert(snapshot)


def _open_safe(tab: Tab, d: SafeDash, who: object) -> None:
    page = sign_in(tab, d.base, who, "accounts")  # type: ignore[arg-type]  # no role yet: the applicant's page
    page.goto(f"{d.base}/dashboard/#/safe?safe={d.safe}")
    page.wait_for_selector('[data-view="safe"][data-ready="1"]')
    page.wait_for_selector("#safe-info")


def test_two_representatives_sign_and_the_relay_executes_a_transfer(
    safe_dash: SafeDash, open_tab: Callable[..., Tab]
) -> None:
    d, c = safe_dash, safe_dash.c
    first = open_tab()
    _open_safe(first, d, ALICE)
    assert "2 of 2 representatives sign" in first.page.inner_text("#safe-info")
    first.page.fill("#safe-to", RECEIVER.address)
    first.page.fill("#safe-amount", "35")
    first.page.click("#safe-propose button[type=submit]")
    row = '#safe-txs tr[data-status="pending"]'
    first.page.wait_for_function(f"document.querySelector('{row}')?.innerText.includes('1 / 2')")
    assert first.page.query_selector(f"{row} button.sign") is None  # Alice signed already

    second = open_tab()
    _open_safe(second, d, BOB)
    second.page.wait_for_selector(row)
    seen = second.page.inner_text(row)
    assert "AllowanceToken.safeTransferFrom" in seen and "value=35" in seen and "1 / 2" in seen
    assert ALICE.address[:6] in seen  # proposed by the first representative
    second.page.click(f"{row} button.sign")
    second.page.wait_for_selector(f"{row} button.execute")
    assert "2 / 2" in second.page.inner_text(row)
    before = c.allowance.balance(RECEIVER.address, CO2_2027)
    second.page.click(f"{row} button.execute")
    second.page.wait_for_selector('#safe-txs tr[data-status="executed"]')
    assert c.allowance.balance(RECEIVER.address, CO2_2027) == before + 35
    assert c.allowance.balance(d.safe, CO2_2027) == 1_000 - 35
    first.assert_clean()
    second.assert_clean()
