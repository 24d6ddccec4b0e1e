"""The permits panels in chromium: the enterprise sees its own permit and applications (not
another's) and the application form, whose button has POST /tx/permits build the application and
the page's wallet sign it (an application on chain, signed by the enterprise); the regulator sees
the review queue of submitted applications with their requested amounts and the permit counts by
status."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import delete, insert

from chain.accounts import demo_account
from chain.deploy import ContractRecord
from chain.permits import ApplicationState, Outlet, PermitsClient, Term
from readmodel import models as m
from tests.dashboard.conftest import DashWorld, Tab, sign_in
from tests.utils.compliance import ENTERPRISES

E0, E1 = ENTERPRISES[0], ENTERPRISES[1]
FAR = 4_102_444_800  # 2100-01-01


@pytest.fixture
def permits(dash: DashWorld) -> Iterator[None]:
    """E0: permit 9101 (valid, SO2) and application 9201 (issued); E1: application 9202
    (submitted, NOx); in the read model as the indexer writes them (removed afterwards)."""
    outlet = [{"code": "DA001", "mn": "MN33100000001"}]
    so2 = [{"pollutant": 2, "annual_amount": 1_200, "concentration_limit": 35_000}]
    nox = [{"pollutant": 3, "annual_amount": 640, "concentration_limit": 50_000}]
    common = {
        "document_hash": "0x" + "11" * 32,
        "submissions": 1,
        "outlets": outlet,
        "reason": None,
        "submitted_time": 1,
        "decided_time": None,
    }
    with dash.ctx.engine.begin() as conn:
        conn.execute(
            insert(m.PermitApplication).values(
                application_id=9201,
                enterprise=E0.address,
                status="issued",
                terms=so2,
                permit_id=9101,
                **common,
            )
        )
        conn.execute(
            insert(m.PermitApplication).values(
                application_id=9202,
                enterprise=E1.address,
                status="submitted",
                terms=nox,
                permit_id=None,
                **common,
            )
        )
        conn.execute(
            insert(m.DischargePermit).values(
                permit_id=9101,
                enterprise=E0.address,
                application_id=9201,
                number="91331000P9101",
                status="valid",
                valid_from=1,
                valid_until=FAR,
                revision=0,
                outlets=outlet,
                terms=so2,
                reason=None,
                issued_time=1,
                changed_time=1,
            )
        )
    try:
        yield
    finally:
        with dash.ctx.engine.begin() as conn:
            conn.execute(delete(m.DischargePermit).where(m.DischargePermit.permit_id == 9101))
            conn.execute(
                delete(m.PermitApplication).where(m.PermitApplication.application_id.in_([9201, 9202]))
            )


def test_enterprise_sees_its_permit_and_applications(
    dash: DashWorld, permits: None, open_tab: Callable[..., Tab]
) -> None:
    tab = open_tab()
    page = sign_in(tab, dash.base, E0, "enterprise")
    page.wait_for_selector("#permits")
    listed = page.inner_text("#permits")
    assert "91331000P9101" in listed and "Valid" in listed and "SO2 1,200 t" in listed
    apps = page.inner_text("#permit-applications")
    assert "9201" in apps and "9202" not in apps
    assert page.query_selector("#permit-apply") is not None
    tab.assert_clean()


def test_regulator_sees_the_review_queue(
    dash: DashWorld, permits: None, open_tab: Callable[..., Tab]
) -> None:
    tab = open_tab()
    page = sign_in(tab, dash.base, dash.c.regulator, "regulator")
    page.wait_for_selector("#permit-queue")
    queue = page.inner_text("#permit-queue")
    assert "9202" in queue and "NOx 640 t" in queue and "9201" not in queue
    assert page.query_selector('#permit-queue tr[data-application="9202"] button.issue') is not None
    assert "Valid 1" in page.inner_text("#permit-stats")
    tab.assert_clean()


@pytest.fixture
def deployed_permits(dash: DashWorld) -> Iterator[PermitsClient]:
    """DischargePermits deployed on the dashboard's chain and added to the API's deployment (the
    catalogue POST /tx/permits builds from); taken out again afterwards."""
    c, ctx = dash.c, dash.ctx
    address, receipt = c.chain.deploy("DischargePermits", [c.registry.address], demo_account("deployer"))
    artifact = c.chain.artifacts["DischargePermits"]
    block, tx_hash = int(receipt["blockNumber"]), receipt["transactionHash"].hex()
    ctx.manifest.contracts["DischargePermits"] = ContractRecord(
        address, block, tx_hash, artifact.abi_hash, []
    )
    for cached in ("calls", "events"):  # rebuilt from the manifest on next use
        ctx.__dict__.pop(cached, None)
    try:
        yield PermitsClient(c.chain, address, from_block=block)
    finally:
        del ctx.manifest.contracts["DischargePermits"]
        for cached in ("calls", "events"):
            ctx.__dict__.pop(cached, None)


def test_enterprise_applies_from_the_form_and_signs_in_its_wallet(
    dash: DashWorld, deployed_permits: PermitsClient, open_tab: Callable[..., Tab]
) -> None:
    tab = open_tab()
    page = sign_in(tab, dash.base, E0, "enterprise")
    page.wait_for_selector("#permit-apply")
    page.fill("#permit-outlet", "DA007")
    page.fill("#permit-mn", "MN33100000777")
    page.select_option("#permit-pollutant", value="3")
    page.fill("#permit-amount", "640")
    page.fill("#permit-limit", "50000")
    with page.expect_request(lambda r: r.method == "POST" and r.url.endswith("/tx/permits")) as built:
        page.click("#permit-apply button[type=submit]")
    sent = built.value.post_data_json
    assert sent is not None and sent["terms"] == [
        {"pollutant": 3, "annual_amount": 640, "concentration_limit": 50_000}
    ]  # typed fields: the API builds the call, the page never encodes it
    deadline = time.monotonic() + 20
    while deployed_permits.application_count() == 0:
        assert time.monotonic() < deadline, "no application on chain:\n" + "\n".join(tab.log)
        time.sleep(0.2)
    application = deployed_permits.application(1)
    assert application.enterprise == E0.address  # signed by the enterprise's wallet in the page
    assert application.state is ApplicationState.SUBMITTED
    assert application.outlets == (Outlet("DA007", "MN33100000777"),)
    assert application.terms == (Term(3, 640, 50_000),)
    tab.assert_clean()
