"""The dashboard in chromium: sign-in, data and one action per role, screenshots, no console errors."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from playwright.sync_api import Page
from sqlalchemy import func, select

from chain.accounts import dev_account
from chain.auction import DEFAULT_FORFEIT_BPS
from chain.production import gather_production
from chain.registry import ROLES
from demo.settlement import totals_by_type
from domain.tokens import POLLUTANTS as POLLUTANT_CODES
from domain.tokens import Kind, encode_id
from readmodel import models as m
from tests.dashboard.conftest import (
    CLOSED_YEAR,
    DAY,
    E3_CLOSED_SURRENDERED,
    E3_CLOSED_VERIFIED,
    EARLIER_YEAR,
    SO2,
    DashWorld,
    Tab,
    screenshot,
    sign_in,
)
from tests.utils.compliance import CO2, CO2_2024, ENTERPRISES, YEAR

POLLUTANTS = {code: symbol for symbol, code in POLLUTANT_CODES.items()}


def until(page: Page, check: Callable[[], object], what: str, timeout: float = 30.0) -> None:
    """Wait for ``check()`` to be truthy; fail at once with the page's error toast if one shows."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        bad = page.query_selector(".toast.bad")
        if bad is not None:
            raise AssertionError(f"{what}: the page reported: {bad.inner_text()}")
        if check():
            return
        page.wait_for_timeout(200)
    logged = page.evaluate("window.__etsLog || []")
    shown = page.inner_text("#view")[:600]
    raise AssertionError(f"{what}: not seen within {timeout} s; page log: {logged[-12:]}; view: {shown!r}")


def row(dash: DashWorld, stmt: object) -> object:
    with dash.ctx.sessions() as db:
        return db.execute(stmt).scalar_one_or_none()  # type: ignore[call-overload]


def test_regulator_overview_draws_map_and_charts_when_signed_in(
    dash: DashWorld, open_tab: Callable[..., Tab]
) -> None:
    tab = open_tab()
    page = sign_in(tab, dash.base, dash.c.regulator, "regulator")
    page.wait_for_selector('[data-view="regulator"][data-overview-ready="1"]')
    enterprises = row(
        dash, select(func.count()).select_from(m.Participant).where(m.Participant.credit_code.is_not(None))
    )
    kpis = page.inner_text("#kpis")
    assert f"{enterprises}\nEnterprises" in kpis and "1\nNear quota" in kpis
    assert "Taizhou Power Plant No. 900" in page.inner_text("#applications")
    assert "Quota threshold" in page.inner_text("#alarms")
    assert page.evaluate("performance.getEntriesByName('overview-ready').length") == 1
    # click the enterprises' point on the map: its details show beside it
    x, y = page.evaluate(
        "(([lon, lat]) => echarts.getInstanceByDom(document.getElementById('map'))"
        ".convertToPixel({geoIndex: 0}, [lon, lat]))([121.420900, 28.656900])"
    )
    box = page.locator("#map").bounding_box()
    assert box is not None
    page.mouse.click(box["x"] + x, box["y"] + y)
    page.wait_for_selector("#enterprise-details")
    assert "Taizhou Power Plant No. 90" in page.inner_text("#details")
    screenshot(page, "regulator")
    tab.assert_clean()


def test_regulator_approves_application_when_clicked(dash: DashWorld, open_tab: Callable[..., Tab]) -> None:
    tab = open_tab()
    page = sign_in(tab, dash.base, dash.c.regulator, "regulator")
    application = m.Application
    status = select(application.status).where(application.application_id == dash.application_id)
    assert row(dash, status) == "submitted"
    page.click(f'[data-approve="{dash.application_id}"]')
    until(page, lambda: row(dash, status) == "approved", "application approved in the read model")
    until(page, lambda: "Approved" in page.inner_text("#applications"), "application shown approved")
    assert page.query_selector(f'[data-approve="{dash.application_id}"]') is None
    retired = row(
        dash,
        select(m.Token.retired).where(
            m.Token.token_id == dash.cycle.c.allowance.contract.functions.encodeId(1, 1, YEAR).call()
        ),
    )
    assert retired == 900
    tab.assert_clean()


def test_enterprise_commits_and_reveals_bid_when_signed_in(
    dash: DashWorld, open_tab: Callable[..., Tab]
) -> None:
    bidder = ENTERPRISES[1]
    tab = open_tab()
    page = sign_in(tab, dash.base, bidder, "enterprise")
    assert "Taizhou Power Plant No. 901" in page.inner_text("#view h1")
    assert "CO2" in page.inner_text("#holdings") and page.query_selector('[data-ack="2024"]') is not None
    auction = dash.open_auction
    section = f'[data-auction="{auction}"]'
    page.fill(f'{section} [data-bid-price="0"]', "15.00")
    page.fill(f'{section} [data-bid-quantity="0"]', "300")
    page.fill(f'{section} [data-bid-price="1"]', "12.50")
    page.fill(f'{section} [data-bid-quantity="1"]', "200")
    page.click(f'[data-commit="{auction}"]')
    bid = select(m.Bid.guarantee).where(m.Bid.auction_id == auction, m.Bid.bidder == bidder.address)
    until(page, lambda: row(dash, bid) is not None, "bid committed in the read model")
    assert row(dash, bid) == 1500 * 300 + 1250 * 200
    page.wait_for_selector(f'[data-my-bid="{auction}"]')
    screenshot(page, "enterprise")

    dash.advance(DAY + 60)  # the commit window closes: reveal phase
    page.reload()
    page.wait_for_selector('[data-view="enterprise"][data-ready="1"]')
    page.click(f'[data-reveal="{auction}"]')
    revealed = select(m.Bid.revealed).where(m.Bid.auction_id == auction, m.Bid.bidder == bidder.address)
    until(page, lambda: row(dash, revealed) is True, "bid revealed in the read model")
    prices = row(
        dash, select(m.Bid.prices).where(m.Bid.auction_id == auction, m.Bid.bidder == bidder.address)
    )
    assert prices == [1500, 1250]
    tab.assert_clean()


