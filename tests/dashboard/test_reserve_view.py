"""The regulator view's government reserve panel in chromium: the balances per pollutant and
vintage, the offers to projects and the closures shown with the figures GET /reserve/* returns
from the read model (as the indexer writes them from the chain's events). And a project's other
way in, a primary auction restricted to named bidders: the regulator creates one naming an
enterprise, every auctions table shows it restricted and to whom (as ``restrictedBidders`` says),
an enterprise not named is not offered a commit, the named one is."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import delete, insert, select

from domain.tokens import Kind, encode_id
from readmodel import models as m
from tests.dashboard.conftest import DashWorld, Tab, sign_in
from tests.dashboard.test_views import row, until
from tests.utils.compliance import ENTERPRISES

SO2_2027 = int(encode_id(Kind.ALLOWANCE, "SO2", 2027))
PROJECT = "0x" + "7c" * 20
CLOSED = "0x" + "7d" * 20


@pytest.fixture
def reserve(dash: DashWorld) -> Iterator[None]:
    """SO2 2027: 2,800 t fed, 500 t sold to offer 9301 (accepted), 600 t swept by closure 9401."""

    def move(log: int, kind: str, amount: int, party: str | None, ref: int) -> dict[str, object]:
        return {
            "block_number": 9_000_000, "log_index": log, "position": 0, "kind": kind, "token_id": SO2_2027,
            "pollutant": 2, "vintage": 2027, "amount": amount, "party": party, "ref": ref, "block_time": 1,
            "tx_hash": "0x" + "ab" * 32,
        }  # fmt: skip

    with dash.ctx.engine.begin() as conn:
        conn.execute(
            insert(m.ReserveMovement),
            [
                move(1, "fed", 2_800, None, 2),
                move(2, "sold", -500, PROJECT, 9301),
                move(3, "closure", 600, CLOSED, 9401),
            ],
        )
        conn.execute(
            insert(m.ReserveOffer).values(
                offer_id=9301, project=PROJECT, token_id=SO2_2027, quantity=500, price=25_000,
                payment=12_500_000, annual_plan_id=2, deadline=2, status="accepted", offered_time=1,
                decided_time=2, tx_hash="0x" + "ab" * 32,
            )
        )  # fmt: skip
        conn.execute(
            insert(m.Closure).values(
                closure_id=9401, enterprise=CLOSED, permit_id=8, devices=1, reason_code=22,
                reason="dyeing works shut down", swept=[{"token_id": SO2_2027, "amount": 600}], block_time=3,
                tx_hash="0x" + "cd" * 32,
            )
        )  # fmt: skip
    try:
        yield
    finally:
        with dash.ctx.engine.begin() as conn:
            conn.execute(delete(m.ReserveMovement).where(m.ReserveMovement.block_number == 9_000_000))
            conn.execute(delete(m.ReserveOffer).where(m.ReserveOffer.offer_id == 9301))
            conn.execute(delete(m.Closure).where(m.Closure.closure_id == 9401))


def test_regulator_reserve_panel_shows_the_api_figures(
    dash: DashWorld, reserve: None, open_tab: Callable[..., Tab]
) -> None:
    tab = open_tab()
    page = sign_in(tab, dash.base, dash.c.regulator, "regulator")
    page.wait_for_selector("#reserve-balances")
    balances = page.inner_text("#reserve-balances")
    # 2,800 fed − 500 sold + 600 swept = 2,900 held
    for text in ("SO2", "2027", "2,900", "2,800", "500", "600"):
        assert text in balances, balances
    offers = page.inner_text("#reserve-offers")
    assert (
        "SO2 2027" in offers
        and "¥250.00" in offers
        and "¥125,000.00" in offers
        and "paid and delivered" in offers
    )
    closures = page.inner_text("#reserve-closures")
    assert "SO2 2027 600 t" in closures and "dyeing works shut down" in closures and "8" in closures


def test_regulator_restricts_a_primary_auction_and_only_the_named_enterprise_may_bid(
    dash: DashWorld, open_tab: Callable[..., Tab]
) -> None:
    outsider, named = ENTERPRISES[0], ENTERPRISES[1]
    tab = open_tab()
    page = sign_in(tab, dash.base, dash.c.regulator, "regulator")
    page.goto(f"{dash.base}/dashboard/#/exchange")
    page.wait_for_selector('[data-view="exchange"][data-ready="1"]')
    page.select_option("#create-token", value=str(encode_id(Kind.ALLOWANCE, "CO2", 2023)))
    page.fill("#create-supply", "40")
    page.fill("#create-bidders", "0x12")  # refused by name in the page, nothing sent
    page.click("#create-auction")
    page.wait_for_selector(".toast.bad")
    assert "Not an account address: 0x12" in page.inner_text(".toast.bad")
    page.evaluate("document.querySelectorAll('.toast').forEach((n) => n.remove())")
    page.fill("#create-bidders", f"{named.address}\n{named.address.lower()}")  # once, however typed
    page.click("#create-auction")
    restricted = select(m.Auction.auction_id).where(m.Auction.restricted.is_(True))
    until(page, lambda: row(dash, restricted) is not None, "restricted auction in the read model")
    auction_id = int(str(row(dash, restricted)))
    on_chain = dash.c.auction.restricted_bidders(auction_id)
    assert on_chain == [named.address]
    page.reload()
    cell = page.wait_for_selector(f'[data-who-may-bid="{auction_id}"]')
    assert cell is not None
    assert cell.get_attribute("title") == "\n".join(on_chain)
    assert f"Restricted {on_chain[0][:6]}…{on_chain[0][-4:]}" in cell.inner_text()
    tab.assert_clean()

    seen = {}
    for who in (outsider, named):
        other = open_tab()
        enterprise = sign_in(other, dash.base, who, "enterprise")
        note = enterprise.wait_for_selector(f'[data-restricted-note="{auction_id}"]')
        assert note is not None
        seen[who.address] = (
            note.get_attribute("data-may-bid"),
            enterprise.query_selector(f'[data-commit="{auction_id}"]') is not None,
        )
        assert f"Only {len(on_chain)} named bidder(s) may bid" in note.inner_text()
        other.assert_clean()
    assert seen == {outsider.address: ("false", False), named.address: ("true", True)}
