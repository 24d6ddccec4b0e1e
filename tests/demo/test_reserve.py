"""The reserve step of ``ets demo`` on a real chain: GovernmentReserve deployed into the demo's
deployment and wired by governance, fed from the 2027 annual plan's reserve share, the new project
served at the guide price (delivery versus payment to the treasury), a primary auction restricted
to the project opened (an enterprise not named refused at commit, the project's sealed bid
committed), the dyeing works closed by one 2-of-3 proposal after one approval was refused; a
re-run sends nothing."""

from __future__ import annotations

import shutil
from pathlib import Path

from chain.accounts import demo_account
from chain.reserve import ReserveClient
from demo.plans import demo_plans
from demo.reserve import (
    CLOSED_SO2,
    PROJECT_SO2,
    RESTRICTED_SUPPLY,
    closed_account,
    closed_device,
    demo_reserve,
    project_account,
)
from domain.tokens import Kind, encode_id
from tests.conftest import Consortium
from tests.utils.demo_market import register_demo_enterprises

SO2_ALLOCATED = [8_000, 6_000, 9_000, 7_000, 5_000, 6_000]
#: 5 % of the demo's 2027 caps (SO2 56,000 t, NOx 7,500 t), line by line.
SO2_SHARE, NOX_SHARE = 2_800, 375
GUIDE_SO2 = 25_000  # fen/t, the Taizhou line


def test_demo_reserve_feeds_serves_and_closes_then_rerun_sends_nothing(
    fresh: Consortium, tmp_path: Path
) -> None:
    register_demo_enterprises(fresh)
    so2, nox = encode_id(Kind.ALLOWANCE, "SO2", 2027), encode_id(Kind.ALLOWANCE, "NOx", 2027)
    demo = [demo_account(f"enterprise-{i + 1}").address for i in range(6)]
    fresh.allowance.set_cap(fresh.regulator, so2, 50_000)
    fresh.allowance.allocate(fresh.regulator, so2, demo, SO2_ALLOCATED, b"t-so2".ljust(32, b"\0"))
    fresh.allowance.set_cap(fresh.regulator, nox, 3_000)
    manifest_path = tmp_path / "deployment.json"
    shutil.copy(fresh.manifest_path, manifest_path)
    demo_plans(fresh.chain, manifest_path, fresh.registry, fresh.members)
    treasury_before = fresh.cash.balance(fresh.treasury.address)

    first = demo_reserve(fresh.chain, manifest_path, fresh.registry, fresh.members)

    assert first.manifest is not None
    reserve = ReserveClient(fresh.chain, first.manifest.address("GovernmentReserve"))
    assert first.fed == {2: SO2_SHARE, 3: NOX_SHARE}
    project, works = project_account().address, closed_account().address
    assert fresh.allowance.balance(project, so2) == PROJECT_SO2
    assert first.payment == PROJECT_SO2 * GUIDE_SO2
    assert fresh.cash.balance(fresh.treasury.address) == treasury_before + first.payment
    assert first.refusals == ["ProposalThresholdNotMet"]
    assert first.closure is not None
    assert (first.closure.token_ids, first.closure.amounts, first.closure.devices) == (
        (so2,),
        (CLOSED_SO2,),
        1,
    )
    assert fresh.allowance.balance(works, so2) == 0
    assert reserve.balance(so2) == SO2_SHARE - PROJECT_SO2 + CLOSED_SO2
    assert reserve.balance(nox) == NOX_SHARE
    assert not fresh.registry.is_active_participant(works)
    assert closed_device().address not in fresh.registry.contract.functions.devicesOf(works).call()
    auction_id = first.restricted_auction
    assert auction_id is not None and first.restricted_refusal == "AuctionBidderNotAllowed"
    assert fresh.auction.restricted_bidders(auction_id) == [project]
    view = fresh.auction.view(auction_id)
    assert (view.token_id, view.supply, view.reserve_price, view.bidders) == (
        so2,
        RESTRICTED_SUPPLY,
        GUIDE_SO2,
        1,
    )
    assert fresh.auction.bidder_state(auction_id, project)["committed"] is True
    assert fresh.auction.bidder_state(auction_id, demo[0])["committed"] is False
    assert fresh.allowance.issued(so2) == sum(SO2_ALLOCATED) + SO2_SHARE + CLOSED_SO2 + RESTRICTED_SUPPLY
    assert "one approval refused: ProposalThresholdNotMet" in first.lines[-2]
    proposals = fresh.registry.contract.functions.proposalCount().call()

    again = demo_reserve(fresh.chain, manifest_path, fresh.registry, fresh.members)

    assert (again.fed, again.offer_id, again.payment) == (first.fed, first.offer_id, first.payment)
    assert again.closure is None and "done before" in again.lines[-2]
    assert fresh.registry.contract.functions.proposalCount().call() == proposals
    assert reserve.offer_count() == 1 and reserve.closure_count() == 1
    assert again.restricted_auction == auction_id and fresh.auction.count() == auction_id