def test_auditor_signs_and_submits_attestation_when_signed_in(
    dash: DashWorld, open_tab: Callable[..., Tab]
) -> None:
    enterprise = ENTERPRISES[2]
    tab = open_tab()
    page = sign_in(tab, dash.base, dash.c.auditor, "auditor")
    assert "Taizhou Power Plant No. 900" in page.inner_text("#my-attestations")
    page.select_option("#att-enterprise", value=enterprise.address)
    page.select_option("#att-pollutant", value="1")
    page.fill("#att-year", str(YEAR))
    page.fill("#att-verified", "870")
    page.fill("#att-offsets", "20")
    page.fill("#att-report", "Verification report 2024: meters calibrated, fuel records reconciled.")
    page.click("#att-submit")
    attestation = m.Attestation
    found = select(attestation.verified).where(
        attestation.enterprise == enterprise.address, attestation.auditor == dash.c.auditor.address
    )
    until(page, lambda: row(dash, found) == 870, "attestation in the read model")
    listed = "Taizhou Power Plant No. 902\tCO2\t2024\t870\tActive"
    until(page, lambda: listed in page.inner_text("#my-attestations"), "attestation listed")
    screenshot(page, "auditor")
    tab.assert_clean()


def test_exchange_finalizes_auction_when_reveal_phase_is_over(
    dash: DashWorld, open_tab: Callable[..., Tab]
) -> None:
    tab = open_tab()
    page = sign_in(tab, dash.base, dash.c.exchange, "exchange")
    page.goto(f"{dash.base}/dashboard/#/exchange?auction={dash.cleared_auction}")
    page.wait_for_selector("#demand-curve canvas")
    page.click(f'[data-finalize="{dash.cleared_auction}"]')
    status = select(
        m.Auction.status,
    ).where(m.Auction.auction_id == dash.cleared_auction)
    until(page, lambda: row(dash, status) == "cleared", "auction cleared in the read model")
    price = row(dash, select(m.Auction.clearing_price).where(m.Auction.auction_id == dash.cleared_auction))
    assert price == 1_800
    page.wait_for_selector('[data-view="exchange"][data-ready="1"]')
    page.wait_for_selector("#demand-curve canvas")
    screenshot(page, "exchange")
    tab.assert_clean()


def test_audit_trail_filters_and_exports_csv_when_regulator(
    dash: DashWorld, open_tab: Callable[..., Tab]
) -> None:
    tab = open_tab()
    page = sign_in(tab, dash.base, dash.c.regulator, "regulator")
    page.goto(f"{dash.base}/dashboard/#/audit?account={ENTERPRISES[0].address}")
    page.wait_for_selector('[data-view="audit"][data-ready="1"]')
    page.select_option("#f-contract", value="ComplianceManager")
    page.click("#audit-apply")

    def contracts() -> set[str]:
        cells = page.eval_on_selector_all(
            "#audit-table tbody tr td:nth-child(3)", "cs => cs.map(c => c.textContent)"
        )
        return set(cells)

    until(page, lambda: contracts() == {"ComplianceManager"}, "only ComplianceManager events")
    assert "ApplicationSubmitted" in page.inner_text("#audit-results")
    with page.expect_download() as download:
        page.click("#audit-csv")
    text = Path(download.value.path()).read_text(encoding="utf-8")
    assert text.startswith("block_number,log_index,block_time") and "ApplicationSubmitted" in text
    screenshot(page, "audit-trail")
    tab.assert_clean()


def test_enterprise_view_fits_phone_width_in_chinese(dash: DashWorld, open_tab: Callable[..., Tab]) -> None:
    tab = open_tab(width=390, height=844)
    page = sign_in(tab, dash.base, ENTERPRISES[0], "enterprise")
    page.select_option("#lang", value="zh")
    page.wait_for_selector('[data-view="enterprise"][data-ready="1"]')
    until(page, lambda: "履约通知" in page.inner_text("#view"), "Chinese labels")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.wait_for_selector("#quota-gauge canvas")
    # June's 90 t metered against a monthly quota of 1,000 t / 12
    assert "108.0%" in page.inner_text("#view .kpis")
    screenshot(page, "enterprise-phone-zh")
    tab.assert_clean()


