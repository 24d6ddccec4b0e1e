"""The permits panels in chromium: the enterprise sees its own permit and applications (not
another's) and the application form; the regulator sees the review queue of submitted
applications with their requested amounts and the permit counts by status."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import delete, insert

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
