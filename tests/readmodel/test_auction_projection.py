"""The auctions projection against a real chain, on SQLite and PostgreSQL (migration 0017): a
primary auction restricted to named bidders is flagged and lists them in the regulator's order,
as ``restrictedBidders`` returns them; an unrestricted auction lists none."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from chain.accounts import dev_account
from chain.auction import AuctionParams
from domain.tokens import Kind, encode_id
from readmodel import models as m
from readmodel.indexer.run import Indexer
from readmodel.migrate import upgrade
from readmodel.session import make_engine
from tests.conftest import Consortium
from tests.utils.chain import register

CO2_2026 = int(encode_id(Kind.ALLOWANCE, "CO2", 2026))
NAMED = [dev_account(36), dev_account(35)]


def test_restricted_auction_projected_with_its_named_bidders(fresh: Consortium, database_url: str) -> None:
    c = fresh
    for i, e in enumerate(NAMED):
        register(c.registry, c.members, e.address, seed=760 + i)
    c.allowance.set_cap(c.regulator, CO2_2026, 1_000)
    now = c.chain.timestamp()
    params = AuctionParams(token_id=CO2_2026, supply=100, reserve_price=5_000, commit_end=now + 3_600,
                           reveal_end=now + 7_200)  # fmt: skip
    restricted = c.auction.create_primary(c.regulator, params, bidders=[e.address for e in NAMED])
    plain = c.auction.create_primary(c.regulator, params)
    engine = make_engine(database_url)
    upgrade(engine)
    Indexer(c.chain, c.manifest, engine).catch_up()
    with Session(engine) as db:
        flags = {a: r for a, r in db.execute(select(m.Auction.auction_id, m.Auction.restricted))}
        named = db.execute(
            select(m.AuctionBidder.auction_id, m.AuctionBidder.bidder).order_by(m.AuctionBidder.position)
        ).all()
    engine.dispose()
    assert flags == {restricted: True, plain: False}
    assert [b for a, b in named if a == restricted] == c.auction.restricted_bidders(restricted)
    assert [b for _, b in named] == [NAMED[0].address, NAMED[1].address]
