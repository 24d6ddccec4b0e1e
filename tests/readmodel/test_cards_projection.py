"""The cards projection against a real chain, on SQLite and PostgreSQL: cards (replaced, active),
card months (committed by a load and a recharge, a settled month's used and returned) and the
statement's movements equal the contract's views."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from chain.cards import CardsClient
from readmodel import models as m
from readmodel.indexer.run import Indexer
from readmodel.migrate import upgrade
from readmodel.session import make_engine
from tests.conftest import Consortium
from tests.utils.cards import CARDS, E1, E2, NEW_CARD, SO2_2027, cards_world


@pytest.fixture(scope="module")
def world(
    consortium: Consortium, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Consortium, CardsClient]]:
    c = replace(consortium)
    snapshot = consortium.snapshot()
    try:
        cards = cards_world(c, tmp_path_factory.mktemp("cards"))
        yield c, cards
    finally:
        consortium.revert(snapshot)


def test_cards_projection_equals_the_chain(world: tuple[Consortium, CardsClient], database_url: str) -> None:
    c, cards = world
    engine = make_engine(database_url)
    upgrade(engine)
    Indexer(c.chain, c.manifest, engine).catch_up()
    with Session(engine) as session:
        rows = {r.card: r for r in session.scalars(select(m.Card))}
        months = {(r.account, r.month): r for r in session.scalars(select(m.CardMonth))}
        moves = [(x.kind, x.card, x.amount) for x in session.scalars(select(m.CardMovement))]
    engine.dispose()
    assert {k: (r.status, r.account, r.enterprise) for k, r in rows.items()} == {
        CARDS[0]: ("replaced", CARDS[0], E1.address),
        CARDS[1]: ("active", CARDS[1], E2.address),
        NEW_CARD: ("active", CARDS[0], E1.address),
    }
    assert rows[CARDS[0]].replaced_by == NEW_CARD and rows[NEW_CARD].mn == rows[CARDS[0]].mn
    e1, e2 = months[(CARDS[0], 3)], months[(CARDS[1], 3)]
    assert (e1.committed, e1.loads, e1.settled) == (cards.month(NEW_CARD, SO2_2027, 3).committed, 2, False)
    chain_e2 = cards.month(CARDS[1], SO2_2027, 3)
    assert (e2.committed, e2.used, e2.returned, e2.settled) == (200, chain_e2.used, 50, True)
    assert sorted(moves) == sorted(
        [("load", CARDS[0], 600), ("load", CARDS[0], 100), ("load", CARDS[1], 200), ("settle", CARDS[1], 50)]
    )
