"""The dashboard in chromium: sign-in, data and one action per role, screenshots, no console errors."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from playwright.sync_api import Page
from sqlalchemy import func, select

from api.db import models as m
from chain.accounts import dev_account
from chain.allowance import Kind, encode_id
from settlement.demo import totals_by_type
from tests.dashboard.conftest import DAY, EARLIER_YEAR, DashWorld, Tab, screenshot, sign_in
from tests.utils.compliance import ENTERPRISES, YEAR


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
    page.select_option("#apply-year", value=str(EARLIER_YEAR))
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
    page.wait_for_selector('[data-view="exchange"][data-ready="1"] #report-chart canvas')
    assert page.inner_text("#report-badges").split() == ["账务平衡", "已上链存证", "文件已验证"]
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
    listed = f"CO2 2025\tOut\t{counterparty}\t40"
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
    assert row(dash, escrow) == 200  # the escrow went back
    tab.assert_clean()
    # the enterprise sees the outcome and the reason
    tab = open_tab()
    page = sign_in(tab, dash.base, ENTERPRISES[1], "enterprise")
    assert f"{EARLIER_YEAR}\t150\t0\tRejected\t{reason}" in page.inner_text("#my-applications")
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