#: An EIP-1193 provider as a wallet extension injects it, signing with one account's key in the
#: page (a browser extension cannot be installed in headless chromium).
INJECTED_WALLET = """
(() => {
  const KEY = %s, ADDRESS = %s;
  const big = (x) => (x === undefined || x === null ? undefined : BigInt(x));
  window.ethereum = {
    async request({ method, params }) {
      if (method === 'eth_requestAccounts' || method === 'eth_accounts') return [ADDRESS];
      const e = window.ethers;
      const wallet = new e.Wallet(KEY);
      if (method === 'personal_sign') return wallet.signMessage(e.getBytes(params[0]));
      if (method === 'eth_signTransaction') {
        const tx = params[0];
        return wallet.signTransaction({
          type: 2, to: tx.to, data: tx.data, value: big(tx.value), gasLimit: big(tx.gas),
          nonce: Number(tx.nonce), chainId: big(tx.chainId), maxFeePerGas: big(tx.maxFeePerGas),
          maxPriorityFeePerGas: big(tx.maxPriorityFeePerGas),
        });
      }
      throw Object.assign(new Error('unsupported method ' + method), { code: 4200 });
    },
  };
})();
"""


def test_enterprise_acknowledges_notice_with_browser_wallet_when_not_demo(
    dash: DashWorld, open_tab: Callable[..., Tab]
) -> None:
    enterprise = ENTERPRISES[2]
    app = dash.app
    app.state.dashboard_demo = False
    try:
        tab = open_tab()
        key = "0x" + bytes(enterprise.key).hex()
        tab.page.add_init_script(INJECTED_WALLET % (json.dumps(key), json.dumps(enterprise.address)))
        page = tab.page
        page.goto(f"{dash.base}/dashboard/")
        page.wait_for_selector("#wallet-hint", state="visible")
        assert page.is_hidden("#demo-banner") and page.is_hidden("#demo-signin")
        page.click("#sign-in")
        page.wait_for_selector('[data-view="enterprise"][data-ready="1"]')
        acknowledged = select(m.Notice.acknowledged_time).where(
            m.Notice.enterprise == enterprise.address, m.Notice.year == YEAR
        )
        assert row(dash, acknowledged) is None
        page.click(f'[data-ack="{YEAR}"]')
        until(page, lambda: row(dash, acknowledged) is not None, "notice acknowledged in the read model")
        until(page, lambda: page.query_selector(f'[data-ack="{YEAR}"]') is None, "acknowledge button gone")
        tab.assert_clean()
    finally:
        app.state.dashboard_demo = True


def test_auditor_verifies_reading_proof_when_batch_anchored(
    dash: DashWorld, open_tab: Callable[..., Tab]
) -> None:
    tab = open_tab()
    page = sign_in(tab, dash.base, dash.c.auditor, "auditor")
    page.click("#batches tbody tr:first-child a")
    page.wait_for_selector("#readings")
    assert "a05001" in page.inner_text("#readings") and "kg" in page.inner_text("#readings")
    page.fill("#proof-position", "1")
    page.click("#proof-check")
    page.wait_for_selector("#proof-result .result")
    result = page.inner_text("#proof-result")
    assert result.startswith("Verified"), result
    assert "on_chain: true" in result and "root_matches_anchored: true" in result
    tab.assert_clean()


def test_exchange_issues_settlement_cash_when_bank_deposit_entered(
    dash: DashWorld, open_tab: Callable[..., Tab]
) -> None:
    account = ENTERPRISES[3].address
    cash = select(m.Holding.balance).where(m.Holding.account == account, m.Holding.token_id == 0)
    before = row(dash, cash)
    tab = open_tab()
    page = sign_in(tab, dash.base, dash.c.exchange, "exchange")
    page.fill("#cash-account", account)
    page.fill("#cash-amount", "1234.56")
    page.fill("#cash-ref", "BANK-DASH-0001")
    page.click("#cash-issue")
    until(page, lambda: row(dash, cash) == before + 123_456, "cash issued in the read model")  # type: ignore[operator]
    tab.assert_clean()


def test_regulator_approves_and_executes_proposal_when_second_member(
    dash: DashWorld, open_tab: Callable[..., Tab]
) -> None:
    proposal = m.Proposal
    state = select(proposal.approvals, proposal.executed).where(proposal.proposal_id == dash.proposal)
    with dash.ctx.sessions() as db:
        assert tuple(db.execute(state).one()) == (1, False)
    tab = open_tab()
    page = sign_in(tab, dash.base, dash.c.regulator, "regulator")
    assert "Taizhou Power Plant No. 950" in page.inner_text("#proposals")
    approvals = select(proposal.approvals).where(proposal.proposal_id == dash.proposal)
    executed = select(proposal.executed).where(proposal.proposal_id == dash.proposal)
    page.click(f'[data-approve-proposal="{dash.proposal}"]')
    until(page, lambda: row(dash, approvals) == 2, "second approval in the read model")
    shown = f'#proposals tr:has([data-approve-proposal="{dash.proposal}"]) td:nth-child(4)'
    until(page, lambda: page.query_selector(shown) is not None and page.inner_text(shown) == "2", "2 shown")
    page.click(f'[data-execute-proposal="{dash.proposal}"]')
    until(page, lambda: row(dash, executed) is True, "proposal executed in the read model")
    newcomer = select(m.Participant.name).where(m.Participant.address == dev_account(21).address)
    until(page, lambda: row(dash, newcomer) == "Taizhou Power Plant No. 950", "enterprise registered")
    tab.assert_clean()


