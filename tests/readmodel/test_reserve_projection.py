"""The reserve projection against a real chain, on SQLite and PostgreSQL: movements (feed, sale,
confiscation, closure sweep) sum to the reserve's balances, offers and closures equal the chain."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from chain.compile import Artifact
from chain.node import AnvilNode
from chain.tx import ChainClient
from readmodel import models as m
from readmodel.indexer.run import Indexer
from readmodel.migrate import upgrade
from readmodel.session import make_engine
from tests.conftest import Consortium
from tests.utils.reserve import ENTERPRISES, NOX_2027, SO2_2027, deploy_reserve_suite, reserve_of

E0, E1, E2, _ = ENTERPRISES


@pytest.fixture(scope="module")
def world(
    anvil: AnvilNode, artifacts: dict[str, Artifact], tmp_path_factory: pytest.TempPathFactory
) -> Consortium:
    c, plan_id = deploy_reserve_suite(
        anvil, ChainClient.connect(anvil.url, artifacts), Path(tmp_path_factory.mktemp("rp"))
    )
    r = reserve_of(c)
    r.feed(c.regulator, plan_id, "SO2")
    r.feed(c.regulator, plan_id, "NOx")
    deadline = c.chain.timestamp() + 86_400
    c.cash.deposit(c.exchange, E0.address, 10_000_000, "BANK-RP-1")
    r.accept(E0, r.offer(c.regulator, E0.address, SO2_2027, 300, deadline))
    r.withdraw_offer(c.regulator, r.offer(c.regulator, E1.address, SO2_2027, 50, deadline))
    r.offer(c.regulator, E2.address, NOX_2027, 10, deadline)  # left open
    c.registry.govern_call(
        c.members, r.encode_confiscate(E0.address, [SO2_2027], [20], "penalty"), "confiscate"
    )
    r.close(c.registry, c.members, E0.address, "关停")
    return c


def test_reserve_projection_equals_the_chain(world: Consortium, database_url: str) -> None:
    c, r = world, reserve_of(world)
    engine = make_engine(database_url)
    upgrade(engine)
    Indexer(c.chain, c.manifest, engine).catch_up()
    with Session(engine) as session:
        moves = [(x.kind, x.token_id, x.amount, x.ref) for x in session.scalars(select(m.ReserveMovement))]
        offers = {o.offer_id: o for o in session.scalars(select(m.ReserveOffer))}
        closures = list(session.scalars(select(m.Closure)))
    engine.dispose()
    for token_id in (SO2_2027, NOX_2027):
        assert sum(n for _, t, n, _ in moves if t == token_id) == r.balance(token_id)
    assert sorted(k for k, *_ in moves) == ["closure", "confiscated", "fed", "fed", "sold"]
    assert set(offers) == {1, 2, 3}
    for offer_id, row in offers.items():
        chain_offer = r.offer_of(offer_id)
        o = chain_offer
        assert (row.project, row.token_id, row.quantity, row.price, row.payment) == (
            o.project, o.token_id, o.quantity, o.price, o.payment,
        )  # fmt: skip
        assert row.status == chain_offer.state.name.lower()
    (closure,) = closures
    assert (closure.closure_id, closure.enterprise, closure.devices) == (1, E0.address, 0)
    assert closure.swept == [{"token_id": SO2_2027, "amount": 280}]
