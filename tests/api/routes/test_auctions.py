"""GET /auctions and their bids on a real chain: phases at chain time, and sealed bids that no one
sees before the reveal phase has ended.

The module builds four primary auctions on one clock: A cleared (reveal over), B in its reveal
phase (E0 revealed, E1 not yet), C in its commit phase (E0 committed), D in its commit phase and
restricted to E1 (createRestrictedPrimary). The last test moves the clock past B's reveal end, so it
stays last.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from eth_account.signers.local import LocalAccount

from chain.auction import AuctionParams, SealedBid
from tests.api.conftest import ApiWorld, Get
from tests.utils.compliance import CO2_2024, CO2_2025, ENTERPRISES

E0, E1, E2, E3 = ENTERPRISES
HOUR = 3600
SCHEDULES = {E0.address: [(7000, 60)], E1.address: [(6000, 60)]}


@dataclass
class Auctions:
    a: int
    b: int
    c: int
    d: int
    b_reveal_end: int
    sealed: dict[tuple[int, str], SealedBid]


@pytest.fixture(scope="module")
def auctions(world: ApiWorld) -> Auctions:
    c = world.c
    sealed: dict[tuple[int, str], SealedBid] = {}

    def create(token_id: int, commit_s: int, reveal_s: int, bidders: tuple[str, ...] = ()) -> int:
        now = c.chain.timestamp()
        params = AuctionParams(token_id=token_id, supply=100, reserve_price=5000, commit_end=now + commit_s,
                               reveal_end=now + reveal_s)  # fmt: skip
        return c.auction.create_primary(c.regulator, params, bidders=bidders)

    def commit(auction_id: int, bidder: LocalAccount) -> None:
        bid = c.auction.seal(auction_id, bidder.address, SCHEDULES[bidder.address])
        c.auction.commit(bidder, bid)
        sealed[(auction_id, bidder.address)] = bid

    def to(t: int) -> None:
        c.chain.advance_time(t - c.chain.timestamp())

    a = create(CO2_2024, HOUR, 2 * HOUR)
    a_view = c.auction.view(a)
    commit(a, E0)
    commit(a, E1)
    to(a_view.commit_end + 1)
    for bidder in (E0, E1):
        c.auction.reveal(bidder, sealed[(a, bidder.address)])
    b = create(CO2_2025, a_view.reveal_end - c.chain.timestamp(), 4 * HOUR)
    commit(b, E0)
    commit(b, E1)
    to(a_view.reveal_end + 1)
    c.auction.submit_clearing(c.regulator, a)
    c.auction.reveal(E0, sealed[(b, E0.address)])
    cid = create(CO2_2024, HOUR, 2 * HOUR)
    commit(cid, E0)
    d = create(CO2_2024, HOUR, 2 * HOUR, bidders=(E1.address,))
    world.index()
    return Auctions(a, b, cid, d, c.auction.view(b).reveal_end, sealed)


def _ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _bids(get: Get, who: LocalAccount, auction_id: int) -> dict[str, Any]:
    return _ok(get(who, f"/auctions/{auction_id}/bids"))


# ---------------------------------------------------------------------- auctions


def test_auction_get_equals_chain_view_with_phase_for_each_auction(
    world: ApiWorld, get: Get, auctions: Auctions
) -> None:
    phases = {auctions.a: "cleared", auctions.b: "reveal", auctions.c: "commit"}
    for auction_id, phase in phases.items():
        body = _ok(get(E3, f"/auctions/{auction_id}"))
        view = world.c.auction.view(auction_id)
        assert body["phase"] == phase
        assert (body["seller"], body["token_id"], body["supply"], body["reserve_price"], body["commit_end"],
                body["reveal_end"], body["bidders"], body["revealed"], body["clearing_price"]) == (
            view.seller, view.token_id, view.supply, view.reserve_price, view.commit_end, view.reveal_end,
            view.bidders, view.revealed, view.clearing_price,
        )  # fmt: skip
    assert _ok(get(E3, f"/auctions/{auctions.a}"))["sold"] == world.c.auction.view(auctions.a).sold


def test_auctions_list_newest_first_and_filter(world: ApiWorld, get: Get, auctions: Auctions) -> None:
    def ids(**params: Any) -> list[int]:
        return [a["auction_id"] for a in _ok(get(E3, "/auctions", **params))["items"]]

    assert ids() == [auctions.d, auctions.c, auctions.b, auctions.a]
    assert ids(status="cleared") == [auctions.a]
    assert ids(status="open") == [auctions.d, auctions.c, auctions.b]
    assert ids(token_id=CO2_2025) == [auctions.b]
    assert ids(primary=False) == []
    assert ids(seller=world.c.regulator.address.lower()) == ids()
    assert ids(seller=E0.address) == []


def test_auctions_refuse_bad_input_unknown_ids_and_offsets(get: Get, auctions: Auctions) -> None:
    response = get(E3, "/auctions/999")
    assert response.status_code == 404 and "999" in response.json()["message"]
    assert get(E3, "/auctions/999/bids").status_code == 404
    assert get(E3, "/auctions/x").status_code == 422
    assert get(E3, "/auctions", status="lost").status_code == 422
    assert get(E3, "/auctions", seller="0x12").status_code == 422
    assert get(E3, "/auctions", offset=4).status_code == 400
    assert [a["auction_id"] for a in _ok(get(E3, "/auctions", limit=1, offset=2))["items"]] == [auctions.b]


def test_restricted_auction_names_who_may_bid_and_the_contract_refuses_the_others(
    world: ApiWorld, get: Get, auctions: Auctions
) -> None:
    named = world.c.auction.restricted_bidders(auctions.d)
    assert named == [E1.address]
    listed = {a["auction_id"]: a for a in _ok(get(E1, "/auctions"))["items"]}
    assert (listed[auctions.d]["restricted"], listed[auctions.d]["named_bidders"]) == (True, named)
    assert (listed[auctions.c]["restricted"], listed[auctions.c]["named_bidders"]) == (False, [])
    may_bid = {
        who: _ok(get(who, f"/auctions/{auctions.d}"))["may_bid"] for who in (E0, E1, world.c.regulator)
    }
    assert may_bid == {E0: False, E1: True, world.c.regulator: False}  # the seller never bids
    assert _ok(get(E0, f"/auctions/{auctions.c}"))["may_bid"] is True
    # E0 is not named: building its commit is refused by the contract, by name, nothing sent
    bid = world.c.auction.seal(auctions.d, E0.address, [(6000, 10)])
    body = {"contract": "SealedBidAuction", "function": "commit",
            "args": [auctions.d, bid.commitment, bid.guarantee, []]}  # fmt: skip
    refused = world.client.post("/tx/build", json=body, headers=world.sign_in(E0))
    assert refused.status_code == 422 and refused.json()["error"] == "AuctionBidderNotAllowed", refused.text
    assert world.c.auction.view(auctions.d).bidders == 0


def test_auctions_refuse_unauthenticated_requests_with_401(world: ApiWorld, auctions: Auctions) -> None:
    for path in ("/auctions", f"/auctions/{auctions.a}", f"/auctions/{auctions.a}/bids"):
        assert world.client.get(path).status_code == 401, path


# ---------------------------------------------------------------------- bids: sealed


def test_bids_show_an_enterprise_only_its_own_during_commit(get: Get, auctions: Auctions) -> None:
    own = _bids(get, E0, auctions.c)
    assert own["sealed"] is True and own["phase"] == "commit"
    assert [b["bidder"] for b in own["items"]] == [E0.address] and own["total"] == 1
    bid = own["items"][0]
    assert bid["commitment"] == auctions.sealed[(auctions.c, E0.address)].commitment
    assert bid["revealed"] is False and bid["prices"] is None
    assert _bids(get, E1, auctions.c)["items"] == []  # E1 did not bid in C: sees nothing


def test_bids_hide_others_prices_and_commitments_from_enterprises_during_reveal(
    get: Get, auctions: Auctions
) -> None:
    mine = _bids(get, E0, auctions.b)
    assert mine["sealed"] is True and mine["phase"] == "reveal"
    assert [(b["bidder"], b["prices"], b["quantities"]) for b in mine["items"]] == [
        (E0.address, [7000], [60])
    ]  # its own schedule, revealed
    theirs = _bids(get, E1, auctions.b)
    assert [b["bidder"] for b in theirs["items"]] == [E1.address] and theirs["total"] == 1
    assert theirs["items"][0]["revealed"] is False
    outsider = _bids(get, E3, auctions.b)
    assert outsider["items"] == [] and outsider["total"] == 0
    for body in (mine, theirs, outsider):
        assert all(b["commitment"] != auctions.sealed[(auctions.b, E1.address)].commitment
                   for b in body["items"] if b["bidder"] != E1.address)  # fmt: skip


def test_bids_show_regulator_and_exchange_commitments_without_prices_while_sealed(
    world: ApiWorld, get: Get, auctions: Auctions
) -> None:
    for viewer in (world.c.regulator, world.c.exchange):
        body = _bids(get, viewer, auctions.b)
        assert body["sealed"] is True and body["total"] == 2
        rows = {b["bidder"]: b for b in body["items"]}
        assert set(rows) == {E0.address, E1.address}
        for bidder, row in rows.items():
            assert row["commitment"] == auctions.sealed[(auctions.b, bidder)].commitment
            assert row["guarantee"] == auctions.sealed[(auctions.b, bidder)].guarantee
            assert (row["prices"], row["quantities"], row["demand"]) == (None, None, None)
        assert rows[E0.address]["revealed"] is True  # revealed, yet its prices stay hidden until reveal_end


# ---------------------------------------------------------------------- bids: after reveal


def test_bids_show_regulator_and_exchange_revealed_schedules_after_reveal_end(
    world: ApiWorld, get: Get, auctions: Auctions
) -> None:
    chain = dict(world.c.auction.revealed_schedules(auctions.a))
    for viewer in (world.c.regulator, world.c.exchange):
        body = _bids(get, viewer, auctions.a)
        assert body["sealed"] is False and body["phase"] == "cleared" and body["total"] == 2
        for bid in body["items"]:
            assert list(zip(bid["prices"], bid["quantities"], strict=True)) == list(chain[bid["bidder"]])
            assert bid["demand"] == sum(bid["quantities"])
        assert [b["bidder"] for b in body["items"]] == [E0.address, E1.address]  # commitment order


def test_bids_show_other_enterprises_no_schedule_after_reveal_end(
    world: ApiWorld, get: Get, auctions: Auctions
) -> None:
    chain = dict(world.c.auction.revealed_schedules(auctions.a))
    outsider = _bids(get, E3, auctions.a)
    assert [b["bidder"] for b in outsider["items"]] == [E0.address, E1.address] and outsider[
        "sealed"
    ] is False
    assert all((b["prices"], b["quantities"], b["demand"]) == (None, None, None) for b in outsider["items"])
    own = {b["bidder"]: b for b in _bids(get, E0, auctions.a)["items"]}
    assert list(zip(own[E0.address]["prices"], own[E0.address]["quantities"], strict=True)) == list(
        chain[E0.address]
    )
    assert own[E1.address]["prices"] is None  # the other bidder's schedule stays its own


def test_bids_paginate_and_refuse_an_offset_past_the_end(
    world: ApiWorld, get: Get, auctions: Auctions
) -> None:
    page = _ok(get(E3, f"/auctions/{auctions.a}/bids", limit=1, offset=1))
    assert [b["bidder"] for b in page["items"]] == [E1.address] and page["total"] == 2
    assert get(E3, f"/auctions/{auctions.a}/bids", offset=2).status_code == 400
    assert get(E1, f"/auctions/{auctions.c}/bids", offset=1).status_code == 400  # nothing visible to E1


def _revealed(world: ApiWorld, who: LocalAccount, auction_id: int) -> dict[str, dict[str, Any]]:
    """``BidRevealed`` events of an auction in the audit trail as ``who`` sees them, by bidder
    (JSON pages and the CSV export)."""
    headers = world.sign_in(who)
    params = {"contract": "SealedBidAuction", "name": "BidRevealed", "limit": 1000}
    if who not in (world.c.regulator, world.c.exchange):
        params["account"] = who.address
    page = world.client.get("/audit/events", params=params, headers=headers)
    assert page.status_code == 200, page.text
    rows = {
        i["args"]["bidder"]: i["args"] for i in page.json()["items"] if i["args"]["auctionId"] == auction_id
    }
    exported = world.client.get("/audit/events.csv", params=params, headers=headers)
    assert exported.status_code == 200, exported.text
    in_csv = [json.loads(r["args"]) for r in csv.DictReader(io.StringIO(exported.text))]
    assert {a["bidder"]: a for a in in_csv if a["auctionId"] == auction_id} == rows
    return rows


def test_audit_events_hide_revealed_schedules_while_the_reveal_phase_lasts(
    world: ApiWorld, auctions: Auctions
) -> None:
    for viewer in (world.c.regulator, world.c.exchange):
        rows = _revealed(world, viewer, auctions.b)
        assert set(rows) == {E0.address}  # E0 revealed in B; the schedule stays sealed till reveal_end
        assert (rows[E0.address]["prices"], rows[E0.address]["quantities"], rows[E0.address]["demand"]) == (
            None, None, None,
        )  # fmt: skip
    own = _revealed(world, E0, auctions.b)[E0.address]
    assert (own["prices"], own["quantities"], own["demand"]) == ([7000], [60], 60)  # the bidder sees its own
    cleared = _revealed(world, world.c.regulator, auctions.a)  # A's reveal phase is over
    assert {b: (r["prices"], r["quantities"]) for b, r in cleared.items()} == {
        b: ([p for p, _ in s], [q for _, q in s]) for b, s in SCHEDULES.items()
    }


def test_bids_unseal_when_the_chain_passes_reveal_end(world: ApiWorld, get: Get, auctions: Auctions) -> None:
    world.c.chain.advance_time(auctions.b_reveal_end - world.c.chain.timestamp())
    body = _bids(get, world.c.exchange, auctions.b)
    assert body["sealed"] is False and body["phase"] == "clearing" and body["total"] == 2
    rows = {b["bidder"]: b for b in body["items"]}
    assert (rows[E0.address]["prices"], rows[E0.address]["quantities"]) == ([7000], [60])
    assert rows[E1.address]["revealed"] is False and rows[E1.address]["prices"] is None  # never revealed