def test_enterprise_applies_for_compliance_when_attested(
    dash: DashWorld, open_tab: Callable[..., Tab]
) -> None:
    enterprise = ENTERPRISES[3]
    tab = open_tab()
    page = sign_in(tab, dash.base, enterprise, "enterprise")
    page.select_option("#apply-year", value=f"{EARLIER_YEAR}:{CO2}")  # the obligation: year and pollutant
    page.select_option("#apply-allowance", value=str(encode_id(Kind.ALLOWANCE, "CO2", EARLIER_YEAR)))
    page.fill("#apply-allowance-amount", "120")
    page.click("#apply-submit")
    application = m.Application
    found = select(application.allowances).where(
        application.enterprise == enterprise.address, application.year == EARLIER_YEAR
    )
    until(page, lambda: row(dash, found) == 120, "application in the read model")
    until(page, lambda: "Submitted" in page.inner_text("#my-applications"), "application listed")
    tab.assert_clean()


def test_regulator_creates_primary_auction_when_form_filled(
    dash: DashWorld, open_tab: Callable[..., Tab]
) -> None:
    auctions = select(func.count()).select_from(m.Auction)
    before = row(dash, auctions)
    tab = open_tab()
    page = sign_in(tab, dash.base, dash.c.regulator, "regulator")
    page.goto(f"{dash.base}/dashboard/#/exchange")
    page.wait_for_selector('[data-view="exchange"][data-ready="1"]')
    page.select_option("#create-token", value=str(encode_id(Kind.ALLOWANCE, "CO2", 2023)))
    page.fill("#create-supply", "250")
    page.fill("#create-reserve", "20.50")
    page.click("#create-auction")
    until(page, lambda: row(dash, auctions) == before + 1, "auction created in the read model")  # type: ignore[operator]
    created = select(m.Auction.supply, m.Auction.reserve_price, m.Auction.primary, m.Auction.seller).order_by(
        m.Auction.auction_id.desc()
    )
    with dash.ctx.sessions() as db:
        assert tuple(db.execute(created).first() or ()) == (250, 2050, True, dash.c.regulator.address)
    tab.assert_clean()


def test_regulator_creates_auction_with_configured_forfeit_when_form_left_default(
    dash: DashWorld, open_tab: Callable[..., Tab]
) -> None:
    configured = dash.ctx.settings.auction_forfeit_bps
    assert configured == DEFAULT_FORFEIT_BPS > 0
    tab = open_tab()
    page = sign_in(tab, dash.base, dash.c.regulator, "regulator")
    page.goto(f"{dash.base}/dashboard/#/exchange")
    page.wait_for_selector('[data-view="exchange"][data-ready="1"]')
    assert page.input_value("#create-forfeit") == str(configured / 100).removesuffix(".0")
    assert "10 %" in page.inner_text("#forfeit-note")
    newest = select(m.Auction.auction_id).order_by(m.Auction.auction_id.desc()).limit(1)
    before = row(dash, newest)
    page.select_option("#create-token", value=str(encode_id(Kind.ALLOWANCE, "CO2", 2023)))
    page.fill("#create-supply", "120")
    page.click("#create-auction")
    until(page, lambda: row(dash, newest) != before, "auction created in the read model")
    auction_id = row(dash, newest)
    assert dash.c.auction.view(auction_id).forfeit_bps == configured  # type: ignore[arg-type]
    assert row(dash, select(m.Auction.forfeit_bps).where(m.Auction.auction_id == auction_id)) == configured
    tab.assert_clean()


def test_exchange_view_shows_settlement_report_when_day_settled(
    dash: DashWorld, open_tab: Callable[..., Tab]
) -> None:
    result = dash.settlement
    tab = open_tab()
    page = sign_in(tab, dash.base, dash.c.exchange, "exchange")
    page.wait_for_selector("#report-chart canvas")
    assert page.input_value("#report-day") == dash.settled_day.isoformat()
    badges = page.locator("#report-badges")
    flags = [badges.get_attribute(f"data-{name}") for name in ("balanced", "anchored", "verified")]
    assert flags == ["true", "true", "true"]
    assert badges.inner_text().split() == ["Balanced", "Anchored", "on-chain", "Files", "verified"]
    totals = totals_by_type(result)
    shown = page.inner_text("#report-totals")
    allocation = next(t for t in totals if t.movement == "allocation")
    assert f"Allocation\t{allocation.legs}\t{allocation.allowances:,}" in shown
    deposit = next(t for t in totals if t.movement == "deposit")
    assert f"Deposit\t{deposit.legs}\t–\t¥{deposit.cash / 100:,.2f}" in shown
    # the chart draws the same totals: allowances (t) and cash (¥) per movement type
    series = page.evaluate(
        "echarts.getInstanceByDom(document.getElementById('report-chart'))"
        ".getOption().series.map(s => s.data)"
    )
    assert series == [[t.allowances for t in totals], [t.cash / 100 for t in totals]]
    anchor = page.inner_text("#report-anchor")
    assert "0x" + result.bundle.report_hash.hex() in anchor and dash.c.exchange.address in anchor
    assert "no difference found" in page.inner_text("#report-reconciliation")
    pdf = f"settlement-{result.settlement.bounds.code}.pdf"
    assert len(page.query_selector_all("#report-files [data-file]")) == len(result.bundle.files) + 1
    with page.expect_download() as download:
        page.click(f'#report-files [data-file="{pdf}"]')
    assert Path(download.value.path()).read_bytes() == (result.bundle.directory / pdf).read_bytes()
    assert download.value.suggested_filename == pdf
    screenshot(page, "exchange-settlement-report")
    page.select_option("#lang", value="zh")
    # the view is drawn again in Chinese: wait for it, not for the English one still on the page
    zh_badges = ["账务平衡", "已上链存证", "文件已验证"]
    until(page, lambda: page.inner_text("#report-badges").split() == zh_badges, "badges in Chinese")
    page.wait_for_selector('[data-view="exchange"][data-ready="1"] #report-chart canvas')
    assert "分配" in page.inner_text("#report-totals")
    tab.assert_clean()


