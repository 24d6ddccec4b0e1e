"""The cards panels in chromium: the enterprise sees its own card (not another's) with the months
it committed allowances to, and its load/recharge form, whose button has POST /cards/tx/approve
and /cards/tx/load build the transactions and the page's wallet sign them (allowances committed on
chain, by the enterprise); the regulator sees every card."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import delete, insert

from chain.accounts import demo_account, dev_account
from chain.cards import CardsClient, wire_cards
from chain.deploy import ContractRecord
from readmodel import models as m
from tests.dashboard.conftest import DashWorld, Tab, sign_in
from tests.utils.compliance import CO2_2024, ENTERPRISES

E0, E1 = ENTERPRISES[0], ENTERPRISES[1]
DEVICE = dev_account(23).address
OWN, OTHER = 7_001, 7_002


@pytest.fixture
def cards_rows(dash: DashWorld) -> Iterator[None]:
    """Card 7001 (E0, active; 40 t CO2 2024 committed for March, two loads) and 7002 (E1)."""

    def card(number: int, enterprise: str) -> dict[str, object]:
        return {
            "card": number, "enterprise": enterprise, "device": DEVICE, "mn": f"MNCARD{number}",
            "account": number, "status": "active", "replaced_by": None, "issued_time": 1, "updated_time": 1,
        }  # fmt: skip

    with dash.ctx.engine.begin() as conn:
        conn.execute(insert(m.Card), [card(OWN, E0.address), card(OTHER, E1.address)])
        conn.execute(
            insert(m.CardMonth).values(
                account=OWN, token_id=CO2_2024, month=3, enterprise=E0.address, pollutant=1, vintage=2024,
                committed=40, loads=2, settled=False, metered=None, used=None, returned=None, updated_time=1,
            )
        )  # fmt: skip
    try:
        yield
    finally:
        with dash.ctx.engine.begin() as conn:
            conn.execute(delete(m.Card).where(m.Card.card.in_([OWN, OTHER])))
            conn.execute(delete(m.CardMonth).where(m.CardMonth.account == OWN))


def test_enterprise_sees_its_card_and_months_regulator_sees_all(
    dash: DashWorld, cards_rows: None, open_tab: Callable[..., Tab]
) -> None:
    tab = open_tab()
    page = sign_in(tab, dash.base, E0, "enterprise")
    page.wait_for_selector("#cards-own")
    own = page.inner_text("#cards-own")
    assert "7001" in own and "7002" not in own and "Active" in own
    months = page.inner_text("#card-months")
    assert "CO2 2024" in months and "2024-03" in months and "40" in months and "Open" in months
    assert page.query_selector("#card-load-form") is not None
    tab.assert_clean()
    tab = open_tab()
    page = sign_in(tab, dash.base, dash.c.regulator, "regulator")
    page.wait_for_selector("#cards-all")
    listed = page.inner_text("#cards-all")
    assert "7001" in listed and "7002" in listed
    tab.assert_clean()


@pytest.fixture
def deployed_cards(dash: DashWorld) -> Iterator[CardsClient]:
    """EmissionCards deployed and wired on the dashboard's chain, card 7001 issued for a device of
    E0, and added to the API's deployment (the catalogue the builders use); rolled back after."""
    c, ctx = dash.c, dash.ctx
    snapshot = c.snapshot()
    address, receipt = c.chain.deploy("EmissionCards", [c.registry.address, c.allowance.address],
                                      demo_account("deployer"))  # fmt: skip
    block, tx_hash = int(receipt["blockNumber"]), receipt["transactionHash"].hex()
    cards = CardsClient(c.chain, address, from_block=block)
    wire_cards(c.registry, c.members, cards)
    c.registry.bind_device(c.regulator, DEVICE, E0.address, "MNCARDVIEW01")
    cards.issue(c.regulator, OWN, DEVICE)
    artifact = c.chain.artifacts["EmissionCards"]
    ctx.manifest.contracts["EmissionCards"] = ContractRecord(address, block, tx_hash, artifact.abi_hash, [])
    for cached in ("calls", "events"):
        ctx.__dict__.pop(cached, None)
    try:
        yield cards
    finally:
        del ctx.manifest.contracts["EmissionCards"]
        for cached in ("calls", "events"):
            ctx.__dict__.pop(cached, None)
        c.revert(snapshot)


def test_enterprise_loads_from_the_form_and_signs_in_its_wallet(
    dash: DashWorld, cards_rows: None, deployed_cards: CardsClient, open_tab: Callable[..., Tab]
) -> None:
    held = dash.c.allowance.balance(E0.address, CO2_2024)
    assert held >= 2
    tab = open_tab()
    page = sign_in(tab, dash.base, E0, "enterprise")
    page.wait_for_selector("#card-load-form")
    page.select_option("#card-pollutant", value="CO2")
    page.fill("#card-year", "2024")
    page.fill("#card-month", "3")
    page.fill("#card-amount", "2")
    with page.expect_request(lambda r: r.method == "POST" and r.url.endswith("/cards/tx/load")) as built:
        page.click("#card-load")
    sent = built.value.post_data_json
    assert sent == {"card": OWN, "pollutant": "CO2", "year": 2024, "month": 3, "amount": 2}
    deadline = time.monotonic() + 20
    while deployed_cards.month(OWN, CO2_2024, 3).committed == 0:
        assert time.monotonic() < deadline, "nothing committed on chain:\n" + "\n".join(tab.log)
        time.sleep(0.2)
    assert dash.c.allowance.balance(E0.address, CO2_2024) == held - 2  # signed by E0's wallet in the page
    tab.assert_clean()
