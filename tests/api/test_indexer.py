"""The indexer against a real chain: projections equal the chain's state, checkpoints resume
without loss or duplicates, confirmations hold events back, a reset chain is refused."""

from __future__ import annotations

from sqlalchemy import func, select

from api.db import models as m
from api.db.migrate import upgrade
from api.db.session import make_engine
from api.indexer.run import Indexer
from tests.conftest import Consortium
from tests.utils.compliance import ENTERPRISES, IDS, setup_cycle


def _indexer(c: Consortium, url: str, **kwargs: int) -> Indexer:
    engine = make_engine(url)
    upgrade(engine)
    return Indexer(c.chain, c.manifest, engine, **kwargs)


def test_indexer_holdings_equal_chain_balances_after_backfill(fresh: Consortium, database_url: str) -> None:
    setup_cycle(fresh)
    fresh.allowance.transfer(ENTERPRISES[0], ENTERPRISES[1].address, IDS[1], 25)
    indexer = _indexer(fresh, database_url, page_blocks=7)
    indexed = indexer.catch_up()
    assert indexed > 0
    with indexer.engine.connect() as conn:
        held = {(r.account, r.token_id): r.balance for r in conn.execute(select(m.Holding))}
        participants = conn.execute(select(func.count()).select_from(m.Participant)).scalar_one()
        notices = conn.execute(select(func.count()).select_from(m.Notice)).scalar_one()
    for e in ENTERPRISES:
        for token_id in IDS:
            assert held[(e.address, token_id)] == fresh.allowance.balance(e.address, token_id)
        assert held[(e.address, 0)] == fresh.cash.balance(e.address)
    assert participants >= len(ENTERPRISES)
    assert notices == 3
    status = indexer.status()
    assert status.lag == 0 and status.events == indexed