def test_exchange_view_flags_tampered_report_when_day_picked(
    dash: DashWorld, open_tab: Callable[..., Tab], tmp_path: Path
) -> None:
    day = dash.settled_day
    earlier = day - timedelta(days=1)
    copy = tmp_path / "reports"
    shutil.copytree(dash.reports / day.isoformat(), copy / day.isoformat())
    # the same files presented as another day's: nothing is anchored for that day
    shutil.copytree(dash.reports / day.isoformat(), copy / earlier.isoformat())
    pdf = copy / day.isoformat() / f"settlement-{dash.settlement.settlement.bounds.code}.pdf"
    pdf.write_bytes(pdf.read_bytes() + b"%% appended after publication\n")
    dash.app.state.dashboard_reports_dir = copy
    try:
        tab = open_tab()
        page = sign_in(tab, dash.base, dash.c.exchange, "exchange")
        page.wait_for_selector("#report-badges")
        options = page.eval_on_selector_all("#report-day option", "os => os.map(o => o.value)")
        assert options == [day.isoformat(), earlier.isoformat()]
        badges = page.locator("#report-badges")
        flags = (badges.get_attribute("data-anchored"), badges.get_attribute("data-verified"))
        assert flags == ("true", "false")
        assert "Not verified" in badges.inner_text()
        assert pdf.name in page.inner_text("#report-anchor")
        assert f"{pdf.name}" in page.inner_text("#report-files li:has-text('altered')")
        page.select_option("#report-day", value=earlier.isoformat())
        page.wait_for_selector('#report-badges[data-anchored="false"]')
        shown = page.locator("#report-badges").inner_text()
        assert shown.split() == ["Balanced", "Not", "anchored", "Not", "verified"]
        tab.assert_clean()
    finally:
        dash.app.state.dashboard_reports_dir = dash.reports


def test_enterprise_transfers_allowances_when_form_filled(
    dash: DashWorld, open_tab: Callable[..., Tab]
) -> None:
    sender, recipient = ENTERPRISES[2], ENTERPRISES[3]
    co2_2025 = encode_id(Kind.ALLOWANCE, "CO2", 2025)
    holding = m.Holding
    held = select(holding.balance).where(holding.account == sender.address, holding.token_id == co2_2025)
    before = row(dash, held)
    tab = open_tab()
    page = sign_in(tab, dash.base, sender, "enterprise")
    page.fill("#transfer-to", recipient.address)
    page.select_option("#transfer-token", value=str(co2_2025))
    page.fill("#transfer-amount", "40")
    page.click("#transfer-send")
    moved = select(m.Transfer.amount).where(
        m.Transfer.sender == sender.address, m.Transfer.recipient == recipient.address,
        m.Transfer.token_id == co2_2025,
    )  # fmt: skip
    until(page, lambda: row(dash, moved) == 40, "transfer in the read model")
    assert row(dash, held) == before - 40  # type: ignore[operator]
    counterparty = f"{recipient.address[:6]}…{recipient.address[-4:]}"
    listed = f"CO2 2025\tOut\t{counterparty}\t40 t"
    until(page, lambda: listed in page.inner_text("#transfers"), "transfer listed")
    tab.assert_clean()


