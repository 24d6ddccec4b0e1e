"""The accounts page in chromium: a wallet without any role signs in, lands on its applicant's page,
fills in and signs an application (EIP-712 in the page's wallet); the exchange sees it in its
review queue and accepts it (its wallet signs the governance proposal the API built); the
applicant then sees the proposal; an enterprise reads its daily statement from the settled report
and downloads it as CSV."""

from __future__ import annotations

from collections.abc import Callable

from chain.accounts import dev_account
from domain.codes import credit_code_check_char
from settlement.statements import read_daily, settled_days, statement_csv
from tests.dashboard.conftest import DashWorld, Tab, sign_in
from tests.utils.compliance import ENTERPRISES

APPLICANT = dev_account(15)  # a demo account (enterprise-9) the set-up does not register
CODE = "91330100MA2B7XYW1" + credit_code_check_char("91330100MA2B7XYW1")


def test_applicant_without_role_applies_and_exchange_accepts_from_the_queue(
    dash: DashWorld, open_tab: Callable[..., Tab]
) -> None:
    assert dash.c.registry.status_of(
        APPLICANT.address
    ) == 0 and not dash.c.registry.enterprise_by_credit_code(CODE)
    tab = open_tab()
    page = sign_in(tab, dash.base, APPLICANT, "accounts")
    assert page.query_selector("#account-apply") is not None
    for selector, value in (("#apply-code", CODE), ("#apply-name", "Hangzhou Green Heat Co."),
                            ("#apply-region", "330102"), ("#apply-industry", "D4430"),
                            ("#apply-contact", "Wang Fang"), ("#apply-phone", "+86 571 0000 0000"),
                            ("#apply-email", "wang.fang@example.cn"),
                            ("#apply-documents", "0x" + "cd" * 32)):  # fmt: skip
        page.fill(selector, value)
    page.click("#account-apply button[type=submit]")
    page.wait_for_selector(f'#account-applications td:has-text("{CODE}")')
    assert "Submitted" in page.inner_text("#account-applications")

    reviewer = open_tab()
    queue = sign_in(reviewer, dash.base, dash.c.exchange, "exchange")
    queue.goto(f"{dash.base}/dashboard/#/accounts")
    queue.wait_for_selector(f'#account-queue td:has-text("{CODE}")')
    row = queue.locator("#account-queue tr", has_text=CODE)
    assert row.locator("button.request-info").count() == 1 and row.locator("button.refuse").count() == 1
    row.locator("button.accept").click()
    queue.wait_for_selector('#account-recent td:has-text("Proposed")', timeout=30_000)
    proposal = dash.c.registry.proposals()[-1]
    assert "registerEnterprise" in proposal.call and CODE in proposal.call
    assert proposal.proposer == dash.c.exchange.address

    page.reload()
    page.wait_for_selector('#account-applications td:has-text("Proposed")')
    assert f"#{proposal.id} (1)" in page.inner_text("#account-applications")
    tab.assert_clean()
    reviewer.assert_clean()


def test_enterprise_reads_and_downloads_its_daily_statement(
    dash: DashWorld, open_tab: Callable[..., Tab]
) -> None:
    e0 = ENTERPRISES[0]
    day = settled_days(dash.reports)[-1]
    tab = open_tab()
    page = sign_in(tab, dash.base, e0, "enterprise")
    page.goto(f"{dash.base}/dashboard/#/accounts")
    page.wait_for_selector("#statement-lines")
    assert page.input_value("#statement-account") == e0.address
    assert page.eval_on_selector("#statement-account", "e => e.readOnly")
    expected = read_daily(dash.reports, day, e0.address)
    assert len(page.query_selector_all("#statement-lines tbody tr")) == len(expected.lines)
    with page.expect_download() as download:
        page.click("button.download-csv")
    path = download.value.path()
    assert path is not None and path.read_bytes() == statement_csv(expected)
    tab.assert_clean()
