"""The review panel in chromium: the regulator picks an enterprise and month, sees its doubtful
readings (an outlier, also marked by a facility-stopped alarm: both reasons shown) with
accept / reject / substitute buttons, rejects one: the API builds the
EIP-712 decision, the page's wallet signs it, recordReview is built, signed in the same wallet and
relayed; the decision is on chain (reviewer: the regulator) and shown in the queue."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import delete, insert

from readmodel import models as m
from readmodel.alarms import ReviewMarkRow
from tests.dashboard.conftest import DashWorld, Tab, sign_in
from tests.utils.compliance import ENTERPRISES

E0 = ENTERPRISES[0]
BATCH = "0x" + "b7" * 32
SUBJECT = "0x" + "5e" * 32
DEVICE = "0x" + "d1" * 20
MN = "REVIEWVIEW0001"
ALARM = f"facility_stopped:{MN}:SB1:1"


@pytest.fixture
def doubtful(dash: DashWorld) -> Iterator[int]:
    """An anchored batch of E0 with one outlier reading this month, in the read model as the
    indexer and the readings import write them, its device stopped by a facility alarm's review
    mark (removed afterwards); yields the month YYYYMM."""
    now = datetime.now(UTC)
    stamp = int(now.timestamp()) - 60
    with dash.ctx.engine.begin() as conn:
        conn.execute(
            insert(m.Batch).values(
                batch_id=BATCH,
                device=DEVICE,
                enterprise=E0.address,
                first_sequence=1,
                last_sequence=1,
                previous_sequence=0,
                period_start=stamp,
                period_end=stamp,
                count=1,
                root="0x" + "aa" * 32,
                totals=[],
                block_number=1,
                block_time=stamp,
                tx_hash="0x" + "cc" * 32,
            )
        )
        conn.execute(
            insert(m.Reading).values(
                batch_id=BATCH,
                position=0,
                device=DEVICE,
                sequence=1,
                time=stamp,
                pollutant="w01018",
                value="9000",
                decimals=1,
                unit="kg",
                flag="N",
                leaf=SUBJECT,
                frame_hashes=["0x" + "ee" * 32],
                frame_index=0,
                signature="0x" + "00" * 65,
                qc="outlier",
                exclusion="outlier",
            )
        )
        conn.execute(
            insert(m.Device).values(address=DEVICE, enterprise=E0.address, mn=MN, bound=True, updated_block=1)
        )
        conn.execute(
            insert(ReviewMarkRow).values(
                alarm_uid=ALARM,
                mn=MN,
                pollutant="",
                begin_at=stamp - 60,
                end_at=None,
                reason="facility_stopped",
            )
        )
    try:
        yield now.year * 100 + now.month
    finally:
        with dash.ctx.engine.begin() as conn:
            conn.execute(delete(m.Reading).where(m.Reading.batch_id == BATCH))
            conn.execute(delete(m.Batch).where(m.Batch.batch_id == BATCH))
            conn.execute(delete(m.ReviewDecision).where(m.ReviewDecision.subject == SUBJECT))
            conn.execute(delete(ReviewMarkRow).where(ReviewMarkRow.alarm_uid == ALARM))
            conn.execute(delete(m.Device).where(m.Device.address == DEVICE))


def test_regulator_rejects_an_outlier_signing_in_its_wallet(
    dash: DashWorld, doubtful: int, open_tab: Callable[..., Tab]
) -> None:
    c = dash.c
    tab = open_tab()
    page = sign_in(tab, dash.base, c.regulator, "regulator")
    page.wait_for_selector("#review-form")
    page.select_option("#review-enterprise", value=E0.address)
    page.fill("#review-month", str(doubtful))
    page.click("#review-form button[type=submit]")
    row = f'#review-queue tr[data-subject="{SUBJECT}"]'
    page.wait_for_selector(row)
    text = page.inner_text(row)
    assert "900.0 kg" in text and "Outlier" in text and "Facility stopped (alarm)" in text
    assert page.query_selector(f"{row} button.substitute") is not None
    with page.expect_request(lambda r: r.method == "POST" and r.url.endswith("/review/typed-data")) as asked:
        page.click(f"{row} button.reject")
    sent = asked.value.post_data_json
    assert sent is not None and sent["action"] == "reject"
    deadline = time.monotonic() + 30
    while (decision := c.ledger.review_decision_of(E0.address, SUBJECT)) is None:
        assert time.monotonic() < deadline, "no decision on chain:\n" + "\n".join(tab.log)
        time.sleep(0.2)
    assert c.ledger.reviewer_of(decision) == c.regulator.address  # signed by the page's wallet
    page.wait_for_function(
        "document.querySelector('#review-summary').innerText.includes('0 open, 1 decided')"
    )
    assert "Reject" in page.inner_text(row) and page.query_selector(f"{row} button") is None
    tab.assert_clean()