def test_regulator_rejects_application_with_reason_when_form_filled(
    dash: DashWorld, open_tab: Callable[..., Tab]
) -> None:
    application = m.Application
    decided = select(application.status, application.reason_code, application.reason).where(
        application.application_id == dash.to_reject
    )
    reason = "Verified emissions do not match the metered totals: resubmit with the corrected report"
    tab = open_tab()
    page = sign_in(tab, dash.base, dash.c.regulator, "regulator")
    page.goto(f"{dash.base}/dashboard/#/regulator?pollutant=1&year={EARLIER_YEAR}")
    page.wait_for_selector(f'[data-view="regulator"][data-ready="1"] [data-reject="{dash.to_reject}"]')
    page.click(f'[data-reject="{dash.to_reject}"]')
    page.select_option("#reject-code", value="2")
    page.fill("#reject-reason", reason)
    page.click("#reject-send")

    def outcome() -> tuple[object, ...]:
        with dash.ctx.sessions() as db:
            return tuple(db.execute(decided).one())

    until(page, lambda: outcome()[0] == "rejected", "application rejected in the read model")
    assert outcome() == ("rejected", 2, reason)
    reject = f'[data-reject="{dash.to_reject}"]'
    until(page, lambda: page.query_selector(reject) is None, "reject button gone")
    co2_2023 = encode_id(Kind.ALLOWANCE, "CO2", 2023)
    escrow = select(m.Holding.balance).where(
        m.Holding.account == ENTERPRISES[1].address, m.Holding.token_id == co2_2023
    )
    # the escrow is credited back on the contract; the enterprise withdraws it when it likes
    assert dash.c.compliance.returned(ENTERPRISES[1].address, co2_2023) == 150
    dash.c.compliance.withdraw_returned(ENTERPRISES[1], [co2_2023])
    dash.wait_indexed()
    assert row(dash, escrow) == 200  # the escrow went back
    tab.assert_clean()
    # the enterprise sees the outcome and the reason
    tab = open_tab()
    page = sign_in(tab, dash.base, ENTERPRISES[1], "enterprise")
    assert f"{EARLIER_YEAR}\t150 t\t0 t\tRejected\t{reason}" in page.inner_text("#my-applications")
    tab.assert_clean()


def test_bidders_claim_and_refund_when_auction_cleared(dash: DashWorld, open_tab: Callable[..., Tab]) -> None:
    auction = dash.settled_auction
    button = f'[data-settle="{auction}"]'
    bid = m.Bid

    def settled(bidder: str) -> tuple[object, ...]:
        with dash.ctx.sessions() as db:
            found = select(bid.allocated, bid.payment, bid.refund).where(
                bid.auction_id == auction, bid.bidder == bidder
            )
            return tuple(db.execute(found).one())

    winner, loser = ENTERPRISES[0], ENTERPRISES[3]
    cash = select(m.Holding.balance).where(m.Holding.account == loser.address, m.Holding.token_id == 0)
    tab = open_tab()
    page = sign_in(tab, dash.base, winner, "enterprise")
    assert page.get_attribute(button, "data-settle-as") == "claim"
    assert page.inner_text(button) == "Claim allowances"
    page.click(button)
    until(page, lambda: settled(winner.address)[0] is not None, "claim in the read model")
    assert settled(winner.address) == (100, 3_000 * 100, 0)
    until(page, lambda: page.query_selector(button) is None, "claim button gone")
    tab.assert_clean()

    before = row(dash, cash)
    tab = open_tab()
    page = sign_in(tab, dash.base, loser, "enterprise")
    assert page.get_attribute(button, "data-settle-as") == "refund"
    assert page.inner_text(button) == "Refund guarantee"
    page.click(button)
    until(page, lambda: settled(loser.address)[2] is not None, "refund in the read model")
    assert settled(loser.address) == (None, None, 1_500 * 100)
    assert row(dash, cash) == before + 1_500 * 100  # type: ignore[operator]
    until(page, lambda: page.query_selector(button) is None, "refund button gone")
    tab.assert_clean()


# ---------------------------------------------------------------------- figures against the chain (issue 18)

#: The regulator view's overview, loaded (ECharts done): its title ends with the pollutant and year.
OVERVIEW_READY = """title => {
  const view = document.querySelector('[data-view="regulator"][data-overview-ready="1"]');
  return !!view && view.querySelector('h1').textContent.endsWith(title);
}"""
#: Whether an element's content is wider than its box, or a row of it reaches past its card.
OVERFLOWS = """id => {
  const box = document.getElementById(id);
  const card = box.closest('.card').getBoundingClientRect();
  const wider = box.scrollWidth > box.clientWidth + 1;
  const rows = [...box.querySelectorAll('li, tr')];
  return wider || rows.some((x) => x.getBoundingClientRect().right > card.right + 1);
}"""


def regulator_view(page: Page, dash: DashWorld, pollutant: int, year: int) -> None:
    page.goto(f"{dash.base}/dashboard/#/regulator?pollutant={pollutant}&year={year}")
    page.wait_for_function(OVERVIEW_READY, arg=f"{POLLUTANTS[pollutant]} {year}")


def in_chinese(page: Page, title: str) -> None:
    """Switch the regulator view to Chinese and wait for it to be drawn again."""
    page.select_option("#lang", value="zh")
    until(page, lambda: "监管总览" in page.inner_text("#view h1"), "Chinese title")
    page.wait_for_function(OVERVIEW_READY, arg=title)


def echarts_option(page: Page, node: str) -> Any:
    return page.evaluate(f"echarts.getInstanceByDom(document.getElementById('{node}')).getOption()")


def test_regulator_view_shows_contract_figures_in_both_languages_when_year_closed(
    dash: DashWorld, open_tab: Callable[..., Tab]
) -> None:
    compliance = dash.c.compliance
    bps = compliance.compliance_rate_bps(CLOSED_YEAR)
    stats = compliance.year_stats(CLOSED_YEAR)
    tab = open_tab()
    page = sign_in(tab, dash.base, dash.c.regulator, "regulator")
    regulator_view(page, dash, SO2, CLOSED_YEAR)
    # 1. the compliance rate is the contract's: outcome C (no verified emissions) is not compliant
    assert page.inner_text("#kpi-rate .v") == f"{bps / 100:.1f}%" == "25.0%"
    outcomes = f"{stats.covered} / {stats.shortfall} / {stats.no_verified_emissions}"
    assert page.inner_text("#kpi-outcomes .v") == outcomes == "1 / 1 / 2"
    # 2. the applications card lists that pollutant's and year's applications only
    listed = page.eval_on_selector_all(
        "#applications tbody td:first-child", "cs => cs.map(c => c.textContent)"
    )
    assert sorted(map(int, listed)) == sorted(dash.closed)
    # 8. the province legend carries its numbers
    legend = echarts_option(page, "map")["visualMap"][0]["text"]
    assert legend[1] == "0" and legend[0].split(" ")[0].isdigit()
    screenshot(page, "regulator-en")
    in_chinese(page, f"SO2 {CLOSED_YEAR}")
    assert page.inner_text("#kpi-rate .v") == "25.0%"
    screenshot(page, "regulator-zh")
    tab.assert_clean()


def test_regulator_view_filters_applications_and_quota_by_vintage_when_pollutants_differ(
    dash: DashWorld, open_tab: Callable[..., Tab]
) -> None:
    tab = open_tab()
    page = sign_in(tab, dash.base, dash.c.regulator, "regulator")
    regulator_view(page, dash, 1, YEAR)
    so2_pending = f'[data-approve="{dash.so2_application}"]'
    assert page.query_selector(so2_pending) is None  # E3's SO2 application is not a CO2 one
    # 3. "allocated" is plotted at the vintage, beside its cap, not in the calendar year of minting
    trend = echarts_option(page, "trend")
    allocated = next(x["data"] for x in trend["series"] if x["name"] == "Allocated")
    at = dict(zip(trend["xAxis"][0]["data"], allocated, strict=True))
    assert at[str(YEAR)] == dash.c.allowance.issued(CO2_2024)
    assert at.get(str(time.gmtime(dash.c.chain.timestamp()).tm_year)) is None
    # 8. alarm counts with plurals in English; the details in Chinese, inside their card
    summary = page.inner_text("#alarm-summary")
    assert not any(f"1 {word}s" in summary for word in ("notice", "enterprise", "device alarm")), summary
    in_chinese(page, f"CO2 {YEAR}")
    details = page.eval_on_selector_all("#alarms .detail", "ds => ds.map(d => d.textContent)")
    assert details and all(" of " not in d and "readings flagged" not in d for d in details), details
    e0 = ENTERPRISES[0].address
    verified = dash.c.ledger.attestation(dash.latest_attestation(e0)).verified_emissions
    quota = dash.c.compliance.notice(e0, CO2, YEAR).allocated
    shown = page.inner_text(f'#alarms li[data-alarm="quota"]:has-text("{verified:,}") .detail')
    assert shown.startswith(f"已排放 {verified:,} 吨 / 配额 {quota:,} 吨")
    assert page.evaluate(OVERFLOWS, "alarms") is False
    regulator_view(page, dash, SO2, YEAR)
    page.wait_for_selector(so2_pending)
    tab.assert_clean()


def test_enterprise_view_shows_outcome_readings_and_production_when_signed_in(
    dash: DashWorld, open_tab: Callable[..., Tab]
) -> None:
    e0, e3 = ENTERPRISES[0], ENTERPRISES[3]
    notice = dash.c.compliance.notice(e3.address, SO2, CLOSED_YEAR)
    assert (int(notice.outcome), notice.shortfall) == (2, E3_CLOSED_VERIFIED - E3_CLOSED_SURRENDERED)
    tab = open_tab()
    page = sign_in(tab, dash.base, e3, "enterprise")
    # 4. outcome B with its shortfall (t) and fine (¥) as the contract recorded them
    outcome = f'#notices [data-outcome="B"][data-year="{CLOSED_YEAR}"]'
    assert f"Shortfall {notice.shortfall:,} t · fine ¥{notice.fine / 100:,.2f}" in page.inner_text(outcome)
    screenshot(page, "enterprise-en")
    page.select_option("#lang", value="zh")
    page.wait_for_selector('[data-view="enterprise"][data-ready="1"]')
    until(page, lambda: f"清缴缺口 {notice.shortfall:,} 吨" in page.inner_text(outcome), "outcome in Chinese")
    screenshot(page, "enterprise-zh")
    tab.assert_clean()
    # E0: its monthly quota use says which pollutants have anchored readings (CO2) and which of
    # its notices' pollutants have none (SO2); its production report is the chain's
    tab = open_tab()
    page = sign_in(tab, dash.base, e0, "enterprise")
    line = page.locator("#readings-by-pollutant")
    assert (line.get_attribute("data-metered"), line.get_attribute("data-none")) == ("CO2", "SO2")
    assert "Anchored readings of: CO2" in line.inner_text() and "none of: SO2" in line.inner_text()
    co2 = gather_production(dash.c.ledger, e0.address, YEAR).period(YEAR).pollutant("CO2")
    assert co2 is not None and co2.metered_t is not None and co2.verified_t is not None
    cells = page.inner_text(f'#production tr[data-period="{YEAR}"][data-pollutant="CO2"]').split("\t")
    assert cells[4] == f"{float(co2.metered_t):,.0f} t" and cells[5] == f"{co2.verified_t:,} t"
    assert page.inner_text("#holdings tbody tr:first-child td:nth-child(4)").endswith(" t")
    tab.assert_clean()


def test_auditor_form_defaults_to_assigned_open_obligation_when_opened(
    dash: DashWorld, open_tab: Callable[..., Tab]
) -> None:
    tab = open_tab()
    page = sign_in(tab, dash.base, dash.c.auditor, "auditor")
    enterprise = page.input_value("#att-enterprise")
    year, pollutant = int(page.input_value("#att-year")), int(page.input_value("#att-pollutant"))
    assert dash.c.registry.is_auditor_assigned(dash.c.auditor.address, enterprise)
    notice = dash.c.compliance.notice(enterprise, pollutant, year)
    assert (notice.pollutant, int(notice.outcome)) == (pollutant, 0)  # an open obligation of it
    screenshot(page, "auditor-en")
    page.select_option("#lang", value="zh")
    page.wait_for_selector('[data-view="auditor"][data-ready="1"]')
    screenshot(page, "auditor-zh")
    tab.assert_clean()


def test_audit_trail_shows_role_names_and_labelled_local_time_when_registry_events(
    dash: DashWorld, open_tab: Callable[..., Tab]
) -> None:
    tab = open_tab()
    page = sign_in(tab, dash.base, dash.c.regulator, "regulator")
    page.goto(f"{dash.base}/dashboard/#/audit?account={dash.c.auditor.address}")
    page.wait_for_selector('[data-view="audit"][data-ready="1"]')
    page.select_option("#f-contract", value="ConsortiumRegistry")
    page.fill("#f-name", "RoleGranted")
    page.click("#audit-apply")
    until(page, lambda: "RoleGranted" in page.inner_text("#audit-results"), "RoleGranted events")
    args = page.inner_text("#audit-table tbody tr:first-child dl.args")
    assert "AUDITOR" in args and ROLES["AUDITOR"].hex() not in args
    # only role arguments are named: a zero hash elsewhere (an attestation's `supersedes`) stays a hash
    page.select_option("#f-contract", value="EmissionsLedger")
    page.fill("#f-name", "AttestationSubmitted")
    page.click("#audit-apply")
    until(page, lambda: "AttestationSubmitted" in page.inner_text("#audit-results"), "attestation events")
    attested = page.inner_text("#audit-table tbody tr:first-child dl.args")
    assert "0x" + "00" * 32 in attested and "DEFAULT_ADMIN" not in attested
    page.select_option("#f-contract", value="ConsortiumRegistry")
    page.fill("#f-name", "RoleGranted")
    page.click("#audit-apply")
    until(page, lambda: "RoleGranted" in page.inner_text("#audit-results"), "RoleGranted events again")
    assert "UTC+8" in page.inner_text("#audit-table thead") and "UTC+8" in page.inner_text("#tz-note")
    # the row's UTC instant is shown on Asia/Shanghai's clock, the zone the footer names
    first = page.locator("#audit-table tbody tr:first-child td:first-child time")
    instant = datetime.fromisoformat(str(first.get_attribute("datetime")).replace("Z", "+00:00"))
    assert instant.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%H:%M:%S") in first.inner_text()
    assert page.evaluate(OVERFLOWS, "audit-table") is False
    screenshot(page, "audit-trail-en")
    page.select_option("#lang", value="zh")
    until(page, lambda: "北京时间" in page.inner_text("#view"), "the time column labelled in Chinese")
    page.wait_for_selector('[data-view="audit"][data-ready="1"] #audit-table')
    screenshot(page, "audit-trail-zh")
    tab.assert_clean()


def test_exchange_view_labels_quantity_in_tonnes_in_both_languages_when_signed_in(
    dash: DashWorld, open_tab: Callable[..., Tab]
) -> None:
    tab = open_tab()
    page = sign_in(tab, dash.base, dash.c.exchange, "exchange")
    page.goto(f"{dash.base}/dashboard/#/exchange?auction={dash.cleared_auction}")
    page.wait_for_selector("#demand-curve canvas")
    assert echarts_option(page, "demand-curve")["xAxis"][0]["name"] == "Quantity (t)"
    screenshot(page, "exchange-en")
    page.select_option("#lang", value="zh")
    axis = """(() => {
      const node = document.getElementById('demand-curve');
      const drawn = node && echarts.getInstanceByDom(node);
      return drawn ? drawn.getOption().xAxis[0].name : null;
    })()"""
    until(page, lambda: page.evaluate(axis) == "数量（吨）", "quantity axis in tonnes, in Chinese")
    screenshot(page, "exchange-zh")
    tab.assert_clean()
